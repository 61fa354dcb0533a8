//! Account JWT updates applied while clients stay connected, against both servers: stream
//! and service imports added and removed, an exporter withdrawing an export, an account
//! JWT expiring under its users, activation tokens (valid, expired, forged, expiring in
//! use), and scoped signing key templates expanded per user.

use std::time::Duration;

use nkeys::KeyPair;
use serde_json::{json, Value};

use super::kit::{self, expect_refused, login, sign, user_claims, World};
use super::{claims_answer, publish, start};
use crate::support::{for_each_target_bare, RawConn};

/// The next line that is not the server's own PING (answered, as a client would).
fn next_line(c: &mut RawConn, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = c
            .read_line_within(left)
            .unwrap_or_else(|| panic!("no line within {limit:?}"));
        if line == b"PING\r\n" {
            c.send("PONG\r\n");
            continue;
        }
        return String::from_utf8_lossy(&line).into_owned();
    }
}

/// Nothing but PINGs arrives before the answer to our own PING: every message routed to
/// this client before the call was written first.
fn expect_quiet(c: &mut RawConn) {
    c.send("PING\r\n");
    let line = next_line(c, Duration::from_secs(5));
    assert_eq!(line, "PONG\r\n", "expected nothing before PONG");
}

/// Expects `MSG <subject> <sid> <len>` and its payload, skipping the server's PINGs.
fn expect_msg(c: &mut RawConn, subject: &str, sid: &str, payload: &str, limit: Duration) {
    let line = next_line(c, limit);
    assert_eq!(
        line,
        format!("MSG {subject} {sid} {}\r\n", payload.len()),
        "expected a message"
    );
    assert_eq!(next_line(c, limit), format!("{payload}\r\n"));
}

/// The body (headers and payload, with the final CRLF) of the message whose `MSG` or
/// `HMSG` line was `line`.
fn skip_body(c: &mut RawConn, line: &str) -> String {
    let total: usize = line
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a message line: {line}"));
    let mut body = String::new();
    while body.len() < total + 2 {
        body.push_str(&next_line(c, Duration::from_secs(5)));
    }
    body
}

/// `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE` with `jwt`, answered `jwt updated`.
fn update(sys: &mut RawConn, key: &str, jwt: &str, n: u32) {
    publish(
        sys,
        &format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE"),
        &format!("_INBOX.u.{n}"),
        jwt,
    );
    assert_eq!(
        claims_answer(sys),
        json!({"account": key, "code": 200, "message": "jwt updated"})
    );
}

/// A system account client listening for the update answers.
fn sys_client(server: &crate::support::Server, w: &World) -> RawConn {
    let mut sys = login(server, &w.sys_user_jwt, &w.sys_user);
    sys.send("SUB _INBOX.u.> 1\r\n");
    sys.ping();
    sys
}

/// Account claims with `edit` applied, signed by the operator.
fn account_jwt(w: &World, key: &KeyPair, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut c = kit::account_claims(key, name);
    edit(&mut c);
    sign(c, &w.op)
}

/// An activation token of `exporter` letting `importer` import `subject` of `kind`.
fn activation(
    exporter: &KeyPair,
    importer: &KeyPair,
    subject: &str,
    kind: &str,
    exp: i64,
) -> String {
    let mut c = json!({
        "sub": importer.public_key(),
        "nats": {"subject": subject, "kind": kind, "type": "activation", "version": 2}
    });
    if exp != 0 {
        c["exp"] = json!(exp);
    }
    sign(c, exporter)
}

