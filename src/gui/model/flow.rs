//! The flow map's graph: who publishes to which subject, and who receives it (plain
//! subscribers, queue groups and their members), with each subject's messaging pattern.
//!
//! The snapshot already says, per subject, which connections published to it and whose
//! subscriptions match it now; this module turns that into a graph of four columns
//! (publishers, subjects, receivers and queue groups, queue members) and keeps it small
//! enough to read and to draw within a frame at 1,000 connections and 10,000 subjects:
//! - subjects are cut at the deepest token depth that leaves at most
//!   [`MAX_NODES_PER_COLUMN`] nodes (`telemetry.plant1.>` stands for what is below it), and
//!   reply subjects fold as in Subjects (`_INBOX.>`, `$JS.ACK.>`, a branch used only for
//!   replies; the rule is in `replies`) unless asked otherwise;
//! - connections are one node each, or one per name (instances of a service share one),
//!   or one per name stem (`client-17` and `client-18` are `client*`), the finest that fits;
//! - what still does not fit goes into one "other" node per column, busiest kept.
//!
//! Pure data (no egui). The layout is in `flow_layout`, the drawing in `panels::flow`.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

// foldhash, not SipHash: building a 10,000-subject map hashes a few hundred thousand keys.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};

use super::filter::SubjectFilter;
pub use super::flow_pattern::{classify, Counts, Pattern};
use super::replies::{is_reply_subject, ReplyRoots};
use crate::inspect::snapshot::{ConnectionInfo, Snapshot, SubjectStat};
use crate::proto::subject;

/// Nodes a column holds at most before it aggregates further.
pub const MAX_NODES_PER_COLUMN: usize = 30;

/// The columns, left to right.
pub const PUBLISHERS: usize = 0;
pub const SUBJECTS: usize = 1;
pub const RECEIVERS: usize = 2;
pub const MEMBERS: usize = 3;

/// How far subjects are cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SubjectDepth {
    /// The deepest cut that fits the column.
    #[default]
    Auto,
    /// The first n tokens.
    Tokens(usize),
    /// Every subject whole (the busiest, if they do not fit).
    Full,
}

/// How connections are grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ConnGrouping {
    /// The finest grouping that fits the columns.
    #[default]
    Auto,
    Each,
    Name,
    Stem,
}

/// The grouping a graph was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnLevel {
    Each,
    Name,
    Stem,
}

impl ConnLevel {
    pub fn label(self) -> &'static str {
        match self {
            ConnLevel::Each => "one node per connection",
            ConnLevel::Name => "connections grouped by name",
            ConnLevel::Stem => "connections grouped by name stem",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowOptions {
    /// A subject filter (wildcard pattern or text), as in the Subjects view.
    pub filter: String,
    /// Reply subjects folded, one node per group (`_INBOX.>`, `$JS.ACK.>`, ...).
    pub collapse_replies: bool,
    pub depth: SubjectDepth,
    pub grouping: ConnGrouping,
    pub max_per_column: usize,
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self {
            filter: String::new(),
            collapse_replies: true,
            depth: SubjectDepth::Auto,
            grouping: ConnGrouping::Auto,
            max_per_column: MAX_NODES_PER_COLUMN,
        }
    }
}

/// One or more connections, as a node shows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnKey {
    One(u64),
    /// Every connection with this name ("" for those without one).
    Name(String),
    /// Every connection whose name has this stem.
    Stem(String),
    /// What did not fit the column.
    Others,
    /// Publishers that are not live clients: closed since, or the broker's own services.
    Gone,
    /// Seen from outside: the publishers cannot be known.
    Unknown,
}

/// One subject or a branch of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKey {
    Subject(String),
    /// Everything below this prefix (`prefix.>`).
    Branch(String),
    Others,
}

