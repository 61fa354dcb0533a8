//! The Flow map with egui_kittest (no GPU, no display): a synthetic snapshot with each of
//! the seed's patterns goes in through `feed::channel`; the checks go by label and role, as
//! a screen reader would find the nodes ("<label>, <what it is>").

use crate::gui;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::gui::{go, has, settle};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use switchboard::gui::panels::View;
use switchboard::inspect::snapshot::{
    ConnectionInfo, QueueGroupInfo, QueueMember, Rates, Snapshot, SubjectStat, SubscriptionInfo,
    Totals, Vantage,
};

use crate::gui::{rig, Rig};

fn conn(cid: u64, name: &str, subs: &[(&str, Option<&str>)]) -> ConnectionInfo {
    ConnectionInfo {
        cid,
        name: name.into(),
        lang: "go".into(),
        version: "1.41.1".into(),
        addr: ([127, 0, 0, 1], 50_000 + cid as u16).into(),
        start: SystemTime::now() - Duration::from_secs(60),
        subscriptions: subs
            .iter()
            .enumerate()
            .map(|(i, (s, q))| SubscriptionInfo {
                subject: s.to_string(),
                queue: q.map(str::to_string),
                sid: (i + 1).to_string(),
                delivered: 5 * cid,
            })
            .collect(),
        totals: Totals::default(),
        rates: Rates {
            in_msgs_per_sec: 10.0,
            ..Default::default()
        },
        pending_bytes: 0,
        rtt: None,
        transport: "tcp",
    }
}

fn subject(name: &str, rate: f64, publishers: &[u64], receivers: &[u64]) -> SubjectStat {
    SubjectStat {
        subject: name.into(),
        msgs: 100,
        bytes: 1000,
        msgs_per_sec: rate,
        bytes_per_sec: rate * 20.0,
        subscribers: receivers.len(),
        publishers: publishers.to_vec(),
        receivers: receivers.to_vec(),
        last_published: Some(SystemTime::now()),
        ..Default::default()
    }
}

/// One of each: a sensor stream (1 to N), a queue of jobs (1 of N), a service with its
/// reply inboxes (request/reply), a chat room (M to N), a private line (1 to 1).
fn patterns() -> Snapshot {
    let connections = vec![
        conn(1, "sensor", &[]),
        conn(2, "dashboard", &[("sensors.>", None)]),
        conn(3, "alerts", &[("sensors.*.temp", None)]),
        conn(4, "archive", &[("sensors.>", None)]),
        conn(5, "dispatcher", &[]),
        conn(6, "worker", &[("jobs.>", Some("workers"))]),
        conn(7, "worker", &[("jobs.>", Some("workers"))]),
        conn(8, "asker", &[("_INBOX.q1.*", None)]),
        conn(9, "calc", &[("svc.add", None)]),
        conn(10, "alice", &[("chat.>", None)]),
        conn(11, "bob", &[("chat.>", None)]),
        conn(12, "pager", &[("ops.page", None)]),
    ];
    let mut groups: HashMap<(String, String), Vec<QueueMember>> = HashMap::new();
    for c in &connections {
        for s in c.subscriptions.iter().filter(|s| s.queue.is_some()) {
            groups
                .entry((s.subject.clone(), s.queue.clone().unwrap()))
                .or_default()
                .push(QueueMember {
                    cid: c.cid,
                    client_name: c.name.clone(),
                    sid: s.sid.clone(),
                    delivered: s.delivered,
                });
        }
    }
    Snapshot {
        taken_at: Some(SystemTime::now()),
        connections,
        subjects: vec![
            subject("sensors.lab.temp", 40.0, &[1], &[2, 3, 4]),
            subject("jobs.resize", 20.0, &[5], &[6, 7]),
            subject("svc.add", 4.0, &[8], &[9]),
            subject("_INBOX.q1.1", 2.0, &[9], &[8]),
            subject("_INBOX.q1.2", 2.0, &[9], &[8]),
            subject("chat.room", 3.0, &[10, 11], &[10, 11]),
            subject("ops.page", 0.5, &[5], &[12]),
        ],
        queue_groups: QueueGroupInfo::from_members(groups),
        ..Default::default()
    }
}

/// The window on the Flow map with `snap` taken in.
fn flow_map(snap: Snapshot) -> Rig {
    let mut rig = rig();
    rig.publisher.publish_snapshot(snap);
    rig.harness.run();
    go(&mut rig.harness, "Flow map");
    rig
}

