//! What a client sees of the traffic, turned into subject statistics and request/reply
//! latency. Pure bookkeeping: the caller feeds it each message it received with the time it
//! arrived, and asks for the per-subject stats and latencies once a tick.
//!
//! Latency from outside: a message carrying a reply subject is a request; the first message
//! seen later on that reply subject is its reply. The difference of the two arrival times
//! is the round trip as seen from this vantage point (the request and the reply may travel
//! different routes to us, so it is an estimate, not the broker's own measure). In a
//! cluster the reply can even arrive first (it came over a faster route): such a reply is
//! remembered for a moment, and the request that follows counts as answered, with no round
//! trip recorded since none can be measured from here.
//!
//! The same pairing counts, per subject, the messages that were replies (an overtaking
//! reply once its request arrives), as the broker's tap does: the window folds subjects
//! used only as replies.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use crate::inspect::control::DEFAULT_REQUEST_TIMEOUT;
use crate::inspect::snapshot::{
    per_sec, LatencyHistogram, ReportedLatency, ServiceLatency, SubjectStat,
};

/// Distinct subjects remembered; more are counted as overflow.
pub const MAX_SUBJECTS: usize = 20_000;
/// Requests waiting for their reply, at most.
const MAX_PENDING_REQUESTS: usize = 50_000;
/// Round trips kept per service subject for the percentiles.
const LATENCY_WINDOW: usize = 4096;
/// How long, and how many, unmatched messages are remembered as replies that may have
/// overtaken their request.
const EARLY_REPLY_WINDOW: Duration = Duration::from_secs(2);
const MAX_EARLY_REPLIES: usize = 4096;
/// Results subjects of service latency events followed, at most.
const MAX_REPORTED: usize = 256;

#[derive(Debug, Default)]
struct SubjectCount {
    msgs: u64,
    bytes: u64,
    /// Messages that answered a request seen before (or right after) them.
    reply_msgs: u64,
    last_msgs: u64,
    last_bytes: u64,
    last_published: Option<SystemTime>,
}

#[derive(Debug, Default)]
struct Window {
    requests: u64,
    replies: u64,
    timeouts: u64,
    recent: VecDeque<Duration>,
    /// Every round trip since the window began (the contract's cumulative histogram).
    histogram: LatencyHistogram,
}

/// The service latency events seen on one results subject.
#[derive(Debug, Default)]
struct Reported {
    window: Window,
    statuses: std::collections::BTreeMap<u16, u64>,
    recent_service: VecDeque<Duration>,
}

/// The fields of nats-server's service latency event that the view uses.
#[derive(serde::Deserialize)]
struct LatencyEvent {
    #[serde(rename = "type")]
    kind: String,
    status: u16,
    #[serde(default, rename = "service")]
    service_ns: u64,
    #[serde(default, rename = "total")]
    total_ns: u64,
}

/// The `type` of nats-server's service latency events.
const SERVICE_LATENCY_TYPE: &str = "io.nats.server.metric.v1.service_latency";

struct Pending {
    at: Instant,
    service: String,
}

/// Subject counters and request/reply pairing for one remote source.
#[derive(Default)]
pub struct Observer {
    subjects: HashMap<String, SubjectCount>,
    /// Messages on subjects beyond [`MAX_SUBJECTS`].
    pub overflow_msgs: u64,
    pending: HashMap<String, Pending>,
    /// Reply subjects in the order their requests arrived, to expire the oldest.
    pending_order: VecDeque<(Instant, String)>,
    windows: HashMap<String, Window>,
    /// Service latency events, by the subject they came on (at most [`MAX_REPORTED`]).
    reported: HashMap<String, Reported>,
    /// Messages that answered no pending request, by subject, with when they came.
    early: HashMap<String, Instant>,
    early_order: VecDeque<(Instant, String)>,
    /// Requests not tracked because too many were waiting.
    pub untracked_requests: u64,
    pub total_msgs: u64,
    pub total_bytes: u64,
}

impl Observer {
    pub fn new() -> Self {
        Observer::default()
    }