/// A node's identity: stable across snapshots, so that its place on the map is too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKey {
    Publisher(ConnKey),
    Subject(SubjectKey),
    Receiver(ConnKey),
    /// A queue group by its subscription subject and name.
    Queue {
        subject: String,
        queue: String,
    },
    Member(ConnKey),
}

impl NodeKey {
    pub fn column(&self) -> usize {
        match self {
            NodeKey::Publisher(_) => PUBLISHERS,
            NodeKey::Subject(_) => SUBJECTS,
            NodeKey::Receiver(_) | NodeKey::Queue { .. } => RECEIVERS,
            NodeKey::Member(_) => MEMBERS,
        }
    }

    /// The connections part of a connection node.
    pub fn conn(&self) -> Option<&ConnKey> {
        match self {
            NodeKey::Publisher(c) | NodeKey::Receiver(c) | NodeKey::Member(c) => Some(c),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowNode {
    pub key: NodeKey,
    pub label: String,
    /// Messages through the node per second: published to a subject node, sent by a
    /// publisher node, delivered to a receiver node.
    pub msgs_per_sec: f64,
    /// Subject and queue-group nodes: their pattern (the busiest, when mixed).
    pub pattern: Option<Pattern>,
    /// The subjects of a branch do not all share one pattern.
    pub mixed: bool,
    /// Live connections in the node, sorted (connection and queue nodes).
    pub connections: Vec<u64>,
    /// Subjects in the node.
    pub subjects: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowEdge {
    pub msgs_per_sec: f64,
    /// Split between several publishers by their publish rates: the broker counts per
    /// subject, not per publisher and subject.
    pub estimated: bool,
    pub pattern: Pattern,
}

/// The aggregated graph and how it was aggregated.
#[derive(Debug, Clone, Default)]
pub struct FlowGraph {
    pub graph: DiGraph<FlowNode, FlowEdge>,
    /// Subjects cut after this many tokens (`None`: whole).
    pub subject_depth: Option<usize>,
    pub level: Option<ConnLevel>,
    /// Subjects that passed the filter, of all.
    pub subjects_shown: usize,
    pub subjects_total: usize,
    /// Inside the broker: who published what is known.
    pub publishers_known: bool,
    /// Whose subscriptions match is known (inside, or outside with a monitoring source).
    pub receivers_known: bool,
}

impl FlowGraph {
    pub fn find(&self, key: &NodeKey) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&n| self.graph[n].key == *key)
    }

    /// An id of the nodes and edges, not of their numbers: the layout is redone only when
    /// it changes.
    pub fn structure(&self) -> u64 {
        let mut nodes: Vec<&NodeKey> = self.graph.node_weights().map(|n| &n.key).collect();
        nodes.sort();
        let mut edges: Vec<(&NodeKey, &NodeKey)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (&self.graph[a].key, &self.graph[b].key))
            .collect();
        edges.sort();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        nodes.hash(&mut h);
        edges.hash(&mut h);
        h.finish()
    }
}

/// `subject`, or its first `depth` tokens and whether it was cut.
fn cut(subject: &str, depth: Option<usize>) -> (&str, bool) {
    match depth {
        Some(d) => match subject.match_indices('.').nth(d.max(1) - 1) {
            Some((i, _)) => (&subject[..i], true),
            None => (subject, false),
        },
        None => (subject, false),
    }
}

/// A subject to place, with the root of the reply group it folds into (when folding).
type Placed<'a> = (&'a SubjectStat, Option<&'a str>);

/// Where a subject goes: (text, is a branch). A reply group's root wins over a deeper cut.
fn slot<'a>(&(s, folded): &Placed<'a>, depth: Option<usize>) -> (&'a str, bool) {
    let (cut_to, was_cut) = cut(&s.subject, depth);
    match folded {
        Some(root) if root.len() <= cut_to.len() => (root, true),
        _ => (cut_to, was_cut),
    }
}

