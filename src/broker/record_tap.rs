//! The recording tap: while a recording runs, every publish whose subject matches its
//! patterns is added (with how many subscribers received it) to its connection's batch, a
//! WIRE record shared by the messages of one socket read (one time, one publisher, one CRC,
//! the frames as the client sent them), and each batch is offered to the recording's bounded
//! queue at the end of the connection's read (before receivers are woken, so a reply is
//! never recorded before its request). When no recording runs the publish path pays one
//! relaxed load.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::server::{BrokerHandle, Server};
use crate::inspect::control::RecordCounters;
use crate::proto::subject;
use crate::proto::Publish;
use crate::record::format::{self, Meta, Stats};
use crate::record::recorder::{RecordError, RecordMonitor, RecordOptions, RecordSink, Recording};

/// The messages a connection records during one socket read (`Conn::end_batch` hands them
/// to the recording as one WIRE record): one queue entry per read instead of one per message.
///
/// A message that arrived whole in the read is kept as a range of the read buffer, and
/// consecutive ranges merge, so a read of back-to-back publishes costs four bytes (its
/// receiver count) a message and, at the end of the read, either one copy of the range or,
/// for a large read, none: the read buffer itself goes to the recording and the connection
/// reads on into a recycled one. A message the parser had to assemble across reads is framed
/// again (`PUB`/`HPUB`) into `assembled`.
#[derive(Debug, Default)]
pub struct RecordBatch {
    /// Receiver counts of the recorded messages, in order.
    receivers: Vec<u32>,
    /// The messages' frames, in order.
    pieces: Vec<Piece>,
    /// Frames of messages that were not whole in the read buffer.
    assembled: Vec<u8>,
    size: usize,
    /// The recording this read's messages go to, looked up once per read: taking the
    /// recording's lock for every message was most of the tap's cost.
    session: Option<Arc<Session>>,
    /// When the current read's messages were taken in, read at its first recorded message:
    /// every message of one socket read arrived together, so one clock reading serves all.
    read_time_ns: u64,
    /// Messages of this read not recorded because the recording's queue was full when the
    /// read began: a writer that can't keep up should not also cost the publish path the
    /// copying of what it will drop anyway. Counted as drops at the end of the read.
    skipped: u64,
}

impl RecordBatch {
    /// Adds a message that arrived whole in the read, at `start..end` of the read buffer.
    #[inline]
    fn add_whole(&mut self, msg: &Publish<'_>, start: usize, end: usize, receivers: u32) {
        self.count_message(msg, receivers);
        match self.pieces.last_mut() {
            Some(Piece::Read(_, last_end)) if *last_end == start => *last_end = end,
            _ => self.pieces.push(Piece::Read(start, end)),
        }
    }

    /// Adds a message the parser assembled across reads, framed again.
    fn add_assembled(&mut self, msg: &Publish<'_>, receivers: u32) {
        self.count_message(msg, receivers);
        let start = self.assembled.len();
        crate::proto::encode::publish(
            &mut self.assembled,
            msg.subject,
            msg.reply,
            msg.header_len,
            msg.message,
        );
        self.pieces
            .push(Piece::Assembled(start, self.assembled.len()));
    }

    /// The frames of a read to hand over whole (`HAND_OVER_READ`): at most one message the
    /// parser finished from the previous read, then one range of `read[..read_len]` large
    /// enough to be worth the buffer. The common shape of a flood's reads.
    fn hand_over_shape(&self, read_len: usize) -> Option<(&[u8], Range<usize>)> {
        let (assembled, rest) = match self.pieces.as_slice() {
            [Piece::Assembled(start, end), rest @ ..] => (self.assembled.get(*start..*end)?, rest),
            rest => (&[][..], rest),
        };
        match rest {
            [Piece::Read(start, end)] if end - start >= HAND_OVER_READ && *end <= read_len => {
                Some((assembled, *start..*end))
            }
            _ => None,
        }
    }

    #[inline]
    fn count_message(&mut self, msg: &Publish<'_>, receivers: u32) {
        self.receivers.push(receivers);
        self.size += msg.subject.len() + msg.reply.map_or(0, <[u8]>::len) + msg.message.len();
    }
}

