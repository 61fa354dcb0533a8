//! Consumers: every consumer of every stream (or of one), with its kind (durable or
//! ephemeral, push or pull), filter, ack policy, where it is (delivered, ack floor) and
//! what waits (pending, ack pending against its limit, redelivered, pull requests); those
//! that are stalled are marked with the reason, and can be listed alone. The selected
//! consumer's detail plots its delivered and acknowledged messages a second over the
//! last minutes (from the successive readings of its info, see
//! [`crate::gui::model::consumer_rates`]).

use std::sync::Arc;
use std::time::SystemTime;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use egui_plot::{HoverPosition, Legend, Line, Plot, PlotPoints};

use super::jetstream::Jump;
use crate::gui::model::consumer_rates::{ConsumerRates, HISTORY_SECS};
use crate::gui::model::format;
use crate::gui::model::jetstream::{self as model, ConsumerRow};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, NO_INTEREST, OK, WARN};
use crate::inspect::snapshot::{ConsumerSummary, StreamSummary};

#[derive(Default)]
pub struct ConsumersPanel {
    /// Only this stream's consumers (`None`: every stream's).
    pub stream: Option<String>,
    pub filter: String,
    pub stalled_only: bool,
    /// (stream, consumer) selected.
    pub selected: Option<(String, String)>,
    /// The rows shown, how many consumers the stream choice has and how many of them are
    /// stalled, and what they were computed from: once a snapshot or a change of the
    /// choices, not every frame.
    rows: Option<(RowsKey, Arc<Computed>)>,
    /// Every consumer's recent progress, taken in every frame whichever view shows.
    pub rates: ConsumerRates,
}

/// What the consumer rows depend on: the snapshot, the stream, the filter, stalled only.
type RowsKey = (u64, Option<String>, String, bool);
/// The rows shown, the stream choice's consumers, and how many of those are stalled.
type Computed = (Vec<ConsumerRow>, usize, usize);

const HEADERS: [(&str, &str); 13] = [
    ("Stream", "The stream it reads"),
    ("Consumer", "Its name"),
    ("Status", "ok, or why it makes no progress"),
    (
        "Kind",
        "durable or ephemeral; pull, or push to a deliver subject",
    ),
    ("Filter subjects", "The subjects it reads (all when empty)"),
    ("Ack", "Ack policy"),
    ("Delivered", "The last stream sequence delivered"),
    (
        "Ack floor",
        "Stream sequence up to which everything is acknowledged",
    ),
    ("Pending", "Messages of the stream not yet delivered to it"),
    (
        "Ack pending",
        "Delivered and not acknowledged, of max_ack_pending",
    ),
    (
        "Redelivered",
        "Messages delivered more than once, not yet acknowledged",
    ),
    ("Waiting", "Pull requests waiting for messages"),
    ("Last active", "Its last delivery or acknowledgement"),
];

impl ConsumersPanel {
    /// Shows only `stream`'s consumers (from the Streams view).
    pub fn show_stream(&mut self, stream: &str) {
        self.stream = Some(stream.to_string());
        self.selected = None;
    }