    /// One message received at `now` (`wall` for the "last published" column).
    pub fn observe(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        size: usize,
        now: Instant,
        wall: SystemTime,
        track_latency: bool,
    ) {
        self.total_msgs += 1;
        self.total_bytes += size as u64;
        let full = self.subjects.len() >= MAX_SUBJECTS;
        let count = match self.subjects.get_mut(subject) {
            Some(c) => Some(c),
            None if full => None,
            None => Some(self.subjects.entry(subject.to_string()).or_default()),
        };
        match count {
            Some(c) => {
                c.msgs += 1;
                c.bytes += size as u64;
                c.last_published = Some(wall);
            }
            None => self.overflow_msgs += 1,
        }
        if !track_latency {
            return;
        }
        if let Some(p) = self.pending.remove(subject) {
            self.count_reply(subject);
            let w = self.windows.entry(p.service).or_default();
            w.replies += 1;
            if w.recent.len() >= LATENCY_WINDOW {
                w.recent.pop_front();
            }
            let rtt = now.saturating_duration_since(p.at);
            w.recent.push_back(rtt);
            w.histogram.record(rtt);
        } else if reply.is_none() {
            self.remember_early(subject, now);
        }
        if let Some(reply) = reply.filter(|r| !r.is_empty()) {
            self.expire(now);
            if self.pending.len() >= MAX_PENDING_REQUESTS {
                self.untracked_requests += 1;
                return;
            }
            let w = self.windows.entry(subject.to_string()).or_default();
            w.requests += 1;
            if self
                .early
                .get(reply)
                .is_some_and(|at| now.saturating_duration_since(*at) <= EARLY_REPLY_WINDOW)
            {
                // Its reply overtook it: answered, round trip unknown.
                self.early.remove(reply);
                w.replies += 1;
                self.count_reply(reply);
                return;
            }
            self.pending.insert(
                reply.to_string(),
                Pending {
                    at: now,
                    service: subject.to_string(),
                },
            );
            self.pending_order.push_back((now, reply.to_string()));
        }
    }

    /// One message on `subject` was a reply (its count exists: it was observed first).
    fn count_reply(&mut self, subject: &str) {
        if let Some(c) = self.subjects.get_mut(subject) {
            c.reply_msgs = (c.reply_msgs + 1).min(c.msgs);
        }
    }

    /// Remembers a message that answered nothing yet (bounded in time and count).
    fn remember_early(&mut self, subject: &str, now: Instant) {
        while let Some((at, _)) = self.early_order.front() {
            let stale = now.saturating_duration_since(*at) > EARLY_REPLY_WINDOW;
            if !stale && self.early_order.len() < MAX_EARLY_REPLIES {
                break;
            }
            if let Some((at, s)) = self.early_order.pop_front() {
                if self.early.get(&s) == Some(&at) {
                    self.early.remove(&s);
                }
            }
        }
        self.early.insert(subject.to_string(), now);
        self.early_order.push_back((now, subject.to_string()));
    }

    /// A message's payload, if it is one of nats-server's service latency events: counted
    /// under its subject (the export's results subject), its `total` as the round trip.
    /// Returns whether it was one.
    pub fn observe_payload(&mut self, subject: &str, payload: &[u8]) -> bool {
        // The event's JSON starts with its type; anything else costs one prefix check.
        const PREFIX: &[u8] = b"{\"type\":\"io.nats.server.metric.v1.service_latency\"";
        if !payload.starts_with(PREFIX) {
            return false;
        }
        let Ok(event) = serde_json::from_slice::<LatencyEvent>(payload) else {
            return false;
        };
        if event.kind != SERVICE_LATENCY_TYPE {
            return false;
        }
        if !self.reported.contains_key(subject) && self.reported.len() >= MAX_REPORTED {
            return false;
        }
        let r = self.reported.entry(subject.to_string()).or_default();
        *r.statuses.entry(event.status).or_default() += 1;
        let w = &mut r.window;
        w.requests += 1;
        match event.status {
            200 => {
                w.replies += 1;
                let total = Duration::from_nanos(event.total_ns);
                if w.recent.len() >= LATENCY_WINDOW {
                    w.recent.pop_front();
                    r.recent_service.pop_front();
                }
                w.recent.push_back(total);
                r.recent_service
                    .push_back(Duration::from_nanos(event.service_ns));
                w.histogram.record(total);
            }
            408 | 504 => w.timeouts += 1,
            _ => {}
        }
        true
    }

