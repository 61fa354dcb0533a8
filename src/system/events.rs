//! The JSON of the system account's events, with nats-server's field names, order and
//! omissions (its `ServerInfo`, `ClientInfo`, `ConnectEventMsg`, `DisconnectEventMsg`,
//! `AccountNumConns` and `ServerStatsMsg`), and the builders that fill them from the engine.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::broker::account::Account;
use crate::broker::client::{ClientShared, Transport};
use crate::broker::server::{client_totals, ClosedClient, Server};
use crate::inspect::snapshot::Totals;
use crate::jetstream::JetStream;
use crate::monitor::format::GoTime;
use crate::monitor::jsz::{self, JetStreamVarz};
use crate::proto::info::NATS_COMPAT_VERSION;

pub const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
pub const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";
pub const ACCOUNT_CONNS_TYPE: &str = "io.nats.server.advisory.v1.account_connections";

/// nats-server's capability flags: JetStream, binary stream snapshots, NRG traffic in the
/// asset account. It sets all three whenever JetStream runs.
const JETSTREAM_FLAGS: u64 = 0b111;

/// nats-server's `ServerInfo`: which server sent a message, with its sequence and time.
#[derive(Debug, Clone, Serialize)]
pub struct EventServer {
    pub name: String,
    pub host: String,
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub ver: String,
    pub jetstream: bool,
    pub flags: u64,
    pub seq: u64,
    pub time: GoTime,
}

impl EventServer {
    /// The header of the message numbered `seq`.
    pub fn new(server: &Server, seq: u64) -> Self {
        let js = JetStream::of(server);
        EventServer {
            name: server.name.clone(),
            host: server.opts.host.clone(),
            id: server.id.clone(),
            domain: js
                .as_ref()
                .and_then(|j| j.config.domain.clone())
                .unwrap_or_default(),
            ver: NATS_COMPAT_VERSION.to_string(),
            jetstream: js.is_some(),
            flags: if js.is_some() { JETSTREAM_FLAGS } else { 0 },
            seq,
            time: GoTime(SystemTime::now()),
        }
    }
}

/// nats-server's `ClientInfo`, the fields a client connection has.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<GoTime>,
    /// Operator mode: the user JWT, its issuer (signing key or account) and tags.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// nats-server's `client_type`: how a client speaks NATS.
fn client_type(transport: Transport) -> &'static str {
    match transport {
        Transport::Ws | Transport::Wss => "websocket",
        _ => "nats",
    }
}

/// A JWT user's `jwt`, `issuer_key` and `tags`, as nats-server's events show them.
fn jwt_fields(meta: &crate::broker::client::ClientMeta) -> (String, String, Vec<String>) {
    match &meta.jwt {
        Some(u) => (u.token.clone(), u.issuer_key().to_string(), u.tags.clone()),
        None => Default::default(),
    }
}

impl ClientInfo {
    /// A live client, as its CONNECT event shows it.
    pub fn of_client(client: &ClientShared) -> Self {
        let meta = client.meta.lock().clone();
        let acc = client.account();
        let account = acc.name.clone();
        let tag = acc.name_tag();
        let (jwt, issuer_key, tags) = jwt_fields(&meta);
        ClientInfo {
            start: Some(GoTime(client.start)),
            host: client.addr.ip().to_string(),
            id: client.cid,
            acc: account.clone(),
            user: meta.user,
            name: meta.name,
            lang: meta.lang,
            ver: meta.version,
            rtt: 0,
            stop: None,
            jwt,
            issuer_key,
            name_tag: if tag.is_empty() { account } else { tag },
            tags,
            kind: "Client".to_string(),
            client_type: client_type(client.transport()).to_string(),
        }
    }

    /// A closed client, as its DISCONNECT event shows it; `user` is what it offered when
    /// it never authenticated.
    pub fn of_closed(closed: &ClosedClient, user: &str) -> Self {
        let user = if closed.meta.user.is_empty() {
            user.to_string()
        } else {
            closed.meta.user.clone()
        };
        let (jwt, issuer_key, tags) = jwt_fields(&closed.meta);
        ClientInfo {
            start: Some(GoTime(closed.start)),
            host: closed.addr.ip().to_string(),
            id: closed.cid,
            acc: closed.account.clone(),
            user,
            name: closed.meta.name.clone(),
            lang: closed.meta.lang.clone(),
            ver: closed.meta.version.clone(),
            rtt: closed.meta.rtt.map_or(0, nanos),
            stop: Some(GoTime(closed.stop)),
            jwt,
            issuer_key,
            name_tag: closed.account.clone(),
            tags,
            kind: "Client".to_string(),
            client_type: client_type(closed.transport).to_string(),
        }
    }
}

/// nats-server's `MsgBytes` (and `DataStats` with its per-kind parts).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DataStats {
    pub msgs: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateways: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leafs: Option<MsgBytes>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

impl DataStats {
    fn plain(msgs: u64, bytes: u64) -> Self {
        DataStats {
            msgs,
            bytes,
            ..DataStats::default()
        }
    }

    /// With the (zero) gateway, route and leaf parts an account's statistics carry.
    fn with_kinds(msgs: u64, bytes: u64) -> Self {
        let zero = Some(MsgBytes::default());
        DataStats {
            msgs,
            bytes,
            gateways: zero,
            routes: zero,
            leafs: zero,
        }
    }
}

/// `$SYS.ACCOUNT.<acc>.CONNECT`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub timestamp: GoTime,
    pub server: EventServer,
    pub client: ClientInfo,
}

