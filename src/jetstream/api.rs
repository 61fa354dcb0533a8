//! `$JS.API`: the requests that manage streams and read their messages, answered with
//! nats-server's JSON (`type`, `error`, field names and order), and the direct gets that
//! streams with `allow_direct` answer with plain messages.

use std::sync::{Arc, Weak};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::config::{self, StreamConfig};
use super::errors::ApiError;
use super::headers;
use super::store::{PurgeRequest, StorageKind, StoredMsg};
use super::stream::{InfoDetail, StateInfo, Stream};
use super::{advisory, time, JetStream, JsAccount};
use crate::broker::{Fanout, InternalHandler, InternalMsg, Server};
use crate::log_warn;

/// nats-server's `JSApiNamesLimit` and `JSApiListLimit`.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;
const API_PREFIX: &str = "$JS.API.";

/// A request as the handlers see it.
struct Request<'a> {
    subject: &'a str,
    headers: &'a [u8],
    body: &'a [u8],
}

/// Answers `$JS.API.>` in one account; in an account without JetStream (on a server with
/// it), every request gets "JetStream not enabled for account".
#[derive(Debug)]
pub struct ApiHandler {
    pub account: Option<Weak<JsAccount>>,
}

impl InternalHandler for ApiHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return true;
        };
        // Direct gets are answered by the streams themselves; a stream without them leaves
        // the request to no one, which the requester learns as "no responders".
        if subject.starts_with("$JS.API.DIRECT.GET.") {
            return false;
        }
        let Some(account) = &self.account else {
            if let (Some(kind), Some(reply)) = (known_response_type(subject), msg.reply) {
                let response = respond(
                    &kind,
                    Err((ApiError::not_enabled_for_account(), Nothing {})),
                );
                server.publish_internal(fanout, msg.account, reply, None, b"", &response.body);
                let domain = JetStream::of(server).and_then(|js| js.config.domain.clone());
                audit(
                    server,
                    fanout,
                    msg,
                    subject,
                    domain.as_deref(),
                    &response.body,
                );
            }
            return true;
        };
        let Some(jsa) = account.upgrade() else {
            return false;
        };
        if let Some(rest) = subject.strip_prefix("$JS.API.CONSUMER.MSG.NEXT.") {
            let tokens: Vec<&str> = rest.split('.').collect();
            let [stream, name] = tokens.as_slice() else {
                return false;
            };
            let reply = msg.reply.and_then(|r| std::str::from_utf8(r).ok());
            let Some(out) = consumers::next(&jsa, reply, msg.payload, stream, name) else {
                return false;
            };
            for m in &out {
                server.publish_internal_to(
                    fanout,
                    msg.account,
                    m.to.as_bytes(),
                    m.subject.as_bytes(),
                    m.reply.as_deref().map(str::as_bytes),
                    &m.headers,
                    &m.payload,
                );
            }
            return true;
        }
        let req = Request {
            subject,
            headers: msg.headers,
            body: msg.payload,
        };
        let Some(response) = dispatch(server, &jsa, &req) else {
            return true;
        };
        if let Some(reply) = msg.reply {
            server.publish_internal(fanout, msg.account, reply, None, b"", &response.body);
        }
        audit(server, fanout, msg, subject, jsa.domain(), &response.body);
        // Counted after the answer, as nats-server does (an account info request does not
        // count itself), and a message found by STREAM.MSG.GET not at all.
        if response.counted {
            jsa.count_api(response.is_error);
        }
        true
    }
}

#[path = "api_consumer.rs"]
mod consumers;

/// The API audit advisory of one answered request, built only when someone listens.
fn audit(
    server: &Arc<Server>,
    fanout: &mut Fanout,
    msg: &InternalMsg<'_>,
    subject: &str,
    domain: Option<&str>,
    response: &[u8],
) {
    let wanted = |s: &str| advisory::listening(msg.account, s);
    let call = advisory::ApiCall {
        domain,
        subject,
        request: msg.payload,
        response,
    };
    if let Some(adv) = advisory::api_audit(&wanted, &server.name, &msg.account.name, call) {
        advisory::publish_in(server, fanout, msg.account, &adv);
    }
}

/// A serialized response, whether it carries an error, and whether it counts in the
/// account's API statistics.
struct Response {
    body: Vec<u8>,
    is_error: bool,
    counted: bool,
}

/// `{"type": ..., "error": ..., <body>}` in nats-server's field order.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ApiError>,
    #[serde(flatten)]
    body: T,
}

fn respond<T: Serialize>(kind: &str, result: Result<T, (ApiError, T)>) -> Response {
    let (error, body) = match result {
        Ok(body) => (None, body),
        Err((e, body)) => (Some(e), body),
    };
    let envelope = Envelope {
        kind,
        error: error.as_ref(),
        body,
    };
    Response {
        body: go_escaped(serde_json::to_vec(&envelope).unwrap_or_default()),
        is_error: error.is_some(),
        counted: true,
    }
}

/// Escapes `<`, `>` and `&` as Go's encoding/json does (`\u003e`), so responses match
/// nats-server's bytes. In serialized JSON these characters only occur inside strings.
pub fn go_escaped(json: Vec<u8>) -> Vec<u8> {
    if !json.iter().any(|b| matches!(b, b'<' | b'>' | b'&')) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    for b in json {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ => out.push(b),
        }
    }
    out
}

/// A response type whose body on error is just the envelope.
#[derive(Serialize, Default)]
struct Nothing {}

fn response_type(name: &str) -> String {
    format!("io.nats.jetstream.api.v1.{name}_response")
}

