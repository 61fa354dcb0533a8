//! The adapters that put a WebSocket connection under the ordinary client code: [`WsReader`]
//! turns the client's frames into the byte stream the NATS parser reads, and [`WsWriter`]
//! wraps what the outbound queue writes into server frames. Control frames the reader must
//! answer (pong, close) go to the writer through [`Control`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deflate;
use super::frame::{self, Decoder, Event};
use crate::broker::client::ClientShared;
use crate::broker::close::CloseReason;

/// Raw read buffer bounds (nats-server's read buffer grows from 512 B to 64 KiB).
const MIN_RAW: usize = 512;
const MAX_RAW: usize = 64 * 1024;
/// nats-server's `wsMaxMsgPayloadMultiple` and `wsMaxMsgPayloadLimit`: a compressed
/// message may be at most `max_payload` times this, and never more than the limit.
const COMPRESSED_PAYLOAD_MULTIPLE: usize = 8;
const COMPRESSED_LIMIT: usize = 64 * 1024 * 1024;

/// What a WebSocket read failed with, for the close reason (inside an `io::Error`).
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// A frame broke the protocol; a 1002 close frame with this reason is queued.
    #[error("websocket protocol error: {0}")]
    Protocol(String),
    /// A compressed message was larger than allowed (nats-server's `ErrMaxPayload`).
    #[error("maximum payload exceeded")]
    MaxPayload,
}

impl ReadFailure {
    pub fn close_reason(&self) -> CloseReason {
        match self {
            ReadFailure::Protocol(_) => CloseReason::ReadError,
            ReadFailure::MaxPayload => CloseReason::MaxPayloadExceeded,
        }
    }
}

/// The close reason for a read error: a WebSocket failure's, else `ReadError`.
pub fn close_reason_of(error: &io::Error) -> CloseReason {
    error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ReadFailure>())
        .map_or(CloseReason::ReadError, ReadFailure::close_reason)
}

/// Frames the reader queues for the writer.
#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<ControlState>,
}

#[derive(Debug, Default)]
struct ControlState {
    /// Pongs, written before the next data.
    frames: Vec<u8>,
    /// The one close frame, written last (after what is queued).
    close: Option<Vec<u8>>,
}

impl Control {
    fn push(&self, frame: &[u8]) {
        self.state.lock().frames.extend_from_slice(frame);
    }

    /// Sets the close frame unless one is set already.
    fn close(&self, frame: Vec<u8>) {
        self.state.lock().close.get_or_insert(frame);
    }
}

/// The reading half: frames in, NATS protocol bytes out.
pub struct WsReader<R> {
    inner: R,
    /// Bytes read from the socket: `raw[start..end]` is not decoded yet.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    decoder: Decoder,
    /// Inflated bytes not yet handed to the parser.
    inflated: Vec<u8>,
    inflated_pos: usize,
    /// The compressed message being received.
    compressed: Vec<u8>,
    decompressor: Option<flate2::Decompress>,
    max_payload: usize,
    control: Arc<Control>,
    client: Arc<ClientShared>,
    /// What ends the stream once `inflated` is drained.
    ending: Option<End>,
}

enum End {
    Eof,
    Failed(ReadFailure),
}

impl<R> WsReader<R> {
    /// `buffered` are bytes that arrived right behind the upgrade request.
    pub fn new(
        inner: R,
        decoder: Decoder,
        max_payload: usize,
        control: Arc<Control>,
        client: Arc<ClientShared>,
    ) -> Self {
        WsReader {
            inner,
            raw: vec![0; MIN_RAW],
            start: 0,
            end: 0,
            decoder,
            inflated: Vec::new(),
            inflated_pos: 0,
            compressed: Vec::new(),
            decompressor: None,
            max_payload: max_payload.max(1),
            control,
            client,
            ending: None,
        }
    }

    fn fail(&mut self, failure: ReadFailure) -> io::Error {
        if let ReadFailure::Protocol(reason) = &failure {
            let payload = frame::close_payload(frame::CLOSE_PROTOCOL_ERROR, reason);
            self.control
                .close(frame::control_frame(frame::OP_CLOSE, &payload));
        }
        self.ending = Some(End::Eof);
        io::Error::other(failure)
    }

