//! Replays a recording in order, keeping the recorded gaps between messages divided by the
//! speed (or none at `max`), through any `Publisher`. A `ReplayControl` pauses, resumes,
//! stops and changes speed while it runs, and reports progress. Timing uses tokio's clock,
//! so tests run it on paused (virtual) time.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::format::{Message, Record};
use super::reader::{OpenError, Reader, Tail};
use super::select::Selection;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Speed {
    /// Recorded gaps divided by this factor (1 = real time).
    Factor(f64),
    /// No waiting at all.
    Max,
}

/// A replay speed that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("speed {0:?} is not a positive number or \"max\"")]
pub struct SpeedError(String);

impl std::str::FromStr for Speed {
    type Err = SpeedError;

    fn from_str(s: &str) -> Result<Self, SpeedError> {
        if s.trim().eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let t = s.trim().trim_end_matches(['x', 'X']);
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
            _ => Err(SpeedError(s.to_string())),
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(x) => write!(f, "{x}x"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub speed: Speed,
    pub selection: Selection,
    /// Passes over the recording; 0 repeats until stopped.
    pub loops: u32,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            speed: Speed::Factor(1.0),
            selection: Selection::default(),
            loops: 1,
        }
    }
}

/// Where replayed messages go. `subject` is the (possibly remapped) subject to publish to.
pub trait Publisher: Send {
    fn publish(
        &mut self,
        subject: &[u8],
        message: &Message,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
    /// Waits until everything published has been handed to the server.
    fn flush(&mut self) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// This message can't be sent (e.g. a subject the client library refuses); skipped.
    #[error("message skipped: {0}")]
    Skip(String),
    /// The connection failed; the replay stops.
    #[error("{0}")]
    Fatal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error("reading the recording: {0}")]
    Io(#[from] std::io::Error),
    #[error("publishing: {0}")]
    Publish(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReplayState {
    Running,
    Paused,
    Stopped,
    Finished,
}

#[derive(Debug, Clone, Copy)]
struct Wanted {
    paused: bool,
    stopped: bool,
    speed: Speed,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    skipped: AtomicU64,
    loop_index: AtomicU64,
    position_ns: AtomicU64,
    total: AtomicU64,
    span_ns: AtomicU64,
    finished: std::sync::atomic::AtomicBool,
}

/// Steers a running replay and reads its progress; cheap to clone.
#[derive(Debug, Clone)]
pub struct ReplayControl {
    wanted: Arc<watch::Sender<Wanted>>,
    counters: Arc<Counters>,
    started: Instant,
}

/// A replay's progress.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub state: ReplayState,
    /// Messages published, over all passes.
    pub sent: u64,
    /// Messages the publisher could not send (skipped).
    pub skipped: u64,
    /// Selected messages in one pass.
    pub total: u64,
    /// Current pass (0-based) and passes asked for (0: until stopped).
    pub loop_index: u64,
    pub loops: u32,
    /// Recorded time of the last message sent, from the pass's first message.
    pub position_ns: u64,
    /// Recorded time from the first to the last selected message.
    pub span_ns: u64,
    pub elapsed: Duration,
    /// Estimated time to the end (unknown when looping forever or before any rate is known).
    pub eta: Option<Duration>,
    pub speed: Speed,
}

impl ReplayControl {
    pub fn new(speed: Speed) -> Self {
        let (tx, _) = watch::channel(Wanted {
            paused: false,
            stopped: false,
            speed,
        });
        ReplayControl {
            wanted: Arc::new(tx),
            counters: Arc::new(Counters::default()),
            started: Instant::now(),
        }
    }

    pub fn pause(&self) {
        self.wanted.send_modify(|w| w.paused = true);
    }

    pub fn resume(&self) {
        self.wanted.send_modify(|w| w.paused = false);
    }

    pub fn stop(&self) {
        self.wanted.send_modify(|w| w.stopped = true);
    }

    pub fn set_speed(&self, speed: Speed) {
        self.wanted.send_modify(|w| w.speed = speed);
    }

    pub fn progress(&self, loops: u32) -> Progress {
        let c = &self.counters;
        let w = *self.wanted.borrow();
        let sent = c.sent.load(Ordering::Relaxed);
        let skipped = c.skipped.load(Ordering::Relaxed);
        let total = c.total.load(Ordering::Relaxed);
        let loop_index = c.loop_index.load(Ordering::Relaxed);
        let position_ns = c.position_ns.load(Ordering::Relaxed);
        let span_ns = c.span_ns.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let state = if c.finished.load(Ordering::Relaxed) {
            if w.stopped {
                ReplayState::Stopped
            } else {
                ReplayState::Finished
            }
        } else if w.paused {
            ReplayState::Paused
        } else {
            ReplayState::Running
        };
        let eta = (loops > 0).then(|| {
            let passes_left = u64::from(loops).saturating_sub(loop_index + 1);
            match w.speed {
                Speed::Factor(f) => {
                    let left = span_ns.saturating_sub(position_ns) + passes_left * span_ns;
                    Some(Duration::from_secs_f64(left as f64 / 1e9 / f))
                }
                Speed::Max => {
                    let done = sent + skipped;
                    let left = (total * u64::from(loops)).saturating_sub(done);
                    (done > 0).then(|| elapsed.mul_f64(left as f64 / done as f64))
                }
            }
        });
        Progress {
            state,
            sent,
            skipped,
            total,
            loop_index,
            loops,
            position_ns,
            span_ns,
            elapsed,
            eta: eta.flatten(),
            speed: w.speed,
        }
    }
}

/// How a replay ended.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayOutcome {
    pub sent: u64,
    pub skipped: u64,
    /// Selected messages in one pass.
    pub total: u64,
    /// Passes completed.
    pub loops_done: u64,
    /// True when stopped before the end.
    pub stopped: bool,
    pub elapsed: Duration,
    #[serde(skip)]
    pub tail: Option<Tail>,
}

/// Counts the selected messages of one pass and their recorded time span.
pub fn scan(path: &Path, selection: &Selection) -> Result<(u64, u64, Option<Tail>), OpenError> {
    let mut reader = Reader::open(path)?;
    let (mut count, mut first, mut last) = (0u64, None, 0u64);
    while let Some(record) = reader.next_record()? {
        if let Record::Message(m) = record {
            if selection.wants(&m.subject) {
                count += 1;
                let f = *first.get_or_insert(m.time_ns);
                last = last.max(m.time_ns.saturating_sub(f));
            }
        }
    }
    Ok((count, last, reader.tail().cloned()))
}

/// Replays `path` through `publisher` until the end, a stop, or a publish failure.
pub async fn replay<P: Publisher>(
    path: &Path,
    opts: &ReplayOptions,
    publisher: &mut P,
    control: &ReplayControl,
) -> Result<ReplayOutcome, ReplayError> {
    let result = run(path, opts, publisher, control).await;
    control.counters.finished.store(true, Ordering::Relaxed);
    result
}

/// Starts a replay on the current tokio runtime: the GUI's entry point.
pub fn spawn_replay<P: Publisher + 'static>(
    path: PathBuf,
    opts: ReplayOptions,
    mut publisher: P,
) -> (
    ReplayControl,
    tokio::task::JoinHandle<Result<ReplayOutcome, ReplayError>>,
) {
    let control = ReplayControl::new(opts.speed);
    let c = control.clone();
    let task = tokio::spawn(async move { replay(&path, &opts, &mut publisher, &c).await });
    (control, task)
}

