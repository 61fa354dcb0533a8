//! Acknowledgement subjects (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
//! seq>.<timestamp>.<pending>`, nats-server's v1 layout of 9 tokens, and the v2 layout of 11
//! or more with the domain and account hash in front) and the acknowledgement kinds a body
//! carries.

/// What an acknowledgement subject encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckInfo<'a> {
    pub stream: &'a str,
    pub consumer: &'a str,
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub timestamp: i64,
    pub pending: u64,
}

/// The reply subject of a delivered message, in the v1 layout nats-server 2.15.1 sends.
pub fn reply_subject(
    stream: &str,
    consumer: &str,
    delivered: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp: i64,
    pending: u64,
) -> String {
    // Built by hand: this runs once per delivered message.
    let mut out = String::with_capacity(9 + stream.len() + consumer.len() + 5 * 20);
    out.push_str("$JS.ACK.");
    out.push_str(stream);
    out.push('.');
    out.push_str(consumer);
    for n in [delivered, stream_seq, consumer_seq] {
        out.push('.');
        push_u64(&mut out, n);
    }
    out.push('.');
    if timestamp < 0 {
        out.push('-');
    }
    push_u64(&mut out, timestamp.unsigned_abs());
    out.push('.');
    push_u64(&mut out, pending);
    out
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

fn num(token: &str) -> Option<u64> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// Parses an acknowledgement subject (`ackReplyInfo`); `None` when it is not one.
pub fn parse(subject: &str) -> Option<AckInfo<'_>> {
    let tokens: Vec<&str> = subject.split('.').collect();
    if (tokens.len() != 9 && tokens.len() < 11) || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let offset = if tokens.len() >= 11 { 4 } else { 2 };
    Some(AckInfo {
        stream: tokens[offset],
        consumer: tokens[offset + 1],
        delivered: num(tokens[offset + 2])?,
        stream_seq: num(tokens[offset + 3])?,
        consumer_seq: num(tokens[offset + 4])?,
        timestamp: i64::try_from(num(tokens[offset + 5])?).ok()?,
        pending: num(tokens[offset + 6])?,
    })
}

/// An acknowledgement's kind, from its body.
#[derive(Debug, Clone, PartialEq)]
pub enum AckKind<'a> {
    /// `+ACK`, `+OK` or an empty body.
    Ack,
    /// `-NAK`, with a redelivery delay in nanoseconds when given.
    Nak(Option<i64>),
    /// `+WPI`: work in progress, restarts the ack wait.
    Progress,
    /// `+NXT`: acknowledge and ask for more (the rest of the body is a pull request).
    Next(&'a [u8]),
    /// `+TERM`, with the reason that follows it.
    Term(String),
    Unknown,
}

/// Reads an acknowledgement body as nats-server does (`processAck`).
pub fn kind(body: &[u8]) -> AckKind<'_> {
    if body.is_empty() || body == b"+ACK" || body == b"+OK" {
        return AckKind::Ack;
    }
    if let Some(rest) = body.strip_prefix(b"+NXT") {
        return AckKind::Next(rest);
    }
    if let Some(rest) = body.strip_prefix(b"-NAK") {
        return AckKind::Nak(nak_delay(rest));
    }
    if body == b"+WPI" {
        return AckKind::Progress;
    }
    if let Some(rest) = body.strip_prefix(b"+TERM") {
        return AckKind::Term(String::from_utf8_lossy(rest.trim_ascii()).into_owned());
    }
    AckKind::Unknown
}

/// The delay of a `-NAK`: `{"delay": <nanoseconds>}` or a Go duration after a space.
fn nak_delay(rest: &[u8]) -> Option<i64> {
    let rest = rest.trim_ascii();
    if rest.is_empty() {
        return None;
    }
    if rest.first() == Some(&b'{') {
        #[derive(serde::Deserialize)]
        struct Nak {
            #[serde(default)]
            delay: i64,
        }
        return serde_json::from_slice::<Nak>(rest)
            .ok()
            .map(|n| n.delay)
            .filter(|d| *d > 0);
    }
    std::str::from_utf8(rest)
        .ok()
        .and_then(|t| crate::duration::parse_go_duration(t).ok())
        .and_then(|d| i64::try_from(d).ok())
        .filter(|d| *d > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_subjects_parse_as_nats_server_parses_them() {
        let s = reply_subject("ORDERS", "C1", 2, 17, 5, 1_764_611_115_112_702_368, 3);
        assert_eq!(s, "$JS.ACK.ORDERS.C1.2.17.5.1764611115112702368.3");
        let info = parse(&s).unwrap();
        assert_eq!(
            info,
            AckInfo {
                stream: "ORDERS",
                consumer: "C1",
                delivered: 2,
                stream_seq: 17,
                consumer_seq: 5,
                timestamp: 1_764_611_115_112_702_368,
                pending: 3,
            }
        );
        let v2 = parse("$JS.ACK.hub.ACCHASH.ORDERS.C1.1.9.9.100.0.token").unwrap();
        assert_eq!((v2.stream, v2.consumer, v2.stream_seq), ("ORDERS", "C1", 9));
        assert!(parse("$JS.ACK.ORDERS.C1.1.9.9.100").is_none());
        assert!(parse("$JS.ACK.ORDERS.C1.x.9.9.100.0").is_none());
        assert!(parse("$JS.NAK.ORDERS.C1.1.9.9.100.0").is_none());
    }

    #[test]
    fn bodies_read_as_nats_server_reads_them() {
        assert_eq!(kind(b""), AckKind::Ack);
        assert_eq!(kind(b"+ACK"), AckKind::Ack);
        assert_eq!(kind(b"-NAK"), AckKind::Nak(None));
        assert_eq!(
            kind(br#"-NAK {"delay":2000000000}"#),
            AckKind::Nak(Some(2_000_000_000))
        );
        assert_eq!(kind(b"-NAK 1s"), AckKind::Nak(Some(1_000_000_000)));
        assert_eq!(kind(b"+WPI"), AckKind::Progress);
        assert_eq!(
            kind(b"+NXT {\"batch\":2}"),
            AckKind::Next(b" {\"batch\":2}")
        );
        assert_eq!(kind(b"+TERM bad data "), AckKind::Term("bad data".into()));
        assert_eq!(kind(b"+TERM"), AckKind::Term(String::new()));
        assert_eq!(kind(b"what"), AckKind::Unknown);
    }

    #[test]
    fn reply_subjects_carry_every_number_in_decimal() {
        for (d, s, c, t, p) in [
            (1, 1, 1, 1_764_611_115_112_702_368, 0),
            (0, 0, 0, 0, 0),
            (u64::MAX, 10, 99, -5, u64::MAX),
        ] {
            assert_eq!(
                reply_subject("S", "C", d, s, c, t, p),
                format!("$JS.ACK.S.C.{d}.{s}.{c}.{t}.{p}")
            );
        }
        let subject = reply_subject("S", "C", 2, 7, 9, 1_000, 3);
        let parsed = parse(&subject).unwrap();
        assert_eq!(
            (
                parsed.delivered,
                parsed.stream_seq,
                parsed.consumer_seq,
                parsed.timestamp,
                parsed.pending
            ),
            (2, 7, 9, 1_000, 3)
        );
    }
}
