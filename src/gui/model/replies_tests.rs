#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::gui::model::filter::SubjectFilter;
use crate::gui::model::subject_tree::{build_tree, by_rate, TreeOrder};

fn stat(subject: &str, rate: f64) -> SubjectStat {
    SubjectStat {
        subject: subject.into(),
        msgs: 1,
        msgs_per_sec: rate,
        bytes_per_sec: rate * 10.0,
        subscribers: 1,
        ..Default::default()
    }
}

/// A subject whose `replies` of `msgs` messages were replies.
fn replied(subject: &str, rate: f64, msgs: u64, replies: u64) -> SubjectStat {
    SubjectStat {
        msgs,
        reply_msgs: replies,
        ..stat(subject, rate)
    }
}

fn subjects() -> Vec<SubjectStat> {
    vec![
        stat("_INBOX.abc.1", 1.0),
        stat("_INBOX.abc.2", 2.0),
        stat("_INBOX.xyz", 0.5),
        stat("_INBOXES.not.one", 0.1),
        stat("orders.created", 2.5),
        stat("svc.add", 40.0),
    ]
}

/// Custom-prefix replies, JetStream acknowledgements, and subjects that look alike but
/// were also published to as non-replies.
fn mixed() -> Vec<SubjectStat> {
    vec![
        replied("$JS.ACK.ORDERS.worker.1.7.7.1733.0", 0.5, 1, 1),
        replied("$JS.ACK.ORDERS.worker.1.8.8.1734.0", 0.5, 1, 1),
        // Acknowledgements fold by name even when no pairing counted them.
        replied("$JS.ACK.PAYMENTS.audit.1.1.1.1735.0", 0.5, 1, 0),
        replied("$JS.API.STREAM.INFO.ORDERS", 0.1, 2, 0),
        replied("myapp.orders.new", 3.0, 10, 0),
        replied("myapp.replies.k3.1", 1.0, 1, 1),
        replied("myapp.replies.k3.2", 1.0, 2, 2),
        replied("myapp.replies.q9", 1.0, 1, 1),
        // Replies, but one sibling was also published to as a non-reply.
        replied("mixed.replies.1", 1.0, 1, 1),
        replied("mixed.replies.2", 1.0, 3, 1),
        // A branch whose own subject was published to as a non-reply.
        replied("own", 1.0, 4, 0),
        replied("own.r1", 1.0, 1, 1),
        // Everything below a root was a reply.
        replied("_MYINBOX.a.1", 0.2, 1, 1),
        replied("_MYINBOX.b.2", 0.2, 1, 1),
        // A lone reply leaf: nothing to fold it into.
        replied("svc.answer", 0.3, 1, 1),
        replied("svc.ask", 0.3, 1, 0),
    ]
}

fn group_patterns(tree: &SubjectTree) -> Vec<&str> {
    tree.folds
        .groups
        .iter()
        .map(|g| g.pattern.as_str())
        .collect()
}

fn paths(tree: &SubjectTree, rows: &[TreeRow]) -> Vec<String> {
    rows.iter()
        .map(|r| tree.nodes[r.node].path.clone())
        .collect()
}

fn all_rows(tree: &SubjectTree) -> Vec<TreeRow> {
    let all: HashSet<String> = tree.branch_paths().map(str::to_string).collect();
    tree.visible_rows(&all, &SubjectFilter::All, TreeOrder::Name)
}

#[test]
fn only_the_inbox_prefix_is_an_inbox() {
    assert!(is_inbox("_INBOX.abc.1"));
    assert!(is_inbox("_INBOX"));
    assert!(!is_inbox("_INBOXES.x"));
    assert!(!is_inbox("orders._INBOX"));
}

