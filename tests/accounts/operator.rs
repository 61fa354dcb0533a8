//! Operator mode (decentralised JWT authentication) against both servers: logins with user
//! JWTs and `.creds` files made here, the refusals of forged, expired, revoked and wrongly
//! signed users, signing keys and bearer tokens, the limits and permissions of the claims,
//! exports and imports declared in account JWTs, and the resolvers' `$SYS` requests.

#[path = "operator/kit.rs"]
mod kit;
#[path = "operator/live.rs"]
mod live;

use std::time::Duration;

use serde_json::json;

use crate::support::{for_each_target_bare, Server, ServerOpts, Target};
use kit::{expect_refused, login, sign, user_claims, World};

fn start(t: &Target, config: &str) -> Server {
    Server::start_opts(t, &ServerOpts::new().config(config))
}

#[test]
fn users_with_valid_jwts_log_in_and_exchange_messages() {
    let w = World::new();
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let mut raw = crate::support::RawConn::connect(server.addr(), "info");
        assert_eq!(raw.info["auth_required"], true, "[{t}]");
        assert!(
            raw.info["nonce"].as_str().is_some_and(|n| !n.is_empty()),
            "[{t}]"
        );
        raw.shutdown();

        let (u1, j1) = w.user_of_a(|_| {});
        let (u2, j2) = w.user_of_a(|_| {});
        let mut sub = login(&server, &j1, &u1);
        let mut publisher = login(&server, &j2, &u2);
        sub.send("SUB greet 1\r\n");
        sub.ping();
        publisher.send("PUB greet 2\r\nhi\r\n");
        publisher.ping();
        sub.expect(b"MSG greet 1 2\r\nhi\r\n");

        // Another account sees nothing of A's traffic.
        let ub = nkeys::KeyPair::new_user();
        let jb = sign(user_claims(&ub, "ub"), &w.b);
        let mut other = login(&server, &jb, &ub);
        other.send("SUB greet 1\r\n");
        other.ping();
        publisher.send("PUB greet 2\r\nhi\r\n");
        publisher.ping();
        sub.expect(b"MSG greet 1 2\r\nhi\r\n");
        other.expect_silence(100);
    });
}

#[test]
fn forged_expired_revoked_and_wrongly_signed_users_are_refused() {
    let revoked = nkeys::KeyPair::new_user();
    let revoked_pub = revoked.public_key();
    let w = World::with_accounts(
        |a| a["nats"]["revocations"] = json!({ revoked_pub.clone(): kit::now() + 60 }),
        |_| {},
    );
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        // Expired.
        let (u, j) = w.user_of_a(|c| c["exp"] = json!(kit::now() - 10));
        expect_refused(&server, &j, Some(&u));
        // Not yet valid.
        let (u, j) = w.user_of_a(|c| c["nbf"] = json!(kit::now() + 3600));
        expect_refused(&server, &j, Some(&u));
        // Signed by a key the account does not know.
        let stranger = nkeys::KeyPair::new_account();
        let u = nkeys::KeyPair::new_user();
        let j = sign(user_claims(&u, "x"), &stranger);
        expect_refused(&server, &j, Some(&u));
        // Claims to be issued for A by a key A does not list.
        let mut c = user_claims(&u, "x");
        c["nats"]["issuer_account"] = json!(w.a.public_key());
        expect_refused(&server, &sign(c, &stranger), Some(&u));
        // A forged payload under a valid signature.
        let (u, j) = w.user_of_a(|_| {});
        let (_, other) = w.user_of_a(|c| c["name"] = json!("admin"));
        let p: Vec<&str> = j.split('.').collect();
        let q: Vec<&str> = other.split('.').collect();
        expect_refused(&server, &format!("{}.{}.{}", p[0], q[1], p[2]), Some(&u));
        // The nonce signed by another key, and no signature at all.
        expect_refused(&server, &j, Some(&nkeys::KeyPair::new_user()));
        expect_refused(&server, &j, None);
        // Revoked (issued before the revocation time).
        let j = sign(user_claims(&revoked, "r"), &w.a);
        expect_refused(&server, &j, Some(&revoked));
        // Garbage, and no JWT.
        expect_refused(&server, "not.a.jwt", Some(&u));
        expect_refused(&server, "", Some(&u));

        // Everyone else carries on.
        let (u, j) = w.user_of_a(|_| {});
        let mut ok = login(&server, &j, &u);
        ok.ping();
    });
}

