#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 4096,
    max_payload: 1024 * 1024,
};

/// An owned copy of an op, so results of different splits can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Connect(Vec<u8>),
    Info(Vec<u8>),
    Pub(Vec<u8>, Option<Vec<u8>>, Option<usize>, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<i64>),
    Ping,
    Pong,
    Ok,
    Err(Vec<u8>),
}

fn own(op: ClientOp<'_>) -> Owned {
    match op {
        ClientOp::Connect(a) => Owned::Connect(a.to_vec()),
        ClientOp::Info(a) => Owned::Info(a.to_vec()),
        ClientOp::Pub(p) => Owned::Pub(
            p.subject.to_vec(),
            p.reply.map(<[u8]>::to_vec),
            p.header_len,
            p.message.to_vec(),
        ),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => Owned::Sub(subject.to_vec(), queue.map(<[u8]>::to_vec), sid.to_vec()),
        ClientOp::Unsub { sid, max_msgs } => Owned::Unsub(sid.to_vec(), max_msgs),
        ClientOp::Ping => Owned::Ping,
        ClientOp::Pong => Owned::Pong,
        ClientOp::Ok => Owned::Ok,
        ClientOp::Err(a) => Owned::Err(a.to_vec()),
    }
}

/// Feeds `chunks` one after another, as successive reads, collecting ops until an error.
fn feed(parser: &mut Parser, chunks: &[&[u8]]) -> (Vec<Owned>, Option<ParseError>) {
    let mut ops = Vec::new();
    for chunk in chunks {
        let mut pos = 0;
        loop {
            match parser.next_op(chunk, &mut pos) {
                Ok(Some(op)) => ops.push(own(op)),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

fn parse_all(input: &[u8]) -> (Vec<Owned>, Option<ParseError>) {
    let mut parser = Parser::new(LIMITS);
    parser.headers_enabled = true;
    feed(&mut parser, &[input])
}

/// Every split point (and every pair of split points for short inputs) gives the same ops.
fn assert_split_invariant(input: &[u8]) {
    let whole = parse_all(input);
    for cut in 0..=input.len() {
        let mut parser = Parser::new(LIMITS);
        parser.headers_enabled = true;
        let split = feed(&mut parser, &[&input[..cut], &input[cut..]]);
        assert_eq!(
            split,
            whole,
            "split at {cut} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let mut parser = Parser::new(LIMITS);
    parser.headers_enabled = true;
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed(&mut parser, &bytes), whole, "byte at a time");
}

const SESSION: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nPING\r\nPONG\r\n\
SUB foo 1\r\nSUB bar q 2\r\nPUB foo 5\r\nhello\r\nPUB foo reply.x 0\r\n\r\n\
HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n\
UNSUB 1\r\nUNSUB 2 10\r\n+OK\r\nINFO {}\r\npub\tfoo\t\t3\nabc\r\nping\n";

#[test]
fn parses_a_whole_session() {
    let (ops, err) = parse_all(SESSION);
    assert_eq!(err, None);
    assert_eq!(
        ops,
        vec![
            Owned::Connect(b"{\"verbose\":false,\"headers\":true}".to_vec()),
            Owned::Ping,
            Owned::Pong,
            Owned::Sub(b"foo".to_vec(), None, b"1".to_vec()),
            Owned::Sub(b"bar".to_vec(), Some(b"q".to_vec()), b"2".to_vec()),
            Owned::Pub(b"foo".to_vec(), None, None, b"hello".to_vec()),
            Owned::Pub(b"foo".to_vec(), Some(b"reply.x".to_vec()), None, vec![]),
            Owned::Pub(
                b"foo".to_vec(),
                None,
                Some(12),
                b"NATS/1.0\r\n\r\nhi".to_vec()
            ),
            Owned::Pub(
                b"foo".to_vec(),
                Some(b"r".to_vec()),
                Some(12),
                b"NATS/1.0\r\n\r\n".to_vec()
            ),
            Owned::Unsub(b"1".to_vec(), None),
            Owned::Unsub(b"2".to_vec(), Some(10)),
            Owned::Ok,
            Owned::Info(b"{}".to_vec()),
            Owned::Pub(b"foo".to_vec(), None, None, b"abc".to_vec()),
            Owned::Ping,
        ]
    );
}

#[test]
fn session_split_at_every_offset() {
    assert_split_invariant(SESSION);
}

#[test]
fn errors_split_at_every_offset() {
    for input in [
        &b"PUB foo 2\r\nabc\r\n"[..],
        b"FOO\r\n",
        b"PUBX foo 1\r\n",
        b"MSG foo 1 1\r\nx\r\n",
        b"SUB foo\r\n",
        b"UNSUB\r\n",
        b"PUB foo bar baz 1\r\n",
        b"PUB foo 1234567890\r\n",
        b"HPUB foo 5 2\r\n",
    ] {
        assert!(
            parse_all(input).1.is_some(),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_split_invariant(input);
    }
}

#[test]
fn unknown_operations_fail_on_the_first_bad_byte() {
    for input in [
        &b"X"[..],
        b"M",
        b"PX",
        b"PUBX",
        b"UNSUB\r",
        b"SUBx",
        b" PING",
    ] {
        assert_eq!(
            parse_all(input).1,
            Some(ParseError::UnknownOperation),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn ping_ignores_the_rest_of_its_line() {
    assert_eq!(
        parse_all(b"PING foo\r\nPINGX\n").0,
        vec![Owned::Ping, Owned::Ping]
    );
}

#[test]
fn connect_needs_no_space() {
    assert_eq!(
        parse_all(b"CONNECT{}\r\n").0,
        vec![Owned::Connect(b"{}".to_vec())]
    );
}

#[test]
fn payload_framing_is_checked() {
    assert_eq!(
        parse_all(b"PUB foo 2\r\nabc\r\n").1,
        Some(ParseError::UnknownOperation)
    );
    assert_eq!(
        parse_all(b"PUB foo 2\r\nab\rX").1,
        Some(ParseError::UnknownOperation)
    );
    assert_eq!(parse_all(b"PUB foo 2\r\nab\r").1, None);
}

#[test]
fn silent_close_cases() {
    for input in [
        &b"PUB foo\r\n"[..],
        b"PUB  2\r\n",
        b"PUB a b c 5\r\n",
        b"PUB foo -1\r\n",
        b"PUB foo abc\r\n",
        b"PUB foo 1234567890\r\n",
        b"SUB foo\r\n",
        b"SUB a b c d\r\n",
        b"UNSUB 1 2 3\r\n",
        b"HPUB foo 1\r\n",
    ] {
        assert!(
            matches!(parse_all(input).1, Some(ParseError::BadArguments(_))),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn hpub_needs_negotiated_headers() {
    let mut parser = Parser::new(LIMITS);
    let (_, err) = feed(&mut parser, &[b"HPUB foo 12 14\r\n"]);
    assert_eq!(err, Some(ParseError::HeadersNotSupported));
}

#[test]
fn max_payload_is_checked_before_the_payload() {
    let mut parser = Parser::new(ParserLimits {
        max_control_line: 4096,
        max_payload: 10,
    });
    let (_, err) = feed(&mut parser, &[b"PUB foo 11\r\n"]);
    assert_eq!(err, Some(ParseError::MaxPayload { size: 11 }));
    let (ops, err) = parse_all(b"PUB foo 10\r\n0123456789\r\n");
    assert_eq!(err, None);
    assert_eq!(ops.len(), 1);
}

#[test]
fn max_control_line_counts_the_argument_only() {
    let mut ok = b"SUB ".to_vec();
    ok.extend(std::iter::repeat_n(b'a', 4094));
    ok.extend_from_slice(b" 1\r\n");
    assert_eq!(parse_all(&ok).1, None);
    let mut too_long = b"SUB ".to_vec();
    too_long.extend(std::iter::repeat_n(b'a', 4095));
    too_long.extend_from_slice(b" 1\r\n");
    assert_eq!(parse_all(&too_long).1, Some(ParseError::MaxControlLine));
    // An unterminated line is cut as soon as it is too long, without waiting for CRLF.
    let mut parser = Parser::new(LIMITS);
    let (_, err) = feed(&mut parser, &[&too_long[..too_long.len() - 2]]);
    assert_eq!(err, Some(ParseError::MaxControlLine));
}

#[test]
fn auth_required_rejects_anything_but_connect_first() {
    let mut parser = Parser::new(LIMITS);
    parser.awaiting_auth = true;
    assert_eq!(
        feed(&mut parser, &[b"PING\r\n"]).1,
        Some(ParseError::AuthViolation)
    );
    let mut parser = Parser::new(LIMITS);
    parser.awaiting_auth = true;
    assert_eq!(feed(&mut parser, &[b"connect {}\r\n"]).1, None);
}

#[test]
fn unsub_with_bad_max_unsubscribes_now() {
    assert_eq!(
        parse_all(b"UNSUB 1 x\r\n").0,
        vec![Owned::Unsub(b"1".to_vec(), Some(-1))]
    );
}

fn arb_op() -> impl Strategy<Value = Vec<u8>> {
    let token = "[a-z0-9_]{1,8}";
    let subject = proptest::collection::vec(token, 1..4).prop_map(|t| t.join("."));
    prop_oneof![
        (
            subject.clone(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(s, p)| {
                let mut v = format!("PUB {s} {}\r\n", p.len()).into_bytes();
                v.extend(p);
                v.extend_from_slice(b"\r\n");
                v
            }),
        (
            subject.clone(),
            "[a-z]{1,4}",
            proptest::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(s, r, p)| {
                let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
                let mut v =
                    format!("HPUB {s} {r} {} {}\r\n", hdr.len(), hdr.len() + p.len()).into_bytes();
                v.extend_from_slice(hdr);
                v.extend(p);
                v.extend_from_slice(b"\r\n");
                v
            }),
        (subject.clone(), 1u32..1000)
            .prop_map(|(s, sid)| format!("SUB {s} {sid}\r\n").into_bytes()),
        (subject, "[a-z]{1,5}", 1u32..1000)
            .prop_map(|(s, q, sid)| format!("sub {s} {q} {sid}\r\n").into_bytes()),
        (1u32..1000, 0u32..5).prop_map(|(sid, m)| format!("UNSUB {sid} {m}\r\n").into_bytes()),
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":true}\r\n".to_vec()),
    ]
}

proptest! {
    #[test]
    fn valid_streams_parse_the_same_however_split(
        ops in proptest::collection::vec(arb_op(), 1..12),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let input: Vec<u8> = ops.concat();
        let whole = parse_all(&input);
        prop_assert_eq!(whole.1.clone(), None);
        prop_assert_eq!(whole.0.len(), ops.len());
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&input[last..p]);
            last = p;
        }
        chunks.push(&input[last..]);
        let mut parser = Parser::new(LIMITS);
        parser.headers_enabled = true;
        prop_assert_eq!(feed(&mut parser, &chunks), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_all(&input);
    }
}
