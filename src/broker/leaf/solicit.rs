//! This server as a leaf: connecting to each remote's hub and keeping the link up.
//!
//! As nats-server's solicit side: a URL is picked (shuffled unless `no_randomize`), the TCP
//! connection dialled within a second, TLS started first or after the hub's INFO when
//! either side asks for it; the hub's first INFO must come within `first_info_timeout` and
//! come from a leaf-node port (it has a `client_id` and `leafnode_urls`). CONNECT carries
//! the URL's user and password (a lone user is also sent as a token), a signed nonce with
//! the remote's nkey or `.creds` file, and no `lang`. With `info_on_connect`, the link is
//! bound when the hub's second INFO names the account and the permissions; it must come
//! within two seconds. A failed dial waits the reconnect interval plus up to as much
//! jitter; a link that ends waits the interval, plus whatever a loop (30 s) or a refusal
//! asked for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::super::client::{ClientShared, Conn, Transport};
use super::super::close::CloseReason;
use super::super::server::Server;
use super::conn::{LeafConn, Step};
use super::creds::{parse_creds, sign_nonce, LeafUrl};
use super::link::LinkState;
use super::tls_client::TlsClient;
use super::LeafNodes;
use crate::options::RemoteLeafOptions;
use crate::proto::info::NATS_COMPAT_VERSION;
use crate::proto::leaf::{LeafOp, LeafParser};
use crate::proto::leaf_info::{LeafConnect, LeafInfo, COMPRESSION_NOT_SUPPORTED};
use crate::proto::ParserLimits;
use crate::{log_debug, log_error, log_info};

/// nats-server's `DEFAULT_ROUTE_DIAL`, which leaf remotes use too.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// nats-server's `connectProcessTimeout`: the hub's answer to CONNECT.
const CONNECT_PROCESS_TIMEOUT: Duration = Duration::from_secs(2);
/// The protocol level this side announces (async INFO, no message tracing).
const LEAF_PROTOCOL: i64 = 1;

/// A configured remote: its URLs and the delay its next connection must wait.
#[derive(Debug)]
pub struct Remote {
    pub(super) opts: RemoteLeafOptions,
    urls: Mutex<Vec<LeafUrl>>,
    tls: Option<TlsClient>,
    delay: Mutex<Duration>,
}

/// What `/varz` shows of a remote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteInfo {
    pub account: String,
    /// The URLs, without credentials.
    pub urls: Vec<String>,
    pub deny_imports: Vec<String>,
    pub deny_exports: Vec<String>,
    /// Seconds; 0 without TLS.
    pub tls_timeout: f64,
}

impl Remote {
    pub(super) fn new(opts: &RemoteLeafOptions) -> Result<Remote, String> {
        let mut urls = opts
            .urls
            .iter()
            .map(|u| LeafUrl::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err("remote leafnode has no url".to_string());
        }
        if !opts.no_randomize {
            fastrand::shuffle(&mut urls);
        }
        let wants_tls = opts.tls.is_some() || urls.iter().any(LeafUrl::wants_tls);
        let tls = if wants_tls {
            Some(TlsClient::new(opts.tls.as_ref())?)
        } else {
            None
        };
        Ok(Remote {
            opts: opts.clone(),
            urls: Mutex::new(urls),
            tls,
            delay: Mutex::new(Duration::ZERO),
        })
    }

    pub(super) fn disabled(&self) -> bool {
        self.opts.disabled
    }

    /// Makes the next connection wait `delay` (a loop, a refusal).
    pub(super) fn set_delay(&self, delay: Duration) {
        *self.delay.lock() = delay;
    }

    fn take_delay(&self) -> Duration {
        std::mem::take(&mut *self.delay.lock())
    }

    /// The next URL to try: the list turns round after each attempt.
    fn next_url(&self) -> Option<LeafUrl> {
        let mut urls = self.urls.lock();
        let url = urls.first().cloned();
        if urls.len() > 1 {
            urls.rotate_left(1);
        }
        url
    }

    pub(super) fn info(&self) -> RemoteInfo {
        // In the configured order, as nats-server lists them.
        let urls = self
            .opts
            .urls
            .iter()
            .filter_map(|u| LeafUrl::parse(u).ok())
            .map(|u| u.host_port())
            .collect();
        RemoteInfo {
            account: self.opts.account_name().to_string(),
            urls,
            deny_imports: self.opts.deny_imports.clone(),
            deny_exports: self.opts.deny_exports.clone(),
            tls_timeout: self.tls.as_ref().map_or(0.0, |t| t.timeout.as_secs_f64()),
        }
    }
}

/// Waits `delay`; false when the server stops meanwhile.
async fn wait(delay: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = super::stopped(stop) => return false,
    }
    !*stop.borrow()
}

