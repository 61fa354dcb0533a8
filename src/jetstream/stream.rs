//! One stream: its configuration, its store, and what a publish to it goes through
//! (nats-server's `processJetStreamMsg`): the expected-headers checks, deduplication, the
//! discard-new limits, storing, the discard-old limits, roll-ups and the PubAck.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::config::{Discard, Retention, StreamConfig};
use super::consumer::Consumer;
use super::errors::ApiError;
use super::headers;
use super::store::{PurgeRequest, StorageKind, Store, StoreError, StoreState, StoredMsg};
use super::time;
use crate::proto::transform::SubjectTransform as Transform;

/// nats-server's `JSMaxSubjectDetails`: subjects an info response lists at most.
pub const MAX_SUBJECT_DETAILS: usize = 100_000;

/// A message as a publisher handed it to the stream.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub subject: &'a str,
    pub headers: &'a [u8],
    pub payload: &'a [u8],
}

/// What storing a message needs from the account: whether the bytes fit its limits.
pub trait Quota {
    fn check(&self, kind: StorageKind, add: u64) -> Result<(), ApiError>;
}

/// Bytes stored in memory and in files, of an account or of the whole server; updated by
/// the streams without taking any lock.
#[derive(Debug, Default)]
pub struct Usage {
    pub memory: AtomicI64,
    pub store: AtomicI64,
}

