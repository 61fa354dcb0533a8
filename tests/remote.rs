//! Attaching the inspector to a real nats-server deployment (NATS_SERVER_BIN): a
//! three-node cluster on loopback, traffic published through one node seen through another,
//! request/reply latency of a real responder, every server listed, wrong credentials
//! reported, a stopped node reported and recovered from. Skipped (with a note) when
//! NATS_SERVER_BIN is not set: switchboard itself does not cluster. Profile files and NATS
//! CLI context import need no server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use support::{try_wait_for, wait_for, wait_until, wait_until_async, Server, Target};
use switchboard::inspect::snapshot::{EventKind, LinkState, Snapshot, Vantage};
use switchboard::inspect::{Feed, SourceControl};
use switchboard::remote::contexts::{context_profile_named, read_contexts};
use switchboard::remote::{attach, Credentials, Profile, Profiles};

fn reference() -> Option<Target> {
    match std::env::var_os("NATS_SERVER_BIN").filter(|p| !p.is_empty()) {
        Some(p) => Some(Target::Reference(PathBuf::from(p))),
        None => {
            eprintln!("skipped: NATS_SERVER_BIN is not set (a nats-server cluster is needed)");
            None
        }
    }
}

/// A node of the test cluster, with the ports it picked for its routes and its monitoring.
struct Node {
    server: Server,
    name: String,
    http_port: u16,
    cluster_port: u16,
}

