//! `$JS.API.CONSUMER.*`: create (all three subject forms and the durable one), info, names,
//! list, delete, and pull requests (`MSG.NEXT`), answered as nats-server 2.15.1 answers
//! them (`jsConsumerCreateRequest` and its siblings in jetstream_api.go).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    is_empty_request, is_json_object_or_array, parse, requires_newer_api, respond, response_type,
    Nothing, Paged, Request, Response, Success, LIST_LIMIT, NAMES_LIMIT,
};
use crate::broker::Server;
use crate::jetstream::consumer::config::ConsumerConfig;
use crate::jetstream::consumer::info::{ConfigShown, ConsumerInfo};
use crate::jetstream::consumer::state::{consumer_dir, write_meta, ConsumerMeta};
use crate::jetstream::consumer::{self, Consumer};
use crate::jetstream::errors::ApiError;
use crate::jetstream::stream::Stream;
use crate::jetstream::{advisory, time, JsAccount};

fn info_of(stream: &Stream, c: &Consumer, dynamic: bool) -> ConsumerInfo {
    let shown = if dynamic {
        ConfigShown::Dynamic
    } else {
        ConfigShown::Stored
    };
    ConsumerInfo::of(stream, c, shown)
}

#[derive(Serialize, Default)]
struct InfoBody {
    #[serde(flatten)]
    info: Option<ConsumerInfo>,
}

fn fail_info(kind: &str, e: ApiError) -> Response {
    respond(kind, Err((e, InfoBody::default())))
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(default)]
    stream_name: String,
    #[serde(default)]
    config: Option<ConsumerConfig>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    pedantic: bool,
}

