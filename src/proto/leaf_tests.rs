#![allow(clippy::unwrap_used)]

use super::*;

const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 4096,
    max_payload: 1024 * 1024,
};

/// An owned copy of an op, so results of different splits can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Info(Vec<u8>),
    Connect(Vec<u8>),
    Ping,
    Pong,
    Ok,
    Err(Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, u32, Vec<u8>),
    Unsub(Vec<u8>),
    Msg {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        queues: Vec<Vec<u8>>,
        header_len: Option<usize>,
        message: Vec<u8>,
    },
    Ignored,
}

fn own(op: LeafOp<'_>) -> Owned {
    match op {
        LeafOp::Info(a) => Owned::Info(a.to_vec()),
        LeafOp::Connect(a) => Owned::Connect(a.to_vec()),
        LeafOp::Ping => Owned::Ping,
        LeafOp::Pong => Owned::Pong,
        LeafOp::Ok => Owned::Ok,
        LeafOp::Err(a) => Owned::Err(a.to_vec()),
        LeafOp::Sub {
            subject,
            queue,
            weight,
            key,
        } => Owned::Sub(
            subject.to_vec(),
            queue.map(<[u8]>::to_vec),
            weight,
            key.to_vec(),
        ),
        LeafOp::Unsub { key } => Owned::Unsub(key.to_vec()),
        LeafOp::Msg(m) => Owned::Msg {
            subject: m.subject.to_vec(),
            reply: m.reply.map(<[u8]>::to_vec),
            queues: m.queue_names().map(<[u8]>::to_vec).collect(),
            header_len: m.header_len,
            message: m.message.to_vec(),
        },
        LeafOp::Ignored => Owned::Ignored,
    }
}

fn feed(parser: &mut LeafParser, chunks: &[&[u8]]) -> (Vec<Owned>, Option<ParseError>) {
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
    feed(&mut LeafParser::new(LIMITS), &[input])
}

/// Every split point, every pair of split points for short inputs, and a byte at a time
/// give the same operations (and the same error) as the whole input.
fn assert_split_invariant(input: &[u8]) {
    let whole = parse_all(input);
    for cut in 0..=input.len() {
        let split = feed(
            &mut LeafParser::new(LIMITS),
            &[&input[..cut], &input[cut..]],
        );
        assert_eq!(
            split,
            whole,
            "split at {cut} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    if input.len() <= 64 {
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let split = feed(
                    &mut LeafParser::new(LIMITS),
                    &[&input[..a], &input[a..b], &input[b..]],
                );
                assert_eq!(split, whole, "splits at {a} and {b}");
            }
        }
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        feed(&mut LeafParser::new(LIMITS), &bytes),
        whole,
        "byte at a time"
    );
}

fn msg(
    subject: &str,
    reply: Option<&str>,
    queues: &[&str],
    header_len: Option<usize>,
    message: &[u8],
) -> Owned {
    Owned::Msg {
        subject: subject.into(),
        reply: reply.map(Into::into),
        queues: queues.iter().map(|q| q.as_bytes().to_vec()).collect(),
        header_len,
        message: message.to_vec(),
    }
}

/// What nats-server 2.15.1 sends a leaf, and what a leaf sends it, in one session.
const SESSION: &[u8] = b"INFO {\"server_id\":\"NA\",\"client_id\":5} \r\n\
LS+ foo\r\nLS+ bar.* q 1\r\nLS+ bar.* q 2\r\nLS- bar.* q\r\nLS- foo\r\n\
LMSG foo 5\r\nhello\r\nLMSG foo _INBOX.a 0\r\n\r\n\
LMSG foo + _INBOX.b q1 q2 3\r\nabc\r\nLMSG foo | q1 2\r\nhi\r\n\
HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n\
HMSG foo + r q 12 13\r\nNATS/1.0\r\n\r\nx\r\nHMSG foo | q 12 12\r\nNATS/1.0\r\n\r\n\r\n\
PING\r\nPONG\r\n+OK\r\n-ERR 'Loop detected'\r\nRS+ x\r\nRMSG x 1\r\ny\r\n\
A+ acc\r\nls+\tlow\r\nlmsg low 1\nz\r\n";