async fn run<P: Publisher>(
    path: &Path,
    opts: &ReplayOptions,
    publisher: &mut P,
    control: &ReplayControl,
) -> Result<ReplayOutcome, ReplayError> {
    let (total, span, tail) = scan(path, &opts.selection)?;
    let c = &control.counters;
    c.total.store(total, Ordering::Relaxed);
    c.span_ns.store(span, Ordering::Relaxed);
    let started = Instant::now();
    let mut wanted_rx = control.wanted.subscribe();
    let mut stopped = false;
    let mut pass = 0u64;
    'passes: while opts.loops == 0 || pass < u64::from(opts.loops) {
        if total == 0 {
            break;
        }
        c.loop_index.store(pass, Ordering::Relaxed);
        c.position_ns.store(0, Ordering::Relaxed);
        let mut reader = Reader::open(path)?;
        let mut first: Option<u64> = None;
        // Recorded position (ns from the pass's first message) that `anchor_at` stands for.
        let mut anchor_rec = 0u64;
        let mut anchor_at = Instant::now();
        let mut position = 0u64;
        while let Some(record) = reader.next_record()? {
            let Record::Message(m) = record else { continue };
            if !opts.selection.wants(&m.subject) {
                continue;
            }
            let f = *first.get_or_insert(m.time_ns);
            // Out-of-order times (several publishing threads) send at once, in file order.
            position = position.max(m.time_ns.saturating_sub(f));
            loop {
                let w = *wanted_rx.borrow_and_update();
                if w.stopped {
                    stopped = true;
                    break 'passes;
                }
                if w.paused {
                    if wanted_rx.changed().await.is_err() {
                        stopped = true;
                        break 'passes;
                    }
                    // Resume from here: the gap to the next message starts over.
                    anchor_rec = c.position_ns.load(Ordering::Relaxed);
                    anchor_at = Instant::now();
                    continue;
                }
                let Speed::Factor(speed) = w.speed else { break };
                let gap = position.saturating_sub(anchor_rec) as f64 / speed;
                let due = anchor_at + Duration::from_nanos(gap.min(u64::MAX as f64) as u64);
                if Instant::now() >= due {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => break,
                    changed = wanted_rx.changed() => {
                        if changed.is_err() {
                            stopped = true;
                            break 'passes;
                        }
                        // A new speed counts from the last message sent.
                        anchor_rec = c.position_ns.load(Ordering::Relaxed);
                        anchor_at = Instant::now();
                    }
                }
            }
            let subject = opts.selection.target(&m.subject);
            match publisher.publish(&subject, &m).await {
                Ok(()) => c.sent.fetch_add(1, Ordering::Relaxed),
                Err(PublishError::Skip(_)) => c.skipped.fetch_add(1, Ordering::Relaxed),
                Err(PublishError::Fatal(e)) => {
                    let _ = publisher.flush().await;
                    return Err(ReplayError::Publish(e));
                }
            };
            c.position_ns.store(position, Ordering::Relaxed);
            if c.sent.load(Ordering::Relaxed).is_multiple_of(1024) {
                // Let other tasks (progress, signals) run during a long burst.
                tokio::task::yield_now().await;
            }
        }
        pass += 1;
    }
    publisher
        .flush()
        .await
        .map_err(|e| ReplayError::Publish(e.to_string()))?;
    Ok(ReplayOutcome {
        sent: c.sent.load(Ordering::Relaxed),
        skipped: c.skipped.load(Ordering::Relaxed),
        total,
        loops_done: pass,
        stopped,
        elapsed: started.elapsed(),
        tail,
    })
}
