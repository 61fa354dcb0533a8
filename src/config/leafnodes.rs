//! `leafnodes { ... }` (also `leaf`), read as nats-server's `parseLeafNodes`,
//! `parseLeafAuthorization` and `parseRemoteLeafNodes` read it, with their error texts, and
//! checked as its `validateLeafNode` checks it once the whole file is read (accounts named
//! by the block must exist, remotes must differ, deny subjects must be valid).
//!
//! Keys: `listen`, `port`, `host`/`net`, `advertise`/`leafnode_advertise`, `no_advertise`,
//! `authorization { user/username password/pass nkey account timeout users [ {user password
//! account} ] }`, `tls`, `reconnect`/`reconnect_delay`/`reconnect_interval`, `remotes [ {
//! url/urls account/local credentials/creds nkey/seed tls deny_imports/deny_import
//! deny_exports/deny_export first_info_timeout no_randomize/dont_randomize disabled
//! ignore_discovered_servers } ]`. Keys nats-server has for features switchboard does not
//! serve (`compression`, `min_version`, `hub`, isolation, WebSocket remotes, proxies,
//! JetStream cluster migration, dial and write timeouts) are warned about and ignored.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::apply::{
    check_port, get_bool, get_int, get_map, get_seconds, get_string, host_port, invalid,
    type_error, Applier,
};
use super::value::{Kind, Value};
use super::ConfigError;
use crate::options::{LeafAuthOptions, LeafUser, RemoteLeafOptions, DEFAULT_SYSTEM_ACCOUNT};
use crate::proto::subject;

/// `leafnodes` keys nats-server accepts that switchboard does not serve.
const UNSUPPORTED: &[&str] = &[
    "dial_timeout",
    "min_version",
    "minimum_version",
    "compression",
    "isolate_leafnode_interest",
    "isolate",
    "write_deadline",
    "write_timeout",
];

/// Remote keys nats-server accepts that switchboard does not serve.
const UNSUPPORTED_REMOTE: &[&str] = &[
    "hub",
    "ws_compress",
    "ws_compression",
    "websocket_compress",
    "websocket_compression",
    "ws_no_masking",
    "websocket_no_masking",
    "jetstream_cluster_migrate",
    "js_cluster_migrate",
    "isolate_leafnode_interest",
    "isolate",
    "request_isolation",
    "compression",
    "dial_timeout",
    "proxy",
];

/// Reads the block into `Options::leafnodes`.
pub(super) fn leafnodes(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Expected map to define a leafnode, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "listen" => {
                let (host, port) = host_port(k, v)?;
                if host.is_some() {
                    a.opts.leafnodes.host = host;
                }
                a.opts.leafnodes.port = check_port(k, &v.pos, port)?;
            }
            "port" => a.opts.leafnodes.port = check_port(k, &v.pos, get_int(k, v)?)?,
            "host" | "net" => {
                a.opts.leafnodes.host = Some(get_string(k, v)?).filter(|h| !h.is_empty());
            }
            "authorization" => a.opts.leafnodes.auth = authorization(a, k, v)?,
            "remotes" => a.opts.leafnodes.remotes = remotes(a, k, v)?,
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                let d = a.duration_or_seconds(k, v)?;
                a.opts.leafnodes.reconnect = if d.is_zero() {
                    crate::options::DEFAULT_LEAF_RECONNECT
                } else {
                    d
                };
            }
            "tls" => a.opts.leafnodes.tls = Some(a.parse_tls(k, v)?),
            "leafnode_advertise" | "advertise" => {
                a.opts.leafnodes.advertise = Some(get_string(k, v)?).filter(|s| !s.is_empty());
            }
            "no_advertise" => a.opts.leafnodes.no_advertise = get_bool(k, v)?,
            lower if UNSUPPORTED.contains(&lower) => a.unsupported(&e.key_pos, k),
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    Ok(())
}

