//! Round trips counted in log-scale buckets: how a source hands a service's latency
//! distribution to observers. Counts are cumulative (since tracking began) so that an
//! observer that sees only some snapshots (the feed keeps the latest) still gets every round
//! trip, by taking the difference of two it saw ([`LatencyHistogram::since`]).
//!
//! Buckets are those of an HDR histogram with three significant bits: exact below 16 ns,
//! then eight equal buckets per power of two. A bucket is at most an eighth of its lower
//! bound wide, so its middle is within 6.25% of every value in it, at any scale from
//! nanoseconds to minutes, in at most 496 buckets (usually a few dozen are used).

use std::time::Duration;

/// Sub-buckets per power of two, as bits.
const SUB_BITS: u32 = 3;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Below this many nanoseconds, a bucket is one nanosecond wide.
const EXACT_BELOW_NANOS: u64 = 2 * SUB_BUCKETS;

/// Counts of round trips per bucket: only the buckets holding any, ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    buckets: Vec<(u16, u64)>,
}

impl LatencyHistogram {
    /// The bucket a round trip falls in.
    pub fn bucket_of(d: Duration) -> u16 {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if nanos < EXACT_BELOW_NANOS {
            return nanos as u16;
        }
        let log2 = 63 - nanos.leading_zeros();
        let sub = (nanos >> (log2 - SUB_BITS)) & (SUB_BUCKETS - 1);
        (SUB_BUCKETS * u64::from(log2 + 1 - SUB_BITS) + sub) as u16
    }

    /// The round trips a bucket holds: from the first bound (included) to the second.
    pub fn bounds(bucket: u16) -> (Duration, Duration) {
        let i = u64::from(bucket);
        let (low, width) = if i < EXACT_BELOW_NANOS {
            (u128::from(i), 1u128)
        } else {
            let shift = i / SUB_BUCKETS - 1;
            let low = u128::from(SUB_BUCKETS + i % SUB_BUCKETS) << shift;
            (low, 1u128 << shift)
        };
        (nanos(low), nanos(low + width))
    }

    /// The value a bucket stands for: its middle (its only value below 16 ns).
    pub fn middle(bucket: u16) -> Duration {
        let (low, high) = Self::bounds(bucket);
        if high - low <= Duration::from_nanos(1) {
            low
        } else {
            low + (high - low) / 2
        }
    }

    pub fn record(&mut self, d: Duration) {
        self.add(Self::bucket_of(d), 1);
    }

    /// Adds `count` round trips to `bucket`.
    pub fn add(&mut self, bucket: u16, count: u64) {
        if count == 0 {
            return;
        }
        match self.buckets.binary_search_by_key(&bucket, |&(b, _)| b) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(count),
            Err(i) => self.buckets.insert(i, (bucket, count)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if self.buckets.is_empty() {
            self.buckets.clone_from(&other.buckets);
            return;
        }
        for &(bucket, count) in &other.buckets {
            self.add(bucket, count);
        }
    }

    /// (bucket, count) of the buckets holding any, ascending.
    pub fn buckets(&self) -> &[(u16, u64)] {
        &self.buckets
    }

    pub fn total(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |sum, &(_, n)| sum.saturating_add(n))
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// What was counted after `earlier`, a reading of the same cumulative histogram. When a
    /// bucket went down, the source started counting over (tracking turned off and on, a
    /// reconnection): then everything counted now is new.
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        let mut out = Vec::with_capacity(self.buckets.len());
        let mut old = earlier.buckets.iter().peekable();
        for &(bucket, count) in &self.buckets {
            let mut before = 0;
            while let Some(&&(b, n)) = old.peek() {
                if b > bucket {
                    break;
                }
                old.next();
                if b < bucket {
                    // A bucket that emptied: counts started over.
                    return self.clone();
                }
                before = n;
            }
            match count.checked_sub(before) {
                Some(0) => {}
                Some(new) => out.push((bucket, new)),
                None => return self.clone(),
            }
        }
        if old.next().is_some() {
            return self.clone();
        }
        LatencyHistogram { buckets: out }
    }

    /// The nearest-rank quantile `q` (0..=1) as its bucket's middle; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for &(bucket, count) in &self.buckets {
            seen = seen.saturating_add(count);
            if seen >= rank {
                return Some(Self::middle(bucket));
            }
        }
        self.buckets.last().map(|&(b, _)| Self::middle(b))
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_hold_what_falls_in_them() {
        let mut previous_high = Duration::ZERO;
        for bucket in 0..=LatencyHistogram::bucket_of(Duration::MAX) {
            let (low, high) = LatencyHistogram::bounds(bucket);
            assert_eq!(
                low, previous_high,
                "bucket {bucket} starts where the last ended"
            );
            assert!(high > low);
            previous_high = high;
            assert_eq!(LatencyHistogram::bucket_of(low), bucket);
            if high < Duration::from_nanos(u64::MAX) {
                assert_eq!(
                    LatencyHistogram::bucket_of(high - Duration::from_nanos(1)),
                    bucket
                );
            }
        }
        assert_eq!(LatencyHistogram::bucket_of(Duration::MAX), 495);
    }

    #[test]
    fn the_middle_of_a_bucket_is_within_a_sixteenth_of_its_values() {
        for micros in [1u64, 7, 50, 333, 1_000, 4_200, 77_777, 2_000_000] {
            let d = Duration::from_micros(micros);
            let middle = LatencyHistogram::middle(LatencyHistogram::bucket_of(d));
            let error = (middle.as_secs_f64() - d.as_secs_f64()).abs() / d.as_secs_f64();
            assert!(error <= 1.0 / 16.0, "{d:?} -> {middle:?}");
        }
    }

    #[test]
    fn quantiles_and_differences() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).unwrap().as_secs_f64() * 1e3;
        let p99 = h.quantile(0.99).unwrap().as_secs_f64() * 1e3;
        assert!((p50 - 50.0).abs() <= 50.0 / 16.0, "p50 {p50}");
        assert!((p99 - 99.0).abs() <= 99.0 / 16.0, "p99 {p99}");
        let earlier = h.clone();
        h.record(Duration::from_secs(3));
        h.record(Duration::from_millis(1));
        let new = h.since(&earlier);
        assert_eq!(new.total(), 2);
        assert_eq!(h.since(&h), LatencyHistogram::default());
        // Counting started over: all of it is new.
        let mut restarted = LatencyHistogram::default();
        restarted.record(Duration::from_millis(5));
        assert_eq!(restarted.since(&earlier), restarted);
        let mut merged = new.clone();
        merged.merge(&new);
        assert_eq!(merged.total(), 4);
    }
}
