//! Leaf nodes against the reference: each target is run as the leaf of a hub and as the
//! hub of a leaf, the other side being nats-server when `NATS_SERVER_BIN` is set (else
//! switchboard itself). Messages both ways (wildcards, headers, large payloads),
//! request/reply, queue groups across the link, interest appearing and disappearing in the
//! other side's `/leafz?subs=1`, authentication, a hub restart, loop detection, JetStream
//! behind the link, and raw bytes on the leaf port compared with nats-server's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use async_nats::{ConnectOptions, HeaderMap};
use futures_util::StreamExt;
use support::clients::{connect_url, next, round_trip, STEP};
use support::{for_each_target_bare, free_port, wait_until, RawConn, Server, ServerOpts, Target};
use tokio::time::timeout;

/// How long a link may take to come up (nats-server's reconnect is a second, plus jitter).
const LINK: Duration = Duration::from_secs(10);

#[path = "leafnodes/domains.rs"]
mod domains;
#[path = "leafnodes/hub_cluster.rs"]
mod hub_cluster;
#[path = "accounts/operator/kit.rs"]
#[allow(dead_code)]
mod kit;

/// nats-server, when `NATS_SERVER_BIN` names it (a cluster needs it: switchboard does not
/// cluster).
fn reference() -> Option<Target> {
    match std::env::var_os("NATS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Some(Target::Reference(p.into())),
        _ => {
            eprintln!("skipped: NATS_SERVER_BIN is not set (a nats-server hub is needed)");
            None
        }
    }
}

/// The other side of each link: nats-server when available.
fn peer() -> Target {
    match std::env::var_os("NATS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Target::Reference(p.into()),
        _ => Target::Switchboard,
    }
}

/// A hub and a leaf connected to it, each with a monitoring port.
struct Pair {
    hub: Server,
    leaf: Server,
    hub_http: u16,
    leaf_http: u16,
    /// The hub's leaf port.
    leaf_port: u16,
}

impl Pair {
    fn hub_url(&self) -> String {
        self.hub.url()
    }
    fn leaf_url(&self) -> String {
        self.leaf.url()
    }
}

fn start_hub(target: &Target, leaf_port: u16, http: u16, block: &str, top: &str) -> Server {
    let config = format!("{top}\nleafnodes {{\n  port: {leaf_port}\n  {block}\n}}\n");
    Server::start_opts(
        target,
        &ServerOpts::new()
            .config(&config)
            .args(&["-m", &http.to_string()]),
    )
}

fn start_leaf(target: &Target, url: &str, http: u16, remote: &str, top: &str) -> Server {
    let config = format!(
        "{top}\nleafnodes {{\n  reconnect: \"250ms\"\n  remotes [ {{ url: \"{url}\"\n {remote} }} ]\n}}\n"
    );
    Server::start_opts(
        target,
        &ServerOpts::new()
            .config(&config)
            .args(&["-m", &http.to_string()]),
    )
}

/// Starts `hub` and `leaf` (the leaf's remote extended with `remote`) and waits for the link.
fn pair(hub: &Target, leaf: &Target, hub_block: &str, remote: &str) -> Pair {
    pair_with(hub, leaf, hub_block, remote, "", "")
}

fn pair_with(
    hub: &Target,
    leaf: &Target,
    hub_block: &str,
    remote: &str,
    hub_top: &str,
    leaf_top: &str,
) -> Pair {
    let (leaf_port, hub_http, leaf_http) = (free_port(), free_port(), free_port());
    let hub = start_hub(hub, leaf_port, hub_http, hub_block, hub_top);
    let url = format!("nats-leaf://127.0.0.1:{leaf_port}");
    let leaf = start_leaf(leaf, &url, leaf_http, remote, leaf_top);
    let p = Pair {
        hub,
        leaf,
        hub_http,
        leaf_http,
        leaf_port,
    };
    wait_linked(&p);
    p
}

/// `GET path` on a monitoring port as JSON; `Null` while nothing answers there (a server
/// just started or restarted may open its monitoring port after its client port).
fn http_json(port: u16, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return serde_json::Value::Null;
    };
    s.set_read_timeout(Some(STEP)).unwrap();
    if write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return serde_json::Value::Null;
    }
    let mut out = Vec::new();
    if s.read_to_end(&mut out).is_err() {
        return serde_json::Value::Null;
    }
    let text = String::from_utf8_lossy(&out);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

fn leafnodes(http: u16) -> u64 {
    http_json(http, "/leafz")["leafnodes"].as_u64().unwrap_or(0)
}

fn wait_linked(p: &Pair) {
    let what = format!(
        "the link between {} (hub) and {} (leaf)",
        p.hub.target, p.leaf.target
    );
    wait_until(&what, LINK, || {
        leafnodes(p.hub_http) == 1 && leafnodes(p.leaf_http) == 1
    });
}

