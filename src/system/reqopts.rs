//! The options a `$SYS.REQ` request may carry in its payload, as nats-server decodes them
//! (JSON objects with its field names, unknown fields ignored), turned into the monitoring
//! builders' options; and the event filter (`server_name`, `cluster`, `host`, `tags`,
//! `domain`, `exact_match`) that decides whether this server answers at all.
//!
//! nats-server checks some options only when it builds the answer (an unknown `sort`, `stop`
//! on open connections): those are `Err` here and become the envelope's 500 error, as there.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::monitor::connz::{self, ConnState, ConnzOptions, SortOpt};
use crate::monitor::jsz::{self, JszOptions};
use crate::monitor::leafz::LeafzOptions;
use crate::monitor::subsz::{self, SubszOptions};
use crate::proto::subject;

/// The payload as JSON: `Ok(None)` when empty (no options, no filter), `Err` (a 400) when it
/// is not a JSON object (`null` counts as no options, as Go's decoder sees it).
pub fn parse_body(body: &[u8]) -> Result<Option<Value>, String> {
    if body.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match value {
        Value::Null => Ok(Some(Value::Object(Default::default()))),
        Value::Object(_) => Ok(Some(value)),
        other => Err(format!(
            "json: cannot unmarshal {} into an options object",
            json_kind(&other)
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes one options struct from the payload (defaults when there is none).
pub fn decode<T: DeserializeOwned + Default>(body: Option<&Value>) -> Result<T, String> {
    match body {
        None => Ok(T::default()),
        Some(v) => T::deserialize(v).map_err(|e| e.to_string()),
    }
}

/// nats-server's `EventFilterOptions`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct EventFilter {
    #[serde(rename = "server_name")]
    pub name: String,
    pub cluster: String,
    pub host: String,
    pub exact_match: bool,
    pub tags: Vec<String>,
    pub domain: String,
}

/// What a server is matched against: its name, host, cluster (none here), tags (none
/// here) and JetStream domain.
#[derive(Debug, Clone, Default)]
pub struct ServerIdentity<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub cluster: &'a str,
    pub tags: &'a [String],
    pub domain: &'a str,
}

impl EventFilter {
    /// True when the request is not for this server (nats-server's `filterRequest`): each
    /// given field must equal (`exact_match`) or be contained in the server's, every tag
    /// must be one of the server's, and the domain must be the server's.
    pub fn excludes(&self, s: &ServerIdentity<'_>) -> bool {
        let differs = |want: &str, have: &str| {
            !want.is_empty()
                && if self.exact_match {
                    want != have
                } else {
                    !have.contains(want)
                }
        };
        differs(&self.name, s.name)
            || differs(&self.host, s.host)
            || differs(&self.cluster, s.cluster)
            || self.tags.iter().any(|t| !s.tags.contains(t))
            || (!self.domain.is_empty() && self.domain != s.domain)
    }
}

/// nats-server's `ConnzOptions` in JSON (`state` is a number: 0 open, 1 closed, 2 any).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConnzRequest {
    pub sort: String,
    pub auth: bool,
    pub subscriptions: bool,
    pub subscriptions_detail: bool,
    pub offset: i64,
    pub limit: i64,
    pub cid: u64,
    pub state: i64,
    pub user: String,
    pub acc: String,
    pub filter_subject: String,
}

impl ConnzRequest {
    /// The `/connz` options, checked as nats-server's `Connz` checks them.
    pub fn options(&self) -> Result<ConnzOptions, String> {
        let sort = SortOpt::parse(&self.sort)
            .ok_or_else(|| format!("invalid sorting option: {}", self.sort))?;
        let state = match self.state {
            1 => ConnState::Closed,
            2 => ConnState::Any,
            _ => ConnState::Open,
        };
        if sort == SortOpt::Stop && state != ConnState::Closed {
            return Err("sort by stop only valid on closed connections".into());
        }
        if sort == SortOpt::Reason && state != ConnState::Closed {
            return Err("sort by reason only valid on closed connections".into());
        }
        if !self.filter_subject.is_empty() && self.filter_subject != ">" && self.acc.is_empty() {
            return Err("filter by subject only valid with account filtering".into());
        }
        let limit = if self.limit <= 0 {
            connz::DEFAULT_LIMIT
        } else {
            self.limit
        };
        Ok(ConnzOptions {
            sort,
            auth: self.auth,
            subs: self.subscriptions && !self.subscriptions_detail,
            subs_detail: self.subscriptions_detail,
            offset: self.offset.max(0),
            limit: if self.cid > 0 { 1 } else { limit },
            cid: self.cid,
            state,
            user: self.user.clone(),
            account: self.acc.clone(),
        })
    }
}

/// nats-server's `SubszOptions` in JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubszRequest {
    pub offset: i64,
    pub limit: i64,
    pub subscriptions: bool,
    pub account: String,
    pub test: String,
}

impl SubszRequest {
    pub fn options(&self) -> Result<SubszOptions, String> {
        if !self.test.is_empty() && !subject::is_valid_literal_subject(self.test.as_bytes()) {
            return Err(format!(
                "invalid test subject, must be valid publish subject: {}",
                self.test
            ));
        }
        Ok(SubszOptions {
            subs: self.subscriptions,
            offset: self.offset.max(0),
            limit: if self.limit <= 0 {
                subsz::DEFAULT_LIMIT
            } else {
                self.limit
            },
            account: self.account.clone(),
            test: self.test.clone(),
        })
    }
}

/// nats-server's `JSzOptions` in JSON (note `consumer`, singular).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JszRequest {
    pub account: String,
    pub accounts: bool,
    pub streams: bool,
    pub consumer: bool,
    pub direct_consumer: bool,
    pub config: bool,
    pub leader_only: bool,
    pub offset: i64,
    pub limit: i64,
    pub raft: bool,
    pub stream_leader_only: bool,
}

impl JszRequest {
    pub fn options(&self) -> JszOptions {
        JszOptions {
            account: self.account.clone(),
            accounts: self.accounts,
            streams: self.streams,
            consumers: self.consumer,
            direct_consumers: self.direct_consumer,
            config: self.config,
            leader_only: self.leader_only,
            offset: self.offset,
            limit: if self.limit == 0 {
                jsz::DEFAULT_LIMIT
            } else {
                self.limit
            },
            raft: self.raft,
            stream_leader_only: self.stream_leader_only,
        }
    }
}

/// nats-server's `LeafzOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LeafzRequest {
    pub subscriptions: bool,
    pub account: String,
}

impl LeafzRequest {
    pub fn options(&self) -> LeafzOptions {
        LeafzOptions {
            subs: self.subscriptions,
            account: self.account.clone(),
        }
    }
}

/// nats-server's `AccountzOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountzRequest {
    pub account: String,
}

/// nats-server's `AccountStatzOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountStatzRequest {
    pub accounts: Vec<String>,
    pub include_unused: bool,
}

/// nats-server's `KickClientReq`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KickRequest {
    pub cid: u64,
}

/// Options nats-server accepts but that change nothing on one server without routes or
/// clustered JetStream (`ROUTEZ`'s, `GATEWAYZ`'s, `HEALTHZ`'s): decoded only so that a
/// malformed payload gets its 400.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Ignored {}