#[test]
fn updates_add_and_remove_stream_imports_for_connected_subscribers() {
    let w = World::with_accounts(
        |a| a["nats"]["exports"] = json!([{"subject": "ev.>", "type": "stream"}]),
        |_| {},
    );
    let a_key = w.a.public_key();
    let with_import = account_jwt(&w, &w.b, "B", |b| {
        b["nats"]["imports"] =
            json!([{"subject": "ev.>", "account": a_key, "type": "stream", "to": "fromA"}]);
    });
    let without = account_jwt(&w, &w.b, "B", |_| {});
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let mut sys = sys_client(&server, &w);
        let (ua, ja) = w.user_of_a(|_| {});
        let mut a = login(&server, &ja, &ua);
        let ub = KeyPair::new_user();
        let mut b = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);
        b.send("SUB fromA.ev.> 1\r\nSUB fromA.ev.one 2\r\n");
        b.ping();
        a.send("PUB ev.one 1\r\n0\r\n");
        a.ping();
        expect_quiet(&mut b);

        // The import arrives: both existing subscriptions receive, nobody reconnected.
        update(&mut sys, &w.b.public_key(), &with_import, 1);
        a.send("PUB ev.one 1\r\n1\r\n");
        a.ping();
        let mut got = [next_line(&mut b, Duration::from_secs(5)), String::new()];
        got[1] = next_line(&mut b, Duration::from_secs(5));
        let mut second = [next_line(&mut b, Duration::from_secs(5)), String::new()];
        second[1] = next_line(&mut b, Duration::from_secs(5));
        let mut both = vec![got.concat(), second.concat()];
        both.sort();
        assert_eq!(
            both,
            vec![
                "MSG fromA.ev.one 1 1\r\n1\r\n",
                "MSG fromA.ev.one 2 1\r\n1\r\n"
            ],
            "[{t}]"
        );
        expect_quiet(&mut b);
        // A subscription made after the update works too.
        b.send("SUB fromA.ev.two 3\r\n");
        b.ping();
        a.send("PUB ev.two 1\r\n2\r\n");
        a.ping();
        let mut lines: Vec<String> = (0..4)
            .map(|_| next_line(&mut b, Duration::from_secs(5)))
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|c| c.concat())
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "MSG fromA.ev.two 1 1\r\n2\r\n",
                "MSG fromA.ev.two 3 1\r\n2\r\n"
            ],
            "[{t}]"
        );

        // The import goes: nothing crosses any more; B's own traffic still flows.
        update(&mut sys, &w.b.public_key(), &without, 2);
        a.send("PUB ev.one 1\r\n3\r\nPUB ev.two 1\r\n4\r\n");
        a.ping();
        expect_quiet(&mut b);
        b.send("PUB fromA.ev.one 5\r\nlocal\r\n");
        expect_msg(&mut b, "fromA.ev.one", "1", "local", Duration::from_secs(5));
        expect_msg(&mut b, "fromA.ev.one", "2", "local", Duration::from_secs(5));
    });
}

#[test]
fn an_export_withdrawn_by_its_exporter_stops_the_service_import() {
    let exports = json!([{"subject": "svc.>", "type": "service"}]);
    let exports_again = exports.clone();
    let w = World::with_accounts(move |a| a["nats"]["exports"] = exports, |_| {});
    let a_key = w.a.public_key();
    let b_jwt = account_jwt(&w, &w.b, "B", |b| {
        b["nats"]["imports"] = json!([{"subject": "svc.>", "account": a_key, "type": "service"}]);
    });
    let w = World { b_jwt, ..w };
    let withdrawn = account_jwt(&w, &w.a, "A", |_| {});
    let restored = account_jwt(&w, &w.a, "A", |a| a["nats"]["exports"] = exports_again);
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let mut sys = sys_client(&server, &w);
        let (ua, ja) = w.user_of_a(|_| {});
        let mut a = login(&server, &ja, &ua);
        let ub = KeyPair::new_user();
        let mut b = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);
        a.send("SUB svc.> 1\r\n");
        a.ping();
        b.send("SUB _INBOX.b.> 1\r\n");
        b.ping();
        let request = |b: &mut RawConn, a: &mut RawConn, n: u32| {
            b.send(format!("PUB svc.echo _INBOX.b.{n} 2\r\nhi\r\n"));
            b.ping();
            let line = next_line(a, Duration::from_secs(5));
            assert!(line.starts_with("HMSG svc.echo 1 _R_."), "[{t}] {line}");
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(skip_body(a, &line).ends_with("hi\r\n"), "[{t}]");
            a.send(format!("PUB {} 2\r\nok\r\n", fields[3]));
            expect_msg(
                b,
                &format!("_INBOX.b.{n}"),
                "1",
                "ok",
                Duration::from_secs(5),
            );
        };
        request(&mut b, &mut a, 1);

        update(&mut sys, &w.a.public_key(), &withdrawn, 1);
        b.send("PUB svc.echo _INBOX.b.2 2\r\nhi\r\n");
        b.ping();
        expect_quiet(&mut a);
        expect_quiet(&mut b);

        // The export comes back: so does the import.
        update(&mut sys, &w.a.public_key(), &restored, 2);
        request(&mut b, &mut a, 3);
    });
}

