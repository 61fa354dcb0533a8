//! An account's `exports` and `imports` (inside `accounts { NAME { ... } }`), and the checks
//! nats-server makes once every account is read: the accounts named exist, each import is
//! of something exported to the importer, a stream prefix is a literal, and no import forms
//! a cycle. Errors carry nats-server's texts.

use std::collections::HashSet;

use super::apply::{
    get_bool, get_duration_string, get_int, get_string, invalid, type_error, Applier,
};
use super::value::{Kind, Map, Pos, Value};
use super::ConfigError;
use crate::options::{
    AccountConfig, Export, Import, ImportKind, ResponseType, ServiceLatencyConfig,
};
use crate::proto::subject::{intersection, is_subset, is_valid_literal_subject, is_valid_subject};

/// How deep the cycle search follows imports (nats-server's `MaxAccountCycleSearchDepth`).
const MAX_CYCLE_SEARCH_DEPTH: usize = 1024;

/// `exports [ {stream: "a.>"}, {service: "b", accounts: [X], response_type: stream} ]`.
pub(super) fn exports(a: &mut Applier, key: &str, v: &Value) -> Result<Vec<Export>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!("Exports should be an array, got {}", v.kind.type_name()),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| export(a, &format!("{key}[{i}]"), item))
        .collect()
}

fn export(a: &mut Applier, key: &str, v: &Value) -> Result<Export, ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Export Items should be a map with type entry, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut kind_subject: Option<(ImportKind, String)> = None;
    let mut export = Export {
        kind: ImportKind::Stream,
        subject: String::new(),
        accounts: None,
        account_token_position: 0,
        response_type: ResponseType::Singleton,
        response_threshold: None,
        latency: None,
    };
    // Service-only directives, to refuse on a stream whatever the order of the keys.
    let mut service_only: Option<(&Pos, &str)> = None;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, fv) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let kind = if kind == "stream" {
                    ImportKind::Stream
                } else {
                    ImportKind::Service
                };
                if let Some((seen, _)) = &kind_subject {
                    let (this, other) = match seen {
                        ImportKind::Stream => ("service", "stream"),
                        ImportKind::Service => ("stream", "service"),
                    };
                    return Err(invalid(
                        k,
                        &fv.pos,
                        format!(
                            "Detected {this} {:?} but already saw a {other}",
                            fv.as_str().unwrap_or_default()
                        ),
                    ));
                }
                let subject = fv.as_str().ok_or_else(|| {
                    let what = if kind == ImportKind::Stream {
                        "stream"
                    } else {
                        "service"
                    };
                    invalid(
                        k,
                        &fv.pos,
                        format!(
                            "Expected {what} name to be string, got {}",
                            fv.kind.type_name()
                        ),
                    )
                })?;
                kind_subject = Some((kind, subject.to_string()));
            }
            "response" | "response_type" => {
                let text = fv.as_str().ok_or_else(|| {
                    invalid(
                        k,
                        &fv.pos,
                        format!(
                            "Expected response type to be string, got {}",
                            fv.kind.type_name()
                        ),
                    )
                })?;
                export.response_type = match text.to_ascii_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Streamed,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        return Err(invalid(
                            k,
                            &fv.pos,
                            format!("Unknown response type: {text:?}"),
                        ))
                    }
                };
                service_only = Some((&fv.pos, "Detected response directive on non-service"));
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                export.response_threshold = Some(get_duration_string(k, fv).map_err(|_| {
                    invalid(
                        k,
                        &fv.pos,
                        "Expected response threshold to be a parseable time duration",
                    )
                })?);
                service_only = Some((&fv.pos, "Detected response directive on non-service"));
            }
            "accounts" => {
                let list = fv
                    .as_array()
                    .ok_or_else(|| type_error(k, fv, "an array of account names"))?;
                export.accounts = Some(
                    list.iter()
                        .map(|n| get_string(k, n))
                        .collect::<Result<_, _>>()?,
                );
            }
            "latency" => {
                export.latency = Some(latency(k, fv)?);
                service_only = Some((&fv.pos, "Detected latency directive on non-service"));
            }
            "account_token_position" => {
                export.account_token_position = usize::try_from(get_int(k, fv)?)
                    .map_err(|_| invalid(k, &fv.pos, "can not be negative"))?;
            }
            "allow_trace" => {
                get_bool(k, fv)?;
                service_only = Some((&fv.pos, "Detected allow_trace directive on non-service"));
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    let Some((kind, subject)) = kind_subject else {
        return Err(invalid(
            key,
            &v.pos,
            "Export Items should be a map with type entry",
        ));
    };
    if kind == ImportKind::Stream {
        if let Some((pos, message)) = service_only {
            return Err(invalid(key, pos, message));
        }
    }
    export.kind = kind;
    export.subject = subject;
    Ok(export)
}