impl Usage {
    fn add(&self, kind: StorageKind, delta: i64) {
        let counter = match kind {
            StorageKind::Memory => &self.memory,
            StorageKind::File => &self.store,
        };
        counter.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn get(&self, kind: StorageKind) -> u64 {
        let counter = match kind {
            StorageKind::Memory => &self.memory,
            StorageKind::File => &self.store,
        };
        counter.load(Ordering::Relaxed).max(0) as u64
    }
}

/// The deduplication window: message ids seen recently and the sequence they got.
#[derive(Debug, Default)]
struct Dedupe {
    ids: HashMap<String, u64>,
    /// (time, id), oldest first, to forget ids as they leave the window.
    order: VecDeque<(i64, String)>,
}

impl Dedupe {
    fn expire(&mut self, now: i64, window: i64) {
        while let Some((t, _)) = self.order.front() {
            if *t > now - window {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    fn insert(&mut self, id: String, seq: u64, time: i64) {
        self.ids.insert(id.clone(), seq);
        self.order.push_back((time, id));
    }
}

#[derive(Debug)]
struct Inner {
    cfg: StreamConfig,
    store: Box<dyn Store>,
    dedupe: Dedupe,
    /// `Nats-Msg-Id` of the last message stored (`Nats-Expected-Last-Msg-Id`).
    last_msg_id: String,
    /// Messages with a per-message TTL: (expiry in Unix nanoseconds, sequence).
    ttls: BTreeSet<(i64, u64)>,
    /// The stream's subject transform (nats-server's `itr`) and its republish transform.
    itr: Option<Transform>,
    rpt: Option<Transform>,
    /// The filters of each consumer (empty: every subject), for interest retention.
    interest: Vec<Vec<String>>,
}

/// Where a message comes from: a publisher, a source, or (keeping its sequence and time)
/// the origin of a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Source,
    Mirror { seq: u64, time: i64 },
}

/// A message to publish after storing one (the stream's `republish`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republish {
    pub subject: String,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

/// What a publish produced: the PubAck body (when one was asked for) and the message to
/// republish (when the stream republishes and stored it).
#[derive(Debug, Default)]
pub struct Processed {
    pub ack: Option<Vec<u8>>,
    pub republish: Option<Republish>,
    /// The sequence stored, when stored (not for duplicates).
    pub seq: Option<u64>,
    pub error: Option<ApiError>,
}

/// The transforms a configuration asks for; ones that do not build are left out (the
/// configuration was checked when it was accepted).
fn compile(cfg: &StreamConfig) -> (Option<Transform>, Option<Transform>) {
    let itr = cfg
        .subject_transform
        .as_ref()
        .filter(|t| !t.dest.is_empty())
        .and_then(|t| Transform::new(&t.src, &t.dest).ok());
    let or_all = |s: &str| {
        if s.is_empty() {
            ">".to_string()
        } else {
            s.to_string()
        }
    };
    let rpt = cfg
        .republish
        .as_ref()
        .and_then(|r| Transform::new(&or_all(&r.src), &or_all(&r.dest)).ok());
    (itr, rpt)
}

/// The stream's state as its info shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StateInfo {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<std::collections::BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    pub consumer_count: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl StateInfo {
    fn from_store(st: &StoreState) -> Self {
        StateInfo {
            messages: st.msgs,
            bytes: st.bytes,
            // A stream that never stored anything shows 0, as nats-server's.
            first_seq: if st.last_seq == 0 && st.first_seq <= 1 {
                0
            } else {
                st.first_seq
            },
            first_ts: time::format(st.first_time),
            last_seq: st.last_seq,
            last_ts: time::format(st.last_time),
            num_subjects: st.num_subjects,
            subjects: None,
            num_deleted: st.num_deleted,
            deleted: Vec::new(),
            consumer_count: 0,
        }
    }
}

/// What a stream's info request asks for beyond the basics.
#[derive(Debug, Clone, Default)]
pub struct InfoDetail {
    pub deleted: bool,
    pub subjects_filter: Option<String>,
    pub offset: usize,
}

#[derive(Debug)]
pub struct Stream {
    pub name: String,
    /// When it was created, Unix nanoseconds.
    pub created: i64,
    /// The stream's directory in the store (file streams), holding `meta.json` and `msgs/`.
    pub dir: Option<PathBuf>,
    pub kind: StorageKind,
    /// The store's `bytes`, readable without the stream's lock.
    bytes: AtomicU64,
    /// The usage counters this stream's bytes count in (its account's and the server's).
    usage: Vec<Arc<Usage>>,
    inner: Mutex<Inner>,
    /// Bumped after each publish processed (see [`Stream::watch_appends`]).
    appended: tokio::sync::watch::Sender<u64>,
    /// Its consumers, by name. Taken after a consumer's lock, never before one.
    consumers: parking_lot::RwLock<std::collections::BTreeMap<String, Arc<Consumer>>>,
}

/// `Nats-Msg-Size`, which a headers-only republish carries.
const MSG_SIZE: &str = "Nats-Msg-Size";

/// What a republish needs, kept while the stream's lock is held.
#[derive(Debug)]
struct PendingRepublish {
    subject: String,
    stored_subject: String,
    seq: u64,
    time: i64,
    last_seq: u64,
    headers_only: bool,
    headers: Vec<u8>,
    payload: Vec<u8>,
}

/// The outcome of a publish: the PubAck body for the publisher, if it asked for one.
#[derive(Debug, PartialEq, Eq)]
pub struct Stored {
    pub ack: Vec<u8>,
    pub seq: Option<u64>,
}

impl Stream {
    pub fn new(
        cfg: StreamConfig,
        created: i64,
        store: Box<dyn Store>,
        dir: Option<PathBuf>,
        usage: Vec<Arc<Usage>>,
    ) -> Stream {
        let kind = match cfg.storage {
            super::config::Storage::File => StorageKind::File,
            super::config::Storage::Memory => StorageKind::Memory,
        };
        let bytes = store.state().bytes;
        let (itr, rpt) = compile(&cfg);
        let mut inner = Inner {
            cfg,
            store,
            dedupe: Dedupe::default(),
            last_msg_id: String::new(),
            ttls: BTreeSet::new(),
            itr,
            rpt,
            interest: Vec::new(),
        };
        inner.recover_indexes(time::now_nanos());
        for u in &usage {
            u.add(kind, bytes as i64);
        }
        Stream {
            name: inner.cfg.name.clone(),
            created,
            dir,
            kind,
            bytes: AtomicU64::new(bytes),
            usage,
            inner: Mutex::new(inner),
            appended: tokio::sync::watch::channel(0).0,
            consumers: Default::default(),
        }
    }

    /// Its consumers, by name.
    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.consumers.read().values().cloned().collect()
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.read().len()
    }

    /// Lists a consumer and tells the store what the consumers are interested in.
    pub fn add_consumer(&self, consumer: Arc<Consumer>) {
        self.consumers
            .write()
            .insert(consumer.name.clone(), consumer);
        self.refresh_interest();
    }

