//! The deployment's inventory: servers, connections and subscriptions as nats-server's own
//! monitoring reports them (`/varz`, `/connz?subs=detail`, `/routez` over HTTP, or the same
//! data from every server at once over `$SYS.REQ.SERVER.PING.*`), merged into the
//! snapshot's plain data. Parsing and merging are pure; fetching is in `poll`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::inspect::snapshot::{
    ConnectionInfo, JetStreamState, JetStreamSummary, LeafLinkInfo, LeafLinkState, QueueGroupInfo,
    QueueMember, Rates, ServerSummary, SubscriptionInfo, Totals,
};

/// The parts of `/varz` the inspector uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub host: String,
    pub port: u16,
    pub start: String,
    pub now: String,
    pub connections: usize,
    pub routes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    pub cluster: ClusterVarz,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClusterVarz {
    pub name: String,
}

/// The parts of `/connz?subs=detail` the inspector uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Connz {
    pub server_id: String,
    pub num_connections: usize,
    pub total: usize,
    pub connections: Vec<ConnzEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConnzEntry {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub rtt: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub subscriptions_list_detail: Vec<SubDetail>,
    /// `websocket` for WebSocket clients (nats-server's client type).
    #[serde(rename = "type")]
    pub client_type: String,
    /// Set when the client came over TLS.
    pub tls_version: String,
}

