//! Latency: request/reply timing per service subject, measured inside the broker.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::Command;
use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{NO_INTEREST, WARN};

pub fn ui(ui: &mut Ui, state: &UiState, tracking: bool, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let mut on = tracking;
        if ui
            .checkbox(&mut on, "Track request/reply latency")
            .on_hover_text(
                "Pairs each request with its reply inside the broker (sampled at high rates)",
            )
            .changed()
        {
            commands.push(Command::SetLatencyTracking(on));
        }
        ui.label(
            RichText::new(
                "Measured from the request's publish to the reply's publish, in the broker.",
            )
            .weak()
            .small(),
        );
    });
    ui.separator();
    let services = &state.snapshot.latency;
    if services.is_empty() {
        ui.label(
            RichText::new(if tracking {
                "No requests seen yet."
            } else {
                "Tracking is off."
            })
            .weak(),
        );
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    TableBuilder::new(ui)
        .id_salt("latency_table")
        .striped(true)
        .resizable(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(260.0).at_least(120.0).clip(true))
        .columns(Column::auto().at_least(64.0), 9)
        .auto_shrink([false, false])
        .header(22.0, |mut header| {
            for (title, tip) in [
                ("Service subject", "The subject requests were sent to"),
                ("requests", "Requests seen (tracked ones, when sampling)"),
                ("replies", "Replies paired with a request"),
                (
                    "timeouts",
                    "Requests whose reply never came in the tracking window",
                ),
                ("p50", "Median latency"),
                ("p90", "90th percentile"),
                ("p99", "99th percentile"),
                ("max", "Slowest reply"),
                ("reply rate", "Replies over requests"),
                ("sampled", "Which requests are tracked"),
            ] {
                header.col(|ui| {
                    ui.strong(title).on_hover_text(tip);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, services.len(), |mut row| {
                let s = &services[row.index()];
                row.col(|ui| {
                    ui.monospace(&s.subject);
                });
                row.col(|ui| {
                    ui.label(format::count(s.requests));
                });
                row.col(|ui| {
                    ui.label(format::count(s.replies));
                });
                row.col(|ui| {
                    let t = RichText::new(format::count(s.timeouts));
                    ui.label(if s.timeouts > 0 {
                        t.color(NO_INTEREST).strong()
                    } else {
                        t
                    });
                });
                for d in [s.p50, s.p90, s.p99] {
                    row.col(|ui| {
                        ui.label(format::latency(d));
                    });
                }
                row.col(|ui| {
                    ui.label(RichText::new(format::latency(s.max)).color(WARN));
                });
                row.col(|ui| {
                    let pct = if s.requests == 0 {
                        0.0
                    } else {
                        s.replies as f64 * 100.0 / s.requests as f64
                    };
                    ui.label(format!("{pct:.1}%"));
                });
                row.col(|ui| {
                    ui.label(if s.sample_every <= 1 {
                        "all".to_string()
                    } else {
                        format!("1 in {}", s.sample_every)
                    });
                });
            });
        });
}