/// Whether a link of the server monitored on `http` carries interest in `subject`.
fn has_interest(http: u16, subject: &str) -> bool {
    let leafz = http_json(http, "/leafz?subs=1");
    leafz["leafs"].as_array().into_iter().flatten().any(|l| {
        l["subscriptions_list"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s == subject)
    })
}

/// Waits until the other side's interest in `subject` shows (or is gone) on `http`.
fn wait_interest(http: u16, subject: &str, present: bool) {
    let what = format!("interest in {subject:?} to be {present} on :{http}");
    tokio::task::block_in_place(|| {
        wait_until(&what, LINK, || has_interest(http, subject) == present);
    });
}

/// Runs `body` on a fresh runtime, bounded in time.
fn run<F: std::future::Future<Output = ()>>(body: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        timeout(Duration::from_secs(60), body)
            .await
            .expect("test body finished in time");
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

/// Each role of `target` against the peer: (hub, leaf).
fn roles(target: &Target) -> [(Target, Target); 2] {
    [(target.clone(), peer()), (peer(), target.clone())]
}

#[test]
fn messages_cross_both_ways_with_wildcards_and_headers() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let p = pair(&hub, &leaf, "", "");
            run(async {
                let on_hub = connect_url(&p.hub_url(), ConnectOptions::new()).await;
                let on_leaf = connect_url(&p.leaf_url(), ConnectOptions::new()).await;
                let mut leaf_sub = on_leaf.subscribe("down.*").await.unwrap();
                let mut hub_sub = on_hub.subscribe("up.>").await.unwrap();
                round_trip(&on_leaf, "x", b"").await;
                round_trip(&on_hub, "x", b"").await;
                wait_interest(p.hub_http, "down.*", true);
                wait_interest(p.leaf_http, "up.>", true);

                let mut headers = HeaderMap::new();
                headers.insert("X-Hop", "hub");
                on_hub
                    .publish_with_headers("down.one", headers, "from hub".into())
                    .await
                    .unwrap();
                on_hub.publish("down.two.deep", "no".into()).await.unwrap();
                on_hub.publish("down.two", "plain".into()).await.unwrap();
                let m = next(&mut leaf_sub).await;
                assert_eq!(
                    (m.subject.as_str(), &m.payload[..]),
                    ("down.one", &b"from hub"[..])
                );
                assert_eq!(m.headers.unwrap().get("X-Hop").unwrap().as_str(), "hub");
                let m = next(&mut leaf_sub).await;
                assert_eq!(
                    (m.subject.as_str(), &m.payload[..]),
                    ("down.two", &b"plain"[..])
                );
                assert!(m.headers.is_none());

                on_leaf.publish("up.a.b", "from leaf".into()).await.unwrap();
                let m = next(&mut hub_sub).await;
                assert_eq!(
                    (m.subject.as_str(), &m.payload[..]),
                    ("up.a.b", &b"from leaf"[..])
                );
                // Nothing comes back over the link: the leaf's own subscriber on the same
                // subject gets one copy.
                let mut echo = on_leaf.subscribe("up.>").await.unwrap();
                round_trip(&on_leaf, "x", b"").await;
                on_leaf.publish("up.once", "1".into()).await.unwrap();
                assert_eq!(next(&mut echo).await.subject.as_str(), "up.once");
                assert_eq!(next(&mut hub_sub).await.subject.as_str(), "up.once");
                support::clients::assert_no_message(&mut echo, 300).await;
            });
        }
    });
}

#[test]
fn requests_are_answered_across_the_link() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let p = pair(&hub, &leaf, "", "");
            run(async {
                let on_hub = connect_url(&p.hub_url(), ConnectOptions::new()).await;
                let on_leaf = connect_url(&p.leaf_url(), ConnectOptions::new()).await;
                for (server, client, http, subject) in [
                    (&on_hub, &on_leaf, p.leaf_http, "svc.hub"),
                    (&on_leaf, &on_hub, p.hub_http, "svc.leaf"),
                ] {
                    let mut requests = server.subscribe(subject).await.unwrap();
                    let responder = server.clone();
                    tokio::spawn(async move {
                        while let Some(m) = requests.next().await {
                            if let Some(reply) = m.reply {
                                let mut body = b"re: ".to_vec();
                                body.extend_from_slice(&m.payload);
                                let _ = responder.publish(reply, body.into()).await;
                            }
                        }
                    });
                    round_trip(server, "x", b"").await;
                    wait_interest(http, subject, true);
                    let answer = timeout(STEP, client.request(subject, "ping".into()))
                        .await
                        .expect("an answer in time")
                        .expect("an answer");
                    assert_eq!(&answer.payload[..], b"re: ping");
                }
            });
        }
    });
}

