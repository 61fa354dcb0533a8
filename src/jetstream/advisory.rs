//! JetStream advisories on `$JS.EVENT.ADVISORY.>`, with nats-server 2.15.1's subjects and
//! JSON (its `JSStreamActionAdvisory`, `JSConsumerActionAdvisory`,
//! `JSConsumerDeliveryExceededAdvisory`, `JSConsumerDeliveryTerminatedAdvisory`,
//! `JSConsumerDeliveryNakAdvisory` and `JSAPIAudit`): fields in its order, its `type`
//! strings, a fresh `id` and a UTC `timestamp`, `domain` only when one is configured.
//!
//! As nats-server does, an advisory is only built when someone in the account listens on
//! its subject (a subscription matches it); otherwise nothing is serialized or sent.
//!
//! Stream and consumer life-cycle advisories are sent from here ([`stream_action`],
//! [`consumer_action`]); the per-delivery ones are built by [`max_deliveries`],
//! [`terminated`] and [`nak`], which return the subject and body for the consumer's code to
//! publish with its other output ([`Advisory::into_outbound`]).

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use crate::broker::account::Account;
use crate::broker::{Fanout, Server};
use crate::jetstream::consumer::{Delivered, Event, Outbound};
use crate::jetstream::time;

/// Every JetStream advisory's subject starts with this.
pub const PREFIX: &str = "$JS.EVENT.ADVISORY";
/// The API audit advisory's subject (nats-server's `JSAuditAdvisory`).
pub const API_AUDIT: &str = "$JS.EVENT.ADVISORY.API";
/// `.<stream>` follows each of these three.
pub const STREAM_CREATED: &str = "$JS.EVENT.ADVISORY.STREAM.CREATED";
pub const STREAM_UPDATED: &str = "$JS.EVENT.ADVISORY.STREAM.UPDATED";
pub const STREAM_DELETED: &str = "$JS.EVENT.ADVISORY.STREAM.DELETED";
/// `.<stream>.<consumer>` follows each of these.
pub const CONSUMER_CREATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.CREATED";
pub const CONSUMER_DELETED: &str = "$JS.EVENT.ADVISORY.CONSUMER.DELETED";
pub const MAX_DELIVERIES: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";
pub const MSG_NAKED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED";
pub const MSG_TERMINATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED";
pub const CONSUMER_PAUSE: &str = "$JS.EVENT.ADVISORY.CONSUMER.PAUSE";
pub const CONSUMER_PINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.PINNED";
pub const CONSUMER_UNPINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED";
/// The ack metric's subject (`.<stream>.<consumer>` follows), a metric rather than an
/// advisory.
pub const ACK_METRIC: &str = "$JS.EVENT.METRIC.CONSUMER.ACK";

pub const STREAM_ACTION_TYPE: &str = "io.nats.jetstream.advisory.v1.stream_action";
pub const CONSUMER_ACTION_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_action";
pub const MAX_DELIVER_TYPE: &str = "io.nats.jetstream.advisory.v1.max_deliver";
pub const TERMINATED_TYPE: &str = "io.nats.jetstream.advisory.v1.terminated";
pub const NAK_TYPE: &str = "io.nats.jetstream.advisory.v1.nak";
pub const API_AUDIT_TYPE: &str = "io.nats.jetstream.advisory.v1.api_audit";
pub const PAUSE_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_pause";
pub const PINNED_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_group_pinned";
pub const UNPINNED_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_group_unpinned";
pub const ACK_METRIC_TYPE: &str = "io.nats.jetstream.metric.v1.consumer_ack";

/// The `reason` of a terminated advisory when a pending message was removed by the
/// stream's limits (nats-server's `ackTermLimitsReason`, from `checkAckFloor`).
pub const TERM_LIMITS_REASON: &str = "Message deleted by stream limits";
/// The `reason` when an unacknowledged message of an interest or work-queue stream was
/// deleted (nats-server's `ackTermUnackedLimitsReason`, from `decStreamPending`).
pub const TERM_UNACKED_REASON: &str = "Unacknowledged message was deleted";