/// Routes a request by its subject; `None` for subjects nats-server does not answer.
fn dispatch(server: &Arc<Server>, jsa: &Arc<JsAccount>, req: &Request<'_>) -> Option<Response> {
    let rest = req.subject.strip_prefix(API_PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    let response = match tokens.as_slice() {
        ["INFO"] => account_info(jsa, req),
        ["STREAM", "CREATE", name] => stream_create(server, jsa, req, name),
        ["STREAM", "UPDATE", name] => stream_update(server, jsa, req, name),
        ["STREAM", "INFO", name] => stream_info(server, jsa, req, name),
        ["STREAM", "DELETE", name] => stream_delete(server, jsa, req, name),
        ["STREAM", "PURGE", name] => stream_purge(jsa, req, name),
        ["STREAM", "NAMES"] => stream_names(jsa, req),
        ["STREAM", "LIST"] => stream_list(jsa, req),
        ["STREAM", "MSG", "GET", name] => msg_get(jsa, req, name),
        ["STREAM", "MSG", "DELETE", name] => msg_delete(jsa, req, name),
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
            return consumers::create(server, jsa, req, &tokens[1..])
        }
        ["CONSUMER", "INFO", stream, name] => consumers::info(jsa, req, stream, name),
        ["CONSUMER", "DELETE", stream, name] => consumers::delete(server, jsa, req, stream, name),
        ["CONSUMER", "NAMES", stream] => consumers::names(jsa, req, stream),
        ["CONSUMER", "LIST", stream] => consumers::list(jsa, req, stream),
        ["CONSUMER", "PAUSE", stream, name] => consumers::pause(server, jsa, req, stream, name),
        ["CONSUMER", "UNPIN", stream, name] => consumers::unpin(jsa, req, stream, name),
        ["CONSUMER", "RESET", _, _] => consumers::not_served("consumer_reset", "consumer resets"),
        ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
            consumers::not_served("consumer_leader_stepdown", "clustering")
        }
        ["CONSUMER", ..] => return None,
        ["STREAM", "SNAPSHOT", _] => not_served("stream_snapshot", "stream snapshots"),
        ["STREAM", "RESTORE", _] => not_served("stream_restore", "stream restores"),
        ["STREAM", "LEADER", "STEPDOWN", _] | ["STREAM", "PEER", "REMOVE", _] => {
            not_served("stream_leader_stepdown", "clustering")
        }
        ["ACCOUNT", "PURGE", _] => not_served("account_purge", "account purges"),
        _ => return None,
    };
    Some(response)
}

/// The response type of an API subject nats-server answers, `None` for others.
fn known_response_type(subject: &str) -> Option<String> {
    let rest = subject.strip_prefix(API_PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    let name = match tokens.as_slice() {
        ["INFO"] => "account_info",
        ["STREAM", "CREATE", _] => "stream_create",
        ["STREAM", "UPDATE", _] => "stream_update",
        ["STREAM", "INFO", _] => "stream_info",
        ["STREAM", "DELETE", _] => "stream_delete",
        ["STREAM", "PURGE", _] => "stream_purge",
        ["STREAM", "NAMES"] => "stream_names",
        ["STREAM", "LIST"] => "stream_list",
        ["STREAM", "MSG", "GET", _] => "stream_msg_get",
        ["STREAM", "MSG", "DELETE", _] => "stream_msg_delete",
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => "consumer_create",
        ["CONSUMER", "INFO", _, _] => "consumer_info",
        ["CONSUMER", "DELETE", _, _] => "consumer_delete",
        ["CONSUMER", "NAMES", _] => "consumer_names",
        ["CONSUMER", "LIST", _] => "consumer_list",
        ["CONSUMER", "PAUSE", _, _] => "consumer_pause",
        ["CONSUMER", "UNPIN", _, _] => "consumer_unpin",
        _ => return None,
    };
    Some(response_type(name))
}

/// A request for something switchboard does not serve yet: an error, never silence.
fn not_served(kind: &str, what: &str) -> Response {
    let error = ApiError {
        code: 501,
        err_code: 10003,
        description: format!("{what} are not supported by switchboard yet"),
    };
    respond(&response_type(kind), Err((error, Nothing {})))
}

/// A `Nats-Required-Api-Level` above this server's.
fn requires_newer_api(req: &Request<'_>) -> bool {
    headers::get_str(req.headers, headers::REQUIRED_API_LEVEL)
        .and_then(|l| l.trim().parse::<u32>().ok())
        .is_some_and(|level| level > config::API_LEVEL)
}

/// nats-server's `isEmptyRequest`: no body, or `{}`.
fn is_empty_request(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return true;
    }
    matches!(
        serde_json::from_slice::<serde_json::Value>(trimmed),
        Ok(serde_json::Value::Object(m)) if m.is_empty()
    )
}

/// Whether the body looks like JSON that a handler should parse (an object or array).
fn is_json_object_or_array(body: &[u8]) -> bool {
    matches!(body.trim_ascii().first(), Some(b'{' | b'['))
}

/// Parses a request body as nats-server's decoder would: an empty body is the zero value,
/// values in a row are decoded one over the other, syntax errors read as Go's, and a `null`
/// leaves a field at its zero value (clients send `"consumer_limits": null`).
fn parse<T: for<'de> Deserialize<'de>>(
    jsa: &JsAccount,
    req: &Request<'_>,
    known: &[&str],
) -> Result<T, ApiError> {
    decode(req.body, Some(known)).map_err(|e| {
        log_warn!(
            "Invalid JetStream request '{} > {}': {}",
            jsa.name,
            req.subject,
            e
        );
        ApiError::invalid_json(e)
    })
}

/// `known` lists the fields a strict decoder accepts (nested ones as `outer.inner`); nats-
/// server refuses others in its default strict mode. `None` accepts anything, as a plain
/// `json.Unmarshal` (direct gets) does.
fn decode<T: for<'de> Deserialize<'de>>(body: &[u8], known: Option<&[&str]>) -> Result<T, String> {
    use serde_json::Value;
    super::gojson::check(body).map_err(|e| e.to_string())?;
    let mut merged = Value::Object(Default::default());
    for value in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        let value = value.map_err(|e| e.to_string())?;
        if let Some(known) = known {
            check_known(&value, known, "")?;
        }
        match (&mut merged, value) {
            (Value::Object(into), Value::Object(from)) => into.extend(from),
            (slot, other) => *slot = other,
        }
    }
    T::deserialize(without_nulls(merged)).map_err(|e| e.to_string())
}