/// Keeps one remote connected until the server stops.
pub(super) async fn run(
    server: Arc<Server>,
    nodes: Arc<LeafNodes>,
    remote: Arc<Remote>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = server.opts.leafnodes.reconnect;
    let mut first_connect = true;
    let mut attempts = 0u64;
    loop {
        let delay = remote.take_delay();
        if !delay.is_zero() && !wait(delay, &mut stop).await {
            return;
        }
        let Some(url) = remote.next_url() else {
            return;
        };
        log_debug!(
            "Trying to connect as leafnode to remote server on {:?}",
            url.host_port()
        );
        let dialled = tokio::select! {
            r = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect((url.host.as_str(), url.port))) => r,
            _ = super::stopped(&mut stop) => return,
        };
        let socket = match dialled {
            Ok(Ok(socket)) => socket,
            failed => {
                attempts += 1;
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "i/o timeout".to_string(),
                };
                // nats-server reports the first failure of a first connection (then one
                // in 3600), and every failure of a reconnection.
                if attempts == 1 || !first_connect || attempts.is_multiple_of(3600) {
                    log_error!(
                        "Error trying to connect as leafnode to remote server {:?} (attempt {}): {}",
                        url.host_port(),
                        attempts,
                        error
                    );
                } else {
                    log_debug!(
                        "Error trying to connect as leafnode to remote server {:?} (attempt {}): {}",
                        url.host_port(),
                        attempts,
                        error
                    );
                }
                let jitter = Duration::from_nanos(fastrand::u64(
                    0..u64::try_from(interval.as_nanos())
                        .unwrap_or(u64::MAX)
                        .max(1),
                ));
                if !wait(interval + jitter, &mut stop).await {
                    return;
                }
                continue;
            }
        };
        attempts = 0;
        first_connect = false;
        let _ = socket.set_nodelay(true);
        connected(&server, &nodes, &remote, socket, url).await;
        if !wait(interval, &mut stop).await {
            return;
        }
    }
}

/// A byte stream a link runs over: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Runs one solicited link from its TCP connection to its end.
async fn connected(
    server: &Arc<Server>,
    nodes: &Arc<LeafNodes>,
    remote: &Arc<Remote>,
    socket: TcpStream,
    url: LeafUrl,
) {
    let addr = socket
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut stream: Box<dyn Stream> = Box::new(socket);
    let mut tls_done = false;
    if let Some(tls) = remote.tls.as_ref().filter(|t| t.first) {
        match tls.connect(stream, &url.host).await {
            Ok(s) => stream = Box::new(s),
            Err(e) => {
                log_error!("{} - TLS leafnode handshake error: {}", addr, e);
                return;
            }
        }
        tls_done = true;
    }
    let limits = ParserLimits {
        max_control_line: server.opts.max_control_line as usize,
        max_payload: server.opts.max_payload as usize,
    };
    let first = tokio::time::timeout(
        remote.opts.first_info_timeout,
        read_first_info(&mut stream, limits),
    )
    .await;
    let (info, leftover) = match first {
        Ok(Ok(got)) => got,
        Ok(Err(e)) => {
            log_error!("{} - Leafnode connection failed: {}", addr, e);
            return;
        }
        Err(_) => {
            log_error!(
                "{} - Leafnode read error: i/o timeout waiting for INFO",
                addr
            );
            return;
        }
    };
    if info.client_id == 0 || info.leafnode_urls.is_none() {
        log_error!("{} - attempted to connect to wrong port", addr);
        return;
    }
    if !tls_done && (info.tls_required || remote.tls.is_some()) {
        let Some(tls) = &remote.tls else {
            log_error!(
                "{} - TLS required by the hub but the remote has no TLS configuration",
                addr
            );
            return;
        };
        if !leftover.is_empty() {
            log_error!("{} - Leafnode sent data before the TLS handshake", addr);
            return;
        }
        match tls.connect(stream, &url.host).await {
            Ok(s) => stream = Box::new(s),
            Err(e) => {
                log_error!("{} - TLS leafnode handshake error: {}", addr, e);
                return;
            }
        }
        tls_done = true;
    }
    let Some(account) = server_account(server, remote.opts.account_name()) else {
        log_error!(
            "Unable to lookup account {} for solicited leafnode connection",
            remote.opts.account_name()
        );
        return;
    };
    let connect = match connect_line(server, remote, &url, &info) {
        Ok(line) => line,
        Err(e) => {
            log_error!("{} - {}", addr, e);
            return;
        }
    };
    let state = Arc::new(LinkState::new(true));
    let system = server
        .system_account()
        .is_some_and(|sys| Arc::ptr_eq(sys, &account));
    state.set_spoke_perms(
        None,
        None,
        &remote.opts.deny_exports,
        &remote.opts.deny_imports,
        system,
    );
    {
        let mut meta = state.remote.lock();
        meta.name = if info.server_name.is_empty() {
            info.server_id.clone()
        } else {
            info.server_name.clone()
        };
        meta.cluster = info.cluster.clone();
    }
    let shared = Arc::new(
        ClientShared::new(
            server.next_cid(),
            addr,
            account.clone(),
            server.opts.max_pending,
            server.outbound_budget.clone(),
        )
        .with_leaf(state),
    );
    shared.set_headers(info.headers);
    if tls_done {
        shared.set_transport(Transport::Tls);
    }
    log_info!(
        "{} - lid:{} - Leafnode connection created for account: {}",
        addr,
        shared.cid,
        account.name
    );
    nodes.register(&shared);
    let mut leaf = LeafConn::new(
        Conn::new(server.clone(), shared.clone()),
        nodes.clone(),
        Some(remote.clone()),
        Instant::now() + CONNECT_PROCESS_TIMEOUT,
    );
    leaf.conn.send(&connect);
    log_debug!("{} - Remote leafnode connect msg sent", leaf.label());
    if !info.info_on_connect {
        leaf.bind();
    }
    let (reader, writer) = tokio::io::split(stream);
    super::run_link(leaf, reader, writer, leftover).await;
}

