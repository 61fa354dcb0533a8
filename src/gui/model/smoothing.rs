//! Smoothing of the rate series the views plot. A source's rate at each snapshot is what it
//! counted since the previous one (every 250 ms); the embedded broker's connections hand
//! their counters over in batches about every 200 ms, so a steady publisher's per-snapshot
//! rate jumps between one batch and two (-20% to +60%) with no change in the traffic.
//!
//! Measured with a publisher at a constant 200 msgs/s on the embedded broker (the ignored
//! test `measure_rate_smoothing` in tests/gui/latency.rs): the largest and the root mean
//! square distance from the mean rate once settled, and the mean lag behind a change.
//!
//! | method | largest | rms | lag |
//! | --- | --- | --- | --- |
//! | per snapshot | 64% | 34% | 0 |
//! | time-weighted mean over 1 s | 20% | 5.7% | 0.5 s |
//! | time-weighted mean over 2 s | 9.7% | 3.9% | 1 s |
//! | exponential, time constant 1 s | 9.7% to 14% | 5.7% | 1 s |
//! | time-weighted mean over 4 s | 4.3% | 2.4% | 2 s |
//! | exponential, time constant 2 s | 5.4% | 2.9% | 2 s |
//!
//! A one-second window still holds four batches or five, hence its 20%. For the same lag
//! the window reads steadier than the exponential mean, which also never quite forgets a
//! spike; two seconds keep a steady rate within 10% and follow a change within a second
//! or two, so the views use the two-second window.
//!
//! A point `(t, rate)` stands for the interval since the point before it; the first point
//! of a series has no interval and is kept as it is. A point that comes late (the window
//! took no snapshot for a while) stands for its whole interval.

/// Seconds the Rates view averages over.
pub const RATE_WINDOW_SECS: f64 = 2.0;

/// The time-weighted mean of each point's last `window` seconds.
pub fn trailing_mean(points: &[(f64, f64)], window: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    for (i, &(t, rate)) in points.iter().enumerate() {
        let start = t - window;
        let mut sum = 0.0;
        let mut covered = 0.0;
        for j in (1..=i).rev() {
            let (end, r) = points[j];
            let begin = points[j - 1].0;
            let from = begin.max(start);
            if end > from {
                sum += r * (end - from);
                covered += end - from;
            }
            if begin <= start {
                break;
            }
        }
        out.push((t, if covered > 0.0 { sum / covered } else { rate }));
    }
    out
}

/// An exponentially weighted mean with time constant `tau` seconds (for comparison).
pub fn exponential_mean(points: &[(f64, f64)], tau: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    let mut state: Option<(f64, f64)> = None;
    for &(t, rate) in points {
        let value = match state {
            None => rate,
            Some((last_t, last)) => {
                let alpha = 1.0 - (-(t - last_t).max(0.0) / tau).exp();
                last + alpha * (rate - last)
            }
        };
        state = Some((t, value));
        out.push((t, value));
    }
    out
}

/// The largest relative distance of `values` from `expected` (0.1 = 10%).
pub fn ripple(values: impl IntoIterator<Item = f64>, expected: f64) -> f64 {
    values
        .into_iter()
        .map(|v| (v - expected).abs() / expected.abs().max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A publisher at `rate` msgs/s whose connection hands its count over every `flush`
    /// seconds (plus a little jitter, as a read loop's batches do), sampled every 250 ms
    /// with the tick's own jitter: the per-tick rates a snapshot would hold.
    fn constant_rate_ticks(rate: f64, flush: f64, seconds: f64) -> Vec<(f64, f64)> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut flushes = Vec::new();
        let mut at = 0.0;
        while at < seconds + 1.0 {
            at += flush + rng.f64() * 0.004;
            flushes.push(at);
        }
        let counted = |t: f64| {
            flushes
                .iter()
                .filter(|&&f| f <= t)
                .map(|&f| {
                    let prev = flushes.iter().rev().find(|&&p| p < f).copied();
                    (f - prev.unwrap_or(0.0)) * rate
                })
                .sum::<f64>()
        };
        let mut ticks = Vec::new();
        let mut t = 0.25;
        let mut last = (0.0, 0.0);
        while t < seconds {
            let n = counted(t);
            ticks.push((t, (n - last.1) / (t - last.0)));
            last = (t, n);
            t += 0.25 + (rng.f64() - 0.5) * 0.01;
        }
        ticks
    }

    /// The root mean square of the relative distances from `expected`.
    fn rms(values: &[f64], expected: f64) -> f64 {
        let sum: f64 = values
            .iter()
            .map(|v| ((v - expected) / expected).powi(2))
            .sum();
        (sum / values.len() as f64).sqrt()
    }

    #[test]
    fn a_constant_rate_stays_flat_when_smoothed_and_zigzags_when_not() {
        let ticks = constant_rate_ticks(100.0, 0.2, 60.0);
        // Past the first second, where the window is not yet full.
        let settled = |series: &[(f64, f64)]| -> Vec<f64> {
            series.iter().filter(|p| p.0 > 3.0).map(|p| p.1).collect()
        };
        let raw = settled(&ticks);
        assert!(
            ripple(raw.clone(), 100.0) > 0.5,
            "per tick the rate zigzags"
        );
        assert!(rms(&raw, 100.0) > 0.25);
        let smooth = settled(&trailing_mean(&ticks, RATE_WINDOW_SECS));
        let (worst, typical) = (ripple(smooth.clone(), 100.0), rms(&smooth, 100.0));
        assert!(worst < 0.1, "averaged, it stays within 10%: {worst:.3}");
        assert!(typical < 0.05, "and mostly within 5%: {typical:.3}");
    }

    #[test]
    fn the_window_follows_a_step_within_a_second() {
        let points: Vec<(f64, f64)> = (1..=20)
            .map(|i| (i as f64 * 0.25, if i <= 8 { 10.0 } else { 50.0 }))
            .collect();
        let smooth = trailing_mean(&points, 1.0);
        assert_eq!(smooth[0], points[0], "the first point stands alone");
        assert_eq!(smooth[7].1, 10.0);
        assert_eq!(smooth[8].1, 20.0, "a quarter of the last second is new");
        assert_eq!(smooth[9].1, 30.0, "half of it");
        assert_eq!(smooth[11].1, 50.0, "a second after the step: all new");
        let ema = exponential_mean(&points, 1.0);
        assert!(ema[11].1 < 45.0, "the exponential mean lags further");
    }

    #[test]
    fn a_late_snapshot_counts_for_its_whole_interval() {
        // A second without snapshots (the window was busy): the late point covers it.
        let points = [(0.25, 8.0), (0.5, 8.0), (1.5, 12.0), (1.75, 8.0)];
        let smooth = trailing_mean(&points, 1.0);
        assert!((smooth[2].1 - 12.0).abs() < 1e-9);
        assert!((smooth[3].1 - (12.0 * 0.75 + 8.0 * 0.25)).abs() < 1e-9);
    }
}
