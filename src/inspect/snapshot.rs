//! Plain data that crosses from the engine to whoever inspects it (the GUI, tests): built by
//! the sampler every tick, handed over by value, never borrowed from the engine.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

pub use super::histogram::LatencyHistogram;

/// Everything the inspector shows, as of one tick.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub taken_at: Option<SystemTime>,
    pub server: ServerIdentity,
    pub uptime: Duration,
    pub totals: Totals,
    pub rates: Rates,
    /// Live connections, sorted by id.
    pub connections: Vec<ConnectionInfo>,
    /// Recently closed connections, oldest first (bounded).
    pub closed: Vec<ClosedConnectionInfo>,
    /// Every subject published since start, sorted by subject.
    pub subjects: Vec<SubjectStat>,
    /// Queue groups with their members, sorted by subject then queue name.
    pub queue_groups: Vec<QueueGroupInfo>,
    /// Request/reply latency per service subject, sorted by subject.
    pub latency: Vec<ServiceLatency>,
    pub subscriptions: usize,
    pub slow_consumers: u64,
    pub drops: DropCounters,
    /// Inside the broker (everything is known) or a client outside it (see [`Vantage`]).
    pub vantage: Vantage,
    /// The servers of the deployment, sorted by name: one entry or none for the embedded
    /// broker, every server of the cluster for a remote deployment.
    pub servers: Vec<ServerSummary>,
    /// The link to a remote deployment; `None` for the embedded broker (always there).
    pub link: Option<LinkStatus>,
    /// JetStream: off, on with its usage and limits, or unknown (a remote deployment whose
    /// monitoring can't be read).
    pub jetstream: JetStreamState,
    /// JetStream's streams with their consumers, as the source last read them (the
    /// embedded broker about every second, a remote deployment every few seconds); shared,
    /// not copied, between the snapshots that carry the same reading.
    pub jetstream_streams: std::sync::Arc<StreamInventory>,
    /// Accounts with their exports and imports, sorted by name (the embedded broker only;
    /// empty for a remote deployment).
    pub accounts: Vec<AccountSummary>,
    /// Leaf-node links: each hub this server joins as a leaf (up or not), then the leaf
    /// nodes connected to it (the embedded broker only; empty for a remote deployment).
    pub leaf_links: Vec<LeafLinkInfo>,
}

/// One account: who is in it, what it shares and what it takes from others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountSummary {
    pub name: String,
    /// The connections in it, by id.
    pub connections: Vec<u64>,
    pub subscriptions: usize,
    /// The system account (`$SYS`).
    pub system: bool,
    pub exports: Vec<ExportSummary>,
    pub imports: Vec<ImportSummary>,
}

/// An export, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// A service (requests in, responses out) or a stream (messages out).
    pub service: bool,
    pub subject: String,
    /// The accounts allowed to import it; empty: public.
    pub accounts: Vec<String>,
    /// `Singleton`, `Stream` or `Chunked` for a service.
    pub response_type: String,
    /// Service latency tracking's results subject, when it is tracked.
    pub latency_subject: Option<String>,
}

/// An import, with the traffic that crossed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    pub service: bool,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The subject in this account.
    pub local_subject: String,
    /// Stream: messages delivered here; service: requests sent to the exporter.
    pub msgs: u64,
    /// Service: responses that came back.
    pub responses: u64,
    pub msgs_per_sec: f64,
}

/// Whether the source runs JetStream, as far as it can tell.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum JetStreamState {
    /// Nothing says (a remote deployment without the system account or a monitoring URL).
    #[default]
    Unknown,
    Off,
    On(JetStreamSummary),
}

impl JetStreamState {
    /// The summary when JetStream is on.
    pub fn summary(&self) -> Option<&JetStreamSummary> {
        match self {
            JetStreamState::On(summary) => Some(summary),
            _ => None,
        }
    }
}

