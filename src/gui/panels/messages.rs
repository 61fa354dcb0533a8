//! Messages: the live view of sampled messages, filtered by a subject wildcard, with a
//! detail pane (headers, payload as text / JSON / hex) and copy, publish again, compare.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::Command;
use crate::gui::client::Outgoing;
use crate::gui::model::diff::{self, DiffKind, DiffLine};
use crate::gui::model::format;
use crate::gui::model::payload::{self, PayloadView};
use crate::gui::state::{MessageRow, UiState};
use crate::gui::widgets::{self, NO_INTEREST, OK, WARN};

#[derive(Default)]
pub struct MessagesPanel {
    /// Chosen payload view; None = the best for each message.
    pub payload_view: Option<PayloadView>,
    /// (older seq, newer seq, diff) when comparing.
    pub compare: Option<(u64, u64, Vec<DiffLine>)>,
    pub note: Option<String>,
    /// The list holds new rows while the pointer is over it (so a click hits the row the
    /// user aimed at); true while that hold is ours, not the user's Pause.
    pub hover_hold: bool,
}

impl MessagesPanel {
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &mut UiState,
        sampling: bool,
        commands: &mut Vec<Command>,
    ) {
        self.toolbar(ui, state, sampling);
        ui.separator();
        let selected = state
            .selection
            .message
            .and_then(|seq| state.messages.by_seq(seq))
            .cloned();
        if let Some(msg) = selected {
            egui::Panel::bottom("message_detail")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| self.detail(ui, &msg, state, commands));
        }
        let hovered = egui::CentralPanel::no_frame()
            .show(ui, |ui| table(ui, state))
            .inner;
        if hovered && !state.messages.paused() {
            state.messages.set_paused(true);
            self.hover_hold = true;
        } else if !hovered && self.hover_hold {
            state.messages.set_paused(false);
            self.hover_hold = false;
        }
    }

    fn toolbar(&mut self, ui: &mut Ui, state: &mut UiState, sampling: bool) {
        ui.horizontal(|ui| {
            let mut text = state.messages.filter_text().to_string();
            if widgets::filter_box(
                ui,
                "Subject filter",
                &mut text,
                "orders.*.created or telemetry.>",
                240.0,
            ) {
                state.messages.set_filter(&text);
            }
            let paused = state.messages.paused() && !self.hover_hold;
            let label = if paused { "Resume" } else { "Pause" };
            if ui
                .button(label)
                .on_hover_text("Pause freezes the list; messages keep being collected (bounded)")
                .clicked()
            {
                state.messages.set_paused(!paused);
                self.hover_hold = false;
            }
            if ui.button("Clear").clicked() {
                state.messages.clear();
                state.selection.message = None;
                self.compare = None;
            }
            ui.label(
                RichText::new(format!(
                    "{} of {} shown (last {})",
                    state.messages.visible_len(),
                    state.messages.len(),
                    format::count(state.messages.capacity() as u64)
                ))
                .weak(),
            );
            if paused {
                widgets::badge(
                    ui,
                    &format!("paused, {} waiting", state.messages.held()),
                    WARN,
                );
            } else if self.hover_hold {
                ui.label(
                    RichText::new(format!(
                        "holding {} new while the pointer is on the list",
                        state.messages.held()
                    ))
                    .weak(),
                );
            }
            if !sampling {
                widgets::badge(ui, "sampling off", WARN);
            }
            if state.dropped_samples > 0 {
                ui.label(
                    RichText::new(format!(
                        "{} samples dropped",
                        format::count(state.dropped_samples)
                    ))
                    .color(WARN),
                )
                .on_hover_text(
                    "The broker drops the copy (never the message) when the view falls behind",
                );
            }
        });
    }

    fn detail(
        &mut self,
        ui: &mut Ui,
        msg: &MessageRow,
        state: &UiState,
        commands: &mut Vec<Command>,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(&msg.subject).monospace().strong());
            if let Some(reply) = &msg.reply {
                ui.label(
                    RichText::new(format!("reply to {reply}"))
                        .monospace()
                        .weak(),
                );
            }
            ui.label(RichText::new(format!("#{}  {}", msg.seq, format::clock(msg.time))).weak());
            // Seen from outside (a remote deployment), publisher and receivers are unknown.
            let inside = state.snapshot.vantage.knows_routing();
            ui.label(format!(
                "{}, from {}",
                format::bytes(msg.size() as u64),
                if inside {
                    state.conn_label(msg.publisher_cid)
                } else {
                    "unknown".into()
                }
            ));
            if !inside {
                ui.label(RichText::new("receivers unknown").weak());
            } else if !msg.receivers_known() {
                ui.label(RichText::new("receivers not recorded").weak());
            } else if msg.receivers == 0 {
                widgets::badge(ui, "received by no one", NO_INTEREST);
            } else {
                ui.label(format!("received by {}", msg.receivers));
            }
        });
        ui.horizontal(|ui| {
            let best = payload::best_view(&msg.payload);
            let mut view = self.payload_view.unwrap_or(best);
            ui.label("Payload as");
            for (v, name) in [
                (PayloadView::Text, "Text"),
                (PayloadView::Json, "JSON"),
                (PayloadView::Hex, "Hex"),
            ] {
                if ui.selectable_label(view == v, name).clicked() {
                    view = v;
                    self.payload_view = Some(v);
                }
            }
            ui.separator();
            if widgets::copy_button(ui, "Copy payload", &payload::render(&msg.payload, view)) {
                self.note = Some("payload copied".into());
            }
            if widgets::copy_button(ui, "Copy subject", &msg.subject) {
                self.note = Some("subject copied".into());
            }
            if ui
                .button("Publish again")
                .on_hover_text("Open the publish form with this message")
                .clicked()
            {
                let headers = msg
                    .headers
                    .as_deref()
                    .map(|h| payload::parse_header_block(h).1)
                    .unwrap_or_default();
                commands.push(Command::PrefillPublish(Outgoing {
                    subject: msg.subject.clone(),
                    reply: msg.reply.clone(),
                    headers,
                    payload: msg.payload.clone(),
                }));
            }
            if ui
                .button("Compare with previous")
                .on_hover_text("Diff against the previous message on the same subject")
                .clicked()
            {
                self.compare_with_previous(msg, state);
            }
            if let Some(note) = &self.note {
                ui.label(RichText::new(note).weak());
            }
        });
        ui.separator();
        let view = self
            .payload_view
            .unwrap_or_else(|| payload::best_view(&msg.payload));
        let comparing = self.compare.as_ref().filter(|(_, seq, _)| *seq == msg.seq);
        egui::ScrollArea::both()
            .id_salt("message_body")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if let Some(h) = &msg.headers {
                    let (status, pairs) = payload::parse_header_block(h);
                    ui.label(RichText::new(format!("Headers ({status})")).strong());
                    egui::Grid::new("message_headers")
                        .num_columns(2)
                        .spacing([10.0, 2.0])
                        .show(ui, |ui| {
                            for (k, v) in pairs {
                                ui.monospace(RichText::new(k).weak());
                                ui.monospace(v);
                                ui.end_row();
                            }
                        });
                    ui.add_space(4.0);
                }
                match comparing {
                    Some((old, _, lines)) => diff_view(ui, *old, lines),
                    None => {
                        let mut text = payload::render(&msg.payload, view);
                        if msg.payload.is_empty() {
                            text = "(empty payload)".into();
                        }
                        ui.add(
                            egui::TextEdit::multiline(&mut text.as_str())
                                .code_editor()
                                .desired_width(f32::INFINITY),
                        )
                        .on_hover_text("Payload");
                    }
                }
            });
    }

    fn compare_with_previous(&mut self, msg: &MessageRow, state: &UiState) {
        match state.messages.previous_on_subject(msg.seq) {
            Some(prev) => {
                let (a, b) = diff::comparable_text(&prev.payload, &msg.payload);
                self.compare = Some((prev.seq, msg.seq, diff::diff_lines(&a, &b)));
                self.note = None;
            }
            None => {
                self.compare = None;
                self.note = Some("no earlier message on this subject in the history".into());
            }
        }
    }
}