    /// Unlists a consumer; with interest retention, what only it still needed goes.
    pub fn remove_consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        let removed = self.consumers.write().remove(name);
        if removed.is_some() {
            self.refresh_interest();
            if self.config().retention == Retention::Interest {
                self.remove_unneeded_from(0);
            }
        }
        removed
    }

    fn refresh_interest(&self) {
        let filters: Vec<Vec<String>> = self.consumers().iter().map(|c| c.filters()).collect();
        self.inner.lock().interest = filters;
    }

    /// Interest and work-queue retention: removes each of `seqs` that no consumer needs
    /// any more (called after acknowledgements, never with a consumer's lock held).
    pub fn remove_unneeded(&self, seqs: &[u64]) {
        if self.config().retention == Retention::Limits {
            return;
        }
        let consumers = self.consumers();
        for &seq in seqs {
            let Ok(Some(m)) = self.load(seq) else {
                continue;
            };
            if !consumers.iter().any(|c| c.needs(seq, &m.subject)) {
                let _ = self.remove(seq, false);
            }
        }
    }

    /// Interest retention after a consumer went: every stored message nobody needs goes.
    fn remove_unneeded_from(&self, start: u64) {
        let consumers = self.consumers();
        let mut seq = start;
        let mut gone = Vec::new();
        while let Ok(Some(m)) = self.load_next(">", seq) {
            seq = m.seq + 1;
            if !consumers.iter().any(|c| c.needs(m.seq, &m.subject)) {
                gone.push(m.seq);
            }
        }
        for seq in gone {
            let _ = self.remove(seq, false);
        }
    }

    /// Publishes the store's new size to the usage counters.
    fn track(&self, inner: &Inner) {
        let now = inner.store.state().bytes;
        let before = self.bytes.swap(now, Ordering::Relaxed);
        let delta = now as i64 - before as i64;
        if delta != 0 {
            for u in &self.usage {
                u.add(self.kind, delta);
            }
        }
    }

    /// Takes this stream's bytes out of the usage counters (it is being deleted).
    pub fn release_usage(&self) {
        let before = self.bytes.swap(0, Ordering::Relaxed);
        for u in &self.usage {
            u.add(self.kind, -(before as i64));
        }
    }

