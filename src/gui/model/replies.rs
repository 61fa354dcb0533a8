//! Reply subjects folded into one entry per branch. Every request creates a reply subject
//! (`_INBOX.<id>`, a client's custom inbox prefix, or JetStream's `$JS.ACK.<stream>.
//! <consumer>.<...>` for every message a consumer delivers), so a busy service fills
//! Subjects, the Rates picker and the Flow map with thousands of subjects published to once.
//! By default the views fold them; a switch lists them again.
//!
//! The rule, the same in every view (the tree computes it per node, the Flow map per
//! subject, and a test holds the two together):
//! - A **named root** folds whatever was published below it: `_INBOX` (NATS clients' default
//!   inbox prefix) and `$JS.ACK` (JetStream's acknowledgements, one root two tokens deep:
//!   one `$JS.ACK.>` entry rather than one per consumer, because a deployment may have
//!   thousands of consumers, the Consumers view already shows each one's acknowledgements,
//!   and the consumer's tokens are not at a fixed depth: a JetStream domain adds two).
//! - A **reply-only branch** folds: a node with children whose every message was a reply
//!   (`SubjectStat::reply_msgs == msgs` for each subject in it, the node's own included), as
//!   the source's request/reply pairing counted them. A subject also published to as a
//!   non-reply is never folded this way, and neither is a branch holding one.
//! - The **highest** such node is the group: `myapp.replies.>` when `myapp` also holds other
//!   subjects, `_MYINBOX.>` when everything below `_MYINBOX` was a reply. A reply subject
//!   with no reply-only parent (a lone leaf among ordinary subjects) stays as it is: folding
//!   it would save no row.
//!
//! The folded entry adds up its branch's rates and counts.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::inspect::snapshot::SubjectStat;

use super::subject_tree::{rate_band, BranchStats, SubjectNode, SubjectTree, TreeRow};

/// The first token of reply inboxes (NATS clients' default inbox prefix).
pub const INBOX_ROOT: &str = "_INBOX";
/// The one entry the inboxes fold into, as a subject pattern.
pub const INBOX_GROUP: &str = "_INBOX.>";
/// JetStream's acknowledgement subjects (a consumer's deliveries name one as reply).
pub const JS_ACK_ROOT: &str = "$JS.ACK";
/// The one entry the acknowledgement subjects fold into.
pub const JS_ACK_GROUP: &str = "$JS.ACK.>";

/// Roots folded by name, whatever the pairing counted (it counts nothing while latency
/// tracking is off).
const NAMED_ROOTS: [&str; 2] = [INBOX_ROOT, JS_ACK_ROOT];

/// Is `subject` a reply inbox (`_INBOX` or below it)?
pub fn is_inbox(subject: &str) -> bool {
    under(subject, INBOX_ROOT)
}

/// Is `subject` `root` or below it?
fn under(subject: &str, root: &str) -> bool {
    subject
        .strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Is `path` one of the roots folded by name?
pub fn is_named_root(path: &str) -> bool {
    NAMED_ROOTS.contains(&path)
}

/// Were all of these messages replies (and was there one)?
pub fn all_replies(msgs: u64, reply_msgs: u64) -> bool {
    msgs > 0 && reply_msgs >= msgs
}

/// Is this subject a reply subject: below a named root, or every message a reply?
pub fn is_reply_subject(s: &SubjectStat) -> bool {
    NAMED_ROOTS.iter().any(|root| under(&s.subject, root)) || all_replies(s.msgs, s.reply_msgs)
}

/// What a group holds, for its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Inboxes,
    Acks,
    Replies,
}

impl GroupKind {
    fn of(path: &str) -> Self {
        match path {
            INBOX_ROOT => GroupKind::Inboxes,
            JS_ACK_ROOT => GroupKind::Acks,
            _ => GroupKind::Replies,
        }
    }

