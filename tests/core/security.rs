//! Authentication and authorization, byte for byte against each target (differential: the
//! same bytes from switchboard and nats-server), plus async-nats end-to-end checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use crate::support::clients::{round_trip, STEP};
use crate::support::{
    for_each_target_async, for_each_target_opts, msg, RawConn, Server, ServerOpts,
};
use async_nats::ConnectOptions;
use base64::Engine as _;
use futures_util::StreamExt;
use tokio::time::timeout;

const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

fn users_config() -> String {
    let bob = bcrypt::hash("bobpw", 4).unwrap();
    let tok = r#"{ publish: { allow: ["foo.*", "_INBOX.>"], deny: ["foo.secret"] }
        subscribe: { allow: ["foo.*", "bar v1", "baz", "_INBOX.>"], deny: ["foo.private", "baz bad"] } }"#;
    format!(
        "authorization {{\n users [\n  {{ user: alice, password: pa, permissions: {tok} }}\n  \
         {{ user: bob, password: \"{bob}\" }}\n  \
         {{ user: svc, password: sp, permissions: {{ subscribe: \"svc.>\", allow_responses: true }} }}\n  \
         {{ user: svc2, password: sp, permissions: {{ subscribe: \"svc.>\", allow_responses: {{ max: 2, expires: \"1m\" }} }} }}\n \
         ]\n}}\n"
    )
}

const ACCOUNTS: &str =
    "accounts {\n A { users [ {user: a1, password: p}, {user: a2, password: p} ] }\n \
                        B { users [ {user: b1, password: p} ] }\n}\n";

fn login(s: &Server, user: &str, pass: &str) -> RawConn {
    s.client_with(&format!(
        r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{pass}"}}"#
    ))
}

/// One raw exchange: what is sent after INFO, what comes back, and whether the server then
/// closes (else a PING must still be answered).
struct Case {
    name: &'static str,
    send: String,
    expect: Vec<u8>,
    closed: bool,
}

fn case(name: &'static str, send: &str, expect: &[u8], closed: bool) -> Case {
    Case {
        name,
        send: send.to_string(),
        expect: expect.to_vec(),
        closed,
    }
}

fn run_cases(s: &Server, cases: &[Case]) {
    for c in cases {
        let mut conn = RawConn::connect(s.addr(), &format!("{}/{}", s.target, c.name));
        conn.send(&c.send);
        if c.closed {
            conn.expect_then_closed(&c.expect);
        } else {
            conn.expect(&c.expect);
            conn.ping();
        }
    }
}

fn connect_line(user: &str, pass: &str, extra: &str) -> String {
    format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"{extra}}}\r\n")
}

#[test]
fn authentication_table() {
    let bob_hash = bcrypt::hash("bobpw", 4).unwrap();
    let cases = vec![
        case(
            "ok",
            &(connect_line("alice", "pa", "") + "PING\r\n"),
            b"PONG\r\n",
            false,
        ),
        case(
            "wrong password",
            &connect_line("alice", "x", ""),
            VIOLATION,
            true,
        ),
        case(
            "unknown user",
            &connect_line("mallory", "pa", ""),
            VIOLATION,
            true,
        ),
        case(
            "no credentials",
            "CONNECT {\"verbose\":false}\r\n",
            VIOLATION,
            true,
        ),
        case("op before CONNECT", "PING\r\n", VIOLATION, true),
        case("sub before CONNECT", "SUB foo 1\r\n", VIOLATION, true),
        case(
            "bcrypt",
            &(connect_line("bob", "bobpw", "") + "PING\r\n"),
            b"PONG\r\n",
            false,
        ),
        case(
            "bcrypt hash sent",
            &connect_line("bob", &bob_hash, ""),
            VIOLATION,
            true,
        ),
        case(
            "bcrypt wrong",
            &connect_line("bob", "bobpW", ""),
            VIOLATION,
            true,
        ),
        case(
            "account field",
            &connect_line("alice", "pa", ",\"account\":\"X\""),
            VIOLATION,
            true,
        ),
        case(
            "new_account field",
            &connect_line("alice", "pa", ",\"new_account\":true"),
            VIOLATION,
            true,
        ),
    ];
    for_each_target_opts(&ServerOpts::new().config(&users_config()), |s| {
        let c = s.raw();
        assert_eq!(c.info["auth_required"], true, "INFO: {}", c.info);
        assert!(
            c.info.get("nonce").is_none(),
            "no nkeys, no nonce: {}",
            c.info
        );
        run_cases(s, &cases);
    });
}