/// The port of the address a log line starting with `prefix` ends with (`... on H:P`).
fn logged_port(server: &Server, prefix: &str) -> u16 {
    wait_for(
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

/// Starts node `i` with an application account and a system account, routed to `seed`.
/// It picks its cluster and monitoring ports itself (`-1`) and logs them: ports picked here
/// in advance could be taken by a node of another test before this one binds them.
fn node(target: &Target, i: usize, seed: Option<&Node>) -> Node {
    let routes = seed
        .map(|s| format!("routes: [\"nats-route://127.0.0.1:{}\"]", s.cluster_port))
        .unwrap_or_default();
    let config = format!(
        r#"
server_name: node{i}
http: "127.0.0.1:-1"
cluster {{
  name: testc
  listen: "127.0.0.1:-1"
  {routes}
}}
accounts {{
  APP: {{ users: [ {{ user: app, password: secret }} ] }}
  SYS: {{ users: [ {{ user: sys, password: syspass }} ] }}
}}
system_account: SYS
"#
    );
    let server = Server::start_with_config(target, &config, &[]);
    Node {
        http_port: logged_port(&server, "Starting http monitor on "),
        cluster_port: logged_port(&server, "Listening for route connections on "),
        name: format!("node{i}"),
        server,
    }
}

/// Starts three nodes: the first is the seed the two others route to, and gossip completes
/// the mesh (see [`wait_for_routes`]).
fn cluster(target: &Target) -> Vec<Node> {
    let seed = node(target, 0, None);
    let others: Vec<Node> = (1..3).map(|i| node(target, i, Some(&seed))).collect();
    std::iter::once(seed).chain(others).collect()
}

/// The names of the servers `node` has routes to (several connections each: route pools).
fn routed_to(rt: &tokio::runtime::Runtime, node: &Node) -> BTreeSet<String> {
    let url = format!("http://127.0.0.1:{}/routez", node.http_port);
    rt.block_on(switchboard::remote::poll::http_get(&url))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v["routes"].as_array().map(|routes| {
                routes
                    .iter()
                    .filter_map(|r| r["remote_name"].as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Waits (bounded) until every node has routes to both others: the full mesh.
fn wait_for_routes(rt: &tokio::runtime::Runtime, nodes: &[Node]) {
    wait_until(
        "every node routed to the two others",
        Duration::from_secs(15),
        || {
            nodes.iter().all(|n| {
                let others: BTreeSet<String> = nodes
                    .iter()
                    .filter(|o| o.name != n.name)
                    .map(|o| o.name.clone())
                    .collect();
                routed_to(rt, n) == others
            })
        },
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn app_credentials() -> Credentials {
    Credentials {
        user: Some("app".into()),
        password: Some("secret".into()),
        ..Credentials::default()
    }
}

fn system_credentials() -> Credentials {
    Credentials {
        user: Some("sys".into()),
        password: Some("syspass".into()),
        ..Credentials::default()
    }
}

/// Reads snapshots until `pred` holds, at most `limit`; panics with `what` and the last
/// snapshot's link status otherwise.
fn wait_for_snapshot(
    feed: &mut Feed,
    limit: Duration,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let mut last: Option<Arc<Snapshot>> = None;
    let found = try_wait_for(limit, || {
        let s = feed.latest()?;
        if pred(&s) {
            return Some(s);
        }
        last = Some(s);
        None
    });
    found.unwrap_or_else(|| {
        panic!(
            "timed out after {limit:?} waiting for {what}; subjects: {:?}, latency: {:?}, \
             connections: {:?}, last link: {:?}, servers: {:?}",
            last.as_ref().map(|s| s
                .subjects
                .iter()
                .map(|x| (x.subject.clone(), x.msgs))
                .collect::<Vec<_>>()),
            last.as_ref().map(|s| s
                .latency
                .iter()
                .map(|l| (l.subject.clone(), l.requests, l.replies))
                .collect::<Vec<_>>()),
            last.as_ref().map(|s| s
                .connections
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()),
            last.as_ref().and_then(|s| s.link.clone()),
            last.as_ref().map(|s| s
                .servers
                .iter()
                .map(|s| (s.name.clone(), s.reachable))
                .collect::<Vec<_>>())
        )
    })
}

async fn app_client(url: String, name: &str) -> async_nats::Client {
    support::connect_once(
        url,
        async_nats::ConnectOptions::with_user_and_password("app".into(), "secret".into())
            .name(name),
    )
    .await
    .unwrap()
}

/// Attaches to `profile`'s deployment and waits until the link is up.
fn attach_connected(
    profile: Profile,
    rt: &tokio::runtime::Runtime,
) -> switchboard::remote::Attached {
    let mut attached = attach(profile, rt.handle());
    wait_for_snapshot(
        &mut attached.feed,
        Duration::from_secs(10),
        "connected",
        |s| {
            s.link
                .as_ref()
                .is_some_and(|l| l.state == LinkState::Connected)
        },
    );
    attached
}

/// An application client named `name` at `url` that answers every request on `subject`
/// with its payload; its subscription is flushed before this returns.
fn echo_responder(
    rt: &tokio::runtime::Runtime,
    url: String,
    name: &str,
    subject: &str,
) -> (async_nats::Client, tokio::task::JoinHandle<()>) {
    let responder = rt.block_on(app_client(url, name));
    let mut requests = rt
        .block_on(responder.subscribe(subject.to_string()))
        .unwrap();
    rt.block_on(responder.flush()).unwrap();
    let task = rt.spawn({
        let responder = responder.clone();
        async move {
            while let Some(m) = requests.next().await {
                if let Some(reply) = m.reply {
                    responder.publish(reply, m.payload).await.unwrap();
                }
            }
        }
    });
    (responder, task)
}

#[test]
fn a_cluster_is_inspected_through_one_node() {
    let Some(target) = reference() else { return };
    let rt = runtime();
    let nodes = cluster(&target);
    wait_for_routes(&rt, &nodes);
    let profile = Profile {
        name: "test cluster".into(),
        servers: nodes[0].server.url(),
        credentials: app_credentials(),
        system: Some(system_credentials()),
        ..Profile::default()
    };
    let mut attached = attach_connected(profile, &rt);

    // A real responder on node 2; a publisher and a requester on node 1. The responder's
    // subscription is sent (flushed) before it answers anything.
    let (_responder, responder_task) =
        echo_responder(&rt, nodes[2].server.url(), "responder", "svc.echo");
    let publisher = rt.block_on(app_client(nodes[1].server.url(), "publisher"));
    // The inspector's interest (on node 0) must have crossed the routes to node 1 too: probe
    // until the inspector sees node 1's traffic.
    wait_until(
        "the inspector to see node 1's traffic",
        Duration::from_secs(10),
        || {
            rt.block_on(async {
                publisher.publish("probe", Bytes::new()).await.unwrap();
                publisher.flush().await.unwrap();
            });
            attached
                .feed
                .latest()
                .is_some_and(|s| s.subjects.iter().any(|x| x.subject == "probe"))
        },
    );
    rt.block_on(async {
        // The responder's interest must have crossed the routes before the requests do.
        wait_until_async(
            "the responder to answer through the routes",
            Duration::from_secs(10),
            async || {
                let warm_up = publisher.request("svc.echo", Bytes::from_static(b"warm-up"));
                matches!(
                    tokio::time::timeout(Duration::from_millis(500), warm_up).await,
                    Ok(Ok(_))
                )
            },
        )
        .await;
        for i in 0..20 {
            publisher
                .publish("orders.eu.created", Bytes::from(format!("order {i}")))
                .await
                .unwrap();
        }
        for _ in 0..10 {
            publisher
                .request("svc.echo", Bytes::from_static(b"ping"))
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
    });

    let snap = wait_for_snapshot(
        &mut attached.feed,
        Duration::from_secs(20),
        "traffic, latency, servers and connections",
        |s| {
            s.subjects
                .iter()
                .any(|x| x.subject == "orders.eu.created" && x.msgs == 20)
                && s.latency
                    .iter()
                    .any(|l| l.subject == "svc.echo" && l.replies >= 10)
                && s.servers.len() == 3
                && s.servers.iter().all(|x| x.reachable)
                && s.connections.iter().any(|c| c.name == "responder")
        },
    );
    assert_eq!(snap.vantage, Vantage::Outside);
    let orders = snap
        .subjects
        .iter()
        .find(|x| x.subject == "orders.eu.created")
        .unwrap();
    assert_eq!(
        orders.bytes,
        (0..20)
            .map(|i| format!("order {i}").len() as u64)
            .sum::<u64>()
    );
    let echo = snap
        .latency
        .iter()
        .find(|l| l.subject == "svc.echo")
        .unwrap();
    assert!(echo.requests >= 10 && echo.p50 > Duration::ZERO && echo.max >= echo.p50);
    let mut names: Vec<&str> = snap.servers.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["node0", "node1", "node2"]);
    assert!(snap.servers.iter().all(|s| s.version == "2.15.1"));
    assert_eq!(
        snap.servers
            .iter()
            .filter(|s| s.attached)
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["node0"]
    );
    // The responder's subscription is known (from node 2's monitoring) and the subject tree
    // knows who would receive svc.echo.
    let responder_conn = snap
        .connections
        .iter()
        .find(|c| c.name == "responder")
        .unwrap();
    assert!(responder_conn
        .subscriptions
        .iter()
        .any(|s| s.subject == "svc.echo"));
    let svc = snap
        .subjects
        .iter()
        .find(|x| x.subject == "svc.echo")
        .unwrap();
    assert!(svc.receivers.contains(&responder_conn.cid));
    // Samples flow when asked for, with the publisher marked unknown by the vantage.
    attached.control.set_sampling(true);
    rt.block_on(async {
        publisher
            .publish("orders.us.created", Bytes::from_static(b"sampled"))
            .await
            .unwrap();
        publisher.flush().await.unwrap();
    });
    let sample = wait_for(
        "a sample of orders.us.created",
        Duration::from_secs(10),
        || {
            attached
                .feed
                .drain_samples(100)
                .into_iter()
                .find(|s| s.subject == b"orders.us.created")
        },
    );
    assert_eq!(sample.payload, b"sampled");
    responder_task.abort();
    drop(attached);
    drop(nodes);
}

#[test]
fn wrong_credentials_give_a_clear_error() {
    let Some(target) = reference() else { return };
    let rt = runtime();
    let node = node(&target, 0, None);
    let profile = Profile {
        name: "bad".into(),
        servers: node.server.url(),
        credentials: Credentials {
            user: Some("app".into()),
            password: Some("wrong".into()),
            ..Credentials::default()
        },
        ..Profile::default()
    };
    let mut attached = attach(profile, rt.handle());
    let snap = wait_for_snapshot(
        &mut attached.feed,
        Duration::from_secs(15),
        "auth failure",
        |s| {
            s.link
                .as_ref()
                .is_some_and(|l| l.state == LinkState::AuthFailed)
        },
    );
    let link = snap.link.clone().unwrap();
    assert!(
        link.detail
            .to_lowercase()
            .contains("authorization violation"),
        "{}",
        link.detail
    );
    let events = attached.feed.events_since(0);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Link {
            state: LinkState::AuthFailed,
            ..
        }
    )));
}

#[test]
fn a_stopped_node_is_reported_and_the_view_recovers_through_the_others() {
    let Some(target) = reference() else { return };
    let rt = runtime();
    let mut nodes = cluster(&target);
    wait_for_routes(&rt, &nodes);
    let profile = Profile {
        name: "failover".into(),
        servers: format!("{},{}", nodes[0].server.url(), nodes[1].server.url()),
        credentials: app_credentials(),
        system: Some(system_credentials()),
        ..Profile::default()
    };
    let mut attached = attach(profile, rt.handle());
    let snap = wait_for_snapshot(
        &mut attached.feed,
        Duration::from_secs(15),
        "three servers",
        |s| {
            s.link
                .as_ref()
                .is_some_and(|l| l.state == LinkState::Connected)
                && s.servers.len() == 3
                && s.servers.iter().all(|x| x.reachable)
        },
    );
    let attached_name = snap
        .servers
        .iter()
        .find(|s| s.attached)
        .map(|s| s.name.clone())
        .unwrap();
    let index: usize = attached_name.trim_start_matches("node").parse().unwrap();
    // Stop the node the inspector is attached to.
    drop(nodes.remove(index));
    let survivor = nodes[0].server.url();
    let snap = wait_for_snapshot(
        &mut attached.feed,
        Duration::from_secs(20),
        "the stopped node reported and the link back",
        |s| {
            s.link
                .as_ref()
                .is_some_and(|l| l.state == LinkState::Connected)
                && s.servers
                    .iter()
                    .any(|x| x.name == attached_name && !x.reachable)
                && s.servers.iter().filter(|x| x.reachable).count() == 2
        },
    );
    assert!(snap
        .servers
        .iter()
        .any(|x| x.attached && x.name != attached_name));
    let events = attached.feed.events_since(0);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Server { name, reachable: false } if *name == attached_name
    )));
    // Traffic published after the failover is seen.
    let publisher = rt.block_on(app_client(survivor, "late-publisher"));
    wait_until(
        "traffic seen after the failover",
        Duration::from_secs(15),
        || {
            rt.block_on(async {
                publisher
                    .publish("after.failover", Bytes::from_static(b"x"))
                    .await
                    .unwrap();
                publisher.flush().await.unwrap();
            });
            attached
                .feed
                .latest()
                .is_some_and(|s| s.subjects.iter().any(|x| x.subject == "after.failover"))
        },
    );
}

#[test]
fn profiles_round_trip_through_their_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Profiles::load_from(dir.path()).unwrap(),
        Profiles::default()
    );
    let mut profiles = Profiles::default();
    profiles.upsert(Profile {
        name: "prod".into(),
        servers: "nats://a:4222,nats://b:4222".into(),
        credentials: Credentials {
            creds: Some("/etc/nats/user.creds".into()),
            tls_ca: Some("/etc/nats/ca.pem".into()),
            ..Credentials::default()
        },
        monitor_url: Some("http://a:8222".into()),
        system: Some(system_credentials()),
        subjects: vec!["orders.>".into(), "svc.*".into()],
        imported_from: None,
    });
    profiles.upsert(Profile::for_url("nats://dev:4222"));
    profiles.save_to(dir.path()).unwrap();
    let loaded = Profiles::load_from(dir.path()).unwrap();
    assert_eq!(loaded, profiles);
    assert_eq!(loaded.profiles[0].name, "nats://dev:4222");
    assert_eq!(
        loaded.get("prod").unwrap().connect_args().server,
        "nats://a:4222,nats://b:4222"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("profiles.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the profiles file may hold passwords");
    }
    std::fs::write(dir.path().join("profiles.json"), "{ not json").unwrap();
    assert!(Profiles::load_from(dir.path())
        .unwrap_err()
        .to_string()
        .contains("not a valid profiles file"));
}

