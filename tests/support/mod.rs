//! Shared harness for the integration tests.
//!
//! * [`Target`] names a broker implementation: switchboard itself, or the
//!   reference `nats-server` (path taken from `NATS_SERVER_BIN`).
//! * [`Server`] starts one target on a free loopback port and kills it on drop.
//! * [`RawConn`] is a byte-exact client for wire tests.
//! * [`for_each_target`] and friends run a test body once per selected target
//!   and name the target (and print the server log) when the body panics.
//!
//! Target selection: `SWITCHBOARD_TEST_TARGETS` is a comma-separated list of
//! `switchboard` and `reference`. Without it, `switchboard` runs, plus
//! `reference` when `NATS_SERVER_BIN` is set.
//!
//! Caveat for raw tests: nats-server sends its first PING to a client about
//! 2 s after it connects (`min(ping_interval, 2s)` plus jitter), so a raw
//! connection that lives longer than that must expect `PING\r\n` in its stream.
//!
//! When a test fails, the tail of the server's log is printed; with
//! `SWITCHBOARD_TEST_LOG_DIR=DIR` the whole log is also written to DIR.
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Default deadline for one `expect*` call.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// Upper bound on the number of read calls any single wait loop makes.
const MAX_READS: usize = 100_000;

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// A broker implementation under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// This crate's binary, run as `switchboard serve <flags>`.
    Switchboard,
    /// The reference nats-server binary at the given path.
    Reference(PathBuf),
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Switchboard => "switchboard",
            Target::Reference(_) => "reference",
        }
    }

    pub fn is_reference(&self) -> bool {
        matches!(self, Target::Reference(_))
    }

    fn command(&self) -> Command {
        match self {
            Target::Switchboard => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
                c.arg("serve");
                c
            }
            Target::Reference(path) => Command::new(path),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn reference_target() -> Target {
    match std::env::var_os("NATS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Target::Reference(PathBuf::from(p)),
        _ => panic!(
            "SWITCHBOARD_TEST_TARGETS asks for `reference` but NATS_SERVER_BIN is not set \
             (point it at a nats-server 2.15.1 binary)"
        ),
    }
}

/// The targets selected by the environment (see module docs).
pub fn selected_targets() -> Vec<Target> {
    match std::env::var("SWITCHBOARD_TEST_TARGETS") {
        Ok(list) if !list.trim().is_empty() => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let t = match name {
                    "switchboard" => Target::Switchboard,
                    "reference" => reference_target(),
                    other => panic!(
                        "unknown target {other:?} in SWITCHBOARD_TEST_TARGETS \
                         (expected `switchboard` and/or `reference`)"
                    ),
                };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            out
        }
        _ => {
            let mut out = vec![Target::Switchboard];
            if std::env::var_os("NATS_SERVER_BIN").is_some_and(|p| !p.is_empty()) {
                out.push(reference_target());
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

/// Picks a free loopback port: bind port 0, read it, drop the listener.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Shared, append-only capture of a child's stdout and stderr.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    fn pump(&self, mut r: impl Read + Send + 'static) {
        let buf = self.clone();
        // The thread ends at EOF, i.e. when the process dies.
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf
                        .0
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..n]),
                }
            }
        });
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// How to start a server: extra command-line flags and an optional config
/// file body (written to a temporary file and passed as `-c FILE`).
#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub args: Vec<String>,
    pub config: Option<String>,
}

impl ServerOpts {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    pub fn config(mut self, body: &str) -> Self {
        self.config = Some(body.to_string());
        self
    }
}

/// A running broker process. Killed (and reaped) on drop.
pub struct Server {
    pub target: Target,
    pub port: u16,
    child: Option<Child>,
    log: LogBuf,
    _config: Option<tempfile::TempPath>,
}

/// Cheap, cloneable description of a running server (for async bodies).
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub target: Target,
    pub port: u16,
}

impl ServerInfo {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr(), self.target.name())
    }
}

impl Server {
    /// Starts `target` with `-a 127.0.0.1 -p PORT` plus `extra_args`.
    pub fn start(target: &Target, extra_args: &[&str]) -> Server {
        Self::start_opts(target, &ServerOpts::new().args(extra_args))
    }

    /// Like [`Server::start`], with a config file (`-c FILE`) holding `config`.
    pub fn start_with_config(target: &Target, config: &str, extra_args: &[&str]) -> Server {
        Self::start_opts(target, &ServerOpts::new().config(config).args(extra_args))
    }

    pub fn start_opts(target: &Target, opts: &ServerOpts) -> Server {
        // A port picked free can be taken by someone else before the child
        // binds it; retry a few times with a new port in that case.
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Self::try_start(target, opts) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("[target={target}] could not start server: {last_err}");
    }

