//! A raw WebSocket client for wire tests: upgrade requests, masked client frames, server
//! frames read back, and the bytes they carry.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub fn upgrade_request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub fn connect(ws_port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", ws_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

/// Everything the server sends until it closes or goes quiet for `quiet`.
pub fn read_all(s: &mut TcpStream, quiet: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// The response with its `Date` header taken out.
pub fn without_date(response: &[u8]) -> String {
    String::from_utf8_lossy(response)
        .split("\r\n")
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Server frames: (first byte, payload) each.
pub type Frames = Vec<(u8, Vec<u8>)>;

/// A client frame, masked.
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    out
}

/// Server frames: (first byte, payload); the rest of `bytes` that is not a whole frame is
/// dropped.
pub fn frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 2 <= bytes.len() {
        let (b0, b1) = (bytes[p], bytes[p + 1]);
        let (len, head) = match b1 & 0x7f {
            126 if p + 4 <= bytes.len() => {
                (u16::from_be_bytes([bytes[p + 2], bytes[p + 3]]) as usize, 4)
            }
            127 if p + 10 <= bytes.len() => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[p + 2..p + 10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n if n < 126 => (n as usize, 2),
            _ => break,
        };
        if p + head + len > bytes.len() {
            break;
        }
        out.push((b0, bytes[p + head..p + head + len].to_vec()));
        p += head + len;
    }
    out
}

/// `GET path` on the monitoring port, as JSON.
pub fn http_json(port: u16, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// Upgrades with `extra` headers, sends `ops` in one frame; the frames that come back
/// (INFO left out) and whether the server closed.
pub fn session(ws_port: u16, extra: &str, ops: &str) -> (Vec<(u8, Vec<u8>)>, bool) {
    let mut c = connect(ws_port);
    c.write_all(upgrade_request(extra).as_bytes()).unwrap();
    let (head, _) = read_all(&mut c, Duration::from_millis(300));
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    c.write_all(&frame(0x82, ops.as_bytes())).unwrap();
    let (bytes, closed) = read_all(&mut c, Duration::from_millis(600));
    let mut all = frames(&bytes);
    all.retain(|(_, p)| !p.starts_with(b"INFO "));
    (all, closed)
}

/// The bytes of the binary frames, in order.
pub fn data(frames: &[(u8, Vec<u8>)]) -> String {
    let bytes: Vec<u8> = frames
        .iter()
        .filter(|(b, _)| *b == 0x82)
        .flat_map(|(_, p)| p.clone())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn texts(frames: &[(u8, Vec<u8>)]) -> Vec<(u8, String)> {
    frames
        .iter()
        .map(|(b, p)| (*b, String::from_utf8_lossy(p).into_owned()))
        .collect()
}
