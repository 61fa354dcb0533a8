//! Flow map: the live graph of publishers, subjects, receivers and queue groups, left to
//! right, edge width by message rate, each subject's pattern by colour and tag (a legend
//! says which). Clicking a node opens it in Connections, Subjects or Queue groups.
//!
//! The graph is rebuilt from each new snapshot (`model::flow`), laid out only when its
//! nodes or edges change (`model::flow_layout`), and drawn with one painter call per node
//! and edge: a few hundred shapes at most, whatever the deployment's size.

use egui::epaint::CubicBezierShape;
use egui::{Color32, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, Vec2};

use super::Command;
use crate::gui::model::flow::{
    self, ConnGrouping, ConnKey, FlowGraph, FlowNode, FlowOptions, NodeKey, Pattern, SubjectDepth,
    SubjectKey,
};
use crate::gui::model::flow_layout::{self, Layout};
use crate::gui::model::format;
use crate::gui::prepare;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, NO_INTEREST, OK, OUT, WARN};

/// Node widths by column: subjects are the longest names.
const NODE_WIDTHS: [f32; 4] = [170.0, 240.0, 190.0, 170.0];
const NODE_HEIGHT: f32 = 22.0;
/// A row of the layout, in points (a node and the space under it).
const ROW: f32 = 30.0;
/// Room for the edges between two columns.
const GAP: f32 = 80.0;
/// Room for the column titles above the nodes.
const TOP: f32 = 26.0;
/// Widest edge, in points (the busiest flows are told apart by their tooltips).
const MAX_EDGE_WIDTH: f32 = 10.0;

const COLUMN_TITLES: [&str; 4] = [
    "Publishers",
    "Subjects",
    "Receivers and queue groups",
    "Queue members",
];

/// Deepest cut offered in the subject-depth picker (deeper is "whole subjects").
const MAX_PICKED_DEPTH: usize = 6;

/// A pattern's colour (lines, node borders, tags).
pub fn color(p: Pattern) -> Color32 {
    match p {
        Pattern::OneToOne => Color32::from_rgb(0x9a, 0x6a, 0x2a),
        Pattern::OneToMany => IN,
        Pattern::ManyToMany => OUT,
        Pattern::OneOfMany => OK,
        Pattern::RequestReply | Pattern::Replies => Color32::from_rgb(0x0e, 0x86, 0x86),
        Pattern::NoReceivers => NO_INTEREST,
        Pattern::Unknown => Color32::from_rgb(0x80, 0x80, 0x80),
    }
}

/// The edge width of a rate: logarithmic, so that 10 and 10,000 msgs/s both show.
pub fn edge_width(msgs_per_sec: f64) -> f32 {
    (1.0 + 1.4 * (1.0 + msgs_per_sec.max(0.0)).log10() as f32).min(MAX_EDGE_WIDTH)
}

/// The graph of one snapshot, with its layout.
struct Built {
    generation: u64,
    options: FlowOptions,
    graph: FlowGraph,
    structure: u64,
    layout: Layout<NodeKey>,
}

#[path = "flow_worker.rs"]
mod worker;

#[derive(Default)]
pub struct FlowPanel {
    pub options: FlowOptions,
    built: Option<Built>,
    /// Builds the maps of large snapshots (started with the first one).
    worker: Option<worker::Worker>,
    /// The next layout starts afresh (the Re-arrange button).
    rearrange: bool,
    /// The node under the pointer last frame (its edges are drawn on top, the rest faded).
    hovered: Option<NodeKey>,
}

