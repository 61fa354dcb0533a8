//! Synthetic traffic for tests, screenshots and trying the inspector without clients: a
//! small simulated deployment (order services, a payments queue group, workers, telemetry,
//! an audit stream nobody listens to) that fills a [`FeedPublisher`] as the engine would.
//!
//! Map: here the world, its connections and their traffic; `accounts` (three accounts
//! sharing a stream and a service), `jetstream` (streams, consumers, key-value buckets and
//! an object store, growing with the traffic), `leaf` (a hub it joined as a leaf node, and
//! a leaf node of its own).

mod accounts;
mod jetstream;
mod leaf;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use crate::inspect::feed::{self, Feed, FeedPublisher};
use crate::inspect::snapshot::{
    ClosedConnectionInfo, ConnectionInfo, EventKind, MessageSample, QueueGroupInfo, QueueMember,
    Rates, ServerIdentity, ServiceLatency, Snapshot, SubjectStat, SubscriptionInfo, Totals,
};
use crate::inspect::SourceControl;
use crate::proto::subject::matches;

/// A [`SourceControl`] that records what it is asked (tests read it back).
#[derive(Default)]
pub struct SyntheticControl {
    kicks: Mutex<VecDeque<u64>>,
    kicked: Mutex<Vec<u64>>,
    sampling: AtomicBool,
    latency: AtomicBool,
    /// Every set_sampling call, in order.
    pub sampling_calls: Mutex<Vec<bool>>,
}

impl SyntheticControl {
    pub fn new() -> Self {
        let c = Self::default();
        c.latency.store(true, Ordering::Relaxed);
        c
    }

    /// Ids passed to `kick`, in order.
    pub fn kicked(&self) -> Vec<u64> {
        self.kicked.lock().clone()
    }

    fn take_kicks(&self) -> Vec<u64> {
        self.kicks.lock().drain(..).collect()
    }
}

impl SourceControl for SyntheticControl {
    fn kick(&self, cid: u64) -> bool {
        self.kicked.lock().push(cid);
        self.kicks.lock().push_back(cid);
        true
    }
    fn set_sampling(&self, on: bool) {
        self.sampling.store(on, Ordering::Relaxed);
        self.sampling_calls.lock().push(on);
    }
    fn sampling(&self) -> bool {
        self.sampling.load(Ordering::Relaxed)
    }
    fn set_latency_tracking(&self, on: bool) {
        self.latency.store(on, Ordering::Relaxed);
    }
    fn latency_tracking(&self) -> bool {
        self.latency.load(Ordering::Relaxed)
    }
}