/// JetStream's usage and limits (for a deployment of several servers, summed over those
/// that answered: a replicated stream counts once per replica).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JetStreamSummary {
    /// Where streams are kept (`<store_dir>/jetstream`); empty when unknown or when the
    /// servers differ.
    pub store_dir: String,
    pub domain: Option<String>,
    /// Bytes held by memory streams, and how many they may hold in all (`None`: unknown).
    pub memory_used: u64,
    pub max_memory: Option<u64>,
    /// Bytes held by file streams, and how many they may hold in all (`None`: unknown).
    pub store_used: u64,
    pub max_store: Option<u64>,
    pub streams: u64,
    pub messages: u64,
    /// Bytes of the streams' messages.
    pub bytes: u64,
    /// `$JS.API` requests answered, and how many of them were errors.
    pub api_requests: u64,
    pub api_errors: u64,
}

/// Where the inspector stands, which decides what it can know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Vantage {
    /// Inside the broker: publishers, receivers and "published to nobody" are known.
    #[default]
    Inside,
    /// A client of a remote deployment: it sees the messages its subscriptions receive and
    /// what the monitoring endpoints report, but not who published a message, who received
    /// it, or whether anyone did. Views show those as "unknown", never as 0.
    Outside,
}

impl Vantage {
    /// True when per-message facts (publisher, receivers, no interest) are known.
    pub fn knows_routing(self) -> bool {
        self == Vantage::Inside
    }
}

/// One server of the deployment, as the Servers view lists it. `None` is "unknown".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSummary {
    pub name: String,
    pub id: String,
    pub version: String,
    /// `nats://host:port` clients use, when known.
    pub url: Option<String>,
    pub cluster: Option<String>,
    pub connections: Option<usize>,
    pub subscriptions: Option<u32>,
    pub routes: Option<usize>,
    pub in_msgs_per_sec: Option<f64>,
    pub out_msgs_per_sec: Option<f64>,
    pub uptime: Option<Duration>,
    /// Answered the last poll (or, without a way to poll, is the server we are attached to).
    pub reachable: bool,
    pub last_seen: Option<SystemTime>,
    /// The server the inspector's own connection is attached to.
    pub attached: bool,
}

/// The state of the connection to a remote deployment, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub state: LinkState,
    /// The server's or the client library's words (an auth error, the URL being retried).
    pub detail: String,
    pub since: SystemTime,
    /// Where connections and subscriptions come from ("system account", "monitoring
    /// endpoint http://...", or why they are unknown), with the last poll's error if any.
    pub inventory: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Reconnecting,
    /// The server refused the credentials; retried in the background (the server's text
    /// is in the detail).
    AuthFailed,
    /// Could not connect or lost the connection; retried in the background.
    Disconnected,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Reconnecting => "reconnecting",
            LinkState::AuthFailed => "authentication failed",
            LinkState::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerIdentity {
    pub id: String,
    pub name: String,
    /// Our version, and the nats-server version whose protocol we speak.
    pub version: String,
    pub nats_version: String,
    /// `nats://host:port` clients connect to.
    pub client_url: String,
    /// `http://host:port` of the monitoring endpoints, when enabled.
    pub monitor_url: Option<String>,
    /// `ws://host:port` (or `wss://`) of the WebSocket listener, when it runs.
    pub websocket_url: Option<String>,
    /// Listening beyond loopback with no authentication: anyone on the network can use it.
    pub exposed_without_auth: bool,
}

/// Message totals over a server's (or a connection's) whole life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// Per-second rates over the last tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub in_msgs_per_sec: f64,
    pub in_bytes_per_sec: f64,
    pub out_msgs_per_sec: f64,
    pub out_bytes_per_sec: f64,
}

impl Rates {
    /// The rates between two readings of the same totals taken `elapsed_secs` apart.
    pub fn between(before: &Totals, after: &Totals, elapsed_secs: f64) -> Rates {
        Rates {
            in_msgs_per_sec: per_sec(before.in_msgs, after.in_msgs, elapsed_secs),
            in_bytes_per_sec: per_sec(before.in_bytes, after.in_bytes, elapsed_secs),
            out_msgs_per_sec: per_sec(before.out_msgs, after.out_msgs, elapsed_secs),
            out_bytes_per_sec: per_sec(before.out_bytes, after.out_bytes, elapsed_secs),
        }
    }
}

