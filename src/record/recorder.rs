//! A live recording: producers offer encoded messages to a bounded queue without ever
//! blocking; one writer thread appends them to the file. A full queue drops the message and
//! counts it; the count goes into the file in periodic STATS records and the END record.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use serde::Serialize;

use super::format::{Meta, Stats};
use super::writer::RecordWriter;

/// Messages the queue holds by default.
pub const DEFAULT_QUEUE_MESSAGES: usize = 64 * 1024;
/// Message bytes the queue holds by default.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How often the writer flushes when idle and writes a STATS record when something changed.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const STATS_EVERY: Duration = Duration::from_secs(1);

/// What to record and how much to queue.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Subject patterns (wildcards allowed); empty records everything.
    pub subjects: Vec<String>,
    pub queue_messages: usize,
    pub queue_bytes: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            subjects: Vec::new(),
            queue_messages: DEFAULT_QUEUE_MESSAGES,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

impl RecordOptions {
    pub fn subjects(subjects: Vec<String>) -> Self {
        RecordOptions {
            subjects,
            ..RecordOptions::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("can't create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a recording is already running")]
    AlreadyRecording,
    #[error("invalid subject pattern {0:?}")]
    BadSubject(String),
    #[error("writing the recording failed: {0}")]
    Write(String),
    #[error("the writer thread failed")]
    WriterPanicked,
    #[error("can't start the writer thread: {0}")]
    Thread(std::io::Error),
}

#[derive(Debug, Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
    drops: AtomicU64,
    queued_bytes: AtomicUsize,
}

/// Live counters of a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounters {
    /// Messages written to the file.
    pub messages: u64,
    /// Message bytes written (subject, reply, headers, payload).
    pub bytes: u64,
    /// Messages dropped because the queue was full or the disk failed.
    pub drops: u64,
    /// Message bytes waiting in the queue.
    pub queued_bytes: usize,
}

/// Reads a recording's live counters; cheap to clone, holds nothing open.
#[derive(Debug, Clone)]
pub struct RecordMonitor(Arc<Counters>);

impl RecordMonitor {
    pub fn counters(&self) -> RecordCounters {
        let c = &self.0;
        RecordCounters {
            messages: c.messages.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            drops: c.drops.load(Ordering::Relaxed),
            queued_bytes: c.queued_bytes.load(Ordering::Relaxed),
        }
    }
}

/// One encoded message on its way to the writer.
struct Item {
    body: Vec<u8>,
    size: usize,
    publisher: Option<u64>,
}

/// The producers' end: cheap to clone, never blocks.
#[derive(Clone)]
pub struct RecordSink {
    tx: Sender<Item>,
    counters: Arc<Counters>,
    max_bytes: usize,
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSink").finish_non_exhaustive()
    }
}

impl RecordSink {
    /// Queues an encoded message body of `size` message bytes; false (and counted as a
    /// drop) when the queue is full.
    #[inline]
    pub fn offer(&self, body: Vec<u8>, size: usize, publisher: Option<u64>) -> bool {
        let queued = self
            .counters
            .queued_bytes
            .fetch_add(size, Ordering::Relaxed);
        if queued + size > self.max_bytes && queued > 0 {
            self.counters
                .queued_bytes
                .fetch_sub(size, Ordering::Relaxed);
            self.drop_one();
            return false;
        }
        match self.tx.try_send(Item {
            body,
            size,
            publisher,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters
                    .queued_bytes
                    .fetch_sub(size, Ordering::Relaxed);
                self.drop_one();
                false
            }
        }
    }

    /// Counts a message that could not be queued for another reason.
    pub fn drop_one(&self) {
        self.add_drops(1);
    }

    /// Counts `n` messages lost before they reached the queue (e.g. a client library's
    /// slow-consumer drops).
    pub fn add_drops(&self, n: u64) {
        self.counters.drops.fetch_add(n, Ordering::Relaxed);
    }
}

/// Finds a publishing connection's name (called once per connection per recording).
pub type NameLookup = Box<dyn Fn(u64) -> Option<String> + Send>;

