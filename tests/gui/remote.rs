//! UI tests of the remote-deployment parts of the inspector (egui_kittest, no display): the
//! Servers view with unknown numbers and an unreachable server, the link state in the status
//! bar, "unknown" publishers in the message view, and the Deployments window.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::gui::{cell, go, has};
use egui_kittest::Harness;

use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::client::NatsClient;
use switchboard::gui::synthetic::SyntheticControl;
use switchboard::gui::{GuiContext, Source};
use switchboard::inspect::feed::{self, FeedPublisher};
use switchboard::inspect::snapshot::{
    LinkState, LinkStatus, MessageSample, ServerSummary, Snapshot, SubjectStat, Vantage,
};

fn app() -> (
    Harness<'static, InspectorApp>,
    FeedPublisher,
    tokio::runtime::Runtime,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (publisher, feed) = feed::channel(64);
    let (client, _sent, _outcomes) = NatsClient::detached();
    let ctx = GuiContext {
        source: Source {
            feed,
            control: Arc::new(SyntheticControl::new()),
            client: ConnectArgs::url("nats://10.0.0.1:4222"),
            label: "prod".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::with_client(&cc.egui_ctx, ctx, client));
    (harness, publisher, runtime)
}

fn remote_snapshot() -> Snapshot {
    Snapshot {
        taken_at: Some(SystemTime::now()),
        vantage: Vantage::Outside,
        subjects: vec![SubjectStat {
            subject: "orders.eu".into(),
            msgs: 3,
            bytes: 30,
            msgs_per_sec: 1.0,
            bytes_per_sec: 10.0,
            no_interest_msgs: 0,
            reply_msgs: 0,
            subscribers: 0,
            publishers: vec![],
            receivers: vec![],
            last_published: Some(SystemTime::now()),
        }],
        servers: vec![
            ServerSummary {
                name: "alpha".into(),
                id: "NALPHA".into(),
                version: "2.15.1".into(),
                reachable: true,
                attached: true,
                connections: Some(3),
                uptime: Some(Duration::from_secs(90)),
                ..ServerSummary::default()
            },
            ServerSummary {
                name: "beta".into(),
                id: "NBETA".into(),
                version: "2.15.1".into(),
                reachable: false,
                ..ServerSummary::default()
            },
        ],
        link: Some(LinkStatus {
            state: LinkState::Reconnecting,
            detail: "connection lost".into(),
            since: SystemTime::now(),
            inventory: "connections unknown: add a monitoring URL".into(),
        }),
        ..Snapshot::default()
    }
}

#[test]
fn the_servers_view_shows_unknown_and_unreachable() {
    let (mut harness, publisher, _rt) = app();
    publisher.publish_snapshot(remote_snapshot());
    harness.run();
    assert!(
        has(&harness, "reconnecting"),
        "the status bar shows the link"
    );
    go(&mut harness, "Servers");
    // Each server's own row: alpha's known count, beta's unknown one (never 0).
    assert_eq!(cell(&harness, "alpha (attached)", "Connections"), "3");
    assert_eq!(cell(&harness, "alpha (attached)", "State"), "reachable");
    assert_eq!(
        cell(&harness, "beta", "Connections"),
        "unknown",
        "unknown connections read unknown"
    );
    assert_eq!(cell(&harness, "beta", "State"), "unreachable");
    assert!(has(&harness, "connections unknown: add a monitoring URL"));
}

#[test]
fn messages_from_outside_have_unknown_publishers_not_no_receivers() {
    let (mut harness, publisher, _rt) = app();
    publisher.publish_snapshot(remote_snapshot());
    harness.run();
    go(&mut harness, "Messages");
    publisher.offer_sample(MessageSample {
        seq: 1,
        time: SystemTime::now(),
        subject: b"orders.eu".to_vec(),
        reply: None,
        headers: None,
        payload: b"hello".to_vec(),
        publisher_cid: 0,
        receivers: 0,
    });
    harness.run();
    assert!(has(&harness, "unknown"));
    assert!(
        !has(&harness, "no one"),
        "from outside, receivers are unknown"
    );
}

/// The Deployments window reads the profiles file of `SWITCHBOARD_CONFIG_DIR` (the app has
/// no other way to be given the folder), so the test runs in a process of its own with the
/// variable set there: setting it here would race with the tests running beside it.
#[test]
fn the_deployments_window_offers_profiles_and_context_import() {
    let dir = tempfile::tempdir().unwrap();
    let mut saved = switchboard::remote::Profiles::default();
    saved.upsert(switchboard::remote::Profile::for_url(
        "nats://staging.test:4222",
    ));
    saved.save_to(dir.path()).unwrap();
    let nats_cli = dir.path().join("no-nats-cli");
    support::in_own_process(
        "remote::the_deployments_window_offers_profiles_and_context_import",
        &[
            ("SWITCHBOARD_CONFIG_DIR", dir.path().as_os_str()),
            // No NATS CLI contexts of the user running the tests either.
            ("XDG_CONFIG_HOME", nats_cli.as_os_str()),
        ],
        || {
            let (mut harness, _publisher, _rt) = app();
            harness.run();
            go(&mut harness, "Deployments…");
            assert!(has(&harness, "Import NATS CLI contexts"));
            assert!(has(&harness, "Embedded broker"));
            assert!(
                has(&harness, "nats://staging.test:4222"),
                "the profile saved in SWITCHBOARD_CONFIG_DIR is listed"
            );
            go(&mut harness, "New profile");
            assert!(has(&harness, "Save and connect"));
            // Joining the deployment as a leaf node fills Settings and shows it.
            go(&mut harness, "Join as leaf node");
            let settings = &harness.state().settings;
            assert!(settings.leaf);
            assert_eq!(settings.leaf_urls, "nats-leaf://staging.test:7422");
            assert!(has(&harness, "Join a hub as a leaf node"));
        },
    );
}
