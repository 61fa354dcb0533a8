//! Broker options: every setting the engine honours, with nats-server's names and defaults.
//!
//! Filled from defaults, then the configuration file (`crate::config`), then command-line
//! flags (flags win, as in nats-server).

use std::path::PathBuf;
use std::time::Duration;

mod leafnodes;
mod operator;
pub use leafnodes::*;
pub use operator::*;

/// nats-server's `MAX_PAYLOAD_SIZE`.
pub const DEFAULT_MAX_PAYLOAD: u32 = 1024 * 1024;
/// nats-server's `MAX_CONTROL_LINE_SIZE`.
pub const DEFAULT_MAX_CONTROL_LINE: u32 = 4096;
/// nats-server's `MAX_PENDING_SIZE`.
pub const DEFAULT_MAX_PENDING: u64 = 64 * 1024 * 1024;
/// nats-server's `DEFAULT_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
/// nats-server's `DEFAULT_PING_INTERVAL`.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_PING_MAX_OUT`.
pub const DEFAULT_PING_MAX: u32 = 2;
/// nats-server's `DEFAULT_FLUSH_DEADLINE`.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// nats-server's `AUTH_TIMEOUT`.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's `TLS_TIMEOUT`.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's `DEFAULT_LAME_DUCK_DURATION`.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_LAME_DUCK_GRACE_PERIOD`.
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// switchboard's `max_pending_total`: all connections' buffered outbound bytes together.
/// nats-server bounds each connection only (64 MiB each, so 1,000 stuck consumers could pin
/// 64 GiB); this bounds the sum.
pub const DEFAULT_MAX_PENDING_TOTAL: u64 = 1024 * 1024 * 1024;
/// switchboard's `busy_poll`: how long a worker may keep polling after traffic before it
/// parks (the limit of an adaptive window, see [`super::hot_poll`]). nats-server has no such
/// setting; 100 us covers the gaps of a busy request/reply exchange on loopback.
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(100);
/// The client port nats-server listens on by default.
pub const DEFAULT_PORT: u16 = 4222;
/// A desktop tool must not expose a broker to the network by accident.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// nats-server's `DEFAULT_SYSTEM_ACCOUNT`: the system account created when none is named.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// Everything the broker engine needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `server_name`; defaults to the server id, as nats-server does.
    pub server_name: Option<String>,
    /// `host` / `net` / `listen` host part; `-a/--addr/--net`.
    pub host: String,
    /// `port` / `listen` port part; `-p/--port`. `-1` or `0` picks a free port.
    pub port: i32,
    /// Monitoring host (`http: host:port`, `http_host`); defaults to `host`.
    pub http_host: Option<String>,
    /// Monitoring port (`http_port`, `http`, `-m/--http_port`); `None` = no monitoring.
    pub http_port: Option<i32>,
    pub max_payload: u32,
    pub max_control_line: u32,
    pub max_pending: u64,
    /// `max_pending_total` (switchboard's own): the bound on all connections' buffered
    /// outbound bytes together; see [`super::outbound::OutboundBudget`].
    pub max_pending_total: u64,
    pub max_connections: usize,
    /// 0 means unlimited, as in nats-server.
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    pub auth: AuthOptions,
    pub tls: Option<TlsOptions>,
    pub logging: LogOptions,
    /// `-P/--pid`.
    pub pid_file: Option<PathBuf>,
    /// `lame_duck_duration`: how long lame-duck mode spreads the closing of clients over.
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: how long lame-duck mode waits before closing clients.
    pub lame_duck_grace_period: Duration,
    /// `busy_poll` (switchboard's own): the longest a worker keeps polling after traffic
    /// before it parks; zero turns busy polling off.
    pub busy_poll: Duration,
    /// `-js`, `-sd` and `jetstream { ... }`; `None` when JetStream is off (nats-server's
    /// default, and `serve`'s).
    pub jetstream: Option<JetStreamOptions>,
    /// JetStream settings given while JetStream is off: a top-level `store_dir` or `-sd`
    /// alone, `jetstream { enabled: false, ... }`, `-js=false`. nats-server keeps its store
    /// directory and limits whatever turns JetStream on or off, so a later `-js` (or
    /// `jetstream: enabled`) starts JetStream with them. The engine reads only
    /// [`Options::jetstream`]; see [`Options::jetstream_settings`].
    pub jetstream_disabled: Option<JetStreamOptions>,
    /// `websocket { ... }`; `None` when there is no block or its port is 0 (nats-server
    /// serves WebSocket only on a port of its own).
    pub websocket: Option<WebsocketOptions>,
    /// `system_account` / `system`: the account of the `$SYS` events and requests; `None`
    /// means nats-server's default, an account named [`DEFAULT_SYSTEM_ACCOUNT`] created for
    /// it (unless [`Options::no_system_account`]).
    pub system_account: Option<String>,
    /// `no_system_account` / `no_system` / `no_sys_acc`: no default system account (one
    /// named by `system_account` is still set up, as in nats-server).
    pub no_system_account: bool,
    /// `leafnodes { ... }` and `--leaf`: the leaf-node listener and remotes.
    pub leafnodes: LeafNodeOptions,
    /// `operator`, `resolver`, `resolver_preload`: decentralised (JWT) authentication.
    pub operator: OperatorOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_name: None,
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT as i32,
            http_host: None,
            http_port: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_total: DEFAULT_MAX_PENDING_TOTAL,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            auth: AuthOptions::default(),
            tls: None,
            logging: LogOptions::default(),
            pid_file: None,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            busy_poll: DEFAULT_BUSY_POLL,
            jetstream: None,
            jetstream_disabled: None,
            websocket: None,
            system_account: None,
            no_system_account: false,
            leafnodes: LeafNodeOptions::default(),
            operator: OperatorOptions::default(),
        }
    }
}

