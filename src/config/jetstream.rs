//! `jetstream`, `store_dir` and an account's `jetstream`, read as nats-server 2.15 reads them.
//!
//! * `jetstream` is `true`/`false`, `enabled`/`enable`/`disabled`/`disable` (any case), or a
//!   block, which turns JetStream on unless it says `enabled: false`. Turning JetStream off
//!   keeps its settings ([`Options::jetstream_disabled`]), so `-js` can turn it on again.
//! * `store_dir` may be given at the top level or in the block, not both.
//! * Sizes (`max_memory_store`, `max_file_store`) are integers, with the file's size suffixes
//!   (`1G` is 10^9, `1GB` and `1GiB` are 2^30), or strings ending in `K`, `M`, `G` or `T`
//!   (upper case; powers of 1024: `"10G"` is 10 GiB); `""` is 0. A negative size means the
//!   default (75% of memory, the disk's free space).
//! * `sync_interval` is `always` or a duration string; an integer is seconds, with a warning.
//! * Keys nats-server knows but switchboard does not serve (encryption, clustering limits,
//!   `strict`, ...) are warned about; unknown keys are warned about as elsewhere.
//!
//! Error texts are nats-server's where it has them.

use std::path::PathBuf;
use std::time::Duration;

use super::apply::{get_bool, get_string, invalid, type_error, Applier};
use super::value::{Kind, Value};
use super::ConfigError;
use crate::duration::parse_go_duration;
use crate::options::{AccountJetStreamLimits, Options, SyncPolicy, DEFAULT_SYNC_INTERVAL};

/// Keys of the `jetstream {}` block that nats-server accepts and switchboard does not serve.
const UNSUPPORTED_JETSTREAM: &[&str] = &[
    "strict",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

/// Go's name of the type a value would have in nats-server (`%T`).
fn go_type(v: &Value) -> &'static str {
    match &v.kind {
        Kind::String(_) => "string",
        Kind::Integer(_) => "int64",
        Kind::Float(_) => "float64",
        Kind::Bool(_) => "bool",
        Kind::DateTime(_) => "time.Time",
        Kind::Array(_) => "[]interface {}",
        Kind::Map(_) => "map[string]interface {}",
    }
}

/// A value as Go's `%v` prints it, near enough for error messages.
fn go_text(v: &Value) -> String {
    match &v.kind {
        Kind::String(s) | Kind::DateTime(s) => s.clone(),
        Kind::Integer(n) => n.to_string(),
        Kind::Float(f) => f.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Array(_) => "[...]".to_string(),
        Kind::Map(_) => "map[...]".to_string(),
    }
}

/// `enabled`/`enable` -> true, `disabled`/`disable` -> false, in any case.
fn enabled_word(key: &str, v: &Value, s: &str) -> Result<bool, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "enabled" | "enable" => Ok(true),
        "disabled" | "disable" => Ok(false),
        _ => Err(invalid(
            key,
            &v.pos,
            format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
        )),
    }
}

fn not_a_definition(key: &str, v: &Value) -> ConfigError {
    invalid(
        key,
        &v.pos,
        format!(
            "Expected map, bool or string to define JetStream, got {}",
            go_type(v)
        ),
    )
}

/// nats-server's `getStorageSize`: an integer as it is (the file's size suffixes already
/// applied), or a string of decimal digits ending in `K`, `M`, `G` or `T` (powers of 1024);
/// `""` is 0. `name` starts the error message, as in nats-server (`max_mem_store ...`).
pub fn storage_size(key: &str, name: &str, v: &Value) -> Result<i64, ConfigError> {
    let fail = |why: String| invalid(key, &v.pos, format!("{name} {why}"));
    let s = match &v.kind {
        Kind::Integer(n) => return Ok(*n),
        Kind::String(s) => s,
        _ => return Err(fail("must be int64 or string".into())),
    };
    let Some(suffix) = s.chars().next_back() else {
        return Ok(0);
    };
    let prefix = &s[..s.len() - suffix.len_utf8()];
    let num: i64 = prefix.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        fail(format!("strconv.ParseInt: parsing \"{prefix}\": {why}"))
    })?;
    let shift = match suffix {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => {
            return Err(fail(
                "sizes defined as strings must end in K, M, G, T".into(),
            ))
        }
    };
    // Go lets this overflow silently; an error is kinder.
    num.checked_mul(1i64 << shift)
        .ok_or_else(|| fail(format!("size \"{s}\" is too big")))
}

