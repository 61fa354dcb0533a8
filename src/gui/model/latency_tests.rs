#![allow(clippy::unwrap_used)]

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A service's cumulative reading: `requests` requests, one timeout per `timeouts`, and
/// the given round trips.
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

/// Feeds `seconds` seconds of four snapshots each in which `svc` answers four requests a
/// snapshot: three in 1 ms and one in 10 ms (so p50 1 ms, p90 and p99 10 ms).
fn steady(history: &mut LatencyHistory, from: f64, seconds: usize, trips: &mut Vec<Duration>) {
    for tick in 0..seconds * 4 {
        trips.extend([ms(1), ms(1), ms(1), ms(10)]);
        let t = from + tick as f64 * 0.25;
        history.push(t, &[service("svc", trips.len() as u64, 0, trips)]);
    }
}

fn close_to(d: Duration, expected: Duration) -> bool {
    let (d, e) = (d.as_secs_f64(), expected.as_secs_f64());
    (d - e).abs() <= e / 16.0
}

#[test]
fn the_first_snapshot_is_a_baseline_and_later_ones_add_their_difference() {
    let mut h = LatencyHistory::default();
    // Hours of round trips from before the window opened: not in any second.
    let old: Vec<Duration> = vec![ms(500); 1000];
    h.push(0.0, &[service("svc", 1000, 5, &old)]);
    assert_eq!(h.services().count(), 0);
    let mut trips = old.clone();
    trips.extend([ms(2), ms(2)]);
    h.push(0.25, &[service("svc", 1002, 6, &trips)]);
    let s = h.summary("svc", Window::OneMinute);
    assert_eq!((s.requests, s.timeouts, s.round_trips()), (2, 1, 2));
    assert!(close_to(s.value(Percentile::P99).unwrap(), ms(2)));
    // A service that appears later: everything it counted is new.
    h.push(
        0.5,
        &[
            service("svc", 1002, 6, &trips),
            service("new", 3, 0, &[ms(4)]),
        ],
    );
    assert_eq!(h.summary("new", Window::OneMinute).requests, 3);
}

#[test]
fn a_known_series_gives_its_percentiles_per_step() {
    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    let mut trips = Vec::new();
    steady(&mut h, 0.25, 30, &mut trips);
    let steps = h.steps("svc", Window::OneMinute);
    assert_eq!(steps.len(), 30, "seconds 0 to 30");
    let full = &steps[steps.len() - 2];
    assert_eq!(full.round_trips, 16, "four snapshots of four");
    assert!(close_to(full.p50.unwrap(), ms(1)));
    assert!(close_to(full.p90.unwrap(), ms(10)));
    assert!(close_to(full.p99.unwrap(), ms(10)));
    assert!(steps.windows(2).all(|w| w[0].x < w[1].x), "oldest first");
    assert_eq!(steps.last().unwrap().x, 0.0, "the current step ends now");
    // Five-second steps: six of them, 80 round trips each.
    let steps = h.steps("svc", Window::FiveMinutes);
    assert_eq!(steps.len(), 6);
    assert!(steps.iter().all(|s| s.round_trips == 80));
}

#[test]
fn skipped_snapshots_lose_no_round_trip() {
    let mut every = LatencyHistory::default();
    let mut some = LatencyHistory::default();
    every.push(0.0, &[]);
    some.push(0.0, &[]);
    let mut trips = Vec::new();
    for tick in 1..=40u64 {
        trips.push(ms(tick));
        let snap = [service("svc", tick, 0, &trips)];
        every.push(tick as f64 * 0.25, &snap);
        if tick % 3 == 0 || tick == 40 {
            some.push(tick as f64 * 0.25, &snap);
        }
    }
    let all = every.summary("svc", Window::OneMinute);
    let seen = some.summary("svc", Window::OneMinute);
    assert_eq!(seen.round_trips(), 40);
    assert_eq!(seen.histogram, all.histogram);
}

#[test]
fn counts_that_start_over_are_new_counts() {
    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    h.push(1.0, &[service("svc", 100, 4, &[ms(3); 100])]);
    // Tracking turned off and on at the source: its counts restarted.
    h.push(2.0, &[service("svc", 2, 0, &[ms(7), ms(7)])]);
    let s = h.summary("svc", Window::OneMinute);
    assert_eq!((s.requests, s.timeouts, s.round_trips()), (102, 4, 102));
}

