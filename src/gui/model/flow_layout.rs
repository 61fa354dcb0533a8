//! A layered (Sugiyama-style) layout for the flow map, over a petgraph graph whose nodes
//! already know their column.
//!
//! Why our own: egui_graphs (the egui graph widget) pins its egui version, and no release
//! works with egui 0.37; its layouts are force-directed or a plain hierarchy, which move
//! nodes every frame or ignore crossings. The flow map's columns are given by what a node
//! is (publishers, subjects, receivers, queue members: messages always flow left to right,
//! even where a connection both publishes and receives, which a longest-path layering of
//! the cyclic connection graph would hide behind reversed edges), so of Sugiyama's four
//! steps only the last two are left, and they are small:
//! - order within columns: barycenter sweeps down and up, keeping the order with the fewest
//!   crossings (counted exactly, as inversions);
//! - rows: each column placed as close as it can to the mean row of its neighbours while
//!   keeping its order and one row between nodes (isotonic regression, pool adjacent
//!   violators), a few alternating passes.
//!
//! Stable by construction: the result depends only on the nodes, their keys and edges,
//! never on rates, so the same graph gets the same places. When nodes come or go, the
//! previous order is kept and new nodes are slotted in beside their neighbours (a full
//! re-layout only when most of the graph is new, or when asked).

use std::collections::HashMap;
use std::hash::Hash;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// Barycenter sweeps (down and up) at most.
const SWEEPS: usize = 12;
/// Passes that straighten the rows (each halves what is left to straighten, about).
const ROW_PASSES: usize = 24;
/// Rows are rounded to this fraction: stray float digits would otherwise tell apart two
/// rows meant to be equal (and rounding keeps the spacing: it never swaps two rows).
const ROW_GRID: f64 = 4.0;

/// Where each node is: its column and its row (rows are node heights; nodes of a column
/// are at least one row apart).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout<K: Eq + Hash> {
    /// Keys of each column, top to bottom.
    pub columns: Vec<Vec<K>>,
    pub rows: HashMap<K, f32>,
    /// Rows from the top of the highest node to the bottom of the lowest.
    pub height: f32,
}

impl<K: Eq + Hash> Default for Layout<K> {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            rows: HashMap::new(),
            height: 0.0,
        }
    }
}

/// Lays out `graph`. `previous`, when given, is kept as far as it still applies.
pub fn layout<N, E, K>(
    graph: &DiGraph<N, E>,
    key: impl Fn(&N) -> &K,
    column: impl Fn(&N) -> usize,
    previous: Option<&Layout<K>>,
) -> Layout<K>
where
    K: Clone + Eq + Hash + Ord,
{
    let columns = graph.node_weights().map(&column).max().map_or(0, |m| m + 1);
    let mut layers: Vec<Vec<NodeIndex>> = vec![Vec::new(); columns];
    for n in graph.node_indices() {
        layers[column(&graph[n])].push(n);
    }
    for layer in &mut layers {
        layer.sort_by(|a, b| key(&graph[*a]).cmp(key(&graph[*b])));
    }
    // The previous rank of each node still in the same column.
    let mut before: HashMap<NodeIndex, usize> = HashMap::new();
    if let Some(prev) = previous {
        for (c, layer) in layers.iter().enumerate() {
            let Some(old) = prev.columns.get(c) else {
                continue;
            };
            let rank: HashMap<&K, usize> = old.iter().enumerate().map(|(i, k)| (k, i)).collect();
            for &n in layer {
                if let Some(&r) = rank.get(key(&graph[n])) {
                    before.insert(n, r);
                }
            }
        }
    }
    let incremental = !before.is_empty() && before.len() * 2 >= graph.node_count();
    if incremental {
        insert_new(graph, &mut layers, &before);
    } else {
        reduce_crossings(graph, &mut layers);
    }
    let rows = assign_rows(graph, &layers);
    let height =
        rows.iter().copied().fold(0.0f32, f32::max) + if rows.is_empty() { 0.0 } else { 1.0 };
    Layout {
        rows: graph
            .node_indices()
            .map(|n| (key(&graph[n]).clone(), rows[n.index()]))
            .collect(),
        columns: layers
            .iter()
            .map(|l| l.iter().map(|&n| key(&graph[n]).clone()).collect())
            .collect(),
        height,
    }
}

