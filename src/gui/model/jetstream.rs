//! JetStream as the Streams, Consumers and KV views show it, as pure data: the stream
//! table's rows (filter and sort), which consumers are stalled and why, key-value buckets
//! and object stores recognised by their streams' names, and KV entries and object
//! metadata decoded from stored messages.

use std::time::{Duration, SystemTime};

use crate::inspect::snapshot::{ConsumerSummary, StreamSummary};
use crate::remote::jetstream::StoredMessage;

use super::payload;

/// A key-value bucket's stream is `KV_<bucket>`, its keys the subjects `$KV.<bucket>.<key>`.
pub const KV_STREAM_PREFIX: &str = "KV_";
/// An object store's stream is `OBJ_<bucket>`; object metadata is on `$O.<bucket>.M.<name>`.
pub const OBJ_STREAM_PREFIX: &str = "OBJ_";

/// The bucket a KV stream holds (`KV_config` -> `config`).
pub fn kv_bucket(stream: &str) -> Option<&str> {
    stream
        .strip_prefix(KV_STREAM_PREFIX)
        .filter(|b| !b.is_empty())
}

/// The bucket an object store's stream holds (`OBJ_files` -> `files`).
pub fn obj_bucket(stream: &str) -> Option<&str> {
    stream
        .strip_prefix(OBJ_STREAM_PREFIX)
        .filter(|b| !b.is_empty())
}

/// The subjects of a bucket's keys, for a `subjects_filter`.
pub fn kv_subjects(bucket: &str) -> String {
    format!("$KV.{bucket}.>")
}

/// The subject a key is stored on.
pub fn kv_subject(bucket: &str, key: &str) -> String {
    format!("$KV.{bucket}.{key}")
}

/// The key a subject of `bucket` stands for.
pub fn kv_key<'a>(bucket: &str, subject: &'a str) -> Option<&'a str> {
    subject
        .strip_prefix("$KV.")?
        .strip_prefix(bucket)?
        .strip_prefix('.')
        .filter(|k| !k.is_empty())
}

/// Whether a key is one a KV bucket accepts: tokens of letters, digits and `-_/=`, dots
/// between them, no wildcards.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '=' | '.'))
}

/// The subjects of an object store's metadata, for a `subjects_filter`.
pub fn obj_meta_subjects(bucket: &str) -> String {
    format!("$O.{bucket}.M.>")
}

/// The stream table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamColumn {
    #[default]
    Name,
    Storage,
    Messages,
    Bytes,
    FirstSeq,
    LastSeq,
    LastTime,
    Consumers,
}

/// How the stream table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamSort {
    pub column: StreamColumn,
    pub descending: bool,
}

impl StreamSort {
    /// A click on a column's header: the same column flips, another sorts by it (numbers
    /// biggest first, names A to Z).
    pub fn clicked(self, column: StreamColumn) -> StreamSort {
        if self.column == column {
            StreamSort {
                column,
                descending: !self.descending,
            }
        } else {
            StreamSort {
                column,
                descending: !matches!(column, StreamColumn::Name | StreamColumn::Storage),
            }
        }
    }
}

/// Whether a stream matches the filter text: in its name, account, description or one of
/// its subjects (case-insensitive); empty matches all.
pub fn stream_matches(s: &StreamSummary, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    if f.is_empty() {
        return true;
    }
    let has = |t: &str| t.to_lowercase().contains(&f);
    has(&s.name)
        || has(&s.account)
        || has(&s.description)
        || s.subjects.iter().any(|subject| has(subject))
}

/// Indices of the streams to show, filtered and sorted (ties by name).
pub fn stream_rows(streams: &[StreamSummary], filter: &str, sort: StreamSort) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..streams.len())
        .filter(|&i| stream_matches(&streams[i], filter))
        .collect();
    rows.sort_by(|&a, &b| {
        let (x, y) = (&streams[a], &streams[b]);
        let order = match sort.column {
            StreamColumn::Name => x.name.cmp(&y.name),
            StreamColumn::Storage => x.storage.cmp(&y.storage),
            StreamColumn::Messages => x.messages.cmp(&y.messages),
            StreamColumn::Bytes => x.bytes.cmp(&y.bytes),
            StreamColumn::FirstSeq => x.first_seq.cmp(&y.first_seq),
            StreamColumn::LastSeq => x.last_seq.cmp(&y.last_seq),
            StreamColumn::LastTime => x.last_time.cmp(&y.last_time),
            StreamColumn::Consumers => x.consumer_count.cmp(&y.consumer_count),
        };
        let order = if sort.descending {
            order.reverse()
        } else {
            order
        };
        order.then_with(|| x.name.cmp(&y.name))
    });
    rows
}

/// A limit as the API gives it: 0 or negative is unlimited.
pub fn limit(value: i64, show: impl Fn(u64) -> String) -> String {
    if value <= 0 {
        "unlimited".into()
    } else {
        show(value as u64)
    }
}