#[test]
fn parses_a_whole_session() {
    let (ops, err) = parse_all(SESSION);
    assert_eq!(err, None);
    let header = b"NATS/1.0\r\n\r\n";
    assert_eq!(
        ops,
        vec![
            Owned::Info(b"{\"server_id\":\"NA\",\"client_id\":5} ".to_vec()),
            Owned::Sub(b"foo".to_vec(), None, 1, b"foo".to_vec()),
            Owned::Sub(
                b"bar.*".to_vec(),
                Some(b"q".to_vec()),
                1,
                b"bar.* q".to_vec()
            ),
            Owned::Sub(
                b"bar.*".to_vec(),
                Some(b"q".to_vec()),
                2,
                b"bar.* q".to_vec()
            ),
            Owned::Unsub(b"bar.* q".to_vec()),
            Owned::Unsub(b"foo".to_vec()),
            msg("foo", None, &[], None, b"hello"),
            msg("foo", Some("_INBOX.a"), &[], None, b""),
            msg("foo", Some("_INBOX.b"), &["q1", "q2"], None, b"abc"),
            msg("foo", None, &["q1"], None, b"hi"),
            msg("foo", None, &[], Some(12), &[&header[..], b"hi"].concat()),
            msg("foo", Some("r"), &[], Some(12), header),
            msg(
                "foo",
                Some("r"),
                &["q"],
                Some(12),
                &[&header[..], b"x"].concat()
            ),
            msg("foo", None, &["q"], Some(12), header),
            Owned::Ping,
            Owned::Pong,
            Owned::Ok,
            Owned::Err(b"'Loop detected'".to_vec()),
            Owned::Sub(b"x".to_vec(), None, 1, b"x".to_vec()),
            msg("x", None, &[], None, b"y"),
            Owned::Ignored,
            Owned::Sub(b"low".to_vec(), None, 1, b"low".to_vec()),
            msg("low", None, &[], None, b"z"),
        ]
    );
}

#[test]
fn session_split_at_every_offset() {
    assert_split_invariant(SESSION);
}

#[test]
fn short_operations_split_at_every_pair_of_offsets() {
    for input in [
        &b"LS+ foo q 3\r\nLS- foo q\r\n"[..],
        b"LMSG a + r q1 q2 1\r\nx\r\n",
        b"HMSG a | q 2 3\r\nhhx\r\n",
        b"LMSG a 0\r\n\r\nPING\r\n",
    ] {
        assert_eq!(parse_all(input).1, None);
        assert_split_invariant(input);
    }
}

#[test]
fn malformed_input_fails_as_nats_server_fails_it() {
    use ParseError::*;
    let bad_args = |e: &Option<ParseError>| matches!(e, Some(BadArguments(_)));
    for (input, check) in [
        // Wrong argument counts and sizes: closed without an -ERR.
        (
            &b"LS+ foo q\r\n"[..],
            bad_args as fn(&Option<ParseError>) -> bool,
        ),
        (b"LS+ a b c d\r\n", bad_args),
        (b"LS+ \r\n", bad_args),
        (b"LMSG foo\r\n", bad_args),
        (b"LMSG foo x\r\n", bad_args),
        (b"LMSG foo -1\r\n", bad_args),
        (b"LMSG foo 1234567890\r\n", bad_args),
        (b"LMSG foo ? q 1\r\n", bad_args),
        (b"LMSG foo ++ r q 1\r\n", bad_args),
        (b"HMSG foo 1\r\n", bad_args),
        (b"HMSG foo 5 2\r\n", bad_args),
        (b"PUB a b c 1\r\n", bad_args),
        (b"HPUB a b c d 1 2\r\n", bad_args),
        // Bytes the state machine does not expect: Unknown Protocol Operation.
        (b"MSG foo 1 1\r\nx\r\n", |e| *e == Some(UnknownOperation)),
        (b"LSX foo\r\n", |e| *e == Some(UnknownOperation)),
        (b"LS+foo\r\n", |e| *e == Some(UnknownOperation)),
        (b" PING\r\n", |e| *e == Some(UnknownOperation)),
        (b"\r\n", |e| *e == Some(UnknownOperation)),
        (b"LMSG foo 2\r\nabc\r\n", |e| *e == Some(UnknownOperation)),
        (b"GET / HTTP/1.1\r\n", |e| *e == Some(UnknownOperation)),
        // Too large for the link.
        (b"LMSG foo 1048577\r\n", |e| {
            *e == Some(MaxPayload { size: 1_048_577 })
        }),
    ] {
        let (_, err) = parse_all(input);
        assert!(
            check(&err),
            "{:?} gave {err:?}",
            String::from_utf8_lossy(input)
        );
        assert_split_invariant(input);
    }
}