fn diff_view(ui: &mut Ui, old_seq: u64, lines: &[DiffLine]) {
    ui.horizontal(|ui| {
        ui.strong(format!("Changes since message #{old_seq}"));
        if diff::is_identical(lines) {
            widgets::badge(ui, "identical", OK);
        }
    });
    for l in lines {
        let (sign, color) = match l.kind {
            DiffKind::Same => (" ", ui.visuals().text_color()),
            DiffKind::Removed => ("-", NO_INTEREST),
            DiffKind::Added => ("+", OK),
        };
        ui.monospace(RichText::new(format!("{sign} {}", l.text)).color(color));
    }
}

/// Draws the list; returns whether the pointer is over it.
fn table(ui: &mut Ui, state: &mut UiState) -> bool {
    let n = state.messages.visible_len();
    if n == 0 {
        ui.label(
            RichText::new(if state.messages.is_empty() {
                "No messages yet. Messages are sampled while this view is open."
            } else {
                "No message matches the filter."
            })
            .weak(),
        );
        return false;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    let follow = !state.messages.paused() && state.selection.message.is_none();
    let selected = state.selection.message;
    // Labels must not take the clicks that select a row.
    ui.style_mut().interaction.selectable_labels = false;
    let output = TableBuilder::new(ui)
        .id_salt("messages_table")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .stick_to_bottom(follow)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(100.0))
        .column(Column::initial(260.0).at_least(80.0).clip(true))
        .column(Column::initial(160.0).clip(true))
        .column(Column::initial(70.0))
        .column(Column::initial(160.0).clip(true))
        .column(Column::remainder().at_least(80.0))
        .auto_shrink([false, false])
        .header(22.0, |mut header| {
            for (title, tip) in [
                ("Time", "When the broker received it"),
                ("Subject", "Published subject"),
                ("Reply", "Reply subject (a request)"),
                ("Size", "Headers plus payload"),
                ("Publisher", "The connection that published it"),
                ("Receivers", "Subscriptions it was delivered to"),
            ] {
                header.col(|ui| {
                    ui.strong(title).on_hover_text(tip);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, n, |mut row| {
                let Some(m) = state.messages.visible_row(row.index()) else {
                    return;
                };
                row.set_selected(selected == Some(m.seq));
                row.col(|ui| {
                    ui.monospace(format::clock(m.time));
                });
                let inside = state.snapshot.vantage.knows_routing();
                row.col(|ui| {
                    let t = RichText::new(&m.subject).monospace();
                    ui.label(if inside && m.receivers == 0 {
                        t.color(NO_INTEREST)
                    } else {
                        t
                    });
                });
                row.col(|ui| {
                    ui.monospace(m.reply.as_deref().unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(format::bytes(m.size() as u64));
                });
                row.col(|ui| {
                    if inside {
                        ui.label(state.conn_label(m.publisher_cid));
                    } else {
                        ui.label(RichText::new("unknown").weak());
                    }
                });
                row.col(|ui| {
                    if !inside {
                        ui.label(RichText::new("unknown").weak());
                    } else if !m.receivers_known() {
                        ui.label(RichText::new("not recorded").weak());
                    } else if m.receivers == 0 {
                        widgets::badge(ui, "no one", NO_INTEREST);
                    } else {
                        ui.label(m.receivers.to_string());
                    }
                });
                if row.response().clicked() {
                    clicked = Some(m.seq);
                }
            });
        });
    if let Some(seq) = clicked {
        state.selection.message = if selected == Some(seq) {
            None
        } else {
            Some(seq)
        };
    }
    ui.rect_contains_pointer(output.inner_rect)
}
