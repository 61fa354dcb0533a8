//! The JetStream views (Streams, Consumers, KV buckets) with egui_kittest: first on the
//! synthetic world, with a stand-in for the views' client that records each request and
//! answers it by hand; then against the embedded broker with a real async-nats JetStream
//! client making a stream, a consumer and a KV bucket, and the window browsing them through
//! its own client.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;

use crate::gui::{cell, click, go, has, has_containing, settle, type_into, wait_until};

use switchboard::broker::BrokerHandle;
use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::client::NatsClient;
use switchboard::gui::jetstream_client::{
    JsAnswer, JsClient, JsReply, JsRequest, WatchEvent, WatchFeed,
};
use switchboard::gui::model::jetstream::{KvEntry, KvOperation};
use switchboard::gui::synthetic::{SyntheticControl, SyntheticWorld};
use switchboard::gui::{GuiContext, Source};
use switchboard::inspect::feed::{self, FeedPublisher};
use switchboard::options::{JetStreamOptions, Options};
use switchboard::remote::jetstream::{MsgQuery, StoredMessage};

struct Rig {
    harness: Harness<'static, InspectorApp>,
    publisher: FeedPublisher,
    control: Arc<SyntheticControl>,
    world: SyntheticWorld,
    requests: tokio::sync::mpsc::Receiver<(u64, JsRequest)>,
    answers: crossbeam_channel::Sender<JsAnswer>,
    watches: tokio::sync::mpsc::Receiver<WatchFeed>,
    _runtime: tokio::runtime::Runtime,
}