#[test]
fn an_account_jwt_that_expires_disconnects_its_users() {
    for_each_target_bare(|t| {
        // Made for each target: the expiry counts from here.
        let w = World::with_accounts(|a| a["exp"] = json!(kit::now() + 3), |_| {});
        let server = start(t, &w.memory_config());
        let (u, j) = w.user_of_a(|_| {});
        let mut c = login(&server, &j, &u);
        let ub = KeyPair::new_user();
        let mut other = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);
        let line = next_line(&mut c, Duration::from_secs(8));
        assert_eq!(line, "-ERR 'Account Authentication Expired'\r\n", "[{t}]");
        c.expect_closed();
        // New logins are refused; other accounts carry on.
        let (u, j) = w.user_of_a(|_| {});
        expect_refused(&server, &j, Some(&u));
        expect_quiet(&mut other);
    });
}

#[test]
fn activation_tokens_open_private_exports_to_the_accounts_they_name() {
    for_each_target_bare(|t| {
        // Made for each target: the short token's expiry counts from here.
        let sk = KeyPair::new_account();
        let sk_pub = sk.public_key();
        let w0 = World::with_accounts(
            |a| {
                a["nats"]["signing_keys"] = json!([sk_pub]);
                a["nats"]["exports"] = json!([
                    {"subject": "priv.>", "type": "service", "token_req": true},
                    {"subject": "pev.>", "type": "stream", "token_req": true}
                ])
            },
            |_| {},
        );
        let a_key = w0.a.public_key();
        let now = kit::now();
        let valid = activation(&w0.a, &w0.b, "priv.ok", "service", 0);
        let expired = activation(&w0.a, &w0.b, "priv.old", "service", now - 10);
        let short = activation(&w0.a, &w0.b, "priv.short", "service", now + 4);
        let stream = activation(&w0.a, &w0.b, "pev.>", "stream", 0);
        // Issued by a signing key of the exporter, which names it in `issuer_account`.
        let by_key = {
            let mut c = json!({
                "sub": w0.b.public_key(),
                "nats": {"subject": "priv.sk", "kind": "service", "type": "activation",
                         "version": 2, "issuer_account": a_key}
            });
            c["exp"] = json!(now + 3600);
            sign(c, &sk)
        };
        let imports = json!([
            {"subject": "priv.ok", "account": a_key, "type": "service", "token": valid},
            {"subject": "priv.old", "account": a_key, "type": "service", "token": expired},
            {"subject": "priv.short", "account": a_key, "type": "service", "token": short},
            {"subject": "priv.none", "account": a_key, "type": "service"},
            {"subject": "priv.sk", "account": a_key, "type": "service", "token": by_key},
            {"subject": "pev.>", "account": a_key, "type": "stream", "token": stream}
        ]);
        let b_jwt = account_jwt(&w0, &w0.b, "B", |b| b["nats"]["imports"] = imports);
        let w = World { b_jwt, ..w0 };
        let server = start(t, &w.memory_config());
        let (ua, ja) = w.user_of_a(|_| {});
        let mut a = login(&server, &ja, &ua);
        let ub = KeyPair::new_user();
        let mut b = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);
        a.send("SUB priv.> 1\r\n");
        a.ping();
        b.send("SUB pev.> 1\r\n");
        b.ping();
        let reaches_a = |a: &mut RawConn, b: &mut RawConn, subject: &str| -> bool {
            b.send(format!("PUB {subject} 2\r\nhi\r\n"));
            expect_quiet(b);
            a.send("PING\r\n");
            let line = next_line(a, Duration::from_secs(5));
            if line == "PONG\r\n" {
                return false;
            }
            assert!(
                line.starts_with(&format!("HMSG {subject} 1 ")),
                "[{t}] {line}"
            );
            assert!(skip_body(a, &line).ends_with("hi\r\n"), "[{t}]");
            assert_eq!(next_line(a, Duration::from_secs(5)), "PONG\r\n");
            true
        };
        assert!(reaches_a(&mut a, &mut b, "priv.ok"), "[{t}] valid token");
        assert!(
            reaches_a(&mut a, &mut b, "priv.sk"),
            "[{t}] signing key's token"
        );
        assert!(reaches_a(&mut a, &mut b, "priv.short"), "[{t}] short token");
        assert!(
            !reaches_a(&mut a, &mut b, "priv.old"),
            "[{t}] expired token"
        );
        assert!(!reaches_a(&mut a, &mut b, "priv.none"), "[{t}] no token");
        a.send("PUB pev.x 1\r\n1\r\n");
        a.ping();
        expect_msg(&mut b, "pev.x", "1", "1", Duration::from_secs(5));

        // The short token expires: its import stops, the others stay.
        crate::support::wait_until(
            "the short activation to expire",
            Duration::from_secs(10),
            || kit::now() > now + 5,
        );
        assert!(
            !reaches_a(&mut a, &mut b, "priv.short"),
            "[{t}] expired in use"
        );
        assert!(
            reaches_a(&mut a, &mut b, "priv.ok"),
            "[{t}] valid token after"
        );

        // The exporter revokes B's activations of its service: the import stops.
        let b_key = w.b.public_key();
        let revoking = account_jwt(&w, &w.a, "A", |a| {
            a["nats"]["exports"] = json!([
                {"subject": "priv.>", "type": "service", "token_req": true,
                 "revocations": {b_key.clone(): kit::now() + 5}},
                {"subject": "pev.>", "type": "stream", "token_req": true}
            ])
        });
        let mut sys = sys_client(&server, &w);
        update(&mut sys, &w.a.public_key(), &revoking, 1);
        assert!(!reaches_a(&mut a, &mut b, "priv.ok"), "[{t}] revoked");
        a.send("PUB pev.y 1\r\n2\r\n");
        a.ping();
        expect_msg(&mut b, "pev.y", "1", "2", Duration::from_secs(5));
    });
}