/// A running recording; `stop` finishes the file.
pub struct Recording {
    sink: RecordSink,
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    thread: JoinHandle<Result<Stats, String>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Creates the file and starts the writer thread.
    pub fn start(
        path: &Path,
        meta: &Meta,
        opts: &RecordOptions,
        names: Option<NameLookup>,
    ) -> Result<Recording, RecordError> {
        let writer = RecordWriter::create(path, meta).map_err(|source| RecordError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let (tx, rx) = crossbeam_channel::bounded(opts.queue_messages.max(1));
        let counters = Arc::new(Counters::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let state = WriterState {
            rx,
            counters: counters.clone(),
            stopping: stopping.clone(),
            error: error.clone(),
            names,
        };
        let thread = std::thread::Builder::new()
            .name("recording-writer".into())
            .spawn(move || state.run(writer))
            .map_err(RecordError::Thread)?;
        Ok(Recording {
            sink: RecordSink {
                tx,
                counters,
                max_bytes: opts.queue_bytes.max(1),
            },
            path: path.to_path_buf(),
            stopping,
            error,
            thread,
        })
    }

    /// A producer's end of the queue.
    pub fn sink(&self) -> RecordSink {
        self.sink.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn counters(&self) -> RecordCounters {
        self.monitor().counters()
    }

    /// A handle on the live counters that outlives nothing.
    pub fn monitor(&self) -> RecordMonitor {
        RecordMonitor(self.sink.counters.clone())
    }

    /// The first write error, if writing failed (later messages count as drops).
    pub fn error(&self) -> Option<String> {
        self.error.lock().clone()
    }

    /// Writes what is queued, the END record, syncs the file and returns the final counts.
    /// Blocks until the writer is done; producers should have stopped offering.
    pub fn stop(self) -> Result<Stats, RecordError> {
        self.stopping.store(true, Ordering::Relaxed);
        drop(self.sink);
        match self.thread.join() {
            Ok(Ok(stats)) => Ok(stats),
            Ok(Err(e)) => Err(RecordError::Write(e)),
            Err(_) => Err(RecordError::WriterPanicked),
        }
    }
}

struct WriterState {
    rx: Receiver<Item>,
    counters: Arc<Counters>,
    stopping: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    names: Option<NameLookup>,
}

type FileWriter = RecordWriter<std::io::BufWriter<std::fs::File>>;

impl WriterState {
    fn run(self, mut writer: FileWriter) -> Result<Stats, String> {
        let mut named: HashSet<u64> = HashSet::new();
        let mut failed = false;
        let mut last_stats = Instant::now();
        let mut stats_drops = 0u64;
        let mut stats_messages = 0u64;
        loop {
            let item = match self.rx.recv_timeout(FLUSH_EVERY) {
                Ok(item) => Some(item),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if let Some(first) = item {
                let mut next = Some(first);
                while let Some(item) = next {
                    self.counters
                        .queued_bytes
                        .fetch_sub(item.size, Ordering::Relaxed);
                    if failed {
                        self.counters.drops.fetch_add(1, Ordering::Relaxed);
                    } else if let Err(e) = self.write(&mut writer, &mut named, &item) {
                        failed = self.fail(e);
                        self.counters.drops.fetch_add(1, Ordering::Relaxed);
                    }
                    next = self.rx.try_recv().ok();
                }
            } else {
                if !failed {
                    if let Err(e) = writer.flush() {
                        failed = self.fail(e);
                    }
                }
                if self.stopping.load(Ordering::Relaxed) && self.rx.is_empty() {
                    break;
                }
            }
            if last_stats.elapsed() >= STATS_EVERY && !failed {
                last_stats = Instant::now();
                let drops = self.counters.drops.load(Ordering::Relaxed);
                let messages = self.counters.messages.load(Ordering::Relaxed);
                if drops != stats_drops || messages != stats_messages {
                    stats_drops = drops;
                    stats_messages = messages;
                    if let Err(e) = writer.write_stats(drops) {
                        failed = self.fail(e);
                    }
                }
            }
        }
        if let Some(e) = self.error.lock().clone() {
            return Err(e);
        }
        let drops = self.counters.drops.load(Ordering::Relaxed);
        let (stats, mut out) = writer.finish(drops).map_err(|e| e.to_string())?;
        out.get_mut().sync_data().map_err(|e| e.to_string())?;
        Ok(stats)
    }

    fn write(
        &self,
        writer: &mut FileWriter,
        named: &mut HashSet<u64>,
        item: &Item,
    ) -> std::io::Result<()> {
        if let (Some(id), Some(names)) = (item.publisher, &self.names) {
            if named.insert(id) {
                let name = names(id).unwrap_or_default();
                writer.write_connection(id, &name)?;
            }
        }
        writer.write_message_body(&item.body, item.size)?;
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(item.size as u64, Ordering::Relaxed);
        Ok(())
    }

    fn fail(&self, e: std::io::Error) -> bool {
        let mut error = self.error.lock();
        if error.is_none() {
            *error = Some(e.to_string());
        }
        true
    }
}