    pub fn ui(&mut self, ui: &mut Ui, state: &UiState, jumps: &mut Vec<Jump>) {
        let inv = state.snapshot.jetstream_streams.clone();
        let streams = &inv.streams;
        let now = inv.read_at.unwrap_or_else(SystemTime::now);
        let key: RowsKey = (
            state.snapshot_generation,
            self.stream.clone(),
            self.filter.clone(),
            self.stalled_only,
        );
        let computed = match &self.rows {
            Some((k, computed)) if *k == key => computed.clone(),
            _ => {
                let rows = model::consumer_rows(
                    streams,
                    self.stream.as_deref(),
                    &self.filter,
                    self.stalled_only,
                    now,
                );
                let all = model::consumer_rows(streams, self.stream.as_deref(), "", false, now);
                let stalled = all.iter().filter(|r| r.stall.is_some()).count();
                let computed = Arc::new((rows, all.len(), stalled));
                self.rows = Some((key, computed.clone()));
                computed
            }
        };
        let (rows, total, stalled) = (&computed.0, computed.1, computed.2);
        ui.horizontal(|ui| {
            let l = ui.label("Stream");
            egui::ComboBox::from_id_salt("consumers_stream")
                .selected_text(self.stream.as_deref().unwrap_or("all streams"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.stream, None, "all streams");
                    for s in streams.iter().filter(|s| !s.consumers.is_empty()) {
                        ui.selectable_value(&mut self.stream, Some(s.name.clone()), &s.name);
                    }
                })
                .response
                .labelled_by(l.id);
            widgets::filter_box(
                ui,
                "Filter",
                &mut self.filter,
                "consumer, stream or subject",
                200.0,
            );
            ui.checkbox(&mut self.stalled_only, "Stalled only")
                .on_hover_text(
                    "Consumers that make no progress: ack pending at its limit, messages and no \
                     pull request waiting, a push consumer nobody listens to, or paused",
                );
            ui.label(RichText::new(format!("{} of {} consumers", rows.len(), total)).weak());
            if stalled > 0 {
                widgets::badge(ui, &format!("{stalled} stalled"), WARN);
            }
        });
        ui.separator();
        if total == 0 {
            ui.label(
                RichText::new(match &self.stream {
                    Some(s) => format!("{s} has no consumers."),
                    None => "No consumers yet.".to_string(),
                })
                .weak(),
            );
            return;
        }
        let selected = self.selected.as_ref().and_then(|(s, c)| {
            let stream = streams.iter().find(|x| &x.name == s)?;
            let consumer = stream.consumers.iter().find(|x| &x.name == c)?;
            Some((stream.clone(), consumer.clone()))
        });
        if let Some((stream, consumer)) = &selected {
            egui::Panel::right("consumer_detail")
                .resizable(true)
                .default_size(380.0)
                .min_size(300.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("consumer_detail_scroll")
                        .show(ui, |ui| {
                            detail(ui, stream, consumer, now, jumps);
                            ui.separator();
                            rate_plot(ui, &self.rates, stream, consumer);
                        });
                });
        }
        egui::CentralPanel::no_frame().show(ui, |ui| {
            egui::ScrollArea::horizontal()
                .id_salt("consumers_hscroll")
                .show(ui, |ui| self.table(ui, streams, rows));
        });
    }

    fn table(&mut self, ui: &mut Ui, streams: &[StreamSummary], rows: &[ConsumerRow]) {
        let now = SystemTime::now();
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut clicked = None;
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("consumers_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(100.0).clip(true))
            .column(Column::initial(120.0).clip(true))
            .column(Column::initial(125.0).clip(true))
            .column(Column::initial(110.0).clip(true))
            .column(Column::initial(120.0).clip(true))
            .columns(Column::auto().at_least(44.0), 7)
            .column(Column::remainder().at_least(80.0))
            .auto_shrink([false, false])
            .header(22.0, |mut header| {
                for (title, tip) in HEADERS {
                    header.col(|ui| {
                        ui.label(RichText::new(title).strong()).on_hover_text(tip);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let r = &rows[row.index()];
                    let s = &streams[r.stream];
                    let c = &s.consumers[r.consumer];
                    let is_selected = self
                        .selected
                        .as_ref()
                        .is_some_and(|(a, b)| *a == s.name && *b == c.name);
                    row.set_selected(is_selected);
                    row.col(|ui| {
                        ui.label(&s.name);
                    });
                    row.col(|ui| {
                        ui.label(RichText::new(&c.name).strong());
                    });
                    row.col(|ui| match r.stall {
                        Some(stall) => {
                            widgets::badge(ui, stall.label(), WARN).on_hover_text(stall.explain());
                        }
                        None => {
                            ui.label(RichText::new("ok").color(widgets::OK));
                        }
                    });
                    row.col(|ui| {
                        ui.label(kind(c));
                    });
                    row.col(|ui| {
                        ui.monospace(filters(c));
                    });
                    row.col(|ui| {
                        ui.label(&c.ack_policy);
                    });
                    row.col(|ui| {
                        ui.label(c.delivered_stream_seq.to_string());
                    });
                    row.col(|ui| {
                        ui.label(c.ack_floor_stream_seq.to_string());
                    });
                    row.col(|ui| {
                        ui.label(format::count(c.num_pending));
                    });
                    row.col(|ui| {
                        let text = RichText::new(ack_pending(c));
                        ui.label(if r.stall == Some(model::Stall::AckPendingAtMax) {
                            text.color(WARN).strong()
                        } else {
                            text
                        });
                    });
                    row.col(|ui| {
                        ui.label(format::count(c.num_redelivered));
                    });
                    row.col(|ui| {
                        ui.label(if c.is_push() {
                            "-".to_string()
                        } else {
                            c.num_waiting.to_string()
                        });
                    });
                    row.col(|ui| {
                        ui.label(model::ago(now, c.last_active()));
                    });
                    if row.response().clicked() {
                        clicked = Some((s.name.clone(), c.name.clone()));
                    }
                });
            });
        if let Some(key) = clicked {
            self.selected = if self.selected.as_ref() == Some(&key) {
                None
            } else {
                Some(key)
            };
        }
    }
}

/// `durable pull`, `ephemeral push`.
fn kind(c: &ConsumerSummary) -> String {
    format!(
        "{} {}",
        if c.durable { "durable" } else { "ephemeral" },
        if c.is_push() { "push" } else { "pull" }
    )
}

fn filters(c: &ConsumerSummary) -> String {
    if c.filter_subjects.is_empty() {
        "(all)".into()
    } else {
        c.filter_subjects.join(" ")
    }
}

/// `3 / 1000`, or the count alone without a limit.
fn ack_pending(c: &ConsumerSummary) -> String {
    if c.max_ack_pending > 0 {
        format!("{} / {}", c.num_ack_pending, c.max_ack_pending)
    } else {
        c.num_ack_pending.to_string()
    }
}

fn detail(
    ui: &mut Ui,
    s: &StreamSummary,
    c: &ConsumerSummary,
    now: SystemTime,
    jumps: &mut Vec<Jump>,
) {
    ui.heading(&c.name);
    ui.horizontal(|ui| {
        ui.label(RichText::new("of stream").weak());
        if ui
            .link(&s.name)
            .on_hover_text("Show it in Streams")
            .clicked()
        {
            jumps.push(Jump::Stream(s.name.clone()));
        }
    });
    if let Some(stall) = model::stall(c, now) {
        ui.label(RichText::new(stall.explain()).color(NO_INTEREST));
    }
    egui::Grid::new("consumer_facts")
        .num_columns(2)
        .spacing([10.0, 3.0])
        .show(ui, |ui| {
            let fact = |ui: &mut Ui, k: &str, v: String| {
                ui.label(RichText::new(k).weak());
                ui.label(v);
                ui.end_row();
            };
            fact(ui, "Kind", kind(c));
            if let Some(subject) = &c.deliver_subject {
                fact(
                    ui,
                    "Deliver subject",
                    format!(
                        "{subject}{}{}",
                        c.deliver_group
                            .as_ref()
                            .map_or(String::new(), |g| format!(" (queue {g})")),
                        if c.push_bound {
                            ""
                        } else {
                            ", nobody subscribed"
                        }
                    ),
                );
            }
            fact(ui, "Filter", filters(c));
            fact(ui, "Deliver policy", c.deliver_policy.clone());
            fact(
                ui,
                "Ack",
                format!("{}, wait {}", c.ack_policy, format::age(c.ack_wait)),
            );
            fact(
                ui,
                "Max deliver",
                if c.max_deliver > 0 {
                    c.max_deliver.to_string()
                } else {
                    "unlimited".into()
                },
            );
            fact(
                ui,
                "Delivered",
                format!(
                    "stream seq {}, consumer seq {}, {}",
                    c.delivered_stream_seq,
                    c.delivered_consumer_seq,
                    model::ago(now, c.last_delivered)
                ),
            );
            fact(
                ui,
                "Ack floor",
                format!(
                    "stream seq {}, consumer seq {}, {}",
                    c.ack_floor_stream_seq,
                    c.ack_floor_consumer_seq,
                    model::ago(now, c.last_ack)
                ),
            );
            fact(ui, "Pending", format::count(c.num_pending));
            fact(ui, "Ack pending", ack_pending(c));
            fact(ui, "Redelivered", format::count(c.num_redelivered));
            if !c.is_push() {
                fact(ui, "Waiting pulls", c.num_waiting.to_string());
            }
            fact(ui, "Paused", if c.paused { "yes" } else { "no" }.into());
            fact(ui, "Created", model::ago(now, c.created));
        });
}

/// The consumer's delivered and acknowledged messages a second, smoothed, over the last
/// [`HISTORY_SECS`]; the current values beside the title and in the legend.
fn rate_plot(ui: &mut Ui, rates: &ConsumerRates, s: &StreamSummary, c: &ConsumerSummary) {
    let series = rates.series(&s.name, &c.name);
    ui.horizontal(|ui| {
        ui.strong("Delivery rate");
        match series.current() {
            Some((delivered, acked)) => {
                ui.label(format!(
                    "delivered {}, acknowledged {}",
                    format::per_sec(delivered),
                    format::per_sec(acked)
                ));
            }
            None => {
                ui.label(RichText::new("waiting for a second reading").weak())
                    .on_hover_text(
                        "Rates come from successive readings of the consumer's info: about \
                         once a second from the embedded broker, every 3 s from a deployment",
                    );
            }
        }
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let points =
        |pts: &[(f64, f64)]| -> Vec<[f64; 2]> { pts.iter().map(|&(t, v)| [t - now, v]).collect() };
    let (delivered, acked) = (points(&series.delivered), points(&series.acked));
    let current = series.current().unwrap_or_default();
    Plot::new(("consumer_rates", &s.name, &c.name))
        .height(170.0)
        .legend(Legend::default())
        .x_axis_label("seconds ago")
        .include_x(-HISTORY_SECS.min(60.0))
        .include_x(0.0)
        .include_y(0.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .y_axis_formatter(|mark, _| format::per_sec(mark.value))
        .x_axis_formatter(|mark, _| format!("{:.0}s", mark.value))
        // A narrow plot would otherwise mark every 100 s: marks at round times instead.
        .x_grid_spacer(egui_plot::uniform_grid_spacer(|input| {
            if input.bounds.1 - input.bounds.0 > 150.0 {
                [120.0, 60.0, 30.0]
            } else {
                [60.0, 30.0, 10.0]
            }
        }))
        .label_formatter(|pos| match pos {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } if !plot_name.is_empty() => {
                // The series' name carries its current rate; the point its own.
                let series = plot_name.split(' ').next().unwrap_or_default();
                Some(format!(
                    "{series} {}\n{:.0} s ago",
                    format::per_sec(position.y),
                    -position.x
                ))
            }
            _ => None,
        })
        .show(ui, |plot| {
            // Acknowledged under delivered, dashed: a consumer that keeps up draws the two
            // on top of each other, and both stay visible.
            plot.line(
                Line::new(
                    format!("acknowledged {}", format::per_sec(current.1)),
                    PlotPoints::from(acked),
                )
                .color(OK)
                .width(2.5),
            );
            plot.line(
                Line::new(
                    format!("delivered {}", format::per_sec(current.0)),
                    PlotPoints::from(delivered),
                )
                .color(IN)
                .style(egui_plot::LineStyle::dashed_dense())
                .width(1.5),
            );
        });
    ui.label(
        RichText::new(format!(
            "Messages a second from the consumer's delivered and ack floor sequences, \
             averaged over {:.0} s or three readings; the last {:.0} minutes.",
            crate::gui::model::consumer_rates::CONSUMER_RATE_WINDOW_SECS,
            HISTORY_SECS / 60.0
        ))
        .small()
        .weak(),
    );
}
