//! WebSocket frames (RFC 6455 section 5), sans I/O: the decoder of what clients send and the
//! encoders of what the server sends, with nats-server's checks, close codes and texts.
//!
//! The decoder works on a buffer of raw bytes: it consumes a frame header only once all of it
//! is there, hands out data-frame payload as it arrives (unmasked in place), and collects a
//! control frame (at most 125 bytes) whole. Every violation is a [`ProtocolError`] whose text
//! is the reason nats-server puts in its 1002 close frame.

/// Opcodes.
pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

const FINAL_BIT: u8 = 0x80;
const RSV1_BIT: u8 = 0x40;
const RSV2_BIT: u8 = 0x20;
const RSV3_BIT: u8 = 0x10;
const MASK_BIT: u8 = 0x80;

/// The largest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// nats-server's `wsFrameSizeForBrowsers`: frames to browsers carry at most this much.
pub const FRAME_SIZE_FOR_BROWSERS: usize = 4096;
/// nats-server's `wsCompressThreshold`: smaller batches go out uncompressed.
pub const COMPRESS_THRESHOLD: usize = 64;

/// Close status codes (RFC 6455 section 7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_NO_STATUS: u16 = 1005;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
pub const CLOSE_TLS_HANDSHAKE: u16 = 1015;

/// A frame the client must not send; the text is the close frame's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

fn protocol(text: impl Into<String>) -> ProtocolError {
    ProtocolError(text.into())
}

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// `buf[range]` is (unmasked) payload of a data message; `compressed` when the message
    /// is deflated; `last` when it ends the message.
    Data {
        range: std::ops::Range<usize>,
        compressed: bool,
        last: bool,
    },
    /// A ping, with its payload (the pong carries it back).
    Ping(Vec<u8>),
    Pong,
    /// The client closes; the payload of the close frame to send back (empty when the client
    /// sent no status).
    Close(Vec<u8>),
}

/// The frame-by-frame state of one connection's incoming stream.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Clients must mask (unless they asked for `Nats-No-Masking`).
    mask_required: bool,
    /// permessage-deflate was negotiated.
    compression: bool,
    /// Payload bytes left in the current data frame; `None` between frames.
    remaining: Option<u64>,
    masked: bool,
    key: [u8; 4],
    key_pos: usize,
    /// The current frame ends its message.
    frame_final: bool,
    /// The current message is compressed.
    message_compressed: bool,
    /// The last data frame ended a message (a new one may start).
    message_done: bool,
}

impl Decoder {
    pub fn new(mask_required: bool, compression: bool) -> Self {
        Decoder {
            mask_required,
            compression,
            remaining: None,
            masked: false,
            key: [0; 4],
            key_pos: 0,
            frame_final: true,
            message_compressed: false,
            message_done: true,
        }
    }

    /// Decodes from `buf[*pos..]`: `Ok(None)` when more bytes are needed. At most `max_data`
    /// bytes of data payload are handed out at once (at least one when any is there),
    /// unmasked in place.
    pub fn next(
        &mut self,
        buf: &mut [u8],
        pos: &mut usize,
        max_data: usize,
    ) -> Result<Option<Event>, ProtocolError> {
        self.decode(buf, pos, max_data, true)
    }

    /// [`Decoder::next`] leaving data payload masked: the caller passes each data range to
    /// [`Decoder::unmask_into`] or [`Decoder::unmask`] before decoding further (one pass
    /// from the read buffer to where the payload goes, instead of two).
    pub fn next_masked(
        &mut self,
        buf: &mut [u8],
        pos: &mut usize,
        max_data: usize,
    ) -> Result<Option<Event>, ProtocolError> {
        self.decode(buf, pos, max_data, false)
    }

