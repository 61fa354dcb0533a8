//! Request/reply latency over time, kept on the GUI side from the snapshots alone, so that
//! the embedded broker and a remote deployment draw the same way. Each snapshot carries a
//! cumulative round-trip histogram per service subject; the difference from the previous
//! snapshot goes into a one-second bucket (with the requests and timeouts of that second).
//! Fifteen minutes of buckets are kept per service, for at most [`MAX_SERVICES`] services:
//! a bounded history however long the window stays open. Skipped snapshots lose nothing,
//! since a later one still holds their counts.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use crate::inspect::snapshot::{LatencyHistogram, ServiceLatency};

use super::format;

/// Seconds of history kept per service (the longest window).
pub const HISTORY_SECS: i64 = 15 * 60;
/// Services whose history is kept; a new one beyond that replaces the one quiet the longest.
pub const MAX_SERVICES: usize = 64;
/// Services plotted until the user picks: the busiest few.
pub const DEFAULT_SHOWN: usize = 3;

/// The span the Latency view plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Window {
    #[default]
    OneMinute,
    FiveMinutes,
    FifteenMinutes,
}

impl Window {
    pub const ALL: [Window; 3] = [
        Window::OneMinute,
        Window::FiveMinutes,
        Window::FifteenMinutes,
    ];

    pub fn secs(self) -> i64 {
        match self {
            Window::OneMinute => 60,
            Window::FiveMinutes => 300,
            Window::FifteenMinutes => 900,
        }
    }

    /// Seconds per point of the time series: sixty points whatever the window, so that a
    /// point holds enough round trips for its p99 to mean something.
    pub fn step_secs(self) -> i64 {
        self.secs() / 60
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::OneMinute => "1 min",
            Window::FiveMinutes => "5 min",
            Window::FifteenMinutes => "15 min",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Percentile {
    P50,
    P90,
    P99,
}

impl Percentile {
    pub const ALL: [Percentile; 3] = [Percentile::P50, Percentile::P90, Percentile::P99];

    pub fn q(self) -> f64 {
        match self {
            Percentile::P50 => 0.50,
            Percentile::P90 => 0.90,
            Percentile::P99 => 0.99,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P90 => "p90",
            Percentile::P99 => "p99",
        }
    }
}

/// What one second added (see [`second_of`]).
#[derive(Debug, Clone, Default, PartialEq)]
struct Second {
    second: i64,
    requests: u64,
    timeouts: u64,
    /// `round_trips.total()`, kept: ranking the services sums it over every second.
    trips: u64,
    round_trips: LatencyHistogram,
}

/// A service's cumulative counts as of the last snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
struct Reading {
    requests: u64,
    timeouts: u64,
    histogram: LatencyHistogram,
}

#[derive(Debug, Default)]
struct History {
    /// Oldest first, one entry per second that saw anything.
    seconds: VecDeque<Second>,
    /// `t` of the last snapshot that added anything.
    active_at: f64,
}

/// The latency history of every service (see the module's comment).
#[derive(Debug, Default)]
pub struct LatencyHistory {
    history: BTreeMap<String, History>,
    /// The last reading of each service in the last snapshot (to diff the next one).
    readings: HashMap<String, Reading>,
    /// Set once the first snapshot was read: what it holds happened before the window
    /// looked, and belongs to no second.
    started: bool,
    now: f64,
}

/// One point of a service's time series.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Seconds relative to now of the step's end (the current step ends now, at 0).
    pub x: f64,
    pub requests: u64,
    pub timeouts: u64,
    pub round_trips: u64,
    pub p50: Option<Duration>,
    pub p90: Option<Duration>,
    pub p99: Option<Duration>,
}

impl Step {
    pub fn value(&self, p: Percentile) -> Option<Duration> {
        match p {
            Percentile::P50 => self.p50,
            Percentile::P90 => self.p90,
            Percentile::P99 => self.p99,
        }
    }
}

/// A service over the whole window.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub service: String,
    pub requests: u64,
    pub timeouts: u64,
    pub histogram: LatencyHistogram,
}