#[test]
fn history_is_bounded_in_time_and_services() {
    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    let mut trips = Vec::new();
    for second in 1..=(HISTORY_SECS as u64 + 100) {
        trips.push(ms(1));
        h.push(second as f64, &[service("svc", second, 0, &trips)]);
    }
    let kept = h.history.get("svc").unwrap().seconds.len();
    assert_eq!(kept as i64, HISTORY_SECS);
    assert_eq!(h.summary("svc", Window::FifteenMinutes).round_trips(), 900);
    assert_eq!(h.summary("svc", Window::OneMinute).round_trips(), 60);

    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    let many: Vec<ServiceLatency> = (0..MAX_SERVICES + 10)
        .map(|i| service(&format!("svc{i:03}"), 1, 0, &[ms(1)]))
        .collect();
    h.push(1.0, &many);
    assert_eq!(h.services().count(), MAX_SERVICES);
    assert!(h.services().all(|s| s < "svc064"), "the first come stay");
    // The others wait while all are as busy; one that goes quiet makes room.
    let mut next: Vec<ServiceLatency> = (0..MAX_SERVICES + 10)
        .map(|i| service(&format!("svc{i:03}"), 2, 0, &[ms(1), ms(1)]))
        .collect();
    h.push(2.0, &next);
    assert!(h.services().all(|s| s < "svc064"));
    next[0] = service("svc000", 2, 0, &[ms(1), ms(1)]);
    next[70] = service("svc070", 3, 0, &[ms(1), ms(1), ms(1)]);
    h.push(3.0, &next);
    assert_eq!(h.services().count(), MAX_SERVICES);
    assert!(
        h.services().any(|s| s == "svc070"),
        "a new one took a place"
    );
    assert!(!h.services().any(|s| s == "svc000"), "the quiet one's");
}

#[test]
fn the_busiest_services_are_shown_by_default() {
    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    h.push(
        1.0,
        &[
            service("a", 5, 0, &[ms(1); 5]),
            service("b", 50, 0, &[ms(1); 50]),
            service("c", 20, 0, &[ms(1); 20]),
            service("d", 1, 0, &[ms(1)]),
        ],
    );
    assert_eq!(h.busiest(Window::OneMinute, 3), ["b", "c", "a"]);
}

#[test]
fn the_plot_has_lines_marks_and_hover_texts() {
    let mut h = LatencyHistory::default();
    h.push(0.0, &[]);
    let mut trips = Vec::new();
    steady(&mut h, 0.25, 10, &mut trips);
    // A second with two timeouts and no reply.
    h.push(10.5, &[service("svc", trips.len() as u64 + 2, 2, &trips)]);
    let plot = plot(
        &h,
        &["svc".to_string()],
        Window::OneMinute,
        &Percentile::ALL,
    );
    let names: Vec<&str> = plot.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["svc p50", "svc p90", "svc p99"]);
    assert!(plot.series.iter().all(|s| s.points.len() >= 9));
    let p50 = &plot.series[0];
    assert!(p50.points.iter().all(|&(_, d)| close_to(d, ms(1))));
    let marks = &plot.marks[0];
    assert_eq!(marks.points.len(), 1);
    let (_, at, n) = marks.points[0];
    assert_eq!(n, 2);
    assert!(close_to(at, ms(10)), "drawn at the highest p99: {at:?}");
    assert_eq!(
        plot.hover_text("svc timeouts", 0).unwrap(),
        "svc: 2 timeouts\nnow"
    );
    let text = plot.hover_text("svc p50", 0).unwrap();
    assert!(text.starts_with("svc p50: 1.0"), "{text}");
    assert!(text.contains("16 round trips in 1 s") || text.contains("12 round trips in 1 s"));
    assert_eq!(plot.hover_text("svc p50", 999), None);
    assert_eq!(plot.hover_text("other", 0), None);
    let summary = &plot.summaries[0];
    assert_eq!(summary.round_trips(), trips.len() as u64);
    assert!(
        summary.text().starts_with("160 round trips, p50 1.02 ms"),
        "{}",
        summary.text()
    );
    assert_eq!(summary.timeouts_text(), "2 timeouts");
    let bars = bins(&summary.histogram);
    assert_eq!(
        bars.iter().map(|b| b.count).sum::<u64>(),
        summary.round_trips()
    );
    assert_eq!(bars.len(), 2, "1 ms and 10 ms");
    assert_eq!(
        bar_text("svc", &bars[0]),
        "svc: 120 round trips from 918 µs to 1.05 ms"
    );
}

#[test]
fn bars_pair_the_buckets_of_an_octave() {
    let mut h = LatencyHistogram::default();
    for micros in [1000u64, 1010, 1040, 1100, 1300] {
        h.record(Duration::from_micros(micros));
    }
    let bars = bins(&h);
    assert!(bars.windows(2).all(|w| w[0].high <= w[1].low), "{bars:?}");
    assert_eq!(bars.iter().map(|b| b.count).sum::<u64>(), 5);
    for b in &bars {
        let width = (b.high - b.low).as_secs_f64() / b.low.as_secs_f64();
        assert!(width <= 0.25 + 1e-9, "{b:?}");
    }
}
