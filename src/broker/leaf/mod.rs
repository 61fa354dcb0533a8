//! Leaf-node links (nats-server's `leafnodes { }`), a connection kind of the engine: this
//! server as a leaf of a hub (it solicits, `remotes`) and as a hub of leaf nodes (it
//! accepts, `port`). Both ends speak the same protocol once the link is up:
//!
//! * interest: the subscriptions of the bound account are announced with `LS+`/`LS-` as
//!   they come and go ([`link`]); the other side's interest becomes subscriptions owned by
//!   the link, in the account's sublist like any client's;
//! * messages: a publish that reaches a link's subscriptions is sent over it once, as
//!   `LMSG`/`HMSG`, with the queue groups picked for it; local queue members are preferred
//!   to remote ones; what comes over a link is delivered here and never sent back over it;
//! * loops: each account announces `$LDS.<id>` on its links; seeing its own come back closes
//!   the link and delays the next connection;
//! * PING/PONG and stale links as for clients, and TLS on both sides. S2 compression is not
//!   offered (`compress_mode: "not supported"`).
//!
//! Links are not clients: they are not in `/connz` or the connection count, but in
//! `/leafz` and `/varz`'s `leafnodes`, from the registry here ([`LeafNodes`], a service of
//! the server).

mod accept;
mod conn;
mod creds;
mod link;
mod solicit;
#[cfg(test)]
mod tests;
mod tls_client;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::client::ClientShared;
use super::close::CloseReason;
use super::server::{client_totals, Server, Service, StartError};
use super::tls::TlsServer;
use crate::inspect::snapshot::Totals;
use crate::log_info;

pub use creds::LeafUrl;
pub(crate) use link::{add_target, flush_targets, Target};
pub use link::{LinkState, RemoteMeta};
pub use solicit::{RemoteInfo, RemoteStatus};

/// The leaf links of a server and what makes them: the listener, the remotes, and each
/// account's loop-detection subject.
#[derive(Debug)]
pub struct LeafNodes {
    /// Live links by connection id (accepted ones as soon as they connect).
    links: Mutex<BTreeMap<u64, Arc<ClientShared>>>,
    /// Each account's `$LDS.<id>` subject.
    lds: Mutex<HashMap<String, String>>,
    /// The listener, from binding until the server starts accepting.
    listener: Mutex<Option<TcpListener>>,
    /// The leaf port (the real one when a random port was asked for), when listening.
    pub port: Option<u16>,
    /// The leaf listener's host.
    pub host: String,
    tls: Option<TlsServer>,
    remotes: Vec<Arc<solicit::Remote>>,
    stop: watch::Sender<bool>,
    /// Message totals of links that closed.
    closed: [AtomicU64; 4],
}

impl Service for LeafNodes {
    fn shutdown(&self) {
        let _ = self.stop.send(true);
        for link in self.links() {
            link.close(CloseReason::ServerShutdown, true);
        }
    }
}

impl LeafNodes {
    /// The leaf links of `server`, when it has a leaf-node listener or remotes.
    pub fn of(server: &Server) -> Option<Arc<LeafNodes>> {
        server.service::<LeafNodes>()
    }

    /// Live links, sorted by id; those still authenticating included.
    pub fn links(&self) -> Vec<Arc<ClientShared>> {
        self.links.lock().values().cloned().collect()
    }

    /// Links that are up (bound to their account), sorted by id: what `/leafz` lists.
    pub fn bound_links(&self) -> Vec<Arc<ClientShared>> {
        self.links()
            .into_iter()
            .filter(|c| c.leaf.as_ref().is_some_and(|l| l.is_bound()))
            .collect()
    }

    /// The configured remotes, for `/varz`.
    pub fn remotes(&self) -> Vec<RemoteInfo> {
        self.remotes.iter().map(|r| r.info()).collect()
    }

    /// How each configured remote's link is doing (disabled ones left out), in the
    /// configured order.
    pub fn remote_statuses(&self) -> Vec<RemoteStatus> {
        self.remotes
            .iter()
            .filter(|r| !r.disabled())
            .map(|r| r.status())
            .collect()
    }

    /// Whether the listener requires TLS, and verifies client certificates.
    pub fn tls(&self) -> (bool, bool) {
        match &self.tls {
            Some(t) => (true, t.verify()),
            None => (false, false),
        }
    }

