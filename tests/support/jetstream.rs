//! JetStream helpers for `tests/jetstream.rs` (included there with
//! `#[path = "support/jetstream.rs"] mod js;`, after `mod support;`):
//!
//! * [`JsServer`]: a target started with `-js -sd DIR`, DIR a temporary store directory of
//!   its own that lives as long as the server (and can be started again: [`JsServer::restart`]).
//! * [`for_each_js_target`] / [`for_each_js_target_async`]: run a body once per selected
//!   target, each against a fresh JetStream server, naming the target and printing the tail
//!   of the server log when the body panics.
//! * [`Transcript`]: sends `$JS.API` requests and stream publishes over a raw connection and
//!   writes down every answer, byte for byte, with what must differ between two servers
//!   (timestamps, server id and name, version) replaced by markers; [`check_golden`]
//!   compares that with a golden file recorded from nats-server.

use std::fmt::Write as _;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{selected_targets, RawConn, Server, ServerInfo, ServerOpts, Target};

/// A JetStream server and its store directory (removed after the server is killed: the
/// fields drop in order).
pub struct JsServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

/// `-js -sd DIR`.
pub fn js_opts(dir: &Path) -> ServerOpts {
    ServerOpts::new().args(&["-js", "-sd", dir.to_str().expect("a UTF-8 temp dir")])
}

impl JsServer {
    pub fn start(target: &Target) -> JsServer {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-js-")
            .tempdir()
            .expect("a temporary store directory");
        let server = Server::start_opts(target, &js_opts(dir.path()));
        JsServer { server, dir }
    }

    /// Kills the server (SIGKILL, as [`Server`]'s drop does) and starts the same target
    /// again on the same store directory (on a new port).
    pub fn restart(self) -> JsServer {
        let JsServer { server, dir } = self;
        let target = server.target.clone();
        drop(server);
        let server = Server::start_opts(&target, &js_opts(dir.path()));
        JsServer { server, dir }
    }

    /// Like [`JsServer::restart`], on the same port: clients reconnect to it.
    pub fn restart_same_port(self) -> JsServer {
        let JsServer { server, dir } = self;
        let (target, port) = (server.target.clone(), server.port);
        drop(server);
        let server = Server::start_opts(&target, &js_opts(dir.path()).port(port));
        JsServer { server, dir }
    }

    pub fn info(&self) -> ServerInfo {
        self.server.info()
    }
}

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Runs `body`; when it panics, panics again with the tail of `server`'s log added.
pub fn with_log<T>(server: &Server, body: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(e) => {
            let log = server.log();
            let mut start = log.len().saturating_sub(6000);
            while !log.is_char_boundary(start) {
                start += 1;
            }
            panic!(
                "{}\n--- server log (tail) ---\n{}",
                panic_text(&*e),
                &log[start..]
            );
        }
    }
}

/// Runs `body` once per selected target against a fresh JetStream server.
pub fn for_each_js_target(body: impl Fn(&JsServer)) {
    let targets = selected_targets();
    assert!(!targets.is_empty(), "no targets selected");
    for t in &targets {
        let js = JsServer::start(t);
        if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| with_log(&js.server, || body(&js))))
        {
            panic!("[target={t}] test failed: {}", panic_text(&*e));
        }
    }
}

/// A multi-threaded tokio runtime for one target's body.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `fut` on `rt`, bounded by `limit`.
pub fn block_on_within<F: Future>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    fut: F,
) -> F::Output {
    rt.block_on(async {
        tokio::time::timeout(limit, fut)
            .await
            .unwrap_or_else(|_| panic!("test body did not finish within {limit:?}"))
    })
}

/// Async flavour of [`for_each_js_target`]: `body(info)` runs to completion on a fresh
/// runtime per target, bounded by `limit`.
pub fn for_each_js_target_async<F, Fut>(limit: Duration, body: F)
where
    F: Fn(ServerInfo) -> Fut,
    Fut: Future<Output = ()>,
{
    for_each_js_target(|js| {
        let rt = runtime();
        block_on_within(&rt, limit, body(js.info()));
        rt.shutdown_timeout(Duration::from_secs(2));
    });
}

// ---------------------------------------------------------------------------
// Transcripts of raw $JS.API exchanges
// ---------------------------------------------------------------------------

/// How long a request waits for its (first) answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// How long a request that nats-server leaves unanswered is watched for an answer.
const SILENCE_WAIT: Duration = Duration::from_millis(300);
/// The prefix of the reply subjects (one per request, numbered).
const REPLY_PREFIX: &str = "_JSR.";