pub(super) fn create(
    server: &Arc<Server>,
    jsa: &Arc<JsAccount>,
    req: &Request<'_>,
    tokens: &[&str],
) -> Option<Response> {
    let kind = response_type("consumer_create");
    let fail = |e: ApiError| Some(fail_info(&kind, e));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let request: CreateRequest =
        match parse(jsa, req, crate::jetstream::consumer::config::CREATE_FIELDS) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
    let mut cfg = request.config.unwrap_or_default();
    // `CONSUMER.CREATE.<stream>[.<name>[.<filter>]]` or `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    let (stream_name, name, filter, durable_form) = match tokens {
        ["CREATE", stream] => (*stream, cfg.name.clone(), String::new(), false),
        ["CREATE", stream, name] => (*stream, name.to_string(), String::new(), false),
        ["CREATE", stream, name, filter @ ..] => {
            (*stream, name.to_string(), filter.join("."), false)
        }
        ["DURABLE", "CREATE", stream, durable] => {
            (*stream, durable.to_string(), String::new(), true)
        }
        ["DURABLE", "CREATE", ..] => {
            return fail(err(
                400,
                10016,
                "consumer expected to be durable but no durable name set in subject",
            ))
        }
        _ => return None,
    };
    let legacy_ephemeral = tokens.len() == 2;
    if stream_name != request.stream_name {
        return fail(ApiError::stream_mismatch());
    }
    if !name.is_empty() && name.contains(['\\', '/']) {
        return fail(err(
            400,
            10127,
            "Consumer name can not contain path separators",
        ));
    }
    if durable_form {
        if cfg.durable.is_empty() {
            return fail(err(
                400,
                10018,
                "consumer expected to be durable but a durable name was not set",
            ));
        }
        if name != cfg.durable {
            return fail(err(
                400,
                10017,
                "consumer name in subject does not match durable name in request",
            ));
        }
        cfg.name = name.clone();
    } else if !legacy_ephemeral {
        if !cfg.durable.is_empty() && name != cfg.durable {
            return fail(err(
                400,
                10017,
                "consumer name in subject does not match durable name in request",
            ));
        }
        cfg.name = name.clone();
    }
    if legacy_ephemeral && !cfg.durable.is_empty() {
        return fail(err(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        ));
    }
    if !filter.is_empty() && !cfg.filter_subjects.is_empty() {
        return fail(err(
            400,
            10137,
            "consumer with multiple subject filters cannot use subject based API",
        ));
    }
    if !filter.is_empty() && cfg.filter_subject != filter {
        return fail(err(
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        ));
    }
    if cfg.replicas > 1 {
        return fail(ApiError::replicas_not_supported());
    }
    let Some(stream) = jsa.stream(stream_name) else {
        return fail(ApiError::stream_not_found());
    };
    if let Some(t) = &cfg.opt_start_time {
        match time::parse(t) {
            Some(ns) => cfg.opt_start_time = Some(time::format(ns)),
            None => {
                return fail(ApiError::invalid_json(format!(
                    "parsing time {t:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {t:?} as \"2006\""
                )))
            }
        }
    }
    cfg.set_static_metadata();
    let action = match request.action.as_str() {
        "" => Action::CreateOrUpdate,
        "create" => Action::Create,
        "update" => Action::Update,
        _ => return fail(ApiError::invalid_json("invalid consumer action")),
    };
    match add_consumer(server, jsa, &stream, cfg, action, request.pedantic) {
        Ok(c) => {
            let info = info_of(&stream, &c, true);
            Some(respond(&kind, Ok(InfoBody { info: Some(info) })))
        }
        Err(e) => fail(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CreateOrUpdate,
    Create,
    Update,
}

fn err(code: u16, err_code: u16, description: &str) -> ApiError {
    ApiError {
        code,
        err_code,
        description: description.to_string(),
    }
}

fn create_error(why: impl std::fmt::Display) -> ApiError {
    ApiError {
        code: 500,
        err_code: 10012,
        description: why.to_string(),
    }
}

/// Random ephemeral names as nats-server makes them: 8 characters of a hash alphabet.
fn ephemeral_name() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Whether the filters of a work-queue consumer overlap another consumer's
/// (`partitionUnique`).
fn partition_unique(stream: &Stream, name: &str, filters: &[String]) -> bool {
    for other in stream.consumers() {
        if other.name == name {
            continue;
        }
        let of = other.filters();
        if of.is_empty() {
            return false;
        }
        for a in filters {
            for b in &of {
                if crate::jetstream::config::subjects_collide(a, b) {
                    return false;
                }
            }
        }
    }
    true
}

/// `checkNewConsumerConfig`: what an update may not change.
///
/// `bound`: the consumer's present deliver subject has a subscriber; it may not move then.
fn check_update(old: &ConsumerConfig, new: &ConsumerConfig, bound: bool) -> Result<(), ApiError> {
    if old == new {
        return Ok(());
    }
    let refuse = |why: &str| Err(create_error(why));
    if old.deliver_policy != new.deliver_policy {
        return refuse("deliver policy can not be updated");
    }
    if old.memory_storage != new.memory_storage {
        return refuse("storage type can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return refuse("start sequence can not be updated");
    }
    if old.opt_start_time != new.opt_start_time {
        return refuse("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return refuse("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return refuse("replay policy can not be updated");
    }
    if old.heartbeat != new.heartbeat {
        return refuse("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return refuse("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return refuse("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return refuse("can not update push consumer to pull based");
        }
        if bound {
            return Err(err(400, 10013, "consumer name already in use"));
        }
    }
    if old.max_waiting != new.max_waiting {
        return refuse("max waiting can not be updated");
    }
    if old.filters() != new.filters() {
        return refuse("filter subjects can not be updated by switchboard yet");
    }
    Ok(())
}

/// `addConsumerWithAssignment` on one server: defaults, checks, an existing consumer of
/// the name (the same: returned; different: updated or refused), limits, work-queue
/// rules, then the new consumer with its files and its task.
fn add_consumer(
    server: &Arc<Server>,
    jsa: &Arc<JsAccount>,
    stream: &Arc<Stream>,
    cfg: ConsumerConfig,
    action: Action,
    pedantic: bool,
) -> Result<Arc<Consumer>, ApiError> {
    let scfg = stream.config();
    let mut cfg = cfg.normalized(&scfg, jsa.limits().max_ack_pending, pedantic)?;
    let wanted = if cfg.is_durable() {
        cfg.durable.clone()
    } else {
        cfg.name.clone()
    };
    let work_queue = scfg.retention == crate::jetstream::config::Retention::WorkQueue;
    if !wanted.is_empty() {
        if let Some(existing) = stream.consumer(&wanted) {
            let old = existing.config();
            if action == Action::Create && old != cfg {
                return Err(err(400, 10148, "consumer already exists"));
            }
            if work_queue && !partition_unique(stream, &wanted, &cfg.filters()) {
                return Err(err(
                    400,
                    10100,
                    "filtered consumer not unique on workqueue stream",
                ));
            }
            let bound = !old.deliver_subject.is_empty() && existing.push_bound();
            check_update(&old, &cfg, bound)?;
            if old != cfg {
                if let (Some(dir), Some(_)) = (&existing.dir, &stream.dir) {
                    let meta = ConsumerMeta {
                        name: existing.name.clone(),
                        config: cfg.clone(),
                        created: existing.created,
                    };
                    write_meta(dir, &meta).map_err(create_error)?;
                }
                existing.set_config(cfg);
            }
            return Ok(existing);
        }
    }
    if action == Action::Update {
        return Err(err(400, 10149, "consumer does not exist"));
    }
    let mut maxc = scfg.max_consumers;
    let acc_max = jsa.limits().max_consumers;
    if maxc <= 0 || (acc_max > 0 && acc_max < maxc) {
        maxc = acc_max;
    }
    if maxc > 0 && stream.consumer_count() as i64 >= maxc {
        return Err(err(400, 10026, "maximum consumers limit reached"));
    }
    if work_queue {
        if cfg.ack_policy != crate::jetstream::consumer::config::AckPolicy::Explicit {
            return Err(err(400, 10098, "workqueue stream requires explicit ack"));
        }
        if cfg.deliver_policy != crate::jetstream::consumer::config::DeliverPolicy::All {
            return Err(err(
                400,
                10101,
                "consumer must be deliver all on workqueue stream",
            ));
        }
        if stream.consumer_count() > 0 {
            let filters = cfg.filters();
            if filters.is_empty() {
                return Err(err(
                    400,
                    10099,
                    "multiple non-filtered consumers not allowed on workqueue stream",
                ));
            }
            if !partition_unique(stream, &wanted, &filters) {
                return Err(err(
                    400,
                    10100,
                    "filtered consumer not unique on workqueue stream",
                ));
            }
        }
    }
    let name = if cfg.is_durable() {
        cfg.durable.clone()
    } else if !cfg.name.is_empty() {
        cfg.name.clone()
    } else {
        let mut n = ephemeral_name();
        while stream.consumer(&n).is_some() {
            n = ephemeral_name();
        }
        cfg.name = n.clone();
        n
    };
    if !cfg.is_durable() && cfg.inactive_threshold <= 0 {
        cfg.inactive_threshold = crate::jetstream::consumer::config::INACTIVE_THRESHOLD_DEFAULT;
    }
    let created = time::now_nanos();
    // A consumer in memory (`mem_storage`, as ordered consumers ask) keeps no files, even
    // on a file stream.
    let dir = match &stream.dir {
        Some(d) if !cfg.memory_storage => Some(consumer_dir(d, &name)),
        _ => None,
    };
    if let Some(dir) = &dir {
        let meta = ConsumerMeta {
            name: name.clone(),
            config: cfg.clone(),
            created,
        };
        write_meta(dir, &meta).map_err(|e| {
            crate::log_warn!(
                "Consumer create failed for '{} > {} > {}': {}",
                jsa.name,
                stream.name,
                cfg.durable,
                e
            );
            create_error("error creating store for consumer")
        })?;
    }
    let c = Arc::new(Consumer::new(name, stream, cfg, created, dir));
    jsa.start_consumer(server, stream, c.clone());
    let at = advisory::ConsumerRef {
        domain: jsa.domain(),
        stream: &stream.name,
        consumer: &c.name,
    };
    advisory::consumer_action(server, &jsa.account, at, advisory::Action::Create);
    Ok(c)
}

pub(super) fn info(jsa: &JsAccount, req: &Request<'_>, stream: &str, name: &str) -> Response {
    let kind = response_type("consumer_info");
    if requires_newer_api(req) {
        return fail_info(&kind, ApiError::required_api_level());
    }
    if !is_empty_request(req.body) {
        return fail_info(&kind, ApiError::not_empty_request());
    }
    let Some(s) = jsa.stream(stream) else {
        return fail_info(&kind, ApiError::stream_not_found());
    };
    let Some(c) = s.consumer(name) else {
        return fail_info(&kind, err(404, 10014, "consumer not found"));
    };
    let info = info_of(&s, &c, true);
    respond(&kind, Ok(InfoBody { info: Some(info) }))
}

pub(super) fn delete(
    server: &Arc<Server>,
    jsa: &JsAccount,
    req: &Request<'_>,
    stream: &str,
    name: &str,
) -> Response {
    let kind = response_type("consumer_delete");
    let fail = |e: ApiError| respond(&kind, Err((e, Success::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    if !is_empty_request(req.body) {
        return fail(ApiError::not_empty_request());
    }
    if jsa.stream(stream).is_none() {
        return fail(ApiError::stream_not_found());
    }
    match jsa.remove_consumer(stream, name) {
        Ok(true) => {
            let at = advisory::ConsumerRef {
                domain: jsa.domain(),
                stream,
                consumer: name,
            };
            advisory::consumer_action(server, &jsa.account, at, advisory::Action::Delete);
            respond(&kind, Ok(Success { success: true }))
        }
        Ok(false) => fail(err(404, 10014, "consumer not found")),
        Err(e) => fail(ApiError {
            code: 500,
            err_code: 10012,
            description: e.to_string(),
        }),
    }
}

#[derive(Deserialize, Default)]
struct ListRequest {
    #[serde(default)]
    offset: i64,
}

const LIST_FIELDS: &[&str] = &["offset"];

fn list_request(jsa: &JsAccount, req: &Request<'_>) -> Result<ListRequest, ApiError> {
    if is_json_object_or_array(req.body) {
        parse(jsa, req, LIST_FIELDS)
    } else {
        Ok(ListRequest::default())
    }
}

#[derive(Serialize, Default)]
struct Names {
    consumers: Vec<String>,
}

pub(super) fn names(jsa: &JsAccount, req: &Request<'_>, stream: &str) -> Response {
    let kind = response_type("consumer_names");
    let fail = |e: ApiError| respond(&kind, Err((e, Paged::<Names>::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let request = match list_request(jsa, req) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let Some(s) = jsa.stream(stream) else {
        return fail(ApiError::stream_not_found());
    };
    let all: Vec<String> = s.consumers().iter().map(|c| c.name.clone()).collect();
    let paged = Paged::page(&all, request.offset, NAMES_LIMIT, |page| Names {
        consumers: page.to_vec(),
    });
    respond(&kind, Ok(paged))
}

#[derive(Serialize, Default)]
struct List {
    consumers: Vec<ConsumerInfo>,
}

pub(super) fn list(jsa: &JsAccount, req: &Request<'_>, stream: &str) -> Response {
    let kind = response_type("consumer_list");
    let fail = |e: ApiError| respond(&kind, Err((e, Paged::<List>::default())));
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let request = match list_request(jsa, req) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let Some(s) = jsa.stream(stream) else {
        return fail(ApiError::stream_not_found());
    };
    let all = s.consumers();
    let paged = Paged::page(&all, request.offset, LIST_LIMIT, |page| List {
        consumers: page.iter().map(|c| info_of(&s, c, false)).collect(),
    });
    respond(&kind, Ok(paged))
}

/// `CONSUMER.MSG.NEXT.<stream>.<consumer>`: handed to the consumer; `None` when there is
/// no such consumer (nobody answers, as in nats-server, where each consumer subscribes),
/// else what to answer at once.
pub(super) fn next(
    jsa: &JsAccount,
    reply: Option<&str>,
    body: &[u8],
    stream: &str,
    name: &str,
) -> Option<Vec<consumer::Outbound>> {
    let s = jsa.stream(stream)?;
    let c = s.consumer(name)?;
    let Some(reply) = reply else {
        return Some(Vec::new());
    };
    Some(c.request_next(reply, body, &s))
}

#[derive(Deserialize, Default)]
struct PauseRequest {
    #[serde(default)]
    pause_until: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Default)]
struct PauseBody {
    paused: bool,
    pause_until: String,
    #[serde(skip_serializing_if = "is_zero")]
    pause_remaining: u64,
}

/// `CONSUMER.PAUSE.<stream>.<consumer>` (`jsConsumerPauseRequest`): pauses deliveries until
/// `pause_until`, or resumes them when it is missing or zero.
pub(super) fn pause(
    _server: &Arc<Server>,
    jsa: &JsAccount,
    req: &Request<'_>,
    stream: &str,
    name: &str,
) -> Response {
    let kind = response_type("consumer_pause");
    let fail = |e: ApiError| {
        let zero = PauseBody {
            pause_until: time::ZERO.to_string(),
            ..PauseBody::default()
        };
        respond(&kind, Err((e, zero)))
    };
    let mut request = PauseRequest::default();
    if is_json_object_or_array(req.body) {
        match parse::<PauseRequest>(jsa, req, &["pause_until"]) {
            Ok(r) => request = r,
            Err(e) => return fail(e),
        }
    }
    if requires_newer_api(req) {
        return fail(ApiError::required_api_level());
    }
    let Some(s) = jsa.stream(stream) else {
        return fail(ApiError::stream_not_found());
    };
    let Some(c) = s.consumer(name) else {
        return fail(err(404, 10014, "consumer not found"));
    };
    let until = match request.pause_until.as_deref() {
        None => 0,
        Some(text) => match time::parse(text) {
            Some(t) => t,
            None => {
                return fail(ApiError::invalid_json(format!(
                    "parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse"
                )))
            }
        },
    };
    let mut cfg = c.config();
    // Go's zero time resumes, as no time does.
    cfg.pause_until = (until > 0).then(|| time::format(until));
    cfg.set_static_metadata();
    if let (Some(dir), Some(_)) = (&c.dir, &s.dir) {
        let meta = ConsumerMeta {
            name: c.name.clone(),
            config: cfg.clone(),
            created: c.created,
        };
        if let Err(e) = write_meta(dir, &meta) {
            return fail(err(
                500,
                10104,
                &format!("error creating store for consumer: {e}"),
            ));
        }
    }
    c.set_config(cfg);
    let remaining = until.saturating_sub(time::now_nanos());
    respond(
        &kind,
        Ok(PauseBody {
            paused: remaining > 0,
            pause_until: time::format(until.max(0)),
            pause_remaining: u64::try_from(remaining).unwrap_or(0),
        }),
    )
}

/// `CONSUMER.UNPIN.<stream>.<consumer>` (`jsConsumerUnpinRequest`): the pinned client of a
/// priority group loses its pin; the next request gets a new one.
pub(super) fn unpin(jsa: &JsAccount, req: &Request<'_>, stream: &str, name: &str) -> Response {
    let kind = response_type("consumer_unpin");
    let fail = |e: ApiError| respond(&kind, Err((e, Nothing {})));
    #[derive(Deserialize, Default)]
    struct UnpinRequest {
        #[serde(default)]
        group: String,
    }
    let request = match crate::jetstream::gojson::check(req.body)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice::<UnpinRequest>(req.body).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return fail(ApiError::invalid_json(e)),
    };
    if request.group.is_empty() {
        return fail(ApiError::invalid_json("consumer group not specified"));
    }
    if !crate::jetstream::consumer::config::is_valid_group_name(&request.group) {
        return fail(err(
            400,
            10162,
            "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
        ));
    }
    let Some(s) = jsa.stream(stream) else {
        return fail(ApiError::stream_not_found());
    };
    let Some(c) = s.consumer(name) else {
        return fail(err(404, 10014, "consumer not found"));
    };
    if !c.unpin(&request.group) {
        return fail(err(
            400,
            10160,
            "Provided priority group does not exist for this consumer",
        ));
    }
    respond(&kind, Ok(Nothing {}))
}

/// Requests about consumers that switchboard does not serve yet.
pub(super) fn not_served(kind: &str, what: &str) -> Response {
    respond(
        &response_type(kind),
        Err((
            ApiError {
                code: 501,
                err_code: 10003,
                description: format!("{what} are not supported by switchboard yet"),
            },
            Nothing {},
        )),
    )
}
