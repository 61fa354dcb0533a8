//! UI tests of the Latency graphs, the folding of reply inboxes in Subjects and Rates, the
//! smoothed rates and the Overview's top subjects (egui_kittest, no GPU, no display).
//! Synthetic snapshots go in through `feed::channel` with the times they were taken, so
//! the history the views keep is known exactly; the checks go by label and role.

use crate::support;

use std::time::{Duration, SystemTime};

use crate::gui::{go, has, has_containing, settle};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

use switchboard::gui::app::InspectorApp;
use switchboard::gui::model::latency::Window;
use switchboard::inspect::snapshot::{
    EventKind, LatencyHistogram, ReportedLatency, ServiceLatency, Snapshot, SubjectStat, Vantage,
};

use crate::gui::{rig, Rig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A service's cumulative reading.
fn service(subject: &str, requests: u64, timeouts: u64, trips: &[Duration]) -> ServiceLatency {
    let mut histogram = LatencyHistogram::default();
    for &d in trips {
        histogram.record(d);
    }
    ServiceLatency {
        histogram,
        reported: None,
        ..ServiceLatency::summarize(
            subject.into(),
            requests,
            trips.len() as u64,
            timeouts,
            trips.to_vec(),
        )
    }
}

/// When the test's first snapshot was taken: a fixed past, so that times are exact.
fn t0() -> SystemTime {
    SystemTime::now() - Duration::from_secs(600)
}

/// Feeds `ticks` snapshots 250 ms apart from `start`: "svc.echo" answers four requests a
/// tick (three in 1 ms, one in 10 ms), "svc.slow" one in 40 ms, and at `timeout_tick`
/// svc.echo loses two requests. Each is shown before the next comes.
fn feed_known_series(rig: &mut Rig, start: SystemTime, ticks: u64, timeout_tick: Option<u64>) {
    let mut echo = Vec::new();
    let mut slow = Vec::new();
    let mut timeouts = 0;
    rig.publisher.publish_snapshot(Snapshot {
        taken_at: Some(start),
        ..Default::default()
    });
    settle(&mut rig.harness);
    for tick in 1..=ticks {
        echo.extend([ms(1), ms(1), ms(1), ms(10)]);
        slow.push(ms(40));
        if timeout_tick == Some(tick) {
            timeouts += 2;
        }
        rig.publisher.publish_snapshot(Snapshot {
            taken_at: Some(start + ms(250 * tick)),
            vantage: Vantage::Inside,
            latency: vec![
                service("svc.echo", echo.len() as u64 + timeouts, timeouts, &echo),
                service("svc.slow", slow.len() as u64, 0, &slow),
            ],
            ..Default::default()
        });
        settle(&mut rig.harness);
    }
}

fn checkbox<'a>(harness: &'a Harness<'_, InspectorApp>, label: &'a str) -> egui_kittest::Node<'a> {
    harness.get_by_role_and_label(Role::CheckBox, label)
}

fn has_checkbox(harness: &Harness<'_, InspectorApp>, label: &str) -> bool {
    harness
        .query_all_by_role_and_label(Role::CheckBox, label)
        .next()
        .is_some()
}

#[test]
fn the_latency_view_plots_a_known_series() {
    let mut rig = rig();
    feed_known_series(&mut rig, t0(), 40, None);
    go(&mut rig.harness, "Latency");
    // The legend names each line; the busiest service comes first.
    for line in [
        "svc.echo p50",
        "svc.echo p90",
        "svc.echo p99",
        "svc.slow p99",
    ] {
        assert!(has_checkbox(&rig.harness, line), "a line {line:?}");
    }
    assert!(!has_checkbox(&rig.harness, "svc.echo timeouts"));
    // The window's numbers: 40 ticks of four round trips, 1 ms and 10 ms.
    assert!(has(
        &rig.harness,
        "svc.echo  160 round trips, p50 1.02 ms, p90 9.96 ms, p99 9.96 ms, 0 timeouts"
    ));
    assert!(has(
        &rig.harness,
        "svc.slow  40 round trips, p50 39.85 ms, p90 39.85 ms, p99 39.85 ms, 0 timeouts"
    ));
    // The data points behind the lines: ten one-second steps, p50 at 1 ms.
    let app = rig.harness.state_mut();
    let shown = app.latency.shown(&app.state).clone();
    assert_eq!(shown.services, ["svc.echo", "svc.slow"]);
    let p50 = &shown.plot.series[0];
    assert_eq!(p50.name, "svc.echo p50");
    assert!((10..=11).contains(&p50.points.len()), "{:?}", p50.points);
    assert!(p50
        .points
        .iter()
        .all(|&(_, d)| d > ms(1) * 15 / 16 && d < ms(1) * 17 / 16));
    assert_eq!(p50.counts.iter().sum::<u64>(), 160);
    // Hovering a point names it with its value.
    let hover = shown.plot.hover_text("svc.echo p99", 3).unwrap();
    assert!(hover.starts_with("svc.echo p99: 9.96 ms"), "{hover}");
    // The table is still there.
    assert!(has(&rig.harness, "Service subject"));
}