    pub fn config(&self) -> StreamConfig {
        self.inner.lock().cfg.clone()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> StoreState {
        self.inner.lock().store.state()
    }

    /// The `state` of an info response.
    pub fn state_info(&self, detail: &InfoDetail) -> (StateInfo, usize) {
        let inner = self.inner.lock();
        let mut info = StateInfo::from_store(&inner.store.state());
        info.consumer_count = self.consumers.read().len() as u64;
        if detail.deleted {
            info.deleted = inner.store.deleted();
        }
        let mut total = 0;
        if let Some(filter) = detail.subjects_filter.as_deref().filter(|f| !f.is_empty()) {
            let subjects = inner.store.subjects(filter);
            total = subjects.len();
            if total > 0 {
                let start = detail.offset.min(total);
                let end = (start + MAX_SUBJECT_DETAILS).min(total);
                info.subjects = Some(subjects[start..end].iter().cloned().collect());
            }
        }
        (info, total)
    }

    /// Stores a published message, or says why not; no ack when the publisher asked for
    /// none (no reply subject) or the stream is `no_ack`.
    pub fn process(
        &self,
        msg: &Inbound<'_>,
        wants_ack: bool,
        domain: Option<&str>,
        max_payload: u64,
        quota: &dyn Quota,
    ) -> Processed {
        self.process_from(msg, Origin::Client, wants_ack, domain, max_payload, quota)
    }

    /// [`process`](Self::process) for a message from a publisher, a source or a mirror's
    /// origin.
    pub fn process_from(
        &self,
        msg: &Inbound<'_>,
        origin: Origin,
        wants_ack: bool,
        domain: Option<&str>,
        max_payload: u64,
        quota: &dyn Quota,
    ) -> Processed {
        let mut inner = self.inner.lock();
        let mut republish = None;
        let result = inner.process(msg, origin, self.kind, max_payload, quota, &mut republish);
        self.track(&inner);
        let wants_ack = wants_ack && !inner.cfg.no_ack;
        drop(inner);
        let mut out = Processed {
            republish: republish.map(|r| self.republished(r)),
            ..Default::default()
        };
        match result {
            Ok((seq, duplicate)) => {
                out.seq = (!duplicate).then_some(seq);
                if wants_ack {
                    out.ack = Some(pub_ack(&self.name, domain, seq, duplicate));
                }
            }
            Err(e) => {
                if wants_ack {
                    out.ack = Some(pub_ack_error(&self.name, &e));
                }
                out.error = Some(e);
            }
        }
        self.appended.send_modify(|n| *n += 1);
        out
    }

    /// The republished message with nats-server's headers, from what `Inner::process` kept.
    fn republished(&self, r: PendingRepublish) -> Republish {
        let ts = time::format(r.time);
        let mut lines = vec![
            (headers::STREAM, self.name.clone()),
            (headers::SUBJECT, r.stored_subject),
            (headers::SEQUENCE, r.seq.to_string()),
            (headers::TIME_STAMP, ts),
            (headers::LAST_SEQUENCE, r.last_seq.to_string()),
        ];
        if r.headers_only {
            lines.push((MSG_SIZE, r.payload.len().to_string()));
        }
        let mut h = if r.headers.is_empty() {
            b"NATS/1.0\r\n".to_vec()
        } else {
            r.headers[..r.headers.len() - 2].to_vec()
        };
        for (k, v) in lines {
            h.extend_from_slice(k.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        h.extend_from_slice(b"\r\n");
        Republish {
            subject: r.subject,
            headers: h,
            payload: if r.headers_only {
                Vec::new()
            } else {
                r.payload
            },
        }
    }

    /// A receiver told of every append (and refusal), so that mirrors and sources of this
    /// stream can wait for new messages.
    pub fn watch_appends(&self) -> tokio::sync::watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Applies a new configuration (already checked against the old one).
    pub fn update(&self, cfg: StreamConfig) -> Result<(), ApiError> {
        let mut inner = self.inner.lock();
        (inner.itr, inner.rpt) = compile(&cfg);
        inner.cfg = cfg;
        inner
            .enforce_limits(None)
            .map_err(ApiError::stream_update)?;
        self.track(&inner);
        Ok(())
    }

    pub fn purge(&self, req: &PurgeRequest) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock();
        let purged = inner.store.purge(req).map_err(ApiError::stream_general)?;
        let first = inner.store.state().first_seq;
        inner.ttls.retain(|(_, seq)| *seq >= first);
        self.track(&inner);
        drop(inner);
        // As nats-server's `consumer.purge`: consumers move past what went.
        for c in self.consumers() {
            c.purged(first, self);
        }
        Ok(purged)
    }

    /// Removes one message; false when it was not stored.
    pub fn remove(&self, seq: u64, erase: bool) -> Result<bool, ApiError> {
        let mut inner = self.inner.lock();
        let removed = inner
            .store
            .remove(seq, erase)
            .map_err(ApiError::stream_msg_delete_failed)?;
        self.track(&inner);
        Ok(removed)
    }

    pub fn load(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.inner.lock().store.load(seq)
    }

    pub fn load_next(&self, filter: &str, start: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.inner.lock().store.load_next(filter, start)
    }

    pub fn load_last(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        self.inner.lock().store.load_last(filter)
    }

    pub fn seq_for_time(&self, time: i64) -> Option<u64> {
        self.inner.lock().store.seq_for_time(time)
    }

    /// How many stored messages match `filter` from `start` on (a batch's pending count).
    pub fn num_pending(&self, filter: &str, start: u64) -> u64 {
        let inner = self.inner.lock();
        let filter = if filter.is_empty() { ">" } else { filter };
        let st = inner.store.state();
        if start <= st.first_seq && filter == ">" {
            return st.msgs;
        }
        // No gaps: every sequence from the first to the last is stored.
        if filter == ">" && st.num_deleted == 0 {
            return (st.last_seq + 1).saturating_sub(start.max(st.first_seq));
        }
        inner.store.count_from(filter, start.max(st.first_seq))
    }

    /// The last message of each subject matching any of `filters`, with a sequence in
    /// `[start, up_to]`, in sequence order (a multi-last direct get).
    pub fn multi_last(&self, filters: &[String], start: u64, up_to: u64) -> Vec<StoredMsg> {
        let inner = self.inner.lock();
        let mut subjects = BTreeSet::new();
        for filter in filters {
            for (subject, _) in inner.store.subjects(filter) {
                subjects.insert(subject);
            }
        }
        let mut out = Vec::new();
        for subject in subjects {
            let Ok(Some(last)) = inner.store.load_last(&subject) else {
                continue;
            };
            let msg = if last.seq <= up_to {
                Some(last)
            } else {
                last_at_or_before(inner.store.as_ref(), &subject, up_to)
            };
            if let Some(m) = msg.filter(|m| m.seq >= start) {
                out.push(m);
            }
        }
        out.sort_by_key(|m| m.seq);
        out
    }

    /// Removes what `max_age` and per-message TTLs say has expired.
    pub fn expire(&self, now: i64) {
        let mut inner = self.inner.lock();
        inner.expire(now);
        self.track(&inner);
    }

    /// fsyncs the store (the `sync_interval` timer).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.inner.lock().store.sync()
    }

    pub fn disk_usage(&self) -> u64 {
        self.inner.lock().store.disk_usage()
    }
}

/// The last message of a literal subject with a sequence at or below `up_to`.
fn last_at_or_before(store: &dyn Store, subject: &str, up_to: u64) -> Option<StoredMsg> {
    let mut seq = store.first_seq_for_subject(subject)?;
    let mut best = None;
    while let Ok(Some(m)) = store.load_next(subject, seq) {
        if m.seq > up_to {
            break;
        }
        seq = m.seq + 1;
        best = Some(m);
    }
    best
}

impl Inner {
    /// Rebuilds what the store does not keep: the dedupe window, the last message id and the
    /// TTL index, from the stored messages' headers.
    fn recover_indexes(&mut self, now: i64) {
        let window_start = now - self.cfg.duplicates;
        let st = self.store.state();
        if self.cfg.duplicates > 0 {
            if let Some(mut seq) = self.store.seq_for_time(window_start) {
                while let Ok(Some(m)) = self.store.load_next(">", seq) {
                    seq = m.seq + 1;
                    if let Some(id) = headers::get_str(&m.headers, headers::MSG_ID) {
                        self.dedupe.insert(id.to_string(), m.seq, m.time);
                        if m.seq == st.last_seq {
                            self.last_msg_id = id.to_string();
                        }
                    }
                }
            }
        }
        if self.cfg.allow_msg_ttl {
            let mut seq = st.first_seq;
            while let Ok(Some(m)) = self.store.load_next(">", seq) {
                seq = m.seq + 1;
                if let Some(Ok(ttl)) = headers::get_str(&m.headers, headers::TTL).map(parse_ttl) {
                    if ttl > 0 {
                        self.ttls.insert((m.time + ttl * 1_000_000_000, m.seq));
                    }
                }
            }
        }
    }

