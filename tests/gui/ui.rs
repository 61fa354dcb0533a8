//! UI tests of the inspector with egui_kittest (no GPU, no display): synthetic snapshots,
//! samples and events go in through `feed::channel`, a stand-in `SourceControl` records
//! what the UI asks of the broker, and the checks go by label and role.

use crate::gui;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::gui::{go, has, has_containing};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use switchboard::gui::app::InspectorApp;
use switchboard::gui::client::ClientCommand;
use switchboard::gui::synthetic::SyntheticWorld;
use switchboard::gui::{Launcher, Source};
use switchboard::inspect::snapshot::{
    ConnectionInfo, EventKind, JetStreamState, JetStreamSummary, MessageSample, QueueGroupInfo,
    QueueMember, Rates, Snapshot, SubjectStat, SubscriptionInfo, Totals, Vantage,
};
use switchboard::inspect::SourceControl;

use crate::gui::rig;

fn conn(id: u64, name: &str, subs: &[(&str, Option<&str>)]) -> ConnectionInfo {
    ConnectionInfo {
        cid: id,
        name: name.into(),
        lang: "go".into(),
        version: "1.41.1".into(),
        addr: ([127, 0, 0, 1], 50_000 + id as u16).into(),
        start: SystemTime::now() - Duration::from_secs(90),
        subscriptions: subs
            .iter()
            .enumerate()
            .map(|(i, (s, q))| SubscriptionInfo {
                subject: s.to_string(),
                queue: q.map(str::to_string),
                sid: (i + 1).to_string(),
                delivered: 3,
            })
            .collect(),
        totals: Totals {
            in_msgs: 1234,
            in_bytes: 56_789,
            out_msgs: 99,
            out_bytes: 1000,
        },
        rates: Rates {
            in_msgs_per_sec: 12.0,
            ..Default::default()
        },
        pending_bytes: 0,
        rtt: Some(Duration::from_micros(250)),
        transport: "tcp",
    }
}

fn subject(name: &str, subscribers: usize, nobody: u64) -> SubjectStat {
    SubjectStat {
        subject: name.into(),
        msgs: 100,
        bytes: 1000,
        msgs_per_sec: 5.0,
        bytes_per_sec: 50.0,
        no_interest_msgs: nobody,
        reply_msgs: 0,
        subscribers,
        publishers: vec![42],
        receivers: if subscribers > 0 { vec![7] } else { vec![] },
        last_published: Some(SystemTime::now()),
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: Some(SystemTime::now()),
        connections: vec![
            conn(7, "billing", &[("orders.*.created", None)]),
            conn(42, "orders-api", &[]),
        ],
        subjects: vec![
            subject("audit.login", 0, 100),
            subject("orders.eu.created", 1, 0),
        ],
        ..Default::default()
    }
}

fn sample(seq: u64, subject: &str, receivers: u32) -> MessageSample {
    MessageSample {
        seq,
        time: SystemTime::now(),
        subject: subject.as_bytes().to_vec(),
        reply: None,
        headers: None,
        payload: format!(r#"{{"n":{seq}}}"#).into_bytes(),
        publisher_cid: 42,
        receivers,
    }
}

#[test]
fn navigation_shows_each_view() {
    let mut rig = rig();
    let mut world = SyntheticWorld::default();
    world.initial_events(&rig.publisher);
    for _ in 0..4 {
        world.step(Duration::from_millis(250), &rig.publisher, &rig.control);
    }
    rig.harness.run();
    assert!(has(&rig.harness, "Client URL"), "starts on the overview");
    for (view, marker) in [
        ("Connections", "Recently closed (1)"),
        ("Subjects", "Expand all"),
        ("Queue groups", "payments"),
        ("Messages", "Pause"),
        ("Rates", "bytes/s"),
        ("Publish & Request", "Send request"),
        ("Latency", "Track request/reply latency"),
        ("Overview", "Client URL"),
    ] {
        go(&mut rig.harness, view);
        // A frame of demo traffic in every view, samples included while Messages is open.
        world.step(Duration::from_millis(250), &rig.publisher, &rig.control);
        rig.harness.run();
        assert!(has(&rig.harness, marker), "{view} shows {marker:?}");
    }
}

#[test]
fn overview_lists_events_and_identity() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.publisher.push_event(
        SystemTime::now(),
        EventKind::Disconnected {
            cid: 9,
            name: "flaky".into(),
            reason: "Slow Consumer (Pending Bytes)".into(),
        },
    );
    rig.harness.run();
    assert!(has(&rig.harness, "disconnect"));
    assert!(has(&rig.harness, "flaky #9: Slow Consumer (Pending Bytes)"));
    assert!(has_containing(
        &rig.harness,
        "published with no one listening"
    ));
}

