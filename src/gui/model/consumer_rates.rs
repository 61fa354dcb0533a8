//! A consumer's delivery and acknowledgement rates over the last minutes, from the
//! successive readings of its info: how far `delivered.consumer_seq` and
//! `ack_floor.consumer_seq` moved between two readings, over the time between them.
//!
//! The readings come with the snapshots' stream inventory: about once a second from the
//! embedded broker, every 3 s from a remote deployment. A consumer that fetches in batches
//! moves in steps (25 messages, then none for a reading or two), so the rates are averaged
//! by time as the Rates view's are (see [`super::smoothing`]), but over more readings: the
//! Rates view's 2 s hold eight snapshots, two of these readings only, and a consumer
//! pulling batches of 25 at about 20 msgs/s then drew a saw between 10/s and 25/s
//! (seen on the demo traffic). [`CONSUMER_RATE_WINDOW_SECS`], or three readings when they
//! are further apart, keep such a consumer within about a fifth of its rate, and follow a
//! change within a few seconds.
//!
//! Every consumer of the inventory is followed (its history is there when it is
//! selected), each with at most [`MAX_READINGS`] readings of the last [`HISTORY_SECS`];
//! a consumer that is no longer listed is forgotten.

use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use super::smoothing::trailing_mean;
use crate::inspect::snapshot::StreamInventory;

/// Seconds the rates are averaged over, at least (see the module's note).
pub const CONSUMER_RATE_WINDOW_SECS: f64 = 5.0;

/// Seconds of history kept and plotted.
pub const HISTORY_SECS: f64 = 300.0;
/// Readings kept per consumer (a reading a second for five minutes, with room).
pub const MAX_READINGS: usize = 400;

/// One reading of a consumer: when, and where its two sequences were.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    /// Seconds since the Unix epoch.
    t: f64,
    delivered: u64,
    acked: u64,
}

/// (stream, consumer).
pub type ConsumerKey = (String, String);

/// The plotted series of one consumer: `(seconds since the Unix epoch, per second)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateSeries {
    pub delivered: Vec<(f64, f64)>,
    pub acked: Vec<(f64, f64)>,
}

impl RateSeries {
    /// The latest smoothed rates (delivered, acknowledged), once there are two readings.
    pub fn current(&self) -> Option<(f64, f64)> {
        Some((self.delivered.last()?.1, self.acked.last()?.1))
    }
}