    /// "3 reply inboxes", "1 acknowledgement subject", ...
    pub fn count(self, n: usize) -> String {
        let (one, many) = match self {
            GroupKind::Inboxes => ("reply inbox", "reply inboxes"),
            GroupKind::Acks => ("acknowledgement subject", "acknowledgement subjects"),
            GroupKind::Replies => ("reply subject", "reply subjects"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }

    /// The same in a word, for narrow columns: "3 inboxes", "1 ack", "2 replies".
    pub fn short(self, n: usize) -> String {
        let (one, many) = match self {
            GroupKind::Inboxes => ("inbox", "inboxes"),
            GroupKind::Acks => ("ack", "acks"),
            GroupKind::Replies => ("reply", "replies"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// One folded group: a branch of the tree shown as one entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyGroup {
    /// The branch's node in the tree.
    pub node: usize,
    /// What the entry reads, `<path>.>`.
    pub pattern: String,
    pub kind: GroupKind,
}

/// The tree's folded groups, computed once per snapshot with the tree's numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplyGroups {
    /// Per node: the root node of the group it is in (itself, for a group's root).
    pub group_of: Vec<Option<usize>>,
    /// The groups, by path.
    pub groups: Vec<ReplyGroup>,
    /// Changes when the set of groups does (the Subjects view recomputes its rows then).
    pub signature: u64,
}

/// Does this node start a group (its parent being in none)?
fn folds(node: &SubjectNode) -> bool {
    is_named_root(&node.path)
        || (!node.children.is_empty() && all_replies(node.branch.msgs, node.branch.reply_msgs))
}

impl ReplyGroups {
    /// The groups of a tree whose nodes come after their parents (as `build_tree` makes
    /// them): one pass, the first folding node on each path being the group.
    pub fn of(nodes: &[SubjectNode]) -> Self {
        let mut group_of: Vec<Option<usize>> = Vec::with_capacity(nodes.len());
        let mut groups = Vec::new();
        for (id, node) in nodes.iter().enumerate() {
            let inherited = node.parent.and_then(|p| group_of.get(p).copied().flatten());
            let group = match inherited {
                Some(g) => Some(g),
                None if folds(node) => {
                    groups.push(ReplyGroup {
                        node: id,
                        pattern: format!("{}.>", node.path),
                        kind: GroupKind::of(&node.path),
                    });
                    Some(id)
                }
                None => None,
            };
            group_of.push(group);
        }
        groups.sort_by(|a, b| a.pattern.cmp(&b.pattern));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for g in &groups {
            g.node.hash(&mut hasher);
        }
        ReplyGroups {
            group_of,
            groups,
            signature: hasher.finish(),
        }
    }
}

/// The inboxes' branch of the tree, if any was published to.
pub fn inbox_branch(tree: &SubjectTree) -> Option<&BranchStats> {
    let id = *tree
        .roots
        .iter()
        .find(|&&id| tree.nodes.get(id).is_some_and(|n| n.token == INBOX_ROOT))?;
    tree.nodes.get(id).map(|n| &n.branch)
}

/// A group's branch numbers.
pub fn group_branch<'a>(tree: &'a SubjectTree, group: &ReplyGroup) -> Option<&'a BranchStats> {
    tree.nodes.get(group.node).map(|n| &n.branch)
}

/// The group whose root is this node, if it is one.
pub fn group_at(tree: &SubjectTree, node: usize) -> Option<&ReplyGroup> {
    if tree.folds.group_of.get(node).copied().flatten() != Some(node) {
        return None;
    }
    tree.folds.groups.iter().find(|g| g.node == node)
}

/// Is this row a folded group's row (when folding)?
pub fn is_folded_row(tree: &SubjectTree, row: &TreeRow) -> bool {
    tree.folds.group_of.get(row.node).copied().flatten() == Some(row.node)
}

/// The tree's rows with each group folded into its root's row: nothing below it, and the
/// root shown closed.
pub fn fold_rows(tree: &SubjectTree, rows: Vec<TreeRow>) -> Vec<TreeRow> {
    rows.into_iter()
        .filter_map(|mut row| match tree.folds.group_of.get(row.node).copied() {
            Some(Some(g)) if g == row.node => {
                row.expanded = false;
                Some(row)
            }
            Some(Some(_)) => None,
            _ => Some(row),
        })
        .collect()
}

/// Is the snapshot's subject `index` (of the subjects the tree was built from) in a group?
fn subject_folded(tree: &SubjectTree, subjects: &[SubjectStat], index: usize) -> bool {
    let node = if tree.leaves.len() == subjects.len() {
        tree.leaves.get(index).copied()
    } else {
        subjects.get(index).and_then(|s| tree.find(&s.subject))
    };
    node.and_then(|n| tree.folds.group_of.get(n).copied().flatten())
        .is_some()
}

/// One entry of the Rates view's subject picker (and the Overview's top subjects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerEntry {
    /// A subject: its index in the snapshot's subjects.
    Subject(usize),
    /// A folded group: its index in the tree's groups.
    Group(usize),
}

/// The picker's entries, busiest first, at most `limit`: the subjects of `by_rate` that
/// `keep` accepts, with each group (that `keep_group` accepts) in place of its subjects
/// when `fold`, placed by its rate.
pub fn picker_entries(
    subjects: &[SubjectStat],
    by_rate: &[usize],
    tree: &SubjectTree,
    fold: bool,
    keep: impl Fn(&SubjectStat) -> bool,
    keep_group: impl Fn(&ReplyGroup) -> bool,
    limit: usize,
) -> Vec<PickerEntry> {
    // Groups busiest first, each with its rate.
    let mut groups: Vec<(usize, f64)> = if fold {
        tree.folds
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| keep_group(g))
            .filter_map(|(i, g)| group_branch(tree, g).map(|b| (i, b.msgs_per_sec)))
            .collect()
    } else {
        Vec::new()
    };
    // In the subjects' order: by rate band, then by name (see `by_rate`).
    groups.sort_by(|a, b| {
        rate_band(b.1)
            .cmp(&rate_band(a.1))
            .then_with(|| group_pattern(tree, a.0).cmp(group_pattern(tree, b.0)))
    });
    let mut groups = groups.into_iter().peekable();
    let mut out = Vec::new();
    for &i in by_rate {
        if out.len() >= limit {
            return out;
        }
        let Some(s) = subjects.get(i) else {
            continue;
        };
        if fold && subject_folded(tree, subjects, i) {
            continue;
        }
        if !keep(s) {
            continue;
        }
        let band = rate_band(s.msgs_per_sec);
        while let Some((g, _)) = groups.next_if(|&(g, rate)| {
            let group_band = rate_band(rate);
            band < group_band || (band == group_band && group_pattern(tree, g) < s.subject.as_str())
        }) {
            out.push(PickerEntry::Group(g));
            if out.len() >= limit {
                return out;
            }
        }
        out.push(PickerEntry::Subject(i));
    }
    out.extend(groups.map(|(g, _)| PickerEntry::Group(g)));
    out.truncate(limit);
    out
}