impl ConnzEntry {
    /// `tcp`, `tls`, `ws` or `wss`, from the client type and the TLS version.
    pub fn transport(&self) -> &'static str {
        match (
            self.client_type == "websocket",
            !self.tls_version.is_empty(),
        ) {
            (true, true) => "wss",
            (true, false) => "ws",
            (false, true) => "tls",
            (false, false) => "tcp",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubDetail {
    pub subject: String,
    pub qgroup: String,
    pub sid: String,
    pub msgs: u64,
}

/// The parts of `/routez` the inspector uses: which peers a server is routed to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Routez {
    pub server_id: String,
    pub routes: Vec<RouteEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RouteEntry {
    pub remote_id: String,
    pub remote_name: String,
}

/// The parts of `/jsz` (nats-server's `JSInfo`) the inspector uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Jsz {
    pub server_id: String,
    /// JetStream is off on this server.
    pub disabled: bool,
    pub config: JszConfig,
    /// Bytes held by memory and by file streams.
    pub memory: u64,
    pub storage: u64,
    pub api: JszApi,
    pub streams: u64,
    pub messages: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JszConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    pub store_dir: String,
    pub domain: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JszApi {
    pub total: u64,
    pub errors: u64,
}

/// JetStream of the deployment from its servers' `/jsz`: off when every server that
/// answered runs without it, unknown when none answered; otherwise usage, limits and counts
/// summed over the servers that run it (the store directory only when they all agree).
pub fn jetstream_state(jsz: &[Jsz]) -> JetStreamState {
    if jsz.is_empty() {
        return JetStreamState::Unknown;
    }
    let on: Vec<&Jsz> = jsz.iter().filter(|j| !j.disabled).collect();
    let Some(first) = on.first() else {
        return JetStreamState::Off;
    };
    let limit = |f: fn(&Jsz) -> i64| -> Option<u64> {
        on.iter()
            .map(|j| u64::try_from(f(j)).ok())
            .sum::<Option<u64>>()
    };
    let same = |f: fn(&Jsz) -> &str| -> String {
        let v = f(first);
        if on.iter().all(|j| f(j) == v) {
            v.to_string()
        } else {
            String::new()
        }
    };
    let domain = same(|j| j.config.domain.as_str());
    JetStreamState::On(JetStreamSummary {
        store_dir: same(|j| j.config.store_dir.as_str()),
        domain: (!domain.is_empty()).then_some(domain),
        memory_used: on.iter().map(|j| j.memory).sum(),
        max_memory: limit(|j| j.config.max_memory),
        store_used: on.iter().map(|j| j.storage).sum(),
        max_store: limit(|j| j.config.max_storage),
        streams: on.iter().map(|j| j.streams).sum(),
        messages: on.iter().map(|j| j.messages).sum(),
        bytes: on.iter().map(|j| j.bytes).sum(),
        api_requests: on.iter().map(|j| j.api.total).sum(),
        api_errors: on.iter().map(|j| j.api.errors).sum(),
    })
}

/// The parts of `/leafz` the inspector uses: a server's leaf-node links.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Leafz {
    pub server_id: String,
    pub leafs: Vec<LeafEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LeafEntry {
    /// The other server's name.
    pub name: String,
    /// The server that answered joined the other as its leaf (it solicited the link).
    pub is_spoke: bool,
    pub account: String,
    pub ip: String,
    pub port: u16,
    /// Go's duration text (`1.2ms`).
    pub rtt: String,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
}

/// Every leaf-node link of the servers that answered `/leafz`, named by the server it
/// belongs to ("n1 → hub-a"). Links seen from outside are up; those still dialling are not
/// listed by nats-server.
pub fn leaf_links(leafz: &[Leafz], varz: &[Varz]) -> Vec<LeafLinkInfo> {
    let name_of = |id: &str| {
        varz.iter()
            .find(|v| v.server_id == id)
            .map_or_else(|| id.to_string(), |v| v.server_name.clone())
    };
    let mut links: Vec<LeafLinkInfo> = leafz
        .iter()
        .flat_map(|l| {
            let server = name_of(&l.server_id);
            l.leafs.iter().map(move |e| LeafLinkInfo {
                cid: None,
                solicited: e.is_spoke,
                state: LeafLinkState::Connected,
                url: format!("{}:{}", e.ip, e.port),
                last_error: None,
                remote_name: format!("{} \u{2192} {}", server, e.name),
                account: e.account.clone(),
                remote_account: String::new(),
                remote_interest: e.subscriptions,
                local_interest: 0,
                totals: Totals {
                    in_msgs: e.in_msgs,
                    out_msgs: e.out_msgs,
                    in_bytes: e.in_bytes,
                    out_bytes: e.out_bytes,
                },
                rates: Rates::default(),
                rtt: crate::duration::parse_std_duration(&e.rtt).ok(),
                start: None,
            })
        })
        .collect();
    links.sort_by(|a, b| a.remote_name.cmp(&b.remote_name));
    links
}

/// What one poll brought back, per server id.
#[derive(Debug, Clone, Default)]
pub struct PollResult {
    pub varz: Vec<Varz>,
    pub connz: Vec<Connz>,
    pub routez: Vec<Routez>,
    /// `/jsz` of the servers that answered it.
    pub jsz: Vec<Jsz>,
    /// `/leafz` of the servers that answered it.
    pub leafz: Vec<Leafz>,
    /// Why some or all of the poll failed.
    pub errors: Vec<String>,
}

/// Stable inspector ids for (server id, client id): connection ids are per server, and the
/// views need one id per connection across the cluster.
#[derive(Debug, Default)]
pub struct ConnIds {
    by_key: HashMap<(String, u64), u64>,
    by_id: HashMap<u64, (String, u64)>,
    next: u64,
}

impl ConnIds {
    pub fn id(&mut self, server_id: &str, cid: u64) -> u64 {
        if let Some(id) = self.by_key.get(&(server_id.to_string(), cid)) {
            return *id;
        }
        self.next += 1;
        let id = self.next;
        self.by_key.insert((server_id.to_string(), cid), id);
        self.by_id.insert(id, (server_id.to_string(), cid));
        id
    }

    /// The server id and client id behind an inspector id.
    pub fn lookup(&self, id: u64) -> Option<(String, u64)> {
        self.by_id.get(&id).cloned()
    }
}

/// The merged picture the snapshot takes its connection-side parts from.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub servers: Vec<ServerSummary>,
    /// `None` when no connection data is available (unknown, not zero).
    pub connections: Option<Vec<ConnectionInfo>>,
    pub queue_groups: Vec<QueueGroupInfo>,
    pub subscriptions: Option<usize>,
    /// Cluster-wide totals and rates, summed over the servers that answered.
    pub totals: Option<Totals>,
    pub rates: Option<Rates>,
    pub jetstream: JetStreamState,
    /// The servers' leaf-node links.
    pub leaf_links: Vec<LeafLinkInfo>,
    /// Where the data came from, and the last poll's errors.
    pub description: String,
}

/// Turns successive polls into an [`Inventory`], keeping what is needed for rates and for
/// noticing servers that stopped answering.
#[derive(Default)]
pub struct InventoryBuilder {
    last_poll: Option<Instant>,
    last_server_totals: HashMap<String, Totals>,
    last_conn_totals: HashMap<u64, Totals>,
    /// Every server seen, by id, as last seen.
    known: BTreeMap<String, ServerSummary>,
    /// Polls in a row each known server missed (answer nor route).
    misses: HashMap<String, u32>,
}

/// Polls in a row a server must miss before it is called unreachable: one late answer to a
/// gathered request (a busy server, a loaded machine) is not an outage, and a view that
/// flapped on it would be crying wolf.
const MISSES_BEFORE_UNREACHABLE: u32 = 2;

/// A server's reachability changed (for the event log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    pub name: String,
    pub reachable: bool,
}

