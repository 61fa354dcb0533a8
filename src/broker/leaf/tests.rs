//! Leaf links between brokers in this process: interest counted per key with queue weights,
//! permissions in each sense, and a duplicate link replaced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;
use crate::broker::BrokerHandle;
use crate::options::{LeafNodeOptions, Options, Permissions, RemoteLeafOptions, SubjectPermission};
use crate::testkit::{read_until, wait_until_async};

const LINK: Duration = Duration::from_secs(10);

async fn hub() -> BrokerHandle {
    BrokerHandle::start(Options {
        port: 0,
        leafnodes: LeafNodeOptions {
            port: -1,
            ..LeafNodeOptions::default()
        },
        ..Options::default()
    })
    .await
    .unwrap()
}

async fn leaf_of(hub: &BrokerHandle) -> BrokerHandle {
    let port = LeafNodes::of(hub.server()).unwrap().port.unwrap();
    BrokerHandle::start(Options {
        port: 0,
        leafnodes: LeafNodeOptions {
            reconnect: Duration::from_millis(100),
            remotes: vec![RemoteLeafOptions::url(&format!("127.0.0.1:{port}"))],
            ..LeafNodeOptions::default()
        },
        ..Options::default()
    })
    .await
    .unwrap()
}

fn bound(handle: &BrokerHandle) -> Vec<Arc<ClientShared>> {
    LeafNodes::of(handle.server())
        .map(|n| n.bound_links())
        .unwrap_or_default()
}

/// What `handle`'s only link announced, without the loop-detection subject.
fn announced(handle: &BrokerHandle) -> Vec<(String, u32)> {
    let links = bound(handle);
    let Some(link) = links.first() else {
        return Vec::new();
    };
    let state = link.leaf.as_ref().unwrap();
    state
        .announced()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("$LDS."))
        .collect()
}

async fn client(handle: &BrokerHandle) -> TcpStream {
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    s.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .unwrap();
    read_until(&mut s, LINK, |b| b.ends_with(b"PONG\r\n")).await;
    s
}