/// Every listed consumer's recent readings.
#[derive(Debug, Default)]
pub struct ConsumerRates {
    readings: HashMap<ConsumerKey, VecDeque<Reading>>,
    /// The inventory last taken in (snapshots share one reading between refreshes).
    last_read_at: Option<SystemTime>,
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl ConsumerRates {
    /// Takes in an inventory: one reading per consumer, once per reading of the source.
    pub fn observe(&mut self, inv: &StreamInventory) {
        let Some(read_at) = inv.read_at else {
            return;
        };
        if self.last_read_at == Some(read_at) {
            return;
        }
        // A clock that went back (a new source) starts over rather than drawing back.
        if self.last_read_at.is_some_and(|last| read_at < last) {
            self.readings.clear();
        }
        self.last_read_at = Some(read_at);
        let t = secs(read_at);
        let mut seen = std::collections::HashSet::new();
        for s in &inv.streams {
            for c in &s.consumers {
                let key = (s.name.clone(), c.name.clone());
                let ring = self.readings.entry(key.clone()).or_default();
                let reading = Reading {
                    t,
                    delivered: c.delivered_consumer_seq,
                    acked: c.ack_floor_consumer_seq,
                };
                // A consumer deleted and made again under its name starts from zero:
                // its old readings would read as a negative rate.
                if ring
                    .back()
                    .is_some_and(|r| reading.delivered < r.delivered || reading.acked < r.acked)
                {
                    ring.clear();
                }
                ring.push_back(reading);
                while ring.len() > MAX_READINGS
                    || ring.front().is_some_and(|r| r.t < t - HISTORY_SECS)
                {
                    ring.pop_front();
                }
                seen.insert(key);
            }
        }
        self.readings.retain(|k, _| seen.contains(k));
    }

    /// Consumers followed.
    pub fn len(&self) -> usize {
        self.readings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }

    /// Readings kept of one consumer.
    pub fn readings(&self, stream: &str, consumer: &str) -> usize {
        self.readings
            .get(&(stream.to_string(), consumer.to_string()))
            .map_or(0, VecDeque::len)
    }

    /// The smoothed delivered and acknowledged rates of one consumer (empty before its
    /// second reading).
    pub fn series(&self, stream: &str, consumer: &str) -> RateSeries {
        let Some(ring) = self
            .readings
            .get(&(stream.to_string(), consumer.to_string()))
        else {
            return RateSeries::default();
        };
        let pairs = || ring.iter().zip(ring.iter().skip(1));
        let rate = |d: u64, dt: f64| if dt > 0.0 { d as f64 / dt } else { 0.0 };
        let delivered: Vec<(f64, f64)> = pairs()
            .map(|(a, b)| {
                (
                    b.t,
                    rate(b.delivered.saturating_sub(a.delivered), b.t - a.t),
                )
            })
            .collect();
        let acked: Vec<(f64, f64)> = pairs()
            .map(|(a, b)| (b.t, rate(b.acked.saturating_sub(a.acked), b.t - a.t)))
            .collect();
        let window = smoothing_window(ring);
        // The first rate has an interval (from the first reading), which the smoothing
        // only knows of a point before it: the first reading, at rate 0, stands in.
        let with_start = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            let mut all = Vec::with_capacity(points.len() + 1);
            if let Some(first) = ring.front() {
                all.push((first.t, 0.0));
            }
            all.extend(points);
            let mut smooth = trailing_mean(&all, window);
            smooth.remove(0);
            smooth
        };
        if delivered.is_empty() {
            return RateSeries::default();
        }
        RateSeries {
            delivered: with_start(delivered),
            acked: with_start(acked),
        }
    }
}

