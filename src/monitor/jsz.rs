//! `/jsz` and the `jetstream` section of `/varz`: JetStream's configuration, usage and API
//! counters, per account and per stream, with nats-server's field names, order, types and
//! omissions (its `JSInfo`, `AccountDetail`, `StreamDetail` and `JetStreamVarz`).
//!
//! On one server every stream is its own leader: `leader-only` and `stream-leader-only`
//! filter nothing, `cluster` names this server as leader, and `raft=1` counts every stream
//! in `streams_leader` and every consumer in `consumers_leader`. `consumers=1` (which implies `streams=1`) adds each stream's
//! `consumer_detail`: the consumers' infos (nats-server's `ConsumerInfo`), with their
//! configurations only under `config=1`. `direct-consumers=1` adds nothing (switchboard has
//! no direct consumers). A mirror's or a source's state shows as `mirror` and `sources`.
//! Streams, consumers and accounts are listed by name (nats-server lists them in map order,
//! unless it pages accounts).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::format::GoTime;
use super::query::{BadRequest, Query};
use crate::broker::server::Server;
use crate::jetstream::config::{StreamConfig, API_LEVEL};
use crate::jetstream::consumer::info::{ConfigShown, ConsumerInfo};
use crate::jetstream::source::SourceInfo;
use crate::jetstream::store::StorageKind;
use crate::jetstream::stream::{InfoDetail, StateInfo};
use crate::jetstream::time;
use crate::jetstream::{JetStream, JsAccount};
use crate::options::{SyncPolicy, DEFAULT_SYNC_INTERVAL};

/// nats-server's default `limit` of `/jsz` (accounts listed).
pub const DEFAULT_LIMIT: i64 = 1024;
/// nats-server 2.15's default consumers per stream, the one JetStream limit it reports
/// unless configured otherwise (`limits.default_max_consumers`).
pub const DEFAULT_MAX_CONSUMERS: i64 = 1000;

/// `/jsz`'s query options (nats-server's `JSzOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JszOptions {
    /// `acc`: the one account to detail (takes precedence over `accounts`, `offset`, `limit`).
    pub account: String,
    pub accounts: bool,
    pub streams: bool,
    pub consumers: bool,
    pub direct_consumers: bool,
    pub config: bool,
    pub leader_only: bool,
    pub offset: i64,
    pub limit: i64,
    pub raft: bool,
    pub stream_leader_only: bool,
}

impl JszOptions {
    /// Decodes the query in nats-server's order, so the first bad value is the one reported.
    pub fn from_query(q: &Query) -> Result<Self, BadRequest> {
        let accounts = q.bool("accounts")?;
        let streams = q.bool("streams")?;
        let consumers = q.bool("consumers")?;
        let direct_consumers = q.bool("direct-consumers")?;
        let config = q.bool("config")?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let leader_only = q.bool("leader-only")?;
        let raft = q.bool("raft")?;
        let stream_leader_only = q.bool("stream-leader-only")?;
        Ok(JszOptions {
            account: q.get("acc").to_string(),
            accounts,
            streams,
            consumers,
            direct_consumers,
            config,
            leader_only,
            offset,
            limit,
            raft,
            stream_leader_only,
        })
    }
}

/// nats-server's `JetStreamAPIStats`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub inflight: u64,
}

/// nats-server's `JetStreamStats`: usage of the server (or, in an account's detail, of the
/// account, with `accounts`, `ha_assets` and `api.level` left at 0).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct JetStreamStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub ha_assets: usize,
    pub api: ApiStats,
}

/// nats-server's `JetStreamConfig` (without JetStream: only the two zero limits).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JetStreamConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub store_dir: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub sync_interval: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub sync_always: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// True when both limits were given above zero (nats-server's non-dynamic start path).
    #[serde(skip_serializing_if = "is_false")]
    pub compress_ok: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub strict: bool,
}

/// nats-server's `JSLimitOpts`, as it reports them when none is configured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct JsLimits {
    pub default_max_consumers: i64,
}

impl Default for JsLimits {
    fn default() -> Self {
        JsLimits {
            default_max_consumers: DEFAULT_MAX_CONSUMERS,
        }
    }
}

/// `cluster` of a stream on one server: this server leads it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    pub leader: String,
}

/// nats-server's `StreamDetail`.
#[derive(Debug, Clone, Serialize)]
pub struct StreamDetail {
    pub name: String,
    pub created: String,
    pub cluster: ClusterInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<StreamConfig>,
    pub state: StateInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumer_detail: Vec<ConsumerInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<SourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceInfo>,
}

