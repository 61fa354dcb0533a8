#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

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
