//! The system account (issue 20): `$SYS` events and request services, answered like
//! nats-server 2.15.1.
//!
//! Every test runs against each selected target with a `SYS` system account and an `A`
//! account. What the system account's client receives is written down as a transcript:
//! each message's subject and its JSON, normalised (numbers and strings replaced by markers,
//! except the fields whose values both servers must agree on, such as `type`, `reason`,
//! `acc`, `user`, `code`; keys sorted), so that the ids, times and counters of two servers
//! compare. The transcript must equal the golden file `tests/system_account/<test>.golden`,
//! recorded from nats-server 2.15.1: each target is checked on its own, and against the
//! other. To record them again: `SWITCHBOARD_BLESS=1 SWITCHBOARD_TEST_TARGETS=reference
//! cargo test --test accounts system::`, then review the diff.
//!
//! Left out of the comparison, because switchboard deliberately differs: the Go-only
//! fields (`feature_flags`, `git_commit`, `gomaxprocs`), the description of a 400 (Go's JSON
//! decoder words its errors its own way), the system account's own subscriptions (nats-server
//! has 57 internal ones) and the imports nats-server gives each account (not built yet).

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::clients::{connect_once, connect_url, sync, STEP};
use crate::support::{
    for_each_target_async, for_each_target_bare, free_port, Server, ServerInfo, ServerOpts,
};
use async_nats::{Client, ConnectOptions, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::timeout;

const CONFIG: &str = "accounts {\n  SYS { users [\n    {user: sys, password: pass}\n    \
                      {user: ops, password: ops, permissions: {publish: \"$SYS.>\", \
                      subscribe: {allow: \"_INBOX.>\", deny: \"_INBOX.secret\"}}}\n  ] }\n  \
                      A { users [ {user: a, password: a} ] }\n}\nsystem_account: SYS\n";

/// How long a test waits for more answers after the first (a PING answered twice, an
/// event that must not come).
const QUIET: Duration = Duration::from_millis(100);
/// The longest a whole test may take on one target.
const LIMIT: Duration = Duration::from_secs(30);

/// Fields whose values two servers must agree on; every other string or number is
/// replaced by a marker.
const KEPT: &[&str] = &[
    "type",
    "reason",
    "kind",
    "client_type",
    "acc",
    "account",
    "account_name",
    "user",
    "authorized_user",
    "name_tag",
    "status",
    "status_code",
    "code",
    "ver",
    "system_account",
    "lang",
    "disabled",
    "description",
    "allow",
    "deny",
];
/// Fields only nats-server has (Go's runtime and build, clustered JetStream's switches).
const GO_ONLY: &[&str] = &["feature_flags", "git_commit", "gomaxprocs"];

fn norm(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !GO_ONLY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), norm(v, k)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| norm(i, key)).collect()),
        Value::String(_) | Value::Number(_) if KEPT.contains(&key) => v.clone(),
        Value::String(_) => Value::String("<s>".into()),
        Value::Number(_) => Value::String("<n>".into()),
        other => other.clone(),
    }
}

/// A message's JSON, normalised; `drop` removes fields (by name, at any depth) that the two
/// servers fill differently on purpose.
fn shape(payload: &[u8], drop: &[&str]) -> String {
    let Ok(mut v) = serde_json::from_slice::<Value>(payload) else {
        return format!("(not JSON) {}", String::from_utf8_lossy(payload));
    };
    strip(&mut v, drop);
    // nats-server lists accounts in its map's order.
    let statz = v.get_mut("data").and_then(|d| d.get_mut("account_statz"));
    if let Some(list) = statz.and_then(Value::as_array_mut) {
        list.sort_by(|a, b| a["acc"].as_str().cmp(&b["acc"].as_str()));
    }
    // A 400's description is Go's JSON decoder's wording.
    if v["error"]["code"] == 400 {
        if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("description");
        }
    }
    norm(&v, "").to_string()
}

fn strip(v: &mut Value, drop: &[&str]) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !drop.contains(&k.as_str()));
            map.values_mut().for_each(|v| strip(v, drop));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, drop)),
        _ => {}
    }
}

/// What the system account's client saw, one line per request or message.
struct Transcript {
    lines: Vec<String>,
}

impl Transcript {
    fn new() -> Self {
        Transcript { lines: Vec::new() }
    }