/// What a request expects back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// One message.
    One,
    /// Messages up to and including the first with a status line (`NATS/1.0 204 EOB` ends a
    /// batched direct get; an error status ends it as well).
    Batch,
    /// Nothing: the request is watched for [`SILENCE_WAIT`].
    Nothing,
    /// A pull request: messages (on their own subjects) up to and including the first
    /// status, or up to `n` messages and then silence.
    Pull(usize),
}

/// One received frame: the subject it came on, the header block (HMSG) and the payload.
struct Frame {
    subject: String,
    reply: Option<String>,
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// A raw client that records requests and answers as text, one line each.
pub struct Transcript {
    conn: RawConn,
    label: String,
    text: String,
    next_reply: u64,
    server_id: String,
    server_name: String,
    version: String,
    /// The ack subjects of the last pull's deliveries.
    acks: Vec<String>,
}

impl Transcript {
    /// Connects to `server` (headers and no-responders on) and subscribes to the replies.
    pub fn new(server: &Server) -> Transcript {
        let mut conn = server.client_with(
            r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#,
        );
        let field = |k: &str| conn.info[k].as_str().unwrap_or_default().to_string();
        let (server_id, server_name, version) =
            (field("server_id"), field("server_name"), field("version"));
        assert!(!server_id.is_empty(), "INFO without server_id");
        conn.send(format!("SUB {REPLY_PREFIX}> 1\r\nPING\r\n"));
        conn.expect(b"PONG\r\n");
        Transcript {
            conn,
            label: server.target.name().to_string(),
            text: String::new(),
            next_reply: 0,
            server_id,
            server_name,
            version,
            acks: Vec::new(),
        }
    }

    /// A comment line, to find one's way in the transcript.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.text, "# {text}");
    }

    /// A request without headers that expects one answer.
    pub fn req(&mut self, subject: &str, body: &str) {
        self.exchange(subject, &[], body.as_bytes(), Expect::One);
    }

    /// A request with headers that expects one answer.
    pub fn req_h(&mut self, subject: &str, headers: &[(&str, &str)], body: &str) {
        self.exchange(subject, headers, body.as_bytes(), Expect::One);
    }

    /// A request answered by several messages, the last one with a status line.
    pub fn batch(&mut self, subject: &str, body: &str) {
        self.exchange(subject, &[], body.as_bytes(), Expect::Batch);
    }

    /// A pull request (`CONSUMER.MSG.NEXT`): records up to `n` deliveries (with their ack
    /// subjects) and stops at the first status message.
    pub fn pull(&mut self, subject: &str, body: &str, n: usize) -> Vec<String> {
        self.acks.clear();
        self.exchange(subject, &[], body.as_bytes(), Expect::Pull(n));
        std::mem::take(&mut self.acks)
    }

    /// Sends a request and goes on without waiting: its answers are recorded by a later
    /// [`expect_more`](Self::expect_more).
    pub fn send(&mut self, subject: &str, body: &str) {
        self.next_reply += 1;
        let reply = format!("{REPLY_PREFIX}{}", self.next_reply);
        let _ = writeln!(self.text, "> {subject} {body} (not waiting)");
        self.conn.send(format!(
            "PUB {subject} {reply} {}\r\n{body}\r\n",
            body.len()
        ));
    }

    /// Records up to `n` messages that come without a new request, waiting up to `wait`
    /// for each.
    pub fn expect_more(&mut self, n: usize, wait: Duration) {
        for _ in 0..n {
            match self.next_frame(wait) {
                Some(f) => self.record("", &f),
                None => {
                    self.text.push_str("< (nothing more)\n");
                    break;
                }
            }
        }
    }

    /// Reads and forgets what arrives within `wait` (answers whose number or timing
    /// varies between servers).
    pub fn drain(&mut self, wait: Duration) {
        while self.next_frame(wait).is_some() {}
    }

    /// A request nats-server does not answer.
    pub fn silent(&mut self, subject: &str, body: &str) {
        self.exchange(subject, &[], body.as_bytes(), Expect::Nothing);
    }