#[test]
fn bearer_tokens_skip_the_signature_unless_the_account_forbids_them() {
    let w = World::with_accounts(
        |_| {},
        |b| b["nats"]["limits"]["disallow_bearer"] = json!(true),
    );
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let (_, j) = w.user_of_a(|c| c["nats"]["bearer_token"] = json!(true));
        let mut c = crate::support::RawConn::connect(server.addr(), "bearer");
        kit::send_login(&mut c, &j, None);
        c.expect(b"PONG\r\n");

        let u = nkeys::KeyPair::new_user();
        let mut claims = user_claims(&u, "b");
        claims["nats"]["bearer_token"] = json!(true);
        expect_refused(&server, &sign(claims, &w.b), None);
    });
}

#[test]
fn signing_keys_issue_users_and_scoped_keys_impose_their_template() {
    let plain = nkeys::KeyPair::new_account();
    let scoped = nkeys::KeyPair::new_account();
    let (plain_pub, scoped_pub) = (plain.public_key(), scoped.public_key());
    let w = World::with_accounts(
        |a| {
            a["nats"]["signing_keys"] = json!([plain_pub, {
                "kind": "user_scope", "key": scoped_pub, "role": "limited",
                "template": {"pub": {"allow": ["allowed.>"]}, "sub": {},
                             "subs": -1, "data": -1, "payload": -1}
            }]);
        },
        |_| {},
    );
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let issued_by = |key: &nkeys::KeyPair, edit: &dyn Fn(&mut serde_json::Value)| {
            let u = nkeys::KeyPair::new_user();
            let mut c = user_claims(&u, "sk");
            c["nats"]["issuer_account"] = json!(w.a.public_key());
            edit(&mut c);
            (sign(c, key), u)
        };
        let (j, u) = issued_by(&plain, &|_| {});
        let mut c = login(&server, &j, &u);
        c.send("PUB anything 0\r\n\r\n");
        c.ping();

        // A scoped key's user carries no permissions or limits (as `nsc` writes it).
        let bare = |c: &mut serde_json::Value| {
            let nats = c["nats"].as_object_mut().unwrap();
            for k in ["pub", "sub", "subs", "data", "payload"] {
                nats.remove(k);
            }
        };
        let (j, u) = issued_by(&scoped, &bare);
        let mut c = login(&server, &j, &u);
        c.send("PUB allowed.x 0\r\n\r\nPUB other 0\r\n\r\n");
        c.expect(b"-ERR 'Permissions Violation for Publish to \"other\"'\r\n");
        c.ping();

        // A scoped key's user may not carry permissions of its own.
        let (j, u) = issued_by(&scoped, &|c| c["nats"]["pub"] = json!({"allow": [">"]}));
        expect_refused(&server, &j, Some(&u));
    });
}

#[test]
fn permissions_and_limits_of_the_claims_apply() {
    let w = World::with_accounts(
        |a| {
            a["nats"]["limits"]["conn"] = json!(2);
            a["nats"]["limits"]["payload"] = json!(8);
        },
        |_| {},
    );
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let (u, j) = w.user_of_a(|c| {
            c["nats"]["pub"] = json!({"deny": ["secret.>"]});
            c["nats"]["sub"] = json!({"allow": ["public.>"]});
        });
        let mut c = login(&server, &j, &u);
        c.send("PUB secret.x 0\r\n\r\n");
        c.expect(b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n");
        c.send("SUB private 1\r\n");
        c.expect(b"-ERR 'Permissions Violation for Subscription to \"private\"'\r\n");
        c.ping();

        // The second connection fills the account; a third is refused.
        let (u2, j2) = w.user_of_a(|_| {});
        let mut second = login(&server, &j2, &u2);
        let (u3, j3) = w.user_of_a(|_| {});
        let mut third = crate::support::RawConn::connect(server.addr(), "third");
        kit::send_login(&mut third, &j3, Some(&u3));
        third.expect_then_closed(b"-ERR 'maximum account active connections exceeded'\r\n");

        // The account's payload limit closes a publisher that passes it.
        second.send("PUB big 9\r\n123456789\r\n");
        second.expect_then_closed(b"-ERR 'Maximum Payload Violation'\r\n");
        c.ping();
    });
}

