//! The inspector against the real engine and real clients: the broker runs in-process on a
//! free port (multi-thread tokio runtime), the app is the real one with its own async-nats
//! client, and other async-nats clients make the traffic. egui_kittest drives the window by
//! label and role. Snapshots arrive every 250 ms, so every wait steps the window until what
//! it waits for is there, bounded in time (`gui::wait_until`).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use futures_util::StreamExt;

use crate::gui::{cell, click, go, has, has_containing, type_into, wait_until};

use switchboard::broker::BrokerHandle;
use switchboard::connect::ConnectArgs;
use switchboard::demo::DemoSwitch;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::settings::{BrokerSetting, JetStreamSetting, WebsocketSetting};
use switchboard::gui::{GuiContext, Source};
use switchboard::inspect::snapshot::JetStreamState;
use switchboard::options::Options;

struct Live {
    harness: Harness<'static, InspectorApp>,
    broker: Option<BrokerHandle>,
    url: String,
    runtime: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn harness(ctx: GuiContext) -> Harness<'static, InspectorApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::new(&cc.egui_ctx, ctx))
}

fn live() -> Live {
    let runtime = runtime();
    let broker = runtime
        .block_on(BrokerHandle::start(Options {
            host: "127.0.0.1".into(),
            port: 0,
            ..Options::default()
        }))
        .unwrap();
    let url = format!("nats://{}", broker.local_addr());
    let (feed, control) = runtime
        .block_on(async { switchboard::embedded::attach(broker.server().clone(), None) })
        .unwrap();
    control.set_latency_tracking(true);
    let ctx = GuiContext {
        source: Source {
            feed,
            control,
            client: ConnectArgs::url(&url),
            label: "embedded broker".into(),
            demo: Some(Arc::new(DemoSwitch::new(
                url.clone(),
                runtime.handle().clone(),
            ))),
        },
        runtime: runtime.handle().clone(),
    };
    Live {
        harness: harness(ctx),
        broker: Some(broker),
        url,
        runtime,
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            self.runtime.block_on(broker.shutdown());
        }
    }
}

impl Live {
    fn client(&self, name: &str) -> async_nats::Client {
        self.runtime
            .block_on(support::clients::connect_named(&self.url, name))
    }
}

#[test]
fn a_named_client_appears_in_connections() {
    let mut live = live();
    let _client = live.client("inventory-service");
    go(&mut live.harness, "Connections");
    wait_until(&mut live.harness, "the client in the table", |h| {
        has(h, "inventory-service")
    });
    live.harness.get_by_label("inventory-service").click();
    live.harness.run_ok();
    assert!(
        has_containing(&live.harness, "inventory-service #"),
        "the detail pane names it with its id"
    );
}

#[test]
fn a_message_from_the_form_reaches_a_subscriber_and_the_views() {
    let mut live = live();
    let listener = live.client("greeting-listener");
    let mut sub = live
        .runtime
        .block_on(listener.subscribe("greet.>"))
        .unwrap();
    live.runtime.block_on(listener.flush()).unwrap();

    go(&mut live.harness, "Publish & Request");
    type_into(&mut live.harness, "Subject", "greet.joe");
    type_into(&mut live.harness, "Payload", "hello from the form");
    click(&mut live.harness, "Publish");
    wait_until(&mut live.harness, "the publish outcome", |h| {
        has(h, "published")
    });
    let got = live
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), sub.next()).await })
        .expect("the subscriber receives it in time")
        .unwrap();
    assert_eq!(got.subject.as_str(), "greet.joe");
    assert_eq!(&got.payload[..], b"hello from the form");

    go(&mut live.harness, "Messages");
    wait_until(&mut live.harness, "the message in Messages", |h| {
        has(h, "greet.joe")
    });

    go(&mut live.harness, "Subjects");
    wait_until(&mut live.harness, "the subject in the tree", |h| {
        has(h, "greet")
    });
    live.harness.get_by_label("Expand all").click();
    live.harness.run_ok();
    assert!(has(&live.harness, "joe"), "the leaf under greet");
}

