//! The subject tree: published subjects split on `.` into levels, each node carrying the
//! totals of its whole branch. Built once per snapshot (not per frame) into an arena, then
//! flattened into the rows that are visible for the current expansion and filter. Which
//! branches fold as reply subjects is decided with the numbers (see `replies`).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use crate::inspect::snapshot::SubjectStat;

use super::filter::SubjectFilter;
use super::replies::ReplyGroups;

/// What a branch adds up to (for a leaf: the subject's own numbers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BranchStats {
    pub msgs: u64,
    pub bytes: u64,
    pub msgs_per_sec: f64,
    pub bytes_per_sec: f64,
    /// Messages that matched no subscriber.
    pub no_interest_msgs: u64,
    /// Of `msgs`, those that were replies to a request.
    pub reply_msgs: u64,
    /// Subscriptions matching, summed over the branch's subjects.
    pub subscribers: usize,
    /// Published subjects in the branch.
    pub subjects: usize,
    /// Of those, subjects with no subscriber now that were published to nobody.
    pub no_interest_subjects: usize,
    /// Distinct publishing and receiving connections (sorted ids).
    pub publishers: Vec<u64>,
    pub receivers: Vec<u64>,
}

/// How a subject is heard, for marking it in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Somebody listens and nothing went to nobody.
    Always,
    /// Somebody listens now, but some messages went to nobody (before they subscribed).
    Partly,
    /// Published, and nobody listens: every message is lost.
    NoInterest,
}