#[test]
fn creds_files_work_with_async_nats() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let (u, j) = w.user_of_a(|_| {});
    let path = dir.path().join("a.creds");
    std::fs::write(&path, kit::creds(&j, &u)).unwrap();
    let creds_text = kit::creds(&j, &u);
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let url = server.url();
        let path = path.clone();
        let creds_text = creds_text.clone();
        let server = &server;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use futures_util::StreamExt as _;
            let opts = async_nats::ConnectOptions::with_credentials_file(&path)
                .await
                .unwrap();
            let a = crate::support::connect_once(url.clone(), opts)
                .await
                .unwrap();
            let opts = async_nats::ConnectOptions::with_credentials(&creds_text).unwrap();
            let b = crate::support::connect_once(url.clone(), opts)
                .await
                .unwrap();
            let mut sub = a.subscribe("creds.test").await.unwrap();
            crate::support::clients::sync(&a).await;
            b.publish("creds.test", "hello".into()).await.unwrap();
            b.flush().await.unwrap();
            let msg = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
            let Ok(Some(msg)) = msg else {
                panic!("[{t}] no message: {msg:?}\n{}", server.log());
            };
            assert_eq!(&msg.payload[..], b"hello", "[{t}]");

            // Without credentials the server refuses.
            let refused =
                crate::support::connect_once(url, async_nats::ConnectOptions::new()).await;
            assert!(refused.is_err(), "[{t}] {refused:?}");
        });
    });
}

/// The `data` (or `error`) of a claims request's answer, read from the next `MSG`.
fn claims_answer(c: &mut crate::support::RawConn) -> serde_json::Value {
    let line = String::from_utf8(c.read_line()).unwrap();
    assert!(line.starts_with("MSG "), "{line}");
    let body = c.read_line();
    let v: serde_json::Value = serde_json::from_slice(&body[..body.len() - 2]).unwrap();
    assert!(v["server"]["id"].is_string(), "{v}");
    if v.get("data").is_some() {
        v["data"].clone()
    } else {
        json!({"error": v["error"]})
    }
}

/// The subject and payload of the next `MSG` or `HMSG` (headers skipped). nats-server
/// writes its own messages' `MSG` line with two spaces where the empty reply would be.
fn raw_msg(c: &mut crate::support::RawConn) -> (String, String) {
    let line = String::from_utf8(c.read_line()).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (hdr, total) = match fields[0] {
        "MSG" => (0, fields[fields.len() - 1].parse::<usize>().unwrap()),
        "HMSG" => (
            fields[fields.len() - 2].parse::<usize>().unwrap(),
            fields[fields.len() - 1].parse::<usize>().unwrap(),
        ),
        _ => panic!("expected a message, got {line:?}"),
    };
    let mut body = Vec::new();
    while body.len() < total + 2 {
        body.extend_from_slice(&c.read_line());
    }
    let payload = String::from_utf8(body[hdr..total].to_vec()).unwrap();
    (fields[1].to_string(), payload)
}

fn publish(c: &mut crate::support::RawConn, subject: &str, reply: &str, payload: &str) {
    c.send(format!(
        "PUB {subject} {reply} {}\r\n{payload}\r\n",
        payload.len()
    ));
}