/// `$SYS.ACCOUNT.<acc>.DISCONNECT` and `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`. `sent` is what
/// the client sent (its in-messages), `received` what it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct DisconnectEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub timestamp: GoTime,
    pub server: EventServer,
    pub client: ClientInfo,
    pub sent: DataStats,
    pub received: DataStats,
    pub reason: String,
}

impl DisconnectEvent {
    pub fn new(
        id: String,
        server: EventServer,
        client: ClientInfo,
        totals: Totals,
        reason: String,
    ) -> Self {
        DisconnectEvent {
            kind: DISCONNECT_TYPE,
            id,
            timestamp: client.stop.unwrap_or(GoTime(SystemTime::now())),
            server,
            client,
            sent: DataStats::plain(totals.in_msgs, totals.in_bytes),
            received: DataStats::plain(totals.out_msgs, totals.out_bytes),
            reason,
        }
    }
}

/// nats-server's `AccountStat`: one account's connections, subscriptions and traffic.
/// `received` is what its clients published, `sent` what they were delivered.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStat {
    pub acc: String,
    pub name: String,
    pub conns: usize,
    pub leafnodes: usize,
    pub total_conns: usize,
    pub num_subscriptions: usize,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: u64,
}

/// What closed connections of an account left behind, kept for its statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClosedTotals {
    pub totals: Totals,
    pub slow_consumers: u64,
}

impl AccountStat {
    /// `account`'s statistics: its live clients plus what its closed ones left.
    pub fn of(server: &Server, account: &Arc<Account>, closed: ClosedTotals) -> Self {
        let mut conns = 0;
        let mut t = closed.totals;
        server.for_each_client(|client| {
            if Arc::ptr_eq(&client.account(), account) {
                conns += 1;
                let ct = client_totals(client);
                t.in_msgs += ct.in_msgs;
                t.in_bytes += ct.in_bytes;
                t.out_msgs += ct.out_msgs;
                t.out_bytes += ct.out_bytes;
            }
        });
        AccountStat {
            acc: account.name.clone(),
            name: account.name.clone(),
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: account.sublist.read().count(),
            sent: DataStats::with_kinds(t.out_msgs, t.out_bytes),
            received: DataStats::with_kinds(t.in_msgs, t.in_bytes),
            slow_consumers: closed.slow_consumers,
        }
    }
}

/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (and the older `$SYS.SERVER.ACCOUNT.<acc>.CONNS`).
#[derive(Debug, Clone, Serialize)]
pub struct AccountConnsEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub timestamp: GoTime,
    pub server: EventServer,
    #[serde(flatten)]
    pub stat: AccountStat,
}

/// Per-kind counters, set only when one is not zero.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct KindCounts {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

/// nats-server's `ServerStats`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStats {
    pub start: GoTime,
    pub mem: u64,
    pub cores: usize,
    #[serde(serialize_with = "crate::monitor::format::go_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub active_accounts: usize,
    pub subscriptions: usize,
    pub sent: DataStats,
    pub sent_to_clients: DataStats,
    pub received: DataStats,
    pub received_from_clients: DataStats,
    pub slow_consumers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_consumer_stats: Option<KindCounts>,
    #[serde(skip_serializing_if = "is_zero")]
    pub stale_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_connection_stats: Option<KindCounts>,
    #[serde(skip_serializing_if = "is_zero")]
    pub stalled_clients: u64,
    pub active_servers: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<JetStreamVarz>,
}

/// `$SYS.SERVER.<id>.STATSZ` and the answer to `$SYS.REQ.SERVER.PING` (no envelope).
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatsMsg {
    pub server: EventServer,
    pub statsz: ServerStats,
}

/// The server's statistics now; `usage` is (CPU percent, resident bytes).
pub fn server_stats(server: &Server, usage: (f64, u64)) -> ServerStats {
    let stats = &server.stats;
    let totals = server.totals();
    let clients = server.clients();
    let mut accounts: Vec<*const Account> =
        clients.iter().map(|c| Arc::as_ptr(&c.account())).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let slow = stats.slow_consumers.load(Ordering::Relaxed);
    let stale = stats.stale_connections.load(Ordering::Relaxed);
    let only_clients = |n: u64| {
        (n > 0).then_some(KindCounts {
            clients: n,
            ..KindCounts::default()
        })
    };
    let jetstream = JetStream::of(server).map(|_| {
        // nats-server leaves the store directory out of what it broadcasts.
        let mut v = jsz::varz(server);
        if let Some(c) = v.config.as_mut() {
            c.store_dir.clear();
        }
        v
    });
    let sent = DataStats::plain(totals.out_msgs, totals.out_bytes);
    let received = DataStats::plain(totals.in_msgs, totals.in_bytes);
    ServerStats {
        start: GoTime(server.start),
        mem: usage.1,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: usage.0,
        connections: clients.len(),
        total_connections: stats.total_connections.load(Ordering::Relaxed),
        active_accounts: accounts.len(),
        subscriptions: server.subscription_count(),
        sent,
        sent_to_clients: sent,
        received,
        received_from_clients: received,
        slow_consumers: slow,
        slow_consumer_stats: only_clients(slow),
        stale_connections: stale,
        stale_connection_stats: only_clients(stale),
        stalled_clients: stats.stalls.load(Ordering::Relaxed),
        active_servers: 1,
        jetstream,
    }
}

pub use crate::proto::ids::event_id;