/// Why a consumer is not making progress, if it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// As many messages wait for an acknowledgement as it allows: nothing more is
    /// delivered until some are acknowledged.
    AckPendingAtMax,
    /// A pull consumer with messages for it, no pull request waiting, and nothing done
    /// for [`IDLE_BEFORE_STALLED`] (between two fetches a pull consumer has none waiting).
    NoPullWaiting,
    /// A push consumer with messages for it and nobody subscribed to its deliver subject.
    NoSubscriber,
    Paused,
}

impl Stall {
    pub fn label(self) -> &'static str {
        match self {
            Stall::AckPendingAtMax => "ack pending at max",
            Stall::NoPullWaiting => "no pull waiting",
            Stall::NoSubscriber => "no subscriber",
            Stall::Paused => "paused",
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Stall::AckPendingAtMax => {
                "As many messages wait for an acknowledgement as max_ack_pending allows: \
                 nothing more is delivered until the clients acknowledge some"
            }
            Stall::NoPullWaiting => {
                "Messages wait for this pull consumer and no client has asked for them for \
                 30 s or more (no pull request waiting)"
            }
            Stall::NoSubscriber => {
                "Messages wait for this push consumer and nobody is subscribed to its \
                 deliver subject"
            }
            Stall::Paused => "The consumer is paused: it delivers nothing until resumed",
        }
    }
}

/// How long a pull consumer with messages for it and no pull waiting may stay idle before
/// it counts as stalled.
pub const IDLE_BEFORE_STALLED: Duration = Duration::from_secs(30);

/// Why `c` is stalled as of `now`, the most pressing reason first; `None` when it is
/// keeping up or has nothing to do.
pub fn stall(c: &ConsumerSummary, now: SystemTime) -> Option<Stall> {
    if c.paused {
        return Some(Stall::Paused);
    }
    if c.max_ack_pending > 0 && c.num_ack_pending >= c.max_ack_pending as u64 {
        return Some(Stall::AckPendingAtMax);
    }
    if c.num_pending == 0 {
        return None;
    }
    if c.is_push() {
        (!c.push_bound).then_some(Stall::NoSubscriber)
    } else {
        let idle = c
            .last_active()
            .is_none_or(|t| now.duration_since(t).unwrap_or_default() >= IDLE_BEFORE_STALLED);
        (c.num_waiting == 0 && idle).then_some(Stall::NoPullWaiting)
    }
}

/// A consumer row of the Consumers view: which stream, which consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRow {
    pub stream: usize,
    pub consumer: usize,
    pub stall: Option<Stall>,
}

/// The consumers to show, stream by stream (as the inventory orders them), those of
/// `stream` only when given, stalled ones (as of `now`) only when asked; the filter
/// matches the consumer's or the stream's name or a filter subject.
pub fn consumer_rows(
    streams: &[StreamSummary],
    stream: Option<&str>,
    filter: &str,
    stalled_only: bool,
    now: SystemTime,
) -> Vec<ConsumerRow> {
    let f = filter.trim().to_lowercase();
    let mut out = Vec::new();
    for (si, s) in streams.iter().enumerate() {
        if stream.is_some_and(|name| name != s.name) {
            continue;
        }
        for (ci, c) in s.consumers.iter().enumerate() {
            let stall = stall(c, now);
            if stalled_only && stall.is_none() {
                continue;
            }
            let has = |t: &str| t.to_lowercase().contains(&f);
            if !f.is_empty()
                && !has(&c.name)
                && !has(&s.name)
                && !c.filter_subjects.iter().any(|x| has(x))
            {
                continue;
            }
            out.push(ConsumerRow {
                stream: si,
                consumer: ci,
                stall,
            });
        }
    }
    out
}

/// What a KV entry's revision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOperation {
    Put,
    Delete,
    Purge,
}

impl KvOperation {
    pub fn label(self) -> &'static str {
        match self {
            KvOperation::Put => "put",
            KvOperation::Delete => "deleted",
            KvOperation::Purge => "purged",
        }
    }
}

/// One revision of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub key: String,
    /// The stream sequence of this revision.
    pub revision: u64,
    pub time: Option<SystemTime>,
    pub operation: KvOperation,
    pub value: Vec<u8>,
}

/// What a `KV-Operation` header says (none: a put).
pub fn kv_operation(header: Option<&str>) -> KvOperation {
    match header.map(str::trim) {
        Some("DEL") => KvOperation::Delete,
        Some("PURGE") => KvOperation::Purge,
        _ => KvOperation::Put,
    }
}