#[test]
fn the_full_resolver_stores_looks_up_lists_and_applies_updates() {
    let w = World::new();
    let root = tempfile::tempdir().unwrap();
    for_each_target_bare(|t| {
        let dir = root.path().join(t.name());
        let server = start(t, &w.full_config(&dir));
        let a = w.a.public_key();
        // Preloaded JWTs are stored as nats-server stores them.
        let stored = std::fs::read_to_string(dir.join(format!("{a}.jwt"))).unwrap();
        assert_eq!(stored, w.a_jwt, "[{t}]");

        let mut sys = login(&server, &w.sys_user_jwt, &w.sys_user);
        sys.send("SUB _INBOX.r.> 1\r\n");
        sys.ping();
        publish(
            &mut sys,
            &format!("$SYS.REQ.ACCOUNT.{a}.CLAIMS.LOOKUP"),
            "_INBOX.r.1",
            "",
        );
        assert_eq!(
            raw_msg(&mut sys),
            ("_INBOX.r.1".to_string(), w.a_jwt.clone()),
            "[{t}]"
        );
        let nobody = nkeys::KeyPair::new_account().public_key();
        publish(
            &mut sys,
            &format!("$SYS.REQ.ACCOUNT.{nobody}.CLAIMS.LOOKUP"),
            "_INBOX.r.2",
            "",
        );
        assert_eq!(
            raw_msg(&mut sys),
            ("_INBOX.r.2".to_string(), String::new()),
            "[{t}]"
        );
        publish(&mut sys, "$SYS.REQ.CLAIMS.LIST", "_INBOX.r.3", "");
        let mut listed: Vec<String> = serde_json::from_value(claims_answer(&mut sys)).unwrap();
        listed.sort();
        let mut expected = vec![a.clone(), w.b.public_key(), w.sys.public_key()];
        expected.sort();
        assert_eq!(listed, expected, "[{t}]");

        // An update that revokes a connected user: stored, answered, and the user is cut off.
        let (u, j) = w.user_of_a(|_| {});
        let mut victim = login(&server, &j, &u);
        let mut claims = kit::account_claims(&w.a, "A");
        claims["nats"]["revocations"] = json!({ u.public_key(): kit::now() + 5 });
        let update = sign(claims, &w.op);
        publish(&mut sys, "$SYS.REQ.CLAIMS.UPDATE", "_INBOX.r.4", &update);
        assert_eq!(
            claims_answer(&mut sys),
            json!({"account": a, "code": 200, "message": "jwt updated"}),
            "[{t}]"
        );
        victim.expect_then_closed(b"-ERR 'User Authentication Revoked'\r\n");
        let stored = std::fs::read_to_string(dir.join(format!("{a}.jwt"))).unwrap();
        assert_eq!(stored, update, "[{t}]");
        expect_refused(&server, &j, Some(&u));

        // Bad updates are answered with nats-server's errors.
        publish(&mut sys, "$SYS.REQ.CLAIMS.UPDATE", "_INBOX.r.5", "xyz");
        assert_eq!(
            claims_answer(&mut sys),
            json!({"error": {"account": "n/a", "code": 500,
                   "description": "jwt update resulted in error - expected 3 chunks"}}),
            "[{t}]"
        );
        let b = w.b.public_key();
        publish(
            &mut sys,
            &format!("$SYS.REQ.ACCOUNT.{b}.CLAIMS.UPDATE"),
            "_INBOX.r.6",
            &update,
        );
        assert_eq!(
            claims_answer(&mut sys),
            json!({"error": {"account": b, "code": 500,
                   "description": "jwt update resulted in error - subject does not match jwt content"}}),
            "[{t}]"
        );
        // An update signed by an operator nobody trusts is stored (nats-server checks the
        // signer only when it applies it) but not applied: the user it revokes stays.
        let (u, j) = w.user_of_a(|_| {});
        let mut survivor = login(&server, &j, &u);
        let mut claims = kit::account_claims(&w.a, "A");
        claims["nats"]["revocations"] = json!({ u.public_key(): kit::now() + 5 });
        let forged = sign(claims, &nkeys::KeyPair::new_operator());
        publish(&mut sys, "$SYS.REQ.CLAIMS.UPDATE", "_INBOX.r.7", &forged);
        assert_eq!(
            claims_answer(&mut sys),
            json!({"account": a, "code": 200, "message": "jwt updated"}),
            "[{t}]"
        );
        survivor.ping();
        let (u, j) = w.user_of_a(|_| {});
        login(&server, &j, &u).ping();
    });
}