impl FlowPanel {
    pub fn ui(&mut self, ui: &mut Ui, state: &mut UiState, commands: &mut Vec<Command>) {
        self.toolbar(ui);
        self.refresh(ui.ctx(), state);
        let Some(built) = &self.built else {
            ui.label(RichText::new("Drawing the map...").weak());
            return;
        };
        summary(ui, &built.graph);
        legend(ui, &built.graph);
        ui.separator();
        if state.snapshot.subjects.is_empty() {
            ui.label(RichText::new("Nothing published yet.").weak());
            return;
        }
        if built.graph.graph.node_count() == 0 {
            ui.label(RichText::new("No subject matches the filter.").weak());
            return;
        }
        let mut open: Option<NodeKey> = None;
        let mut hovered: Option<NodeKey> = None;
        egui::ScrollArea::both()
            .id_salt("flow_map")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                (open, hovered) = canvas(ui, built, self.hovered.as_ref());
            });
        self.hovered = hovered;
        if let Some(key) = open {
            if let Some(node) = built.graph.find(&key).map(|n| &built.graph.graph[n]) {
                open_node(node, state, commands);
            }
        }
    }

    /// Rebuilds the graph for a new snapshot or new options (on the worker when the
    /// snapshot is large); lays it out again only when its structure changed.
    fn refresh(&mut self, ctx: &egui::Context, state: &UiState) {
        if std::mem::take(&mut self.rearrange) {
            if let Some(b) = &mut self.built {
                b.layout =
                    flow_layout::layout(&b.graph.graph, |n| &n.key, |n| n.key.column(), None);
            }
        }
        let generation = state.snapshot_generation;
        let current = self
            .built
            .as_ref()
            .is_some_and(|b| b.generation == generation && b.options == self.options);
        if current {
            return;
        }
        if prepare::is_large(&state.snapshot) {
            if self.worker.is_none() {
                let ctx = ctx.clone();
                self.worker = worker::Worker::spawn(move || ctx.request_repaint());
            }
            // Outer None: no worker (built in the frame); inner: whether a map came back.
            let polled = self
                .worker
                .as_mut()
                .filter(|w| !w.stopped())
                .map(worker::Worker::poll);
            if let Some(done) = polled {
                if let Some(d) = done {
                    self.take(d.generation, d.options, d.graph, d.structure);
                }
                let options = &self.options;
                let current = self
                    .built
                    .as_ref()
                    .is_some_and(|b| b.generation == generation && b.options == *options);
                if let Some(w) = self.worker.as_mut().filter(|_| !current) {
                    w.want(generation, options, || worker::Job {
                        generation,
                        options: options.clone(),
                        snapshot: state.snapshot.clone(),
                        earlier: state.queue_previous.clone(),
                    });
                }
                return;
            }
        }
        let graph = flow::build(
            &state.snapshot,
            &self.options,
            state.queue_previous.as_ref(),
        );
        let structure = graph.structure();
        self.take(generation, self.options.clone(), graph, structure);
    }

    /// Takes a built map: the layout is kept while the structure is the same, and is the
    /// starting point of the next one when it is not.
    fn take(&mut self, generation: u64, options: FlowOptions, graph: FlowGraph, structure: u64) {
        let layout = match self.built.take() {
            Some(p) if p.structure == structure => p.layout,
            p => flow_layout::layout(
                &graph.graph,
                |n| &n.key,
                |n| n.key.column(),
                p.as_ref().map(|p| &p.layout),
            ),
        };
        self.built = Some(Built {
            generation,
            options,
            graph,
            structure,
            layout,
        });
    }

    fn toolbar(&mut self, ui: &mut Ui) {
        let o = &mut self.options;
        ui.horizontal_wrapped(|ui| {
            widgets::filter_box(
                ui,
                "Filter",
                &mut o.filter,
                "subject pattern or text",
                180.0,
            );
            ui.separator();
            let depth_text = |d: SubjectDepth| match d {
                SubjectDepth::Auto => "auto".to_string(),
                SubjectDepth::Tokens(1) => "first token".to_string(),
                SubjectDepth::Tokens(n) => format!("first {n} tokens"),
                SubjectDepth::Full => "whole subjects".to_string(),
            };
            // The label before the box (from_label puts it after, where it reads as the
            // next box's).
            let label = ui.label("Subject depth");
            egui::ComboBox::from_id_salt("flow_subject_depth")
                .selected_text(depth_text(o.depth))
                .show_ui(ui, |ui| {
                    let choices = std::iter::once(SubjectDepth::Auto)
                        .chain((1..=MAX_PICKED_DEPTH).map(SubjectDepth::Tokens))
                        .chain(std::iter::once(SubjectDepth::Full));
                    for d in choices {
                        ui.selectable_value(&mut o.depth, d, depth_text(d));
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(
                    "Subjects are cut after this many tokens (a branch stands for what is \
                     below it); auto cuts as deep as fits the column",
                );
            let grouping_text = |g: ConnGrouping| match g {
                ConnGrouping::Auto => "auto",
                ConnGrouping::Each => "each connection",
                ConnGrouping::Name => "by name",
                ConnGrouping::Stem => "by name stem",
            };
            let label = ui.label("Group connections");
            egui::ComboBox::from_id_salt("flow_grouping")
                .selected_text(grouping_text(o.grouping))
                .show_ui(ui, |ui| {
                    for g in [
                        ConnGrouping::Auto,
                        ConnGrouping::Each,
                        ConnGrouping::Name,
                        ConnGrouping::Stem,
                    ] {
                        ui.selectable_value(&mut o.grouping, g, grouping_text(g));
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(
                    "One node per connection, per name (a service's instances share one), or \
                     per name without its instance number (client-1, client-2: client*)",
                );
            ui.checkbox(&mut o.collapse_replies, "Collapse reply subjects")
                .on_hover_text(
                    "Reply subjects as one node per group, as in Subjects: _INBOX.>, \
                     $JS.ACK.> and branches used only as replies",
                );
            if ui
                .button("Re-arrange")
                .on_hover_text(
                    "Lay the map out afresh. Otherwise nodes keep their places and new ones \
                     are slotted in beside their neighbours.",
                )
                .clicked()
            {
                self.rearrange = true;
            }
        });
    }
}

fn summary(ui: &mut Ui, g: &FlowGraph) {
    ui.horizontal_wrapped(|ui| {
        let cut = match g.subject_depth {
            None => "shown whole".to_string(),
            Some(1) => "cut after the first token".to_string(),
            Some(n) => format!("cut after {n} tokens"),
        };
        let shown = if g.subjects_shown == g.subjects_total {
            format!("{} subjects", g.subjects_shown)
        } else {
            format!("{} of {} subjects", g.subjects_shown, g.subjects_total)
        };
        ui.label(
            RichText::new(format!(
                "{shown} {cut}; {}",
                g.level.map_or("-", |l| l.label())
            ))
            .weak(),
        );
        if !g.publishers_known {
            widgets::badge(ui, "publishers unknown", WARN).on_hover_text(
                "Seen from outside the deployment: who publishes is not known, so one \
                 'publishers unknown' node stands for them.",
            );
        }
        if !g.receivers_known {
            widgets::badge(ui, "receivers unknown", WARN).on_hover_text(
                "The deployment's connections and subscriptions cannot be read: add its \
                 system account or a monitoring URL to the profile (Deployments).",
            );
        }
    });
}

/// What the colours, tags, dashes and widths mean.
fn legend(ui: &mut Ui, g: &FlowGraph) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Legend:").strong());
        for p in Pattern::ALL {
            if p == Pattern::Unknown && g.publishers_known && g.receivers_known {
                continue;
            }
            let (rect, _) = ui.allocate_exact_size(Vec2::new(46.0, 16.0), Sense::hover());
            let y = rect.center().y;
            let line = [Pos2::new(rect.left(), y), Pos2::new(rect.left() + 12.0, y)];
            let stroke = Stroke::new(2.5, color(p));
            if p == Pattern::Replies {
                ui.painter()
                    .extend(Shape::dashed_line(&line, stroke, 4.0, 2.0));
            } else {
                ui.painter().line_segment(line, stroke);
            }
            let tag = Rect::from_min_max(Pos2::new(rect.left() + 14.0, rect.top()), rect.max);
            tag_pill(ui.painter(), tag, p);
            ui.label(p.label()).on_hover_text(p.description());
            ui.add_space(6.0);
        }
        ui.separator();
        ui.label(
            RichText::new(
                "left to right: who publishes, to what, who receives; line width: msgs/s",
            )
            .weak(),
        )
        .on_hover_text(
            "Edge widths grow with the logarithm of the rate. A connection that both \
                 publishes and receives appears on both sides.",
        );
    });
}

/// A pattern's tag in a small rounded box.
fn tag_pill(painter: &egui::Painter, rect: Rect, p: Pattern) {
    painter.rect(
        rect,
        4.0,
        color(p).gamma_multiply(0.18),
        Stroke::new(1.0, color(p)),
        egui::StrokeKind::Inside,
    );
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        p.tag(),
        egui::FontId::proportional(10.5),
        color(p),
    );
}

/// Left edge and width of each column that has nodes (empty ones take no room).
fn columns(layout: &Layout<NodeKey>) -> Vec<Option<(f32, f32)>> {
    let mut x = 0.0;
    layout
        .columns
        .iter()
        .zip(NODE_WIDTHS)
        .map(|(c, width)| {
            if c.is_empty() {
                None
            } else {
                let left = x;
                x += width + GAP;
                Some((left, width))
            }
        })
        .collect()
}

/// Draws the map; returns the node clicked and the node hovered.
fn canvas(
    ui: &mut Ui,
    built: &Built,
    hovered_before: Option<&NodeKey>,
) -> (Option<NodeKey>, Option<NodeKey>) {
    let layout = &built.layout;
    let graph = &built.graph.graph;
    let columns = columns(layout);
    let width = columns
        .iter()
        .flatten()
        .fold(0.0f32, |m, (left, width)| m.max(left + width))
        + 8.0;
    let height = TOP + layout.height * ROW + 8.0;
    let (area, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let origin = area.min;
    let rect_of = |key: &NodeKey| -> Option<Rect> {
        let row = *layout.rows.get(key)?;
        let (left, width) = (*columns.get(key.column())?)?;
        Some(Rect::from_min_size(
            origin + Vec2::new(left, TOP + row * ROW),
            Vec2::new(width, NODE_HEIGHT),
        ))
    };
    for (c, title) in COLUMN_TITLES.iter().enumerate() {
        if let Some(Some((left, width))) = columns.get(c) {
            let r = Rect::from_min_size(origin + Vec2::new(*left, 0.0), Vec2::new(*width, 18.0));
            ui.put(r, egui::Label::new(RichText::new(*title).strong()));
        }
    }
    // Edges go under the nodes: their slot is taken now and filled once the hovered node
    // is known.
    let edges_slot = ui.painter().add(Shape::Noop);
    let mut rects: Vec<Option<Rect>> = vec![None; graph.node_count()];
    for n in graph.node_indices() {
        rects[n.index()] = rect_of(&graph[n].key);
    }
    let mut clicked = None;
    let mut hovered = None;
    let clip = ui.clip_rect();
    for n in graph.node_indices() {
        let Some(rect) = rects[n.index()] else {
            continue;
        };
        let node = &graph[n];
        let id = ui.scope_id().with(("flow_node", &node.key));
        let response = ui.interact(rect, id, Sense::click());
        let name = accessible_name(node);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        if clip.intersects(rect) {
            draw_node(ui, rect, node, response.hovered());
        }
        if response.hovered() {
            hovered = Some(node.key.clone());
        }
        let response = response.on_hover_ui(|ui| tooltip(ui, node));
        if response.clicked() {
            clicked = Some(node.key.clone());
        }
    }
    let focus = hovered_before.and_then(|k| built.graph.find(k));
    let mut shapes = Vec::with_capacity(graph.edge_count());
    for e in graph.edge_indices() {
        let (Some((a, b)), w) = (graph.edge_endpoints(e), &graph[e]) else {
            continue;
        };
        let (Some(from), Some(to)) = (rects[a.index()], rects[b.index()]) else {
            continue;
        };
        let lit = focus.is_none_or(|f| f == a || f == b);
        let alpha = match (lit, focus.is_some()) {
            (true, true) => 0.95,
            (true, false) => 0.6,
            (false, _) => 0.12,
        };
        let start = Pos2::new(from.right(), from.center().y);
        let end = Pos2::new(to.left(), to.center().y);
        let bend = (end.x - start.x) * 0.45;
        let points = [
            start,
            start + Vec2::new(bend, 0.0),
            end - Vec2::new(bend, 0.0),
            end,
        ];
        let stroke = Stroke::new(
            edge_width(w.msgs_per_sec),
            color(w.pattern).gamma_multiply(alpha),
        );
        if w.pattern == Pattern::Replies {
            let curve =
                CubicBezierShape::from_points_stroke(points, false, Color32::TRANSPARENT, stroke);
            shapes.extend(Shape::dashed_line(
                &curve.flatten(Some(0.5)),
                stroke,
                7.0,
                4.0,
            ));
        } else {
            shapes.push(
                CubicBezierShape::from_points_stroke(points, false, Color32::TRANSPARENT, stroke)
                    .into(),
            );
        }
    }
    ui.painter().set(edges_slot, Shape::Vec(shapes));
    (clicked, hovered)
}

/// What a screen reader (and a test) calls a node: its label and what it is.
pub fn accessible_name(node: &FlowNode) -> String {
    let what = match &node.key {
        NodeKey::Publisher(_) => "publisher",
        NodeKey::Subject(_) => "subject",
        NodeKey::Receiver(_) => "receiver",
        NodeKey::Queue { .. } => "queue group",
        NodeKey::Member(_) => "queue member",
    };
    format!("{}, {what}", node.label)
}

fn draw_node(ui: &Ui, rect: Rect, node: &FlowNode, hovered: bool) {
    let visuals = ui.visuals();
    let painter = ui.painter();
    let (fill, stroke) = match node.pattern {
        Some(p) => (color(p).gamma_multiply(0.16), Stroke::new(1.5, color(p))),
        None => (
            visuals.widgets.inactive.weak_bg_fill,
            visuals.widgets.inactive.bg_stroke,
        ),
    };
    let stroke = if hovered {
        Stroke::new(stroke.width + 1.0, visuals.strong_text_color())
    } else {
        stroke
    };
    painter.rect(rect, 5.0, fill, stroke, egui::StrokeKind::Inside);
    let mut text_right = rect.right() - 6.0;
    if let Some(p) = node.pattern {
        let tag = Rect::from_min_size(
            Pos2::new(rect.right() - 44.0, rect.top() + 3.0),
            Vec2::new(40.0, rect.height() - 6.0),
        );
        tag_pill(painter, tag, p);
        text_right = tag.left() - 4.0;
    }
    let weak = matches!(
        node.key.conn(),
        Some(ConnKey::Others | ConnKey::Gone | ConnKey::Unknown)
    ) || node.key == NodeKey::Subject(SubjectKey::Others);
    let text_color = if weak {
        visuals.weak_text_color()
    } else {
        visuals.text_color()
    };
    let font = if matches!(node.key, NodeKey::Subject(_)) {
        egui::FontId::monospace(12.0)
    } else {
        egui::FontId::proportional(13.0)
    };
    let mut job = egui::text::LayoutJob::simple_singleline(node.label.clone(), font, text_color);
    job.wrap = egui::text::TextWrapping::truncate_at_width(text_right - rect.left() - 8.0);
    let galley = painter.layout_job(job);
    let at = Pos2::new(rect.left() + 7.0, rect.center().y - galley.size().y / 2.0);
    painter.galley(at, galley, text_color);
}

fn tooltip(ui: &mut Ui, node: &FlowNode) {
    ui.strong(&node.label);
    let rate = format::per_sec(node.msgs_per_sec);
    match &node.key {
        NodeKey::Publisher(c) => {
            ui.label(format!("publishes {rate}"));
            conn_lines(ui, c, node);
            ui.label(
                RichText::new(
                    "A subject's rate is split between its publishers by their publish \
                     rates (an estimate when there are several).",
                )
                .weak()
                .small(),
            );
        }
        NodeKey::Receiver(c) => {
            ui.label(format!("receives {rate}"));
            conn_lines(ui, c, node);
        }
        NodeKey::Member(c) => {
            ui.label(format!("receives {rate} through its queue groups"));
            conn_lines(ui, c, node);
        }
        NodeKey::Queue { subject, queue } => {
            ui.label(format!(
                "queue group {queue} on {subject}: {} members share {rate}",
                node.connections.len()
            ));
            ui.label(RichText::new("Click to open Queue groups").weak());
        }
        NodeKey::Subject(_) => {
            ui.label(if node.subjects > 1 {
                format!("{rate} published to {} subjects", node.subjects)
            } else {
                format!("{rate} published")
            });
            if let Some(p) = node.pattern {
                ui.label(
                    RichText::new(format!("{}: {}", p.label(), p.description())).color(color(p)),
                );
            }
            if node.mixed {
                ui.label("Its subjects do not all share this pattern (the busiest shown).");
            }
            ui.label(RichText::new("Click to open it in Subjects").weak());
        }
    }
}

fn conn_lines(ui: &mut Ui, c: &ConnKey, node: &FlowNode) {
    match c {
        ConnKey::Gone => {
            ui.label(
                "Published by connections that have closed since, or by the broker's own services.",
            );
        }
        ConnKey::Unknown => {
            ui.label("Seen from outside the deployment: who published is not known.");
        }
        _ => {
            if node.connections.len() > 1 {
                ui.label(format!("{} connections", node.connections.len()));
            }
            ui.label(RichText::new("Click to open it in Connections").weak());
        }
    }
}

/// Opens a node where it is told about in full.
fn open_node(node: &FlowNode, state: &mut UiState, commands: &mut Vec<Command>) {
    match &node.key {
        NodeKey::Publisher(c) | NodeKey::Receiver(c) | NodeKey::Member(c) => match c {
            ConnKey::One(cid) => commands.push(Command::SelectConnection(*cid)),
            ConnKey::Name(name) | ConnKey::Stem(name) => {
                // The table shows the group; with a single connection, its details too.
                state.filters.connections = name.clone();
                match node.connections[..] {
                    [cid] => commands.push(Command::SelectConnection(cid)),
                    _ => commands.push(Command::Show(super::View::Connections)),
                }
            }
            ConnKey::Others | ConnKey::Gone | ConnKey::Unknown => {
                commands.push(Command::Show(super::View::Connections));
            }
        },
        NodeKey::Subject(SubjectKey::Subject(s) | SubjectKey::Branch(s)) => {
            commands.push(Command::SelectSubject(s.clone()));
        }
        NodeKey::Subject(SubjectKey::Others) => commands.push(Command::Show(super::View::Subjects)),
        NodeKey::Queue { .. } => commands.push(Command::Show(super::View::QueueGroups)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_widen_with_the_rate_up_to_a_cap() {
        assert_eq!(edge_width(0.0), 1.0);
        assert!(edge_width(10.0) < edge_width(1000.0));
        assert_eq!(edge_width(1e12), MAX_EDGE_WIDTH);
        assert_eq!(edge_width(-5.0), 1.0, "a counter that went back draws thin");
    }

    #[test]
    fn patterns_have_their_own_colours() {
        let mut seen = std::collections::HashSet::new();
        for p in Pattern::ALL {
            // Replies share request/reply's colour; their dashes tell them apart.
            if p != Pattern::Replies {
                assert!(seen.insert(color(p)), "{p:?} shares a colour");
            }
        }
    }
}
