//! One attached remote deployment: the observer task (an async-nats client subscribed to the
//! profile's patterns, feeding subject stats, samples and latency into snapshots at 4 Hz),
//! the inventory task (servers, connections and subscriptions from the system account or
//! the monitoring endpoints), and the link state both report. Everything runs on the tokio
//! runtime; the GUI only reads the feed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::cluster::{ConnIds, Inventory, InventoryBuilder, PollResult};
use super::observer::Observer;
use super::poll;
use super::profile::Profile;
use crate::connect::ConnectArgs;
use crate::inspect::feed::FeedPublisher;
use crate::inspect::snapshot::{
    EventKind, LinkState, LinkStatus, MessageSample, Rates, ServerIdentity, ServerSummary,
    Snapshot, SubjectStat, Totals, Vantage,
};
use crate::proto::subject;
use crate::record::nats::headers_to_raw;
use crate::record::remote::dedupe_patterns;

/// How often a snapshot is published.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the inventory is polled.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Bound on one connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between two connection attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// Payload bytes copied into a sample.
const MAX_SAMPLE_PAYLOAD: usize = 64 * 1024;
/// Above this many (subject, subscription) pairs, the subject view's subscriber counts are
/// left out of a tick rather than slowing it.
const MAX_MATCH_WORK: usize = 2_000_000;
/// The name our connections carry in the deployment's monitoring.
pub const CLIENT_NAME: &str = "switchboard inspector";

/// State shared by the session's tasks and its control.
pub(crate) struct Shared {
    pub profile: Profile,
    pub publisher: FeedPublisher,
    pub sampling: AtomicBool,
    pub latency: AtomicBool,
    /// The observer's client while connected (recording subscribes through it).
    pub client: Mutex<Option<async_nats::Client>>,
    /// The system-account client while connected (kick).
    pub system: Mutex<Option<async_nats::Client>>,
    pub ids: Mutex<ConnIds>,
    pub link: Mutex<LinkStatus>,
    pub inventory: Mutex<Inventory>,
    /// The streams and consumers last read through `$JS.API` (`super::jetstream`).
    pub js_streams: Arc<Mutex<Arc<crate::inspect::snapshot::StreamInventory>>>,
}

impl Shared {
    pub fn new(profile: Profile, publisher: FeedPublisher) -> Self {
        let inventory = Inventory {
            description: inventory_source(&profile),
            ..Inventory::default()
        };
        Shared {
            profile,
            publisher,
            sampling: AtomicBool::new(false),
            latency: AtomicBool::new(true),
            client: Mutex::new(None),
            system: Mutex::new(None),
            ids: Mutex::new(ConnIds::default()),
            link: Mutex::new(LinkStatus {
                state: LinkState::Connecting,
                detail: String::new(),
                since: SystemTime::now(),
                inventory: String::new(),
            }),
            inventory: Mutex::new(inventory),
            js_streams: Arc::default(),
        }
    }

    /// Changes the link state and logs the change as an event (once per change).
    pub fn set_link(&self, state: LinkState, detail: String) {
        {
            let mut link = self.link.lock();
            if link.state == state && link.detail == detail {
                return;
            }
            link.state = state;
            link.detail = detail.clone();
            link.since = SystemTime::now();
        }
        self.publisher
            .push_event(SystemTime::now(), EventKind::Link { state, detail });
    }
}

/// Where connections come from for this profile, in words.
fn inventory_source(profile: &Profile) -> String {
    if profile.system.is_some() {
        "connections from the system account ($SYS.REQ.SERVER.PING)".into()
    } else if !profile.monitor_urls().is_empty() {
        format!("connections from {}", profile.monitor_urls().join(", "))
    } else {
        "connections unknown: add a monitoring URL or system-account credentials to the profile"
            .into()
    }
}

fn is_auth_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("authorization") || t.contains("authentication") || t.contains("signing nonce")
}

