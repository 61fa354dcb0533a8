//! `operator`, `resolver` and `resolver_preload`: decentralised (JWT) authentication, read
//! as nats-server's `processConfigFileLine` reads them.

use std::path::PathBuf;

use super::apply::{get_bool, get_duration_string, get_int, get_map, get_string, invalid, Applier};
use super::value::{Kind, Value};
use super::ConfigError;
use crate::options::{DirResolverOptions, ResolverOptions, DEFAULT_RESOLVER_INTERVAL};

/// How an inline JWT starts (the base64 of `{"`), nats-server's `jwtPrefix`.
const JWT_PREFIX: &str = "eyJ";

/// `operator` (also `operators`, `root`, `roots`, `root_operator(s)`): JWT files or JWTs.
pub(super) fn operators(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let items: Vec<&Value> = match &v.kind {
        Kind::String(_) => vec![v],
        Kind::Array(list) => list.iter().collect(),
        other => {
            return Err(invalid(
                key,
                &v.pos,
                format!(
                    "error parsing operators: unsupported type {}",
                    other.type_name()
                ),
            ))
        }
    };
    let mut jwts = Vec::new();
    let mut system_accounts = Vec::new();
    for item in items {
        let name = item.as_str().ok_or_else(|| {
            invalid(
                key,
                &item.pos,
                "error parsing operators: unsupported type where string is expected",
            )
        })?;
        let text = match std::fs::read_to_string(name) {
            Ok(text) => text,
            Err(_) if name.starts_with(JWT_PREFIX) => name.to_string(),
            Err(e) => {
                return Err(invalid(
                    key,
                    &item.pos,
                    format!("error parsing operator JWT: open {name}: {}", io_text(&e)),
                ))
            }
        };
        let token = crate::jwt::parse_decorated(&text);
        let claims = crate::jwt::decode_operator(&token)
            .map_err(|e| invalid(key, &item.pos, format!("error parsing operator JWT: {e}")))?;
        system_accounts.push(claims.nats.system_account.clone());
        jwts.push(token);
    }
    let op = &mut a.opts.operator;
    // As nats-server: a single operator's system account stands in for a missing
    // `system_account`.
    op.system_account = match system_accounts.as_slice() {
        [one] if !one.is_empty() => Some(one.clone()),
        _ => None,
    };
    op.operators = jwts;
    Ok(())
}

/// Go's wording of the common file errors.
fn io_text(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "cannot read the file",
    }
}

/// `resolver` (also `account_resolver`, `accounts_resolver`): `MEMORY`, `URL(...)` (refused:
/// not implemented) or `{ type: full, dir, ... }`.
pub(super) fn resolver(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let resolver = match &v.kind {
        Kind::String(s) => {
            let upper = s.trim().to_ascii_uppercase();
            if upper.starts_with("MEM") {
                ResolverOptions::Memory
            } else if upper.starts_with("URL") {
                return Err(invalid(
                    key,
                    &v.pos,
                    "the URL account resolver is not supported by switchboard; use MEMORY or \
                     a full directory resolver",
                ));
            } else {
                return Err(bad_resolver(key, v));
            }
        }
        Kind::Map(_) => dir_resolver(a, key, v)?,
        _ => return Err(bad_resolver(key, v)),
    };
    a.opts.operator.resolver = Some(resolver);
    Ok(())
}

fn bad_resolver(key: &str, v: &Value) -> ConfigError {
    invalid(
        key,
        &v.pos,
        "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing \
         dir and type state=[FULL|CACHE])",
    )
}

fn dir_resolver(a: &mut Applier, key: &str, v: &Value) -> Result<ResolverOptions, ConfigError> {
    let map = get_map(key, v)?;
    let mut kind = String::new();
    let mut dir = None;
    let mut opts = DirResolverOptions {
        dir: PathBuf::new(),
        allow_delete: false,
        hard_delete: false,
        interval: DEFAULT_RESOLVER_INTERVAL,
        limit: 0,
    };
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "type" => kind = get_string(k, v)?.to_ascii_uppercase(),
            "dir" => dir = Some(PathBuf::from(get_string(k, v)?)),
            "allow_delete" => opts.allow_delete = get_bool(k, v)?,
            "hard_delete" => opts.hard_delete = get_bool(k, v)?,
            "limit" => opts.limit = get_int(k, v)?,
            "interval" => opts.interval = get_duration_string(k, v)?,
            // Fetching from other servers: a single server has none to ask.
            "timeout" | "ttl" => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    match kind.as_str() {
        "MEM" | "MEMORY" => Ok(ResolverOptions::Memory),
        "FULL" => {
            let dir = dir.filter(|d| !d.as_os_str().is_empty()).ok_or_else(|| {
                invalid(
                    key,
                    &v.pos,
                    "dir has no value and needs to point to a directory",
                )
            })?;
            if dir.exists() && !dir.is_dir() {
                return Err(invalid(
                    key,
                    &v.pos,
                    "dir needs to point to an accessible directory",
                ));
            }
            opts.dir = dir;
            Ok(ResolverOptions::Full(opts))
        }
        "CACHE" => Err(invalid(
            key,
            &v.pos,
            "the CACHE account resolver is not supported by switchboard; use type: full",
        )),
        _ => Err(bad_resolver(key, v)),
    }
}

/// `resolver_preload { <account public key>: <account JWT> }`.
pub(super) fn preload(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            "preload should be a map of account_public_key:account_jwt",
        )
    })?;
    let mut list = Vec::new();
    for e in map.entries() {
        let token = e.value.as_str().ok_or_else(|| {
            invalid(
                key,
                &e.value.pos,
                "preload map value should be a string JWT",
            )
        })?;
        if crate::jwt::decode_account(token).is_err() {
            return Err(invalid(key, &e.value.pos, "invalid account JWT"));
        }
        list.push((e.key.clone(), token.to_string()));
    }
    list.sort();
    a.opts.operator.preload = list;
    Ok(())
}
