//! The server: its identity, accounts, the registry of live connections, the accept loop and
//! shutdown. `BrokerHandle` is the only control surface other parts (CLI, GUI) use.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::account::{Account, GLOBAL_ACCOUNT};
use super::client::{ClientMeta, ClientShared, Conn};
use super::close::CloseReason;
use super::sublist::SubInfo;
use crate::inspect::snapshot::Totals;
use crate::options::Options;
use crate::proto::errors;
use crate::proto::info::{ServerInfo, NATS_COMPAT_VERSION, PROTOCOL_VERSION};
use crate::{log_debug, log_error};

/// How many closed connections are remembered (nats-server's `max_closed_clients`).
pub const MAX_CLOSED_CLIENTS: usize = 10_000;
/// How long shutdown waits for connections to flush before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("can't listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    /// TLS is configured but its certificate, key or CA cannot be used.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// `system_account` names no configured account (nats-server's words).
    #[error("error resolving system account: {0}")]
    SystemAccount(String),
    /// A leaf-node remote that can't be used (its URL, its TLS files).
    #[error("leafnode: {0}")]
    Leaf(String),
}

/// Server-wide counters. Per-message totals live on each connection and are summed on
/// demand, so the publish path touches no shared counter.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub total_connections: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub stale_connections: AtomicU64,
    /// Read passes in which a publisher was stalled for a lagging consumer.
    pub stalls: AtomicU64,
    /// Totals of connections that have closed.
    pub closed_in_msgs: AtomicU64,
    pub closed_in_bytes: AtomicU64,
    pub closed_out_msgs: AtomicU64,
    pub closed_out_bytes: AtomicU64,
}

/// What is remembered of a closed connection.
#[derive(Debug, Clone)]
pub struct ClosedClient {
    pub cid: u64,
    pub addr: SocketAddr,
    pub name: String,
    pub start: SystemTime,
    pub stop: SystemTime,
    pub reason: CloseReason,
    pub totals: Totals,
    /// What the CONNECT said (name, lang, version, user) and the last RTT.
    pub meta: ClientMeta,
    /// The account's name.
    pub account: String,
    pub last_activity: SystemTime,
    /// The subscriptions it had when it closed.
    pub subs: Vec<SubInfo>,
    /// How it was connected (TCP, TLS, WebSocket).
    pub transport: super::client::Transport,
}

#[derive(Debug)]
pub struct Server {
    pub opts: Options,
    pub id: String,
    pub name: String,
    pub start: SystemTime,
    pub stats: ServerStats,
    /// What observers (the inspector) see of the traffic.
    pub tap: super::tap::Tap,
    /// All connections' buffered outbound bytes (`max_pending_total`).
    pub outbound_budget: Arc<super::outbound::OutboundBudget>,
    global: Arc<Account>,
    /// The named accounts: configured ones from the start, and in operator mode those
    /// registered at run time from their JWTs (see `account_claims.rs`). Connections keep
    /// their account's `Arc`, so the publish path never reads this map.
    pub(super) accounts: parking_lot::RwLock<HashMap<String, Arc<Account>>>,
    /// Operator mode: the trusted operators and the account resolver.
    pub(super) trust: Option<super::operator::Trust>,
    /// Told about every account, present and future (JetStream enables the accounts whose
    /// JWT allows it); held while an account is registered so none is seen twice.
    pub(super) account_observers: super::account_claims::AccountObservers,
    clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    closed: Mutex<VecDeque<ClosedClient>>,
    next_cid: AtomicU64,
    info: ServerInfo,
    auth: super::auth::Authenticator,
    tls: Option<super::tls::TlsServer>,
    /// Busy polling after traffic (`busy_poll`); `None` when off.
    pub hot_poll: Option<Arc<super::hot_poll::HotPoll>>,
    /// Services running on this server as internal clients (JetStream), found by type by
    /// the front ends that report on them (monitoring, the inspector).
    services: Services,
    /// The WebSocket listener's settings (`websocket { }`), when it runs.
    websocket: Option<super::websocket::WsServer>,
    /// The account of the `$SYS` events and requests (see `events.rs`).
    pub(super) system_account: Option<Arc<Account>>,
    /// Who is told about clients connecting, closing and failing to authenticate.
    pub(super) client_events: std::sync::OnceLock<Arc<dyn super::events::ClientEvents>>,
}