/// The entry a stored message of `bucket` stands for (`None`: not one of its keys).
pub fn kv_entry(bucket: &str, m: StoredMessage) -> Option<KvEntry> {
    let key = kv_key(bucket, &m.subject)?.to_string();
    let operation = kv_operation(
        m.headers
            .as_deref()
            .map(payload::parse_header_block)
            .and_then(|(_, pairs)| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("KV-Operation"))
                    .map(|(_, v)| v)
            })
            .as_deref(),
    );
    Some(KvEntry {
        key,
        revision: m.seq,
        time: m.time,
        operation,
        value: m.payload,
    })
}

/// A value on one line for a table cell: text (escaped where it is not), at most `max`
/// characters, with an ellipsis when cut; binary values as their size.
pub fn preview(value: &[u8], max: usize) -> String {
    if !value.is_empty() && !payload::looks_like_text(value) {
        return format!("({} bytes, binary)", value.len());
    }
    let text = payload::render_text(value).replace(['\n', '\r', '\t'], " ");
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// An object of an object store, from its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ObjectInfo {
    #[serde(deserialize_with = "or_default")]
    pub name: String,
    #[serde(deserialize_with = "or_default")]
    pub description: String,
    #[serde(deserialize_with = "or_default")]
    pub size: u64,
    #[serde(deserialize_with = "or_default")]
    pub chunks: u64,
    /// RFC 3339, as stored.
    #[serde(deserialize_with = "or_default")]
    pub mtime: String,
    #[serde(deserialize_with = "or_default")]
    pub digest: String,
    #[serde(deserialize_with = "or_default")]
    pub deleted: bool,
}

/// A field that clients write as `null` when they have nothing to say.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Decodes an object's metadata message.
pub fn object_info(payload: &[u8]) -> Result<ObjectInfo, String> {
    serde_json::from_slice(payload).map_err(|e| format!("unreadable object metadata: {e}"))
}

/// `time` as an age from `now` ("-" for never).
pub fn ago(now: SystemTime, time: Option<SystemTime>) -> String {
    match time {
        Some(t) => format!(
            "{} ago",
            super::format::age(now.duration_since(t).unwrap_or(Duration::ZERO))
        ),
        None => "-".into(),
    }
}

/// The changes a KV watch saw, newest first, at most [`WatchLog::CAPACITY`]; what fell
/// off the end is counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchLog {
    changes: std::collections::VecDeque<KvEntry>,
    /// Changes that no longer fit and were let go, oldest first.
    pub overflowed: u64,
}

impl WatchLog {
    pub const CAPACITY: usize = 200;

    pub fn push(&mut self, entry: KvEntry) {
        self.changes.push_front(entry);
        while self.changes.len() > Self::CAPACITY {
            self.changes.pop_back();
            self.overflowed += 1;
        }
    }

    /// Newest first.
    pub fn changes(&self) -> impl Iterator<Item = &KvEntry> {
        self.changes.iter()
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Takes a watched change into a bucket's key list (sorted by key): it replaces the
/// key's entry when it is newer, or joins the list in order; `total` counts a new key.
/// An older revision than the one listed (a read that crossed the change) changes
/// nothing.
pub fn apply_change(keys: &mut Vec<KvEntry>, total: &mut usize, change: &KvEntry) {
    match keys.binary_search_by(|e| e.key.as_str().cmp(&change.key)) {
        Ok(i) => {
            if keys[i].revision < change.revision {
                keys[i] = change.clone();
            }
        }
        Err(i) => {
            keys.insert(i, change.clone());
            *total += 1;
        }
    }
}

/// Reads the "from time" of the stream browser: RFC 3339 (`2026-12-02T06:13:00Z`, an
/// offset instead of `Z`, a space instead of `T`), or a time before `now`: `5m ago`,
/// `-5m`, `1h30m ago`, `90s ago`, `2d ago` (units ms, s, m, h, d).
pub fn parse_from_time(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("type a time: 2026-12-02T06:13:00Z, 5m ago or -5m".into());
    }
    let relative = t
        .strip_prefix('-')
        .or_else(|| t.strip_suffix("ago"))
        .map(str::trim);
    if let Some(span) = relative {
        let back = parse_span(span).ok_or_else(|| {
            format!("{t:?}: a time back is a number and a unit (ms, s, m, h, d): 5m ago, -90s")
        })?;
        return now
            .checked_sub(back)
            .ok_or_else(|| format!("{t:?} is too far back"));
    }
    let normalised = match t.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &t[..10], &t[11..]),
        _ => t.to_string(),
    };
    chrono::DateTime::parse_from_rfc3339(&normalised)
        .map(SystemTime::from)
        .map_err(|_| {
            format!(
                "{t:?} is not a time: RFC 3339 with its zone (2026-12-02T06:13:00Z), \
                 or back from now (5m ago, -5m)"
            )
        })
}

/// `1h30m`, `90s`, `250ms`, `2d`: a sum of numbers with units.
fn parse_span(text: &str) -> Option<Duration> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * secs).ok()?;
    }
    Some(total)
}

#[cfg(test)]
#[path = "jetstream_tests.rs"]
mod tests;
