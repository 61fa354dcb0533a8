//! `/jsz`, `/varz`'s `jetstream` and the JetStream metrics, with and without JetStream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use super::http_tests::{get, header};
use super::*;
use crate::broker::BrokerHandle;
use crate::options::{
    AccountConfig, AccountJetStreamLimits, JetStreamOptions, Options, SyncPolicy, User,
};
use crate::testkit;

/// A broker with JetStream on a temporary store and its monitoring server.
struct JsSetup {
    broker: BrokerHandle,
    monitor: MonitorHandle,
    dir: tempfile::TempDir,
}

impl JsSetup {
    async fn start() -> JsSetup {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut Options)) -> JsSetup {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options {
            port: 0,
            jetstream: Some(JetStreamOptions {
                store_dir: Some(dir.path().to_path_buf()),
                ..Default::default()
            }),
            ..Options::default()
        };
        adjust(&mut opts);
        let bound = BrokerHandle::bind(opts).await.unwrap();
        crate::jetstream::enable(bound.server())
            .unwrap()
            .expect("JetStream is on");
        let broker = bound.accept();
        let monitor = start_http(broker.server().clone(), "127.0.0.1", 0)
            .await
            .unwrap();
        JsSetup {
            broker,
            monitor,
            dir,
        }
    }

    async fn client(&self) -> async_nats::Client {
        async_nats::connect(format!(
            "nats://127.0.0.1:{}",
            self.broker.local_addr().port()
        ))
        .await
        .unwrap()
    }

    async fn user(&self, user: &str) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            .connect(format!(
                "nats://127.0.0.1:{}",
                self.broker.local_addr().port()
            ))
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        json_at(self.monitor.local_addr(), path).await
    }

    async fn stop(self) {
        self.monitor.shutdown().await;
        self.broker.shutdown().await;
    }
}

async fn json_at(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn request(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let payload = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_string(), payload.into()),
    )
    .await
    .expect("a reply in time")
    .expect("a reply");
    serde_json::from_slice(&reply.payload).unwrap()
}

/// The streams both sides of the comparisons hold: a file stream with two messages
/// (86 bytes), a memory stream with one (23 bytes), an empty one, and one refused request.
async fn create_streams(c: &async_nats::Client) {
    let orders = json!({"name": "ORDERS", "subjects": ["orders.>"], "max_bytes": 100000});
    let mem = json!({"name": "MEM", "subjects": ["mem.*"], "storage": "memory", "max_bytes": 5000});
    for (name, cfg) in [("ORDERS", orders), ("MEM", mem)] {
        let r = request(c, &format!("$JS.API.STREAM.CREATE.{name}"), cfg).await;
        assert!(r.get("error").is_none(), "{r}");
    }
    for (subject, body) in [
        ("orders.a", "hello"),
        ("orders.b", "world"),
        ("mem.x", "hi"),
    ] {
        let ack = c.request(subject, body.into()).await.unwrap();
        let ack: Value = serde_json::from_slice(&ack.payload).unwrap();
        assert!(ack["seq"].is_u64(), "{ack}");
    }
    let empty = json!({"name": "EMPTY", "subjects": ["empty"]});
    request(c, "$JS.API.STREAM.CREATE.EMPTY", empty).await;
    let bad = request(c, "$JS.API.STREAM.CREATE.BAD", json!({"name": "B.AD"})).await;
    assert_eq!(bad["error"]["err_code"], 10056);
}