#[test]
fn disconnect_kicks_the_selected_connection() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    go(&mut rig.harness, "Connections");
    assert!(has(&rig.harness, "billing"));
    rig.harness.get_by_label("orders-api").click();
    rig.harness.run();
    assert!(has(&rig.harness, "orders-api #42"), "the detail pane opens");
    rig.harness
        .get_by_role_and_label(Role::Button, "Disconnect")
        .click();
    rig.harness.run();
    assert_eq!(rig.control.kicked(), [42]);
}

#[test]
fn a_websocket_client_shows_its_transport() {
    let mut rig = rig();
    let mut snap = snapshot();
    snap.connections[0].transport = "ws";
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Connections");
    // A badge after the WebSocket client's address, none after the TCP one's.
    assert!(has(&rig.harness, "ws"));
    assert!(!has(&rig.harness, "tcp"));
    rig.harness.get_by_label("billing").click();
    rig.harness.run();
    assert!(
        has(&rig.harness, "WebSocket (ws://)"),
        "the detail pane says how"
    );
}

#[test]
fn connection_filter_hides_other_rows() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    go(&mut rig.harness, "Connections");
    let filter = rig.harness.get_by_label("Filter");
    filter.focus();
    filter.type_text("bill");
    rig.harness.run();
    assert!(has(&rig.harness, "billing"));
    assert!(!has(&rig.harness, "orders-api"));
    assert!(has(&rig.harness, "1 of 2 connections"));
}

#[test]
fn subject_tree_marks_no_interest() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    go(&mut rig.harness, "Subjects");
    // The total above the tree, and the audit branch's badge saying it hides one.
    assert_eq!(
        rig.harness
            .query_all_by_label("1 with no one listening")
            .count(),
        2
    );
    rig.harness.get_by_label("Expand all").click();
    rig.harness.run();
    assert!(has(&rig.harness, "login"));
    assert!(has(&rig.harness, "no one listening"));
    // Selecting the leaf sets the message view's filter.
    rig.harness.get_by_label("login").click();
    rig.harness.run();
    assert_eq!(
        rig.harness.state().state.messages.filter_text(),
        "audit.login"
    );
    rig.harness.get_by_label("orders").click();
    rig.harness.run();
    assert_eq!(rig.harness.state().state.messages.filter_text(), "orders.>");
}

#[test]
fn message_view_samples_filters_and_pauses() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    assert!(!rig.control.sampling());
    go(&mut rig.harness, "Messages");
    assert!(rig.control.sampling(), "opening the view turns sampling on");
    rig.publisher
        .offer_sample(sample(1, "orders.eu.created", 2));
    rig.publisher
        .offer_sample(sample(2, "telemetry.line1.temp", 0));
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    assert!(has(&rig.harness, "orders.eu.created"));
    assert!(has(&rig.harness, "telemetry.line1.temp"));
    assert!(
        has(&rig.harness, "no one"),
        "a message nobody received is marked"
    );

    let filter = rig.harness.get_by_label("Subject filter");
    filter.focus();
    filter.type_text("orders.>");
    rig.harness.run();
    assert!(has(&rig.harness, "orders.eu.created"));
    assert!(
        !has(&rig.harness, "telemetry.line1.temp"),
        "the filter hides it"
    );

    rig.harness.get_by_label("Pause").click();
    rig.harness.run();
    rig.publisher
        .offer_sample(sample(3, "orders.us.created", 1));
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    assert!(
        !has(&rig.harness, "orders.us.created"),
        "paused: no new rows"
    );
    assert!(has(&rig.harness, "paused, 1 waiting"));
    rig.harness.get_by_label("Resume").click();
    rig.harness.run();
    assert!(
        has(&rig.harness, "orders.us.created"),
        "resumed: held rows appear"
    );

    go(&mut rig.harness, "Overview");
    assert!(
        !rig.control.sampling(),
        "leaving the view turns sampling off"
    );
    assert_eq!(*rig.control.sampling_calls.lock(), [true, false]);
}