    /// nats-server's checks in its order, then the store; Ok((sequence, duplicate)).
    fn process(
        &mut self,
        msg: &Inbound<'_>,
        origin: Origin,
        kind: StorageKind,
        max_payload: u64,
        quota: &dyn Quota,
        republish: &mut Option<PendingRepublish>,
    ) -> Result<(u64, bool), ApiError> {
        // nats-server's `itr`: a subject the transform does not match is stored as it is.
        let transformed = self.itr.as_ref().and_then(|t| t.apply(msg.subject));
        let msg = &Inbound {
            subject: transformed.as_deref().unwrap_or(msg.subject),
            ..*msg
        };
        if self.cfg.sealed {
            return Err(ApiError::stream_sealed());
        }
        if let Origin::Mirror { seq, .. } = origin {
            let st = self.store.state();
            if seq <= st.last_seq {
                return Ok((seq, true));
            }
            self.fill_gap(seq).map_err(ApiError::stream_store_failed)?;
        }
        let client = origin == Origin::Client;
        let cfg = &self.cfg;
        let owned_headers;
        let mut hdr = msg.headers;
        if headers::get(hdr, headers::CLIENT_INFO).is_some() {
            owned_headers = headers::remove(hdr, headers::CLIENT_INFO);
            hdr = &owned_headers;
        }
        let last_seq = self.store.state().last_seq;
        if !hdr.is_empty() && !matches!(origin, Origin::Mirror { .. }) {
            if headers::get(hdr, headers::INCR).is_some() {
                return Err(ApiError::message_incr_disabled());
            }
            if let Some(name) = headers::get_str(hdr, headers::EXPECTED_STREAM) {
                if !name.is_empty() && name != cfg.name {
                    return Err(ApiError::stream_not_match());
                }
            }
            let ttl = headers::get_str(hdr, headers::TTL).map(parse_ttl);
            if matches!(ttl, Some(Ok(t)) if t != 0) && !cfg.allow_msg_ttl {
                return Err(ApiError::message_ttl_disabled());
            }
            if let Some(expected) = headers::get_u64(hdr, headers::EXPECTED_LAST_SUBJECT_SEQ) {
                let subject = headers::get_str(hdr, headers::EXPECTED_LAST_SUBJECT_SEQ_SUBJECT)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(msg.subject);
                let last = self
                    .store
                    .load_last(subject)
                    .map_err(ApiError::stream_store_failed)?
                    .map_or(0, |m| m.seq);
                if expected != Some(last) {
                    return Err(ApiError::wrong_last_sequence(last));
                }
            } else if headers::get(hdr, headers::EXPECTED_LAST_SUBJECT_SEQ_SUBJECT)
                .is_some_and(|v| !v.is_empty())
            {
                return Err(ApiError::expected_last_seq_per_subject_invalid());
            }
            if let Some(expected) = headers::get_u64(hdr, headers::EXPECTED_LAST_SEQ) {
                if expected != Some(last_seq) {
                    return Err(ApiError::wrong_last_sequence(last_seq));
                }
            }
            if headers::get(hdr, headers::SCHEDULE).is_some() {
                return Err(ApiError::message_schedules_disabled());
            }
            if client && headers::get(hdr, headers::STREAM_SOURCE).is_some() {
                return Err(ApiError::message_source_header_not_allowed());
            }
            if let Some(id) = headers::get_str(hdr, headers::MSG_ID).filter(|s| !s.is_empty()) {
                self.dedupe.expire(time::now_nanos(), cfg.duplicates);
                if let Some(seq) = self.dedupe.ids.get(id) {
                    return Ok((*seq, true));
                }
            }
            if let Some(expected) = headers::get_str(hdr, headers::EXPECTED_LAST_MSG_ID) {
                if !expected.is_empty() && expected != self.last_msg_id {
                    return Err(ApiError::wrong_last_msg_id(&self.last_msg_id));
                }
            }
            if let Some(rollup) = headers::get_str(hdr, headers::ROLLUP) {
                if !cfg.allow_rollup || cfg.deny_purge {
                    return Err(ApiError::rollup_failed("rollup not permitted"));
                }
                if rollup != "sub" && rollup != "all" {
                    return Err(ApiError::rollup_failed(format!(
                        "rollup value invalid: {rollup:?}"
                    )));
                }
            }
        }
        let max_size = if cfg.max_msg_size >= 0 {
            cfg.max_msg_size as u64
        } else {
            max_payload
        };
        let (hlen, plen) = (hdr.len() as u64, msg.payload.len() as u64);
        if cfg.max_msg_size >= 0 && (hlen > max_size || plen > max_size - hlen) {
            return Err(ApiError::message_exceeds_maximum());
        }
        if hdr.len() > usize::from(u16::MAX) {
            return Err(ApiError::header_exceeds_maximum());
        }
        let size = super::store::msg_size(kind, msg.subject, hdr, msg.payload);
        quota.check(kind, size)?;
        let ttl = match headers::get_str(hdr, headers::TTL).map(parse_ttl) {
            Some(Err(InvalidTtl)) => return Err(ApiError::message_ttl_invalid()),
            Some(Ok(t)) => t,
            None => 0,
        };
        self.check_discard_new(msg.subject, hdr, size)
            .map_err(ApiError::stream_store_failed)?;
        let now = match origin {
            Origin::Mirror { time, .. } => time,
            _ => time::now_nanos(),
        };
        let rp_subject = self
            .rpt
            .as_ref()
            .and_then(|t| t.apply(msg.subject))
            .filter(|s| crate::proto::subject::is_valid_literal_subject(s.as_bytes()));
        let rp_last = match &rp_subject {
            Some(_) => self
                .store
                .load_last(msg.subject)
                .ok()
                .flatten()
                .map_or(0, |m| m.seq),
            None => 0,
        };
        let seq = self
            .store
            .append(msg.subject, hdr, msg.payload, now)
            .map_err(|e| match e {
                StoreError::Full(_) => ApiError::insufficient_resources(),
                other => ApiError::stream_store_failed(other),
            })?;
        let msg_id = headers::get_str(hdr, headers::MSG_ID).unwrap_or_default();
        if !msg_id.is_empty() {
            self.dedupe.insert(msg_id.to_string(), seq, now);
        }
        self.last_msg_id = msg_id.to_string();
        if ttl > 0 {
            self.ttls.insert((now + ttl * 1_000_000_000, seq));
        }
        if let Some(subject) = rp_subject {
            *republish = Some(PendingRepublish {
                subject,
                stored_subject: msg.subject.to_string(),
                seq,
                time: now,
                last_seq: rp_last,
                headers_only: self.cfg.republish.as_ref().is_some_and(|r| r.headers_only),
                headers: hdr.to_vec(),
                payload: msg.payload.to_vec(),
            });
        }
        // Interest retention keeps nothing no consumer is interested in, as nats-server.
        if self.cfg.retention == Retention::Interest
            && !self.interest.iter().any(|filters| {
                filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| super::store::subject_matches(f, msg.subject))
            })
        {
            let _ = self.store.remove(seq, false);
            return Ok((seq, false));
        }
        let rollup = headers::get_str(hdr, headers::ROLLUP).map(str::to_string);
        self.enforce_limits(Some(msg.subject))
            .map_err(ApiError::stream_store_failed)?;
        match rollup.as_deref() {
            Some("sub") => {
                let req = PurgeRequest {
                    filter: Some(msg.subject.to_string()),
                    keep: Some(1),
                    seq: None,
                };
                self.store.purge(&req).map_err(ApiError::rollup_failed)?;
            }
            Some("all") => {
                let req = PurgeRequest {
                    keep: Some(1),
                    ..Default::default()
                };
                self.store.purge(&req).map_err(ApiError::rollup_failed)?;
            }
            _ => {}
        }
        Ok((seq, false))
    }