#[test]
fn bcrypt_token() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let config = format!("authorization {{ token: \"{hash}\" }}\n");
    let cases = vec![
        case(
            "right token",
            "CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n",
            b"PONG\r\n",
            false,
        ),
        case(
            "hash as token",
            &format!("CONNECT {{\"auth_token\":\"{hash}\"}}\r\n"),
            VIOLATION,
            true,
        ),
    ];
    for_each_target_opts(&ServerOpts::new().config(&config), |s| run_cases(s, &cases));
}

#[test]
fn permissions_table() {
    let alice = connect_line("alice", "pa", "");
    let alice_verbose =
        "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"alice\",\"pass\":\"pa\"}\r\n"
            .to_string();
    let cases = vec![
        case(
            "publish",
            &(alice.clone()
                + "PUB foo.x 0\r\n\r\nPUB foo.secret 0\r\n\r\nPUB bar 0\r\n\r\nPUB foo.x.y 0\r\n\r\n"),
            b"-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n\
              -ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
              -ERR 'Permissions Violation for Publish to \"foo.x.y\"'\r\n",
            false,
        ),
        case(
            "verbose: no +OK after a violation",
            &(alice_verbose + "PUB foo.secret 0\r\n\r\nPUB foo.x 0\r\n\r\nSUB nope 1\r\nSUB foo.y 2\r\n"),
            b"+OK\r\n-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n+OK\r\n\
              -ERR 'Permissions Violation for Subscription to \"nope\"'\r\n+OK\r\n",
            false,
        ),
        case(
            "subscribe",
            &(alice.clone()
                + "SUB foo.private 1\r\nSUB foo.ok 2\r\nSUB foo.> 3\r\nSUB bar 4\r\nSUB bar v1 5\r\n\
                   SUB bar v2 6\r\nSUB baz 7\r\nSUB baz good 8\r\nSUB baz bad 9\r\nSUB other 10\r\n\
                   SUB foo.x _sys_ 11\r\n"),
            b"-ERR 'Permissions Violation for Subscription to \"foo.private\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"bar\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"bar\" using queue \"v2\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"baz\" using queue \"bad\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"other\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"foo.x\" using queue \"_sys_\"'\r\n",
            false,
        ),
        case(
            "responses only",
            &(connect_line("svc", "sp", "") + "PUB anything 0\r\n\r\nPUB _INBOX.x 0\r\n\r\n"),
            b"-ERR 'Permissions Violation for Publish to \"anything\"'\r\n\
              -ERR 'Permissions Violation for Publish to \"_INBOX.x\"'\r\n",
            false,
        ),
        case(
            "quoting",
            &(alice + "PUB a\"b 0\r\n\r\n"),
            b"-ERR 'Permissions Violation for Publish to \"a\\\"b\"'\r\n",
            false,
        ),
    ];
    for_each_target_opts(&ServerOpts::new().config(&users_config()), |s| {
        run_cases(s, &cases)
    });
}

#[test]
fn reserved_subjects_without_permissions() {
    let cases = vec![case(
        "reserved",
        "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB _GR_.x 0\r\n\r\nPUB $NRG.x 0\r\n\r\n\
         PUB x _R_.y 0\r\n\r\nPUB x _R_. 0\r\n\r\nPUB x $JS.ACK.a 0\r\n\r\nPUB x _GR_.z 0\r\n\r\n\
         PUB _GR_. 0\r\n\r\nPUB x $JS.ACK. 0\r\n\r\n",
        b"-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n\
          -ERR 'Permissions Violation for Publish to \"$NRG.x\"'\r\n\
          -ERR 'Permissions Violation for Publish with Reply of \"_R_.y\"'\r\n\
          -ERR 'Permissions Violation for Publish with Reply of \"_R_.\"'\r\n\
          -ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.a\"'\r\n\
          -ERR 'Permissions Violation for Publish with Reply of \"_GR_.z\"'\r\n",
        false,
    )];
    for_each_target_opts(&ServerOpts::new(), |s| run_cases(s, &cases));
}

#[test]
fn subscribe_deny_is_enforced_at_delivery() {
    for_each_target_opts(&ServerOpts::new().config(&users_config()), |s| {
        let mut alice = login(s, "alice", "pa");
        alice.send("SUB foo.* 1\r\nPING\r\n");
        alice.expect("PONG\r\n");
        let mut bob = login(s, "bob", "bobpw");
        bob.send("PUB foo.private 1\r\nx\r\nPUB foo.ok 1\r\ny\r\nPING\r\n");
        bob.expect("PONG\r\n");
        alice.expect(msg("foo.ok", "1", None, b"y"));
        alice.ping();
    });
}

