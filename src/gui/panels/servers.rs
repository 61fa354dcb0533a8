//! Servers: every server of the deployment with its version, connections and rates, and
//! whether it answers, and the leaf-node links to other servers. For a remote deployment,
//! also the link's state and where the connection data comes from. Unknown numbers are shown as "unknown", never as 0.

use egui::{RichText, Ui};

use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, NO_INTEREST, OK, WARN};
use crate::inspect::snapshot::{LinkState, ServerSummary, Vantage};

const UNKNOWN: &str = "unknown";

/// One row of the table, as text (pure: tested without egui).
pub fn row(s: &ServerSummary) -> [String; 8] {
    [
        s.name.clone(),
        s.version.clone(),
        s.url.clone().unwrap_or_else(|| UNKNOWN.into()),
        s.connections
            .map_or_else(|| UNKNOWN.into(), |n| n.to_string()),
        s.in_msgs_per_sec
            .map_or_else(|| UNKNOWN.into(), format::per_sec),
        s.out_msgs_per_sec
            .map_or_else(|| UNKNOWN.into(), format::per_sec),
        s.uptime.map_or_else(|| UNKNOWN.into(), format::age),
        if s.reachable {
            "reachable".into()
        } else {
            "unreachable".into()
        },
    ]
}

pub fn ui(ui: &mut Ui, state: &UiState) {
    let snap = &state.snapshot;
    if let Some(link) = &snap.link {
        ui.horizontal(|ui| {
            let color = match link.state {
                LinkState::Connected => OK,
                LinkState::AuthFailed => NO_INTEREST,
                _ => WARN,
            };
            widgets::badge(ui, link.state.label(), color);
            ui.label(&link.detail);
        });
        ui.label(RichText::new(&link.inventory).weak());
        ui.separator();
    }
    if snap.vantage == Vantage::Outside {
        ui.label(
            RichText::new(
                "Seen from outside, as a client: who published a message and who received \
                 it are unknown.",
            )
            .weak()
            .small(),
        );
    }
    if !snap.leaf_links.is_empty() {
        // The hub this server joined and the leaf nodes that joined it, below the servers
        // (the same table as in Connections).
        let rows = snap.leaf_links.len().min(6) as f32;
        let height = 52.0 + 24.0 * (rows + 1.0);
        egui::Panel::bottom("servers_leaf_links")
            .resizable(true)
            .default_size(height)
            .min_size(height)
            .show(ui, |ui| {
                egui::ScrollArea::both()
                    .id_salt("servers_leaf_links_scroll")
                    .show(ui, |ui| super::leaf::table(ui, &snap.leaf_links));
            });
    }
    if snap.servers.is_empty() {
        ui.label(RichText::new("No server information yet.").weak());
        return;
    }
    egui::ScrollArea::both()
        .id_salt("servers")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("servers_grid")
                .striped(true)
                .num_columns(9)
                .show(ui, |ui| {
                    for h in [
                        "Name",
                        "Version",
                        "URL",
                        "Connections",
                        "In msgs/s",
                        "Out msgs/s",
                        "Uptime",
                        "State",
                        "ID",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for s in &snap.servers {
                        let cells = row(s);
                        let name = if s.attached {
                            format!("{} (attached)", cells[0])
                        } else {
                            cells[0].clone()
                        };
                        ui.label(RichText::new(name).strong());
                        for cell in &cells[1..7] {
                            if cell == UNKNOWN {
                                ui.label(RichText::new(cell).weak());
                            } else {
                                ui.label(cell);
                            }
                        }
                        ui.label(RichText::new(&cells[7]).color(if s.reachable {
                            OK
                        } else {
                            NO_INTEREST
                        }))
                        .on_hover_text(
                            s.last_seen
                                .map(|t| format!("last seen {}", format::clock(t)))
                                .unwrap_or_default(),
                        );
                        ui.monospace(RichText::new(&s.id).small());
                        ui.end_row();
                    }
                });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_numbers_read_unknown_not_zero() {
        let s = ServerSummary {
            name: "n1".into(),
            reachable: false,
            ..ServerSummary::default()
        };
        let r = row(&s);
        assert_eq!(r[3], "unknown");
        assert_eq!(r[4], "unknown");
        assert_eq!(r[7], "unreachable");
        let known = ServerSummary {
            connections: Some(0),
            reachable: true,
            ..s
        };
        assert_eq!(row(&known)[3], "0");
        assert_eq!(row(&known)[7], "reachable");
    }
}
