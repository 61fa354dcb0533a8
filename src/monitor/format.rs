//! Values written the way nats-server's JSON writes them: Go durations, uptimes, RFC 3339
//! times with trimmed nanoseconds, floats without a needless `.0`, and Go's HTML escaping.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

/// A duration as Go's `time.Duration.String()` writes it: `0s`, `950ns`, `1.5µs`,
/// `1.738529ms`, `2.5s`, `1m2s`, `1h0m0.5s`.
pub fn go_duration(d: Duration) -> String {
    let u = d.as_nanos();
    if u == 0 {
        return "0s".to_string();
    }
    if u < 1_000 {
        return format!("{u}ns");
    }
    if u < 1_000_000 {
        let (frac, int) = split_fraction(u, 3);
        return format!("{int}{frac}µs");
    }
    if u < 1_000_000_000 {
        let (frac, int) = split_fraction(u, 6);
        return format!("{int}{frac}ms");
    }
    let (frac, secs) = split_fraction(u, 9);
    let hours = secs / 3600;
    let minutes = (secs / 60) % 60;
    let mut out = String::new();
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let _ = write!(out, "{}{frac}s", secs % 60);
    out
}

/// Splits `v` into its integer part and `.digits` of its lowest `prec` decimal digits with
/// trailing zeros removed (empty when they are all zero).
fn split_fraction(v: u128, prec: u32) -> (String, u128) {
    let p = 10u128.pow(prec);
    let f = v % p;
    if f == 0 {
        return (String::new(), v / p);
    }
    let digits = format!("{:0width$}", f, width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), v / p)
}

/// An uptime or idle time as nats-server writes it: whole seconds, with minutes, hours,
/// days and years as needed (`0s`, `1m2s`, `3h0m5s`, `2d1h0m0s`, `1y3d0h0m0s`).
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let mins = secs / 60;
    let hours = mins / 60;
    let days = hours / 24;
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A connection's RTT as nats-server reports it: truncated to microseconds between 1 µs and
/// 1 ms, else to nanoseconds.
pub fn rtt(d: Duration) -> Duration {
    if d > Duration::from_micros(1) && d < Duration::from_millis(1) {
        Duration::from_micros(d.as_micros() as u64)
    } else {
        d
    }
}

/// `t` in UTC as RFC 3339 with up to nine fractional digits, trailing zeros trimmed, as Go's
/// `time.Time` marshals to JSON.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    let mut out = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = dt.timestamp_subsec_nanos();
    if nanos > 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// A time that serializes like Go's `time.Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTime(pub SystemTime);

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_nano(self.0))
    }
}

/// Serializes a float as Go does: whole values without a fractional part (`2`, not `2.0`).
pub fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Pretty JSON as Go's `json.MarshalIndent(v, "", "  ")` writes it, including Go's escaping
/// of `<`, `>`, `&`, U+2028 and U+2029 (which can only occur inside strings).
pub fn pretty_json<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_string());
    go_escape(&text).into_bytes()
}

/// Compact JSON as Go's `json.Marshal` writes it.
pub fn compact_json<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    go_escape(&text).into_bytes()
}

fn go_escape(text: &str) -> String {
    if !text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(950), "950ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(277), "277µs"),
            (Duration::from_nanos(1_738_529), "1.738529ms"),
            (Duration::from_millis(2_500), "2.5s"),
            (Duration::from_secs(62), "1m2s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_millis(3_600_500), "1h0m0.5s"),
            (Duration::from_secs(120 * 3600), "120h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(Duration::from_millis(900)), "0s");
        assert_eq!(uptime(Duration::from_secs(62)), "1m2s");
        assert_eq!(uptime(Duration::from_secs(3 * 3600 + 5)), "3h0m5s");
        assert_eq!(uptime(Duration::from_secs(2 * 86400 + 3600)), "2d1h0m0s");
        assert_eq!(uptime(Duration::from_secs(368 * 86400)), "1y3d0h0m0s");
    }

    #[test]
    fn rtt_truncation() {
        assert_eq!(go_duration(rtt(Duration::from_nanos(277_123))), "277µs");
        assert_eq!(
            go_duration(rtt(Duration::from_nanos(1_738_529))),
            "1.738529ms"
        );
        assert_eq!(go_duration(rtt(Duration::from_nanos(800))), "800ns");
    }

    #[test]
    fn times_trim_trailing_zeros() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 772_832_080);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.77283208Z");
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339_nano(whole), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn floats_and_escaping() {
        #[derive(Serialize)]
        struct F {
            #[serde(serialize_with = "go_float")]
            a: f64,
            #[serde(serialize_with = "go_float")]
            b: f64,
            s: String,
        }
        let v = F {
            a: 2.0,
            b: 0.75,
            s: "<a&b>".into(),
        };
        let text = String::from_utf8(compact_json(&v)).unwrap_or_default();
        assert_eq!(text, r#"{"a":2,"b":0.75,"s":"\u003ca\u0026b\u003e"}"#);
        let pretty = String::from_utf8(pretty_json(&v)).unwrap_or_default();
        assert!(pretty.starts_with("{\n  \"a\": 2,\n"), "{pretty}");
    }
}