    /// Makes the next append of a mirror get `seq`: an empty store moves to it, one with
    /// messages marks the sequences in between deleted (the store has no "skip one").
    fn fill_gap(&mut self, seq: u64) -> Result<(), StoreError> {
        let st = self.store.state();
        if seq <= st.last_seq + 1 {
            return Ok(());
        }
        if st.msgs == 0 {
            return self.store.skip_to(seq);
        }
        for _ in st.last_seq + 1..seq {
            let skipped = self.store.append("_", &[], &[], st.last_time)?;
            self.store.remove(skipped, false)?;
        }
        Ok(())
    }

    /// nats-server's discard-new checks (`storeRawMsg`): a full stream refuses the message.
    fn check_discard_new(&self, subject: &str, hdr: &[u8], size: u64) -> Result<(), String> {
        let cfg = &self.cfg;
        if cfg.discard != Discard::New {
            return Ok(());
        }
        let st = self.store.state();
        let mut at_subject_limit = false;
        if cfg.max_msgs_per > 0 {
            let count = self.store.subject_count(subject) + 1;
            if count > cfg.max_msgs_per as u64 {
                if cfg.discard_new_per_subject && headers::get(hdr, headers::ROLLUP).is_none() {
                    return Err("maximum messages per subject exceeded".into());
                }
                at_subject_limit = true;
            }
        }
        if cfg.max_msgs > 0 && st.msgs >= cfg.max_msgs as u64 && !at_subject_limit {
            return Err("maximum messages exceeded".into());
        }
        if cfg.max_bytes > 0 && st.bytes + size > cfg.max_bytes as u64 {
            let oldest_size = if at_subject_limit {
                self.store
                    .first_seq_for_subject(subject)
                    .and_then(|seq| self.store.load(seq).ok().flatten())
                    .map_or(0, |m| {
                        super::store::msg_size(
                            StorageKind::File,
                            &m.subject,
                            &m.headers,
                            &m.payload,
                        )
                    })
            } else {
                0
            };
            if !at_subject_limit || oldest_size < size {
                return Err("maximum bytes exceeded".into());
            }
        }
        Ok(())
    }

