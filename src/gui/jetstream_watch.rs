//! A KV watch of the JetStream views' client ([`super::JsClient::watch_kv`]): an
//! ephemeral push consumer on the bucket's subjects that delivers what is stored from
//! then on, as `nats kv watch` does, made through the `$JS.API` so that it works for the
//! embedded broker and a remote deployment alike. Its changes come back by value through
//! a bounded queue of their own; dropping the window's [`KvWatch`] ends it (unsubscribe,
//! delete the consumer).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::{call, Success, Wake};
use crate::gui::model::jetstream::{kv_key, kv_operation, kv_subjects, KvEntry};

/// Changes of a KV watch waiting for the window; two more places are kept for its
/// status (started, failed), which must not be lost to a burst of changes.
pub const WATCH_QUEUE: usize = 256;
const WATCH_STATUS_ROOM: usize = 2;
/// How often the server says a watch is alive when nothing changes; three missed in a
/// row end the watch with an error the window shows.
const WATCH_HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the server keeps a watch's consumer once nobody listens (the window went
/// away without deleting it).
const WATCH_INACTIVE: Duration = Duration::from_secs(30);

/// What a KV watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Its consumer is in place: every change from now on comes.
    Started {
        consumer: String,
    },
    Change(KvEntry),
    /// It ended on its own, and why.
    Failed(String),
}

/// The window's end of a running KV watch. Dropping it ends the watch: the task
/// unsubscribes and deletes the watch's consumer.
pub struct KvWatch {
    pub bucket: String,
    events: Receiver<WatchEvent>,
    missed: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

impl KvWatch {
    /// What came since the last poll (never waits).
    pub fn poll(&self) -> Vec<WatchEvent> {
        self.events.try_iter().collect()
    }

    /// Changes that never reached the window: its queue was full, or the connection
    /// lost some (a gap in the consumer's sequence).
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

/// The client's end of a KV watch (tests feed it by hand, see
/// [`super::JsClient::detached`]).
pub struct WatchFeed {
    pub bucket: String,
    events: Sender<WatchEvent>,
    missed: Arc<AtomicU64>,
    stop: oneshot::Receiver<()>,
}

impl WatchFeed {
    /// Hands `event` to the window without waiting; false when it was not taken (a
    /// change finding the queue full is counted as missed).
    pub fn send(&self, event: WatchEvent) -> bool {
        let is_change = matches!(event, WatchEvent::Change(_));
        if is_change && self.events.len() + WATCH_STATUS_ROOM >= WATCH_QUEUE {
            self.missed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                if is_change {
                    self.missed.fetch_add(1, Ordering::Relaxed);
                }
                false
            }
        }
    }