/// A service that runs on the server as an internal client (JetStream).
pub trait Service: std::any::Any + Send + Sync {
    /// Called once when the broker stops, after its connections closed: the service stops
    /// its background work and makes what it holds durable. A server stays reachable (the
    /// inspector may hold it) after a new one started on the same store.
    fn shutdown(&self);
}

/// A registered service, as itself (to find it by type) and as a [`Service`].
type Registered = (Arc<dyn std::any::Any + Send + Sync>, Arc<dyn Service>);

#[derive(Default)]
struct Services(parking_lot::RwLock<Vec<Registered>>);

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Services({})", self.0.read().len())
    }
}

impl Server {
    fn new(
        opts: Options,
        port: u16,
        tls: Option<super::tls::TlsServer>,
        websocket: Option<super::websocket::WsListen>,
    ) -> Result<Self, StartError> {
        let id = nkeys::KeyPair::new_server().public_key();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let info = ServerInfo {
            server_id: id.clone(),
            server_name: name.clone(),
            version: NATS_COMPAT_VERSION.to_string(),
            proto: PROTOCOL_VERSION,
            go: format!("rust (switchboard {})", env!("CARGO_PKG_VERSION")),
            host: opts.host.clone(),
            port,
            headers: true,
            auth_required: opts.auth.is_required() || opts.operator.enabled(),
            tls_required: tls.is_some(),
            tls_verify: tls.as_ref().is_some_and(|t| t.verify()),
            max_payload: opts.max_payload,
            switchboard_version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        let trust = super::operator::Trust::new(&opts).map_err(StartError::Unsupported)?;
        let mut accounts = opts
            .auth
            .accounts
            .iter()
            .map(|a| (a.name.clone(), Arc::new(Account::new(&a.name))))
            .collect();
        let system_account = super::events::system_account(&opts, &mut accounts)
            .map_err(StartError::SystemAccount)?;
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let auth = super::auth::Authenticator::new(&opts.auth, global.clone(), &accounts)
            .with_operator(trust.is_some());
        let websocket = websocket.and_then(|listen| {
            let ws = opts.websocket.as_ref()?;
            Some(super::websocket::WsServer::new(
                ws, &opts.auth, listen, &global, &accounts,
            ))
        });
        if auth.has_plaintext_passwords() {
            crate::log_warn!("Plaintext passwords detected, use nkeys or bcrypt");
        }
        Ok(Server {
            id,
            name,
            start: SystemTime::now(),
            stats: ServerStats::default(),
            tap: super::tap::Tap::new(),
            outbound_budget: Arc::new(super::outbound::OutboundBudget::new(opts.max_pending_total)),
            global,
            accounts: parking_lot::RwLock::new(accounts),
            trust,
            account_observers: Default::default(),
            clients: Mutex::new(HashMap::new()),
            closed: Mutex::new(VecDeque::new()),
            next_cid: AtomicU64::new(1),
            info,
            auth,
            tls,
            hot_poll: super::hot_poll::HotPoll::new(opts.busy_poll),
            services: Default::default(),
            websocket,
            system_account,
            client_events: Default::default(),
            opts,
        })
    }

    /// Registers a service so that [`Self::service`] finds it.
    pub fn add_service<T: Service>(&self, service: Arc<T>) {
        let any: Arc<dyn std::any::Any + Send + Sync> = service.clone();
        self.services.0.write().push((any, service));
    }

    /// The running service of type `T`, if one was registered.
    pub fn service<T: Service>(&self) -> Option<Arc<T>> {
        self.services
            .0
            .read()
            .iter()
            .find_map(|(any, _)| any.clone().downcast::<T>().ok())
    }

    /// Stops every service (the broker stopped).
    fn shutdown_services(&self) {
        let services: Vec<Arc<dyn Service>> = self
            .services
            .0
            .read()
            .iter()
            .map(|(_, s)| s.clone())
            .collect();
        for service in services {
            service.shutdown();
        }
    }

    /// A fresh connection id (clients and internal clients share the sequence).
    pub(crate) fn next_cid(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// The port clients connect to (the real one when a random port was asked for).
    pub fn port(&self) -> u16 {
        self.info.port
    }

    pub fn auth_required(&self) -> bool {
        self.auth.required()
    }

    /// The WebSocket listener, when one runs.
    pub fn websocket(&self) -> Option<&super::websocket::WsServer> {
        self.websocket.as_ref()
    }

    /// `authorization.timeout`, else nats-server's default (tls timeout + 1 s with TLS).
    pub fn auth_timeout(&self) -> Duration {
        match (self.opts.auth.timeout, &self.opts.tls) {
            (Some(t), _) => t,
            (None, Some(tls)) => tls.timeout + Duration::from_secs(1),
            (None, None) => crate::options::DEFAULT_AUTH_TIMEOUT,
        }
    }

    /// The INFO a new client gets: with its nonce, and `auth_required` as nats-server
    /// advertises it (false when a `no_auth_user` lets clients in without credentials).
    fn info_line(&self, client: &ClientShared, nonce: Option<&str>) -> Vec<u8> {
        self.info_line_with(client, nonce, |_| {})
    }

    /// [`Self::info_line`], changed by `edit` (a WebSocket client's host, port and TLS).
    pub(crate) fn info_line_with(
        &self,
        client: &ClientShared,
        nonce: Option<&str>,
        edit: impl FnOnce(&mut ServerInfo),
    ) -> Vec<u8> {
        let mut info = self.info.clone();
        info.auth_required = self.auth.advertised_required();
        info.client_id = Some(client.cid);
        info.client_ip = Some(client.addr.ip().to_string());
        info.nonce = nonce.map(str::to_string);
        edit(&mut info);
        info.to_line()
    }

    /// The INFO that announces lame-duck mode.
    fn lame_duck_info_line(&self, client: &ClientShared) -> Vec<u8> {
        let mut info = self.info.clone();
        info.client_id = Some(client.cid);
        info.client_ip = Some(client.addr.ip().to_string());
        info.ldm = true;
        info.to_line()
    }

    /// The async INFO sent after the first PONG to a protocol-1 client.
    pub(crate) fn connect_info_line(&self, client: &ClientShared) -> Vec<u8> {
        let mut info = self.info.clone();
        info.client_id = Some(client.cid);
        info.client_ip = Some(client.addr.ip().to_string());
        info.connect_info = true;
        info.remote_account = Some(client.account().name.clone());
        // nats-server sends the client's own limit (a JWT may lower it).
        if let Some(max) = client.max_payload() {
            info.max_payload = u32::try_from(max).unwrap_or(u32::MAX);
        }
        info.to_line()
    }

    pub(crate) fn authenticator(&self) -> &super::auth::Authenticator {
        &self.auth
    }

    pub fn global_account(&self) -> &Arc<Account> {
        &self.global
    }

    /// A registered account (configured, or in operator mode registered from its JWT; see
    /// [`Self::lookup_account`] to fetch one from the resolver).
    pub fn account(&self, name: &str) -> Option<Arc<Account>> {
        self.accounts.read().get(name).cloned()
    }

    /// Every account: the global one first, then the named ones by name.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let mut named: Vec<_> = self.accounts.read().values().cloned().collect();
        named.sort_by(|a, b| a.name.cmp(&b.name));
        let mut all = vec![self.global.clone()];
        all.extend(named);
        all
    }

    /// Live connections, sorted by id.
    pub fn clients(&self) -> Vec<Arc<ClientShared>> {
        let mut list: Vec<_> = self.clients.lock().values().cloned().collect();
        list.sort_by_key(|c| c.cid);
        list
    }

    /// Calls `f` for each live connection, in no order, under the registry's lock: for
    /// counting on a hot path (an event per connect) without copying and sorting the list.
    pub fn for_each_client(&self, mut f: impl FnMut(&Arc<ClientShared>)) {
        for client in self.clients.lock().values() {
            f(client);
        }
    }

    pub fn client(&self, id: u64) -> Option<Arc<ClientShared>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Recently closed connections, oldest first.
    pub fn closed_clients(&self) -> Vec<ClosedClient> {
        self.closed.lock().iter().cloned().collect()
    }

    /// Message totals: closed connections plus live ones.
    pub fn totals(&self) -> Totals {
        let s = &self.stats;
        let mut t = Totals {
            in_msgs: s.closed_in_msgs.load(Ordering::Relaxed),
            in_bytes: s.closed_in_bytes.load(Ordering::Relaxed),
            out_msgs: s.closed_out_msgs.load(Ordering::Relaxed),
            out_bytes: s.closed_out_bytes.load(Ordering::Relaxed),
        };
        for c in self.clients.lock().values() {
            let ct = client_totals(c);
            t.in_msgs += ct.in_msgs;
            t.in_bytes += ct.in_bytes;
            t.out_msgs += ct.out_msgs;
            t.out_bytes += ct.out_bytes;
        }
        t
    }

    /// Number of subscriptions across all accounts.
    pub fn subscription_count(&self) -> usize {
        self.global.sublist.read().count()
            + self
                .accounts
                .read()
                .values()
                .map(|a| a.sublist.read().count())
                .sum::<usize>()
    }

    pub(crate) fn client_closed(
        self: &Arc<Self>,
        client: &Arc<ClientShared>,
        reason: CloseReason,
        subs: Vec<SubInfo>,
    ) {
        self.clients.lock().remove(&client.cid);
        let totals = client_totals(client);
        let s = &self.stats;
        s.closed_in_msgs
            .fetch_add(totals.in_msgs, Ordering::Relaxed);
        s.closed_in_bytes
            .fetch_add(totals.in_bytes, Ordering::Relaxed);
        s.closed_out_msgs
            .fetch_add(totals.out_msgs, Ordering::Relaxed);
        s.closed_out_bytes
            .fetch_add(totals.out_bytes, Ordering::Relaxed);
        let meta = client.meta.lock().clone();
        let closed = ClosedClient {
            cid: client.cid,
            addr: client.addr,
            name: meta.name.clone(),
            start: client.start,
            stop: SystemTime::now(),
            reason,
            totals,
            meta,
            account: client.account().name.clone(),
            last_activity: client.last_activity(),
            subs,
            transport: client.transport(),
        };
        self.notify_closed(client, &closed);
        let mut ring = self.closed.lock();
        if ring.len() >= MAX_CLOSED_CLIENTS {
            ring.pop_front();
        }
        ring.push_back(closed);
        drop(ring);
        log_debug!(
            "{} - cid:{} - Client connection closed: {}",
            client.addr,
            client.cid,
            reason
        );
    }

    /// A new client connection's shared side, counted; logged as created.
    pub(crate) fn new_client(&self, addr: SocketAddr) -> Arc<ClientShared> {
        let id = self.next_cid();
        let client = Arc::new(ClientShared::new(
            id,
            addr,
            self.global.clone(),
            self.opts.max_pending,
            self.outbound_budget.clone(),
        ));
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        log_debug!("{} - cid:{} - Client connection created", addr, id);
        client
    }

    /// The nonce INFO carries (when nkeys need one); `Err` when there is no random source.
    pub(crate) fn nonce_for(&self, client: &ClientShared) -> Result<Option<String>, ()> {
        if !self.auth.nonce_required() {
            return Ok(None);
        }
        super::auth::new_nonce().map(Some).ok_or_else(|| {
            log_error!(
                "{} - cid:{} - No random source for the nonce",
                client.addr,
                client.cid
            );
        })
    }

    /// Registers a client unless `max_connections` is reached; false when refused.
    pub(crate) fn admit(&self, client: &Arc<ClientShared>) -> bool {
        let mut clients = self.clients.lock();
        if clients.len() >= self.opts.max_connections {
            false
        } else {
            clients.insert(client.cid, client.clone());
            true
        }
    }

    /// Runs one accepted connection to its end.
    async fn serve_connection(self: Arc<Self>, socket: TcpStream, addr: SocketAddr) {
        let _ = socket.set_nodelay(true);
        let client = self.new_client(addr);
        let id = client.cid;
        let Ok(nonce) = self.nonce_for(&client) else {
            return;
        };
        let info = self.info_line(&client, nonce.as_deref());
        let admitted = self.admit(&client);
        let Some(tls) = self.tls.clone() else {
            let (reader, writer) = socket.into_split();
            client.outbound.push(None, |b| b.extend_from_slice(&info));
            self.run_client(client, nonce, admitted, reader, writer)
                .await;
            return;
        };
        if !admitted {
            // As nats-server: refused before any TLS, in plain text.
            let (reader, writer) = socket.into_split();
            if !tls.handshake_first() {
                client.outbound.push(None, |b| b.extend_from_slice(&info));
            }
            self.run_client(client, nonce, false, reader, writer).await;
            return;
        }
        client.set_transport(super::client::Transport::Tls);
        match tls.negotiate(socket, &info).await {
            Ok(negotiated) => {
                if negotiated.info_pending {
                    client.outbound.push(None, |b| b.extend_from_slice(&info));
                }
                // verify_and_map: who the certificate says the client is, read once.
                let cert_names = self
                    .opts
                    .tls
                    .as_ref()
                    .filter(|t| t.verify_and_map)
                    .and_then(|_| negotiated.stream.get_ref().1.peer_certificates())
                    .and_then(|certs| certs.first())
                    .and_then(|cert| super::tls_map::CertNames::from_der(cert))
                    .map(Box::new);
                let (reader, writer) = tokio::io::split(negotiated.stream);
                self.run_client_with(client, nonce, true, reader, writer, |conn| {
                    conn.cert_names = cert_names;
                })
                .await;
            }
            Err(e) => {
                log_debug!("{} - cid:{} - TLS handshake error: {}", addr, id, e);
                let mut conn = Conn::new(self.clone(), client);
                conn.finish(CloseReason::TlsHandshakeFailure);
            }
        }
    }

    /// Runs the writer task and the read loop of a connection whose transport is ready.
    async fn run_client<R, W>(
        self: Arc<Self>,
        client: Arc<ClientShared>,
        nonce: Option<String>,
        admitted: bool,
        reader: R,
        writer: W,
    ) where
        R: tokio::io::AsyncRead + Unpin,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.run_client_with(client, nonce, admitted, reader, writer, |_| {})
            .await;
    }

