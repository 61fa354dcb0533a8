//! This server as a hub: accepting leaf nodes on the leaf port.
//!
//! As nats-server's accept side: an INFO with a nonce, `auth_required` and
//! `info_on_connect` goes out first (TLS follows when the leaf port has a `tls` block), and
//! the leaf must send CONNECT within the leaf authorization timeout. CONNECT authenticates
//! against `leafnodes.authorization` (one user or nkey bound to its `account`, or a
//! `users` list with an account each); without it, as a client against the server's own
//! users (bound to the user's account, with the user's permissions), or, when the server
//! requires no authentication, to the block's `account`. A CONNECT with `lang` came from a
//! client. Once authenticated, an INFO answers with the bound account and the leaf's
//! permissions seen from its side (`import` what it may subscribe to, `export` what it may
//! publish); the same server and account connecting again replaces the older link.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::super::account::Account;
use super::super::auth::{compare_secret, Identity};
use super::super::client::{ClientShared, Conn, Transport};
use super::super::close::CloseReason;
use super::super::server::Server;
use super::conn::{LeafConn, Step};
use super::link::LinkState;
use super::LeafNodes;
use crate::options::{Permissions, SubjectPermission, DEFAULT_AUTH_TIMEOUT};
use crate::proto::errors;
use crate::proto::info::{ConnectOptions, NATS_COMPAT_VERSION};
use crate::proto::leaf_info::{LeafConnect, LeafInfo, SubjectLists};
use crate::{log_debug, log_error, log_info, log_warn};

/// What a leaf authenticated as: its account, its permissions (as configured, seen from
/// the leaf), and its user name.
struct LeafIdentity {
    account: Arc<Account>,
    permissions: Option<Permissions>,
    user: Option<String>,
}

