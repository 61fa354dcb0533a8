//! The inspector's frame time under the heaviest feed the engine can produce: a snapshot
//! every 250 ms as large as the tap allows to grow in practice (10,000 subjects, a tenth of
//! them reply subjects that Subjects, Rates and the Flow map fold: `_INBOX.`, `$JS.ACK.` and
//! a custom inbox prefix; 1,000 connections, 50 queue groups, 100 services; as many streams
//! and consumers as a snapshot lists; 200 accounts with exports and imports; 100 leaf-node
//! links) and message samples offered as fast as a thread can (the tap's bounded queue,
//! 8192, full all the time, as at a million msgs/s).
//! The Latency view starts with 15 minutes of history (of the 64 services it keeps) and
//! shows its longest window.
//! The window runs headless in egui_kittest at a 60 Hz pace; for each view we report the
//! time of the app's `frame` (what `update` costs) and of the whole kittest step (egui
//! layout and the accessibility tree on top), p50/p99/max. These are wall-clock times, so
//! a busy machine's preemption shows in them; the step's on-CPU time (Linux: the thread's
//! run time from /proc/thread-self/schedstat) is printed beside them, and so is where the
//! slowest frame's time went (taking the snapshot, taking samples, laying out the view).
//!
//! `cargo bench --bench gui_frame` (release build; `-- --frames N` per view,
//! `--subjects N --connections N --accounts N --leaf-links N` for another scale).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use egui_kittest::Harness;

use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::client::NatsClient;
use switchboard::gui::model::latency::Window;
use switchboard::gui::panels::View;
use switchboard::gui::synthetic::SyntheticControl;
use switchboard::gui::{GuiContext, Source};
use switchboard::inspect::feed::{self, FeedPublisher};
use switchboard::inspect::snapshot::{
    AccountSummary, ConnectionInfo, ConsumerSummary, ExportSummary, ImportSummary, JetStreamState,
    JetStreamSummary, LatencyHistogram, LeafLinkInfo, LeafLinkState, MessageSample, QueueGroupInfo,
    QueueMember, Rates, ServiceLatency, Snapshot, StreamInventory, StreamSummary, SubjectStat,
    SubscriptionInfo, Totals, MAX_CONSUMERS, MAX_STREAMS,
};

/// Defaults; `--subjects N --connections N` change them.
const SUBJECTS: usize = 10_000;
const CONNECTIONS: u64 = 1_000;
static SUBJECTS_N: AtomicUsize = AtomicUsize::new(SUBJECTS);
static CONNECTIONS_N: AtomicU64 = AtomicU64::new(CONNECTIONS);

fn subject_count() -> usize {
    SUBJECTS_N.load(Ordering::Relaxed).max(1)
}

fn connection_count() -> u64 {
    CONNECTIONS_N.load(Ordering::Relaxed).max(1)
}

const QUEUE_GROUPS: usize = 50;
const SERVICES: usize = 100;
/// Defaults; `--accounts N --leaf-links N` change them (0: none, as before they were
/// measured).
const ACCOUNTS: usize = 200;
const LEAF_LINKS: usize = 100;
static ACCOUNTS_N: AtomicUsize = AtomicUsize::new(ACCOUNTS);
static LEAF_LINKS_N: AtomicUsize = AtomicUsize::new(LEAF_LINKS);
/// One subject in this many is a reply subject (used once, every message a reply).
const REPLY_EVERY: usize = 10;
/// The engine's sample queue (broker::tap's SAMPLE_QUEUE).
const SAMPLE_QUEUE: usize = 8192;
const FRAME_PACE: Duration = Duration::from_millis(16);

fn is_reply(i: usize) -> bool {
    i % REPLY_EVERY == REPLY_EVERY - 1
}