    /// [`Self::run_client`], with `setup` applied to the connection before it reads (a
    /// WebSocket client's own authentication).
    pub(crate) async fn run_client_with<R, W>(
        self: Arc<Self>,
        client: Arc<ClientShared>,
        nonce: Option<String>,
        admitted: bool,
        reader: R,
        writer: W,
        setup: impl FnOnce(&mut Conn),
    ) where
        R: tokio::io::AsyncRead + Unpin,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let write_deadline = self.opts.write_deadline;
        let writer_client = client.clone();
        let writer_task = tokio::spawn(async move {
            writer_client
                .outbound
                .write_loop(writer, write_deadline)
                .await;
            // Whatever ended the writer, the reader must stop too.
            writer_client.close(CloseReason::WriteError, false);
        });
        client.outbound.wake();

        let mut conn = Conn::new(self.clone(), client.clone());
        conn.nonce = nonce;
        setup(&mut conn);
        let reason = if admitted {
            conn.read_loop(reader).await
        } else {
            conn.send_err(errors::MAX_CONNECTIONS_EXCEEDED);
            conn.end_batch(&mut Vec::new(), 0);
            CloseReason::MaxConnectionsExceeded
        };
        conn.finish(reason);
        let _ = writer_task.await;
    }
}

/// One connection's message totals.
pub fn client_totals(client: &ClientShared) -> Totals {
    Totals {
        in_msgs: client.in_msgs.load(Ordering::Relaxed),
        in_bytes: client.in_bytes.load(Ordering::Relaxed),
        out_msgs: client.outbound.stats.msgs.load(Ordering::Relaxed),
        out_bytes: client.outbound.stats.bytes.load(Ordering::Relaxed),
    }
}

