//! The inspection tap: what the broker tells observers about its traffic, designed to cost
//! the publish path next to nothing.
//!
//! - Subject counters are kept by each connection beside its sublist cache (one lookup per
//!   publish serves both) and merged here in batches, at most every `FLUSH_INTERVAL`.
//! - Message samples are copied only while an observer asked for them, through a bounded
//!   queue; a full queue drops the copy (counted), never the message.
//! - Request/reply latency pairs a publish carrying a reply subject with the later publish
//!   to that reply subject, in a bounded map that expires unanswered requests as timeouts.
//!   The same pairing tells the connection that a publish was a reply, which it counts per
//!   subject beside the other counters (the window folds subjects used only as replies).
//!   Services' own publishes (a JetStream delivery with its `$JS.ACK.` reply subject) start
//!   requests too, so a client's acknowledgement counts as a reply.
//! - Events (connect, disconnect, slow consumer, auth failure) go to a bounded log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use crate::inspect::control::DEFAULT_REQUEST_TIMEOUT;
use crate::inspect::snapshot::{EventKind, MessageSample};
use crate::inspect::{Feed, FeedPublisher};

/// How often a connection merges its subject counters into the tap.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Distinct subjects remembered; more are counted as overflow.
pub const MAX_SUBJECTS: usize = 20_000;
/// Publishers remembered per subject.
const MAX_PUBLISHERS_PER_SUBJECT: usize = 32;
/// Requests in flight tracked at once; beyond that, requests are sampled.
const MAX_PENDING_REQUESTS: usize = 50_000;
/// Latency observations kept per service subject (a sliding window).
const LATENCY_WINDOW: usize = 4096;
/// Samples waiting for an observer.
const SAMPLE_QUEUE: usize = 8192;
/// Message samples taken per snapshot tick (250 ms), at most: 20,000 a second is more than
/// a live view can show or a history of 10,000 keep, and copying every message of a
/// million-a-second flood into the queue would cost the broker for nothing.
const SAMPLES_PER_TICK: i64 = 5_000;
/// Payload bytes copied into a sample.
pub const MAX_SAMPLE_PAYLOAD: usize = 64 * 1024;

/// Totals for one subject since start.
#[derive(Debug, Clone, Default)]
pub struct SubjectTotals {
    pub msgs: u64,
    pub bytes: u64,
    pub no_interest_msgs: u64,
    /// Messages that were replies to a tracked request.
    pub reply_msgs: u64,
    pub publishers: Vec<u64>,
    pub last_published: Option<SystemTime>,
}

/// A connection's counts for one subject since its last flush.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalCount {
    pub msgs: u64,
    pub bytes: u64,
    pub no_interest_msgs: u64,
    pub reply_msgs: u64,
}

/// Latency observations for one service subject.
#[derive(Debug, Clone, Default)]
pub struct LatencyWindow {
    pub requests: u64,
    pub replies: u64,
    pub timeouts: u64,
    /// The most recent round trips, oldest overwritten first.
    pub recent: Vec<Duration>,
    next: usize,
}

impl LatencyWindow {
    fn record(&mut self, rtt: Duration) {
        self.replies += 1;
        if self.recent.len() < LATENCY_WINDOW {
            self.recent.push(rtt);
        } else {
            self.recent[self.next] = rtt;
            self.next = (self.next + 1) % LATENCY_WINDOW;
        }
    }
}

struct PendingRequest {
    sent: Instant,
    subject: Box<[u8]>,
}

pub struct Tap {
    publisher: FeedPublisher,
    feed: Mutex<Option<Feed>>,
    sampling: AtomicBool,
    /// Samples still allowed until the next snapshot tick refills it (see
    /// [`SAMPLES_PER_TICK`]).
    sample_budget: AtomicI64,
    sample_seq: AtomicU64,
    subjects: Mutex<HashMap<Box<[u8]>, SubjectTotals>>,
    pub subjects_overflow: AtomicU64,
    tracking: AtomicBool,
    /// [`DEFAULT_REQUEST_TIMEOUT`] unless changed.
    request_timeout_millis: AtomicU64,
    pending_count: AtomicUsize,
    pending: Mutex<HashMap<Box<[u8]>, PendingRequest>>,
    latency: Mutex<HashMap<Box<[u8]>, LatencyWindow>>,
    /// The recording tap (record and replay, src/record/).
    pub recording: super::record_tap::RecordTap,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap").finish_non_exhaustive()
    }
}

impl Default for Tap {
    fn default() -> Self {
        Self::new()
    }
}