fn subject_name(i: usize) -> String {
    if is_reply(i) {
        return match (i / REPLY_EVERY) % 3 {
            0 => format!("_INBOX.client{}.{i}", i % 97),
            1 => format!(
                "$JS.ACK.STREAM{:03}.consumer{}.1.{i}.{i}.0.0",
                i % 500,
                i % 4
            ),
            _ => format!("app{}.replies.{i}", i % 5),
        };
    }
    format!(
        "region{}.service{}.entity{}.event{}",
        i % 7,
        (i / 7) % 40,
        (i / 280) % 50,
        i % 3
    )
}

fn snapshot(tick: u64) -> Snapshot {
    let now = SystemTime::now();
    let t = tick as f64;
    let connections = (1..=connection_count())
        .map(|id| ConnectionInfo {
            cid: id,
            name: format!("client-{id}"),
            lang: "go".into(),
            version: "1.41.1".into(),
            addr: ([127, 0, 0, 1], 20_000 + id as u16).into(),
            start: now - Duration::from_secs(600),
            subscriptions: (0..5)
                .map(|s| SubscriptionInfo {
                    subject: subject_name((id as usize * 5 + s) % subject_count()),
                    queue: None,
                    sid: s.to_string(),
                    delivered: tick * 10,
                })
                .collect(),
            totals: Totals {
                in_msgs: tick * 1000,
                in_bytes: tick * 16_000,
                out_msgs: tick * 900,
                out_bytes: tick * 14_400,
            },
            rates: Rates {
                in_msgs_per_sec: 1000.0 + (t + id as f64).sin() * 100.0,
                ..Default::default()
            },
            pending_bytes: 0,
            rtt: Some(Duration::from_micros(200)),
            transport: if id % 10 == 0 { "ws" } else { "tcp" },
        })
        .collect();
    let mut subjects: Vec<SubjectStat> = (0..subject_count())
        .map(|i| SubjectStat {
            subject: subject_name(i),
            msgs: tick * 100 + i as u64,
            bytes: (tick * 100 + i as u64) * 16,
            msgs_per_sec: 100.0 + ((t + i as f64) * 0.1).sin() * 50.0,
            bytes_per_sec: 1600.0,
            no_interest_msgs: if i % 10 == 0 { tick * 100 } else { 0 },
            reply_msgs: if is_reply(i) {
                tick * 100 + i as u64
            } else {
                0
            },
            subscribers: i % 4,
            publishers: vec![(i as u64 % connection_count()) + 1],
            receivers: vec![((i as u64 + 1) % connection_count()) + 1],
            last_published: Some(now),
        })
        .collect();
    // Sorted by subject, as every source sends them.
    subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
    let queue_groups = (0..QUEUE_GROUPS)
        .map(|g| QueueGroupInfo {
            subject: format!("jobs.kind{g}"),
            queue: format!("workers{g}"),
            members: (0..4)
                .map(|m| QueueMember {
                    cid: (g * 4 + m) as u64 + 1,
                    client_name: format!("client-{}", g * 4 + m + 1),
                    sid: "9".into(),
                    delivered: tick * (10 + m as u64),
                })
                .collect(),
        })
        .collect();
    Snapshot {
        taken_at: Some(now),
        latency: latency(tick),
        uptime: Duration::from_millis(tick * 250),
        totals: Totals {
            in_msgs: tick * 250_000,
            in_bytes: tick * 4_000_000,
            out_msgs: tick * 250_000,
            out_bytes: tick * 4_000_000,
        },
        rates: Rates {
            in_msgs_per_sec: 1_000_000.0,
            out_msgs_per_sec: 1_000_000.0,
            in_bytes_per_sec: 16_000_000.0,
            out_bytes_per_sec: 16_000_000.0,
        },
        connections,
        subjects,
        queue_groups,
        subscriptions: connection_count() as usize * 5,
        jetstream: JetStreamState::On(JetStreamSummary::default()),
        jetstream_streams: Arc::new(streams(tick, now)),
        accounts: accounts(tick),
        leaf_links: leaf_links(tick, now),
        ..Default::default()
    }
}

