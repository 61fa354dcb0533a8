//! Raw-wire compatibility tests: exact bytes in, exact bytes out.
//!
//! Every test runs against each selected target (see `tests/support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::thread;
use std::time::Duration;

use crate::support::{
    for_each_target, for_each_target_opts, hmsg, msg, show, wait_for, RawConn, Server, ServerOpts,
};

const ERR_UNKNOWN_OP: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
const ERR_CONTROL_LINE: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";
const ERR_MAX_PAYLOAD: &[u8] = b"-ERR 'Maximum Payload Violation'\r\n";
const ERR_INVALID_SUBJECT: &[u8] = b"-ERR 'Invalid Subject'\r\n";
const ERR_INVALID_PUB_SUBJECT: &[u8] = b"-ERR 'Invalid Publish Subject'\r\n";
const ERR_AUTH_VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

/// A connected, non-verbose, headers-capable client.
const PLAIN: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
/// A connected, non-verbose client that did not negotiate headers.
const NO_HEADERS: &str = r#"{"verbose":false,"pedantic":false}"#;

// ---------------------------------------------------------------------------
// INFO and CONNECT
// ---------------------------------------------------------------------------

#[test]
fn info_line_fields() {
    for_each_target(|s| {
        let c = s.raw();
        let line = &c.info_line;
        assert!(line.starts_with(b"INFO {"), "INFO line: {}", show(line));
        assert!(
            line.ends_with(b"} \r\n"),
            "INFO must end with `}} \\r\\n` like nats-server: {}",
            show(line)
        );
        let i = &c.info;
        for key in ["server_id", "server_name", "version", "go"] {
            let v = i[key]
                .as_str()
                .unwrap_or_else(|| panic!("INFO.{key} must be a string: {i}"));
            assert!(!v.is_empty(), "INFO.{key} empty: {i}");
        }
        let version = i["version"].as_str().unwrap();
        let parts: Vec<&str> = version.split('.').collect();
        assert!(
            parts.len() >= 3 && parts[..3].iter().all(|p| p.parse::<u32>().is_ok()),
            "INFO.version must look like x.y.z: {version}"
        );
        if s.target.is_reference() {
            assert_eq!(version, "2.15.1", "reference binary version");
        }
        assert_eq!(i["proto"], 1, "INFO.proto: {i}");
        assert_eq!(i["host"], "127.0.0.1", "INFO.host: {i}");
        assert_eq!(i["port"], s.port, "INFO.port: {i}");
        assert_eq!(i["headers"], true, "INFO.headers: {i}");
        assert_eq!(i["max_payload"], 1_048_576, "INFO.max_payload: {i}");
        assert_eq!(i["client_ip"], "127.0.0.1", "INFO.client_ip: {i}");
        assert!(
            i["client_id"].as_u64().is_some(),
            "INFO.client_id must be an unsigned number: {i}"
        );
        assert!(
            i.get("auth_required").is_none() || i["auth_required"] == false,
            "no auth configured, yet auth_required: {i}"
        );

        // Each connection gets a distinct, increasing client id; server id is stable.
        let c2 = s.raw();
        assert!(
            c2.info["client_id"].as_u64().unwrap() > c.info["client_id"].as_u64().unwrap(),
            "client_id must increase: {} then {}",
            c.info["client_id"],
            c2.info["client_id"]
        );
        assert_eq!(c2.info["server_id"], c.info["server_id"]);
    });
}

#[test]
fn connect_verbose_acks_every_op() {
    for_each_target(|s| {
        let mut c = s.raw();
        c.send(b"CONNECT {\"verbose\":true}\r\n");
        c.expect(b"+OK\r\n");
        // PING gets PONG only, no +OK.
        c.send(b"PING\r\n");
        c.expect(b"PONG\r\n");
        c.send(b"SUB foo 1\r\n");
        c.expect(b"+OK\r\n");
        // The publisher's +OK precedes the echo of its own message.
        c.send(b"PUB foo 2\r\nhi\r\n");
        c.expect([&b"+OK\r\n"[..], &msg("foo", "1", None, b"hi")].concat());
        c.send(b"UNSUB 1\r\n");
        c.expect(b"+OK\r\n");
        c.send(b"PUB foo 2\r\nhi\r\n");
        c.expect(b"+OK\r\n");
        c.expect_silence(200);
    });
}

#[test]
fn connect_empty_object_is_verbose_by_default() {
    for_each_target(|s| {
        let mut c = s.raw();
        c.send(b"CONNECT {}\r\n");
        c.expect(b"+OK\r\n");
        c.ping();
        // No space between CONNECT and its JSON.
        let mut c = s.raw();
        c.send(b"CONNECT{}\r\n");
        c.expect(b"+OK\r\n");
        // Unknown fields are ignored; a second CONNECT is accepted.
        let mut c = s.raw();
        c.send(b"CONNECT {\"verbose\":false,\"no_such_field\":[1,2]}\r\nCONNECT {\"verbose\":false}\r\nPING\r\n");
        c.expect(b"PONG\r\n");
    });
}