#[test]
fn a_forged_activation_token_invalidates_the_importing_account() {
    // Signed by a stranger, or for another subject: nats-io/jwt's validation refuses the
    // importing account's JWT as a whole, so its users cannot log in.
    for forged in [true, false] {
        let w = World::with_accounts(
            |a| {
                a["nats"]["exports"] =
                    json!([{"subject": "priv", "type": "service", "token_req": true}])
            },
            |_| {},
        );
        let token = if forged {
            activation(&KeyPair::new_account(), &w.b, "priv", "service", 0)
        } else {
            activation(&w.a, &w.b, "other", "service", 0)
        };
        let a_key = w.a.public_key();
        let imports =
            json!([{"subject": "priv", "account": a_key, "type": "service", "token": token}]);
        let b_jwt = account_jwt(&w, &w.b, "B", |b| b["nats"]["imports"] = imports);
        let w = World { b_jwt, ..w };
        for_each_target_bare(|t| {
            let server = start(t, &w.memory_config());
            let ub = KeyPair::new_user();
            expect_refused(&server, &sign(user_claims(&ub, "ub"), &w.b), Some(&ub));
            let (ua, ja) = w.user_of_a(|_| {});
            login(&server, &ja, &ua).ping();
            assert!(!t.name().is_empty());
        });
    }
}

