//! Consumers: a stream's readers (nats-server's `consumer.go`). A consumer keeps its place
//! in the stream (the next stream and consumer sequences), the messages delivered and not yet
//! acknowledged (pending, with their deadlines and delivery counts), its ack floor and the
//! pull requests waiting for messages.
//!
//! Locks: a consumer's lock may be held while its stream's lock is taken (to load
//! messages), never the other way round; nothing is published with either held. Each
//! consumer has a task ([`run`]) that serves waiting pull requests, redelivers what was not
//! acknowledged in time, expires requests, sends heartbeats, removes an idle ephemeral and
//! writes the state file; it wakes on the stream's appends, on [`Consumer::wake`] and on
//! its next deadline.

pub mod ack;
pub mod config;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::stream::Stream;
use super::time;
use crate::broker::account::Account;
use crate::broker::{Fanout, Server};
use crate::log_warn;
use config::{AckPolicy, ConsumerConfig, DeliverPolicy};

/// Errors worth reporting: a consumer being removed may find its directory gone.
trait FilterErr {
    fn filter_err(self, keep: impl Fn(&std::io::Error) -> bool) -> Result<(), std::io::Error>;
}

impl FilterErr for std::io::Result<()> {
    fn filter_err(self, keep: impl Fn(&std::io::Error) -> bool) -> Result<(), std::io::Error> {
        match self {
            Err(e) if keep(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

/// A message for the consumer's task to publish once every lock is released.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Where it is routed (a requester's inbox).
    pub to: String,
    /// The subject its MSG line shows (a delivered message's own subject).
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Vec<u8>,
    pub payload: Bytes,
}

impl Outbound {
    fn status(subject: &str, headers: String) -> Outbound {
        Outbound {
            to: subject.to_string(),
            subject: subject.to_string(),
            reply: None,
            headers: headers.into_bytes(),
            payload: Bytes::new(),
        }
    }
}

/// Publishes what a consumer produced, then wakes the writers.
pub fn publish_all(server: &Arc<Server>, account: &Arc<Account>, out: Vec<Outbound>) {
    if out.is_empty() {
        return;
    }
    let mut fanout = Fanout::default();
    for m in &out {
        server.publish_internal_to(
            &mut fanout,
            account,
            m.to.as_bytes(),
            m.subject.as_bytes(),
            m.reply.as_deref().map(str::as_bytes),
            &m.headers,
            &m.payload,
        );
    }
    fanout.wake_all();
}

/// A message delivered and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The consumer sequence of its first delivery.
    pub dseq: u64,
    /// When it was last delivered, Unix nanoseconds.
    pub ts: i64,
}

/// A pull request waiting for messages (nats-server's `waitingRequest`).
#[derive(Debug, Clone)]
struct Waiting {
    reply: String,
    /// Messages still wanted.
    n: i64,
    /// Bytes still wanted (0: no limit given).
    b: i64,
    /// Messages delivered to it.
    d: i64,
    expires: Option<Instant>,
    no_wait: bool,
    heartbeat: Option<Duration>,
    next_heartbeat: Option<Instant>,
}

/// A pull request as its body gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextRequest {
    pub batch: i64,
    pub expires: i64,
    pub max_bytes: i64,
    pub no_wait: bool,
    pub heartbeat: i64,
}

/// Reads a pull request's body (`nextReqFromMsg`): empty (one message), a number (a batch)
/// or JSON.
pub fn parse_next_request(body: &[u8]) -> Result<NextRequest, String> {
    let body = body.trim_ascii();
    let one = NextRequest {
        batch: 1,
        ..Default::default()
    };
    if body.is_empty() {
        return Ok(one);
    }
    if body[0] == b'{' {
        #[derive(Deserialize)]
        struct Req {
            #[serde(default)]
            expires: i64,
            #[serde(default)]
            batch: i64,
            #[serde(default)]
            max_bytes: i64,
            #[serde(default)]
            no_wait: bool,
            #[serde(default)]
            idle_heartbeat: i64,
        }
        // A plain `json.Unmarshal` in nats-server: its words for a cut-off body.
        super::gojson::check(body).map_err(|e| match e.to_string().as_str() {
            "unexpected EOF" => "unexpected end of JSON input".to_string(),
            other => other.to_string(),
        })?;
        let r: Req = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if r.idle_heartbeat > 0 && r.idle_heartbeat * 2 > r.expires {
            return Err("heartbeat value too large".to_string());
        }
        return Ok(NextRequest {
            batch: r.batch,
            expires: r.expires,
            max_bytes: r.max_bytes,
            no_wait: r.no_wait,
            heartbeat: r.idle_heartbeat,
        });
    }
    match std::str::from_utf8(body)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
    {
        Some(n) => Ok(NextRequest {
            batch: n,
            ..Default::default()
        }),
        None => Ok(one),
    }
}

/// The delivered or ack-floor sequences of an info response.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

/// What an info response shows of a consumer's state.
#[derive(Debug, Clone)]
pub struct InfoState {
    pub config: ConsumerConfig,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: usize,
    pub num_redelivered: usize,
    pub num_waiting: usize,
    pub num_pending: u64,
}

#[derive(Debug)]
struct State {
    cfg: ConsumerConfig,
    filters: Vec<String>,
    /// The next stream sequence to look at.
    sseq: u64,
    /// The next consumer sequence to give.
    dseq: u64,
    last_delivered: i64,
    /// The ack floor: consumer and stream sequences below which everything is done.
    adflr: u64,
    asflr: u64,
    last_ack: i64,
    pending: BTreeMap<u64, Pending>,
    /// When each pending message is due for redelivery.
    deadlines: BTreeSet<(Instant, u64)>,
    due: HashMap<u64, Instant>,
    /// Delivery counts of messages delivered more than once.
    rdc: HashMap<u64, u64>,
    /// Messages to deliver again, by stream sequence.
    rdq: BTreeSet<u64>,
    /// Last-per-subject start: the sequences to deliver first, then where to go on.
    skip: Option<(VecDeque<u64>, u64)>,
    waiting: VecDeque<Waiting>,
    last_active: Instant,
    dirty: bool,
}

#[derive(Debug)]
pub struct Consumer {
    pub name: String,
    pub stream_name: String,
    /// When it was created, Unix nanoseconds.
    pub created: i64,
    /// `<stream dir>/obs/<name>` for consumers of file streams.
    pub dir: Option<PathBuf>,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    stopped: AtomicBool,
}

/// What acknowledging produced: messages to send (the double-ack reply) and stream
/// sequences that may no longer be needed (interest and work-queue retention).
#[derive(Debug, Default)]
pub struct AckOutcome {
    pub out: Vec<Outbound>,
    pub done: Vec<u64>,
}

impl Consumer {
    /// A new consumer placed at its starting position in `stream`.
    pub fn new(
        name: String,
        stream: &Stream,
        cfg: ConsumerConfig,
        created: i64,
        dir: Option<PathBuf>,
    ) -> Consumer {
        let filters = cfg.filters();
        let mut st = State::new(cfg, filters);
        st.start_position(stream);
        Consumer {
            name,
            stream_name: stream.name.clone(),
            created,
            dir,
            state: Mutex::new(st),
            wake: tokio::sync::Notify::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// A consumer recovered from its files.
    pub fn recovered(
        name: String,
        stream: &Stream,
        cfg: ConsumerConfig,
        created: i64,
        dir: PathBuf,
        saved: Option<state::SavedState>,
    ) -> Consumer {
        let c = Consumer::new(name, stream, cfg, created, Some(dir));
        if let Some(saved) = saved {
            let mut st = c.state.lock();
            st.restore(&saved, stream);
        }
        c
    }

    pub fn config(&self) -> ConsumerConfig {
        self.state.lock().cfg.clone()
    }

    pub fn filters(&self) -> Vec<String> {
        self.state.lock().filters.clone()
    }

    pub fn is_durable(&self) -> bool {
        self.state.lock().cfg.is_durable()
    }

    /// Replaces the configuration (an update that changed only what may change).
    pub fn set_config(&self, cfg: ConsumerConfig) {
        let mut st = self.state.lock();
        st.cfg = cfg;
        st.dirty = true;
        drop(st);
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the consumer still needs to see or acknowledge stream sequence `seq` of
    /// `subject` (interest and work-queue retention keep it until nobody does).
    pub fn needs(&self, seq: u64, subject: &str) -> bool {
        let st = self.state.lock();
        if !st.matches(subject) {
            return false;
        }
        if seq >= st.sseq {
            return true;
        }
        if let Some((skip, _)) = &st.skip {
            if skip.contains(&seq) {
                return true;
            }
        }
        st.cfg.ack_policy != AckPolicy::None && st.pending.contains_key(&seq)
    }

    /// The stream was purged up to `first` (its new first sequence), or by a filter: the
    /// consumer moves past what went, and forgets pending messages that are gone.
    pub fn purged(&self, first: u64, stream: &Stream) {
        let mut st = self.state.lock();
        if st.sseq < first {
            st.sseq = first;
        }
        if let Some((skip, _)) = &mut st.skip {
            skip.retain(|s| *s >= first);
        }
        if st.asflr < first {
            st.asflr = first - 1;
        }
        let gone: Vec<u64> = st
            .pending
            .keys()
            .copied()
            .filter(|seq| *seq < first || !matches!(stream.load(*seq), Ok(Some(_))))
            .collect();
        if !gone.is_empty() {
            st.last_ack = time::now_nanos();
        }
        for seq in gone {
            if let Some(p) = st.pending.remove(&seq) {
                st.adflr = st.adflr.max(p.dseq);
            }
            st.clear_deadline(seq);
            st.rdc.remove(&seq);
            st.rdq.remove(&seq);
        }
        if st.pending.is_empty() {
            st.adflr = st.dseq - 1;
            st.asflr = st.sseq.saturating_sub(1);
        }
        st.dirty = true;
        drop(st);
        self.wake.notify_one();
    }

    pub fn info_state(&self, stream: &Stream) -> InfoState {
        let st = self.state.lock();
        let active = |t: i64| (t != 0).then(|| time::format(t));
        InfoState {
            config: st.cfg.clone(),
            delivered: SequenceInfo {
                consumer_seq: st.dseq - 1,
                stream_seq: st.sseq.saturating_sub(1),
                last_active: active(st.last_delivered),
            },
            ack_floor: SequenceInfo {
                consumer_seq: st.adflr,
                stream_seq: st.asflr,
                last_active: active(st.last_ack),
            },
            num_ack_pending: st.pending.len(),
            num_redelivered: st.rdc.len(),
            num_waiting: st.waiting.len(),
            num_pending: st.num_pending(stream),
        }
    }

    /// A pull request (`$JS.API.CONSUMER.MSG.NEXT`): queued for the consumer's task, or
    /// answered at once with a status when it can not be served.
    pub fn request_next(&self, reply: &str, body: &[u8], stream: &Stream) -> Vec<Outbound> {
        let mut st = self.state.lock();
        st.last_active = Instant::now();
        let status = |code: u16, text: &str| {
            vec![Outbound::status(
                reply,
                format!("NATS/1.0 {code} {text}\r\n\r\n"),
            )]
        };
        let req = match parse_next_request(body) {
            Ok(r) => r,
            Err(e) => return status(400, &format!("Bad Request - {e}")),
        };
        let cfg = &st.cfg;
        if cfg.max_request_batch > 0 && req.batch > cfg.max_request_batch {
            return status(
                409,
                &format!("Exceeded MaxRequestBatch of {}", cfg.max_request_batch),
            );
        }
        if req.expires > 0 && cfg.max_request_expires > 0 && req.expires > cfg.max_request_expires {
            return status(
                409,
                &format!(
                    "Exceeded MaxRequestExpires of {}",
                    config::go_duration(cfg.max_request_expires)
                ),
            );
        }
        if req.max_bytes > 0
            && cfg.max_request_max_bytes > 0
            && req.max_bytes > cfg.max_request_max_bytes
        {
            return status(
                409,
                &format!(
                    "Exceeded MaxRequestMaxBytes of {}",
                    cfg.max_request_max_bytes
                ),
            );
        }
        if req.no_wait {
            let available = st.num_pending(stream) + st.rdq.len() as u64 + st.expired_now();
            if available == 0 && req.expires <= 0 {
                return status(404, "No Messages");
            }
        }
        if st.waiting.len() as i64 >= st.cfg.max_waiting.max(1) {
            if req.heartbeat > 0 {
                return Vec::new();
            }
            return status(409, "Exceeded MaxWaiting");
        }
        let now = Instant::now();
        let heartbeat = (req.heartbeat > 0).then(|| Duration::from_nanos(req.heartbeat as u64));
        st.waiting.push_back(Waiting {
            reply: reply.to_string(),
            n: req.batch,
            b: req.max_bytes.max(0),
            d: 0,
            expires: (req.expires > 0).then(|| now + Duration::from_nanos(req.expires as u64)),
            no_wait: req.no_wait,
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
        });
        drop(st);
        self.wake.notify_one();
        Vec::new()
    }

    /// Handles an acknowledgement of the message delivered as `info`.
    pub fn process_ack(
        &self,
        info: &ack::AckInfo<'_>,
        kind: &ack::AckKind<'_>,
        reply: Option<&str>,
        stream: &Stream,
    ) -> AckOutcome {
        let mut outcome = AckOutcome::default();
        let mut answer = reply.is_some() && info.stream_seq > 0;
        {
            let mut st = self.state.lock();
            st.last_active = Instant::now();
            // nats-server answers a double ack unless it names a message not delivered yet.
            if info.stream_seq >= st.sseq && st.skip.is_none() {
                answer = false;
            }
            match kind {
                ack::AckKind::Ack => {
                    st.ack(info.stream_seq, info.consumer_seq, &mut outcome.done);
                }
                ack::AckKind::Next(body) => {
                    st.ack(info.stream_seq, info.consumer_seq, &mut outcome.done);
                    drop(st);
                    if let Some(reply) = reply {
                        outcome.out = self.request_next(reply, body, stream);
                    }
                    self.wake.notify_one();
                    return outcome;
                }
                ack::AckKind::Nak(delay) => st.nak(info.stream_seq, info.consumer_seq, *delay),
                ack::AckKind::Progress => st.progress(info.stream_seq),
                ack::AckKind::Term(_) => {
                    st.term(info.stream_seq, &mut outcome.done);
                }
                ack::AckKind::Unknown => {}
            }
        }
        if answer {
            if let Some(reply) = reply {
                outcome.out.push(Outbound {
                    to: reply.to_string(),
                    subject: reply.to_string(),
                    reply: None,
                    headers: Vec::new(),
                    payload: Bytes::new(),
                });
            }
        }
        self.wake.notify_one();
        outcome
    }

    /// One pass of the consumer's work: redeliveries due, expired and finished requests,
    /// heartbeats and deliveries. Returns what to publish, sequences that acknowledgement-
    /// less delivery finished (for retention), and when to look again.
    fn pass(
        &self,
        stream: &Stream,
        has_interest: &dyn Fn(&str) -> bool,
    ) -> (Vec<Outbound>, Vec<u64>, Option<Instant>) {
        let mut st = self.state.lock();
        let now = Instant::now();
        let mut out = Vec::new();
        let mut done = Vec::new();
        st.collect_due(now);
        st.expire_waiting(now, &mut out, false, has_interest);
        st.deliver(self, stream, &mut out, &mut done);
        st.expire_waiting(now, &mut out, true, has_interest);
        if !st.waiting.is_empty() {
            st.last_active = now;
        }
        let next = st.next_deadline();
        (out, done, next)
    }

    /// Whether an ephemeral consumer has been idle past its inactive threshold (or a
    /// durable one with a threshold set).
    fn idle_expired(&self) -> Option<Instant> {
        let st = self.state.lock();
        let threshold = st.cfg.inactive_threshold;
        if threshold <= 0 || !st.waiting.is_empty() {
            return None;
        }
        Some(st.last_active + Duration::from_nanos(threshold as u64))
    }

    /// The state to write, when it changed since last written.
    fn take_dirty(&self) -> Option<state::SavedState> {
        let mut st = self.state.lock();
        if !st.dirty {
            return None;
        }
        st.dirty = false;
        Some(st.saved())
    }

    /// Writes the state file now (shutdown).
    pub fn flush(&self) {
        if let (Some(dir), Some(saved)) = (&self.dir, self.take_dirty()) {
            if let Err(e) = state::write_state(dir, &saved, true).filter_err(|_| !self.is_stopped())
            {
                log_warn!("Consumer '{}' could not write its state: {}", self.name, e);
            }
        }
    }
}

impl State {
    fn new(cfg: ConsumerConfig, filters: Vec<String>) -> State {
        State {
            cfg,
            filters,
            sseq: 1,
            dseq: 1,
            last_delivered: 0,
            adflr: 0,
            asflr: 0,
            last_ack: 0,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            due: HashMap::new(),
            rdc: HashMap::new(),
            rdq: BTreeSet::new(),
            skip: None,
            waiting: VecDeque::new(),
            last_active: Instant::now(),
            dirty: true,
        }
    }

    fn matches(&self, subject: &str) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| super::store::subject_matches(f, subject))
    }

    /// Where a new consumer starts (`selectStartingSeqNo`).
    fn start_position(&mut self, stream: &Stream) {
        let st = stream.state();
        let first = st.first_seq.max(1);
        let last_matching = |filters: &[String]| -> Option<u64> {
            if filters.is_empty() {
                return stream.load_last(">").ok().flatten().map(|m| m.seq);
            }
            filters
                .iter()
                .filter_map(|f| stream.load_last(f).ok().flatten().map(|m| m.seq))
                .max()
        };
        self.sseq = match self.cfg.deliver_policy {
            DeliverPolicy::All => first,
            DeliverPolicy::Last => last_matching(&self.filters).unwrap_or(st.last_seq + 1),
            DeliverPolicy::New => st.last_seq + 1,
            DeliverPolicy::ByStartSequence => self.cfg.opt_start_seq.max(first),
            DeliverPolicy::ByStartTime => self
                .cfg
                .opt_start_time
                .as_deref()
                .and_then(time::parse)
                .and_then(|t| stream.seq_for_time(t))
                .unwrap_or(st.last_seq + 1),
            DeliverPolicy::LastPerSubject => {
                let seqs: VecDeque<u64> = stream
                    .multi_last(&self.filters, 0, u64::MAX)
                    .iter()
                    .map(|m| m.seq)
                    .collect();
                let resume = st.last_seq + 1;
                match seqs.front() {
                    Some(&s) => {
                        self.skip = Some((seqs, resume));
                        s
                    }
                    None => resume,
                }
            }
        };
        // The ack floor starts just below the first message it will see.
        self.asflr = self.sseq.saturating_sub(1);
    }

    fn restore(&mut self, saved: &state::SavedState, stream: &Stream) {
        self.dseq = saved.delivered.consumer_seq + 1;
        // The saved position wins (it was written when the consumer was created), except
        // for a last-per-subject start not begun yet, which is worked out again.
        if saved.delivered.consumer_seq > 0 || self.skip.is_none() {
            self.sseq = saved.delivered.stream_seq + 1;
            self.skip = None;
        }
        self.adflr = saved.ack_floor.consumer_seq;
        self.asflr = saved.ack_floor.stream_seq;
        self.last_delivered = saved.delivered.last_active;
        self.last_ack = saved.ack_floor.last_active;
        let now = Instant::now();
        for (seq, p) in &saved.pending {
            self.pending.insert(*seq, *p);
            // What was pending when the server stopped is due again after the ack wait.
            let at = now + self.ack_wait_for(1);
            self.set_deadline(*seq, at);
        }
        for (seq, n) in &saved.redelivered {
            self.rdc.insert(*seq, *n);
        }
        let first = stream.state().first_seq;
        if self.sseq < first {
            self.sseq = first;
        }
        self.dirty = false;
    }

    fn saved(&self) -> state::SavedState {
        state::SavedState {
            delivered: state::SavedSeq {
                consumer_seq: self.dseq - 1,
                stream_seq: self.sseq.saturating_sub(1),
                last_active: self.last_delivered,
            },
            ack_floor: state::SavedSeq {
                consumer_seq: self.adflr,
                stream_seq: self.asflr,
                last_active: self.last_ack,
            },
            pending: self.pending.iter().map(|(s, p)| (*s, *p)).collect(),
            redelivered: self.rdc.iter().map(|(s, n)| (*s, *n)).collect(),
        }
    }

    /// Messages the consumer has yet to deliver (`num_pending`), skipping the
    /// last-per-subject list's remaining entries the same way.
    fn num_pending(&self, stream: &Stream) -> u64 {
        if let Some((skip, _)) = &self.skip {
            return skip.len() as u64;
        }
        if self.filters.is_empty() {
            return stream.num_pending(">", self.sseq);
        }
        self.filters
            .iter()
            .map(|f| stream.num_pending(f, self.sseq))
            .sum()
    }

    /// The ack wait before the redelivery that follows delivery number `dc`.
    fn ack_wait_for(&self, dc: u64) -> Duration {
        let nanos = if self.cfg.backoff.is_empty() {
            self.cfg.ack_wait
        } else {
            let i = (dc.max(1) - 1) as usize;
            self.cfg.backoff[i.min(self.cfg.backoff.len() - 1)]
        };
        Duration::from_nanos(nanos.max(1) as u64)
    }

    fn set_deadline(&mut self, seq: u64, at: Instant) {
        if let Some(old) = self.due.insert(seq, at) {
            self.deadlines.remove(&(old, seq));
        }
        self.deadlines.insert((at, seq));
    }

    fn clear_deadline(&mut self, seq: u64) {
        if let Some(old) = self.due.remove(&seq) {
            self.deadlines.remove(&(old, seq));
        }
    }

    /// How many pending messages are past their deadline right now (not yet queued).
    fn expired_now(&self) -> u64 {
        let now = Instant::now();
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .count() as u64
    }

    /// Moves pending messages whose ack wait ran out to the redelivery queue.
    fn collect_due(&mut self, now: Instant) {
        while let Some(&(at, seq)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            self.due.remove(&seq);
            if self.pending.contains_key(&seq) {
                self.rdq.insert(seq);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.deadlines.first().map(|(at, _)| *at);
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for w in &self.waiting {
            earliest(w.expires);
            earliest(w.next_heartbeat);
        }
        next
    }

    /// Expires requests and sends heartbeats (`processWaiting`); at the end of the stream
    /// (`eos`), finishes no-wait requests.
    fn expire_waiting(
        &mut self,
        now: Instant,
        out: &mut Vec<Outbound>,
        eos: bool,
        has_interest: &dyn Fn(&str) -> bool,
    ) {
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        let (dseq, sseq) = (self.dseq - 1, self.sseq.saturating_sub(1));
        while let Some(mut w) = self.waiting.pop_front() {
            let expired = w.expires.is_some_and(|e| now >= e);
            if expired {
                out.push(Outbound::status(
                    &w.reply,
                    format!(
                        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                        w.n, w.b
                    ),
                ));
                continue;
            }
            if eos && w.no_wait && (w.expires.is_none() || w.d > 0) {
                out.push(Outbound::status(
                    &w.reply,
                    "NATS/1.0 404 No Messages\r\n\r\n".to_string(),
                ));
                continue;
            }
            // The requester went away (nothing subscribes to its reply subject any more):
            // dropped without an answer, as nats-server drops it.
            if !has_interest(&w.reply) {
                continue;
            }
            if let (Some(hb), Some(at)) = (w.heartbeat, w.next_heartbeat) {
                if now >= at {
                    out.push(Outbound::status(
                        &w.reply,
                        format!(
                            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {dseq}\r\nNats-Last-Stream: {sseq}\r\n\r\n"
                        ),
                    ));
                    w.next_heartbeat = Some(now + hb);
                }
            }
            kept.push_back(w);
        }
        self.waiting = kept;
    }

    /// The next message to deliver: a redelivery first, then the next new one. Returns
    /// the message and its delivery count.
    fn next_msg(
        &mut self,
        stream: &Stream,
        done: &mut Vec<u64>,
    ) -> Option<(super::store::StoredMsg, u64)> {
        while let Some(seq) = self.rdq.pop_first() {
            if !self.pending.contains_key(&seq) {
                continue;
            }
            let dc = self.rdc.get(&seq).copied().unwrap_or(1) + 1;
            if self.cfg.max_deliver > 0 && dc > self.cfg.max_deliver as u64 {
                // Delivered as often as allowed: no longer pending (nats-server's
                // `notifyDeliveryExceeded`, without the advisory yet).
                if let Some(p) = self.pending.remove(&seq) {
                    self.clear_deadline(seq);
                    self.rdc.remove(&seq);
                    self.move_ack_floor(p.dseq, seq);
                    done.push(seq);
                }
                continue;
            }
            match stream.load(seq) {
                Ok(Some(m)) => {
                    self.rdc.insert(seq, dc);
                    return Some((m, dc));
                }
                _ => {
                    // Gone from the stream (deleted, purged): no longer pending.
                    if let Some(p) = self.pending.remove(&seq) {
                        self.clear_deadline(seq);
                        self.rdc.remove(&seq);
                        self.move_ack_floor(p.dseq, seq);
                    }
                    continue;
                }
            }
        }
        if self.cfg.ack_policy != AckPolicy::None
            && self.cfg.max_ack_pending > 0
            && self.pending.len() as i64 >= self.cfg.max_ack_pending
        {
            return None;
        }
        if let Some((skip, resume)) = &mut self.skip {
            while let Some(seq) = skip.pop_front() {
                if skip.is_empty() {
                    self.sseq = *resume;
                } else {
                    self.sseq = seq + 1;
                }
                if let Ok(Some(m)) = stream.load(seq) {
                    if skip.is_empty() {
                        self.skip = None;
                    }
                    return Some((m, 1));
                }
            }
            self.skip = None;
        }
        let next = if self.filters.is_empty() {
            stream.load_next(">", self.sseq).ok().flatten()
        } else {
            self.filters
                .iter()
                .filter_map(|f| stream.load_next(f, self.sseq).ok().flatten())
                .min_by_key(|m| m.seq)
        };
        let m = next?;
        self.sseq = m.seq + 1;
        Some((m, 1))
    }

    /// Serves waiting requests while there are messages for them.
    fn deliver(
        &mut self,
        consumer: &Consumer,
        stream: &Stream,
        out: &mut Vec<Outbound>,
        done: &mut Vec<u64>,
    ) {
        if self.waiting.is_empty() {
            return;
        }
        let mut pending_count: Option<u64> = None;
        while !self.waiting.is_empty() {
            let Some((m, dc)) = self.next_msg(stream, done) else {
                break;
            };
            // What is left after this one: counted once (after `next_msg` moved on), then
            // one less for each new message.
            let np = match pending_count {
                None => self.num_pending(stream),
                Some(p) if dc == 1 => p.saturating_sub(1),
                Some(p) => p,
            };
            pending_count = Some(np);
            let Some(mut w) = self.waiting.pop_front() else {
                break;
            };
            let now_ns = time::now_nanos();
            // Every delivery, redeliveries included, takes the next consumer sequence.
            let dseq = self.dseq;
            let (headers, payload) = if self.cfg.headers_only {
                let size = m.payload.len();
                (
                    super::headers::append(&m.headers, "Nats-Msg-Size", &size.to_string()),
                    Bytes::new(),
                )
            } else {
                (m.headers.to_vec(), m.payload.clone())
            };
            let ack_reply = ack::reply_subject(
                &consumer.stream_name,
                &consumer.name,
                dc,
                m.seq,
                dseq,
                now_ns,
                np,
            );
            let size = (m.subject.len() + headers.len() + payload.len() + ack_reply.len()) as i64;
            if w.b > 0 {
                if size <= w.b {
                    w.b -= size;
                    if w.b == 0 {
                        w.n = 1;
                    }
                } else {
                    out.push(Outbound::status(
                        &w.reply,
                        format!(
                            "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                            w.n, w.b
                        ),
                    ));
                    // The message stays for the next request.
                    self.unget(m.seq, dc);
                    if dc == 1 {
                        pending_count = pending_count.map(|p| p + 1);
                    }
                    continue;
                }
            }
            self.dseq += 1;
            let reply_to = w.reply.clone();
            w.n -= 1;
            w.d += 1;
            if w.n > 0 {
                self.waiting.push_back(w);
            }
            self.last_delivered = now_ns;
            self.dirty = true;
            if self.cfg.ack_policy == AckPolicy::None {
                self.adflr = dseq;
                self.asflr = m.seq;
                done.push(m.seq);
            } else {
                let first = self.pending.get(&m.seq).map_or(dseq, |p| p.dseq);
                self.pending.insert(
                    m.seq,
                    Pending {
                        dseq: first,
                        ts: now_ns,
                    },
                );
                let at = Instant::now() + self.ack_wait_for(dc);
                self.set_deadline(m.seq, at);
            }
            out.push(Outbound {
                to: reply_to,
                subject: m.subject.clone(),
                reply: Some(ack_reply),
                headers,
                payload,
            });
        }
    }

    /// Puts back a message `next_msg` took but could not deliver.
    fn unget(&mut self, seq: u64, dc: u64) {
        if dc > 1 {
            self.rdq.insert(seq);
            if dc == 2 {
                self.rdc.remove(&seq);
            } else {
                self.rdc.insert(seq, dc - 1);
            }
        } else if self.skip.is_some() || seq < self.sseq {
            match &mut self.skip {
                Some((skip, _)) => {
                    skip.push_front(seq);
                    self.sseq = seq;
                }
                None => self.sseq = seq,
            }
        }
    }

    /// Moves the ack floor after `dseq`/`sseq` was finished (`moveAckFloor`-like).
    fn move_ack_floor(&mut self, _dseq: u64, _sseq: u64) {
        match self.pending.first_key_value() {
            None => {
                self.adflr = self.dseq - 1;
                self.asflr = self.sseq.saturating_sub(1);
            }
            Some((&seq, p)) => {
                self.adflr = p.dseq.saturating_sub(1).max(self.adflr);
                self.asflr = seq.saturating_sub(1).max(self.asflr);
            }
        }
        self.dirty = true;
    }

    /// An acknowledgement; false when it acknowledged nothing (already done or unknown).
    fn ack(&mut self, sseq: u64, dseq: u64, done: &mut Vec<u64>) -> bool {
        match self.cfg.ack_policy {
            AckPolicy::None => false,
            AckPolicy::All => {
                let seqs: Vec<u64> = self.pending.range(..=sseq).map(|(s, _)| *s).collect();
                if seqs.is_empty() && dseq <= self.adflr {
                    return false;
                }
                for s in seqs {
                    self.pending.remove(&s);
                    self.clear_deadline(s);
                    self.rdc.remove(&s);
                    self.rdq.remove(&s);
                    done.push(s);
                }
                self.last_ack = time::now_nanos();
                if self.pending.is_empty() {
                    self.adflr = self.dseq - 1;
                    self.asflr = self.sseq.saturating_sub(1);
                } else {
                    self.adflr = self.adflr.max(dseq);
                    self.asflr = self.asflr.max(sseq);
                    self.move_ack_floor(dseq, sseq);
                }
                self.dirty = true;
                true
            }
            AckPolicy::Explicit | AckPolicy::FlowControl => {
                let Some(p) = self.pending.remove(&sseq) else {
                    return false;
                };
                self.clear_deadline(sseq);
                self.rdc.remove(&sseq);
                self.rdq.remove(&sseq);
                self.last_ack = time::now_nanos();
                done.push(sseq);
                self.move_ack_floor(p.dseq, sseq);
                true
            }
        }
    }

    fn nak(&mut self, sseq: u64, dseq: u64, delay: Option<i64>) {
        if dseq <= self.adflr || dseq >= self.dseq || !self.pending.contains_key(&sseq) {
            return;
        }
        match delay {
            Some(d) => {
                self.rdq.remove(&sseq);
                self.set_deadline(sseq, Instant::now() + Duration::from_nanos(d as u64));
            }
            None => {
                self.clear_deadline(sseq);
                self.rdq.insert(sseq);
            }
        }
    }

    fn progress(&mut self, sseq: u64) {
        if let Some(p) = self.pending.get_mut(&sseq) {
            p.ts = time::now_nanos();
            let dc = self.rdc.get(&sseq).copied().unwrap_or(1);
            let at = Instant::now() + self.ack_wait_for(dc);
            self.set_deadline(sseq, at);
            self.dirty = true;
        }
    }

    fn term(&mut self, sseq: u64, done: &mut Vec<u64>) -> bool {
        let Some(p) = self.pending.remove(&sseq) else {
            return false;
        };
        self.clear_deadline(sseq);
        self.rdc.remove(&sseq);
        self.rdq.remove(&sseq);
        done.push(sseq);
        self.move_ack_floor(p.dseq, sseq);
        true
    }
}

/// Removes an idle consumer: `(stream, consumer)`.
pub type IdleHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// What the consumer's task needs to publish and to remove what nobody needs any more.
pub struct Runner {
    pub server: Weak<Server>,
    pub account: Arc<Account>,
    pub stream: Weak<Stream>,
    pub consumer: Weak<Consumer>,
    /// Called (with the stream's and the consumer's names) when the consumer has been idle
    /// past its inactive threshold, to remove it.
    pub on_idle: IdleHook,
}

/// The consumer's task: runs until the consumer is stopped or dropped.
pub async fn run(r: Runner) {
    let Some(mut appends) = r.stream.upgrade().map(|s| s.watch_appends()) else {
        return;
    };
    loop {
        let (Some(consumer), Some(stream), Some(server)) =
            (r.consumer.upgrade(), r.stream.upgrade(), r.server.upgrade())
        else {
            return;
        };
        if consumer.is_stopped() {
            consumer.flush();
            return;
        }
        let account = r.account.clone();
        let has_interest = move |reply: &str| {
            let found = account.sublist.read().match_subject(reply.as_bytes());
            !found.psubs.is_empty() || !found.qsubs.is_empty()
        };
        let (out, done, mut next) = consumer.pass(&stream, &has_interest);
        publish_all(&server, &r.account, out);
        if !done.is_empty() {
            stream.remove_unneeded(&done);
        }
        if let (Some(dir), Some(saved)) = (&consumer.dir, consumer.take_dirty()) {
            let result = state::write_state(dir, &saved, false);
            if let Err(e) = result.filter_err(|_| !consumer.is_stopped()) {
                log_warn!(
                    "Consumer '{} > {}' could not write its state: {}",
                    consumer.stream_name,
                    consumer.name,
                    e
                );
            }
        }
        if let Some(idle) = consumer.idle_expired() {
            if Instant::now() >= idle {
                (r.on_idle)(&consumer.stream_name, &consumer.name);
                return;
            }
            next = Some(next.map_or(idle, |n| n.min(idle)));
        }
        let wake = Arc::clone(&consumer);
        drop((consumer, stream, server));
        let notified = wake.wake.notified();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = notified => {}
            changed = appends.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_bodies_read_as_nats_server_reads_them() {
        assert_eq!(parse_next_request(b"").unwrap().batch, 1);
        assert_eq!(parse_next_request(b" 10 ").unwrap().batch, 10);
        let r = parse_next_request(
            br#"{"batch":5,"expires":2000000000,"no_wait":true,"max_bytes":100,"idle_heartbeat":500000000}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            NextRequest {
                batch: 5,
                expires: 2_000_000_000,
                max_bytes: 100,
                no_wait: true,
                heartbeat: 500_000_000
            }
        );
        assert_eq!(
            parse_next_request(br#"{"batch":1,"idle_heartbeat":1000000000,"expires":1000000000}"#)
                .unwrap_err(),
            "heartbeat value too large"
        );
    }
}
