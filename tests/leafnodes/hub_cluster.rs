//! switchboard as the leaf of a nats-server cluster: the hub's INFO names the leaf-node
//! URLs of the cluster's other servers (`leafnode_urls`), and when the hub the leaf is
//! connected to goes away, the leaf reconnects to another one, as nats-server's leaf does.

use std::time::Duration;

use async_nats::ConnectOptions;
use futures_util::StreamExt;

use super::support::clients::{connect_url, flush};
use super::support::{wait_for, wait_until, Server, ServerOpts, Target};
use super::{http_json, run, LINK};

/// The port at the end of the first log line of `server` holding `prefix` (`... on H:P`).
pub(super) fn logged_port(server: &Server, prefix: &str) -> u16 {
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

/// A server of the hub cluster, with the ports it picked itself (`-1`, read from its log:
/// ports picked here could be taken by another test's server before it binds them).
struct Hub {
    server: Server,
    http: u16,
    cluster: u16,
    leaf: u16,
}

fn hub(reference: &Target, name: &str, seed: Option<&Hub>) -> Hub {
    let routes = seed
        .map(|s| format!("routes: [\"nats-route://127.0.0.1:{}\"]", s.cluster))
        .unwrap_or_default();
    let config = format!(
        "server_name: {name}\nhttp: \"127.0.0.1:-1\"\n\
         cluster {{ name: hubs\n listen: \"127.0.0.1:-1\"\n {routes} }}\n\
         leafnodes {{ listen: \"127.0.0.1:-1\" }}\n"
    );
    let server = Server::start_opts(reference, &ServerOpts::new().config(&config));
    Hub {
        http: logged_port(&server, "Starting http monitor on "),
        cluster: logged_port(&server, "Listening for route connections on "),
        leaf: logged_port(&server, "Listening for leafnode connections on "),
        server,
    }
}

/// The names of the servers the links of the server monitored on `http` go to.
fn linked_to(http: u16) -> Vec<String> {
    http_json(http, "/leafz")["leafs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_leaf_reconnects_to_another_server_of_the_hub_cluster() {
    let Some(reference) = super::reference() else {
        return;
    };
    let a = hub(&reference, "hub-a", None);
    let b = hub(&reference, "hub-b", Some(&a));
    wait_until("the route between the hubs", LINK, || {
        http_json(a.http, "/routez")["num_routes"]
            .as_u64()
            .unwrap_or(0)
            >= 1
            && http_json(b.http, "/routez")["num_routes"]
                .as_u64()
                .unwrap_or(0)
                >= 1
    });
    // The leaf knows only hub-a.
    let config = format!(
        "http: \"127.0.0.1:-1\"\nleafnodes {{ reconnect: \"250ms\"\n \
         remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        a.leaf
    );
    let leaf = Server::start_opts(&Target::Switchboard, &ServerOpts::new().config(&config));
    let leaf_http = logged_port(&leaf, "Starting http monitor on ");
    wait_until("the link to hub-a", LINK, || {
        linked_to(leaf_http) == ["hub-a"]
    });

    let b_url = b.server.url();
    let leaf_url = leaf.url();
    run(async move {
        let on_b = connect_url(&b_url, ConnectOptions::new()).await;
        let on_leaf = connect_url(&leaf_url, ConnectOptions::new()).await;
        let mut at_b = on_b.subscribe("up.>").await.unwrap();
        let mut at_leaf = on_leaf.subscribe("down.>").await.unwrap();
        flush(&on_b).await;
        flush(&on_leaf).await;
        // Through hub-a and its route to hub-b.
        expect_across(&on_leaf, "up.via.a", &mut at_b).await;
        expect_across(&on_b, "down.via.a", &mut at_leaf).await;
    });
    // hub-a goes away; the leaf finds hub-b by itself.
    drop(a);
    wait_until("the link to hub-b", LINK, || {
        linked_to(leaf_http) == ["hub-b"]
    });
    let b_url = b.server.url();
    let leaf_url = leaf.url();
    run(async move {
        let on_b = connect_url(&b_url, ConnectOptions::new()).await;
        let on_leaf = connect_url(&leaf_url, ConnectOptions::new()).await;
        let mut at_b = on_b.subscribe("up.>").await.unwrap();
        let mut at_leaf = on_leaf.subscribe("down.>").await.unwrap();
        flush(&on_b).await;
        flush(&on_leaf).await;
        expect_across(&on_leaf, "up.via.b", &mut at_b).await;
        expect_across(&on_b, "down.via.b", &mut at_leaf).await;
    });
    let log = leaf.log();
    assert!(
        log.contains(&format!("127.0.0.1:{}", b.leaf)),
        "the leaf's log names the URL it learnt: {log}"
    );
}

/// Publishes on `subject` from `from` until `sub` receives it (interest crosses the link and
/// the route in their own time), bounded.
async fn expect_across(from: &async_nats::Client, subject: &str, sub: &mut async_nats::Subscriber) {
    for _ in 0..100 {
        from.publish(subject.to_string(), "x".into()).await.unwrap();
        flush(from).await;
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            assert_eq!(m.subject.as_str(), subject);
            return;
        }
    }
    panic!("no message on {subject} across the link");
}