    /// Handles a whole compressed message: inflates it into `inflated`.
    fn inflate(&mut self) -> Result<(), ReadFailure> {
        let decompressor = self.decompressor.get_or_insert_with(deflate::decompressor);
        self.inflated.clear();
        self.inflated_pos = 0;
        let result = deflate::inflate(
            decompressor,
            &self.compressed,
            &mut self.inflated,
            self.max_payload,
        );
        self.compressed.clear();
        if self.compressed.capacity() > MAX_RAW {
            self.compressed = Vec::new();
        }
        match result {
            Ok(()) => Ok(()),
            // The first max_payload bytes are parsed, then the connection closes.
            Err(deflate::InflateError::TooBig) => {
                self.ending = Some(End::Failed(ReadFailure::MaxPayload));
                Ok(())
            }
            Err(deflate::InflateError::Corrupt(e)) => Err(ReadFailure::Protocol(e)),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for WsReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Frames already read are handed out together, up to `dst`'s room: one read of the
        // client's loop for many small messages, not one each.
        let mut filled = false;
        loop {
            if this.inflated_pos < this.inflated.len() {
                let n = dst.remaining().min(this.inflated.len() - this.inflated_pos);
                dst.put_slice(&this.inflated[this.inflated_pos..this.inflated_pos + n]);
                this.inflated_pos += n;
                if this.inflated_pos == this.inflated.len() {
                    this.inflated.clear();
                    this.inflated_pos = 0;
                    if this.inflated.capacity() > MAX_RAW {
                        this.inflated = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if filled && this.ending.is_some() {
                // What was read before the end goes out first.
                return Poll::Ready(Ok(()));
            }
            match this.ending.take() {
                Some(End::Eof) => {
                    this.ending = Some(End::Eof);
                    return Poll::Ready(Ok(()));
                }
                Some(End::Failed(failure)) => {
                    let e = io::Error::other(failure);
                    this.ending = Some(End::Eof);
                    return Poll::Ready(Err(e));
                }
                None => {}
            }
            let mut pos = this.start;
            let event =
                this.decoder
                    .next_masked(&mut this.raw[..this.end], &mut pos, dst.remaining());
            this.start = pos;
            if this.start == this.end {
                this.start = 0;
                this.end = 0;
            }
            match event {
                // The bad frame is not consumed: what came before it goes out first, and
                // the next read decodes it again and fails.
                Err(_) if filled => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(this.fail(ReadFailure::Protocol(e.0)))),
                Ok(Some(Event::Data {
                    range,
                    compressed: false,
                    ..
                })) => {
                    if range.is_empty() {
                        continue;
                    }
                    // Unmasked straight into the parser's buffer: one pass.
                    let n = range.len();
                    let out = dst.initialize_unfilled_to(n);
                    this.decoder.unmask_into(&this.raw[range], &mut out[..n]);
                    dst.advance(n);
                    if dst.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    filled = true;
                }
                Ok(Some(Event::Data {
                    range,
                    compressed: true,
                    last,
                })) => {
                    let limit = this
                        .max_payload
                        .saturating_mul(COMPRESSED_PAYLOAD_MULTIPLE)
                        .min(COMPRESSED_LIMIT);
                    if this.compressed.len() + range.len() > limit {
                        return Poll::Ready(Err(this.fail(ReadFailure::MaxPayload)));
                    }
                    this.decoder.unmask(&mut this.raw[range.clone()]);
                    this.compressed.extend_from_slice(&this.raw[range]);
                    if last {
                        if let Err(failure) = this.inflate() {
                            return Poll::Ready(Err(this.fail(failure)));
                        }
                    }
                }
                Ok(Some(Event::Ping(payload))) => {
                    this.control
                        .push(&frame::control_frame(frame::OP_PONG, &payload));
                    this.client.outbound.wake();
                }
                Ok(Some(Event::Pong)) => {}
                Ok(Some(Event::Close(reply))) => {
                    this.control
                        .close(frame::control_frame(frame::OP_CLOSE, &reply));
                    this.ending = Some(End::Eof);
                }
                Ok(None) => {
                    // Need more bytes: keep the partial frame, read behind it.
                    if this.start > 0 {
                        this.raw.copy_within(this.start..this.end, 0);
                        this.end -= this.start;
                        this.start = 0;
                    }
                    if filled {
                        // Hand out what is here rather than wait for more.
                        return Poll::Ready(Ok(()));
                    }
                    if this.end == this.raw.len() {
                        let grown = (this.raw.len() * 2).clamp(MIN_RAW, MAX_RAW);
                        this.raw.resize(grown.max(this.end + MIN_RAW), 0);
                    }
                    let mut read = ReadBuf::new(&mut this.raw[this.end..]);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                    let n = read.filled().len();
                    if n == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let filled = this.end + n == this.raw.len();
                    this.end += n;
                    if filled && this.raw.len() < MAX_RAW {
                        let grown = (this.raw.len() * 2).min(MAX_RAW);
                        this.raw.resize(grown, 0);
                    }
                }
            }
        }
    }
}

/// How the writer frames what it sends.
#[derive(Debug, Clone, Copy)]
pub struct WriterMode {
    /// permessage-deflate was negotiated.
    pub compress: bool,
    /// A browser (`User-Agent: Mozilla/...`): frames of at most 4 KiB.
    pub browser: bool,
    /// Safari: compressed messages are never fragmented.
    pub no_compressed_fragments: bool,
}

/// The writing half: NATS protocol bytes in, frames out.
pub struct WsWriter<W> {
    inner: W,
    /// Framed bytes not yet written, from `written` on.
    pending: Vec<u8>,
    written: usize,
    mode: WriterMode,
    compressor: Option<flate2::Compress>,
    deflated: Vec<u8>,
    control: Arc<Control>,
    client: Arc<ClientShared>,
    close_queued: bool,
}

impl<W> WsWriter<W> {
    pub fn new(
        inner: W,
        mode: WriterMode,
        control: Arc<Control>,
        client: Arc<ClientShared>,
    ) -> Self {
        WsWriter {
            inner,
            pending: Vec::new(),
            written: 0,
            mode,
            compressor: None,
            deflated: Vec::new(),
            control,
            client,
            close_queued: false,
        }
    }

    fn take_control(&mut self) {
        let mut st = self.control.state.lock();
        if !st.frames.is_empty() {
            self.pending.extend_from_slice(&st.frames);
            st.frames.clear();
        }
    }

    fn frame(&mut self, data: &[u8]) -> io::Result<()> {
        let max_frame = if self.mode.browser {
            frame::FRAME_SIZE_FOR_BROWSERS
        } else {
            0
        };
        if self.mode.compress && data.len() > frame::COMPRESS_THRESHOLD {
            let compressor = self.compressor.get_or_insert_with(deflate::compressor);
            deflate::deflate(compressor, data, &mut self.deflated)?;
            let max_frame = if self.mode.no_compressed_fragments {
                0
            } else {
                max_frame
            };
            frame::put_compressed(&mut self.pending, &self.deflated, max_frame);
            if self.deflated.capacity() > MAX_RAW {
                self.deflated = Vec::new();
            }
        } else {
            frame::put_binary(&mut self.pending, data, max_frame);
        }
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.written = 0;
        self.pending.clear();
        if self.pending.capacity() > 4 * MAX_RAW {
            self.pending = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for WsWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.take_control();
        ready!(this.poll_drain(cx))?;
        this.frame(buf)?;
        // Start writing now; what is left goes out on the next call or on flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.take_control();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.close_queued {
            this.close_queued = true;
            this.take_control();
            let queued = this.control.state.lock().close.take();
            let close = queued.unwrap_or_else(|| {
                let reason = this
                    .client
                    .outbound
                    .close_reason()
                    .unwrap_or(CloseReason::ServerShutdown);
                let payload = frame::close_payload(frame::close_status(reason), reason.as_str());
                frame::control_frame(frame::OP_CLOSE, &payload)
            });
            this.pending.extend_from_slice(&close);
        }
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
