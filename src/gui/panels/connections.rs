//! Connections: a sortable, filterable table, a detail pane (subscriptions, rates, the
//! Disconnect button) and the recently closed connections with their close reasons.

use std::sync::Arc;
use std::time::SystemTime;

use egui::{RichText, Ui, Vec2};
use egui_extras::{Column, TableBuilder};

use crate::inspect::snapshot::{ClosedConnectionInfo, ConnectionInfo};

use super::Command;
use crate::gui::model::connections::{self as model, ConnColumn, ConnSort};
use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, NO_INTEREST, OUT, WARN};

/// Pending bytes above which a connection is drawn as falling behind.
const PENDING_WARNING_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub struct ConnectionsPanel {
    pub sort: ConnSort,
    /// The last kick's result, shown in the detail pane.
    pub last_kick: Option<(u64, bool)>,
    /// Table rows and what they were computed from (snapshot, filter, sort).
    cache: Option<((usize, String, ConnSort), Vec<usize>)>,
}

const COLUMNS: [(ConnColumn, &str, &str); 14] = [
    (ConnColumn::Id, "ID", "Client id"),
    (
        ConnColumn::Name,
        "Name",
        "The name the client gave in CONNECT",
    ),
    (ConnColumn::Lang, "Lang", "Client library and version"),
    (
        ConnColumn::Addr,
        "Address",
        "Remote address, and how the client came (tls, ws, wss) when not plain TCP",
    ),
    (ConnColumn::Uptime, "Uptime", "Time since connect"),
    (ConnColumn::Subs, "Subs", "Subscriptions"),
    (
        ConnColumn::MsgsIn,
        "Msgs in",
        "Messages the client published",
    ),
    (ConnColumn::RateIn, "In/s", "Messages published per second"),
    (
        ConnColumn::MsgsOut,
        "Msgs out",
        "Messages delivered to the client",
    ),
    (
        ConnColumn::RateOut,
        "Out/s",
        "Messages delivered per second",
    ),
    (ConnColumn::BytesIn, "Bytes in", "Bytes published"),
    (ConnColumn::BytesOut, "Bytes out", "Bytes delivered"),
    (
        ConnColumn::Pending,
        "Pending",
        "Bytes queued to the client, not yet written",
    ),
    (ConnColumn::Rtt, "RTT", "Round-trip time of the last PING"),
];

impl ConnectionsPanel {
    pub fn ui(&mut self, ui: &mut Ui, state: &mut UiState, commands: &mut Vec<Command>) {
        let snap = state.snapshot.clone();
        let key = (
            Arc::as_ptr(&snap) as usize,
            state.filters.connections.clone(),
            self.sort,
        );
        if self.cache.as_ref().is_none_or(|(k, _)| *k != key) {
            let rows = model::table_rows(&snap.connections, &state.filters.connections, self.sort);
            self.cache = Some((key, rows));
        }
        let rows = self.cache.as_ref().map_or(Vec::new(), |(_, r)| r.clone());
        ui.horizontal(|ui| {
            widgets::filter_box(
                ui,
                "Filter",
                &mut state.filters.connections,
                "name, id, address, language or subject",
                260.0,
            );
            ui.label(
                RichText::new(format!(
                    "{} of {} connections",
                    rows.len(),
                    snap.connections.len()
                ))
                .weak(),
            );
        });
        ui.separator();
        let selected = state
            .selection
            .connection
            .and_then(|id| snap.connections.iter().find(|c| c.cid == id));
        if let Some(conn) = selected {
            egui::Panel::right("connection_detail")
                .resizable(true)
                .default_size(360.0)
                .min_size(280.0)
                .show(ui, |ui| self.detail(ui, conn, state, commands));
        }
        egui::Panel::bottom("closed_connections")
            .resizable(true)
            .default_size(160.0)
            .show(ui, |ui| closed(ui, &snap.closed));
        if !snap.leaf_links.is_empty() {
            // Room for the caption, the header and every link (a few at most).
            let rows = snap.leaf_links.len().min(6) as f32;
            let height = 52.0 + 24.0 * (rows + 1.0);
            egui::Panel::bottom("leaf_links")
                .resizable(true)
                .default_size(height)
                .min_size(height)
                .show(ui, |ui| {
                    egui::ScrollArea::both()
                        .id_salt("leaf_links_scroll")
                        .show(ui, |ui| super::leaf::table(ui, &snap.leaf_links));
                });
        }
        egui::CentralPanel::no_frame().show(ui, |ui| {
            egui::ScrollArea::horizontal()
                .id_salt("connections_hscroll")
                .show(ui, |ui| self.table(ui, &snap.connections, &rows, state));
        });
    }