#[test]
fn allow_responses_lets_a_responder_reply_once() {
    for_each_target_opts(&ServerOpts::new().config(&users_config()), |s| {
        for (user, replies) in [("svc", 1), ("svc2", 2)] {
            let mut svc = login(s, user, "sp");
            svc.send("SUB svc.> 1\r\nPING\r\n");
            svc.expect("PONG\r\n");
            let mut bob = login(s, "bob", "bobpw");
            bob.send("SUB _INBOX.r1 9\r\nPUB svc.echo _INBOX.r1 2\r\nhi\r\nPING\r\n");
            bob.expect("PONG\r\n");
            svc.expect(msg("svc.echo", "1", Some("_INBOX.r1"), b"hi"));
            for _ in 0..replies {
                svc.send("PUB _INBOX.r1 2\r\nok\r\n");
            }
            svc.send("PUB _INBOX.r1 2\r\nno\r\n");
            svc.expect("-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n");
            svc.ping();
            for _ in 0..replies {
                bob.expect(msg("_INBOX.r1", "9", None, b"ok"));
            }
            bob.ping();
        }
    });
}

#[test]
fn messages_never_cross_accounts() {
    for_each_target_opts(&ServerOpts::new().config(ACCOUNTS), |s| {
        let mut a1 = login(s, "a1", "p");
        let mut b1 = login(s, "b1", "p");
        a1.send("SUB foo 1\r\nPING\r\n");
        a1.expect("PONG\r\n");
        b1.send("SUB foo 1\r\nPING\r\n");
        b1.expect("PONG\r\n");
        let mut a2 = login(s, "a2", "p");
        a2.send("PUB foo 2\r\nhi\r\nPING\r\n");
        a2.expect("PONG\r\n");
        // b1 hears only itself (echo), a1 only a2.
        b1.send("PUB foo 3\r\nbee\r\nPING\r\n");
        b1.expect(msg("foo", "1", None, b"bee"));
        b1.expect("PONG\r\n");
        a1.expect(msg("foo", "1", None, b"hi"));
        a1.ping();
    });
}

#[test]
fn no_auth_user_gets_its_account_without_credentials() {
    let config = format!("{ACCOUNTS}no_auth_user: a1\n");
    for_each_target_opts(&ServerOpts::new().config(&config), |s| {
        let mut anon = s.raw();
        assert!(
            anon.info.get("auth_required").is_none(),
            "no_auth_user: INFO must not ask for auth: {}",
            anon.info
        );
        // No CONNECT at all: the first op authenticates as a1 (defaults: verbose, pedantic).
        anon.send("SUB foo 1\r\nPING\r\n");
        anon.expect("+OK\r\nPONG\r\n");
        let mut a2 = login(s, "a2", "p");
        a2.send("PUB foo 2\r\nhi\r\n");
        a2.ping();
        anon.expect(msg("foo", "1", None, b"hi"));
        let mut b1 = login(s, "b1", "p");
        b1.send("PUB foo 2\r\nno\r\n");
        b1.ping();
        anon.ping();
        // An empty CONNECT is a1 too; wrong credentials still fail.
        let mut empty = s.client_with(r#"{"verbose":false}"#);
        empty.send("SUB foo 1\r\nPING\r\n");
        empty.expect("PONG\r\n");
        let mut bad = s.raw();
        bad.send(connect_line("a2", "wrong", ""));
        bad.expect_then_closed(VIOLATION);
    });
}

#[test]
fn nkey_raw_handshake() {
    let kp = nkeys::KeyPair::new_user();
    let config = format!(
        "authorization {{ users [ {{ nkey: {} }} ] }}\n",
        kp.public_key()
    );
    for_each_target_opts(&ServerOpts::new().config(&config), |s| {
        let sign = |c: &RawConn, engine: &base64::engine::GeneralPurpose| {
            let nonce = c.info["nonce"].as_str().expect("INFO carries a nonce");
            assert_eq!(nonce.len(), 15, "nonce {nonce:?}");
            assert!(nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            engine.encode(kp.sign(nonce.as_bytes()).unwrap())
        };
        for engine in [
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD,
        ] {
            let mut c = s.raw();
            let sig = sign(&c, engine);
            c.handshake(&format!(
                r#"{{"verbose":false,"nkey":"{}","sig":"{sig}"}}"#,
                kp.public_key()
            ));
        }
        let mut other = s.raw();
        let nonce_sig = sign(&other, &base64::engine::general_purpose::URL_SAFE_NO_PAD);
        let mut c = s.raw();
        // A signature over another connection's nonce.
        c.send(format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{nonce_sig}\"}}\r\n",
            kp.public_key()
        ));
        c.expect_then_closed(VIOLATION);
        other.send(format!("CONNECT {{\"nkey\":\"{}\"}}\r\n", kp.public_key()));
        other.expect_then_closed(VIOLATION);
        let stranger = nkeys::KeyPair::new_user();
        let mut c = s.raw();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            stranger
                .sign(c.info["nonce"].as_str().unwrap().as_bytes())
                .unwrap(),
        );
        c.send(format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\n",
            stranger.public_key()
        ));
        c.expect_then_closed(VIOLATION);
    });
}