impl InventoryBuilder {
    /// Merges `poll`, taken at `now`; `attached_id` is the server our client is on.
    /// Returns the inventory and the servers whose reachability changed.
    pub fn merge(
        &mut self,
        poll: &PollResult,
        now: Instant,
        attached_id: &str,
        ids: &mut ConnIds,
        source: &str,
    ) -> (Inventory, Vec<Reachability>) {
        let elapsed = self
            .last_poll
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_poll = Some(now);
        let wall = SystemTime::now();
        let mut changes = Vec::new();
        let answered: HashMap<&str, &Varz> = poll
            .varz
            .iter()
            .map(|v| (v.server_id.as_str(), v))
            .collect();

        let mut totals = Totals::default();
        let mut rates = Rates::default();
        let mut server_totals = HashMap::new();
        for v in &poll.varz {
            let t = Totals {
                in_msgs: v.in_msgs,
                in_bytes: v.in_bytes,
                out_msgs: v.out_msgs,
                out_bytes: v.out_bytes,
            };
            let r = self
                .last_server_totals
                .get(&v.server_id)
                .map(|before| Rates::between(before, &t, elapsed));
            if let Some(r) = r {
                add_rates(&mut rates, &r);
            }
            add_totals(&mut totals, &t);
            server_totals.insert(v.server_id.clone(), t);
            let summary = ServerSummary {
                name: v.server_name.clone(),
                id: v.server_id.clone(),
                version: v.version.clone(),
                url: Some(format!("nats://{}", host_port(&v.host, v.port))),
                cluster: Some(v.cluster.name.clone()).filter(|c| !c.is_empty()),
                connections: Some(v.connections),
                subscriptions: Some(v.subscriptions),
                routes: Some(v.routes),
                in_msgs_per_sec: r.map(|r| r.in_msgs_per_sec),
                out_msgs_per_sec: r.map(|r| r.out_msgs_per_sec),
                uptime: uptime(&v.start, &v.now),
                reachable: true,
                last_seen: Some(wall),
                attached: v.server_id == attached_id,
            };
            if let Some(before) = self.known.get(&v.server_id) {
                if !before.reachable {
                    changes.push(Reachability {
                        name: summary.name.clone(),
                        reachable: true,
                    });
                }
            }
            self.known.insert(v.server_id.clone(), summary);
        }
        // Peers named in routes but not polled (one monitoring URL for a cluster): known to
        // exist, their numbers unknown.
        for r in poll.routez.iter().flat_map(|z| &z.routes) {
            if answered.contains_key(r.remote_id.as_str()) {
                continue;
            }
            let entry = self
                .known
                .entry(r.remote_id.clone())
                .or_insert_with(|| ServerSummary {
                    name: r.remote_name.clone(),
                    id: r.remote_id.clone(),
                    ..ServerSummary::default()
                });
            entry.reachable = true;
            entry.last_seen = Some(wall);
            entry.attached = r.remote_id == attached_id;
        }
        // Servers seen before that neither answered nor are routed to now.
        let routed: Vec<&str> = poll
            .routez
            .iter()
            .flat_map(|z| z.routes.iter().map(|r| r.remote_id.as_str()))
            .collect();
        for (id, s) in self.known.iter_mut() {
            let present = answered.contains_key(id.as_str()) || routed.contains(&id.as_str());
            let misses = self.misses.entry(id.clone()).or_default();
            if present || poll.varz.is_empty() {
                *misses = 0;
            } else {
                *misses += 1;
            }
            if *misses >= MISSES_BEFORE_UNREACHABLE && s.reachable {
                s.reachable = false;
                s.in_msgs_per_sec = None;
                s.out_msgs_per_sec = None;
                changes.push(Reachability {
                    name: s.name.clone(),
                    reachable: false,
                });
            }
            s.attached = id == attached_id;
        }
        self.last_server_totals = server_totals;

        let (connections, queue_groups, subscriptions) = if poll.connz.is_empty() {
            (None, vec![], None)
        } else {
            let (c, q, s) = self.connections(&poll.connz, elapsed, ids);
            (Some(c), q, Some(s))
        };
        let mut servers: Vec<ServerSummary> = self.known.values().cloned().collect();
        servers.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        let mut description = source.to_string();
        for e in &poll.errors {
            description.push_str("; ");
            description.push_str(e);
        }
        let polled = !poll.varz.is_empty();
        let inventory = Inventory {
            servers,
            connections,
            queue_groups,
            subscriptions,
            totals: polled.then_some(totals),
            rates: (polled && elapsed > 0.0).then_some(rates),
            jetstream: jetstream_state(&poll.jsz),
            leaf_links: leaf_links(&poll.leafz, &poll.varz),
            description,
        };
        (inventory, changes)
    }