/// Keeps the previous order and puts each new node at the mean place of its neighbours
/// (as fractions of their columns), after the old nodes there; nodes without neighbours
/// go last. Columns are done left to right, so a new node sees its new left neighbours.
fn insert_new<N, E>(
    graph: &DiGraph<N, E>,
    layers: &mut [Vec<NodeIndex>],
    before: &HashMap<NodeIndex, usize>,
) {
    let mut place: HashMap<NodeIndex, f64> = HashMap::new();
    // Old nodes' places, so that right-hand neighbours count before their column is done.
    for layer in layers.iter() {
        let mut old: Vec<NodeIndex> = layer
            .iter()
            .copied()
            .filter(|n| before.contains_key(n))
            .collect();
        old.sort_by_key(|n| before.get(n).copied().unwrap_or(usize::MAX));
        for (i, n) in old.iter().enumerate() {
            place.insert(*n, (i as f64 + 0.5) / old.len() as f64);
        }
    }
    for layer in layers.iter_mut() {
        // (fraction, is new, index in the key order): old nodes keep their relative order.
        let mut ranked: Vec<(f64, bool, usize, NodeIndex)> = layer
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if before.contains_key(&n) {
                    (place.get(&n).copied().unwrap_or(f64::INFINITY), false, i, n)
                } else {
                    let near: Vec<f64> = graph
                        .neighbors_undirected(n)
                        .filter_map(|m| place.get(&m).copied())
                        .collect();
                    let at = if near.is_empty() {
                        f64::INFINITY
                    } else {
                        near.iter().sum::<f64>() / near.len() as f64
                    };
                    (at, true, i, n)
                }
            })
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        *layer = ranked.iter().map(|r| r.3).collect();
        for (i, n) in layer.iter().enumerate() {
            place.insert(*n, (i as f64 + 0.5) / layer.len() as f64);
        }
    }
}

/// Barycenter sweeps from the key order; keeps the order with the fewest crossings.
fn reduce_crossings<N, E>(graph: &DiGraph<N, E>, layers: &mut [Vec<NodeIndex>]) {
    let mut pos = vec![0usize; graph.node_count()];
    let mut column = vec![0usize; graph.node_count()];
    for (c, layer) in layers.iter().enumerate() {
        for (i, n) in layer.iter().enumerate() {
            pos[n.index()] = i;
            column[n.index()] = c;
        }
    }
    let mut best = layers.to_vec();
    let mut fewest = crossings(graph, layers, &pos);
    for _ in 0..SWEEPS {
        if fewest == 0 {
            break;
        }
        for (c, layer) in layers.iter_mut().enumerate().skip(1) {
            reorder(graph, layer, &mut pos, &column, c - 1);
        }
        for (c, layer) in layers.iter_mut().enumerate().rev().skip(1) {
            reorder(graph, layer, &mut pos, &column, c + 1);
        }
        let now = crossings(graph, layers, &pos);
        if now < fewest {
            fewest = now;
            best = layers.to_vec();
        }
    }
    layers.clone_from_slice(&best);
}

