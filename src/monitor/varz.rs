//! `/varz`: the server's identity, configuration and counters, with nats-server's field
//! names, order and units (durations in nanoseconds, timeouts in seconds).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format::{go_float, uptime, GoTime};
use super::jsz::{self, JetStreamVarz};
use crate::broker::server::Server;
use crate::options::DEFAULT_TLS_TIMEOUT;
use crate::proto::info::{NATS_COMPAT_VERSION, PROTOCOL_VERSION};

/// What `/varz` needs besides the server.
#[derive(Debug, Clone)]
pub struct VarzContext {
    pub http_host: String,
    pub http_port: u16,
    pub req_stats: BTreeMap<String, u64>,
    pub cpu: f64,
    pub mem: u64,
    pub now: SystemTime,
}

/// An object nats-server writes as `{}` when the feature is off.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Empty {}

/// Per-kind counts; only clients exist here.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct KindStats {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: i64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

/// nats-server's `WebsocketOptsVarz`: `{}` without a WebSocket listener.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub no_auth_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt_cookie: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub handshake_timeout: u64,
    /// Seconds.
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    pub auth_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub compression: bool,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// The `websocket` section from the running listener.
fn websocket_varz(server: &Server) -> WebsocketVarz {
    let Some(ws) = server.websocket() else {
        return WebsocketVarz::default();
    };
    let o = &ws.opts;
    WebsocketVarz {
        host: o.host.clone(),
        port: ws.port,
        advertise: o.advertise.clone().unwrap_or_default(),
        no_auth_user: o.no_auth_user.clone().unwrap_or_default(),
        jwt_cookie: o.jwt_cookie.clone().unwrap_or_default(),
        handshake_timeout: u64::try_from(o.handshake_timeout.as_nanos()).unwrap_or(u64::MAX),
        auth_timeout: o.auth_timeout.map_or(0.0, |d| d.as_secs_f64()),
        no_tls: o.no_tls,
        same_origin: o.same_origin,
        allowed_origins: o.allowed_origins.clone(),
        compression: o.compression,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i64,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_subscriptions: usize,
    /// Nanoseconds.
    pub ping_interval: u64,
    pub ping_max: u32,
    pub http_host: String,
    pub http_port: u16,
    pub http_base_path: String,
    pub https_port: u16,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub auth_timeout: f64,
    pub max_control_line: u32,
    pub max_payload: u32,
    pub max_pending: u64,
    pub cluster: Empty,
    pub gateway: Empty,
    /// `{}` without leaf nodes.
    pub leaf: super::leafz::LeafVarz,
    pub mqtt: Empty,
    pub websocket: WebsocketVarz,
    /// `{}` without JetStream.
    pub jetstream: JetStreamVarz,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: u64,
    pub start: GoTime,
    pub now: GoTime,
    pub uptime: String,
    /// Resident memory in bytes.
    pub mem: u64,
    pub cores: usize,
    /// Percent of one core.
    #[serde(serialize_with = "go_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: u64,
    pub remotes: u64,
    pub leafnodes: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: usize,
    pub http_req_stats: BTreeMap<String, u64>,
    pub config_load_time: GoTime,
    pub config_digest: String,
    /// Operator mode: the trusted operators' JWTs and their claims.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_operators_jwt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_operators_claim: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    pub slow_consumer_stats: KindStats,
    pub stale_connection_stats: KindStats,
    pub disk_io_wait_stats: DiskIoWaitStats,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

/// The `go` field: nats-server's Go version, here what we are built with (as in INFO).
pub fn runtime_version() -> String {
    format!("rust (switchboard {})", env!("CARGO_PKG_VERSION"))
}

pub fn varz(server: &Server, ctx: VarzContext) -> Varz {
    let opts = &server.opts;
    let stats = &server.stats;
    let totals = server.totals();
    let (leaf, leafnodes) = super::leafz::varz(server);
    // Leaf links' traffic counts in the totals, not in the client ones (as nats-server).
    let links = crate::broker::leaf::LeafNodes::of(server)
        .map(|l| l.totals())
        .unwrap_or_default();
    let slow = stats.slow_consumers.load(Ordering::Relaxed);
    let stale = stats.stale_connections.load(Ordering::Relaxed);
    let tls_timeout = opts.tls.as_ref().map_or(DEFAULT_TLS_TIMEOUT, |t| t.timeout);
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Varz {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        version: NATS_COMPAT_VERSION.to_string(),
        proto: PROTOCOL_VERSION,
        go: runtime_version(),
        host: opts.host.clone(),
        port: server.port(),
        auth_required: server.auth_required(),
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: nanos(opts.ping_interval),
        ping_max: opts.ping_max,
        http_host: ctx.http_host,
        http_port: ctx.http_port,
        http_base_path: String::new(),
        https_port: 0,
        auth_timeout: server.auth_timeout().as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf,
        mqtt: Empty {},
        websocket: websocket_varz(server),
        jetstream: jsz::varz(server),
        tls_timeout: tls_timeout.as_secs_f64(),
        write_deadline: nanos(opts.write_deadline),
        start: GoTime(server.start),
        now: GoTime(ctx.now),
        uptime: uptime(ctx.now.duration_since(server.start).unwrap_or_default()),
        mem: ctx.mem,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: ctx.cpu,
        connections: server.clients().len(),
        total_connections: stats.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes,
        in_msgs: totals.in_msgs + links.in_msgs,
        in_bytes: totals.in_bytes + links.in_bytes,
        in_client_msgs: totals.in_msgs,
        in_client_bytes: totals.in_bytes,
        out_msgs: totals.out_msgs + links.out_msgs,
        out_bytes: totals.out_bytes + links.out_bytes,
        out_client_msgs: totals.out_msgs,
        out_client_bytes: totals.out_bytes,
        slow_consumers: slow,
        stale_connections: stale,
        stalled_clients: stats.stalls.load(Ordering::Relaxed),
        subscriptions: server.subscription_count(),
        http_req_stats: ctx.req_stats,
        config_load_time: GoTime(server.start),
        config_digest: String::new(),
        trusted_operators_jwt: server.trust().map(|t| t.jwts.clone()).unwrap_or_default(),
        trusted_operators_claim: server
            .trust()
            .map(|t| {
                t.jwts
                    .iter()
                    .filter_map(|j| crate::jwt::payload_json(j))
                    .collect()
            })
            .unwrap_or_default(),
        system_account: super::accountz::system_account_name(server),
        slow_consumer_stats: KindStats {
            clients: slow,
            ..KindStats::default()
        },
        stale_connection_stats: KindStats {
            clients: stale,
            ..KindStats::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
    }
}