#[test]
fn a_request_from_the_form_shows_the_reply_and_its_latency() {
    let mut live = live();
    let responder = live.client("echo-service");
    let mut requests = live
        .runtime
        .block_on(responder.subscribe("svc.echo"))
        .unwrap();
    live.runtime.block_on(responder.flush()).unwrap();
    let answering = responder.clone();
    live.runtime.spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let mut body = b"echo: ".to_vec();
                body.extend_from_slice(&request.payload);
                let _ = answering.publish(reply, body.into()).await;
            }
        }
    });

    go(&mut live.harness, "Publish & Request");
    type_into(&mut live.harness, "Subject", "svc.echo");
    type_into(&mut live.harness, "Payload", "ping 42");
    click(&mut live.harness, "Send request");
    wait_until(&mut live.harness, "the reply", |h| {
        h.query_all_by_value("echo: ping 42").next().is_some()
    });
    assert!(has(&live.harness, "reply"), "the outcome says reply");
    assert!(
        live.harness.query_all_by_label_contains(", 13 B").any(|n| n
            .accesskit_node()
            .value()
            .is_some_and(|v| v.starts_with("in "))),
        "its round trip and size are shown"
    );

    // The broker paired the request with its reply by itself: one request, one reply, no
    // timeout. (A snapshot taken between the request and the reply shows no reply yet.)
    go(&mut live.harness, "Latency");
    wait_until(&mut live.harness, "the reply counted in Latency", |h| {
        has(h, "svc.echo") && cell(h, "svc.echo", "replies") != "0"
    });
    let counts = ["requests", "replies", "timeouts"].map(|c| cell(&live.harness, "svc.echo", c));
    assert_eq!(
        counts,
        ["1", "1", "0"],
        "requests, replies, timeouts of svc.echo"
    );
}

/// A requester with a custom inbox prefix (async-nats' `custom_inbox_prefix`, nats.go's
/// `CustomInboxPrefix`): the broker pairs each reply with its request, so Subjects folds the
/// prefix's replies into one row although they are not under `_INBOX`; a plain message on
/// a sibling keeps `myapp` itself open. The switch lists them.
#[test]
fn replies_on_a_custom_inbox_prefix_fold_until_listed() {
    let mut live = live();
    let responder = live.client("echo-service");
    let mut requests = live
        .runtime
        .block_on(responder.subscribe("svc.echo"))
        .unwrap();
    live.runtime.block_on(responder.flush()).unwrap();
    let answering = responder.clone();
    live.runtime.spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = answering.publish(reply, "pong".into()).await;
            }
        }
    });
    let requester = live.runtime.block_on(support::clients::connect_url(
        &live.url,
        async_nats::ConnectOptions::new()
            .name("asker")
            .custom_inbox_prefix("myapp.replies"),
    ));
    live.runtime.block_on(async {
        for _ in 0..3 {
            tokio::time::timeout(
                Duration::from_secs(10),
                requester.request("svc.echo", "ping".into()),
            )
            .await
            .expect("answered in time")
            .unwrap();
        }
        requester
            .publish("myapp.orders", "new".into())
            .await
            .unwrap();
        requester.flush().await.unwrap();
    });

    go(&mut live.harness, "Subjects");
    wait_until(&mut live.harness, "the replies folded into one row", |h| {
        has(h, "myapp.replies.>") && has(h, "(3 reply subjects)") && has(h, "orders")
    });
    // async-nats answers on <prefix>.<token>.<n>: the token is the branch folded away.
    let token = live
        .harness
        .state()
        .state
        .snapshot
        .subjects
        .iter()
        .find_map(|s| s.subject.strip_prefix("myapp.replies."))
        .and_then(|rest| rest.split('.').next())
        .unwrap()
        .to_string();
    assert!(!has(&live.harness, &token), "{token} is folded away");

    live.harness
        .get_by_role_and_label(Role::CheckBox, "Show reply subjects")
        .click();
    live.harness.run_ok();
    live.harness.get_by_label("Expand all").click();
    live.harness.run_ok();
    assert!(!has(&live.harness, "myapp.replies.>"));
    assert!(has(&live.harness, &token), "{token} listed");
}