// ---------------------------------------------------------------------------
// async-nats
// ---------------------------------------------------------------------------

async fn try_connect(url: String, opts: ConnectOptions) -> Result<async_nats::Client, String> {
    timeout(
        STEP,
        opts.connection_timeout(Duration::from_secs(3))
            .max_reconnects(0)
            .retry_on_initial_connect()
            .connect(url),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())
}

#[test]
fn async_nats_user_password_token_nkey() {
    let kp = nkeys::KeyPair::new_user();
    let seed = kp.seed().unwrap();
    let config = format!(
        "authorization {{ users [ {{ user: u, password: p }}, {{ nkey: {} }} ] }}\n",
        kp.public_key()
    );
    for_each_target_async(&ServerOpts::new().config(&config), STEP * 4, |s| {
        let seed = seed.clone();
        async move {
            let c = support::connect_once(
                s.url(),
                ConnectOptions::with_user_and_password("u".into(), "p".into()),
            )
            .await
            .unwrap();
            round_trip(&c, "up.test", b"x").await;
            let c = support::connect_once(s.url(), ConnectOptions::with_nkey(seed))
                .await
                .unwrap();
            round_trip(&c, "nkey.test", b"x").await;
            let bad = support::connect_once(
                s.url(),
                ConnectOptions::with_user_and_password("u".into(), "nope".into()),
            )
            .await;
            assert!(bad.is_err(), "wrong password must fail");
        }
    });
    for_each_target_async(
        &ServerOpts::new().args(&["--auth", "tok"]),
        STEP * 4,
        |s| async move {
            let c = support::connect_once(s.url(), ConnectOptions::with_token("tok".into()))
                .await
                .unwrap();
            round_trip(&c, "tok.test", b"x").await;
            assert!(
                support::connect_once(s.url(), ConnectOptions::with_token("x".into()))
                    .await
                    .is_err()
            );
        },
    );
}

#[test]
fn async_nats_violation_keeps_connection_and_responder_replies() {
    for_each_target_async(
        &ServerOpts::new().config(&users_config()),
        STEP * 4,
        |s| async move {
            let alice = try_connect(
                s.url(),
                ConnectOptions::with_user_and_password("alice".into(), "pa".into()),
            )
            .await
            .unwrap();
            alice.publish("foo.secret", "no".into()).await.unwrap();
            alice.publish("bar", "no".into()).await.unwrap();
            round_trip(&alice, "foo.still", b"x").await;
            assert_eq!(
                alice.connection_state(),
                async_nats::connection::State::Connected
            );

            let svc = try_connect(
                s.url(),
                ConnectOptions::with_user_and_password("svc".into(), "sp".into()),
            )
            .await
            .unwrap();
            let mut requests = svc.subscribe("svc.>").await.unwrap();
            svc.flush().await.unwrap();
            let responder = tokio::spawn(async move {
                while let Some(m) = requests.next().await {
                    if let Some(reply) = m.reply {
                        svc.publish(reply, m.payload).await.unwrap();
                        svc.flush().await.unwrap();
                    }
                }
            });
            let bob = try_connect(
                s.url(),
                ConnectOptions::with_user_and_password("bob".into(), "bobpw".into()),
            )
            .await
            .unwrap();
            let answer = timeout(STEP, bob.request("svc.echo", "ping".into()))
                .await
                .expect("request timed out")
                .expect("request failed");
            assert_eq!(&answer.payload[..], b"ping");
            responder.abort();
        },
    );
}
