//! The sampler: every tick it reads the engine's counters (never blocking the publish path:
//! per-connection atomics, the tap's merged subject counters, short locks on registries)
//! and publishes one `Snapshot` to the feed. Rates are differences between ticks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::broker::server::{client_totals, Server};
use crate::broker::tap::LatencyWindow;
use crate::inspect::snapshot::{
    per_sec, ClosedConnectionInfo, ConnectionInfo, DropCounters, JetStreamState, JetStreamSummary,
    LatencyHistogram, QueueGroupInfo, QueueMember, Rates, ServerIdentity, ServerSummary,
    ServiceLatency, Snapshot, SubjectStat, SubscriptionInfo, Totals,
};
use crate::jetstream::store::StorageKind;
use crate::jetstream::JetStream;
use crate::proto::info::NATS_COMPAT_VERSION;

/// How often a snapshot is taken.
pub const TICK: Duration = Duration::from_millis(250);
/// Closed connections shown.
const CLOSED_SHOWN: usize = 200;

/// Keeps the previous tick's counters to turn totals into rates.
pub struct Sampler {
    server: Arc<Server>,
    identity: ServerIdentity,
    last_at: Option<Instant>,
    last_totals: Totals,
    last_clients: HashMap<u64, Totals>,
    last_subjects: HashMap<Box<[u8]>, (u64, u64)>,
    /// Per service subject: replies seen at the last tick, and every round trip so far.
    histograms: HashMap<Box<[u8]>, (u64, LatencyHistogram)>,
    accounts: super::accounts::AccountsSampler,
    leaf: super::leaf::LeafSampler,
    streams: super::jetstream::StreamsSampler,
}

impl Sampler {
    pub fn new(server: Arc<Server>, monitor_url: Option<String>) -> Self {
        let identity = ServerIdentity {
            id: server.id.clone(),
            name: server.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            nats_version: NATS_COMPAT_VERSION.to_string(),
            client_url: super::client_url(&server),
            monitor_url,
            websocket_url: server.websocket().map(|ws| ws.url()),
            exposed_without_auth: !server.auth_required() && !is_loopback_host(&server.opts.host),
        };
        Sampler {
            server,
            identity,
            last_at: None,
            last_totals: Totals::default(),
            last_clients: HashMap::new(),
            last_subjects: HashMap::new(),
            histograms: HashMap::new(),
            accounts: Default::default(),
            leaf: Default::default(),
            streams: Default::default(),
        }
    }

