#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::broker::BrokerHandle;
use crate::testkit;

/// `/varz` fields nats-server 2.15 emits that we deliberately leave out: Go build and
/// runtime details, and clustered JetStream's feature flags.
const VARZ_OMITTED: &[&str] = &["git_commit", "gomaxprocs", "feature_flags"];
/// `/connz` fields we deliberately leave out (none: every top-level field is supported).
const CONNZ_OMITTED: &[&str] = &[];

struct Setup {
    broker: BrokerHandle,
    monitor: MonitorHandle,
}

impl Setup {
    async fn start() -> Setup {
        let broker = BrokerHandle::start_for_test().await;
        let monitor = start_http(broker.server().clone(), "127.0.0.1", 0)
            .await
            .unwrap();
        Setup { broker, monitor }
    }

    async fn client(&self, name: &str, ops: &str) -> TcpStream {
        let mut s = TcpStream::connect(self.broker.local_addr()).await.unwrap();
        assert!(read_until(&mut s, b"\r\n").await.starts_with(b"INFO"));
        let text = format!(
            "CONNECT {{\"verbose\":false,\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"1.0\"}}\r\n{ops}PING\r\n"
        );
        s.write_all(text.as_bytes()).await.unwrap();
        assert!(read_until(&mut s, b"PONG\r\n").await.ends_with(b"PONG\r\n"));
        s
    }

    async fn json(&self, path: &str) -> Value {
        let (status, _, body) = get(self.monitor.local_addr(), path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn stop(self) {
        self.monitor.shutdown().await;
        self.broker.shutdown().await;
    }
}

/// Reads until `end` was seen (or 2 s passed).
async fn read_until(s: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    testkit::read_until(s, Duration::from_secs(2), |out| testkit::contains(out, end)).await
}

/// A minimal HTTP/1.1 GET: returns status, headers (lower-cased names) and body.
pub(super) async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let body = if header(&headers, "transfer-encoding") == "chunked" {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

/// The body of a chunked answer (nats-server's Go server chunks large ones).
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn cids(connz: &Value) -> Vec<u64> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn varz_counts_messages_and_connections() {
    let t = Setup::start().await;
    let mut sub = t.client("sub", "SUB foo.* 1\r\n").await;
    let _publisher = t
        .client("pub", "PUB foo.a 5\r\nhello\r\nPUB foo.b 3\r\nabc\r\n")
        .await;
    let got = read_until(&mut sub, b"abc\r\n").await;
    assert!(got.ends_with(b"MSG foo.b 1 3\r\nabc\r\n"), "{got:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let v = t.json("/varz").await;
    assert_eq!(v["in_msgs"], 2);
    assert_eq!(v["in_bytes"], 8);
    assert_eq!(v["out_msgs"], 2);
    assert_eq!(v["connections"], 2);
    assert_eq!(v["total_connections"], 2);
    assert_eq!(v["subscriptions"], 1);
    assert_eq!(v["version"], "2.15.1");
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["write_deadline"], 10_000_000_000u64);
    assert_eq!(v["auth_timeout"], 2);
    assert_eq!(v["http_port"], t.monitor.local_addr().port());
    assert_eq!(v["port"], t.broker.local_addr().port());
    assert_eq!(v["http_req_stats"]["/varz"], 1);
    assert_eq!(v["cluster"], serde_json::json!({}));
    assert_eq!(v["slow_consumer_stats"]["clients"], 0);
    assert!(v["uptime"].as_str().unwrap().ends_with('s'));
    assert!(v["mem"].as_u64().unwrap() > 0);
    assert!(v["start"].as_str().unwrap().ends_with('Z'));
    let (_, headers, body) = get(t.monitor.local_addr(), "/varz").await;
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    assert!(body.starts_with("{\n  \"server_id\": \""), "{body}");
    t.stop().await;
}

#[tokio::test]
async fn connz_lists_sorts_and_pages() {
    let t = Setup::start().await;
    let mut a = t.client("a", "SUB x 1\r\n").await;
    let _b = t.client("b", "SUB x 1\r\nSUB y q 2\r\nSUB z 3\r\n").await;
    let _c = t
        .client("c", "PUB x 2\r\nhi\r\nPUB x 2\r\nhi\r\nPUB x 2\r\nhi\r\n")
        .await;
    read_until(&mut a, b"hi\r\nMSG x 1 2\r\nhi\r\nMSG x 1 2\r\nhi\r\n").await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let all = t.json("/connz").await;
    assert_eq!(all["num_connections"], 3);
    assert_eq!(all["total"], 3);
    assert_eq!(all["limit"], 1024);
    assert_eq!(cids(&all), [1, 2, 3]);
    let conns = all["connections"].as_array().unwrap();
    assert_eq!(conns[0]["name"], "a");
    assert_eq!(conns[0]["kind"], "Client");
    assert_eq!(conns[0]["type"], "nats");
    assert_eq!(conns[0]["ip"], "127.0.0.1");
    assert_eq!(conns[0]["out_msgs"], 3);
    assert_eq!(conns[1]["subscriptions"], 3);
    assert_eq!(conns[2]["in_msgs"], 3);
    assert_eq!(conns[2]["in_bytes"], 6);
    assert_eq!(conns[2]["lang"], "raw");
    assert!(conns[0]["rtt"].as_str().unwrap().ends_with('s'));
    assert!(conns[0].get("subscriptions_list").is_none());

    assert_eq!(cids(&t.json("/connz?sort=subs").await), [2, 1, 3]);
    assert_eq!(cids(&t.json("/connz?sort=msgs_from").await)[0], 3);
    assert_eq!(cids(&t.json("/connz?sort=msgs_to").await)[..2], [1, 2]);
    let page = t.json("/connz?sort=cid&limit=1&offset=1").await;
    assert_eq!(cids(&page), [2]);
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(cids(&t.json("/connz?cid=3").await), [3]);

    let subs = t.json("/connz?cid=2&subs=1").await;
    assert_eq!(
        subs["connections"][0]["subscriptions_list"],
        serde_json::json!(["x", "y", "z"])
    );
    let detail = t.json("/connz?cid=2&subs=detail").await;
    let d = &detail["connections"][0]["subscriptions_list_detail"][1];
    assert_eq!(
        (d["subject"].as_str(), d["qgroup"].as_str()),
        (Some("y"), Some("q"))
    );
    assert_eq!((d["sid"].as_str(), d["cid"].as_u64()), (Some("2"), Some(2)));
    let auth = t.json("/connz?cid=1&auth=1").await;
    assert_eq!(auth["connections"][0]["name_tag"], "$G");

    let (status, _, body) = get(t.monitor.local_addr(), "/connz?sort=nope").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "invalid sorting option: nope")
    );
    let (status, _, body) = get(t.monitor.local_addr(), "/connz?limit=abc").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax"
    );
    t.stop().await;
}