    fn note(&mut self, text: &str) {
        self.lines.push(format!("# {text}"));
    }

    fn message(&mut self, subject: &str, payload: &[u8], drop: &[&str]) {
        self.lines
            .push(format!("< {subject} {}", shape(payload, drop)));
    }

    /// Sends a request and writes down every answer that comes within [`QUIET`] of the
    /// last (so a server answering twice shows); `label` is what the transcript shows of
    /// the request (its subject and payload, without what differs between servers).
    async fn ask(&mut self, c: &Client, subject: &str, label: &str, body: &str, drop: &[&str]) {
        self.lines.push(format!("> {label}"));
        let inbox = c.new_inbox();
        let mut sub = c.subscribe(inbox.clone()).await.unwrap();
        c.publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
            .await
            .unwrap();
        let mut answers = 0;
        let mut wait = STEP;
        while let Ok(Some(m)) = timeout(wait, sub.next()).await {
            self.lines.push(format!("< {}", shape(&m.payload, drop)));
            answers += 1;
            wait = QUIET;
        }
        if answers == 0 {
            self.lines.push("< (no answer)".into());
        }
    }

    /// Expects a request that nobody answers at all (not even an error).
    async fn ask_silent(&mut self, c: &Client, subject: &str, label: &str, body: &str) {
        self.lines.push(format!("> {label}"));
        let inbox = c.new_inbox();
        let mut sub = c.subscribe(inbox.clone()).await.unwrap();
        c.publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
            .await
            .unwrap();
        sync(c).await;
        match timeout(QUIET * 2, sub.next()).await {
            Ok(Some(m)) => self.lines.push(format!("< {}", shape(&m.payload, &[]))),
            _ => self.lines.push("< (no answer)".into()),
        }
    }

    fn finish(self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/system_account")
        .join(format!("{name}.golden"))
}

/// Compares a transcript with its golden file (see the module docs for blessing).
fn check_golden(s: &ServerInfo, name: &str, got: &str) {
    let path = golden_path(name);
    if s.target.is_reference() && std::env::var_os("SWITCHBOARD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the golden file {}: {e}", path.display()));
    if expected == got {
        return;
    }
    let mut report = String::new();
    for (n, (e, a)) in expected.lines().zip(got.lines()).enumerate() {
        if e != a {
            report.push_str(&format!(
                "\nline {}\n  expected: {e}\n       got: {a}",
                n + 1
            ));
        }
    }
    panic!(
        "the transcript differs from {} ({} lines expected, {} got):{report}\n--- got ---\n{got}",
        path.display(),
        expected.lines().count(),
        got.lines().count()
    );
}

async fn login(s: &ServerInfo, user: &str, pass: &str, name: &str) -> Client {
    connect_url(
        &s.url(),
        ConnectOptions::with_user_and_password(user.into(), pass.into()).name(name),
    )
    .await
}