#[test]
fn message_detail_and_publish_again() {
    let mut rig = rig();
    go(&mut rig.harness, "Messages");
    rig.publisher
        .offer_sample(sample(1, "orders.eu.created", 2));
    rig.publisher
        .offer_sample(sample(2, "orders.eu.created", 2));
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    rig.harness
        .get_all_by_label("orders.eu.created")
        .last()
        .unwrap()
        .click();
    rig.harness.run();
    assert!(has(&rig.harness, "Compare with previous"));
    rig.harness.get_by_label("Compare with previous").click();
    rig.harness.run();
    assert!(has(&rig.harness, "Changes since message #1"));
    rig.harness.get_by_label("Publish again").click();
    rig.harness.run();
    assert!(has(&rig.harness, "Send request"), "the publish form opens");
    assert_eq!(rig.harness.state().publish.subject, "orders.eu.created");
    assert_eq!(rig.harness.state().publish.payload, r#"{"n":2}"#);
}

#[test]
fn publish_form_sends_through_the_client() {
    let mut rig = rig();
    go(&mut rig.harness, "Publish & Request");
    let subject = rig.harness.get_by_label("Subject");
    subject.focus();
    subject.type_text("greet.joe");
    rig.harness.run();
    let headers = rig.harness.get_by_label("Headers");
    headers.focus();
    headers.type_text("Trace-Id: 7");
    rig.harness.run();
    rig.harness.get_by_label("Publish").click();
    rig.harness.run();
    match rig.sent.try_recv().unwrap() {
        ClientCommand::Publish(msg) => {
            assert_eq!(msg.subject, "greet.joe");
            assert_eq!(msg.headers, [("Trace-Id".to_string(), "7".to_string())]);
        }
        other => panic!("expected a publish, got {other:?}"),
    }
    rig.harness.get_by_label("Send request").click();
    rig.harness.run();
    assert!(matches!(
        rig.sent.try_recv().unwrap(),
        ClientCommand::Request { .. }
    ));
}

#[test]
fn invalid_subject_is_refused_in_the_form() {
    let mut rig = rig();
    go(&mut rig.harness, "Publish & Request");
    let subject = rig.harness.get_by_label("Subject");
    subject.focus();
    subject.type_text("orders.*");
    rig.harness.run();
    rig.harness.get_by_label("Publish").click();
    rig.harness.run();
    assert!(rig.sent.try_recv().is_err());
    assert!(has_containing(
        &rig.harness,
        "is not a subject one can publish to"
    ));
}

#[test]
fn queue_group_shares_render() {
    let mut rig = rig();
    let mut snap = snapshot();
    snap.queue_groups = vec![QueueGroupInfo {
        subject: "jobs.>".into(),
        queue: "workers".into(),
        members: [
            (1, "worker-a", 700),
            (2, "worker-b", 200),
            (3, "worker-c", 100),
        ]
        .into_iter()
        .map(|(id, name, delivered)| QueueMember {
            cid: id,
            client_name: name.into(),
            sid: "1".into(),
            delivered,
        })
        .collect(),
    }];
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Queue groups");
    assert!(has(&rig.harness, "workers"));
    assert!(has(&rig.harness, "worker-a #1"));
    assert!(has(&rig.harness, "70.0%"));
    assert!(has(&rig.harness, "20.0%"));
    assert!(has(&rig.harness, "10.0%"));
    assert!(has_containing(&rig.harness, "unbalanced"));
}

#[test]
fn latency_toggle_calls_the_broker() {
    let mut rig = rig();
    go(&mut rig.harness, "Latency");
    assert!(rig.control.latency_tracking());
    rig.harness
        .get_by_label("Track request/reply latency")
        .click();
    rig.harness.run();
    assert!(!rig.control.latency_tracking());
}

#[test]
fn overview_shows_jetstream_usage_limits_and_counts() {
    let mut rig = rig();
    let mut snap = snapshot();
    snap.jetstream = JetStreamState::On(JetStreamSummary {
        store_dir: "/data/switchboard/jetstream".into(),
        domain: Some("hub".into()),
        memory_used: 1536,
        max_memory: Some(1 << 20),
        store_used: 3 << 20,
        max_store: Some(2 << 30),
        streams: 2,
        messages: 4321,
        bytes: 5 << 20,
        api_requests: 42,
        api_errors: 1,
    });
    rig.publisher.publish_snapshot(snap.clone());
    rig.harness.run();
    for label in [
        "JetStream",
        "on",
        "1.5 KiB of 1.0 MiB",
        "3.0 MiB of 2.0 GiB",
        "Streams",
        "Stream messages",
        "4.3k",
        "5.0 MiB",
        "42",
        "1 error",
        "/data/switchboard/jetstream",
        "hub",
    ] {
        assert!(has(&rig.harness, label), "the overview shows {label:?}");
    }

    // Off: how to turn it on.
    snap.jetstream = JetStreamState::Off;
    rig.publisher.publish_snapshot(snap.clone());
    rig.harness.run();
    assert!(has(&rig.harness, "off"));
    assert!(has_containing(&rig.harness, "Turn it on in Settings"));
    assert!(!has(&rig.harness, "Stream messages"));

    // A deployment whose monitoring can't be read: unknown, not off.
    snap.jetstream = JetStreamState::Unknown;
    snap.vantage = Vantage::Outside;
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    assert!(has(&rig.harness, "unknown"));
    assert!(has_containing(
        &rig.harness,
        "system account or a monitoring URL"
    ));
}

#[test]
fn settings_show_and_change_jetstream() {
    let mut rig = rig();
    let mut snap = snapshot();
    snap.jetstream = JetStreamState::On(JetStreamSummary {
        store_dir: "/data/now/jetstream".into(),
        ..JetStreamSummary::default()
    });
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Settings");
    assert!(has(&rig.harness, "Run JetStream"));
    assert!(has(
        &rig.harness,
        "JetStream runs now, its streams in /data/now/jetstream."
    ));
    assert!(rig.harness.state().settings.jetstream, "on by default");
    assert!(rig.harness.state().starter.setting.jetstream.enabled);

    rig.harness.get_by_label("Run JetStream").click();
    rig.harness.run();
    gui::type_into(&mut rig.harness, "Store directory", "/srv/streams");
    let app = rig.harness.state();
    assert!(!app.settings.jetstream);
    assert_eq!(app.settings.jetstream_store_dir, "/srv/streams");
    // The next start from the window takes them.
    assert!(!app.starter.setting.jetstream.enabled);
    assert_eq!(
        app.starter.setting.jetstream.store_dir.as_deref(),
        Some(std::path::Path::new("/srv/streams"))
    );
    // Back to the default folder.
    gui::click(&mut rig.harness, "Default");
    let app = rig.harness.state();
    assert_eq!(app.settings.jetstream_store_dir, "");
    assert_eq!(
        app.starter.setting.jetstream.store_dir,
        switchboard::gui::settings::default_jetstream_store_dir()
    );

    // Started with -js or -sd: the view says the setting waits.
    assert!(!has_containing(&rig.harness, "comes from the command line"));
    rig.harness
        .state_mut()
        .set_launcher(Arc::new(GivenOnTheCommandLine));
    rig.harness.run();
    assert!(has_containing(&rig.harness, "comes from the command line"));
    assert!(has(&rig.harness, "Restart the broker with these settings"));
}

#[test]
fn settings_switch_websocket_on_and_the_overview_shows_its_url() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snapshot());
    rig.harness.run();
    go(&mut rig.harness, "Settings");
    assert!(!rig.harness.state().settings.websocket, "off by default");
    assert!(has(&rig.harness, "WebSocket is off now."));
    rig.harness.get_by_label("Serve WebSocket clients").click();
    rig.harness.run();
    let app = rig.harness.state();
    assert!(app.settings.websocket);
    assert!(
        app.starter.setting.websocket.enabled,
        "the next start takes it"
    );
    assert_eq!(app.starter.setting.websocket.port, 8080);

    // A broker with a listener: its URL in Settings and, copyable, in the Overview.
    let mut snap = snapshot();
    snap.server.websocket_url = Some("ws://127.0.0.1:9222".into());
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    assert!(has(
        &rig.harness,
        "WebSocket clients connect to ws://127.0.0.1:9222 now."
    ));
    go(&mut rig.harness, "Overview");
    assert!(has(&rig.harness, "ws://127.0.0.1:9222"));
    assert!(has(&rig.harness, "Copy WebSocket URL"));

    // A configuration file's websocket block: the view says the setting waits.
    go(&mut rig.harness, "Settings");
    assert!(!has_containing(&rig.harness, "its websocket block"));
    rig.harness
        .state_mut()
        .set_launcher(Arc::new(GivenOnTheCommandLine));
    rig.harness.run();
    assert!(has_containing(&rig.harness, "its websocket block"));
}

