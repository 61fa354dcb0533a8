//! Subjects: every published subject as a tree (tokens as levels), with rates and totals
//! per branch, and subjects published with nobody listening marked. Reply subjects fold
//! into one row per group (`crate::gui::model::replies`) unless the switch lists them.
//! Selecting a node sets the message view's filter.

use std::collections::HashSet;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::Command;
use crate::gui::client::Outgoing;
use crate::gui::model::filter::{filter_for_node, SubjectFilter};
use crate::gui::model::format;
use crate::gui::model::replies::{self, ReplyGroup};
use crate::gui::model::subject_tree::{BranchStats, Interest, SubjectNode, TreeOrder, TreeRow};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, NO_INTEREST, WARN};

#[derive(Default)]
pub struct SubjectsPanel {
    pub expanded: HashSet<String>,
    pub order: TreeOrder,
    /// Set once the first tree was seen (small trees start fully open).
    pub opened: bool,
    /// The visible rows and what they were computed from (recomputed only on change).
    cache: Option<(RowsKey, Vec<TreeRow>)>,
}

/// What the rows depend on: the tree's structure, its numbers (only when ordered by them),
/// the filter text, the order, whether reply subjects are listed and which groups fold
/// (that follows the numbers); expansion changes clear the cache.
type RowsKey = (u64, Option<u64>, String, TreeOrder, bool, u64);

/// Trees up to this many nodes start fully expanded.
const OPEN_ALL_UP_TO_NODES: usize = 200;

impl SubjectsPanel {
    /// Opens every ancestor of `path` so that it is visible, and selects it.
    pub fn reveal(&mut self, state: &mut UiState, path: &str) {
        let mut prefix = String::new();
        for token in path.split('.') {
            if !prefix.is_empty() {
                self.expanded.insert(prefix.clone());
                self.cache = None;
                prefix.push('.');
            }
            prefix.push_str(token);
        }
        state.selection.subject = Some(path.to_string());
    }

    pub fn ui(&mut self, ui: &mut Ui, state: &mut UiState, commands: &mut Vec<Command>) {
        if !self.opened && !state.tree.nodes.is_empty() {
            self.opened = true;
            if state.tree.nodes.len() <= OPEN_ALL_UP_TO_NODES {
                self.expanded
                    .extend(state.tree.branch_paths().map(str::to_string));
                self.cache = None;
            }
        }
        self.toolbar(ui, state);
        ui.separator();
        let selected = state
            .selection
            .subject
            .as_deref()
            .and_then(|p| state.tree.find(p));
        if let Some(id) = selected {
            egui::Panel::right("subject_detail")
                .resizable(true)
                .default_size(340.0)
                .min_size(280.0)
                .show(ui, |ui| detail(ui, &state.tree.nodes[id], state, commands));
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.tree(ui, state));
    }

    fn toolbar(&mut self, ui: &mut Ui, state: &mut UiState) {
        ui.horizontal(|ui| {
            widgets::filter_box(
                ui,
                "Filter",
                &mut state.filters.subjects,
                "orders.*.created, telemetry.> or text",
                240.0,
            );
            egui::ComboBox::from_label("Order")
                .selected_text(order_label(self.order))
                .show_ui(ui, |ui| {
                    for o in [TreeOrder::Name, TreeOrder::MsgRate, TreeOrder::Messages] {
                        ui.selectable_value(&mut self.order, o, order_label(o));
                    }
                });
            if ui.button("Expand all").clicked() {
                self.expanded = state.tree.branch_paths().map(str::to_string).collect();
                self.cache = None;
            }
            if ui.button("Collapse all").clicked() {
                self.expanded.clear();
                self.cache = None;
            }
            reply_switch(ui, state);
        });
        let total = &state.tree.total;
        ui.horizontal(|ui| {
            ui.label(format!(
                "{} subjects, {} total, {}",
                total.subjects,
                format::per_sec(total.msgs_per_sec),
                format::bytes_per_sec(total.bytes_per_sec)
            ));
            if total.no_interest_subjects > 0 {
                widgets::badge(
                    ui,
                    &format!("{} with no one listening", total.no_interest_subjects),
                    NO_INTEREST,
                )
                .on_hover_text(
                    "Published, but no subscription matches them: every message is lost. \
                     Only the broker can see this.",
                );
            }
        });
    }