/// Where a recorded message's frame is: a range of the read buffer or of `assembled`.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Read(usize, usize),
    Assembled(usize, usize),
}

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
    /// `frame` is where the publish's frame is in the read buffer, when it arrived whole.
    #[inline]
    pub fn record(
        &self,
        batch: &mut RecordBatch,
        msg: &Publish<'_>,
        frame: Option<(usize, usize)>,
        receivers: u32,
    ) {
        // The common cases, inline, with no subject filter: another whole message of a read
        // already being recorded (a batch with receivers has its session and is not
        // skipping), or of a read being skipped because the queue was full when it began.
        if let Some(session) = &batch.session {
            if session.patterns.is_empty() {
                if batch.skipped > 0 {
                    batch.skipped += 1;
                    return;
                }
                if let (Some((start, end)), false) = (frame, batch.receivers.is_empty()) {
                    batch.add_whole(msg, start, end, receivers);
                    return;
                }
            }
        }
        self.record_first(batch, msg, frame, receivers);
    }

    /// The rest of `record`: the read's first message, a subject filter, a full queue, a
    /// message that was not whole in the read.
    #[inline(never)]
    fn record_first(
        &self,
        batch: &mut RecordBatch,
        msg: &Publish<'_>,
        frame: Option<(usize, usize)>,
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
        if batch.receivers.is_empty() && (batch.skipped > 0 || session.sink.is_full()) {
            batch.skipped += 1;
            return;
        }
        if batch.receivers.is_empty() {
            batch.read_time_ns = format::now_ns();
        }
        match frame {
            Some((start, end)) => batch.add_whole(msg, start, end, receivers),
            None => batch.add_assembled(msg, receivers),
        }
    }

    /// Hands a connection's batch to the recording (called at the end of each read, with
    /// the read buffer and the length of the read) and lets go of the recording until the
    /// next read. The recording may keep the read buffer and leave another in its place.
    #[inline]
    pub fn flush(&self, batch: &mut RecordBatch, publisher: u64, read: &mut Vec<u8>, n: usize) {
        if let Some(session) = batch.session.take() {
            if !batch.receivers.is_empty() {
                hand_over(&session, batch, publisher, read, n);
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

/// Recorded publishes that fill at least this much of a read go to the recording in the read
/// buffer itself, which the connection swaps for a recycled one, instead of being copied:
/// a flood's reads are tens of kilobytes, and copying them was a third of the tap's cost.
/// Smaller ones are copied, so a trickle of small reads does not hold whole buffers queued.
const HAND_OVER_READ: usize = 8 * 1024;

/// Writes the batch as one WIRE record and queues it; the batch starts over empty.
fn hand_over(
    session: &Session,
    batch: &mut RecordBatch,
    publisher: u64,
    read: &mut Vec<u8>,
    n: usize,
) {
    let count = batch.receivers.len() as u64;
    let size = std::mem::take(&mut batch.size);
    let mut data = session.sink.take_buffer();
    let start = format::begin_wire_batch(
        &mut data,
        batch.read_time_ns,
        Some(publisher),
        &batch.receivers,
    );
    let read_len = n.min(read.len());
    if let Some((assembled, range)) = batch.hand_over_shape(read_len) {
        data.extend_from_slice(assembled);
        session
            .sink
            .try_offer_read(data, read, range, count, size, publisher);
    } else if copy_pieces(
        &mut data,
        &batch.pieces,
        &batch.assembled,
        &read[..read_len],
    ) {
        format::end_batch(&mut data, start);
        session.sink.offer_batch(data, count, size, Some(publisher));
    } else {
        session.sink.add_drops(count);
        session.sink.give_back(data);
    }
    batch.receivers.clear();
    batch.pieces.clear();
    batch.assembled.clear();
}

/// Appends the pieces' frames to `data`; false when one was not there to copy.
fn copy_pieces(data: &mut Vec<u8>, pieces: &[Piece], assembled: &[u8], read: &[u8]) -> bool {
    let mut whole = true;
    for piece in pieces {
        let bytes = match *piece {
            Piece::Read(start, end) => read.get(start..end),
            Piece::Assembled(start, end) => assembled.get(start..end),
        };
        match bytes {
            Some(bytes) => data.extend_from_slice(bytes),
            // Not the read the ranges were taken from: nothing to copy them from.
            None => whole = false,
        }
    }
    whole
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
            // An unnamed server's name is its id: say it once.
            server: if self.name == self.id {
                self.id.clone()
            } else {
                format!("{} ({})", self.name, self.id)
            },
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
                .find(|c| c.cid == id)
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

#[cfg(test)]
#[path = "record_tap_tests.rs"]
mod tests;