/// A counter's rate between two readings `elapsed_secs` apart (0 for no time, and for a
/// counter that went back, as after a server restart).
pub fn per_sec(before: u64, after: u64, elapsed_secs: f64) -> f64 {
    if elapsed_secs <= 0.0 {
        return 0.0;
    }
    after.saturating_sub(before) as f64 / elapsed_secs
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    pub cid: u64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub subscriptions: Vec<SubscriptionInfo>,
    pub totals: Totals,
    pub rates: Rates,
    pub pending_bytes: usize,
    pub rtt: Option<Duration>,
    /// How it is connected: `tcp`, `tls`, `ws` or `wss` (nats-server's `/connz` tells a
    /// remote deployment's apart the same way).
    pub transport: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    pub delivered: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClosedConnectionInfo {
    pub cid: u64,
    pub name: String,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub stop: SystemTime,
    /// nats-server's wording, e.g. "Slow Consumer (Pending Bytes)".
    pub reason: String,
    pub totals: Totals,
}

/// One published subject (a leaf of the subject tree).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectStat {
    pub subject: String,
    pub msgs: u64,
    pub bytes: u64,
    pub msgs_per_sec: f64,
    pub bytes_per_sec: f64,
    /// Messages that matched no subscriber at all: "published to nobody".
    pub no_interest_msgs: u64,
    /// Of `msgs`, those that were replies: published to a subject that an earlier message
    /// named as its reply subject (the source's request/reply pairing saw the request). A
    /// subject whose every message was a reply is a reply subject, which the window folds.
    /// Counted only while latency tracking pairs requests with replies.
    pub reply_msgs: u64,
    /// Subscriptions that match this subject now.
    pub subscribers: usize,
    /// Connections that published to it (ids, sorted).
    pub publishers: Vec<u64>,
    /// Connections whose subscriptions match it now (ids, sorted).
    pub receivers: Vec<u64>,
    pub last_published: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroupInfo {
    /// The subscription subject (may hold wildcards).
    pub subject: String,
    pub queue: String,
    pub members: Vec<QueueMember>,
}

impl QueueGroupInfo {
    /// Groups from their members keyed by (subject, queue): sorted by subject and queue,
    /// members by client id, so every source lists them the same way.
    pub fn from_members(
        groups: impl IntoIterator<Item = ((String, String), Vec<QueueMember>)>,
    ) -> Vec<QueueGroupInfo> {
        let mut out: Vec<QueueGroupInfo> = groups
            .into_iter()
            .map(|((subject, queue), mut members)| {
                members.sort_by_key(|m| m.cid);
                QueueGroupInfo {
                    subject,
                    queue,
                    members,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.subject, &a.queue).cmp(&(&b.subject, &b.queue)));
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMember {
    pub cid: u64,
    pub client_name: String,
    pub sid: String,
    pub delivered: u64,
}

/// Request/reply latency for one service: timed by the source itself (the broker from the
/// inside, or a remote observer from the messages it sees), or reported by the servers of a
/// remote deployment in nats-server's service latency events (see [`ReportedLatency`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLatency {
    pub subject: String,
    pub requests: u64,
    pub replies: u64,
    /// Requests whose reply never came within the tracking window.
    pub timeouts: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// 1 in `sample_every` requests is tracked (1 = all).
    pub sample_every: u32,
    /// Every round trip measured since tracking began, in log-scale buckets (cumulative:
    /// an observer diffs two snapshots for the round trips between them). Empty from a
    /// source that measures none.
    pub histogram: LatencyHistogram,
    /// `Some` when the servers measured these: `subject` is then the export's results
    /// subject, the round trips are the events' `total`, and `timeouts` count the 408 and
    /// 504 events.
    pub reported: Option<ReportedLatency>,
}

/// What nats-server's `io.nats.server.metric.v1.service_latency` events on one results
/// subject said (a service export with `latency` configured in a remote deployment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportedLatency {
    /// Events by status, sorted by code: 200 answered, 400 a request without a reply
    /// subject, 408 the requester stopped listening, 503 no responder, 504 no response in
    /// the export's threshold.
    pub statuses: Vec<(u16, u64)>,
    /// The median of the responders' own time (`service`) among the answered ones: the rest
    /// of the total is the network and the servers between requester and responder.
    pub service_p50: Duration,
}

impl ServiceLatency {
    /// The summary of one service's counts and recent round trips (every request tracked).
    pub fn summarize(
        subject: String,
        requests: u64,
        replies: u64,
        timeouts: u64,
        mut recent: Vec<Duration>,
    ) -> Self {
        recent.sort_unstable();
        ServiceLatency {
            subject,
            requests,
            replies,
            timeouts,
            p50: percentile(&recent, 0.50),
            p90: percentile(&recent, 0.90),
            p99: percentile(&recent, 0.99),
            max: recent.last().copied().unwrap_or_default(),
            sample_every: 1,
            histogram: LatencyHistogram::default(),
            reported: None,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// What was dropped between the engine and its observers: never the messages themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    pub samples: u64,
    pub events: u64,
}

/// A copy of one published message, for the live message view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSample {
    /// Increases by one per sample taken (gaps = dropped samples).
    pub seq: u64,
    pub time: SystemTime,
    pub subject: Vec<u8>,
    pub reply: Option<Vec<u8>>,
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub publisher_cid: u64,
    /// Subscriptions that received it (0 = published to nobody).
    pub receivers: u32,
}

/// Something that happened to a connection, for the event feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEvent {
    pub seq: u64,
    pub time: SystemTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Connected {
        cid: u64,
        addr: SocketAddr,
        name: String,
    },
    Disconnected {
        cid: u64,
        name: String,
        reason: String,
    },
    SlowConsumer {
        cid: u64,
        name: String,
    },
    AuthFailure {
        addr: SocketAddr,
        user: String,
    },
    PermissionViolation {
        cid: u64,
        text: String,
    },
    /// The link to a remote deployment changed state.
    Link {
        state: LinkState,
        detail: String,
    },
    /// A server of a remote deployment stopped or started answering.
    Server {
        name: String,
        reachable: bool,
    },
    /// What a server of a remote deployment announced in its system account (seen with
    /// system-account credentials): a client connected or left, or failed to authenticate.
    System {
        kind: SystemEventKind,
        /// The server that published it.
        server: String,
        /// The client, its account and where it came from, in words.
        text: String,
    },
}

/// The system-account events the inspector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEventKind {
    /// `$SYS.ACCOUNT.<account>.CONNECT`
    Connect,
    /// `$SYS.ACCOUNT.<account>.DISCONNECT`
    Disconnect,
    /// `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`
    AuthError,
}

/// The streams of a source with their consumers, bounded: at most [`MAX_STREAMS`] streams
/// and [`MAX_CONSUMERS`] consumers in all; what is left out is counted, never hidden.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamInventory {
    /// Sorted by account, then name.
    pub streams: Vec<StreamSummary>,
    /// Streams there are beyond those listed.
    pub streams_omitted: usize,
    /// Consumers there are beyond those listed (over all streams).
    pub consumers_omitted: usize,
    /// When it was read; `None`: never (JetStream off, or not read yet).
    pub read_at: Option<SystemTime>,
    /// Why the last reading failed or is partial (a remote deployment's API error).
    pub error: Option<String>,
}

