#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use super::*;
use crate::gui::model::flow_layout::layout;
use crate::inspect::snapshot::{
    QueueGroupInfo, QueueMember, Rates, ServiceLatency, SubscriptionInfo, Totals, Vantage,
};

fn conn(cid: u64, name: &str, subs: &[(&str, Option<&str>)], in_rate: f64) -> ConnectionInfo {
    ConnectionInfo {
        cid,
        name: name.into(),
        lang: "go".into(),
        version: "1".into(),
        addr: ([127, 0, 0, 1], 4000).into(),
        start: SystemTime::UNIX_EPOCH,
        subscriptions: subs
            .iter()
            .enumerate()
            .map(|(i, (s, q))| SubscriptionInfo {
                subject: s.to_string(),
                queue: q.map(str::to_string),
                sid: (i + 1).to_string(),
                delivered: 0,
            })
            .collect(),
        totals: Totals::default(),
        rates: Rates {
            in_msgs_per_sec: in_rate,
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
        bytes_per_sec: rate * 10.0,
        subscribers: receivers.len(),
        publishers: publishers.to_vec(),
        receivers: receivers.to_vec(),
        ..Default::default()
    }
}

fn snap(connections: Vec<ConnectionInfo>, subjects: Vec<SubjectStat>) -> Snapshot {
    let mut groups: HashMap<(String, String), Vec<QueueMember>> = HashMap::new();
    for c in &connections {
        for s in &c.subscriptions {
            if let Some(q) = &s.queue {
                groups
                    .entry((s.subject.clone(), q.clone()))
                    .or_default()
                    .push(QueueMember {
                        cid: c.cid,
                        client_name: c.name.clone(),
                        sid: s.sid.clone(),
                        delivered: 10 * c.cid,
                    });
            }
        }
    }
    Snapshot {
        connections,
        subjects,
        queue_groups: QueueGroupInfo::from_members(groups),
        ..Default::default()
    }
}

fn graph_of(s: &Snapshot) -> FlowGraph {
    build(s, &FlowOptions::default(), None)
}

fn node<'a>(g: &'a FlowGraph, key: &NodeKey) -> &'a FlowNode {
    let n = g
        .find(key)
        .unwrap_or_else(|| panic!("no node {key:?} in {:?}", labels(g)));
    &g.graph[n]
}

fn subject_node<'a>(g: &'a FlowGraph, s: &str) -> &'a FlowNode {
    node(g, &NodeKey::Subject(SubjectKey::Subject(s.into())))
}

fn labels(g: &FlowGraph) -> Vec<String> {
    let mut l: Vec<String> = g.graph.node_weights().map(|n| n.label.clone()).collect();
    l.sort();
    l
}

fn edge_rate(g: &FlowGraph, from: &NodeKey, to: &NodeKey) -> Option<f64> {
    let e = g.graph.find_edge(g.find(from)?, g.find(to)?)?;
    Some(g.graph[e].msgs_per_sec)
}

fn column_sizes(g: &FlowGraph) -> [usize; 4] {
    let mut sizes = [0; 4];
    for n in g.graph.node_weights() {
        sizes[n.key.column()] += 1;
    }
    sizes
}

#[test]
fn one_publisher_three_subscribers_is_one_to_n() {
    let s = snap(
        vec![
            conn(1, "sensor", &[], 10.0),
            conn(2, "dashboard", &[("temp.>", None)], 0.0),
            conn(3, "alerts", &[("temp.*", None)], 0.0),
            conn(4, "archive", &[(">", None)], 0.0),
        ],
        vec![subject("temp.lab", 10.0, &[1], &[2, 3, 4])],
    );
    let g = graph_of(&s);
    assert_eq!(
        subject_node(&g, "temp.lab").pattern,
        Some(Pattern::OneToMany)
    );
    assert_eq!(column_sizes(&g), [1, 1, 3, 0]);
    let to_dashboard = edge_rate(
        &g,
        &NodeKey::Subject(SubjectKey::Subject("temp.lab".into())),
        &NodeKey::Receiver(ConnKey::One(2)),
    );
    assert_eq!(
        to_dashboard,
        Some(10.0),
        "every subscriber gets every message"
    );
    assert_eq!(
        node(&g, &NodeKey::Publisher(ConnKey::One(1))).label,
        "sensor"
    );
}

