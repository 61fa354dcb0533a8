//! `/leafz`: the leaf-node links that are up, as nats-server's `Leafz` shows them (`subs=1`
//! lists each link's interest, `acc=` keeps one account's links).

use std::time::SystemTime;

use serde::Serialize;

use super::format::{go_duration, go_float, rtt, GoTime};
use super::query::{BadRequest, Query};
use crate::broker::leaf::LeafNodes;
use crate::broker::server::{client_totals, Server};
use crate::proto::leaf_info::COMPRESSION_NOT_SUPPORTED;

/// `/leafz` query options.
#[derive(Debug, Clone, Default)]
pub struct LeafzOptions {
    /// `subs=1`: list each link's subscriptions.
    pub subs: bool,
    /// `acc=NAME`: only links bound to this account.
    pub account: String,
}

impl LeafzOptions {
    pub fn from_query(q: &Query) -> Result<Self, BadRequest> {
        Ok(LeafzOptions {
            subs: q.bool("subs")?,
            account: q.get("acc").to_string(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Leafz {
    pub server_id: String,
    pub now: GoTime,
    pub leafnodes: usize,
    pub leafs: Vec<LeafInfo>,
}

/// One link, with nats-server's `LeafInfo` fields.
#[derive(Debug, Clone, Serialize)]
pub struct LeafInfo {
    pub id: u64,
    /// The other server's name.
    pub name: String,
    /// This server solicited the link (it is the leaf).
    pub is_spoke: bool,
    pub account: String,
    pub ip: String,
    pub port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    pub compression: &'static str,
}

pub fn leafz(server: &Server, opts: &LeafzOptions, now: SystemTime) -> Leafz {
    let links = LeafNodes::of(server)
        .map(|nodes| nodes.bound_links())
        .unwrap_or_default();
    let leafs: Vec<LeafInfo> = links
        .into_iter()
        .filter(|link| opts.account.is_empty() || link.account().name == opts.account)
        .filter_map(|link| {
            let state = link.leaf.clone()?;
            let totals = client_totals(&link);
            let subs = link.subscription_infos();
            let mut list: Vec<String> = if opts.subs {
                subs.iter().map(|s| s.subject.clone()).collect()
            } else {
                Vec::new()
            };
            list.sort();
            let measured = link.meta.lock().rtt;
            let name = state.remote.lock().name.clone();
            Some(LeafInfo {
                id: link.cid,
                name,
                is_spoke: state.solicited,
                account: link.account().name.clone(),
                ip: link.addr.ip().to_string(),
                port: link.addr.port(),
                rtt: go_duration(measured.map(rtt).unwrap_or_default()),
                in_msgs: totals.in_msgs,
                out_msgs: totals.out_msgs,
                in_bytes: totals.in_bytes,
                out_bytes: totals.out_bytes,
                subscriptions: subs.len(),
                subscriptions_list: list,
                compression: COMPRESSION_NOT_SUPPORTED,
            })
        })
        .collect();
    Leafz {
        server_id: server.id.clone(),
        now: GoTime(now),
        leafnodes: leafs.len(),
        leafs,
    }
}

/// `/varz`'s `leaf` section (nats-server's `LeafNodeOptsVarz`): `{}` without leaf nodes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeafVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// Seconds.
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    pub auth_timeout: f64,
    /// Seconds.
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    pub tls_timeout: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remotes: Vec<RemoteVarz>,
}

/// One remote in `/varz` (nats-server's `RemoteLeafOptsVarz`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoteVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_account: String,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    pub tls_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<DenyRules>,
}

/// A remote's deny lists.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DenyRules {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<String>,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// The `leaf` section and the number of links that are up.
pub fn varz(server: &Server) -> (LeafVarz, u64) {
    let Some(nodes) = LeafNodes::of(server) else {
        return (LeafVarz::default(), 0);
    };
    let opts = &server.opts.leafnodes;
    let (tls_required, tls_verify) = nodes.tls();
    let mut section = LeafVarz {
        remotes: nodes
            .remotes()
            .into_iter()
            .map(|r| RemoteVarz {
                local_account: r.account,
                tls_timeout: r.tls_timeout,
                urls: r.urls,
                deny: (!r.deny_imports.is_empty() || !r.deny_exports.is_empty()).then_some(
                    DenyRules {
                        exports: r.deny_exports,
                        imports: r.deny_imports,
                    },
                ),
            })
            .collect(),
        ..LeafVarz::default()
    };
    if let Some(port) = nodes.port {
        section.host = nodes.host.clone();
        section.port = port;
        let default_auth = match &opts.tls {
            Some(tls) => tls.timeout.as_secs_f64() + 1.0,
            None => crate::options::DEFAULT_AUTH_TIMEOUT.as_secs_f64(),
        };
        section.auth_timeout = opts.auth.timeout.map_or(default_auth, |t| t.as_secs_f64());
        section.tls_timeout = opts
            .tls
            .as_ref()
            .map_or(crate::options::DEFAULT_TLS_TIMEOUT, |t| t.timeout)
            .as_secs_f64();
        section.tls_required = tls_required;
        section.tls_verify = tls_verify;
    }
    (section, nodes.bound_links().len() as u64)
}
