//! `authorization {}`, `accounts {}`, users and permissions (an account's `jetstream` is
//! read by [`super::jetstream::account`]).

use std::collections::HashSet;
use std::time::Duration;

use super::apply::{
    get_duration_string, get_int, get_map, get_seconds, get_string, invalid, Applier,
};
use super::value::{Kind, Value};
use super::ConfigError;
use crate::options::{AccountConfig, Permissions, ResponsePermission, SubjectPermission, User};

/// nats-server's `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`.
pub const DEFAULT_ALLOW_RESPONSE_MAX_MSGS: usize = 1;
/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`.
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(120);
/// A negative `expires` means "never" in nats-server; switchboard uses this long instead.
const NEVER: Duration = Duration::from_secs(u32::MAX as u64);

/// `authorization { user password token timeout users [...] default_permissions {...} }`.
pub(super) fn authorization(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let map = get_map(key, v)?;
    let (mut user, mut password, mut token, mut timeout) = (None, None, None, None);
    let mut users: Option<Vec<User>> = None;
    let mut defaults = None;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "user" | "username" => user = Some(get_string(k, v)?),
            "pass" | "password" => password = Some(get_string(k, v)?),
            "token" => token = Some(get_string(k, v)?),
            "timeout" => {
                let d = get_seconds(k, v)?;
                if d > Duration::from_secs(60) {
                    a.warn(
                        &v.pos,
                        format!(
                            "{k} of {:.0} seconds is high, consider keeping it under 60 \
                             seconds (an unquoted 1m is a number, write \"1m\" for a minute)",
                            d.as_secs_f64()
                        ),
                    );
                }
                timeout = Some(d);
            }
            "users" => users = Some(parse_users(a, k, v)?),
            "default_permission" | "default_permissions" | "permissions" => {
                defaults = Some(parse_permissions(a, k, v)?);
            }
            "auth_callout" | "auth_hook" | "proxy_required" => a.unsupported(&e.key_pos, k),
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    let has_user = user.as_deref().is_some_and(|u| !u.is_empty())
        || password.as_deref().is_some_and(|p| !p.is_empty());
    let has_token = token.as_deref().is_some_and(|t| !t.is_empty());
    if has_user && has_token {
        return Err(invalid(key, &v.pos, "Cannot have a user/pass and token"));
    }
    let accounts_have_users = a.opts.auth.accounts.iter().any(|acc| !acc.users.is_empty());
    if users.is_some() || accounts_have_users {
        if user.as_deref().is_some_and(|u| !u.is_empty()) {
            return Err(invalid(
                key,
                &v.pos,
                "Can not have a single user/pass and a users array",
            ));
        }
        if has_token {
            return Err(invalid(
                key,
                &v.pos,
                "Can not have a token and a users array",
            ));
        }
    }
    let mut users = users.unwrap_or_default();
    if let Some(p) = &defaults {
        for u in users.iter_mut().filter(|u| u.permissions.is_none()) {
            u.permissions = Some(p.clone());
        }
    }
    check_duplicates(a, key, v, &users)?;
    let auth = &mut a.opts.auth;
    auth.user = user.filter(|s| !s.is_empty());
    auth.password = password.filter(|s| !s.is_empty());
    auth.token = token.filter(|s| !s.is_empty());
    auth.timeout = timeout;
    auth.users.extend(users);
    Ok(())
}

/// Users and nkeys must be unique across `authorization` and all accounts.
fn check_duplicates(
    a: &Applier,
    key: &str,
    v: &Value,
    new_users: &[User],
) -> Result<(), ConfigError> {
    let auth = &a.opts.auth;
    let mut seen: HashSet<&str> = HashSet::new();
    let existing = auth
        .users
        .iter()
        .chain(auth.accounts.iter().flat_map(|acc| acc.users.iter()));
    for u in existing {
        seen.extend(u.user.as_deref().into_iter().chain(u.nkey.as_deref()));
    }
    for u in new_users {
        if let Some(name) = u.nkey.as_deref() {
            if !seen.insert(name) {
                return Err(invalid(
                    key,
                    &v.pos,
                    format!("Duplicate nkey \"{name}\" detected"),
                ));
            }
        } else if let Some(name) = u.user.as_deref() {
            if !seen.insert(name) {
                return Err(invalid(
                    key,
                    &v.pos,
                    format!("Duplicate user \"{name}\" detected"),
                ));
            }
        }
    }
    Ok(())
}

/// `accounts { NAME { users [...] default_permissions {...} } }` or `accounts [A, B]`.
pub(super) fn accounts(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    match &v.kind {
        Kind::Array(names) => {
            for (i, n) in names.iter().enumerate() {
                let name = get_string(&format!("{key}[{i}]"), n)?;
                check_account_name(key, n, &name, &a.opts.auth.accounts)?;
                a.opts.auth.accounts.push(AccountConfig {
                    name,
                    ..Default::default()
                });
            }
            Ok(())
        }
        Kind::Map(map) => {
            for e in map.entries() {
                if e.used_as_variable {
                    continue;
                }
                let path = format!("{key}.{}", e.key);
                let acc_map = e.value.as_map().ok_or_else(|| {
                    invalid(&path, &e.value.pos, "Expected map entries for accounts")
                })?;
                check_account_name(&path, &e.value, &e.key, &a.opts.auth.accounts)?;
                let mut users = Vec::new();
                let mut defaults = None;
                let mut jetstream = None;
                let (mut exports, mut imports) = (Vec::new(), Vec::new());
                for f in acc_map.entries() {
                    let fpath = format!("{path}.{}", f.key);
                    let (k, fv) = (fpath.as_str(), &f.value);
                    match f.key.to_ascii_lowercase().as_str() {
                        "users" => users = parse_users(a, k, fv)?,
                        "default_permissions" => defaults = Some(parse_permissions(a, k, fv)?),
                        "jetstream" => jetstream = super::jetstream::account(a, k, fv)?,
                        "exports" => exports = super::imports::exports(a, k, fv)?,
                        "imports" => imports = super::imports::imports(a, k, fv)?,
                        "nkey" | "mappings" | "maps" | "limits" | "msg_trace" | "trace_dest" => {
                            a.unsupported(&f.key_pos, k)
                        }
                        _ if f.used_as_variable => {}
                        _ => a.unknown(&f.key_pos, k),
                    }
                }
                if let Some(p) = &defaults {
                    for u in users.iter_mut().filter(|u| u.permissions.is_none()) {
                        u.permissions = Some(p.clone());
                    }
                }
                if !users.is_empty() && a.opts.auth.user.is_some() {
                    return Err(invalid(
                        &path,
                        &e.value.pos,
                        "Can not have a single user/pass and accounts",
                    ));
                }
                check_duplicates(a, &path, &e.value, &users)?;
                a.opts.auth.accounts.push(AccountConfig {
                    name: e.key.clone(),
                    users,
                    jetstream,
                    exports,
                    imports,
                });
            }
            super::imports::resolve(key, &v.pos, &a.opts.auth.accounts)
        }
        _ => Err(invalid(
            key,
            &v.pos,
            format!("expected a map or an array, got {}", v.kind.type_name()),
        )),
    }
}

fn check_account_name(
    key: &str,
    v: &Value,
    name: &str,
    existing: &[AccountConfig],
) -> Result<(), ConfigError> {
    if name == "$G" {
        return Err(invalid(
            key,
            &v.pos,
            format!("\"{name}\" is a Reserved Account"),
        ));
    }
    if existing.iter().any(|acc| acc.name == name) {
        return Err(invalid(
            key,
            &v.pos,
            format!("Duplicate Account Entry: {name}"),
        ));
    }
    Ok(())
}

/// `users [ { user password permissions } | { nkey permissions } ]`.
fn parse_users(a: &mut Applier, key: &str, v: &Value) -> Result<Vec<User>, ConfigError> {
    let list = v.as_array().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!("expected users to be an array, got {}", v.kind.type_name()),
        )
    })?;
    let mut users = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let ipath = format!("{key}[{i}]");
        let map = item.as_map().ok_or_else(|| {
            invalid(
                &ipath,
                &item.pos,
                format!(
                    "expected a user entry to be a map, got {}",
                    item.kind.type_name()
                ),
            )
        })?;
        let mut user = User::default();
        for e in map.entries() {
            let path = format!("{ipath}.{}", e.key);
            let (k, v) = (path.as_str(), &e.value);
            match e.key.to_ascii_lowercase().as_str() {
                "nkey" => user.nkey = Some(get_string(k, v)?),
                "user" | "username" => user.user = Some(get_string(k, v)?),
                "pass" | "password" => user.password = Some(get_string(k, v)?),
                "permission" | "permissions" | "authorization" => {
                    user.permissions = Some(parse_permissions(a, k, v)?);
                }
                "allowed_connection_types" | "connection_types" | "clients" | "proxy_required" => {
                    a.unsupported(&e.key_pos, k)
                }
                _ if e.used_as_variable => {}
                _ => a.unknown(&e.key_pos, k),
            }
        }
        user.user = user.user.filter(|s| !s.is_empty());
        user.password = user.password.filter(|s| !s.is_empty());
        user.nkey = user.nkey.filter(|s| !s.is_empty());
        match &user.nkey {
            None if user.user.is_none() => {
                return Err(invalid(&ipath, &item.pos, "User entry requires a user"));
            }
            None => {}
            Some(nkey) => {
                if !is_user_nkey(nkey) {
                    return Err(invalid(
                        &ipath,
                        &item.pos,
                        "Not a valid public nkey for a user",
                    ));
                }
                if user.user.is_some() || user.password.is_some() {
                    return Err(invalid(
                        &ipath,
                        &item.pos,
                        "Nkey users do not take usernames or passwords",
                    ));
                }
            }
        }
        users.push(user);
    }
    Ok(users)
}

fn is_user_nkey(key: &str) -> bool {
    key.starts_with('U')
        && nkeys::KeyPair::from_public_key(key)
            .is_ok_and(|kp| matches!(kp.key_pair_type(), nkeys::KeyPairType::User))
}

/// `permissions { publish subscribe allow_responses }`.
fn parse_permissions(a: &mut Applier, key: &str, v: &Value) -> Result<Permissions, ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "expected permissions to be a map, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut p = Permissions::default();
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => p.publish = subject_permission(a, k, v, false)?,
            "sub" | "subscribe" | "export" => p.subscribe = subject_permission(a, k, v, true)?,
            "publish_allow_responses" | "allow_responses" => {
                p.allow_responses = match &v.kind {
                    Kind::Bool(true) => Some(ResponsePermission {
                        max_msgs: DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
                        expires: DEFAULT_ALLOW_RESPONSE_EXPIRATION,
                    }),
                    Kind::Bool(false) => None,
                    Kind::Map(_) => Some(response_permission(a, k, v)?),
                    _ => {
                        return Err(invalid(
                            k,
                            &v.pos,
                            "expected a boolean or a map for response permissions",
                        ))
                    }
                };
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    if p.allow_responses.is_some() && p.publish.is_none() {
        // As in nats-server: allowing responses turns off the blanket publish allowance, so an
        // empty allow list here means "nothing but replies".
        p.publish = Some(SubjectPermission::default());
    }
    Ok(p)
}

/// `allow_responses { max: N, expires: "1m" }`.
fn response_permission(
    a: &mut Applier,
    key: &str,
    v: &Value,
) -> Result<ResponsePermission, ConfigError> {
    let map = get_map(key, v)?;
    let mut rp = ResponsePermission {
        max_msgs: DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
        expires: DEFAULT_ALLOW_RESPONSE_EXPIRATION,
    };
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                // Negative means unlimited, 0 keeps the default.
                match get_int(k, v)? {
                    0 => {}
                    n if n < 0 => rp.max_msgs = usize::MAX,
                    n => rp.max_msgs = usize::try_from(n).unwrap_or(usize::MAX),
                }
            }
            "expires" | "expiration" | "ttl" => {
                let s = v.as_str().ok_or_else(|| {
                    invalid(k, &v.pos, "error parsing expires, not a duration string")
                })?;
                match crate::duration::parse_go_duration(s) {
                    Ok(0) => {}
                    Ok(n) if n < 0 => rp.expires = NEVER,
                    Ok(_) => rp.expires = get_duration_string(k, v)?,
                    Err(err) => return Err(invalid(k, &v.pos, err.to_string())),
                }
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    Ok(rp)
}

/// A subject or list of subjects (allow only), or `{ allow: ..., deny: ... }`.
fn subject_permission(
    a: &mut Applier,
    key: &str,
    v: &Value,
    allow_queue: bool,
) -> Result<Option<SubjectPermission>, ConfigError> {
    match &v.kind {
        Kind::Map(map) => {
            if map.is_empty() {
                return Ok(None);
            }
            let mut sp = SubjectPermission::default();
            for e in map.entries() {
                let path = format!("{key}.{}", e.key);
                match e.key.to_ascii_lowercase().as_str() {
                    "allow" => sp.allow = subjects(&path, &e.value, allow_queue)?,
                    "deny" => sp.deny = subjects(&path, &e.value, allow_queue)?,
                    _ if e.used_as_variable => {}
                    _ => a.unknown(&e.key_pos, &path),
                }
            }
            Ok(Some(sp))
        }
        _ => Ok(Some(SubjectPermission {
            allow: subjects(key, v, allow_queue)?,
            deny: Vec::new(),
        })),
    }
}

fn subjects(key: &str, v: &Value, allow_queue: bool) -> Result<Vec<String>, ConfigError> {
    let list: Vec<String> = match &v.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    invalid(
                        key,
                        &i.pos,
                        "Subject in permissions array cannot be cast to string",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(invalid(
                key,
                &v.pos,
                format!(
                    "expected subject permissions to be a subject, or array of subjects, got {}",
                    v.kind.type_name()
                ),
            ))
        }
    };
    for s in &list {
        if valid_subject(s) {
            continue;
        }
        let fields: Vec<&str> = s.split_whitespace().collect();
        let queue_ok = allow_queue
            && fields.len() == 2
            && valid_subject(fields[0])
            && valid_subject(fields[1]);
        if !queue_ok {
            return Err(invalid(
                key,
                &v.pos,
                format!("subject \"{s}\" is not a valid subject"),
            ));
        }
    }
    Ok(list)
}

/// A subject that may contain wildcards: no white space, no empty tokens, `>` only last.
fn valid_subject(s: &str) -> bool {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return false;
    }
    let tokens: Vec<&str> = s.split('.').collect();
    let last = tokens.len() - 1;
    tokens
        .iter()
        .enumerate()
        .all(|(i, t)| !t.is_empty() && (*t != ">" || i == last))
}