#[test]
fn timeouts_are_marked_and_the_window_and_percentiles_change_the_plot() {
    let mut rig = rig();
    feed_known_series(&mut rig, t0(), 24, Some(20));
    go(&mut rig.harness, "Latency");
    assert!(has_checkbox(&rig.harness, "svc.echo timeouts"));
    assert!(has_containing(&rig.harness, "2 timeouts"));
    checkbox(&rig.harness, "p50").click();
    settle(&mut rig.harness);
    assert!(!has_checkbox(&rig.harness, "svc.echo p50"), "p50 hidden");
    assert!(has_checkbox(&rig.harness, "svc.echo p99"));
    rig.harness.get_by_label("5 min").click();
    settle(&mut rig.harness);
    assert_eq!(rig.harness.state().latency.window, Window::FiveMinutes);
    assert!(has(
        &rig.harness,
        "Latency over the last 5 min, one point per 5 s"
    ));
    let app = rig.harness.state_mut();
    let shown = app.latency.shown(&app.state).clone();
    let p99 = shown
        .plot
        .series
        .iter()
        .find(|s| s.name == "svc.echo p99")
        .unwrap();
    assert!(
        (2..=3).contains(&p99.points.len()),
        "six seconds in 5 s steps"
    );
}

#[test]
fn the_user_picks_the_services_to_compare() {
    let mut rig = rig();
    let start = t0();
    rig.publisher.publish_snapshot(Snapshot {
        taken_at: Some(start),
        ..Default::default()
    });
    settle(&mut rig.harness);
    // Four services, busiest first: a (40 requests), b (30), c (20), d (10).
    let services: Vec<ServiceLatency> = [("a", 40), ("b", 30), ("c", 20), ("d", 10)]
        .into_iter()
        .map(|(s, n)| service(s, n, 0, &vec![ms(2); n as usize]))
        .collect();
    rig.publisher.publish_snapshot(Snapshot {
        taken_at: Some(start + ms(250)),
        latency: services,
        ..Default::default()
    });
    settle(&mut rig.harness);
    go(&mut rig.harness, "Latency");
    let plotted = |rig: &mut Rig| {
        let app = rig.harness.state_mut();
        app.latency.shown(&app.state).services.clone()
    };
    assert_eq!(plotted(&mut rig), ["a", "b", "c"], "the busiest three");
    assert!(has_checkbox(&rig.harness, "c p99"));
    checkbox(&rig.harness, "d").click();
    settle(&mut rig.harness);
    checkbox(&rig.harness, "a").click();
    settle(&mut rig.harness);
    assert_eq!(plotted(&mut rig), ["b", "c", "d"]);
    assert!(has_checkbox(&rig.harness, "d p99"));
    assert!(!has_checkbox(&rig.harness, "a p99"));
    rig.harness
        .get_by_role_and_label(Role::Button, "Busiest 3")
        .click();
    settle(&mut rig.harness);
    assert_eq!(plotted(&mut rig), ["a", "b", "c"]);
}

#[test]
fn a_remote_deployment_draws_the_same_graphs() {
    let mut rig = rig();
    let start = t0();
    rig.publisher.publish_snapshot(Snapshot {
        taken_at: Some(start),
        vantage: Vantage::Outside,
        ..Default::default()
    });
    settle(&mut rig.harness);
    let mut trips = Vec::new();
    for tick in 1..=12u64 {
        trips.push(ms(3));
        rig.publisher.publish_snapshot(Snapshot {
            taken_at: Some(start + ms(250 * tick)),
            vantage: Vantage::Outside,
            latency: vec![
                service("latency.orders", tick, 0, &trips).reported_by_server(),
                service("orders.get", tick, 0, &trips),
            ],
            ..Default::default()
        });
        settle(&mut rig.harness);
    }
    go(&mut rig.harness, "Latency");
    assert!(has_checkbox(&rig.harness, "orders.get p50"));
    assert!(has_containing(&rig.harness, "12 round trips, p50 3."));
    // The servers' own measure is listed as theirs, and the caption says how each is timed.
    assert!(has_checkbox(&rig.harness, "latency.orders (server)"));
    assert!(has_checkbox(&rig.harness, "orders.get"));
    assert!(!has_checkbox(&rig.harness, "orders.get (server)"));
    assert!(has(&rig.harness, "server"));
    assert!(has_containing(
        &rig.harness,
        "services marked server are the servers' own measure"
    ));
}

