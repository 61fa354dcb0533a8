//! [`Map`] -> [`Options`]: the keys of nats-server's configuration file that switchboard serves.
//!
//! Supported top-level keys: `listen`, `host`/`net`, `port`, `server_name`, `http`,
//! `http_port`/`monitor_port`, `http_host`, `max_payload`, `max_control_line`, `max_pending`,
//! `max_pending_total` and `busy_poll` (switchboard's own), `max_connections`/`max_conn`,
//! `max_subscriptions`/`max_subs`, `ping_interval`, `ping_max`, `write_deadline`,
//! `lame_duck_duration`, `lame_duck_grace_period`, `authorization`, `websocket` (see
//! `websocket.rs`), `accounts` (with each
//! account's `jetstream`), `no_auth_user`, `system_account`/`system`,
//! `no_system_account`/`no_system`/`no_sys_acc`, `tls`, `jetstream { store_dir max_memory_store
//! max_file_store domain sync_interval enabled }` (or `jetstream: enabled|disabled|true|false`),
//! `store_dir`/`storedir`, `debug`, `trace` (`trace_verbose`, `trace_headers` also turn tracing
//! on), `logtime`, `logfile`/`log_file`, `pidfile`/`pid_file`. JetStream's value rules are in
//! `jetstream.rs`.
//!
//! Value rules follow nats-server: ports are integers (`0` means the default port for clients
//! and "off" for monitoring, `-1` a random port); `ping_interval` and `write_deadline` are
//! duration strings, or integers read as seconds with a warning; timeouts (`authorization` and
//! `tls`) are seconds as integer or float, or duration strings.

use std::path::PathBuf;
use std::time::Duration;

use super::auth;
use super::jetstream;
use super::leafnodes;
use super::operator;
use super::value::{Kind, Map, Pos, Value};
use super::websocket;
use super::ConfigError;
use crate::duration::parse_std_duration;
use crate::options::{
    HandshakeFirst, Options, TlsOptions, DEFAULT_PING_INTERVAL, DEFAULT_PORT, DEFAULT_TLS_TIMEOUT,
    DEFAULT_WRITE_DEADLINE,
};

/// nats-server's `DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY` (`handshake_first: auto`).
pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

/// Top-level keys nats-server accepts that switchboard does not serve yet.
const UNSUPPORTED_TOP: &[&str] = &[
    "client_advertise",
    "logtime_utc",
    "mappings",
    "maps",
    "disable_sublist_cache",
    "no_sublist_cache",
    "default_sentinel",
    "https",
    "https_port",
    "http_base_path",
    "cluster",
    "gateway",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "syslog",
    "remote_syslog",
    "ports_file_dir",
    "prof_port",
    "prof_block_rate",
    "proxy_protocol",
    "max_traced_msg_len",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ocsp",
    "allow_non_tls",
    "write_timeout",
    "resolver_tls",
    "resolver_pinned_accounts",
    "no_header_support",
    "trusted",
    "trusted_keys",
    "connect_error_reports",
    "reconnect_error_reports",
    "mqtt",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "ocsp_cache",
    "no_fast_producer_stall",
    "max_closed_clients",
    "proxies",
];

/// `tls {}` fields nats-server accepts that switchboard does not serve yet.
const UNSUPPORTED_TLS: &[&str] = &[
    "insecure",
    "allow_insecure_cipher_suites",
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "pinned_certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "ocsp_peer",
    "certs",
    "certificates",
    "min_version",
];

