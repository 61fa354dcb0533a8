//! Recording any NATS server as an ordinary client: subscribe to the patterns and write what
//! arrives, through the same bounded queue and writer thread as the broker's recordings.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::format::{self, MessageRef, Meta, Stats};
use super::nats::headers_to_raw;
use super::recorder::{RecordError, RecordOptions, Recording};
use crate::inspect::control::RecordCounters;
use crate::proto::subject;

#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Patterns to subscribe to; empty means `>`.
    pub subjects: Vec<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many messages.
    pub count: Option<u64>,
    pub queue_messages: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Duration,
    Count,
    Signal,
    /// The server closed every subscription (connection lost for good).
    Closed,
}

#[derive(Debug, Clone)]
pub struct RemoteOutcome {
    pub stats: Stats,
    pub reason: StopReason,
}

/// Drops patterns that another pattern already covers (a message matching both would be
/// delivered, and recorded, twice). Partly overlapping patterns such as `a.*` and `*.b`
/// still overlap.
pub fn dedupe_patterns(patterns: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let covered = patterns.iter().enumerate().any(|(j, q)| {
            j != i && subject::matches(q.as_bytes(), p.as_bytes()) && (q != p || j < i)
        });
        if !covered {
            out.push(p.clone());
        }
    }
    out
}

/// Why recording from a server failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteRecordError {
    #[error("invalid subject pattern {0:?}")]
    BadSubject(String),
    #[error("can't subscribe to {pattern}: {source}")]
    Subscribe {
        pattern: String,
        source: async_nats::SubscribeError,
    },
    #[error("can't reach the server: {0}")]
    Unreachable(async_nats::client::FlushError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the recording's writer task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Records from `client` into `path` until the duration, the count, `stop`, or the end of
/// the subscriptions. `tick` is called about every 200 ms with the live counters.
pub async fn record_remote(
    client: &async_nats::Client,
    server: &str,
    path: &Path,
    opts: &RemoteOptions,
    slow_drops: Arc<AtomicU64>,
    stop: impl std::future::Future<Output = ()>,
    mut tick: impl FnMut(RecordCounters),
) -> Result<RemoteOutcome, RemoteRecordError> {
    let mut patterns = if opts.subjects.is_empty() {
        vec![">".to_string()]
    } else {
        opts.subjects.clone()
    };
    for p in &patterns {
        if !subject::is_valid_subject(p.as_bytes()) {
            return Err(RemoteRecordError::BadSubject(p.clone()));
        }
    }
    patterns = dedupe_patterns(&patterns);
    let mut subs = Vec::new();
    for p in &patterns {
        subs.push(client.subscribe(p.clone()).await.map_err(|source| {
            RemoteRecordError::Subscribe {
                pattern: p.clone(),
                source,
            }
        })?);
    }
    client
        .flush()
        .await
        .map_err(RemoteRecordError::Unreachable)?;
    let meta = Meta {
        source: "client".into(),
        server: server.to_string(),
        subjects: patterns.clone(),
        started_ns: format::now_ns(),
        writer: format!("switchboard {}", env!("CARGO_PKG_VERSION")),
    };
    let mut record_opts = RecordOptions::subjects(patterns);
    if let Some(n) = opts.queue_messages {
        record_opts.queue_messages = n;
    }
    let recording = Recording::start(path, &meta, &record_opts, None)?;
    let sink = recording.sink();
    let mut messages = futures_util::stream::select_all(subs);
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let sleep = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut seen = 0u64;
    let mut slow_seen = 0u64;
    let reason = loop {
        if opts.count.is_some_and(|n| seen >= n) {
            break StopReason::Count;
        }
        tokio::select! {
            biased;
            _ = &mut stop => break StopReason::Signal,
            _ = &mut sleep => break StopReason::Duration,
            _ = ticker.tick() => {
                let slow = slow_drops.load(Ordering::Relaxed);
                sink.add_drops(slow - slow_seen.min(slow));
                slow_seen = slow;
                tick(recording.counters());
            }
            next = messages.next() => {
                let Some(m) = next else { break StopReason::Closed };
                seen += 1;
                let headers = headers_to_raw(
                    m.headers.as_ref(),
                    m.status.map(|s| s.as_u16()),
                    m.description.as_deref(),
                );
                let r = MessageRef {
                    time_ns: format::now_ns(),
                    subject: m.subject.as_bytes(),
                    reply: m.reply.as_ref().map(|r| r.as_bytes()),
                    headers: headers.as_deref(),
                    payload: &m.payload,
                    publisher: None,
                    receivers: None,
                };
                sink.offer_message(&r);
            }
        }
    };
    drop(messages);
    let slow = slow_drops.load(Ordering::Relaxed);
    sink.add_drops(slow - slow_seen.min(slow));
    drop(sink);
    tick(recording.counters());
    let stats = tokio::task::spawn_blocking(move || recording.stop()).await??;
    Ok(RemoteOutcome { stats, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_patterns_are_dropped() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dedupe_patterns(&p(&["a.>", "a.b", "c"])), p(&["a.>", "c"]));
        assert_eq!(dedupe_patterns(&p(&["a.b", "a.b"])), p(&["a.b"]));
        assert_eq!(dedupe_patterns(&p(&[">", "a.*"])), p(&[">"]));
        assert_eq!(dedupe_patterns(&p(&["a.*", "*.b"])), p(&["a.*", "*.b"]));
    }
}
