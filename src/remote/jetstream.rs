//! JetStream seen as a client sees it, through the `$JS.API`: the streams and consumers of
//! a deployment (polled by [`run`] every [`POLL_INTERVAL`], off the window's thread), and
//! the answers of the on-demand requests the window sends (a message by sequence, a
//! stream's subjects, purge and delete), decoded into plain data. The embedded broker's
//! streams come from inside it instead (`embedded::jetstream`); the window's requests use
//! this module for both, since they go through its own client either way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::watch;

use super::cluster::parse_time;
use crate::inspect::snapshot::{
    ConsumerSummary, StreamInventory, StreamSummary, MAX_CONSUMERS, MAX_STREAMS,
};

/// How often a deployment's streams and consumers are read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(3);
/// Bound on one `$JS.API` request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The API's error object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub err_code: u32,
    #[serde(default)]
    pub description: String,
}

/// An answer that may carry an error object instead of its body.
#[derive(Debug, Deserialize)]
struct Answer<T> {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(flatten)]
    body: Option<T>,
}

/// Decodes an API answer: its body, or the error it carries, in words.
pub fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    let answer: Answer<T> =
        serde_json::from_slice(payload).map_err(|e| format!("unreadable answer: {e}"))?;
    match (answer.error, answer.body) {
        (Some(e), _) => Err(if e.err_code > 0 {
            format!("{} (error {})", e.description, e.err_code)
        } else {
            e.description
        }),
        (None, Some(body)) => Ok(body),
        (None, None) => Err("an empty answer".into()),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SourceName {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamConfigWire {
    pub name: String,
    pub description: String,
    pub subjects: Vec<String>,
    pub retention: String,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    pub discard: String,
    pub storage: String,
    pub num_replicas: i64,
    pub allow_direct: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub mirror: Option<SourceName>,
    pub sources: Vec<SourceName>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamStateWire {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    pub num_subjects: u64,
    pub num_deleted: u64,
    pub consumer_count: u64,
    /// Subject to message count, when the request asked for `subjects_filter`.
    pub subjects: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamInfoWire {
    pub config: StreamConfigWire,
    pub created: String,
    pub state: StreamStateWire,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerConfigWire {
    pub durable_name: String,
    pub deliver_subject: String,
    pub deliver_group: String,
    pub filter_subject: String,
    pub filter_subjects: Vec<String>,
    pub ack_policy: String,
    pub deliver_policy: String,
    pub ack_wait: i64,
    pub max_ack_pending: i64,
    pub max_deliver: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SequenceWire {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub last_active: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerInfoWire {
    pub name: String,
    pub created: String,
    pub config: ConsumerConfigWire,
    pub delivered: SequenceWire,
    pub ack_floor: SequenceWire,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    pub push_bound: bool,
    pub paused: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct StreamListWire {
    total: usize,
    streams: Vec<StreamInfoWire>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ConsumerListWire {
    total: usize,
    consumers: Vec<ConsumerInfoWire>,
}

/// A time of an info; Go's zero time (and anything unreadable) is "never".
fn time_of(text: &str) -> Option<SystemTime> {
    parse_time(text).filter(|t| *t > SystemTime::UNIX_EPOCH)
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

impl StreamInfoWire {
    /// The contract's summary (no consumers yet; `account` is the client's, unknown).
    pub fn summary(&self) -> StreamSummary {
        let c = &self.config;
        let s = &self.state;
        StreamSummary {
            account: String::new(),
            name: c.name.clone(),
            description: c.description.clone(),
            subjects: c.subjects.clone(),
            storage: c.storage.clone(),
            retention: c.retention.clone(),
            discard: c.discard.clone(),
            replicas: u32::try_from(c.num_replicas.max(1)).unwrap_or(1),
            max_msgs: c.max_msgs,
            max_bytes: c.max_bytes,
            max_age: nanos(c.max_age),
            max_msgs_per_subject: c.max_msgs_per_subject,
            max_msg_size: c.max_msg_size,
            max_consumers: c.max_consumers,
            allow_direct: c.allow_direct,
            sealed: c.sealed,
            deny_delete: c.deny_delete,
            deny_purge: c.deny_purge,
            mirror: c.mirror.as_ref().map(|m| m.name.clone()),
            sources: c.sources.iter().map(|s| s.name.clone()).collect(),
            created: time_of(&self.created),
            messages: s.messages,
            bytes: s.bytes,
            first_seq: s.first_seq,
            first_time: time_of(&s.first_ts),
            last_seq: s.last_seq,
            last_time: time_of(&s.last_ts),
            num_subjects: s.num_subjects,
            num_deleted: s.num_deleted,
            consumer_count: usize::try_from(s.consumer_count).unwrap_or(usize::MAX),
            consumers: Vec::new(),
        }
    }
}

impl ConsumerInfoWire {
    pub fn summary(&self) -> ConsumerSummary {
        let c = &self.config;
        let mut filters = c.filter_subjects.clone();
        if !c.filter_subject.is_empty() {
            filters.insert(0, c.filter_subject.clone());
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ConsumerSummary {
            name: self.name.clone(),
            durable: !c.durable_name.is_empty(),
            deliver_subject: some(&c.deliver_subject),
            deliver_group: some(&c.deliver_group),
            filter_subjects: filters,
            ack_policy: c.ack_policy.clone(),
            deliver_policy: c.deliver_policy.clone(),
            ack_wait: nanos(c.ack_wait),
            max_ack_pending: c.max_ack_pending,
            max_deliver: c.max_deliver,
            created: time_of(&self.created),
            delivered_consumer_seq: self.delivered.consumer_seq,
            delivered_stream_seq: self.delivered.stream_seq,
            last_delivered: self.delivered.last_active.as_deref().and_then(time_of),
            ack_floor_consumer_seq: self.ack_floor.consumer_seq,
            ack_floor_stream_seq: self.ack_floor.stream_seq,
            last_ack: self.ack_floor.last_active.as_deref().and_then(time_of),
            num_pending: self.num_pending,
            num_ack_pending: self.num_ack_pending,
            num_redelivered: self.num_redelivered,
            num_waiting: self.num_waiting,
            paused: self.paused,
            push_bound: self.push_bound,
        }
    }
}

/// A stored message as `STREAM.MSG.GET` returns it, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub subject: String,
    pub seq: u64,
    pub time: Option<SystemTime>,
    /// The NATS header block (`NATS/1.0\r\n...`), if any.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct MsgGetWire {
    message: RawMessageWire,
}

#[derive(Debug, Deserialize)]
struct RawMessageWire {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    hdrs: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    time: String,
}

/// Decodes a `STREAM.MSG.GET` answer (an error object says why not: "no message found").
pub fn decode_message(payload: &[u8]) -> Result<StoredMessage, String> {
    let wire: MsgGetWire = decode(payload)?;
    let b64 = |field: Option<String>, what: &str| -> Result<Option<Vec<u8>>, String> {
        field
            .filter(|s| !s.is_empty())
            .map(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| format!("the message's {what} are not base64: {e}"))
            })
            .transpose()
    };
    let m = wire.message;
    Ok(StoredMessage {
        subject: m.subject,
        seq: m.seq,
        time: time_of(&m.time),
        headers: b64(m.hdrs, "headers")?,
        payload: b64(m.data, "data")?.unwrap_or_default(),
    })
}

/// What a `STREAM.MSG.GET` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgQuery {
    /// The message with this sequence.
    Seq(u64),
    /// The last message on a subject (wildcards allowed).
    LastBySubject(String),
    /// The first message at or after `seq` on a subject.
    NextBySubject { seq: u64, subject: String },
    /// The first message stored at or after `start` (on `subject` unless it is `>`):
    /// `start_time`, which nats-server answers from 2.11 on. With `direct`, asked of the
    /// stream's direct get first (`allow_direct`), then of `STREAM.MSG.GET`.
    FromTime {
        start: SystemTime,
        subject: String,
        direct: bool,
    },
}

impl MsgQuery {
    /// The request's JSON body (the same for `STREAM.MSG.GET` and `DIRECT.GET`).
    pub fn body(&self) -> String {
        match self {
            MsgQuery::Seq(seq) => serde_json::json!({ "seq": seq }),
            MsgQuery::LastBySubject(s) => serde_json::json!({ "last_by_subj": s }),
            MsgQuery::NextBySubject { seq, subject } => {
                serde_json::json!({ "seq": seq, "next_by_subj": subject })
            }
            MsgQuery::FromTime { start, subject, .. } => {
                let start_time = rfc3339(*start);
                // `next_by_subj` pairs with `start_time` as a filter; `>` is every subject,
                // which a bare `start_time` already means.
                if subject.is_empty() || subject == ">" {
                    serde_json::json!({ "start_time": start_time })
                } else {
                    serde_json::json!({ "start_time": start_time, "next_by_subj": subject })
                }
            }
        }
        .to_string()
    }
}

/// A time as the `$JS.API` takes it: RFC 3339 in UTC with nanoseconds.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The headers a direct get adds to the stored message's own.
const DIRECT_HEADERS: [&str; 4] = [
    "Nats-Stream",
    "Nats-Subject",
    "Nats-Sequence",
    "Nats-Time-Stamp",
];

/// What a direct get answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectAnswer {
    Found(StoredMessage),
    /// 404: nothing at or after what was asked.
    NotFound,
    /// Any other status (408 from a server that does not know the request): worth asking
    /// `STREAM.MSG.GET` instead, which says why in words.
    Refused(String),
}

/// Decodes a direct get's reply: its status, its headers (name and value, in any order;
/// the stored message's own and the four a direct get adds) and its payload.
pub fn decode_direct(
    status: Option<u16>,
    description: Option<&str>,
    headers: &[(String, String)],
    payload: &[u8],
) -> DirectAnswer {
    match status {
        Some(404) => return DirectAnswer::NotFound,
        Some(code) if code != 200 => {
            return DirectAnswer::Refused(format!(
                "direct get: {code} {}",
                description.unwrap_or_default()
            ))
        }
        _ => {}
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let (Some(subject), Some(seq)) = (
        header("Nats-Subject"),
        header("Nats-Sequence").and_then(|s| s.trim().parse::<u64>().ok()),
    ) else {
        return DirectAnswer::Refused("direct get: no Nats-Subject or Nats-Sequence".into());
    };
    let mut own: Vec<&(String, String)> = headers
        .iter()
        .filter(|(k, _)| !DIRECT_HEADERS.iter().any(|d| k.eq_ignore_ascii_case(d)))
        .collect();
    // A header map has no order; sorted, the viewer shows the same lines every time.
    own.sort();
    let block = (!own.is_empty()).then(|| {
        let mut b = String::from("NATS/1.0\r\n");
        for (k, v) in own {
            b.push_str(&format!("{k}: {v}\r\n"));
        }
        b.push_str("\r\n");
        b.into_bytes()
    });
    DirectAnswer::Found(StoredMessage {
        subject: subject.to_string(),
        seq,
        time: header("Nats-Time-Stamp").and_then(time_of),
        headers: block,
        payload: payload.to_vec(),
    })
}

/// Asks the stream's direct get (`$JS.API.DIRECT.GET.<stream>`, bounded in time); `None`
/// when nobody answers it (a stream without `allow_direct`) or it refused the request.
pub async fn direct_get(
    client: &async_nats::Client,
    stream: &str,
    query: &MsgQuery,
) -> Option<Result<StoredMessage, String>> {
    let request = async_nats::Request::new()
        .payload(Bytes::from(query.body()))
        .timeout(Some(REQUEST_TIMEOUT));
    let subject = format!("$JS.API.DIRECT.GET.{stream}");
    let reply = client.send_request(subject, request).await.ok()?;
    let headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .flat_map(|h| h.iter())
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.to_string(), v.to_string())))
        .collect();
    match decode_direct(
        reply.status.map(|s| s.as_u16()),
        reply.description.as_deref(),
        &headers,
        &reply.payload,
    ) {
        DirectAnswer::Found(m) => Some(Ok(m)),
        DirectAnswer::NotFound => Some(Err("no message found (direct get)".into())),
        DirectAnswer::Refused(_) => None,
    }
}

/// Sends one `$JS.API` request and waits (bounded) for its answer's body.
pub async fn api_request(
    client: &async_nats::Client,
    subject: String,
    body: String,
) -> Result<Bytes, String> {
    let request = async_nats::Request::new()
        .payload(Bytes::from(body))
        .timeout(Some(REQUEST_TIMEOUT));
    match client.send_request(subject.clone(), request).await {
        Ok(m) => Ok(m.payload),
        Err(e) => Err(match e.kind() {
            async_nats::RequestErrorKind::NoResponders => {
                format!("no JetStream answers {subject} (JetStream off, or not in this account)")
            }
            async_nats::RequestErrorKind::TimedOut => {
                format!("{subject}: no answer within {REQUEST_TIMEOUT:?}")
            }
            _ => format!("{subject}: {e}"),
        }),
    }
}

/// Reads the deployment's streams and their consumers (paged, bounded by `max_streams`
/// and `max_consumers`); what it could not read is in `error`.
pub async fn read_inventory(
    client: &async_nats::Client,
    max_streams: usize,
    max_consumers: usize,
) -> StreamInventory {
    let mut out = StreamInventory {
        read_at: Some(SystemTime::now()),
        ..StreamInventory::default()
    };
    let mut total = 0;
    loop {
        let offset = out.streams.len();
        let body = serde_json::json!({ "offset": offset }).to_string();
        let page = api_request(client, "$JS.API.STREAM.LIST".into(), body)
            .await
            .and_then(|b| decode::<StreamListWire>(&b));
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        total = page.total;
        let room = max_streams.saturating_sub(out.streams.len());
        let got = page.streams.len();
        out.streams
            .extend(page.streams.iter().take(room).map(StreamInfoWire::summary));
        if got == 0 || got > room || out.streams.len() >= total {
            break;
        }
    }
    out.streams_omitted = total.saturating_sub(out.streams.len());
    let mut left = max_consumers;
    for stream in &mut out.streams {
        if stream.consumer_count == 0 {
            continue;
        }
        if left == 0 {
            out.consumers_omitted += stream.consumer_count;
            continue;
        }
        match read_consumers(client, &stream.name, left).await {
            Ok((consumers, total)) => {
                left -= consumers.len();
                out.consumers_omitted += total.saturating_sub(consumers.len());
                stream.consumers = consumers;
            }
            Err(e) => {
                out.consumers_omitted += stream.consumer_count;
                out.error.get_or_insert(e);
            }
        }
    }
    out.streams.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A stream's consumers, at most `max`, sorted by name, with how many there are.
async fn read_consumers(
    client: &async_nats::Client,
    stream: &str,
    max: usize,
) -> Result<(Vec<ConsumerSummary>, usize), String> {
    let mut out: Vec<ConsumerSummary> = Vec::new();
    let mut total;
    loop {
        let body = serde_json::json!({ "offset": out.len() }).to_string();
        let page: ConsumerListWire =
            api_request(client, format!("$JS.API.CONSUMER.LIST.{stream}"), body)
                .await
                .and_then(|b| decode(&b))?;
        total = page.total;
        let room = max.saturating_sub(out.len());
        let got = page.consumers.len();
        out.extend(page.consumers.iter().take(room).map(|c| c.summary()));
        if got == 0 || got > room || out.len() >= total {
            break;
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, total))
}

/// Polls the streams every [`POLL_INTERVAL`] through the client `client` hands out (none
/// while disconnected), publishing each reading into `slot`, until `stop` changes.
pub async fn run(
    client: impl Fn() -> Option<async_nats::Client> + Send,
    slot: Arc<parking_lot::Mutex<Arc<StreamInventory>>>,
    mut stop: watch::Receiver<()>,
) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticker.tick() => {}
        }
        let Some(c) = client() else { continue };
        let inventory = tokio::select! {
            _ = stop.changed() => return,
            i = read_inventory(&c, MAX_STREAMS, MAX_CONSUMERS) => i,
        };
        *slot.lock() = Arc::new(inventory);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_stream_info_becomes_a_summary() {
        let json = r#"{"config":{"name":"ORDERS","subjects":["orders.>"],"retention":"workqueue",
            "max_consumers":-1,"max_msgs":-1,"max_bytes":1048576,"max_age":3600000000000,
            "max_msgs_per_subject":-1,"discard":"old","storage":"memory","num_replicas":3,
            "allow_direct":true,"sources":[{"name":"A"}]},
            "created":"2026-11-30T10:00:00.5Z",
            "state":{"messages":5,"bytes":500,"first_seq":3,"first_ts":"2026-11-30T10:00:01Z",
            "last_seq":7,"last_ts":"0001-01-01T00:00:00Z","num_subjects":2,"num_deleted":1,
            "consumer_count":2}}"#;
        let s = serde_json::from_str::<StreamInfoWire>(json)
            .unwrap()
            .summary();
        assert_eq!(s.name, "ORDERS");
        assert_eq!(s.subjects, ["orders.>"]);
        assert_eq!(
            (s.retention.as_str(), s.storage.as_str()),
            ("workqueue", "memory")
        );
        assert_eq!((s.replicas, s.max_bytes), (3, 1_048_576));
        assert_eq!(s.max_age, Duration::from_secs(3600));
        assert_eq!(s.sources, ["A"]);
        assert_eq!(
            (s.messages, s.first_seq, s.last_seq, s.num_deleted),
            (5, 3, 7, 1)
        );
        assert!(s.first_time.is_some());
        assert_eq!(s.last_time, None, "Go's zero time is never");
        assert_eq!(s.consumer_count, 2);
    }

    #[test]
    fn a_consumer_info_becomes_a_summary() {
        let json = r#"{"stream_name":"ORDERS","name":"dispatch","created":"2026-11-30T10:00:00Z",
            "config":{"durable_name":"dispatch","deliver_policy":"all","ack_policy":"explicit",
            "ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.eu.>",
            "max_ack_pending":1000},
            "delivered":{"consumer_seq":10,"stream_seq":12,"last_active":"2026-11-30T10:01:00Z"},
            "ack_floor":{"consumer_seq":8,"stream_seq":9},
            "num_ack_pending":2,"num_redelivered":1,"num_waiting":0,"num_pending":40}"#;
        let c = serde_json::from_str::<ConsumerInfoWire>(json)
            .unwrap()
            .summary();
        assert!(c.durable && !c.is_push());
        assert_eq!(c.filter_subjects, ["orders.eu.>"]);
        assert_eq!(c.ack_wait, Duration::from_secs(30));
        assert_eq!((c.delivered_stream_seq, c.ack_floor_stream_seq), (12, 9));
        assert_eq!(
            (c.num_pending, c.num_ack_pending, c.num_redelivered),
            (40, 2, 1)
        );
        assert!(c.last_delivered.is_some() && c.last_ack.is_none());
    }

    #[test]
    fn answers_and_their_errors() {
        let ok = br#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response",
            "message":{"subject":"orders.eu","seq":4,"hdrs":"TkFUUy8xLjANCkE6IGINCg0K",
            "data":"aGVsbG8=","time":"2026-11-30T10:00:00Z"}}"#;
        let m = decode_message(ok).unwrap();
        assert_eq!((m.subject.as_str(), m.seq), ("orders.eu", 4));
        assert_eq!(m.payload, b"hello");
        assert_eq!(m.headers.as_deref(), Some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]));
        let missing = br#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response",
            "error":{"code":404,"err_code":10037,"description":"no message found"}}"#;
        assert_eq!(
            decode_message(missing).unwrap_err(),
            "no message found (error 10037)"
        );
        assert!(decode_message(b"not json")
            .unwrap_err()
            .contains("unreadable"));
        let bad = br#"{"message":{"subject":"a","seq":1,"data":"***"}}"#;
        assert!(decode_message(bad).unwrap_err().contains("base64"));
    }

    #[test]
    fn message_queries() {
        assert_eq!(MsgQuery::Seq(7).body(), r#"{"seq":7}"#);
        assert_eq!(
            MsgQuery::LastBySubject("a.b".into()).body(),
            r#"{"last_by_subj":"a.b"}"#
        );
        assert_eq!(
            MsgQuery::NextBySubject {
                seq: 3,
                subject: "a".into()
            }
            .body(),
            r#"{"next_by_subj":"a","seq":3}"#
        );
        let start = SystemTime::UNIX_EPOCH + Duration::new(1_764_611_115, 100_000_000);
        let from = |subject: &str| MsgQuery::FromTime {
            start,
            subject: subject.into(),
            direct: true,
        };
        assert_eq!(
            from(">").body(),
            r#"{"start_time":"2025-12-01T17:45:15.100000000Z"}"#
        );
        assert_eq!(
            from("a.*").body(),
            r#"{"next_by_subj":"a.*","start_time":"2025-12-01T17:45:15.100000000Z"}"#
        );
    }

    #[test]
    fn direct_get_replies() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let found = decode_direct(
            None,
            None,
            &pairs(&[
                ("Nats-Stream", "T"),
                ("Nats-Subject", "t.b"),
                ("Nats-Sequence", "4"),
                ("Nats-Time-Stamp", "2026-12-02T06:13:19.945873Z"),
                ("X-B", "2"),
                ("X-A", "1"),
            ]),
            b"m4",
        );
        let DirectAnswer::Found(m) = found else {
            panic!("{found:?}");
        };
        assert_eq!(
            (m.subject.as_str(), m.seq, &m.payload[..]),
            ("t.b", 4, &b"m4"[..])
        );
        assert!(m.time.is_some());
        assert_eq!(
            m.headers.as_deref(),
            Some(&b"NATS/1.0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"[..]),
            "its own headers, sorted, without the direct get's"
        );
        let bare = decode_direct(
            None,
            None,
            &pairs(&[("Nats-Subject", "t.a"), ("Nats-Sequence", "1")]),
            b"",
        );
        assert!(matches!(
            bare,
            DirectAnswer::Found(StoredMessage { headers: None, .. })
        ));
        assert_eq!(
            decode_direct(Some(404), Some("Message Not Found"), &[], b""),
            DirectAnswer::NotFound
        );
        assert_eq!(
            decode_direct(Some(408), Some("Empty Request"), &[], b""),
            DirectAnswer::Refused("direct get: 408 Empty Request".into())
        );
        assert!(matches!(
            decode_direct(None, None, &pairs(&[("Nats-Subject", "a")]), b""),
            DirectAnswer::Refused(_)
        ));
    }
}