#[test]
fn a_queue_group_is_one_of_n_with_its_members_behind_it() {
    let s = snap(
        vec![
            conn(1, "dispatcher", &[], 30.0),
            conn(2, "worker", &[("jobs.>", Some("workers"))], 0.0),
            conn(3, "worker", &[("jobs.>", Some("workers"))], 0.0),
            conn(4, "worker", &[("jobs.>", Some("workers"))], 0.0),
            conn(5, "monitor", &[("jobs.>", None)], 0.0),
        ],
        vec![subject("jobs.resize", 30.0, &[1], &[2, 3, 4, 5])],
    );
    let g = graph_of(&s);
    assert_eq!(
        subject_node(&g, "jobs.resize").pattern,
        Some(Pattern::OneOfMany)
    );
    let queue = NodeKey::Queue {
        subject: "jobs.>".into(),
        queue: "workers".into(),
    };
    assert_eq!(node(&g, &queue).connections, vec![2, 3, 4]);
    // The monitor receives directly; the workers only through their group.
    assert!(g.find(&NodeKey::Receiver(ConnKey::One(5))).is_some());
    assert!(g.find(&NodeKey::Receiver(ConnKey::One(2))).is_none());
    // Members split the group's 30 msgs/s by their deliveries (20, 30, 40 of 90).
    let to_member = |cid| edge_rate(&g, &queue, &NodeKey::Member(ConnKey::One(cid))).unwrap();
    assert!((to_member(2) - 30.0 * 20.0 / 90.0).abs() < 1e-9);
    assert!((to_member(4) - 30.0 * 40.0 / 90.0).abs() < 1e-9);
    // Three connections share a name: each is told apart by its id.
    assert_eq!(
        node(&g, &NodeKey::Member(ConnKey::One(3))).label,
        "worker #3"
    );
}

#[test]
fn requests_answered_on_inboxes_are_request_reply() {
    let s = snap(
        vec![
            conn(1, "asker", &[("_INBOX.abc.*", None)], 4.0),
            conn(2, "calc", &[("svc.add", None)], 4.0),
        ],
        vec![
            subject("svc.add", 4.0, &[1], &[2]),
            subject("_INBOX.abc.1", 1.0, &[2], &[1]),
            subject("_INBOX.abc.2", 1.0, &[2], &[1]),
            subject("_INBOX.abc.3", 2.0, &[2], &[1]),
        ],
    );
    let g = graph_of(&s);
    assert_eq!(
        subject_node(&g, "svc.add").pattern,
        Some(Pattern::RequestReply)
    );
    let inbox = node(&g, &NodeKey::Subject(SubjectKey::Branch("_INBOX".into())));
    assert_eq!(inbox.label, "_INBOX.>");
    assert_eq!(inbox.subjects, 3, "every reply inbox in one node");
    assert_eq!(inbox.pattern, Some(Pattern::Replies));
    assert!((inbox.msgs_per_sec - 4.0).abs() < 1e-9);
    // Not collapsed, each inbox is its own node.
    let open = build(
        &s,
        &FlowOptions {
            collapse_replies: false,
            ..Default::default()
        },
        None,
    );
    assert_eq!(column_sizes(&open)[SUBJECTS], 4);
    assert_eq!(
        subject_node(&open, "_INBOX.abc.2").pattern,
        Some(Pattern::Replies)
    );
}

/// A reply subject (every message paired with a request).
fn reply(name: &str, rate: f64, publishers: &[u64], receivers: &[u64]) -> SubjectStat {
    SubjectStat {
        reply_msgs: 100,
        ..subject(name, rate, publishers, receivers)
    }
}

