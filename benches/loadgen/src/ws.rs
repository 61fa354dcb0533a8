//! The WebSocket transport (`--ws`, `--ws-compress`): the client side of RFC 6455 and,
//! optionally, permessage-deflate (RFC 7692) with no context takeover either way.
//!
//! Small and fast on purpose, like the rest of loadgen:
//!
//! - the upgrade is one `GET` written and read on the connection's own socket; the `101`
//!   status and `Sec-WebSocket-Accept` are checked, and with `--ws-compress` the answer must
//!   grant `permessage-deflate` with `server_no_context_takeover`, or the run fails;
//! - every client write is one binary message in one frame, masked (a fresh random key for
//!   each frame built, the XOR in one vectorised pass with the copy);
//! - server frames (unmasked) are decoded incrementally, cut anywhere; payload of
//!   uncompressed messages goes straight to the NATS scanner as it arrives; a compressed
//!   message is collected until its final frame, `00 00 ff ff` is appended and it is
//!   inflated with a fresh raw-deflate stream (no context takeover); pings are answered;
//! - a publisher writes the same 128 KiB buffer again and again: the last large message's
//!   frame (masked, and compressed with `--ws-compress`) is kept and sent again while the
//!   message is the same, so the load generator's CPU goes to the socket, not to masking or
//!   deflating the same bytes again (the mask is then pre-generated, as a load generator may;
//!   the server still unmasks and inflates every frame). No context takeover makes every
//!   compressed message independent, so a resent one is what compressing it again gives.
//!   Messages of at most 64 bytes (PING, PONG) go uncompressed, each with a fresh mask.

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Messages of at most this many bytes are sent uncompressed.
const SMALL: usize = 64;

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xa;

/// The upgrade, on a connected socket. Returns the transport state and whatever the
/// server sent after its answer (frames already, usually INFO), for [`Ws::feed`].
pub(crate) fn handshake(
    s: &mut TcpStream,
    host: &str,
    compress: bool,
    deadline: Instant,
) -> Result<(Ws, Vec<u8>)> {
    let key_bytes: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if compress {
        req.push_str(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\n",
        );
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .context("websocket upgrade: writing the request")?;
    let mut got = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = memchr::memmem::find(&got, b"\r\n\r\n") {
            break i + 4;
        }
        if Instant::now() >= deadline {
            bail!("websocket upgrade: no complete answer within the timeout");
        }
        if got.len() > 64 * 1024 {
            bail!("websocket upgrade: answer head longer than 64 KiB");
        }
        let n = match s.read(&mut chunk) {
            Ok(0) => bail!(
                "websocket upgrade: server closed the connection (after {:?})",
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => bail!("websocket upgrade: read: {e}"),
        };
        got.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&got[..head_end])
        .map_err(|_| anyhow!("websocket upgrade: answer head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        bail!("websocket upgrade refused: {status:?} (answer: {head:?})");
    }
    let mut accept = None;
    let mut extensions = Vec::new();
    let mut upgrade_ok = false;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "sec-websocket-accept" => accept = Some(value.to_string()),
            "sec-websocket-extensions" => extensions.push(value.to_ascii_lowercase()),
            "upgrade" => upgrade_ok = value.eq_ignore_ascii_case("websocket"),
            _ => {}
        }
    }
    if !upgrade_ok {
        bail!("websocket upgrade: the 101 has no `Upgrade: websocket` ({head:?})");
    }
    let want = accept_key(&key);
    if accept.as_deref() != Some(want.as_str()) {
        bail!("websocket upgrade: Sec-WebSocket-Accept {accept:?}, expected {want:?}");
    }
    let deflate = extensions
        .iter()
        .flat_map(|e| e.split(','))
        .find(|e| e.trim_start().starts_with("permessage-deflate"));
    let deflate = match (compress, deflate) {
        (false, None) => false,
        (false, Some(e)) => bail!("websocket upgrade: server granted {e:?}, never asked for"),
        (true, None) => bail!(
            "websocket upgrade: permessage-deflate asked for, not granted (is compression on in the server's websocket block?)"
        ),
        (true, Some(e)) => {
            let params: Vec<&str> = e.split(';').map(str::trim).collect();
            if !params.contains(&"server_no_context_takeover") {
                bail!("websocket upgrade: permessage-deflate granted without server_no_context_takeover: {e:?}");
            }
            true
        }
    };
    let leftover = got[head_end..].to_vec();
    Ok((Ws::new(deflate), leftover))
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)).
pub(crate) fn accept_key(key: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.digest().bytes())
}