impl Summary {
    pub fn round_trips(&self) -> u64 {
        self.histogram.total()
    }

    pub fn value(&self, p: Percentile) -> Option<Duration> {
        self.histogram.quantile(p.q())
    }

    /// The window's round trips and percentiles for the view: "240 round trips, p50
    /// 1.02 ms, p90 2.90 ms, p99 8.10 ms".
    pub fn text(&self) -> String {
        let mut parts = vec![format!("{} round trips", format::count(self.round_trips()))];
        for p in Percentile::ALL {
            if let Some(d) = self.value(p) {
                parts.push(format!("{} {}", p.label(), format::latency(d)));
            }
        }
        parts.join(", ")
    }

    /// "2 timeouts" (shown apart, in red when there are any).
    pub fn timeouts_text(&self) -> String {
        format!(
            "{} timeout{}",
            format::count(self.timeouts),
            if self.timeouts == 1 { "" } else { "s" }
        )
    }
}

impl LatencyHistory {
    /// Takes the services of the snapshot taken at `t` (seconds, as `UiState::now_t`).
    pub fn push(&mut self, t: f64, latency: &[ServiceLatency]) {
        if t + 1.0 < self.now {
            // The clock went back: the seconds no longer line up with it.
            self.history.clear();
        }
        self.now = t;
        let baseline = !self.started;
        self.started = true;
        let second = second_of(t);
        let mut readings = HashMap::with_capacity(latency.len());
        for s in latency {
            let reading = Reading {
                requests: s.requests,
                timeouts: s.timeouts,
                histogram: s.histogram.clone(),
            };
            let last = self.readings.remove(&s.subject);
            let added = match &last {
                Some(last) => Second {
                    second,
                    requests: counted_since(reading.requests, last.requests),
                    timeouts: counted_since(reading.timeouts, last.timeouts),
                    trips: 0,
                    round_trips: reading.histogram.since(&last.histogram),
                },
                // A service that was there when the window started: its counts are old.
                None if baseline => Second::default(),
                None => Second {
                    second,
                    requests: reading.requests,
                    timeouts: reading.timeouts,
                    trips: 0,
                    round_trips: reading.histogram.clone(),
                },
            };
            let added = Second {
                trips: added.round_trips.total(),
                ..added
            };
            readings.insert(s.subject.clone(), reading);
            if added.requests > 0 || added.timeouts > 0 || !added.round_trips.is_empty() {
                self.add(&s.subject, added, t);
            }
        }
        self.readings = readings;
        self.forget(second);
    }

    fn add(&mut self, service: &str, added: Second, t: f64) {
        if !self.history.contains_key(service) && self.history.len() >= MAX_SERVICES {
            // Full: a new service takes the place of one quiet since before this snapshot,
            // or waits (never one as busy as itself, which would trade places each tick).
            let quietest = self
                .history
                .iter()
                .min_by(|a, b| a.1.active_at.total_cmp(&b.1.active_at))
                .filter(|(_, h)| h.active_at < t)
                .map(|(name, _)| name.clone());
            match quietest {
                Some(name) => self.history.remove(&name),
                None => return,
            };
        }
        let history = match self.history.get_mut(service) {
            Some(h) => h,
            None => self.history.entry(service.to_string()).or_default(),
        };
        history.active_at = t;
        match history.seconds.back_mut() {
            Some(last) if last.second == added.second => {
                last.requests += added.requests;
                last.timeouts += added.timeouts;
                last.trips += added.trips;
                last.round_trips.merge(&added.round_trips);
            }
            _ => history.seconds.push_back(added),
        }
    }

    /// Drops seconds older than the history, and services left with none.
    fn forget(&mut self, second: i64) {
        let oldest = second - HISTORY_SECS;
        for h in self.history.values_mut() {
            while h.seconds.front().is_some_and(|s| s.second <= oldest) {
                h.seconds.pop_front();
            }
        }
        self.history.retain(|_, h| !h.seconds.is_empty());
    }