/// The averaging window: [`CONSUMER_RATE_WINDOW_SECS`], or three readings' time when
/// they are further apart (a remote deployment's every 3 s).
fn smoothing_window(ring: &VecDeque<Reading>) -> f64 {
    let gaps: Vec<f64> = ring
        .iter()
        .zip(ring.iter().skip(1))
        .map(|(a, b)| b.t - a.t)
        .collect();
    if gaps.is_empty() {
        return CONSUMER_RATE_WINDOW_SECS;
    }
    let mut sorted = gaps;
    sorted.sort_by(f64::total_cmp);
    let typical = sorted[sorted.len() / 2];
    CONSUMER_RATE_WINDOW_SECS.max(3.0 * typical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::snapshot::{ConsumerSummary, StreamSummary};
    use std::time::Duration;

    fn inventory(at_secs: f64, consumers: &[(&str, u64, u64)]) -> StreamInventory {
        StreamInventory {
            read_at: Some(UNIX_EPOCH + Duration::from_secs_f64(1_000_000.0 + at_secs)),
            streams: vec![StreamSummary {
                name: "ORDERS".into(),
                consumers: consumers
                    .iter()
                    .map(|&(name, delivered, acked)| ConsumerSummary {
                        name: name.into(),
                        delivered_consumer_seq: delivered,
                        ack_floor_consumer_seq: acked,
                        ..ConsumerSummary::default()
                    })
                    .collect(),
                ..StreamSummary::default()
            }],
            ..StreamInventory::default()
        }
    }

    #[test]
    fn steady_progress_is_a_flat_rate() {
        let mut rates = ConsumerRates::default();
        for i in 0..=20u64 {
            // 50 delivered and 40 acknowledged a second, read every second.
            rates.observe(&inventory(i as f64, &[("billing", 50 * i, 40 * i)]));
        }
        let s = rates.series("ORDERS", "billing");
        assert_eq!(s.delivered.len(), 20, "a rate per reading after the first");
        assert!(
            s.delivered.iter().all(|p| (p.1 - 50.0).abs() < 1e-9),
            "{s:?}"
        );
        assert!(s.acked.iter().all(|p| (p.1 - 40.0).abs() < 1e-9));
        assert_eq!(s.current(), Some((50.0, 40.0)));
    }

    #[test]
    fn batches_are_averaged_over_the_window() {
        let mut rates = ConsumerRates::default();
        // 100 delivered every other second, nothing in between: 50/s.
        let mut delivered = 0;
        let mut per_reading = Vec::new();
        for i in 0..=40u64 {
            if i % 2 == 0 && i > 0 {
                delivered += 100;
                per_reading.push(100.0);
            } else if i > 0 {
                per_reading.push(0.0);
            }
            rates.observe(&inventory(i as f64, &[("batch", delivered, delivered)]));
        }
        assert!(
            super::super::smoothing::ripple(per_reading, 50.0) >= 1.0,
            "reading by reading it jumps between 0 and 100"
        );
        let s = rates.series("ORDERS", "batch");
        let settled: Vec<f64> = s.delivered.iter().skip(6).map(|p| p.1).collect();
        let worst = super::super::smoothing::ripple(settled.clone(), 50.0);
        assert!(
            worst <= 0.2,
            "averaged it stays within a fifth: {settled:?}"
        );
    }

    #[test]
    fn sparse_readings_widen_the_window() {
        let mut rates = ConsumerRates::default();
        // A remote deployment: a reading every 3 s, 30 then 60 delivered in each.
        for (i, d) in [0u64, 30, 90, 120].iter().enumerate() {
            rates.observe(&inventory(3.0 * i as f64, &[("c", *d, 0)]));
        }
        let s = rates.series("ORDERS", "c");
        let last = s.delivered.last().unwrap().1;
        assert!(
            (last - 120.0 / 9.0).abs() < 1e-9,
            "the last three readings (9 s): (30 + 60 + 30) / 9, got {last}"
        );
    }

    #[test]
    fn the_same_reading_counts_once_and_history_is_bounded() {
        let mut rates = ConsumerRates::default();
        let inv = inventory(0.0, &[("a", 0, 0)]);
        rates.observe(&inv);
        rates.observe(&inv);
        assert_eq!(
            rates.readings("ORDERS", "a"),
            1,
            "snapshots share a reading"
        );
        assert!(rates.series("ORDERS", "a").delivered.is_empty());
        assert_eq!(rates.series("ORDERS", "a").current(), None);
        for i in 1..1000u64 {
            rates.observe(&inventory(i as f64 * 0.5, &[("a", i, i)]));
        }
        assert!(rates.readings("ORDERS", "a") <= MAX_READINGS);
        let s = rates.series("ORDERS", "a");
        let span = s.delivered.last().unwrap().0 - s.delivered[0].0;
        assert!(span <= HISTORY_SECS, "{span}");
    }

    #[test]
    fn gone_consumers_are_forgotten_and_recreated_ones_start_over() {
        let mut rates = ConsumerRates::default();
        rates.observe(&inventory(0.0, &[("a", 10, 10), ("b", 5, 5)]));
        rates.observe(&inventory(1.0, &[("a", 20, 20), ("b", 6, 6)]));
        assert_eq!(rates.len(), 2);
        rates.observe(&inventory(2.0, &[("a", 3, 1)]));
        assert_eq!(rates.len(), 1, "b is gone");
        assert_eq!(
            rates.readings("ORDERS", "a"),
            1,
            "a went back: a new consumer"
        );
        assert!(rates
            .series("ORDERS", "a")
            .delivered
            .iter()
            .all(|p| p.1 >= 0.0));
        rates.observe(&inventory(3.0, &[]));
        assert!(rates.is_empty());
        assert_eq!(rates.readings("ORDERS", "nobody"), 0);
    }
}