    /// Message totals of every link, live and closed.
    pub fn totals(&self) -> Totals {
        let load = |i: usize| self.closed[i].load(Ordering::Relaxed);
        let mut t = Totals {
            in_msgs: load(0),
            in_bytes: load(1),
            out_msgs: load(2),
            out_bytes: load(3),
        };
        for link in self.links() {
            let lt = client_totals(&link);
            t.in_msgs += lt.in_msgs;
            t.in_bytes += lt.in_bytes;
            t.out_msgs += lt.out_msgs;
            t.out_bytes += lt.out_bytes;
        }
        t
    }

    /// The account's loop-detection subject, made on first use.
    pub fn lds(&self, account: &str) -> String {
        self.lds
            .lock()
            .entry(account.to_string())
            .or_insert_with(|| {
                let id = crate::proto::ids::random(22);
                format!("$LDS.{id}")
            })
            .clone()
    }

    fn register(&self, link: &Arc<ClientShared>) {
        self.links.lock().insert(link.cid, link.clone());
    }

    fn unregister(&self, link: &ClientShared) {
        if self.links.lock().remove(&link.cid).is_some() {
            let t = client_totals(link);
            for (i, v) in [t.in_msgs, t.in_bytes, t.out_msgs, t.out_bytes]
                .into_iter()
                .enumerate()
            {
                self.closed[i].fetch_add(v, Ordering::Relaxed);
            }
        }
    }
}

/// Binds the leaf-node listener (when `leafnodes` has a port) and registers the leaf links'
/// service, before the server accepts anything. Remotes and the listener start with
/// [`start`].
pub(crate) async fn bind(server: &Arc<Server>) -> Result<(), StartError> {
    let opts = &server.opts.leafnodes;
    if !opts.listens() && opts.remotes.is_empty() {
        return Ok(());
    }
    let remotes = opts
        .remotes
        .iter()
        .map(|r| solicit::Remote::new(r).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StartError::Leaf)?;
    let host = opts
        .host
        .clone()
        .unwrap_or_else(|| server.opts.host.clone());
    let (listener, port, tls) = if opts.listens() {
        let tls = match &opts.tls {
            Some(t) => Some(TlsServer::new(t)?),
            None => None,
        };
        let port = u16::try_from(opts.port.max(0)).unwrap_or(0);
        let addr = format!("{host}:{port}");
        let listen_error = |source| StartError::Listen {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind((host.as_str(), port))
            .await
            .map_err(listen_error)?;
        let port = listener.local_addr().map_err(listen_error)?.port();
        log_info!("Listening for leafnode connections on {}:{}", host, port);
        (Some(listener), Some(port), tls)
    } else {
        (None, None, None)
    };
    let (stop, _) = watch::channel(false);
    server.add_service(Arc::new(LeafNodes {
        links: Mutex::new(BTreeMap::new()),
        lds: Mutex::new(HashMap::new()),
        listener: Mutex::new(listener),
        port,
        host,
        tls,
        remotes,
        stop,
        closed: Default::default(),
    }));
    Ok(())
}

/// Starts accepting leaf nodes and connecting to the remotes. Must be called within a
/// tokio runtime.
pub(crate) fn start(server: &Arc<Server>) {
    let Some(nodes) = LeafNodes::of(server) else {
        return;
    };
    if let Some(listener) = nodes.listener.lock().take() {
        tokio::spawn(accept::accept_loop(
            server.clone(),
            nodes.clone(),
            listener,
            nodes.stop.subscribe(),
        ));
    }
    for remote in &nodes.remotes {
        if remote.disabled() {
            continue;
        }
        tokio::spawn(solicit::run(
            server.clone(),
            nodes.clone(),
            remote.clone(),
            nodes.stop.subscribe(),
        ));
    }
}

/// Resolves once the server stops (the leaf service's stop signal).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here: it must not live across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Spawns the writer of a link and runs its read loop to the end.
async fn run_link<R, W>(mut leaf: conn::LeafConn, reader: R, writer: W, initial: Vec<u8>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let client = leaf.conn.shared.clone();
    let write_deadline = leaf.conn.server.opts.write_deadline;
    let writer_task = tokio::spawn(async move {
        client.outbound.write_loop(writer, write_deadline).await;
        client.close(CloseReason::WriteError, false);
    });
    leaf.conn.shared.outbound.wake();
    let reason = leaf.read_loop(reader, initial).await;
    leaf.finish(reason);
    let _ = writer_task.await;
}