#[test]
fn a_queue_group_of_three_shows_its_members_and_counts() {
    let mut live = live();
    let mut members = Vec::new();
    for i in 1..=3 {
        let client = live.client(&format!("worker-{i}"));
        let sub = live
            .runtime
            .block_on(client.queue_subscribe("jobs.resize", "crew".to_string()))
            .unwrap();
        live.runtime.block_on(client.flush()).unwrap();
        members.push((client, sub));
    }
    let dispatcher = live.client("dispatcher");
    live.runtime.block_on(async {
        for n in 0..30 {
            dispatcher
                .publish("jobs.resize", format!("job {n}").into())
                .await
                .unwrap();
        }
        dispatcher.flush().await.unwrap();
    });
    go(&mut live.harness, "Queue groups");
    wait_until(
        &mut live.harness,
        "the group with all its deliveries",
        |h| has(h, "3 members, 30 delivered"),
    );
    assert!(has(&live.harness, "crew"));
    let shown: Vec<String> = (1..=3)
        .filter(|i| has_containing(&live.harness, &format!("worker-{i} #")))
        .map(|i| format!("worker-{i}"))
        .collect();
    assert_eq!(shown.len(), 3, "every member is listed: {shown:?}");
    let delivered: u64 = live
        .harness
        .state()
        .state
        .snapshot
        .queue_groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.delivered))
        .sum();
    assert_eq!(delivered, 30);
}

#[test]
fn the_demo_switch_starts_and_stops_demo_clients() {
    let mut live = live();
    let switch = live.harness.get_by_label("Demo traffic");
    switch.click();
    live.harness.run_ok();
    wait_until(&mut live.harness, "demo clients and the DEMO badge", |h| {
        has(h, "DEMO")
            && h.state()
                .state
                .snapshot
                .connections
                .iter()
                .any(|c| c.name.starts_with("demo-"))
    });
    live.harness.get_by_label("Demo traffic").click();
    live.harness.run_ok();
    wait_until(&mut live.harness, "the demo clients to leave", |h| {
        !has(h, "DEMO")
            && !h
                .state()
                .state
                .snapshot
                .connections
                .iter()
                .any(|c| c.name.starts_with("demo-"))
    });
}

#[test]
fn ctrl_digit_shows_a_view() {
    let mut live = live();
    live.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    live.harness.run_ok();
    assert_eq!(
        live.harness.state().view,
        switchboard::gui::panels::View::Connections
    );
    live.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Comma);
    live.harness.run_ok();
    assert!(has(&live.harness, "Theme"), "Ctrl+, opens Settings");
}

/// The port-in-use message, and a broker started from the window on a free port.
#[test]
fn a_port_in_use_is_explained_and_another_port_starts_the_broker() {
    let runtime = runtime();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let args = vec![
        "-a".to_string(),
        "127.0.0.1".to_string(),
        "-p".to_string(),
        port.to_string(),
    ];
    let switchboard::cli::Launch::Run(plan) = switchboard::cli::parse_server_args(args).unwrap()
    else {
        panic!("a plan to run");
    };
    let launcher = Arc::new(switchboard::runner::launcher::EmbeddedLauncher::new(
        runtime.handle().clone(),
        plan.clone(),
    ));
    let failure = runtime
        .block_on(launcher.start(plan, Default::default()))
        .err()
        .expect("the port is taken");
    assert!(failure.port_in_use, "{failure:?}");
    let ctx = GuiContext {
        source: switchboard::runner::launcher::no_broker(&failure),
        runtime: runtime.handle().clone(),
    };
    let mut harness = harness(ctx);
    harness.state_mut().set_launcher(launcher.clone());
    harness.state_mut().show_start_failure(failure);
    // The window's starts carry its JetStream setting (here a folder of the test's own;
    // the default is the user's data folder) and its WebSocket setting.
    let store = tempfile::tempdir().unwrap();
    let ws_port = support::servers::free_port();
    harness.state_mut().starter.setting = BrokerSetting {
        jetstream: JetStreamSetting {
            enabled: true,
            store_dir: Some(store.path().to_path_buf()),
        },
        websocket: WebsocketSetting {
            enabled: true,
            port: ws_port,
        },
        leaf: Default::default(),
    };
    harness.run_ok();
    let message = format!("127.0.0.1:{port} is in use \u{2014} by another nats-server?");
    assert!(has(&harness, &message), "the window says why");
    assert!(has(&harness, "broker not running"));

    harness
        .get_by_role_and_label(Role::Button, "Pick a free port")
        .click();
    harness.run_ok();
    wait_until(&mut harness, "the new broker's first snapshot", |h| {
        !h.state().state.snapshot.server.client_url.is_empty()
    });
    assert!(!has(&harness, &message), "the message is gone");
    assert!(!has(&harness, "broker not running"));
    let url = harness.state().state.snapshot.server.client_url.clone();
    assert!(url.starts_with("nats://127.0.0.1:"), "{url}");
    wait_until(&mut harness, "JetStream in the test's folder", |h| {
        h.state()
            .state
            .snapshot
            .jetstream
            .summary()
            .is_some_and(|js| js.store_dir == store.path().join("jetstream").display().to_string())
    });
    assert!(!url.ends_with(&format!(":{port}")), "{url} is another port");

    // The new broker serves clients.
    let client = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), async_nats::connect(url)).await
        })
        .expect("connect in time")
        .unwrap();
    runtime.block_on(client.flush()).unwrap();
    drop(client);

    // And WebSocket clients, at the URL the Overview shows.
    let ws_url = format!("ws://127.0.0.1:{ws_port}");
    go(&mut harness, "Overview");
    assert!(has(&harness, "WebSocket URL"));
    assert!(has(&harness, &ws_url), "the Overview shows {ws_url}");
    let client = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&ws_url)).await
        })
        .expect("connect in time")
        .unwrap();
    runtime.block_on(client.flush()).unwrap();
    drop(client);
    drop(harness);
    runtime.block_on(launcher.shutdown());
    drop(taken);
}