    fn tree(&mut self, ui: &mut Ui, state: &mut UiState) {
        let key = rows_key(state, self.order);
        if self.cache.as_ref().is_none_or(|(k, _)| *k != key) {
            let filter = SubjectFilter::parse(&state.filters.subjects);
            let mut rows = state.tree.visible_rows(&self.expanded, &filter, self.order);
            if !state.filters.show_inboxes {
                rows = replies::fold_rows(&state.tree, rows);
            }
            self.cache = Some((key, rows));
        }
        let rows: &[TreeRow] = self.cache.as_ref().map_or(&[], |(_, r)| r.as_slice());
        if rows.is_empty() {
            ui.label(
                RichText::new(if state.tree.nodes.is_empty() {
                    "Nothing published yet."
                } else {
                    "No subject matches the filter."
                })
                .weak(),
            );
            return;
        }
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut toggle: Option<String> = None;
        let mut select: Option<usize> = None;
        let tree = &state.tree;
        let selected = state.selection.subject.clone();
        let fold = !state.filters.show_inboxes;
        // Labels must not take the clicks that select a row.
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("subject_tree")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(300.0).at_least(120.0).clip(true))
            .columns(Column::auto().at_least(60.0), 6)
            .column(Column::remainder().at_least(120.0))
            .auto_shrink([false, false])
            .header(22.0, |mut header| {
                for (title, tip) in [
                    (
                        "Subject",
                        "Tokens as levels; branches add up everything below them",
                    ),
                    ("msgs/s", "Messages published per second"),
                    ("bytes/s", "Bytes published per second"),
                    ("msgs", "Messages published since start"),
                    ("bytes", "Bytes published since start"),
                    ("subs", "Matching subscriptions (summed over a branch)"),
                    ("pubs", "Connections that published"),
                    ("interest", "Whether anyone listens"),
                ] {
                    header.col(|ui| {
                        ui.strong(title).on_hover_text(tip);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let r = rows[row.index()];
                    let node = &tree.nodes[r.node];
                    let b = &node.branch;
                    row.set_selected(selected.as_deref() == Some(node.path.as_str()));
                    row.col(|ui| {
                        ui.add_space(r.depth as f32 * 16.0);
                        if fold {
                            if let Some(group) = replies::group_at(tree, r.node) {
                                folded_group(ui, group, b.subjects);
                                return;
                            }
                        }
                        if node.children.is_empty() {
                            ui.add_space(22.0);
                        } else {
                            let sign = if r.expanded { "-" } else { "+" };
                            if ui
                                .small_button(sign)
                                .on_hover_text(format!("Expand or collapse {}", node.path))
                                .clicked()
                            {
                                toggle = Some(node.path.clone());
                            }
                        }
                        let mut text = RichText::new(&node.token).monospace();
                        if node.own.is_some() {
                            text = text.strong();
                        }
                        if b.interest() == Interest::NoInterest && node.is_leaf() {
                            text = text.color(NO_INTEREST);
                        }
                        ui.label(text);
                        if !node.children.is_empty() {
                            ui.label(RichText::new(format!("({})", b.subjects)).weak().small());
                        }
                    });
                    row.col(|ui| {
                        ui.label(format::per_sec(b.msgs_per_sec));
                    });
                    row.col(|ui| {
                        ui.label(format::bytes_per_sec(b.bytes_per_sec));
                    });
                    row.col(|ui| {
                        ui.label(format::count(b.msgs));
                    });
                    row.col(|ui| {
                        ui.label(format::bytes(b.bytes));
                    });
                    row.col(|ui| {
                        ui.label(b.subscribers.to_string());
                    });
                    row.col(|ui| {
                        ui.label(b.publishers.len().to_string());
                    });
                    row.col(|ui| interest_cell(ui, node));
                    if row.response().clicked() {
                        select = Some(r.node);
                    }
                });
            });
        if let Some(path) = toggle {
            if !self.expanded.remove(&path) {
                self.expanded.insert(path);
            }
            self.cache = None;
        }
        if let Some(id) = select {
            let node = &state.tree.nodes[id];
            let filter = filter_for_node(&node.path, !node.children.is_empty());
            state.selection.subject = Some(node.path.clone());
            state.messages.set_filter(&filter);
        }
    }
}

/// By name, the rows change only with the tree's structure: a snapshot that only brings
/// new numbers (the usual one) reuses them instead of walking 10,000 subjects again.
fn rows_key(state: &UiState, order: TreeOrder) -> RowsKey {
    let numbers = (order != TreeOrder::Name).then_some(state.snapshot_generation);
    (
        state.tree_generation,
        numbers,
        state.filters.subjects.clone(),
        order,
        state.filters.show_inboxes,
        state.tree.folds.signature,
    )
}

fn order_label(o: TreeOrder) -> &'static str {
    match o {
        TreeOrder::Name => "name",
        TreeOrder::MsgRate => "msgs/s",
        TreeOrder::Messages => "total msgs",
    }
}

/// The row a group of reply subjects is folded into: its pattern, whole (it reads as what
/// one would subscribe to), and how many subjects it holds.
fn folded_group(ui: &mut Ui, group: &ReplyGroup, subjects: usize) {
    ui.add_space(22.0);
    ui.label(RichText::new(&group.pattern).monospace().strong());
    ui.label(
        RichText::new(format!("({})", group.kind.count(subjects)))
            .weak()
            .small(),
    )
    .on_hover_text(format!(
        "Subjects used only as replies, folded: tick \"{SWITCH}\" to list them"
    ));
}

/// The switch's label.
const SWITCH: &str = "Show reply subjects";