#[test]
fn a_memory_resolver_update_lowers_the_connection_limit() {
    let w = World::new();
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let a = w.a.public_key();
        let mut sys = login(&server, &w.sys_user_jwt, &w.sys_user);
        sys.send("SUB _INBOX.r.> 1\r\n");
        sys.ping();
        let (u1, j1) = w.user_of_a(|_| {});
        let mut first = login(&server, &j1, &u1);
        let (u2, j2) = w.user_of_a(|_| {});
        let mut second = login(&server, &j2, &u2);

        let mut claims = kit::account_claims(&w.a, "A");
        claims["nats"]["limits"]["conn"] = json!(1);
        let update = sign(claims, &w.op);
        publish(
            &mut sys,
            &format!("$SYS.REQ.ACCOUNT.{a}.CLAIMS.UPDATE"),
            "_INBOX.r.1",
            &update,
        );
        assert_eq!(
            claims_answer(&mut sys),
            json!({"account": a, "code": 200, "message": "jwt updated"}),
            "[{t}]"
        );
        second.expect_then_closed(b"-ERR 'maximum account active connections exceeded'\r\n");
        first.ping();

        // An account nobody used yet is not registered: the update is skipped.
        let b = w.b.public_key();
        let update_b = sign(kit::account_claims(&w.b, "B2"), &w.op);
        publish(
            &mut sys,
            &format!("$SYS.ACCOUNT.{b}.CLAIMS.UPDATE"),
            "_INBOX.r.2",
            &update_b,
        );
        assert_eq!(
            claims_answer(&mut sys),
            json!({"account": b, "code": 200, "message": "jwt update skipped"}),
            "[{t}]"
        );
    });
}

#[test]
fn exports_and_imports_of_account_jwts_cross_accounts() {
    let w = World::with_accounts(
        |a| {
            a["nats"]["exports"] = json!([
                {"name": "svc", "subject": "svc.>", "type": "service"},
                {"name": "ev", "subject": "ev.>", "type": "stream"},
                {"name": "private", "subject": "priv", "type": "service", "token_req": true}
            ]);
        },
        |_| {},
    );
    // B's imports name A, so B's JWT is made once A's key is known.
    let mut bc = kit::account_claims(&w.b, "B");
    bc["nats"]["imports"] = json!([
        {"name": "svc", "subject": "svc.>", "account": w.a.public_key(), "type": "service"},
        {"name": "ev", "subject": "ev.>", "account": w.a.public_key(), "to": "fromA", "type": "stream"},
        {"name": "p", "subject": "priv", "account": w.a.public_key(), "type": "service"}
    ]);
    let w = World {
        b_jwt: sign(bc, &w.op),
        ..w
    };
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let (ua, ja) = w.user_of_a(|_| {});
        let ub = nkeys::KeyPair::new_user();
        let jb = sign(user_claims(&ub, "ub"), &w.b);
        let mut b = login(&server, &jb, &ub);
        let mut a = login(&server, &ja, &ua);
        a.send("SUB svc.> 1\r\nSUB priv 2\r\n");
        a.ping();
        b.send("SUB fromA.ev.> 1\r\nSUB _INBOX.b.> 2\r\n");
        b.ping();

        a.send("PUB ev.one 2\r\nhi\r\n");
        a.ping();
        b.expect(b"MSG fromA.ev.one 1 2\r\nhi\r\n");

        b.send("PUB svc.echo _INBOX.b.1 4\r\nping\r\n");
        let line = String::from_utf8(a.read_line()).unwrap();
        assert!(line.starts_with("HMSG svc.echo 1 _R_."), "[{t}] {line}");
        let reply = line.split(' ').nth(3).unwrap().to_string();
        let hdr: usize = line.split(' ').nth(4).unwrap().parse().unwrap();
        let mut body = Vec::new();
        while body.len() < hdr + 4 + 2 {
            body.extend_from_slice(&a.read_line());
        }
        assert_eq!(&body[hdr..], b"ping\r\n", "[{t}]");
        a.send(format!("PUB {reply} 4\r\npong\r\n"));
        b.expect(b"MSG _INBOX.b.1 2 4\r\npong\r\n");

        // The export that needs an activation token is not imported: nobody answers.
        b.send("HPUB priv _INBOX.b.2 12 12\r\nNATS/1.0\r\n\r\n\r\n");
        b.ping();
        a.expect_silence(100);
    });
}

#[test]
fn a_user_whose_jwt_expires_is_disconnected() {
    let w = World::new();
    for_each_target_bare(|t| {
        let server = start(t, &w.memory_config());
        let (u, j) = w.user_of_a(|c| c["exp"] = json!(kit::now() + 2));
        let mut c = login(&server, &j, &u);
        c.expect_within(
            b"-ERR 'User Authentication Expired'\r\n",
            Duration::from_secs(5),
        );
        c.expect_closed();
    });
}

