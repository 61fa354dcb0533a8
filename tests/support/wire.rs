//! Byte-exact wire tests: [`RawConn`], a client that sends exact bytes and expects exact
//! bytes back (with a readable diff when they differ), and builders and parsers of `MSG`
//! and `HMSG` frames.
//!
//! Every read is bounded by a deadline and by a number of reads; a read blocks on the
//! socket (with a timeout), so the waits are for the bytes themselves, never fixed sleeps.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Default deadline for one `expect*` call.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// Upper bound on the number of read calls any single wait loop makes.
const MAX_READS: usize = 100_000;

/// Renders bytes readably: printable ASCII as is, `\r`, `\n`, `\t` and other
/// bytes escaped.
pub fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn show_limited(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        show(b)
    } else {
        format!("{}…(+{} bytes)", show(&b[..max]), b.len() - max)
    }
}

fn diff(expected: &[u8], got: &[u8]) -> String {
    let at = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    let from = at.saturating_sub(40);
    format!(
        "expected ({} bytes): \"{}\"\n     got ({} bytes): \"{}\"\nfirst difference at byte {at}: expected \"{}\" got \"{}\"",
        expected.len(),
        show_limited(expected, 600),
        got.len(),
        show_limited(got, 600),
        show_limited(&expected[from.min(expected.len())..(at + 20).min(expected.len())], 200),
        show_limited(&got[from.min(got.len())..(at + 20).min(got.len())], 200),
    )
}

enum ReadEvent {
    Data,
    Eof,
    Reset(io::Error),
    Timeout,
}

/// A byte-exact client connection.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    label: String,
    /// The raw INFO line (including its trailing CRLF), if one was read.
    pub info_line: Vec<u8>,
    /// The parsed INFO JSON (`Null` if no INFO was read).
    pub info: serde_json::Value,
}

impl RawConn {
    /// Connects and reads the INFO line.
    pub fn connect(addr: SocketAddr, label: &str) -> RawConn {
        let mut c = Self::connect_no_info(addr, label);
        c.read_info();
        c
    }

    /// Connects without reading anything.
    pub fn connect_no_info(addr: SocketAddr, label: &str) -> RawConn {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        Self::from_stream(stream, label)
    }

    /// Wraps an already connected stream (e.g. one built with socket2).
    pub fn from_stream(stream: TcpStream, label: &str) -> RawConn {
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .expect("write timeout");
        RawConn {
            stream,
            buf: Vec::new(),
            label: label.to_string(),
            info_line: Vec::new(),
            info: serde_json::Value::Null,
        }
    }

    /// Reads and parses the `INFO {...}\r\n` line.
    pub fn read_info(&mut self) -> &serde_json::Value {
        let line = self.read_line();
        assert!(
            line.starts_with(b"INFO ") && line.ends_with(b"\r\n"),
            "[{}] expected an INFO line, got \"{}\"",
            self.label,
            show(&line)
        );
        let json = &line[5..line.len() - 2];
        self.info = serde_json::from_slice(json).unwrap_or_else(|e| {
            panic!(
                "[{}] INFO JSON does not parse ({e}): \"{}\"",
                self.label,
                show(json)
            )
        });
        self.info_line = line;
        &self.info
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// One read attempt, bounded by `deadline`.
    fn fill(&mut self, deadline: Instant) -> ReadEvent {
        let now = Instant::now();
        if now >= deadline {
            return ReadEvent::Timeout;
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(wait))
            .expect("set_read_timeout");
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => ReadEvent::Eof,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                ReadEvent::Data
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                ReadEvent::Timeout
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadEvent::Data,
            Err(e) => ReadEvent::Reset(e),
        }
    }