/// The server's id, from `IDZ`.
async fn server_id(sys: &Client) -> String {
    let m = timeout(STEP, sys.request("$SYS.REQ.SERVER.PING.IDZ", Bytes::new()))
        .await
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_slice(&m.payload).unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// The messages of `sub` that `keep` accepts, until `n` arrived (each within [`STEP`]),
/// then any more that come within [`QUIET`] (so an extra event shows).
async fn collect_where(
    sub: &mut Subscriber,
    n: usize,
    keep: impl Fn(&async_nats::Message) -> bool,
) -> Vec<async_nats::Message> {
    let mut got = Vec::new();
    loop {
        let wait = if got.len() < n { STEP } else { QUIET };
        match timeout(wait, sub.next()).await {
            Ok(Some(m)) if keep(&m) => got.push(m),
            Ok(Some(_)) => {}
            _ => return got,
        }
    }
}

async fn collect(sub: &mut Subscriber, n: usize) -> Vec<async_nats::Message> {
    collect_where(sub, n, |_| true).await
}

/// Waits until the server counts `n` connections: the harness's probe of the client port
/// (a connection that closes without CONNECT) must be gone before a transcript lists
/// connections.
async fn settle(sys: &Client, n: u64) {
    let mut seen = Value::Null;
    for _ in 0..100 {
        let m = timeout(STEP, sys.request("$SYS.REQ.SERVER.PING.VARZ", Bytes::new()))
            .await
            .unwrap()
            .unwrap();
        seen = serde_json::from_slice(&m.payload).unwrap();
        if seen["data"]["connections"].as_u64() == Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never counted {n} connections: {seen}");
}

fn opts() -> ServerOpts {
    ServerOpts::new().config(CONFIG)
}

#[test]
fn server_requests() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        let id = server_id(&sys).await;
        settle(&sys, 1).await;
        let mut t = Transcript::new();
        t.note("nats server ping: one answer per server, bare statistics");
        t.ask(&sys, "$SYS.REQ.SERVER.PING", "PING", "", &[]).await;
        for ep in [
            "STATSZ", "IDZ", "VARZ", "CONNZ", "SUBSZ", "HEALTHZ", "JSZ", "ACCOUNTZ", "ROUTEZ",
            "LEAFZ",
        ] {
            let subject = format!("$SYS.REQ.SERVER.PING.{ep}");
            t.ask(&sys, &subject, &format!("PING.{ep}"), "", &[]).await;
        }
        t.note("addressed to this server by id");
        for ep in [
            "VARZ", "CONNZ", "SUBSZ", "HEALTHZ", "IDZ", "JSZ", "ACCOUNTZ", "STATSZ",
        ] {
            let subject = format!("$SYS.REQ.SERVER.{id}.{ep}");
            t.ask(&sys, &subject, &format!("<id>.{ep}"), "", &[]).await;
        }
        t.note("request options in the payload");
        // A connection closed by its client, the latest to stop (the harness's probe of the
        // port closed before, for a reason that depends on timing).
        let mut leaver = s.raw();
        leaver.handshake(r#"{"verbose":false,"user":"a","pass":"a","name":"leaver"}"#);
        let _ = leaver.stream().shutdown(std::net::Shutdown::Write);
        leaver.expect_closed();
        settle(&sys, 1).await;
        for (subject, body) in [
            ("CONNZ", r#"{"auth":true,"subscriptions":true}"#),
            ("CONNZ", r#"{"state":1,"sort":"stop","limit":1}"#),
            ("CONNZ", r#"{"sort":"bogus"}"#),
            ("CONNZ", "{bad"),
            ("ACCOUNTZ", r#"{"account":"NOPE"}"#),
            ("SUBSZ", r#"{"test":"a.*"}"#),
            ("STATSZ", "[1]"),
        ] {
            let label = format!("PING.{subject} {body}");
            let subject = format!("$SYS.REQ.SERVER.PING.{subject}");
            t.ask(&sys, &subject, &label, body, &[]).await;
        }
        t.note("event filters: a server that does not match stays silent");
        let connz = "$SYS.REQ.SERVER.PING.CONNZ";
        for body in [
            r#"{"server_name":"no-such-server"}"#,
            r#"{"tags":["blue"]}"#,
        ] {
            t.ask_silent(&sys, connz, &format!("PING.CONNZ {body}"), body)
                .await;
        }
        let body = r#"{"host":"10.9.9.9"}"#;
        t.ask_silent(&sys, "$SYS.REQ.SERVER.PING", &format!("PING {body}"), body)
            .await;
        let own = format!(r#"{{"server_name":"{id}","exact_match":true}}"#);
        let label = r#"{"server_name":"<id>","exact_match":true}"#;
        t.ask(
            &sys,
            "$SYS.REQ.SERVER.PING.HEALTHZ",
            &format!("PING.HEALTHZ {label}"),
            &own,
            &[],
        )
        .await;
        t.note("kick");
        let victim = login(&s, "a", "a", "victim").await;
        sync(&victim).await;
        let cid = victim.server_info().client_id;
        let kick = format!("$SYS.REQ.SERVER.{id}.KICK");
        let body = format!(r#"{{"cid":{cid}}}"#);
        t.ask(&sys, &kick, r#"<id>.KICK {"cid":<victim>}"#, &body, &[])
            .await;
        t.ask(
            &sys,
            &kick,
            r#"<id>.KICK {"cid":987654}"#,
            r#"{"cid":987654}"#,
            &[],
        )
        .await;
        check_golden(&s, "server_requests", &t.finish());
    });
}

#[test]
fn account_and_user_requests() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        let a = login(&s, "a", "a", "a-client").await;
        let _sub = a.subscribe("orders.>").await.unwrap();
        sync(&a).await;
        settle(&sys, 2).await;
        let mut t = Transcript::new();
        // nats-server lists the imports it gives every account; switchboard has none yet.
        let imports = &["imports", "subscriptions_list"];
        for ep in ["CONNZ", "SUBSZ", "STATZ", "INFO", "JSZ", "LEAFZ", "CONNS"] {
            let subject = format!("$SYS.REQ.ACCOUNT.A.{ep}");
            t.ask(&sys, &subject, &format!("ACCOUNT.A.{ep}"), "", imports)
                .await;
        }
        let body = r#"{"auth":true}"#;
        let label = format!("ACCOUNT.A.CONNZ {body}");
        t.ask(&sys, "$SYS.REQ.ACCOUNT.A.CONNZ", &label, body, &[])
            .await;
        t.ask(
            &sys,
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "ACCOUNT.PING.STATZ",
            "",
            &[],
        )
        .await;
        t.ask(
            &sys,
            "$SYS.REQ.ACCOUNT.SYS.STATZ",
            "ACCOUNT.SYS.STATZ",
            "",
            &[],
        )
        .await;
        t.note("an account without connections has nothing to report, unless asked");
        t.ask_silent(&sys, "$SYS.REQ.ACCOUNT.$G.STATZ", "ACCOUNT.$G.STATZ", "")
            .await;
        let body = r#"{"include_unused":true}"#;
        let label = format!("ACCOUNT.$G.STATZ {body}");
        t.ask(&sys, "$SYS.REQ.ACCOUNT.$G.STATZ", &label, body, &[])
            .await;
        t.note("who am I");
        t.ask(&sys, "$SYS.REQ.USER.INFO", "USER.INFO", "", &[])
            .await;
        let ops = login(&s, "ops", "ops", "ops").await;
        let label = "USER.INFO (a user with permissions)";
        t.ask(&ops, "$SYS.REQ.USER.INFO", label, "", &[]).await;
        check_golden(&s, "account_and_user_requests", &t.finish());
    });
}

#[test]
fn connect_and_disconnect_events() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        // Account A's only: the harness's probe of the port closes in the global account.
        let mut events = sys.subscribe("$SYS.ACCOUNT.A.>").await.unwrap();
        let mut old_conns = sys.subscribe("$SYS.SERVER.ACCOUNT.A.>").await.unwrap();
        sync(&sys).await;
        // A raw client, so that it closes cleanly (a client closing with unread bytes
        // resets the connection, which both servers report as a read error).
        let mut a = s.raw();
        a.handshake(
            r#"{"verbose":false,"user":"a","pass":"a","name":"a-client","lang":"raw","version":"1.0"}"#,
        );
        a.send("PUB orders.new 5\r\nhello\r\n");
        a.ping();
        let _ = a.stream().shutdown(std::net::Shutdown::Write);
        a.expect_closed();
        let mut t = Transcript::new();
        // CONNS and CONNECT when it connects, CONNS and DISCONNECT when it closes.
        for m in collect(&mut events, 4).await {
            t.message(m.subject.as_str(), &m.payload, &[]);
        }
        t.note("the older subject of the connection counts");
        for m in collect(&mut old_conns, 2).await {
            t.message(m.subject.as_str(), &m.payload, &[]);
        }
        check_golden(&s, "connect_and_disconnect_events", &t.finish());
    });
}

#[test]
fn auth_error_event() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        let mut errs = sys
            .subscribe("$SYS.SERVER.*.CLIENT.AUTH.ERR")
            .await
            .unwrap();
        let mut global = sys.subscribe("$SYS.ACCOUNT.$G.>").await.unwrap();
        sync(&sys).await;
        let refused = connect_once(
            s.url(),
            ConnectOptions::with_user_and_password("a".into(), "wrong".into()).name("intruder"),
        )
        .await;
        assert!(refused.is_err(), "a wrong password must be refused");
        let id = server_id(&sys).await;
        let mut t = Transcript::new();
        for m in collect(&mut errs, 1).await {
            t.message(&m.subject.as_str().replace(&id, "<id>"), &m.payload, &[]);
        }
        t.note("and the connection's close, in the global account it never left");
        // The harness's probe of the port closes in the global account too, nameless.
        let intruder = |m: &async_nats::Message| {
            serde_json::from_slice::<Value>(&m.payload)
                .is_ok_and(|v| v["client"]["name"] == "intruder")
        };
        for m in collect_where(&mut global, 1, intruder).await {
            t.message(m.subject.as_str(), &m.payload, &[]);
        }
        check_golden(&s, "auth_error_event", &t.finish());
    });
}