/// Distinct slots at `depth`, counting no further than `budget + 1`.
fn distinct_slots(subjects: &[Placed<'_>], depth: Option<usize>, budget: usize) -> usize {
    let mut seen: HashSet<(&str, bool)> = HashSet::new();
    for s in subjects {
        seen.insert(slot(s, depth));
        if seen.len() > budget {
            break;
        }
    }
    seen.len()
}

/// The finest cut whose subject nodes fit `budget`.
fn choose_depth(subjects: &[Placed<'_>], options: &FlowOptions, budget: usize) -> Option<usize> {
    match options.depth {
        SubjectDepth::Full => None,
        SubjectDepth::Tokens(n) => Some(n.max(1)),
        SubjectDepth::Auto => {
            let tokens = subjects
                .iter()
                .map(|(s, _)| s.subject.matches('.').count() + 1)
                .max()
                .unwrap_or(1);
            std::iter::once(None)
                .chain((1..tokens).rev().map(Some))
                .find(|&d| distinct_slots(subjects, d, budget) <= budget)
                .unwrap_or(Some(1))
        }
    }
}

/// A name without its trailing instance number: `payments-2` and `payments-10` are
/// `payments`, `worker_a7` stays itself (only digits and the separators before them go).
pub fn stem(name: &str) -> &str {
    let without_digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if without_digits.len() == name.len() {
        return name;
    }
    without_digits.trim_end_matches(['-', '_', '.', ' ', '#', '/', ':'])
}

/// A connection's group at `level`, borrowed (for counting without allocating).
fn conn_slot(level: ConnLevel, c: &ConnectionInfo) -> (u64, &str) {
    match level {
        ConnLevel::Each => (c.cid, ""),
        ConnLevel::Name => (0, c.name.as_str()),
        ConnLevel::Stem => (0, stem(&c.name)),
    }
}

fn conn_key(level: ConnLevel, c: &ConnectionInfo) -> ConnKey {
    match level {
        ConnLevel::Each => ConnKey::One(c.cid),
        ConnLevel::Name => ConnKey::Name(c.name.clone()),
        ConnLevel::Stem => ConnKey::Stem(stem(&c.name).to_string()),
    }
}

/// What a connection node reads; `conns` are its live connections.
fn conn_label(key: &ConnKey, conns: &[&ConnectionInfo], shared_names: &HashSet<&str>) -> String {
    let n = conns.len();
    match key {
        ConnKey::One(cid) => match conns.first() {
            Some(c) if c.name.is_empty() => format!("#{cid}"),
            Some(c) if shared_names.contains(c.name.as_str()) => format!("{} #{cid}", c.name),
            Some(c) => c.name.clone(),
            None => format!("#{cid}"),
        },
        ConnKey::Name(name) if name.is_empty() => format!("unnamed ×{n}"),
        ConnKey::Name(name) if n > 1 => format!("{name} ×{n}"),
        ConnKey::Name(name) => name.clone(),
        ConnKey::Stem(stem) if stem.is_empty() => format!("unnamed ×{n}"),
        ConnKey::Stem(stem) if n > 1 => format!("{stem}* ×{n}"),
        ConnKey::Stem(stem) => conns
            .first()
            .map_or_else(|| stem.clone(), |c| c.name.clone()),
        ConnKey::Others => format!("{n} other connections"),
        ConnKey::Gone => "closed or internal clients".into(),
        ConnKey::Unknown => "publishers unknown".into(),
    }
}

fn subject_label(key: &SubjectKey, subjects: usize) -> String {
    match key {
        SubjectKey::Subject(s) => s.clone(),
        SubjectKey::Branch(p) => format!("{p}.>"),
        SubjectKey::Others => format!("{subjects} other subjects"),
    }
}

/// Keeps the `budget - 1` busiest keys when there are more than `budget`; the rest are
/// "other". Ties go by key, so the choice is the same for the same numbers.
fn busiest<K: Ord + Clone + Hash + Eq>(
    rates: HashMap<K, f64>,
    budget: usize,
) -> Option<HashSet<K>> {
    if rates.len() <= budget {
        return None;
    }
    let mut ranked: Vec<(K, f64)> = rates.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(
        ranked
            .into_iter()
            .take(budget.saturating_sub(1).max(1))
            .map(|(k, _)| k)
            .collect(),
    )
}

/// Collects nodes and edges by key.
struct Builder {
    graph: DiGraph<FlowNode, FlowEdge>,
    nodes: HashMap<NodeKey, NodeIndex>,
    edges: HashMap<(NodeIndex, NodeIndex), EdgeIndex>,
}

impl Builder {
    fn node(&mut self, key: NodeKey) -> NodeIndex {
        if let Some(&n) = self.nodes.get(&key) {
            return n;
        }
        let n = self.graph.add_node(FlowNode {
            key: key.clone(),
            label: String::new(),
            msgs_per_sec: 0.0,
            pattern: None,
            mixed: false,
            connections: Vec::new(),
            subjects: 0,
        });
        self.nodes.insert(key, n);
        n
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex, msgs_per_sec: f64, estimated: bool) {
        if let Some(&e) = self.edges.get(&(from, to)) {
            let w = &mut self.graph[e];
            w.msgs_per_sec += msgs_per_sec;
            w.estimated |= estimated;
            return;
        }
        let e = self.graph.add_edge(
            from,
            to,
            FlowEdge {
                msgs_per_sec,
                estimated,
                pattern: Pattern::Unknown,
            },
        );
        self.edges.insert((from, to), e);
    }
}

/// Queue members' delivered counts by (client id, sid), from an earlier snapshot.
pub type Delivered = std::collections::HashMap<(u64, String), u64>;

/// Builds the flow map of `snap`. `earlier` (queue members' delivered counts some seconds
/// ago) splits a group's traffic by its members' recent shares; without it, by their
/// shares since start.
pub fn build(snap: &Snapshot, options: &FlowOptions, earlier: Option<&Delivered>) -> FlowGraph {
    let budget = options.max_per_column.max(2);
    let filter = SubjectFilter::parse(&options.filter);
    let publishers_known = snap.vantage.knows_routing();
    let receivers_known = publishers_known || !snap.connections.is_empty();
    let live: HashMap<u64, &ConnectionInfo> = snap.connections.iter().map(|c| (c.cid, c)).collect();
    // Which groups fold is decided over every subject, as in Subjects, not the filtered.
    let roots = options
        .collapse_replies
        .then(|| ReplyRoots::new(&snap.subjects));
    let selected: Vec<Placed<'_>> = snap
        .subjects
        .iter()
        .filter(|s| filter.matches(s.subject.as_bytes()))
        .map(|s| (s, roots.as_ref().and_then(|r| r.root_of(&s.subject))))
        .collect();
    let depth = choose_depth(&selected, options, budget);

    // Who is in which queue group (only those connections need their subscriptions matched).
    let mut groups_of: HashMap<u64, Vec<usize>> = HashMap::new();
    for (g, group) in snap.queue_groups.iter().enumerate() {
        for m in &group.members {
            let list = groups_of.entry(m.cid).or_default();
            if !list.contains(&g) {
                list.push(g);
            }
        }
    }

    // Who answered whom on a reply subject: (replier, requester).
    let mut replied: HashSet<(u64, u64)> = HashSet::new();
    if publishers_known {
        for s in snap.subjects.iter().filter(|s| is_reply_subject(s)) {
            for &p in s.publishers.iter().filter(|p| live.contains_key(p)) {
                for &r in &s.receivers {
                    replied.insert((p, r));
                }
            }
        }
    }
    let services: HashSet<&str> = snap
        .latency
        .iter()
        .filter(|l| l.requests > 0)
        .map(|l| l.subject.as_str())
        .collect();

    // Connection grouping: the finest that fits, over every connection the map shows.
    let mut involved: Vec<&ConnectionInfo> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for (s, _) in &selected {
        let pubs = if publishers_known {
            &s.publishers[..]
        } else {
            &[]
        };
        for cid in pubs.iter().chain(&s.receivers) {
            if let Some(c) = live.get(cid) {
                if seen.insert(*cid) {
                    involved.push(c);
                }
            }
        }
    }
    involved.sort_by_key(|c| c.cid);
    let count_at = |level: ConnLevel| {
        involved
            .iter()
            .map(|c| conn_slot(level, c))
            .collect::<HashSet<_>>()
            .len()
    };
    let level = match options.grouping {
        ConnGrouping::Each => ConnLevel::Each,
        ConnGrouping::Name => ConnLevel::Name,
        ConnGrouping::Stem => ConnLevel::Stem,
        ConnGrouping::Auto => [ConnLevel::Each, ConnLevel::Name]
            .into_iter()
            .find(|&l| count_at(l) <= budget)
            .unwrap_or(ConnLevel::Stem),
    };
    let mut key_rates: HashMap<ConnKey, f64> = HashMap::new();
    for c in &involved {
        *key_rates.entry(conn_key(level, c)).or_default() +=
            c.rates.in_msgs_per_sec + c.rates.out_msgs_per_sec;
    }
    let kept_conns = busiest(key_rates, budget);
    let conn_keys: HashMap<u64, ConnKey> = involved
        .iter()
        .map(|c| {
            let key = conn_key(level, c);
            let key = match &kept_conns {
                Some(kept) if !kept.contains(&key) => ConnKey::Others,
                _ => key,
            };
            (c.cid, key)
        })
        .collect();

    // Subjects that do not fit even at the coarsest cut: the busiest stay.
    let kept_slots = {
        let mut rates: HashMap<(&str, bool), f64> = HashMap::new();
        for placed in &selected {
            *rates.entry(slot(placed, depth)).or_default() += placed.0.msgs_per_sec;
        }
        busiest(rates, budget)
    };

    let mut b = Builder {
        graph: DiGraph::new(),
        nodes: HashMap::new(),
        edges: HashMap::new(),
    };
    let mut subject_nodes: HashMap<(&str, bool), NodeIndex> = HashMap::new();
    let mut patterns: HashMap<NodeIndex, BTreeMap<Pattern, (f64, usize)>> = HashMap::new();
    let mut group_rates: BTreeMap<usize, f64> = BTreeMap::new();
    let mut queue_nodes: HashMap<usize, NodeIndex> = HashMap::new();
    // A connection's node by its id, per side: looked up once per subject it is on.
    let mut publisher_nodes: HashMap<u64, Option<NodeIndex>> = HashMap::new();
    let mut receiver_nodes: HashMap<u64, Option<NodeIndex>> = HashMap::new();
    let conn_node = |b: &mut Builder,
                     cache: &mut HashMap<u64, Option<NodeIndex>>,
                     cid: u64,
                     side: fn(ConnKey) -> NodeKey| {
        *cache
            .entry(cid)
            .or_insert_with(|| conn_keys.get(&cid).map(|k| b.node(side(k.clone()))))
    };
    let mut pubs: Vec<&ConnectionInfo> = Vec::new();
    for placed in &selected {
        let s = placed.0;
        let rate = s.msgs_per_sec;
        let sl = slot(placed, depth);
        let sn = match subject_nodes.get(&sl) {
            Some(&n) => n,
            None => {
                let key = match &kept_slots {
                    Some(kept) if !kept.contains(&sl) => SubjectKey::Others,
                    _ if sl.1 => SubjectKey::Branch(sl.0.to_string()),
                    _ => SubjectKey::Subject(sl.0.to_string()),
                };
                let n = b.node(NodeKey::Subject(key));
                subject_nodes.insert(sl, n);
                n
            }
        };
        b.graph[sn].msgs_per_sec += rate;
        b.graph[sn].subjects += 1;

        // Publishers, with the subject's rate split by their publish rates.
        pubs.clear();
        if publishers_known {
            pubs.extend(s.publishers.iter().filter_map(|p| live.get(p).copied()));
        }
        if !publishers_known {
            let n = b.node(NodeKey::Publisher(ConnKey::Unknown));
            b.edge(n, sn, rate, false);
        } else if pubs.is_empty() {
            if rate > 0.0 {
                let n = b.node(NodeKey::Publisher(ConnKey::Gone));
                b.edge(n, sn, rate, false);
            }
        } else {
            let total: f64 = pubs.iter().map(|c| c.rates.in_msgs_per_sec).sum();
            for c in &pubs {
                let share = if total > 0.0 {
                    c.rates.in_msgs_per_sec / total
                } else {
                    1.0 / pubs.len() as f64
                };
                let Some(n) = conn_node(&mut b, &mut publisher_nodes, c.cid, NodeKey::Publisher)
                else {
                    continue;
                };
                b.edge(n, sn, rate * share, pubs.len() > 1);
            }
        }

        // Receivers: plain subscribers, and the queue groups they receive it through.
        let mut plain = 0;
        let mut groups: Vec<usize> = Vec::new();
        for cid in &s.receivers {
            let Some(c) = live.get(cid) else { continue };
            let mut is_plain = true;
            if let Some(member_of) = groups_of.get(cid) {
                for &g in member_of {
                    let Some(group) = snap.queue_groups.get(g) else {
                        continue;
                    };
                    let pattern = group.subject.as_bytes();
                    if !groups.contains(&g) && subject::matches(pattern, s.subject.as_bytes()) {
                        groups.push(g);
                    }
                }
                is_plain = c.subscriptions.iter().any(|sub| {
                    sub.queue.is_none()
                        && subject::matches(sub.subject.as_bytes(), s.subject.as_bytes())
                });
            }
            if is_plain {
                plain += 1;
                if let Some(n) = conn_node(&mut b, &mut receiver_nodes, *cid, NodeKey::Receiver) {
                    b.edge(sn, n, rate, false);
                }
            }
        }
        for &g in &groups {
            let Some(group) = snap.queue_groups.get(g) else {
                continue;
            };
            let n = b.node(NodeKey::Queue {
                subject: group.subject.clone(),
                queue: group.queue.clone(),
            });
            queue_nodes.insert(g, n);
            b.edge(sn, n, rate, false);
            *group_rates.entry(g).or_default() += rate;
        }

        let request = services.contains(s.subject.as_str())
            || (!replied.is_empty()
                && pubs
                    .iter()
                    .any(|p| s.receivers.iter().any(|r| replied.contains(&(*r, p.cid)))));
        let pattern = classify(Counts {
            publishers: publishers_known.then_some(pubs.len()),
            receivers: receivers_known.then_some(plain),
            queue_groups: groups.len(),
            request,
            inbox: is_reply_subject(s),
        });
        let e = patterns.entry(sn).or_default().entry(pattern).or_default();
        e.0 += rate;
        e.1 += 1;
    }

    // Queue members, with the group's traffic split by their recent shares.
    for (&g, &rate) in &group_rates {
        let Some(group) = snap.queue_groups.get(g) else {
            continue;
        };
        let Some(&qn) = queue_nodes.get(&g) else {
            continue;
        };
        let counts: Vec<u64> = group
            .members
            .iter()
            .map(|m| {
                let before = earlier
                    .and_then(|e| e.get(&(m.cid, m.sid.clone())))
                    .copied()
                    .unwrap_or(0);
                m.delivered.saturating_sub(before)
            })
            .collect();
        let total: u64 = counts.iter().sum();
        for (m, count) in group.members.iter().zip(counts) {
            let share = if total > 0 {
                count as f64 / total as f64
            } else {
                1.0 / group.members.len() as f64
            };
            let Some(key) = conn_keys.get(&m.cid) else {
                continue;
            };
            let n = b.node(NodeKey::Member(key.clone()));
            b.edge(qn, n, rate * share, false);
        }
        let mut members: Vec<u64> = group.members.iter().map(|m| m.cid).collect();
        members.sort_unstable();
        members.dedup();
        let node = &mut b.graph[qn];
        node.connections = members;
        node.pattern = Some(Pattern::OneOfMany);
        node.label = group.queue.clone();
        node.msgs_per_sec = rate;
    }

    finish(&mut b.graph, &patterns, &live, &conn_keys);
    FlowGraph {
        graph: b.graph,
        subject_depth: depth,
        level: Some(level),
        subjects_shown: selected.len(),
        subjects_total: snap.subjects.len(),
        publishers_known,
        receivers_known,
    }
}

/// Labels, connection lists, node rates and patterns, once every edge is in.
fn finish(
    graph: &mut DiGraph<FlowNode, FlowEdge>,
    patterns: &HashMap<NodeIndex, BTreeMap<Pattern, (f64, usize)>>,
    live: &HashMap<u64, &ConnectionInfo>,
    conn_keys: &HashMap<u64, ConnKey>,
) {
    let mut members: HashMap<&ConnKey, Vec<&ConnectionInfo>> = HashMap::new();
    for (cid, key) in conn_keys {
        if let Some(c) = live.get(cid) {
            members.entry(key).or_default().push(c);
        }
    }
    for list in members.values_mut() {
        list.sort_by_key(|c| c.cid);
    }
    let mut name_counts: HashMap<&str, usize> = HashMap::new();
    for c in conn_keys.keys().filter_map(|cid| live.get(cid)) {
        *name_counts.entry(c.name.as_str()).or_default() += 1;
    }
    let shared_names: HashSet<&str> = name_counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    for n in graph.node_indices().collect::<Vec<_>>() {
        let key = graph[n].key.clone();
        match &key {
            NodeKey::Publisher(c) | NodeKey::Receiver(c) | NodeKey::Member(c) => {
                let conns = members.get(c).map_or(&[][..], Vec::as_slice);
                let rate: f64 = if matches!(key, NodeKey::Publisher(_)) {
                    graph
                        .edges_directed(n, petgraph::Direction::Outgoing)
                        .map(|e| e.weight().msgs_per_sec)
                        .sum()
                } else {
                    graph
                        .edges_directed(n, petgraph::Direction::Incoming)
                        .map(|e| e.weight().msgs_per_sec)
                        .sum()
                };
                let node = &mut graph[n];
                node.label = conn_label(c, conns, &shared_names);
                node.connections = conns.iter().map(|c| c.cid).collect();
                node.msgs_per_sec = rate;
            }
            NodeKey::Subject(s) => {
                let node = &mut graph[n];
                node.label = subject_label(s, node.subjects);
                if let Some(found) = patterns.get(&n) {
                    node.mixed = found.len() > 1;
                    node.pattern = found
                        .iter()
                        .max_by(|a, b| {
                            a.1 .0
                                .total_cmp(&b.1 .0)
                                .then(a.1 .1.cmp(&b.1 .1))
                                .then(b.0.cmp(a.0))
                        })
                        .map(|(p, _)| *p);
                }
            }
            NodeKey::Queue { .. } => {}
        }
    }
    // An edge takes the pattern of the subject (or queue group) it leads to or from.
    for e in graph.edge_indices().collect::<Vec<_>>() {
        let Some((a, b)) = graph.edge_endpoints(e) else {
            continue;
        };
        let pattern = match (&graph[a].key, &graph[b].key) {
            (NodeKey::Subject(_), _) => graph[a].pattern,
            (_, NodeKey::Subject(_)) => graph[b].pattern,
            _ => Some(Pattern::OneOfMany),
        };
        graph[e].pattern = pattern.unwrap_or(Pattern::Unknown);
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