    /// Builds the snapshot of this moment.
    pub fn sample(&mut self) -> Snapshot {
        let now = Instant::now();
        let elapsed = self
            .last_at
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_at = Some(now);
        let server = self.server.clone();
        server.tap.expire_requests();
        server.tap.refill_samples();

        let totals = server.totals();
        let rates = Rates::between(&self.last_totals, &totals, elapsed);
        self.last_totals = totals;

        let mut connections = Vec::new();
        let mut next_clients = HashMap::new();
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut groups: HashMap<(String, String), Vec<QueueMember>> = HashMap::new();
        for client in server.clients() {
            let meta = client.meta.lock().clone();
            let client_totals = client_totals(&client);
            let previous = self
                .last_clients
                .get(&client.cid)
                .copied()
                .unwrap_or_default();
            next_clients.insert(client.cid, client_totals);
            let mut subscriptions: Vec<SubscriptionInfo> = client
                .subscription_infos()
                .into_iter()
                .map(|s| SubscriptionInfo {
                    subject: s.subject,
                    queue: s.queue,
                    sid: s.sid,
                    delivered: s.msgs,
                })
                .collect();
            subscriptions.sort_by(|a, b| (&a.subject, &a.sid).cmp(&(&b.subject, &b.sid)));
            for sub in &subscriptions {
                if let Some(queue) = &sub.queue {
                    groups
                        .entry((sub.subject.clone(), queue.clone()))
                        .or_default()
                        .push(QueueMember {
                            cid: client.cid,
                            client_name: meta.name.clone(),
                            sid: sub.sid.clone(),
                            delivered: sub.delivered,
                        });
                }
            }
            names.insert(client.cid, meta.name.clone());
            connections.push(ConnectionInfo {
                cid: client.cid,
                name: meta.name,
                lang: meta.lang,
                version: meta.version,
                addr: client.addr,
                start: client.start,
                subscriptions,
                totals: client_totals,
                rates: Rates::between(&previous, &client_totals, elapsed),
                pending_bytes: client.outbound.pending_bytes(),
                rtt: meta.rtt,
                transport: client.transport().as_str(),
            });
        }
        self.last_clients = next_clients;

        let queue_groups = QueueGroupInfo::from_members(groups);

        let subjects = self.subjects(elapsed);
        let closed = closed_connections(&server);
        let latency = latency(server.tap.latency_windows(), &mut self.histograms);
        let uptime = server.start.elapsed().unwrap_or_default();
        // The embedded broker is a deployment of one server.
        let servers = vec![ServerSummary {
            name: self.identity.name.clone(),
            id: self.identity.id.clone(),
            version: self.identity.version.clone(),
            url: Some(self.identity.client_url.clone()),
            cluster: None,
            connections: Some(connections.len()),
            subscriptions: u32::try_from(server.subscription_count()).ok(),
            routes: None,
            in_msgs_per_sec: Some(rates.in_msgs_per_sec),
            out_msgs_per_sec: Some(rates.out_msgs_per_sec),
            uptime: Some(uptime),
            reachable: true,
            last_seen: Some(SystemTime::now()),
            attached: true,
        }];
        Snapshot {
            servers,
            taken_at: Some(SystemTime::now()),
            server: self.identity.clone(),
            uptime,
            totals,
            rates,
            connections,
            closed,
            subjects,
            queue_groups,
            latency,
            subscriptions: server.subscription_count(),
            slow_consumers: server
                .stats
                .slow_consumers
                .load(std::sync::atomic::Ordering::Relaxed),
            drops: DropCounters {
                samples: server.tap.publisher().dropped_samples(),
                events: server.tap.publisher().dropped_events(),
            },
            jetstream: jetstream(&server),
            jetstream_streams: self.streams.sample(&server),
            accounts: self.accounts.sample(&server, elapsed),
            leaf_links: self.leaf.sample(&server, elapsed),
            ..Default::default()
        }
    }

    /// Every published subject with its rates and who listens to it now.
    fn subjects(&mut self, elapsed: f64) -> Vec<SubjectStat> {
        let server = &self.server;
        let accounts = server.accounts();
        let sublists: Vec<_> = accounts.iter().map(|a| a.sublist.read()).collect();
        let mut next = HashMap::new();
        let mut out: Vec<SubjectStat> = server
            .tap
            .subject_totals()
            .into_iter()
            .map(|(subject, t)| {
                // A subject new since the last tick was published to in that tick (a reply
                // inbox, published to once, has that one message as its rate); only at the
                // first tick is what came before unknown in time.
                let unseen = if elapsed > 0.0 {
                    (0, 0)
                } else {
                    (t.msgs, t.bytes)
                };
                let (prev_msgs, prev_bytes) =
                    self.last_subjects.get(&subject).copied().unwrap_or(unseen);
                let mut receivers = Vec::new();
                let mut subscribers = 0;
                for sublist in &sublists {
                    let result = sublist.match_subject(&subject);
                    subscribers += result.psubs.len()
                        + result.qsubs.iter().map(|g| g.members.len()).sum::<usize>();
                    receivers.extend(result.psubs.iter().map(|s| s.client.cid));
                    for group in &result.qsubs {
                        receivers.extend(group.members.iter().map(|s| s.client.cid));
                    }
                }
                receivers.sort_unstable();
                receivers.dedup();
                let mut publishers = t.publishers.clone();
                publishers.sort_unstable();
                let stat = SubjectStat {
                    subject: String::from_utf8_lossy(&subject).into_owned(),
                    msgs: t.msgs,
                    bytes: t.bytes,
                    msgs_per_sec: per_sec(prev_msgs, t.msgs, elapsed),
                    bytes_per_sec: per_sec(prev_bytes, t.bytes, elapsed),
                    no_interest_msgs: t.no_interest_msgs,
                    reply_msgs: t.reply_msgs,
                    subscribers,
                    publishers,
                    receivers,
                    last_published: t.last_published,
                };
                next.insert(subject, (t.msgs, t.bytes));
                stat
            })
            .collect();
        drop(sublists);
        self.last_subjects = next;
        out.sort_by(|a, b| a.subject.cmp(&b.subject));
        out
    }
}