/// `latency: "subject"` or `latency { sampling: 50 | "50%" | "headers", subject: "..." }`.
fn latency(key: &str, v: &Value) -> Result<ServiceLatencyConfig, ConfigError> {
    /// nats-server's `DEFAULT_SERVICE_LATENCY_SAMPLING`.
    const DEFAULT_SAMPLING: u8 = 100;
    if let Some(subject) = v.as_str() {
        return Ok(ServiceLatencyConfig {
            sampling_percent: DEFAULT_SAMPLING,
            subject: subject.to_string(),
        });
    }
    let map: &Map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Expected latency entry to be a map/struct or string, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut sampling = DEFAULT_SAMPLING;
    let mut subject = None;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        match e.key.as_str() {
            "sampling" => {
                let n = match &e.value.kind {
                    Kind::Integer(n) => *n,
                    Kind::String(s) if s.trim().eq_ignore_ascii_case("headers") => 0,
                    Kind::String(s) => s.trim_end_matches('%').parse::<i64>().map_err(|e2| {
                        invalid(
                            &path,
                            &e.value.pos,
                            format!("Failed to parse latency sample: {e2}"),
                        )
                    })?,
                    _ => {
                        return Err(invalid(
                            &path,
                            &e.value.pos,
                            "Expected latency sample to be a string or map/struct",
                        ))
                    }
                };
                let headers = matches!(&e.value.kind, Kind::String(s) if s.trim().eq_ignore_ascii_case("headers"));
                if !headers && !(1..=100).contains(&n) {
                    return Err(invalid(
                        &path,
                        &e.value.pos,
                        "sampling value should be between 1 and 100",
                    ));
                }
                sampling = u8::try_from(n).unwrap_or(DEFAULT_SAMPLING);
            }
            "subject" => {
                subject = Some(e.value.as_str().map(str::to_string).ok_or_else(|| {
                    invalid(
                        &path,
                        &e.value.pos,
                        "Expected latency subject to be a string",
                    )
                })?);
            }
            _ => {}
        }
    }
    let subject =
        subject.ok_or_else(|| invalid(key, &v.pos, "Latency subject required, but missing"))?;
    Ok(ServiceLatencyConfig {
        sampling_percent: sampling,
        subject,
    })
}

/// `imports [ {stream: {account: A, subject: "a.>"}, prefix: "p"}, {service: {...}, to: "x"} ]`.
pub(super) fn imports(a: &mut Applier, key: &str, v: &Value) -> Result<Vec<Import>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!("Imports should be an array, got {}", v.kind.type_name()),
        )
    })?;
    let mut out: Vec<Import> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{key}[{i}]");
        let import = import(a, &path, item)?;
        if import.kind == ImportKind::Service {
            let to = import.local_subject();
            if let Some(dup) = out.iter().find(|d| {
                d.kind == ImportKind::Service
                    && d.account == import.account
                    && d.local_subject() == to
            }) {
                return Err(invalid(
                    &path,
                    &item.pos,
                    format!(
                        "Duplicate service import subject {to:?}, previously used in import for account {:?}, subject {:?}",
                        dup.account, dup.subject
                    ),
                ));
            }
        }
        out.push(import);
    }
    Ok(out)
}

