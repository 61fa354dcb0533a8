//! `websocket { ... }` (also `ws`), read as nats-server's `parseWebsocket` reads it, and
//! checked as its `validateWebsocketOptions` checks it: a WebSocket port needs a `tls` block
//! unless `no_tls` is set, allowed origins must be `http(s)://host[:port]`, the block's own
//! user or token can't stand beside a users list, a `jwt_cookie` needs operator mode, and
//! `headers` may not set the upgrade's own headers.
//!
//! Keys: `listen`, `port`, `host`/`net`, `advertise`, `no_tls`, `tls`, `same_origin`,
//! `allowed_origins` (and nats-server's aliases), `handshake_timeout` (seconds or a duration
//! string), `compression`/`compress`, `authorization`/`authentication { user password token
//! timeout }`, `no_auth_user`, `jwt_cookie`, `user_cookie`, `pass_cookie`, `token_cookie`,
//! `headers`, `ping_interval` (a duration string, or seconds with a warning).

use std::time::Duration;

use super::apply::{
    check_port, get_bool, get_int, get_map, get_seconds, get_string, host_port, invalid,
    type_error, Applier,
};
use super::value::{Kind, Value};
use super::ConfigError;
use crate::duration::parse_std_duration;
use crate::options::{WebsocketOptions, DEFAULT_HOST};

/// Reads the block into `Options::websocket` (left `None` when the port is 0).
pub(super) fn websocket(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let map = get_map(key, v)?;
    let mut ws = WebsocketOptions::default();
    let mut host = None;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "listen" => {
                let (h, port) = host_port(k, v)?;
                if h.is_some() {
                    host = h;
                }
                ws.port = check_port(k, &v.pos, port)?;
            }
            "port" => ws.port = check_port(k, &v.pos, get_int(k, v)?)?,
            "host" | "net" => host = Some(get_string(k, v)?),
            "advertise" => ws.advertise = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "no_tls" => ws.no_tls = get_bool(k, v)?,
            "tls" => ws.tls = Some(a.parse_tls(k, v)?),
            "same_origin" => ws.same_origin = get_bool(k, v)?,
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => ws.allowed_origins = string_array(k, v)?,
            "handshake_timeout" => ws.handshake_timeout = handshake_timeout(k, v)?,
            "compress" | "compression" => ws.compression = get_bool(k, v)?,
            "authorization" | "authentication" => simple_auth(a, &mut ws, k, v)?,
            "no_auth_user" => ws.no_auth_user = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "jwt_cookie" => ws.jwt_cookie = cookie(k, v)?,
            "user_cookie" => ws.user_cookie = cookie(k, v)?,
            "pass_cookie" => ws.pass_cookie = cookie(k, v)?,
            "token_cookie" => ws.token_cookie = cookie(k, v)?,
            "headers" => ws.headers = headers(k, v)?,
            "ping_interval" => ws.ping_interval = a.duration_or_seconds(k, v)?,
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    if ws.port == 0 {
        a.opts.websocket = None;
        return Ok(());
    }
    ws.host = host
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    validate(a, &ws, key, v)?;
    a.opts.websocket = Some(ws);
    Ok(())
}

/// nats-server's `validateWebsocketOptions`, for a block with a port. The users list is the
/// one read so far: nats-server reads the whole file first, so a file that names its users
/// after the block is checked again by [`validate_after`].
fn validate(a: &Applier, ws: &WebsocketOptions, key: &str, v: &Value) -> Result<(), ConfigError> {
    if ws.tls.is_none() && !ws.no_tls {
        return Err(invalid(key, &v.pos, "websocket requires TLS configuration"));
    }
    for origin in &ws.allowed_origins {
        check_origin(origin).map_err(|m| invalid(key, &v.pos, m))?;
    }
    check_users(a, ws).map_err(|m| invalid(key, &v.pos, m))?;
    for (name, _) in &ws.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
        ) {
            return Err(invalid(
                key,
                &v.pos,
                format!("websocket: invalid header \"{name}\" not allowed"),
            ));
        }
        if lower.starts_with("sec-websocket-") {
            return Err(invalid(
                key,
                &v.pos,
                format!(
                    "websocket: invalid header \"{name}\", \"Sec-WebSocket-\" prefix not allowed"
                ),
            ));
        }
    }
    Ok(())
}