    /// Whether the window has let go of the watch. Once this says so, the stop signal
    /// is spent: the watch must end rather than wait on it.
    pub fn stopped(&mut self) -> bool {
        !matches!(
            self.stop.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        )
    }
}

/// A watch's two ends: the window's, and the client task's.
pub(super) fn channel(bucket: &str) -> (KvWatch, WatchFeed) {
    let (events_tx, events_rx) = crossbeam_channel::bounded(WATCH_QUEUE);
    let (stop_tx, stop_rx) = oneshot::channel();
    let missed = Arc::new(AtomicU64::new(0));
    (
        KvWatch {
            bucket: bucket.to_string(),
            events: events_rx,
            missed: missed.clone(),
            _stop: stop_tx,
        },
        WatchFeed {
            bucket: bucket.to_string(),
            events: events_tx,
            missed,
            stop: stop_rx,
        },
    )
}

/// The name of a watch's consumer: unique (the inbox's random end), and legible in the
/// Consumers view.
fn watch_consumer_name(inbox: &str) -> String {
    let tail: String = inbox
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("switchboard-watch-{tail}")
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Created {
    name: String,
}

/// Runs a watch until the window lets go of it or it fails (the failure is reported).
pub(super) async fn run_watch(c: async_nats::Client, mut feed: WatchFeed, wake: Wake) {
    if let Err(e) = watch(&c, &mut feed, &wake).await {
        feed.send(WatchEvent::Failed(e));
        wake();
    }
}

async fn watch(c: &async_nats::Client, feed: &mut WatchFeed, wake: &Wake) -> Result<(), String> {
    let bucket = feed.bucket.clone();
    let stream = format!("KV_{bucket}");
    let inbox = c.new_inbox();
    // Subscribed before the consumer exists: nothing it delivers can come before.
    let mut sub = c
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("watching {bucket}: {e}"))?;
    let name = watch_consumer_name(&inbox);
    let config = serde_json::json!({
        "stream_name": stream,
        "config": {
            "name": name,
            "description": "switchboard inspector: KV watch",
            "deliver_subject": inbox,
            "deliver_policy": "new",
            "ack_policy": "none",
            "replay_policy": "instant",
            "filter_subject": kv_subjects(&bucket),
            "idle_heartbeat": WATCH_HEARTBEAT.as_nanos() as u64,
            "inactive_threshold": WATCH_INACTIVE.as_nanos() as u64,
            "mem_storage": true,
            "num_replicas": 1,
        }
    });
    let created: Created = call(
        c,
        format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
        config.to_string(),
    )
    .await?;
    let name = if created.name.is_empty() {
        name
    } else {
        created.name
    };
    if feed.stopped() {
        return delete_watch_consumer(c, &stream, &name, sub).await;
    }
    feed.send(WatchEvent::Started {
        consumer: name.clone(),
    });
    wake();
    let context = async_nats::jetstream::new(c.clone());
    let mut last_consumer_seq = 0u64;
    let result = loop {
        let next = tokio::select! {
            _ = &mut feed.stop => break Ok(()),
            next = tokio::time::timeout(WATCH_HEARTBEAT * 3, sub.next()) => next,
        };
        let m = match next {
            Err(_) => {
                break Err(format!(
                    "the watch of {bucket} heard nothing from the server for {:?}",
                    WATCH_HEARTBEAT * 3
                ))
            }
            Ok(None) => break Err(format!("the watch of {bucket} lost its subscription")),
            Ok(Some(m)) => m,
        };
        if let Some(status) = m.status {
            // 100: a heartbeat (or flow control, answered); 409: the consumer is gone.
            match status.as_u16() {
                100 => {
                    if let Some(reply) = m.reply {
                        let _ = c.publish(reply, Bytes::new()).await;
                    }
                }
                409 => {
                    break Err(format!(
                        "the server ended the watch of {bucket}: {}",
                        m.description.unwrap_or_default()
                    ))
                }
                _ => {}
            }
            continue;
        }
        let Some(entry) = watched_entry(&bucket, &context, m, &mut last_consumer_seq, feed) else {
            continue;
        };
        if feed.send(WatchEvent::Change(entry)) {
            wake();
        }
    };
    delete_watch_consumer(c, &stream, &name, sub).await?;
    result
}

/// The entry a watched message stands for; a gap in the consumer's sequence before it
/// counts as missed.
fn watched_entry(
    bucket: &str,
    context: &async_nats::jetstream::Context,
    m: async_nats::Message,
    last_consumer_seq: &mut u64,
    feed: &WatchFeed,
) -> Option<KvEntry> {
    let key = kv_key(bucket, m.subject.as_str())?.to_string();
    let operation = kv_operation(
        m.headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .map(|v| v.as_str()),
    );
    let value = m.payload.to_vec();
    let js = async_nats::jetstream::Message {
        message: m,
        context: context.clone(),
    };
    let info = js.info().ok()?;
    if *last_consumer_seq > 0 && info.consumer_sequence > *last_consumer_seq + 1 {
        let gap = info.consumer_sequence - *last_consumer_seq - 1;
        feed.missed.fetch_add(gap, Ordering::Relaxed);
    }
    *last_consumer_seq = info.consumer_sequence;
    Some(KvEntry {
        key,
        revision: info.stream_sequence,
        time: Some(SystemTime::from(info.published)),
        operation,
        value,
    })
}

/// Unsubscribes and deletes the watch's consumer (bounded; were the delete to fail, the
/// server drops the consumer by itself once it has had no listener for a while).
async fn delete_watch_consumer(
    c: &async_nats::Client,
    stream: &str,
    name: &str,
    mut sub: async_nats::Subscriber,
) -> Result<(), String> {
    let _ = sub.unsubscribe().await;
    let s: Success = call(
        c,
        format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"),
        String::new(),
    )
    .await?;
    if s.success {
        Ok(())
    } else {
        Err(format!("the watch's consumer {name} was not deleted"))
    }
}