#[tokio::test]
async fn closed_connections_keep_their_reason() {
    let t = Setup::start().await;
    let _stay = t.client("stay", "").await;
    let gone = t.client("gone", "SUB a.b 7\r\nPUB a.b 1\r\nx\r\n").await;
    drop(gone);
    testkit::wait_until_async("the closed connection", Duration::from_secs(3), || {
        !t.broker.server().closed_clients().is_empty()
    })
    .await;
    let closed = t.json("/connz?state=closed&subs=detail").await;
    assert_eq!(closed["total"], 1);
    let c = &closed["connections"][0];
    assert_eq!(c["cid"], 2);
    assert_eq!(c["name"], "gone");
    assert_eq!(c["reason"], "Client Closed");
    assert!(c["stop"].as_str().unwrap().ends_with('Z'));
    assert_eq!(c["in_msgs"], 1);
    assert_eq!(c["subscriptions"], 1);
    assert_eq!(c["subscriptions_list_detail"][0]["subject"], "a.b");
    assert_eq!(c["subscriptions_list_detail"][0]["account"], "$G");
    let any = t.json("/connz?state=any").await;
    assert_eq!((any["total"].as_u64(), cids(&any)), (Some(2), vec![1, 2]));
    let open = t.json("/connz").await;
    assert_eq!(cids(&open), [1]);
    assert!(open["connections"][0].get("stop").is_none());
    let by_stop = t.json("/connz?state=closed&sort=stop").await;
    assert_eq!(cids(&by_stop), [2]);
    t.stop().await;
}