/// Go's `DisallowUnknownFields`: `json: unknown field "x"`.
fn check_known(value: &serde_json::Value, known: &[&str], prefix: &str) -> Result<(), String> {
    let serde_json::Value::Object(map) = value else {
        return Ok(());
    };
    for (key, inner) in map {
        let path = format!("{prefix}{key}");
        let nested = format!("{path}.");
        if known.contains(&path.as_str()) {
            continue;
        }
        if known.iter().any(|k| k.starts_with(&nested)) {
            check_known(inner, known, &nested)?;
            continue;
        }
        return Err(format!("json: unknown field {key:?}"));
    }
    Ok(())
}

/// The fields of a stream create or update request (`StreamConfigRequest`).
const STREAM_CONFIG_FIELDS: &[&str] = &[
    "name",
    "description",
    "subjects",
    "retention",
    "max_consumers",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msgs_per_subject",
    "max_msg_size",
    "discard",
    "storage",
    "num_replicas",
    "no_ack",
    "duplicate_window",
    "placement",
    "mirror",
    "sources",
    "compression",
    "first_seq",
    "subject_transform.src",
    "subject_transform.dest",
    "republish.src",
    "republish.dest",
    "republish.headers_only",
    "allow_direct",
    "mirror_direct",
    "discard_new_per_subject",
    "sealed",
    "deny_delete",
    "deny_purge",
    "allow_rollup_hdrs",
    "consumer_limits.inactive_threshold",
    "consumer_limits.max_ack_pending",
    "allow_msg_ttl",
    "subject_delete_marker_ttl",
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "persist_mode",
    "allow_batched",
    "metadata",
    "pedantic",
];
const INFO_FIELDS: &[&str] = &["offset", "deleted_details", "subjects_filter"];
const LIST_FIELDS: &[&str] = &["offset", "subject"];
const PURGE_FIELDS: &[&str] = &["seq", "filter", "keep"];
const MSG_GET_FIELDS: &[&str] = &[
    "seq",
    "last_by_subj",
    "next_by_subj",
    "batch",
    "max_bytes",
    "start_time",
    "multi_last",
    "up_to_seq",
    "up_to_time",
    "no_hdr",
];
const MSG_DELETE_FIELDS: &[&str] = &["seq", "no_erase"];

/// The value with every `null` member of an object removed, at any depth.
pub(crate) fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Account info

#[derive(Serialize)]
struct AccountLimits {
    max_memory: i64,
    max_storage: i64,
    max_streams: i64,
    max_consumers: i64,
    max_ack_pending: i64,
    memory_max_stream_bytes: i64,
    storage_max_stream_bytes: i64,
    max_bytes_required: bool,
}

#[derive(Serialize)]
struct ApiStats {
    level: u32,
    total: u64,
    errors: u64,
}

#[derive(Serialize)]
struct AccountStats {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    streams: usize,
    consumers: usize,
    limits: AccountLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    api: ApiStats,
}

/// An account's usage and limits, as `$JS.API.INFO` and `/jsz` report them.
pub fn account_stats_json(jsa: &JsAccount) -> serde_json::Value {
    serde_json::to_value(account_stats(jsa)).unwrap_or_default()
}

fn account_stats(jsa: &JsAccount) -> AccountStats {
    use std::sync::atomic::Ordering::Relaxed;
    let l = &jsa.limits();
    AccountStats {
        memory: jsa.usage.get(StorageKind::Memory),
        storage: jsa.usage.get(StorageKind::File),
        reserved_memory: jsa.reserved(StorageKind::Memory),
        reserved_storage: jsa.reserved(StorageKind::File),
        streams: jsa.streams().len(),
        consumers: jsa.consumer_total(),
        limits: AccountLimits {
            max_memory: l.max_memory,
            max_storage: l.max_store,
            max_streams: l.max_streams,
            max_consumers: l.max_consumers,
            max_ack_pending: l.max_ack_pending,
            memory_max_stream_bytes: l.memory_max_stream_bytes,
            storage_max_stream_bytes: l.storage_max_stream_bytes,
            max_bytes_required: l.max_bytes_required,
        },
        domain: jsa.domain.clone(),
        api: ApiStats {
            level: config::API_LEVEL,
            total: jsa.api_total.load(Relaxed),
            errors: jsa.api_errors.load(Relaxed),
        },
    }
}

fn account_info(jsa: &JsAccount, req: &Request<'_>) -> Response {
    let kind = response_type("account_info");
    if requires_newer_api(req) {
        return respond(&kind, Err((ApiError::required_api_level(), Nothing {})));
    }
    respond(&kind, Ok(account_stats(jsa)))
}

// ---------------------------------------------------------------------------------------
// Streams

#[derive(Serialize)]
struct StreamInfo {
    config: StreamConfig,
    created: String,
    state: StateInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<super::source::SourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<super::source::SourceInfo>,
    ts: String,
}

#[derive(Serialize)]
struct ClusterInfo {
    leader: String,
}

fn info_of(
    jsa: &JsAccount,
    stream: &Stream,
    detail: &InfoDetail,
    dynamic: bool,
    with_domain: bool,
) -> (StreamInfo, usize) {
    let (state, total) = stream.state_info(detail);
    let cfg = stream.config();
    let config = if dynamic {
        cfg.with_dynamic_metadata()
    } else {
        cfg
    };
    let domain = with_domain.then(|| jsa.domain.clone()).flatten();
    let (mirror, sources) = jsa.links_info(&stream.name);
    (
        StreamInfo {
            config,
            created: time::format(stream.created),
            state,
            domain,
            cluster: None,
            mirror,
            sources,
            ts: time::format(time::now_nanos()),
        },
        total,
    )
}