#[test]
fn ping_pong() {
    for_each_target(|s| {
        // PING works before CONNECT when no auth is required.
        let mut c = s.raw();
        c.ping();
        c.send(b"PING\r\nPING\r\nPING\r\n");
        c.expect(b"PONG\r\nPONG\r\nPONG\r\n");
        c.handshake(PLAIN);
        // Unsolicited PONG, +OK and INFO from a client are ignored.
        c.send(b"PONG\r\n+OK\r\nINFO {}\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        c.expect_silence(100);
    });
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

#[test]
fn pub_sub_msg_with_and_without_reply() {
    for_each_target(|s| {
        let mut sub = s.client();
        sub.send(b"SUB foo 1\r\n");
        sub.ping();
        let mut p = s.client();
        p.send(b"PUB foo 5\r\nhello\r\n");
        sub.expect(b"MSG foo 1 5\r\nhello\r\n");
        p.send(b"PUB foo bar.baz 5\r\nhello\r\n");
        sub.expect(b"MSG foo 1 bar.baz 5\r\nhello\r\n");
        // Empty payload, and a payload containing CRLF.
        p.send(b"PUB foo 0\r\n\r\n");
        sub.expect(b"MSG foo 1 0\r\n\r\n");
        p.send(b"PUB foo 6\r\na\r\nb\r\n\r\n");
        sub.expect(b"MSG foo 1 6\r\na\r\nb\r\n\r\n");
        // Binary payload bytes pass through untouched.
        let payload: Vec<u8> = (0u8..=255).collect();
        let mut frame = b"PUB foo 256\r\n".to_vec();
        frame.extend_from_slice(&payload);
        frame.extend_from_slice(b"\r\n");
        p.send(&frame);
        sub.expect(msg("foo", "1", None, &payload));
        // A subscriber only sees its subject.
        p.send(b"PUB bar 1\r\nx\r\nPING\r\n");
        p.expect(b"PONG\r\n");
        sub.expect_silence(150);
        // Publisher with echo (default) gets its own message.
        p.send(b"SUB foo 9\r\nPUB foo 1\r\ny\r\n");
        p.expect(b"MSG foo 9 1\r\ny\r\n");
        sub.expect(b"MSG foo 1 1\r\ny\r\n");
    });
}

#[test]
fn queue_subscriptions_deliver_once_per_group() {
    for_each_target(|s| {
        let mut plain = s.client();
        plain.send(b"SUB work 1\r\n");
        plain.ping();
        let mut q1 = s.client();
        q1.send(b"SUB work workers 1\r\n");
        q1.ping();
        let mut q2 = s.client();
        q2.send(b"SUB work workers 7\r\n");
        q2.ping();
        let mut other_group = s.client();
        other_group.send(b"SUB work auditors 3\r\n");
        other_group.ping();

        let mut p = s.client();
        let n = 40;
        let mut expected_plain = Vec::new();
        let mut expected_audit = Vec::new();
        for i in 0..n {
            let body = format!("m{i:02}");
            p.send(format!("PUB work 3\r\n{body}\r\n"));
            expected_plain.extend(msg("work", "1", None, body.as_bytes()));
            expected_audit.extend(msg("work", "3", None, body.as_bytes()));
        }
        p.ping();
        plain.expect(&expected_plain);
        other_group.expect(&expected_audit);
        let (b1, c1) = q1.drain_until_quiet(300, Duration::from_secs(3));
        let (b2, c2) = q2.drain_until_quiet(300, Duration::from_secs(3));
        assert!(!c1 && !c2, "a queue member was disconnected");
        let m1 = support::parse_msgs(&b1);
        let m2 = support::parse_msgs(&b2);
        assert!(
            m1.iter().all(|(sid, _)| sid == "1"),
            "q1 got a wrong sid: {}",
            show(&b1)
        );
        assert!(
            m2.iter().all(|(sid, _)| sid == "7"),
            "q2 got a wrong sid: {}",
            show(&b2)
        );
        let mut all: Vec<Vec<u8>> = m1.into_iter().chain(m2).map(|(_, p)| p).collect();
        all.sort();
        let want: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i:02}").into_bytes()).collect();
        assert_eq!(
            all, want,
            "each message exactly once across the queue group"
        );
    });
}

#[test]
fn queue_name_may_contain_wildcard_characters() {
    for_each_target(|s| {
        let mut q = s.client();
        q.send(b"SUB foo g.*.> 1\r\n");
        q.ping();
        let mut p = s.client();
        p.send(b"PUB foo 1\r\nx\r\n");
        q.expect(b"MSG foo 1 1\r\nx\r\n");
    });
}

#[test]
fn wildcards() {
    for_each_target(|s| {
        let mut star = s.client();
        star.send(b"SUB foo.* 1\r\n");
        star.ping();
        let mut gt = s.client();
        gt.send(b"SUB foo.> 2\r\n");
        gt.ping();
        let mut lit = s.client();
        lit.send(b"SUB foo* 3\r\n");
        lit.ping();
        let mut mid = s.client();
        mid.send(b"SUB *.bar.* 4\r\n");
        mid.ping();
        let mut all = s.client();
        all.send(b"SUB > 5\r\n");
        all.ping();

        let mut p = s.client();
        p.send(b"PUB foo.bar 1\r\na\r\n");
        star.expect(b"MSG foo.bar 1 1\r\na\r\n");
        gt.expect(b"MSG foo.bar 2 1\r\na\r\n");
        all.expect(b"MSG foo.bar 5 1\r\na\r\n");

        p.send(b"PUB foo.bar.baz 1\r\nb\r\n");
        gt.expect(b"MSG foo.bar.baz 2 1\r\nb\r\n");
        mid.expect(b"MSG foo.bar.baz 4 1\r\nb\r\n");
        all.expect(b"MSG foo.bar.baz 5 1\r\nb\r\n");

        // `foo*` is a literal token, and `foo` alone matches neither foo.* nor foo.>.
        p.send(b"PUB foo* 1\r\nc\r\n");
        lit.expect(b"MSG foo* 3 1\r\nc\r\n");
        all.expect(b"MSG foo* 5 1\r\nc\r\n");
        p.send(b"PUB foo 1\r\nd\r\n");
        all.expect(b"MSG foo 5 1\r\nd\r\n");
        p.send(b"PUB foox 1\r\ne\r\n");
        all.expect(b"MSG foox 5 1\r\ne\r\n");
        p.ping();

        star.expect_silence(150);
        gt.expect_silence(10);
        lit.expect_silence(10);
        mid.expect_silence(10);
        all.expect_silence(10);
    });
}

#[test]
fn publish_to_wildcard_subject_is_not_expanded() {
    for_each_target(|s| {
        let mut literal = s.client();
        literal.send(b"SUB foo.bar 1\r\n");
        literal.ping();
        let mut star = s.client();
        star.send(b"SUB foo.* 2\r\n");
        star.ping();
        let mut gt = s.client();
        gt.send(b"SUB foo.> 3\r\n");
        gt.ping();
        let mut p = s.client();
        p.send(b"PUB foo.* 2\r\nhi\r\nPUB foo.> 2\r\nho\r\n");
        p.ping();
        // The literal tokens `*` and `>` are matched by the subscriber's `*`.
        star.expect(b"MSG foo.* 2 2\r\nhi\r\nMSG foo.> 2 2\r\nho\r\n");
        gt.expect(b"MSG foo.* 3 2\r\nhi\r\nMSG foo.> 3 2\r\nho\r\n");
        literal.expect_silence(200);
        star.expect_silence(10);
    });
}

#[test]
fn non_pedantic_publish_to_invalid_subject_is_dropped() {
    for_each_target(|s| {
        let mut all = s.client();
        all.send(b"SUB > 1\r\n");
        all.ping();
        let mut p = s.client();
        p.send(b"PUB a..b 1\r\nx\r\nPUB .a 1\r\nx\r\nPUB ok 1\r\ny\r\nPING\r\n");
        p.expect(b"PONG\r\n");
        all.expect(b"MSG ok 1 1\r\ny\r\n");
        all.expect_silence(150);
    });
}

#[test]
fn subjects_are_opaque_bytes() {
    for_each_target(|s| {
        let mut sub = s.client();
        sub.send(b"SUB \xff\xfe.a 1\r\nSUB a\x00b 2\r\n");
        sub.ping();
        let mut p = s.client();
        p.send(b"PUB \xff\xfe.a 1\r\nx\r\n");
        sub.expect(b"MSG \xff\xfe.a 1 1\r\nx\r\n");
        p.send(b"PUB a\x00b 1\r\ny\r\n");
        sub.expect(b"MSG a\x00b 2 1\r\ny\r\n");
    });
}

#[test]
fn echo_false_suppresses_own_messages() {
    for_each_target(|s| {
        let mut c = s.client_with(r#"{"verbose":false,"echo":false}"#);
        c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        c.expect_silence(150);
        let mut other = s.client();
        other.send(b"PUB foo 2\r\nho\r\n");
        c.expect(b"MSG foo 1 2\r\nho\r\n");
    });
}

// ---------------------------------------------------------------------------
// UNSUB
// ---------------------------------------------------------------------------

#[test]
fn unsub_stops_delivery() {
    for_each_target(|s| {
        let mut sub = s.client();
        sub.send(b"SUB foo 1\r\nSUB foo 2\r\nUNSUB 1\r\n");
        sub.ping();
        let mut p = s.client();
        p.send(b"PUB foo 1\r\nx\r\n");
        sub.expect(b"MSG foo 2 1\r\nx\r\n");
        sub.send(b"UNSUB 2\r\n");
        sub.ping();
        p.send(b"PUB foo 1\r\ny\r\n");
        p.ping();
        sub.expect_silence(200);
    });
}

#[test]
fn unsub_with_max_auto_unsubscribes() {
    for_each_target(|s| {
        let mut sub = s.client();
        sub.send(b"SUB foo 1\r\nUNSUB 1 2\r\n");
        sub.ping();
        let mut p = s.client();
        p.send(b"PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n");
        p.expect(b"PONG\r\n");
        sub.expect(b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
        sub.expect_silence(200);

        // Max given after some deliveries already happened: counts the total.
        let mut sub = s.client();
        sub.send(b"SUB bar 5\r\n");
        sub.ping();
        p.send(b"PUB bar 1\r\n1\r\n");
        sub.expect(b"MSG bar 5 1\r\n1\r\n");
        sub.send(b"UNSUB 5 2\r\n");
        sub.ping();
        p.send(b"PUB bar 1\r\n2\r\nPUB bar 1\r\n3\r\nPING\r\n");
        p.expect(b"PONG\r\n");
        sub.expect(b"MSG bar 5 1\r\n2\r\n");
        sub.expect_silence(200);
    });
}

#[test]
fn unsub_unknown_sid_is_silent() {
    for_each_target(|s| {
        let mut c = s.client();
        c.send(b"UNSUB 99\r\nUNSUB nope 3\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        let mut v = s.raw();
        v.send(b"CONNECT {\"verbose\":true}\r\n");
        v.expect(b"+OK\r\n");
        v.send(b"UNSUB 99\r\n");
        v.expect(b"+OK\r\n");
        v.expect_silence(100);
    });
}

#[test]
fn duplicate_sid_is_ignored() {
    for_each_target(|s| {
        let mut c = s.client();
        c.send(b"SUB foo 1\r\nSUB bar 1\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        let mut p = s.client();
        p.send(b"PUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n");
        c.expect(b"MSG foo 1 1\r\ny\r\n");
        c.expect_silence(150);
    });
}

// ---------------------------------------------------------------------------
// Headers and no-responders
// ---------------------------------------------------------------------------

#[test]
fn hpub_hmsg_and_header_stripping() {
    for_each_target(|s| {
        let mut h = s.client_with(PLAIN);
        h.send(b"SUB foo 1\r\n");
        h.ping();
        let mut m = s.client_with(NO_HEADERS);
        m.send(b"SUB foo 2\r\n");
        m.ping();
        let mut p = s.client_with(PLAIN);

        let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
        let mut frame = format!("HPUB foo {} {}\r\n", hdr.len(), hdr.len() + 5).into_bytes();
        frame.extend_from_slice(hdr);
        frame.extend_from_slice(b"hello\r\n");
        p.send(&frame);
        h.expect(hmsg("foo", "1", None, hdr, b"hello"));
        m.expect(msg("foo", "2", None, b"hello"));

        // With a reply subject.
        let mut frame = format!("HPUB foo r.1 {} {}\r\n", hdr.len(), hdr.len() + 2).into_bytes();
        frame.extend_from_slice(hdr);
        frame.extend_from_slice(b"hi\r\n");
        p.send(&frame);
        h.expect(hmsg("foo", "1", Some("r.1"), hdr, b"hi"));
        m.expect(msg("foo", "2", Some("r.1"), b"hi"));

        // hdr_len 0 is delivered as a plain MSG to everybody.
        p.send(b"HPUB foo 0 5\r\nhello\r\n");
        h.expect(b"MSG foo 1 5\r\nhello\r\n");
        m.expect(b"MSG foo 2 5\r\nhello\r\n");

        // The header block is not validated.
        p.send(b"HPUB foo 11 11\r\nGARBAGE\r\n\r\n\r\n");
        h.expect(b"HMSG foo 1 11 11\r\nGARBAGE\r\n\r\n\r\n");
        m.expect(b"MSG foo 2 0\r\n\r\n");

        // A plain PUB reaches the headers subscriber as MSG.
        p.send(b"PUB foo 1\r\nz\r\n");
        h.expect(b"MSG foo 1 1\r\nz\r\n");
        m.expect(b"MSG foo 2 1\r\nz\r\n");
    });
}

#[test]
fn no_responders_status_message() {
    for_each_target(|s| {
        let mut c = s.client_with(r#"{"verbose":false,"headers":true,"no_responders":true}"#);
        c.send(b"SUB _INBOX.x 1\r\nPUB nobody.home _INBOX.x 2\r\nhi\r\n");
        let subj = "nobody.home";
        let hdr = format!("NATS/1.0 503\r\nNats-Subject: {subj}\r\n\r\n");
        assert_eq!(hdr.len(), 32 + subj.len());
        c.expect(format!("HMSG _INBOX.x 1 {0} {0}\r\n{hdr}\r\n", hdr.len()));
        c.ping();

        // A responder present: no 503, the request goes to it.
        let mut responder = s.client();
        responder.send(b"SUB svc 1\r\n");
        responder.ping();
        c.send(b"PUB svc _INBOX.x 2\r\nhi\r\n");
        responder.expect(b"MSG svc 1 _INBOX.x 2\r\nhi\r\n");
        c.ping();
        c.expect_silence(100);

        // Without no_responders there is no status message.
        let mut q = s.client_with(r#"{"verbose":false,"headers":true}"#);
        q.send(b"SUB _INBOX.y 1\r\nPUB nobody _INBOX.y 2\r\nhi\r\nPING\r\n");
        q.expect(b"PONG\r\n");
        q.expect_silence(150);
    });
}

#[test]
fn no_responders_requires_headers() {
    for_each_target(|s| {
        let mut c = s.raw();
        c.send(b"CONNECT {\"no_responders\":true}\r\n");
        c.expect_then_closed(b"-ERR 'no responders requires headers support'\r\n");
    });
}

#[test]
fn invalid_client_protocol() {
    for_each_target(|s| {
        let mut c = s.raw();
        c.send(b"CONNECT {\"protocol\":2}\r\n");
        c.expect_then_closed(b"-ERR 'invalid client protocol'\r\n");
        let mut c = s.raw();
        c.send(b"CONNECT {\"protocol\":-1,\"verbose\":false}\r\n");
        c.expect_then_closed(b"-ERR 'invalid client protocol'\r\n");
        // 0 and 1 are fine.
        for p in [0, 1] {
            let mut c = s.raw();
            c.handshake(&format!("{{\"protocol\":{p},\"verbose\":false}}"));
        }
    });
}

// ---------------------------------------------------------------------------
// Errors that close the connection
// ---------------------------------------------------------------------------

#[test]
fn unknown_protocol_operation_closes() {
    let cases: &[&[u8]] = &[
        b"FOO\r\n",
        b"MSG foo 1 5\r\nhello\r\n",
        b"HMSG foo 1 2 2\r\nhi\r\n",
        b"RS+ foo\r\n",
        b"PUB foo 2\r\nhello\r\n",
        b"PUB foo 5\r\nhi\r\nPING\r\n",
        b" PING\r\n",
        b"\r\n",
        b"UNSUB\r\n",
        b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for_each_target(|s| {
        for case in cases {
            let mut c = s.client();
            c.send_lossy(case);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.expect_then_closed(ERR_UNKNOWN_OP)
            }))
            .unwrap_or_else(|e| {
                panic!(
                    "case \"{}\": {}",
                    show(case),
                    e.downcast_ref::<String>().cloned().unwrap_or_default()
                )
            });
        }
    });
}

#[test]
fn silent_closes() {
    // (connect JSON to send first, or None for no CONNECT; offending bytes)
    let cases: &[(Option<&str>, &[u8])] = &[
        (Some(PLAIN), b"PUB foo\r\n"),
        (Some(PLAIN), b"PUB  2\r\n"),
        (Some(PLAIN), b"PUB a b c 5\r\n"),
        (Some(PLAIN), b"PUB foo -1\r\n"),
        (Some(PLAIN), b"PUB foo abc\r\n"),
        (Some(PLAIN), b"PUB foo 1234567890\r\n"),
        (Some(PLAIN), b"SUB foo\r\n"),
        (Some(PLAIN), b"SUB a b c d\r\n"),
        (Some(PLAIN), b"UNSUB 1 2 3\r\n"),
        (Some(NO_HEADERS), b"HPUB foo 2 2\r\nhi\r\n"),
        (Some(PLAIN), b"HPUB foo 3 2\r\nhi\r\n"),
        (Some(PLAIN), b"HPUB foo 2\r\nhi\r\n"),
        (Some(PLAIN), b"-ERR 'x'\r\n"),
        (Some(PLAIN), b"INFO\r\n"),
        (None, b"CONNECT {bad json\r\n"),
        (None, b"CONNECT []\r\n"),
        (None, b"CONNECT {\"verbose\":\"yes\"}\r\n"),
        (None, b"CONNECT {\"verbose\":false} xyz\r\n"),
    ];
    for_each_target(|s| {
        for (connect, bytes) in cases {
            let mut c = s.raw();
            if let Some(json) = connect {
                c.handshake(json);
            }
            c.send_lossy(bytes);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.expect_closed()))
                .unwrap_or_else(|e| {
                    panic!(
                        "case \"{}\": {}",
                        show(bytes),
                        e.downcast_ref::<String>().cloned().unwrap_or_default()
                    )
                });
        }
    });
}

#[test]
fn maximum_control_line() {
    for_each_target(|s| {
        // The argument part (after "SUB ") may be 4096 bytes...
        let ok = format!("SUB {} 1\r\n", "a".repeat(4094));
        let mut c = s.client();
        c.send(&ok);
        c.ping();
        // ...and 4097 is too many.
        let bad = format!("SUB {} 1\r\n", "a".repeat(4095));
        let mut c = s.client();
        c.send_lossy(&bad);
        c.expect_then_closed(ERR_CONTROL_LINE);
        // An unterminated long line is cut without waiting for CRLF.
        let mut c = s.client();
        c.send_lossy(format!("SUB {}", "a".repeat(5000)));
        c.expect_then_closed(ERR_CONTROL_LINE);
        // CONNECT counts too.
        let mut c = s.raw();
        c.send_lossy(format!("CONNECT {{\"name\":\"{}\"}}\r\n", "n".repeat(4200)));
        c.expect_then_closed(ERR_CONTROL_LINE);
        // PUB control line with a long subject.
        let mut c = s.client();
        c.send_lossy(format!("PUB {} 1\r\nx\r\n", "p".repeat(4200)));
        c.expect_then_closed(ERR_CONTROL_LINE);
    });
}

#[test]
fn maximum_payload_default() {
    for_each_target(|s| {
        let mut c = s.client();
        // Only the control line is sent: the error must come before any payload.
        c.send(b"PUB foo 1048577\r\n");
        c.expect_then_closed(ERR_MAX_PAYLOAD);
        // Exactly max_payload is fine.
        let mut sub = s.client_with(NO_HEADERS);
        sub.send(b"SUB big 1\r\n");
        sub.ping();
        let payload = vec![b'z'; 1_048_576];
        let mut p = s.client();
        let mut frame = b"PUB big 1048576\r\n".to_vec();
        frame.extend_from_slice(&payload);
        frame.extend_from_slice(b"\r\n");
        p.send(&frame);
        sub.expect(msg("big", "1", None, &payload));
    });
}

#[test]
fn maximum_payload_from_config() {
    for_each_target_opts(&ServerOpts::new().config("max_payload: 1024\n"), |s| {
        let mut c = s.raw();
        assert_eq!(c.info["max_payload"], 1024, "INFO: {}", c.info);
        c.handshake(PLAIN);
        c.send(b"SUB foo 1\r\n");
        let mut frame = b"PUB foo 1024\r\n".to_vec();
        frame.extend(vec![b'k'; 1024]);
        frame.extend_from_slice(b"\r\n");
        c.send(&frame);
        c.expect(msg("foo", "1", None, &[b'k'; 1024]));
        c.send(b"PUB foo 1025\r\n");
        c.expect_then_closed(ERR_MAX_PAYLOAD);
        // For HPUB the total size counts.
        let mut c = s.client_with(PLAIN);
        c.send(b"HPUB foo 12 1025\r\n");
        c.expect_then_closed(ERR_MAX_PAYLOAD);
    });
}

// ---------------------------------------------------------------------------
// Errors that keep the connection open
// ---------------------------------------------------------------------------

#[test]
fn invalid_subject_keeps_connection_open() {
    for_each_target(|s| {
        let mut c = s.client();
        for subj in ["a..b", ".a", "a.", "a.>.b", ">.a", "."] {
            c.send(format!("SUB {subj} 1\r\n"));
            c.expect(ERR_INVALID_SUBJECT);
        }
        c.ping();
        // The sid is still free: a valid SUB with it works.
        c.send(b"SUB ok 1\r\nPUB ok 1\r\nx\r\n");
        c.expect(b"MSG ok 1 1\r\nx\r\n");
        // Verbose: the -ERR replaces the +OK.
        let mut v = s.raw();
        v.send(b"CONNECT {\"verbose\":true}\r\nSUB a..b 1\r\nSUB x 2\r\n");
        v.expect([&b"+OK\r\n"[..], ERR_INVALID_SUBJECT, b"+OK\r\n"].concat());
    });
}

#[test]
fn pedantic_invalid_publish_subject_still_delivers() {
    for_each_target(|s| {
        let mut c = s.client_with(r#"{"verbose":false,"pedantic":true}"#);
        c.send(b"SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\nPING\r\n");
        c.expect(
            [
                ERR_INVALID_PUB_SUBJECT,
                &msg("foo.*", "1", None, b"hi"),
                b"PONG\r\n",
            ]
            .concat(),
        );
        // `foo.>` as a literal PUB subject has the token `>`, which `foo.*` matches.
        c.send(b"PUB a..b 1\r\nx\r\nPUB foo.> 1\r\nx\r\n");
        c.expect(
            [
                ERR_INVALID_PUB_SUBJECT,
                ERR_INVALID_PUB_SUBJECT,
                &msg("foo.>", "1", None, b"x"),
            ]
            .concat(),
        );
        c.ping();
        // A valid subject in pedantic mode is fine.
        c.send(b"PUB foo.ok 1\r\ny\r\n");
        c.expect(b"MSG foo.ok 1 1\r\ny\r\n");
    });
}

#[test]
fn maximum_subscriptions() {
    for_each_target_opts(&ServerOpts::new().config("max_subscriptions: 2\n"), |s| {
        let mut c = s.client();
        c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n");
        c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n");
        c.ping();
        let mut p = s.client();
        p.send(b"PUB c 1\r\nx\r\nPUB a 1\r\ny\r\n");
        c.expect(b"MSG a 1 1\r\ny\r\n");
        c.expect_silence(100);
        // After an UNSUB there is room again.
        c.send(b"UNSUB 2\r\nSUB c 3\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        p.send(b"PUB c 1\r\nz\r\n");
        c.expect(b"MSG c 3 1\r\nz\r\n");
    });
}

/// Connects and completes a handshake, retrying while the server still
/// counts a just-closed connection (e.g. the harness's readiness probe).
fn connect_with_retry(s: &Server) -> RawConn {
    wait_for("a connection accepted", Duration::from_secs(10), || {
        let mut c = s.raw();
        c.send(format!("CONNECT {PLAIN}\r\nPING\r\n"));
        let (got, closed) = c.drain_until_quiet(150, Duration::from_secs(2));
        (got == b"PONG\r\n" && !closed).then_some(c)
    })
}

#[test]
fn maximum_connections() {
    for_each_target_opts(&ServerOpts::new().config("max_connections: 1\n"), |s| {
        let mut first = connect_with_retry(s);
        let mut second = s.raw(); // INFO comes first...
        second.expect_then_closed(b"-ERR 'maximum connections exceeded'\r\n");
        first.ping();
        drop(first);
        // Once the first leaves, a new connection is accepted again.
        let mut third = connect_with_retry(s);
        third.ping();
    });
}

// ---------------------------------------------------------------------------
// Timers: stale connection, auth timeout
// ---------------------------------------------------------------------------

#[test]
fn stale_connection() {
    let opts = ServerOpts::new().config("ping_interval: \"200ms\"\nping_max: 1\n");
    for_each_target_opts(&opts, |s| {
        // A client that never answers: PING, then the stale error and close.
        let mut silent = s.raw();
        silent.expect_within(b"PING\r\n", Duration::from_secs(3));
        silent.expect_within(b"-ERR 'Stale Connection'\r\n", Duration::from_secs(3));
        silent.expect_closed();

        // A client that answers every PING stays connected. (The server may
        // PING at any moment here, so lines are read one by one.)
        let mut live = s.raw();
        live.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        let end = std::time::Instant::now() + Duration::from_millis(1500);
        let (mut pings, mut pongs) = (0, 0);
        for _ in 0..200 {
            if std::time::Instant::now() >= end {
                break;
            }
            match live.read_line_within(Duration::from_millis(100)).as_deref() {
                Some(b"PING\r\n") => {
                    pings += 1;
                    live.send(b"PONG\r\n");
                }
                Some(b"PONG\r\n") => pongs += 1,
                Some(other) => panic!("unexpected line {}", show(other)),
                None => {}
            }
        }
        assert_eq!(pongs, 1, "expected one PONG for our PING");
        assert!(
            pings >= 2,
            "server pinged only {pings} times in 1.5 s with ping_interval 200ms"
        );
        // Still connected: our PING gets its PONG (answering server PINGs meanwhile).
        live.send(b"PING\r\n");
        let mut got_pong = false;
        for _ in 0..20 {
            match live.read_line_within(Duration::from_millis(500)).as_deref() {
                Some(b"PING\r\n") => live.send(b"PONG\r\n"),
                Some(b"PONG\r\n") => {
                    got_pong = true;
                    break;
                }
                Some(other) => panic!("unexpected line {}", show(other)),
                None => break,
            }
        }
        assert!(got_pong, "live client lost its connection");
    });
}

#[test]
fn authentication_timeout() {
    let opts = ServerOpts::new()
        .args(&["--user", "a", "--pass", "b"])
        .config("authorization {\n  timeout: 0.5\n}\n");
    for_each_target_opts(&opts, |s| {
        let mut c = s.raw();
        assert_eq!(c.info["auth_required"], true, "INFO: {}", c.info);
        c.expect_within(b"-ERR 'Authentication Timeout'\r\n", Duration::from_secs(3));
        c.expect_closed();
        // Authenticating in time works.
        let mut ok = s.raw();
        ok.handshake(r#"{"verbose":false,"user":"a","pass":"b"}"#);
        // Past the authentication timeout, nothing comes and the connection stays open.
        ok.expect_silence(800);
        ok.ping();
    });
}

#[test]
fn authorization_violation_user_pass() {
    for_each_target_opts(
        &ServerOpts::new().args(&["--user", "a", "--pass", "b"]),
        |s| {
            let mut c = s.raw();
            assert_eq!(c.info["auth_required"], true, "INFO: {}", c.info);
            c.send(b"CONNECT {\"user\":\"a\",\"pass\":\"wrong\"}\r\n");
            c.expect_then_closed(ERR_AUTH_VIOLATION);

            let mut c = s.raw();
            c.send(b"CONNECT {}\r\n");
            c.expect_then_closed(ERR_AUTH_VIOLATION);

            for early in [&b"PUB foo 1\r\nx\r\n"[..], b"SUB foo 1\r\n", b"PING\r\n"] {
                let mut c = s.raw();
                c.send_lossy(early);
                c.expect_then_closed(ERR_AUTH_VIOLATION);
            }

            let mut c = s.raw();
            c.send(b"CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":true}\r\n");
            c.expect(b"+OK\r\n");
            c.ping();
        },
    );
}

#[test]
fn authorization_violation_token() {
    for_each_target_opts(&ServerOpts::new().args(&["--auth", "s3cret"]), |s| {
        let mut c = s.raw();
        assert_eq!(c.info["auth_required"], true, "INFO: {}", c.info);
        c.send(b"CONNECT {\"auth_token\":\"nope\"}\r\n");
        c.expect_then_closed(ERR_AUTH_VIOLATION);
        let mut c = s.raw();
        c.handshake(r#"{"verbose":false,"auth_token":"s3cret"}"#);
    });
}

// ---------------------------------------------------------------------------
// Tolerated inputs
// ---------------------------------------------------------------------------

#[test]
fn lenient_parsing() {
    for_each_target(|s| {
        // Lower case ops, LF-only line ends.
        let mut c = s.raw();
        c.send(b"connect {\"verbose\":false}\nsub foo 1\npub foo 2\nhi\r\nping\n");
        c.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n");
        // Mixed case.
        c.send(b"PiNg\r\n");
        c.expect(b"PONG\r\n");
        // Tabs, repeated and trailing spaces.
        c.send(b"SUB\tbar\t2\r\nPUB\tbar\t2\r\nhi\r\nPUB  bar   2  \r\nho\r\n");
        c.expect(b"MSG bar 2 2\r\nhi\r\nMSG bar 2 2\r\nho\r\n");
        // Anything after PING up to the line end is ignored, even without a space.
        c.send(b"PING foo\r\n");
        c.expect(b"PONG\r\n");
        c.send(b"PINGX\r\n");
        c.expect(b"PONG\r\n");
        c.expect_silence(100);
    });
}

// ---------------------------------------------------------------------------
// Fragmentation
// ---------------------------------------------------------------------------

/// A multi-op verbose session and its exact reply. Subjects carry `tag` so
/// that sessions on successive connections cannot see each other (a closed
/// connection's queue subscription may linger briefly and win the pick).
fn session(tag: usize) -> (Vec<u8>, Vec<u8>) {
    let script = format!(
        "CONNECT {{\"verbose\":true,\"headers\":true}}\r\n\
SUB foo{tag:04} 1\r\n\
sub bar{tag:04}.* q 2\r\n\
PUB foo{tag:04} rep 5\r\nhello\r\n\
HPUB bar{tag:04}.x 12 17\r\nNATS/1.0\r\n\r\nhello\r\n\
PUB foo{tag:04} 0\r\n\r\n\
UNSUB 1\r\n\
PUB foo{tag:04} 2\r\nhi\r\n\
PING\r\n"
    );
    let reply = format!(
        "+OK\r\n+OK\r\n+OK\r\n\
+OK\r\nMSG foo{tag:04} 1 rep 5\r\nhello\r\n\
+OK\r\nHMSG bar{tag:04}.x 2 12 17\r\nNATS/1.0\r\n\r\nhello\r\n\
+OK\r\nMSG foo{tag:04} 1 0\r\n\r\n\
+OK\r\n\
+OK\r\n\
PONG\r\n"
    );
    (script.into_bytes(), reply.into_bytes())
}

#[test]
fn session_in_one_write() {
    for_each_target(|s| {
        let (script, reply) = session(0);
        let mut c = s.raw();
        c.send(&script);
        c.expect(&reply);
        c.expect_silence(100);
    });
}

#[test]
fn session_in_one_byte_writes() {
    for_each_target(|s| {
        let (script, reply) = session(0);
        let mut c = s.raw();
        c.send_chunked(&script, 1, Duration::from_millis(1));
        c.expect(&reply);
        c.expect_silence(100);
    });
}

#[test]
fn session_split_at_every_offset() {
    for_each_target(|s| {
        let len = session(0).0.len();
        for cut in 1..len {
            // Tags are fixed-width, so every script has the same length.
            let (script, want) = session(cut);
            let mut c = s.raw();
            c.send(&script[..cut]);
            thread::sleep(Duration::from_millis(2));
            c.send(&script[cut..]);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.expect(&want)))
                .unwrap_or_else(|e| {
                    panic!(
                        "split at byte {cut}: {}",
                        e.downcast_ref::<String>().cloned().unwrap_or_default()
                    )
                });
        }
    });
}

#[test]
fn random_payloads_and_write_chunking() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use std::sync::atomic::{AtomicUsize, Ordering};

    for_each_target(|s| {
        let mut sub = s.client();
        sub.send(b"SUB rp.> 1\r\n");
        sub.ping();
        let p = std::cell::RefCell::new(s.client());
        let n = AtomicUsize::new(0);
        let sub = std::cell::RefCell::new(sub);
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            proptest::collection::vec(any::<u8>(), 0..2000),
            1usize..300,
            any::<bool>(),
            "[ -~]{0,40}",
        );
        runner
            .run(&strategy, |(payload, chunk, with_header, hval)| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                let subject = format!("rp.{i}");
                let reply = format!("_r.{i}");
                let (frame, want) = if with_header {
                    let hdr = format!("NATS/1.0\r\nX-V: {hval}\r\n\r\n").into_bytes();
                    let mut f = format!(
                        "HPUB {subject} {reply} {} {}\r\n",
                        hdr.len(),
                        hdr.len() + payload.len()
                    )
                    .into_bytes();
                    f.extend_from_slice(&hdr);
                    f.extend_from_slice(&payload);
                    f.extend_from_slice(b"\r\n");
                    (f, hmsg(&subject, "1", Some(&reply), &hdr, &payload))
                } else {
                    let mut f = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
                    f.extend_from_slice(&payload);
                    f.extend_from_slice(b"\r\n");
                    (f, msg(&subject, "1", Some(&reply), &payload))
                };
                p.borrow_mut().send_chunked(&frame, chunk, Duration::ZERO);
                sub.borrow_mut().expect(&want);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    });
}
