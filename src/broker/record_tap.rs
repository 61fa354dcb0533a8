//! The recording tap: while a recording runs, every publish whose subject matches its
//! patterns is appended (with how many subscribers received it) to its connection's batch, a
//! BATCH record shared by the messages of one socket read (one time, one publisher, one CRC),
//! and each batch is offered to the recording's bounded queue at the end of the connection's
//! read batch (before receivers are woken, so a reply is never recorded before its request).
//! When no recording runs the publish path pays one relaxed load.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::server::{BrokerHandle, Server};
use crate::proto::subject;
use crate::proto::Publish;
use crate::record::format::{self, MessageRef, Meta, Stats};
use crate::record::recorder::{
    RecordCounters, RecordError, RecordMonitor, RecordOptions, RecordSink, Recording,
};

/// The messages a connection records during one socket read (`Conn::end_batch` hands them
/// to the recording): one queue entry per read instead of one per message.
#[derive(Debug, Default)]
pub struct RecordBatch {
    /// The BATCH record being built (framed; empty when none is open).
    data: Vec<u8>,
    count: u64,
    size: usize,
    /// The recording this read's messages go to, looked up once per read: taking the
    /// recording's lock for every message was most of the tap's cost.
    session: Option<Arc<Session>>,
    /// When the current read's messages were taken in (0 = not read yet). Every message of
    /// one socket read arrived together, so one clock reading serves them all.
    read_time_ns: u64,
    /// Messages of this read not encoded because the recording's queue was full when the
    /// batch began: a writer that can't keep up should not also cost the publish path the
    /// encoding of what it will drop anyway. Counted as drops at the end of the read.
    skipped: u64,
    skipping: bool,
}

/// A batch is handed over early once it holds this many bytes.
const MAX_BATCH_BYTES: usize = 256 * 1024;

#[derive(Debug)]
struct Session {
    sink: RecordSink,
    patterns: Vec<Box<[u8]>>,
}

#[derive(Default)]
pub struct RecordTap {
    active: AtomicBool,
    session: RwLock<Option<Arc<Session>>>,
}

impl std::fmt::Debug for RecordTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTap")
            .field("active", &self.active())
            .finish_non_exhaustive()
    }
}

impl RecordTap {
    /// True while a recording runs.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Adds one publish to the connection's batch, if it matches the recording's patterns.
    pub fn record(
        &self,
        batch: &mut RecordBatch,
        msg: &Publish<'_>,
        publisher: u64,
        receivers: u32,
    ) {
        if batch.session.is_none() {
            batch.session = self.session.read().clone();
        }
        let Some(session) = &batch.session else {
            return;
        };
        if !session.patterns.is_empty()
            && !session
                .patterns
                .iter()
                .any(|p| subject::matches(p, msg.subject))
        {
            return;
        }
        if batch.data.is_empty() && (batch.skipping || session.sink.is_full()) {
            batch.skipping = true;
            batch.skipped += 1;
            return;
        }
        if batch.read_time_ns == 0 {
            batch.read_time_ns = format::now_ns();
        }
        if batch.data.is_empty() {
            if batch.data.capacity() == 0 {
                batch.data = session.sink.take_buffer();
            }
            format::begin_batch(&mut batch.data, batch.read_time_ns, Some(publisher));
        }
        let headers = msg
            .header_len
            .map(|n| msg.message.get(..n).unwrap_or_default());
        let m = MessageRef {
            time_ns: batch.read_time_ns,
            subject: msg.subject,
            reply: msg.reply,
            headers,
            payload: msg.payload(),
            publisher: Some(publisher),
            receivers: Some(receivers),
        };
        format::append_batch_entry(&mut batch.data, &m);
        batch.count += 1;
        batch.size += m.size();
        if batch.data.len() >= MAX_BATCH_BYTES {
            if let Some(session) = batch.session.clone() {
                hand_over(&session, batch, publisher);
            }
        }
    }

    /// Hands a connection's batch to the recording (called at the end of each read batch)
    /// and lets go of the recording until the next read.
    #[inline]
    pub fn flush(&self, batch: &mut RecordBatch, publisher: u64) {
        batch.read_time_ns = 0;
        batch.skipping = false;
        if let Some(session) = batch.session.take() {
            if batch.count > 0 {
                hand_over(&session, batch, publisher);
            }
            if batch.skipped > 0 {
                session.sink.add_drops(std::mem::take(&mut batch.skipped));
            }
        }
    }