#[test]
fn the_inbox_branch_folds_into_one_row() {
    let tree = build_tree(&subjects());
    let rows = all_rows(&tree);
    assert!(paths(&tree, &rows).contains(&"_INBOX.abc.1".to_string()));
    let folded = fold_rows(&tree, rows);
    assert_eq!(
        paths(&tree, &folded),
        [
            "_INBOX",
            "_INBOXES",
            "_INBOXES.not",
            "_INBOXES.not.one",
            "orders",
            "orders.created",
            "svc",
            "svc.add"
        ]
    );
    assert!(!folded[0].expanded);
    assert!(is_folded_row(&tree, &folded[0]));
    assert!(!is_folded_row(&tree, &folded[1]));
    let branch = inbox_branch(&tree).unwrap();
    assert_eq!(branch.subjects, 3);
    assert!((branch.msgs_per_sec - 3.5).abs() < 1e-9);
    assert_eq!(group_patterns(&tree), [INBOX_GROUP]);
}

#[test]
fn reply_only_branches_fold_and_mixed_ones_do_not() {
    let tree = build_tree(&mixed());
    assert_eq!(
        group_patterns(&tree),
        [JS_ACK_GROUP, "_MYINBOX.>", "myapp.replies.>"]
    );
    let kinds: Vec<GroupKind> = tree.folds.groups.iter().map(|g| g.kind).collect();
    assert_eq!(
        kinds,
        [GroupKind::Acks, GroupKind::Replies, GroupKind::Replies]
    );
    let folded = fold_rows(&tree, all_rows(&tree));
    let shown = paths(&tree, &folded);
    for hidden in [
        "$JS.ACK.ORDERS",
        "$JS.ACK.PAYMENTS.audit.1.1.1.1735.0",
        "myapp.replies.k3",
        "myapp.replies.q9",
        "_MYINBOX.a",
    ] {
        assert!(!shown.contains(&hidden.to_string()), "{hidden} folded");
    }
    for kept in [
        "$JS",
        "$JS.ACK",
        "$JS.API.STREAM.INFO.ORDERS",
        "myapp.orders.new",
        "myapp.replies",
        "mixed.replies.1",
        "mixed.replies.2",
        "own.r1",
        "_MYINBOX",
        "svc.answer",
    ] {
        assert!(shown.contains(&kept.to_string()), "{kept} shown");
    }
    // The folded rows add up their branches.
    let replies = tree.find("myapp.replies").unwrap();
    let row = folded.iter().find(|r| r.node == replies).unwrap();
    assert!(is_folded_row(&tree, row) && !row.expanded);
    let b = &tree.nodes[replies].branch;
    assert_eq!((b.subjects, b.msgs, b.reply_msgs), (3, 4, 4));
    assert!((b.msgs_per_sec - 3.0).abs() < 1e-9);
    let acks = group_at(&tree, tree.find("$JS.ACK").unwrap()).unwrap();
    assert_eq!(acks.kind.count(3), "3 acknowledgement subjects");
    assert_eq!(group_branch(&tree, acks).unwrap().subjects, 3);
    assert!(group_at(&tree, tree.find("$JS").unwrap()).is_none());
}

#[test]
fn a_non_reply_publish_unfolds_its_branch() {
    let mut subjects = mixed();
    let mut tree = build_tree(&subjects);
    let before = tree.folds.signature;
    // The same subjects, but one reply subject was now also published to as a non-reply.
    let k3 = subjects
        .iter_mut()
        .find(|s| s.subject == "myapp.replies.k3.2")
        .unwrap();
    k3.msgs += 1;
    assert!(tree.update(&subjects).is_none(), "numbers only");
    assert_eq!(tree, build_tree(&subjects));
    assert_eq!(group_patterns(&tree), [JS_ACK_GROUP, "_MYINBOX.>"]);
    assert_ne!(
        tree.folds.signature, before,
        "the rows change with the groups"
    );
}

