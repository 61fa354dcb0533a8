//! A live recording: producers offer encoded messages to a bounded queue without ever
//! blocking; one writer thread appends them to the file. A full queue drops the message and
//! counts it; the count goes into the file in periodic STATS records and the END record.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use parking_lot::Mutex;

use super::cpu_budget::CpuBudget;
use super::format::{self, MessageRef, Meta, Stats};
use super::writer::RecordWriter;
use crate::inspect::control::RecordCounters;

/// Entries the queue holds by default (an entry is one message, or a batch of messages
/// one broker connection published in one read).
pub const DEFAULT_QUEUE_MESSAGES: usize = 64 * 1024;
/// Encoded bytes the queue holds by default.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// An idle writer flushes its buffer to the file after this long without new messages.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How long an idle writer sleeps between polls of the queue. Each wake-up can preempt the
/// broker where they share a core: polling every 2 ms cost a saturated broker about 5 % more
/// throughput than every 20 ms (pubsub, 16 B, pinned). The queue holds 20 ms of any flood.
const POLL_IDLE: Duration = Duration::from_millis(20);
/// Messages written between updates of the live counters.
const BATCH: usize = 4096;
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

/// Encoded messages on their way to the writer, from one publisher.
struct Item {
    payload: Payload,
    count: u64,
    /// Message bytes (subject, reply, headers, payload) in the batch.
    size: usize,
    publisher: Option<u64>,
}

enum Payload {
    /// Records framed as in the file with their CRCs left zero (`format::append_message`,
    /// `format::begin_wire_batch`).
    Framed(Vec<u8>),
    /// One framed record (CRC left zero) that starts in `head` and goes on with
    /// `read[range]`: a WIRE record whose publishes are still in the broker's read buffer,
    /// handed over whole instead of copied (`RecordSink::try_offer_read`).
    Split {
        head: Vec<u8>,
        read: Vec<u8>,
        range: Range<usize>,
    },
}

impl Payload {
    /// Memory the entry holds while queued.
    fn memory(&self) -> usize {
        match self {
            Payload::Framed(data) => data.len(),
            Payload::Split { head, read, .. } => head.len() + read.len(),
        }
    }
}

/// The producers' end: cheap to clone, never blocks.
#[derive(Clone)]
pub struct RecordSink {
    tx: Sender<Item>,
    pools: Arc<Pools>,
    counters: Arc<Counters>,
    max_bytes: usize,
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSink").finish_non_exhaustive()
    }
}

/// Buffers the writer has emptied, for producers to fill again: a fresh buffer for every
/// batch cost page faults and reallocations on the publish path.
struct Pools {
    /// Encoding buffers, kept empty.
    encode: BufferPool,
    /// The broker's read buffers, kept at their length (their contents are stale): a
    /// connection that hands its read buffer over takes one of these in its place.
    read: BufferPool,
}

impl Default for Pools {
    fn default() -> Self {
        // Enough for the entries of one `POLL_IDLE` at full rate either way: a flood hands
        // over a read buffer (up to 64 KiB) every ~150 us; request/reply queues a small
        // batch every ~25 us. Short of that, the publish path allocated (and faulted in)
        // fresh buffers, which cost 1 KiB request/reply a quarter of its rate.
        Pools {
            encode: BufferPool::new(POOL_BYTES),
            read: BufferPool::new(POOL_BYTES),
        }
    }
}

/// The capacity each pool keeps at most.
const POOL_BYTES: usize = 16 * 1024 * 1024;

/// Emptied buffers, last in first out: the buffer the writer emptied last is still in the
/// CPU's cache, so filling it again costs the publish path no cache misses (a queue handed
/// out the coldest of 64 buffers, up to 16 MiB, every time).
struct BufferPool {
    kept: Mutex<Kept>,
    keep_bytes: usize,
}

#[derive(Default)]
struct Kept {
    buffers: Vec<Vec<u8>>,
    /// Their capacities, summed.
    bytes: usize,
}

impl BufferPool {
    fn new(keep_bytes: usize) -> Self {
        BufferPool {
            kept: Mutex::new(Kept::default()),
            keep_bytes,
        }
    }

