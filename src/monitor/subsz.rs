//! `/subsz`: sublist statistics, and with `subs=1` the subscriptions themselves, optionally
//! only those a message to `test=SUBJECT` would reach.

use std::time::SystemTime;

use serde::Serialize;

use super::connz::SubDetail;
use super::format::{go_float, GoTime};
use super::query::{BadRequest, Query};
use crate::broker::server::Server;
use crate::proto::subject;

/// nats-server's `DefaultSubListSize`.
pub const DEFAULT_LIMIT: i64 = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubszOptions {
    pub subs: bool,
    pub offset: i64,
    pub limit: i64,
    /// `acc=`: only this account.
    pub account: String,
    /// `test=`: only subscriptions a message to this literal subject would reach.
    pub test: String,
}

impl SubszOptions {
    pub fn from_query(q: &Query) -> Result<Self, BadRequest> {
        let subs = q.bool("subs")?;
        let offset = q.int("offset")?.max(0);
        let limit = match q.int("limit")? {
            l if l <= 0 => DEFAULT_LIMIT,
            l => l,
        };
        let test = q.get("test").to_string();
        if !test.is_empty() && !subject::is_valid_literal_subject(test.as_bytes()) {
            return Err(BadRequest(format!(
                "invalid test subject, must be valid publish subject: {test}"
            )));
        }
        Ok(SubszOptions {
            subs,
            offset,
            limit,
            account: q.get("acc").to_string(),
            test,
        })
    }
}

/// nats-server's `SublistStats`. There is no shared match cache here (each connection
/// caches its own results), so the cache and fan-out figures are zero.
#[derive(Debug, Clone, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: GoTime,
    pub num_subscriptions: usize,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    #[serde(serialize_with = "go_float")]
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    pub avg_fanout: f64,
    pub total: usize,
    pub offset: i64,
    pub limit: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<SubDetail>,
}

pub fn subsz(server: &Server, opts: &SubszOptions, now: SystemTime) -> Subsz {
    let mut out = Subsz {
        server_id: server.id.clone(),
        now: GoTime(now),
        num_subscriptions: 0,
        num_cache: 0,
        num_inserts: 0,
        num_removes: 0,
        num_matches: 0,
        cache_hit_rate: 0.0,
        max_fanout: 0,
        avg_fanout: 0.0,
        total: 0,
        offset: opts.offset,
        limit: opts.limit,
        subscriptions_list: Vec::new(),
    };
    let mut details = Vec::new();
    for account in server.accounts() {
        if !opts.account.is_empty() && account.name != opts.account {
            continue;
        }
        let sublist = account.sublist.read();
        let stats = sublist.stats();
        out.num_subscriptions += stats.count;
        out.num_inserts += stats.inserts;
        out.num_removes += stats.removes;
        if opts.subs {
            let subs = sublist.subscriptions();
            drop(sublist);
            for sub in subs {
                if !opts.test.is_empty() && !subject::matches(&sub.subject, opts.test.as_bytes()) {
                    continue;
                }
                details.push(SubDetail::new(sub.info(), &account.name));
            }
        }
    }
    if opts.subs {
        details.sort_by(|a, b| (a.cid, &a.subject, &a.sid).cmp(&(b.cid, &b.subject, &b.sid)));
        out.total = details.len();
        let start = usize::try_from(opts.offset)
            .unwrap_or(usize::MAX)
            .min(details.len());
        let limit = usize::try_from(opts.limit).unwrap_or(usize::MAX);
        let end = start.saturating_add(limit).min(details.len());
        out.subscriptions_list = details.drain(start..end).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = SubszOptions::from_query(&Query::parse(Some("subs=1&test=foo.bar&limit=-1")));
        assert_eq!(
            o,
            Ok(SubszOptions {
                subs: true,
                offset: 0,
                limit: DEFAULT_LIMIT,
                account: String::new(),
                test: "foo.bar".into(),
            })
        );
        let bad = SubszOptions::from_query(&Query::parse(Some("test=foo.*")));
        assert_eq!(
            bad,
            Err(BadRequest(
                "invalid test subject, must be valid publish subject: foo.*".into()
            ))
        );
    }
}
