//! Broker options: every setting the engine honours, with nats-server's names and defaults.
//!
//! Filled from defaults, then the configuration file (`crate::config`), then command-line
//! flags (flags win, as in nats-server).

use std::path::PathBuf;
use std::time::Duration;

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
}

/// `tls { ... }` and the `--tls*` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Require and verify client certificates (mutual TLS).
    pub verify: bool,
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