impl Options {
    /// The name of the system account, as nats-server chooses it: the one named, else
    /// [`DEFAULT_SYSTEM_ACCOUNT`] unless `no_system_account`; a configured account named
    /// `$SYS` is the system account even then (nats-server adopts an account of that name).
    pub fn system_account_name(&self) -> Option<&str> {
        if let Some(name) = self.system_account.as_deref().filter(|n| !n.is_empty()) {
            return Some(name);
        }
        if let Some(name) = self.operator.system_account.as_deref() {
            return Some(name);
        }
        let declared = self
            .auth
            .accounts
            .iter()
            .any(|a| a.name == DEFAULT_SYSTEM_ACCOUNT);
        (declared || !self.no_system_account).then_some(DEFAULT_SYSTEM_ACCOUNT)
    }

    /// The JetStream settings to change: those in force, or those kept while JetStream is
    /// off (created with the defaults when there are none), as nats-server sets `StoreDir`
    /// and the limits whether or not JetStream is on.
    pub fn jetstream_settings(&mut self) -> &mut JetStreamOptions {
        match &mut self.jetstream {
            Some(js) => js,
            None => self.jetstream_disabled.get_or_insert_with(Default::default),
        }
    }

    /// Turns JetStream on (with the settings kept while it was off) or off (keeping them).
    pub fn set_jetstream_enabled(&mut self, on: bool) {
        if on {
            if self.jetstream.is_none() {
                self.jetstream = Some(self.jetstream_disabled.take().unwrap_or_default());
            }
        } else if let Some(js) = self.jetstream.take() {
            self.jetstream_disabled = Some(js);
        }
    }
}

/// nats-server's default `sync_interval`: how often file stores fsync.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(120);

/// When the file store calls fsync (`jetstream.sync_interval`): on a timer, or before every
/// acknowledgement (`always`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    Interval(Duration),
    Always,
}