/// Connects once with a bounded wait; reports link events through `shared` (weakly, so a
/// client never keeps its session alive).
async fn connect(
    args: &ConnectArgs,
    name: &str,
    shared: Option<Weak<Shared>>,
) -> Result<async_nats::Client, String> {
    let mut opts = args
        .options(name)
        .await
        .map_err(|e| e.to_string())?
        .connection_timeout(CONNECT_TIMEOUT)
        // Recover quickly when a server of the cluster goes away: the others are tried
        // at once, then every few hundred milliseconds.
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 250).min(2000))
        });
    if let Some(weak) = shared {
        opts = opts.event_callback(move |event| {
            let weak = weak.clone();
            async move {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                on_client_event(&shared, event);
            }
        });
    }
    let servers = args.servers();
    match tokio::time::timeout(CONNECT_TIMEOUT * 2, opts.connect(servers.as_slice())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("{}: {e}", args.server)),
        Err(_) => Err(format!("{}: no answer in time", args.server)),
    }
}

fn on_client_event(shared: &Shared, event: async_nats::Event) {
    use async_nats::Event;
    match event {
        Event::Connected => {
            // The first connection is reported by the observer task once subscribed.
            let Some(detail) = shared
                .client
                .lock()
                .as_ref()
                .map(|c| attached_to(&c.server_info()))
            else {
                return;
            };
            shared.set_link(LinkState::Connected, detail);
        }
        Event::Disconnected => shared.set_link(
            LinkState::Reconnecting,
            "connection lost, trying the other servers".into(),
        ),
        Event::ServerError(e) => {
            let text = e.to_string();
            if is_auth_error(&text) {
                shared.set_link(LinkState::AuthFailed, text);
            } else {
                shared.publisher.push_event(
                    SystemTime::now(),
                    EventKind::Link {
                        state: shared.link.lock().state,
                        detail: format!("server error: {text}"),
                    },
                );
            }
        }
        Event::LameDuckMode => {
            shared.publisher.push_event(
                SystemTime::now(),
                EventKind::Link {
                    state: shared.link.lock().state,
                    detail: "the server entered lame duck mode and will go away".into(),
                },
            );
        }
        Event::SlowConsumer(_) => {
            shared.publisher.push_event(
                SystemTime::now(),
                EventKind::Link {
                    state: shared.link.lock().state,
                    detail: "the inspector's subscription fell behind: messages were dropped"
                        .into(),
                },
            );
        }
        Event::ClientError(e) => {
            shared.publisher.push_event(
                SystemTime::now(),
                EventKind::Link {
                    state: shared.link.lock().state,
                    detail: format!("client error: {e}"),
                },
            );
        }
        Event::Draining | Event::Closed => {}
    }
}

fn attached_to(info: &async_nats::ServerInfo) -> String {
    format!(
        "{} ({}:{}, nats-server {})",
        info.server_name, info.host, info.port, info.version
    )
}

/// Waits `delay`, or returns true when the session is stopped first.
async fn stopped_within(stop: &mut watch::Receiver<()>, delay: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

/// The observer task: connect (retrying), subscribe, observe, publish snapshots.
pub(crate) async fn run_observer(shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    let args = shared.profile.connect_args();
    let patterns = dedupe_patterns(&shared.profile.patterns());
    let mut observer = Observer::new();
    let mut delay = Duration::from_millis(500);
    let mut last_tick = Instant::now();
    let mut seq = 0u64;
    loop {
        // A failure stays on show (with the server's words) while retrying.
        if shared.link.lock().state == LinkState::Connecting {
            shared.set_link(LinkState::Connecting, args.server.clone());
        }
        publish_snapshot(&shared, &mut observer, &mut last_tick);
        let client = tokio::select! {
            _ = stop.changed() => return,
            c = connect(&args, CLIENT_NAME, Some(Arc::downgrade(&shared))) => c,
        };
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                let state = if is_auth_error(&e) {
                    LinkState::AuthFailed
                } else {
                    LinkState::Disconnected
                };
                shared.set_link(state, e);
                publish_snapshot(&shared, &mut observer, &mut last_tick);
                if stopped_within(&mut stop, delay).await {
                    return;
                }
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                continue;
            }
        };
        let mut subs = Vec::new();
        let mut failed = None;
        for p in &patterns {
            match client.subscribe(p.clone()).await {
                Ok(s) => subs.push(s),
                Err(e) => failed = Some(format!("can't subscribe to {p}: {e}")),
            }
        }
        // The server has our interest before we say we are watching.
        if failed.is_none() {
            if let Err(e) = client.flush().await {
                failed = Some(format!("can't reach the server: {e}"));
            }
        }
        if let Some(e) = failed {
            shared.set_link(LinkState::Disconnected, e);
            if stopped_within(&mut stop, delay).await {
                return;
            }
            continue;
        }
        delay = Duration::from_millis(500);
        *shared.client.lock() = Some(client.clone());
        shared.set_link(LinkState::Connected, attached_to(&client.server_info()));
        let mut messages = futures_util::stream::select_all(subs);
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut tracking = shared.latency.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    shared.client.lock().take();
                    return;
                }
                _ = ticker.tick() => {
                    let now_tracking = shared.latency.load(Ordering::Relaxed);
                    if now_tracking != tracking {
                        observer.clear_latency();
                        tracking = now_tracking;
                    }
                    observer.expire(Instant::now());
                    publish_snapshot(&shared, &mut observer, &mut last_tick);
                }
                next = messages.next() => {
                    let Some(m) = next else { break };
                    observer.observe_payload(m.subject.as_str(), &m.payload);
                    observer.observe(
                        m.subject.as_str(),
                        m.reply.as_ref().map(|r| r.as_str()),
                        m.payload.len(),
                        Instant::now(),
                        SystemTime::now(),
                        tracking,
                    );
                    if shared.sampling.load(Ordering::Relaxed) && !shared.publisher.samples_full() {
                        seq += 1;
                        shared.publisher.offer_sample(sample(seq, &m));
                    }
                }
            }
        }
        // Every subscription ended: the client gave up (closed). Start over.
        shared.client.lock().take();
        shared.set_link(LinkState::Disconnected, "the connection was closed".into());
    }
}