    fn exchange(&mut self, subject: &str, headers: &[(&str, &str)], body: &[u8], expect: Expect) {
        self.next_reply += 1;
        let reply = format!("{REPLY_PREFIX}{}", self.next_reply);
        let mut line = format!("> {subject}");
        for (k, v) in headers {
            let _ = write!(line, " [{k}: {v}]");
        }
        if !body.is_empty() {
            line.push(' ');
            line.push_str(&escape(body));
        }
        let _ = writeln!(self.text, "{line}");

        let mut frame = Vec::new();
        if headers.is_empty() {
            frame.extend_from_slice(format!("PUB {subject} {reply} {}\r\n", body.len()).as_bytes());
        } else {
            let mut h = String::from("NATS/1.0\r\n");
            for (k, v) in headers {
                let _ = write!(h, "{k}: {v}\r\n");
            }
            h.push_str("\r\n");
            frame.extend_from_slice(
                format!(
                    "HPUB {subject} {reply} {} {}\r\n",
                    h.len(),
                    h.len() + body.len()
                )
                .as_bytes(),
            );
            frame.extend_from_slice(h.as_bytes());
        }
        frame.extend_from_slice(body);
        frame.extend_from_slice(b"\r\n");
        self.conn.send(&frame);

        match expect {
            Expect::One => match self.next_frame(ANSWER_WAIT) {
                Some(f) => self.record(&reply, &f),
                None => self.text.push_str("< (no answer)\n"),
            },
            Expect::Batch => {
                let mut got = 0;
                loop {
                    let Some(f) = self.next_frame(ANSWER_WAIT) else {
                        self.text.push_str("< (no more answers)\n");
                        break;
                    };
                    self.record(&reply, &f);
                    got += 1;
                    let status = f
                        .headers
                        .as_deref()
                        .is_some_and(|h| !h.starts_with(b"NATS/1.0\r\n"));
                    if status || got >= 100 || f.subject != reply {
                        break;
                    }
                }
            }
            Expect::Pull(n) => {
                let mut got = 0;
                while got < n {
                    let Some(f) = self.next_frame(ANSWER_WAIT) else {
                        self.text.push_str("< (no more answers)\n");
                        break;
                    };
                    self.record(&reply, &f);
                    if f.headers
                        .as_deref()
                        .is_some_and(|h| !h.starts_with(b"NATS/1.0\r\n"))
                    {
                        break;
                    }
                    self.acks.extend(f.reply.clone());
                    got += 1;
                }
            }
            Expect::Nothing => match self.next_frame(SILENCE_WAIT) {
                Some(f) => self.record(&reply, &f),
                None => self.text.push_str("< (no answer)\n"),
            },
        }
    }

    fn record(&mut self, reply: &str, f: &Frame) {
        let mut line = String::from("<");
        if f.subject != reply {
            let _ = write!(line, " (on {} instead of {reply})", f.subject);
        }
        if let Some(r) = &f.reply {
            let _ = write!(line, " [reply {r}]");
        }
        if let Some(h) = &f.headers {
            line.push_str(" HMSG ");
            line.push_str(&escape(h));
            line.push_str(" |");
        }
        if !f.payload.is_empty() || f.headers.is_none() {
            line.push(' ');
            line.push_str(&escape(&f.payload));
        }
        let line = self.normalise(&line);
        let _ = writeln!(self.text, "{line}");
    }

    /// The next MSG or HMSG within `wait` (PINGs answered on the way); `None` on silence.
    fn next_frame(&mut self, wait: Duration) -> Option<Frame> {
        for _ in 0..1000 {
            let line = self.conn.read_line_within(wait)?;
            if line == b"PING\r\n" {
                self.conn.send(b"PONG\r\n");
                continue;
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let parts: Vec<&str> = text.split(' ').collect();
            let (headers_len, total) = match parts.first().copied() {
                Some("MSG") if parts.len() >= 4 => (None, parts[parts.len() - 1].parse().ok()?),
                Some("HMSG") if parts.len() >= 5 => (
                    Some(parts[parts.len() - 2].parse::<usize>().ok()?),
                    parts[parts.len() - 1].parse().ok()?,
                ),
                _ => panic!("[{}] unexpected line from the server: {text:?}", self.label),
            };
            let data = self.read_body(total);
            let (headers, payload) = match headers_len {
                Some(h) => (Some(data[..h].to_vec()), data[h..].to_vec()),
                None => (None, data),
            };
            let with_reply = match parts[0] {
                "MSG" => parts.len() == 5,
                _ => parts.len() == 6,
            };
            return Some(Frame {
                subject: parts[1].to_string(),
                reply: with_reply.then(|| parts[3].to_string()),
                headers,
                payload,
            });
        }
        panic!("[{}] too many PINGs", self.label);
    }

    /// Reads a message body of `len` bytes and its CRLF (as lines: the body ends with one).
    fn read_body(&mut self, len: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(len + 2);
        while data.len() < len + 2 {
            data.extend(self.conn.read_line());
        }
        assert!(
            data.len() == len + 2 && data.ends_with(b"\r\n"),
            "[{}] message body of {} bytes where {len} were announced",
            self.label,
            data.len().saturating_sub(2)
        );
        data.truncate(len);
        data
    }

    /// Replaces what differs between two correct servers by markers: timestamps
    /// (`<TS>`, except Go's zero time, which is kept), the server's name and id, and the
    /// version in `_nats.ver` (which must be the one the server announces in INFO).
    fn normalise(&self, line: &str) -> String {
        let mut s = line.to_string();
        for key in ["created", "ts", "first_ts", "last_ts", "time"] {
            s = replace_timestamps(&s, &format!("\"{key}\":\""), "\"");
        }
        s = replace_timestamps(&s, "Nats-Time-Stamp: ", "\\r\\n");
        if !self.server_name.is_empty() {
            s = s.replace(&self.server_name, "<SERVER_NAME>");
        }
        s = s.replace(&self.server_id, "<SERVER_ID>");
        s.replace(
            &format!("\"_nats.ver\":\"{}\"", self.version),
            "\"_nats.ver\":\"<VERSION>\"",
        )
    }

    /// Ends the transcript: nothing more may arrive; returns the text.
    pub fn finish(mut self) -> String {
        while let Some(f) = self.next_frame(Duration::from_millis(100)) {
            self.text.push_str("# after the last request:\n");
            let reply = String::new();
            self.record(&reply, &f);
        }
        self.text
    }
}

/// Escapes CR, LF, backslashes before them, and bytes outside printable ASCII, so that one
/// message is one line.
fn escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(c as char),
            _ => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out
}

