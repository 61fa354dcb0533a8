//! Joining a hub as a leaf node from the window: the Settings rows, the restart that applies
//! them, the link's state on the Overview (the error while the hub is unreachable, then
//! "connected"), and the link among the Connections, apart from the clients.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use futures_util::StreamExt;

use crate::gui::{click, go, has, has_containing, type_into, wait_until};
use support::servers::{Server, ServerOpts, Target};

use switchboard::gui::app::InspectorApp;
use switchboard::gui::settings::{Loaded, Settings, SettingsStore};
use switchboard::gui::{GuiContext, Launcher, Source, StartFailure};
use switchboard::inspect::snapshot::LeafLinkState;

/// The hub: nats-server when `NATS_SERVER_BIN` is set, else switchboard.
fn hub_target() -> Target {
    match std::env::var_os("NATS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Target::Reference(p.into()),
        _ => Target::Switchboard,
    }
}

/// The port at the end of the first log line holding `prefix` (`... on H:P`).
fn logged_port(server: &Server, prefix: &str) -> u16 {
    support::wait::wait_for(
        &format!("{prefix:?} in the log of {}", server.url()),
        Duration::from_secs(10),
        || {
            server
                .log()
                .lines()
                .find_map(|l| l.split_once(prefix))
                .and_then(|(_, addr)| addr.trim().rsplit(':').next()?.parse().ok())
        },
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A launcher whose command line joined a hub itself (`--leaf`).
struct LeafGiven;

impl Launcher for LeafGiven {
    fn start_embedded(
        &self,
        _host: &str,
        _port: u16,
        _setting: &switchboard::gui::settings::BrokerSetting,
    ) -> crossbeam_channel::Receiver<Result<Source, StartFailure>> {
        crossbeam_channel::bounded(1).1
    }

    fn leafnodes_given(&self) -> bool {
        true
    }
}

#[test]
fn the_window_joins_a_hub_and_shows_the_link() {
    let runtime = runtime();
    let hub = Server::start_opts(
        &hub_target(),
        &ServerOpts::new().config("server_name: hub-a\nleafnodes { listen: \"127.0.0.1:-1\" }\n"),
    );
    let hub_leaf_port = logged_port(&hub, "Listening for leafnode connections on ");
    // Nothing listens there: the first attempt fails.
    let dead_port = support::servers::free_port();

    let dir = tempfile::tempdir().unwrap();
    let args = ["-a", "127.0.0.1", "-p", "0"].map(String::from);
    let switchboard::cli::Launch::Run(mut plan) =
        switchboard::cli::parse_server_args(args).unwrap()
    else {
        panic!("a plan to run");
    };
    assert!(!plan.leafnodes_given);
    let settings = Settings {
        jetstream: false,
        ..Settings::default()
    };
    switchboard::runner::app_settings(&mut plan, Some(&settings));
    plan.options.port = 0;
    assert!(plan.options.leafnodes.remotes.is_empty(), "off by default");
    let launcher = Arc::new(switchboard::runner::launcher::EmbeddedLauncher::new(
        runtime.handle().clone(),
        plan.clone(),
    ));
    let source = runtime
        .block_on(launcher.start(plan, Default::default()))
        .unwrap();
    let ctx = GuiContext {
        source,
        runtime: runtime.handle().clone(),
    };
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::new(&cc.egui_ctx, ctx));
    harness.state_mut().set_launcher(launcher.clone());
    let egui_ctx = harness.ctx.clone();
    let settings_dir = dir.path().join("config");
    harness.state_mut().use_settings(
        &egui_ctx,
        Some(SettingsStore::in_dir(&settings_dir)),
        Loaded {
            settings,
            warning: None,
        },
    );

    go(&mut harness, "Settings");
    wait_until(&mut harness, "the broker's state in Settings", |h| {
        has(h, "The broker joins no hub now.")
    });
    harness.get_by_label("Join a hub as a leaf node").click();
    harness.run_ok();
    let dead = format!("nats://127.0.0.1:{dead_port}");
    type_into(&mut harness, "Hub URLs", &dead);
    click(&mut harness, "Restart the broker with these settings");
    let not_connected = format!("Leaf node: not connected to {dead}");
    wait_until(&mut harness, "the failed attempt in Settings", |h| {
        has_containing(h, &not_connected)
    });
    assert!(
        has_containing(
            &harness,
            &format!("{not_connected} \u{2014} Connection refused")
        ),
        "the dial's error beside the URL"
    );
    go(&mut harness, "Overview");
    assert!(has_containing(&harness, &not_connected));

    // The hub's URL instead: connected, and the link among the connections.
    let url = format!("nats://127.0.0.1:{hub_leaf_port}");
    go(&mut harness, "Settings");
    {
        let app = harness.state_mut();
        app.settings.leaf_urls = url.clone();
        app.starter.setting = app.settings.broker_setting();
    }
    click(&mut harness, "Restart the broker with these settings");
    let connected = format!("Leaf node: connected to {url} (hub-a)");
    wait_until(&mut harness, "the link in Settings", |h| has(h, &connected));
    go(&mut harness, "Overview");
    assert!(has(&harness, &connected));

    // Traffic from the hub to a subscriber here counts on the link.
    let local_url = harness.state().state.snapshot.server.client_url.clone();
    let hub_url = hub.url();
    runtime.block_on(async {
        let local = async_nats::connect(local_url).await.unwrap();
        let mut sub = local.subscribe("down.>").await.unwrap();
        local.flush().await.unwrap();
        let remote = async_nats::connect(hub_url).await.unwrap();
        // The interest crosses the link in its own time: publish until one arrives.
        let mut got = None;
        for _ in 0..50 {
            remote.publish("down.one", "hi".into()).await.unwrap();
            remote.flush().await.unwrap();
            if let Ok(m) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
                got = m;
                break;
            }
        }
        assert_eq!(got.expect("a message across the link").payload, "hi");
    });
    wait_until(&mut harness, "the message counted on the link", |h| {
        h.state()
            .state
            .snapshot
            .leaf_links
            .first()
            .is_some_and(|l| l.totals.in_msgs >= 1 && l.local_interest >= 1)
    });
    let link = harness.state().state.snapshot.leaf_links[0].clone();
    assert_eq!(link.state, LeafLinkState::Connected);
    assert!(link.solicited);
    assert_eq!(link.account, "$G");
    assert_eq!(link.remote_name, "hub-a");
    go(&mut harness, "Connections");
    assert!(has(&harness, "Leaf-node links (1)"));
    assert!(has(&harness, "leaf"), "the link's kind");
    assert!(has(&harness, &url));
    // The Servers view lists the link below the servers.
    go(&mut harness, "Servers");
    assert!(has(&harness, "Leaf-node links (1)"));
    assert!(has(&harness, &url));
    assert!(
        harness.state().state.snapshot.connections.len() <= 1,
        "the link is not a client"
    );

    let saved = std::fs::read_to_string(settings_dir.join("settings.json")).unwrap();
    assert!(saved.contains(r#""leaf": true"#), "{saved}");
    assert!(saved.contains(&url), "{saved}");

    // A command line that joins a hub itself: Settings says the setting waits.
    go(&mut harness, "Settings");
    assert!(!has_containing(&harness, "(--leaf, leafnodes)"));
    harness.state_mut().set_launcher(Arc::new(LeafGiven));
    harness.run_ok();
    assert!(has_containing(&harness, "(--leaf, leafnodes)"));
    drop(harness);
    runtime.block_on(launcher.shutdown());
    drop(hub);
}