#[test]
fn control_lines_may_be_sixteen_times_longer_than_a_clients() {
    let limits = ParserLimits {
        max_control_line: 64,
        max_payload: 1024,
    };
    let subject = "a".repeat(64 * 16 - 2);
    let ok = format!("LMSG {subject} 0\r\n\r\n");
    let (ops, err) = feed(&mut LeafParser::new(limits), &[ok.as_bytes()]);
    assert_eq!((ops.len(), err), (1, None));
    let long = format!("LMSG {subject}x 0\r\n\r\n");
    let (_, err) = feed(&mut LeafParser::new(limits), &[long.as_bytes()]);
    assert_eq!(err, Some(ParseError::MaxControlLine));
    // Also when the line never ends: it is cut as soon as it is too long.
    let unterminated = format!("LS+ {}", "b".repeat(64 * 16 + 1));
    let (_, err) = feed(
        &mut LeafParser::new(limits),
        &[
            &unterminated.as_bytes()[..10],
            &unterminated.as_bytes()[10..],
        ],
    );
    assert_eq!(err, Some(ParseError::MaxControlLine));
}

#[test]
fn an_accepted_link_must_start_with_connect() {
    let mut parser = LeafParser::new(LIMITS);
    parser.awaiting_connect = true;
    let (_, err) = feed(&mut parser, &[b"LS+ foo\r\n"]);
    assert_eq!(err, Some(ParseError::AuthViolation));
    let mut parser = LeafParser::new(LIMITS);
    parser.awaiting_connect = true;
    let (ops, err) = feed(&mut parser, &[b"CONNECT {}\r\n"]);
    assert_eq!((ops, err), (vec![Owned::Connect(b"{}".to_vec())], None));
}

#[test]
fn an_unparsable_weight_counts_as_one_and_the_key_drops_it() {
    assert_eq!(
        parse_all(b"LS+ foo q x\r\nLS+ foo\tq 0\r\n").0,
        vec![
            Owned::Sub(b"foo".to_vec(), Some(b"q".to_vec()), 1, b"foo q".to_vec()),
            Owned::Sub(b"foo".to_vec(), Some(b"q".to_vec()), 1, b"foo\tq".to_vec()),
        ]
    );
}

#[test]
fn encoders_write_nats_servers_bytes() {
    let mut out = Vec::new();
    sub_line(&mut out, b"foo", 1);
    sub_line(&mut out, b"foo q", 3);
    unsub_line(&mut out, b"foo q");
    message(&mut out, b"foo", None, [], None, b"hi");
    message(&mut out, b"foo", Some(b"r"), [], None, b"");
    message(
        &mut out,
        b"foo",
        Some(b"r"),
        [&b"q1"[..], b"q2"],
        None,
        b"x",
    );
    message(&mut out, b"foo", None, [&b"q"[..]], Some(2), b"hhx");
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "LS+ foo\r\nLS+ foo q 3\r\nLS- foo q\r\nLMSG foo 2\r\nhi\r\nLMSG foo r 0\r\n\r\n\
         LMSG foo + r q1 q2 1\r\nx\r\nHMSG foo | q 2 3\r\nhhx\r\n"
    );
    // And the parser reads them back.
    let (ops, err) = parse_all(&out);
    assert_eq!((ops.len(), err), (7, None));
    assert_eq!(interest_key(b"a", Some(b"q")), b"a q".to_vec());
}
