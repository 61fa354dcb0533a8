//! Times as nats-server's JSON shows them: Go's `time.Time` in RFC 3339 with nanoseconds and
//! trailing zeros trimmed, UTC, and `0001-01-01T00:00:00Z` for "never".

use chrono::{DateTime, Utc};

/// Go's zero time, which nats-server shows for an empty stream's first and last times.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// `time.Time.MarshalJSON` of a Unix-nanosecond time (0 is Go's zero time).
pub fn format(nanos: i64) -> String {
    if nanos == 0 {
        return ZERO.to_string();
    }
    let t = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = t.timestamp_subsec_nanos();
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses an RFC 3339 time (a request's `start_time`) into Unix nanoseconds.
pub fn parse(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_does() {
        assert_eq!(format(0), ZERO);
        assert_eq!(
            format(1_764_611_115_112_702_368),
            "2025-12-01T17:45:15.112702368Z"
        );
        assert_eq!(format(1_764_611_115_100_000_000), "2025-12-01T17:45:15.1Z");
        assert_eq!(format(1_764_611_115_000_000_000), "2025-12-01T17:45:15Z");
        assert_eq!(
            parse("2025-12-01T17:45:15.1Z"),
            Some(1_764_611_115_100_000_000)
        );
        assert_eq!(parse("yesterday"), None);
    }
}