    fn table(
        &mut self,
        ui: &mut Ui,
        conns: &[ConnectionInfo],
        rows: &[usize],
        state: &mut UiState,
    ) {
        let now = SystemTime::now();
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut clicked: Option<u64> = None;
        let mut sort = self.sort;
        // Labels must not take the clicks that select a row.
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("connections_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(44.0).at_least(30.0))
            .column(Column::initial(140.0).at_least(60.0).clip(true))
            .column(Column::initial(90.0).clip(true))
            // Room for a `tls`/`ws`/`wss` badge after the address.
            .column(Column::initial(165.0).clip(true))
            .columns(Column::auto().at_least(50.0), 10)
            .auto_shrink([false, false])
            .header(22.0, |mut header| {
                for (column, title, tip) in COLUMNS {
                    header.col(|ui| {
                        let arrow = if sort.column == column {
                            if sort.descending {
                                " v"
                            } else {
                                " ^"
                            }
                        } else {
                            ""
                        };
                        let r = ui
                            .add(
                                egui::Button::new(
                                    RichText::new(format!("{title}{arrow}")).strong(),
                                )
                                .frame(false),
                            )
                            .on_hover_text(format!("{tip}. Click to sort."));
                        if r.clicked() {
                            sort = sort.clicked(column);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let c = &conns[rows[row.index()]];
                    row.set_selected(state.selection.connection == Some(c.cid));
                    row.col(|ui| {
                        ui.label(c.cid.to_string());
                    });
                    row.col(|ui| {
                        ui.label(if c.name.is_empty() {
                            "-"
                        } else {
                            c.name.as_str()
                        });
                    });
                    row.col(|ui| {
                        ui.label(model::lang_version(c));
                    });
                    row.col(|ui| {
                        ui.horizontal(|ui| {
                            ui.monospace(c.addr.to_string());
                            transport_badge(ui, c.transport);
                        });
                    });
                    row.col(|ui| {
                        ui.label(format::age(format::since(now, c.start)));
                    });
                    row.col(|ui| {
                        ui.label(c.subscriptions.len().to_string());
                    });
                    row.col(|ui| {
                        ui.label(format::count(c.totals.in_msgs));
                    });
                    row.col(|ui| {
                        ui.label(RichText::new(format::per_sec(c.rates.in_msgs_per_sec)).color(IN));
                    });
                    row.col(|ui| {
                        ui.label(format::count(c.totals.out_msgs));
                    });
                    row.col(|ui| {
                        ui.label(
                            RichText::new(format::per_sec(c.rates.out_msgs_per_sec)).color(OUT),
                        );
                    });
                    row.col(|ui| {
                        ui.label(format::bytes(c.totals.in_bytes));
                    });
                    row.col(|ui| {
                        ui.label(format::bytes(c.totals.out_bytes));
                    });
                    row.col(|ui| {
                        let text = RichText::new(format::bytes(c.pending_bytes as u64));
                        ui.label(if c.pending_bytes >= PENDING_WARNING_BYTES {
                            text.color(WARN).strong()
                        } else {
                            text
                        });
                    });
                    row.col(|ui| {
                        ui.label(c.rtt.map_or_else(|| "-".to_string(), format::latency));
                    });
                    if row.response().clicked() {
                        clicked = Some(c.cid);
                    }
                });
            });
        self.sort = sort;
        if let Some(id) = clicked {
            state.selection.connection = if state.selection.connection == Some(id) {
                None
            } else {
                Some(id)
            };
        }
    }

    fn detail(
        &mut self,
        ui: &mut Ui,
        c: &ConnectionInfo,
        state: &UiState,
        commands: &mut Vec<Command>,
    ) {
        ui.horizontal(|ui| {
            ui.heading(model::display_name(c.cid, &c.name));
        });
        ui.horizontal(|ui| {
            let disconnect = egui::Button::new(RichText::new("Disconnect").color(NO_INTEREST));
            if ui
                .add(disconnect)
                .on_hover_text("Close this client's connection (reason: Kicked)")
                .clicked()
            {
                commands.push(Command::Kick(c.cid));
            }
            if let Some((id, ok)) = self.last_kick {
                if id == c.cid && !ok {
                    ui.label(RichText::new("not connected any more").color(WARN));
                }
            }
        });
        egui::Grid::new("connection_facts")
            .num_columns(2)
            .spacing([10.0, 3.0])
            .show(ui, |ui| {
                let now = SystemTime::now();
                let fact = |ui: &mut Ui, k: &str, v: String| {
                    ui.label(RichText::new(k).weak());
                    ui.label(v);
                    ui.end_row();
                };
                fact(ui, "Address", c.addr.to_string());
                fact(ui, "Transport", transport_text(c.transport).to_string());
                fact(ui, "Client", model::lang_version(c));
                fact(ui, "Uptime", format::age(format::since(now, c.start)));
                fact(ui, "RTT", c.rtt.map_or_else(|| "-".into(), format::latency));
                fact(ui, "Pending", format::bytes(c.pending_bytes as u64));
                fact(
                    ui,
                    "In",
                    format!(
                        "{} msgs, {} ({})",
                        format::count(c.totals.in_msgs),
                        format::bytes(c.totals.in_bytes),
                        format::per_sec(c.rates.in_msgs_per_sec)
                    ),
                );
                fact(
                    ui,
                    "Out",
                    format!(
                        "{} msgs, {} ({})",
                        format::count(c.totals.out_msgs),
                        format::bytes(c.totals.out_bytes),
                        format::per_sec(c.rates.out_msgs_per_sec)
                    ),
                );
            });
        if let Some(history) = state.connection_rates.get(&c.cid) {
            let ins: Vec<f64> = history.iter().map(|p| p.1).collect();
            let outs: Vec<f64> = history.iter().map(|p| p.2).collect();
            ui.add_space(4.0);
            ui.label(RichText::new("msgs/s, last minute").small().weak());
            let size = Vec2::new((ui.available_width() - 40.0).clamp(80.0, 300.0), 28.0);
            for (caption, data, color) in [("in", &ins, IN), ("out", &outs, OUT)] {
                ui.horizontal(|ui| {
                    ui.add_sized(
                        [28.0, 20.0],
                        egui::Label::new(RichText::new(caption).color(color)),
                    );
                    widgets::sparkline(ui, data, size, color);
                });
            }
        }
        ui.add_space(6.0);
        ui.strong(format!("Subscriptions ({})", c.subscriptions.len()));
        egui::ScrollArea::vertical()
            .id_salt("connection_subs")
            .auto_shrink([false, true])
            .show(ui, |ui| {
                egui::Grid::new("connection_subs_grid")
                    .num_columns(4)
                    .striped(true)
                    .spacing([10.0, 2.0])
                    .show(ui, |ui| {
                        for h in ["subject", "queue", "sid", "delivered"] {
                            ui.label(RichText::new(h).small().weak());
                        }
                        ui.end_row();
                        for s in &c.subscriptions {
                            if ui
                                .link(RichText::new(&s.subject).monospace())
                                .on_hover_text("Show its messages")
                                .clicked()
                            {
                                commands.push(Command::ShowMessages(s.subject.clone()));
                            }
                            ui.label(s.queue.as_deref().unwrap_or("-"));
                            ui.label(&s.sid);
                            ui.label(format::count(s.delivered));
                            ui.end_row();
                        }
                    });
            });
    }
}

fn closed(ui: &mut Ui, closed: &[ClosedConnectionInfo]) {
    ui.strong(format!("Recently closed ({})", closed.len()));
    if closed.is_empty() {
        ui.label(RichText::new("None yet.").weak());
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let newest_first: Vec<&ClosedConnectionInfo> = closed.iter().rev().collect();
    egui::ScrollArea::vertical()
        .id_salt("closed_scroll")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, newest_first.len(), |ui, range| {
            for c in &newest_first[range] {
                ui.horizontal(|ui| {
                    ui.monospace(RichText::new(format::clock(c.stop)).weak());
                    ui.label(model::display_name(c.cid, &c.name));
                    ui.monospace(c.addr.to_string());
                    let color = reason_color(&c.reason);
                    ui.label(RichText::new(&c.reason).color(color).strong());
                    ui.label(
                        RichText::new(format!(
                            "after {}, {} in / {} out",
                            format::age(c.stop.duration_since(c.start).unwrap_or_default()),
                            format::count(c.totals.in_msgs),
                            format::count(c.totals.out_msgs)
                        ))
                        .weak(),
                    );
                });
            }
        });
}

/// Close reasons that point at a problem stand out.
fn reason_color(reason: &str) -> egui::Color32 {
    let r = reason.to_lowercase();
    if r.contains("slow consumer") || r.contains("stale") {
        WARN
    } else if r.contains("auth")
        || r.contains("permission")
        || r.contains("error")
        || r.contains("kick")
    {
        NO_INTEREST
    } else {
        egui::Color32::GRAY
    }
}

/// What a connection's transport is, in words.
fn transport_text(transport: &str) -> &'static str {
    match transport {
        "tcp" => "TCP",
        "tls" => "TLS",
        "ws" => "WebSocket (ws://)",
        "wss" => "WebSocket over TLS (wss://)",
        _ => "unknown",
    }
}

/// A small badge after the address for anything but plain TCP (TLS, WebSocket), so a
/// browser client stands out in the list.
fn transport_badge(ui: &mut Ui, transport: &str) {
    if matches!(transport, "tls" | "ws" | "wss") {
        ui.label(RichText::new(transport).small().weak())
            .on_hover_text(transport_text(transport));
    }
}