#[test]
fn custom_reply_prefixes_and_acknowledgements_fold_as_in_subjects() {
    let s = snap(
        vec![
            conn(1, "asker", &[("myapp.replies.*", None)], 4.0),
            conn(2, "calc", &[("svc.add", None), ("deliver.w", None)], 4.0),
        ],
        vec![
            subject("svc.add", 4.0, &[1], &[2]),
            subject("myapp.orders", 1.0, &[1], &[2]),
            reply("myapp.replies.1", 1.0, &[2], &[1]),
            reply("myapp.replies.2", 2.0, &[2], &[1]),
            // A sibling also published to as a non-reply keeps its branch open.
            reply("mixed.replies.1", 1.0, &[2], &[1]),
            subject("mixed.replies.2", 1.0, &[2], &[1]),
            // Acknowledgements fold by name: the pairing may not have counted them.
            subject("$JS.ACK.ORDERS.w.1.1.1.1733.0", 0.5, &[2], &[]),
            subject("$JS.ACK.ORDERS.w.1.2.2.1734.0", 0.5, &[2], &[]),
            subject("$JS.API.CONSUMER.INFO.ORDERS.w", 0.1, &[2], &[]),
        ],
    );
    let g = build(
        &s,
        &FlowOptions {
            depth: SubjectDepth::Full,
            ..Default::default()
        },
        None,
    );
    let replies = node(
        &g,
        &NodeKey::Subject(SubjectKey::Branch("myapp.replies".into())),
    );
    assert_eq!(replies.label, "myapp.replies.>");
    assert_eq!(replies.subjects, 2);
    assert!(
        (replies.msgs_per_sec - 3.0).abs() < 1e-9,
        "the branch's rate"
    );
    assert_eq!(replies.pattern, Some(Pattern::Replies));
    let acks = node(&g, &NodeKey::Subject(SubjectKey::Branch("$JS.ACK".into())));
    assert_eq!((acks.label.as_str(), acks.subjects), ("$JS.ACK.>", 2));
    assert_eq!(
        subject_node(&g, "svc.add").pattern,
        Some(Pattern::RequestReply),
        "answered on its requester's reply subjects"
    );
    for own in [
        "myapp.orders",
        "mixed.replies.1",
        "mixed.replies.2",
        "$JS.API.CONSUMER.INFO.ORDERS.w",
    ] {
        subject_node(&g, own);
    }
    assert_eq!(column_sizes(&g)[SUBJECTS], 7);
    // Not collapsed, each reply subject is its own node.
    let open = build(
        &s,
        &FlowOptions {
            depth: SubjectDepth::Full,
            collapse_replies: false,
            ..Default::default()
        },
        None,
    );
    assert_eq!(column_sizes(&open)[SUBJECTS], 9);
    assert_eq!(
        subject_node(&open, "myapp.replies.2").pattern,
        Some(Pattern::Replies)
    );
}

#[test]
fn a_service_the_broker_paired_is_request_reply_without_inboxes() {
    let mut s = snap(
        vec![
            conn(1, "asker", &[], 4.0),
            conn(2, "calc", &[("svc.mul", None)], 4.0),
        ],
        vec![subject("svc.mul", 4.0, &[1], &[2])],
    );
    assert_eq!(
        subject_node(&graph_of(&s), "svc.mul").pattern,
        Some(Pattern::OneToOne)
    );
    s.latency = vec![ServiceLatency::summarize("svc.mul".into(), 5, 5, 0, vec![])];
    assert_eq!(
        subject_node(&graph_of(&s), "svc.mul").pattern,
        Some(Pattern::RequestReply)
    );
}

#[test]
fn a_chat_room_is_m_to_n() {
    let people = [(1, "alice"), (2, "bob"), (3, "carol")];
    let s = snap(
        people
            .iter()
            .map(|(id, n)| conn(*id, n, &[("chat.>", None)], 1.0))
            .collect(),
        vec![subject("chat.room1", 3.0, &[1, 2, 3], &[1, 2, 3])],
    );
    let g = graph_of(&s);
    assert_eq!(
        subject_node(&g, "chat.room1").pattern,
        Some(Pattern::ManyToMany)
    );
    // Everyone is on both sides: as a publisher and as a receiver.
    assert_eq!(column_sizes(&g), [3, 1, 3, 0]);
}