#[test]
fn monitoring_shows_the_operators_and_the_users_jwts() {
    let w = World::new();
    for_each_target_bare(|t| {
        let http = crate::support::free_port();
        let opts = ServerOpts::new()
            .config(&w.memory_config())
            .args(&["-m", &http.to_string()]);
        let server = Server::start_opts(t, &opts);
        let (u, j) = w.user_of_a(|c| c["nats"]["tags"] = json!(["blue"]));
        let mut c = login(&server, &j, &u);
        let (_, bearer) = w.user_of_a(|c| c["nats"]["bearer_token"] = json!(true));
        let mut b = crate::support::RawConn::connect(server.addr(), "bearer");
        kit::send_login(&mut b, &bearer, None);
        b.expect(b"PONG\r\n");
        c.ping();

        let varz = crate::system::http_json(http, "/varz");
        assert_eq!(varz["trusted_operators_jwt"], json!([w.op_jwt]), "[{t}]");
        let claim = &varz["trusted_operators_claim"][0];
        assert_eq!(claim["sub"], json!(w.op.public_key()), "[{t}] {claim}");
        assert_eq!(
            claim["nats"]["system_account"],
            json!(w.sys.public_key()),
            "[{t}]"
        );
        assert_eq!(varz["system_account"], json!(w.sys.public_key()), "[{t}]");
        assert_eq!(varz["auth_required"], json!(true), "[{t}]");

        let connz = crate::system::http_json(http, "/connz?auth=true");
        let conns = connz["connections"].as_array().unwrap();
        let find = |key: &str| {
            conns
                .iter()
                .find(|c| c["authorized_user"] == json!(key))
                .unwrap_or_else(|| panic!("[{t}] no connection of {key}: {connz}"))
        };
        let a = w.a.public_key();
        let user = find(&u.public_key());
        assert_eq!(user["account"], json!(a), "[{t}]");
        assert_eq!(user["name_tag"], json!("A"), "[{t}]");
        assert_eq!(user["jwt"], json!(j), "[{t}]");
        assert_eq!(user["issuer_key"], json!(a), "[{t}]");
        assert_eq!(user["tags"], json!(["blue"]), "[{t}]");
        let bearer_conn = conns
            .iter()
            .find(|c| c["authorized_user"] != json!(u.public_key()))
            .unwrap();
        assert!(bearer_conn.get("jwt").is_none(), "[{t}] {bearer_conn}");

        let accountz = crate::system::http_json(http, "/accountz");
        let accounts = accountz["accounts"].as_array().unwrap();
        assert!(accounts.contains(&json!(a)), "[{t}] {accountz}");
        assert!(
            accounts.contains(&json!(w.sys.public_key())),
            "[{t}] {accountz}"
        );
    });
}

#[test]
fn jetstream_limits_in_an_account_jwt_enable_jetstream_for_it() {
    let w = World::with_accounts(
        |a| {
            let limits = &mut a["nats"]["limits"];
            for (k, v) in [
                ("mem_storage", -1),
                ("disk_storage", -1),
                ("streams", -1),
                ("consumer", -1),
            ] {
                limits[k] = json!(v);
            }
        },
        |_| {},
    );
    let root = tempfile::tempdir().unwrap();
    for_each_target_bare(|t| {
        let store = root.path().join(t.name());
        let config = format!(
            "jetstream {{ store_dir: \"{}\" }}\n{}",
            store.display(),
            w.memory_config()
        );
        let server = start(t, &config);
        let (ua, ja) = w.user_of_a(|_| {});
        let mut a = login(&server, &ja, &ua);
        let ub = nkeys::KeyPair::new_user();
        let mut b = login(&server, &sign(user_claims(&ub, "ub"), &w.b), &ub);
        for c in [&mut a, &mut b] {
            c.send("SUB _INBOX.js.> 1\r\nPUB $JS.API.INFO _INBOX.js.1 0\r\n\r\n");
        }
        let (_, info) = raw_msg(&mut a);
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(
            info["type"],
            json!("io.nats.jetstream.api.v1.account_info_response"),
            "[{t}] {info}"
        );
        assert!(info.get("error").is_none(), "[{t}] {info}");
        let (_, info) = raw_msg(&mut b);
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["error"]["code"], json!(503), "[{t}] {info}");
        assert_eq!(info["error"]["err_code"], json!(10039), "[{t}] {info}");
    });
}