    /// Drops the oldest messages until the stream is within its limits (discard old, and the
    /// per-subject limit whatever the discard policy).
    fn enforce_limits(&mut self, subject: Option<&str>) -> Result<(), StoreError> {
        let cfg = &self.cfg;
        if cfg.max_msgs_per > 0 {
            let max = cfg.max_msgs_per as u64;
            let subjects: Vec<String> = match subject {
                Some(s) => vec![s.to_string()],
                None => self
                    .store
                    .subjects(">")
                    .into_iter()
                    .filter(|(_, n)| *n > max)
                    .map(|(s, _)| s)
                    .collect(),
            };
            for s in subjects {
                while self.store.subject_count(&s) > max {
                    let Some(seq) = self.store.first_seq_for_subject(&s) else {
                        break;
                    };
                    self.store.remove(seq, false)?;
                }
            }
        }
        if cfg.discard == Discard::Old {
            loop {
                let st = self.store.state();
                let over_msgs = cfg.max_msgs > 0 && st.msgs > cfg.max_msgs as u64;
                let over_bytes = cfg.max_bytes > 0 && st.bytes > cfg.max_bytes as u64;
                if !(over_msgs || over_bytes) || st.msgs == 0 {
                    break;
                }
                if !self.store.remove(st.first_seq, false)? {
                    break;
                }
            }
        }
        Ok(())
    }

