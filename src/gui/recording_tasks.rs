//! Work the Record & replay view hands off the UI thread, so the window never waits on a
//! disk, a dialog or the network: starting and stopping a recording (creating the file,
//! flushing and syncing it), reading a recording for its summary, plot and message list,
//! the native file dialogs, and replays on the app's tokio runtime. Results come back by
//! value through channels; each finished piece of work asks for a repaint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};

use super::model::recording::{row_from_message, RateHistogram, EXTENSION};
use super::state::MessageRow;
use crate::connect::ConnectArgs;
use crate::record::nats::NatsPublisher;
use crate::record::replay::{self, ReplayOutcome};
use crate::record::summary::{self, Summary};
use crate::record::{ReplayControl, ReplayOptions};

/// Messages of a recording loaded into the browse list; the rest are summarized only.
pub const BROWSE_LIMIT: usize = 100_000;
/// How long a replay waits for its target server to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One result of work on another thread, taken once.
pub struct Pending<T> {
    rx: Receiver<T>,
}

impl<T: Send + 'static> Pending<T> {
    /// Runs `work` on a new thread; `wake` is called when the result is ready.
    pub fn thread(
        name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        // A thread that can't be started drops `tx`: `poll` then reports it.
        let _ = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _ = tx.send(work());
                wake();
            });
        Pending { rx }
    }

    /// The result once it is there; an error if the work ended without one.
    pub fn poll(&self) -> Option<Result<T, String>> {
        match self.rx.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the background task stopped".into())),
        }
    }
}

/// What the view shows of an opened recording.
pub struct Loaded {
    pub path: PathBuf,
    pub file_bytes: u64,
    pub summary: Summary,
    pub rates: RateHistogram,
    /// The first `BROWSE_LIMIT` messages, as rows of the message inspector.
    pub rows: Vec<MessageRow>,
    /// True when the recording holds more messages than `rows`.
    pub truncated: bool,
}

