//! Mirrors and sources between streams of one account (nats-server's `processInboundMirrorMsg`
//! and `processInboundSourceMsg`). Each mirror or source is a background task that reads its
//! origin with `load_next` from the next sequence, stores what it reads, and then waits for
//! the origin's next append (`Stream::watch_appends`) or a second, whichever comes first.
//! It never holds two streams' locks at once: a read of the origin ends before the store
//! into the target starts. The task holds only weak references, so it ends when the target
//! is deleted (and is aborted then as well); a missing origin is waited for, as nats-server
//! retries.
//!
//! A mirror keeps its origin's sequences and times (gaps become deleted sequences) and
//! resumes after its last sequence; a source appends under its own sequences with the
//! `Nats-Stream-Source` header, from which it finds where to resume after a restart.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use super::config::{StreamSource, SubjectTransform as TransformConfig};
use super::errors::ApiError;
use super::headers;
use super::stream::{Inbound, Origin, Stream};
use super::{time, JsAccount};
use crate::broker::{Fanout, Server};
use crate::proto::transform::SubjectTransform;

/// How long a task waits before looking again when nothing told it to.
const RETRY: Duration = Duration::from_secs(1);

/// What a mirror or source shows in the stream's info (nats-server's `StreamSourceInfo`).
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub lag: u64,
    /// The last origin sequence a source stored (sources only, omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// Nanoseconds since the origin was last heard from; -1 before the first time.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<TransformConfig>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default)]
struct LinkState {
    /// The last origin sequence handled.
    seq: u64,
    lag: u64,
    active: Option<Instant>,
}

/// One running mirror or source of a stream.
#[derive(Debug)]
pub struct Link {
    cfg: StreamSource,
    mirror: bool,
    state: Arc<Mutex<LinkState>>,
    task: tokio::task::AbortHandle,
}