struct Conn {
    info: ConnectionInfo,
    /// (subject, base msgs/s, payload size).
    publishes: Vec<(&'static str, f64, usize)>,
    /// Weight of this member in queue groups it belongs to.
    weight: f64,
}

/// Samples offered per tick while sampling is on.
const SAMPLES_PER_TICK: usize = 40;

/// The simulated deployment.
pub struct SyntheticWorld {
    conns: Vec<Conn>,
    closed: Vec<ClosedConnectionInfo>,
    subjects: BTreeMap<String, SubjectStat>,
    queue_delivered: BTreeMap<(u64, String), u64>,
    latency: BTreeMap<&'static str, ServiceLatency>,
    totals: Totals,
    start: SystemTime,
    now: SystemTime,
    tick: u64,
    sample_seq: u64,
    rng: fastrand::Rng,
    /// The URL the snapshots give as the server's.
    pub client_url: String,
}

fn addr(port: u16) -> SocketAddr {
    ([10, 0, 3, (port % 200) as u8 + 10], port).into()
}

fn sub(subject: &str, queue: Option<&str>) -> SubscriptionInfo {
    SubscriptionInfo {
        subject: subject.into(),
        queue: queue.map(str::to_string),
        sid: "1".into(),
        delivered: 0,
    }
}

impl Default for SyntheticWorld {
    fn default() -> Self {
        Self::new(SystemTime::now())
    }
}

impl SyntheticWorld {
    pub fn new(now: SystemTime) -> Self {
        let start = now - Duration::from_secs(3 * 3600 + 17 * 60);
        let mut id = 0;
        let mut conn = |name: &str,
                        lang: &str,
                        version: &str,
                        age_secs: u64,
                        subs: Vec<SubscriptionInfo>,
                        publishes: Vec<(&'static str, f64, usize)>,
                        weight: f64| {
            id += 1;
            let mut subs = subs;
            for (i, s) in subs.iter_mut().enumerate() {
                s.sid = (i + 1).to_string();
            }
            Conn {
                info: ConnectionInfo {
                    cid: id,
                    name: name.into(),
                    lang: lang.into(),
                    version: version.into(),
                    addr: addr(40_000 + id as u16 * 7),
                    start: now - Duration::from_secs(age_secs),
                    subscriptions: subs,
                    totals: Totals::default(),
                    rates: Rates::default(),
                    pending_bytes: 0,
                    rtt: Some(Duration::from_micros(180 + id * 37)),
                    // The browser dashboard comes over WebSocket, as a web page does.
                    transport: if name == "dashboard" { "ws" } else { "tcp" },
                },
                publishes,
                weight,
            }
        };
        let conns = vec![
            conn(
                "orders-api",
                "go",
                "1.41.1",
                11_000,
                vec![sub("orders.*.cancel", None)],
                vec![
                    ("orders.eu.created", 120.0, 310),
                    ("orders.us.created", 80.0, 290),
                    ("orders.eu.shipped", 40.0, 180),
                ],
                1.0,
            ),
            conn(
                "billing",
                "rust",
                "0.42.0",
                10_500,
                vec![sub("orders.*.created", None), sub("_INBOX.billing.>", None)],
                vec![("payments.authorize", 60.0, 140)],
                1.0,
            ),
            conn(
                "payments-1",
                "java",
                "2.20.4",
                9_000,
                vec![sub("payments.authorize", Some("payments"))],
                vec![],
                0.55,
            ),
            conn(
                "payments-2",
                "java",
                "2.20.4",
                8_800,
                vec![sub("payments.authorize", Some("payments"))],
                vec![],
                0.30,
            ),
            conn(
                "payments-3",
                "java",
                "2.20.4",
                600,
                vec![sub("payments.authorize", Some("payments"))],
                vec![],
                0.15,
            ),
            conn(
                "worker-a",
                "python3",
                "2.9.0",
                7_200,
                vec![sub("jobs.>", Some("workers"))],
                vec![],
                1.0,
            ),
            conn(
                "worker-b",
                "python3",
                "2.9.0",
                7_100,
                vec![sub("jobs.>", Some("workers"))],
                vec![],
                1.0,
            ),
            conn(
                "scheduler",
                "nats.js",
                "2.28.2",
                10_000,
                vec![],
                vec![
                    ("jobs.email.send", 25.0, 420),
                    ("jobs.report.build", 3.0, 900),
                ],
                1.0,
            ),
            conn(
                "sensor-gateway",
                "C",
                "3.9.1",
                12_000,
                vec![],
                vec![
                    ("telemetry.plant1.line1.temp", 400.0, 64),
                    ("telemetry.plant1.line2.temp", 400.0, 64),
                    ("telemetry.plant1.line1.pressure", 200.0, 72),
                    ("telemetry.plant2.line1.temp", 300.0, 64),
                    ("metrics.raw.cpu", 50.0, 48),
                ],
                1.0,
            ),
            conn(
                "dashboard",
                "nats.js",
                "2.28.2",
                3_000,
                vec![sub("telemetry.>", None), sub("metrics.>", None)],
                vec![],
                1.0,
            ),
            conn(
                "audit-shipper",
                "go",
                "1.41.1",
                9_500,
                vec![],
                vec![("audit.login", 15.0, 210), ("audit.logout", 9.0, 200)],
                1.0,
            ),
            conn(
                "",
                "python3",
                "2.9.0",
                90,
                vec![],
                vec![("reports.daily.generated", 0.5, 1200)],
                1.0,
            ),
        ];
        let closed = vec![ClosedConnectionInfo {
            cid: 99,
            name: "legacy-exporter".into(),
            addr: addr(39_999),
            start: now - Duration::from_secs(5000),
            stop: now - Duration::from_secs(1200),
            reason: "Slow Consumer (Pending Bytes)".into(),
            totals: Totals {
                in_msgs: 12,
                in_bytes: 800,
                out_msgs: 1_204_332,
                out_bytes: 90_000_000,
            },
        }];
        Self {
            conns,
            closed,
            subjects: BTreeMap::new(),
            queue_delivered: BTreeMap::new(),
            latency: BTreeMap::new(),
            totals: Totals::default(),
            start,
            now,
            tick: 0,
            sample_seq: 0,
            rng: fastrand::Rng::with_seed(7),
            client_url: "nats://127.0.0.1:4222".into(),
        }
    }

    /// The `Connected` events of everyone already there (send once at start).
    pub fn initial_events(&self, publisher: &FeedPublisher) {
        let mut events: Vec<(SystemTime, EventKind)> = self
            .conns
            .iter()
            .map(|c| {
                (
                    c.info.start,
                    EventKind::Connected {
                        cid: c.info.cid,
                        addr: c.info.addr,
                        name: c.info.name.clone(),
                    },
                )
            })
            .collect();
        let ago = |secs| self.now - Duration::from_secs(secs);
        events.push((
            ago(1201),
            EventKind::SlowConsumer {
                cid: 99,
                name: "legacy-exporter".into(),
            },
        ));
        events.push((
            ago(1200),
            EventKind::Disconnected {
                cid: 99,
                name: "legacy-exporter".into(),
                reason: "Slow Consumer (Pending Bytes)".into(),
            },
        ));
        events.push((
            ago(300),
            EventKind::AuthFailure {
                addr: addr(51_234),
                user: "reporting".into(),
            },
        ));
        events.push((
            ago(60),
            EventKind::PermissionViolation {
                cid: 2,
                text: "Permissions Violation for Publish to \"admin.shutdown\"".into(),
            },
        ));
        events.sort_by_key(|(t, _)| *t);
        for (t, kind) in events {
            publisher.push_event(t, kind);
        }
    }

    /// Advances the world by `dt`, publishes a snapshot, and offers samples when sampling.
    pub fn step(&mut self, dt: Duration, publisher: &FeedPublisher, control: &SyntheticControl) {
        self.now += dt;
        self.tick += 1;
        let secs = dt.as_secs_f64().max(1e-3);
        for id in control.take_kicks() {
            self.close(id, "Kicked", publisher);
        }
        for c in &mut self.conns {
            c.info.rates = Rates::default();
        }
        let t = self
            .now
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs_f64();
        let sampling = control.sampling();
        let mut samples_left = if sampling { SAMPLES_PER_TICK } else { 0 };
        for pi in 0..self.conns.len() {
            for (k, &(subject, base, size)) in self.conns[pi].publishes.clone().iter().enumerate() {
                let wave = 1.0 + 0.35 * (t / 9.0 + k as f64 + pi as f64).sin();
                let rate = base * wave * (0.9 + 0.2 * self.rng.f64());
                let n = (rate * secs).round() as u64;
                if n == 0 {
                    continue;
                }
                self.route(pi, subject, n, size, secs, &mut samples_left, publisher);
            }
        }
        self.totals.in_msgs = self.conns.iter().map(|c| c.info.totals.in_msgs).sum();
        self.totals.in_bytes = self.conns.iter().map(|c| c.info.totals.in_bytes).sum();
        self.totals.out_msgs = self.conns.iter().map(|c| c.info.totals.out_msgs).sum();
        self.totals.out_bytes = self.conns.iter().map(|c| c.info.totals.out_bytes).sum();
        // The dashboard falls behind now and then.
        if let Some(d) = self.conns.iter_mut().find(|c| c.info.name == "dashboard") {
            let phase = (t / 7.0).sin();
            d.info.pending_bytes = if phase > 0.8 {
                3 * 1024 * 1024 + self.rng.usize(..500_000)
            } else {
                self.rng.usize(..20_000)
            };
        }
        if control.latency_tracking() {
            self.track_latency(secs);
        }
        publisher.publish_snapshot(self.snapshot(control.latency_tracking(), publisher));
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &mut self,
        pi: usize,
        subject: &'static str,
        n: u64,
        size: usize,
        secs: f64,
        samples_left: &mut usize,
        publisher: &FeedPublisher,
    ) {
        let publisher_cid = self.conns[pi].info.cid;
        let bytes = n * size as u64;
        {
            let p = &mut self.conns[pi].info;
            p.totals.in_msgs += n;
            p.totals.in_bytes += bytes;
            p.rates.in_msgs_per_sec += n as f64 / secs;
            p.rates.in_bytes_per_sec += bytes as f64 / secs;
        }
        let mut receivers = Vec::new();
        let mut subscribers = 0;
        let mut groups: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (ci, c) in self.conns.iter().enumerate() {
            for (si, s) in c.info.subscriptions.iter().enumerate() {
                if matches(s.subject.as_bytes(), subject.as_bytes()) {
                    subscribers += 1;
                    receivers.push(c.info.cid);
                    if let Some(q) = &s.queue {
                        groups
                            .entry(format!("{}\u{0}{q}", s.subject))
                            .or_default()
                            .push((ci, si));
                    }
                }
            }
        }
        let mut deliveries: Vec<(usize, usize, u64)> = Vec::new();
        for (ci, c) in self.conns.iter().enumerate() {
            for (si, s) in c.info.subscriptions.iter().enumerate() {
                if s.queue.is_none() && matches(s.subject.as_bytes(), subject.as_bytes()) {
                    deliveries.push((ci, si, n));
                }
            }
        }
        for members in groups.values() {
            let total_w: f64 = members.iter().map(|&(ci, _)| self.conns[ci].weight).sum();
            let mut left = n;
            for (k, &(ci, si)) in members.iter().enumerate() {
                let share = if k + 1 == members.len() {
                    left
                } else {
                    ((n as f64) * self.conns[ci].weight / total_w).round() as u64
                };
                let share = share.min(left);
                left -= share;
                deliveries.push((ci, si, share));
            }
        }
        for (ci, si, m) in deliveries {
            let c = &mut self.conns[ci].info;
            c.totals.out_msgs += m;
            c.totals.out_bytes += m * size as u64;
            c.rates.out_msgs_per_sec += m as f64 / secs;
            c.rates.out_bytes_per_sec += (m * size as u64) as f64 / secs;
            c.subscriptions[si].delivered += m;
            if let Some(q) = &c.subscriptions[si].queue {
                *self.queue_delivered.entry((c.cid, q.clone())).or_default() += m;
            }
        }
        receivers.sort_unstable();
        receivers.dedup();
        let stat = self
            .subjects
            .entry(subject.to_string())
            .or_insert_with(|| SubjectStat {
                subject: subject.to_string(),
                msgs: 0,
                bytes: 0,
                msgs_per_sec: 0.0,
                bytes_per_sec: 0.0,
                no_interest_msgs: 0,
                reply_msgs: 0,
                subscribers: 0,
                publishers: vec![],
                receivers: vec![],
                last_published: None,
            });
        stat.msgs += n;
        stat.bytes += bytes;
        stat.msgs_per_sec = n as f64 / secs;
        stat.bytes_per_sec = bytes as f64 / secs;
        if subscribers == 0 {
            stat.no_interest_msgs += n;
        }
        stat.subscribers = subscribers;
        if !stat.publishers.contains(&publisher_cid) {
            stat.publishers.push(publisher_cid);
            stat.publishers.sort_unstable();
        }
        stat.receivers = receivers;
        stat.last_published = Some(self.now);
        let take = (*samples_left).min(n as usize).min(3);
        for _ in 0..take {
            *samples_left -= 1;
            self.sample_seq += 1;
            let mut sample = self.sample(subject, publisher_cid, subscribers as u32);
            // Spread a tick's samples over the tick, in order.
            let offset = Duration::from_millis(6 * (SAMPLES_PER_TICK - *samples_left) as u64);
            sample.time = (self.now + offset)
                .checked_sub(Duration::from_millis(250))
                .unwrap_or(self.now);
            publisher.offer_sample(sample);
        }
    }

    fn sample(&mut self, subject: &str, publisher_cid: u64, receivers: u32) -> MessageSample {
        let r = &mut self.rng;
        let (reply, headers, payload): (Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>) = if subject
            .starts_with("orders.")
        {
            let region = subject.split('.').nth(1).unwrap_or("eu");
            (None, Some(format!("NATS/1.0\r\nNats-Msg-Id: ord-{}\r\nContent-Type: application/json\r\n\r\n", 48_000 + self.sample_seq).into_bytes()),
             format!(r#"{{"order_id":{},"region":"{region}","customer":"c-{}","amount":{:.2},"items":{},"state":"{}"}}"#,
                 48_000 + self.sample_seq, r.u32(1000..9999), r.f64() * 300.0, r.u8(1..6), if subject.ends_with("shipped") { "shipped" } else { "new" }).into_bytes())
        } else if subject.starts_with("payments.") {
            (
                Some(format!("_INBOX.billing.{}", self.sample_seq).into_bytes()),
                None,
                format!(
                    r#"{{"order_id":{},"amount":{:.2},"currency":"EUR"}}"#,
                    48_000 + self.sample_seq,
                    r.f64() * 300.0
                )
                .into_bytes(),
            )
        } else if subject.starts_with("telemetry.") {
            (
                None,
                None,
                format!(
                    r#"{{"ts":{},"value":{:.2},"unit":"{}"}}"#,
                    self.tick,
                    20.0 + r.f64() * 5.0,
                    if subject.ends_with("temp") {
                        "C"
                    } else {
                        "bar"
                    }
                )
                .into_bytes(),
            )
        } else if subject.starts_with("metrics.raw") {
            (None, None, (0..48).map(|_| r.u8(..)).collect())
        } else if subject.starts_with("audit.") {
            (
                None,
                None,
                format!(
                    "user=u{} action={} ip=10.1.{}.{}",
                    r.u16(100..999),
                    subject.rsplit('.').next().unwrap_or(""),
                    r.u8(..),
                    r.u8(..)
                )
                .into_bytes(),
            )
        } else {
            (
                None,
                None,
                format!(r#"{{"job":"{}","attempt":{}}}"#, subject, r.u8(1..3)).into_bytes(),
            )
        };
        MessageSample {
            seq: self.sample_seq,
            time: self.now,
            subject: subject.as_bytes().to_vec(),
            reply,
            headers,
            payload,
            publisher_cid,
            receivers,
        }
    }

    fn track_latency(&mut self, secs: f64) {
        let r = &mut self.rng;
        for (subject, rate, base_us, timeout_every) in [
            ("payments.authorize", 60.0, 900u64, 400u64),
            ("inventory.reserve", 12.0, 4200, 40),
        ] {
            let e = self
                .latency
                .entry(subject)
                .or_insert_with(|| ServiceLatency {
                    subject: subject.into(),
                    requests: 0,
                    replies: 0,
                    timeouts: 0,
                    p50: Duration::ZERO,
                    p90: Duration::ZERO,
                    p99: Duration::ZERO,
                    max: Duration::ZERO,
                    sample_every: 1,
                    histogram: Default::default(),
                    reported: None,
                });
            let n = (rate * secs).round() as u64;
            e.requests += n;
            let lost = u64::from(r.u64(..timeout_every) < n);
            e.timeouts += lost;
            e.replies += n - lost;
            let jitter = 0.8 + 0.4 * r.f64();
            // Round trips spread as the percentiles below say: p90 3x and p99 9x the median.
            for _ in 0..n - lost {
                let x = r.f64();
                let factor = if x < 0.5 {
                    0.6 + 0.8 * x
                } else if x < 0.9 {
                    1.0 + 5.0 * (x - 0.5)
                } else {
                    3.0 + 66.0 * (x - 0.9)
                };
                e.histogram.record(Duration::from_secs_f64(
                    base_us as f64 * jitter * factor / 1e6,
                ));
            }
            e.p50 = Duration::from_micros((base_us as f64 * jitter) as u64);
            e.p90 = e.p50 * 3;
            e.p99 = e.p50 * 9;
            e.max = e
                .max
                .max(e.p99 + Duration::from_micros(r.u64(..base_us * 4)));
            e.sample_every = if subject == "payments.authorize" {
                4
            } else {
                1
            };
        }
    }

    fn close(&mut self, id: u64, reason: &str, publisher: &FeedPublisher) {
        let Some(pos) = self.conns.iter().position(|c| c.info.cid == id) else {
            return;
        };
        let c = self.conns.remove(pos);
        publisher.push_event(
            self.now,
            EventKind::Disconnected {
                cid: id,
                name: c.info.name.clone(),
                reason: reason.into(),
            },
        );
        self.closed.push(ClosedConnectionInfo {
            cid: id,
            name: c.info.name,
            addr: c.info.addr,
            start: c.info.start,
            stop: self.now,
            reason: reason.into(),
            totals: c.info.totals,
        });
        if self.closed.len() > 100 {
            self.closed.remove(0);
        }
    }

    fn snapshot(&self, latency: bool, publisher: &FeedPublisher) -> Snapshot {
        let connections: Vec<ConnectionInfo> = self.conns.iter().map(|c| c.info.clone()).collect();
        let streams = self.streams();
        let mut groups: BTreeMap<(String, String), Vec<QueueMember>> = BTreeMap::new();
        for c in &connections {
            for s in &c.subscriptions {
                if let Some(q) = &s.queue {
                    groups
                        .entry((s.subject.clone(), q.clone()))
                        .or_default()
                        .push(QueueMember {
                            cid: c.cid,
                            client_name: c.name.clone(),
                            sid: s.sid.clone(),
                            delivered: self
                                .queue_delivered
                                .get(&(c.cid, q.clone()))
                                .copied()
                                .unwrap_or(0),
                        });
                }
            }
        }
        let rates = Rates {
            in_msgs_per_sec: connections.iter().map(|c| c.rates.in_msgs_per_sec).sum(),
            in_bytes_per_sec: connections.iter().map(|c| c.rates.in_bytes_per_sec).sum(),
            out_msgs_per_sec: connections.iter().map(|c| c.rates.out_msgs_per_sec).sum(),
            out_bytes_per_sec: connections.iter().map(|c| c.rates.out_bytes_per_sec).sum(),
        };
        Snapshot {
            taken_at: Some(self.now),
            server: ServerIdentity {
                id: "NDEMO4SWITCHBOARD7Q2XK3LMB5TYV".into(),
                name: "switchboard-demo".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                nats_version: crate::proto::info::NATS_COMPAT_VERSION.into(),
                client_url: self.client_url.clone(),
                monitor_url: Some("http://127.0.0.1:8222".into()),
                websocket_url: Some("ws://127.0.0.1:8080".into()),
                exposed_without_auth: false,
            },
            uptime: self.now.duration_since(self.start).unwrap_or_default(),
            totals: self.totals,
            rates,
            subscriptions: connections.iter().map(|c| c.subscriptions.len()).sum(),
            connections,
            closed: self.closed.clone(),
            subjects: self.subjects.values().cloned().collect(),
            queue_groups: groups
                .into_iter()
                .map(|((subject, queue), members)| QueueGroupInfo {
                    subject,
                    queue,
                    members,
                })
                .collect(),
            latency: if latency {
                self.latency.values().cloned().collect()
            } else {
                vec![]
            },
            slow_consumers: 1,
            drops: crate::inspect::snapshot::DropCounters {
                samples: publisher.dropped_samples(),
                events: publisher.dropped_events(),
            },
            jetstream: self.jetstream(&streams),
            jetstream_streams: Arc::new(streams),
            accounts: self.accounts(),
            leaf_links: self.leaf_links(),
            ..Default::default()
        }
    }
}

/// A feed driven by the simulated deployment on `runtime`, every 250 ms.
pub fn synthetic_feed(runtime: &tokio::runtime::Handle) -> (Feed, Arc<dyn SourceControl>) {
    synthetic_feed_with_url(runtime, "nats://127.0.0.1:4222")
}

/// [`synthetic_feed`], with the server URL the snapshots report.
pub fn synthetic_feed_with_url(
    runtime: &tokio::runtime::Handle,
    client_url: &str,
) -> (Feed, Arc<dyn SourceControl>) {
    let (publisher, feed) = feed::channel(4096);
    let control = Arc::new(SyntheticControl::new());
    let mut world = SyntheticWorld {
        client_url: client_url.to_string(),
        ..SyntheticWorld::default()
    };
    world.initial_events(&publisher);
    let ctl = control.clone();
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        loop {
            interval.tick().await;
            world.step(Duration::from_millis(250), &publisher, &ctl);
        }
    });
    (feed, control)
}
