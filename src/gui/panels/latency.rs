//! Latency: request/reply timing per service subject. Graphs of p50/p90/p99 over the last
//! minutes for the services picked (the busiest by default), timeouts marked on them, the
//! histogram of the window, and the table of every service as the source reports it.

use std::collections::BTreeSet;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::latency_plots::{self, service_color};
use super::Command;
use crate::gui::model::format;
use crate::gui::model::latency::{self, LatencyPlot, Percentile, Window, DEFAULT_SHOWN};
use crate::gui::state::UiState;
use crate::gui::widgets::{NO_INTEREST, WARN};
use crate::inspect::snapshot::{ReportedLatency, ServiceLatency, Vantage};

#[derive(Default)]
pub struct LatencyPanel {
    pub window: Window,
    /// The services the user picked; `None` plots the busiest few.
    pub chosen: Option<BTreeSet<String>>,
    /// Percentiles left out of the plot.
    pub hidden: BTreeSet<Percentile>,
    /// Plot latency on a log scale (services an order of magnitude apart).
    pub log_scale: bool,
    /// What the graphs show, and what it was computed from (recomputed when a snapshot or
    /// a choice changes, not every frame).
    cache: (Option<PlotKey>, Shown),
}

type PlotKey = (u64, Window, Option<BTreeSet<String>>, BTreeSet<Percentile>);

/// The derived data of the view (see [`LatencyPanel::shown`]).
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// The services plotted, in plot order.
    pub services: Vec<String>,
    /// Every service the picker offers, busiest in the window first, with its requests.
    pub offered: Vec<(String, u64)>,
    pub plot: LatencyPlot,
    /// The services whose numbers the servers reported (see [`ReportedLatency`]).
    pub reported: BTreeSet<String>,
}

impl LatencyPanel {
    /// What the graphs show now (computed at most once a snapshot).
    pub fn shown(&mut self, state: &UiState) -> &Shown {
        let key: PlotKey = (
            state.snapshot_generation,
            self.window,
            self.chosen.clone(),
            self.hidden.clone(),
        );
        if self.cache.0.as_ref() != Some(&key) {
            self.cache = (Some(key), self.compute(state));
        }
        &self.cache.1
    }

    fn compute(&self, state: &UiState) -> Shown {
        let history = &state.latency;
        let mut names: BTreeSet<&str> = history.services().collect();
        names.extend(state.snapshot.latency.iter().map(|s| s.subject.as_str()));
        let mut offered = history.ranked(self.window);
        let busy = offered.len();
        for name in names {
            if !offered[..busy].iter().any(|(s, _)| s == name) {
                offered.push((name.to_string(), 0));
            }
        }
        let services: Vec<String> = match &self.chosen {
            Some(chosen) => offered
                .iter()
                .filter(|(s, _)| chosen.contains(s))
                .map(|(s, _)| s.clone())
                .collect(),
            None => offered[..busy]
                .iter()
                .take(DEFAULT_SHOWN)
                .map(|(s, _)| s.clone())
                .collect(),
        };
        let percentiles: Vec<Percentile> = Percentile::ALL
            .into_iter()
            .filter(|p| !self.hidden.contains(p))
            .collect();
        let plot = latency::plot(history, &services, self.window, &percentiles);
        let reported = state
            .snapshot
            .latency
            .iter()
            .filter(|s| s.reported.is_some())
            .map(|s| s.subject.clone())
            .collect();
        Shown {
            services,
            offered,
            plot,
            reported,
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &UiState,
        tracking: bool,
        commands: &mut Vec<Command>,
    ) {
        tracking_switch(ui, tracking, state.snapshot.vantage, commands);
        ui.separator();
        let services = &state.snapshot.latency;
        if services.is_empty() && state.latency.services().next().is_none() {
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
        self.controls(ui);
        let shown = self.shown(state).clone();
        egui::Panel::left("latency_services")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.picker(ui, &shown));
        egui::CentralPanel::no_frame().show(ui, |ui| {
            latency_plots::ui(ui, &shown, self.log_scale, self.window);
            summaries(ui, &shown);
            ui.separator();
            table(ui, services);
        });
    }

    fn controls(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label("Window");
            for w in Window::ALL {
                ui.selectable_value(&mut self.window, w, w.label())
                    .on_hover_text(format!(
                        "The last {}, one point per {} s",
                        w.label(),
                        w.step_secs()
                    ));
            }
            ui.separator();
            ui.label("Show");
            for p in Percentile::ALL {
                let mut on = !self.hidden.contains(&p);
                if ui.checkbox(&mut on, p.label()).changed() {
                    if on {
                        self.hidden.remove(&p);
                    } else {
                        self.hidden.insert(p);
                    }
                }
            }
            ui.checkbox(&mut self.log_scale, "log scale")
                .on_hover_text("Latency on a log scale, to compare services far apart");
            ui.separator();
            ui.label(
                RichText::new(
                    "Percentiles of the round trips in each step, within 7% (log buckets); \
                     red crosses: requests that timed out.",
                )
                .weak()
                .small(),
            );
        });
    }

    fn picker(&mut self, ui: &mut Ui, shown: &Shown) {
        ui.horizontal(|ui| {
            ui.strong("Services");
            let auto = self.chosen.is_none();
            if ui
                .add_enabled(!auto, egui::Button::new(format!("Busiest {DEFAULT_SHOWN}")))
                .on_hover_text("Plot the services with the most requests in the window")
                .clicked()
            {
                self.chosen = None;
            }
        });
        ui.label(
            RichText::new(if self.chosen.is_none() {
                "The busiest are plotted; tick to choose."
            } else {
                "Your choice is plotted."
            })
            .weak()
            .small(),
        );
        let mut toggled: Option<(String, bool)> = None;
        egui::ScrollArea::vertical()
            .id_salt("latency_picker")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for (service, requests) in &shown.offered {
                    let index = shown.services.iter().position(|s| s == service);
                    let mut on = index.is_some();
                    let reported = shown.reported.contains(service);
                    let mut text = if reported {
                        RichText::new(format!("{service} (server)")).monospace()
                    } else {
                        RichText::new(service).monospace()
                    };
                    if let Some(i) = index {
                        text = text.color(service_color(i));
                    }
                    let r = ui.checkbox(&mut on, text).on_hover_text(format!(
                        "{} requests in the last {}",
                        format::count(*requests),
                        self.window.label()
                    ));
                    if r.changed() {
                        toggled = Some((service.clone(), on));
                    }
                }
            });
        if let Some((service, on)) = toggled {
            let chosen = self
                .chosen
                .get_or_insert_with(|| shown.services.iter().cloned().collect());
            if on {
                chosen.insert(service);
            } else {
                chosen.remove(&service);
            }
        }
    }
}

