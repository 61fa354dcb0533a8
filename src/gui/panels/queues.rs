//! Queue groups: members, deliveries per member and each one's share, so an unbalanced
//! group is visible at a glance.

use egui::{RichText, Ui};

use super::Command;
use crate::gui::model::connections::display_name;
use crate::gui::model::format;
use crate::gui::model::queues::{self, GroupShares};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, OK, WARN};

pub fn ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    let groups = &state.snapshot.queue_groups;
    ui.horizontal(|ui| {
        ui.label(format!("{} queue groups", groups.len()));
        ui.label(
            RichText::new(
                "Share: a member's part of the group's deliveries since start; the line marks \
                 a fair share. Recent: deliveries in the last ~10 s.",
            )
            .weak()
            .small(),
        );
    });
    ui.separator();
    if groups.is_empty() {
        ui.label(RichText::new("No queue subscriptions.").weak());
        return;
    }
    // Only the groups in view are laid out (hundreds of groups cost a frame otherwise);
    // the others take the height they had when last drawn, remembered in egui's memory.
    let heights_id = ui.scope_id().with("queue_group_heights");
    let mut heights: Vec<f32> = ui.data(|d| d.get_temp(heights_id)).unwrap_or_default();
    heights.resize(groups.len(), GROUP_HEIGHT_GUESS);
    egui::ScrollArea::vertical()
        .id_salt("queue_groups")
        .auto_shrink([false, false])
        .show_viewport(ui, |ui, viewport| {
            let top = ui.cursor().min.y;
            for (i, g) in groups.iter().enumerate() {
                let start = ui.cursor().min.y;
                let y = start - top;
                let height = heights[i];
                if y + height < viewport.min.y || y > viewport.max.y {
                    ui.add_space(height);
                    continue;
                }
                let shares = queues::shares(g, state.queue_previous.as_ref());
                group(ui, i, &shares, commands);
                ui.add_space(8.0);
                heights[i] = ui.cursor().min.y - start;
            }
        });
    ui.data_mut(|d| d.insert_temp(heights_id, heights));
}

/// A group's height before it was first drawn (header, column titles, four members).
const GROUP_HEIGHT_GUESS: f32 = 150.0;

fn group(ui: &mut Ui, index: usize, g: &GroupShares, commands: &mut Vec<Command>) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            ui.label(RichText::new(&g.queue).strong().size(16.0));
            ui.label("on");
            if ui
                .link(RichText::new(&g.subject).monospace())
                .on_hover_text("Show its messages")
                .clicked()
            {
                commands.push(Command::ShowMessages(g.subject.clone()));
            }
            ui.label(
                RichText::new(format!(
                    "{} members, {} delivered",
                    g.members.len(),
                    format::count(g.delivered)
                ))
                .weak(),
            );
            if g.is_unbalanced() {
                widgets::badge(
                    ui,
                    &format!("unbalanced: busiest gets {:.1}x a fair share", g.imbalance),
                    WARN,
                );
            } else if g.delivered >= queues::MIN_DELIVERIES_FOR_IMBALANCE {
                widgets::badge(ui, "balanced", OK);
            }
        });
        egui::Grid::new(("queue_members", index))
            .num_columns(5)
            .striped(true)
            .spacing([14.0, 3.0])
            .show(ui, |ui| {
                for h in ["member", "sid", "delivered", "share", "recent"] {
                    ui.label(RichText::new(h).small().weak());
                }
                ui.end_row();
                let fair = g.fair_share();
                let busiest = g.members.iter().map(|m| m.delivered).max().unwrap_or(0);
                for m in &g.members {
                    if ui.link(display_name(m.cid, &m.client_name)).clicked() {
                        commands.push(Command::SelectConnection(m.cid));
                    }
                    ui.label(&m.sid);
                    ui.label(format::count(m.delivered));
                    let color = if g.is_unbalanced() && m.delivered == busiest {
                        WARN
                    } else {
                        IN
                    };
                    widgets::share_bar(
                        ui,
                        m.share,
                        fair,
                        &format!("{:.1}%", m.share * 100.0),
                        color,
                    );
                    ui.label(m.recent.map_or_else(|| "-".to_string(), format::count));
                    ui.end_row();
                }
            });
    });
}