#[test]
fn one_publisher_one_subscriber_is_one_to_one_and_nobody_is_no_receivers() {
    let s = snap(
        vec![conn(1, "a", &[], 2.0), conn(2, "b", &[("x", None)], 0.0)],
        vec![
            subject("x", 1.0, &[1], &[2]),
            subject("audit", 1.0, &[1], &[]),
        ],
    );
    let g = graph_of(&s);
    assert_eq!(subject_node(&g, "x").pattern, Some(Pattern::OneToOne));
    assert_eq!(
        subject_node(&g, "audit").pattern,
        Some(Pattern::NoReceivers)
    );
}

#[test]
fn patterns_are_classified_from_counts() {
    let c = |p, r, q| Counts {
        publishers: p,
        receivers: r,
        queue_groups: q,
        ..Default::default()
    };
    assert_eq!(classify(c(Some(1), Some(1), 0)), Pattern::OneToOne);
    assert_eq!(classify(c(Some(1), Some(3), 0)), Pattern::OneToMany);
    assert_eq!(classify(c(Some(3), Some(1), 0)), Pattern::ManyToMany);
    assert_eq!(classify(c(Some(1), Some(0), 1)), Pattern::OneOfMany);
    assert_eq!(classify(c(Some(1), Some(0), 0)), Pattern::NoReceivers);
    assert_eq!(classify(c(None, Some(2), 0)), Pattern::Unknown);
    assert_eq!(classify(c(None, Some(0), 1)), Pattern::OneOfMany);
    let request = Counts {
        request: true,
        ..c(Some(1), Some(0), 1)
    };
    assert_eq!(classify(request), Pattern::RequestReply);
}

#[test]
fn several_publishers_share_a_subject_by_their_publish_rates() {
    let s = snap(
        vec![
            conn(1, "fast", &[], 30.0),
            conn(2, "slow", &[], 10.0),
            conn(3, "sink", &[("m", None)], 0.0),
        ],
        vec![subject("m", 8.0, &[1, 2], &[3])],
    );
    let g = graph_of(&s);
    let m = NodeKey::Subject(SubjectKey::Subject("m".into()));
    let from = |cid| {
        let e = g
            .graph
            .find_edge(
                g.find(&NodeKey::Publisher(ConnKey::One(cid))).unwrap(),
                g.find(&m).unwrap(),
            )
            .unwrap();
        g.graph[e]
    };
    assert!((from(1).msgs_per_sec - 6.0).abs() < 1e-9);
    assert!((from(2).msgs_per_sec - 2.0).abs() < 1e-9);
    assert!(from(1).estimated, "the split is an estimate, and says so");
}

#[test]
fn publishers_that_left_are_one_node() {
    let s = snap(
        vec![conn(2, "b", &[("x", None)], 0.0)],
        vec![
            subject("x", 5.0, &[1], &[2]),
            subject("idle", 0.0, &[9], &[2]),
        ],
    );
    let g = graph_of(&s);
    let gone = node(&g, &NodeKey::Publisher(ConnKey::Gone));
    assert!(
        (gone.msgs_per_sec - 5.0).abs() < 1e-9,
        "idle subjects draw no edge"
    );
}

#[test]
fn outside_the_deployment_publishers_are_unknown() {
    let mut s = snap(
        vec![conn(2, "b", &[("x", None)], 0.0)],
        vec![subject("x", 5.0, &[], &[2])],
    );
    s.vantage = Vantage::Outside;
    let g = graph_of(&s);
    assert!(!g.publishers_known);
    assert!(g.receivers_known, "the monitoring told who subscribes");
    assert_eq!(subject_node(&g, "x").pattern, Some(Pattern::Unknown));
    assert!(g.find(&NodeKey::Publisher(ConnKey::Unknown)).is_some());
    s.connections.clear();
    assert!(!graph_of(&s).receivers_known);
}