impl Tap {
    pub fn new() -> Self {
        let (publisher, feed) = crate::inspect::feed::channel(SAMPLE_QUEUE);
        Tap {
            publisher,
            feed: Mutex::new(Some(feed)),
            sampling: AtomicBool::new(false),
            sample_budget: AtomicI64::new(SAMPLES_PER_TICK),
            sample_seq: AtomicU64::new(0),
            subjects: Mutex::new(HashMap::new()),
            subjects_overflow: AtomicU64::new(0),
            tracking: AtomicBool::new(false),
            request_timeout_millis: AtomicU64::new(DEFAULT_REQUEST_TIMEOUT.as_millis() as u64),
            pending_count: AtomicUsize::new(0),
            pending: Mutex::new(HashMap::new()),
            latency: Mutex::new(HashMap::new()),
            recording: super::record_tap::RecordTap::default(),
        }
    }

    /// The observer's end of the feed; there is one, and the first caller gets it.
    pub fn take_feed(&self) -> Option<Feed> {
        self.feed.lock().take()
    }

    pub fn publisher(&self) -> &FeedPublisher {
        &self.publisher
    }

    pub fn event(&self, kind: EventKind) {
        self.publisher.push_event(SystemTime::now(), kind);
    }

    pub fn set_sampling(&self, on: bool) {
        self.sample_budget
            .store(SAMPLES_PER_TICK, Ordering::Relaxed);
        self.sampling.store(on, Ordering::Relaxed);
    }

    /// A new snapshot tick: the sample budget starts again.
    pub fn refill_samples(&self) {
        self.sample_budget
            .store(SAMPLES_PER_TICK, Ordering::Relaxed);
    }

    pub fn sampling(&self) -> bool {
        self.sampling.load(Ordering::Relaxed)
    }

    /// True when a sample of the next message would be taken (checked before copying).
    #[inline]
    pub fn wants_sample(&self) -> bool {
        self.sampling.load(Ordering::Relaxed)
            && self.sample_budget.load(Ordering::Relaxed) > 0
            && !self.publisher.samples_full()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sample(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        publisher_cid: u64,
        receivers: u32,
    ) {
        self.sample_budget.fetch_sub(1, Ordering::Relaxed);
        let seq = self.sample_seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.publisher.offer_sample(MessageSample {
            seq,
            time: SystemTime::now(),
            subject: subject.to_vec(),
            reply: reply.map(<[u8]>::to_vec),
            headers: headers.map(<[u8]>::to_vec),
            payload: payload[..payload.len().min(MAX_SAMPLE_PAYLOAD)].to_vec(),
            publisher_cid,
            receivers,
        });
    }

    /// Merges one connection's per-subject counts.
    pub fn merge_subjects<'a>(
        &self,
        publisher_cid: u64,
        counts: impl Iterator<Item = (&'a [u8], LocalCount)>,
    ) {
        let now = SystemTime::now();
        let mut subjects = self.subjects.lock();
        for (subject, count) in counts {
            let full = subjects.len() >= MAX_SUBJECTS;
            let totals = match subjects.get_mut(subject) {
                Some(t) => t,
                None if full => {
                    self.subjects_overflow
                        .fetch_add(count.msgs, Ordering::Relaxed);
                    continue;
                }
                None => subjects.entry(subject.into()).or_default(),
            };
            totals.msgs += count.msgs;
            totals.bytes += count.bytes;
            totals.no_interest_msgs += count.no_interest_msgs;
            totals.reply_msgs += count.reply_msgs;
            totals.last_published = Some(now);
            if !totals.publishers.contains(&publisher_cid)
                && totals.publishers.len() < MAX_PUBLISHERS_PER_SUBJECT
            {
                totals.publishers.push(publisher_cid);
            }
        }
    }

    /// A copy of every subject's totals.
    pub fn subject_totals(&self) -> Vec<(Box<[u8]>, SubjectTotals)> {
        self.subjects
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn set_latency_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
        if !on {
            self.pending.lock().clear();
            self.pending_count.store(0, Ordering::Relaxed);
        }
    }

    pub fn latency_tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    /// How long a request may wait for its reply before it counts as a timeout.
    pub fn set_request_timeout(&self, timeout: Duration) {
        let millis = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.request_timeout_millis.store(millis, Ordering::Relaxed);
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_millis.load(Ordering::Relaxed))
    }

    /// Called for every publish: while tracking, records requests and pairs replies.
    /// Returns whether this publish was the reply to a tracked request (the caller counts
    /// it with the subject's other counters).
    #[inline]
    pub fn track(&self, subject: &[u8], reply: Option<&[u8]>) -> bool {
        if !self.tracking.load(Ordering::Relaxed) {
            return false;
        }
        let replied = self.pending_count.load(Ordering::Relaxed) > 0 && self.pair_reply(subject);
        if let Some(reply) = reply {
            self.start_request(subject, reply);
        }
        replied
    }

    fn start_request(&self, subject: &[u8], reply: &[u8]) {
        let mut pending = self.pending.lock();
        if pending.len() >= MAX_PENDING_REQUESTS {
            return;
        }
        pending.insert(
            reply.into(),
            PendingRequest {
                sent: Instant::now(),
                subject: subject.into(),
            },
        );
        self.pending_count.store(pending.len(), Ordering::Relaxed);
        drop(pending);
        self.latency
            .lock()
            .entry(subject.into())
            .or_default()
            .requests += 1;
    }