    fn take(&self) -> Option<Vec<u8>> {
        let mut kept = self.kept.lock();
        let buffer = kept.buffers.pop()?;
        kept.bytes -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps a buffer unless that would take the pool over its size.
    fn give(&self, buffer: Vec<u8>) {
        let mut kept = self.kept.lock();
        if kept.bytes + buffer.capacity() <= self.keep_bytes {
            kept.bytes += buffer.capacity();
            kept.buffers.push(buffer);
        }
    }
}

impl Pools {
    fn recycle(&self, payload: Payload) {
        match payload {
            Payload::Framed(mut data) => {
                data.clear();
                self.encode.give(data);
            }
            Payload::Split { mut head, read, .. } => {
                head.clear();
                self.encode.give(head);
                self.read.give(read);
            }
        }
    }
}

impl RecordSink {
    /// An empty buffer to encode a batch into: one the writer has emptied, or a new one
    /// (which grows as it is filled: a read of one small message needs no 64 KiB).
    pub fn take_buffer(&self) -> Vec<u8> {
        self.pools.encode.take().unwrap_or_default()
    }

    /// Returns a buffer `take_buffer` gave that was not queued after all.
    pub fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.pools.encode.give(buffer);
    }

    /// Queues one message; false (and counted as a drop) when the queue is full.
    pub fn offer_message(&self, m: &MessageRef<'_>) -> bool {
        let mut data = Vec::new();
        format::append_message(&mut data, m);
        self.offer_batch(data, 1, m.size(), m.publisher)
    }

    /// Queues `count` messages encoded by `format::append_message` into `data`, holding
    /// `size` message bytes; false (and all counted as drops) when the queue is full.
    #[inline]
    pub fn offer_batch(
        &self,
        data: Vec<u8>,
        count: u64,
        size: usize,
        publisher: Option<u64>,
    ) -> bool {
        self.offer(Payload::Framed(data), count, size, publisher)
    }

    /// Queues a WIRE record of `count` messages that `head` starts (as
    /// `format::begin_wire_batch` leaves it: the writer frames the whole) and the frames at
    /// `range` of `read` finish; `read` is replaced by a buffer of
    /// the same length to read into next. False (all counted as drops) when the queue is
    /// full. One copy fewer on the publish path than encoding the frames into the batch.
    pub fn try_offer_read(
        &self,
        head: Vec<u8>,
        read: &mut Vec<u8>,
        range: Range<usize>,
        count: u64,
        size: usize,
        publisher: u64,
    ) -> bool {
        let len = read.len();
        let mut fresh = self.pools.read.take().unwrap_or_default();
        // Stale contents are fine: the connection reads over them.
        fresh.resize(len, 0);
        let read = std::mem::replace(read, fresh);
        let payload = Payload::Split { head, read, range };
        self.offer(payload, count, size, Some(publisher))
    }

    fn offer(&self, payload: Payload, count: u64, size: usize, publisher: Option<u64>) -> bool {
        let mem = payload.memory();
        let queued = self.counters.queued_bytes.fetch_add(mem, Ordering::Relaxed);
        if queued + mem > self.max_bytes && queued > 0 {
            self.counters.queued_bytes.fetch_sub(mem, Ordering::Relaxed);
            self.add_drops(count);
            self.pools.recycle(payload);
            return false;
        }
        match self.tx.try_send(Item {
            payload,
            count,
            size,
            publisher,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(item)) | Err(TrySendError::Disconnected(item)) => {
                self.counters.queued_bytes.fetch_sub(mem, Ordering::Relaxed);
                self.add_drops(count);
                self.pools.recycle(item.payload);
                false
            }
        }
    }