#[test]
fn names_lose_their_instance_numbers() {
    assert_eq!(stem("client-17"), "client");
    assert_eq!(stem("payments_2"), "payments");
    assert_eq!(stem("worker-a"), "worker-a");
    assert_eq!(stem("v2api"), "v2api");
    assert_eq!(stem("1234"), "");
    assert_eq!(stem(""), "");
}

/// The frame-time bench's shape: 1,000 uniquely named connections, 10,000 subjects.
fn large() -> Snapshot {
    let connections: Vec<ConnectionInfo> = (1..=1000)
        .map(|id| conn(id, &format!("client-{id}"), &[], id as f64))
        .collect();
    let subjects = (0..10_000)
        .map(|i| {
            let name = format!(
                "region{}.service{}.entity{}.event{}",
                i % 7,
                (i / 7) % 40,
                (i / 280) % 50,
                i % 3
            );
            subject(
                &name,
                1.0 + (i % 13) as f64,
                &[(i % 1000) as u64 + 1],
                &[((i + 1) % 1000) as u64 + 1],
            )
        })
        .collect();
    snap(connections, subjects)
}

#[test]
fn a_large_deployment_fits_the_columns() {
    let g = graph_of(&large());
    for size in column_sizes(&g) {
        assert!(size <= MAX_NODES_PER_COLUMN, "{:?}", column_sizes(&g));
    }
    assert_eq!(
        g.subject_depth,
        Some(1),
        "7 regions fit, 280 services do not"
    );
    assert_eq!(g.level, Some(ConnLevel::Stem));
    assert_eq!(
        node(&g, &NodeKey::Publisher(ConnKey::Stem("client".into()))).label,
        "client* ×1000"
    );
    let total: f64 = g
        .graph
        .node_weights()
        .filter(|n| n.key.column() == SUBJECTS)
        .map(|n| n.msgs_per_sec)
        .sum();
    let expected: f64 = large().subjects.iter().map(|s| s.msgs_per_sec).sum();
    assert!(
        (total - expected).abs() < 1e-6,
        "aggregation keeps every message"
    );
}

#[test]
fn a_filter_goes_deeper() {
    let g = build(
        &large(),
        &FlowOptions {
            filter: "region3.service7.>".into(),
            ..Default::default()
        },
        None,
    );
    // 36 subjects, each of its own entity: they do not fit whole, their service does.
    assert_eq!(g.subjects_shown, 36);
    assert_eq!(
        g.subject_depth,
        Some(2),
        "deeper than the whole map's one token"
    );
    assert!(column_sizes(&g)[SUBJECTS] <= MAX_NODES_PER_COLUMN);
}

#[test]
fn instances_sharing_a_name_are_one_node_when_each_would_not_fit() {
    let mut connections: Vec<ConnectionInfo> = (1..=40)
        .map(|id| conn(id, "ingest", &[("data.>", None)], 1.0))
        .collect();
    connections.push(conn(100, "producer", &[], 40.0));
    let s = snap(
        connections,
        vec![subject(
            "data.x",
            40.0,
            &[100],
            &(1..=40).collect::<Vec<_>>(),
        )],
    );
    let g = graph_of(&s);
    assert_eq!(g.level, Some(ConnLevel::Name));
    let ingest = node(&g, &NodeKey::Receiver(ConnKey::Name("ingest".into())));
    assert_eq!(ingest.label, "ingest ×40");
    assert_eq!(ingest.connections.len(), 40);
    assert!(
        (ingest.msgs_per_sec - 1600.0).abs() < 1e-9,
        "40 subscribers, 40 msgs/s each"
    );
}