/// Accounts that share streams and services in a ring: each exports its events and a
/// service, and imports the next two accounts' (the Accounts view's heaviest case).
fn accounts(tick: u64) -> Vec<AccountSummary> {
    let count = ACCOUNTS_N.load(Ordering::Relaxed);
    let name = |a: usize| format!("team{:03}", a % count.max(1));
    let mut out: Vec<AccountSummary> = (0..count)
        .map(|a| AccountSummary {
            name: name(a),
            connections: (0..5)
                .map(|c| (a * 5 + c) as u64 % connection_count() + 1)
                .collect(),
            subscriptions: 25,
            system: false,
            exports: vec![
                ExportSummary {
                    subject: format!("{}.events.>", name(a)),
                    ..Default::default()
                },
                ExportSummary {
                    service: true,
                    subject: format!("{}.svc.quote", name(a)),
                    accounts: vec![name(a + 2 * count - 1), name(a + 2 * count - 2)],
                    response_type: "Singleton".into(),
                    latency_subject: Some(format!("latency.{}", name(a))),
                },
            ],
            imports: (1..=2)
                .flat_map(|k| {
                    let from = name(a + k);
                    [
                        ImportSummary {
                            service: false,
                            account: from.clone(),
                            subject: format!("{from}.events.>"),
                            local_subject: format!("in.{from}.events.>"),
                            msgs: tick * 40,
                            responses: 0,
                            msgs_per_sec: 160.0,
                        },
                        ImportSummary {
                            service: true,
                            account: from.clone(),
                            subject: format!("{from}.svc.quote"),
                            local_subject: format!("quote.{from}"),
                            msgs: tick * 9,
                            responses: tick * 9,
                            msgs_per_sec: 36.0,
                        },
                    ]
                })
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Hubs this server joined as a leaf, then leaf nodes that joined it.
fn leaf_links(tick: u64, now: SystemTime) -> Vec<LeafLinkInfo> {
    (0..LEAF_LINKS_N.load(Ordering::Relaxed))
        .map(|l| {
            let rate = 40 + l as u64;
            LeafLinkInfo {
                cid: Some(90_000 + l as u64),
                solicited: l < 10,
                state: LeafLinkState::Connected,
                url: format!("nats://edge{l}.example:7422"),
                last_error: None,
                remote_name: format!("edge-{l}"),
                account: "$G".into(),
                remote_account: "$G".into(),
                remote_interest: 14,
                local_interest: 9,
                totals: Totals {
                    in_msgs: rate * tick,
                    in_bytes: rate * tick * 96,
                    out_msgs: rate * tick / 2,
                    out_bytes: rate * tick * 48,
                },
                rates: Rates {
                    in_msgs_per_sec: (rate * 4) as f64,
                    in_bytes_per_sec: (rate * 384) as f64,
                    out_msgs_per_sec: (rate * 2) as f64,
                    out_bytes_per_sec: (rate * 192) as f64,
                },
                rtt: Some(Duration::from_micros(2_300 + l as u64 * 10)),
                start: Some(now - Duration::from_secs(3600)),
            }
        })
        .collect()
}

/// As many streams and consumers as a snapshot lists (every eighth stream a KV bucket).
fn streams(tick: u64, now: SystemTime) -> StreamInventory {
    let per_stream = MAX_CONSUMERS / MAX_STREAMS;
    let streams = (0..MAX_STREAMS)
        .map(|i| StreamSummary {
            account: "$G".into(),
            name: if i % 8 == 0 {
                format!("KV_bucket{i}")
            } else {
                format!("STREAM{i:03}")
            },
            subjects: vec![format!("region{}.>", i % 50)],
            storage: "file".into(),
            retention: "limits".into(),
            messages: tick * 10 + i as u64,
            bytes: (tick * 10 + i as u64) * 200,
            first_seq: 1,
            last_seq: tick * 10 + i as u64,
            last_time: Some(now),
            num_subjects: 40,
            consumer_count: per_stream,
            consumers: (0..per_stream)
                .map(|c| ConsumerSummary {
                    name: format!("consumer{c}"),
                    durable: true,
                    ack_policy: "explicit".into(),
                    max_ack_pending: 1000,
                    num_pending: (tick + c as u64) % 7,
                    num_ack_pending: if c == 0 { 1000 } else { 3 },
                    delivered_stream_seq: tick * 10,
                    last_delivered: Some(now),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    StreamInventory {
        streams,
        read_at: Some(now),
        ..Default::default()
    }
}

/// The services' latency at `tick`: cumulative counts and round-trip histograms that grow
/// by 49 replies a tick, spread over four latencies a service.
fn latency(tick: u64) -> Vec<ServiceLatency> {
    (0..SERVICES)
        .map(|s| {
            let mut histogram = LatencyHistogram::default();
            for (micros, share) in [(120 + s as u64, 30), (300, 14), (2_000, 4), (9_000, 1)] {
                let bucket = LatencyHistogram::bucket_of(Duration::from_micros(micros));
                histogram.add(bucket, tick * share);
            }
            ServiceLatency {
                subject: format!("svc.call{s}"),
                requests: tick * 50,
                replies: tick * 49,
                timeouts: tick,
                p50: Duration::from_micros(120),
                p90: Duration::from_micros(300),
                p99: Duration::from_millis(2),
                max: Duration::from_millis(9),
                sample_every: 1,
                histogram,
                reported: None,
            }
        })
        .collect()
}

/// Snapshots of latency alone, every 250 ms of the 15 minutes before now (as many ticks
/// as [`PREFILLED_TICKS`]): the Latency view's longest window is full from the first frame.
fn prefill_latency(state: &mut switchboard::gui::state::UiState) {
    let now = SystemTime::now();
    for tick in 1..=PREFILLED_TICKS {
        let ago = Duration::from_millis(250 * (PREFILLED_TICKS - tick + 1));
        state.apply_snapshot(Arc::new(Snapshot {
            taken_at: Some(now - ago),
            latency: latency(tick),
            ..Default::default()
        }));
    }
}

/// 15 minutes of snapshots.
const PREFILLED_TICKS: u64 = 15 * 60 * 4;

/// Snapshots every 250 ms, samples as fast as the queue takes them.
fn feed_at_full_rate(publisher: FeedPublisher, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let snapshots = {
            let publisher = publisher.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Counts go on from the prefilled history.
                let mut tick = PREFILLED_TICKS;
                while !stop.load(Ordering::Relaxed) {
                    tick += 1;
                    publisher.publish_snapshot(snapshot(tick));
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..1024 {
                seq += 1;
                publisher.offer_sample(MessageSample {
                    seq,
                    time: SystemTime::now(),
                    subject: subject_name(seq as usize % subject_count()).into_bytes(),
                    reply: None,
                    headers: None,
                    payload: br#"{"temperature":21.5,"unit":"C"}"#.to_vec(),
                    publisher_cid: seq % connection_count() + 1,
                    receivers: (seq % 3) as u32,
                });
            }
            // Let the UI thread run: the engine's tap is many threads' worth of offers,
            // but one core of this bench must stay free for the frames.
            std::thread::yield_now();
        }
        let _ = snapshots.join();
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn millis(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Time this thread has spent on a CPU (None where /proc does not say).
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn main() {
    let mut frames = 150usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|n| n.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--frames", Some(n)) => frames = n as usize,
            ("--subjects", Some(n)) => SUBJECTS_N.store(n as usize, Ordering::Relaxed),
            ("--connections", Some(n)) => CONNECTIONS_N.store(n, Ordering::Relaxed),
            ("--accounts", Some(n)) => ACCOUNTS_N.store(n as usize, Ordering::Relaxed),
            ("--leaf-links", Some(n)) => LEAF_LINKS_N.store(n as usize, Ordering::Relaxed),
            _ => {}
        }
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        eprintln!("gui_frame: can't start a runtime");
        std::process::exit(1);
    };
    let (publisher, feed) = feed::channel(SAMPLE_QUEUE);
    let (client, _sent, _outcomes) = NatsClient::detached();
    let ctx = GuiContext {
        source: Source {
            feed,
            control: Arc::new(SyntheticControl::new()),
            client: ConnectArgs::url("nats://127.0.0.1:4222"),
            label: "bench".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| InspectorApp::with_client(&cc.egui_ctx, ctx, client));
    prefill_latency(&mut harness.state_mut().state);
    // The Latency view at its heaviest: the longest window.
    harness.state_mut().latency.window = Window::FifteenMinutes;
    let stop = Arc::new(AtomicBool::new(false));
    feed_at_full_rate(publisher, stop.clone());
    // The first snapshot, and a warm-up of every view.
    std::thread::sleep(Duration::from_millis(300));
    for view in View::ALL {
        harness.state_mut().view = view;
        for _ in 0..5 {
            harness.step();
        }
    }
    println!(
        "gui_frame: {} subjects (1 in {REPLY_EVERY} a reply subject), {} connections, \
         {QUEUE_GROUPS} queue groups, {SERVICES} services, {MAX_STREAMS} streams, \
         {MAX_CONSUMERS} consumers, {} accounts, {} leaf links, samples at full rate; \
         {frames} frames a view at 60 Hz",
        subject_count(),
        connection_count(),
        ACCOUNTS_N.load(Ordering::Relaxed),
        LEAF_LINKS_N.load(Ordering::Relaxed),
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}  slowest frame: snapshot / samples / view",
        "view", "app p50", "app p99", "app max", "step p50", "step p99", "cpu p99"
    );
    let mut worst_p99 = Duration::ZERO;
    for view in View::ALL {
        harness.state_mut().view = view;
        let mut app_times = Vec::with_capacity(frames);
        let mut step_times = Vec::with_capacity(frames);
        let mut cpu_times = Vec::with_capacity(frames);
        let mut slowest = (Duration::ZERO, Default::default());
        for _ in 0..frames {
            let started = Instant::now();
            let cpu_before = thread_cpu_time();
            harness.step();
            step_times.push(started.elapsed());
            if let (Some(before), Some(after)) = (cpu_before, thread_cpu_time()) {
                cpu_times.push(after.saturating_sub(before));
            }
            let app = harness.state();
            app_times.push(app.last_frame_time);
            if app.last_frame_time >= slowest.0 {
                slowest = (app.last_frame_time, app.last_frame_parts);
            }
            std::thread::sleep(FRAME_PACE.saturating_sub(started.elapsed()));
        }
        app_times.sort();
        step_times.sort();
        cpu_times.sort();
        let p99 = percentile(&app_times, 0.99);
        worst_p99 = worst_p99.max(p99);
        let parts: switchboard::gui::app::FrameParts = slowest.1;
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}  {} / {} / {}",
            view.label(),
            millis(percentile(&app_times, 0.5)),
            millis(p99),
            millis(app_times.last().copied().unwrap_or_default()),
            millis(percentile(&step_times, 0.5)),
            millis(percentile(&step_times, 0.99)),
            if cpu_times.is_empty() {
                "-".to_string()
            } else {
                millis(percentile(&cpu_times, 0.99))
            },
            millis(parts.snapshot),
            millis(parts.samples),
            millis(parts.view),
        );
    }
    stop.store(true, Ordering::Relaxed);
    println!(
        "worst app p99: {} ms (target: under 33 ms a frame); messages held: {}",
        millis(worst_p99),
        harness.state().state.messages.len()
    );
}