    /// Counts requests older than [`DEFAULT_REQUEST_TIMEOUT`] without a reply as timeouts.
    pub fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.pending_order.front() {
            if now.saturating_duration_since(*at) < DEFAULT_REQUEST_TIMEOUT {
                break;
            }
            let Some((at, reply)) = self.pending_order.pop_front() else {
                break;
            };
            // The entry may have been answered, or replaced by a newer request reusing the
            // reply subject: only the request of that time expires.
            if self.pending.get(&reply).is_some_and(|p| p.at == at) {
                if let Some(p) = self.pending.remove(&reply) {
                    self.windows.entry(p.service).or_default().timeouts += 1;
                }
            }
        }
        // Answered requests leave stale order entries behind; keep the queue bounded.
        if self.pending_order.len() > 2 * MAX_PENDING_REQUESTS {
            let pending = &self.pending;
            self.pending_order
                .retain(|(at, r)| pending.get(r).is_some_and(|p| p.at == *at));
        }
    }

    /// Forgets the latency windows (tracking was switched off and on again).
    pub fn clear_latency(&mut self) {
        self.pending.clear();
        self.pending_order.clear();
        self.early.clear();
        self.early_order.clear();
        self.windows.clear();
        self.reported.clear();
    }

    /// Every subject seen, sorted, with rates over `elapsed_secs` since the last call.
    /// Publishers, receivers and "no interest" cannot be seen from outside: they stay empty
    /// and the snapshot says so (`Vantage::Outside`).
    pub fn subjects(&mut self, elapsed_secs: f64) -> Vec<SubjectStat> {
        let mut out: Vec<SubjectStat> = self
            .subjects
            .iter_mut()
            .map(|(subject, c)| {
                let stat = SubjectStat {
                    subject: subject.clone(),
                    msgs: c.msgs,
                    bytes: c.bytes,
                    msgs_per_sec: per_sec(c.last_msgs, c.msgs, elapsed_secs),
                    bytes_per_sec: per_sec(c.last_bytes, c.bytes, elapsed_secs),
                    no_interest_msgs: 0,
                    reply_msgs: c.reply_msgs,
                    subscribers: 0,
                    publishers: vec![],
                    receivers: vec![],
                    last_published: c.last_published,
                };
                c.last_msgs = c.msgs;
                c.last_bytes = c.bytes;
                stat
            })
            .collect();
        out.sort_by(|a, b| a.subject.cmp(&b.subject));
        out
    }

    /// Latency per service subject, sorted.
    pub fn latency(&self) -> Vec<ServiceLatency> {
        let mut out: Vec<ServiceLatency> = self
            .windows
            .iter()
            .map(|(subject, w)| ServiceLatency {
                histogram: w.histogram.clone(),
                ..ServiceLatency::summarize(
                    subject.clone(),
                    w.requests,
                    w.replies,
                    w.timeouts,
                    w.recent.iter().copied().collect(),
                )
            })
            .chain(self.reported.iter().map(|(subject, r)| {
                let mut service: Vec<Duration> = r.recent_service.iter().copied().collect();
                service.sort_unstable();
                let w = &r.window;
                ServiceLatency {
                    histogram: w.histogram.clone(),
                    reported: Some(ReportedLatency {
                        statuses: r.statuses.iter().map(|(c, n)| (*c, *n)).collect(),
                        service_p50: service.get(service.len() / 2).copied().unwrap_or_default(),
                    }),
                    ..ServiceLatency::summarize(
                        subject.clone(),
                        w.requests,
                        w.replies,
                        w.timeouts,
                        w.recent.iter().copied().collect(),
                    )
                }
            }))
            .collect();
        out.sort_by(|a, b| a.subject.cmp(&b.subject));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn latency_event(status: u16, service_ms: u64, total_ms: u64) -> Vec<u8> {
        format!(
            "{{\"type\":\"io.nats.server.metric.v1.service_latency\",\"id\":\"x\",\
             \"timestamp\":\"2026-12-02T00:00:00Z\",\"status\":{status},\
             \"requestor\":{{\"acc\":\"B\"}},\"start\":\"2026-12-02T00:00:00Z\",\
             \"service\":{},\"system\":0,\"total\":{}}}",
            service_ms * 1_000_000,
            total_ms * 1_000_000
        )
        .into_bytes()
    }

    #[test]
    fn server_latency_events_are_listed_under_their_results_subject() {
        let mut o = Observer::new();
        assert!(o.observe_payload("lat", &latency_event(200, 2, 5)));
        assert!(o.observe_payload("lat", &latency_event(200, 4, 9)));
        assert!(o.observe_payload("lat", &latency_event(200, 6, 7)));
        assert!(o.observe_payload("lat", &latency_event(504, 0, 0)));
        assert!(o.observe_payload("lat", &latency_event(408, 0, 0)));
        assert!(o.observe_payload("lat", &latency_event(503, 0, 0)));
        // Other JSON, and plain payloads, are not events.
        assert!(!o.observe_payload("lat", b"{\"type\":\"io.nats.server.advisory\"}"));
        assert!(!o.observe_payload("lat", b"hello"));
        assert!(!o.observe_payload(
            "lat",
            b"{\"type\":\"io.nats.server.metric.v1.service_latency\",\"status\":\"x\"}"
        ));
        let lat = o.latency();
        assert_eq!(lat.len(), 1);
        let l = &lat[0];
        assert_eq!(l.subject, "lat");
        assert_eq!((l.requests, l.replies, l.timeouts), (6, 3, 2));
        assert_eq!(l.p50, Duration::from_millis(7));
        assert_eq!(l.max, Duration::from_millis(9));
        assert_eq!(l.histogram.total(), 3);
        let reported = l.reported.as_ref().unwrap();
        assert_eq!(
            reported.statuses,
            vec![(200, 3), (408, 1), (503, 1), (504, 1)]
        );
        assert_eq!(reported.service_p50, Duration::from_millis(4));
    }

    #[test]
    fn a_reply_that_overtakes_its_request_counts_as_an_answer_without_a_round_trip() {
        let mut o = Observer::new();
        let t0 = Instant::now();
        let wall = SystemTime::now();
        // Seen from a third server: the reply came over a faster route than the request.
        o.observe("_INBOX.b.1", None, 2, t0, wall, true);
        o.observe(
            "svc.echo",
            Some("_INBOX.b.1"),
            2,
            t0 + Duration::from_millis(1),
            wall,
            true,
        );
        // Too late to be an overtaking reply: this request stays pending.
        o.observe("_INBOX.b.2", None, 2, t0, wall, true);
        o.observe(
            "svc.echo",
            Some("_INBOX.b.2"),
            2,
            t0 + Duration::from_secs(3),
            wall,
            true,
        );
        let lat = o.latency();
        assert_eq!((lat[0].requests, lat[0].replies), (2, 1));
        assert_eq!(lat[0].max, Duration::ZERO, "no round trip measured");
        let replies: Vec<(String, u64, u64)> = o
            .subjects(1.0)
            .into_iter()
            .map(|s| (s.subject, s.msgs, s.reply_msgs))
            .collect();
        assert_eq!(
            replies,
            [
                ("_INBOX.b.1".to_string(), 1, 1),
                ("_INBOX.b.2".to_string(), 1, 0),
                ("svc.echo".to_string(), 2, 0)
            ],
            "the overtaking reply counts once its request came"
        );
        assert!(lat[0].histogram.is_empty());
    }

    #[test]
    fn requests_pair_with_the_first_message_on_their_reply_subject() {
        let mut o = Observer::new();
        let t0 = Instant::now();
        let wall = SystemTime::now();
        o.observe("svc.echo", Some("_INBOX.a.1"), 3, t0, wall, true);
        o.observe(
            "_INBOX.a.1",
            None,
            3,
            t0 + Duration::from_millis(7),
            wall,
            true,
        );
        // A second message on the same inbox is not another reply.
        o.observe(
            "_INBOX.a.1",
            None,
            3,
            t0 + Duration::from_millis(9),
            wall,
            true,
        );
        o.observe("svc.echo", Some("_INBOX.a.2"), 3, t0, wall, true);
        let subjects = o.subjects(1.0);
        let inbox = subjects.iter().find(|s| s.subject == "_INBOX.a.1").unwrap();
        assert_eq!(
            (inbox.msgs, inbox.reply_msgs),
            (2, 1),
            "one reply, then a message that answered nothing"
        );
        let lat = o.latency();
        assert_eq!(lat.len(), 1);
        assert_eq!(
            (lat[0].requests, lat[0].replies, lat[0].timeouts),
            (2, 1, 0)
        );
        assert_eq!(lat[0].p50, Duration::from_millis(7));
        assert_eq!(
            lat[0].histogram.buckets(),
            [(LatencyHistogram::bucket_of(Duration::from_millis(7)), 1)],
            "the one round trip, in the cumulative histogram"
        );
        o.expire(t0 + DEFAULT_REQUEST_TIMEOUT + Duration::from_millis(1));
        assert_eq!(o.latency()[0].timeouts, 1);
    }

    #[test]
    fn subjects_count_and_rate_per_tick() {
        let mut o = Observer::new();
        let now = Instant::now();
        for _ in 0..10 {
            o.observe("a.b", None, 5, now, SystemTime::now(), false);
        }
        o.observe("a.c", None, 1, now, SystemTime::now(), false);
        let s = o.subjects(2.0);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].subject.as_str(), s[0].msgs, s[0].bytes),
            ("a.b", 10, 50)
        );
        assert_eq!(s[0].msgs_per_sec, 5.0);
        // Nothing new: the rate falls to zero, the totals stay.
        let s = o.subjects(1.0);
        assert_eq!((s[0].msgs, s[0].msgs_per_sec), (10, 0.0));
        assert!(o.latency().is_empty());
    }
}