trait Reported {
    fn reported_by_server(self) -> Self;
}

impl Reported for ServiceLatency {
    fn reported_by_server(self) -> Self {
        ServiceLatency {
            reported: Some(ReportedLatency {
                statuses: vec![(200, self.replies)],
                service_p50: self.p50 / 2,
            }),
            ..self
        }
    }
}

fn stat(subject: &str, rate: f64) -> SubjectStat {
    SubjectStat {
        subject: subject.into(),
        msgs: 10,
        bytes: 100,
        msgs_per_sec: rate,
        bytes_per_sec: rate * 10.0,
        subscribers: 1,
        publishers: vec![1],
        receivers: vec![2],
        ..Default::default()
    }
}

fn inbox_snapshot() -> Snapshot {
    Snapshot {
        taken_at: Some(SystemTime::now()),
        subjects: vec![
            stat("_INBOX.aB3x.1", 0.5),
            stat("_INBOX.aB3x.2", 0.5),
            stat("_INBOX.q7Rt", 1.0),
            stat("orders.created", 4.0),
            stat("svc.add", 3.0),
        ],
        ..Default::default()
    }
}

#[test]
fn subjects_fold_reply_inboxes_until_asked() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(inbox_snapshot());
    settle(&mut rig.harness);
    go(&mut rig.harness, "Subjects");
    assert!(has(&rig.harness, "_INBOX.>"), "one row for every inbox");
    assert!(has(&rig.harness, "(3 reply inboxes)"));
    assert!(!has(&rig.harness, "aB3x"), "no inbox of its own");
    assert!(!has(&rig.harness, "q7Rt"));
    assert!(has(&rig.harness, "orders"), "other subjects as before");
    checkbox(&rig.harness, "Show reply subjects").click();
    settle(&mut rig.harness);
    assert!(rig.harness.state().state.filters.show_inboxes);
    assert!(!has(&rig.harness, "_INBOX.>"));
    assert!(has(&rig.harness, "_INBOX"));
    assert!(has(&rig.harness, "aB3x"));
    assert!(has(&rig.harness, "q7Rt"));
}

#[test]
fn rates_fold_reply_inboxes_and_say_how_rates_are_computed() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(inbox_snapshot());
    settle(&mut rig.harness);
    go(&mut rig.harness, "Rates");
    assert!(has_containing(
        &rig.harness,
        "the rate over the last 2 s (snapshots every 250 ms, averaged by time)"
    ));
    assert!(has_checkbox(&rig.harness, "_INBOX.>"));
    assert!(has_checkbox(&rig.harness, "orders.created"));
    assert!(!has_checkbox(&rig.harness, "_INBOX.q7Rt"));
    // Plotting the folded inboxes plots them together.
    checkbox(&rig.harness, "_INBOX.>").click();
    settle(&mut rig.harness);
    rig.publisher.publish_snapshot(inbox_snapshot());
    settle(&mut rig.harness);
    assert!(
        has_checkbox(&rig.harness, "_INBOX.>"),
        "the legend has the line"
    );
    assert!(rig
        .harness
        .state()
        .state
        .plotted_subjects
        .contains("_INBOX.>"));
    assert_eq!(rig.harness.state().state.inbox_rates.last().unwrap().1, 2.0);
    checkbox(&rig.harness, "Show reply subjects").click();
    settle(&mut rig.harness);
    for inbox in ["_INBOX.aB3x.1", "_INBOX.aB3x.2", "_INBOX.q7Rt"] {
        assert!(has_checkbox(&rig.harness, inbox), "{inbox} listed");
    }
    checkbox(&rig.harness, "Per snapshot (unsmoothed)").click();
    settle(&mut rig.harness);
    assert!(has_containing(&rig.harness, "steady traffic zigzags"));
}