    fn try_start(target: &Target, opts: &ServerOpts) -> Result<Server, String> {
        let port = free_port();
        let config = match &opts.config {
            Some(body) => {
                let mut f = tempfile::Builder::new()
                    .prefix("switchboard-test-")
                    .suffix(".conf")
                    .tempfile()
                    .map_err(|e| format!("temp config: {e}"))?;
                f.write_all(body.as_bytes())
                    .map_err(|e| format!("write config: {e}"))?;
                f.flush().map_err(|e| format!("flush config: {e}"))?;
                Some(f.into_temp_path())
            }
            None => None,
        };
        let mut cmd = target.command();
        cmd.arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string());
        if let Some(path) = &config {
            cmd.arg("-c").arg(path.as_os_str());
        }
        cmd.args(&opts.args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn {cmd:?}: {e}"))?;
        let log = LogBuf::default();
        if let Some(out) = child.stdout.take() {
            log.pump(out);
        }
        if let Some(err) = child.stderr.take() {
            log.pump(err);
        }
        let mut server = Server {
            target: target.clone(),
            port,
            child: Some(child),
            log,
            _config: config,
        };
        let addr = server.addr();
        for _ in 0..100 {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                // Give the pump threads a moment to collect the last words.
                thread::sleep(Duration::from_millis(50));
                return Err(format!(
                    "process exited early with {status} (cmd {cmd:?})\n--- server log ---\n{}",
                    server.log()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "no TCP listener on {addr} after 100 tries (cmd {cmd:?})\n--- server log ---\n{}",
            server.log()
        ))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn info(&self) -> ServerInfo {
        ServerInfo {
            target: self.target.clone(),
            port: self.port,
        }
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// A raw connection that has already read the server's INFO line.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr(), self.target.name())
    }

    /// A raw connection after `CONNECT {"verbose":false,"pedantic":false,"headers":true}`
    /// and a PING/PONG round trip.
    pub fn client(&self) -> RawConn {
        let mut c = self.raw();
        c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
        c
    }

    /// A raw connection after the given CONNECT JSON (must be non-verbose) and PING/PONG.
    pub fn client_with(&self, connect_json: &str) -> RawConn {
        let mut c = self.raw();
        c.handshake(connect_json);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Running a body against every target
// ---------------------------------------------------------------------------

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<non-string panic>".to_string()
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn run_guarded(server: &Server, body: impl FnOnce()) {
    if let Err(e) = panic::catch_unwind(AssertUnwindSafe(body)) {
        let msg = panic_text(&*e);
        let log = server.log();
        let mut saved = String::new();
        if let Some(dir) = std::env::var_os("SWITCHBOARD_TEST_LOG_DIR") {
            let name = thread::current()
                .name()
                .unwrap_or("test")
                .replace("::", "-");
            let path =
                PathBuf::from(dir).join(format!("{name}-{}-{}.log", server.target, server.port));
            if std::fs::write(&path, &log).is_ok() {
                saved = format!(" (full log: {})", path.display());
            }
        }
        panic!(
            "[target={}] test failed: {msg}\n--- server log (tail){saved} ---\n{}",
            server.target,
            tail(&log, 8000)
        );
    }
}

/// Runs `body` once per selected target against a default server.
pub fn for_each_target(body: impl Fn(&Server)) {
    for_each_target_opts(&ServerOpts::new(), body)
}

/// Runs `body` once per selected target against a server started with `opts`.
pub fn for_each_target_opts(opts: &ServerOpts, body: impl Fn(&Server)) {
    let targets = selected_targets();
    assert!(!targets.is_empty(), "no targets selected");
    for t in &targets {
        let server = Server::start_opts(t, opts);
        run_guarded(&server, || body(&server));
    }
}

/// Runs `body` once per selected target; the body gets the bare [`Target`]
/// and starts whatever servers it needs itself.
pub fn for_each_target_bare(body: impl Fn(&Target)) {
    let targets = selected_targets();
    assert!(!targets.is_empty(), "no targets selected");
    for t in &targets {
        if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| body(t))) {
            panic!("[target={t}] test failed: {}", panic_text(&*e));
        }
    }
}

/// Async flavour: a fresh multi-threaded tokio runtime per target runs
/// `body(info)` to completion (bounded by `limit`).
pub fn for_each_target_async<F, Fut>(opts: &ServerOpts, limit: Duration, body: F)
where
    F: Fn(ServerInfo) -> Fut,
    Fut: Future<Output = ()>,
{
    let targets = selected_targets();
    assert!(!targets.is_empty(), "no targets selected");
    for t in &targets {
        let server = Server::start_opts(t, opts);
        let info = server.info();
        run_guarded(&server, || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {
                tokio::time::timeout(limit, body(info))
                    .await
                    .unwrap_or_else(|_| panic!("test body did not finish within {limit:?}"));
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        });
    }
}

// ---------------------------------------------------------------------------
// Raw wire connection
// ---------------------------------------------------------------------------

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
        let deadline = Instant::now() + DEADLINE;
        for _ in 0..MAX_READS {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return self.buf.drain(..=i).collect();
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
                ReadEvent::Timeout => panic!(
                    "[{}] timed out reading a line; have \"{}\"",
                    self.label,
                    show(&self.buf)
                ),
            }
        }
        panic!("[{}] too many reads waiting for a line", self.label);
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

/// One async-nats connection attempt, bounded in time: without
/// `retry_on_initial_connect` a refused login fails `connect` instead of retrying.
pub async fn connect_once(
    url: String,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, String> {
    tokio::time::timeout(
        Duration::from_secs(5),
        opts.connection_timeout(Duration::from_secs(3))
            .max_reconnects(0)
            .connect(url),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())
}