/// `jetstream { store_dir, max_memory_store, max_file_store, domain, sync_interval }` and the
/// `-js` / `-sd` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamOptions {
    /// `store_dir` / `-sd` as given (nats-server's `StoreDir`); `None` when none was given.
    /// Streams live in [`JetStreamOptions::dir`]`/<account>/streams/<name>`.
    pub store_dir: Option<PathBuf>,
    /// Bytes all memory streams may hold (`max_memory_store`); `None` = 75% of the machine's
    /// memory, as for a negative value in nats-server. `Some(0)` allows no memory streams.
    pub max_memory: Option<i64>,
    /// Bytes all file streams may hold (`max_file_store`); `None` = the store disk's free
    /// space, as for a negative value in nats-server. `Some(0)` allows no file streams.
    pub max_store: Option<i64>,
    /// `domain`, checked as nats-server checks it (no `.`, `*`, `>` or white space).
    pub domain: Option<String>,
    /// `sync_interval`; `0` in the file means the default, 2 minutes.
    pub sync: SyncPolicy,
}

impl JetStreamOptions {
    /// The directory JetStream keeps its data in, as nats-server 2.15 chooses it:
    /// `<store_dir>/jetstream`; without a `store_dir`, `<temp dir>/nats/jetstream`, or
    /// `<temp dir>/jetstream` when both `max_memory` and `max_store` are set above zero
    /// (nats-server's two start paths differ there). The temporary directory is `$TMPDIR`,
    /// or `/tmp`, as Go's `os.TempDir` gives it; nats-server then warns "Temporary storage
    /// directory used, data could be lost on system reboot".
    pub fn dir(&self) -> PathBuf {
        if let Some(dir) = &self.store_dir {
            return dir.join("jetstream");
        }
        let limits_given =
            self.max_memory.is_some_and(|n| n > 0) && self.max_store.is_some_and(|n| n > 0);
        let tmp = std::env::temp_dir();
        if limits_given {
            tmp.join("jetstream")
        } else {
            tmp.join("nats").join("jetstream")
        }
    }
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            store_dir: None,
            max_memory: None,
            max_store: None,
            domain: None,
            sync: SyncPolicy::Interval(DEFAULT_SYNC_INTERVAL),
        }
    }
}

/// An account's `jetstream` limits (`accounts { A { jetstream { max_mem ... } } }` or
/// `jetstream: enabled`, which is all -1); -1 means unlimited, as nats-server reports it.
/// A limit the block leaves out is -1 too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountJetStreamLimits {
    /// `max_memory` / `max_mem` / `mem` / `memory`.
    pub max_memory: i64,
    /// `max_store` / `max_file` / `max_disk` / `store` / `disk`.
    pub max_store: i64,
    /// `max_streams` / `streams`.
    pub max_streams: i64,
    /// `max_consumers` / `consumers`.
    pub max_consumers: i64,
    /// `max_ack_pending`.
    pub max_ack_pending: i64,
    /// `memory_max_stream_bytes` / `mem_max_stream_bytes`.
    pub memory_max_stream_bytes: i64,
    /// `store_max_stream_bytes` / `disk_max_stream_bytes`.
    pub storage_max_stream_bytes: i64,
    /// `max_bytes_required` / `max_stream_bytes` / `max_bytes`: streams must set `max_bytes`.
    pub max_bytes_required: bool,
}

impl Default for AccountJetStreamLimits {
    fn default() -> Self {
        AccountJetStreamLimits {
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// `authorization { ... }`, `accounts { ... }`, `no_auth_user` and the auth flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthOptions {
    /// `authorization.user` / `--user`.
    pub user: Option<String>,
    /// `authorization.password` / `--pass`.
    pub password: Option<String>,
    /// `authorization.token` / `--auth`.
    pub token: Option<String>,
    /// `authorization.timeout`; `None` = nats-server's default (2 s, or tls timeout + 1 s).
    pub timeout: Option<Duration>,
    /// `authorization.users [...]` (global account).
    pub users: Vec<User>,
    /// `accounts { NAME { users [...] } }`.
    pub accounts: Vec<AccountConfig>,
    /// `no_auth_user`.
    pub no_auth_user: Option<String>,
}

impl AuthOptions {
    /// True when any form of authentication is configured.
    pub fn is_required(&self) -> bool {
        self.user.is_some()
            || self.token.is_some()
            || !self.users.is_empty()
            || self.accounts.iter().any(|a| !a.users.is_empty())
    }
}

/// One entry of a `users` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    pub user: Option<String>,
    /// Plain text or bcrypt (`$2a$`/`$2b$`).
    pub password: Option<String>,
    /// An nkey public key (`U...`).
    pub nkey: Option<String>,
    pub permissions: Option<Permissions>,
}

/// `permissions { publish {...} subscribe {...} allow_responses }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub allow_responses: Option<ResponsePermission>,
}