fn sample(seq: u64, m: &async_nats::Message) -> MessageSample {
    let payload = &m.payload[..m.payload.len().min(MAX_SAMPLE_PAYLOAD)];
    MessageSample {
        seq,
        time: SystemTime::now(),
        subject: m.subject.as_bytes().to_vec(),
        reply: m.reply.as_ref().map(|r| r.as_bytes().to_vec()),
        headers: headers_to_raw(
            m.headers.as_ref(),
            m.status.map(|s| s.as_u16()),
            m.description.as_deref(),
        ),
        payload: payload.to_vec(),
        // Unknown from outside: the snapshot's vantage says so and the views show it.
        publisher_cid: 0,
        receivers: 0,
    }
}

/// Builds and publishes the snapshot of this moment.
fn publish_snapshot(shared: &Shared, observer: &mut Observer, last_tick: &mut Instant) {
    let now = Instant::now();
    let elapsed = now.duration_since(*last_tick).as_secs_f64();
    *last_tick = now;
    let mut subjects = observer.subjects(elapsed);
    let inventory = shared.inventory.lock().clone();
    let info = shared.client.lock().as_ref().map(|c| c.server_info());
    if let Some(conns) = &inventory.connections {
        match_receivers(&mut subjects, conns);
    }
    let observed_rate: f64 = subjects.iter().map(|s| s.msgs_per_sec).sum();
    let observed_bytes: f64 = subjects.iter().map(|s| s.bytes_per_sec).sum();
    let mut servers = inventory.servers.clone();
    if servers.is_empty() {
        if let Some(info) = &info {
            servers.push(ServerSummary {
                name: info.server_name.clone(),
                id: info.server_id.clone(),
                version: info.version.clone(),
                url: Some(format!("nats://{}:{}", info.host, info.port)),
                cluster: info.cluster.clone(),
                reachable: true,
                last_seen: Some(SystemTime::now()),
                attached: true,
                ..ServerSummary::default()
            });
        }
    }
    let attached = info.as_ref().and_then(|i| {
        inventory
            .servers
            .iter()
            .find(|s| s.id == i.server_id)
            .cloned()
    });
    let mut link = shared.link.lock().clone();
    link.inventory = inventory.description.clone();
    let snapshot = Snapshot {
        taken_at: Some(SystemTime::now()),
        server: info
            .as_ref()
            .map(|i| ServerIdentity {
                id: i.server_id.clone(),
                name: i.server_name.clone(),
                version: i.version.clone(),
                nats_version: i.version.clone(),
                client_url: format!("nats://{}:{}", i.host, i.port),
                monitor_url: shared.profile.monitor_urls().first().cloned(),
                // A client's INFO does not tell the WebSocket port.
                websocket_url: None,
                exposed_without_auth: false,
            })
            .unwrap_or_default(),
        uptime: attached.and_then(|s| s.uptime).unwrap_or_default(),
        totals: inventory.totals.unwrap_or(Totals {
            in_msgs: observer.total_msgs,
            in_bytes: observer.total_bytes,
            ..Totals::default()
        }),
        rates: inventory.rates.unwrap_or(Rates {
            in_msgs_per_sec: observed_rate,
            in_bytes_per_sec: observed_bytes,
            ..Rates::default()
        }),
        connections: inventory.connections.clone().unwrap_or_default(),
        subjects,
        queue_groups: inventory.queue_groups.clone(),
        latency: if shared.latency.load(Ordering::Relaxed) {
            observer.latency()
        } else {
            vec![]
        },
        subscriptions: inventory.subscriptions.unwrap_or_default(),
        drops: crate::inspect::snapshot::DropCounters {
            samples: shared.publisher.dropped_samples(),
            events: shared.publisher.dropped_events(),
        },
        vantage: Vantage::Outside,
        servers,
        link: Some(link),
        jetstream: inventory.jetstream.clone(),
        jetstream_streams: shared.js_streams.lock().clone(),
        leaf_links: inventory.leaf_links.clone(),
        ..Snapshot::default()
    };
    shared.publisher.publish_snapshot(snapshot);
}