    fn attach(&self, sink: RecordSink, patterns: Vec<Box<[u8]>>) -> bool {
        let mut slot = self.session.write();
        if slot.is_some() {
            return false;
        }
        *slot = Some(Arc::new(Session { sink, patterns }));
        self.active.store(true, Ordering::Relaxed);
        true
    }

    fn detach(&self) {
        self.active.store(false, Ordering::Relaxed);
        self.session.write().take();
    }
}

/// Closes the batch's BATCH record and queues it; the batch starts over empty (keeping its
/// buffer when the queue refused it).
fn hand_over(session: &Session, batch: &mut RecordBatch, publisher: u64) {
    format::end_batch(&mut batch.data, 0);
    let data = std::mem::take(&mut batch.data);
    if let Err(mut refused) =
        session
            .sink
            .try_offer_batch(data, batch.count, batch.size, Some(publisher))
    {
        refused.clear();
        batch.data = refused;
    }
    batch.count = 0;
    batch.size = 0;
}

/// A recording of the embedded broker's traffic. Stop it with `stop` (dropping it stops it
/// too, ignoring errors).
#[derive(Debug)]
pub struct BrokerRecording {
    server: Weak<Server>,
    recording: Option<Recording>,
}

impl BrokerRecording {
    /// Live counters: messages and bytes written, drops, queued.
    pub fn counters(&self) -> RecordCounters {
        self.recording
            .as_ref()
            .map(Recording::counters)
            .unwrap_or_default()
    }

    /// A cloneable reader of the live counters (for a GUI's status line).
    pub fn monitor(&self) -> Option<RecordMonitor> {
        self.recording.as_ref().map(Recording::monitor)
    }

    pub fn path(&self) -> Option<&Path> {
        self.recording.as_ref().map(Recording::path)
    }

    /// The write error, when the disk failed.
    pub fn error(&self) -> Option<String> {
        self.recording.as_ref().and_then(Recording::error)
    }

    /// Stops recording, writes what is queued and the END record; returns the final counts.
    pub fn stop(mut self) -> Result<Stats, RecordError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Stats, RecordError> {
        if let Some(server) = self.server.upgrade() {
            server.tap.recording.detach();
        }
        match self.recording.take() {
            Some(r) => r.stop(),
            None => Ok(Stats::default()),
        }
    }
}

impl Drop for BrokerRecording {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl Server {
    /// Starts recording the messages published to this server into `path` (created or
    /// truncated). One recording at a time.
    pub fn start_recording(
        self: &Arc<Self>,
        path: &Path,
        opts: RecordOptions,
    ) -> Result<BrokerRecording, RecordError> {
        if self.tap.recording.active() {
            return Err(RecordError::AlreadyRecording);
        }
        let mut patterns = Vec::new();
        for p in &opts.subjects {
            if !subject::is_valid_subject(p.as_bytes()) {
                return Err(RecordError::BadSubject(p.clone()));
            }
            patterns.push(p.as_bytes().into());
        }
        let meta = Meta {
            source: "broker".into(),
            server: format!("{} ({})", self.name, self.id),
            subjects: opts.subjects.clone(),
            started_ns: format::now_ns(),
            writer: format!("switchboard {}", env!("CARGO_PKG_VERSION")),
        };
        let weak = Arc::downgrade(self);
        let names = Box::new(move |id: u64| {
            let server = weak.upgrade()?;
            if let Some(client) = server.client(id) {
                return Some(client.meta.lock().name.clone());
            }
            let closed = server.closed_clients();
            closed
                .iter()
                .rev()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
        });
        let recording = Recording::start(path, &meta, &opts, Some(names))?;
        if !self.tap.recording.attach(recording.sink(), patterns) {
            let _ = recording.stop();
            return Err(RecordError::AlreadyRecording);
        }
        Ok(BrokerRecording {
            server: Arc::downgrade(self),
            recording: Some(recording),
        })
    }

    /// True while a recording of this server runs.
    pub fn recording(&self) -> bool {
        self.tap.recording.active()
    }
}

impl BrokerHandle {
    /// Starts recording this broker's traffic; see `Server::start_recording`.
    pub fn start_recording(
        &self,
        path: &Path,
        opts: RecordOptions,
    ) -> Result<BrokerRecording, RecordError> {
        self.server().start_recording(path, opts)
    }
}