/// What the accept loop is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Run,
    LameDuck,
    Shutdown,
}

/// A running broker.
#[derive(Debug)]
pub struct BrokerHandle {
    server: Arc<Server>,
    addr: SocketAddr,
    command: watch::Sender<Command>,
    done: watch::Receiver<bool>,
    accept_task: tokio::task::JoinHandle<()>,
}

/// A broker bound to its client port that accepts no connection yet: what must see every
/// client (a recording of all traffic, the monitoring port) is set up on its server before
/// [`Self::accept`]. The port is reserved but not listening, so a client (or a harness
/// waiting for the port) that comes early is refused and tries again, and finds everything
/// ready when it gets in, as with nats-server, which listens only once all else runs.
pub struct BoundBroker {
    server: Arc<Server>,
    socket: TcpSocket,
    addr: SocketAddr,
    /// The WebSocket listener (`websocket { }`), when configured.
    ws_listener: Option<TcpListener>,
}

impl BoundBroker {
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts accepting connections. Must be called within a tokio runtime.
    pub fn accept(self) -> BrokerHandle {
        let BoundBroker {
            server,
            socket,
            addr,
            ws_listener,
        } = self;
        // Failing here (another process bound the same port meanwhile) ends the broker
        // at once: `finished` resolves and the runner exits.
        let listener = match socket.listen(LISTEN_BACKLOG) {
            Ok(listener) => Some(listener),
            Err(e) => {
                log_error!("Error listening for client connections on {}: {}", addr, e);
                None
            }
        };
        let server_for_loop = server.clone();
        let (command, command_rx) = watch::channel(Command::Run);
        let (done_tx, done) = watch::channel(false);
        let poller = server.hot_poll.clone().map(|p| tokio::spawn(p.run()));
        super::leaf::start(&server);
        let accept_task = tokio::spawn(async move {
            accept_loop(server_for_loop, listener, ws_listener, command_rx).await;
            if let Some(poller) = poller {
                poller.abort();
            }
            let _ = done_tx.send(true);
        });
        BrokerHandle {
            server,
            addr,
            command,
            done,
            accept_task,
        }
    }
}