/// The window on the synthetic world, its JetStream client replaced by a stand-in.
fn rig() -> Rig {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (publisher, feed) = feed::channel(1024);
    let control = Arc::new(SyntheticControl::new());
    let (client, _sent, _outcomes) = NatsClient::detached();
    let ctx = GuiContext {
        source: Source {
            feed,
            control: control.clone(),
            client: ConnectArgs::url("nats://127.0.0.1:4222"),
            label: "test".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::with_client(&cc.egui_ctx, ctx, client));
    let detached = JsClient::detached();
    harness.state_mut().jetstream.client = detached.client;
    let (requests, answers, watches) = (detached.requests, detached.answers, detached.watches);
    let mut world = SyntheticWorld::default();
    for _ in 0..4 {
        world.step(Duration::from_millis(250), &publisher, &control);
    }
    settle(&mut harness);
    Rig {
        harness,
        publisher,
        control,
        world,
        requests,
        answers,
        watches,
        _runtime: runtime,
    }
}

impl Rig {
    fn tick(&mut self) {
        self.world
            .step(Duration::from_millis(250), &self.publisher, &self.control);
        settle(&mut self.harness);
    }

    /// The request the window sent last (it must have sent one).
    #[track_caller]
    fn request(&mut self) -> (u64, JsRequest) {
        let mut last = None;
        while let Ok(r) = self.requests.try_recv() {
            last = Some(r);
        }
        last.expect("the window sent a JetStream request")
    }

    fn answer(&mut self, (id, request): (u64, JsRequest), result: Result<JsReply, String>) {
        self.answers
            .send(JsAnswer {
                id,
                request,
                result,
            })
            .unwrap();
        settle(&mut self.harness);
    }
}

/// Whether a widget's value (the text of a text box) contains `text`.
fn shows<S>(harness: &Harness<'_, S>, text: &str) -> bool {
    harness
        .query_all(
            egui_kittest::kittest::by().predicate(|n| n.value().is_some_and(|v| v.contains(text))),
        )
        .next()
        .is_some()
}

fn entry(key: &str, revision: u64, value: &str) -> KvEntry {
    KvEntry {
        key: key.into(),
        revision,
        time: Some(SystemTime::now() - Duration::from_secs(30)),
        operation: KvOperation::Put,
        value: value.as_bytes().to_vec(),
    }
}

#[test]
fn streams_are_listed_browsed_and_purged_with_confirmation() {
    let mut rig = rig();
    assert!(
        has(&rig.harness, "Browse 6 streams"),
        "the Overview links to the streams"
    );
    rig.harness.get_by_label("Browse 6 streams").click();
    settle(&mut rig.harness);
    for stream in ["AUDIT", "KV_config", "OBJ_reports", "ORDERS", "TELEMETRY"] {
        assert!(has(&rig.harness, stream), "Streams lists {stream}");
    }
    assert_eq!(cell(&rig.harness, "TELEMETRY", "Storage"), "memory, limits");
    assert_eq!(cell(&rig.harness, "ORDERS", "Consumers"), "3");

    // The filter keeps the streams whose subjects match.
    type_into(&mut rig.harness, "Filter", "telemetry.");
    assert!(has(&rig.harness, "TELEMETRY") && !has(&rig.harness, "ORDERS"));
    click(&mut rig.harness, "Clear");

    rig.harness.get_by_label("ORDERS").click();
    rig.tick();
    assert!(has(
        &rig.harness,
        "Every order event, for billing and shipping"
    ));
    assert!(has(&rig.harness, "8.0 GiB, age 30d 00h"), "its limits");

    // Browse: the last message, then the one before it.
    click(&mut rig.harness, "Last");
    let asked = rig.request();
    assert_eq!(
        asked.1,
        JsRequest::Message {
            stream: "ORDERS".into(),
            query: MsgQuery::LastBySubject(">".into())
        }
    );
    rig.answer(
        asked,
        Ok(JsReply::Message(StoredMessage {
            subject: "orders.eu.created".into(),
            seq: 1_234_567,
            time: Some(SystemTime::now()),
            headers: Some(b"NATS/1.0\r\nNats-Msg-Id: ord-48213\r\n\r\n".to_vec()),
            payload: br#"{"order_id":48213,"region":"eu"}"#.to_vec(),
        })),
    );
    assert!(has(&rig.harness, "1234567"), "the message's sequence");
    assert!(has(&rig.harness, "orders.eu.created"));
    assert!(has(&rig.harness, "Nats-Msg-Id") && has(&rig.harness, "ord-48213"));
    assert!(
        shows(&rig.harness, "\"order_id\": 48213"),
        "the payload as JSON"
    );
    click(&mut rig.harness, "Previous");
    assert_eq!(
        rig.request().1,
        JsRequest::Message {
            stream: "ORDERS".into(),
            query: MsgQuery::Seq(1_234_566)
        }
    );

    // Purge by subject asks first; Cancel sends nothing.
    type_into(&mut rig.harness, "Purge subject", "orders.us.>");
    click(&mut rig.harness, "Purge...");
    let purges: Vec<String> = rig
        .harness
        .query_all_by_label_contains("Purge")
        .map(|n| format!("{n:?}"))
        .collect();
    assert!(
        has(
            &rig.harness,
            "Purge the messages on orders.us.> from ORDERS?"
        ),
        "{purges:#?}"
    );
    click(&mut rig.harness, "Cancel");
    assert!(rig.requests.try_recv().is_err(), "nothing sent on Cancel");
    click(&mut rig.harness, "Purge...");
    rig.harness
        .get_by_role_and_label(Role::Button, "Purge")
        .click();
    settle(&mut rig.harness);
    let purge = rig.request();
    assert_eq!(
        purge.1,
        JsRequest::Purge {
            stream: "ORDERS".into(),
            filter: Some("orders.us.>".into())
        }
    );
    rig.answer(purge, Ok(JsReply::Done("purged 12 messages".into())));
    assert!(has(&rig.harness, "purged 12 messages"));

    // Deleting the stream asks first too.
    click(&mut rig.harness, "Delete stream...");
    assert!(has_containing(&rig.harness, "Delete the stream ORDERS"));
    click(&mut rig.harness, "Delete stream");
    assert_eq!(
        rig.request().1,
        JsRequest::DeleteStream {
            stream: "ORDERS".into()
        }
    );
}

#[test]
fn consumers_show_where_they_are_and_which_are_stalled() {
    let mut rig = rig();
    go(&mut rig.harness, "Consumers");
    rig.tick();
    for consumer in ["billing", "shipping", "archiver", "trends"] {
        assert!(has(&rig.harness, consumer), "Consumers lists {consumer}");
    }
    assert_eq!(cell(&rig.harness, "shipping", "Ack pending"), "1000 / 1000");
    assert_eq!(
        cell(&rig.harness, "shipping", "Status"),
        "ack pending at max"
    );
    assert_eq!(cell(&rig.harness, "archiver", "Status"), "no subscriber");
    assert_eq!(cell(&rig.harness, "billing", "Status"), "ok");
    assert_eq!(cell(&rig.harness, "billing", "Kind"), "durable pull");
    assert_eq!(cell(&rig.harness, "billing", "Waiting"), "2");
    assert!(has(&rig.harness, "2 stalled"));

    rig.harness.get_by_label("Stalled only").click();
    settle(&mut rig.harness);
    assert!(has(&rig.harness, "shipping") && !has(&rig.harness, "billing"));

    // The detail says why, and leads to its stream.
    rig.harness.get_by_label("shipping").click();
    rig.tick();
    assert!(has_containing(
        &rig.harness,
        "nothing more is delivered until the clients acknowledge some"
    ));
    rig.harness
        .get_by_role_and_label(Role::Link, "ORDERS")
        .click();
    settle(&mut rig.harness);
    assert!(has(
        &rig.harness,
        "Every order event, for billing and shipping"
    ));
}

#[test]
fn kv_keys_values_put_and_delete_from_the_form() {
    let mut rig = rig();
    go(&mut rig.harness, "KV buckets");
    assert!(has(&rig.harness, "config") && has(&rig.harness, "sessions"));
    assert!(has(&rig.harness, "reports"), "the object store is listed");
    let keys = rig.request();
    assert_eq!(
        keys.1,
        JsRequest::KvKeys {
            bucket: "config".into()
        }
    );
    let mut gone = entry("feature.beta", 9, "");
    gone.operation = KvOperation::Delete;
    rig.answer(
        keys,
        Ok(JsReply::KvKeys(
            vec![
                entry("db.url", 12, "postgres://db.internal:5432/orders"),
                gone,
                entry("limits.max_orders", 7, r#"{"per_minute":600}"#),
            ],
            3,
        )),
    );
    assert_eq!(cell(&rig.harness, "db.url", "Revision"), "12");
    assert_eq!(
        cell(&rig.harness, "db.url", "Value"),
        "postgres://db.internal:5432/orders"
    );
    assert!(!has(&rig.harness, "feature.beta"), "deleted keys hidden");
    rig.harness.get_by_label("Show deleted").click();
    settle(&mut rig.harness);
    assert_eq!(cell(&rig.harness, "feature.beta", "Value"), "deleted");

    // Put from the form.
    type_into(&mut rig.harness, "Key name", "db.pool");
    type_into(&mut rig.harness, "New value", "16");
    click(&mut rig.harness, "Put");
    let put = rig.request();
    assert_eq!(
        put.1,
        JsRequest::KvPut {
            bucket: "config".into(),
            key: "db.pool".into(),
            value: b"16".to_vec()
        }
    );
    rig.answer(put, Ok(JsReply::Done("put db.pool: revision 15".into())));
    assert!(has(&rig.harness, "put db.pool: revision 15"));

    // A key's value and history.
    rig.harness.get_by_label("limits.max_orders").click();
    settle(&mut rig.harness);
    assert!(shows(&rig.harness, "\"per_minute\": 600"));
    click(&mut rig.harness, "History");
    let history = rig.request();
    assert_eq!(
        history.1,
        JsRequest::KvHistory {
            bucket: "config".into(),
            key: "limits.max_orders".into()
        }
    );
    rig.answer(
        history,
        Ok(JsReply::KvHistory(vec![
            entry("limits.max_orders", 3, r#"{"per_minute":300}"#),
            entry("limits.max_orders", 7, r#"{"per_minute":600}"#),
        ])),
    );
    assert!(has(&rig.harness, "History (2 revisions)"));

    // Delete asks first.
    click(&mut rig.harness, "Delete key...");
    assert!(has_containing(
        &rig.harness,
        "Delete limits.max_orders from config?"
    ));
    click(&mut rig.harness, "Delete key");
    assert_eq!(
        rig.request().1,
        JsRequest::KvDelete {
            bucket: "config".into(),
            key: "limits.max_orders".into()
        }
    );
}

/// The browser's "from time": a relative time becomes a `start_time` request (by direct
/// get for a stream that allows it), the message found is shown, and a time it cannot
/// read says how to write one.
#[test]
fn a_stream_is_browsed_from_a_time() {
    let mut rig = rig();
    go(&mut rig.harness, "Streams");
    rig.harness.get_by_label("TELEMETRY").click();
    rig.tick();
    type_into(&mut rig.harness, "From time", "5m ago");
    let before = SystemTime::now();
    click(&mut rig.harness, "Find");
    let asked = rig.request();
    let JsRequest::Message {
        stream,
        query:
            MsgQuery::FromTime {
                start,
                subject,
                direct,
            },
    } = &asked.1
    else {
        panic!("a message from a time: {asked:?}");
    };
    assert_eq!(stream, "TELEMETRY");
    assert_eq!(subject, ">", "no subject typed: every subject");
    assert!(*direct, "TELEMETRY allows direct gets");
    let start = *start;
    let back = before.duration_since(start).unwrap();
    assert!(
        back >= Duration::from_secs(299) && back <= Duration::from_secs(330),
        "five minutes back: {back:?}"
    );
    rig.answer(
        asked,
        Ok(JsReply::Message(StoredMessage {
            subject: "telemetry.plant1.temp".into(),
            seq: 5150,
            time: Some(start + Duration::from_millis(40)),
            headers: None,
            payload: br#"{"celsius":21.5}"#.to_vec(),
        })),
    );
    assert!(has(&rig.harness, "5150") && has(&rig.harness, "telemetry.plant1.temp"));
    assert!(
        has_containing(&rig.harness, "the first at or after"),
        "it says it was found by time"
    );
    assert!(shows(&rig.harness, "\"celsius\": 21.5"));

    // With a subject typed, only its messages; ORDERS has no direct get.
    rig.harness.get_by_label("ORDERS").click();
    rig.tick();
    type_into(&mut rig.harness, "Subject", "orders.eu.>");
    rig.harness.state_mut().jetstream.streams.from_text.clear();
    type_into(&mut rig.harness, "From time", "2026-12-02T06:13:00Z");
    click(&mut rig.harness, "Find");
    let (_, request) = rig.request();
    assert_eq!(
        request,
        JsRequest::Message {
            stream: "ORDERS".into(),
            query: MsgQuery::FromTime {
                start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_191_980),
                subject: "orders.eu.>".into(),
                direct: false,
            }
        }
    );

    // A time it cannot read is said, and nothing is sent.
    rig.harness.state_mut().jetstream.streams.from_text.clear();
    type_into(&mut rig.harness, "From time", "yesterday");
    click(&mut rig.harness, "Find");
    assert!(rig.requests.try_recv().is_err(), "nothing sent");
    assert!(has_containing(&rig.harness, "\"yesterday\" is not a time"));
}

/// The selected consumer's delivered and acknowledged rates, plotted from successive
/// readings of its info, with the current values beside the plot and in its legend.
#[test]
fn a_consumers_rate_plot_has_data_points() {
    let mut rig = rig();
    go(&mut rig.harness, "Consumers");
    rig.harness.get_by_label("billing").click();
    rig.tick();
    for _ in 0..12 {
        rig.tick();
    }
    let rates = &rig.harness.state().jetstream.consumers.rates;
    assert!(
        rates.readings("ORDERS", "billing") >= 10,
        "a reading per snapshot"
    );
    let series = rates.series("ORDERS", "billing");
    assert!(series.delivered.len() >= 9, "{series:?}");
    let (delivered, acked) = series.current().unwrap();
    assert!(
        delivered > 0.0 && acked > 0.0,
        "billing keeps up with the orders: {series:?}"
    );
    assert!(
        has_containing(&rig.harness, "delivered ") && has_containing(&rig.harness, "acknowledged "),
        "the current rates are said"
    );
    let said = rig
        .harness
        .query_all_by_label_contains("delivered ")
        .filter_map(|n| n.accesskit_node().value())
        .collect::<Vec<_>>();
    assert!(
        said.iter()
            .any(|t| t.ends_with("/s") && !t.contains("delivered 0/s")),
        "a rate that is not zero: {said:?}"
    );
    assert!(
        rates.len() >= 4,
        "every listed consumer is followed, not only the selected one"
    );

    // The stalled shipping consumer delivers nothing.
    let shipping = rig
        .harness
        .state()
        .jetstream
        .consumers
        .rates
        .series("ORDERS", "shipping");
    assert_eq!(shipping.current(), Some((0.0, 0.0)));
}

/// The KV view's watch, fed by hand: its changes are listed newest first and update the
/// key list; it ends (the client's end sees it) when the view goes away.
#[test]
fn a_kv_watch_lists_changes_and_ends_with_the_view() {
    let mut rig = rig();
    go(&mut rig.harness, "KV buckets");
    let keys = rig.request();
    rig.answer(
        keys,
        Ok(JsReply::KvKeys(
            vec![entry("db.url", 12, "postgres://db.internal:5432/orders")],
            1,
        )),
    );
    rig.harness.get_by_label("Watch").click();
    settle(&mut rig.harness);
    let mut feed = rig.watches.try_recv().expect("the window started a watch");
    assert_eq!(feed.bucket, "config");
    assert!(!feed.stopped());
    assert!(feed.send(WatchEvent::Started {
        consumer: "switchboard-watch-x".into()
    }));
    settle(&mut rig.harness);
    assert!(has_containing(&rig.harness, "watching config since"));
    let keys = rig.request();
    assert_eq!(
        keys.1,
        JsRequest::KvKeys {
            bucket: "config".into()
        },
        "the keys are read once more when the watch begins"
    );
    rig.answer(
        keys,
        Ok(JsReply::KvKeys(
            vec![entry("db.url", 12, "postgres://db.internal:5432/orders")],
            1,
        )),
    );
    assert!(feed.send(WatchEvent::Change(entry("db.pool", 13, "32"))));
    let mut gone = entry("db.url", 14, "");
    gone.operation = KvOperation::Delete;
    assert!(feed.send(WatchEvent::Change(gone)));
    settle(&mut rig.harness);
    assert!(has(&rig.harness, "2 changes"));
    assert!(has(&rig.harness, "deleted"), "the delete is in the changes");
    assert!(has(&rig.harness, "32"), "the new value");
    let (keys, total) = rig.harness.state().jetstream.kv.keys.clone().unwrap();
    let listed: Vec<(&str, u64, KvOperation)> = keys
        .iter()
        .map(|e| (e.key.as_str(), e.revision, e.operation))
        .collect();
    assert_eq!(
        listed,
        [
            ("db.pool", 13, KvOperation::Put),
            ("db.url", 14, KvOperation::Delete)
        ],
        "the key list follows the watch"
    );
    assert_eq!(total, 2);
    assert!(
        rig.requests.try_recv().is_err(),
        "no re-read while the watch keeps up"
    );

    // Another view: the watch ends.
    go(&mut rig.harness, "Streams");
    settle(&mut rig.harness);
    assert!(
        feed.stopped(),
        "the view went away: the watch's end is dropped"
    );
    go(&mut rig.harness, "KV buckets");
    assert!(has(&rig.harness, "stopped watching"));
}

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
