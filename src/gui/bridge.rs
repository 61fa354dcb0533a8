//! The only module that knows both the feed and egui. Each frame it takes the newest
//! snapshot, the new events, and as many samples as fit in a time budget; it never blocks.
//! The feed's waker asks egui for a repaint when the engine has something new.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::inspect::Feed;

use super::prepare::{self, Preparer};
use super::state::{MessageRow, UiState};

/// Time a frame may spend taking a snapshot and samples together.
pub const SAMPLE_BUDGET: Duration = Duration::from_millis(4);
/// Time a frame spends on samples even after a slow snapshot (so that they keep moving).
pub const MIN_SAMPLE_BUDGET: Duration = Duration::from_millis(1);
/// Samples taken per batch (the budget is checked between batches).
const SAMPLE_BATCH: usize = 512;
/// While samples keep arriving, look again this soon (the feed wakes only on snapshots).
pub const SAMPLE_POLL: Duration = Duration::from_millis(100);
/// How soon a snapshot is shown while traffic flows (repaints coalesced to ~30 fps).
pub const BUSY_REPAINT: Duration = Duration::from_millis(30);
/// How soon a snapshot is shown while the broker is quiet: the views then change only by
/// their clocks (uptime), so one frame a second instead of four keeps an idle window idle.
pub const QUIET_REPAINT: Duration = Duration::from_secs(1);

pub struct Bridge {
    feed: Feed,
    /// The last snapshot showed no traffic and nothing else came: wake the UI less often.
    quiet: Arc<AtomicBool>,
    /// What the last pump spent taking a snapshot (zero without one), and samples.
    pub last_snapshot_time: Duration,
    pub last_samples_time: Duration,
    /// Prepares large snapshots off the UI thread (started with the first one).
    preparer: Option<Preparer>,
    ctx: egui::Context,
}

/// What one pump took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pumped {
    pub snapshot: bool,
    pub events: usize,
    pub samples: usize,
    /// The budget ran out with samples still waiting.
    pub more_waiting: bool,
}

/// What is left for samples after taking a snapshot: the frames that take one are the
/// slowest, and samples the view does not take in time are dropped (and counted) by the
/// broker, never waited for.
pub fn sample_budget(snapshot_time: Duration) -> Duration {
    SAMPLE_BUDGET
        .saturating_sub(snapshot_time)
        .max(MIN_SAMPLE_BUDGET)
}

impl Bridge {
    /// Connects the feed's waker to egui's repaint, coalesced: at most one frame per
    /// [`BUSY_REPAINT`] while traffic flows, one per [`QUIET_REPAINT`] while it does not.
    pub fn new(feed: Feed, egui_ctx: &egui::Context) -> Self {
        let ctx = egui_ctx.clone();
        let quiet = Arc::new(AtomicBool::new(false));
        let quiet_for_waker = quiet.clone();
        feed.set_waker(move || {
            let delay = if quiet_for_waker.load(Ordering::Relaxed) {
                QUIET_REPAINT
            } else {
                BUSY_REPAINT
            };
            ctx.request_repaint_after(delay);
        });
        Self {
            feed,
            quiet,
            last_snapshot_time: Duration::ZERO,
            last_samples_time: Duration::ZERO,
            preparer: None,
            ctx: egui_ctx.clone(),
        }
    }

    /// The worker for large snapshots, started on first use (None if it can't be).
    fn preparer(&mut self) -> Option<&mut Preparer> {
        if self.preparer.is_none() {
            let ctx = self.ctx.clone();
            self.preparer = Preparer::spawn(move || ctx.request_repaint());
        }
        self.preparer.as_mut()
    }

    /// Is the broker quiet (no traffic in the last snapshot, nothing else new)?
    pub fn quiet(&self) -> bool {
        self.quiet.load(Ordering::Relaxed)
    }

    /// Gives the feed back (to park a source while another one is shown).
    pub fn into_feed(self) -> Feed {
        self.feed
    }

    /// Moves what the engine has into `state`, within the sample budget.
    pub fn pump(&mut self, state: &mut UiState) -> Pumped {
        let mut out = Pumped::default();
        let started = Instant::now();
        if let Some(snap) = self.feed.latest() {
            // Large ones go to the worker; so does any while it is busy (order is kept).
            let worker_busy = self.preparer.as_ref().is_some_and(Preparer::busy);
            match (prepare::is_large(&snap) || worker_busy)
                .then(|| self.preparer())
                .flatten()
            {
                Some(preparer) => preparer.submit(snap),
                None => {
                    state.apply_snapshot(snap);
                    out.snapshot = true;
                }
            }
        }
        if let Some(preparer) = &mut self.preparer {
            if let Some(prepared) = preparer.poll() {
                let (replaced, structure) = state.apply_prepared(prepared);
                preparer.recycle(replaced, structure);
                out.snapshot = true;
            }
        }
        let samples_started = Instant::now();
        self.last_snapshot_time = samples_started - started;
        let events = self.feed.events_since(state.last_event_seq);
        out.events = events.len();
        state.push_events(events);
        let deadline = samples_started + sample_budget(self.last_snapshot_time);
        loop {
            let messages = &mut state.messages;
            let n = self.feed.take_samples(SAMPLE_BATCH, |sample| {
                messages.push(MessageRow::from_sample(sample));
            });
            out.samples += n;
            if n < SAMPLE_BATCH {
                break;
            }
            if Instant::now() >= deadline {
                out.more_waiting = true;
                break;
            }
        }
        state.messages.flush_evicted();
        self.last_samples_time = samples_started.elapsed();
        state.dropped_samples = self
            .feed
            .dropped_samples()
            .max(state.snapshot.drops.samples);
        if out.snapshot || out.events > 0 || out.samples > 0 {
            let rates = &state.snapshot.rates;
            let quiet = out.events == 0
                && out.samples == 0
                && rates.in_msgs_per_sec == 0.0
                && rates.out_msgs_per_sec == 0.0;
            self.quiet.store(quiet, Ordering::Relaxed);
        }
        out
    }