/// A size as [`crate::options::JetStreamOptions`] keeps it: negative means the default.
fn size_limit(key: &str, name: &str, v: &Value) -> Result<Option<i64>, ConfigError> {
    let n = storage_size(key, name, v)?;
    Ok((n >= 0).then_some(n))
}

/// A store directory: a string; empty means none.
fn store_dir(key: &str, v: &Value) -> Result<Option<PathBuf>, ConfigError> {
    let s = get_string(key, v)?;
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// Sets the store directory, refusing a second one from the file as nats-server does.
fn set_store_dir(opts: &mut Options, key: &str, v: &Value) -> Result<(), ConfigError> {
    let dir = store_dir(key, v)?;
    let settings = opts.jetstream_settings();
    if settings.store_dir.is_some() {
        return Err(invalid(key, &v.pos, "Duplicate 'store_dir' configuration"));
    }
    settings.store_dir = dir;
    Ok(())
}

/// `domain`: empty means none; otherwise checked as nats-server checks it when it starts.
fn domain(key: &str, v: &Value) -> Result<Option<String>, ConfigError> {
    let d = get_string(key, v)?;
    if d.is_empty() {
        return Ok(None);
    }
    let api = format!("$JS.{d}.API.>");
    if !valid_subject(&api) {
        return Err(invalid(
            key,
            &v.pos,
            format!("invalid domain name: derived \"{api}\" is not a valid subject"),
        ));
    }
    if d.contains(['.', '*', '>', ' ', '\t', '\r', '\n', '\x0c']) {
        return Err(invalid(
            key,
            &v.pos,
            "invalid domain name: may not contain ., * or >",
        ));
    }
    Ok(Some(d))
}

/// nats-server's `IsValidSubject`: no empty tokens, nothing after `>`, no white space.
fn valid_subject(s: &str) -> bool {
    let mut after_fwc = false;
    for t in s.split('.') {
        if t.is_empty() || after_fwc {
            return false;
        }
        if t.contains([' ', '\t', '\r', '\n', '\x0c']) {
            return false;
        }
        after_fwc = t == ">";
    }
    !s.is_empty()
}

/// `sync_interval` / `sync`: `always`, a duration string, or seconds with a warning. Zero
/// means the default interval, as nats-server's file store takes it.
fn sync(a: &mut Applier, key: &str, name: &str, v: &Value) -> Result<SyncPolicy, ConfigError> {
    let nanos: i128 = match &v.kind {
        Kind::String(s) if s.eq_ignore_ascii_case("always") => return Ok(SyncPolicy::Always),
        Kind::String(s) => parse_go_duration(s)
            .map_err(|e| invalid(key, &v.pos, format!("error parsing {name}: time: {e}")))?,
        Kind::Integer(n) => {
            a.warn(&v.pos, format!("{name} should be converted to a duration"));
            i128::from(*n) * 1_000_000_000
        }
        _ => return Err(type_error(key, v, "\"always\" or a duration string")),
    };
    if nanos < 0 {
        return Err(invalid(key, &v.pos, format!("{name} can not be negative")));
    }
    Ok(SyncPolicy::Interval(if nanos == 0 {
        DEFAULT_SYNC_INTERVAL
    } else {
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }))
}

/// The top-level `store_dir` / `storedir`: sets the directory without turning JetStream on.
pub(super) fn top_store_dir(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    set_store_dir(a.opts, key, v)
}

/// The top-level `jetstream`.
pub(super) fn server(a: &mut Applier, key: &str, v: &Value) -> Result<(), ConfigError> {
    let on = match &v.kind {
        Kind::Bool(b) => *b,
        Kind::String(s) => enabled_word(key, v, s)?,
        Kind::Map(map) => {
            let mut on = true;
            for e in map.entries() {
                let path = format!("{key}.{}", e.key);
                let (k, v) = (path.as_str(), &e.value);
                match e.key.to_ascii_lowercase().as_str() {
                    "store" | "store_dir" | "storedir" => set_store_dir(a.opts, k, v)?,
                    "sync" | "sync_interval" => {
                        let policy = sync(a, k, &e.key, v)?;
                        a.opts.jetstream_settings().sync = policy;
                    }
                    "max_memory_store" | "max_mem_store" | "max_mem" => {
                        a.opts.jetstream_settings().max_memory = size_limit(k, "max_mem_store", v)?;
                    }
                    "max_file_store" | "max_file" => {
                        a.opts.jetstream_settings().max_store = size_limit(k, "max_file_store", v)?;
                    }
                    "domain" => a.opts.jetstream_settings().domain = domain(k, v)?,
                    "enable" | "enabled" => on = get_bool(k, v)?,
                    lower if UNSUPPORTED_JETSTREAM.contains(&lower) => a.unsupported(&e.key_pos, k),
                    _ if e.used_as_variable => {}
                    _ => a.unknown(&e.key_pos, k),
                }
            }
            on
        }
        _ => return Err(not_a_definition(key, v)),
    };
    a.opts.set_jetstream_enabled(on);
    Ok(())
}

/// An account's `jetstream`: `true`, `enabled` (all limits -1), `false`, `disabled`, or a
/// block of limits, where a limit left out is -1.
pub(super) fn account(
    a: &mut Applier,
    key: &str,
    v: &Value,
) -> Result<Option<AccountJetStreamLimits>, ConfigError> {
    let map = match &v.kind {
        Kind::Bool(b) => return Ok(b.then(Default::default)),
        Kind::String(s) => return Ok(enabled_word(key, v, s)?.then(Default::default)),
        Kind::Map(map) => map,
        _ => return Err(not_a_definition(key, v)),
    };
    let mut limits = AccountJetStreamLimits::default();
    for e in map.entries() {
        let path = format!("{key}.{}", e.key);
        let (k, v) = (path.as_str(), &e.value);
        let size = || {
            v.as_i64().ok_or_else(|| {
                invalid(
                    k,
                    &v.pos,
                    format!(
                        "Expected a parseable size for {:?}, got {}",
                        e.key,
                        go_text(v)
                    ),
                )
            })
        };
        match e.key.to_ascii_lowercase().as_str() {
            "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = size()?,
            "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                limits.max_store = size()?;
            }
            "max_streams" | "streams" => limits.max_streams = size()?,
            "max_consumers" | "consumers" => limits.max_consumers = size()?,
            "max_ack_pending" => limits.max_ack_pending = size()?,
            "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                limits.memory_max_stream_bytes = size()?;
            }
            "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                limits.storage_max_stream_bytes = size()?;
            }
            "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                limits.max_bytes_required = v.as_bool().ok_or_else(|| {
                    invalid(
                        k,
                        &v.pos,
                        format!(
                            "Expected a parseable bool for {:?}, got {}",
                            e.key,
                            go_text(v)
                        ),
                    )
                })?;
            }
            "cluster_traffic" => {
                if !matches!(v.as_str(), Some("system" | "owner" | "")) {
                    return Err(invalid(
                        k,
                        &v.pos,
                        format!(
                            "Expected 'system' or 'owner' string value for {:?}, got {}",
                            e.key,
                            go_text(v)
                        ),
                    ));
                }
                a.unsupported(&e.key_pos, k);
            }
            _ if e.used_as_variable => {}
            _ => a.unknown(&e.key_pos, k),
        }
    }
    Ok(Some(limits))
}