impl BranchStats {
    pub fn interest(&self) -> Interest {
        if self.no_interest_msgs == 0 {
            Interest::Always
        } else if self.subscribers == 0 {
            Interest::NoInterest
        } else {
            Interest::Partly
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubjectNode {
    /// This level's token.
    pub token: String,
    /// The full subject up to this level.
    pub path: String,
    pub depth: usize,
    pub parent: Option<usize>,
    /// Children (arena indices), sorted by token.
    pub children: Vec<usize>,
    /// Set when `path` itself was published to.
    pub own: Option<Published>,
    /// Totals over `own` and every descendant.
    pub branch: BranchStats,
}

/// What a node that is itself a published subject adds to its branch numbers. Plain data
/// (no strings): the tree is updated four times a second, and copying each subject's
/// statistics (name, id lists) into it cost tens of thousands of allocations a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub last_published: Option<SystemTime>,
}

impl Published {
    fn of(stat: &SubjectStat) -> Self {
        Self {
            last_published: stat.last_published,
        }
    }
}

impl SubjectNode {
    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectTree {
    pub nodes: Vec<SubjectNode>,
    /// Top-level nodes, sorted by token.
    pub roots: Vec<usize>,
    pub total: BranchStats,
    /// The node of each subject, in the order of the subjects it was built from (lets
    /// [`SubjectTree::update`] redo the numbers without rebuilding).
    pub leaves: Vec<usize>,
    /// The branches folded as reply subjects, for these numbers.
    pub folds: ReplyGroups,
}

/// How siblings are ordered in the flattened view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeOrder {
    #[default]
    Name,
    MsgRate,
    Messages,
}

fn add_into(into: &mut BranchStats, s: &SubjectStat) {
    into.msgs += s.msgs;
    into.bytes += s.bytes;
    into.msgs_per_sec += s.msgs_per_sec;
    into.bytes_per_sec += s.bytes_per_sec;
    into.no_interest_msgs += s.no_interest_msgs;
    into.reply_msgs += s.reply_msgs.min(s.msgs);
    into.subscribers += s.subscribers;
    into.subjects += 1;
    if s.subscribers == 0 && s.no_interest_msgs > 0 {
        into.no_interest_subjects += 1;
    }
}

fn dedup_ids(ids: &mut Vec<u64>) {
    ids.sort_unstable();
    ids.dedup();
}

/// Builds the tree from the snapshot's subjects (any order).
pub fn build_tree(subjects: &[SubjectStat]) -> SubjectTree {
    let mut nodes: Vec<SubjectNode> = Vec::new();
    // Keyed by tokens borrowed from `subjects`: no allocation per level and subject.
    let mut index: HashMap<(Option<usize>, &str), usize> = HashMap::new();
    let mut roots = Vec::new();
    let mut total = BranchStats::default();
    let mut leaves = Vec::with_capacity(subjects.len());
    for stat in subjects {
        add_into(&mut total, stat);
        total.publishers.extend_from_slice(&stat.publishers);
        total.receivers.extend_from_slice(&stat.receivers);
        let mut parent: Option<usize> = None;
        let mut path = String::with_capacity(stat.subject.len());
        for (depth, token) in stat.subject.split('.').enumerate() {
            if depth > 0 {
                path.push('.');
            }
            path.push_str(token);
            let key = (parent, token);
            let id = match index.get(&key) {
                Some(&id) => id,
                None => {
                    let id = nodes.len();
                    nodes.push(SubjectNode {
                        token: token.to_string(),
                        path: path.clone(),
                        depth,
                        parent,
                        children: Vec::new(),
                        own: None,
                        branch: BranchStats::default(),
                    });
                    match parent {
                        Some(p) => nodes[p].children.push(id),
                        None => roots.push(id),
                    }
                    index.insert(key, id);
                    id
                }
            };
            let node = &mut nodes[id];
            add_into(&mut node.branch, stat);
            node.branch.publishers.extend_from_slice(&stat.publishers);
            node.branch.receivers.extend_from_slice(&stat.receivers);
            parent = Some(id);
        }
        if let Some(leaf) = parent {
            nodes[leaf].own = Some(Published::of(stat));
            leaves.push(leaf);
        }
    }
    let by_token = |nodes: &[SubjectNode], ids: &mut Vec<usize>| {
        ids.sort_by(|&a, &b| nodes[a].token.cmp(&nodes[b].token));
    };
    by_token(&nodes, &mut roots);
    dedup_ids(&mut total.publishers);
    dedup_ids(&mut total.receivers);
    for i in 0..nodes.len() {
        dedup_ids(&mut nodes[i].branch.publishers);
        dedup_ids(&mut nodes[i].branch.receivers);
        let mut children = std::mem::take(&mut nodes[i].children);
        by_token(&nodes, &mut children);
        nodes[i].children = children;
    }
    let folds = ReplyGroups::of(&nodes);
    SubjectTree {
        nodes,
        roots,
        total,
        leaves,
        folds,
    }
}

impl BranchStats {
    /// Back to zero, keeping the id lists' allocations.
    fn reset(&mut self) {
        let mut publishers = std::mem::take(&mut self.publishers);
        let mut receivers = std::mem::take(&mut self.receivers);
        publishers.clear();
        receivers.clear();
        *self = BranchStats {
            publishers,
            receivers,
            ..BranchStats::default()
        };
    }
}

impl SubjectTree {
    /// The tree for a new snapshot. From one snapshot to the next the subjects are
    /// usually the same ones in the same order: then only the numbers are redone, in
    /// place (rebuilding a 10,000-subject tree took about 30 ms of a frame). Otherwise,
    /// or when a subject is not where it was, the tree is rebuilt. Either way the result
    /// equals `build_tree(subjects)`. A rebuild hands back the tree it replaced, so that the
    /// caller can free it off the UI thread (and knows the structure changed).
    #[must_use = "the replaced tree says the structure changed (and is freed where it is dropped)"]
    pub fn update(&mut self, subjects: &[SubjectStat]) -> Option<SubjectTree> {
        let same = self.leaves.len() == subjects.len()
            && subjects.iter().zip(&self.leaves).all(|(s, &leaf)| {
                self.nodes
                    .get(leaf)
                    .is_some_and(|n| n.path == s.subject && n.own.is_some())
            });
        if !same {
            return Some(std::mem::replace(self, build_tree(subjects)));
        }
        self.total.reset();
        for node in &mut self.nodes {
            node.branch.reset();
        }
        for (stat, &leaf) in subjects.iter().zip(&self.leaves) {
            add_into(&mut self.total, stat);
            self.total.publishers.extend_from_slice(&stat.publishers);
            self.total.receivers.extend_from_slice(&stat.receivers);
            let mut cur = Some(leaf);
            while let Some(id) = cur {
                let Some(node) = self.nodes.get_mut(id) else {
                    break;
                };
                add_into(&mut node.branch, stat);
                node.branch.publishers.extend_from_slice(&stat.publishers);
                node.branch.receivers.extend_from_slice(&stat.receivers);
                cur = node.parent;
            }
            if let Some(node) = self.nodes.get_mut(leaf) {
                node.own = Some(Published::of(stat));
            }
        }
        dedup_ids(&mut self.total.publishers);
        dedup_ids(&mut self.total.receivers);
        for node in &mut self.nodes {
            dedup_ids(&mut node.branch.publishers);
            dedup_ids(&mut node.branch.receivers);
        }
        // A subject used only as a reply so far may have been published to as a
        // non-reply in this tick: the groups follow the numbers.
        self.folds = ReplyGroups::of(&self.nodes);
        None
    }
}

/// One visible row of the tree view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRow {
    pub node: usize,
    pub depth: usize,
    pub expanded: bool,
}

impl SubjectTree {
    pub fn find(&self, path: &str) -> Option<usize> {
        let mut level = &self.roots;
        let mut found = None;
        for token in path.split('.') {
            let id = *level.iter().find(|&&id| self.nodes[id].token == token)?;
            found = Some(id);
            level = &self.nodes[id].children;
        }
        found
    }