/// The account a remote binds, if it exists.
fn server_account(server: &Server, name: &str) -> Option<Arc<super::super::account::Account>> {
    if name == super::super::account::GLOBAL_ACCOUNT {
        return Some(server.global_account().clone());
    }
    server.account(name).cloned()
}

/// Reads up to the hub's first INFO; returns it and what was read after it.
async fn read_first_info(
    stream: &mut Box<dyn Stream>,
    limits: ParserLimits,
) -> Result<(LeafInfo, Vec<u8>), String> {
    let mut parser = LeafParser::new(limits);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before INFO".to_string());
        }
        let mut pos = 0;
        match parser.next_op(&buf[..n], &mut pos) {
            Ok(Some(LeafOp::Info(json))) => {
                let info = LeafInfo::parse(json).map_err(|e| format!("bad INFO: {e}"))?;
                return Ok((info, buf[pos..n].to_vec()));
            }
            Ok(Some(LeafOp::Err(text))) => {
                return Err(format!("Leafnode Error {}", String::from_utf8_lossy(text)));
            }
            Ok(Some(other)) => return Err(format!("expected INFO, got {other:?}")),
            Ok(None) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The CONNECT for a hub whose INFO is `info`: who this server is, and its credentials.
fn connect_line(
    server: &Server,
    remote: &Remote,
    url: &LeafUrl,
    info: &LeafInfo,
) -> Result<Vec<u8>, String> {
    let mut c = LeafConnect {
        version: NATS_COMPAT_VERSION.to_string(),
        server_id: server.id.clone(),
        domain: server
            .opts
            .jetstream
            .as_ref()
            .and_then(|js| js.domain.clone())
            .unwrap_or_default(),
        name: server.name.clone(),
        headers: true,
        jetstream: server.opts.jetstream.is_some(),
        deny_pub: remote.opts.deny_imports.clone(),
        compress_mode: COMPRESSION_NOT_SUPPORTED.to_string(),
        remote_account: remote.opts.account_name().to_string(),
        protocol: LEAF_PROTOCOL,
        ..LeafConnect::default()
    };
    if let Some(path) = &remote.opts.credentials {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("Error reading LeafNode Remote Credentials file {path:?}: {e}"))?;
        let (jwt, seed) = parse_creds(&text)?;
        let (_, sig) = sign_nonce(&seed, info.nonce.as_bytes())
            .map_err(|_| "Credentials file has malformed seed".to_string())?;
        c.jwt = jwt;
        c.sig = sig;
    } else if let Some(seed) = &remote.opts.nkey {
        let (public, sig) = sign_nonce(seed, info.nonce.as_bytes())
            .map_err(|_| "Remote nkey has malformed seed".to_string())?;
        c.nkey = public;
        c.sig = sig;
    }
    if let Some(user) = &url.user {
        c.user = user.clone();
        match &url.password {
            Some(pass) => c.pass = pass.clone(),
            // nats-server sends a lone user as both user and token.
            None => c.auth_token = user.clone(),
        }
    }
    Ok(c.to_line())
}

impl LeafConn {
    /// An INFO from the hub: the answer to CONNECT (`connect_info`) binds the link with the
    /// account and permissions it names; later ones update what it says.
    pub(super) fn on_info(&mut self, json: &[u8]) -> Step {
        let Ok(info) = LeafInfo::parse(json) else {
            return Step::Close(CloseReason::ProtocolViolation);
        };
        let Some(remote) = self.remote.clone() else {
            // An accepted link's INFO only matters to compression, which is not offered.
            return Step::Continue;
        };
        if info.import.is_some() || info.export.is_some() {
            let system = self
                .conn
                .server
                .system_account()
                .is_some_and(|sys| Arc::ptr_eq(sys, &self.conn.account));
            self.state.set_spoke_perms(
                info.export.as_ref(),
                info.import.as_ref(),
                &remote.opts.deny_exports,
                &remote.opts.deny_imports,
                system,
            );
        }
        if !info.remote_account.is_empty() {
            self.state.remote.lock().account = info.remote_account.clone();
        }
        if info.connect_info {
            self.bind();
        }
        Step::Continue
    }
}