#[test]
fn queue_members_here_are_preferred_then_the_other_side_takes_over() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let p = pair(&hub, &leaf, "", "");
            run(async {
                let on_hub = connect_url(&p.hub_url(), ConnectOptions::new()).await;
                let on_leaf = connect_url(&p.leaf_url(), ConnectOptions::new()).await;
                let mut hub_member = on_hub.queue_subscribe("work", "q".into()).await.unwrap();
                let mut leaf_member = on_leaf.queue_subscribe("work", "q".into()).await.unwrap();
                round_trip(&on_hub, "x", b"").await;
                round_trip(&on_leaf, "x", b"").await;
                wait_interest(p.hub_http, "work", true);
                wait_interest(p.leaf_http, "work", true);
                // Each side's publishes stay with its own member.
                for i in 0..10 {
                    on_leaf
                        .publish("work", format!("l{i}").into())
                        .await
                        .unwrap();
                    on_hub
                        .publish("work", format!("h{i}").into())
                        .await
                        .unwrap();
                }
                for i in 0..10 {
                    assert_eq!(next(&mut leaf_member).await.payload, format!("l{i}"));
                    assert_eq!(next(&mut hub_member).await.payload, format!("h{i}"));
                }
                // The leaf's member leaves: its publishes go to the hub's.
                leaf_member.unsubscribe().await.unwrap();
                round_trip(&on_leaf, "x", b"").await;
                wait_interest(p.hub_http, "work", false);
                on_leaf.publish("work", "over".into()).await.unwrap();
                assert_eq!(&next(&mut hub_member).await.payload[..], b"over");
                // The hub's member leaves, a new one joins on the leaf: the hub's
                // publishes reach it.
                let mut leaf_member = on_leaf.queue_subscribe("work", "q".into()).await.unwrap();
                round_trip(&on_leaf, "x", b"").await;
                wait_interest(p.hub_http, "work", true);
                hub_member.unsubscribe().await.unwrap();
                round_trip(&on_hub, "x", b"").await;
                on_hub.publish("work", "back".into()).await.unwrap();
                assert_eq!(&next(&mut leaf_member).await.payload[..], b"back");
            });
        }
    });
}

#[test]
fn interest_appears_and_disappears_on_the_other_side() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let p = pair(&hub, &leaf, "", "");
            let mut on_leaf = p.leaf.client();
            let mut on_hub = p.hub.client();
            on_leaf.send("SUB a.* 1\r\nSUB a.* 2\r\nSUB b q 3\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            on_hub.send("SUB c.> 1\r\nPING\r\n");
            expect(&mut on_hub, "PONG\r\n");
            for (http, subject) in [(p.hub_http, "a.*"), (p.hub_http, "b"), (p.leaf_http, "c.>")] {
                wait_until(&format!("{subject} on :{http}"), LINK, || {
                    has_interest(http, subject)
                });
            }
            // One of two subscriptions on a.* leaves: the interest stays.
            on_leaf.send("UNSUB 1\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            std::thread::sleep(Duration::from_millis(200));
            assert!(has_interest(p.hub_http, "a.*"));
            on_leaf.send("UNSUB 2\r\nUNSUB 3\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            on_hub.send("UNSUB 1\r\nPING\r\n");
            expect(&mut on_hub, "PONG\r\n");
            for (http, subject) in [(p.hub_http, "a.*"), (p.hub_http, "b"), (p.leaf_http, "c.>")] {
                wait_until(&format!("{subject} gone from :{http}"), LINK, || {
                    !has_interest(http, subject)
                });
            }
            // A client that goes away takes its interest with it.
            let mut gone = p.leaf.client();
            gone.send("SUB d 1\r\nPING\r\n");
            expect(&mut gone, "PONG\r\n");
            wait_until("d on the hub", LINK, || has_interest(p.hub_http, "d"));
            gone.shutdown();
            wait_until("d gone from the hub", LINK, || {
                !has_interest(p.hub_http, "d")
            });
        }
    });
}

#[test]
fn large_payloads_cross_whole() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let p = pair(&hub, &leaf, "", "");
            run(async {
                let on_hub = connect_url(&p.hub_url(), ConnectOptions::new()).await;
                let on_leaf = connect_url(&p.leaf_url(), ConnectOptions::new()).await;
                let mut sub = on_leaf.subscribe("big").await.unwrap();
                round_trip(&on_leaf, "x", b"").await;
                wait_interest(p.hub_http, "big", true);
                for size in [64 * 1024, 1_000_000] {
                    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
                    on_hub.publish("big", body.clone().into()).await.unwrap();
                    let m = next(&mut sub).await;
                    assert_eq!(m.payload.len(), size);
                    assert!(m.payload[..] == body[..], "payload of {size} bytes changed");
                }
            });
        }
    });
}