/// XOR `data` with the 4-byte mask, in place.
pub(crate) fn mask_in_place(data: &mut [u8], mask: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// `out` extended by `src` XORed with the mask, in one pass of 32-byte blocks (which the
/// compiler turns into vector instructions).
pub(crate) fn extend_masked(out: &mut Vec<u8>, src: &[u8], mask: [u8; 4]) {
    let start = out.len();
    out.resize(start + src.len(), 0);
    let dst = &mut out[start..];
    let mut m = [0u8; 32];
    for (i, b) in m.iter_mut().enumerate() {
        *b = mask[i & 3];
    }
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (d, s) in (&mut d).zip(&mut s) {
        for k in 0..32 {
            d[k] = s[k] ^ m[k];
        }
    }
    // The remainder starts at a multiple of 32, so at mask index 0.
    for (i, (d, s)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *d = s ^ mask[i & 3];
    }
}

/// One connection's WebSocket state: the frame decoder and the (de)compressors.
pub(crate) struct Ws {
    deflate: bool,
    // -- decoder --
    /// A frame header not complete yet.
    hdr: Vec<u8>,
    /// Payload bytes of the current frame still to come.
    left: u64,
    /// The current frame is a control frame, and its opcode.
    cur_ctrl: bool,
    ctrl_op: u8,
    /// The current data frame is its message's last.
    fin: bool,
    /// Inside a data message (a continuation is allowed).
    in_msg: bool,
    /// The current message is compressed (RSV1 on its first frame).
    msg_z: bool,
    /// Compressed bytes of the current message, or a control frame's payload.
    zbuf: Vec<u8>,
    ctrl: Vec<u8>,
    inflater: Decompress,
    inflated: Vec<u8>,
    /// Control frames to answer (pongs), already framed and masked.
    pub(crate) reply: Vec<u8>,
    // -- encoder --
    out: Vec<u8>,
    /// The last large message and its frame: sent again as it is when the next message is
    /// the same (a publisher's buffer), so the load generator does not spend its CPU
    /// masking (and compressing) the same bytes again.
    last_src: Vec<u8>,
    last_frame: Vec<u8>,
    deflater: Compress,
    /// A message's compressed bytes.
    z_out: Vec<u8>,
    // -- counters, for the run's report --
    pub(crate) frames_in: u64,
    pub(crate) frames_out: u64,
    pub(crate) inflated_msgs: u64,
}

impl Ws {
    fn new(deflate: bool) -> Ws {
        Ws {
            deflate,
            hdr: Vec::with_capacity(14),
            left: 0,
            cur_ctrl: false,
            ctrl_op: 0,
            fin: false,
            in_msg: false,
            msg_z: false,
            zbuf: Vec::new(),
            ctrl: Vec::new(),
            inflater: Decompress::new(false),
            inflated: vec![0; 64 * 1024],
            reply: Vec::new(),
            out: Vec::new(),
            last_src: Vec::new(),
            last_frame: Vec::new(),
            deflater: Compress::new(Compression::fast(), false),
            z_out: Vec::new(),
            frames_in: 0,
            frames_out: 0,
            inflated_msgs: 0,
        }
    }

    /// `data` as one masked binary message (compressed when negotiated); the frame's bytes
    /// are valid until the next call.
    pub(crate) fn frame(&mut self, data: &[u8]) -> Result<&[u8]> {
        self.frames_out += 1;
        // Short messages (PING, PONG) go uncompressed, as servers send theirs (a message
        // chooses by its RSV1 bit), each with a fresh mask; they leave the kept frame alone.
        if data.len() <= SMALL {
            encode_frame(&mut self.out, OP_BINARY, false, data);
            return Ok(&self.out);
        }
        if self.last_src != data {
            if self.deflate {
                self.z_out.clear();
                deflate_message(&mut self.deflater, data, &mut self.z_out)?;
                encode_frame(&mut self.last_frame, OP_BINARY, true, &self.z_out);
            } else {
                encode_frame(&mut self.last_frame, OP_BINARY, false, data);
            }
            self.last_src.clear();
            self.last_src.extend_from_slice(data);
        }
        Ok(&self.last_frame)
    }

    /// Decodes server frames from `data` (cut anywhere) and hands the NATS bytes to `sink`.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        while !data.is_empty() {
            if self.left > 0 {
                let n = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let (chunk, rest) = data.split_at(n);
                data = rest;
                self.left -= n as u64;
                if self.cur_ctrl {
                    self.ctrl.extend_from_slice(chunk);
                } else if self.msg_z {
                    if self.zbuf.len() + chunk.len() > 64 << 20 {
                        bail!("websocket: compressed message over 64 MiB from the server");
                    }
                    self.zbuf.extend_from_slice(chunk);
                } else {
                    sink(chunk)?;
                }
                if self.left == 0 {
                    self.end_frame(sink)?;
                }
                continue;
            }
            // A header: 2 bytes, then 0, 2 or 8 of length (server frames carry no mask).
            let have = self.hdr.len();
            let need = |h: &[u8]| -> usize {
                if h.len() < 2 {
                    return 2;
                }
                match h[1] & 0x7f {
                    126 => 4,
                    127 => 10,
                    _ => 2,
                }
            };
            let take;
            let header: &[u8] = if have == 0 && data.len() >= 2 && data.len() >= need(data) {
                take = need(data);
                &data[..take]
            } else {
                // Gather the header across reads, one byte at a time (rare).
                self.hdr.push(data[0]);
                data = &data[1..];
                if self.hdr.len() < need(&self.hdr) {
                    continue;
                }
                take = 0;
                &self.hdr
            };
            let (b0, b1) = (header[0], header[1]);
            if b1 & 0x80 != 0 {
                bail!("websocket: the server sent a masked frame");
            }
            let len = match b1 & 0x7f {
                126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
                127 => u64::from_be_bytes(header[2..10].try_into().map_err(|_| anyhow!("len"))?),
                n => u64::from(n),
            };
            if b0 & 0x30 != 0 {
                bail!("websocket: RSV2/RSV3 set in a server frame");
            }
            let op = b0 & 0x0f;
            let fin = b0 & 0x80 != 0;
            let rsv1 = b0 & 0x40 != 0;
            match op {
                OP_CONT => {
                    if !self.in_msg {
                        bail!("websocket: continuation frame outside a message");
                    }
                    if rsv1 {
                        bail!("websocket: RSV1 on a continuation frame");
                    }
                }
                OP_TEXT | OP_BINARY => {
                    if self.in_msg {
                        bail!("websocket: new message before the previous one's final frame");
                    }
                    if rsv1 && !self.deflate {
                        bail!("websocket: compressed frame without negotiated permessage-deflate");
                    }
                    self.in_msg = true;
                    self.msg_z = rsv1;
                }
                OP_CLOSE | OP_PING | OP_PONG => {
                    if !fin || len > 125 {
                        bail!("websocket: bad control frame (fin {fin}, length {len})");
                    }
                    self.ctrl.clear();
                }
                other => bail!("websocket: unknown opcode {other}"),
            }
            // A control frame may come between a message's frames: the message's state
            // stays as it is.
            self.cur_ctrl = op >= OP_CLOSE;
            if self.cur_ctrl {
                self.ctrl_op = op;
            } else {
                self.fin = fin;
            }
            self.hdr.clear();
            data = &data[take..];
            self.frames_in += 1;
            self.left = len;
            if len == 0 {
                self.end_frame(sink)?;
            }
        }
        Ok(())
    }

    fn end_frame(&mut self, sink: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        if self.cur_ctrl {
            self.cur_ctrl = false;
            match self.ctrl_op {
                OP_PING => {
                    let payload = std::mem::take(&mut self.ctrl);
                    let mut f = Vec::new();
                    encode_frame(&mut f, OP_PONG, false, &payload);
                    self.reply.extend_from_slice(&f);
                    self.ctrl = payload;
                }
                OP_CLOSE => {
                    let (code, reason) = if self.ctrl.len() >= 2 {
                        (
                            u16::from_be_bytes([self.ctrl[0], self.ctrl[1]]),
                            String::from_utf8_lossy(&self.ctrl[2..]).into_owned(),
                        )
                    } else {
                        (1005, String::new())
                    };
                    bail!("websocket: server sent close {code} {reason:?}");
                }
                _ => {} // a pong
            }
            return Ok(());
        }
        if !self.fin {
            return Ok(());
        }
        self.in_msg = false;
        if self.msg_z {
            self.msg_z = false;
            let z = std::mem::take(&mut self.zbuf);
            let mut buf = std::mem::take(&mut self.inflated);
            let r = inflate_message(&mut self.inflater, &z, &mut buf, sink);
            self.inflated = buf;
            self.zbuf = z;
            self.zbuf.clear();
            self.inflated_msgs += 1;
            r?;
        }
        Ok(())
    }
}