#[test]
fn nats_cli_contexts_become_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let nats = dir.path().join("nats");
    std::fs::create_dir_all(nats.join("context")).unwrap();
    std::fs::write(
        nats.join("context/prod.json"),
        r#"{"description":"production","url":"nats://p1:4222,nats://p2:4222","user":"u",
            "password":"p","creds":"","nkey":"","cert":"/c.pem","key":"/k.pem","ca":"/ca.pem",
            "jetstream_domain":"hub","color_scheme":"red"}"#,
    )
    .unwrap();
    std::fs::write(nats.join("context/dev.json"), r#"{"url":"","token":"t0k"}"#).unwrap();
    std::fs::write(nats.join("context/empty.json"), "").unwrap();
    std::fs::write(nats.join("context/notes.txt"), "ignored").unwrap();
    std::fs::write(nats.join("context.txt"), "prod\n").unwrap();
    let (contexts, selected) = read_contexts(&nats).unwrap();
    assert_eq!(selected.as_deref(), Some("prod"));
    let names: Vec<&str> = contexts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["dev", "prod"]);
    let prod = &contexts[1].profile;
    assert_eq!(prod.servers, "nats://p1:4222,nats://p2:4222");
    assert_eq!(prod.credentials.user.as_deref(), Some("u"));
    assert_eq!(prod.credentials.password.as_deref(), Some("p"));
    assert_eq!(prod.credentials.creds, None);
    assert_eq!(prod.credentials.tls_ca, Some(PathBuf::from("/ca.pem")));
    assert_eq!(prod.imported_from.as_deref(), Some("prod"));
    assert_eq!(contexts[1].description, "production");
    let dev = &contexts[0].profile;
    assert_eq!(dev.servers, "nats://127.0.0.1:4222");
    assert_eq!(dev.credentials.token.as_deref(), Some("t0k"));
    // By name, and the selected one for an empty name.
    assert_eq!(context_profile_named(&nats, "dev").unwrap(), *dev);
    assert_eq!(context_profile_named(&nats, "").unwrap(), *prod);
    assert!(context_profile_named(&nats, "nope").is_err());
    // No NATS CLI folder at all: nothing to import, not an error.
    assert!(read_contexts(&dir.path().join("missing"))
        .unwrap()
        .0
        .is_empty());
}