/// Reads a recording in one pass: its summary, its rate histogram and its first `limit`
/// messages. `read_bytes` follows the file offset for a progress bar; `cancel` stops early.
pub fn load(
    path: &Path,
    limit: usize,
    read_bytes: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<Loaded, String> {
    let file_bytes = std::fs::metadata(path)
        .map_err(|e| format!("can't open {}: {e}", path.display()))?
        .len();
    let mut rates = RateHistogram::default();
    let mut rows = Vec::new();
    let mut seen = 0u64;
    let summary = summary::summarize_with(path, |m, offset| {
        seen += 1;
        rates.add(m.time_ns);
        if rows.len() < limit {
            rows.push(row_from_message(seen, m));
        }
        read_bytes.store(offset, Ordering::Relaxed);
        !cancel.load(Ordering::Relaxed)
    })
    .map_err(|e| format!("can't read {}: {e}", path.display()))?;
    if cancel.load(Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    read_bytes.store(file_bytes, Ordering::Relaxed);
    let truncated = summary.messages > rows.len() as u64;
    Ok(Loaded {
        path: path.to_path_buf(),
        file_bytes,
        summary,
        rates,
        rows,
        truncated,
    })
}

/// A recording being read on its own thread.
pub struct LoadJob {
    pub path: PathBuf,
    read_bytes: Arc<AtomicU64>,
    file_bytes: u64,
    cancel: Arc<AtomicBool>,
    result: Pending<Result<Loaded, String>>,
}

impl LoadJob {
    pub fn spawn(path: PathBuf, wake: impl Fn() + Send + 'static) -> Self {
        let read_bytes = Arc::new(AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let (r, c, p) = (read_bytes.clone(), cancel.clone(), path.clone());
        let result = Pending::thread("recording-loader", wake, move || {
            load(&p, BROWSE_LIMIT, &r, &c)
        });
        LoadJob {
            path,
            read_bytes,
            file_bytes,
            cancel,
            result,
        }
    }

    /// Share of the file read, 0..=1.
    pub fn fraction(&self) -> f32 {
        if self.file_bytes == 0 {
            return 0.0;
        }
        (self.read_bytes.load(Ordering::Relaxed) as f64 / self.file_bytes as f64).clamp(0.0, 1.0)
            as f32
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn poll(&self) -> Option<Result<Loaded, String>> {
        self.result.poll().map(Result::flatten)
    }
}

/// A replay running on the app's runtime.
pub struct ReplayJob {
    pub control: ReplayControl,
    /// Passes asked for (0: until stopped), for the progress.
    pub loops: u32,
    /// Where it goes, for the view.
    pub target: String,
    result: Pending<Result<ReplayOutcome, String>>,
}

impl ReplayJob {
    /// Connects to `target` and replays `path` there. The control works from the start:
    /// a stop before the connection is up ends the replay before its first message.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        path: PathBuf,
        opts: ReplayOptions,
        target: ConnectArgs,
        wake: impl Fn() + Send + 'static,
    ) -> Self {
        let control = ReplayControl::new(opts.speed);
        let loops = opts.loops;
        let label = target.server.clone();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let c = control.clone();
        runtime.spawn(async move {
            let result = run_replay(&path, &opts, &target, &c).await;
            let _ = tx.send(result);
            wake();
        });
        ReplayJob {
            control,
            loops,
            target: label,
            result: Pending { rx },
        }
    }

    pub fn poll(&self) -> Option<Result<ReplayOutcome, String>> {
        self.result.poll().map(Result::flatten)
    }
}

async fn run_replay(
    path: &Path,
    opts: &ReplayOptions,
    target: &ConnectArgs,
    control: &ReplayControl,
) -> Result<ReplayOutcome, String> {
    let client = tokio::time::timeout(CONNECT_TIMEOUT, target.connect("switchboard-replay", None))
        .await
        .map_err(|_| format!("{} did not answer in time", target.server))?
        .map_err(|e| e.to_string())?;
    let mut publisher = NatsPublisher::new(client);
    replay::replay(path, opts, &mut publisher, control)
        .await
        .map_err(|e| e.to_string())
}

/// Which native dialog to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogKind {
    /// Where to write a new recording.
    Save,
    /// A recording to open.
    Open,
}

/// Shows a native file dialog on its own thread (through the desktop portal). `None` when
/// cancelled, or when the desktop has no portal: the typed path field is there for that.
pub fn file_dialog(
    kind: DialogKind,
    start: Option<PathBuf>,
    wake: impl Fn() + Send + 'static,
) -> Pending<Option<PathBuf>> {
    Pending::thread("file-dialog", wake, move || {
        let mut dialog = rfd::FileDialog::new().add_filter("switchboard recording", &[EXTENSION]);
        if let Some(start) = &start {
            if let Some(dir) = start.parent().filter(|d| d.is_dir()) {
                dialog = dialog.set_directory(dir);
            }
            if let Some(name) = start.file_name() {
                dialog = dialog.set_file_name(name.to_string_lossy());
            }
        }
        match kind {
            DialogKind::Save => dialog.save_file(),
            DialogKind::Open => dialog.pick_file(),
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::format::{Message, Meta};
    use crate::record::writer::RecordWriter;

    fn write(path: &Path, n: u64) {
        let mut w = RecordWriter::create(path, &Meta::default()).unwrap();
        for i in 0..n {
            w.write_message(&Message {
                time_ns: 1_000_000_000 + i * 1_000_000,
                subject: format!("s.{}", i % 3).into_bytes(),
                payload: vec![b'x'; 10],
                ..Message::default()
            })
            .unwrap();
        }
        w.finish(0).unwrap();
    }

    #[test]
    fn load_summarizes_plots_and_keeps_a_bounded_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rec");
        write(&path, 50);
        let (read, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
        let loaded = load(&path, 20, &read, &cancel).unwrap();
        assert_eq!(loaded.summary.messages, 50);
        assert_eq!(loaded.rates.total(), 50);
        assert_eq!(loaded.rows.len(), 20);
        assert!(loaded.truncated);
        assert_eq!(loaded.rows[0].seq, 1);
        assert_eq!(loaded.rows[19].subject, "s.1");
        assert_eq!(read.load(Ordering::Relaxed), loaded.file_bytes);
        let all = load(&path, 100, &read, &cancel).unwrap();
        assert!(!all.truncated);
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(load(&path, 100, &read, &cancel).err().unwrap(), "cancelled");
        assert!(load(&dir.path().join("missing.rec"), 1, &read, &cancel).is_err());
    }

    #[test]
    fn load_job_reports_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.rec");
        write(&path, 5);
        let job = LoadJob::spawn(path, || {});
        let mut result = None;
        for _ in 0..500 {
            result = job.poll();
            if result.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let loaded = result.unwrap().unwrap();
        assert_eq!(loaded.rows.len(), 5);
        assert_eq!(job.fraction(), 1.0);
    }
}