#[test]
fn scoped_signing_key_templates_expand_per_user() {
    let scoped = KeyPair::new_account();
    let scoped_pub = scoped.public_key();
    let w = World::with_accounts(
        |a| {
            a["nats"]["tags"] = json!(["tier:gold"]);
            a["nats"]["signing_keys"] = json!([{
                "kind": "user_scope", "key": scoped_pub, "role": "own",
                "template": {
                    "pub": {"allow": ["u.{{name()}}.>", "k.{{subject()}}", "t.{{tag(team)}}",
                                      "a.{{account-tag(tier)}}.{{account-name()}}"]},
                    "sub": {"allow": ["x.>", "_INBOX.>"], "deny": ["x.{{name()}}"]},
                    "subs": -1, "data": -1, "payload": -1
                }
            }]);
        },
        |_| {},
    );
    let user = |name: &str, tags: Value| {
        let u = KeyPair::new_user();
        let mut c = json!({"name": name, "sub": u.public_key(),
                           "nats": {"type": "user", "version": 2, "tags": tags,
                                    "issuer_account": w.a.public_key()}});
        if name.is_empty() {
            c.as_object_mut().unwrap().remove("name");
        }
        (u.clone(), sign(c, &scoped))
    };
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let (u, j) = user("alice", json!(["team:red"]));
        let mut c = login(&server, &j, &u);
        let key = u.public_key();
        c.send(format!(
            "PUB u.alice.x 0\r\n\r\nPUB k.{key} 0\r\n\r\nPUB t.red 0\r\n\r\nPUB a.gold.A 0\r\n\r\n"
        ));
        expect_quiet(&mut c);
        for denied in ["u.bob.x", "t.blue", "k.other", "a.gold.B"] {
            c.send(format!("PUB {denied} 0\r\n\r\n"));
            assert_eq!(
                next_line(&mut c, Duration::from_secs(5)),
                format!("-ERR 'Permissions Violation for Publish to \"{denied}\"'\r\n"),
                "[{t}]"
            );
        }
        c.send("SUB x.alice 1\r\n");
        assert_eq!(
            next_line(&mut c, Duration::from_secs(5)),
            "-ERR 'Permissions Violation for Subscription to \"x.alice\"'\r\n",
            "[{t}]"
        );
        c.send("SUB x.bob 2\r\n");
        expect_quiet(&mut c);

        // Without a name the deny entry cannot be written: the login is refused.
        let (u, j) = user("", json!(["team:red"]));
        expect_refused(&server, &j, Some(&u));
    });
}

#[test]
fn jetstream_follows_the_limits_of_account_jwt_updates() {
    let w = World::new();
    let js_limits = |streams: i64| {
        let mut c = kit::account_claims(&w.a, "A");
        for (k, v) in [
            ("mem_storage", -1),
            ("disk_storage", -1),
            ("streams", streams),
            ("consumer", -1),
        ] {
            c["nats"]["limits"][k] = json!(v);
        }
        sign(c, &w.op)
    };
    let (one, two) = (js_limits(1), js_limits(2));
    let off = account_jwt(&w, &w.a, "A", |_| {});
    let tiered = account_jwt(&w, &w.a, "A", |a| {
        a["nats"]["limits"]["tiered_limits"] = json!({"R1": {
            "mem_storage": -1, "disk_storage": -1, "streams": 3, "consumer": -1
        }});
    });
    let root = tempfile::tempdir().unwrap();
    for_each_target_bare(|t| {
        let store = root.path().join(t.name());
        let config = format!(
            "jetstream {{ store_dir: \"{}\" }}\n{}",
            store.display(),
            w.memory_config()
        );
        let server = start(t, &config);
        let mut sys = sys_client(&server, &w);
        let (ua, ja) = w.user_of_a(|_| {});
        let mut a = login(&server, &ja, &ua);
        a.send("SUB _INBOX.js.> 1\r\n");
        a.ping();
        let mut n = 0;
        let mut info = |a: &mut RawConn| -> Value {
            n += 1;
            a.send(format!("PUB $JS.API.INFO _INBOX.js.{n} 0\r\n\r\n"));
            let line = next_line(a, Duration::from_secs(5));
            let body = skip_body(a, &line);
            serde_json::from_str(body.trim_end()).unwrap()
        };
        let a_key = w.a.public_key();
        assert_eq!(info(&mut a)["error"]["err_code"], json!(10039), "[{t}]");

        update(&mut sys, &a_key, &one, 1);
        let i = info(&mut a);
        assert!(i.get("error").is_none(), "[{t}] {i}");
        assert_eq!(i["limits"]["max_streams"], json!(1), "[{t}] {i}");

        update(&mut sys, &a_key, &two, 2);
        let i = info(&mut a);
        assert_eq!(i["limits"]["max_streams"], json!(2), "[{t}] {i}");
        a.send(
            "PUB $JS.API.STREAM.CREATE.S _INBOX.js.s 31\r\n{\"name\":\"S\",\"subjects\":[\"s.>\"]}\r\n",
        );
        let line = next_line(&mut a, Duration::from_secs(5));
        let created = skip_body(&mut a, &line);
        assert!(
            created.contains("stream_create_response"),
            "[{t}] {created}"
        );
        assert!(!created.contains("\"error\""), "[{t}] {created}");
        assert_eq!(info(&mut a)["streams"], json!(1), "[{t}]");

        update(&mut sys, &a_key, &off, 3);
        assert_eq!(info(&mut a)["error"]["err_code"], json!(10039), "[{t}]");

        // Tiered limits: the R1 tier enables JetStream again.
        update(&mut sys, &a_key, &tiered, 4);
        let i = info(&mut a);
        assert!(i.get("error").is_none(), "[{t}] {i}");
        // The stream made before JetStream was disabled is back.
        assert_eq!(i["streams"], json!(1), "[{t}] {i}");
    });
}

