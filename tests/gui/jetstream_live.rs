//! The JetStream views (Streams, Consumers, KV buckets) against a real broker: the
//! embedded broker with a real async-nats JetStream client making a stream, a consumer and
//! a KV bucket, and the window browsing them through its own client; and the views'
//! requests against each target (switchboard and nats-server). The synthetic-world tests
//! are in `jetstream.rs`.

use crate::jetstream::shows;
use crate::support;

use std::time::{Duration, SystemTime};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

use crate::gui::{cell, click, go, has, has_containing, settle, type_into, wait_until};

use switchboard::broker::BrokerHandle;
use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::jetstream_client::{JsClient, JsReply, JsRequest};
use switchboard::gui::model::jetstream::KvOperation;
use switchboard::gui::{GuiContext, Source};
use switchboard::options::{JetStreamOptions, Options};
use switchboard::remote::jetstream::MsgQuery;

/// The embedded broker with JetStream, a real JetStream client's stream, consumer and KV
/// bucket, and the window showing them, a message browsed by sequence and a value read
/// through the window's own client.
#[test]
fn live_streams_consumers_and_kv_of_the_embedded_broker() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = tempfile::tempdir().unwrap();
    let opts = Options {
        host: "127.0.0.1".into(),
        port: 0,
        jetstream: Some(JetStreamOptions {
            store_dir: Some(store.path().to_path_buf()),
            max_memory: Some(64 << 20),
            max_store: Some(256 << 20),
            ..Default::default()
        }),
        ..Options::default()
    };
    let broker = runtime.block_on(async {
        let bound = BrokerHandle::bind(opts).await.unwrap();
        switchboard::jetstream::enable(bound.server()).unwrap();
        bound.accept()
    });
    let url = format!("nats://{}", broker.local_addr());
    let (feed, control) = runtime
        .block_on(async { switchboard::embedded::attach(broker.server().clone(), None) })
        .unwrap();
    let ctx = GuiContext {
        source: Source {
            feed,
            control,
            client: ConnectArgs::url(&url),
            label: "embedded broker".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::new(&cc.egui_ctx, ctx));

    // A real client: a stream with three messages, a pull consumer, a KV bucket.
    let between: std::sync::Mutex<Option<SystemTime>> = std::sync::Mutex::new(None);
    let client = runtime.block_on(support::clients::connect_named(&url, "js-app"));
    let _in_runtime = runtime.enter();
    let js = async_nats::jetstream::new(client.clone());
    runtime.block_on(async {
        let stream = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for (subject, body) in [
            ("orders.eu.created", r#"{"id":1}"#),
            ("orders.us.created", r#"{"id":2}"#),
            ("orders.eu.shipped", r#"{"id":1,"by":"dhl"}"#),
        ] {
            if subject == "orders.eu.shipped" {
                // A time between the second message and the third, for "From time".
                tokio::time::sleep(Duration::from_millis(30)).await;
                *between.lock().unwrap() = Some(SystemTime::now());
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            js.publish(subject, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("dispatch".into()),
                filter_subject: "orders.eu.>".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let kv = js
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: "settings".into(),
                history: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        kv.put("theme", "dark".into()).await.unwrap();
        kv.put("theme", "solarized".into()).await.unwrap();
    });

    go(&mut harness, "Streams");
    wait_until(&mut harness, "the streams in the table", |h| {
        has(h, "ORDERS") && has(h, "KV_settings")
    });
    assert_eq!(cell(&harness, "ORDERS", "Messages"), "3");
    assert_eq!(cell(&harness, "ORDERS", "Consumers"), "1");
    harness.get_by_label("ORDERS").click();
    settle(&mut harness);
    type_into(&mut harness, "Sequence", "2");
    click(&mut harness, "Get");
    wait_until(&mut harness, "message 2 browsed", |h| {
        has(h, "orders.us.created")
    });
    assert!(shows(&harness, "\"id\": 2"));

    // The first message at or after a time between the second and the third.
    let between = between
        .lock()
        .unwrap()
        .expect("a time between the messages");
    type_into(
        &mut harness,
        "From time",
        &switchboard::remote::jetstream::rfc3339(between),
    );
    click(&mut harness, "Find");
    wait_until(&mut harness, "the message after the time", |h| {
        has(h, "orders.eu.shipped")
    });
    assert!(shows(&harness, "\"by\": \"dhl\""));

    go(&mut harness, "Consumers");
    assert!(has(&harness, "dispatch"));
    assert_eq!(cell(&harness, "dispatch", "Filter subjects"), "orders.eu.>");
    assert_eq!(cell(&harness, "dispatch", "Pending"), "2");
    assert_eq!(cell(&harness, "dispatch", "Status"), "no pull waiting");

    go(&mut harness, "KV buckets");
    wait_until(&mut harness, "the key and its value", |h| {
        has(h, "theme") && has(h, "solarized")
    });
    assert_eq!(cell(&harness, "theme", "Revision"), "2");

    // A put from the form is seen by the real client.
    type_into(&mut harness, "Key name", "lang");
    type_into(&mut harness, "New value", "en-GB");
    click(&mut harness, "Put");
    wait_until(&mut harness, "the put acknowledged", |h| {
        has_containing(h, "put lang: revision")
    });
    let value = runtime.block_on(async {
        let kv = js.get_key_value("settings").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), kv.get("lang"))
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(value.as_deref(), Some(&b"en-GB"[..]));
    wait_until(&mut harness, "the new key listed", |h| has(h, "en-GB"));

    // Watch: a put and a delete by the real client come as they are stored.
    let watch_consumers = || -> usize {
        runtime.block_on(async {
            let reply = tokio::time::timeout(
                Duration::from_secs(5),
                client.request("$JS.API.CONSUMER.NAMES.KV_settings", "".into()),
            )
            .await
            .unwrap()
            .unwrap();
            String::from_utf8_lossy(&reply.payload)
                .matches("switchboard-watch-")
                .count()
        })
    };
    harness.get_by_label("Watch").click();
    wait_until(&mut harness, "the watch started", |h| {
        has_containing(h, "watching settings since")
    });
    assert_eq!(watch_consumers(), 1, "the watch's consumer");
    let kv = runtime.block_on(js.get_key_value("settings")).unwrap();
    runtime.block_on(kv.put("color", "teal-42".into())).unwrap();
    wait_until(&mut harness, "the put seen by the watch", |h| {
        has(h, "1 change") && has(h, "color")
    });
    assert!(has(&harness, "teal-42"), "its value");
    let listed = harness.state().jetstream.kv.keys.clone().unwrap().0;
    assert!(
        listed
            .iter()
            .any(|e| e.key == "color" && e.value == b"teal-42" && e.operation == KvOperation::Put),
        "the key list has it: {listed:?}"
    );
    runtime.block_on(kv.delete("color")).unwrap();
    wait_until(&mut harness, "the delete seen by the watch", |h| {
        has(h, "2 changes") && has(h, "deleted")
    });

    // Off: the consumer goes; on again, then another view: it goes too.
    harness.get_by_label("Watch").click();
    settle(&mut harness);
    support::wait_until(
        "the watch's consumer deleted",
        Duration::from_secs(10),
        || watch_consumers() == 0,
    );
    assert!(has(&harness, "stopped watching"));
    harness.get_by_label("Watch").click();
    wait_until(&mut harness, "the watch started again", |h| {
        has_containing(h, "watching settings since")
    });
    assert_eq!(watch_consumers(), 1);
    go(&mut harness, "Streams");
    settle(&mut harness);
    support::wait_until(
        "the watch's consumer deleted with the view",
        Duration::from_secs(10),
        || watch_consumers() == 0,
    );

    drop(harness);
    runtime.block_on(broker.shutdown());
}

/// Sends `request` through the views' client and waits (bounded) for its answer.
fn ask(client: &mut JsClient, request: JsRequest) -> Result<JsReply, String> {
    let id = client.send(request.clone()).unwrap();
    let answer = support::wait_for(
        "the JetStream client's answer",
        Duration::from_secs(10),
        || client.poll().into_iter().find(|a| a.id == id),
    );
    assert_eq!(answer.request, request);
    answer.result
}

/// What the views read through the `$JS.API` (the streams' poll of a remote deployment,
/// and every request of the views' client) against each target: switchboard, and the
/// reference nats-server when `NATS_SERVER_BIN` is set, so that the JSON is read as
/// nats-server writes it.
#[test]
fn the_views_requests_work_against_each_target() {
    for target in support::selected_targets() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().to_str().unwrap();
        let server = support::Server::start_opts(
            &target,
            &support::ServerOpts::new().args(&["-js", "-sd", store]),
        );
        let url = server.url();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let _in_runtime = runtime.enter();
        let client = runtime.block_on(support::clients::connect_named(&url, "js-app"));
        let js = async_nats::jetstream::new(client.clone());
        // A time between the bucket's second revision and its third.
        let mid: std::sync::Mutex<Option<SystemTime>> = std::sync::Mutex::new(None);
        let inventory = runtime.block_on(async {
            let stream = js
                .create_stream(async_nats::jetstream::stream::Config {
                    name: "ORDERS".into(),
                    subjects: vec!["orders.>".into()],
                    max_messages_per_subject: 100,
                    storage: async_nats::jetstream::stream::StorageType::Memory,
                    ..Default::default()
                })
                .await
                .unwrap();
            for (subject, body) in [
                ("orders.eu", "one"),
                ("orders.us", "two"),
                ("orders.eu", "three"),
            ] {
                js.publish(subject, body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
            stream
                .create_consumer(async_nats::jetstream::consumer::push::Config {
                    durable_name: Some("audit".into()),
                    deliver_subject: "deliver.audit".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let kv = js
                .create_key_value(async_nats::jetstream::kv::Config {
                    bucket: "settings".into(),
                    history: 5,
                    ..Default::default()
                })
                .await
                .unwrap();
            kv.put("theme", "dark".into()).await.unwrap();
            kv.put("theme", "light".into()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            *mid.lock().unwrap() = Some(SystemTime::now());
            tokio::time::sleep(Duration::from_millis(30)).await;
            kv.put("old", "x".into()).await.unwrap();
            kv.delete("old").await.unwrap();
            let objects = js
                .create_object_store(async_nats::jetstream::object_store::Config {
                    bucket: "reports".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            objects
                .put("q3.csv", &mut &[7u8; 300_000][..])
                .await
                .unwrap();
            switchboard::remote::jetstream::read_inventory(&client, 10, 10).await
        });

        // The poll of a remote deployment.
        assert_eq!(inventory.error, None, "[{target}]");
        let names: Vec<&str> = inventory.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["KV_settings", "OBJ_reports", "ORDERS"],
            "[{target}]"
        );
        let orders = &inventory.streams[2];
        assert_eq!(
            (orders.messages, orders.last_seq, orders.storage.as_str()),
            (3, 3, "memory"),
            "[{target}]"
        );
        assert_eq!(
            (orders.max_msgs_per_subject, orders.subjects.clone()),
            (100, vec!["orders.>".to_string()]),
            "[{target}]"
        );
        assert_eq!(orders.consumers.len(), 1, "[{target}] {inventory:#?}");
        let audit = &orders.consumers[0];
        assert_eq!(audit.name, "audit", "[{target}]");
        assert!(
            audit.durable && audit.is_push() && !audit.push_bound,
            "[{target}]"
        );
        assert_eq!(audit.num_pending, 3, "[{target}]");
        assert_eq!(
            switchboard::gui::model::jetstream::stall(audit, SystemTime::now()),
            Some(switchboard::gui::model::jetstream::Stall::NoSubscriber),
            "[{target}]"
        );

        // The views' requests.
        let mut views = JsClient::spawn(ConnectArgs::url(&url), runtime.handle(), || {});
        let Ok(JsReply::Message(m)) = ask(
            &mut views,
            JsRequest::Message {
                stream: "ORDERS".into(),
                query: MsgQuery::Seq(2),
            },
        ) else {
            panic!("[{target}] message 2");
        };
        assert_eq!(
            (m.subject.as_str(), &m.payload[..]),
            ("orders.us", &b"two"[..])
        );
        let Ok(JsReply::Message(m)) = ask(
            &mut views,
            JsRequest::Message {
                stream: "ORDERS".into(),
                query: MsgQuery::LastBySubject("orders.eu".into()),
            },
        ) else {
            panic!("[{target}] the last on orders.eu");
        };
        assert_eq!((m.seq, &m.payload[..]), (3, &b"three"[..]), "[{target}]");
        let missing = ask(
            &mut views,
            JsRequest::Message {
                stream: "ORDERS".into(),
                query: MsgQuery::Seq(99),
            },
        );
        assert!(
            missing
                .as_ref()
                .is_err_and(|e| e.contains("no message found")),
            "[{target}] {missing:?}"
        );
        assert_eq!(
            ask(
                &mut views,
                JsRequest::Subjects {
                    stream: "ORDERS".into()
                }
            ),
            Ok(JsReply::Subjects(
                vec![("orders.eu".into(), 2), ("orders.us".into(), 1)],
                2
            )),
            "[{target}]"
        );

        let Ok(JsReply::KvKeys(keys, total)) = ask(
            &mut views,
            JsRequest::KvKeys {
                bucket: "settings".into(),
            },
        ) else {
            panic!("[{target}] the keys");
        };
        let keys: Vec<(&str, KvOperation, &[u8])> = keys
            .iter()
            .map(|e| (e.key.as_str(), e.operation, &e.value[..]))
            .collect();
        assert_eq!(
            keys,
            [
                ("old", KvOperation::Delete, &b""[..]),
                ("theme", KvOperation::Put, &b"light"[..])
            ],
            "[{target}]"
        );
        assert_eq!(total, 2, "[{target}]");
        let Ok(JsReply::KvHistory(history)) = ask(
            &mut views,
            JsRequest::KvHistory {
                bucket: "settings".into(),
                key: "theme".into(),
            },
        ) else {
            panic!("[{target}] the history");
        };
        let values: Vec<&[u8]> = history.iter().map(|e| &e.value[..]).collect();
        assert_eq!(values, [&b"dark"[..], &b"light"[..]], "[{target}]");

        // From a time: by direct get (a KV stream allows it), by STREAM.MSG.GET, and by
        // direct get asked of a stream without it (nobody answers: STREAM.MSG.GET does).
        let mid = mid.lock().unwrap().expect("a time between two revisions");
        let from =
            |stream: &str, start: SystemTime, subject: &str, direct: bool| JsRequest::Message {
                stream: stream.into(),
                query: MsgQuery::FromTime {
                    start,
                    subject: subject.into(),
                    direct,
                },
            };
        for direct in [true, false] {
            let found = ask(&mut views, from("KV_settings", mid, ">", direct));
            let Ok(JsReply::Message(m)) = &found else {
                panic!("[{target}] direct {direct}: {found:?}");
            };
            assert_eq!(
                (m.seq, m.subject.as_str(), &m.payload[..]),
                (3, "$KV.settings.old", &b"x"[..]),
                "[{target}] direct {direct}"
            );
            assert!(
                m.time.is_some_and(|t| t >= mid),
                "[{target}] stored after the time"
            );
            let none = ask(
                &mut views,
                from("KV_settings", mid, "$KV.settings.theme", direct),
            );
            assert!(
                none.as_ref().is_err_and(|e| e.contains("no message found")),
                "[{target}] no revision of theme after the time, direct {direct}: {none:?}"
            );
        }
        let Ok(JsReply::Message(m)) = ask(
            &mut views,
            from(
                "ORDERS",
                SystemTime::now() - Duration::from_secs(3600),
                ">",
                true,
            ),
        ) else {
            panic!("[{target}] ORDERS from an hour ago");
        };
        assert_eq!((m.seq, &m.payload[..]), (1, &b"one"[..]), "[{target}]");
        let later = ask(
            &mut views,
            from(
                "ORDERS",
                SystemTime::now() + Duration::from_secs(3600),
                ">",
                false,
            ),
        );
        assert!(
            later
                .as_ref()
                .is_err_and(|e| e.contains("no message found")),
            "[{target}] {later:?}"
        );
        let put = ask(
            &mut views,
            JsRequest::KvPut {
                bucket: "settings".into(),
                key: "lang".into(),
                value: b"en".to_vec(),
            },
        );
        assert!(
            matches!(&put, Ok(JsReply::Done(t)) if t.starts_with("put lang: revision")),
            "[{target}] {put:?}"
        );
        let seen = runtime.block_on(async {
            let kv = js.get_key_value("settings").await.unwrap();
            kv.get("lang").await.unwrap()
        });
        assert_eq!(seen.as_deref(), Some(&b"en"[..]), "[{target}]");

        let Ok(JsReply::Objects(objects, 1)) = ask(
            &mut views,
            JsRequest::Objects {
                bucket: "reports".into(),
            },
        ) else {
            panic!("[{target}] the objects");
        };
        assert_eq!(objects[0].name, "q3.csv", "[{target}]");
        assert_eq!(objects[0].size, 300_000, "[{target}]");
        assert!(objects[0].chunks >= 2, "[{target}] {:?}", objects[0]);

        assert_eq!(
            ask(
                &mut views,
                JsRequest::Purge {
                    stream: "ORDERS".into(),
                    filter: Some("orders.eu".into())
                }
            ),
            Ok(JsReply::Done("purged 2 messages".into())),
            "[{target}]"
        );
        assert_eq!(
            ask(
                &mut views,
                JsRequest::DeleteMessage {
                    stream: "ORDERS".into(),
                    seq: 2
                }
            ),
            Ok(JsReply::Done("deleted message 2".into())),
            "[{target}]"
        );
        assert_eq!(
            ask(
                &mut views,
                JsRequest::DeleteStream {
                    stream: "ORDERS".into()
                }
            ),
            Ok(JsReply::Done("deleted stream ORDERS".into())),
            "[{target}]"
        );
        drop(views);
        drop(server);
    }
}