    /// Asks for the next frame when more data is (probably) on its way: right away when the
    /// budget ran out, after [`SAMPLE_POLL`] while samples flow. Otherwise the waker does it.
    pub fn schedule(&self, ctx: &egui::Context, pumped: Pumped) {
        if pumped.more_waiting {
            ctx.request_repaint_after(Duration::from_millis(16));
        } else if pumped.samples > 0 {
            ctx.request_repaint_after(SAMPLE_POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::feed;
    use crate::inspect::snapshot::{EventKind, MessageSample, Snapshot};
    use std::time::SystemTime;

    /// A feed, the bridge reading it and an empty UI state.
    fn setup(sample_capacity: usize) -> (feed::FeedPublisher, Bridge, UiState) {
        let (tx, rx) = feed::channel(sample_capacity);
        let bridge = Bridge::new(rx, &egui::Context::default());
        (tx, bridge, UiState::new())
    }

    fn sample(seq: u64) -> MessageSample {
        MessageSample {
            seq,
            time: SystemTime::UNIX_EPOCH,
            subject: b"a.b".to_vec(),
            reply: None,
            headers: None,
            payload: vec![1, 2, 3],
            publisher_cid: 1,
            receivers: 1,
        }
    }

    #[test]
    fn pump_takes_snapshot_events_and_samples() {
        let (tx, mut bridge, mut state) = setup(64);
        tx.publish_snapshot(Snapshot {
            subscriptions: 3,
            ..Default::default()
        });
        tx.push_event(
            SystemTime::UNIX_EPOCH,
            EventKind::SlowConsumer {
                cid: 1,
                name: String::new(),
            },
        );
        for seq in 1..=10 {
            tx.offer_sample(sample(seq));
        }
        let pumped = bridge.pump(&mut state);
        assert!(pumped.snapshot);
        assert_eq!(pumped.events, 1);
        assert_eq!(pumped.samples, 10);
        assert_eq!(state.snapshot.subscriptions, 3);
        assert_eq!(state.messages.len(), 10);
        let again = bridge.pump(&mut state);
        assert_eq!(again, Pumped::default(), "nothing new, nothing taken");
        assert_eq!(state.events.len(), 1);
    }

    #[test]
    fn a_quiet_broker_is_woken_for_less_often() {
        let (tx, mut bridge, mut state) = setup(64);
        tx.publish_snapshot(Snapshot::default());
        bridge.pump(&mut state);
        assert!(bridge.quiet(), "no traffic, nothing new");
        let mut busy = Snapshot::default();
        busy.rates.in_msgs_per_sec = 5.0;
        tx.publish_snapshot(busy);
        bridge.pump(&mut state);
        assert!(!bridge.quiet(), "traffic");
        tx.publish_snapshot(Snapshot::default());
        tx.offer_sample(sample(1));
        bridge.pump(&mut state);
        assert!(!bridge.quiet(), "a sample is news");
    }

    #[test]
    fn a_large_snapshot_is_prepared_off_the_ui_thread() {
        use crate::inspect::snapshot::SubjectStat;
        let (tx, mut bridge, mut state) = setup(64);
        let subjects: Vec<SubjectStat> = (0..prepare::OFF_THREAD_AT)
            .map(|i| SubjectStat {
                subject: format!("s{}.n{i}", i % 10),
                msgs: 1,
                bytes: 1,
                msgs_per_sec: i as f64,
                subscribers: 1,
                publishers: vec![1],
                receivers: vec![2],
                ..Default::default()
            })
            .collect();
        tx.publish_snapshot(Snapshot {
            subjects: subjects.clone(),
            ..Default::default()
        });
        crate::testkit::wait_until(
            "the snapshot through the worker",
            Duration::from_secs(10),
            || bridge.pump(&mut state).snapshot,
        );
        assert!(bridge.preparer.is_some(), "it went through the worker");
        assert_eq!(state.snapshot.subjects.len(), prepare::OFF_THREAD_AT);
        assert_eq!(
            state.tree,
            crate::gui::model::subject_tree::build_tree(&subjects)
        );
        assert_eq!(
            state.subjects_by_rate,
            crate::gui::model::subject_tree::by_rate(&subjects),
            "busiest first"
        );
        assert!(
            state.snapshot.subjects[state.subjects_by_rate[0]].msgs_per_sec > 1_000.0,
            "the busiest band first"
        );
    }

    #[test]
    fn a_snapshot_leaves_less_time_for_samples() {
        assert_eq!(sample_budget(Duration::ZERO), SAMPLE_BUDGET);
        assert_eq!(
            sample_budget(Duration::from_millis(1)),
            SAMPLE_BUDGET - Duration::from_millis(1)
        );
        assert_eq!(sample_budget(Duration::from_millis(30)), MIN_SAMPLE_BUDGET);
    }

    #[test]
    fn a_flood_is_taken_in_bounded_steps() {
        let (tx, mut bridge, mut state) = setup(100_000);
        for seq in 1..=60_000 {
            tx.offer_sample(sample(seq));
        }
        let mut frames = 0;
        let mut taken = 0;
        loop {
            let p = bridge.pump(&mut state);
            taken += p.samples;
            frames += 1;
            if !p.more_waiting {
                break;
            }
        }
        assert_eq!(taken, 60_000);
        assert!(frames >= 1);
        assert_eq!(state.messages.len(), crate::gui::state::MESSAGE_HISTORY);
    }
}