    /// True when the queue has no room for another batch (what is offered now is dropped).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.counters.queued_bytes.load(Ordering::Relaxed) >= self.max_bytes || self.tx.is_full()
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
        let pools = Arc::new(Pools::default());
        let counters = Arc::new(Counters::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let state = WriterState {
            rx,
            pools: pools.clone(),
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
                pools,
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

/// The writer yields the CPU to the broker: on a saturated core the broker keeps serving its
/// clients and the recording drops (and counts) what it had no time to write, as it does
/// when the disk is too slow. On an idle core the priority makes no difference. The
/// priority decides who runs first; `CpuBudget` caps how much the writer takes in all.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // Best effort: where the call fails the writer runs at the broker's priority.
        let _ = rustix::process::nice(WRITER_NICE);
    }
}

/// Nice 10: the scheduler gives the writer about a tenth of a core the broker saturates
/// (nice 19 starved it into dropping without making the broker measurably faster).
#[cfg(target_os = "linux")]
const WRITER_NICE: i32 = 10;

struct WriterState {
    rx: Receiver<Item>,
    pools: Arc<Pools>,
    counters: Arc<Counters>,
    stopping: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    names: Option<NameLookup>,
}

impl WriterState {
    /// The writer polls the queue instead of blocking on it: a blocked receiver would make
    /// every producer's send a wake-up system call (and, on a busy CPU, a context switch).
    /// An idle writer sleeps `POLL_IDLE` between polls; the queue absorbs that easily.
    fn run(self, mut writer: RecordWriter) -> Result<Stats, String> {
        lower_priority();
        let mut named: HashSet<u64> = HashSet::new();
        let mut failed = false;
        let mut last_stats = Instant::now();
        let mut last_write = Instant::now();
        let mut dirty = false;
        let mut stats_drops = 0u64;
        let mut stats_messages = 0u64;
        let mut written = 0u64;
        let mut budget = CpuBudget::default();
        loop {
            let mut batch = 0usize;
            let mut batch_mem = 0usize;
            let mut ok_messages = 0u64;
            let mut batch_drops = 0u64;
            let mut ok_bytes = 0u64;
            let mut disconnected = false;
            while batch < BATCH {
                let item = match self.rx.try_recv() {
                    Ok(item) => item,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                };
                batch += item.count as usize;
                batch_mem += item.payload.memory();
                if failed {
                    batch_drops += item.count;
                } else if let Err(e) = self.write(&mut writer, &mut named, &item) {
                    failed = self.fail(e);
                    batch_drops += item.count;
                } else {
                    ok_messages += item.count;
                    ok_bytes += item.size as u64;
                }
                self.pools.recycle(item.payload);
            }
            if batch > 0 {
                let c = &self.counters;
                c.queued_bytes.fetch_sub(batch_mem, Ordering::Relaxed);
                written += ok_messages;
                c.messages.store(written, Ordering::Relaxed);
                c.bytes.fetch_add(ok_bytes, Ordering::Relaxed);
                if batch_drops > 0 {
                    c.drops.fetch_add(batch_drops, Ordering::Relaxed);
                }
                dirty = true;
                last_write = Instant::now();
                // A stopping recording drains its queue at full speed: nothing new comes in.
                if !self.stopping.load(Ordering::Relaxed) {
                    budget.pace();
                }
            }
            if disconnected {
                break;
            }
            if batch == 0 {
                if dirty && !failed && last_write.elapsed() >= FLUSH_EVERY {
                    dirty = false;
                    if let Err(e) = writer.flush() {
                        failed = self.fail(e);
                    }
                }
                if self.stopping.load(Ordering::Relaxed) && self.rx.is_empty() {
                    break;
                }
                std::thread::sleep(POLL_IDLE);
            }
            if last_stats.elapsed() >= STATS_EVERY && !failed {
                last_stats = Instant::now();
                let drops = self.counters.drops.load(Ordering::Relaxed);
                if drops != stats_drops || written != stats_messages {
                    stats_drops = drops;
                    stats_messages = written;
                    dirty = true;
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
        out.sync_data().map_err(|e| e.to_string())?;
        Ok(stats)
    }

    fn write(
        &self,
        writer: &mut RecordWriter,
        named: &mut HashSet<u64>,
        item: &Item,
    ) -> std::io::Result<()> {
        if let (Some(id), Some(names)) = (item.publisher, &self.names) {
            if named.insert(id) {
                let name = names(id).unwrap_or_default();
                writer.write_connection(id, &name)?;
            }
        }
        match &item.payload {
            Payload::Framed(data) => writer.write_batch(data)?,
            Payload::Split { head, read, range } => {
                let rest = read.get(range.clone()).unwrap_or_default();
                writer.write_split(head, rest)?;
            }
        }
        writer.count_messages(item.count, item.size);
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