    fn decode(
        &mut self,
        buf: &mut [u8],
        pos: &mut usize,
        max_data: usize,
        unmask: bool,
    ) -> Result<Option<Event>, ProtocolError> {
        loop {
            if let Some(remaining) = self.remaining {
                if remaining == 0 {
                    self.remaining = None;
                    if self.frame_final {
                        // An empty final frame still ends the message.
                        return Ok(Some(Event::Data {
                            range: *pos..*pos,
                            compressed: self.message_compressed,
                            last: true,
                        }));
                    }
                    continue;
                }
                let available = buf.len() - *pos;
                if available == 0 {
                    return Ok(None);
                }
                let n = available
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX))
                    .min(max_data.max(1));
                let range = *pos..*pos + n;
                if unmask {
                    self.unmask(&mut buf[range.clone()]);
                }
                *pos += n;
                let left = remaining - n as u64;
                self.remaining = if left == 0 { None } else { Some(left) };
                return Ok(Some(Event::Data {
                    range,
                    compressed: self.message_compressed,
                    last: left == 0 && self.frame_final,
                }));
            }
            match self.header(buf, pos)? {
                None => return Ok(None),
                Some(Some(event)) => return Ok(Some(event)),
                Some(None) => {}
            }
        }
    }

    /// Reads one frame header (and a control frame whole): `None` when incomplete,
    /// `Some(Some(event))` for a control frame, `Some(None)` when a data frame starts.
    fn header(
        &mut self,
        buf: &mut [u8],
        pos: &mut usize,
    ) -> Result<Option<Option<Event>>, ProtocolError> {
        let bytes = &buf[*pos..];
        let Some(&b0) = bytes.first() else {
            return Ok(None);
        };
        let opcode = b0 & 0x0F;
        let fin = b0 & FINAL_BIT != 0;
        let compressed = b0 & RSV1_BIT != 0;
        if b0 & (RSV2_BIT | RSV3_BIT) != 0 {
            return Err(protocol("RSV2 and RSV3 must be clear"));
        }
        if compressed && !self.compression {
            return Err(protocol(
                "compressed frame received without negotiated permessage-deflate",
            ));
        }
        let Some(&b1) = bytes.get(1) else {
            return Ok(None);
        };
        let masked = b1 & MASK_BIT != 0;
        if self.mask_required && !masked {
            return Err(protocol("mask bit missing"));
        }
        let short_len = b1 & 0x7F;
        let control = matches!(opcode, OP_CLOSE | OP_PING | OP_PONG);
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if usize::from(short_len) > MAX_CONTROL_PAYLOAD {
                    return Err(protocol(format!(
                        "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
                    )));
                }
                if !fin {
                    return Err(protocol("control frame does not have final bit set"));
                }
                if compressed {
                    return Err(protocol("control frame must not be compressed"));
                }
            }
            OP_TEXT | OP_BINARY => {
                if !self.message_done {
                    return Err(protocol(
                        "new message started before final frame for previous message was received",
                    ));
                }
            }
            OP_CONTINUATION => {
                if self.message_done || compressed {
                    return Err(protocol("invalid continuation frame"));
                }
            }
            other => return Err(protocol(format!("unknown opcode {other}"))),
        }
        let ext = match short_len {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let key_len = if masked { 4 } else { 0 };
        let header_len = 2 + ext + key_len;
        if bytes.len() < header_len {
            return Ok(None);
        }
        let len: u64 = match ext {
            2 => u64::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[2..10]);
                let n = u64::from_be_bytes(b);
                if n & (1 << 63) != 0 {
                    return Err(protocol("invalid 64-bit payload length"));
                }
                n
            }
            _ => u64::from(short_len),
        };
        let mut key = [0u8; 4];
        if masked {
            key.copy_from_slice(&bytes[2 + ext..header_len]);
        }
        if control {
            let total = header_len + len as usize;
            if bytes.len() < total {
                return Ok(None);
            }
            let start = *pos + header_len;
            let payload = &mut buf[start..start + len as usize];
            if masked {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= key[i & 3];
                }
            }
            let payload = payload.to_vec();
            *pos += total;
            return Ok(Some(Some(control_event(opcode, payload)?)));
        }
        *pos += header_len;
        if opcode != OP_CONTINUATION {
            self.message_compressed = compressed;
        }
        self.message_done = fin;
        self.frame_final = fin;
        self.masked = masked;
        self.key = key;
        self.key_pos = 0;
        self.remaining = Some(len);
        Ok(Some(None))
    }

    /// Writes the payload `src` (as [`Decoder::next_masked`] handed it out) unmasked into
    /// `dst`, of the same length.
    pub fn unmask_into(&mut self, src: &[u8], dst: &mut [u8]) {
        if !self.masked {
            dst.copy_from_slice(src);
            return;
        }
        let mut p = self.key_pos;
        let mut rotated = [0u8; 8];
        for (i, b) in rotated.iter_mut().enumerate() {
            *b = self.key[(p + i) & 3];
        }
        let key64 = u64::from_ne_bytes(rotated);
        let mut from = src.chunks_exact(8);
        let mut to = dst.chunks_exact_mut(8);
        for (f, t) in (&mut from).zip(&mut to) {
            let mut w = [0u8; 8];
            w.copy_from_slice(f);
            t.copy_from_slice(&(u64::from_ne_bytes(w) ^ key64).to_ne_bytes());
        }
        for (f, t) in from.remainder().iter().zip(to.into_remainder()) {
            *t = *f ^ self.key[p & 3];
            p += 1;
        }
        self.key_pos = p & 3;
    }

    /// Unmasks a payload in place (nothing when the frame was not masked).
    pub fn unmask(&mut self, data: &mut [u8]) {
        if !self.masked {
            return;
        }
        let mut p = self.key_pos;
        // Eight bytes at a time with the key rotated to the current position.
        let mut rotated = [0u8; 8];
        for (i, b) in rotated.iter_mut().enumerate() {
            *b = self.key[(p + i) & 3];
        }
        let key64 = u64::from_ne_bytes(rotated);
        let mut chunks = data.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let x = u64::from_ne_bytes(w) ^ key64;
            chunk.copy_from_slice(&x.to_ne_bytes());
        }
        // Whole 8-byte chunks keep the key position.
        for b in chunks.into_remainder() {
            *b ^= self.key[p & 3];
            p += 1;
        }
        self.key_pos = p & 3;
    }
}