    /// `t` of the newest snapshot.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Services with history, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.history.keys().map(String::as_str)
    }

    /// The seconds of `service` inside `window`.
    fn within(&self, service: &str, window: Window) -> impl Iterator<Item = &Second> {
        let first = second_of(self.now) - window.secs();
        self.history.get(service).into_iter().flat_map(move |h| {
            // Seconds are in order: the window is a range at the end.
            let start = h.seconds.partition_point(|s| s.second <= first);
            h.seconds.range(start..)
        })
    }

    /// `service` over the whole `window`.
    pub fn summary(&self, service: &str, window: Window) -> Summary {
        let mut out = Summary {
            service: service.to_string(),
            requests: 0,
            timeouts: 0,
            histogram: LatencyHistogram::default(),
        };
        for s in self.within(service, window) {
            out.requests += s.requests;
            out.timeouts += s.timeouts;
            out.histogram.merge(&s.round_trips);
        }
        out
    }

    /// The services that saw anything in `window` with their requests there, most
    /// requests first (then most round trips, then by name).
    pub fn ranked(&self, window: Window) -> Vec<(String, u64)> {
        let mut all: Vec<(u64, u64, &str)> = self
            .services()
            .map(|s| {
                // Counts only: merging every second's histogram is not needed to rank.
                let (requests, trips) = self
                    .within(s, window)
                    .fold((0, 0), |(r, n), sec| (r + sec.requests, n + sec.trips));
                (requests, trips, s)
            })
            .filter(|(requests, trips, _)| requests + trips > 0)
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        all.into_iter()
            .map(|(requests, _, s)| (s.to_string(), requests))
            .collect()
    }

    /// The `n` busiest services of `window` (see [`Self::ranked`]).
    pub fn busiest(&self, window: Window, n: usize) -> Vec<String> {
        self.ranked(window)
            .into_iter()
            .take(n)
            .map(|(s, _)| s)
            .collect()
    }

    /// The time series of `service` over `window`, one point per step that saw anything,
    /// oldest first. Steps are aligned to the clock so that they do not shift each second.
    pub fn steps(&self, service: &str, window: Window) -> Vec<Step> {
        let width = window.step_secs();
        let mut steps: Vec<(i64, Second)> = Vec::new();
        for s in self.within(service, window) {
            let index = s.second.div_euclid(width);
            match steps.last_mut() {
                Some((i, acc)) if *i == index => {
                    acc.requests += s.requests;
                    acc.timeouts += s.timeouts;
                    acc.trips += s.trips;
                    acc.round_trips.merge(&s.round_trips);
                }
                _ => steps.push((index, s.clone())),
            }
        }
        steps
            .into_iter()
            .map(|(index, s)| Step {
                x: (((index + 1) * width) as f64).min(self.now) - self.now,
                requests: s.requests,
                timeouts: s.timeouts,
                round_trips: s.trips,
                p50: s.round_trips.quantile(0.50),
                p90: s.round_trips.quantile(0.90),
                p99: s.round_trips.quantile(0.99),
            })
            .collect()
    }
}

/// The second a snapshot taken at `t` adds to: second `s` holds what was counted in
/// `(s, s + 1]`, since a snapshot counts what happened up to when it was taken.
fn second_of(t: f64) -> i64 {
    t.ceil() as i64 - 1
}

/// How much a cumulative counter grew; a counter that went back started over.
fn counted_since(now: u64, before: u64) -> u64 {
    now.checked_sub(before).unwrap_or(now)
}

/// A line of the time series: one percentile of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub service: String,
    pub percentile: Percentile,
    /// "svc.echo p99": the legend entry and the hover title.
    pub name: String,
    /// (seconds relative to now, latency), oldest first.
    pub points: Vec<(f64, Duration)>,
    /// Round trips behind each point.
    pub counts: Vec<u64>,
}

/// The timeouts of one service, drawn as marks on its p99 (or its highest point when the
/// step had no reply at all).
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    pub service: String,
    /// "svc.echo timeouts".
    pub name: String,
    /// (seconds relative to now, where it is drawn, timeouts).
    pub points: Vec<(f64, Duration, u64)>,
}