/// Applies a parsed configuration to `opts`, returning warnings.
pub fn apply_map(map: &Map, opts: &mut Options) -> Result<Vec<String>, ConfigError> {
    let mut a = Applier {
        opts,
        warnings: Vec::new(),
    };
    a.top(map)?;
    if let Err(message) = websocket::validate_after(&a) {
        // The users the block was checked against are known only now (nats-server validates
        // the whole file at once).
        if let Some(e) = map
            .entries()
            .iter()
            .rfind(|e| matches!(e.key.to_ascii_lowercase().as_str(), "websocket" | "ws"))
        {
            return Err(invalid(&e.key, &e.value.pos, message));
        }
    }
    if let Err(message) = leafnodes::validate_after(&a) {
        if let Some(e) = map
            .entries()
            .iter()
            .rfind(|e| matches!(e.key.to_ascii_lowercase().as_str(), "leafnodes" | "leaf"))
        {
            return Err(invalid(&e.key, &e.value.pos, message));
        }
    }
    Ok(a.warnings)
}

/// The options being filled and the warnings so far.
pub(super) struct Applier<'o> {
    pub(super) opts: &'o mut Options,
    pub(super) warnings: Vec<String>,
}

/// A `ConfigError::Invalid` for `key` at `pos`.
pub(super) fn invalid(key: &str, pos: &Pos, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        pos: pos.clone(),
        key: key.to_string(),
        message: message.into(),
    }
}

pub(super) fn type_error(key: &str, v: &Value, expected: &str) -> ConfigError {
    invalid(
        key,
        &v.pos,
        format!("expected {expected}, got {}", v.kind.type_name()),
    )
}

pub(super) fn get_string(key: &str, v: &Value) -> Result<String, ConfigError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| type_error(key, v, "a string"))
}

pub(super) fn get_bool(key: &str, v: &Value) -> Result<bool, ConfigError> {
    v.as_bool().ok_or_else(|| type_error(key, v, "a boolean"))
}

pub(super) fn get_int(key: &str, v: &Value) -> Result<i64, ConfigError> {
    v.as_i64().ok_or_else(|| type_error(key, v, "an integer"))
}

pub(super) fn get_map<'v>(key: &str, v: &'v Value) -> Result<&'v Map, ConfigError> {
    v.as_map().ok_or_else(|| type_error(key, v, "a map"))
}

/// A non-negative integer that fits `T`.
fn get_unsigned<T: TryFrom<i64>>(key: &str, v: &Value) -> Result<T, ConfigError> {
    let n = get_int(key, v)?;
    if n < 0 {
        return Err(invalid(key, &v.pos, format!("{n} can not be negative")));
    }
    T::try_from(n).map_err(|_| invalid(key, &v.pos, format!("{n} is too big")))
}

/// A port number: -1 (random) to 65535.
pub(super) fn check_port(key: &str, pos: &Pos, n: i64) -> Result<i32, ConfigError> {
    if !(-1..=65535).contains(&n) {
        return Err(invalid(key, pos, format!("port {n} is out of range")));
    }
    i32::try_from(n).map_err(|_| invalid(key, pos, format!("port {n} is out of range")))
}

/// Splits `host:port` the way Go's `net.SplitHostPort` does (`[::1]:4222` for IPv6).
pub fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(':') || host.contains('[') {
            return None;
        }
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

/// `listen`/`http` values: a port, or `host:port`. Returns the host (if given) and the port.
pub(super) fn host_port(key: &str, v: &Value) -> Result<(Option<String>, i64), ConfigError> {
    match &v.kind {
        Kind::Integer(n) => Ok((None, *n)),
        Kind::String(s) => {
            let (host, port) = split_host_port(s).ok_or_else(|| {
                invalid(
                    key,
                    &v.pos,
                    format!("could not parse address string \"{s}\""),
                )
            })?;
            let port: i64 = port
                .parse()
                .map_err(|_| invalid(key, &v.pos, format!("could not parse port \"{port}\"")))?;
            Ok(((!host.is_empty()).then_some(host), port))
        }
        _ => Err(type_error(key, v, "a port or host:port")),
    }
}

/// A client port from the file: 0 means the default port, as in nats-server.
fn client_port(key: &str, pos: &Pos, n: i64) -> Result<i32, ConfigError> {
    let p = check_port(key, pos, n)?;
    Ok(if p == 0 { i32::from(DEFAULT_PORT) } else { p })
}