/// Two durable consumers.
async fn create_consumers(c: &async_nats::Client) {
    for (stream, cfg) in [
        (
            "ORDERS",
            json!({"durable_name": "reader", "ack_policy": "explicit"}),
        ),
        (
            "MEM",
            json!({"durable_name": "all", "filter_subject": "mem.x"}),
        ),
    ] {
        let name = cfg["durable_name"].as_str().unwrap_or_default().to_string();
        let r = request(
            c,
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            json!({"stream_name": stream, "config": cfg}),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
    }
}

fn names(details: &Value) -> Vec<&str> {
    details
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn jsz_and_varz_without_jetstream_answer_disabled() {
    let broker = BrokerHandle::start_for_test().await;
    let monitor = start_http(broker.server().clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let addr = monitor.local_addr();
    let (status, _, body) = get(addr, "/jsz?accounts=1&streams=1").await;
    assert_eq!(status, 200);
    let id = &broker.server().id;
    let now_at = body.find("\"now\": \"").unwrap() + 8;
    let now = &body[now_at..now_at + body[now_at..].find('"').unwrap()];
    assert_eq!(
        body,
        format!(
            "{{\n  \"memory\": 0,\n  \"storage\": 0,\n  \"reserved_memory\": 0,\n  \
             \"reserved_storage\": 0,\n  \"accounts\": 0,\n  \"ha_assets\": 0,\n  \"api\": {{\n    \
             \"level\": 0,\n    \"total\": 0,\n    \"errors\": 0\n  }},\n  \"server_id\": \"{id}\",\n  \
             \"now\": \"{now}\",\n  \"disabled\": true,\n  \"config\": {{\n    \"max_memory\": 0,\n    \
             \"max_storage\": 0\n  }},\n  \"streams\": 0,\n  \"consumers\": 0,\n  \"messages\": 0,\n  \
             \"bytes\": 0,\n  \"total\": 0\n}}"
        )
    );
    let (status, headers, body) = get(addr, "/jsz?leader-only=true").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "filtered response: not leader")
    );
    assert!(header(&headers, "content-type").starts_with("text/plain"));
    assert_eq!(json_at(addr, "/varz").await["jetstream"], json!({}));
    let (_, _, metrics) = get(addr, "/metrics").await;
    assert!(!metrics.contains("jetstream"), "{metrics}");
    monitor.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn jsz_reports_usage_accounts_and_streams() {
    let t = JsSetup::start().await;
    let c = t.client().await;
    create_streams(&c).await;
    let server = t.broker.server();

    let top = t.json("/jsz").await;
    assert_eq!(top["memory"], 23);
    assert_eq!(top["storage"], 86);
    assert_eq!(top["reserved_memory"], 5000);
    assert_eq!(top["reserved_storage"], 100000);
    assert_eq!(top["accounts"], 1);
    assert_eq!(top["ha_assets"], 0);
    assert_eq!(top["api"], json!({"level": 5, "total": 4, "errors": 1}));
    assert_eq!(top["server_id"], server.id.as_str());
    assert!(top["now"].as_str().unwrap().ends_with('Z'));
    let store_dir = t.dir.path().join("jetstream");
    let cfg = &top["config"];
    assert_eq!(cfg["store_dir"], store_dir.display().to_string());
    assert_eq!(cfg["sync_interval"], 120_000_000_000u64);
    assert_eq!(cfg["strict"], true);
    assert!(cfg["max_memory"].as_i64().unwrap() > 0 && cfg["max_storage"].as_i64().unwrap() > 0);
    for absent in ["domain", "sync_always", "compress_ok"] {
        assert!(cfg.get(absent).is_none(), "{absent} in {cfg}");
    }
    assert_eq!(top["limits"], json!({"default_max_consumers": 1000}));
    assert_eq!(
        (
            &top["streams"],
            &top["consumers"],
            &top["messages"],
            &top["bytes"]
        ),
        (&json!(3), &json!(0), &json!(3), &json!(109))
    );
    assert_eq!(top["total"], 1);
    for absent in [
        "disabled",
        "account_details",
        "streams_leader",
        "consumers_leader",
    ] {
        assert!(top.get(absent).is_none(), "{absent} in {top}");
    }
    let (_, _, body) = get(t.monitor.local_addr(), "/jsz").await;
    assert!(
        body.starts_with("{\n  \"memory\": 23,\n  \"storage\": 86,\n"),
        "{body}"
    );
    assert!(
        body.contains("\"bytes\": 109,\n  \"total\": 1\n}"),
        "{body}"
    );

    let accounts = t.json("/jsz?accounts=1").await;
    let g = &accounts["account_details"][0];
    assert_eq!(
        accounts["account_details"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!((&g["name"], &g["id"]), (&json!("$G"), &json!("$G")));
    assert_eq!((&g["memory"], &g["storage"]), (&json!(23), &json!(86)));
    // The account's limits as unsigned reservations: -1 is 2^64-1, as in nats-server.
    assert_eq!(g["reserved_memory"], u64::MAX);
    assert_eq!(g["reserved_storage"], u64::MAX);
    assert_eq!(g["api"], json!({"level": 0, "total": 4, "errors": 1}));
    assert!(g.get("stream_detail").is_none());

    for path in [
        "/jsz?streams=1",
        "/jsz?consumers=true",
        "/jsz?streams=1&acc=$G",
    ] {
        let with_streams = t.json(path).await;
        let detail = &with_streams["account_details"][0]["stream_detail"];
        assert_eq!(names(detail), ["EMPTY", "MEM", "ORDERS"], "{path}");
        let orders = &detail[2];
        assert_eq!(orders["cluster"], json!({"leader": server.name}));
        assert!(orders["created"].as_str().unwrap().ends_with('Z'));
        assert!(orders.get("config").is_none());
        assert_eq!(orders["state"]["messages"], 2);
        assert_eq!(orders["state"]["num_subjects"], 2);
        assert_eq!(orders["state"]["consumer_count"], 0);
        let empty = &detail[0]["state"];
        assert_eq!(empty["first_seq"], 0);
        assert_eq!(empty["first_ts"], "0001-01-01T00:00:00Z");
        assert!(empty.get("num_subjects").is_none());
    }
    let configs = t.json("/jsz?streams=1&config=true").await;
    let mem = &configs["account_details"][0]["stream_detail"][1];
    assert_eq!(mem["config"]["storage"], "memory");
    assert_eq!(mem["config"]["max_bytes"], 5000);
    assert_eq!(mem["config"]["metadata"], json!({"_nats.req.level": "0"}));

    let raft = t.json("/jsz?raft=1").await;
    assert_eq!(raft["streams_leader"], 3);
    assert!(raft.get("consumers_leader").is_none());
    for path in ["/jsz?leader-only=1", "/jsz?stream-leader-only=1&streams=1"] {
        assert_eq!(t.json(path).await["streams"], 3, "{path}");
    }

    let v = t.json("/varz").await["jetstream"].clone();
    assert_eq!(v["config"], top["config"]);
    assert_eq!(v["stats"]["memory"], 23);
    assert_eq!(v["stats"]["reserved_storage"], 100000);
    assert_eq!(v["stats"]["api"]["level"], 5);
    assert_eq!(v["limits"], json!({"default_max_consumers": 1000}));
    assert!(v.get("meta").is_none());

    let (status, headers, metrics) = get(t.monitor.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/plain; version=0.0.4"));
    for line in [
        "# TYPE switchboard_jetstream_memory_bytes gauge",
        "switchboard_jetstream_memory_bytes 23",
        "switchboard_jetstream_storage_bytes 86",
        "switchboard_jetstream_reserved_storage_bytes 100000",
        "switchboard_jetstream_accounts 1",
        "switchboard_jetstream_streams 3",
        "switchboard_jetstream_messages 3",
        "switchboard_jetstream_bytes 109",
        "# TYPE switchboard_jetstream_api_requests_total counter",
        "switchboard_jetstream_api_requests_total 4",
        "switchboard_jetstream_api_errors_total 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let stats = t.json("/varz").await["http_req_stats"].clone();
    assert_eq!(stats["/jsz"], 10);
    t.stop().await;
}

#[tokio::test]
async fn jsz_filters_and_pages_accounts_with_their_limits() {
    let account = |name: &str, jetstream| AccountConfig {
        name: name.into(),
        users: vec![User {
            user: Some(name.to_lowercase()),
            password: Some(name.to_lowercase()),
            ..User::default()
        }],
        jetstream,
        ..Default::default()
    };
    let limited = AccountJetStreamLimits {
        max_memory: 1_000_000,
        max_store: 10_000_000,
        max_streams: 5,
        ..AccountJetStreamLimits::default()
    };
    let t = JsSetup::start_with(|o| {
        o.auth.accounts = vec![
            account("A", Some(limited)),
            account("B", Some(AccountJetStreamLimits::default())),
            account("C", None),
        ];
        let js = o.jetstream.as_mut().unwrap();
        js.domain = Some("hub".into());
        js.sync = SyncPolicy::Always;
        js.max_memory = Some(1 << 30);
        js.max_store = Some(10 << 30);
    })
    .await;
    let a = t.user("a").await;
    let created = request(
        &a,
        "$JS.API.STREAM.CREATE.S1",
        json!({"name": "S1", "subjects": ["s1.>"], "storage": "memory", "max_bytes": 1000}),
    )
    .await;
    assert!(created.get("error").is_none(), "{created}");
    for subject in ["s1.x", "s1.y", "s1.z"] {
        a.request(subject, "abc".into()).await.unwrap();
    }
    let deleted = request(&a, "$JS.API.STREAM.MSG.DELETE.S1", json!({"seq": 2})).await;
    assert_eq!(deleted["success"], true);
    request(&a, "$JS.API.STREAM.INFO.NOPE", Value::Null).await;

    let top = t.json("/jsz").await;
    assert_eq!((&top["accounts"], &top["total"]), (&json!(2), &json!(2)));
    assert_eq!(top["reserved_memory"], 1000);
    assert_eq!(
        top["config"],
        json!({
            "max_memory": 1u64 << 30,
            "max_storage": 10u64 << 30,
            "store_dir": t.dir.path().join("jetstream").display().to_string(),
            "sync_interval": 120_000_000_000u64,
            "sync_always": true,
            "domain": "hub",
            "compress_ok": true,
            "strict": true
        })
    );
    let all = t.json("/jsz?accounts=1").await;
    let details = &all["account_details"];
    assert_eq!(names(details), ["A", "B"]);
    assert_eq!(details[0]["reserved_memory"], 1_000_000);
    assert_eq!(details[0]["reserved_storage"], 10_000_000);
    assert_eq!(
        details[0]["api"],
        json!({"level": 0, "total": 3, "errors": 1})
    );
    assert_eq!(details[1]["reserved_memory"], u64::MAX);

    let s1 = &t.json("/jsz?acc=A&streams=1").await["account_details"];
    assert_eq!(names(s1), ["A"]);
    let state = &s1[0]["stream_detail"][0]["state"];
    assert_eq!(
        (&state["messages"], &state["num_deleted"]),
        (&json!(2), &json!(1))
    );
    assert!(state.get("deleted").is_none());

    // A named account wins over paging; an unknown one falls back to `accounts`.
    assert_eq!(
        names(&t.json("/jsz?acc=B&limit=1").await["account_details"]),
        ["B"]
    );
    assert!(t.json("/jsz?acc=C").await.get("account_details").is_none());
    assert!(t
        .json("/jsz?acc=nope&streams=1")
        .await
        .get("account_details")
        .is_none());
    let fallback = t.json("/jsz?acc=nope&accounts=1").await;
    assert_eq!(names(&fallback["account_details"]), ["A", "B"]);
    let page = t.json("/jsz?accounts=1&limit=1&offset=1").await;
    assert_eq!(names(&page["account_details"]), ["B"]);
    assert_eq!(page["total"], 2);
    assert!(t
        .json("/jsz?accounts=1&offset=2")
        .await
        .get("account_details")
        .is_none());
    assert_eq!(
        names(&t.json("/jsz?accounts=1&offset=-3&limit=1").await["account_details"]),
        ["A"]
    );
    assert_eq!(
        names(&t.json("/jsz?accounts=1&limit=-1").await["account_details"]),
        ["A", "B"]
    );

    let addr = t.monitor.local_addr();
    let (status, _, body) = get(addr, "/jsz?accounts=maybe&limit=x").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Error decoding boolean for 'accounts': strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
    let (status, _, body) = get(addr, "/jsz?offset=1.5").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"
    );
    let v = t.json("/varz").await;
    assert_eq!(v["jetstream"]["config"], top["config"]);
    assert_eq!(v["jetstream"]["stats"]["accounts"], 2);
    t.stop().await;
}

/// A JSON value that keeps the order of object keys, to compare layouts.
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Leaf,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every object's keys in order, by path. Array items are compared as a set of layouts:
/// nats-server lists stream details in map order, and only non-empty streams have
/// `num_subjects`.
fn layout(o: &Ordered, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    match o {
        Ordered::Object(fields) => {
            out.push((
                path.to_string(),
                fields.iter().map(|(k, _)| k.clone()).collect(),
            ));
            for (k, v) in fields {
                layout(v, &format!("{path}.{k}"), out);
            }
        }
        Ordered::Array(items) => {
            let mut layouts = std::collections::BTreeSet::new();
            for item in items {
                let mut one = Vec::new();
                layout(item, &format!("{path}[]"), &mut one);
                layouts.insert(one);
            }
            out.extend(layouts.into_iter().flatten());
        }
        Ordered::Leaf => {}
    }
}

/// Blanks what differs between two servers by nature (identity, times, paths, disk space)
/// and sorts stream details by name.
fn normalized(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    match k.as_str() {
                        "server_id" | "now" | "created" | "first_ts" | "last_ts" | "leader"
                        | "store_dir" | "max_storage" | "max_memory" | "ts" | "last_active" => {
                            *val = Value::Null
                        }
                        _ => walk(val),
                    }
                }
                if let Some(Value::Array(details)) = map.get_mut("stream_detail") {
                    details.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Runs only when `NATS_SERVER_BIN` names a nats-server binary: the same requests to
/// nats-server with `-js` and to switchboard give the same `/jsz` (every option) and
/// `/varz` `jetstream`, field for field and in the same order, identities, times, paths and
/// machine-dependent limits aside.
#[tokio::test]
async fn same_jsz_as_nats_server_with_jetstream() {
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
    let their_dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(bin)
        .args(["-js", "-sd"])
        .arg(their_dir.path())
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", &http_port.to_string()])
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
    // With JetStream, nats-server opens its client port after its HTTP port.
    let their_client_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    testkit::wait_for_listener(
        "nats-server's client port",
        their_client_addr,
        Duration::from_secs(10),
    )
    .await;
    let theirs_client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap();
    create_streams(&theirs_client).await;
    create_consumers(&theirs_client).await;
    let t = JsSetup::start().await;
    let ours_client = t.client().await;
    create_streams(&ours_client).await;
    create_consumers(&ours_client).await;

    for path in [
        "/jsz",
        "/jsz?accounts=1",
        "/jsz?streams=1",
        "/jsz?streams=1&config=1",
        "/jsz?acc=$G",
        "/jsz?acc=nope&accounts=1",
        "/jsz?accounts=1&offset=1",
        "/jsz?consumers=1&config=1",
        "/jsz?consumers=1",
        "/jsz?acc=$G&consumers=1",
        "/jsz?accounts=1&consumers=1&direct-consumers=1",
        "/jsz?raft=1&streams=1",
        "/jsz?leader-only=1",
        "/jsz?limit=abc",
        "/varz",
    ] {
        let (their_status, _, their_body) = get(their_http, path).await;
        let (our_status, _, our_body) = get(t.monitor.local_addr(), path).await;
        assert_eq!(our_status, their_status, "{path}");
        if their_status != 200 {
            assert_eq!(our_body, their_body, "{path}");
            continue;
        }
        let pick = |body: &str| -> (Value, Ordered) {
            let v: Value = serde_json::from_str(body).unwrap();
            let o: Ordered = serde_json::from_str(body).unwrap();
            if path == "/varz" {
                let Ordered::Object(fields) = o else {
                    panic!("{body}")
                };
                let js = fields
                    .into_iter()
                    .find(|(k, _)| k == "jetstream")
                    .unwrap()
                    .1;
                (v["jetstream"].clone(), js)
            } else {
                (v, o)
            }
        };
        let (theirs, their_order) = pick(&their_body);
        let (ours, our_order) = pick(&our_body);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        layout(&their_order, "", &mut a);
        layout(&our_order, "", &mut b);
        assert_eq!(b, a, "{path}: field order");
        assert_eq!(normalized(ours), normalized(theirs), "{path}");
    }
    let _ = child.kill().await;
    t.stop().await;
}

#[tokio::test]
async fn jsz_counts_consumers() {
    let t = JsSetup::start().await;
    let c = t.client().await;
    create_streams(&c).await;
    let created = request(
        &c,
        "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.reader",
        json!({"stream_name": "ORDERS", "config": {"durable_name": "reader", "ack_policy": "explicit"}}),
    )
    .await;
    assert!(created.get("error").is_none(), "{created}");
    let top = t.json("/jsz?streams=1").await;
    assert_eq!(top["consumers"], 1);
    let details = &top["account_details"][0]["stream_detail"];
    let orders = details
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ORDERS")
        .unwrap();
    assert_eq!(orders["state"]["consumer_count"], 1);
}