fn tracking_switch(ui: &mut Ui, tracking: bool, vantage: Vantage, commands: &mut Vec<Command>) {
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
        let how = match vantage {
            Vantage::Inside => {
                "Measured from the request's publish to the reply's publish, in the broker."
            }
            Vantage::Outside => {
                "Measured from the request's arrival to the reply's at the inspector's \
                 subscription; services marked server are the servers' own measure."
            }
        };
        ui.label(RichText::new(how).weak().small());
    });
}

/// One line per plotted service: its numbers over the whole window. One label each (the
/// service's name in its colour, the numbers, the timeouts in red when there are any), so
/// that the name reads once as a label in the view, in the table.
fn summaries(ui: &mut Ui, shown: &Shown) {
    for (i, summary) in shown.plot.summaries.iter().enumerate() {
        let mut job = egui::text::LayoutJob::default();
        let timeouts = RichText::new(summary.timeouts_text());
        let timeouts = if summary.timeouts > 0 {
            timeouts.color(NO_INTEREST).strong()
        } else {
            timeouts.weak()
        };
        for part in [
            RichText::new(format!("{}  ", summary.service))
                .monospace()
                .color(service_color(i)),
            RichText::new(format!("{}, ", summary.text())),
            timeouts,
        ] {
            part.append_to(
                &mut job,
                ui.style(),
                egui::FontSelection::Default,
                egui::Align::Center,
            );
        }
        ui.label(job);
    }
}

fn table(ui: &mut Ui, services: &[ServiceLatency]) {
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
                (
                    "Service subject",
                    "The subject requests were sent to; for one marked server, the \
                     results subject of an export whose latency the servers report",
                ),
                ("requests", "Requests seen (tracked ones, when sampling)"),
                ("replies", "Replies paired with a request"),
                (
                    "timeouts",
                    "Requests whose reply never came in the tracking window",
                ),
                ("p50", "Median latency of the recent round trips"),
                ("p90", "90th percentile of the recent round trips"),
                ("p99", "99th percentile of the recent round trips"),
                ("max", "Slowest recent reply"),
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
                let Some(s) = services.get(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.monospace(&s.subject);
                    if let Some(reported) = &s.reported {
                        reported_badge(ui, reported);
                    }
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
                    ui.label(if s.reported.is_some() {
                        "by the export".to_string()
                    } else if s.sample_every <= 1 {
                        "all".to_string()
                    } else {
                        format!("1 in {}", s.sample_every)
                    });
                });
            });
        });
}

/// Marks a service whose numbers the servers reported (nats-server's service latency
/// events), with what the events said on hover.
fn reported_badge(ui: &mut Ui, reported: &ReportedLatency) {
    let statuses: Vec<String> = reported
        .statuses
        .iter()
        .map(|(code, n)| format!("{code}: {}", format::count(*n)))
        .collect();
    ui.label(RichText::new("server").small().weak())
        .on_hover_text(format!(
            "Reported by the servers: the export's service latency events on this subject \
             (requester to responder and back, the events' total). The responders' own \
             median time: {}. Events by status: {}.",
            format::latency(reported.service_p50),
            statuses.join(", ")
        ));
}