impl BrokerHandle {
    /// A broker with default options on a free loopback port, for tests.
    #[cfg(test)]
    #[allow(clippy::expect_used)]
    pub(crate) async fn start_for_test() -> BrokerHandle {
        BrokerHandle::start(Options {
            port: 0,
            ..Options::default()
        })
        .await
        .expect("a test broker starts on a free port")
    }

    /// Binds the client port and starts accepting. Must be called within a tokio runtime.
    pub async fn start(opts: Options) -> Result<BrokerHandle, StartError> {
        Ok(Self::bind(opts).await?.accept())
    }

    /// Binds the client port without accepting yet (see [`BoundBroker`]).
    pub async fn bind(opts: Options) -> Result<BoundBroker, StartError> {
        let tls = match &opts.tls {
            Some(t) => Some(super::tls::TlsServer::new(t).map_err(StartError::Tls)?),
            None => None,
        };
        let port = u16::try_from(opts.port.max(0)).unwrap_or(0);
        let addr_text = format!("{}:{}", opts.host, port);
        let socket = reserve((opts.host.as_str(), port))
            .await
            .map_err(|source| StartError::Listen {
                addr: addr_text.clone(),
                source,
            })?;
        let addr = socket.local_addr().map_err(|source| StartError::Listen {
            addr: addr_text,
            source,
        })?;
        let (ws_listener, ws_listen) = match super::websocket::bind(&opts).await? {
            Some((listener, listen)) => (Some(listener), Some(listen)),
            None => (None, None),
        };
        let server = Arc::new(Server::new(opts, addr.port(), tls, ws_listen)?);
        super::imports::configure(&server);
        server.load_system_account_jwt();
        super::leaf::bind(&server).await?;
        Ok(BoundBroker {
            server,
            socket,
            addr,
            ws_listener,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// Stops accepting, closes every connection (flushing what is queued) and waits for
    /// them, at most a short grace period.
    pub async fn shutdown(self) {
        let _ = self.command.send(Command::Shutdown);
        let _ = self.accept_task.await;
    }

    /// Lame-duck mode, as nats-server's SIGUSR2: stop accepting, tell every client with an
    /// INFO carrying `ldm: true`, wait `lame_duck_grace_period`, then close the clients one
    /// by one over the rest of `lame_duck_duration`; the broker then stops
    /// (`finished` resolves).
    pub fn enter_lame_duck(&self) {
        self.command.send_if_modified(|c| {
            let enter = *c == Command::Run;
            if enter {
                *c = Command::LameDuck;
            }
            enter
        });
    }

    /// Resolves once the broker stopped by itself (after lame-duck mode).
    pub async fn finished(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

/// The client port's listen backlog (as Go's, the system's maximum is usually lower).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds the first address `host` resolves to that can be bound, without listening yet
/// (`SO_REUSEADDR` as `TcpListener::bind` sets it).
async fn reserve(host: (&str, u16)) -> std::io::Result<TcpSocket> {
    let mut last = None;
    for addr in tokio::net::lookup_host(host).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(addr) {
            Ok(()) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

async fn accept_loop(
    server: Arc<Server>,
    listener: Option<TcpListener>,
    ws_listener: Option<TcpListener>,
    mut command: watch::Receiver<Command>,
) {
    if listener.is_none() {
        return;
    }
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = command.changed() => break,
            accepted = super::websocket::accept(ws_listener.as_ref()) => match accepted {
                Ok((socket, addr)) => {
                    connections.spawn(super::websocket::serve(server.clone(), socket, addr));
                }
                Err(e) => {
                    log_error!("Error accepting websocket connection: {}", e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            accepted = super::websocket::accept(listener.as_ref()) => match accepted {
                Ok((socket, addr)) => {
                    connections.spawn(server.clone().serve_connection(socket, addr));
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    log_error!("Error accepting client connection: {}", e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drop(ws_listener);
    if *command.borrow() == Command::LameDuck {
        lame_duck::run(&server, &mut command, &mut connections).await;
    }
    for client in server.clients() {
        client.close(CloseReason::ServerShutdown, true);
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    server.shutdown_services();
}

#[path = "lame_duck.rs"]
mod lame_duck;

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
