#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::*;
use crate::broker::BrokerHandle;
use crate::options::{JetStreamOptions, Options};

/// A broker with JetStream on a temporary store directory.
struct Js {
    handle: BrokerHandle,
    client: async_nats::Client,
    _dir: Option<tempfile::TempDir>,
}

async fn start_in(dir: &Path, sync: SyncPolicy) -> (BrokerHandle, async_nats::Client) {
    let opts = Options {
        port: 0,
        jetstream: Some(JetStreamOptions {
            store_dir: Some(dir.to_path_buf()),
            sync,
            ..Default::default()
        }),
        ..Options::default()
    };
    let bound = BrokerHandle::bind(opts).await.unwrap();
    enable(bound.server()).unwrap().expect("JetStream is on");
    let handle = bound.accept();
    let client = async_nats::connect(format!("nats://{}", handle.local_addr()))
        .await
        .unwrap();
    (handle, client)
}

async fn start() -> Js {
    let dir = tempfile::tempdir().unwrap();
    let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
    Js {
        handle,
        client,
        _dir: Some(dir),
    }
}

impl Js {
    async fn request(&self, subject: &str, body: Value) -> Value {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            self.client.request(subject.to_string(), payload.into()),
        )
        .await
        .expect("a reply in time")
        .expect("a reply");
        serde_json::from_slice(&reply.payload).unwrap()
    }

    async fn publish(&self, subject: &str, payload: &'static str) -> Value {
        let reply = self
            .client
            .request(subject.to_string(), payload.into())
            .await
            .unwrap();
        serde_json::from_slice(&reply.payload).unwrap()
    }
}

#[tokio::test]
async fn a_stream_stores_what_is_published_to_its_subjects_and_acknowledges_it() {
    let js = start().await;
    let created = js
        .request(
            "$JS.API.STREAM.CREATE.ORDERS",
            json!({"name": "ORDERS", "subjects": ["orders.>"]}),
        )
        .await;
    assert_eq!(
        created["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(created["did_create"], true);
    assert_eq!(created["config"]["max_msgs"], -1);
    assert_eq!(created["config"]["duplicate_window"], 120_000_000_000i64);
    assert_eq!(created["config"]["metadata"]["_nats.req.level"], "0");
    assert_eq!(created["state"]["first_ts"], "0001-01-01T00:00:00Z");

    assert_eq!(
        js.publish("orders.1", "hello").await,
        json!({"stream": "ORDERS", "seq": 1})
    );
    assert_eq!(
        js.publish("orders.2", "x").await,
        json!({"stream": "ORDERS", "seq": 2})
    );
    let info = js.request("$JS.API.STREAM.INFO.ORDERS", Value::Null).await;
    assert_eq!(info["state"]["messages"], 2);
    // nats-server's file-store sizes: 22 + subject + payload + 8.
    assert_eq!(info["state"]["bytes"], (22 + 8 + 5 + 8) + (22 + 8 + 1 + 8));
    assert_eq!(info["cluster"]["leader"], js.handle.server().name.as_str());

    let got = js
        .request("$JS.API.STREAM.MSG.GET.ORDERS", json!({"seq": 1}))
        .await;
    assert_eq!(got["message"]["subject"], "orders.1");
    assert_eq!(got["message"]["data"], "aGVsbG8=");
    let missing = js
        .request("$JS.API.STREAM.MSG.GET.ORDERS", json!({"seq": 9}))
        .await;
    assert_eq!(missing["error"]["err_code"], 10037);

    let overlap = js
        .request(
            "$JS.API.STREAM.CREATE.X",
            json!({"name": "X", "subjects": ["orders.1"]}),
        )
        .await;
    assert_eq!(
        overlap["error"],
        json!({"code": 400, "err_code": 10065, "description": "subjects overlap with an existing stream"})
    );
    js.handle.shutdown().await;
}

#[tokio::test]
async fn expected_headers_and_duplicates_are_answered_as_nats_server_does() {
    let js = start().await;
    js.request(
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.*"]}),
    )
    .await;
    let send = |headers: &[(&str, &str)], subject: &'static str| {
        let mut map = async_nats::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, *v);
        }
        let client = js.client.clone();
        async move {
            let reply = client
                .request_with_headers(subject, map, "x".into())
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&reply.payload).unwrap()
        }
    };
    assert_eq!(send(&[("Nats-Msg-Id", "a")], "s.a").await["seq"], 1);
    let dup = send(&[("Nats-Msg-Id", "a")], "s.a").await;
    assert_eq!(dup, json!({"stream": "S", "seq": 1, "duplicate": true}));
    let wrong = send(&[("Nats-Expected-Last-Sequence", "7")], "s.b").await;
    assert_eq!(wrong["error"]["description"], "wrong last sequence: 1");
    assert_eq!(wrong["seq"], 0);
    let wrong_stream = send(&[("Nats-Expected-Stream", "T")], "s.b").await;
    assert_eq!(wrong_stream["error"]["err_code"], 10060);
    let subj = send(&[("Nats-Expected-Last-Subject-Sequence", "0")], "s.b").await;
    assert_eq!(subj["seq"], 2);
    let subj_wrong = send(&[("Nats-Expected-Last-Subject-Sequence", "0")], "s.b").await;
    assert_eq!(subj_wrong["error"]["description"], "wrong last sequence: 2");
    let last_id = send(&[("Nats-Expected-Last-Msg-Id", "zzz")], "s.c").await;
    assert_eq!(last_id["error"]["description"], "wrong last msg ID: ");
    let ttl = send(&[("Nats-TTL", "5s")], "s.c").await;
    assert_eq!(ttl["error"]["err_code"], 10166);
    js.handle.shutdown().await;
}

