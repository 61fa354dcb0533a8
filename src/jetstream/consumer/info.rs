//! `ConsumerInfo` as nats-server shows it, in its field order: the answer to
//! `CONSUMER.INFO` and the entries of `CONSUMER.LIST` and of `/jsz`'s `consumer_detail`.

use serde::Serialize;

use super::config::ConsumerConfig;
use super::{Consumer, SequenceInfo};
use crate::jetstream::stream::Stream;
use crate::jetstream::time;

/// How an info shows the consumer's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigShown {
    /// With the server's version and API level in its metadata (`CONSUMER.INFO`).
    Dynamic,
    /// As stored (`CONSUMER.LIST`, `/jsz?config=1`).
    Stored,
    /// Not at all (`/jsz` without `config=1`).
    Omitted,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerInfo {
    pub stream_name: String,
    pub name: String,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConsumerConfig>,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: usize,
    pub num_redelivered: usize,
    pub num_waiting: usize,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub push_bound: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub pause_remaining: u64,
    pub ts: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

/// `PriorityGroupState`: a priority group and its pinned client.
#[derive(Debug, Clone, Serialize)]
pub struct PriorityGroupState {
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_client_id: Option<String>,
    pub pinned_ts: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ConsumerInfo {
    pub fn of(stream: &Stream, c: &Consumer, shown: ConfigShown) -> ConsumerInfo {
        let st = c.state.lock();
        let active = |t: i64| (t != 0).then(|| time::format(t));
        let pause_remaining = st.pause_left();
        ConsumerInfo {
            stream_name: stream.name.clone(),
            name: c.name.clone(),
            created: time::format(c.created),
            config: match shown {
                ConfigShown::Dynamic => Some(st.cfg.with_dynamic_metadata()),
                ConfigShown::Stored => Some(st.cfg.clone()),
                ConfigShown::Omitted => None,
            },
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
            // With one delivery allowed nothing is redelivered; nats-server shows 0.
            num_redelivered: if st.cfg.max_deliver == 1 {
                0
            } else {
                st.rdc.len()
            },
            num_waiting: st.waiting.len(),
            num_pending: st.num_pending(stream),
            push_bound: st.is_push() && st.push.active,
            paused: pause_remaining.is_some(),
            pause_remaining: pause_remaining
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            ts: time::format(time::now_nanos()),
            priority_groups: st
                .cfg
                .priority_groups
                .first()
                .map(|group| {
                    let pin = st.pin.as_ref();
                    PriorityGroupState {
                        group: group.clone(),
                        pinned_client_id: pin.map(|p| p.id.clone()),
                        pinned_ts: time::format(pin.map_or(0, |p| p.ts)),
                    }
                })
                .into_iter()
                .collect(),
        }
    }
}