    fn expire(&mut self, now: i64) {
        if self.cfg.max_age > 0 {
            let cutoff = now - self.cfg.max_age;
            loop {
                let st = self.store.state();
                if st.msgs == 0 || st.first_time == 0 || st.first_time > cutoff {
                    break;
                }
                match self.store.remove(st.first_seq, false) {
                    Ok(true) => {}
                    _ => break,
                }
            }
        }
        while let Some(&(at, seq)) = self.ttls.first() {
            if at > now {
                break;
            }
            self.ttls.pop_first();
            let _ = self.store.remove(seq, false);
        }
    }
}

/// A `Nats-TTL` header that is neither a duration of at least a second, seconds, nor `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid per-message TTL")]
pub struct InvalidTtl;

/// nats-server's `parseMessageTTL`: seconds (a Go duration of at least 1 s, or an integer),
/// -1 for `never`.
pub fn parse_ttl(text: &str) -> Result<i64, InvalidTtl> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(-1);
    }
    if let Ok(d) = crate::duration::parse_std_duration(text) {
        if d < std::time::Duration::from_secs(1) {
            return Err(InvalidTtl);
        }
        return Ok(d.as_secs() as i64);
    }
    match text.parse::<i64>() {
        Ok(t) if t >= 0 => Ok(t),
        _ => Err(InvalidTtl),
    }
}

/// The PubAck as nats-server writes it (a template, so its spacing is exact).
pub fn pub_ack(stream: &str, domain: Option<&str>, seq: u64, duplicate: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + stream.len());
    out.extend_from_slice(b"{\"stream\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, stream);
    if let Some(d) = domain {
        out.extend_from_slice(b",\"domain\":");
        let _ = serde_json::to_writer(&mut out, d);
    }
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    if duplicate {
        out.extend_from_slice(b",\"duplicate\": true");
    }
    out.push(b'}');
    out
}

/// A refused publish: `{"error":{..},"stream":"S","seq":0}`.
pub fn pub_ack_error(stream: &str, error: &ApiError) -> Vec<u8> {
    #[derive(Serialize)]
    struct Refused<'a> {
        error: &'a ApiError,
        stream: &'a str,
        seq: u64,
    }
    serde_json::to_vec(&Refused {
        error,
        stream,
        seq: 0,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_acks_are_written_as_nats_server_writes_them() {
        assert_eq!(
            pub_ack("ORDERS", None, 7, false),
            br#"{"stream":"ORDERS","seq":7}"#
        );
        assert_eq!(
            pub_ack("ORDERS", Some("hub"), 7, true),
            br#"{"stream":"ORDERS","domain":"hub","seq":7,"duplicate": true}"#
        );
        let refused = pub_ack_error("S", &ApiError::stream_not_match());
        assert_eq!(
            refused,
            br#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"S","seq":0}"#
        );
        assert_eq!(parse_ttl("never"), Ok(-1));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("30"), Ok(30));
        assert_eq!(parse_ttl("500ms"), Err(InvalidTtl));
        assert_eq!(parse_ttl("bogus"), Err(InvalidTtl));
    }
}