/// The checks that depend on the server's users, run once the whole file is read.
pub(super) fn validate_after(a: &Applier) -> Result<(), String> {
    match &a.opts.websocket {
        Some(ws) => check_users(a, ws).and_then(|()| check_cookie(a, ws)),
        None => Ok(()),
    }
}

/// A `jwt_cookie` needs operator mode; checked once the whole file is read, since
/// `operator` may come after the block.
fn check_cookie(a: &Applier, ws: &WebsocketOptions) -> Result<(), String> {
    match (&ws.jwt_cookie, a.opts.operator.enabled()) {
        (Some(cookie), false) => Err(format!(
            "trusted operators or trusted keys configuration is required for JWT \
             authentication via cookie \"{cookie}\""
        )),
        _ => Ok(()),
    }
}

fn check_users(a: &Applier, ws: &WebsocketOptions) -> Result<(), String> {
    let auth = &a.opts.auth;
    let has_users = !auth.users.is_empty() || auth.accounts.iter().any(|acc| !acc.users.is_empty());
    if has_users {
        if ws.user.is_some() {
            return Err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .to_string(),
            );
        }
        if ws.token.is_some() {
            return Err(
                "websocket authentication token not compatible with presence of users/nkeys"
                    .to_string(),
            );
        }
    }
    if let Some(user) = &ws.no_auth_user {
        let known = auth
            .users
            .iter()
            .chain(auth.accounts.iter().flat_map(|acc| acc.users.iter()))
            .any(|u| u.user.as_deref() == Some(user) || u.nkey.as_deref() == Some(user));
        if !has_users {
            return Err(format!(
                "no_auth_user: \"{user}\" present, but users/nkeys are not defined"
            ));
        }
        if !known {
            return Err(format!(
                "no_auth_user: \"{user}\" not present as user or nkey in authorization block \
                 or account configuration"
            ));
        }
    }
    Ok(())
}

/// An allowed origin must parse as an absolute `http` or `https` URL with a host.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!(
            "unable to parse allowed origin: parse \"{origin}\": invalid URI for request"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin \"{origin}\": allowed origins must be absolute \
             URLs with http or https scheme"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!(
            "unable to parse allowed origin \"{origin}\": host is required"
        ));
    }
    Ok(())
}

/// A string or a list of strings.
fn string_array(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    match &v.kind {
        Kind::String(s) => Ok(vec![s.clone()]),
        Kind::Array(items) => items.iter().map(|i| get_string(key, i)).collect(),
        _ => Err(type_error(key, v, "a string or an array of strings")),
    }
}

/// Whole seconds, or a duration string.
fn handshake_timeout(key: &str, v: &Value) -> Result<Duration, ConfigError> {
    match &v.kind {
        Kind::Integer(n) => u64::try_from(*n)
            .map(Duration::from_secs)
            .map_err(|_| invalid(key, &v.pos, format!("{n} can not be negative"))),
        Kind::String(s) => parse_std_duration(s).map_err(|e| invalid(key, &v.pos, e.to_string())),
        _ => Err(invalid(
            key,
            &v.pos,
            format!(
                "error parsing handshake timeout: unsupported type {}",
                v.kind.type_name()
            ),
        )),
    }
}

fn cookie(key: &str, v: &Value) -> Result<Option<String>, ConfigError> {
    Ok(Some(get_string(key, v)?).filter(|s| !s.is_empty()))
}

/// `headers { name: "value" }`, sorted by name.
fn headers(key: &str, v: &Value) -> Result<Vec<(String, String)>, ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "error parsing headers: unsupported type {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut out = Vec::new();
    for e in map.entries() {
        let value = e.value.as_str().ok_or_else(|| {
            invalid(
                key,
                &e.value.pos,
                format!(
                    "error parsing header key {}: unsupported type {}",
                    e.key,
                    e.value.kind.type_name()
                ),
            )
        })?;
        out.push((e.key.clone(), value.to_string()));
    }
    out.sort();
    Ok(out)
}

/// `authorization { user password token timeout }` (nats-server's `parseSimpleAuth`).
fn simple_auth(
    a: &mut Applier,
    ws: &mut WebsocketOptions,
    key: &str,
    v: &Value,
) -> Result<(), ConfigError> {
    let map = get_map(key, v)?;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "user" | "username" => ws.user = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "pass" | "password" => {
                ws.password = Some(get_string(k, v)?).filter(|s| !s.is_empty());
            }
            "token" => ws.token = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "timeout" => {
                ws.auth_timeout = Some(get_seconds(k, v)?).filter(|d| !d.is_zero());
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    Ok(())
}