#[test]
fn leaf_users_are_checked_and_bound_to_their_account() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let accounts = "accounts { A { users [ {user: a, password: a} ] } }";
            let block = "authorization { users [ {user: leaf, password: s3cret, account: A} ] }";
            let (leaf_port, hub_http, leaf_http) = (free_port(), free_port(), free_port());
            let hub_server = start_hub(&hub, leaf_port, hub_http, block, accounts);
            // A wrong password: no link.
            let bad = format!("nats-leaf://leaf:nope@127.0.0.1:{leaf_port}");
            let refused = start_leaf(&leaf, &bad, leaf_http, "", "");
            std::thread::sleep(Duration::from_millis(1200));
            assert_eq!(leafnodes(hub_http), 0);
            drop(refused);
            let good = format!("nats-leaf://leaf:s3cret@127.0.0.1:{leaf_port}");
            let leaf_server = start_leaf(&leaf, &good, free_port(), "", "");
            wait_until("the authenticated link", LINK, || leafnodes(hub_http) == 1);
            let leafz = http_json(hub_http, "/leafz");
            assert_eq!(leafz["leafs"][0]["account"], "A", "{leafz}");
            // The link carries account A's traffic only.
            let mut in_a = RawConn::connect(hub_server.addr(), "hub A");
            in_a.handshake(r#"{"verbose":false,"pedantic":false,"user":"a","pass":"a"}"#);
            in_a.send("SUB only.a 1\r\nPING\r\n");
            expect(&mut in_a, "PONG\r\n");
            let mut on_leaf = leaf_server.client();
            on_leaf.send("SUB only.a 1\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            wait_until("only.a on the hub", LINK, || {
                has_interest(hub_http, "only.a")
            });
            on_leaf.send("PUB only.a 2\r\nhi\r\nPING\r\n");
            expect(&mut on_leaf, "MSG only.a 1 2\r\nhi\r\nPONG\r\n");
            expect(&mut in_a, support::msg("only.a", "1", None, b"hi"));
        }
    });
}

#[test]
fn a_leaf_users_permissions_decide_what_crosses_in_each_sense() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let users = "authorization { users [\n\
                 {user: leaf, password: p, permissions: { publish: \"up.>\", subscribe: \"down.>\" }}\n\
                 {user: c, password: c}\n] }";
            let (leaf_port, hub_http, leaf_http) = (free_port(), free_port(), free_port());
            let hub_server = start_hub(&hub, leaf_port, hub_http, "", users);
            let url = format!("nats-leaf://leaf:p@127.0.0.1:{leaf_port}");
            let leaf_server = start_leaf(&leaf, &url, leaf_http, "", "");
            wait_until("the link", LINK, || {
                leafnodes(hub_http) == 1 && leafnodes(leaf_http) == 1
            });
            let mut on_hub = RawConn::connect(hub_server.addr(), "hub client");
            on_hub.handshake(r#"{"verbose":false,"pedantic":false,"user":"c","pass":"c"}"#);
            on_hub.send("SUB up.> 1\r\nSUB secret 2\r\nPING\r\n");
            expect(&mut on_hub, "PONG\r\n");
            let mut on_leaf = leaf_server.client();
            on_leaf.send("SUB down.x 1\r\nSUB other.y 2\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            // Interest the other side may act on crosses; the rest stays.
            wait_until("down.x on the hub", LINK, || {
                has_interest(hub_http, "down.x")
            });
            wait_until("up.> on the leaf", LINK, || has_interest(leaf_http, "up.>"));
            std::thread::sleep(Duration::from_millis(200));
            assert!(!has_interest(hub_http, "other.y"));
            assert!(!has_interest(leaf_http, "secret"));
            // Messages follow.
            on_leaf.send("PUB up.a 2\r\nok\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            expect(&mut on_hub, support::msg("up.a", "1", None, b"ok"));
            on_hub.send("PUB down.x 4\r\ndown\r\nPING\r\n");
            expect(&mut on_hub, "PONG\r\n");
            expect(&mut on_leaf, support::msg("down.x", "1", None, b"down"));
        }
    });
}

#[test]
fn nkey_authentication_signs_the_nonce() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let kp = nkeys::KeyPair::new_user();
            let block = format!("authorization {{ nkey: {} }}", kp.public_key());
            let remote = format!("nkey: \"{}\"", kp.seed().unwrap());
            let _p = pair(&hub, &leaf, &block, &remote);
        }
    });
}