/// nats-server's `AccountDetail`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetail {
    pub name: String,
    pub id: String,
    #[serde(flatten)]
    pub stats: JetStreamStats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stream_detail: Vec<StreamDetail>,
}

/// `/jsz` (nats-server's `JSInfo`).
#[derive(Debug, Clone, Serialize)]
pub struct Jsz {
    #[serde(flatten)]
    pub stats: JetStreamStats,
    pub server_id: String,
    pub now: GoTime,
    #[serde(skip_serializing_if = "is_false")]
    pub disabled: bool,
    pub config: JetStreamConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
    pub streams: usize,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub streams_leader: usize,
    pub consumers: usize,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub consumers_leader: usize,
    pub messages: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_details: Vec<AccountDetail>,
    pub total: usize,
}

/// The `jetstream` object of `/varz` (nats-server's `JetStreamVarz`): `{}` without JetStream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JetStreamVarz {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JetStreamConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<JetStreamStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// What nats-server answers `/jsz?leader-only=1` with when JetStream is off (400).
pub const NOT_LEADER: &str = "filtered response: not leader";

/// `/jsz`. `Err` is nats-server's 400 for `leader-only` without JetStream.
pub fn jsz(server: &Server, opts: &JszOptions, now: SystemTime) -> Result<Jsz, BadRequest> {
    let mut out = Jsz {
        stats: JetStreamStats::default(),
        server_id: server.id.clone(),
        now: GoTime(now),
        disabled: false,
        config: JetStreamConfig::default(),
        limits: None,
        streams: 0,
        streams_leader: 0,
        consumers: 0,
        consumers_leader: 0,
        messages: 0,
        bytes: 0,
        account_details: Vec::new(),
        total: 0,
    };
    let Some(js) = JetStream::of(server) else {
        if opts.leader_only {
            return Err(BadRequest(NOT_LEADER.to_string()));
        }
        out.disabled = true;
        return Ok(out);
    };
    let streams = opts.streams || opts.consumers;
    let list_accounts = opts.accounts || (streams && opts.account.is_empty());
    let offset = usize::try_from(opts.offset.max(0)).unwrap_or(usize::MAX);
    let limit = if opts.limit == 0 {
        DEFAULT_LIMIT
    } else {
        opts.limit
    };

    let accounts = js.accounts();
    out.stats = stats(&js, &accounts);
    out.config = config(server, &js);
    out.limits = Some(JsLimits::default());
    out.total = accounts.len();
    for a in &accounts {
        for s in a.streams() {
            let st = s.state();
            out.streams += 1;
            out.consumers += s.consumer_count();
            out.messages += st.msgs;
            out.bytes += st.bytes;
        }
    }
    if opts.raft {
        // No stream has a Raft node here: each counts as its own leader.
        out.streams_leader = out.streams;
        out.consumers_leader = out.consumers;
    }

    let chosen: Vec<&Arc<JsAccount>> =
        if let Some(a) = accounts.iter().find(|a| a.name == opts.account) {
            vec![a]
        } else if list_accounts {
            // `js.accounts()` is by name already.
            match usize::try_from(limit) {
                Ok(limit) if limit > 0 => accounts.iter().skip(offset).take(limit).collect(),
                _ => accounts.iter().collect(),
            }
        } else {
            Vec::new()
        };
    out.account_details = chosen
        .into_iter()
        .map(|a| account_detail(server, a, streams, opts.consumers, opts.config))
        .collect();
    Ok(out)
}

/// One account's JetStream (nats-server's `JszAccount`, what the system account's
/// `$SYS.REQ.ACCOUNT.<acc>.JSZ` answers); `Err` holds nats-server's texts.
pub fn account(server: &Server, opts: &JszOptions) -> Result<AccountDetail, String> {
    let js = JetStream::of(server).ok_or("jetstream not enabled")?;
    let name = &opts.account;
    if super::accountz::find_account(server, name).is_none() {
        return Err(format!("account {name:?} not found"));
    }
    let jsa = js
        .account(name)
        .ok_or_else(|| format!("account {name:?} not jetstream enabled"))?;
    // Unlike `/jsz`, `consumer` here does not imply `streams` (nats-server's JszAccount).
    Ok(account_detail(
        server,
        &jsa,
        opts.streams,
        opts.consumers,
        opts.config,
    ))
}

/// The `jetstream` section of `/varz`.
pub fn varz(server: &Server) -> JetStreamVarz {
    let Some(js) = JetStream::of(server) else {
        return JetStreamVarz::default();
    };
    JetStreamVarz {
        config: Some(config(server, &js)),
        stats: Some(stats(&js, &js.accounts())),
        limits: Some(JsLimits::default()),
    }
}