fn import(a: &mut Applier, key: &str, v: &Value) -> Result<Import, ConfigError> {
    let map = v.as_map().ok_or_else(|| {
        invalid(
            key,
            &v.pos,
            format!(
                "Import Items should be a map with type entry, got {}",
                v.kind.type_name()
            ),
        )
    })?;
    let mut kind_source: Option<(ImportKind, String, String)> = None;
    let (mut prefix, mut to, mut share) = (None, None, false);
    let mut to_pos = None;
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, fv) = (path.as_str(), &e.value);
        match e.key.to_ascii_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let kind = if kind == "stream" {
                    ImportKind::Stream
                } else {
                    ImportKind::Service
                };
                if kind_source.is_some() {
                    let message = if kind == ImportKind::Stream {
                        "Detected stream but already saw a service"
                    } else {
                        "Detected service but already saw a stream"
                    };
                    return Err(invalid(k, &fv.pos, message));
                }
                let source = fv.as_map().ok_or_else(|| {
                    let what = if kind == ImportKind::Stream {
                        "Stream"
                    } else {
                        "Service"
                    };
                    invalid(
                        k,
                        &fv.pos,
                        format!(
                            "{what} entry should be an account map, got {}",
                            fv.kind.type_name()
                        ),
                    )
                })?;
                let (mut account, mut subject) = (String::new(), String::new());
                for s in source.entries() {
                    let spath = format!("{k}.{}", s.key);
                    match s.key.to_ascii_lowercase().as_str() {
                        "account" => account = get_string(&spath, &s.value)?,
                        "subject" => subject = get_string(&spath, &s.value)?,
                        _ if s.used_as_variable => {}
                        _ => a.unknown(&s.key_pos, &spath),
                    }
                }
                if account.is_empty() || subject.is_empty() {
                    return Err(invalid(k, &fv.pos, "Expect an account name and a subject"));
                }
                kind_source = Some((kind, account, subject));
            }
            "prefix" => prefix = Some(get_string(k, fv)?),
            "to" => {
                to = Some(get_string(k, fv)?);
                to_pos = Some(fv.pos.clone());
            }
            "share" => share = get_bool(k, fv)?,
            "allow_trace" => {
                get_bool(k, fv)?;
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    let Some((kind, account, subject)) = kind_source else {
        return Err(invalid(
            key,
            &v.pos,
            "Import Items should be a map with type entry",
        ));
    };
    if kind == ImportKind::Stream && prefix.is_some() && to.is_some() {
        return Err(invalid(
            key,
            to_pos.as_ref().unwrap_or(&v.pos),
            "Stream import can not have a 'prefix' and a 'to' property",
        ));
    }
    Ok(Import {
        kind,
        account,
        subject,
        // A service import has no prefix (nats-server ignores it).
        prefix: prefix
            .filter(|p| !p.is_empty())
            .filter(|_| kind == ImportKind::Stream),
        to: to.filter(|t| !t.is_empty()),
        share,
    })
}