#[derive(Serialize)]
struct CreateBody {
    #[serde(flatten)]
    info: Option<StreamInfo>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    did_create: bool,
}

/// Parses and checks a create or update request, without looking at existing streams.
fn requested_config(
    jsa: &JsAccount,
    req: &Request<'_>,
    name: &str,
) -> Result<(StreamConfig, bool), ApiError> {
    #[derive(Deserialize)]
    struct ConfigRequest {
        #[serde(flatten)]
        config: StreamConfig,
        #[serde(default)]
        pedantic: bool,
    }
    let request: ConfigRequest = parse(jsa, req, STREAM_CONFIG_FIELDS)?;
    let cfg = request.config;
    if cfg.name != name {
        return Err(ApiError::stream_mismatch());
    }
    if name.contains(['\\', '/']) {
        return Err(ApiError::name_contains_path_separators());
    }
    Ok((cfg, request.pedantic))
}

fn stream_create(
    server: &Arc<Server>,
    jsa: &Arc<JsAccount>,
    req: &Request<'_>,
    name: &str,
) -> Response {
    let kind = response_type("stream_create");
    let fail = |e: ApiError| {
        respond(
            &kind,
            Err((
                e,
                CreateBody {
                    info: None,
                    did_create: false,
                },
            )),
        )
    };
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let (cfg, pedantic) = match requested_config(jsa, req, name) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if cfg.sealed {
        return fail(ApiError::stream_invalid_config(
            "stream configuration for create can not be sealed",
        ));
    }
    if cfg.mirror_direct && cfg.mirror.is_none() {
        return fail(ApiError::stream_invalid_config(
            "stream has no mirror but does have mirror direct",
        ));
    }
    let mut cfg = match cfg.normalized(pedantic) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = check_origins(jsa, &mut cfg, pedantic) {
        return fail(e);
    }
    match create(server, jsa, cfg) {
        Ok(stream) => {
            let (info, _) = info_of(jsa, &stream, &InfoDetail::default(), true, false);
            respond(
                &kind,
                Ok(CreateBody {
                    info: Some(info),
                    did_create: true,
                }),
            )
        }
        Err(e) => fail(e),
    }
}

/// Creates a stream (or finds the same one): checks it against the account's other
/// streams and limits, opens its store and subscribes it.
fn create(
    server: &Arc<Server>,
    jsa: &Arc<JsAccount>,
    cfg: StreamConfig,
) -> Result<Arc<Stream>, ApiError> {
    if cfg.replicas > 1 {
        return Err(ApiError::replicas_not_supported());
    }
    if let Some(existing) = jsa.stream(&cfg.name) {
        if existing.config() == cfg {
            return Ok(existing);
        }
        return Err(ApiError::stream_name_exists());
    }
    let js = jsa.js().ok_or_else(ApiError::not_enabled)?;
    let others = jsa.streams();
    let max_streams = jsa.limits().max_streams;
    if max_streams > 0 && others.len() as i64 >= max_streams {
        return Err(ApiError::maximum_streams());
    }
    for other in &others {
        let ocfg = other.config();
        if ocfg
            .subjects
            .iter()
            .any(|o| cfg.subjects.iter().any(|s| config::subjects_collide(o, s)))
        {
            return Err(ApiError::stream_subject_overlap());
        }
    }
    check_stream_limits(jsa, &js, &cfg)?;
    let created = time::now_nanos();
    let (store, dir): (Box<dyn super::store::Store>, _) = match cfg.storage {
        config::Storage::Memory => (
            Box::new(super::store::memory::MemoryStore::new(cfg.first_seq.max(1))),
            None,
        ),
        config::Storage::File => {
            let dir = jsa.dir.join(&cfg.name);
            super::write_meta(&dir, &cfg, created).map_err(ApiError::stream_create)?;
            let store = jsa
                .open_file_store(&js, &dir)
                .map_err(ApiError::stream_create)?;
            (store, Some(dir))
        }
    };
    let mut store = store;
    if cfg.first_seq > 1 && store.state().last_seq == 0 {
        store
            .skip_to(cfg.first_seq)
            .map_err(ApiError::stream_create)?;
    }
    let stream = jsa.new_stream(&js, cfg, created, store, dir);
    jsa.attach(server, stream.clone());
    let (account, domain) = (&jsa.account, jsa.domain());
    advisory::stream_action(
        server,
        account,
        domain,
        &stream.name,
        advisory::Action::Create,
    );
    Ok(stream)
}

/// The checks of a mirror and of sources against the streams they read (`checkStreamCfg`):
/// message sizes, direct gets a mirror inherits, and cycles.
fn check_origins(jsa: &JsAccount, cfg: &mut StreamConfig, pedantic: bool) -> Result<(), ApiError> {
    let lookup = |name: &str| jsa.stream(name).map(|s| s.config());
    let too_big = |origin: &StreamConfig| {
        cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size
    };
    if let Some(m) = cfg.mirror.as_ref().filter(|m| m.external.is_none()) {
        if let Some(origin) = lookup(&m.name) {
            if too_big(&origin) {
                return Err(ApiError::mirror_max_message_size_too_big());
            }
            if pedantic && cfg.mirror_direct != origin.allow_direct {
                return Err(ApiError::pedantic(
                    "origin stream has direct get set, mirror has it disabled",
                ));
            }
            cfg.mirror_direct = origin.allow_direct;
        }
    }
    for src in cfg.sources.iter().filter(|s| s.external.is_none()) {
        if lookup(&src.name).is_some_and(|origin| too_big(&origin)) {
            return Err(ApiError::source_max_message_size_too_big());
        }
    }
    // A stream reachable from itself through sources (whose filter meets its subjects) or
    // mirrors.
    let mut to_visit = vec![cfg.clone()];
    let mut visited: Vec<String> = Vec::new();
    let cycle = || Err(ApiError::stream_invalid_config("detected cycle"));
    while !to_visit.is_empty() {
        let c = to_visit.remove(0);
        visited.push(c.name.clone());
        for src in c.sources.iter().filter(|s| s.external.is_none()) {
            if visited.contains(&src.name) {
                let overlaps = src.filter_subject.is_empty()
                    || c.subjects
                        .iter()
                        .any(|s| config::subjects_collide(s, &src.filter_subject));
                if overlaps {
                    return cycle();
                }
            } else if let Some(next) = lookup(&src.name) {
                to_visit.push(next);
            }
        }
        if let Some(m) = c.mirror.as_ref().filter(|m| m.external.is_none()) {
            if visited.contains(&m.name) {
                return cycle();
            }
            if let Some(next) = lookup(&m.name) {
                to_visit.push(next);
            }
        }
    }
    Ok(())
}