/// What a stream or a consumer went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Delete,
    Modify,
}

/// An advisory ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    pub subject: String,
    /// The JSON, escaped as Go's encoder escapes it.
    pub body: Vec<u8>,
}

impl Advisory {
    /// As a consumer's output message (routed to and shown with the advisory's subject).
    pub fn into_outbound(self) -> Outbound {
        Outbound {
            to: self.subject.clone(),
            subject: self.subject,
            reply: None,
            headers: Bytes::new(),
            payload: Bytes::from(self.body),
        }
    }
}

/// nats-server's `TypedEvent`.
#[derive(Debug, Serialize)]
struct Typed {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
}

impl Typed {
    fn new(kind: &'static str) -> Typed {
        Typed {
            kind,
            id: crate::proto::ids::event_id(),
            timestamp: time::format(time::now_nanos()),
        }
    }
}

#[derive(Debug, Serialize)]
struct StreamActionJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    action: Action,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Debug, Serialize)]
struct ConsumerActionJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    action: Action,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Debug, Serialize)]
struct MaxDeliverJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    stream_seq: u64,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// A nak's or a termination's advisory (a nak has no `reason`).
#[derive(Debug, Serialize)]
struct DeliveryJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    consumer_seq: u64,
    stream_seq: u64,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// The requester as far as an internal subscriber knows it (nats-server's `ClientInfo`,
/// of which only these two fields are known here).
#[derive(Debug, Serialize)]
struct AuditClient<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    acc: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    server: &'a str,
}

#[derive(Debug, Serialize)]
struct ApiAuditJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    server: &'a str,
    client: AuditClient<'a>,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// The stream and consumer an advisory is about, and JetStream's domain (`None` or empty:
/// no `domain` field).
#[derive(Debug, Clone, Copy)]
pub struct ConsumerRef<'a> {
    pub domain: Option<&'a str>,
    pub stream: &'a str,
    pub consumer: &'a str,
}

/// One delivery of a message by a consumer: its consumer sequence, its stream sequence and
/// how many times it has been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub deliveries: u64,
}

/// Whether a subscription in `account` matches `subject` (nats-server's `sl.HasInterest`).
pub fn listening(account: &Account, subject: &str) -> bool {
    !account
        .sublist
        .read()
        .match_subject(subject.as_bytes())
        .is_empty()
}

/// The advisory on `subject` when `wanted` says someone listens there; `body` makes its
/// JSON only then.
fn build<T: Serialize>(
    wanted: &dyn Fn(&str) -> bool,
    subject: String,
    body: impl FnOnce() -> T,
) -> Option<Advisory> {
    if !wanted(&subject) {
        return None;
    }
    encode(subject, &body())
}