impl Link {
    pub fn info(&self) -> SourceInfo {
        let st = self.state.lock();
        SourceInfo {
            name: self.cfg.name.clone(),
            lag: st.lag,
            seq: if self.mirror { 0 } else { st.seq },
            active: st.active.map_or(-1, |t| {
                i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX)
            }),
            error: None,
            filter_subject: self.cfg.filter_subject.clone(),
            subject_transforms: self.cfg.subject_transforms.clone(),
        }
    }

    pub fn is_mirror(&self) -> bool {
        self.mirror
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the mirror and the sources of `stream` (none when it has neither).
pub fn start(server: &Arc<Server>, jsa: &Arc<JsAccount>, stream: &Arc<Stream>) -> Vec<Link> {
    let cfg = stream.config();
    let mut links = Vec::new();
    let wanted = cfg
        .mirror
        .iter()
        .map(|m| (m.clone(), true))
        .chain(cfg.sources.iter().map(|s| (s.clone(), false)));
    for (source, mirror) in wanted {
        let state = Arc::new(Mutex::new(LinkState::default()));
        let runner = Runner {
            server: Arc::downgrade(server),
            jsa: Arc::downgrade(jsa),
            target: Arc::downgrade(stream),
            transforms: transforms_of(&source),
            iname: source.iname(),
            cfg: source.clone(),
            mirror,
            state: state.clone(),
        };
        let task = tokio::spawn(runner.run()).abort_handle();
        links.push(Link {
            cfg: source,
            mirror,
            state,
            task,
        });
    }
    links
}

/// The subject transforms of a mirror or source, in order (an empty destination is none).
fn transforms_of(source: &StreamSource) -> Vec<(String, Option<SubjectTransform>)> {
    source
        .subject_transforms
        .iter()
        .map(|t| {
            let src = if t.src.is_empty() { ">" } else { &t.src };
            let tr = if t.dest.is_empty() {
                None
            } else {
                SubjectTransform::new(src, &t.dest).ok()
            };
            (src.to_string(), tr)
        })
        .collect()
}

struct Runner {
    server: Weak<Server>,
    jsa: Weak<JsAccount>,
    target: Weak<Stream>,
    cfg: StreamSource,
    transforms: Vec<(String, Option<SubjectTransform>)>,
    iname: (String, String, String),
    mirror: bool,
    state: Arc<Mutex<LinkState>>,
}

/// What one pass over the origin ended with.
enum Pass {
    /// Caught up; wait for the origin's next append.
    CaughtUp(tokio::sync::watch::Receiver<u64>),
    /// No origin (yet): wait for a stream to be added to the account.
    NoOrigin(tokio::sync::watch::Receiver<u64>),
    /// The target could not take a message: try again later.
    Later,
    /// The target or the account is gone.
    Stop,
}

impl Runner {
    async fn run(self) {
        let mut next = match self.resume_point() {
            Some(n) => n,
            None => return,
        };
        loop {
            match self.pass(&mut next) {
                Pass::Stop => return,
                Pass::CaughtUp(mut appended) => {
                    let _ = tokio::time::timeout(RETRY, appended.changed()).await;
                }
                Pass::NoOrigin(mut attached) => {
                    let _ = tokio::time::timeout(RETRY, attached.changed()).await;
                }
                Pass::Later => tokio::time::sleep(RETRY).await,
            }
        }
    }

    /// The first origin sequence to read: after what the target holds, or where the
    /// configuration says to start (0 means "decide once the origin is there").
    fn resume_point(&self) -> Option<u64> {
        let target = self.target.upgrade()?;
        let held = if self.mirror {
            target.state().last_seq
        } else {
            self.last_sourced(&target)
        };
        if held > 0 {
            self.state.lock().seq = held;
            return Some(held + 1);
        }
        Some(0)
    }

    /// The last origin sequence this source stored, from the target's `Nats-Stream-Source`
    /// headers.
    fn last_sourced(&self, target: &Stream) -> u64 {
        let mut best = 0;
        let mut seq = target.state().first_seq;
        while let Ok(Some(m)) = target.load_next(">", seq) {
            seq = m.seq + 1;
            let Some(value) = headers::get_str(&m.headers, headers::STREAM_SOURCE) else {
                continue;
            };
            let parts: Vec<&str> = value.split(' ').collect();
            if parts.len() >= 4
                && parts[0] == self.iname.0
                && parts[2] == self.iname.1
                && parts[3] == self.iname.2
            {
                if let Ok(n) = parts[1].parse::<u64>() {
                    best = best.max(n);
                }
            }
        }
        best
    }

    fn pass(&self, next: &mut u64) -> Pass {
        let Some(jsa) = self.jsa.upgrade() else {
            return Pass::Stop;
        };
        if self.target.strong_count() == 0 {
            return Pass::Stop;
        }
        let attached = jsa.watch_attached();
        let Some(origin) = jsa.stream(&self.cfg.name) else {
            return Pass::NoOrigin(attached);
        };
        // Subscribed before reading, so an append during the pass is not missed.
        let appended = origin.watch_appends();
        if *next == 0 {
            *next = self.start_seq(&origin);
        }
        let filter = if self.cfg.filter_subject.is_empty() {
            ">"
        } else {
            self.cfg.filter_subject.as_str()
        };
        let ident = ident(origin.created);
        loop {
            let found = origin.load_next(filter, *next);
            let m = match found {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => return Pass::Later,
            };
            let stopped = jsa.js().is_none_or(|js| js.stopped.load(Ordering::Acquire));
            let (Some(target), false) = (self.target.upgrade(), stopped) else {
                return Pass::Stop;
            };
            let subject = match self.transformed(&m.subject) {
                Some(s) => s,
                None => {
                    // Outside the transforms' filters: a source skips it, a mirror leaves
                    // a gap where it was.
                    *next = m.seq + 1;
                    continue;
                }
            };
            let stored = if self.mirror {
                let inbound = Inbound {
                    subject: &subject,
                    headers: &m.headers,
                    payload: &m.payload,
                };
                self.store(
                    &jsa,
                    &target,
                    &inbound,
                    Origin::Mirror {
                        seq: m.seq,
                        time: m.time,
                    },
                )
            } else {
                let hdr = self.source_headers(&m.headers, m.seq, &m.subject, &ident);
                let inbound = Inbound {
                    subject: &subject,
                    headers: &hdr,
                    payload: &m.payload,
                };
                self.store(&jsa, &target, &inbound, Origin::Source)
            };
            if !stored {
                let lag = origin.num_pending(filter, *next);
                let mut st = self.state.lock();
                st.lag = lag;
                st.active = Some(Instant::now());
                return Pass::Later;
            }
            *next = m.seq + 1;
            self.state.lock().seq = m.seq;
        }
        let mut st = self.state.lock();
        st.lag = 0;
        st.active = Some(Instant::now());
        Pass::CaughtUp(appended)
    }

    /// Where a link with nothing stored yet starts reading its origin.
    fn start_seq(&self, origin: &Stream) -> u64 {
        if self.cfg.opt_start_seq > 0 {
            return self.cfg.opt_start_seq;
        }
        if let Some(t) = self.cfg.opt_start_time.as_deref().and_then(time::parse) {
            return origin
                .seq_for_time(t)
                .unwrap_or_else(|| origin.state().last_seq + 1);
        }
        1
    }

    /// The subject after the first matching transform; `None` when there are transforms and
    /// none matches.
    fn transformed(&self, subject: &str) -> Option<String> {
        if self.transforms.is_empty() {
            return Some(subject.to_string());
        }
        for (src, tr) in &self.transforms {
            if !super::store::subject_matches(src, subject) {
                continue;
            }
            return Some(match tr {
                Some(tr) => tr.apply(subject).unwrap_or_else(|| subject.to_string()),
                None => subject.to_string(),
            });
        }
        None
    }

    /// The origin's headers without what must not travel, with `Nats-Stream-Source`:
    /// `<stream> <seq> <filter> <destination> <subject> <ident>`.
    fn source_headers(&self, original: &[u8], seq: u64, subject: &str, ident: &str) -> Vec<u8> {
        let mut h = original.to_vec();
        if !h.is_empty() {
            h = headers::remove(&h, headers::STREAM_SOURCE);
            h = remove_prefixed(&h, "Nats-Expected-");
            h = remove_prefixed(&h, "Nats-Batch-");
        }
        let value = format!(
            "{} {} {} {} {} {}",
            self.iname.0, seq, self.iname.1, self.iname.2, subject, ident
        );
        let mut out = if h.is_empty() {
            b"NATS/1.0\r\n".to_vec()
        } else {
            h[..h.len() - 2].to_vec()
        };
        out.extend_from_slice(headers::STREAM_SOURCE.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    /// Stores one message into the target and republishes it if the target says so;
    /// false when the target refused it (to be tried again later).
    fn store(&self, jsa: &JsAccount, target: &Stream, msg: &Inbound<'_>, origin: Origin) -> bool {
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        let processed = target.process_from(
            msg,
            origin,
            false,
            None,
            u64::from(server.opts.max_payload),
            jsa,
        );
        if let Some(r) = &processed.republish {
            let mut fanout = Fanout::default();
            server.publish_internal(
                &mut fanout,
                &jsa.account,
                r.subject.as_bytes(),
                None,
                &r.headers,
                &r.payload,
            );
            fanout.wake_all();
        }
        match processed.error {
            None => true,
            Some(e) => {
                crate::log_warn!(
                    "Error processing inbound {} '{}' for '{} > {}': {}",
                    if self.mirror { "mirror" } else { "source" },
                    self.cfg.name,
                    jsa.name,
                    target.name,
                    e.description
                );
                false
            }
        }
    }
}

/// The header block without lines whose key starts with `prefix`.
fn remove_prefixed(block: &[u8], prefix: &str) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(block) else {
        return block.to_vec();
    };
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive("\r\n").enumerate() {
        if i > 0 && line.starts_with(prefix) {
            continue;
        }
        out.push_str(line);
    }
    if out.len() <= "NATS/1.0\r\n\r\n".len() {
        return Vec::new();
    }
    out.into_bytes()
}

/// nats-server's stream identity: `getHash` of the creation time in RFC 3339.
pub fn ident(created: i64) -> String {
    crate::proto::ids::name_hash(&time::format(created), 8)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_stream_identity_is_nats_servers() {
        // A stream nats-server 2.15.1 created at this time wrote this identity into the
        // `Nats-Stream-Source` headers of its sources.
        let created = time::parse("2026-12-01T18:40:34.618370006Z").unwrap();
        assert_eq!(ident(created), "5VkMdgFX");
    }

    #[test]
    fn source_headers_drop_expectations_and_chain_headers() {
        let h = b"NATS/1.0\r\nNats-Expected-Stream: O\r\nX-A: 1\r\nNats-Batch-Id: b\r\n\r\n";
        assert_eq!(
            remove_prefixed(&remove_prefixed(h, "Nats-Expected-"), "Nats-Batch-"),
            b"NATS/1.0\r\nX-A: 1\r\n\r\n".to_vec()
        );
        assert!(remove_prefixed(
            b"NATS/1.0\r\nNats-Expected-Stream: O\r\n\r\n",
            "Nats-Expected-"
        )
        .is_empty());
    }
}
