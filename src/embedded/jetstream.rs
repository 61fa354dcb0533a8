//! The JetStream part of a snapshot: every stream of the embedded broker with its
//! configuration's essentials, its state and its consumers, read from the JetStream service
//! directly (no `$JS.API` round trip), bounded, and re-read about once a second: between
//! two readings the snapshots share the last one.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::broker::Server;
use crate::inspect::snapshot::{
    ConsumerSummary, StreamInventory, StreamSummary, MAX_CONSUMERS, MAX_STREAMS,
};
use crate::jetstream::consumer::info::{ConfigShown, ConsumerInfo};
use crate::jetstream::consumer::Consumer;
use crate::jetstream::stream::Stream;
use crate::jetstream::{time, JetStream};

/// How often the streams are read again, at most.
pub const REFRESH: Duration = Duration::from_secs(1);
/// A reading takes each consumer's and stream's lock for a moment (as `CONSUMER.INFO`
/// does): when one takes long (thousands of consumers), the next waits this many times as
/// long, so that reading never takes more than a twentieth of the sampler's time.
const BACKOFF_FACTOR: u32 = 20;

/// Keeps the last reading between refreshes.
#[derive(Debug, Default)]
pub struct StreamsSampler {
    /// When the next reading is due.
    next: Option<Instant>,
    current: Arc<StreamInventory>,
}

impl StreamsSampler {
    /// The streams now, read again when the last reading is old enough (see [`REFRESH`]).
    pub fn sample(&mut self, server: &Server) -> Arc<StreamInventory> {
        let now = Instant::now();
        if self.next.is_none_or(|t| now >= t) {
            self.current = Arc::new(inventory(server, MAX_STREAMS, MAX_CONSUMERS));
            let took = now.elapsed();
            self.next = Some(now + REFRESH.max(took * BACKOFF_FACTOR));
        }
        self.current.clone()
    }
}

/// Every stream of every account with JetStream (at most `max_streams`, with at most
/// `max_consumers` consumers in all); an empty inventory when JetStream is off.
pub fn inventory(server: &Server, max_streams: usize, max_consumers: usize) -> StreamInventory {
    let Some(js) = JetStream::of(server) else {
        return StreamInventory::default();
    };
    let mut out = StreamInventory {
        read_at: Some(SystemTime::now()),
        ..StreamInventory::default()
    };
    let mut consumers_left = max_consumers;
    for account in js.accounts() {
        for stream in account.streams() {
            if out.streams.len() == max_streams {
                out.streams_omitted += 1;
                out.consumers_omitted += stream.consumer_count();
                continue;
            }
            let mut summary = stream_summary(&account.name, &stream);
            let consumers = stream.consumers();
            let listed = consumers.len().min(consumers_left);
            consumers_left -= listed;
            out.consumers_omitted += consumers.len() - listed;
            summary.consumers = consumers
                .iter()
                .take(listed)
                .map(|c| consumer_summary(&stream, c))
                .collect();
            out.streams.push(summary);
        }
    }
    out.streams
        .sort_by(|a, b| (&a.account, &a.name).cmp(&(&b.account, &b.name)));
    out
}

