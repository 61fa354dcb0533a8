#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::options::SubjectPermission;

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn perms(
    pub_allow: &[&str],
    pub_deny: &[&str],
    sub_allow: &[&str],
    sub_deny: &[&str],
) -> Permissions {
    let sp = |a: &[&str], d: &[&str]| {
        (!a.is_empty() || !d.is_empty()).then(|| SubjectPermission {
            allow: list(a),
            deny: list(d),
        })
    };
    Permissions {
        publish: sp(pub_allow, pub_deny),
        subscribe: sp(sub_allow, sub_deny),
        allow_responses: None,
    }
}

fn conn(p: &Permissions) -> ConnPerms {
    ConnPerms::new(Arc::new(CompiledPermissions::new(p)))
}

#[test]
fn publish_allow_then_deny() {
    let mut c = conn(&perms(&["foo.*", "bar.>"], &["foo.secret"], &[], &[]));
    assert!(c.can_publish(b"foo.x"));
    assert!(!c.can_publish(b"foo.secret"));
    assert!(!c.can_publish(b"foo"));
    assert!(!c.can_publish(b"foo.x.y"));
    assert!(c.can_publish(b"bar.a.b"));
    assert!(!c.can_publish(b"bar"));
    // Empty tokens match nothing, as in nats-server's sublist.
    assert!(!c.can_publish(b"bar..x"));
    // Cached answers stay the same.
    assert!(!c.can_publish(b"foo.secret"));
    assert!(c.can_publish(b"foo.x"));
}

#[test]
fn deny_only_allows_the_rest() {
    let mut c = conn(&perms(&[], &["admin.>"], &[], &[]));
    assert!(c.can_publish(b"anything"));
    assert!(!c.can_publish(b"admin.x"));
}

#[test]
fn pub_cache_is_bounded() {
    let mut c = conn(&perms(&[">"], &[], &[], &[]));
    for i in 0..10_000 {
        assert!(c.can_publish(format!("s.{i}").as_bytes()));
    }
    assert!(c.pub_cache.len() <= MAX_PUB_CACHE);
}

#[test]
fn subscribe_wildcards_and_deny() {
    let c = conn(&perms(&[], &[], &["foo.*", "baz.>"], &["foo.private"]));
    assert!(c.can_subscribe(b"foo.x", None));
    assert!(c.can_subscribe(b"foo.*", None));
    // `*` in the allow list also covers a literal `>` token, as nats-server's sublist does.
    assert!(c.can_subscribe(b"foo.>", None));
    assert!(!c.can_subscribe(b"foo.private", None));
    assert!(!c.can_subscribe(b"foo", None));
    assert!(c.can_subscribe(b"baz.a.b", None));
    assert!(!c.can_subscribe(b"x", None));
    assert!(c.can_subscribe(b"foo.x", Some(b"q")));
    assert!(!c.can_subscribe(b"foo.x", Some(b"_sys_")));
}

#[test]
fn queue_permissions() {
    let c = conn(&perms(
        &[],
        &[],
        &["bar v1", "baz", "qux v.*"],
        &["baz bad"],
    ));
    assert!(!c.can_subscribe(b"bar", None));
    assert!(c.can_subscribe(b"bar", Some(b"v1")));
    assert!(!c.can_subscribe(b"bar", Some(b"v2")));
    assert!(c.can_subscribe(b"baz", None));
    assert!(c.can_subscribe(b"baz", Some(b"good")));
    assert!(!c.can_subscribe(b"baz", Some(b"bad")));
    assert!(c.can_subscribe(b"qux", Some(b"v.7")));
    assert!(!c.can_subscribe(b"qux", Some(b"w.7")));
}

#[test]
fn delivery_filter_only_for_overlapping_subscriptions() {
    let c = conn(&perms(&[], &[], &[], &["foo.private", "q.x grp"]));
    assert!(c.for_subscription(b"foo.bar", None).is_none());
    assert!(c.for_subscription(b"bar.>", None).is_none());
    let sp = c.for_subscription(b"foo.>", None).unwrap();
    assert!(sp.check_deny);
    assert!(sp.perms.denies(b"foo.private", None));
    assert!(!sp.perms.denies(b"foo.public", None));
    let sp = c.for_subscription(b"q.x", Some(b"grp")).unwrap();
    assert!(sp.perms.denies(b"q.x", Some(b"grp")));
    assert!(!sp.perms.denies(b"q.x", Some(b"other")));
    for i in 0..2000 {
        sp.perms.denies(format!("foo.{i}").as_bytes(), None);
    }
    assert!(sp.perms.state.lock().deny_cache.len() <= MAX_DENY_CACHE);
}

#[test]
fn collisions() {
    assert!(subjects_collide(b"foo.bar", b"foo.*"));
    assert!(subjects_collide(b"foo.>", b"foo.bar.baz"));
    assert!(subjects_collide(b"*.bar", b"foo.*"));
    assert!(!subjects_collide(b"foo.bar", b"foo.baz"));
    assert!(!subjects_collide(b"foo", b"foo.>"));
    assert!(!subjects_collide(b"foo.bar", b"foo"));
}

#[test]
fn allow_responses_grants_replies_only() {
    let mut p = perms(&[], &[], &[], &[]);
    p.allow_responses = Some(ResponsePermission {
        max_msgs: 2,
        expires: Duration::from_secs(60),
    });
    let mut c = conn(&p);
    // Nothing is allowed but the replies handed to the client.
    assert!(!c.can_publish(b"anything"));
    let sp = c.for_subscription(b"svc", None).unwrap();
    assert!(!sp.check_deny);
    sp.perms.track_reply(b"_INBOX.1");
    assert!(c.can_publish(b"_INBOX.1"));
    assert!(c.can_publish(b"_INBOX.1"));
    assert!(!c.can_publish(b"_INBOX.1"), "max 2 responses");
    assert!(!c.can_publish(b"_INBOX.2"));
}

#[test]
fn allow_responses_expire() {
    let mut p = perms(&["ok"], &[], &[], &[]);
    p.allow_responses = Some(ResponsePermission {
        max_msgs: 10,
        expires: Duration::from_millis(20),
    });
    let mut c = conn(&p);
    assert!(c.can_publish(b"ok"));
    let sp = c.for_subscription(b"svc", None).unwrap();
    sp.perms.track_reply(b"r.1");
    assert!(c.can_publish(b"r.1"));
    std::thread::sleep(Duration::from_millis(40));
    assert!(!c.can_publish(b"r.1"));
}

#[test]
fn reserved_subjects() {
    assert!(reserved_publish(b"_GR_.x"));
    assert!(!reserved_publish(b"_GR_."));
    assert!(reserved_publish(b"$NRG.x"));
    assert!(!reserved_publish(b"foo"));
    assert!(reserved_reply(b"_R_."));
    assert!(reserved_reply(b"$JS.ACK.a"));
    assert!(!reserved_reply(b"$JS.ACK."));
    assert!(!reserved_reply(b"_INBOX.x"));
}