/// The checks nats-server makes once every account is read (errors at `pos`, the
/// `accounts` block).
pub(super) fn resolve(key: &str, pos: &Pos, accounts: &[AccountConfig]) -> Result<(), ConfigError> {
    let fail = |message: String| Err(invalid(key, pos, message));
    let find = |name: &str| accounts.iter().find(|a| a.name == name);
    for account in accounts {
        for export in &account.exports {
            let what = match export.kind {
                ImportKind::Stream => "stream",
                ImportKind::Service => "service",
            };
            if !is_valid_subject(export.subject.as_bytes()) {
                return fail(format!(
                    "Error adding {what} export {:?}: subject is not valid",
                    export.subject
                ));
            }
            for name in export.accounts.iter().flatten() {
                if find(name).is_none() {
                    return fail(format!("{name:?} account not defined for {what} export"));
                }
            }
        }
    }
    for account in accounts {
        for import in &account.imports {
            let what = match import.kind {
                ImportKind::Stream => "stream",
                ImportKind::Service => "service",
            };
            let Some(exporter) = find(&import.account) else {
                return fail(format!(
                    "{:?} account not defined for {what} import",
                    import.account
                ));
            };
            let error = |reason: &str| {
                Err(invalid(
                    key,
                    pos,
                    format!("Error adding {what} import {:?}: {reason}", import.subject),
                ))
            };
            let local = import.local_subject();
            if !is_valid_subject(import.subject.as_bytes()) || !is_valid_subject(local.as_bytes()) {
                return error("invalid subject");
            }
            if exporter
                .export_approving(import.kind, &import.subject, &account.name)
                .is_none()
            {
                return error(&format!("{what} import not authorized"));
            }
            if let Some(prefix) = &import.prefix {
                if !is_valid_literal_subject(prefix.trim_end_matches('.').as_bytes()) {
                    return error("stream import prefix can not contain wildcard tokens");
                }
            }
            let cycle = match import.kind {
                ImportKind::Stream => {
                    stream_cycle(accounts, exporter, &local, &account.name)
                        || stream_cycle(accounts, exporter, &import.subject, &account.name)
                }
                ImportKind::Service => service_cycle(accounts, exporter, &local, &account.name),
            };
            if cycle {
                return error("import forms a cycle");
            }
        }
    }
    let mut seen = HashSet::new();
    for account in accounts {
        for import in account
            .imports
            .iter()
            .filter(|i| i.kind == ImportKind::Stream)
        {
            if !seen.insert((&account.name, &import.account, &import.subject)) {
                return fail(format!(
                    "Error adding stream import {:?}: stream import already exists",
                    import.subject
                ));
            }
        }
    }
    Ok(())
}

/// Would a stream import by `importer` of `subject` from `exporter` form a cycle
/// (nats-server's `checkStreamImportsForCycles`)?
fn stream_cycle(
    accounts: &[AccountConfig],
    exporter: &AccountConfig,
    subject: &str,
    importer: &str,
) -> bool {
    let mut visited: Vec<&str> = vec![importer];
    stream_cycle_from(accounts, exporter, subject, &mut visited)
}

fn stream_cycle_from<'a>(
    accounts: &'a [AccountConfig],
    account: &'a AccountConfig,
    subject: &str,
    visited: &mut Vec<&'a str>,
) -> bool {
    if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
        return true;
    }
    let exports_it = account
        .exports
        .iter()
        .any(|e| e.kind == ImportKind::Stream && is_subset(subject, &e.subject));
    if !exports_it {
        return false;
    }
    for import in account
        .imports
        .iter()
        .filter(|i| i.kind == ImportKind::Stream)
    {
        let local = import.local_subject();
        if intersection(subject, &local).is_none() {
            continue;
        }
        if visited.contains(&import.account.as_str()) {
            return true;
        }
        visited.push(&account.name);
        let next = if is_subset(&local, subject) {
            local.as_str()
        } else {
            subject
        };
        if let Some(source) = accounts.iter().find(|a| a.name == import.account) {
            if stream_cycle_from(accounts, source, next, visited) {
                return true;
            }
        }
    }
    false
}

/// Would a service import by `importer` (requests on its `local` subject) from `exporter`
/// form a cycle (nats-server's `checkServiceImportsForCycles`)?
fn service_cycle(
    accounts: &[AccountConfig],
    exporter: &AccountConfig,
    local: &str,
    importer: &str,
) -> bool {
    let mut visited: Vec<&str> = vec![importer];
    service_cycle_from(accounts, exporter, local, &mut visited)
}

fn service_cycle_from<'a>(
    accounts: &'a [AccountConfig],
    account: &'a AccountConfig,
    subject: &str,
    visited: &mut Vec<&'a str>,
) -> bool {
    if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
        return true;
    }
    for import in account
        .imports
        .iter()
        .filter(|i| i.kind == ImportKind::Service)
    {
        if intersection(subject, &import.subject).is_none() {
            continue;
        }
        if visited.contains(&import.account.as_str()) {
            return true;
        }
        visited.push(&account.name);
        let local = import.local_subject();
        let next = if is_subset(&local, subject) {
            local.as_str()
        } else {
            subject
        };
        if let Some(source) = accounts.iter().find(|a| a.name == import.account) {
            if service_cycle_from(accounts, source, next, visited) {
                return true;
            }
        }
    }
    false
}
