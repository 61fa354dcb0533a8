//! Human-readable numbers, sizes, rates and times (only glyphs the bundled fonts have).

use std::time::{Duration, SystemTime};

/// `1234` -> `1.2k`, `5_300_000` -> `5.3M`.
pub fn count(n: u64) -> String {
    si(n as f64, "")
}

/// A per-second rate: `0`, `12/s`, `1.5k/s`.
pub fn per_sec(rate: f64) -> String {
    if rate <= 0.0 || !rate.is_finite() {
        return "0/s".into();
    }
    if rate < 10.0 {
        return format!("{rate:.1}/s");
    }
    format!("{}/s", si(rate, ""))
}

fn si(value: f64, unit: &str) -> String {
    let abs = value.abs();
    let (scaled, prefix) = if abs >= 1e9 {
        (value / 1e9, "G")
    } else if abs >= 1e6 {
        (value / 1e6, "M")
    } else if abs >= 1e3 {
        (value / 1e3, "k")
    } else {
        return format!("{value:.0}{unit}");
    };
    if scaled.abs() >= 100.0 {
        format!("{scaled:.0}{prefix}{unit}")
    } else {
        format!("{scaled:.1}{prefix}{unit}")
    }
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    bytes_f(n as f64)
}

/// Bytes used of a limit: `1.5 KiB of 2.0 GiB`; the bytes alone when the limit is unknown.
pub fn bytes_of(used: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{} of {}", bytes(used), bytes(max)),
        None => bytes(used),
    }
}

/// Bytes per second: `1.5 KiB/s`.
pub fn bytes_per_sec(rate: f64) -> String {
    if rate <= 0.0 || !rate.is_finite() {
        return "0 B/s".into();
    }
    format!("{}/s", bytes_f(rate))
}

fn bytes_f(n: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024.0 {
        return format!("{n:.0} B");
    }
    let mut value = n / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A coarse age: `42s`, `3m 12s`, `5h 03m`, `2d 04h`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// A latency with a sensible unit: `850 µs`, `1.25 ms`, `2.10 s`.
pub fn latency(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1.0 {
        format!("{} ns", d.as_nanos())
    } else if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// Local wall-clock time with milliseconds: `14:03:07.123`.
pub fn clock(t: SystemTime) -> String {
    let local: chrono::DateTime<chrono::Local> = t.into();
    local.format("%H:%M:%S%.3f").to_string()
}

/// Age of `t` relative to `now` (zero if `t` is in the future).
pub fn since(now: SystemTime, t: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        assert_eq!(count(999), "999");
        assert_eq!(count(1234), "1.2k");
        assert_eq!(count(5_300_000), "5.3M");
        assert_eq!(count(250_000), "250k");
        assert_eq!(per_sec(0.0), "0/s");
        assert_eq!(per_sec(2.5), "2.5/s");
        assert_eq!(per_sec(1_500_000.0), "1.5M/s");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(bytes_per_sec(2048.0), "2.0 KiB/s");
        assert_eq!(bytes_of(1536, Some(2 << 30)), "1.5 KiB of 2.0 GiB");
        assert_eq!(bytes_of(0, None), "0 B");
    }

    #[test]
    fn durations() {
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(192)), "3m 12s");
        assert_eq!(age(Duration::from_secs(5 * 3600 + 180)), "5h 03m");
        assert_eq!(age(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d 04h");
        assert_eq!(latency(Duration::from_micros(850)), "850 µs");
        assert_eq!(latency(Duration::from_micros(1250)), "1.25 ms");
        assert_eq!(latency(Duration::from_millis(2100)), "2.10 s");
    }
}