#[test]
fn statsz_is_broadcast_to_listeners() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        let id = server_id(&sys).await;
        let subject = format!("$SYS.SERVER.{id}.STATSZ");
        let mut stats = sys.subscribe(subject).await.unwrap();
        sync(&sys).await;
        // A STATSZ request without a reply subject asks for a broadcast now, rather than
        // at the next heartbeat (up to 10 s away).
        sys.publish(format!("$SYS.REQ.SERVER.{id}.STATSZ"), Bytes::new())
            .await
            .unwrap();
        let m = timeout(STEP, stats.next()).await.unwrap().unwrap();
        let mut t = Transcript::new();
        t.message("$SYS.SERVER.<id>.STATSZ", &m.payload, &[]);
        check_golden(&s, "statsz_broadcast", &t.finish());
    });
}

/// Messages never cross accounts: a client of another account that subscribes to `$SYS.>`
/// sees none of the system account's traffic, and its own requests reach no service.
#[test]
fn other_accounts_see_no_system_traffic() {
    for_each_target_async(&opts(), LIMIT, |s| async move {
        let sys = login(&s, "sys", "pass", "sys").await;
        let mut sys_events = sys.subscribe("$SYS.ACCOUNT.A.>").await.unwrap();
        sync(&sys).await;
        let spy = login(&s, "a", "a", "spy").await;
        let mut spied = spy.subscribe("$SYS.>").await.unwrap();
        sync(&spy).await;
        // Traffic of the system account: an event, and a request and its answer.
        let other = login(&s, "a", "a", "other").await;
        sync(&other).await;
        let _ = timeout(STEP, sys.request("$SYS.REQ.SERVER.PING", Bytes::new()))
            .await
            .unwrap()
            .unwrap();
        // The system account saw the event: the spy could have.
        let seen = timeout(STEP, sys_events.next()).await.unwrap().unwrap();
        assert!(
            seen.subject.as_str().starts_with("$SYS."),
            "{}",
            seen.subject
        );
        sync(&spy).await;
        if let Ok(Some(m)) = timeout(QUIET, spied.next()).await {
            panic!("account A received {} from the system account", m.subject);
        }
        // A's own `$SYS.REQ.SERVER.PING` reaches nobody (its subscriptions aside).
        spied.unsubscribe().await.unwrap();
        let err = timeout(STEP, spy.request("$SYS.REQ.SERVER.PING", Bytes::new()))
            .await
            .unwrap()
            .expect_err("no service answers account A");
        assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    });
}