/// Orders `layer` by the mean place of each node's neighbours in column `side` (a node
/// with none keeps its place); ties keep the current order.
fn reorder<N, E>(
    graph: &DiGraph<N, E>,
    layer: &mut [NodeIndex],
    pos: &mut [usize],
    column: &[usize],
    side: usize,
) {
    let mut ranked: Vec<(f64, usize, NodeIndex)> = layer
        .iter()
        .map(|&n| {
            let (sum, count) = graph
                .neighbors_undirected(n)
                .filter(|m| column[m.index()] == side)
                .fold((0usize, 0usize), |(s, k), m| (s + pos[m.index()], k + 1));
            let at = if count == 0 {
                pos[n.index()] as f64
            } else {
                sum as f64 / count as f64
            };
            (at, pos[n.index()], n)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (i, r) in ranked.iter().enumerate() {
        layer[i] = r.2;
        pos[r.2.index()] = i;
    }
}

/// Edge crossings between neighbouring columns: the inversions of the edges' lower ends
/// once sorted by their upper ends (a Fenwick tree counts them in E log V).
pub fn crossings<N, E>(graph: &DiGraph<N, E>, layers: &[Vec<NodeIndex>], pos: &[usize]) -> usize {
    let mut column = vec![usize::MAX; graph.node_count()];
    for (c, layer) in layers.iter().enumerate() {
        for n in layer {
            column[n.index()] = c;
        }
    }
    let mut total = 0;
    for c in 0..layers.len().saturating_sub(1) {
        let mut pairs: Vec<(usize, usize)> = graph
            .edge_references()
            .filter_map(|e| {
                let (a, b) = (e.source().index(), e.target().index());
                if column[a] == c && column[b] == c + 1 {
                    Some((pos[a], pos[b]))
                } else if column[b] == c && column[a] == c + 1 {
                    Some((pos[b], pos[a]))
                } else {
                    None
                }
            })
            .collect();
        pairs.sort_unstable();
        let width = layers[c + 1].len() + 1;
        let mut tree = vec![0usize; width + 1];
        for (seen, &(_, lower)) in pairs.iter().enumerate() {
            // Edges seen so far whose lower end is strictly below this one's cross it.
            let mut at_or_above = 0;
            let mut i = lower + 1;
            while i > 0 {
                at_or_above += tree[i];
                i -= i & i.wrapping_neg();
            }
            total += seen - at_or_above;
            let mut i = lower + 1;
            while i <= width {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// Rows: every column pulled toward its neighbours' rows, order and spacing kept.
fn assign_rows<N, E>(graph: &DiGraph<N, E>, layers: &[Vec<NodeIndex>]) -> Vec<f32> {
    let mut row = vec![0.0f64; graph.node_count()];
    for layer in layers {
        for (i, n) in layer.iter().enumerate() {
            row[n.index()] = i as f64;
        }
    }
    for pass in 0..ROW_PASSES {
        let order: Vec<usize> = if pass % 2 == 0 {
            (0..layers.len()).collect()
        } else {
            (0..layers.len()).rev().collect()
        };
        for c in order {
            let wanted: Vec<f64> = layers[c]
                .iter()
                .map(|&n| {
                    let near: Vec<f64> = graph
                        .neighbors_undirected(n)
                        .map(|m| row[m.index()])
                        .collect();
                    if near.is_empty() {
                        row[n.index()]
                    } else {
                        near.iter().sum::<f64>() / near.len() as f64
                    }
                })
                .collect();
            for (n, y) in layers[c].iter().zip(spaced(&wanted, 1.0)) {
                row[n.index()] = y;
            }
        }
    }
    let top = row.iter().copied().fold(f64::INFINITY, f64::min);
    let top = if top.is_finite() { top } else { 0.0 };
    row.iter()
        .map(|y| (((y - top) * ROW_GRID).round() / ROW_GRID) as f32)
        .collect()
}

/// The rows closest (least squares) to `wanted` that keep the order and are at least
/// `gap` apart: with z_i = y_i - i*gap this is isotonic regression, solved by pooling
/// adjacent violators.
pub fn spaced(wanted: &[f64], gap: f64) -> Vec<f64> {
    // Blocks of (sum of targets, count).
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(wanted.len());
    for (i, w) in wanted.iter().enumerate() {
        blocks.push((w - i as f64 * gap, 1));
        while blocks.len() >= 2 {
            let (s2, n2) = blocks[blocks.len() - 1];
            let (s1, n1) = blocks[blocks.len() - 2];
            if s1 / n1 as f64 <= s2 / n2 as f64 {
                break;
            }
            blocks.pop();
            if let Some(last) = blocks.last_mut() {
                *last = (s1 + s2, n1 + n2);
            }
        }
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (sum, n) in blocks {
        let z = sum / n as f64;
        for _ in 0..n {
            let i = out.len();
            out.push(z + i as f64 * gap);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A graph of (key, column) nodes and edges between keys.
    fn graph(
        nodes: &[(&'static str, usize)],
        edges: &[(&str, &str)],
    ) -> DiGraph<(&'static str, usize), ()> {
        let mut g = DiGraph::new();
        let idx: HashMap<&str, NodeIndex> = nodes.iter().map(|n| (n.0, g.add_node(*n))).collect();
        for (a, b) in edges {
            g.add_edge(idx[a], idx[b], ());
        }
        g
    }

    fn lay(
        g: &DiGraph<(&'static str, usize), ()>,
        previous: Option<&Layout<&'static str>>,
    ) -> Layout<&'static str> {
        layout(g, |n| &n.0, |n| n.1, previous)
    }

    fn positions(g: &DiGraph<(&'static str, usize), ()>, l: &Layout<&'static str>) -> Vec<usize> {
        let mut pos = vec![0; g.node_count()];
        for n in g.node_indices() {
            let key = g[n].0;
            let col = &l.columns[g[n].1];
            pos[n.index()] = col.iter().position(|k| *k == key).unwrap();
        }
        pos
    }

    #[test]
    fn crossed_pairs_are_untangled() {
        // a->y and b->x cross in key order; swapping one column removes the crossing.
        let g = graph(
            &[("a", 0), ("b", 0), ("x", 1), ("y", 1)],
            &[("a", "y"), ("b", "x")],
        );
        let l = lay(&g, None);
        let layers: Vec<Vec<NodeIndex>> = l
            .columns
            .iter()
            .map(|c| {
                c.iter()
                    .map(|k| g.node_indices().find(|&n| g[n].0 == *k).unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(crossings(&g, &layers, &positions(&g, &l)), 0);
    }

    #[test]
    fn crossings_are_counted_exactly() {
        // Key order: a, b, c over x, y, z; a->z, b->y, c->x cross pairwise: 3 crossings.
        let g = graph(
            &[("a", 0), ("b", 0), ("c", 0), ("x", 1), ("y", 1), ("z", 1)],
            &[("a", "z"), ("b", "y"), ("c", "x")],
        );
        let layers: Vec<Vec<NodeIndex>> = vec![
            (0..3).map(NodeIndex::new).collect(),
            (3..6).map(NodeIndex::new).collect(),
        ];
        let pos = vec![0, 1, 2, 0, 1, 2];
        assert_eq!(crossings(&g, &layers, &pos), 3);
        // Edges that share an end never cross.
        let fan = graph(&[("a", 0), ("x", 1), ("y", 1)], &[("a", "x"), ("a", "y")]);
        let fan_layers = vec![
            vec![NodeIndex::new(0)],
            vec![NodeIndex::new(1), NodeIndex::new(2)],
        ];
        assert_eq!(crossings(&fan, &fan_layers, &[0, 0, 1]), 0);
    }

    #[test]
    fn the_same_graph_gets_the_same_places() {
        let nodes = [
            ("p1", 0),
            ("p2", 0),
            ("s1", 1),
            ("s2", 1),
            ("s3", 1),
            ("r1", 2),
            ("r2", 2),
        ];
        let edges = [
            ("p1", "s3"),
            ("p2", "s1"),
            ("p1", "s2"),
            ("s1", "r2"),
            ("s3", "r1"),
            ("s2", "r1"),
        ];
        let first = lay(&graph(&nodes, &edges), None);
        // Built again, nodes and edges added in another order: same layout.
        let mut rev_nodes = nodes;
        rev_nodes.reverse();
        let mut rev_edges = edges;
        rev_edges.reverse();
        let again = lay(&graph(&rev_nodes, &rev_edges), None);
        assert_eq!(first, again);
    }

    #[test]
    fn rows_keep_order_and_spacing() {
        let ys = spaced(&[0.0, 0.2, 0.1, 5.0], 1.0);
        for w in ys.windows(2) {
            assert!(w[1] - w[0] >= 1.0 - 1e-9, "{ys:?}");
        }
        // Already spaced targets are kept.
        assert_eq!(spaced(&[0.0, 3.0, 7.0], 1.0), vec![0.0, 3.0, 7.0]);
        // Two wanting the same row straddle it.
        assert_eq!(spaced(&[2.0, 2.0], 1.0), vec![1.5, 2.5]);
    }

    #[test]
    fn a_lone_chain_is_straight() {
        let g = graph(
            &[("p", 0), ("s", 1), ("r", 2), ("q", 1)],
            &[("p", "s"), ("s", "r")],
        );
        let l = lay(&g, None);
        assert_eq!(l.rows["p"], l.rows["s"]);
        assert_eq!(l.rows["s"], l.rows["r"]);
    }

    #[test]
    fn new_nodes_slot_in_without_reordering_the_others() {
        let nodes = [("a", 0), ("b", 0), ("c", 0), ("x", 1), ("y", 1), ("z", 1)];
        let edges = [("a", "z"), ("b", "y"), ("c", "x")];
        let first = lay(&graph(&nodes, &edges), None);
        let mut more = nodes.to_vec();
        more.push(("n", 0));
        more.push(("w", 1));
        let mut more_edges = edges.to_vec();
        more_edges.push(("n", "w"));
        more_edges.push(("n", "x"));
        let second = lay(&graph(&more, &more_edges), Some(&first));
        for (old, new) in first.columns.iter().zip(&second.columns) {
            let kept: Vec<&&str> = new.iter().filter(|k| old.contains(k)).collect();
            assert_eq!(
                kept,
                old.iter().collect::<Vec<_>>(),
                "old nodes keep their order"
            );
        }
        // n goes beside c, the other publisher to x.
        let col0 = &second.columns[0];
        let n_at = col0.iter().position(|k| *k == "n").unwrap();
        let c_at = col0.iter().position(|k| *k == "c").unwrap();
        assert_eq!(n_at.abs_diff(c_at), 1, "{second:?}");
    }

    #[test]
    fn mostly_new_graphs_are_laid_out_afresh() {
        let small = lay(&graph(&[("a", 0), ("x", 1)], &[("a", "x")]), None);
        let g = graph(
            &[("a", 0), ("b", 0), ("c", 0), ("x", 1), ("y", 1), ("z", 1)],
            &[("a", "z"), ("b", "y"), ("c", "x")],
        );
        assert_eq!(lay(&g, Some(&small)), lay(&g, None));
    }

    #[test]
    fn an_empty_graph_has_no_places() {
        let l = lay(&graph(&[], &[]), None);
        assert!(l.columns.is_empty());
        assert_eq!(l.height, 0.0);
    }
}
