//! JetStream domains across a leaf link: a hub with JetStream in domain `hub` and its leaf
//! with JetStream in domain `leaf`, switchboard in each role and nats-server in the other.
//! A hub client reaches the
//! leaf's JetStream through `$JS.leaf.API` (streams, publish acknowledgements, a KV bucket),
//! the leaf's clients reach the hub's through `$JS.hub.API`, and `$JS.API` stays each
//! side's own.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::ConnectOptions;

use super::hub_cluster::logged_port;
use super::support::clients::connect_url;
use super::support::{wait_until, Server, ServerOpts, Target};
use super::{leafnodes, run, LINK};

#[test]
fn each_side_reaches_the_others_jetstream_through_its_domain() {
    let Some(reference) = super::reference() else {
        return;
    };
    for (hub, leaf) in [
        (reference.clone(), Target::Switchboard),
        (Target::Switchboard, reference),
    ] {
        across_domains(&hub, &leaf);
    }
}

fn across_domains(hub_target: &Target, leaf_target: &Target) {
    let (hub_dir, leaf_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let hub = Server::start_opts(
        hub_target,
        &ServerOpts::new().config(&format!(
            "server_name: hub\nhttp: \"127.0.0.1:-1\"\n\
             jetstream {{ store_dir: {:?}, domain: hub }}\n\
             leafnodes {{ listen: \"127.0.0.1:-1\" }}\n",
            hub_dir.path().display().to_string()
        )),
    );
    let hub_http = logged_port(&hub, "Starting http monitor on ");
    let hub_leaf = logged_port(&hub, "Listening for leafnode connections on ");
    let leaf = Server::start_opts(
        leaf_target,
        &ServerOpts::new().config(&format!(
            "server_name: leaf\nhttp: \"127.0.0.1:-1\"\n\
             jetstream {{ store_dir: {:?}, domain: leaf }}\n\
             leafnodes {{ reconnect: \"250ms\"\n \
             remotes [ {{ url: \"nats-leaf://127.0.0.1:{hub_leaf}\" }} ] }}\n",
            leaf_dir.path().display().to_string()
        )),
    );
    let leaf_http = logged_port(&leaf, "Starting http monitor on ");
    wait_until("the link", LINK, || {
        leafnodes(hub_http) == 1 && leafnodes(leaf_http) == 1
    });
    let (hub_url, leaf_url) = (hub.url(), leaf.url());
    run(async move {
        let on_hub = connect_url(&hub_url, ConnectOptions::new()).await;
        let on_leaf = connect_url(&leaf_url, ConnectOptions::new()).await;

        // The hub's client, in the leaf's domain: the interest in `$JS.leaf.API` crosses
        // the link in its own time.
        let to_leaf = jetstream::with_domain(on_hub.clone(), "leaf");
        let account = {
            let mut tries = 0;
            loop {
                match to_leaf.query_account().await {
                    Ok(account) => break account,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("the leaf's JetStream never answered: {e}"),
                }
            }
        };
        assert_eq!(account.domain.as_deref(), Some("leaf"));
        let stream = to_leaf
            .create_stream(jetstream::stream::Config {
                name: "ON_LEAF".into(),
                subjects: vec!["onleaf.>".into()],
                ..Default::default()
            })
            .await
            .expect("a stream created on the leaf from the hub");
        assert_eq!(stream.cached_info().config.name, "ON_LEAF");
        // Published on the hub, stored on the leaf (its stream's subjects are local
        // interest there), acknowledged across.
        wait_until_async_interest(&to_leaf, "onleaf.1").await;
        let mut on_leaf_info = to_leaf.get_stream("ON_LEAF").await.unwrap();
        assert!(on_leaf_info.info().await.unwrap().state.messages >= 1);
        // The leaf's own clients see it with the plain API, and the hub's do not.
        let local = jetstream::new(on_leaf.clone());
        local.get_stream("ON_LEAF").await.expect("on the leaf");
        let hub_own = jetstream::new(on_hub.clone());
        assert!(
            hub_own.get_stream("ON_LEAF").await.is_err(),
            "$JS.API is the hub's own"
        );
        // A KV bucket on the leaf, written and read from the hub ($JS.leaf.API.$KV...).
        let kv = to_leaf
            .create_key_value(jetstream::kv::Config {
                bucket: "cfg".into(),
                ..Default::default()
            })
            .await
            .expect("a bucket on the leaf");
        kv.put("mode", "edge".into()).await.expect("put across");
        let got = kv.get("mode").await.expect("get across");
        assert_eq!(got.as_deref(), Some(&b"edge"[..]));

        // The leaf's client, in the hub's domain.
        let to_hub = jetstream::with_domain(on_leaf.clone(), "hub");
        let account = to_hub.query_account().await.expect("the hub's JetStream");
        assert_eq!(account.domain.as_deref(), Some("hub"));
        to_hub
            .create_stream(jetstream::stream::Config {
                name: "ON_HUB".into(),
                subjects: vec!["onhub.>".into()],
                ..Default::default()
            })
            .await
            .expect("a stream created on the hub from the leaf");
        hub_own.get_stream("ON_HUB").await.expect("on the hub");
        assert!(local.get_stream("ON_HUB").await.is_err(), "not on the leaf");
    });
}

/// Publishes `subject` through `js` until a stream acknowledges it (the stream's interest
/// crosses the link in its own time), bounded.
async fn wait_until_async_interest(js: &jetstream::Context, subject: &str) {
    for _ in 0..50 {
        if let Ok(ack) = js.publish(subject.to_string(), "x".into()).await {
            if let Ok(Ok(ack)) = tokio::time::timeout(Duration::from_secs(1), ack).await {
                assert_eq!(ack.stream, "ON_LEAF");
                assert_eq!(ack.domain, "leaf", "{ack:?}");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no acknowledgement for {subject} from the leaf's stream");
}