/// Round trips through the encoder and decoder, cut at every point: run with no scenario.
pub(crate) fn selftest() -> Result<()> {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    if accept_key(key) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
        bail!("ws self-test: accept key {}", accept_key(key));
    }
    // Masking: the same bytes in place and in one pass, at every length.
    let src: Vec<u8> = (0..100u8).collect();
    for n in 0..src.len() {
        let mut v = src[..n].to_vec();
        mask_in_place(&mut v, [1, 2, 3, 4]);
        let mut w = vec![7u8];
        extend_masked(&mut w, &src[..n], [1, 2, 3, 4]);
        if w[1..] != v[..] || w[0] != 7 {
            bail!("ws self-test: extend_masked differs at length {n}");
        }
        for (i, b) in v.iter().enumerate() {
            if *b != src[i] ^ [1, 2, 3, 4][i & 3] {
                bail!("ws self-test: mask wrong at {i} of {n}");
            }
        }
    }
    // Server frames: unmasked. Build them by unmasking client frames.
    let unmask = |f: &[u8]| -> Vec<u8> {
        let hl = match f[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        let mask: [u8; 4] = f[hl..hl + 4].try_into().unwrap_or_default();
        let mut out = f[..hl].to_vec();
        out[1] &= 0x7f;
        let mut p = f[hl + 4..].to_vec();
        mask_in_place(&mut p, mask);
        out.extend_from_slice(&p);
        out
    };
    let big: Vec<u8> = b"MSG a 1 5\r\nhello\r\n".repeat(5000);
    for deflate in [false, true] {
        let mut enc = Ws::new(deflate);
        let mut stream = Vec::new();
        let mut expect = Vec::new();
        for m in [&b"INFO {}\r\n"[..], &big, &big, &b""[..], &big[..300]] {
            stream.extend(unmask(enc.frame(m)?));
            expect.extend_from_slice(m);
        }
        // A ping in the middle of a fragmented message, and the message's two halves.
        let mut f = Vec::new();
        encode_frame(&mut f, OP_BINARY, false, b"PI");
        let mut first = unmask(&f);
        first[0] &= 0x7f; // not final
        stream.extend(first);
        encode_frame(&mut f, OP_PING, false, b"x");
        stream.extend(unmask(&f));
        encode_frame(&mut f, OP_CONT, false, b"NG\r\n");
        stream.extend(unmask(&f));
        expect.extend_from_slice(b"PING\r\n");
        for step in [1usize, 2, 3, 7, 100, 4096, stream.len()] {
            let mut dec = Ws::new(deflate);
            let mut got = Vec::new();
            for c in stream.chunks(step) {
                dec.feed(c, &mut |b: &[u8]| {
                    got.extend_from_slice(b);
                    Ok(())
                })?;
            }
            if got != expect || dec.reply.len() != 2 + 4 + 1 {
                bail!(
                    "ws self-test: deflate {deflate} step {step}: {} bytes out of {}, reply {}",
                    got.len(),
                    expect.len(),
                    dec.reply.len()
                );
            }
        }
    }
    Ok(())
}

