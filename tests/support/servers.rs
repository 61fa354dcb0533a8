//! Broker processes under test: [`Target`] (switchboard or the reference nats-server),
//! [`Server`] (one target on a free loopback port, killed on drop) and the
//! `for_each_target*` runners, which run a test body once per selected target and name the
//! target (and print the server log) when the body panics.

use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::wait::try_wait_for;
use super::wire::RawConn;

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

    /// The command that starts this target (`switchboard serve` or nats-server), without flags.
    pub fn command(&self) -> Command {
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

/// How long a started server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Picks a free loopback port: bind port 0, read it, drop the listener. A port is never
/// handed out twice in one test process: the kernel may return a port just dropped, and a
/// test that asks for a client, a leaf and a monitoring port before starting anything would
/// then give one server the same port twice.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..64 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no loopback port not handed out before in 64 tries");
}

/// Shared, append-only capture of a child's stdout and stderr.
#[derive(Clone, Default)]
struct LogBuf {
    text: Arc<Mutex<Vec<u8>>>,
    /// Pipes still being read (each pump ends at EOF, i.e. when the process is gone).
    open: Arc<AtomicUsize>,
}

impl LogBuf {
    fn pump(&self, mut r: impl Read + Send + 'static) {
        let buf = self.clone();
        buf.open.fetch_add(1, Ordering::SeqCst);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf
                        .text
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..n]),
                }
            }
            buf.open.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Waits (bounded) until every pipe reached EOF, so the log holds the last words.
    fn wait_closed(&self, limit: Duration) {
        let _ = try_wait_for(limit, || {
            (self.open.load(Ordering::SeqCst) == 0).then_some(())
        });
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// How to start a server: extra command-line flags and an optional config
/// file body (written to a temporary file and passed as `-c FILE`).
#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    pub args: Vec<String>,
    pub config: Option<String>,
    /// The port to listen on (a free one when not given).
    pub port: Option<u16>,
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
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
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
        let port = opts.port.unwrap_or_else(free_port);
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
        let started = try_wait_for(START_TIMEOUT, || {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Some(Err(status));
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .is_ok()
                .then_some(Ok(()))
        });
        match started {
            Some(Ok(())) => Ok(server),
            Some(Err(status)) => {
                // The last words: the pipes close once the process is gone.
                server.log.wait_closed(Duration::from_secs(2));
                Err(format!(
                    "process exited early with {status} (cmd {cmd:?})\n--- server log ---\n{}",
                    server.log()
                ))
            }
            None => Err(format!(
                "no TCP listener on {addr} within {START_TIMEOUT:?} (cmd {cmd:?})\n\
                 --- server log ---\n{}",
                server.log()
            )),
        }
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