/// Fills each subject's subscribers and receivers from the subscriptions the monitoring
/// reported (who *would* receive it now; who did receive a given message stays unknown).
fn match_receivers(
    subjects: &mut [SubjectStat],
    conns: &[crate::inspect::snapshot::ConnectionInfo],
) {
    let subs: usize = conns.iter().map(|c| c.subscriptions.len()).sum();
    if subs.saturating_mul(subjects.len()) > MAX_MATCH_WORK {
        return;
    }
    for s in subjects.iter_mut() {
        for c in conns {
            let n = c
                .subscriptions
                .iter()
                .filter(|sub| subject::matches(sub.subject.as_bytes(), s.subject.as_bytes()))
                .count();
            if n > 0 {
                s.subscribers += n;
                s.receivers.push(c.cid);
            }
        }
    }
}

/// The inventory task: polls every [`POLL_INTERVAL`] and merges into `shared.inventory`.
pub(crate) async fn run_inventory(shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    let mut builder = InventoryBuilder::default();
    let source = inventory_source(&shared.profile);
    let system_args = shared.profile.system_connect_args();
    let monitor_urls = shared.profile.monitor_urls();
    if system_args.is_none() && monitor_urls.is_empty() {
        return;
    }
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        let poll = if let Some(args) = &system_args {
            let client = shared.system.lock().clone();
            let client = match client {
                Some(c) => Ok(c),
                None => connect(args, &format!("{CLIENT_NAME} (system)"), None)
                    .await
                    .inspect(|c| *shared.system.lock() = Some(c.clone())),
            };
            match client {
                Ok(c) => tokio::select! {
                    _ = stop.changed() => break,
                    p = poll::poll_system(&c) => p,
                },
                Err(e) => PollResult {
                    errors: vec![format!("system account: {e}")],
                    ..PollResult::default()
                },
            }
        } else {
            tokio::select! {
                _ = stop.changed() => break,
                p = poll::poll_http(&monitor_urls) => p,
            }
        };
        let attached_id = shared
            .client
            .lock()
            .as_ref()
            .map(|c| c.server_info().server_id)
            .unwrap_or_default();
        let (inventory, changes) = {
            let mut ids = shared.ids.lock();
            builder.merge(&poll, Instant::now(), &attached_id, &mut ids, &source)
        };
        for c in changes {
            shared.publisher.push_event(
                SystemTime::now(),
                EventKind::Server {
                    name: c.name,
                    reachable: c.reachable,
                },
            );
        }
        let mut slot = shared.inventory.lock();
        // A failed poll keeps the last known connections (marked by the error text) rather
        // than blanking the views.
        if poll.varz.is_empty() {
            slot.description = inventory.description;
            slot.servers = inventory.servers;
        } else {
            *slot = inventory;
        }
    }
    shared.system.lock().take();
}