/// Serializes `value` as Go's `json.Marshal` would (HTML characters escaped).
fn encode(subject: String, value: &impl Serialize) -> Option<Advisory> {
    let json = serde_json::to_vec(value).ok()?;
    Some(Advisory {
        subject,
        body: super::api::go_escaped(json),
    })
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`: a message reached the
/// consumer's `max_deliver` (nats-server's `notifyDeliveryExceeded`). `None` when `wanted`
/// (a subject interest test such as [`listening`]) says nobody listens.
pub fn max_deliveries(
    wanted: &dyn Fn(&str) -> bool,
    at: ConsumerRef<'_>,
    stream_seq: u64,
    deliveries: u64,
) -> Option<Advisory> {
    let subject = format!("{MAX_DELIVERIES}.{}.{}", at.stream, at.consumer);
    build(wanted, subject, || MaxDeliverJson {
        typed: Typed::new(MAX_DELIVER_TYPE),
        stream: at.stream,
        consumer: at.consumer,
        stream_seq,
        deliveries,
        domain: at.domain.unwrap_or_default(),
    })
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.<stream>.<consumer>`: a delivery was
/// terminated (`+TERM [reason]`, or by limits; nats-server's `processTermLocked`). An empty
/// `reason` leaves the field out.
pub fn terminated(
    wanted: &dyn Fn(&str) -> bool,
    at: ConsumerRef<'_>,
    d: Delivery,
    reason: &str,
) -> Option<Advisory> {
    let subject = format!("{MSG_TERMINATED}.{}.{}", at.stream, at.consumer);
    build(wanted, subject, || DeliveryJson {
        typed: Typed::new(TERMINATED_TYPE),
        stream: at.stream,
        consumer: at.consumer,
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        deliveries: d.deliveries,
        reason,
        domain: at.domain.unwrap_or_default(),
    })
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.<stream>.<consumer>`: a delivery was
/// negatively acknowledged (nats-server's `processNak`).
pub fn nak(wanted: &dyn Fn(&str) -> bool, at: ConsumerRef<'_>, d: Delivery) -> Option<Advisory> {
    let subject = format!("{MSG_NAKED}.{}.{}", at.stream, at.consumer);
    build(wanted, subject, || DeliveryJson {
        typed: Typed::new(NAK_TYPE),
        stream: at.stream,
        consumer: at.consumer,
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        deliveries: d.deliveries,
        reason: "",
        domain: at.domain.unwrap_or_default(),
    })
}

/// `$JS.EVENT.ADVISORY.STREAM.{CREATED,UPDATED,DELETED}.<stream>`.
pub fn stream_action_advisory(
    wanted: &dyn Fn(&str) -> bool,
    domain: Option<&str>,
    stream: &str,
    action: Action,
) -> Option<Advisory> {
    let prefix = match action {
        Action::Create => STREAM_CREATED,
        Action::Modify => STREAM_UPDATED,
        Action::Delete => STREAM_DELETED,
    };
    let subject = format!("{prefix}.{stream}");
    build(wanted, subject, || StreamActionJson {
        typed: Typed::new(STREAM_ACTION_TYPE),
        stream,
        action,
        domain: domain.unwrap_or_default(),
    })
}

/// `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,DELETED}.<stream>.<consumer>` (nats-server sends
/// no advisory when a consumer is updated).
pub fn consumer_action_advisory(
    wanted: &dyn Fn(&str) -> bool,
    at: ConsumerRef<'_>,
    action: Action,
) -> Option<Advisory> {
    let prefix = match action {
        Action::Create => CONSUMER_CREATED,
        Action::Delete => CONSUMER_DELETED,
        Action::Modify => return None,
    };
    let subject = format!("{prefix}.{}.{}", at.stream, at.consumer);
    build(wanted, subject, || ConsumerActionJson {
        typed: Typed::new(CONSUMER_ACTION_TYPE),
        stream: at.stream,
        consumer: at.consumer,
        action,
        domain: at.domain.unwrap_or_default(),
    })
}

#[derive(Debug, Serialize)]
struct AckMetricJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    consumer_seq: u64,
    stream_seq: u64,
    ack_time: i64,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Debug, Serialize)]
struct PauseJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    paused: bool,
    pause_until: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Debug, Serialize)]
struct PinJson<'a> {
    #[serde(flatten)]
    typed: Typed,
    #[serde(skip_serializing_if = "str::is_empty")]
    account: &'a str,
    stream: &'a str,
    consumer: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
    group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The advisory of a consumer's [`Event`]: max deliveries, nak, terminated, pause,
/// pinned and unpinned (`account` names the account in the pin advisories).
pub fn consumer_event(
    wanted: &dyn Fn(&str) -> bool,
    at: ConsumerRef<'_>,
    account: &str,
    event: &Event,
) -> Option<Advisory> {
    let delivery = |d: &Delivered| Delivery {
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        deliveries: d.deliveries,
    };
    let domain = at.domain.unwrap_or_default();
    match event {
        Event::MaxDeliveries {
            stream_seq,
            deliveries,
        } => max_deliveries(wanted, at, *stream_seq, *deliveries),
        Event::Nak(d) => nak(wanted, at, delivery(d)),
        Event::Terminated(d, reason) => terminated(wanted, at, delivery(d), reason),
        Event::Pause { until } => {
            let subject = format!("{CONSUMER_PAUSE}.{}.{}", at.stream, at.consumer);
            build(wanted, subject, || PauseJson {
                typed: Typed::new(PAUSE_TYPE),
                stream: at.stream,
                consumer: at.consumer,
                paused: *until > time::now_nanos(),
                pause_until: time::format((*until).max(0)),
                domain,
            })
        }
        Event::AckSampled {
            delivered,
            ack_time,
        } => {
            let subject = format!("{ACK_METRIC}.{}.{}", at.stream, at.consumer);
            build(wanted, subject, || AckMetricJson {
                typed: Typed::new(ACK_METRIC_TYPE),
                stream: at.stream,
                consumer: at.consumer,
                consumer_seq: delivered.consumer_seq,
                stream_seq: delivered.stream_seq,
                ack_time: *ack_time,
                deliveries: delivered.deliveries,
                domain,
            })
        }
        Event::Pinned { group, id } => pin_advisory(wanted, at, account, group, Ok(id)),
        Event::Unpinned { group, reason } => pin_advisory(wanted, at, account, group, Err(reason)),
    }
}

/// `CONSUMER.PINNED` (`Ok(pin id)`) or `CONSUMER.UNPINNED` (`Err(reason)`).
fn pin_advisory(
    wanted: &dyn Fn(&str) -> bool,
    at: ConsumerRef<'_>,
    account: &str,
    group: &str,
    pin: Result<&str, &str>,
) -> Option<Advisory> {
    let (prefix, kind) = match pin {
        Ok(_) => (CONSUMER_PINNED, PINNED_TYPE),
        Err(_) => (CONSUMER_UNPINNED, UNPINNED_TYPE),
    };
    let subject = format!("{prefix}.{}.{}", at.stream, at.consumer);
    build(wanted, subject, || PinJson {
        typed: Typed::new(kind),
        account,
        stream: at.stream,
        consumer: at.consumer,
        domain: at.domain.unwrap_or_default(),
        group,
        pinned_id: pin.ok(),
        reason: pin.err(),
    })
}

/// What one `$JS.API` request and its answer were, for the audit advisory.
#[derive(Debug, Clone, Copy)]
pub struct ApiCall<'a> {
    pub domain: Option<&'a str>,
    pub subject: &'a str,
    pub request: &'a [u8],
    pub response: &'a [u8],
}

/// `$JS.EVENT.ADVISORY.API`: a `$JS.API` request was answered (nats-server's
/// `sendJetStreamAPIAuditAdvisory`). The requester is known only by its account.
pub fn api_audit(
    wanted: &dyn Fn(&str) -> bool,
    server_name: &str,
    account: &str,
    call: ApiCall<'_>,
) -> Option<Advisory> {
    if !wanted(API_AUDIT) {
        return None;
    }
    let request = String::from_utf8_lossy(call.request);
    let response = String::from_utf8_lossy(call.response);
    let body = ApiAuditJson {
        typed: Typed::new(API_AUDIT_TYPE),
        server: server_name,
        client: AuditClient {
            acc: account,
            server: server_name,
        },
        subject: call.subject,
        request: &request,
        response: &response,
        domain: call.domain.unwrap_or_default(),
    };
    encode(API_AUDIT.to_string(), &body)
}

/// Publishes `adv` in `account` through `fanout` (a handler's own, whose writers the
/// caller wakes).
pub fn publish_in(
    server: &Arc<Server>,
    fanout: &mut Fanout,
    account: &Arc<Account>,
    adv: &Advisory,
) {
    server.publish_internal(
        fanout,
        account,
        adv.subject.as_bytes(),
        None,
        b"",
        &adv.body,
    );
}

/// Publishes `adv` in `account` and wakes the writers it reached.
pub fn publish(server: &Arc<Server>, account: &Arc<Account>, adv: &Advisory) {
    let mut fanout = Fanout::default();
    publish_in(server, &mut fanout, account, adv);
    fanout.wake_all();
}

/// Sends a stream's created, updated or deleted advisory when someone listens.
pub fn stream_action(
    server: &Arc<Server>,
    account: &Arc<Account>,
    domain: Option<&str>,
    stream: &str,
    action: Action,
) {
    let wanted = |s: &str| listening(account, s);
    if let Some(adv) = stream_action_advisory(&wanted, domain, stream, action) {
        publish(server, account, &adv);
    }
}

/// Sends a consumer's created or deleted advisory when someone listens.
pub fn consumer_action(
    server: &Arc<Server>,
    account: &Arc<Account>,
    at: ConsumerRef<'_>,
    action: Action,
) {
    let wanted = |s: &str| listening(account, s);
    if let Some(adv) = consumer_action_advisory(&wanted, at, action) {
        publish(server, account, &adv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn everyone(_: &str) -> bool {
        true
    }

    fn nobody(_: &str) -> bool {
        false
    }

    fn keys(body: &[u8]) -> Vec<String> {
        // serde_json's map is sorted; read the keys in order from the text instead.
        let text = String::from_utf8(body.to_vec()).unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut found: Vec<(usize, String)> = v
            .as_object()
            .map(|m| {
                m.keys()
                    .filter_map(|k| text.find(&format!("\"{k}\":")).map(|i| (i, k.clone())))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    fn json(adv: &Advisory) -> Value {
        serde_json::from_slice(&adv.body).unwrap_or(Value::Null)
    }

    const AT: ConsumerRef<'static> = ConsumerRef {
        domain: None,
        stream: "ORDERS",
        consumer: "C",
    };

    #[test]
    fn stream_actions_have_nats_servers_subjects_and_fields() {
        for (action, subject, word) in [
            (
                Action::Create,
                "$JS.EVENT.ADVISORY.STREAM.CREATED.S",
                "create",
            ),
            (
                Action::Modify,
                "$JS.EVENT.ADVISORY.STREAM.UPDATED.S",
                "modify",
            ),
            (
                Action::Delete,
                "$JS.EVENT.ADVISORY.STREAM.DELETED.S",
                "delete",
            ),
        ] {
            let adv = stream_action_advisory(&everyone, None, "S", action).unwrap_or_else(|| {
                panic!("built");
            });
            assert_eq!(adv.subject, subject);
            assert_eq!(
                keys(&adv.body),
                ["type", "id", "timestamp", "stream", "action"]
            );
            let v = json(&adv);
            assert_eq!(v["type"], STREAM_ACTION_TYPE);
            assert_eq!(v["action"], word);
            assert_eq!(v["id"].as_str().map(str::len), Some(22));
            assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
        let with_domain = stream_action_advisory(&everyone, Some("hub"), "S", Action::Create);
        assert_eq!(
            with_domain.map(|a| json(&a)["domain"].clone()),
            Some("hub".into())
        );
    }

    #[test]
    fn nothing_is_built_without_interest() {
        assert!(stream_action_advisory(&nobody, None, "S", Action::Create).is_none());
        assert!(consumer_action_advisory(&nobody, AT, Action::Create).is_none());
        let d = Delivery {
            consumer_seq: 1,
            stream_seq: 1,
            deliveries: 1,
        };
        assert!(nak(&nobody, AT, d).is_none());
        assert!(terminated(&nobody, AT, d, "").is_none());
        assert!(max_deliveries(&nobody, AT, 1, 1).is_none());
        let call = ApiCall {
            domain: None,
            subject: "$JS.API.INFO",
            request: b"",
            response: b"{}",
        };
        assert!(api_audit(&nobody, "srv", "$G", call).is_none());
    }

    #[test]
    fn consumer_advisories_match_nats_servers_layout() {
        let created = consumer_action_advisory(&everyone, AT, Action::Create);
        let created = created.unwrap_or_else(|| panic!("built"));
        assert_eq!(
            created.subject,
            "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ORDERS.C"
        );
        assert_eq!(
            keys(&created.body),
            ["type", "id", "timestamp", "stream", "consumer", "action"]
        );
        assert_eq!(json(&created)["type"], CONSUMER_ACTION_TYPE);
        assert!(consumer_action_advisory(&everyone, AT, Action::Modify).is_none());

        let d = Delivery {
            consumer_seq: 4,
            stream_seq: 3,
            deliveries: 2,
        };
        let n = nak(&everyone, AT, d).unwrap_or_else(|| panic!("built"));
        assert_eq!(n.subject, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ORDERS.C");
        assert_eq!(
            keys(&n.body),
            [
                "type",
                "id",
                "timestamp",
                "stream",
                "consumer",
                "consumer_seq",
                "stream_seq",
                "deliveries"
            ]
        );
        assert_eq!(json(&n)["type"], NAK_TYPE);

        let at = ConsumerRef {
            domain: Some("hub"),
            ..AT
        };
        let t = terminated(&everyone, at, d, "bad <data>").unwrap_or_else(|| panic!("built"));
        assert_eq!(
            t.subject,
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.C"
        );
        assert_eq!(
            keys(&t.body),
            [
                "type",
                "id",
                "timestamp",
                "stream",
                "consumer",
                "consumer_seq",
                "stream_seq",
                "deliveries",
                "reason",
                "domain"
            ]
        );
        // Go escapes HTML characters.
        assert!(String::from_utf8_lossy(&t.body).contains(r#""reason":"bad \u003cdata\u003e""#));
        let no_reason = terminated(&everyone, AT, d, "").unwrap_or_else(|| panic!("built"));
        assert!(json(&no_reason).get("reason").is_none());

        let m = max_deliveries(&everyone, AT, 7, 5).unwrap_or_else(|| panic!("built"));
        assert_eq!(
            m.subject,
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.C"
        );
        assert_eq!(
            keys(&m.body),
            [
                "type",
                "id",
                "timestamp",
                "stream",
                "consumer",
                "stream_seq",
                "deliveries"
            ]
        );
        let v = json(&m);
        assert_eq!(
            (
                v["type"].clone(),
                v["stream_seq"].clone(),
                v["deliveries"].clone()
            ),
            (MAX_DELIVER_TYPE.into(), 7.into(), 5.into())
        );
        let out = m.clone().into_outbound();
        assert_eq!(
            (out.to.as_str(), out.subject.as_str()),
            (m.subject.as_str(), m.subject.as_str())
        );
        assert_eq!(&out.payload[..], &m.body[..]);
    }

    #[test]
    fn api_audit_carries_request_and_response_as_text() {
        let call = ApiCall {
            domain: None,
            subject: "$JS.API.STREAM.CREATE.S",
            request: br#"{"name":"S","subjects":["s.>"]}"#,
            response: br#"{"type":"x"}"#,
        };
        let a = api_audit(&everyone, "srv", "$G", call).unwrap_or_else(|| panic!("built"));
        assert_eq!(a.subject, API_AUDIT);
        assert_eq!(
            keys(&a.body),
            [
                "type",
                "id",
                "timestamp",
                "server",
                "client",
                "subject",
                "request",
                "response"
            ]
        );
        let v = json(&a);
        assert_eq!(v["type"], API_AUDIT_TYPE);
        assert_eq!(v["request"], r#"{"name":"S","subjects":["s.>"]}"#);
        assert_eq!(v["client"]["acc"], "$G");
        let empty = ApiCall {
            request: b"",
            ..call
        };
        let a = api_audit(&everyone, "srv", "$G", empty).unwrap_or_else(|| panic!("built"));
        assert!(json(&a).get("request").is_none());
    }
}