#[test]
fn the_flow_maps_rule_is_the_trees() {
    let mut all = mixed();
    all.extend(subjects());
    all.push(replied("_INBOX", 0.1, 1, 0));
    all.push(replied("$JS.ACK", 0.1, 1, 0));
    all.push(replied("solo", 0.1, 1, 1));
    // A group's root that is itself a published reply subject is in its group.
    all.push(replied("deep.replies", 0.1, 1, 1));
    all.push(replied("deep.replies.r1", 0.1, 1, 1));
    all.push(replied("deep.other", 0.1, 1, 0));
    let tree = build_tree(&all);
    let roots = ReplyRoots::new(&all);
    for (i, s) in all.iter().enumerate() {
        let by_tree = tree.folds.group_of[tree.leaves[i]].map(|g| tree.nodes[g].path.as_str());
        assert_eq!(roots.root_of(&s.subject), by_tree, "{}", s.subject);
    }
    assert_eq!(roots.root_of("deep.replies"), Some("deep.replies"));
    assert_eq!(roots.root_of("solo"), None, "a lone reply leaf stays");
}

#[test]
fn reply_subjects_are_named_or_all_replies() {
    assert!(is_reply_subject(&stat("_INBOX.x", 1.0)));
    assert!(is_reply_subject(&stat("$JS.ACK.S.C.1.1.1.1.0", 1.0)));
    assert!(is_reply_subject(&replied("my.reply", 1.0, 2, 2)));
    assert!(!is_reply_subject(&replied("my.reply", 1.0, 2, 1)));
    assert!(!is_reply_subject(&stat("$JS.ACKS", 1.0)));
}

fn names(subjects: &[SubjectStat], tree: &SubjectTree, entries: &[PickerEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match e {
            PickerEntry::Subject(i) => subjects[*i].subject.clone(),
            PickerEntry::Group(g) => {
                let group = &tree.folds.groups[*g];
                let n = group_branch(tree, group).unwrap().subjects;
                format!("{} ({n})", group.pattern)
            }
        })
        .collect()
}

#[test]
fn the_picker_lists_the_inboxes_once_by_their_rate() {
    let subjects = subjects();
    let order = by_rate(&subjects);
    let tree = build_tree(&subjects);
    let pick = |fold: bool, keep: &dyn Fn(&SubjectStat) -> bool, group: bool, limit: usize| {
        picker_entries(&subjects, &order, &tree, fold, keep, |_| group, limit)
    };
    let folded = pick(true, &|_| true, true, 10);
    assert_eq!(
        names(&subjects, &tree, &folded),
        [
            "svc.add",
            "_INBOX.> (3)",
            "orders.created",
            "_INBOXES.not.one"
        ]
    );
    let limited = pick(true, &|_| true, true, 2);
    assert_eq!(
        names(&subjects, &tree, &limited),
        ["svc.add", "_INBOX.> (3)"]
    );
    let expanded = pick(false, &|_| true, true, 10);
    assert_eq!(expanded.len(), 6);
    assert!(!expanded.iter().any(|e| matches!(e, PickerEntry::Group(_))));
    // A filter that leaves out the group.
    let filtered = pick(true, &|s| s.subject.starts_with('o'), false, 10);
    assert_eq!(names(&subjects, &tree, &filtered), ["orders.created"]);
}

#[test]
fn the_picker_places_every_group_by_its_rate() {
    let subjects = mixed();
    let order = by_rate(&subjects);
    let tree = build_tree(&subjects);
    let entries = picker_entries(&subjects, &order, &tree, true, |_| true, |_| true, 100);
    let names = names(&subjects, &tree, &entries);
    assert_eq!(
        names[..3],
        ["myapp.orders.new", "myapp.replies.> (3)", "$JS.ACK.> (3)"]
    );
    assert!(names.contains(&"_MYINBOX.> (2)".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("myapp.replies.k3")));
    assert!(names.contains(&"mixed.replies.2".to_string()));
    // Listed one by one with the switch.
    let open = picker_entries(&subjects, &order, &tree, false, |_| true, |_| true, 100);
    assert_eq!(open.len(), subjects.len());
}