/// Runs the sampler until the feed's observer is gone or the runtime stops.
pub async fn run(mut sampler: Sampler) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let snapshot = sampler.sample();
        sampler.server.tap.publisher().publish_snapshot(snapshot);
    }
}

/// JetStream's usage and limits now; `Off` when the broker runs none.
pub fn jetstream(server: &Server) -> JetStreamState {
    let Some(js) = JetStream::of(server) else {
        return JetStreamState::Off;
    };
    let (streams, messages, bytes) = js.totals();
    JetStreamState::On(JetStreamSummary {
        store_dir: js.config.store_dir.display().to_string(),
        domain: js.config.domain.clone(),
        memory_used: js.used(StorageKind::Memory),
        max_memory: u64::try_from(js.config.max_memory).ok(),
        store_used: js.used(StorageKind::File),
        max_store: u64::try_from(js.config.max_store).ok(),
        streams: streams as u64,
        messages,
        bytes,
        api_requests: js.api_total.load(std::sync::atomic::Ordering::Relaxed),
        api_errors: js.api_errors.load(std::sync::atomic::Ordering::Relaxed),
    })
}

fn closed_connections(server: &Server) -> Vec<ClosedConnectionInfo> {
    let closed = server.closed_clients();
    let skip = closed.len().saturating_sub(CLOSED_SHOWN);
    closed
        .into_iter()
        .skip(skip)
        .map(|c| ClosedConnectionInfo {
            cid: c.cid,
            name: c.name,
            addr: c.addr,
            start: c.start,
            stop: c.stop,
            reason: c.reason.to_string(),
            totals: c.totals,
        })
        .collect()
}

fn latency(
    windows: Vec<(Box<[u8]>, LatencyWindow)>,
    histograms: &mut HashMap<Box<[u8]>, (u64, LatencyHistogram)>,
) -> Vec<ServiceLatency> {
    let mut out: Vec<ServiceLatency> = windows
        .into_iter()
        .map(|(subject, w)| {
            let (seen, histogram) = histograms.entry(subject.clone()).or_default();
            let new = match w.replies.checked_sub(*seen) {
                Some(new) => new,
                // Fewer replies than last time: the window started over.
                None => {
                    *histogram = LatencyHistogram::default();
                    w.replies
                }
            };
            for rtt in newest_round_trips(&w.recent, w.replies, new) {
                histogram.record(rtt);
            }
            *seen = w.replies;
            let histogram = histogram.clone();
            ServiceLatency {
                histogram,
                reported: None,
                ..ServiceLatency::summarize(
                    String::from_utf8_lossy(&subject).into_owned(),
                    w.requests,
                    w.replies,
                    w.timeouts,
                    w.recent,
                )
            }
        })
        .collect();
    out.sort_by(|a, b| a.subject.cmp(&b.subject));
    out
}

/// The `n` newest round trips of the tap's window (fewer when more than it keeps came in a
/// tick: the histogram then holds a sample of them). The window is a ring the tap fills in
/// order and then overwrites oldest first, one slot per reply, so once it is full the next
/// slot to write, which holds the oldest, is `replies` modulo its length.
fn newest_round_trips(
    recent: &[Duration],
    replies: u64,
    n: u64,
) -> impl Iterator<Item = Duration> + '_ {
    let len = recent.len();
    let next = if len == 0 || replies <= len as u64 {
        len
    } else {
        (replies % len as u64) as usize
    };
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(len);
    (1..=n).map(move |back| recent[(next + len - back) % len])
}

/// True for addresses only this machine can reach.
fn is_loopback_host(host: &str) -> bool {
    match host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A host as it appears in a URL (IPv6 in brackets); a wildcard address means this machine.
pub(crate) fn url_host(host: &str) -> String {
    match host {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    }
}

#[cfg(test)]
#[path = "sampler_tests.rs"]
mod tests;