/// A `.creds` file (a user JWT, and the nonce signed with its seed) links a leaf to a hub in
/// operator mode, bound to the user's account; a user the hub does not trust gets no link.
#[test]
fn a_creds_file_links_to_a_hub_in_operator_mode() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let world = kit::World::new();
            let dir = tempfile::tempdir().unwrap();
            // The user may publish up.> and subscribe to down.> (seen from the leaf).
            let (user, jwt) = world.user_of_a(|c| {
                c["nats"]["pub"] = serde_json::json!({ "allow": ["up.>"] });
                c["nats"]["sub"] = serde_json::json!({ "allow": ["down.>"] });
            });
            let creds = dir.path().join("leaf.creds");
            std::fs::write(&creds, kit::creds(&jwt, &user)).unwrap();
            let remote = format!("credentials: \"{}\"", creds.display());
            let p = pair_with(&hub, &leaf, "", &remote, &world.memory_config(), "");
            let leafz = http_json(p.hub_http, "/leafz");
            assert_eq!(
                leafz["leafs"][0]["account"],
                world.a.public_key(),
                "[hub={hub} leaf={leaf}] {leafz}"
            );
            // The JWT's permissions decide which of the leaf's interest the hub takes.
            let mut on_leaf = p.leaf.client();
            on_leaf.send("SUB down.x 1\r\nSUB other.y 2\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            wait_until("down.x on the hub", LINK, || {
                has_interest(p.hub_http, "down.x")
            });
            std::thread::sleep(Duration::from_millis(200));
            assert!(
                !has_interest(p.hub_http, "other.y"),
                "[hub={hub} leaf={leaf}] other.y is not the leaf's to subscribe to"
            );

            // A user signed by an account of another operator: refused, no link.
            let stranger = kit::World::new();
            let (user, jwt) = stranger.user_of_a(|_| {});
            let creds = dir.path().join("stranger.creds");
            std::fs::write(&creds, kit::creds(&jwt, &user)).unwrap();
            let (leaf_port, hub_http) = (free_port(), free_port());
            let _hub = start_hub(&hub, leaf_port, hub_http, "", &world.memory_config());
            let url = format!("nats-leaf://127.0.0.1:{leaf_port}");
            let remote = format!("credentials: \"{}\"", creds.display());
            let leaf_server = start_leaf(&leaf, &url, free_port(), &remote, "");
            wait_until("the hub refusing the stranger", LINK, || {
                leaf_server.log().contains("Authorization Violation")
            });
            assert_eq!(leafnodes(hub_http), 0, "[hub={hub} leaf={leaf}]");
        }
    });
}

#[test]
fn a_token_in_the_url_authenticates_as_a_client_would() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let (leaf_port, hub_http) = (free_port(), free_port());
            let top = "authorization { token: t0k3n }";
            let _hub = start_hub(&hub, leaf_port, hub_http, "", top);
            let url = format!("nats-leaf://t0k3n@127.0.0.1:{leaf_port}");
            let _leaf = start_leaf(&leaf, &url, free_port(), "", "");
            wait_until("the link with a token", LINK, || leafnodes(hub_http) == 1);
        }
    });
}

#[test]
fn links_run_over_tls_with_and_without_client_certificates() {
    for_each_target_bare(|target| {
        let pki = support::pki::pki();
        let path = |p: &std::path::Path| p.display().to_string();
        for verify in [false, true] {
            for (hub, leaf) in roles(target) {
                let block = format!(
                    "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: {verify} }}",
                    path(&pki.cert),
                    path(&pki.key),
                    path(&pki.ca)
                );
                let client_cert = if verify {
                    format!(
                        ", cert_file: {:?}, key_file: {:?}",
                        path(&pki.client_cert),
                        path(&pki.client_key)
                    )
                } else {
                    String::new()
                };
                let remote = format!("tls {{ ca_file: {:?}{client_cert} }}", path(&pki.ca));
                let p = pair(&hub, &leaf, &block, &remote);
                let mut on_leaf = p.leaf.client();
                on_leaf.send("SUB over.tls 1\r\nPING\r\n");
                expect(&mut on_leaf, "PONG\r\n");
                wait_until("interest over TLS", LINK, || {
                    has_interest(p.hub_http, "over.tls")
                });
                let mut on_hub = p.hub.client();
                on_hub.send("PUB over.tls 3\r\nenc\r\nPING\r\n");
                expect(&mut on_hub, "PONG\r\n");
                expect(&mut on_leaf, support::msg("over.tls", "1", None, b"enc"));
            }
            // Without the CA the hub's certificate is refused: no link.
            let (leaf_port, hub_http) = (free_port(), free_port());
            let block = format!(
                "tls {{ cert_file: {:?}, key_file: {:?} }}",
                path(&pki.cert),
                path(&pki.key)
            );
            let _hub = start_hub(&peer(), leaf_port, hub_http, &block, "");
            let url = format!("tls://127.0.0.1:{leaf_port}");
            let _leaf = start_leaf(target, &url, free_port(), "", "");
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(leafnodes(hub_http), 0);
        }
    });
}

#[test]
fn the_leaf_flag_joins_a_hub() {
    let (leaf_port, hub_http, http) = (free_port(), free_port(), free_port());
    let _hub = start_hub(&peer(), leaf_port, hub_http, "", "");
    let url = format!("nats-leaf://127.0.0.1:{leaf_port}");
    let _leaf = Server::start_opts(
        &Target::Switchboard,
        &ServerOpts::new().args(&["--leaf", &url, "-m", &http.to_string()]),
    );
    wait_until("the link made by --leaf", LINK, || {
        leafnodes(hub_http) == 1 && leafnodes(http) == 1
    });
}

