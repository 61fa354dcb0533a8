//! The hand-over from the engine's sampler to an observer (the GUI): the newest snapshot
//! (latest wins), message samples through a bounded queue, and the event log. The producer
//! never waits: what an observer does not take in time is dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use super::snapshot::{BrokerEvent, MessageSample, Snapshot};

/// How many events the log keeps for late readers.
pub const EVENT_LOG_CAPACITY: usize = 1000;

type Waker = Box<dyn Fn() + Send + Sync>;

struct Shared {
    snapshot: Mutex<(u64, Option<Arc<Snapshot>>)>,
    events: Mutex<VecDeque<BrokerEvent>>,
    next_event_seq: AtomicU64,
    dropped_events: AtomicU64,
    dropped_samples: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

/// The engine's side.
#[derive(Clone)]
pub struct FeedPublisher {
    shared: Arc<Shared>,
    samples: Sender<MessageSample>,
}

/// The observer's side.
pub struct Feed {
    shared: Arc<Shared>,
    samples: Receiver<MessageSample>,
    seen_generation: u64,
}

/// A connected publisher and feed; `sample_capacity` bounds the samples in flight.
pub fn channel(sample_capacity: usize) -> (FeedPublisher, Feed) {
    let (tx, rx) = crossbeam_channel::bounded(sample_capacity);
    let shared = Arc::new(Shared {
        snapshot: Mutex::new((0, None)),
        events: Mutex::new(VecDeque::new()),
        next_event_seq: AtomicU64::new(1),
        dropped_events: AtomicU64::new(0),
        dropped_samples: AtomicU64::new(0),
        waker: Mutex::new(None),
    });
    (
        FeedPublisher {
            shared: shared.clone(),
            samples: tx,
        },
        Feed {
            shared,
            samples: rx,
            seen_generation: 0,
        },
    )
}

impl FeedPublisher {
    /// Replaces the newest snapshot and wakes the observer.
    pub fn publish_snapshot(&self, snapshot: Snapshot) {
        {
            let mut slot = self.shared.snapshot.lock();
            slot.0 += 1;
            slot.1 = Some(Arc::new(snapshot));
        }
        self.wake();
    }

    /// Offers a sample; dropped (and counted) when the observer is behind.
    pub fn offer_sample(&self, sample: MessageSample) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.samples.try_send(sample)
        {
            self.shared.dropped_samples.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// True when a sample would be dropped anyway (skip the copy).
    pub fn samples_full(&self) -> bool {
        self.samples.is_full()
    }

    /// Appends an event to the log (the oldest falls out when full) and returns its seq.
    pub fn push_event(&self, time: std::time::SystemTime, kind: super::snapshot::EventKind) -> u64 {
        let seq = self.shared.next_event_seq.fetch_add(1, Ordering::Relaxed);
        let mut log = self.shared.events.lock();
        if log.len() >= EVENT_LOG_CAPACITY {
            log.pop_front();
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
        log.push_back(BrokerEvent { seq, time, kind });
        seq
    }

    pub fn dropped_samples(&self) -> u64 {
        self.shared.dropped_samples.load(Ordering::Relaxed)
    }

    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_events.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        if let Some(waker) = &*self.shared.waker.lock() {
            waker();
        }
    }
}

impl Feed {
    /// Called when new data arrives (e.g. egui's `request_repaint`).
    pub fn set_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        *self.shared.waker.lock() = Some(Box::new(waker));
    }

    /// The newest snapshot, if it changed since the last call.
    pub fn latest(&mut self) -> Option<Arc<Snapshot>> {
        let slot = self.shared.snapshot.lock();
        if slot.0 == self.seen_generation {
            return None;
        }
        self.seen_generation = slot.0;
        slot.1.clone()
    }

    /// Up to `max` samples waiting, oldest first.
    pub fn drain_samples(&mut self, max: usize) -> Vec<MessageSample> {
        self.samples.try_iter().take(max).collect()
    }

    /// Hands up to `max` waiting samples to `each`, oldest first, and says how many: no
    /// batch is collected in between (the UI takes thousands a frame under load).
    pub fn take_samples(&mut self, max: usize, mut each: impl FnMut(MessageSample)) -> usize {
        let mut taken = 0;
        for sample in self.samples.try_iter().take(max) {
            each(sample);
            taken += 1;
        }
        taken
    }

    /// Events with a sequence number above `seq`, oldest first.
    pub fn events_since(&self, seq: u64) -> Vec<BrokerEvent> {
        self.shared
            .events
            .lock()
            .iter()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect()
    }

    pub fn dropped_samples(&self) -> u64 {
        self.shared.dropped_samples.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inspect::snapshot::EventKind;
    use std::time::SystemTime;

    #[test]
    fn latest_snapshot_wins_and_is_seen_once() {
        let (tx, mut rx) = channel(4);
        assert!(rx.latest().is_none());
        for n in 0..3 {
            tx.publish_snapshot(Snapshot {
                subscriptions: n,
                ..Default::default()
            });
        }
        assert_eq!(rx.latest().unwrap().subscriptions, 2);
        assert!(rx.latest().is_none());
    }

    #[test]
    fn samples_are_bounded_and_drops_counted() {
        let (tx, mut rx) = channel(2);
        for seq in 0..5 {
            tx.offer_sample(MessageSample {
                seq,
                time: SystemTime::UNIX_EPOCH,
                subject: b"a".to_vec(),
                reply: None,
                headers: None,
                payload: vec![],
                publisher_cid: 1,
                receivers: 0,
            });
        }
        let mut seqs = Vec::new();
        assert_eq!(rx.take_samples(1, |s| seqs.push(s.seq)), 1);
        assert_eq!(rx.drain_samples(10).len(), 1);
        assert_eq!(seqs, [0], "oldest first");
        assert_eq!(rx.dropped_samples(), 3);
    }

    #[test]
    fn events_since_returns_newer_only() {
        let (tx, rx) = channel(1);
        let first = tx.push_event(
            SystemTime::UNIX_EPOCH,
            EventKind::SlowConsumer {
                cid: 1,
                name: String::new(),
            },
        );
        tx.push_event(
            SystemTime::UNIX_EPOCH,
            EventKind::SlowConsumer {
                cid: 2,
                name: String::new(),
            },
        );
        let newer = rx.events_since(first);
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].seq, first + 1);
    }
}