/// A minimal HTTP GET of a JSON body. The client port answers first (switchboard starts
/// monitoring after binding it), so the monitoring port is waited for.
pub(crate) fn http_json(port: u16, path: &str) -> Value {
    let mut s = support::wait_for("the monitoring port", STEP, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    s.set_read_timeout(Some(STEP)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

#[test]
fn monitoring_names_the_system_account() {
    for_each_target_bare(|target| {
        for (config, expected) in [
            (CONFIG, Some("SYS")),
            ("", Some("$SYS")),
            ("no_system_account: true\n", None),
        ] {
            let http = free_port();
            let opts = ServerOpts::new()
                .config(config)
                .args(&["-m", &http.to_string()]);
            let _server = Server::start_opts(target, &opts);
            let varz = http_json(http, "/varz");
            let accountz = http_json(http, "/accountz");
            assert_eq!(varz["system_account"].as_str(), expected, "{config}");
            assert_eq!(accountz["system_account"].as_str(), expected, "{config}");
            let accounts = accountz["accounts"].as_array().unwrap();
            let has = |name: &str| accounts.iter().any(|a| a == name);
            assert!(has("$G"), "{accountz}");
            if let Some(name) = expected {
                assert!(has(name), "{accountz}");
            }
            assert_eq!(has("$SYS"), expected == Some("$SYS"), "{accountz}");
        }
    });
}
