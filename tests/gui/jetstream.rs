//! The JetStream views (Streams, Consumers, KV buckets) with egui_kittest on the synthetic
//! world, with a stand-in for the views' client that records each request and answers it
//! by hand. The same views against real brokers are in `jetstream_live.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;

use crate::gui::{cell, click, go, has, has_containing, settle, type_into};

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
pub(crate) fn shows<S>(harness: &Harness<'_, S>, text: &str) -> bool {
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