/// An allow and a deny list. A bare list or string in the file means `allow`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectPermission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `allow_responses: true` or `{ max: N, expires: "1m" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    pub max_msgs: usize,
    pub expires: Duration,
}

/// `accounts { NAME { users [...] } }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub users: Vec<User>,
    /// The account's `jetstream` setting; `None` when it has none or `jetstream: disabled`.
    /// As in nats-server, JetStream is then off for this account even when the server runs
    /// it: once `accounts` names any account, only accounts with a `jetstream` setting have
    /// JetStream, the global account included (it has it only when no account is
    /// configured). An account's setting does not turn the server's JetStream on.
    pub jetstream: Option<AccountJetStreamLimits>,
    /// `exports [ {stream: ...} | {service: ...} ]`: what other accounts may import.
    pub exports: Vec<Export>,
    /// `imports [ {stream: {account, subject}} | {service: {account, subject}} ]`.
    pub imports: Vec<Import>,
}

impl AccountConfig {
    /// The export of this account that allows `importer` to import `subject` of `kind`,
    /// as nats-server looks for it: the export of exactly that subject first, else one
    /// that covers it.
    pub fn export_approving(
        &self,
        kind: ImportKind,
        subject: &str,
        importer: &str,
    ) -> Option<&Export> {
        let of_kind = || self.exports.iter().filter(move |e| e.kind == kind);
        let (export, exact) = match of_kind().find(|e| e.subject == subject) {
            Some(e) => (e, true),
            None => (
                of_kind().find(|e| crate::proto::subject::is_subset(subject, &e.subject))?,
                false,
            ),
        };
        export.approves(importer, subject, exact).then_some(export)
    }
}

impl Export {
    /// nats-server's `checkAuth`: public, or the importer listed, or its name at the
    /// account token position of the subject (not on an exact match, where nats-server has
    /// no tokens to look at).
    fn approves(&self, importer: &str, subject: &str, exact: bool) -> bool {
        if self.account_token_position > 0 {
            return !exact
                && subject.split('.').nth(self.account_token_position - 1) == Some(importer);
        }
        match &self.accounts {
            None => true,
            Some(list) => list.iter().any(|a| a == importer),
        }
    }
}

/// Whether an export or import is a stream (messages flow to the importer) or a service
/// (the importer's requests flow to the exporter, the responses back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Stream,
    Service,
}

/// How many responses a service export sends per request (nats-server's `response_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseType {
    #[default]
    Singleton,
    Streamed,
    Chunked,
}

impl ResponseType {
    /// nats-server's names, as `/accountz` shows them.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Streamed => "Stream",
            ResponseType::Chunked => "Chunked",
        }
    }
}

/// nats-server's `DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD`: how long a response mapping
/// waits for the exporter's responses.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// One entry of an account's `exports`.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub kind: ImportKind,
    pub subject: String,
    /// `accounts: [...]`: only these may import; `None` means public.
    pub accounts: Option<Vec<String>>,
    /// `account_token_position`: the importer's name must be this token (1-based) of the
    /// imported subject; 0 when not set.
    pub account_token_position: usize,
    pub response_type: ResponseType,
    /// `response_threshold`: how long responses may come ([`DEFAULT_RESPONSE_THRESHOLD`]).
    pub response_threshold: Option<Duration>,
    /// `latency { sampling, subject }`: service latency tracking.
    pub latency: Option<ServiceLatencyConfig>,
}

/// `latency: "subject"` or `latency { sampling: 50 | "50%" | "headers", subject }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLatencyConfig {
    /// 1 to 100 percent; 0 means sampling by the request's tracing headers.
    pub sampling_percent: u8,
    pub subject: String,
}