/// A monitoring port: 0 turns monitoring off.
fn monitor_port(key: &str, pos: &Pos, n: i64) -> Result<Option<i32>, ConfigError> {
    let p = check_port(key, pos, n)?;
    Ok((p != 0).then_some(p))
}

/// Seconds (integer or float) or a duration string, for timeouts.
pub(super) fn get_seconds(key: &str, v: &Value) -> Result<Duration, ConfigError> {
    let secs = match &v.kind {
        Kind::Integer(n) => *n as f64,
        Kind::Float(f) => *f,
        Kind::String(s) => {
            return parse_std_duration(s).map_err(|e| invalid(key, &v.pos, e.to_string()));
        }
        _ => return Err(type_error(key, v, "seconds or a duration")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| {
        invalid(
            key,
            &v.pos,
            format!("{secs} is not a valid number of seconds"),
        )
    })
}

/// A duration string such as `"2m"`, not negative.
pub(super) fn get_duration_string(key: &str, v: &Value) -> Result<Duration, ConfigError> {
    let s = v
        .as_str()
        .ok_or_else(|| type_error(key, v, "a duration string such as \"2m\""))?;
    parse_std_duration(s).map_err(|e| invalid(key, &v.pos, e.to_string()))
}

/// `busy_poll` (switchboard's own): a duration string, or 0 for off.
fn busy_poll(key: &str, v: &Value) -> Result<Duration, ConfigError> {
    match &v.kind {
        Kind::Integer(0) => Ok(Duration::ZERO),
        Kind::String(_) => get_duration_string(key, v),
        _ => Err(type_error(
            key,
            v,
            "a duration string such as \"100us\", or 0 for off",
        )),
    }
}

impl Applier<'_> {
    pub(super) fn warn(&mut self, pos: &Pos, message: impl AsRef<str>) {
        self.warnings.push(format!("{pos}: {}", message.as_ref()));
    }

    pub(super) fn unsupported(&mut self, pos: &Pos, key: &str) {
        self.warn(
            pos,
            format!("config key \"{key}\" is not supported yet and is ignored"),
        );
    }

    pub(super) fn unknown(&mut self, pos: &Pos, key: &str) {
        self.warn(
            pos,
            format!("config key \"{key}\" is unknown and is ignored"),
        );
    }

    /// `ping_interval` / `write_deadline`: a duration string, or seconds with a warning.
    pub(super) fn duration_or_seconds(
        &mut self,
        key: &str,
        v: &Value,
    ) -> Result<Duration, ConfigError> {
        match &v.kind {
            Kind::String(_) => get_duration_string(key, v),
            Kind::Integer(n) => {
                let secs = u64::try_from(*n)
                    .map_err(|_| invalid(key, &v.pos, format!("{n} can not be negative")))?;
                self.warn(&v.pos, format!("{key} should be converted to a duration"));
                Ok(Duration::from_secs(secs))
            }
            _ => Err(type_error(key, v, "a duration string such as \"2m\"")),
        }
    }

    fn top(&mut self, map: &Map) -> Result<(), ConfigError> {
        for e in map.entries() {
            let (k, v) = (e.key.as_str(), &e.value);
            match k.to_ascii_lowercase().as_str() {
                "listen" => {
                    let (host, port) = host_port(k, v)?;
                    if let Some(h) = host {
                        self.opts.host = h;
                    }
                    self.opts.port = client_port(k, &v.pos, port)?;
                }
                "port" => self.opts.port = client_port(k, &v.pos, get_int(k, v)?)?,
                "host" | "net" => self.opts.host = get_string(k, v)?,
                "server_name" => {
                    let name = get_string(k, v)?;
                    if name.contains(' ') {
                        return Err(invalid(k, &v.pos, "server name can not contain spaces"));
                    }
                    self.opts.server_name = Some(name);
                }
                "http" => {
                    let (host, port) = host_port(k, v)?;
                    self.opts.http_host = host;
                    self.opts.http_port = monitor_port(k, &v.pos, port)?;
                }
                "http_port" | "monitor_port" => {
                    self.opts.http_port = monitor_port(k, &v.pos, get_int(k, v)?)?;
                }
                "http_host" => self.opts.http_host = Some(get_string(k, v)?),
                "max_payload" => {
                    let n: u32 = get_unsigned(k, v)?;
                    if n > i32::MAX as u32 {
                        return Err(invalid(k, &v.pos, "max_payload value is too big"));
                    }
                    self.opts.max_payload = n;
                }
                "max_control_line" => {
                    let n: u32 = get_unsigned(k, v)?;
                    if n > i32::MAX as u32 {
                        return Err(invalid(k, &v.pos, "max_control_line value is too big"));
                    }
                    self.opts.max_control_line = n;
                }
                "max_pending" => self.opts.max_pending = get_unsigned(k, v)?,
                "max_pending_total" => self.opts.max_pending_total = get_unsigned(k, v)?,
                "busy_poll" => self.opts.busy_poll = busy_poll(k, v)?,
                "max_connections" | "max_conn" => self.opts.max_connections = get_unsigned(k, v)?,
                "max_subscriptions" | "max_subs" => {
                    self.opts.max_subscriptions = get_unsigned(k, v)?;
                }
                "ping_interval" => {
                    let d = self.duration_or_seconds(k, v)?;
                    self.opts.ping_interval = if d.is_zero() {
                        DEFAULT_PING_INTERVAL
                    } else {
                        d
                    };
                }
                "ping_max" => self.opts.ping_max = get_unsigned(k, v)?,
                "write_deadline" => {
                    let d = self.duration_or_seconds(k, v)?;
                    self.opts.write_deadline = if d.is_zero() {
                        DEFAULT_WRITE_DEADLINE
                    } else {
                        d
                    };
                }
                "lame_duck_duration" => {
                    let d = self.duration_or_seconds(k, v)?;
                    // nats-server's floor, so closing clients is spread out for real.
                    if d < std::time::Duration::from_secs(30) {
                        return Err(invalid(
                            k,
                            &v.pos,
                            format!("invalid lame_duck_duration of {d:?}, minimum is 30 seconds"),
                        ));
                    }
                    self.opts.lame_duck_duration = d;
                }
                "lame_duck_grace_period" => {
                    self.opts.lame_duck_grace_period = self.duration_or_seconds(k, v)?;
                }
                "jetstream" => jetstream::server(self, k, v)?,
                "store_dir" | "storedir" => jetstream::top_store_dir(self, k, v)?,
                "authorization" => auth::authorization(self, k, v)?,
                "accounts" => auth::accounts(self, k, v)?,
                "no_auth_user" => self.opts.auth.no_auth_user = Some(get_string(k, v)?),
                "system_account" | "system" => {
                    let name = v.as_str().ok_or_else(|| {
                        invalid(k, &v.pos, "system account name must be a string")
                    })?;
                    self.opts.system_account = Some(name.to_string());
                }
                "no_system_account" | "no_system" | "no_sys_acc" => {
                    self.opts.no_system_account = get_bool(k, v)?;
                }
                "operator" | "operators" | "roots" | "root" | "root_operators"
                | "root_operator" => operator::operators(self, k, v)?,
                "resolver" | "account_resolver" | "accounts_resolver" => {
                    operator::resolver(self, k, v)?
                }
                "resolver_preload" => operator::preload(self, k, v)?,
                "tls" => self.tls(k, v)?,
                "websocket" | "ws" => websocket::websocket(self, k, v)?,
                "leafnodes" | "leaf" => leafnodes::leafnodes(self, k, v)?,
                "debug" => self.opts.logging.debug = get_bool(k, v)?,
                "trace" | "trace_verbose" | "trace_headers" => {
                    self.opts.logging.trace = get_bool(k, v)?;
                }
                "logtime" => self.opts.logging.time = get_bool(k, v)?,
                "logfile" | "log_file" => {
                    self.opts.logging.file = Some(PathBuf::from(get_string(k, v)?));
                }
                "pidfile" | "pid_file" => {
                    self.opts.pid_file = Some(PathBuf::from(get_string(k, v)?))
                }
                lower if UNSUPPORTED_TOP.contains(&lower) => self.unsupported(&e.key_pos, k),
                _ if e.used_as_variable => {}
                _ => self.unknown(&e.key_pos, k),
            }
        }
        Ok(())
    }

    fn tls(&mut self, key: &str, v: &Value) -> Result<(), ConfigError> {
        self.opts.tls = Some(self.parse_tls(key, v)?);
        Ok(())
    }

    /// A `tls { ... }` block (the server's, or a listener's such as `websocket.tls`).
    pub(super) fn parse_tls(&mut self, key: &str, v: &Value) -> Result<TlsOptions, ConfigError> {
        let map = get_map(key, v)?;
        let mut tls = TlsOptions::default();
        for e in map.entries() {
            let path = format!("{key}.{}", e.key);
            let (k, v) = (path.as_str(), &e.value);
            let file = |v: &Value| -> Result<PathBuf, ConfigError> {
                v.as_str()
                    .map(PathBuf::from)
                    .ok_or_else(|| type_error(k, v, "a file name"))
            };
            match e.key.to_ascii_lowercase().as_str() {
                "cert_file" => tls.cert_file = Some(file(v)?),
                "key_file" => tls.key_file = Some(file(v)?),
                "ca_file" => tls.ca_file = Some(file(v)?),
                "verify" => tls.verify = get_bool(k, v)?,
                "verify_and_map" => {
                    tls.verify_and_map = get_bool(k, v)?;
                    tls.verify |= tls.verify_and_map;
                }
                "verify_cert_and_check_known_urls" => {
                    if get_bool(k, v)? {
                        return Err(invalid(k, &v.pos, "not supported in this context"));
                    }
                }
                "timeout" => {
                    let d = get_seconds(k, v)?;
                    tls.timeout = if d.is_zero() { DEFAULT_TLS_TIMEOUT } else { d };
                }
                "handshake_first" | "first" | "immediate" => {
                    tls.handshake_first = handshake_first(k, v)?;
                }
                lower if UNSUPPORTED_TLS.contains(&lower) => self.unsupported(&e.key_pos, k),
                _ if e.used_as_variable => {}
                _ => self.unknown(&e.key_pos, k),
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => {
                return Err(invalid(
                    key,
                    &v.pos,
                    "missing 'key_file' in TLS configuration",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    key,
                    &v.pos,
                    "missing 'cert_file' in TLS configuration",
                ))
            }
            _ => {}
        }
        Ok(tls)
    }
}

/// `handshake_first`: a boolean, `"true"/"on"/"false"/"off"`, `"auto"` (fallback after 50 ms)
/// or a duration string (fallback after that long).
fn handshake_first(key: &str, v: &Value) -> Result<HandshakeFirst, ConfigError> {
    let on = |b| {
        if b {
            HandshakeFirst::On
        } else {
            HandshakeFirst::Off
        }
    };
    match &v.kind {
        Kind::Bool(b) => Ok(on(*b)),
        Kind::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok(HandshakeFirst::On),
            "false" | "off" => Ok(HandshakeFirst::Off),
            "auto" | "auto_fallback" => {
                Ok(HandshakeFirst::Fallback(DEFAULT_HANDSHAKE_FIRST_FALLBACK))
            }
            _ => match crate::duration::parse_go_duration(s) {
                Ok(n) if n > 0 => Ok(HandshakeFirst::Fallback(Duration::from_nanos(
                    u64::try_from(n).unwrap_or(u64::MAX),
                ))),
                Ok(_) => Ok(HandshakeFirst::On),
                Err(_) => Err(invalid(key, &v.pos, format!("value \"{s}\" is invalid"))),
            },
        },
        _ => Err(type_error(key, v, "a boolean or a string")),
    }
}
