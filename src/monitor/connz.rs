//! `/connz`: open and recently closed connections, filtered, sorted and paged as
//! nats-server does.

use std::cmp::{Ordering, Reverse};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::format::{go_duration, rtt, uptime, GoTime};
use super::query::{BadRequest, Query};
use crate::broker::account::GLOBAL_ACCOUNT;
use crate::broker::client::ClientShared;
use crate::broker::server::{client_totals, ClosedClient, Server};
use crate::broker::sublist::SubInfo;

/// nats-server's `DefaultConnListSize`.
pub const DEFAULT_LIMIT: i64 = 1024;

/// `sort=`: only `cid`, `start`, `uptime` and `reason` are ascending; the rest descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOpt {
    #[default]
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortOpt {
    pub fn parse(text: &str) -> Option<SortOpt> {
        Some(match text {
            "" | "cid" => SortOpt::Cid,
            "start" => SortOpt::Start,
            "subs" => SortOpt::Subs,
            "pending" => SortOpt::Pending,
            "msgs_to" => SortOpt::MsgsTo,
            "msgs_from" => SortOpt::MsgsFrom,
            "bytes_to" => SortOpt::BytesTo,
            "bytes_from" => SortOpt::BytesFrom,
            "last" => SortOpt::Last,
            "idle" => SortOpt::Idle,
            "uptime" => SortOpt::Uptime,
            "stop" => SortOpt::Stop,
            "reason" => SortOpt::Reason,
            "rtt" => SortOpt::Rtt,
            _ => return None,
        })
    }
}

/// `state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnState {
    #[default]
    Open,
    Closed,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnzOptions {
    pub sort: SortOpt,
    /// `auth=1`: add the authorized user and account.
    pub auth: bool,
    /// `subs=1`: list subscribed subjects.
    pub subs: bool,
    /// `subs=detail`: list subscriptions in detail.
    pub subs_detail: bool,
    pub offset: i64,
    pub limit: i64,
    /// `cid=N`: only this connection.
    pub cid: u64,
    pub state: ConnState,
    /// `user=`: only connections authenticated as this user.
    pub user: String,
    /// `acc=`: only connections of this account.
    pub account: String,
}

impl Default for ConnzOptions {
    fn default() -> Self {
        ConnzOptions {
            sort: SortOpt::Cid,
            auth: false,
            subs: false,
            subs_detail: false,
            offset: 0,
            limit: DEFAULT_LIMIT,
            cid: 0,
            state: ConnState::Open,
            user: String::new(),
            account: String::new(),
        }
    }
}