/// A group's pattern (empty for an index that has none).
fn group_pattern(tree: &SubjectTree, group: usize) -> &str {
    tree.folds
        .groups
        .get(group)
        .map_or("", |g| g.pattern.as_str())
}

/// Per subject, the root of the group it folds into: the same rule as [`ReplyGroups`],
/// computed from the subjects alone (the Flow map has no tree).
pub struct ReplyRoots<'a> {
    /// Every branch path (a proper prefix of some subject) with its messages and, of
    /// those, replies, added up as the tree adds up a branch.
    branches: HashMap<&'a str, (u64, u64), foldhash::fast::RandomState>,
}

impl<'a> ReplyRoots<'a> {
    pub fn new(subjects: &'a [SubjectStat]) -> Self {
        let mut branches: HashMap<&'a str, (u64, u64), foldhash::fast::RandomState> =
            HashMap::default();
        let add = |sums: &mut (u64, u64), s: &SubjectStat| {
            sums.0 += s.msgs;
            sums.1 += s.reply_msgs.min(s.msgs);
        };
        for s in subjects {
            for (i, _) in s.subject.match_indices('.') {
                add(branches.entry(&s.subject[..i]).or_default(), s);
            }
        }
        // A branch that is itself a published subject counts its own messages too.
        for s in subjects {
            if let Some(sums) = branches.get_mut(s.subject.as_str()) {
                add(sums, s);
            }
        }
        ReplyRoots { branches }
    }

    /// The path of the group `subject` folds into: a prefix of it, or itself when it is a
    /// group's root (a subject that is also a branch, like a tree node with its own row).
    pub fn root_of<'s>(&self, subject: &'s str) -> Option<&'s str> {
        let folds = |p: &str| {
            is_named_root(p)
                || self
                    .branches
                    .get(p)
                    .is_some_and(|&(msgs, replies)| all_replies(msgs, replies))
        };
        subject
            .match_indices('.')
            .map(|(i, _)| &subject[..i])
            .chain(std::iter::once(subject))
            .find(|p| folds(p))
    }
}

#[cfg(test)]
#[path = "replies_tests.rs"]
mod tests;