#[test]
fn the_full_resolver_deletes_accounts_when_allowed() {
    let w = World::new();
    let root = tempfile::tempdir().unwrap();
    let request = |signer: &KeyPair, accounts: Value| {
        sign(
            json!({"sub": signer.public_key(), "nats": {"accounts": accounts}}),
            signer,
        )
    };
    let a_key = w.a.public_key();
    let delete_a = request(&w.op, json!([a_key]));
    let stranger = KeyPair::new_operator();
    let untrusted = request(&stranger, json!([a_key]));
    let system = request(&w.op, json!([w.sys.public_key()]));
    let malformed = request(&w.op, json!(["nope"]));
    for_each_target_bare(|t| {
        let dir = root.path().join(t.name());
        let config = w
            .full_config(&dir)
            .replace("allow_delete: false", "allow_delete: true");
        let server = start(t, &config);
        let mut sys = sys_client(&server, &w);
        let (u, j) = w.user_of_a(|_| {});
        let mut a = login(&server, &j, &u);
        let ub = KeyPair::new_user();
        let mut b = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);

        let refusals = [
            (
                &untrusted,
                format!("{} failed - not trusted", stranger.public_key()),
            ),
            (
                &system,
                format!(
                    "{} failed - not allowed to delete system account",
                    w.op.public_key()
                ),
            ),
            (
                &malformed,
                format!("{} failed - malformed request", w.op.public_key()),
            ),
        ];
        for (n, (req, why)) in refusals.iter().enumerate() {
            publish(
                &mut sys,
                "$SYS.REQ.CLAIMS.DELETE",
                &format!("_INBOX.u.d{n}"),
                req,
            );
            assert_eq!(
                claims_answer(&mut sys),
                json!({"error": {"code": 500,
                       "description": format!("delete accounts request by {why}")}}),
                "[{t}]"
            );
        }
        expect_quiet(&mut a);

        publish(
            &mut sys,
            "$SYS.REQ.CLAIMS.DELETE",
            "_INBOX.u.del",
            &delete_a,
        );
        assert_eq!(
            claims_answer(&mut sys),
            json!({"code": 200, "message": "deleted 1 accounts"}),
            "[{t}]"
        );
        let line = next_line(&mut a, Duration::from_secs(5));
        assert_eq!(line, "-ERR 'Account Authentication Expired'\r\n", "[{t}]");
        a.expect_closed();
        assert!(dir.join(format!("{a_key}.jwt.deleted")).exists(), "[{t}]");
        let (u, j) = w.user_of_a(|_| {});
        expect_refused(&server, &j, Some(&u));
        expect_quiet(&mut b);
    });
}