#[tokio::test]
async fn subsz_stats_and_test_filter() {
    let t = Setup::start().await;
    let _a = t
        .client(
            "a",
            "SUB foo.* 1\r\nSUB bar 2\r\nSUB foo.> q 3\r\nSUB gone 4\r\nUNSUB 4\r\n",
        )
        .await;
    let s = t.json("/subsz").await;
    assert_eq!(s["num_subscriptions"], 3);
    assert_eq!(s["num_inserts"], 4);
    assert_eq!(s["num_removes"], 1);
    assert_eq!(s["cache_hit_rate"], 0);
    assert_eq!(s["total"], 0);
    assert!(s.get("subscriptions_list").is_none());
    let all = t.json("/subsz?subs=1").await;
    assert_eq!(all["total"], 3);
    let hit = t.json("/subsz?subs=1&test=foo.bar").await;
    assert_eq!(hit["total"], 2);
    let list = hit["subscriptions_list"].as_array().unwrap();
    let subjects: Vec<&str> = list
        .iter()
        .map(|d| d["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["foo.*", "foo.>"]);
    assert_eq!(list[1]["qgroup"], "q");
    assert_eq!(list[0]["account"], "$G");
    let page = t.json("/subsz?subs=1&limit=1&offset=2").await;
    assert_eq!(page["subscriptions_list"].as_array().map(Vec::len), Some(1));
    let (status, _, body) = get(t.monitor.local_addr(), "/subsz?test=foo.*").await;
    assert_eq!(status, 400);
    assert!(body.starts_with("invalid test subject"), "{body}");
    t.stop().await;
}

#[tokio::test]
async fn other_endpoints_metrics_and_not_found() {
    let t = Setup::start().await;
    let addr = t.monitor.local_addr();
    let (status, headers, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(t.json("/routez").await["num_routes"], 0);
    assert_eq!(
        t.json("/gatewayz").await["outbound_gateways"],
        serde_json::json!({})
    );
    assert_eq!(t.json("/leafz").await["leafs"], serde_json::json!([]));
    let accountz = t.json("/accountz").await;
    assert_eq!(accountz["accounts"], serde_json::json!(["$G", "$SYS"]));
    assert_eq!(accountz["system_account"], "$SYS");
    assert_eq!(t.json("/jsz").await["disabled"], true);
    let (status, headers, body) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert!(body.contains("href=\"./connz\"") && body.contains("/metrics"));
    let (status, _, body) = get(addr, "/nope").await;
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));

    let _c = t.client("m", "SUB m 1\r\nPUB m 4\r\nmmmm\r\n").await;
    let (status, headers, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/plain; version=0.0.4"));
    for line in [
        "# TYPE switchboard_connections gauge",
        "switchboard_connections 1",
        "# TYPE switchboard_in_messages_total counter",
        "switchboard_in_messages_total 1",
        "switchboard_in_bytes_total 4",
        "switchboard_connections_total 1",
        "switchboard_subscriptions 1",
        "# HELP switchboard_slow_consumers_total",
        "# TYPE switchboard_memory_resident_bytes gauge",
        "# TYPE switchboard_uptime_seconds gauge",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let stats = t.json("/varz").await["http_req_stats"].clone();
    assert_eq!(stats["/healthz"], 1);
    assert_eq!(stats["/metrics"], 1);
    assert!(stats.get("/nope").is_none());
    t.stop().await;
}

pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every top-level field nats-server emits, less the omitted ones, is in ours with the same
/// JSON type. Also checks the first connection's fields in `/connz`.
fn assert_same_shape(what: &str, theirs: &Value, ours: &Value, omitted: &[&str]) {
    let theirs = theirs.as_object().unwrap();
    for (key, value) in theirs {
        if omitted.contains(&key.as_str()) {
            continue;
        }
        let mine = ours
            .get(key)
            .unwrap_or_else(|| panic!("{what}: field {key} missing"));
        assert_eq!(json_type(mine), json_type(value), "{what}: type of {key}");
    }
}

/// Runs only when `NATS_SERVER_BIN` names a nats-server binary.
#[tokio::test]
async fn same_fields_as_nats_server() {
    let Ok(bin) = std::env::var("NATS_SERVER_BIN") else {
        return;
    };
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, http_port) = (free_port(), free_port());
    let mut child = tokio::process::Command::new(bin)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &http_port.to_string(),
        ])
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let their_http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    testkit::wait_for_listener(
        "nats-server's HTTP port",
        their_http,
        Duration::from_secs(10),
    )
    .await;
    let t = Setup::start().await;
    let ops = "SUB foo 1\r\nPUB foo 2\r\nhi\r\n";
    let _ours = t.client("cmp", ops).await;
    let mut theirs_client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    read_until(&mut theirs_client, b"\r\n").await;
    let connect = format!("CONNECT {{\"verbose\":false,\"name\":\"cmp\",\"lang\":\"raw\",\"version\":\"1.0\"}}\r\n{ops}PING\r\n");
    theirs_client.write_all(connect.as_bytes()).await.unwrap();
    read_until(&mut theirs_client, b"PONG\r\n").await;

    for (path, omitted) in [("/varz", VARZ_OMITTED), ("/connz?subs=1", CONNZ_OMITTED)] {
        let (status, _, body) = get(their_http, path).await;
        assert_eq!(status, 200);
        let theirs: Value = serde_json::from_str(&body).unwrap();
        let ours = t.json(path).await;
        assert_same_shape(path, &theirs, &ours, omitted);
        if path.starts_with("/connz") {
            let (tc, oc) = (&theirs["connections"][0], &ours["connections"][0]);
            assert_same_shape("connz connection", tc, oc, &[]);
        }
    }
    for path in [
        "/subsz",
        "/routez",
        "/gatewayz",
        "/leafz",
        "/jsz",
        "/healthz",
        "/accountz",
    ] {
        let (_, _, body) = get(their_http, path).await;
        let theirs: Value = serde_json::from_str(&body).unwrap();
        assert_same_shape(path, &theirs, &t.json(path).await, &[]);
    }
    let _ = child.kill().await;
    t.stop().await;
}
