//! The synthetic world's JetStream: streams that keep the orders, the audit log and the
//! telemetry (growing with the traffic), two key-value buckets and an object store, and
//! consumers in every state the Consumers view tells apart: keeping up, stalled with its
//! ack pending at the limit, a push consumer nobody listens to, an ephemeral watcher.

use std::time::Duration;

use super::SyntheticWorld;
use crate::inspect::snapshot::{
    ConsumerSummary, JetStreamState, JetStreamSummary, StreamInventory, StreamSummary,
};

/// Where the stalled consumers stopped (the ORDERS and AUDIT streams start this run at
/// 1,180,000 and 96,400 messages).
const SHIPPING_STUCK_AT: u64 = 1_133_000;
const ARCHIVER_STOPPED_AT: u64 = 96_375;

/// How one synthetic stream is made.
struct Spec {
    name: &'static str,
    description: &'static str,
    subjects: &'static [&'static str],
    storage: &'static str,
    retention: &'static str,
    /// Messages it keeps of the traffic on its subjects (prefixes).
    keeps_prefix: &'static [&'static str],
    max_per_subject: i64,
    max_age_secs: u64,
    /// Fixed contents (KV and object stores): messages, bytes, subjects.
    fixed: Option<(u64, u64, u64)>,
    allow_direct: bool,
}

const SPECS: [Spec; 6] = [
    Spec {
        name: "AUDIT",
        description: "Logins and logouts, kept a year",
        subjects: &["audit.>"],
        storage: "file",
        retention: "limits",
        keeps_prefix: &["audit."],
        max_per_subject: -1,
        max_age_secs: 365 * 86_400,
        fixed: None,
        allow_direct: false,
    },
    Spec {
        name: "KV_config",
        description: "",
        subjects: &["$KV.config.>"],
        storage: "file",
        retention: "limits",
        keeps_prefix: &[],
        max_per_subject: 5,
        max_age_secs: 0,
        fixed: Some((14, 2_310, 9)),
        allow_direct: true,
    },
    Spec {
        name: "KV_sessions",
        description: "",
        subjects: &["$KV.sessions.>"],
        storage: "memory",
        retention: "limits",
        keeps_prefix: &[],
        max_per_subject: 1,
        max_age_secs: 1800,
        fixed: Some((212, 41_000, 212)),
        allow_direct: true,
    },
    Spec {
        name: "OBJ_reports",
        description: "",
        subjects: &["$O.reports.C.>", "$O.reports.M.>"],
        storage: "file",
        retention: "limits",
        keeps_prefix: &[],
        max_per_subject: -1,
        max_age_secs: 0,
        fixed: Some((43, 5_400_000, 6)),
        allow_direct: true,
    },
    Spec {
        name: "ORDERS",
        description: "Every order event, for billing and shipping",
        subjects: &["orders.>"],
        storage: "file",
        retention: "limits",
        keeps_prefix: &["orders."],
        max_per_subject: -1,
        max_age_secs: 30 * 86_400,
        fixed: None,
        allow_direct: false,
    },
    Spec {
        name: "TELEMETRY",
        description: "The last readings of every sensor",
        subjects: &["telemetry.>"],
        storage: "memory",
        retention: "limits",
        keeps_prefix: &["telemetry."],
        max_per_subject: 1000,
        max_age_secs: 3600,
        fixed: None,
        allow_direct: true,
    },
];

impl SyntheticWorld {
    /// The streams now, with their consumers.
    pub(super) fn streams(&self) -> StreamInventory {
        let streams = SPECS.iter().map(|spec| self.stream(spec)).collect();
        StreamInventory {
            streams,
            read_at: Some(self.now),
            ..StreamInventory::default()
        }
    }

    fn stream(&self, spec: &Spec) -> StreamSummary {
        let (messages, bytes, subjects) = match spec.fixed {
            Some(fixed) => fixed,
            None => {
                let mut msgs = 0;
                let mut bytes = 0;
                let mut subjects = 0;
                for s in self
                    .subjects
                    .values()
                    .filter(|s| spec.keeps_prefix.iter().any(|p| s.subject.starts_with(p)))
                {
                    let kept = if spec.max_per_subject > 0 {
                        s.msgs.min(spec.max_per_subject as u64)
                    } else {
                        s.msgs
                    };
                    msgs += kept;
                    bytes += kept * (s.bytes / s.msgs.max(1) + 40);
                    subjects += 1;
                }
                (msgs, bytes, subjects)
            }
        };
        // Streams created with the deployment, plus what they had before this run.
        let before = match spec.name {
            "ORDERS" => 1_180_000,
            "AUDIT" => 96_400,
            _ => 0,
        };
        let trimmed = if spec.max_per_subject > 0 {
            self.subjects
                .values()
                .filter(|s| spec.keeps_prefix.iter().any(|p| s.subject.starts_with(p)))
                .map(|s| s.msgs.saturating_sub(spec.max_per_subject as u64))
                .sum()
        } else {
            0
        };
        let last_seq = before + messages + trimmed;
        let first_seq = if last_seq == 0 {
            0
        } else {
            1 + trimmed + if spec.name == "ORDERS" { 212_000 } else { 0 }
        };
        let messages = last_seq.saturating_sub(first_seq.saturating_sub(1));
        let mut s = StreamSummary {
            account: "$G".into(),
            name: spec.name.into(),
            description: spec.description.into(),
            subjects: spec.subjects.iter().map(|s| s.to_string()).collect(),
            storage: spec.storage.into(),
            retention: spec.retention.into(),
            discard: "old".into(),
            replicas: 1,
            max_msgs: -1,
            max_bytes: if spec.name == "ORDERS" { 8 << 30 } else { -1 },
            max_age: Duration::from_secs(spec.max_age_secs),
            max_msgs_per_subject: spec.max_per_subject,
            max_msg_size: -1,
            max_consumers: -1,
            allow_direct: spec.allow_direct,
            deny_delete: spec.name == "AUDIT",
            created: Some(self.start - Duration::from_secs(86_400 * 12)),
            messages,
            bytes: bytes + before * 330,
            first_seq,
            first_time: Some(
                self.start - Duration::from_secs(if before > 0 { 86_400 * 9 } else { 3600 }),
            ),
            last_seq,
            last_time: Some(if spec.fixed.is_some() {
                self.now - Duration::from_secs(47)
            } else {
                self.now
            }),
            num_subjects: subjects,
            num_deleted: if spec.name == "ORDERS" { 3 } else { 0 },
            ..StreamSummary::default()
        };
        s.consumers = self.consumers(&s);
        s.consumer_count = s.consumers.len();
        s
    }