    /// The rows to draw: children of expanded nodes, ordered by `order`. With a filter,
    /// only branches holding a matching subject are shown, and they are shown open.
    pub fn visible_rows(
        &self,
        expanded: &HashSet<String>,
        filter: &SubjectFilter,
        order: TreeOrder,
    ) -> Vec<TreeRow> {
        let keep: Option<Vec<bool>> = (!filter.is_all()).then(|| self.matching_branches(filter));
        let mut rows = Vec::new();
        let mut stack: Vec<usize> = self.sorted(&self.roots, order).into_iter().rev().collect();
        while let Some(id) = stack.pop() {
            if let Some(keep) = &keep {
                if !keep[id] {
                    continue;
                }
            }
            let node = &self.nodes[id];
            let open =
                !node.children.is_empty() && (keep.is_some() || expanded.contains(&node.path));
            rows.push(TreeRow {
                node: id,
                depth: node.depth,
                expanded: open,
            });
            if open {
                stack.extend(self.sorted(&node.children, order).into_iter().rev());
            }
        }
        rows
    }

    fn sorted(&self, ids: &[usize], order: TreeOrder) -> Vec<usize> {
        let mut ids = ids.to_vec();
        match order {
            TreeOrder::Name => {}
            TreeOrder::MsgRate => ids.sort_by(|&a, &b| {
                self.nodes[b]
                    .branch
                    .msgs_per_sec
                    .total_cmp(&self.nodes[a].branch.msgs_per_sec)
            }),
            TreeOrder::Messages => {
                ids.sort_by(|&a, &b| self.nodes[b].branch.msgs.cmp(&self.nodes[a].branch.msgs))
            }
        }
        ids
    }

    /// For each node: does it, or anything below it, hold a published subject the filter
    /// matches (or, for substring filters, whose path contains the text)?
    fn matching_branches(&self, filter: &SubjectFilter) -> Vec<bool> {
        let mut keep = vec![false; self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            let hit = node.own.is_some() && filter.matches(node.path.as_bytes());
            if hit {
                let mut cur = Some(id);
                while let Some(c) = cur {
                    if keep[c] {
                        break;
                    }
                    keep[c] = true;
                    cur = self.nodes[c].parent;
                }
            }
        }
        keep
    }