/// Unix nanoseconds as a time; 0 is "never".
fn at(nanos: i64) -> Option<SystemTime> {
    let nanos = u64::try_from(nanos).ok().filter(|n| *n > 0)?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// An RFC 3339 time of an info (`None`, or Go's zero time: never).
fn parsed(text: Option<&str>) -> Option<SystemTime> {
    at(time::parse(text?)?)
}

/// A configuration enum's name as the API spells it (`workqueue`, `explicit`).
fn api_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

fn stream_summary(account: &str, stream: &Stream) -> StreamSummary {
    let cfg = stream.config();
    let st = stream.state();
    StreamSummary {
        account: account.to_string(),
        name: stream.name.clone(),
        description: cfg.description.clone(),
        subjects: cfg.subjects.clone(),
        storage: api_name(&cfg.storage),
        retention: api_name(&cfg.retention),
        discard: api_name(&cfg.discard),
        replicas: u32::try_from(cfg.replicas.max(1)).unwrap_or(1),
        max_msgs: cfg.max_msgs,
        max_bytes: cfg.max_bytes,
        max_age: nanos(cfg.max_age),
        max_msgs_per_subject: cfg.max_msgs_per,
        max_msg_size: cfg.max_msg_size,
        max_consumers: cfg.max_consumers,
        allow_direct: cfg.allow_direct,
        sealed: cfg.sealed,
        deny_delete: cfg.deny_delete,
        deny_purge: cfg.deny_purge,
        mirror: cfg.mirror.as_ref().map(|m| m.name.clone()),
        sources: cfg.sources.iter().map(|s| s.name.clone()).collect(),
        created: at(stream.created),
        messages: st.msgs,
        bytes: st.bytes,
        // A stream that never stored anything shows 0, as its info does.
        first_seq: if st.last_seq == 0 { 0 } else { st.first_seq },
        first_time: at(st.first_time),
        last_seq: st.last_seq,
        last_time: at(st.last_time),
        num_subjects: st.num_subjects,
        num_deleted: st.num_deleted,
        consumer_count: stream.consumer_count(),
        consumers: Vec::new(),
    }
}

fn consumer_summary(stream: &Stream, consumer: &Consumer) -> ConsumerSummary {
    let info = ConsumerInfo::of(stream, consumer, ConfigShown::Stored);
    let cfg = info.config.unwrap_or_default();
    let mut filters = cfg.filter_subjects.clone();
    if !cfg.filter_subject.is_empty() {
        filters.insert(0, cfg.filter_subject.clone());
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ConsumerSummary {
        name: info.name,
        durable: cfg.is_durable(),
        deliver_subject: some(&cfg.deliver_subject),
        deliver_group: some(&cfg.deliver_group),
        filter_subjects: filters,
        ack_policy: api_name(&cfg.ack_policy),
        deliver_policy: api_name(&cfg.deliver_policy),
        ack_wait: nanos(cfg.ack_wait),
        max_ack_pending: cfg.max_ack_pending,
        max_deliver: cfg.max_deliver,
        created: at(consumer.created),
        delivered_consumer_seq: info.delivered.consumer_seq,
        delivered_stream_seq: info.delivered.stream_seq,
        last_delivered: parsed(info.delivered.last_active.as_deref()),
        ack_floor_consumer_seq: info.ack_floor.consumer_seq,
        ack_floor_stream_seq: info.ack_floor.stream_seq,
        last_ack: parsed(info.ack_floor.last_active.as_deref()),
        num_pending: info.num_pending,
        num_ack_pending: info.num_ack_pending as u64,
        num_redelivered: info.num_redelivered as u64,
        num_waiting: info.num_waiting as u64,
        paused: info.paused,
        push_bound: info.push_bound,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::broker::BrokerHandle;
    use crate::options::{JetStreamOptions, Options};

    #[tokio::test]
    async fn streams_and_consumers_read_from_inside_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            port: 0,
            jetstream: Some(JetStreamOptions {
                store_dir: Some(dir.path().to_path_buf()),
                max_memory: Some(1 << 20),
                max_store: Some(1 << 30),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bound = BrokerHandle::bind(opts).await.unwrap();
        crate::jetstream::enable(bound.server()).unwrap();
        let handle = bound.accept();
        assert_eq!(
            inventory(handle.server(), 10, 10).streams,
            vec![],
            "no streams yet"
        );
        let client = async_nats::connect(handle.local_addr().to_string())
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        for name in ["B", "A", "C"] {
            let stream = js
                .create_stream(async_nats::jetstream::stream::Config {
                    name: name.into(),
                    subjects: vec![format!("{}.>", name.to_lowercase())],
                    max_messages_per_subject: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            if name == "A" {
                for durable in ["one", "two"] {
                    stream
                        .create_consumer(async_nats::jetstream::consumer::pull::Config {
                            durable_name: Some(durable.into()),
                            filter_subject: "a.x".into(),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                }
            }
        }
        for subject in ["a.x", "a.y", "a.x"] {
            js.publish(subject, "hi".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }

        let all = inventory(handle.server(), 10, 10);
        let names: Vec<&str> = all.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"], "sorted by account and name");
        let a = &all.streams[0];
        assert_eq!((a.account.as_str(), a.storage.as_str()), ("$G", "file"));
        assert_eq!((a.messages, a.first_seq, a.last_seq), (3, 1, 3));
        assert_eq!((a.max_msgs_per_subject, a.consumer_count), (10, 2));
        assert!(a.last_time.is_some() && a.created.is_some());
        let one = &a.consumers[0];
        assert_eq!(one.name, "one");
        assert!(one.durable && !one.is_push());
        assert_eq!(one.filter_subjects, ["a.x"]);
        assert_eq!((one.num_pending, one.ack_policy.as_str()), (2, "explicit"));
        assert_eq!((all.streams_omitted, all.consumers_omitted), (0, 0));

        let cut = inventory(handle.server(), 2, 1);
        assert_eq!(cut.streams.len(), 2);
        assert_eq!(cut.streams_omitted, 1);
        assert_eq!(cut.streams[0].consumers.len(), 1);
        assert_eq!(cut.consumers_omitted, 1, "what is cut is counted");
        handle.shutdown().await;
    }
}