/// A launcher whose command line said how to run JetStream.
struct GivenOnTheCommandLine;

impl Launcher for GivenOnTheCommandLine {
    fn start_embedded(
        &self,
        _host: &str,
        _port: u16,
        _setting: &switchboard::gui::settings::BrokerSetting,
    ) -> crossbeam_channel::Receiver<Result<Source, switchboard::gui::StartFailure>> {
        crossbeam_channel::bounded(1).1
    }

    fn jetstream_given(&self) -> bool {
        true
    }

    fn websocket_given(&self) -> bool {
        true
    }
}

#[test]
fn accounts_show_exports_imports_and_the_flows_between_them() {
    use switchboard::inspect::snapshot::{AccountSummary, ExportSummary, ImportSummary};
    let mut rig = rig();
    let mut snap = snapshot();
    snap.accounts = vec![
        AccountSummary {
            name: "A".into(),
            connections: vec![7],
            subscriptions: 3,
            exports: vec![
                ExportSummary {
                    service: true,
                    subject: "svc.>".into(),
                    response_type: "Singleton".into(),
                    latency_subject: Some("latency.svc".into()),
                    ..Default::default()
                },
                ExportSummary {
                    subject: "events.>".into(),
                    accounts: vec!["B".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
        AccountSummary {
            name: "B".into(),
            connections: vec![42],
            imports: vec![ImportSummary {
                account: "A".into(),
                subject: "events.>".into(),
                local_subject: "fromA.events.>".into(),
                msgs: 1200,
                msgs_per_sec: 40.0,
                ..Default::default()
            }],
            ..Default::default()
        },
    ];
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Accounts");
    assert!(has(&rig.harness, "2 accounts"));
    assert!(has(&rig.harness, "Across accounts"));
    assert!(has(&rig.harness, "svc.>"));
    assert!(
        has(&rig.harness, "to B"),
        "the private export names its importer"
    );
    assert!(has(&rig.harness, "public"));
    assert!(has(&rig.harness, "latency to latency.svc"));
    assert!(has(&rig.harness, "1.2k messages, 40/s"));
    // A connection opens in Connections.
    rig.harness.get_by_label("#42").click();
    rig.harness.run();
    assert_eq!(
        rig.harness.state().view,
        switchboard::gui::panels::View::Connections
    );
}

/// Reply subjects the source saw used only as replies (a custom inbox prefix) and
/// JetStream's acknowledgements fold into one row each in Subjects and one entry each in
/// Rates; a sibling also published to as a non-reply keeps its branch open; the switch
/// lists them one by one.
#[test]
fn reply_subjects_fold_in_subjects_and_rates_until_listed() {
    let mut rig = rig();
    let replied = |name: &str| SubjectStat {
        reply_msgs: 100,
        ..subject(name, 1, 0)
    };
    let mut snap = snapshot();
    snap.subjects.extend([
        replied("myapp.replies.k3Fq.1"),
        replied("myapp.replies.k3Fq.2"),
        replied("myapp.replies.x9Tz"),
        subject("myapp.orders", 1, 0),
        replied("mixed.replies.r1"),
        subject("mixed.replies.r2", 1, 0),
        subject("$JS.ACK.ORDERS.worker.1.7.7.1733100000000000000.0", 0, 0),
        subject("$JS.ACK.ORDERS.worker.1.8.8.1733100000000000001.0", 0, 0),
        subject("$JS.API.STREAM.LIST", 1, 0),
    ]);
    snap.subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Subjects");
    rig.harness.run();
    for folded in [
        "myapp.replies.>",
        "(3 reply subjects)",
        "$JS.ACK.>",
        "(2 acknowledgement subjects)",
    ] {
        assert!(has(&rig.harness, folded), "{folded} shown folded");
    }
    for hidden in ["k3Fq", "x9Tz", "ORDERS", "worker"] {
        assert!(!has(&rig.harness, hidden), "{hidden} folded away");
    }
    for kept in ["orders", "r1", "r2", "API", "LIST"] {
        assert!(has(&rig.harness, kept), "{kept} listed as before");
    }
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "Show reply subjects")
        .click();
    rig.harness.run();
    assert!(!has(&rig.harness, "myapp.replies.>"));
    assert!(!has(&rig.harness, "$JS.ACK.>"));
    // The filter keeps the listed branch on screen.
    rig.harness.state_mut().state.filters.subjects = "myapp".into();
    rig.harness.run();
    for listed in ["k3Fq", "x9Tz", "replies"] {
        assert!(has(&rig.harness, listed), "{listed} listed");
    }
    rig.harness.state_mut().state.filters.subjects = "$JS.ACK.>".into();
    rig.harness.run();
    for listed in ["ORDERS", "worker", "1733100000000000001"] {
        assert!(has(&rig.harness, listed), "{listed} listed");
    }

    // Rates: the same switch, the same groups.
    go(&mut rig.harness, "Rates");
    rig.harness.run();
    assert!(ticks(&rig.harness, "myapp.replies.x9Tz"), "listed");
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "Show reply subjects")
        .click();
    rig.harness.run();
    assert!(ticks(&rig.harness, "myapp.replies.>"));
    assert!(ticks(&rig.harness, "$JS.ACK.>"));
    assert!(!ticks(&rig.harness, "myapp.replies.x9Tz"));
    assert!(
        ticks(&rig.harness, "mixed.replies.r1"),
        "its branch is mixed"
    );
}

/// Is there a checkbox labelled `label`?
fn ticks(harness: &egui_kittest::Harness<'_, InspectorApp>, label: &str) -> bool {
    harness
        .query_by_role_and_label(Role::CheckBox, label)
        .is_some()
}

/// The Rates picker lists subjects busiest first, but holds its order while the pointer is
/// over it: a subject about to be ticked does not move away.
#[test]
fn the_rates_picker_holds_still_under_the_pointer() {
    let mut rig = rig();
    let at = |name: &str, rate: f64| SubjectStat {
        msgs_per_sec: rate,
        ..subject(name, 1, 0)
    };
    let publish = |rig: &mut crate::gui::Rig, busy: &str, idle: &str| {
        let mut snap = snapshot();
        snap.subjects = vec![at(busy, 500.0), at(idle, 1.0)];
        rig.publisher.publish_snapshot(snap);
        rig.harness.run();
    };
    let order = |rig: &crate::gui::Rig| {
        let y = |label: &str| {
            rig.harness
                .get_by_role_and_label(Role::CheckBox, label)
                .rect()
                .min
                .y
        };
        if y("alpha.rate") < y("beta.rate") {
            "alpha first"
        } else {
            "beta first"
        }
    };
    publish(&mut rig, "alpha.rate", "beta.rate");
    go(&mut rig.harness, "Rates");
    rig.harness.run();
    assert_eq!(order(&rig), "alpha first", "busiest first");
    // The pointer over the list: beta getting busier does not move it up.
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "beta.rate")
        .hover();
    rig.harness.run();
    publish(&mut rig, "beta.rate", "alpha.rate");
    rig.harness.run();
    assert_eq!(order(&rig), "alpha first", "held under the pointer");
    // The pointer elsewhere: busiest first again.
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "Show reply subjects")
        .hover();
    rig.harness.run();
    rig.harness.run();
    assert_eq!(order(&rig), "beta first", "released");
}