#[test]
fn the_link_comes_back_after_a_hub_restart_and_interest_is_sent_again() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let (leaf_port, hub_http, leaf_http) = (free_port(), free_port(), free_port());
            let hub_port = free_port();
            let config = format!("leafnodes {{ port: {leaf_port} }}");
            let hub_opts = ServerOpts::new()
                .config(&config)
                .port(hub_port)
                .args(&["-m", &hub_http.to_string()]);
            let hub_server = Server::start_opts(&hub, &hub_opts);
            let url = format!("nats-leaf://127.0.0.1:{leaf_port}");
            let leaf_server = start_leaf(&leaf, &url, leaf_http, "", "");
            wait_until("the first link", LINK, || leafnodes(hub_http) == 1);
            let mut on_leaf = leaf_server.client();
            on_leaf.send("SUB after.restart 1\r\nPING\r\n");
            expect(&mut on_leaf, "PONG\r\n");
            wait_until("interest on the hub", LINK, || {
                has_interest(hub_http, "after.restart")
            });
            drop(hub_server);
            wait_until("the leaf to notice", LINK, || leafnodes(leaf_http) == 0);
            let hub_server = Server::start_opts(&hub, &hub_opts);
            wait_until("the link back", LINK, || leafnodes(hub_http) == 1);
            wait_until("interest sent again", LINK, || {
                has_interest(hub_http, "after.restart")
            });
            let mut on_hub = hub_server.client();
            on_hub.send("PUB after.restart 2\r\nok\r\nPING\r\n");
            expect(&mut on_hub, "PONG\r\n");
            expect(
                &mut on_leaf,
                support::msg("after.restart", "1", None, b"ok"),
            );
        }
    });
}

#[test]
fn a_loop_is_detected_and_broken() {
    for_each_target_bare(|target| {
        // Two servers, each a leaf of the other: the loop-detection subject comes back.
        let (a_leaf, b_leaf, a_http, b_http) = (free_port(), free_port(), free_port(), free_port());
        let config = |own: u16, other: u16| {
            format!(
                "leafnodes {{ port: {own}\n reconnect: \"250ms\"\n remotes [ {{ url: \"nats-leaf://127.0.0.1:{other}\" }} ] }}"
            )
        };
        let start = |t: &Target, own, other, http: u16| {
            Server::start_opts(
                t,
                &ServerOpts::new()
                    .config(&config(own, other))
                    .args(&["-m", &http.to_string()]),
            )
        };
        let a = start(target, a_leaf, b_leaf, a_http);
        let b = start(&peer(), b_leaf, a_leaf, b_http);
        wait_until("a loop error in a log", LINK, || {
            a.log().contains("Loop detected") || b.log().contains("Loop detected")
        });
        let log = format!("{}{}", a.log(), b.log());
        assert!(
            log.contains(
                "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s"
            ),
            "{log}"
        );
        // The delay keeps the loop open for a while: not both links come back.
        std::thread::sleep(Duration::from_secs(2));
        assert!(leafnodes(a_http) + leafnodes(b_http) < 4);
    });
}

#[test]
fn jetstream_on_both_sides_answers_its_own_clients_only() {
    for_each_target_bare(|target| {
        for (hub, leaf) in roles(target) {
            let dir_hub = tempfile::tempdir().unwrap();
            let dir_leaf = tempfile::tempdir().unwrap();
            let js = |dir: &tempfile::TempDir, domain: &str| {
                format!(
                    "jetstream {{ store_dir: {:?}, domain: {domain} }}",
                    dir.path().display().to_string()
                )
            };
            let p = pair_with(
                &hub,
                &leaf,
                "",
                "",
                &js(&dir_hub, "hub"),
                &js(&dir_leaf, "leaf"),
            );
            run(async {
                let on_hub = connect_url(&p.hub_url(), ConnectOptions::new()).await;
                let inbox = on_hub.new_inbox();
                let mut answers = on_hub.subscribe(inbox.clone()).await.unwrap();
                round_trip(&on_hub, "x", b"").await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                on_hub
                    .publish_with_reply("$JS.API.INFO", inbox, "".into())
                    .await
                    .unwrap();
                let info: serde_json::Value =
                    serde_json::from_slice(&next(&mut answers).await.payload).unwrap();
                assert_eq!(info["domain"], "hub", "{info}");
                support::clients::assert_no_message(&mut answers, 500).await;
            });
        }
    });
}

/// Expects `expected` next on `c`, answering and skipping the PINGs servers send on their
/// own (a leaf link is pinged within a second, a client within two).
fn expect(c: &mut RawConn, expected: impl AsRef<[u8]>) {
    let expected = expected.as_ref();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let line = c.read_line_within(STEP).unwrap_or_else(|| {
            panic!(
                "waiting for {:?}, have {:?}",
                support::show(expected),
                support::show(&got)
            )
        });
        if line == b"PING\r\n" && !expected[got.len()..].starts_with(b"PING\r\n") {
            c.send("PONG\r\n");
            continue;
        }
        got.extend_from_slice(&line);
    }
    assert_eq!(support::show(&got), support::show(expected));
}

// ---------------------------------------------------------------------------------------
// Raw bytes on the leaf port, compared with nats-server's.
// ---------------------------------------------------------------------------------------

/// A raw connection to `target`'s leaf port (a hub with `block`), its first INFO read.
fn raw_leaf(target: &Target, block: &str) -> (Server, RawConn, u16) {
    let (leaf_port, http) = (free_port(), free_port());
    let hub = start_hub(target, leaf_port, http, block, "");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], leaf_port));
    let c = RawConn::connect(addr, target.name());
    (hub, c, http)
}

