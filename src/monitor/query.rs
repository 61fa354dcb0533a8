//! Query strings, decoded and checked as nats-server does (`strconv` parsing, and its error
//! texts for a 400 answer).

/// A request nats-server would refuse with 400 Bad Request; the text is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=x+y&c=%2F`. Pairs with a bad escape or a `;` are dropped, as Go's
    /// `url.ParseQuery` does.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&') {
            if part.is_empty() || part.contains(';') {
                continue;
            }
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if let (Some(k), Some(v)) = (unescape(key), unescape(value)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// The first value of `key`, or "" (Go's `Query().Get`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// `strconv.ParseBool`; absent or empty is false.
    pub fn bool(&self, key: &str) -> Result<bool, BadRequest> {
        match self.get(key) {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            other => Err(BadRequest(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(other)
            ))),
        }
    }

    /// `strconv.Atoi` (64-bit); absent or empty is 0.
    pub fn int(&self, key: &str) -> Result<i64, BadRequest> {
        let text = self.get(key);
        if text.is_empty() {
            return Ok(0);
        }
        parse_decimal(text, true)
            .and_then(|(neg, v)| {
                if neg {
                    0i64.checked_sub_unsigned(v).ok_or("value out of range")
                } else {
                    i64::try_from(v).map_err(|_| "value out of range")
                }
            })
            .map_err(|why| {
                BadRequest(format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing {}: {why}",
                    go_quote(text)
                ))
            })
    }

    /// `strconv.ParseUint(.., 10, 64)`; absent or empty is 0.
    pub fn uint64(&self, key: &str) -> Result<u64, BadRequest> {
        let text = self.get(key);
        if text.is_empty() {
            return Ok(0);
        }
        parse_decimal(text, false).map(|(_, v)| v).map_err(|why| {
            BadRequest(format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {why}",
                go_quote(text)
            ))
        })
    }
}

/// Decimal digits with an optional sign (only when `signed`); returns (negative, magnitude).
fn parse_decimal(text: &str, signed: bool) -> Result<(bool, u64), &'static str> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') if signed => (true, &text[1..]),
        Some(b'+') if signed => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    digits
        .parse::<u64>()
        .map(|v| (neg, v))
        .map_err(|_| "value out of range")
}

/// Go's `%q` for the texts that reach it (close enough for printable input).
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Percent-decoding with `+` as space; `None` on a bad escape.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let q = Query::parse(Some("test=foo.bar&subs=1&x=a+b%2Fc&subs=0&bad=%zz"));
        assert_eq!(q.get("test"), "foo.bar");
        assert_eq!(q.get("subs"), "1");
        assert_eq!(q.get("x"), "a b/c");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("missing"), "");
        assert_eq!(Query::parse(None).get("a"), "");
    }

    #[test]
    fn bools_like_strconv() {
        let q = Query::parse(Some("a=1&b=True&c=f&d=yes"));
        assert_eq!(q.bool("a"), Ok(true));
        assert_eq!(q.bool("b"), Ok(true));
        assert_eq!(q.bool("c"), Ok(false));
        assert_eq!(q.bool("none"), Ok(false));
        assert_eq!(
            q.bool("d"),
            Err(BadRequest(
                "Error decoding boolean for 'd': strconv.ParseBool: parsing \"yes\": invalid syntax"
                    .into()
            ))
        );
    }

    #[test]
    fn ints_like_strconv() {
        let q = Query::parse(Some("a=12&b=-3&c=abc&d=99999999999999999999&e=%2B7"));
        assert_eq!(q.int("a"), Ok(12));
        assert_eq!(q.int("b"), Ok(-3));
        assert_eq!(q.int("e"), Ok(7));
        assert_eq!(
            q.int("c"),
            Err(BadRequest(
                "Error decoding int for 'c': strconv.Atoi: parsing \"abc\": invalid syntax".into()
            ))
        );
        assert!(q
            .int("d")
            .is_err_and(|e| e.0.ends_with("value out of range")));
        assert_eq!(q.uint64("a"), Ok(12));
        assert!(q.uint64("b").is_err());
        assert!(q.uint64("e").is_err());
    }
}
