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

/// A configured remote: its URLs (the configured ones, then those the hub named), the
/// delay its next connection must wait, and how its last attempt went.
#[derive(Debug)]
pub struct Remote {
    pub(super) opts: RemoteLeafOptions,
    /// The configured URLs, shuffled once unless `no_randomize`.
    configured: Vec<LeafUrl>,
    /// The URLs tried in turn: the other servers of the hub's cluster (its `leafnode_urls`)
    /// first, then the configured ones.
    urls: Mutex<Vec<LeafUrl>>,
    /// The URL of the connection under way or last made.
    current: Mutex<Option<LeafUrl>>,
    /// The user and password of the first configured URL that has them, for the URLs the
    /// hub names (which never carry credentials).
    saved_user: Option<(String, Option<String>)>,
    /// The first configured host name that is not an IP address: the name a TLS
    /// certificate is checked against when a URL the hub named is an IP address.
    tls_name: Option<String>,
    tls: Option<TlsClient>,
    delay: Mutex<Duration>,
    status: Mutex<RemoteStatus>,
}

/// How a remote's link is doing, as the window shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteStatus {
    /// The local account the remote binds.
    pub account: String,
    /// The URL of the attempt under way or the link up (without credentials); empty
    /// before the first attempt.
    pub url: String,
    /// The link's connection id while it is up (bound).
    pub cid: Option<u64>,
    /// Why the last attempt failed or the last link ended.
    pub last_error: Option<String>,
    /// Every URL the remote may use now, without credentials, in the order they are tried.
    pub urls: Vec<String>,
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
        let saved_user = urls
            .iter()
            .find_map(|u| u.user.clone().map(|user| (user, u.password.clone())));
        let tls_name = urls
            .iter()
            .find(|u| u.host.parse::<std::net::IpAddr>().is_err())
            .map(|u| u.host.clone());
        let status = RemoteStatus {
            account: opts.account_name().to_string(),
            urls: urls.iter().map(LeafUrl::redacted).collect(),
            ..RemoteStatus::default()
        };
        Ok(Remote {
            opts: opts.clone(),
            configured: urls.clone(),
            urls: Mutex::new(urls),
            current: Mutex::new(None),
            saved_user,
            tls_name,
            tls,
            delay: Mutex::new(Duration::ZERO),
            status: Mutex::new(status),
        })
    }

    /// How the remote's link is doing now.
    pub fn status(&self) -> RemoteStatus {
        self.status.lock().clone()
    }

    /// An attempt failed or the link ended: `error` says why.
    pub(super) fn failed(&self, error: impl Into<String>) {
        let mut status = self.status.lock();
        status.cid = None;
        status.last_error = Some(error.into());
    }

    /// The hub sent an error; the link may stay up.
    pub(super) fn note(&self, error: impl Into<String>) {
        self.status.lock().last_error = Some(error.into());
    }

    /// The link ended for `reason` (unless an error said why already).
    pub(super) fn ended(&self, reason: &str) {
        let mut status = self.status.lock();
        status.cid = None;
        if status.last_error.is_none() {
            status.last_error = Some(format!("the link closed: {reason}"));
        }
    }

    /// The link is up as connection `cid`.
    pub(super) fn linked(&self, cid: u64) {
        let mut status = self.status.lock();
        status.cid = Some(cid);
        status.last_error = None;
    }

    /// The hub's INFO named the leaf-node URLs of its cluster (`leafnode_urls`): they are
    /// tried first from now on (shuffled unless `no_randomize`), then the configured ones,
    /// as nats-server does. Ignored with `ignore_discovered_servers`, and when empty.
    pub(super) fn discovered(&self, host_ports: &[String]) {
        if self.opts.ignore_discovered_servers || host_ports.is_empty() {
            return;
        }
        let mut found: Vec<LeafUrl> = Vec::with_capacity(host_ports.len());
        for host_port in host_ports {
            let url = match LeafUrl::parse(&format!("nats-leaf://{host_port}")) {
                Ok(url) => url,
                Err(e) => {
                    log_error!("Error parsing url {:?}: {}", host_port, e);
                    continue;
                }
            };
            let known = self
                .configured
                .iter()
                .chain(found.iter())
                .any(|c| c.host == url.host && c.port == url.port);
            if !known {
                found.push(url);
            }
        }
        if !self.opts.no_randomize {
            fastrand::shuffle(&mut found);
        }
        found.extend(self.configured.iter().cloned());
        self.status.lock().urls = found.iter().map(LeafUrl::redacted).collect();
        *self.urls.lock() = found;
    }

    /// The host a TLS certificate is checked against for `url`.
    fn tls_host<'a>(&'a self, url: &'a LeafUrl) -> &'a str {
        match &self.tls_name {
            Some(name) if url.host.parse::<std::net::IpAddr>().is_ok() => name,
            _ => &url.host,
        }
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

    /// The next URL to try: the first of the list, which turns round when its first is the
    /// one tried last (nats-server's `pickNextURL`).
    fn next_url(&self) -> Option<LeafUrl> {
        let mut urls = self.urls.lock();
        let mut current = self.current.lock();
        if let Some(last) = current.as_ref() {
            if urls.len() > 1 && urls.first() == Some(last) {
                urls.rotate_left(1);
            }
        }
        let url = urls.first().cloned();
        current.clone_from(&url);
        if let Some(url) = &url {
            self.status.lock().url = url.redacted();
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
                // The window shows it beside the URL: the words alone, without errno.
                let words = error
                    .split_once(" (os error")
                    .map_or(error.as_str(), |(w, _)| w);
                remote.failed(words);
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
        match tls.connect(stream, remote.tls_host(&url)).await {
            Ok(s) => stream = Box::new(s),
            Err(e) => {
                log_error!("{} - TLS leafnode handshake error: {}", addr, e);
                remote.failed(format!("TLS handshake error: {e}"));
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
            remote.failed(e);
            return;
        }
        Err(_) => {
            log_error!(
                "{} - Leafnode read error: i/o timeout waiting for INFO",
                addr
            );
            remote.failed("no INFO from the hub in time");
            return;
        }
    };
    if info.client_id == 0 || info.leafnode_urls.is_none() {
        log_error!("{} - attempted to connect to wrong port", addr);
        remote.failed("attempted to connect to wrong port (not a leaf-node port)");
        return;
    }
    if let Some(urls) = &info.leafnode_urls {
        remote.discovered(urls);
    }
    if !tls_done && (info.tls_required || remote.tls.is_some()) {
        let Some(tls) = &remote.tls else {
            log_error!(
                "{} - TLS required by the hub but the remote has no TLS configuration",
                addr
            );
            remote.failed("the hub requires TLS (use a tls:// URL)");
            return;
        };
        if !leftover.is_empty() {
            log_error!("{} - Leafnode sent data before the TLS handshake", addr);
            remote.failed("the hub sent data before the TLS handshake");
            return;
        }
        match tls.connect(stream, remote.tls_host(&url)).await {
            Ok(s) => stream = Box::new(s),
            Err(e) => {
                log_error!("{} - TLS leafnode handshake error: {}", addr, e);
                remote.failed(format!("TLS handshake error: {e}"));
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
        remote.failed(format!(
            "no local account {:?} to bind",
            remote.opts.account_name()
        ));
        return;
    };
    let connect = match connect_line(server, remote, &url, &info) {
        Ok(line) => line,
        Err(e) => {
            log_error!("{} - {}", addr, e);
            remote.failed(e);
            return;
        }
    };
    let state =
        Arc::new(LinkState::new(true).with_local_domain(super::accept::local_domain(server)));
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
    server.account(name)
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
    // A URL the hub named has no credentials: those of the configured URLs go with it.
    let credentials = match &url.user {
        Some(user) => Some((user, &url.password)),
        None => remote.saved_user.as_ref().map(|(u, p)| (u, p)),
    };
    if let Some((user, password)) = credentials {
        c.user = user.clone();
        match password {
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
        if let Some(urls) = &info.leafnode_urls {
            remote.discovered(urls);
        }
        if info.connect_info {
            self.bind();
        }
        Step::Continue
    }
}

#[cfg(test)]
mod url_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn remote(urls: &[&str], no_randomize: bool) -> Remote {
        Remote::new(&RemoteLeafOptions {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            no_randomize,
            ..RemoteLeafOptions::default()
        })
        .unwrap()
    }

    fn tried(r: &Remote, n: usize) -> Vec<String> {
        (0..n).map(|_| r.next_url().unwrap().host_port()).collect()
    }

    #[test]
    fn the_hubs_urls_come_first_then_the_configured_ones() {
        let r = remote(&["nats-leaf://u:p@a:7422"], true);
        assert_eq!(tried(&r, 2), ["a:7422", "a:7422"]);
        // The hub names itself and two others; itself is not added twice.
        r.discovered(&["a:7422".into(), "b:7422".into(), "c:7422".into()]);
        assert_eq!(
            r.status().urls,
            [
                "nats-leaf://b:7422",
                "nats-leaf://c:7422",
                "nats-leaf://a:7422"
            ]
        );
        // The last tried (a) is not first in the new list: the list is taken as it is, and
        // goes round from there.
        assert_eq!(
            tried(&r, 4),
            ["b:7422", "c:7422", "a:7422", "b:7422"],
            "in order with no_randomize"
        );
        // A discovered URL takes the configured credentials.
        let b = LeafUrl::parse("nats-leaf://b:7422").unwrap();
        assert_eq!(b.user, None);
        assert_eq!(r.saved_user, Some(("u".into(), Some("p".into()))));
        // An empty list changes nothing; neither does anything with ignore_discovered_servers.
        r.discovered(&[]);
        assert_eq!(r.status().urls.len(), 3);
        let ignoring = Remote::new(&RemoteLeafOptions {
            urls: vec!["a".into()],
            ignore_discovered_servers: true,
            ..RemoteLeafOptions::default()
        })
        .unwrap();
        ignoring.discovered(&["b:7422".into()]);
        assert_eq!(ignoring.status().urls, ["nats-leaf://a:7422"]);
    }

    #[test]
    fn a_bad_url_from_the_hub_is_skipped_and_status_follows_the_link() {
        let r = remote(&["nats-leaf://a:7422"], false);
        r.discovered(&["b:notaport".into(), "c:7422".into()]);
        let mut urls = r.status().urls;
        urls.sort();
        assert_eq!(urls, ["nats-leaf://a:7422", "nats-leaf://c:7422"]);
        let url = r.next_url().unwrap();
        assert_eq!(r.status().url, url.redacted());
        r.failed("a:7422: connection refused");
        assert_eq!(
            r.status().last_error.as_deref(),
            Some("a:7422: connection refused")
        );
        r.linked(7);
        assert_eq!((r.status().cid, r.status().last_error), (Some(7), None));
        r.ended("Client Closed");
        assert_eq!(r.status().cid, None);
        assert_eq!(
            r.status().last_error.as_deref(),
            Some("the link closed: Client Closed")
        );
    }

    #[test]
    fn a_hub_named_by_its_address_is_checked_against_the_configured_name() {
        let r = remote(&["tls://hub.example:7422"], true);
        let ip = LeafUrl::parse("nats-leaf://10.0.0.2:7422").unwrap();
        assert_eq!(r.tls_host(&ip), "hub.example");
        let named = LeafUrl::parse("nats-leaf://other.example:7422").unwrap();
        assert_eq!(r.tls_host(&named), "other.example");
    }
}