#[test]
fn the_map_shows_every_pattern_and_a_legend_for_them() {
    let rig = flow_map(patterns());
    let h = &rig.harness;
    for node in [
        "sensor, publisher",
        "sensors.lab.temp, subject",
        "dashboard, receiver",
        "workers, queue group",
        "worker #6, queue member",
        "svc.add, subject",
        "_INBOX.>, subject",
        "asker, receiver",
        "chat.room, subject",
        "alice, publisher",
        "alice, receiver",
        "ops.page, subject",
    ] {
        assert!(
            h.query_by_role_and_label(Role::Button, node).is_some(),
            "no node {node:?}"
        );
    }
    assert!(
        !has(h, "_INBOX.q1.1, subject"),
        "reply inboxes are one node"
    );
    for entry in [
        "1 to 1",
        "1 to N",
        "M to N",
        "1 of N (queue group)",
        "request/reply",
        "replies",
        "no receivers",
    ] {
        assert!(has(h, entry), "the legend has no {entry:?}");
    }
    assert!(
        !has(h, "unknown"),
        "inside the broker nothing is unknown: no legend entry for it"
    );
    for title in [
        "Publishers",
        "Subjects",
        "Receivers and queue groups",
        "Queue members",
    ] {
        assert!(has(h, title), "no column {title:?}");
    }
}

#[test]
fn clicking_a_publisher_opens_it_in_connections() {
    let mut rig = flow_map(patterns());
    rig.harness
        .get_by_role_and_label(Role::Button, "sensor, publisher")
        .click();
    settle(&mut rig.harness);
    let app = rig.harness.state();
    assert_eq!(app.view, View::Connections);
    assert_eq!(app.state.selection.connection, Some(1));
    assert!(has(&rig.harness, "sensor #1"), "its detail pane is open");
}

#[test]
fn clicking_a_subject_opens_it_in_subjects() {
    let mut rig = flow_map(patterns());
    rig.harness
        .get_by_role_and_label(Role::Button, "svc.add, subject")
        .click();
    settle(&mut rig.harness);
    let app = rig.harness.state();
    assert_eq!(app.view, View::Subjects);
    assert_eq!(app.state.selection.subject.as_deref(), Some("svc.add"));
}

#[test]
fn clicking_a_queue_group_opens_queue_groups() {
    let mut rig = flow_map(patterns());
    rig.harness
        .get_by_role_and_label(Role::Button, "workers, queue group")
        .click();
    settle(&mut rig.harness);
    assert_eq!(rig.harness.state().view, View::QueueGroups);
}

#[test]
fn grouped_by_name_a_node_opens_connections_filtered_to_the_name() {
    let mut rig = flow_map(patterns());
    rig.harness.get_by_label("Group connections").click();
    settle(&mut rig.harness);
    rig.harness.get_by_label("by name").click();
    settle(&mut rig.harness);
    rig.harness
        .get_by_role_and_label(Role::Button, "worker ×2, queue member")
        .click();
    settle(&mut rig.harness);
    let app = rig.harness.state();
    assert_eq!(app.view, View::Connections);
    assert_eq!(app.state.filters.connections, "worker");
}

#[test]
fn inboxes_can_be_shown_one_by_one() {
    let mut rig = flow_map(patterns());
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "Collapse reply subjects")
        .click();
    settle(&mut rig.harness);
    assert!(has(&rig.harness, "_INBOX.q1.1, subject"));
    assert!(!has(&rig.harness, "_INBOX.>, subject"));
}