/// `authorization { user password nkey account timeout users }`.
fn authorization(a: &mut Applier, key: &str, v: &Value) -> Result<LeafAuthOptions, ConfigError> {
    let map = get_map(key, v)?;
    let mut auth = LeafAuthOptions::default();
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "user" | "username" => auth.user = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "pass" | "password" => {
                auth.password = Some(get_string(k, v)?).filter(|s| !s.is_empty());
            }
            "nkey" => {
                let nkey = get_string(k, v)?;
                if !is_user_public_key(&nkey) {
                    return Err(invalid(
                        k,
                        &v.pos,
                        "Not a valid public nkey for leafnode authorization",
                    ));
                }
                auth.nkey = Some(nkey);
            }
            "timeout" => {
                let d = get_seconds(k, v)?;
                if d > Duration::from_secs(60) {
                    a.warn(
                        &v.pos,
                        format!(
                            "{k} of {:.0} seconds is high, consider keeping it under 60 seconds",
                            d.as_secs_f64()
                        ),
                    );
                }
                auth.timeout = Some(d).filter(|d| !d.is_zero());
            }
            "users" => auth.users = users(a, k, v)?,
            "account" => auth.account = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
            "proxy_required" => a.unsupported(&e.key_pos, k),
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    // nats-server's validateLeafNodeAuthOptions.
    if !auth.users.is_empty() {
        if auth.user.is_some() {
            return Err(invalid(
                key,
                &v.pos,
                "can not have a single user/pass and a users array",
            ));
        }
        if auth.nkey.is_some() {
            return Err(invalid(
                key,
                &v.pos,
                "can not have a single nkey and a users array",
            ));
        }
        let mut seen = HashSet::new();
        for u in &auth.users {
            if !seen.insert(u.user.as_str()) {
                return Err(invalid(
                    key,
                    &v.pos,
                    format!(
                        "duplicate user {:?} detected in leafnode authorization",
                        u.user
                    ),
                ));
            }
        }
    }
    Ok(auth)
}

fn is_user_public_key(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// `users [ {user password account} ]`.
fn users(a: &mut Applier, key: &str, v: &Value) -> Result<Vec<LeafUser>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Expected users field to be an array, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let entry_key = format!("{key}[{i}]");
        let map = item.as_map().ok_or_else(|| {
            invalid(
                &entry_key,
                &item.pos,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    item.kind.type_name()
                ),
            )
        })?;
        let mut user = LeafUser::default();
        for e in map.entries() {
            let path = format!("{entry_key}.{}", e.key);
            let (k, v) = (path.as_str(), &e.value);
            match e.key.to_ascii_lowercase().as_str() {
                "user" | "username" => user.user = get_string(k, v)?,
                "pass" | "password" => user.password = get_string(k, v)?,
                "account" => user.account = Some(get_string(k, v)?).filter(|s| !s.is_empty()),
                "proxy_required" => a.unsupported(&e.key_pos, k),
                _ if e.used_as_variable => {}
                _ => a.unknown(&e.key_pos, k),
            }
        }
        out.push(user);
    }
    Ok(out)
}

/// `remotes [ {...} ]`.
fn remotes(a: &mut Applier, key: &str, v: &Value) -> Result<Vec<RemoteLeafOptions>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Expected remotes field to be an array, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut out: Vec<RemoteLeafOptions> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let entry_key = format!("{key}[{i}]");
        let map = item.as_map().ok_or_else(|| {
            invalid(
                &entry_key,
                &item.pos,
                format!(
                    "Expected remote leafnode entry to be a map/struct, got {}",
                    item.kind.type_name()
                ),
            )
        })?;
        let mut remote = RemoteLeafOptions::default();
        for e in map.entries() {
            let path = format!("{entry_key}.{}", e.key);
            let (k, v) = (path.as_str(), &e.value);
            match e.key.to_ascii_lowercase().as_str() {
                "no_randomize" | "dont_randomize" => remote.no_randomize = get_bool(k, v)?,
                "url" | "urls" => remote.urls = urls(k, v)?,
                "account" | "local" => {
                    remote.account = Some(get_string(k, v)?).filter(|s| !s.is_empty());
                }
                "creds" | "credentials" => {
                    if remote.nkey.is_some() {
                        return Err(invalid(
                            k,
                            &v.pos,
                            "Remote leafnode can not have both creds and nkey defined",
                        ));
                    }
                    remote.credentials = Some(PathBuf::from(expand_home(&get_string(k, v)?)));
                }
                "nkey" | "seed" => {
                    let seed = get_string(k, v)?;
                    let user_seed = nkeys::KeyPair::from_seed(&seed)
                        .is_ok_and(|kp| kp.public_key().starts_with('U'));
                    if !user_seed {
                        return Err(invalid(
                            k,
                            &v.pos,
                            format!("Remote leafnode nkey is not a valid seed: {seed:?}"),
                        ));
                    }
                    if remote.credentials.is_some() {
                        return Err(invalid(
                            k,
                            &v.pos,
                            "Remote leafnode can not have both creds and nkey defined",
                        ));
                    }
                    remote.nkey = Some(seed);
                }
                "tls" => remote.tls = Some(a.parse_tls(k, v)?),
                "deny_imports" | "deny_import" => remote.deny_imports = deny_list(k, v)?,
                "deny_exports" | "deny_export" => remote.deny_exports = deny_list(k, v)?,
                "first_info_timeout" => {
                    let d = a.duration_or_seconds(k, v)?;
                    if !d.is_zero() {
                        remote.first_info_timeout = d;
                    }
                }
                "disabled" => remote.disabled = get_bool(k, v)?,
                "ignore_discovered_servers" => remote.ignore_discovered_servers = get_bool(k, v)?,
                lower if UNSUPPORTED_REMOTE.contains(&lower) => a.unsupported(&e.key_pos, k),
                _ if e.used_as_variable => {}
                _ => a.unknown(&e.key_pos, k),
            }
        }
        let duplicate = out.iter().any(|r| {
            r.account_name() == remote.account_name()
                && r.urls == remote.urls
                && r.credentials == remote.credentials
                && r.nkey == remote.nkey
        });
        if duplicate {
            return Err(invalid(
                &entry_key,
                &item.pos,
                format!("duplicate remote {}", remote_name(&remote)),
            ));
        }
        out.push(remote);
    }
    Ok(out)
}