    fn connections(
        &mut self,
        connz: &[Connz],
        elapsed: f64,
        ids: &mut ConnIds,
    ) -> (Vec<ConnectionInfo>, Vec<QueueGroupInfo>, usize) {
        let mut out = Vec::new();
        let mut groups: BTreeMap<(String, String), Vec<QueueMember>> = BTreeMap::new();
        let mut next_totals = HashMap::new();
        let mut subscriptions = 0;
        for z in connz {
            for c in &z.connections {
                let id = ids.id(&z.server_id, c.cid);
                let totals = Totals {
                    in_msgs: c.in_msgs,
                    in_bytes: c.in_bytes,
                    out_msgs: c.out_msgs,
                    out_bytes: c.out_bytes,
                };
                let rates = self
                    .last_conn_totals
                    .get(&id)
                    .map(|before| Rates::between(before, &totals, elapsed))
                    .unwrap_or_default();
                next_totals.insert(id, totals);
                let subs: Vec<SubscriptionInfo> = c
                    .subscriptions_list_detail
                    .iter()
                    .map(|s| SubscriptionInfo {
                        subject: s.subject.clone(),
                        queue: Some(s.qgroup.clone()).filter(|q| !q.is_empty()),
                        sid: s.sid.clone(),
                        delivered: s.msgs,
                    })
                    .collect();
                subscriptions += subs.len();
                for s in subs.iter().filter(|s| s.queue.is_some()) {
                    let queue = s.queue.clone().unwrap_or_default();
                    groups
                        .entry((s.subject.clone(), queue))
                        .or_default()
                        .push(QueueMember {
                            cid: id,
                            client_name: c.name.clone(),
                            sid: s.sid.clone(),
                            delivered: s.delivered,
                        });
                }
                out.push(ConnectionInfo {
                    cid: id,
                    name: c.name.clone(),
                    lang: c.lang.clone(),
                    version: c.version.clone(),
                    addr: SocketAddr::new(
                        c.ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                        c.port,
                    ),
                    start: parse_time(&c.start).unwrap_or(SystemTime::UNIX_EPOCH),
                    subscriptions: subs,
                    totals,
                    rates,
                    pending_bytes: c.pending_bytes,
                    rtt: crate::duration::parse_std_duration(&c.rtt).ok(),
                    transport: c.transport(),
                });
            }
        }
        self.last_conn_totals = next_totals;
        out.sort_by_key(|c| c.cid);
        (out, QueueGroupInfo::from_members(groups), subscriptions)
    }
}