/// One entry of an account's `imports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// A stream import's `prefix` (a literal put in front of the subject).
    pub prefix: Option<String>,
    /// `to`: the subject in the importing account (a stream's mapping, a service's local
    /// subject); `None` means the exporter's subject.
    pub to: Option<String>,
    /// `share`: the exporter sees the requester's details in `Nats-Request-Info`.
    pub share: bool,
}

impl Import {
    /// The subject in the importing account: `to`, `prefix.subject`, or the subject.
    pub fn local_subject(&self) -> String {
        match (&self.to, &self.prefix) {
            (Some(to), _) => to.clone(),
            (None, Some(prefix)) if prefix.ends_with('.') => format!("{prefix}{}", self.subject),
            (None, Some(prefix)) => format!("{prefix}.{}", self.subject),
            (None, None) => self.subject.clone(),
        }
    }
}

/// `tls { ... }` and the `--tls*` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Require and verify client certificates (mutual TLS).
    pub verify: bool,
    /// `verify_and_map`: also take the user from the client certificate (see
    /// `broker::tls_map`).
    pub verify_and_map: bool,
    pub timeout: Duration,
    pub handshake_first: HandshakeFirst,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            verify_and_map: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            handshake_first: HandshakeFirst::Off,
        }
    }
}

/// `tls.handshake_first`: off, on, or on with a fallback to plain INFO after a delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFirst {
    Off,
    On,
    /// Wait this long for a ClientHello, then send INFO in plain text.
    Fallback(Duration),
}

/// Logging: `-D`, `-V`, `-DV`, `-l/--log`, `debug`, `trace`, `logfile`, `logtime`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogOptions {
    pub debug: bool,
    pub trace: bool,
    pub file: Option<PathBuf>,
    /// `logtime` / `-T`: print timestamps (on by default).
    pub time: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            debug: false,
            trace: false,
            file: None,
            time: true,
        }
    }
}

/// `websocket { ... }`: nats-server's WebSocket listener for browser and edge clients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebsocketOptions {
    /// `host` / `net` / `listen`'s host; [`DEFAULT_HOST`] when not given (nats-server's
    /// default is `0.0.0.0`; switchboard stays on loopback unless told otherwise).
    pub host: String,
    /// `port` / `listen`'s port; `-1` picks a free port.
    pub port: i32,
    /// `advertise`: the `host:port` given to clients instead of the listener's.
    pub advertise: Option<String>,
    /// `no_tls`: serve `ws://` without TLS (nats-server insists on TLS otherwise).
    pub no_tls: bool,
    /// `tls { ... }`: serve `wss://`.
    pub tls: Option<TlsOptions>,
    /// `same_origin`: the `Origin` header must match the request's host.
    pub same_origin: bool,
    /// `allowed_origins`: origins (`scheme://host[:port]`) allowed to connect.
    pub allowed_origins: Vec<String>,
    /// `compression`: offer permessage-deflate to clients that ask for it.
    pub compression: bool,
    /// `handshake_timeout`: how long the HTTP upgrade may take; zero means no limit.
    pub handshake_timeout: Duration,
    /// `authorization { user password token timeout }`: overrides the server's for
    /// WebSocket clients.
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// `authorization.timeout`: seconds, overriding the server's auth timeout.
    pub auth_timeout: Option<Duration>,
    /// `no_auth_user`: the user WebSocket clients without credentials are.
    pub no_auth_user: Option<String>,
    /// `jwt_cookie`, `user_cookie`, `pass_cookie`, `token_cookie`: cookies of the upgrade
    /// request that stand in for the CONNECT's credentials.
    pub jwt_cookie: Option<String>,
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// `headers { name: value }`: extra headers of the upgrade response, sorted by name.
    pub headers: Vec<(String, String)>,
    /// `ping_interval`: how often WebSocket clients are pinged; zero means the server's.
    pub ping_interval: Duration,
}

impl WebsocketOptions {
    /// Whether the block overrides the server's authentication (nats-server's
    /// `authOverride`): a user, a token or a `no_auth_user` of its own.
    pub fn auth_override(&self) -> bool {
        self.user.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}