fn control_event(opcode: u8, payload: Vec<u8>) -> Result<Event, ProtocolError> {
    match opcode {
        OP_PING => Ok(Event::Ping(payload)),
        OP_PONG => Ok(Event::Pong),
        _ => close_reply(&payload).map(Event::Close),
    }
}

/// The payload of the close frame that answers a client's close, as nats-server builds it:
/// the same status (1007 when the reason is not UTF-8), nothing when the client gave none.
fn close_reply(payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    match payload.len() {
        0 => return Ok(Vec::new()),
        1 => return Err(protocol("close frame payload cannot be 1 byte")),
        _ => {}
    }
    let status = u16::from_be_bytes([payload[0], payload[1]]);
    if !valid_close_status(status) {
        return Err(protocol(format!("invalid close status code {status}")));
    }
    let body = &payload[2..];
    if std::str::from_utf8(body).is_err() {
        return Ok(close_payload(
            CLOSE_INVALID_PAYLOAD,
            "invalid utf8 body in close frame",
        ));
    }
    let body = String::from_utf8_lossy(body);
    Ok(close_payload(status, &body))
}

/// nats-server's `wsIsValidCloseStatus`.
pub fn valid_close_status(code: u16) -> bool {
    if matches!(code, CLOSE_NO_STATUS | 1004 | 1006 | CLOSE_TLS_HANDSHAKE) {
        return false;
    }
    (1000..5000).contains(&code) && !(1016..=2999).contains(&code)
}