fn host_port(host: &str, port: u16) -> String {
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn add_rates(sum: &mut Rates, r: &Rates) {
    sum.in_msgs_per_sec += r.in_msgs_per_sec;
    sum.in_bytes_per_sec += r.in_bytes_per_sec;
    sum.out_msgs_per_sec += r.out_msgs_per_sec;
    sum.out_bytes_per_sec += r.out_bytes_per_sec;
}

fn add_totals(sum: &mut Totals, t: &Totals) {
    sum.in_msgs += t.in_msgs;
    sum.in_bytes += t.in_bytes;
    sum.out_msgs += t.out_msgs;
    sum.out_bytes += t.out_bytes;
}

/// An RFC 3339 time as nats-server writes it.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}

fn uptime(start: &str, now: &str) -> Option<Duration> {
    parse_time(now)?.duration_since(parse_time(start)?).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn varz(id: &str, name: &str, in_msgs: u64) -> Varz {
        Varz {
            server_id: id.into(),
            server_name: name.into(),
            version: "2.15.1".into(),
            in_msgs,
            ..Varz::default()
        }
    }

    #[test]
    fn a_server_that_stops_answering_is_reported_then_recovers() {
        let mut b = InventoryBuilder::default();
        let mut ids = ConnIds::default();
        let t0 = Instant::now();
        let both = PollResult {
            varz: vec![varz("A", "a", 0), varz("B", "b", 0)],
            ..PollResult::default()
        };
        let (inv, changes) = b.merge(&both, t0, "A", &mut ids, "test");
        assert_eq!(inv.servers.len(), 2);
        assert!(changes.is_empty());
        assert!(inv.servers[0].attached && !inv.servers[1].attached);
        let only_a = PollResult {
            varz: vec![varz("A", "a", 10)],
            ..PollResult::default()
        };
        // One missed poll is a late answer, not an outage.
        let (inv, changes) = b.merge(&only_a, t0 + Duration::from_secs(1), "A", &mut ids, "t");
        assert!(inv.servers[1].reachable && changes.is_empty());
        assert_eq!(inv.servers[0].in_msgs_per_sec, Some(10.0));
        let (inv, changes) = b.merge(&only_a, t0 + Duration::from_secs(2), "A", &mut ids, "t");
        assert_eq!(inv.servers.len(), 2);
        assert!(!inv.servers[1].reachable);
        assert_eq!(
            changes,
            vec![Reachability {
                name: "b".into(),
                reachable: false
            }]
        );
        let (_, changes) = b.merge(&both, t0 + Duration::from_secs(3), "A", &mut ids, "t");
        assert!(changes[0].reachable);
    }

    #[test]
    fn leaf_links_come_from_leafz_named_by_their_server() {
        let leafz: Leafz = serde_json::from_str(
            r#"{"server_id":"NHUB","now":"2026-12-02T05:00:00Z","leafnodes":2,"leafs":[
              {"id":9,"name":"laptop","is_spoke":false,"account":"APP","ip":"10.0.0.5",
               "port":52001,"rtt":"1.5ms","in_msgs":10,"out_msgs":20,"in_bytes":100,
               "out_bytes":200,"subscriptions":3},
              {"id":4,"name":"edge","is_spoke":true,"account":"$G","ip":"10.0.0.9",
               "port":7422,"in_msgs":0,"out_msgs":0,"in_bytes":0,"out_bytes":0,
               "subscriptions":0,"compression":"off"}]}"#,
        )
        .unwrap();
        let varz = Varz {
            server_id: "NHUB".into(),
            server_name: "hub-a".into(),
            ..Varz::default()
        };
        let links = leaf_links(&[leafz], &[varz]);
        assert_eq!(links.len(), 2);
        let edge = &links[0];
        assert_eq!(edge.remote_name, "hub-a \u{2192} edge");
        assert!(edge.solicited);
        assert_eq!(edge.rtt, None);
        let laptop = &links[1];
        assert_eq!(laptop.remote_name, "hub-a \u{2192} laptop");
        assert!(!laptop.solicited);
        assert_eq!(laptop.account, "APP");
        assert_eq!(laptop.url, "10.0.0.5:52001");
        assert_eq!(laptop.remote_interest, 3);
        assert_eq!((laptop.totals.in_msgs, laptop.totals.out_bytes), (10, 200));
        assert_eq!(laptop.rtt, Some(Duration::from_micros(1500)));
        assert_eq!(laptop.state, LeafLinkState::Connected);
    }

    #[test]
    fn jetstream_comes_from_jsz_summed_over_the_servers_that_run_it() {
        assert_eq!(jetstream_state(&[]), JetStreamState::Unknown);
        let off: Jsz = serde_json::from_str(r#"{"server_id":"S0","disabled":true}"#).unwrap();
        assert_eq!(
            jetstream_state(std::slice::from_ref(&off)),
            JetStreamState::Off
        );
        // nats-server 2.15's /jsz, trimmed.
        let json = r#"{"server_id":"S1","now":"2026-01-01T00:00:00Z",
            "config":{"max_memory":1048576,"max_storage":1073741824,
                      "store_dir":"/data/jetstream","sync_interval":120000000000},
            "memory":0,"storage":1234,"reserved_memory":0,"reserved_storage":0,"accounts":1,
            "ha_assets":0,"api":{"level":1,"total":7,"errors":2},"streams":1,"consumers":0,
            "messages":3,"bytes":1234}"#;
        let one: Jsz = serde_json::from_str(json).unwrap();
        let mut two = one.clone();
        two.server_id = "S2".into();
        two.config.store_dir = "/elsewhere/jetstream".into();
        let JetStreamState::On(js) = jetstream_state(&[one.clone(), off]) else {
            panic!("on");
        };
        assert_eq!(js.store_dir, "/data/jetstream");
        assert_eq!((js.streams, js.messages, js.bytes), (1, 3, 1234));
        assert_eq!((js.store_used, js.max_store), (1234, Some(1 << 30)));
        assert_eq!((js.memory_used, js.max_memory), (0, Some(1 << 20)));
        assert_eq!((js.api_requests, js.api_errors), (7, 2));
        assert_eq!(js.domain, None);
        let JetStreamState::On(both) = jetstream_state(&[one, two]) else {
            panic!("on");
        };
        assert_eq!((both.streams, both.store_used), (2, 2468));
        assert_eq!(both.max_store, Some(2 << 30));
        assert_eq!(both.store_dir, "", "the servers differ");
    }

    #[test]
    fn connections_get_cluster_wide_ids_and_queue_members_their_deliveries() {
        let json = r#"{"server_id":"S1","num_connections":1,"connections":[
            {"cid":5,"ip":"127.0.0.1","port":5000,"start":"2026-01-01T00:00:00Z","rtt":"1ms",
             "name":"worker","subscriptions_list_detail":[
                {"subject":"jobs","qgroup":"q","sid":"1","msgs":7},
                {"subject":"ping","sid":"2","msgs":1}]}]}"#;
        let connz: Connz = serde_json::from_str(json).unwrap();
        let mut other = connz.clone();
        other.server_id = "S2".into();
        let poll = PollResult {
            varz: vec![varz("S1", "one", 0), varz("S2", "two", 0)],
            connz: vec![connz, other],
            ..PollResult::default()
        };
        let mut ids = ConnIds::default();
        let (inv, _) =
            InventoryBuilder::default().merge(&poll, Instant::now(), "S1", &mut ids, "t");
        let conns = inv.connections.unwrap();
        assert_eq!(conns.len(), 2);
        assert_ne!(conns[0].cid, conns[1].cid);
        assert_eq!(conns[0].rtt, Some(Duration::from_millis(1)));
        assert_eq!(ids.lookup(conns[1].cid), Some(("S2".into(), 5)));
        assert_eq!(inv.queue_groups.len(), 1);
        assert_eq!(inv.queue_groups[0].members.len(), 2);
        assert_eq!(inv.queue_groups[0].members[0].delivered, 7);
        assert_eq!(inv.subscriptions, Some(4));
    }
}