/// The account's limits on stream sizes and the server's room for what they reserve.
fn check_stream_limits(
    jsa: &JsAccount,
    js: &super::JetStream,
    cfg: &StreamConfig,
) -> Result<(), ApiError> {
    let l = &jsa.limits();
    let (per_stream, kind) = match cfg.storage {
        config::Storage::Memory => (l.memory_max_stream_bytes, StorageKind::Memory),
        config::Storage::File => (l.storage_max_stream_bytes, StorageKind::File),
    };
    if l.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(ApiError::max_bytes_required());
    }
    if per_stream > 0 && cfg.max_bytes > per_stream {
        return Err(ApiError::max_stream_bytes_exceeded());
    }
    if cfg.max_bytes > 0 {
        let (server_max, account_max) = match kind {
            StorageKind::Memory => (js.config.max_memory, l.max_memory),
            StorageKind::File => (js.config.max_store, l.max_store),
        };
        let reserved = jsa.reserved(kind) + cfg.max_bytes as u64;
        if server_max >= 0 && reserved > server_max as u64 {
            return Err(match kind {
                StorageKind::Memory => ApiError::memory_resources_exceeded(),
                StorageKind::File => ApiError::storage_resources_exceeded(),
            });
        }
        if account_max >= 0 && reserved > account_max as u64 {
            return Err(ApiError::stream_general("insufficient resources"));
        }
    }
    Ok(())
}

fn stream_update(
    server: &Arc<Server>,
    jsa: &Arc<JsAccount>,
    req: &Request<'_>,
    name: &str,
) -> Response {
    let kind = response_type("stream_update");
    let fail = |e: ApiError| respond(&kind, Err((e, Nothing {})));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    #[derive(Deserialize)]
    struct ConfigRequest {
        #[serde(flatten)]
        config: StreamConfig,
        #[serde(default)]
        pedantic: bool,
    }
    let request: ConfigRequest = match parse(jsa, req, STREAM_CONFIG_FIELDS) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut cfg = match request.config.normalized(request.pedantic) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if cfg.name != name {
        return fail(ApiError::stream_mismatch());
    }
    if let Err(e) = check_origins(jsa, &mut cfg, request.pedantic) {
        return fail(e);
    }
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let old = stream.config();
    let cfg = match old.updated(&cfg) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    for other in jsa.streams().iter().filter(|s| s.name != name) {
        let ocfg = other.config();
        if ocfg
            .subjects
            .iter()
            .any(|o| cfg.subjects.iter().any(|s| config::subjects_collide(o, s)))
        {
            return fail(ApiError::stream_subject_overlap());
        }
    }
    if let Some(dir) = &stream.dir {
        if let Err(e) = super::write_meta(dir, &cfg, stream.created) {
            return fail(ApiError::stream_update(e));
        }
    }
    let resubscribe = cfg.subjects != old.subjects || cfg.allow_direct != old.allow_direct;
    let relink = cfg.mirror != old.mirror || cfg.sources != old.sources;
    if let Err(e) = stream.update(cfg) {
        return fail(e);
    }
    if resubscribe {
        jsa.resubscribe(server, name);
    }
    if relink {
        jsa.restart_links(server, name);
    }
    let (account, domain) = (&jsa.account, jsa.domain());
    advisory::stream_action(server, account, domain, name, advisory::Action::Modify);
    let (info, _) = info_of(jsa, &stream, &InfoDetail::default(), true, true);
    respond(&kind, Ok(info))
}

#[derive(Serialize, Default)]
struct Paged<T: Serialize> {
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(flatten)]
    body: T,
}

impl<T: Serialize> Paged<T> {
    /// The page of `all` a names or list request asks for: from its offset (clamped), at
    /// most `limit` items, turned into the response's body.
    fn page<I>(all: &[I], offset: i64, limit: usize, body: impl FnOnce(&[I]) -> T) -> Self {
        let total = all.len();
        let offset = (offset.max(0) as usize).min(total);
        let end = offset.saturating_add(limit).min(total);
        Paged {
            total,
            offset,
            limit,
            body: body(&all[offset..end]),
        }
    }
}