/// The server's usage: bytes stored, bytes reserved by streams' `max_bytes`, API counters.
fn stats(js: &JetStream, accounts: &[Arc<JsAccount>]) -> JetStreamStats {
    let reserved = |kind| accounts.iter().map(|a| a.reserved(kind)).sum();
    JetStreamStats {
        memory: js.used(StorageKind::Memory),
        storage: js.used(StorageKind::File),
        reserved_memory: reserved(StorageKind::Memory),
        reserved_storage: reserved(StorageKind::File),
        accounts: accounts.len(),
        ha_assets: 0,
        api: ApiStats {
            level: API_LEVEL,
            total: js.api_total.load(Ordering::Relaxed),
            errors: js.api_errors.load(Ordering::Relaxed),
            inflight: 0,
        },
    }
}

fn config(server: &Server, js: &JetStream) -> JetStreamConfig {
    let c = &js.config;
    let (sync_interval, sync_always) = match c.sync {
        SyncPolicy::Interval(every) => (every, false),
        SyncPolicy::Always => (DEFAULT_SYNC_INTERVAL, true),
    };
    let compress_ok =
        server.opts.jetstream.as_ref().is_some_and(|o| {
            o.max_memory.is_some_and(|n| n > 0) && o.max_store.is_some_and(|n| n > 0)
        });
    JetStreamConfig {
        max_memory: c.max_memory,
        max_storage: c.max_store,
        store_dir: c.store_dir.display().to_string(),
        sync_interval: u64::try_from(sync_interval.as_nanos()).unwrap_or(u64::MAX),
        sync_always,
        domain: c.domain.clone().unwrap_or_default(),
        compress_ok,
        strict: true,
    }
}

/// One account: its usage, its limits as reservations (-1 shows as 2^64-1, as nats-server's
/// unsigned conversion does) and, when asked, its streams.
fn account_detail(
    server: &Server,
    a: &JsAccount,
    streams: bool,
    consumers: bool,
    with_config: bool,
) -> AccountDetail {
    let stream_detail = if streams {
        a.streams()
            .iter()
            .map(|s| {
                let (mirror, sources) = a.links_info(&s.name);
                let consumer_detail = if consumers {
                    let mut all = s.consumers();
                    all.sort_by(|x, y| x.name.cmp(&y.name));
                    all.iter()
                        .map(|c| {
                            let shown = if with_config {
                                ConfigShown::Stored
                            } else {
                                ConfigShown::Omitted
                            };
                            ConsumerInfo::of(s, c, shown)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                StreamDetail {
                    name: s.name.clone(),
                    created: time::format(s.created),
                    cluster: ClusterInfo {
                        leader: server.name.clone(),
                    },
                    config: with_config.then(|| s.config()),
                    state: s.state_info(&InfoDetail::default()).0,
                    consumer_detail,
                    mirror,
                    sources,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    AccountDetail {
        name: a.name.clone(),
        id: a.name.clone(),
        stats: JetStreamStats {
            memory: a.usage.get(StorageKind::Memory),
            storage: a.usage.get(StorageKind::File),
            reserved_memory: a.limits().max_memory as u64,
            reserved_storage: a.limits().max_store as u64,
            accounts: 0,
            ha_assets: 0,
            api: ApiStats {
                level: 0,
                total: a.api_total.load(Ordering::Relaxed),
                errors: a.api_errors.load(Ordering::Relaxed),
                inflight: 0,
            },
        },
        stream_detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_decode_in_nats_servers_order() {
        let q = Query::parse(Some("acc=A&streams=true&offset=-2&limit=5&raft=1"));
        let o = JszOptions::from_query(&q).unwrap_or_default();
        assert_eq!(o.account, "A");
        assert!(o.streams && o.raft && !o.accounts && !o.config);
        assert_eq!((o.offset, o.limit), (-2, 5));
        let bad = Query::parse(Some("limit=x&accounts=maybe"));
        assert_eq!(
            JszOptions::from_query(&bad),
            Err(BadRequest(
                "Error decoding boolean for 'accounts': strconv.ParseBool: parsing \"maybe\": \
                 invalid syntax"
                    .into()
            ))
        );
    }

    #[test]
    fn off_config_and_varz_are_minimal() {
        let text = String::from_utf8(super::super::format::compact_json(
            &JetStreamConfig::default(),
        ))
        .unwrap_or_default();
        assert_eq!(text, r#"{"max_memory":0,"max_storage":0}"#);
        let v = String::from_utf8(super::super::format::compact_json(&JetStreamVarz::default()))
            .unwrap_or_default();
        assert_eq!(v, "{}");
    }
}