#[tokio::test]
async fn discard_policies_keep_streams_within_their_limits() {
    let js = start().await;
    js.request(
        "$JS.API.STREAM.CREATE.OLD",
        json!({"name": "OLD", "subjects": ["old"], "max_msgs": 2}),
    )
    .await;
    for _ in 0..4 {
        js.publish("old", "m").await;
    }
    let info = js.request("$JS.API.STREAM.INFO.OLD", Value::Null).await;
    assert_eq!(info["state"]["messages"], 2);
    assert_eq!(info["state"]["first_seq"], 3);

    js.request(
        "$JS.API.STREAM.CREATE.NEW",
        json!({"name": "NEW", "subjects": ["new"], "max_msgs": 1, "discard": "new"}),
    )
    .await;
    assert_eq!(js.publish("new", "m").await["seq"], 1);
    let refused = js.publish("new", "m").await;
    assert_eq!(
        refused["error"],
        json!({"code": 503, "err_code": 10077, "description": "maximum messages exceeded"})
    );

    js.request(
        "$JS.API.STREAM.CREATE.KV",
        json!({"name": "KV", "subjects": ["kv.>"], "max_msgs_per_subject": 1}),
    )
    .await;
    for key in ["kv.a", "kv.a", "kv.b"] {
        js.publish(key, "v").await;
    }
    let info = js
        .request("$JS.API.STREAM.INFO.KV", json!({"subjects_filter": ">"}))
        .await;
    assert_eq!(info["state"]["subjects"], json!({"kv.a": 1, "kv.b": 1}));
    assert_eq!(info["total"], 2);
    js.handle.shutdown().await;
}

#[tokio::test]
async fn streams_come_back_after_a_restart_with_their_messages() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (handle, client) =
            start_in(dir.path(), SyncPolicy::Interval(Duration::from_secs(60))).await;
        let js = Js {
            handle,
            client,
            _dir: None,
        };
        js.request(
            "$JS.API.STREAM.CREATE.R",
            json!({"name": "R", "subjects": ["r.>"]}),
        )
        .await;
        js.publish("r.1", "one").await;
        js.publish("r.2", "two").await;
        js.request("$JS.API.STREAM.MSG.DELETE.R", json!({"seq": 1}))
            .await;
        js.handle.shutdown().await;
    }
    let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
    let js = Js {
        handle,
        client,
        _dir: None,
    };
    let info = js.request("$JS.API.STREAM.INFO.R", Value::Null).await;
    assert_eq!(info["config"]["subjects"], json!(["r.>"]));
    assert_eq!(info["state"]["messages"], 1);
    assert_eq!(info["state"]["last_seq"], 2);
    assert_eq!(js.publish("r.3", "three").await["seq"], 3);
    js.handle.shutdown().await;
}