/// A close payload: the status, then the reason cut to fit a control frame (with `...`).
pub fn close_payload(status: u16, reason: &str) -> Vec<u8> {
    let mut reason = reason.as_bytes();
    let mut cut = false;
    if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
        reason = &reason[..MAX_CONTROL_PAYLOAD - 5];
        cut = true;
    }
    let mut out = Vec::with_capacity(2 + reason.len() + 3);
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(reason);
    if cut {
        out.extend_from_slice(b"...");
    }
    out
}

/// Appends a server frame header (never masked): `first` carries the opcode (else it is a
/// continuation), `compressed` sets RSV1.
pub fn put_header(
    out: &mut Vec<u8>,
    opcode: u8,
    first: bool,
    last: bool,
    compressed: bool,
    len: usize,
) {
    let mut b0 = if first { opcode } else { OP_CONTINUATION };
    if last {
        b0 |= FINAL_BIT;
    }
    if compressed {
        b0 |= RSV1_BIT;
    }
    out.push(b0);
    if len <= 125 {
        out.push(len as u8);
    } else if len < 65536 {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A whole control frame from the server.
pub fn control_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + payload.len());
    put_header(&mut out, opcode, true, true, false, payload.len());
    out.extend_from_slice(payload);
    out
}

/// Appends `data` as binary frames of at most `max_frame` bytes each (0 = one frame), each
/// a whole message, as nats-server frames what it sends uncompressed.
pub fn put_binary(out: &mut Vec<u8>, data: &[u8], max_frame: usize) {
    if max_frame == 0 || data.len() <= max_frame {
        put_header(out, OP_BINARY, true, true, false, data.len());
        out.extend_from_slice(data);
        return;
    }
    for chunk in data.chunks(max_frame) {
        put_header(out, OP_BINARY, true, true, false, chunk.len());
        out.extend_from_slice(chunk);
    }
}

/// Appends one compressed message: a single frame, or fragments of at most `max_frame`
/// bytes (only the first carries RSV1), as nats-server fragments for browsers.
pub fn put_compressed(out: &mut Vec<u8>, deflated: &[u8], max_frame: usize) {
    if max_frame == 0 || deflated.len() <= max_frame {
        put_header(out, OP_BINARY, true, true, true, deflated.len());
        out.extend_from_slice(deflated);
        return;
    }
    let count = deflated.len().div_ceil(max_frame);
    for (i, chunk) in deflated.chunks(max_frame).enumerate() {
        let first = i == 0;
        put_header(out, OP_BINARY, first, i + 1 == count, first, chunk.len());
        out.extend_from_slice(chunk);
    }
}

/// The server's close status for a connection closed for `reason` (nats-server's
/// `wsEnqueueCloseMessage`).
pub fn close_status(reason: super::super::CloseReason) -> u16 {
    use super::super::CloseReason as R;
    match reason {
        R::ClientClosed => CLOSE_NORMAL,
        R::AuthenticationTimeout
        | R::AuthenticationFailure
        | R::SlowConsumerPendingBytes
        | R::SlowConsumerWriteDeadline
        | R::MaxConnectionsExceeded
        | R::MaxControlLineExceeded => CLOSE_POLICY_VIOLATION,
        R::TlsHandshakeFailure => CLOSE_TLS_HANDSHAKE,
        R::ParseError | R::ProtocolViolation | R::BadClientProtocolVersion => CLOSE_PROTOCOL_ERROR,
        R::MaxPayloadExceeded => CLOSE_MESSAGE_TOO_BIG,
        R::WriteError | R::ReadError | R::StaleConnection | R::ServerShutdown => CLOSE_GOING_AWAY,
        _ => CLOSE_INTERNAL_ERROR,
    }
}

/// Masks (or unmasks) `data` with `key`, as a client does; for tests and tools.
pub fn apply_mask(key: [u8; 4], data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