impl ConnzOptions {
    /// Reads and checks the query, with nats-server's checks and error texts.
    pub fn from_query(q: &Query) -> Result<Self, BadRequest> {
        let sort_text = q.get("sort");
        let auth = q.bool("auth")?;
        let subs_detail = q.get("subs").eq_ignore_ascii_case("detail");
        let subs = !subs_detail && q.bool("subs")?;
        let offset = q.int("offset")?.max(0);
        let limit = match q.int("limit")? {
            l if l <= 0 => DEFAULT_LIMIT,
            l => l,
        };
        let cid = q.uint64("cid")?;
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => ConnState::Open,
            "closed" => ConnState::Closed,
            "any" | "all" => ConnState::Any,
            _ => {
                return Err(BadRequest(format!(
                    "Error decoding state for {}",
                    q.get("state")
                )))
            }
        };
        let sort = SortOpt::parse(sort_text)
            .ok_or_else(|| BadRequest(format!("invalid sorting option: {sort_text}")))?;
        if sort == SortOpt::Stop && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == SortOpt::Reason && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        Ok(ConnzOptions {
            sort,
            auth,
            subs,
            subs_detail,
            offset,
            limit: if cid > 0 { 1 } else { limit },
            cid,
            state,
            user: q.get("user").to_string(),
            account: q.get("acc").to_string(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: GoTime,
    pub num_connections: usize,
    pub total: usize,
    pub offset: i64,
    pub limit: i64,
    pub connections: Vec<ConnInfo>,
}

/// One connection, with nats-server's field names and `omitempty` choices.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: GoTime,
    pub last_activity: GoTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    /// The user JWT (not a bearer token's) and who issued it (operator mode).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// The user JWT's tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// For sorting by RTT.
    #[serde(skip)]
    pub rtt_value: Duration,
}

/// A subscription as `/connz?subs=detail` and `/subsz?subs=1` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "String::is_empty")]
    pub queue: String,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SubDetail {
    /// `account` names the account (for `/subsz` and closed connections), or is empty.
    pub fn new(info: SubInfo, account: &str) -> Self {
        SubDetail {
            account: account.to_string(),
            account_tag: account.to_string(),
            subject: info.subject,
            queue: info.queue.unwrap_or_default(),
            sid: info.sid,
            msgs: info.msgs,
            max: info.max,
            cid: info.cid,
        }
    }
}

/// Builds the `/connz` answer.
pub fn connz(server: &Server, opts: &ConnzOptions, now: SystemTime) -> Connz {
    let want_open = opts.state != ConnState::Closed;
    let want_closed = opts.state != ConnState::Open;
    let open: Vec<_> = if want_open {
        server.clients()
    } else {
        Vec::new()
    };
    let closed = if want_closed {
        server.closed_clients()
    } else {
        Vec::new()
    };
    let open_in_account = |c: &&std::sync::Arc<ClientShared>| {
        opts.account.is_empty() || c.account().name == opts.account
    };
    let closed_in_account =
        |c: &&ClosedClient| opts.account.is_empty() || c.account == opts.account;
    // As in nats-server, the total counts the state and account asked for, before the
    // cid and user filters.
    let total = open.iter().filter(open_in_account).count()
        + closed.iter().filter(closed_in_account).count();

    let mut conns: Vec<ConnInfo> = Vec::new();
    let mut found_open = false;
    for client in open.iter().filter(open_in_account) {
        if opts.cid > 0 && client.cid != opts.cid {
            continue;
        }
        if !opts.user.is_empty() && client.meta.lock().user != opts.user {
            continue;
        }
        found_open = true;
        conns.push(open_info(client, opts, now));
    }
    if !(opts.cid > 0 && found_open) {
        for c in closed.iter().filter(closed_in_account) {
            if opts.cid > 0 && c.cid != opts.cid {
                continue;
            }
            if !opts.user.is_empty() && c.meta.user != opts.user {
                continue;
            }
            conns.push(closed_info(c, opts));
        }
    }
    sort_conns(&mut conns, opts.sort, now);
    let len = conns.len();
    let start = usize::try_from(opts.offset).unwrap_or(usize::MAX).min(len);
    let limit = usize::try_from(opts.limit).unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(len);
    let page: Vec<ConnInfo> = conns.drain(start..end).collect();
    Connz {
        server_id: server.id.clone(),
        now: GoTime(now),
        num_connections: page.len(),
        total,
        offset: opts.offset,
        limit: opts.limit,
        connections: page,
    }
}

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

fn open_info(client: &ClientShared, opts: &ConnzOptions, now: SystemTime) -> ConnInfo {
    let meta = client.meta.lock().clone();
    let totals = client_totals(client);
    let last = client.last_activity();
    let account = client.account().name.clone();
    let subs = client.subscription_infos();
    let mut info = ConnInfo {
        cid: client.cid,
        kind: "Client",
        conn_type: client.transport().client_type(),
        ip: client.addr.ip().to_string(),
        port: client.addr.port(),
        start: GoTime(client.start),
        last_activity: GoTime(last),
        stop: None,
        reason: String::new(),
        rtt: String::new(),
        uptime: uptime(since(now, client.start)),
        idle: uptime(since(now, last)),
        pending_bytes: client.outbound.pending_bytes(),
        in_msgs: totals.in_msgs,
        out_msgs: totals.out_msgs,
        in_bytes: totals.in_bytes,
        out_bytes: totals.out_bytes,
        subscriptions: subs.len(),
        name: meta.name.clone(),
        lang: meta.lang.clone(),
        version: meta.version.clone(),
        authorized_user: String::new(),
        account: String::new(),
        subscriptions_list: Vec::new(),
        subscriptions_list_detail: Vec::new(),
        jwt: String::new(),
        issuer_key: String::new(),
        name_tag: String::new(),
        tags: Vec::new(),
        rtt_value: Duration::ZERO,
    };
    set_rtt(&mut info, meta.rtt);
    add_subs(&mut info, subs, opts, "");
    if opts.auth {
        info.authorized_user = meta.user.clone();
        if account != GLOBAL_ACCOUNT {
            info.account = account.clone();
        }
        let tag = client.account().name_tag();
        info.name_tag = if tag.is_empty() { account } else { tag };
        add_jwt(&mut info, &meta);
    }
    info
}

/// nats-server's `jwt` (left out for bearer tokens), `issuer_key` and `tags` of a client
/// that logged in with a user JWT.
fn add_jwt(info: &mut ConnInfo, meta: &crate::broker::client::ClientMeta) {
    if let Some(user) = &meta.jwt {
        if !user.bearer {
            info.jwt = user.token.clone();
        }
        info.issuer_key = user.issuer_key().to_string();
        info.tags = user.tags.clone();
    }
}

fn closed_info(c: &ClosedClient, opts: &ConnzOptions) -> ConnInfo {
    let mut info = ConnInfo {
        cid: c.cid,
        kind: "Client",
        conn_type: c.transport.client_type(),
        ip: c.addr.ip().to_string(),
        port: c.addr.port(),
        start: GoTime(c.start),
        last_activity: GoTime(c.last_activity),
        stop: Some(GoTime(c.stop)),
        reason: c.reason.as_str().to_string(),
        rtt: String::new(),
        uptime: uptime(since(c.stop, c.start)),
        idle: uptime(since(c.stop, c.last_activity)),
        pending_bytes: 0,
        in_msgs: c.totals.in_msgs,
        out_msgs: c.totals.out_msgs,
        in_bytes: c.totals.in_bytes,
        out_bytes: c.totals.out_bytes,
        subscriptions: c.subs.len(),
        name: c.meta.name.clone(),
        lang: c.meta.lang.clone(),
        version: c.meta.version.clone(),
        authorized_user: String::new(),
        account: String::new(),
        subscriptions_list: Vec::new(),
        subscriptions_list_detail: Vec::new(),
        jwt: String::new(),
        issuer_key: String::new(),
        name_tag: String::new(),
        tags: Vec::new(),
        rtt_value: Duration::ZERO,
    };
    set_rtt(&mut info, c.meta.rtt);
    add_subs(&mut info, c.subs.clone(), opts, &c.account);
    if opts.auth {
        info.authorized_user = c.meta.user.clone();
        if c.account != GLOBAL_ACCOUNT {
            info.account = c.account.clone();
            info.name_tag = c.account.clone();
        }
        add_jwt(&mut info, &c.meta);
    }
    info
}

fn set_rtt(info: &mut ConnInfo, measured: Option<Duration>) {
    let value = measured.map(rtt).unwrap_or_default();
    info.rtt = go_duration(value);
    info.rtt_value = value;
}

fn add_subs(info: &mut ConnInfo, mut subs: Vec<SubInfo>, opts: &ConnzOptions, account: &str) {
    subs.sort_by(|a, b| natural_sid(&a.sid, &b.sid));
    if opts.subs_detail {
        info.subscriptions_list_detail = subs
            .into_iter()
            .map(|s| SubDetail::new(s, account))
            .collect();
    } else if opts.subs {
        info.subscriptions_list = subs.into_iter().map(|s| s.subject).collect();
    }
}

/// Numeric sids in numeric order, others after them by text.
fn natural_sid(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Sorts as nats-server does; ties keep connection-id order.
pub fn sort_conns(conns: &mut [ConnInfo], sort: SortOpt, now: SystemTime) {
    conns.sort_by_key(|c| c.cid);
    let up = |c: &ConnInfo| since(c.stop.map_or(now, |s| s.0), c.start.0);
    match sort {
        SortOpt::Cid | SortOpt::Start => {}
        SortOpt::Subs => conns.sort_by_key(|c| Reverse(c.subscriptions)),
        SortOpt::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        SortOpt::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        SortOpt::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        SortOpt::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        SortOpt::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        SortOpt::Last => conns.sort_by_key(|c| Reverse(c.last_activity)),
        // Most idle first: the oldest last activity.
        SortOpt::Idle => conns.sort_by_key(|c| c.last_activity),
        SortOpt::Uptime => conns.sort_by_key(up),
        SortOpt::Stop => conns.sort_by_key(|c| Reverse(c.stop)),
        SortOpt::Reason => conns.sort_by(|a, b| a.reason.cmp(&b.reason)),
        SortOpt::Rtt => conns.sort_by_key(|c| Reverse(c.rtt_value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64, in_msgs: u64, secs_ago_start: u64, now: SystemTime) -> ConnInfo {
        let start = now - Duration::from_secs(secs_ago_start);
        ConnInfo {
            cid,
            kind: "Client",
            conn_type: "nats",
            ip: "127.0.0.1".into(),
            port: 1,
            start: GoTime(start),
            last_activity: GoTime(start),
            stop: None,
            reason: String::new(),
            rtt: "0s".into(),
            uptime: "0s".into(),
            idle: "0s".into(),
            pending_bytes: 0,
            in_msgs,
            out_msgs: 0,
            in_bytes: in_msgs * 10,
            out_bytes: 0,
            subscriptions: cid as usize,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            authorized_user: String::new(),
            account: String::new(),
            subscriptions_list: Vec::new(),
            subscriptions_list_detail: Vec::new(),
            jwt: String::new(),
            issuer_key: String::new(),
            name_tag: String::new(),
            tags: Vec::new(),
            rtt_value: Duration::from_micros(cid * 7 % 5),
        }
    }

    fn cids(conns: &[ConnInfo]) -> Vec<u64> {
        conns.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn sorting() {
        let now = SystemTime::now();
        let mut v = vec![
            conn(2, 5, 30, now),
            conn(1, 9, 10, now),
            conn(3, 1, 20, now),
        ];
        sort_conns(&mut v, SortOpt::Cid, now);
        assert_eq!(cids(&v), [1, 2, 3]);
        sort_conns(&mut v, SortOpt::MsgsFrom, now);
        assert_eq!(cids(&v), [1, 2, 3]);
        sort_conns(&mut v, SortOpt::BytesFrom, now);
        assert_eq!(cids(&v), [1, 2, 3]);
        sort_conns(&mut v, SortOpt::Subs, now);
        assert_eq!(cids(&v), [3, 2, 1]);
        sort_conns(&mut v, SortOpt::Uptime, now);
        assert_eq!(cids(&v), [1, 3, 2], "shortest uptime first");
        sort_conns(&mut v, SortOpt::Last, now);
        assert_eq!(cids(&v), [1, 3, 2], "most recent activity first");
        sort_conns(&mut v, SortOpt::Idle, now);
        assert_eq!(cids(&v), [2, 3, 1], "most idle first");
    }

    #[test]
    fn options_from_query() {
        let q = Query::parse(Some("sort=msgs_to&subs=detail&offset=-4&limit=0&state=ANY"));
        let o = ConnzOptions::from_query(&q).unwrap_or_default();
        assert_eq!(o.sort, SortOpt::MsgsTo);
        assert!(o.subs_detail && !o.subs);
        assert_eq!((o.offset, o.limit), (0, DEFAULT_LIMIT));
        assert_eq!(o.state, ConnState::Any);
        let o = ConnzOptions::from_query(&Query::parse(Some("cid=4&limit=9")));
        assert_eq!(o.map(|o| (o.cid, o.limit)), Ok((4, 1)));
        let bad = |q: &str| ConnzOptions::from_query(&Query::parse(Some(q))).err();
        assert_eq!(
            bad("sort=foo"),
            Some(BadRequest("invalid sorting option: foo".into()))
        );
        assert_eq!(
            bad("sort=stop"),
            Some(BadRequest(
                "sort by stop only valid on closed connections".into()
            ))
        );
        assert!(bad("sort=stop&state=closed").is_none());
        assert_eq!(
            bad("state=x"),
            Some(BadRequest("Error decoding state for x".into()))
        );
    }
}