/// The red "no one" of an unheard subject with a long name stays in its column: the event
/// feed beside it (its timestamps) is not drawn over.
#[test]
fn top_subjects_keep_to_their_column() {
    let mut rig = rig();
    let long = "demo.audit.log.of.a.service.with.a.rather.long.subject.name.nobody.reads";
    let mut snap = inbox_snapshot();
    snap.subjects.push(SubjectStat {
        subscribers: 0,
        no_interest_msgs: 10,
        receivers: vec![],
        ..stat(long, 9.0)
    });
    snap.subjects.push(stat(
        "_INBOX.mRDbtcpqZsFvqBtrXTfwsU.mRDbtcpqZsFvqBtrXTfwo0",
        8.0,
    ));
    rig.publisher.publish_snapshot(snap);
    for id in 1..=3u64 {
        rig.publisher.push_event(
            SystemTime::now(),
            EventKind::Connected {
                cid: id,
                addr: ([127, 0, 0, 1], 40_000).into(),
                name: format!("client-{id}"),
            },
        );
    }
    settle(&mut rig.harness);
    let events = rig.harness.get_by_label("Events (3)").rect();
    let no_one = rig.harness.get_by_label("no one").rect();
    assert!(
        no_one.max.x <= events.min.x,
        "the badge {no_one:?} stays left of the events {events:?}"
    );
    let link = rig.harness.get_by_role_and_label(Role::Link, long).rect();
    assert!(
        link.max.x <= no_one.min.x,
        "the subject is cut short before it"
    );
    // The reply inboxes are one row there too.
    assert!(has(&rig.harness, "4 inboxes"));
    assert_eq!(
        rig.harness
            .query_all_by_role_and_label(Role::Link, "_INBOX.>")
            .count(),
        1
    );
    assert!(!has_containing(&rig.harness, "_INBOX.mRDb"));
}

/// Measures how each smoothing reads with a constant-rate publisher on the embedded
/// broker: 40 s at 200 msgs/s, the rate of every snapshot, then per method the ripple
/// (largest distance from the mean) and the root mean square distance after 10 s. `cargo test --test gui -- --ignored
/// --nocapture measure_rate_smoothing`.
#[test]
#[ignore = "a measurement of about 40 s, run by hand"]
fn measure_rate_smoothing() {
    use switchboard::gui::model::smoothing::{exponential_mean, ripple, trailing_mean};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let broker = runtime
        .block_on(switchboard::broker::BrokerHandle::start(
            switchboard::options::Options {
                host: "127.0.0.1".into(),
                port: 0,
                ..Default::default()
            },
        ))
        .unwrap();
    let url = format!("nats://{}", broker.local_addr());
    let (mut feed, _control) = runtime
        .block_on(async { switchboard::embedded::attach(broker.server().clone(), None) })
        .unwrap();
    let publisher = runtime.spawn(async move {
        let client = support::clients::connect_named(&url, "steady").await;
        let mut ticker = tokio::time::interval(ms(5));
        loop {
            ticker.tick().await;
            if client.publish("steady.rate", "x".into()).await.is_err() {
                return;
            }
        }
    });
    let started = std::time::Instant::now();
    let mut points: Vec<(f64, f64)> = Vec::new();
    let first = SystemTime::now();
    while started.elapsed() < Duration::from_secs(40) {
        if let Some(snap) = feed.latest() {
            let t = snap
                .taken_at
                .and_then(|at| at.duration_since(first).ok())
                .map_or(0.0, |d| d.as_secs_f64());
            if let Some(s) = snap.subjects.iter().find(|s| s.subject == "steady.rate") {
                points.push((t, s.msgs_per_sec));
            }
        }
        std::thread::sleep(ms(20));
    }
    publisher.abort();
    runtime.block_on(broker.shutdown());
    let settled = |series: Vec<(f64, f64)>| -> Vec<f64> {
        // Past the exponential means' start, which takes a few time constants.
        series
            .into_iter()
            .filter(|p| p.0 > 10.0)
            .map(|p| p.1)
            .collect()
    };
    let raw = settled(points.clone());
    let mean = raw.iter().sum::<f64>() / raw.len() as f64;
    println!("{} snapshots, mean {mean:.1} msgs/s", raw.len());
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "method", "ripple", "rms", "lag (s)"
    );
    let report = |name: &str, values: Vec<f64>, lag: f64| {
        let rms = (values
            .iter()
            .map(|v| ((v - mean) / mean).powi(2))
            .sum::<f64>()
            / values.len() as f64)
            .sqrt();
        println!(
            "{name:<28} {:>9.1}% {:>9.1}% {lag:>10.2}",
            ripple(values, mean) * 100.0,
            rms * 100.0
        );
    };
    report("per snapshot", raw.clone(), 0.0);
    for window in [1.0, 2.0, 4.0] {
        let v = settled(trailing_mean(&points, window));
        report(&format!("trailing mean {window} s"), v, window / 2.0);
    }
    for tau in [0.5, 1.0, 2.0] {
        let v = settled(exponential_mean(&points, tau));
        report(&format!("exponential tau {tau} s"), v, tau);
    }
}