const LEAF_CONNECT: &str = r#"CONNECT {"version":"2.15.1","server_id":"NTEST","name":"raw-leaf","headers":true,"compress_mode":"not supported","remote_account":"$G","protocol":1}"#;

#[test]
fn the_leaf_port_info_is_a_leaf_info() {
    for_each_target_bare(|target| {
        let (_hub, c, _) = raw_leaf(target, "");
        let info = c.info.clone();
        assert_eq!(info["auth_required"], true, "{info}");
        assert_eq!(info["headers"], true, "{info}");
        assert_eq!(info["info_on_connect"], true, "{info}");
        assert!(info["client_id"].as_u64().unwrap() > 0, "{info}");
        assert!(!info["nonce"].as_str().unwrap().is_empty(), "{info}");
        assert!(info["leafnode_urls"].as_array().is_some(), "{info}");
        assert!(info.get("connect_info").is_none(), "{info}");
    });
}

#[test]
fn connect_is_answered_with_the_bound_account_then_interest() {
    for_each_target_bare(|target| {
        let (hub, mut c, http) = raw_leaf(target, "");
        let mut client = hub.client();
        client.send("SUB seen.here 1\r\nPING\r\n");
        expect(&mut client, "PONG\r\n");
        c.send(format!("{LEAF_CONNECT}\r\n"));
        let answer = c.read_info().clone();
        assert_eq!(answer["connect_info"], true, "{answer}");
        assert_eq!(answer["remote_account"], "$G", "{answer}");
        // The hub's interest follows (its loop-detection subject among it).
        let (bytes, _) = c.drain_until_quiet(300, STEP);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.contains("LS+ seen.here\r\n"), "{text}");
        assert!(text.contains("LS+ $LDS."), "{text}");
        // Split reads: an LS+ and an LMSG a few bytes at a time.
        c.send_chunked(
            "LS+ from.raw\r\nLMSG seen.here 5\r\nhello\r\n",
            3,
            Duration::from_millis(5),
        );
        expect(&mut client, support::msg("seen.here", "1", None, b"hello"));
        wait_until("from.raw on the hub", LINK, || {
            has_interest(http, "from.raw")
        });
        client.send("PUB from.raw 2\r\nok\r\n");
        expect(&mut c, "LMSG from.raw 2\r\nok\r\n");
        // Queue interest with a weight, and a message for the group.
        client.send("SUB grouped g 2\r\nPING\r\n");
        expect(&mut client, "PONG\r\n");
        expect(&mut c, "LS+ grouped g 1\r\n");
        c.send("LMSG grouped | g 1\r\nq\r\n");
        expect(&mut client, support::msg("grouped", "2", None, b"q"));
    });
}

#[test]
fn bad_input_on_the_leaf_port_ends_as_nats_server_ends_it() {
    for_each_target_bare(|target| {
        for (before, input, answer) in [
            // Anything before CONNECT.
            ("", "PING\r\n", Some("-ERR 'Authorization Violation'\r\n")),
            // A client on the leaf port.
            (
                "",
                r#"CONNECT {"verbose":false,"lang":"go","version":"1.30"}"#,
                Some("-ERR 'attempted to connect to leaf node port'\r\n"),
            ),
            // Malformed interest and messages: closed without a word.
            (LEAF_CONNECT, "LS+ a b\r\n", None),
            (LEAF_CONNECT, "LMSG foo x\r\n", None),
            (LEAF_CONNECT, "LMSG foo ? q 1\r\nx\r\n", None),
            (LEAF_CONNECT, "HMSG foo 5 2\r\n", None),
            // Unknown operations.
            (
                LEAF_CONNECT,
                "MSG foo 1 1\r\nx\r\n",
                Some("-ERR 'Unknown Protocol Operation'\r\n"),
            ),
        ] {
            let (_hub, mut c, _) = raw_leaf(target, "");
            if !before.is_empty() {
                c.send(format!("{before}\r\n"));
                c.read_info();
                c.drain_until_quiet(200, STEP);
            }
            let line = if input.ends_with('\n') {
                input.to_string()
            } else {
                format!("{input}\r\n")
            };
            c.send(line);
            match answer {
                Some(text) => c.expect_then_closed(text),
                None => c.expect_closed(),
            }
        }
    });
}