/// The live rig with its settings kept in `dir` (as `SWITCHBOARD_CONFIG_DIR` would).
fn live_with_settings(dir: &std::path::Path) -> Live {
    let mut live = live();
    let store = switchboard::gui::settings::SettingsStore::in_dir(dir);
    let loaded = store.load();
    let ctx = live.harness.ctx.clone();
    live.harness
        .state_mut()
        .use_settings(&ctx, Some(store), loaded);
    live.harness.run_ok();
    live
}

fn settings_file(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("settings.json")).unwrap_or_default()
}

#[test]
fn publish_templates_are_saved_loaded_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = live_with_settings(dir.path());
    go(&mut live.harness, "Publish & Request");
    type_into(&mut live.harness, "Subject", "orders.create");
    type_into(&mut live.harness, "Payload", r#"{"sku": 7}"#);
    type_into(&mut live.harness, "Template name", "create order");
    live.harness.get_by_label("request").click();
    live.harness.run_ok();
    click(&mut live.harness, "Save template");
    assert!(has(&live.harness, "Load create order"));
    let saved = settings_file(dir.path());
    assert!(saved.contains("\"create order\""), "{saved}");
    assert!(saved.contains("\"request\""), "{saved}");

    // A fresh window on the same folder lists it and fills the form from it.
    drop(live);
    let mut live = live_with_settings(dir.path());
    go(&mut live.harness, "Publish & Request");
    click(&mut live.harness, "Load create order");
    assert_eq!(live.harness.state().publish.subject, "orders.create");
    assert_eq!(live.harness.state().publish.payload, r#"{"sku": 7}"#);
    click(&mut live.harness, "Delete create order");
    assert!(!has(&live.harness, "Load create order"));
    assert!(!settings_file(dir.path()).contains("create order"));
}

#[test]
fn a_broken_settings_file_is_a_warning_and_theme_changes_are_saved() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.json"), "{ this is not json").unwrap();
    let mut live = live_with_settings(dir.path());
    go(&mut live.harness, "Settings");
    assert!(
        has_containing(&live.harness, "Could not read the settings"),
        "the window says the file was not usable"
    );
    live.harness.get_by_label("Light").click();
    live.harness.run_ok();
    assert_eq!(live.harness.ctx.theme(), egui::Theme::Light);
    // Saved half a second after the last change.
    wait_until(
        &mut live.harness,
        "the settings file to be rewritten",
        |_| settings_file(dir.path()).contains("\"light\""),
    );
    assert!(!has_containing(
        &live.harness,
        "Could not read the settings"
    ));
}

/// The window's JetStream setting reaches the broker it restarts (the command line said
/// nothing about JetStream), and the Overview counts what a client stores.
#[test]
fn the_jetstream_setting_applies_when_the_window_restarts_the_broker() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let args = ["-a", "127.0.0.1", "-p", "0"].map(String::from);
    let switchboard::cli::Launch::Run(mut plan) =
        switchboard::cli::parse_server_args(args).unwrap()
    else {
        panic!("a plan to run");
    };
    assert!(!plan.jetstream_given);
    // Started as the runner does with the setting off.
    let off = switchboard::gui::settings::Settings {
        jetstream: false,
        ..Default::default()
    };
    switchboard::runner::app_settings(&mut plan, Some(&off));
    plan.options.port = 0;
    assert_eq!(plan.options.jetstream, None);
    let launcher = Arc::new(switchboard::runner::launcher::EmbeddedLauncher::new(
        runtime.handle().clone(),
        plan.clone(),
    ));
    let source = runtime
        .block_on(launcher.start(plan, Default::default()))
        .unwrap();
    let mut harness = harness(GuiContext {
        source,
        runtime: runtime.handle().clone(),
    });
    harness.state_mut().set_launcher(launcher.clone());
    let ctx = harness.ctx.clone();
    let settings_dir = dir.path().join("config");
    harness.state_mut().use_settings(
        &ctx,
        Some(switchboard::gui::settings::SettingsStore::in_dir(
            &settings_dir,
        )),
        switchboard::gui::settings::Loaded {
            settings: off,
            warning: None,
        },
    );
    harness.state_mut().view = switchboard::gui::panels::View::Overview;
    wait_until(&mut harness, "a broker without JetStream", |h| {
        h.state().state.snapshot.jetstream == JetStreamState::Off
    });
    assert!(has_containing(&harness, "Turn it on in Settings"));

    // Settings: JetStream on, in the test's folder, on a free port.
    go(&mut harness, "Settings");
    assert!(has(&harness, "JetStream is off now."));
    harness.get_by_label("Run JetStream").click();
    harness.run_ok();
    let store = dir.path().join("store");
    type_into(
        &mut harness,
        "Store directory",
        &store.display().to_string(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    harness.state_mut().settings.listen_port = port;
    click(&mut harness, "Restart the broker with these settings");
    wait_until(&mut harness, "JetStream in the chosen folder", |h| {
        h.state()
            .state
            .snapshot
            .jetstream
            .summary()
            .is_some_and(|js| js.store_dir == store.join("jetstream").display().to_string())
    });
    let saved = std::fs::read_to_string(settings_dir.join("settings.json")).unwrap();
    assert!(saved.contains(r#""jetstream": true"#), "{saved}");

    // A stream with three messages, as the Overview counts them.
    let url = harness.state().state.snapshot.server.client_url.clone();
    runtime.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let created = client
            .request(
                "$JS.API.STREAM.CREATE.ORDERS",
                r#"{"name":"ORDERS","subjects":["orders.>"]}"#.into(),
            )
            .await
            .unwrap();
        let created = String::from_utf8_lossy(&created.payload).into_owned();
        assert!(!created.contains("\"error\""), "{created}");
        for i in 0..3 {
            let ack = client
                .request(format!("orders.{i}"), "hello".into())
                .await
                .unwrap();
            let ack = String::from_utf8_lossy(&ack.payload).into_owned();
            assert!(ack.contains("\"stream\":\"ORDERS\""), "{ack}");
        }
    });
    go(&mut harness, "Overview");
    wait_until(&mut harness, "the stream's messages on the Overview", |h| {
        h.state()
            .state
            .snapshot
            .jetstream
            .summary()
            .is_some_and(|js| js.streams == 1 && js.messages == 3)
    });
    assert!(has(&harness, "Stream messages"));
    assert!(has(
        &harness,
        &store.join("jetstream").display().to_string()
    ));
    assert!(!has_containing(&harness, "Turn it on in Settings"));
    drop(harness);
    runtime.block_on(launcher.shutdown());
}

/// The app's start-up: JetStream on in the data folder unless the settings say off, and the
/// command line or a configuration file that says anything about JetStream wins.
#[test]
fn the_app_runs_jetstream_unless_the_command_line_or_the_file_says() {
    use std::path::{Path, PathBuf};
    use switchboard::cli::{parse_server_args, Launch, RunPlan};
    use switchboard::gui::settings::{default_jetstream_store_dir, Settings};
    use switchboard::runner::app_settings;

    let plan = |args: &[&str]| -> RunPlan {
        match parse_server_args(args.iter().map(|s| s.to_string())).unwrap() {
            Launch::Run(plan) => plan,
            _ => panic!("a plan to run"),
        }
    };
    let store_dir = |plan: &RunPlan| {
        plan.options
            .jetstream
            .as_ref()
            .map(|js| js.store_dir.clone())
    };
    let on = Settings::default();
    let off = Settings {
        jetstream: false,
        ..Settings::default()
    };
    let elsewhere = Settings {
        jetstream_store_dir: "/srv/streams".into(),
        ..Settings::default()
    };

    let mut p = plan(&[]);
    assert_eq!(
        p.options.jetstream, None,
        "serve and nats-server keep it off"
    );
    assert!(!p.jetstream_given);
    app_settings(&mut p, Some(&on));
    assert_eq!(store_dir(&p), Some(default_jetstream_store_dir()));
    let mut p = plan(&[]);
    app_settings(&mut p, None);
    assert_eq!(
        store_dir(&p),
        Some(default_jetstream_store_dir()),
        "no settings file: the default"
    );
    let mut p = plan(&[]);
    app_settings(&mut p, Some(&off));
    assert_eq!(p.options.jetstream, None);
    let mut p = plan(&["-p", "4333"]);
    app_settings(&mut p, Some(&elsewhere));
    assert_eq!(store_dir(&p), Some(Some(PathBuf::from("/srv/streams"))));
    assert_eq!(
        p.options.port, 4333,
        "the flag's port, the settings' JetStream"
    );

    // The command line: as nats-server reads it (-sd alone leaves JetStream off).
    let mut p = plan(&["-js", "-sd", "/data/js"]);
    assert!(p.jetstream_given);
    app_settings(&mut p, Some(&off));
    assert_eq!(store_dir(&p), Some(Some(PathBuf::from("/data/js"))));
    let mut p = plan(&["-sd", "/data/js"]);
    assert!(p.jetstream_given);
    app_settings(&mut p, Some(&on));
    assert_eq!(p.options.jetstream, None);
    let mut p = plan(&["--jetstream=false"]);
    app_settings(&mut p, Some(&on));
    assert_eq!(p.options.jetstream, None);

    // A configuration file.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let disabled = file("disabled.conf", "jetstream: disabled\n");
    let mut p = plan(&["-c", &disabled]);
    assert!(p.jetstream_given, "`jetstream: disabled` says something");
    app_settings(&mut p, Some(&on));
    assert_eq!(p.options.jetstream, None);
    let block = file("block.conf", "jetstream {\n  store_dir: \"/var/js\"\n}\n");
    let mut p = plan(&["-c", &block]);
    app_settings(&mut p, Some(&off));
    assert_eq!(store_dir(&p), Some(Some(PathBuf::from("/var/js"))));
    let top = file("top.conf", "STORE_DIR: /var/js2\n");
    let mut p = plan(&["-c", &top]);
    assert!(p.jetstream_given);
    app_settings(&mut p, Some(&on));
    assert_eq!(p.options.jetstream, None, "store_dir alone, as nats-server");
    let plain = file("plain.conf", "port: 4444\n");
    let mut p = plan(&["-c", &plain]);
    assert!(!p.jetstream_given);
    app_settings(&mut p, Some(&elsewhere));
    assert_eq!(
        p.options
            .jetstream
            .as_ref()
            .and_then(|js| js.store_dir.as_deref()),
        Some(Path::new("/srv/streams"))
    );
    assert_eq!(p.options.port, 4444, "the file's port");
}

/// A second window must not open the streams of the first: its broker does not start on the
/// same store directory, and does once the first stopped.
#[test]
fn two_windows_do_not_share_a_jetstream_store() {
    use switchboard::runner::launcher::EmbeddedLauncher;
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let args = ["-a", "127.0.0.1", "-p", "0"].map(String::from);
    let switchboard::cli::Launch::Run(mut plan) =
        switchboard::cli::parse_server_args(args).unwrap()
    else {
        panic!("a plan to run");
    };
    let settings = switchboard::gui::settings::Settings {
        jetstream_store_dir: dir.path().display().to_string(),
        ..Default::default()
    };
    switchboard::runner::app_settings(&mut plan, Some(&settings));
    plan.options.port = 0;
    let first = EmbeddedLauncher::new(runtime.handle().clone(), plan.clone());
    let second = EmbeddedLauncher::new(runtime.handle().clone(), plan.clone());
    let running = runtime.block_on(first.start(plan.clone(), Default::default()));
    assert!(running.is_ok(), "the first window's broker starts");
    let refused = runtime
        .block_on(second.start(plan.clone(), Default::default()))
        .err()
        .expect("the store is taken");
    assert!(
        refused
            .message
            .contains("in use by another switchboard window"),
        "{refused:?}"
    );
    assert!(!refused.port_in_use);
    drop(running);
    runtime.block_on(first.shutdown());
    let source = runtime.block_on(second.start(plan, Default::default()));
    assert!(source.is_ok(), "free once the first stopped");
    drop(source);
    runtime.block_on(second.shutdown());
    assert!(dir.path().join("jetstream.lock").exists());
}
