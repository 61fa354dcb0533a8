//! Reply inboxes folded into one entry. Every request/reply creates a reply subject
//! (`_INBOX.<id>` or `_INBOX.<client>.<n>`), so a busy service fills Subjects and the Rates
//! picker with thousands of subjects published to once. By default the views show them as
//! one entry, `_INBOX.>`, adding up the whole branch; a switch lists them again.
//!
//! Only the `_INBOX` prefix is folded: the snapshot does not say which other subjects were
//! used only as reply subjects (the broker's pairing of requests with replies stays in its
//! tap), and guessing from a sample of messages could fold an application's subject.

use crate::inspect::snapshot::SubjectStat;

use super::subject_tree::{BranchStats, SubjectTree, TreeRow};

/// The first token of reply inboxes (NATS clients' default inbox prefix).
pub const INBOX_ROOT: &str = "_INBOX";
/// The one entry the inboxes fold into, as a subject pattern.
pub const INBOX_GROUP: &str = "_INBOX.>";

/// Is `subject` a reply inbox?
pub fn is_inbox(subject: &str) -> bool {
    subject
        .strip_prefix(INBOX_ROOT)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The inboxes' branch of the tree, if any was published to.
pub fn inbox_branch(tree: &SubjectTree) -> Option<&BranchStats> {
    let id = *tree
        .roots
        .iter()
        .find(|&&id| tree.nodes.get(id).is_some_and(|n| n.token == INBOX_ROOT))?;
    tree.nodes.get(id).map(|n| &n.branch)
}

/// Is this row the folded inboxes' row (when folding)?
pub fn is_folded_row(tree: &SubjectTree, row: &TreeRow) -> bool {
    row.depth == 0
        && tree
            .nodes
            .get(row.node)
            .is_some_and(|n| n.path == INBOX_ROOT)
}

/// The tree's rows with the inbox branch folded into its root row: nothing below it, and
/// the root shown closed.
pub fn fold_rows(tree: &SubjectTree, rows: Vec<TreeRow>) -> Vec<TreeRow> {
    rows.into_iter()
        .filter_map(|mut row| {
            let node = tree.nodes.get(row.node)?;
            if node.path == INBOX_ROOT {
                row.expanded = false;
                Some(row)
            } else if node.depth > 0 && is_inbox(&node.path) {
                None
            } else {
                Some(row)
            }
        })
        .collect()
}

/// One entry of the Rates view's subject picker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PickerEntry {
    /// A subject: its index in the snapshot's subjects.
    Subject(usize),
    /// Every inbox, added up.
    Inboxes {
        subjects: usize,
        msgs_per_sec: f64,
        bytes_per_sec: f64,
    },
}

/// The picker's entries, busiest first, at most `limit`: the subjects of `by_rate` that
/// `keep` accepts, with the inboxes folded into one entry placed by its rate when `fold`
/// (and `keep_group`, the filter applied to [`INBOX_GROUP`], accepts it).
pub fn picker_entries(
    subjects: &[SubjectStat],
    by_rate: &[usize],
    inboxes: Option<&BranchStats>,
    fold: bool,
    keep: impl Fn(&SubjectStat) -> bool,
    keep_group: bool,
    limit: usize,
) -> Vec<PickerEntry> {
    let mut group = inboxes
        .filter(|b| fold && keep_group && b.subjects > 0)
        .map(|b| PickerEntry::Inboxes {
            subjects: b.subjects,
            msgs_per_sec: b.msgs_per_sec,
            bytes_per_sec: b.bytes_per_sec,
        });
    let group_rate = inboxes.map_or(0.0, |b| b.msgs_per_sec);
    let mut out = Vec::new();
    for &i in by_rate {
        if out.len() >= limit {
            break;
        }
        let Some(s) = subjects.get(i) else {
            continue;
        };
        if fold && is_inbox(&s.subject) {
            continue;
        }
        if !keep(s) {
            continue;
        }
        if s.msgs_per_sec < group_rate {
            if let Some(g) = group.take() {
                out.push(g);
                if out.len() >= limit {
                    break;
                }
            }
        }
        out.push(PickerEntry::Subject(i));
    }
    if out.len() < limit {
        out.extend(group);
    }
    out
}

#[cfg(test)]
mod tests {
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

    fn subjects() -> Vec<SubjectStat> {
        vec![
            stat("_INBOX.abc.1", 1.0),
            stat("_INBOX.abc.2", 2.0),
            stat("_INBOX.xyz", 0.5),
            stat("_INBOXES.not.one", 0.1),
            stat("orders.created", 2.5),
            stat("svc.add", 4.0),
        ]
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
        let all: HashSet<String> = tree.branch_paths().map(str::to_string).collect();
        let rows = tree.visible_rows(&all, &SubjectFilter::All, TreeOrder::Name);
        let paths = |rows: &[TreeRow]| -> Vec<String> {
            rows.iter()
                .map(|r| tree.nodes[r.node].path.clone())
                .collect()
        };
        assert!(paths(&rows).contains(&"_INBOX.abc.1".to_string()));
        let folded = fold_rows(&tree, rows);
        assert_eq!(
            paths(&folded),
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
    }

    #[test]
    fn the_picker_lists_the_inboxes_once_by_their_rate() {
        let subjects = subjects();
        let order = by_rate(&subjects);
        let tree = build_tree(&subjects);
        let names = |entries: &[PickerEntry]| -> Vec<String> {
            entries
                .iter()
                .map(|e| match e {
                    PickerEntry::Subject(i) => subjects[*i].subject.clone(),
                    PickerEntry::Inboxes { subjects, .. } => format!("{INBOX_GROUP} ({subjects})"),
                })
                .collect()
        };
        let folded = picker_entries(
            &subjects,
            &order,
            inbox_branch(&tree),
            true,
            |_| true,
            true,
            10,
        );
        assert_eq!(
            names(&folded),
            [
                "svc.add",
                "_INBOX.> (3)",
                "orders.created",
                "_INBOXES.not.one"
            ]
        );
        let limited = picker_entries(
            &subjects,
            &order,
            inbox_branch(&tree),
            true,
            |_| true,
            true,
            2,
        );
        assert_eq!(names(&limited), ["svc.add", "_INBOX.> (3)"]);
        let expanded = picker_entries(
            &subjects,
            &order,
            inbox_branch(&tree),
            false,
            |_| true,
            true,
            10,
        );
        assert_eq!(expanded.len(), 6);
        assert!(!expanded
            .iter()
            .any(|e| matches!(e, PickerEntry::Inboxes { .. })));
        // A filter that leaves out the group.
        let filtered = picker_entries(
            &subjects,
            &order,
            inbox_branch(&tree),
            true,
            |s| s.subject.starts_with('o'),
            false,
            10,
        );
        assert_eq!(names(&filtered), ["orders.created"]);
    }
}