/// A deployment with a timed service export between two accounts, and a system account.
const TIMED_EXPORT: &str = r#"
server_name: solo
accounts {
  APP: {
    users: [ { user: app, password: secret } ]
    exports: [ { service: "svc.timed", latency: { sampling: 100, subject: "latency.svc" } } ]
  }
  CLIENTS: {
    users: [ { user: cli, password: cli } ]
    imports: [ { service: { account: APP, subject: "svc.timed" } } ]
  }
  SYS: { users: [ { user: sys, password: syspass } ] }
}
system_account: SYS
"#;

/// The servers' own latency events and their client events reach the inspector of an
/// attached deployment: nats-server, and switchboard serving as the deployment.
#[test]
fn server_reported_latency_and_system_events_reach_the_inspector() {
    support::for_each_target_bare(|target| {
        let rt = runtime();
        let server = Server::start_with_config(target, TIMED_EXPORT, &[]);
        let profile = Profile {
            name: "timed".into(),
            servers: server.url(),
            credentials: app_credentials(),
            system: Some(system_credentials()),
            ..Profile::default()
        };
        let mut attached = attach_connected(profile, &rt);
        let (_responder, responder_task) =
            echo_responder(&rt, server.url(), "timed-responder", "svc.timed");
        // The system events' subscriptions are up once the inspector sees a client come
        // and go; then the requester's own connect event is the one looked for.
        let seen_connect =
            |name: &str, attached: &switchboard::remote::Attached| {
                attached.feed.events_since(0).iter().any(
                    |e| matches!(&e.kind, EventKind::System { text, .. } if text.contains(name)),
                )
            };
        wait_until("the system events to flow", Duration::from_secs(10), || {
            rt.block_on(async {
                let probe = support::connect_once(
                    server.url(),
                    async_nats::ConnectOptions::with_user_and_password("cli".into(), "cli".into())
                        .name("probe"),
                )
                .await
                .unwrap();
                probe.flush().await.unwrap();
            });
            seen_connect("probe", &attached)
        });
        rt.block_on(async {
            let requester = support::connect_once(
                server.url(),
                async_nats::ConnectOptions::with_user_and_password("cli".into(), "cli".into())
                    .name("timed-requester"),
            )
            .await
            .unwrap();
            for _ in 0..5 {
                requester
                    .request("svc.timed", Bytes::from_static(b"t"))
                    .await
                    .unwrap();
            }
        });
        let snap = wait_for_snapshot(
            &mut attached.feed,
            Duration::from_secs(10),
            "the servers' latency events",
            |s| {
                s.latency
                    .iter()
                    .any(|l| l.subject == "latency.svc" && l.replies >= 5)
            },
        );
        let timed = snap
            .latency
            .iter()
            .find(|l| l.subject == "latency.svc")
            .unwrap();
        let reported = timed.reported.as_ref().expect("marked as the servers' own");
        assert_eq!(reported.statuses, vec![(200, 5)], "[{target}]");
        assert!(
            timed.p50 > Duration::ZERO && timed.max >= timed.p50,
            "[{target}]"
        );
        assert_eq!(timed.histogram.total(), 5, "[{target}]");
        // The observer's own pairing of the requests it saw is a separate entry.
        assert!(
            snap.latency
                .iter()
                .filter(|l| l.subject == "svc.timed")
                .all(|l| l.reported.is_none()),
            "[{target}]"
        );
        wait_until(
            "the requester's connect event",
            Duration::from_secs(10),
            || seen_connect("timed-requester", &attached),
        );
        responder_task.abort();
    });
}