/// What the Latency view plots for the chosen services and window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LatencyPlot {
    pub series: Vec<Series>,
    pub marks: Vec<Marks>,
    /// Each service over the window: its numbers and the histogram to draw.
    pub summaries: Vec<Summary>,
    pub window_secs: i64,
    pub step_secs: i64,
}

/// Builds the plot of `services` over `window`, with the `percentiles` asked for.
pub fn plot(
    history: &LatencyHistory,
    services: &[String],
    window: Window,
    percentiles: &[Percentile],
) -> LatencyPlot {
    let mut out = LatencyPlot {
        window_secs: window.secs(),
        step_secs: window.step_secs(),
        ..LatencyPlot::default()
    };
    for service in services {
        let steps = history.steps(service, window);
        for &p in percentiles {
            let (points, counts) = steps
                .iter()
                .filter_map(|s| Some(((s.x, s.value(p)?), s.round_trips)))
                .unzip();
            out.series.push(Series {
                service: service.clone(),
                percentile: p,
                name: format!("{service} {}", p.label()),
                points,
                counts,
            });
        }
        let top = steps.iter().filter_map(|s| s.p99).max().unwrap_or_default();
        let points: Vec<(f64, Duration, u64)> = steps
            .iter()
            .filter(|s| s.timeouts > 0)
            .map(|s| (s.x, s.p99.unwrap_or(top), s.timeouts))
            .collect();
        if !points.is_empty() {
            out.marks.push(Marks {
                service: service.clone(),
                name: format!("{service} timeouts"),
                points,
            });
        }
        out.summaries.push(history.summary(service, window));
    }
    out
}

impl LatencyPlot {
    /// The hover text of the point `index` of the item named `name` (a line or the marks).
    pub fn hover_text(&self, name: &str, index: usize) -> Option<String> {
        if let Some(series) = self.series.iter().find(|s| s.name == name) {
            let (x, d) = *series.points.get(index)?;
            let trips = series.counts.get(index).copied().unwrap_or(0);
            return Some(format!(
                "{name}: {}\n{}, {} round trip{} in {} s",
                format::latency(d),
                ago(x),
                format::count(trips),
                if trips == 1 { "" } else { "s" },
                self.step_secs
            ));
        }
        let marks = self.marks.iter().find(|m| m.name == name)?;
        let &(x, _, n) = marks.points.get(index)?;
        Some(format!(
            "{}: {} timeout{}\n{}",
            marks.service,
            format::count(n),
            if n == 1 { "" } else { "s" },
            ago(x)
        ))
    }
}

/// A bar of the histogram the view draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bin {
    pub low: Duration,
    pub high: Duration,
    pub count: u64,
}

/// The histogram's bars: two of the contract's buckets each (four a power of two, so a
/// bar is at most a quarter wider than its start), which reads better than eight thin
/// ones and still tells 1 ms from 1.2 ms.
pub fn bins(histogram: &LatencyHistogram) -> Vec<Bin> {
    let mut out: Vec<(u16, Bin)> = Vec::new();
    for &(bucket, count) in histogram.buckets() {
        // Below 16 ns buckets are a nanosecond wide: they stay as they are.
        let (pair, last) = if bucket < 16 {
            (bucket, bucket)
        } else {
            (bucket & !1, bucket | 1)
        };
        match out.last_mut() {
            Some((p, bin)) if *p == pair => bin.count += count,
            _ => out.push((
                pair,
                Bin {
                    low: LatencyHistogram::bounds(pair).0,
                    high: LatencyHistogram::bounds(last).1,
                    count,
                },
            )),
        }
    }
    out.into_iter().map(|(_, bin)| bin).collect()
}

/// The hover text of a histogram bar.
pub fn bar_text(service: &str, bin: &Bin) -> String {
    format!(
        "{service}: {} round trip{} from {} to {}",
        format::count(bin.count),
        if bin.count == 1 { "" } else { "s" },
        format::latency(bin.low),
        format::latency(bin.high)
    )
}

fn ago(x: f64) -> String {
    if x > -0.5 {
        "now".into()
    } else {
        format!("{:.0} s ago", -x)
    }
}

#[cfg(test)]
#[path = "latency_tests.rs"]
mod tests;