/// A hand-made hub: accepts the leaf's connection, sends the INFO of a leaf port, reads
/// the CONNECT, answers it, and sends `then`.
fn fake_hub_session(listener: &std::net::TcpListener, then: &[u8]) -> std::net::TcpStream {
    use std::io::{BufRead, BufReader, Write};
    listener.set_nonblocking(false).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (mut s, _) = support::wait_for("the leaf to connect", LINK, || listener.accept().ok());
    s.set_read_timeout(Some(STEP)).unwrap();
    let info = format!(
        "INFO {{\"server_id\":\"NFAKE\",\"server_name\":\"fake\",\"version\":\"2.15.1\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"client_id\":7,\"nonce\":\"abcdef\",\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{port}\"]}} \r\n"
    );
    s.write_all(info.as_bytes()).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    while !line.starts_with("CONNECT ") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the leaf closed before CONNECT"
        );
    }
    assert!(!line.contains("\"lang\""), "{line}");
    s.write_all(b"INFO {\"server_id\":\"NFAKE\",\"connect_info\":true,\"remote_account\":\"$G\",\"client_id\":7} \r\n")
        .unwrap();
    s.write_all(then).unwrap();
    s
}

#[test]
fn bad_input_and_a_hub_gone_mid_message_end_the_link_not_the_leaf() {
    use std::io::Read;
    for_each_target_bare(|target| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "nats-leaf://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let leaf = start_leaf(target, &url, free_port(), "", "");
        let mut local = leaf.client();
        local.send("SUB foo 1\r\nPING\r\n");
        expect(&mut local, "PONG\r\n");
        // Malformed interest: the leaf closes the link without a word.
        let mut s = fake_hub_session(&listener, b"LS+ a b c d\r\n");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let text = String::from_utf8_lossy(&rest).into_owned();
        assert!(!text.contains("-ERR"), "{text}");
        // Half a message, then the hub goes away: nothing is delivered.
        let s = fake_hub_session(&listener, b"LMSG foo 10\r\nabc");
        drop(s);
        // The link comes back, and a whole message is delivered.
        let _s = fake_hub_session(&listener, b"LMSG foo 2\r\nok\r\n");
        expect(&mut local, support::msg("foo", "1", None, b"ok"));
        // Local clients carried on through it all.
        local.send("PUB foo 5\r\nlocal\r\nPING\r\n");
        expect(
            &mut local,
            [
                support::msg("foo", "1", None, b"local"),
                b"PONG\r\n".to_vec(),
            ]
            .concat(),
        );
    });
}

#[test]
fn a_hub_that_stops_answering_pings_is_dropped_as_stale() {
    use std::io::{BufRead, BufReader};
    for_each_target_bare(|target| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "nats-leaf://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let _leaf = start_leaf(
            target,
            &url,
            free_port(),
            "",
            "ping_interval: \"100ms\"\nping_max: 2",
        );
        let s = fake_hub_session(&listener, b"");
        let mut reader = BufReader::new(s);
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.starts_with("LS+ ") => {}
                Ok(_) => seen.push(line),
            }
        }
        assert_eq!(
            seen,
            ["PING\r\n", "PING\r\n", "-ERR 'Stale Connection'\r\n"],
            "what the leaf sent a hub that never answers"
        );
    });
}

#[test]
fn a_leaf_pointed_at_a_client_port_does_not_link() {
    for_each_target_bare(|target| {
        let client_port = free_port();
        let hub = Server::start_opts(&peer(), &ServerOpts::new().port(client_port));
        let url = format!("nats-leaf://127.0.0.1:{client_port}");
        let http = free_port();
        let leaf = start_leaf(target, &url, http, "", "");
        wait_until("the wrong-port error", LINK, || {
            leaf.log().contains("attempted to connect to wrong port")
        });
        assert_eq!(leafnodes(http), 0);
        drop(hub);
    });
}

#[test]
fn varz_shows_the_leaf_section() {
    for_each_target_bare(|target| {
        let p = pair(
            target,
            &peer(),
            "authorization { timeout: 3 }",
            "deny_imports: [\"x\"]\n deny_exports: \"y\"",
        );
        let hub = http_json(p.hub_http, "/varz");
        assert_eq!(hub["leafnodes"], 1, "{hub}");
        assert_eq!(hub["leaf"]["port"], p.leaf_port, "{}", hub["leaf"]);
        assert_eq!(hub["leaf"]["auth_timeout"], 3, "{}", hub["leaf"]);
        assert_eq!(hub["leaf"]["tls_timeout"], 2, "{}", hub["leaf"]);
        // The leaf side, with this target as the leaf.
        let p = pair(
            &peer(),
            target,
            "",
            "deny_imports: [\"x\"]\n deny_exports: \"y\"",
        );
        let leaf = http_json(p.leaf_http, "/varz");
        assert_eq!(leaf["leafnodes"], 1, "{leaf}");
        let remote = &leaf["leaf"]["remotes"][0];
        assert_eq!(remote["local_account"], "$G", "{remote}");
        assert_eq!(
            remote["urls"],
            serde_json::json!([format!("127.0.0.1:{}", p.leaf_port)]),
            "{remote}"
        );
        assert_eq!(
            remote["deny"]["imports"],
            serde_json::json!(["x"]),
            "{remote}"
        );
        assert_eq!(
            remote["deny"]["exports"],
            serde_json::json!(["y"]),
            "{remote}"
        );
        assert!(leaf["leaf"].get("port").is_none(), "{}", leaf["leaf"]);
    });
}