fn stream_info(server: &Arc<Server>, jsa: &JsAccount, req: &Request<'_>, name: &str) -> Response {
    let kind = response_type("stream_info");
    let fail = |e: ApiError| respond(&kind, Err((e, Paged::<Option<StreamInfo>>::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let mut detail = InfoDetail::default();
    if is_json_object_or_array(req.body) {
        #[derive(Deserialize)]
        struct InfoRequest {
            #[serde(default)]
            deleted_details: bool,
            #[serde(default)]
            subjects_filter: String,
            #[serde(default)]
            offset: i64,
        }
        match parse::<InfoRequest>(jsa, req, INFO_FIELDS) {
            Ok(r) => {
                detail.deleted = r.deleted_details;
                detail.subjects_filter = Some(r.subjects_filter);
                detail.offset = r.offset.max(0) as usize;
            }
            Err(e) => return fail(e),
        }
    }
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let (mut info, total) = info_of(jsa, &stream, &detail, true, true);
    info.cluster = Some(ClusterInfo {
        leader: server.name.clone(),
    });
    let paged = if info.state.subjects.is_some() {
        Paged {
            total,
            offset: detail.offset.min(total),
            limit: super::stream::MAX_SUBJECT_DETAILS,
            body: Some(info),
        }
    } else {
        Paged {
            total: 0,
            offset: 0,
            limit: 0,
            body: Some(info),
        }
    };
    respond(&kind, Ok(paged))
}

#[derive(Serialize, Default)]
struct Success {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

fn stream_delete(server: &Arc<Server>, jsa: &JsAccount, req: &Request<'_>, name: &str) -> Response {
    let kind = response_type("stream_delete");
    let fail = |e: ApiError| respond(&kind, Err((e, Success::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    if !is_empty_request(req.body) {
        return fail(ApiError::not_empty_request());
    }
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let consumers: Vec<String> = stream.consumers().iter().map(|c| c.name.clone()).collect();
    if let Err(e) = jsa.remove_stream(name) {
        return fail(ApiError::stream_delete(e));
    }
    // As nats-server: each consumer's delete advisory, then the stream's.
    let (account, domain) = (&jsa.account, jsa.domain());
    for consumer in &consumers {
        let at = advisory::ConsumerRef {
            domain,
            stream: name,
            consumer,
        };
        advisory::consumer_action(server, account, at, advisory::Action::Delete);
    }
    advisory::stream_action(server, account, domain, name, advisory::Action::Delete);
    respond(&kind, Ok(Success { success: true }))
}

#[derive(Serialize, Default)]
struct Purged {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
    purged: u64,
}

fn stream_purge(jsa: &JsAccount, req: &Request<'_>, name: &str) -> Response {
    let kind = response_type("stream_purge");
    let fail = |e: ApiError| respond(&kind, Err((e, Purged::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let mut purge = PurgeRequest::default();
    if is_json_object_or_array(req.body) {
        #[derive(Deserialize)]
        struct Purge {
            #[serde(default)]
            seq: u64,
            #[serde(default)]
            filter: String,
            #[serde(default)]
            keep: u64,
        }
        match parse::<Purge>(jsa, req, PURGE_FIELDS) {
            Ok(p) => {
                if p.seq > 0 && p.keep > 0 {
                    return fail(ApiError::bad_request());
                }
                purge.seq = (p.seq > 0).then_some(p.seq);
                purge.keep = (p.keep > 0).then_some(p.keep);
                purge.filter = (!p.filter.is_empty()).then_some(p.filter);
            }
            Err(e) => return fail(e),
        }
    }
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let cfg = stream.config();
    if cfg.sealed {
        return fail(ApiError::stream_sealed());
    }
    if cfg.deny_purge {
        return fail(ApiError::stream_purge_failed("stream purge not permitted"));
    }
    match stream.purge(&purge) {
        Ok(purged) => respond(
            &kind,
            Ok(Purged {
                success: true,
                purged,
            }),
        ),
        Err(e) => fail(e),
    }
}

#[derive(Serialize, Default)]
struct Names {
    streams: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct ListRequest {
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    subject: String,
}

/// The account's streams, by name, whose subjects can match `filter` (all when empty).
fn filtered_streams(jsa: &JsAccount, filter: &str) -> Vec<Arc<Stream>> {
    jsa.streams()
        .into_iter()
        .filter(|s| {
            filter.is_empty()
                || s.config()
                    .subjects
                    .iter()
                    .any(|subj| config::subjects_collide(filter, subj))
        })
        .collect()
}

fn list_request(jsa: &JsAccount, req: &Request<'_>) -> Result<ListRequest, ApiError> {
    if is_json_object_or_array(req.body) {
        parse(jsa, req, LIST_FIELDS)
    } else {
        Ok(ListRequest::default())
    }
}

fn stream_names(jsa: &JsAccount, req: &Request<'_>) -> Response {
    let kind = response_type("stream_names");
    let fail = |e: ApiError| respond(&kind, Err((e, Paged::<Names>::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let request = match list_request(jsa, req) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let names: Vec<String> = filtered_streams(jsa, &request.subject)
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let paged = Paged::page(&names, request.offset, NAMES_LIMIT, |page| Names {
        streams: (!page.is_empty()).then(|| page.to_vec()),
    });
    respond(&kind, Ok(paged))
}

#[derive(Serialize, Default)]
struct List {
    streams: Vec<StreamInfo>,
}

fn stream_list(jsa: &JsAccount, req: &Request<'_>) -> Response {
    let kind = response_type("stream_list");
    let fail = |e: ApiError| respond(&kind, Err((e, Paged::<List>::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let request = match list_request(jsa, req) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let streams = filtered_streams(jsa, &request.subject);
    let paged = Paged::page(&streams, request.offset, LIST_LIMIT, |page| List {
        streams: page
            .iter()
            .map(|s| info_of(jsa, s, &InfoDetail::default(), false, true).0)
            .collect(),
    });
    respond(&kind, Ok(paged))
}

// ---------------------------------------------------------------------------------------
// Messages

#[derive(Deserialize, Default)]
struct MsgGetRequest {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    last_by_subj: String,
    #[serde(default)]
    next_by_subj: String,
    #[serde(default)]
    batch: i64,
    #[serde(default)]
    max_bytes: i64,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    multi_last: Vec<String>,
    #[serde(default)]
    up_to_seq: u64,
    #[serde(default)]
    up_to_time: Option<String>,
    #[serde(default)]
    no_hdr: bool,
}

#[derive(Serialize)]
struct MessageJson {
    subject: String,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    time: String,
}

#[derive(Serialize, Default)]
struct MessageBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<MessageJson>,
}

fn msg_get(jsa: &JsAccount, req: &Request<'_>, name: &str) -> Response {
    let kind = response_type("stream_msg_get");
    let fail = |e: ApiError| respond(&kind, Err((e, MessageBody::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    if is_empty_request(req.body) {
        return fail(ApiError::bad_request());
    }
    let r: MsgGetRequest = match parse(jsa, req, MSG_GET_FIELDS) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // A time Go cannot read fails its JSON decoding, before anything else is checked.
    if let Some(text) = r.start_time.as_deref().filter(|t| time::parse(t).is_none()) {
        return fail(ApiError::invalid_json(format!(
            "parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {text:?} as \"2006\""
        )));
    }
    if r.batch > 0 || r.max_bytes > 0 {
        return fail(ApiError::bad_request());
    }
    let start_time = r.start_time.as_deref().and_then(time::parse);
    let (last, next) = (!r.last_by_subj.is_empty(), !r.next_by_subj.is_empty());
    let by_time = start_time.is_some();
    let nothing_asked = r.seq == 0 && !last && !next && !by_time;
    if nothing_asked || (r.seq > 0 && (last || by_time)) || (last && (by_time || next)) {
        return fail(ApiError::bad_request());
    }
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let seq = match start_time {
        Some(t) => stream.seq_for_time(t).unwrap_or(u64::MAX),
        None => r.seq,
    };
    let found = if seq > 0 && !next {
        stream.load(seq)
    } else if next {
        stream.load_next(&r.next_by_subj, seq)
    } else {
        stream.load_last(&r.last_by_subj)
    };
    match found {
        Ok(Some(m)) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let message = MessageJson {
                hdrs: (!r.no_hdr && !m.headers.is_empty()).then(|| b64.encode(&m.headers)),
                data: (!m.payload.is_empty()).then(|| b64.encode(&m.payload)),
                time: time::format(m.time),
                subject: m.subject,
                seq: m.seq,
            };
            let mut response = respond(
                &kind,
                Ok(MessageBody {
                    message: Some(message),
                }),
            );
            response.counted = false;
            response
        }
        _ => fail(ApiError::no_message_found()),
    }
}

fn msg_delete(jsa: &JsAccount, req: &Request<'_>, name: &str) -> Response {
    let kind = response_type("stream_msg_delete");
    let fail = |e: ApiError| respond(&kind, Err((e, Success::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    if is_empty_request(req.body) {
        return fail(ApiError::bad_request());
    }
    #[derive(Deserialize)]
    struct Delete {
        #[serde(default)]
        seq: u64,
        #[serde(default)]
        no_erase: bool,
    }
    let d: Delete = match parse(jsa, req, MSG_DELETE_FIELDS) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let Some(stream) = jsa.stream(name) else {
        return fail(ApiError::stream_not_found());
    };
    let cfg = stream.config();
    if cfg.sealed {
        return fail(ApiError::stream_sealed());
    }
    if cfg.deny_delete {
        return fail(ApiError::stream_msg_delete_failed(
            "message delete not permitted",
        ));
    }
    // nats-server's file store fails a delete past its end ("stream store EOF") and below
    // its first sequence ("no message found"); a gap inside is "not found", as the memory
    // store says of anything it does not hold.
    if stream.kind == StorageKind::File {
        let state = stream.state();
        if d.seq > state.last_seq {
            return fail(ApiError::stream_msg_delete_failed("stream store EOF"));
        }
        if d.seq < state.first_seq {
            return fail(ApiError::stream_msg_delete_failed("no message found"));
        }
    }
    match stream.remove(d.seq, !d.no_erase) {
        Ok(true) => respond(&kind, Ok(Success { success: true })),
        Ok(false) => fail(ApiError::sequence_not_found(d.seq)),
        Err(e) => fail(e),
    }
}

// ---------------------------------------------------------------------------------------
// Direct get

/// Answers `$JS.API.DIRECT.GET.<stream>[.<subject>]` for a stream with `allow_direct`.
#[derive(Debug)]
pub struct DirectGetHandler {
    pub stream: Weak<Stream>,
}

impl InternalHandler for DirectGetHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let (Some(stream), Some(reply)) = (self.stream.upgrade(), msg.reply) else {
            return true;
        };
        let subject = String::from_utf8_lossy(msg.subject);
        for (headers, payload) in direct_get(server, &stream, &subject, msg) {
            server.publish_internal(fanout, msg.account, reply, None, &headers, &payload);
        }
        true
    }
}

type Reply = (Vec<u8>, bytes::Bytes);

fn status_reply(code: u16, text: &str) -> Vec<Reply> {
    vec![(headers::status(code, text, &[]), bytes::Bytes::new())]
}

/// The replies to one direct get, in order.
fn direct_get(
    server: &Server,
    stream: &Stream,
    subject: &str,
    msg: &InternalMsg<'_>,
) -> Vec<Reply> {
    let prefix = format!("$JS.API.DIRECT.GET.{}", stream.name);
    let key = subject
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|k| !k.is_empty());
    if headers::get_str(msg.headers, headers::REQUIRED_API_LEVEL)
        .and_then(|l| l.trim().parse::<u32>().ok())
        .is_some_and(|l| l > config::API_LEVEL)
    {
        return status_reply(412, "Required Api Level");
    }
    let mut req = MsgGetRequest::default();
    if key.is_none() && msg.payload.is_empty() {
        return status_reply(408, "Empty Request");
    }
    if !msg.payload.is_empty() {
        match decode::<MsgGetRequest>(msg.payload, None) {
            Ok(r) => req = r,
            Err(_) => return status_reply(408, "Malformed Request"),
        }
    }
    // Go's decoder refuses a time it cannot read, as it refuses bad JSON.
    let unreadable = |t: &Option<String>| t.as_deref().is_some_and(|t| time::parse(t).is_none());
    if unreadable(&req.start_time) || unreadable(&req.up_to_time) {
        return status_reply(408, "Malformed Request");
    }
    let start_time = req.start_time.as_deref().and_then(time::parse);
    let up_to_time = req.up_to_time.as_deref().and_then(time::parse);
    if let Some(key) = key {
        if !req.last_by_subj.is_empty()
            || !req.next_by_subj.is_empty()
            || !req.multi_last.is_empty()
            || req.seq != 0
            || req.batch != 0
            || start_time.is_some()
            || req.up_to_seq != 0
            || up_to_time.is_some()
        {
            return status_reply(408, "Bad Request");
        }
        req.last_by_subj = key.to_string();
    } else {
        let (last, next) = (!req.last_by_subj.is_empty(), !req.next_by_subj.is_empty());
        if req.seq == 0 && !last && !next && req.multi_last.is_empty() && start_time.is_none() {
            return status_reply(408, "Empty Request");
        }
        let by_time = start_time.is_some();
        let multi = !req.multi_last.is_empty();
        let conflicting = (req.seq > 0 && (last || by_time))
            || (last && (by_time || next || req.batch > 0 || multi))
            || (next && multi)
            || (req.up_to_seq > 0 && up_to_time.is_some());
        if conflicting {
            return status_reply(408, "Bad Request");
        }
    }
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes as usize
    } else {
        server.opts.max_pending as usize
    };
    if !req.multi_last.is_empty() {
        return multi_last(stream, &req, up_to_time, max_bytes);
    }
    let mut seq = match start_time {
        Some(t) => stream.seq_for_time(t).unwrap_or(u64::MAX),
        None => req.seq,
    };
    let batched = req.batch > 0;
    let batch = if batched { req.batch as usize } else { 1 };
    let filter = if req.next_by_subj.is_empty() {
        ">"
    } else {
        req.next_by_subj.as_str()
    };
    let mut pending = if batched {
        stream.num_pending(filter, seq)
    } else {
        0
    };
    let mut out = Vec::new();
    let mut last_seq = 0u64;
    let mut sent = 0usize;
    for i in 0..batch {
        let found = if seq > 0 && req.next_by_subj.is_empty() {
            if i == 0 && !batched {
                stream.load(seq)
            } else {
                stream.load_next(">", seq)
            }
        } else if !req.next_by_subj.is_empty() {
            stream.load_next(&req.next_by_subj, seq)
        } else {
            stream.load_last(&req.last_by_subj)
        };
        let m = match found {
            Ok(Some(m)) => m,
            _ => {
                if batch > 1 && i > 0 {
                    break;
                }
                return status_reply(404, "Message Not Found");
            }
        };
        seq = m.seq + 1;
        let headers = if req.no_hdr {
            Vec::new()
        } else if batched {
            pending = pending.saturating_sub(1);
            direct_headers(&stream.name, &m, Some((pending, last_seq)))
        } else {
            direct_headers(&stream.name, &m, None)
        };
        sent += m.subject.len() + m.headers.len() + m.payload.len();
        last_seq = m.seq;
        out.push((headers, m.payload));
        if sent >= max_bytes {
            break;
        }
    }
    if batched {
        let eob = headers::status(
            204,
            "EOB",
            &[
                (headers::NUM_PENDING, pending.to_string()),
                (headers::LAST_SEQUENCE, last_seq.to_string()),
            ],
        );
        out.push((eob, bytes::Bytes::new()));
    }
    out
}

/// The headers a direct get answers with: the message's own plus where it came from.
fn direct_headers(stream: &str, m: &StoredMsg, batch: Option<(u64, u64)>) -> Vec<u8> {
    let mut h = if m.headers.is_empty() {
        b"NATS/1.0\r\n\r\n".to_vec()
    } else {
        m.headers.to_vec()
    };
    h = headers::append(&h, headers::STREAM, stream);
    h = headers::append(&h, headers::SUBJECT, &m.subject);
    h = headers::append(&h, headers::SEQUENCE, &m.seq.to_string());
    h = headers::append(&h, headers::TIME_STAMP, &time::format(m.time));
    if let Some((pending, last)) = batch {
        h = headers::append(&h, headers::NUM_PENDING, &pending.to_string());
        h = headers::append(&h, headers::LAST_SEQUENCE, &last.to_string());
    }
    h
}

/// The last message of each subject matching `multi_last`, then an end-of-batch status.
fn multi_last(
    stream: &Stream,
    req: &MsgGetRequest,
    up_to_time: Option<i64>,
    max_bytes: usize,
) -> Vec<Reply> {
    const MAX_RESULTS: usize = 1024;
    let state = stream.state();
    let mut up_to = req.up_to_seq;
    if let Some(t) = up_to_time {
        let seq = stream.seq_for_time(t).unwrap_or(state.last_seq + 1);
        if seq <= state.first_seq {
            return status_reply(404, "No Results");
        }
        up_to = seq - 1;
    }
    if up_to == 0 {
        up_to = state.last_seq;
    }
    let found = stream.multi_last(&req.multi_last, req.seq, up_to);
    if found.is_empty() {
        return status_reply(404, "No Results");
    }
    if found.len() > MAX_RESULTS {
        return status_reply(413, "Too Many Results");
    }
    let mut out = Vec::new();
    let mut last_seq = 0u64;
    let mut sent = 0usize;
    let total = found.len() as u64;
    let mut pending = total;
    for (n, m) in found.into_iter().enumerate() {
        pending = total - n as u64 - 1;
        let h = direct_headers(&stream.name, &m, Some((pending, last_seq)));
        last_seq = m.seq;
        sent += m.subject.len() + m.headers.len() + m.payload.len();
        out.push((h, m.payload));
        if sent >= max_bytes || (req.batch > 0 && out.len() >= req.batch as usize) {
            break;
        }
    }
    let eob = headers::status(
        204,
        "EOB",
        &[
            (headers::NUM_PENDING, pending.to_string()),
            (headers::LAST_SEQUENCE, last_seq.to_string()),
            (headers::UP_TO_SEQUENCE, up_to.to_string()),
        ],
    );
    out.push((eob, bytes::Bytes::new()));
    out
}