/// The deployment's leaf-node links, read from its servers (`$SYS.REQ.SERVER.PING.LEAFZ`),
/// are in the snapshot: a hub (each target) with a leaf node joined to it.
#[test]
fn the_deployments_leaf_links_are_listed() {
    support::for_each_target_bare(|target| {
        let rt = runtime();
        let leaf_port = support::free_port();
        let hub_config = format!(
            "server_name: hub\nleafnodes {{ port: {leaf_port} }}\n\
             accounts {{\n  APP: {{ users: [ {{ user: app, password: secret }} ] }}\n  \
             SYS: {{ users: [ {{ user: sys, password: syspass }} ] }}\n}}\n\
             system_account: SYS\n"
        );
        let hub = Server::start_with_config(target, &hub_config, &[]);
        let leaf_target = reference().unwrap_or(Target::Switchboard);
        let leaf_config = format!(
            "server_name: edge\nleafnodes {{ remotes [ {{ \
             url: \"nats-leaf://app:secret@127.0.0.1:{leaf_port}\" }} ] }}\n"
        );
        let _leaf = Server::start_with_config(&leaf_target, &leaf_config, &[]);
        let profile = Profile {
            name: "hub".into(),
            servers: hub.url(),
            credentials: app_credentials(),
            system: Some(system_credentials()),
            ..Profile::default()
        };
        let mut attached = attach_connected(profile, &rt);
        let snap = wait_for_snapshot(
            &mut attached.feed,
            Duration::from_secs(15),
            "the leaf link",
            |s| s.leaf_links.len() == 1,
        );
        let link = &snap.leaf_links[0];
        assert_eq!(link.remote_name, "hub \u{2192} edge", "[{target}]");
        assert_eq!(link.account, "APP", "[{target}]");
        assert!(!link.solicited, "[{target}] the hub accepted it");
    });
}