    fn pair_reply(&self, subject: &[u8]) -> bool {
        let found = {
            let mut pending = self.pending.lock();
            let found = pending.remove(subject);
            self.pending_count.store(pending.len(), Ordering::Relaxed);
            found
        };
        if let Some(request) = found {
            let rtt = request.sent.elapsed();
            self.latency
                .lock()
                .entry(request.subject)
                .or_default()
                .record(rtt);
            return true;
        }
        false
    }

    /// Counts requests older than the request timeout as timeouts and forgets them.
    pub fn expire_requests(&self) {
        let mut expired: Vec<Box<[u8]>> = Vec::new();
        let timeout = self.request_timeout();
        {
            let mut pending = self.pending.lock();
            pending.retain(|_, r| {
                let keep = r.sent.elapsed() < timeout;
                if !keep {
                    expired.push(r.subject.clone());
                }
                keep
            });
            self.pending_count.store(pending.len(), Ordering::Relaxed);
        }
        if !expired.is_empty() {
            let mut latency = self.latency.lock();
            for subject in expired {
                latency.entry(subject).or_default().timeouts += 1;
            }
        }
    }

    pub fn latency_windows(&self) -> Vec<(Box<[u8]>, LatencyWindow)> {
        self.latency
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subjects_merge_and_overflow_is_counted() {
        let tap = Tap::new();
        let count = LocalCount {
            msgs: 2,
            bytes: 10,
            no_interest_msgs: 1,
            reply_msgs: 1,
        };
        tap.merge_subjects(7, [(&b"a.b"[..], count)].into_iter());
        tap.merge_subjects(8, [(&b"a.b"[..], count)].into_iter());
        let totals = tap.subject_totals();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].1.msgs, 4);
        assert_eq!(totals[0].1.no_interest_msgs, 2);
        assert_eq!(totals[0].1.reply_msgs, 2);
        assert_eq!(totals[0].1.publishers, vec![7, 8]);
    }

    #[test]
    fn requests_pair_with_replies_and_expire() {
        let tap = Tap::new();
        tap.track(b"svc", Some(b"_INBOX.1"));
        tap.track(b"other", None);
        assert!(!tap.track(b"_INBOX.1", None), "tracking was off");
        tap.track(b"svc", Some(b"_INBOX.2"));
        assert!(tap.latency_windows().is_empty(), "tracking was off");
        tap.set_latency_tracking(true);
        assert!(!tap.track(b"svc", Some(b"_INBOX.3")), "a request");
        assert!(tap.track(b"_INBOX.3", None), "its reply");
        assert!(
            !tap.track(b"_INBOX.3", None),
            "a second message is no reply"
        );
        tap.track(b"svc", Some(b"_INBOX.4"));
        let w = &tap.latency_windows()[0].1;
        assert_eq!((w.requests, w.replies, w.recent.len()), (2, 1, 1));
    }

    /// A service's delivery that names a reply subject (JetStream's `$JS.ACK.` on each
    /// message) is a request: the client's acknowledgement is its reply.
    #[test]
    fn an_acknowledgement_of_a_service_delivery_is_a_reply() {
        let tap = Tap::new();
        tap.set_latency_tracking(true);
        let ack = b"$JS.ACK.ORDERS.worker.1.7.7.1733100000000000000.0";
        assert!(!tap.track(b"orders.created", Some(ack)));
        assert!(
            tap.track(ack, Some(b"_INBOX.ackack")),
            "the ack answered it"
        );
    }

    #[test]
    fn samples_are_capped_per_tick() {
        let tap = Tap::new();
        let _feed = tap.take_feed();
        assert!(!tap.wants_sample(), "off until asked for");
        tap.set_sampling(true);
        let mut taken = 0;
        while tap.wants_sample() && taken < 2 * SAMPLES_PER_TICK {
            tap.sample(b"s", None, None, b"p", 1, 0);
            taken += 1;
        }
        // The queue (8,192) is larger than a tick's budget: the budget is what stopped it.
        assert_eq!(taken, SAMPLES_PER_TICK);
        tap.refill_samples();
        assert!(tap.wants_sample(), "a new tick allows samples again");
    }

    #[test]
    fn the_request_timeout_is_configurable() {
        let tap = Tap::new();
        assert_eq!(tap.request_timeout(), DEFAULT_REQUEST_TIMEOUT);
        tap.set_latency_tracking(true);
        tap.set_request_timeout(Duration::from_millis(1));
        tap.track(b"svc", Some(b"_INBOX.9"));
        std::thread::sleep(Duration::from_millis(5));
        tap.expire_requests();
        let w = &tap.latency_windows()[0].1;
        assert_eq!((w.requests, w.timeouts), (1, 1));
        tap.track(b"_INBOX.9", None);
        assert_eq!(
            tap.latency_windows()[0].1.replies,
            0,
            "expired, never paired"
        );
    }
}