#[tokio::test]
async fn direct_get_answers_only_streams_that_allow_it() {
    let js = start().await;
    js.request(
        "$JS.API.STREAM.CREATE.D",
        json!({"name": "D", "subjects": ["d.>"], "allow_direct": true}),
    )
    .await;
    js.request(
        "$JS.API.STREAM.CREATE.N",
        json!({"name": "N", "subjects": ["n"]}),
    )
    .await;
    js.publish("d.k", "v1").await;
    js.publish("d.k", "v2").await;
    let got = js
        .client
        .request("$JS.API.DIRECT.GET.D.d.k", "".into())
        .await
        .unwrap();
    assert_eq!(&got.payload[..], b"v2");
    let h = got.headers.unwrap();
    assert_eq!(h.get("Nats-Sequence").unwrap().as_str(), "2");
    assert_eq!(h.get("Nats-Stream").unwrap().as_str(), "D");
    let none = js
        .client
        .request("$JS.API.DIRECT.GET.N", r#"{"seq":1}"#.into())
        .await;
    assert!(
        none.is_err(),
        "no responders for a stream without direct get"
    );
    js.handle.shutdown().await;
}

#[tokio::test]
async fn a_stopped_broker_leaves_its_store_alone() {
    let js = start().await;
    js.request(
        "$JS.API.STREAM.CREATE.AGE",
        json!({"name": "AGE", "subjects": ["age"], "max_age": 300_000_000}),
    )
    .await;
    js.publish("age", "old").await;
    let server = js.handle.server().clone();
    let jetstream = JetStream::of(&server).expect("JetStream runs");
    js.handle.shutdown().await;
    // Expiry would remove the message after 300 ms; a stopped JetStream no longer writes,
    // so a broker started next on the same store is its only writer.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stream = jetstream.account("$G").unwrap().stream("AGE").unwrap();
    assert_eq!(stream.state().msgs, 1);
}

/// Asks for a stream's info until `done` holds (mirrors and sources copy in the background).
async fn info_when(js: &Js, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = js
            .request(
                &format!("$JS.API.STREAM.INFO.{name}"),
                json!({"deleted_details": true}),
            )
            .await;
        if done(&info) || std::time::Instant::now() > deadline {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get(js: &Js, stream: &str, seq: u64) -> Value {
    js.request(
        &format!("$JS.API.STREAM.MSG.GET.{stream}"),
        json!({ "seq": seq }),
    )
    .await["message"]
        .clone()
}

fn header_block(msg: &Value) -> String {
    use base64::Engine;
    let b64 = msg["hdrs"].as_str().unwrap_or_default();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    String::from_utf8(raw).unwrap()
}

#[tokio::test]
async fn a_subject_transform_stores_under_the_new_subject_and_republish_follows_it() {
    let js = start().await;
    let created = js
        .request(
            "$JS.API.STREAM.CREATE.T",
            json!({"name": "T", "subjects": ["in.*"],
                   "subject_transform": {"src": "in.*", "dest": "out.$1"},
                   "republish": {"src": "out.*", "dest": "rp.$1", "headers_only": true}}),
        )
        .await;
    assert!(created["error"].is_null(), "{created}");
    let mut sub = js.client.subscribe("rp.>").await.unwrap();
    js.client.flush().await.unwrap();
    assert_eq!(js.publish("in.a", "hello").await["seq"], 1);
    assert_eq!(get(&js, "T", 1).await["subject"], "out.a");
    let republished = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(republished.subject.as_str(), "rp.a");
    assert!(republished.payload.is_empty());
    let h = republished.headers.unwrap();
    assert_eq!(h.get("Nats-Stream").unwrap().as_str(), "T");
    assert_eq!(h.get("Nats-Subject").unwrap().as_str(), "out.a");
    assert_eq!(h.get("Nats-Sequence").unwrap().as_str(), "1");
    assert_eq!(h.get("Nats-Last-Sequence").unwrap().as_str(), "0");
    assert_eq!(h.get("Nats-Msg-Size").unwrap().as_str(), "5");
    let cycle = js
        .request(
            "$JS.API.STREAM.CREATE.C",
            json!({"name": "C", "subjects": ["c.>"], "republish": {"dest": "c.x"}}),
        )
        .await;
    assert_eq!(
        cycle["error"]["description"],
        "stream configuration for republish destination forms a cycle"
    );
    js.handle.shutdown().await;
}

#[tokio::test]
async fn a_mirror_keeps_its_origins_sequences_and_follows_it_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
        let js = Js {
            handle,
            client,
            _dir: None,
        };
        // The origin does not exist yet: the mirror waits for it.
        let m = js
            .request(
                "$JS.API.STREAM.CREATE.M",
                json!({"name": "M", "mirror": {"name": "O"}}),
            )
            .await;
        assert_eq!(m["mirror"], json!({"name": "O", "lag": 0, "active": -1}));
        assert!(
            m["config"]["subjects"].is_null(),
            "a mirror has no subjects"
        );
        js.request(
            "$JS.API.STREAM.CREATE.O",
            json!({"name": "O", "subjects": ["o.>"]}),
        )
        .await;
        for body in ["1", "2", "3"] {
            js.publish("o.x", body).await;
        }
        let info = info_when(&js, "M", |i| i["state"]["last_seq"] == 3).await;
        assert_eq!(info["state"]["last_seq"], 3);
        let o = get(&js, "O", 3).await;
        assert_eq!(
            get(&js, "M", 3).await["time"],
            o["time"],
            "the origin's time"
        );
        js.handle.shutdown().await;
    }
    let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
    let js = Js {
        handle,
        client,
        _dir: None,
    };
    js.publish("o.y", "4").await;
    let info = info_when(&js, "M", |i| i["state"]["last_seq"] == 4).await;
    assert_eq!(info["state"]["messages"], 4, "{info}");
    assert_eq!(get(&js, "M", 4).await["subject"], "o.y");
    assert!(info["mirror"]["active"].as_i64().unwrap() >= 0);
    let refused = js
        .request(
            "$JS.API.STREAM.UPDATE.M",
            json!({"name": "M", "mirror": {"name": "X"}}),
        )
        .await;
    assert_eq!(refused["error"]["err_code"], 10055);
    js.handle.shutdown().await;
}

#[tokio::test]
async fn a_mirror_with_a_filter_leaves_gaps_and_starts_where_asked() {
    let js = start().await;
    js.request(
        "$JS.API.STREAM.CREATE.O",
        json!({"name": "O", "subjects": ["o.>"], "storage": "memory"}),
    )
    .await;
    for subject in ["o.a", "o.b", "o.a", "o.b", "o.a"] {
        js.publish(subject, "x").await;
    }
    js.request(
        "$JS.API.STREAM.CREATE.M",
        json!({"name": "M", "storage": "memory",
               "mirror": {"name": "O", "opt_start_seq": 2,
                          "subject_transforms": [{"src": "o.a", "dest": "m.a"}]}}),
    )
    .await;
    let info = info_when(&js, "M", |i| i["state"]["last_seq"] == 5).await;
    assert_eq!(info["state"]["first_seq"], 3, "{info}");
    assert_eq!(info["state"]["messages"], 2);
    assert_eq!(info["state"]["deleted"], json!([4]));
    assert_eq!(get(&js, "M", 5).await["subject"], "m.a");
    js.handle.shutdown().await;
}

#[tokio::test]
async fn sources_append_with_nats_servers_header_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first_header;
    {
        let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
        let js = Js {
            handle,
            client,
            _dir: None,
        };
        js.request(
            "$JS.API.STREAM.CREATE.O",
            json!({"name": "O", "subjects": ["o.>"]}),
        )
        .await;
        js.publish("o.a", "1").await;
        js.publish("o.b", "2").await;
        let s = js
            .request(
                "$JS.API.STREAM.CREATE.S",
                json!({"name": "S", "subjects": ["s"],
                       "sources": [{"name": "O", "filter_subject": "o.b"}]}),
            )
            .await;
        assert_eq!(
            s["sources"],
            json!([{"name": "O", "lag": 0, "active": -1, "filter_subject": "o.b"}])
        );
        js.publish("s", "own").await;
        js.publish("o.b", "3").await;
        let info = info_when(&js, "S", |i| i["state"]["messages"] == 3).await;
        assert_eq!(info["sources"][0]["seq"], 3, "{info}");
        let created = js.request("$JS.API.STREAM.INFO.O", Value::Null).await["created"]
            .as_str()
            .unwrap()
            .to_string();
        let ident = source::ident(time::parse(&created).unwrap());
        let sourced: Vec<Value> = [
            get(&js, "S", 1).await,
            get(&js, "S", 2).await,
            get(&js, "S", 3).await,
        ]
        .into_iter()
        .filter(|m| m["subject"] == "o.b")
        .collect();
        first_header = header_block(&sourced[0]);
        assert_eq!(
            first_header,
            format!("NATS/1.0\r\nNats-Stream-Source: O 2 o.b > o.b {ident}\r\n\r\n")
        );
        // S reads only o.b, which its own subjects cannot feed back: no cycle. A stream
        // reading all of O would make one.
        js.request(
            "$JS.API.STREAM.CREATE.S2",
            json!({"name": "S2", "subjects": ["s2"], "sources": [{"name": "O"}]}),
        )
        .await;
        let update =
            |with: &str| json!({"name": "O", "subjects": ["o.>"], "sources": [{"name": with}]});
        let cycle = js.request("$JS.API.STREAM.UPDATE.O", update("S2")).await;
        assert_eq!(cycle["error"]["description"], "detected cycle");
        js.request("$JS.API.STREAM.DELETE.S2", Value::Null).await;
        js.handle.shutdown().await;
    }
    let (handle, client) = start_in(dir.path(), SyncPolicy::Always).await;
    let js = Js {
        handle,
        client,
        _dir: None,
    };
    js.publish("o.b", "4").await;
    let info = info_when(&js, "S", |i| i["state"]["messages"] == 4).await;
    assert_eq!(
        info["state"]["messages"], 4,
        "nothing sourced twice: {info}"
    );
    assert_eq!(get(&js, "S", 4).await["data"], "NA==");
    js.request("$JS.API.STREAM.DELETE.O", Value::Null).await;
    js.request("$JS.API.STREAM.DELETE.S", Value::Null).await;
    js.handle.shutdown().await;
}