#[test]
fn what_does_not_fit_goes_to_other_nodes_busiest_kept() {
    let options = FlowOptions {
        depth: SubjectDepth::Full,
        grouping: ConnGrouping::Each,
        max_per_column: 5,
        ..Default::default()
    };
    let subjects = (0..20)
        .map(|i| subject(&format!("s{i:02}"), i as f64, &[1], &[2]))
        .collect();
    let s = snap(
        vec![conn(1, "p", &[], 1.0), conn(2, "r", &[(">", None)], 0.0)],
        subjects,
    );
    let g = build(&s, &options, None);
    assert_eq!(column_sizes(&g)[SUBJECTS], 5);
    assert!(g
        .find(&NodeKey::Subject(SubjectKey::Subject("s19".into())))
        .is_some());
    let others = node(&g, &NodeKey::Subject(SubjectKey::Others));
    assert_eq!(
        (others.subjects, others.label.as_str()),
        (16, "16 other subjects")
    );
}

#[test]
fn a_branch_with_mixed_patterns_shows_the_busiest_and_says_so() {
    let s = snap(
        vec![
            conn(1, "p", &[], 1.0),
            conn(2, "r1", &[("a.>", None)], 0.0),
            conn(3, "r2", &[("a.y", None)], 0.0),
        ],
        vec![
            subject("a.x", 1.0, &[1], &[2]),
            subject("a.y", 9.0, &[1], &[2, 3]),
        ],
    );
    let g = build(
        &s,
        &FlowOptions {
            depth: SubjectDepth::Tokens(1),
            ..Default::default()
        },
        None,
    );
    let a = node(&g, &NodeKey::Subject(SubjectKey::Branch("a".into())));
    assert_eq!((a.pattern, a.mixed), (Some(Pattern::OneToMany), true));
}

#[test]
fn the_layout_stays_put_when_only_rates_change() {
    // `a` and `b`: the rates of two subjects, so that which is busier can swap.
    let make = |a: f64, b: f64| {
        snap(
            vec![
                conn(1, "sensor", &[], a + b),
                conn(2, "dash", &[("t.>", None)], 0.0),
                conn(3, "alerts", &[("t.b", None)], 0.0),
                conn(4, "w", &[("jobs", Some("q"))], 0.0),
            ],
            vec![
                subject("t.a", a, &[1], &[2]),
                subject("t.b", b, &[1], &[2, 3]),
                subject("jobs", a / 3.0, &[1], &[4]),
            ],
        )
    };
    let place = |g: &FlowGraph| layout(&g.graph, |n| &n.key, |n| n.key.column(), None);
    let (slow, fast) = (graph_of(&make(1.0, 900.0)), graph_of(&make(500.0, 0.5)));
    assert_eq!(slow.structure(), fast.structure());
    assert_ne!(
        edge_rate(
            &slow,
            &NodeKey::Publisher(ConnKey::One(1)),
            &NodeKey::Subject(SubjectKey::Subject("t.a".into()))
        ),
        edge_rate(
            &fast,
            &NodeKey::Publisher(ConnKey::One(1)),
            &NodeKey::Subject(SubjectKey::Subject("t.a".into()))
        ),
    );
    let first = place(&slow);
    assert_eq!(first, place(&fast), "rates never move a node");
    assert_eq!(
        first,
        place(&graph_of(&make(1.0, 900.0))),
        "the same graph, the same places"
    );
    // Laid out again from its own result, nothing moves either.
    let again = layout(&slow.graph, |n| &n.key, |n| n.key.column(), Some(&first));
    assert_eq!(first, again);
    // A new subscriber changes the structure.
    let mut more = make(1.0, 900.0);
    more.subjects[0].receivers.push(3);
    assert_ne!(graph_of(&more).structure(), slow.structure());
}

#[test]
fn building_a_large_map_is_quick_enough_for_a_frame() {
    let s = large();
    let started = std::time::Instant::now();
    let g = graph_of(&s);
    let _ = layout(&g.graph, |n| &n.key, |n| n.key.column(), None);
    // A debug build on a shared machine: generous, but an accidental quadratic fails it.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