/// Accepts leaf nodes until the server stops.
pub(super) async fn accept_loop(
    server: Arc<Server>,
    nodes: Arc<LeafNodes>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = super::stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, addr)) => {
                    tokio::spawn(serve(server.clone(), nodes.clone(), socket, addr));
                }
                Err(e) => {
                    log_error!("Error accepting leafnode connection: {}", e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// The leaf authorization timeout: the block's, else nats-server's default (the TLS
/// timeout plus a second with TLS, two seconds without).
fn auth_timeout(server: &Server) -> Duration {
    let opts = &server.opts.leafnodes;
    match (opts.auth.timeout, &opts.tls) {
        (Some(t), _) if !t.is_zero() => t,
        (_, Some(tls)) => tls.timeout + Duration::from_secs(1),
        _ => DEFAULT_AUTH_TIMEOUT,
    }
}

/// The INFO a leaf gets on this port; `connect_info` adds what answers its CONNECT.
fn info(server: &Server, nodes: &LeafNodes, link: &ClientShared, local: SocketAddr) -> LeafInfo {
    let opts = &server.opts;
    let (tls_required, tls_verify) = nodes.tls();
    let port = nodes.port.unwrap_or_default();
    let host = match opts.leafnodes.advertise.as_deref() {
        Some(advertise) => advertise.to_string(),
        None => match nodes.host.as_str() {
            // A wildcard address is no address to reconnect to: give the one in use.
            "0.0.0.0" | "::" | "" => SocketAddr::new(local.ip(), port).to_string(),
            host if host.contains(':') => format!("[{host}]:{port}"),
            host => format!("{host}:{port}"),
        },
    };
    let (info_host, info_port) = host
        .rsplit_once(':')
        .map(|(h, p)| {
            (
                h.trim_matches(['[', ']']).to_string(),
                p.parse().unwrap_or(port),
            )
        })
        .unwrap_or((host.clone(), port));
    LeafInfo {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        version: NATS_COMPAT_VERSION.to_string(),
        proto: 1,
        go: format!("rust (switchboard {})", env!("CARGO_PKG_VERSION")),
        host: info_host,
        port: info_port,
        headers: true,
        auth_required: true,
        tls_required,
        tls_verify,
        max_payload: i64::from(opts.max_payload),
        jetstream: opts.jetstream.is_some(),
        ip: host.clone(),
        client_id: link.cid,
        domain: opts
            .jetstream
            .as_ref()
            .and_then(|js| js.domain.clone())
            .unwrap_or_default(),
        info_on_connect: true,
        leafnode_urls: Some(vec![host]),
        switchboard_version: env!("CARGO_PKG_VERSION").to_string(),
        ..LeafInfo::default()
    }
}

/// Runs one accepted leaf connection to its end.
async fn serve(server: Arc<Server>, nodes: Arc<LeafNodes>, socket: TcpStream, addr: SocketAddr) {
    let _ = socket.set_nodelay(true);
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let state = Arc::new(LinkState::new(false).with_local_domain(local_domain(&server)));
    let shared = Arc::new(
        ClientShared::new(
            server.next_cid(),
            addr,
            server.global_account().clone(),
            server.opts.max_pending,
            server.outbound_budget.clone(),
        )
        .with_leaf(state),
    );
    log_info!(
        "{} - lid:{} - Leafnode connection created",
        addr,
        shared.cid
    );
    // Every leaf INFO carries a nonce, nkeys or not (nats-server's rule).
    let Some(nonce) = super::super::auth::new_nonce() else {
        log_error!(
            "{} - lid:{} - No random source for the nonce",
            addr,
            shared.cid
        );
        return;
    };
    let template = info(&server, &nodes, &shared, local);
    let mut first = template.clone();
    first.nonce = nonce.clone();
    let line = first.to_line();
    nodes.register(&shared);
    let deadline = Instant::now() + auth_timeout(&server);
    let mut leaf = LeafConn::new(
        Conn::new(server.clone(), shared.clone()),
        nodes.clone(),
        None,
        deadline,
    );
    leaf.nonce = nonce;
    leaf.hub_info = Some(template);
    leaf.parser.awaiting_connect = true;
    let Some(tls) = nodes.tls.clone() else {
        leaf.conn.send(&line);
        let (reader, writer) = socket.into_split();
        super::run_link(leaf, reader, writer, Vec::new()).await;
        return;
    };
    shared.set_transport(Transport::Tls);
    match tls.negotiate(socket, &line).await {
        Ok(negotiated) => {
            if negotiated.info_pending {
                leaf.conn.send(&line);
            }
            let (reader, writer) = tokio::io::split(negotiated.stream);
            super::run_link(leaf, reader, writer, Vec::new()).await;
        }
        Err(e) => {
            log_debug!("{} - TLS leafnode handshake error: {}", leaf.label(), e);
            leaf.finish(CloseReason::TlsHandshakeFailure);
        }
    }
}

impl LeafConn {
    /// CONNECT on an accepted link: authenticate, bind the account, answer with INFO, and
    /// start the interest flowing.
    pub(super) fn on_connect(&mut self, json: &[u8]) -> Step {
        if self.state.solicited || self.bound {
            return Step::Continue;
        }
        self.deadline = None;
        let Ok(connect) = LeafConnect::parse(json) else {
            return Step::Close(CloseReason::ProtocolViolation);
        };
        let Some(identity) = self.authenticate(&connect) else {
            self.conn.send_err(errors::AUTHORIZATION_VIOLATION);
            log_error!("{} - Authorization Violation", self.label());
            return Step::Close(CloseReason::AuthenticationFailure);
        };
        if connect.from_client() {
            self.conn.send_err("attempted to connect to leaf node port");
            return Step::Close(CloseReason::WrongPort);
        }
        if connect.cluster.contains(' ') {
            self.conn.send_err("cluster name cannot contain spaces");
            return Step::Close(CloseReason::ProtocolViolation);
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {} on the leafnode port",
                errors::go_quote(connect.gateway.as_bytes())
            );
            log_error!("{} - {}", self.label(), text);
            self.conn.send_err(&text);
            return Step::Close(CloseReason::WrongPort);
        }
        let shared = self.conn.shared.clone();
        shared.set_headers(connect.headers);
        {
            let mut meta = shared.meta.lock();
            meta.name = connect.name.clone();
            meta.version = connect.version.clone();
            meta.user = identity.user.clone().unwrap_or_default();
            meta.rtt = shared.start.elapsed().ok();
        }
        {
            let mut remote = self.state.remote.lock();
            remote.name = connect.name.clone();
            remote.account = connect.remote_account.clone();
            remote.cluster = connect.cluster.clone();
        }
        let account = identity.account.clone();
        self.conn.adopt(Identity {
            account: account.clone(),
            permissions: None,
            user: identity.user.clone(),
        });
        let system = self
            .conn
            .server
            .system_account()
            .is_some_and(|sys| Arc::ptr_eq(sys, &account));
        self.state
            .set_hub_perms(identity.permissions.as_ref(), &connect.deny_pub, system);
        self.replace_duplicate(&connect, &account);
        let mut answer = self.hub_info.take().unwrap_or_default();
        answer.nonce = String::new();
        answer.connect_info = true;
        answer.remote_account = account.name.clone();
        answer.acc_is_sys = system;
        if let Some(p) = &identity.permissions {
            let lists = |s: &Option<SubjectPermission>| {
                s.as_ref().map(|s| SubjectLists {
                    allow: s.allow.clone(),
                    deny: s.deny.clone(),
                })
            };
            answer.import = lists(&p.subscribe);
            answer.export = lists(&p.publish);
        }
        self.conn.send(&answer.to_line());
        self.bind();
        log_debug!(
            "{} - Leafnode connection bound to account {}",
            self.label(),
            account.name
        );
        Step::Continue
    }

    /// Who the leaf is, as nats-server's `isLeafNodeAuthorized` decides it.
    fn authenticate(&self, c: &LeafConnect) -> Option<LeafIdentity> {
        let server = &self.conn.server;
        let auth = &server.opts.leafnodes.auth;
        let account = |name: Option<&str>| -> Option<Arc<Account>> {
            match name {
                None | Some("") | Some(super::super::account::GLOBAL_ACCOUNT) => {
                    Some(server.global_account().clone())
                }
                Some(name) => server.account(name),
            }
        };
        let bound = |name: Option<&str>, user: Option<String>| {
            Some(LeafIdentity {
                account: account(name)?,
                permissions: None,
                user,
            })
        };
        if let Some(user) = auth.user.as_deref().filter(|u| !u.is_empty()) {
            let ok = c.user == user
                && compare_secret(auth.password.as_deref().unwrap_or_default(), &c.pass);
            return ok
                .then(|| bound(auth.account.as_deref(), Some(user.to_string())))
                .flatten();
        }
        if let Some(nkey) = auth.nkey.as_deref().filter(|k| !k.is_empty()) {
            let ok = c.nkey == nkey && verify_signature(nkey, &c.sig, self.nonce.as_bytes());
            return ok
                .then(|| bound(auth.account.as_deref(), Some(nkey.to_string())))
                .flatten();
        }
        if !auth.users.is_empty() {
            let entry = auth.users.iter().find(|u| u.user == c.user)?;
            if !compare_secret(&entry.password, &c.pass) {
                return None;
            }
            return bound(entry.account.as_deref(), Some(entry.user.clone()));
        }
        if !server.auth_required() {
            return bound(auth.account.as_deref(), None);
        }
        // As a client: the server's users, with their accounts and permissions.
        let mut co = ConnectOptions::default();
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        co.user = text(&c.user);
        co.pass = text(&c.pass);
        co.auth_token = text(&c.auth_token);
        co.nkey = text(&c.nkey);
        co.sig = text(&c.sig);
        co.jwt = text(&c.jwt);
        if server.authenticator().operator() {
            // Operator mode: the leaf's user JWT, as a client's, bound to its account with
            // the JWT's permissions.
            let login = server.authenticate_jwt(&co, self.nonce.as_bytes(), &self.conn.shared)?;
            return Some(LeafIdentity {
                account: login.identity.account,
                permissions: login.permissions,
                user: login.identity.user,
            });
        }
        let identity = server
            .authenticator()
            .authenticate(&co, self.nonce.as_bytes())?;
        let permissions = identity.user.as_deref().and_then(|name| {
            let auth = &server.opts.auth;
            auth.users
                .iter()
                .chain(auth.accounts.iter().flat_map(|a| a.users.iter()))
                .find(|u| u.user.as_deref() == Some(name) || u.nkey.as_deref() == Some(name))
                .and_then(|u| u.permissions.clone())
        });
        Some(LeafIdentity {
            account: identity.account,
            permissions,
            user: identity.user,
        })
    }

    /// nats-server replaces a link when the same server connects again for the same
    /// accounts (the old one is usually a dead connection not noticed yet); the old link
    /// is told why.
    fn replace_duplicate(&self, connect: &LeafConnect, account: &Arc<Account>) {
        if connect.name.is_empty() || connect.remote_account.is_empty() {
            return;
        }
        let me = self.conn.shared.cid;
        for other in self.nodes.links() {
            let Some(state) = &other.leaf else {
                continue;
            };
            if other.cid == me || state.solicited || !state.is_bound() {
                continue;
            }
            let same = {
                let remote = state.remote.lock();
                remote.name == connect.name
                    && remote.cluster == connect.cluster
                    && remote.account == connect.remote_account
            };
            if same && Arc::ptr_eq(&other.account(), account) {
                other.send_protocol(&errors::err_line("Duplicate Remote LeafNode Connection"));
                other.close(CloseReason::DuplicateRemoteLeafnodeConnection, true);
                log_warn!("{} - Replacing connection from same server", self.label());
            }
        }
    }
}

/// Whether `sig` (raw URL-safe base64, or standard) is `nkey`'s signature of `nonce`.
fn verify_signature(nkey: &str, sig: &str, nonce: &[u8]) -> bool {
    if sig.is_empty() {
        return false;
    }
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig));
    let (Ok(sig), Ok(public)) = (decoded, nkeys::KeyPair::from_public_key(nkey)) else {
        return false;
    };
    public.verify(nonce, &sig).is_ok()
}

/// This server's JetStream domain, when it runs JetStream in one.
pub(super) fn local_domain(server: &Server) -> Option<&str> {
    server
        .opts
        .jetstream
        .as_ref()
        .and_then(|js| js.domain.as_deref())
}