async fn send(s: &mut TcpStream, ops: &str) {
    s.write_all(format!("{ops}PING\r\n").as_bytes())
        .await
        .unwrap();
    read_until(s, LINK, |b| b.ends_with(b"PONG\r\n")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interest_is_announced_once_per_key_with_queue_weights() {
    let hub = hub().await;
    let leaf = leaf_of(&hub).await;
    wait_until_async("the link", LINK, || {
        bound(&hub).len() == 1 && bound(&leaf).len() == 1
    })
    .await;
    let mut c = client(&leaf).await;
    send(
        &mut c,
        "SUB a 1\r\nSUB a 2\r\nSUB w q 3\r\nSUB w q 4\r\nSUB w r 5\r\n",
    )
    .await;
    // Counted per key (plain interest is announced once, a group with its weight).
    let want = vec![
        ("a".to_string(), 2),
        ("w q".to_string(), 2),
        ("w r".to_string(), 1),
    ];
    wait_until_async("the interest announced", LINK, || announced(&leaf) == want).await;
    // The hub holds one subscription per key, with the group's weight.
    let link = bound(&hub)[0].clone();
    wait_until_async("the weight on the hub", LINK, || {
        link.subs
            .lock()
            .get(&b"w q"[..])
            .is_some_and(|s| s.weight.load(std::sync::atomic::Ordering::Relaxed) == 2)
    })
    .await;
    // `w r` is announced after the weight of `w q` changed: wait for it too.
    wait_until_async("a, w q, w r and the leaf's $LDS on the hub", LINK, || {
        link.subs.lock().len() == 4
    })
    .await;
    send(&mut c, "UNSUB 1\r\nUNSUB 3\r\nUNSUB 5\r\n").await;
    let want = vec![("a".to_string(), 1), ("w q".to_string(), 1)];
    wait_until_async("the interest after UNSUBs", LINK, || {
        announced(&leaf) == want
    })
    .await;
    send(&mut c, "UNSUB 2\r\nUNSUB 4\r\n").await;
    wait_until_async("no interest left", LINK, || announced(&leaf).is_empty()).await;
    wait_until_async("nothing left on the hub", LINK, || {
        link.subs.lock().len() == 1
    })
    .await;
    // The hub's own clients' interest reaches the leaf.
    let mut h = client(&hub).await;
    send(&mut h, "SUB from.hub 1\r\n").await;
    let leaf_link = bound(&leaf)[0].clone();
    wait_until_async("the hub's interest on the leaf", LINK, || {
        leaf_link.subs.lock().contains_key(&b"from.hub"[..])
    })
    .await;
    drop(c);
    drop(h);
    leaf.shutdown().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_server_connecting_again_replaces_its_older_link() {
    let hub = hub().await;
    let port = LeafNodes::of(hub.server()).unwrap().port.unwrap();
    let connect = b"CONNECT {\"name\":\"twin\",\"remote_account\":\"$G\",\"headers\":true}\r\n";
    let mut first = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    read_until(&mut first, LINK, |b| b.ends_with(b"\r\n")).await;
    first.write_all(connect).await.unwrap();
    read_until(&mut first, LINK, |b| {
        crate::testkit::contains(b, b"LS+ $LDS.")
    })
    .await;
    let mut second = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    read_until(&mut second, LINK, |b| b.ends_with(b"\r\n")).await;
    second.write_all(connect).await.unwrap();
    let got = read_until(&mut first, LINK, |b| {
        crate::testkit::contains(b, b"Duplicate Remote LeafNode Connection")
    })
    .await;
    assert!(crate::testkit::contains(
        &got,
        b"-ERR 'Duplicate Remote LeafNode Connection'\r\n"
    ));
    wait_until_async("one link left", LINK, || bound(&hub).len() == 1).await;
    drop(second);
    hub.shutdown().await;
}

#[test]
fn a_spoke_keeps_to_what_the_hub_and_its_deny_lists_allow() {
    let state = LinkState::new(true);
    assert!(state.may_send(b"anything") && state.may_receive(b"anything"));
    let allow = |a: &[&str]| crate::proto::leaf_info::SubjectLists {
        allow: a.iter().map(|s| s.to_string()).collect(),
        deny: Vec::new(),
    };
    state.set_spoke_perms(
        Some(&allow(&["out.>"])),
        Some(&allow(&["in.>"])),
        &["out.secret".to_string()],
        &["in.secret".to_string()],
        false,
    );
    assert!(state.may_send(b"out.x") && !state.may_send(b"out.secret"));
    assert!(!state.may_send(b"in.x"));
    assert!(state.may_receive(b"in.x") && !state.may_receive(b"in.secret"));
    // Loop detection, service replies and JetStream acks always pass.
    assert!(state.may_send(b"$LDS.abc") && state.may_receive(b"_R_.x.y"));
    assert!(state.may_receive(b"$JS.ACK.s.c.1.1.1.1.0"));
    // JetStream's API stays on each side.
    state.set_spoke_perms(None, None, &[], &[], false);
    assert!(!state.may_send(b"$JS.API.INFO") && !state.may_receive(b"$JS.API.INFO"));
    assert!(!state.may_send(b"$KV.b.k") && state.may_send(b"$JS.EVENT.x"));
}

#[test]
fn a_hub_reverses_the_leaf_users_permissions() {
    let state = LinkState::new(false);
    let user = Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["up.>".into()],
            deny: Vec::new(),
        }),
        subscribe: Some(SubjectPermission {
            allow: vec!["down.>".into()],
            deny: vec!["down.secret".into()],
        }),
        ..Permissions::default()
    };
    state.set_hub_perms(Some(&user), &["down.private".to_string()], false);
    // What the leaf may publish comes in; what it may subscribe to goes out.
    assert!(state.may_receive(b"up.a") && !state.may_receive(b"down.a"));
    assert!(state.may_send(b"down.a") && !state.may_send(b"up.a"));
    assert!(!state.may_send(b"down.secret") && !state.may_send(b"down.private"));
    // A leaf's JetStream API requests may come in; the hub's never go out.
    let open = LinkState::new(false);
    open.set_hub_perms(None, &[], false);
    assert!(open.may_receive(b"$JS.API.INFO") && !open.may_send(b"$JS.API.INFO"));
}