    /// Paths of every node that has children (for "expand all").
    pub fn branch_paths(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .iter()
            .filter(|n| !n.children.is_empty())
            .map(|n| n.path.as_str())
    }
}

/// Indices of the subjects busiest first, by rate band (a quarter of a decade each, see
/// [`rate_band`]) and then by name. Lists in this order (the Rates picker, the Overview's
/// top subjects) hold still under the pointer while traffic is steady: ordered by the exact
/// rate, subjects at about the same rate swapped places with every snapshot.
pub fn by_rate(subjects: &[SubjectStat]) -> Vec<usize> {
    let mut all: Vec<usize> = (0..subjects.len()).collect();
    // Names are unique, so the order is total and an unstable sort (no buffer) is exact.
    all.sort_unstable_by(|&a, &b| {
        let (a, b) = (&subjects[a], &subjects[b]);
        rate_band(b.msgs_per_sec)
            .cmp(&rate_band(a.msgs_per_sec))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    all
}

/// `entries` in the order `held` names them (a list's order as the user last saw it),
/// those it does not name after them in their own order: a list held still while the
/// pointer is over it, so that what is about to be clicked does not move away.
pub fn held_order<'a, T>(
    mut entries: Vec<T>,
    held: &[String],
    name: impl Fn(&T) -> Option<&'a str>,
) -> Vec<T> {
    if held.is_empty() {
        return entries;
    }
    let position: HashMap<&str, usize> = held
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    // A stable sort keeps the new entries (usize::MAX) in their own order.
    entries.sort_by_key(|e| {
        name(e)
            .and_then(|n| position.get(n).copied())
            .unwrap_or(usize::MAX)
    });
    entries
}

/// A rate's band: bands are a quarter of a decade wide, with edges at 1.33, 2.37, 4.22, 7.5,
/// 13.3, ... per second, away from the round rates (1, 2, 5, 10, 100/s) that steady
/// publishers tend to have, so that their jitter does not cross an edge. No traffic is the
/// lowest band.
pub fn rate_band(rate: f64) -> i32 {
    if rate.is_nan() || rate <= 0.0 {
        return i32::MIN;
    }
    // Rates span far less than i32's range of bands; the cast saturates anyway.
    (rate.log10() * 4.0).round() as i32
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn stat(subject: &str, msgs: u64, rate: f64, subs: usize, nobody: u64) -> SubjectStat {
        SubjectStat {
            subject: subject.into(),
            msgs,
            bytes: msgs * 10,
            msgs_per_sec: rate,
            bytes_per_sec: rate * 10.0,
            no_interest_msgs: nobody,
            reply_msgs: 0,
            subscribers: subs,
            publishers: vec![msgs % 3 + 1],
            receivers: if subs > 0 { vec![7] } else { vec![] },
            last_published: None,
        }
    }

    fn sample() -> SubjectTree {
        build_tree(&[
            stat("orders.eu.created", 100, 10.0, 2, 0),
            stat("orders.us.created", 50, 5.0, 1, 0),
            stat("orders", 5, 0.0, 1, 0),
            stat("audit.log", 30, 3.0, 0, 30),
            stat("orders.eu.shipped", 20, 2.0, 1, 4),
        ])
    }

    #[test]
    fn update_in_place_equals_a_rebuild() {
        let mut tree = sample();
        // Same subjects, new numbers: updated in place.
        let next = [
            stat("orders.eu.created", 300, 1.0, 0, 9),
            stat("orders.us.created", 60, 6.0, 1, 0),
            stat("orders", 5, 0.5, 1, 0),
            stat("audit.log", 31, 0.0, 2, 30),
            stat("orders.eu.shipped", 21, 2.5, 1, 4),
        ];
        assert!(tree.update(&next).is_none(), "same structure: in place");
        assert_eq!(tree, build_tree(&next));
        // A subject more, and another order: rebuilt, and the old tree handed back.
        let other = [
            stat("audit.log", 31, 0.0, 2, 30),
            stat("orders.eu.created", 300, 1.0, 0, 9),
            stat("new.one", 1, 1.0, 1, 0),
        ];
        let replaced = tree.update(&other);
        assert_eq!(replaced, Some(build_tree(&next)));
        assert_eq!(tree, build_tree(&other));
        assert!(tree.update(&[]).is_some());
        assert_eq!(tree, build_tree(&[]));
    }

    #[test]
    fn branches_aggregate_their_subjects() {
        let tree = sample();
        let orders = &tree.nodes[tree.find("orders").unwrap()];
        assert_eq!(orders.branch.msgs, 175);
        assert_eq!(orders.branch.bytes, 1750);
        assert!((orders.branch.msgs_per_sec - 17.0).abs() < 1e-9);
        assert_eq!(orders.branch.subscribers, 5);
        assert_eq!(orders.branch.subjects, 4);
        assert_eq!(orders.branch.no_interest_msgs, 4);
        assert!(
            orders.own.is_some(),
            "orders is both a subject and a branch"
        );
        let eu = &tree.nodes[tree.find("orders.eu").unwrap()];
        assert_eq!(eu.branch.msgs, 120);
        assert!(eu.own.is_none());
        assert_eq!(eu.children.len(), 2);
        assert_eq!(tree.total.msgs, 205);
        assert_eq!(tree.total.no_interest_subjects, 1);
    }

    #[test]
    fn publishers_and_receivers_are_distinct_ids() {
        let tree = sample();
        let orders = &tree.nodes[tree.find("orders").unwrap()];
        assert_eq!(orders.branch.publishers, vec![2, 3]);
        assert_eq!(orders.branch.receivers, vec![7]);
    }

    #[test]
    fn interest_marks_subjects_with_no_interest() {
        let tree = sample();
        let audit = &tree.nodes[tree.find("audit.log").unwrap()];
        assert_eq!(audit.branch.interest(), Interest::NoInterest);
        let shipped = &tree.nodes[tree.find("orders.eu.shipped").unwrap()];
        assert_eq!(shipped.branch.interest(), Interest::Partly);
        let created = &tree.nodes[tree.find("orders.us.created").unwrap()];
        assert_eq!(created.branch.interest(), Interest::Always);
    }

    #[test]
    fn collapsed_tree_shows_roots_sorted() {
        let tree = sample();
        let rows = tree.visible_rows(&HashSet::new(), &SubjectFilter::All, TreeOrder::Name);
        let names: Vec<&str> = rows
            .iter()
            .map(|r| tree.nodes[r.node].path.as_str())
            .collect();
        assert_eq!(names, ["audit", "orders"]);
    }

    #[test]
    fn expansion_and_rate_order() {
        let tree = sample();
        let expanded: HashSet<String> = ["orders".to_string()].into();
        let rows = tree.visible_rows(&expanded, &SubjectFilter::All, TreeOrder::MsgRate);
        let names: Vec<&str> = rows
            .iter()
            .map(|r| tree.nodes[r.node].path.as_str())
            .collect();
        assert_eq!(names, ["orders", "orders.eu", "orders.us", "audit"]);
        assert_eq!(rows[1].depth, 1);
        assert!(rows[0].expanded);
        assert!(!rows[1].expanded);
    }

    #[test]
    fn filter_opens_matching_branches_only() {
        let tree = sample();
        let filter = SubjectFilter::parse("orders.*.created");
        let rows = tree.visible_rows(&HashSet::new(), &filter, TreeOrder::Name);
        let names: Vec<&str> = rows
            .iter()
            .map(|r| tree.nodes[r.node].path.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "orders",
                "orders.eu",
                "orders.eu.created",
                "orders.us",
                "orders.us.created"
            ]
        );
        let rows = tree.visible_rows(
            &HashSet::new(),
            &SubjectFilter::parse("aud"),
            TreeOrder::Name,
        );
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn top_subjects_by_rate() {
        let subjects = vec![
            stat("a", 1, 1.0, 1, 0),
            stat("b", 1, 9.0, 1, 0),
            stat("c", 1, 5.0, 1, 0),
        ];
        let top: Vec<&str> = by_rate(&subjects)
            .into_iter()
            .take(2)
            .map(|i| subjects[i].subject.as_str())
            .collect();
        assert_eq!(top, ["b", "c"]);
    }

    #[test]
    fn a_held_list_keeps_the_order_it_was_seen_in() {
        let held: Vec<String> = ["b", "a", "gone"].map(String::from).to_vec();
        let now = vec!["a", "new", "b", "later"];
        assert_eq!(
            held_order(now, &held, |s| Some(*s)),
            ["b", "a", "new", "later"]
        );
        assert_eq!(held_order(vec!["x", "y"], &[], |s| Some(*s)), ["x", "y"]);
    }

    #[test]
    fn steady_rates_keep_their_order_through_jitter() {
        let order = |x: f64, y: f64| {
            let subjects = vec![stat("x", 1, x, 1, 0), stat("y", 1, y, 1, 0)];
            by_rate(&subjects)
        };
        // About the same rate, either one a little ahead: the same order, by name.
        assert_eq!(order(8.0, 8.1), order(8.1, 8.0));
        assert_eq!(order(100.2, 99.7), [0, 1]);
        // Round rates sit away from a band's edge.
        for rate in [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0] {
            assert_eq!(rate_band(rate * 0.97), rate_band(rate * 1.03), "{rate}/s");
        }
        // Rates far apart are busiest first.
        assert_eq!(order(1.0, 10.0), [1, 0]);
        assert_eq!(rate_band(0.0), rate_band(f64::NAN));
        assert!(rate_band(0.001) > rate_band(0.0));
    }
}