/// How nats-server names a remote in errors: its URLs (without credentials) and account.
fn remote_name(r: &RemoteLeafOptions) -> String {
    let urls: Vec<String> = r
        .urls
        .iter()
        .map(|u| match u.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{host}"),
                None => u.clone(),
            },
            None => u.clone(),
        })
        .collect();
    format!("urls={:?}, account={:?}", urls, r.account_name())
}

/// `url: "..."` or `urls: [...]`: each must parse as a URL.
fn urls(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    let check = |s: &Value| -> Result<String, ConfigError> {
        let text = get_string(key, s)?.trim().to_string();
        let scheme_ok = match text.split_once("://") {
            Some((scheme, rest)) => !scheme.is_empty() && !rest.is_empty(),
            None => !text.is_empty(),
        };
        if !scheme_ok || text.contains(' ') {
            return Err(invalid(
                key,
                &s.pos,
                format!("error parsing leafnode url [{text:?}]"),
            ));
        }
        Ok(text)
    };
    match &v.kind {
        Kind::String(_) => Ok(vec![check(v)?]),
        Kind::Array(items) => items.iter().map(check).collect(),
        _ => Err(invalid(
            key,
            &v.pos,
            format!(
                "Expected remote leafnode url to be an array or string, got {}",
                v.kind.type_name()
            ),
        )),
    }
}

/// `deny_imports` / `deny_exports`: a subject or a list of them, each a valid subject.
fn deny_list(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    let subjects = match &v.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => items
            .iter()
            .map(|i| get_string(key, i))
            .collect::<Result<_, _>>()?,
        _ => return Err(type_error(key, v, "a subject or an array of subjects")),
    };
    for s in &subjects {
        if !subject::is_valid_subject(s.as_bytes()) {
            return Err(invalid(
                key,
                &v.pos,
                format!("subject {s:?} is not a valid subject"),
            ));
        }
    }
    Ok(subjects)
}

/// nats-server's `expandPath`: a leading `~` is the home directory.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// nats-server's `validateLeafNode` checks that need the whole file: the accounts the
/// block names must exist.
pub(super) fn validate_after(a: &Applier) -> Result<(), String> {
    let opts = &a.opts;
    let leaf = &opts.leafnodes;
    let exists = |name: &str| {
        name.is_empty()
            || name == "$G"
            || opts.auth.accounts.iter().any(|acc| acc.name == name)
            || (name == DEFAULT_SYSTEM_ACCOUNT
                && opts.system_account.as_deref().is_none_or(str::is_empty)
                && !opts.no_system_account)
    };
    let missing = |name: &str, what: &str| {
        format!("cannot find local account {name:?} specified in leafnode {what}")
    };
    if let Some(name) = &leaf.auth.account {
        if !exists(name) {
            return Err(missing(name, "authorization"));
        }
    }
    for user in &leaf.auth.users {
        if let Some(name) = &user.account {
            if !exists(name) {
                return Err(missing(name, "authorization"));
            }
        }
    }
    for remote in &leaf.remotes {
        if !exists(remote.account_name()) {
            return Err(missing(remote.account_name(), "remote"));
        }
    }
    Ok(())
}