/// Streams listed in one [`StreamInventory`].
pub const MAX_STREAMS: usize = 500;
/// Consumers listed in one [`StreamInventory`], over all its streams.
pub const MAX_CONSUMERS: usize = 2000;

impl StreamInventory {
    /// The stream named `name` (of any account).
    pub fn stream(&self, name: &str) -> Option<&StreamSummary> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// One stream: its configuration's essentials and its state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    /// The account it belongs to (empty when the source does not say: a remote client sees
    /// its own account's streams).
    pub account: String,
    pub name: String,
    pub description: String,
    pub subjects: Vec<String>,
    /// `file` or `memory`.
    pub storage: String,
    /// `limits`, `interest` or `workqueue`.
    pub retention: String,
    /// `old` or `new`.
    pub discard: String,
    pub replicas: u32,
    /// Limits; negative or 0 is "unlimited", as in the API.
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: Duration,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    pub max_consumers: i64,
    pub allow_direct: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    /// The stream it mirrors, and those it sources from.
    pub mirror: Option<String>,
    pub sources: Vec<String>,
    pub created: Option<SystemTime>,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_time: Option<SystemTime>,
    pub last_seq: u64,
    pub last_time: Option<SystemTime>,
    pub num_subjects: u64,
    pub num_deleted: u64,
    /// Consumers it has (all of them, listed or not).
    pub consumer_count: usize,
    /// Its consumers, sorted by name (bounded, see [`StreamInventory::consumers_omitted`]).
    pub consumers: Vec<ConsumerSummary>,
}