    /// Writes all of `bytes`; panics if the write fails.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        let bytes = bytes.as_ref();
        if let Err(e) = self
            .stream
            .write_all(bytes)
            .and_then(|_| self.stream.flush())
        {
            panic!(
                "[{}] write of \"{}\" failed: {e}",
                self.label,
                show_limited(bytes, 200)
            );
        }
    }

    /// Writes `bytes`, ignoring errors (for sends that race a server close).
    pub fn send_lossy(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = self.stream.write_all(bytes.as_ref());
        let _ = self.stream.flush();
    }

    /// Writes `bytes` in chunks of `chunk` bytes with `pause` between them.
    pub fn send_chunked(&mut self, bytes: impl AsRef<[u8]>, chunk: usize, pause: Duration) {
        for piece in bytes.as_ref().chunks(chunk.max(1)) {
            self.send(piece);
            thread::sleep(pause);
        }
    }

    /// Reads until exactly `expected` has arrived (within [`DEADLINE`]).
    /// Bytes past `expected` stay buffered for the next call.
    pub fn expect(&mut self, expected: impl AsRef<[u8]>) {
        self.expect_within(expected, DEADLINE)
    }

    pub fn expect_within(&mut self, expected: impl AsRef<[u8]>, limit: Duration) {
        let expected = expected.as_ref();
        let deadline = Instant::now() + limit;
        for _ in 0..MAX_READS {
            let n = self.buf.len().min(expected.len());
            if self.buf[..n] != expected[..n] {
                panic!(
                    "[{}] unexpected bytes\n{}",
                    self.label,
                    diff(expected, &self.buf)
                );
            }
            if self.buf.len() >= expected.len() {
                self.buf.drain(..expected.len());
                return;
            }
            match self.fill(deadline) {
                ReadEvent::Data => {}
                ReadEvent::Eof => panic!(
                    "[{}] connection closed before the expected bytes arrived\n{}",
                    self.label,
                    diff(expected, &self.buf)
                ),
                ReadEvent::Reset(e) => panic!(
                    "[{}] connection reset ({e}) before the expected bytes arrived\n{}",
                    self.label,
                    diff(expected, &self.buf)
                ),
                ReadEvent::Timeout => panic!(
                    "[{}] timed out after {limit:?} waiting for bytes\n{}",
                    self.label,
                    diff(expected, &self.buf)
                ),
            }
        }
        panic!(
            "[{}] too many reads waiting for \"{}\"",
            self.label,
            show(expected)
        );
    }

    /// Expects the peer to close (EOF or reset) with nothing received first.
    pub fn expect_closed(&mut self) {
        self.expect_then_closed(b"")
    }

    /// Expects exactly `expected` and then a close (EOF or reset).
    pub fn expect_then_closed(&mut self, expected: impl AsRef<[u8]>) {
        let expected = expected.as_ref();
        if !expected.is_empty() {
            self.expect(expected);
        }
        let deadline = Instant::now() + DEADLINE;
        for _ in 0..MAX_READS {
            if !self.buf.is_empty() {
                panic!(
                    "[{}] expected the connection to close, but received \"{}\"",
                    self.label,
                    show_limited(&self.buf, 600)
                );
            }
            match self.fill(deadline) {
                ReadEvent::Data => {}
                ReadEvent::Eof | ReadEvent::Reset(_) => return,
                ReadEvent::Timeout => panic!(
                    "[{}] connection still open {DEADLINE:?} after the expected close",
                    self.label
                ),
            }
        }
        panic!("[{}] too many reads waiting for close", self.label);
    }

    /// Asserts that nothing arrives (and the connection stays open) for `ms` milliseconds.
    pub fn expect_silence(&mut self, ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(ms);
        for _ in 0..MAX_READS {
            if !self.buf.is_empty() {
                panic!(
                    "[{}] expected silence, but received \"{}\"",
                    self.label,
                    show_limited(&self.buf, 600)
                );
            }
            match self.fill(deadline) {
                ReadEvent::Data => {}
                ReadEvent::Eof => panic!(
                    "[{}] expected silence, but the connection closed",
                    self.label
                ),
                ReadEvent::Reset(e) => {
                    panic!(
                        "[{}] expected silence, but the connection was reset ({e})",
                        self.label
                    )
                }
                ReadEvent::Timeout => return,
            }
        }
        panic!("[{}] too many reads during silence", self.label);
    }

    /// Reads one CRLF- or LF-terminated line (terminator included).
    pub fn read_line(&mut self) -> Vec<u8> {
        match self.read_line_within(DEADLINE) {
            Some(line) => line,
            None => panic!(
                "[{}] timed out reading a line; have \"{}\"",
                self.label,
                show(&self.buf)
            ),
        }
    }

    /// Reads one line if it arrives within `limit`; `None` on timeout.
    /// Panics if the connection closes.
    pub fn read_line_within(&mut self, limit: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        for _ in 0..MAX_READS {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=i).collect());
            }
            match self.fill(deadline) {
                ReadEvent::Data => {}
                ReadEvent::Eof => {
                    panic!(
                        "[{}] EOF while reading a line; have \"{}\"",
                        self.label,
                        show(&self.buf)
                    )
                }
                ReadEvent::Reset(e) => panic!(
                    "[{}] reset ({e}) while reading a line; have \"{}\"",
                    self.label,
                    show(&self.buf)
                ),
                ReadEvent::Timeout => return None,
            }
        }
        None
    }

    /// Collects whatever arrives until `quiet_ms` pass with nothing new, or
    /// `limit` passes in total. Returns the bytes and whether the peer closed.
    pub fn drain_until_quiet(&mut self, quiet_ms: u64, limit: Duration) -> (Vec<u8>, bool) {
        let end = Instant::now() + limit;
        let mut closed = false;
        for _ in 0..MAX_READS {
            let quiet = (Instant::now() + Duration::from_millis(quiet_ms)).min(end);
            match self.fill(quiet) {
                ReadEvent::Data => {}
                ReadEvent::Eof | ReadEvent::Reset(_) => {
                    closed = true;
                    break;
                }
                ReadEvent::Timeout => break,
            }
            if Instant::now() >= end {
                break;
            }
        }
        (std::mem::take(&mut self.buf), closed)
    }

    /// Sends `CONNECT <json>\r\nPING\r\n` and expects `PONG\r\n` (the JSON
    /// must turn verbose off).
    pub fn handshake(&mut self, connect_json: &str) {
        self.send(format!("CONNECT {connect_json}\r\nPING\r\n"));
        self.expect(b"PONG\r\n");
    }

    /// PING/PONG round trip: proves every earlier reply has been received.
    pub fn ping(&mut self) {
        self.send(b"PING\r\n");
        self.expect(b"PONG\r\n");
    }

    pub fn shutdown(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Builds `MSG subj sid [reply] len\r\npayload\r\n`.
pub fn msg(subject: &str, sid: &str, reply: Option<&str>, payload: &[u8]) -> Vec<u8> {
    let mut v = match reply {
        Some(r) => format!("MSG {subject} {sid} {r} {}\r\n", payload.len()).into_bytes(),
        None => format!("MSG {subject} {sid} {}\r\n", payload.len()).into_bytes(),
    };
    v.extend_from_slice(payload);
    v.extend_from_slice(b"\r\n");
    v
}

/// Builds `HMSG subj sid [reply] hlen tlen\r\nheaders payload\r\n`.
pub fn hmsg(
    subject: &str,
    sid: &str,
    reply: Option<&str>,
    headers: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let (h, t) = (headers.len(), headers.len() + payload.len());
    let mut v = match reply {
        Some(r) => format!("HMSG {subject} {sid} {r} {h} {t}\r\n").into_bytes(),
        None => format!("HMSG {subject} {sid} {h} {t}\r\n").into_bytes(),
    };
    v.extend_from_slice(headers);
    v.extend_from_slice(payload);
    v.extend_from_slice(b"\r\n");
    v
}

/// Parses a stream of `MSG` frames into `(sid, payload)` pairs, in order.
/// Stops at the first incomplete or non-`MSG` frame.
pub fn parse_msgs(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for _ in 0..10_000_000 {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let line = std::str::from_utf8(&b[..eol]).unwrap_or("");
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.first() != Some(&"MSG") || parts.len() < 4 {
            break;
        }
        let Ok(len) = parts[parts.len() - 1].parse::<usize>() else {
            break;
        };
        let start = eol + 2;
        if b.len() < start + len + 2 {
            break;
        }
        out.push((parts[2].to_string(), b[start..start + len].to_vec()));
        b = &b[start + len + 2..];
    }
    out
}