/// Go's zero `time.Time`, which nats-server prints for "no time" and which stays as is.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 in UTC as Go's `time.RFC3339Nano` prints it: `YYYY-MM-DDTHH:MM:SS[.frac]Z`,
/// the fraction 1 to 9 digits without trailing zeros.
fn is_go_utc_time(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 20 || !v.ends_with('Z') {
        return false;
    }
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let head_ok = shape.iter().zip(b).all(|(&p, &c)| {
        if p == b'd' {
            c.is_ascii_digit()
        } else {
            p == c
        }
    });
    if !head_ok {
        return false;
    }
    let rest = &v[19..v.len() - 1];
    if rest.is_empty() {
        return true;
    }
    let Some(frac) = rest.strip_prefix('.') else {
        return false;
    };
    (1..=9).contains(&frac.len())
        && frac.bytes().all(|c| c.is_ascii_digit())
        && !frac.ends_with('0')
}

/// Replaces each value between `before` and the next `after` that is a Go UTC timestamp
/// (and not the zero time) by `<TS>`.
fn replace_timestamps(s: &str, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(before) {
        let start = i + before.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(end) = rest.find(after) {
            let value = &rest[..end];
            if value != ZERO_TIME && is_go_utc_time(value) {
                out.push_str("<TS>");
                rest = &rest[end..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The golden file `tests/jetstream/<name>.golden`.
pub fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/jetstream")
        .join(format!("{name}.golden"))
}

/// Compares a transcript with its golden file, recorded from nats-server 2.15.1.
///
/// With `SWITCHBOARD_BLESS=1`, a transcript of the reference target is written to the
/// golden file instead (review the diff before committing it).
#[track_caller]
pub fn check_golden(target: &Target, name: &str, got: &str) {
    let path = golden_path(name);
    if target.is_reference() && std::env::var_os("SWITCHBOARD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the golden file {}: {e}", path.display()));
    if expected == got {
        return;
    }
    let out = std::env::temp_dir().join(format!("{name}.{}.transcript", target.name()));
    let saved = match std::fs::write(&out, got) {
        Ok(()) => format!(" (the whole transcript: {})", out.display()),
        Err(_) => String::new(),
    };
    let mut report = String::new();
    let mut request = "";
    let mut shown = 0;
    let (mut exp, mut act) = (expected.lines(), got.lines());
    for n in 1.. {
        let (e, a) = (exp.next(), act.next());
        if e.is_none() && a.is_none() {
            break;
        }
        if let Some(e) = e.filter(|e| e.starts_with("> ")) {
            request = e;
        }
        if e != a {
            let _ = write!(
                report,
                "\nline {n}, after {request}\n  expected: {}\n       got: {}",
                e.unwrap_or("(end of transcript)"),
                a.unwrap_or("(end of transcript)")
            );
            shown += 1;
            if shown == 4 {
                report.push_str("\n...");
                break;
            }
        }
    }
    panic!(
        "the $JS.API transcript differs from {}{saved}:{report}",
        path.display()
    );
}