/// One consumer of a stream: its kind, its configuration's essentials and where it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerSummary {
    pub name: String,
    /// Durable (kept while nobody reads) or ephemeral.
    pub durable: bool,
    /// The push consumer's deliver subject; `None`: a pull consumer.
    pub deliver_subject: Option<String>,
    pub deliver_group: Option<String>,
    pub filter_subjects: Vec<String>,
    /// `none`, `all` or `explicit`.
    pub ack_policy: String,
    /// `all`, `last`, `new`, `by_start_sequence`, ...
    pub deliver_policy: String,
    pub ack_wait: Duration,
    /// 0 or negative: unlimited (as in the API).
    pub max_ack_pending: i64,
    pub max_deliver: i64,
    pub created: Option<SystemTime>,
    /// The last delivery: consumer and stream sequence, when.
    pub delivered_consumer_seq: u64,
    pub delivered_stream_seq: u64,
    pub last_delivered: Option<SystemTime>,
    /// The ack floor: everything up to it is acknowledged.
    pub ack_floor_consumer_seq: u64,
    pub ack_floor_stream_seq: u64,
    pub last_ack: Option<SystemTime>,
    /// Messages of the stream not yet delivered.
    pub num_pending: u64,
    /// Delivered and not yet acknowledged.
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    /// Pull requests waiting for messages.
    pub num_waiting: u64,
    pub paused: bool,
    /// A push consumer with a subscriber on its deliver subject.
    pub push_bound: bool,
}

impl ConsumerSummary {
    pub fn is_push(&self) -> bool {
        self.deliver_subject.is_some()
    }

    /// When it last did something: its last delivery or acknowledgement.
    pub fn last_active(&self) -> Option<SystemTime> {
        self.last_delivered.max(self.last_ack)
    }
}

/// One leaf-node link, as nats-server's `/leafz` shows it (links are not client
/// connections: `/connz` and the connection count leave them out), plus the state of a hub
/// this server joins while its link is down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafLinkInfo {
    /// The link's connection id while it is connected.
    pub cid: Option<u64>,
    /// This server joined the other as its leaf (it solicited the link); false: the other
    /// server is a leaf node of this one.
    pub solicited: bool,
    pub state: LeafLinkState,
    /// The hub's URL without credentials (solicited), or the leaf's address (accepted).
    pub url: String,
    /// Why the last attempt failed or the last link ended (solicited links).
    pub last_error: Option<String>,
    /// The other server's name (its id when it has none).
    pub remote_name: String,
    /// The local account the link is bound to.
    pub account: String,
    /// The other side's account, when it said.
    pub remote_account: String,
    /// Interest the other side announced (the link's subscriptions here).
    pub remote_interest: usize,
    /// Interest this side announced to the other.
    pub local_interest: usize,
    /// Messages and bytes received over the link (in) and sent over it (out).
    pub totals: Totals,
    pub rates: Rates,
    pub rtt: Option<Duration>,
    /// When the link came up.
    pub start: Option<SystemTime>,
}

/// Whether a leaf-node link is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LeafLinkState {
    /// Dialling, handshaking, or waiting to try again.
    #[default]
    Connecting,
    /// Bound to its account, interest flowing.
    Connected,
}

impl LeafLinkState {
    pub fn label(self) -> &'static str {
        match self {
            LeafLinkState::Connecting => "connecting",
            LeafLinkState::Connected => "connected",
        }
    }
}