    fn consumers(&self, s: &StreamSummary) -> Vec<ConsumerSummary> {
        let now = self.now;
        let ago = |secs: u64| Some(now - Duration::from_secs(secs));
        let pull = |name: &str| ConsumerSummary {
            name: name.into(),
            durable: true,
            ack_policy: "explicit".into(),
            deliver_policy: "all".into(),
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 1000,
            max_deliver: -1,
            created: Some(self.start - Duration::from_secs(86_400 * 3)),
            ..ConsumerSummary::default()
        };
        let at = |c: ConsumerSummary, delivered: u64, floor: u64| ConsumerSummary {
            delivered_stream_seq: delivered,
            delivered_consumer_seq: delivered.saturating_sub(s.first_seq.saturating_sub(1)),
            ack_floor_stream_seq: floor,
            ack_floor_consumer_seq: floor.saturating_sub(s.first_seq.saturating_sub(1)),
            num_pending: s.last_seq.saturating_sub(delivered),
            ..c
        };
        let last = s.last_seq;
        match s.name.as_str() {
            "ORDERS" => {
                let billing = at(
                    pull("billing"),
                    last.saturating_sub(2),
                    last.saturating_sub(5),
                );
                // Shipping stopped acknowledging ten minutes ago, before this run: a
                // thousand deliveries wait and it stays where it stopped (its rates: 0).
                let stuck = SHIPPING_STUCK_AT.min(last).max(1000);
                let shipping = at(pull("shipping"), stuck, stuck - 1000);
                let mut eu = at(
                    ConsumerSummary {
                        name: "Vq3xT8kLmP0aRz".into(),
                        durable: false,
                        deliver_subject: Some("_INBOX.analytics.7fQ2".into()),
                        filter_subjects: vec!["orders.eu.>".into()],
                        ack_policy: "none".into(),
                        deliver_policy: "new".into(),
                        max_deliver: -1,
                        created: ago(640),
                        push_bound: true,
                        ..ConsumerSummary::default()
                    },
                    last,
                    last,
                );
                eu.last_delivered = ago(0);
                vec![
                    ConsumerSummary {
                        num_ack_pending: 3,
                        num_waiting: 2,
                        num_redelivered: 1,
                        last_delivered: ago(0),
                        last_ack: ago(0),
                        ..billing
                    },
                    eu,
                    ConsumerSummary {
                        num_ack_pending: 1000,
                        num_waiting: 1,
                        num_redelivered: 214,
                        last_delivered: ago(600),
                        last_ack: ago(601),
                        ..shipping
                    },
                ]
            }
            "AUDIT" => {
                // Its archiver has been gone for a while, since before this run: messages
                // pile up for nobody and it stays where it stopped.
                let since = last.saturating_sub(ARCHIVER_STOPPED_AT);
                vec![ConsumerSummary {
                    deliver_subject: Some("archive.audit".into()),
                    ack_policy: "all".into(),
                    last_delivered: ago(1200),
                    last_ack: ago(1200),
                    ..at(pull("archiver"), last - since, last - since)
                }]
            }
            "TELEMETRY" => vec![ConsumerSummary {
                num_waiting: 1,
                last_delivered: ago(1),
                last_ack: ago(1),
                ..at(pull("trends"), last, last.saturating_sub(4))
            }],
            "KV_sessions" => vec![ConsumerSummary {
                name: "kSw8hYq2Jd1mTc".into(),
                durable: false,
                deliver_subject: Some("_INBOX.gateway.watch".into()),
                filter_subjects: vec!["$KV.sessions.>".into()],
                ack_policy: "none".into(),
                deliver_policy: "last_per_subject".into(),
                push_bound: true,
                delivered_stream_seq: last,
                last_delivered: ago(47),
                created: ago(3000),
                ..ConsumerSummary::default()
            }],
            _ => Vec::new(),
        }
    }

    /// JetStream's usage, summed over the streams.
    pub(super) fn jetstream(&self, inventory: &StreamInventory) -> JetStreamState {
        let used = |kind: &str| -> u64 {
            inventory
                .streams
                .iter()
                .filter(|s| s.storage == kind)
                .map(|s| s.bytes)
                .sum()
        };
        let messages = inventory.streams.iter().map(|s| s.messages).sum();
        let bytes = inventory.streams.iter().map(|s| s.bytes).sum();
        JetStreamState::On(JetStreamSummary {
            store_dir: "/home/demo/.local/share/switchboard/jetstream".into(),
            domain: None,
            memory_used: used("memory"),
            max_memory: Some(6 << 30),
            store_used: used("file"),
            max_store: Some(64 << 30),
            streams: inventory.streams.len() as u64,
            messages,
            bytes,
            api_requests: 40 + self.tick * 3,
            api_errors: 1,
        })
    }
}