/// A custom reply prefix the source saw used only for replies, and JetStream's
/// acknowledgements, fold into one node each, as in Subjects; the switch lists them.
#[test]
fn custom_reply_subjects_and_acknowledgements_fold_into_one_node_each() {
    let mut snap = patterns();
    let replied = |name: &str| SubjectStat {
        reply_msgs: 100,
        ..subject(name, 1.0, &[9], &[8])
    };
    snap.subjects.extend([
        replied("myapp.replies.k1"),
        replied("myapp.replies.k2"),
        subject("myapp.orders", 1.0, &[8], &[9]),
        subject("$JS.ACK.ORDERS.w.1.1.1.1733.0", 1.0, &[6], &[]),
        subject("$JS.ACK.ORDERS.w.1.2.2.1734.0", 1.0, &[7], &[]),
    ]);
    snap.subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
    let mut rig = flow_map(snap);
    for folded in ["myapp.replies.>, subject", "$JS.ACK.>, subject"] {
        assert!(has(&rig.harness, folded), "no node {folded:?}");
    }
    assert!(!has(&rig.harness, "myapp.replies.k1, subject"));
    assert!(!has(&rig.harness, "$JS.ACK.ORDERS.w.1.1.1.1733.0, subject"));
    rig.harness
        .get_by_role_and_label(Role::CheckBox, "Collapse reply subjects")
        .click();
    settle(&mut rig.harness);
    assert!(!has(&rig.harness, "myapp.replies.>, subject"));
    assert!(!has(&rig.harness, "$JS.ACK.>, subject"));
    assert!(has(&rig.harness, "myapp.replies.k1, subject"));
    assert!(has(&rig.harness, "$JS.ACK.ORDERS.w.1.2.2.1734.0, subject"));
}

#[test]
fn seen_from_outside_the_map_says_publishers_are_unknown() {
    let mut snap = patterns();
    snap.vantage = Vantage::Outside;
    for s in &mut snap.subjects {
        s.publishers.clear();
    }
    let rig = flow_map(snap);
    assert!(has(&rig.harness, "publishers unknown"));
    assert!(rig
        .harness
        .query_by_role_and_label(Role::Button, "publishers unknown, publisher")
        .is_some());
    assert!(has(&rig.harness, "unknown"), "the legend explains the grey");
    assert!(!has(&rig.harness, "sensor, publisher"));
}

#[test]
fn ctrl_0_shows_the_flow_map() {
    let mut rig = rig();
    rig.publisher.publish_snapshot(patterns());
    rig.harness.run();
    rig.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num0);
    settle(&mut rig.harness);
    assert_eq!(rig.harness.state().view, View::FlowMap);
    assert!(has(&rig.harness, "sensor, publisher"));
}

#[test]
fn nodes_keep_their_places_as_rates_change() {
    let mut rig = flow_map(patterns());
    let place = |rig: &Rig, label: &str| {
        rig.harness
            .get_by_role_and_label(Role::Button, label)
            .rect()
    };
    let before: Vec<_> = [
        "sensor, publisher",
        "svc.add, subject",
        "workers, queue group",
    ]
    .iter()
    .map(|l| place(&rig, l))
    .collect();
    let generation = rig.harness.state().state.snapshot_generation;
    // The busiest become the quietest and the other way round.
    let mut busier = patterns();
    for s in &mut busier.subjects {
        s.msgs_per_sec = 1000.0 / s.msgs_per_sec;
    }
    rig.publisher.publish_snapshot(busier);
    settle(&mut rig.harness);
    assert!(
        rig.harness.state().state.snapshot_generation > generation,
        "the busier snapshot was taken"
    );
    let after: Vec<_> = [
        "sensor, publisher",
        "svc.add, subject",
        "workers, queue group",
    ]
    .iter()
    .map(|l| place(&rig, l))
    .collect();
    assert_eq!(before, after);
}

#[test]
fn a_large_deployment_is_drawn_aggregated() {
    // Past the size the window prepares off its thread: the map is built on a worker.
    let connections: Vec<ConnectionInfo> = (1..=500)
        .map(|id| conn(id, &format!("client-{id}"), &[(">", None)]))
        .collect();
    let subjects = (0..3000)
        .map(|i| {
            let name = format!("region{}.service{}.event{}", i % 5, i % 60, i);
            subject(
                &name,
                1.0,
                &[i as u64 % 500 + 1],
                &[(i as u64 + 1) % 500 + 1],
            )
        })
        .collect();
    let mut rig = rig();
    rig.publisher.publish_snapshot(Snapshot {
        taken_at: Some(SystemTime::now()),
        connections,
        subjects,
        ..Default::default()
    });
    rig.harness.run();
    go(&mut rig.harness, "Flow map");
    gui::wait_until(&mut rig.harness, "the aggregated map", |h| {
        h.query_by_role_and_label(Role::Button, "client* ×500, publisher")
            .is_some()
    });
    assert!(has(&rig.harness, "region3.>, subject"));
    assert!(has(
        &rig.harness,
        "3000 subjects cut after the first token; connections grouped by name stem"
    ));
}
