//! Duration strings as nats-server reads them (Go's `time.ParseDuration`), in configuration
//! files, flags and its monitoring JSON (a connection's `rtt`): a sequence of decimal
//! numbers, each with an optional fraction and a unit, e.g. `300ms`, `1.5h`, `2h45m`, `-1s`.
//! Units: `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`. A lone `0` needs no unit.

use std::time::Duration;

/// A duration string that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration \"{0}\"")]
    Invalid(String),
    #[error("duration \"{0}\" is negative")]
    Negative(String),
    #[error("missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("unknown unit \"{unit}\" in duration \"{text}\"")]
    UnknownUnit { unit: String, text: String },
}

const NANOS_PER_UNIT: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration into signed nanoseconds (within the range of an `i64`, as in Go).
pub fn parse_go_duration(text: &str) -> Result<i128, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u128 = 0;
        for d in rest[..int_len].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u128::from(d - b'0')))
                .filter(|w| *w <= u128::from(u64::MAX))
                .ok_or_else(invalid)?;
        }
        rest = &rest[int_len..];
        let (mut frac, mut scale, mut frac_len) = (0u128, 1u128, 0usize);
        if let Some(after_dot) = rest.strip_prefix('.') {
            frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            for d in after_dot[..frac_len].bytes() {
                // Digits beyond nanosecond precision of an hour cannot matter.
                if scale < 10u128.pow(20) {
                    frac = frac * 10 + u128::from(d - b'0');
                    scale *= 10;
                }
            }
            rest = &after_dot[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(text.to_string()));
        }
        let Some(&(_, per)) = NANOS_PER_UNIT.iter().find(|(u, _)| *u == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        };
        rest = &rest[unit_len..];
        let value = whole
            .checked_mul(per)
            .and_then(|v| v.checked_add(frac * per / scale))
            .ok_or_else(invalid)?;
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > 1u128 << 63 {
            return Err(invalid());
        }
    }
    let limit = if negative {
        1u128 << 63
    } else {
        (1u128 << 63) - 1
    };
    if total > limit {
        return Err(invalid());
    }
    let signed = i128::try_from(total).map_err(|_| invalid())?;
    Ok(if negative { -signed } else { signed })
}

/// Parses a Go duration that must not be negative.
pub fn parse_std_duration(text: &str) -> Result<Duration, DurationError> {
    let nanos = parse_go_duration(text)?;
    let nanos = u64::try_from(nanos).map_err(|_| DurationError::Negative(text.to_string()))?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_go_duration("1m"), Ok(60_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("2h45m"), Ok(9_900_000_000_000));
        assert_eq!(parse_go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_go_duration("+5us"), Ok(5_000));
        assert_eq!(parse_go_duration("5µs"), Ok(5_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.s"), Ok(1_000_000_000));
        assert_eq!(parse_go_duration("1ns"), Ok(1));
    }

    #[test]
    fn bad_durations() {
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("-").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("abc").is_err());
        assert_eq!(
            parse_go_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert_eq!(
            parse_go_duration("10x"),
            Err(DurationError::UnknownUnit {
                unit: "x".into(),
                text: "10x".into()
            })
        );
        assert!(parse_go_duration("3000000h").is_err());
        assert!(parse_go_duration("99999999999999999999999s").is_err());
        assert!(parse_std_duration("-1s").is_err());
        assert_eq!(parse_std_duration("100ms"), Ok(Duration::from_millis(100)));
    }
}