/// One frame (FIN set) of `payload`, masked with a fresh key, into `out` (cleared first).
fn encode_frame(out: &mut Vec<u8>, op: u8, rsv1: bool, payload: &[u8]) {
    out.clear();
    out.push(0x80 | if rsv1 { 0x40 } else { 0 } | op);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask: [u8; 4] = fastrand::u32(..).to_ne_bytes();
    out.extend_from_slice(&mask);
    extend_masked(out, payload, mask);
}

/// permessage-deflate of one message, no context takeover: a fresh raw-deflate stream,
/// sync-flushed, its trailing `00 00 ff ff` removed (RFC 7692 7.2.1).
fn deflate_message(c: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    c.reset();
    out.reserve(data.len() / 2 + 64);
    loop {
        let before = c.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        c.compress_vec(&data[before..], out, FlushCompress::Sync)
            .map_err(|e| anyhow!("deflate: {e}"))?;
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    if !out.ends_with(&TAIL) {
        bail!("deflate: sync flush did not end with 00 00 ff ff");
    }
    out.truncate(out.len() - 4);
    Ok(())
}

/// Inflates one compressed message (`z`, without its tail) with a fresh stream, handing
/// the output to `sink` in pieces.
fn inflate_message(
    d: &mut Decompress,
    z: &[u8],
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    d.reset(false);
    for input in [z, &TAIL[..]] {
        let base = d.total_in();
        loop {
            let used = (d.total_in() - base) as usize;
            let out_before = d.total_out();
            let st = d
                .decompress(&input[used..], buf, FlushDecompress::Sync)
                .map_err(|e| anyhow!("websocket: inflating a server message: {e}"))?;
            let produced = (d.total_out() - out_before) as usize;
            if produced > 0 {
                sink(&buf[..produced])?;
            }
            let used = (d.total_in() - base) as usize;
            if st == Status::StreamEnd {
                break;
            }
            if used == input.len() && produced < buf.len() {
                break;
            }
            if produced == 0 && used == input.len() {
                break;
            }
        }
    }
    Ok(())
}