/// The switch that lists reply subjects one by one (Subjects and Rates share it).
pub fn reply_switch(ui: &mut Ui, state: &mut UiState) {
    ui.checkbox(&mut state.filters.show_inboxes, SWITCH)
        .on_hover_text(
            "Reply inboxes (_INBOX.>), JetStream acknowledgements ($JS.ACK.>) and every branch \
             whose subjects the source saw used only as replies are folded into one entry \
             each; tick to list each subject",
        );
}

/// The marker that makes "published to nobody" impossible to miss.
fn interest_cell(ui: &mut Ui, node: &SubjectNode) {
    let b = &node.branch;
    if node.is_leaf() {
        match b.interest() {
            Interest::NoInterest => {
                widgets::badge(ui, "no one listening", NO_INTEREST).on_hover_text(format!(
                    "{} messages published, no subscription matches",
                    format::count(b.no_interest_msgs)
                ));
            }
            Interest::Partly => {
                widgets::badge(
                    ui,
                    &format!("{} to no one", format::count(b.no_interest_msgs)),
                    WARN,
                )
                .on_hover_text("Listeners now, but some messages were published before");
            }
            Interest::Always => {}
        }
    } else if b.no_interest_subjects > 0 {
        widgets::badge(
            ui,
            &format!("{} with no one listening", b.no_interest_subjects),
            NO_INTEREST,
        )
        .on_hover_text("Subjects below with no one listening");
    } else if b.no_interest_msgs > 0 {
        widgets::badge(
            ui,
            &format!("{} to no one", format::count(b.no_interest_msgs)),
            WARN,
        );
    }
}

fn names(state: &UiState, ids: &[u64]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = ids
        .iter()
        .take(20)
        .map(|&id| state.conn_label(id))
        .collect();
    let more = ids.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn detail(ui: &mut Ui, node: &SubjectNode, state: &UiState, commands: &mut Vec<Command>) {
    ui.heading(RichText::new(&node.path).monospace());
    let b: &BranchStats = &node.branch;
    if node.is_leaf() && b.interest() == Interest::NoInterest {
        widgets::badge(ui, "Published, and no one is listening", NO_INTEREST);
    }
    egui::Grid::new("subject_facts")
        .num_columns(2)
        .spacing([10.0, 3.0])
        .show(ui, |ui| {
            let fact = |ui: &mut Ui, k: &str, v: String| {
                ui.label(RichText::new(k).weak());
                ui.add(egui::Label::new(v).wrap());
                ui.end_row();
            };
            if !node.children.is_empty() {
                fact(ui, "Subjects", b.subjects.to_string());
            }
            fact(
                ui,
                "Rate",
                format!(
                    "{}, {}",
                    format::per_sec(b.msgs_per_sec),
                    format::bytes_per_sec(b.bytes_per_sec)
                ),
            );
            fact(
                ui,
                "Total",
                format!("{} msgs, {}", format::count(b.msgs), format::bytes(b.bytes)),
            );
            if state.snapshot.vantage.knows_routing() {
                fact(ui, "To no one", format::count(b.no_interest_msgs));
                fact(ui, "Subscriptions", b.subscribers.to_string());
                fact(ui, "Publishers", names(state, &b.publishers));
                fact(ui, "Receivers", names(state, &b.receivers));
            } else {
                // From outside: publishers and "to nobody" can't be seen; subscriptions are
                // known only from the monitoring data (none without it).
                fact(ui, "To no one", "unknown".into());
                fact(ui, "Publishers", "unknown".into());
                if state.snapshot.connections.is_empty() {
                    fact(ui, "Subscriptions", "unknown".into());
                } else {
                    fact(ui, "Subscriptions", b.subscribers.to_string());
                    fact(ui, "Would receive", names(state, &b.receivers));
                }
            }
            if let Some(own) = node.own {
                if let Some(t) = own.last_published {
                    fact(ui, "Last published", format::clock(t));
                }
            }
        });
    ui.add_space(6.0);
    let filter = filter_for_node(&node.path, !node.children.is_empty());
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Show messages")
            .on_hover_text(format!("Live messages matching {filter}"))
            .clicked()
        {
            commands.push(Command::ShowMessages(filter.clone()));
        }
        if node.own.is_some()
            && ui
                .button("Publish to it")
                .on_hover_text("Open the publish form with this subject")
                .clicked()
        {
            commands.push(Command::PrefillPublish(Outgoing {
                subject: node.path.clone(),
                reply: None,
                headers: vec![],
                payload: vec![],
            }));
        }
        if node.own.is_some()
            && ui
                .button("Plot rate")
                .on_hover_text("Add it to the Rates view")
                .clicked()
        {
            commands.push(Command::Plot(node.path.clone()));
        }
        if let Some(group) = state
            .tree
            .find(&node.path)
            .and_then(|id| replies::group_at(&state.tree, id))
        {
            if ui
                .button("Plot folded rate")
                .on_hover_text(format!(
                    "Add {} together ({}) to the Rates view",
                    group.kind.count(node.branch.subjects),
                    group.pattern
                ))
                .clicked()
            {
                commands.push(Command::Plot(group.pattern.clone()));
            }
        }
    });
    ui.label(
        RichText::new(format!("The message view's filter is now {filter}"))
            .small()
            .weak(),
    );
}
