//! Streams: every JetStream stream with its configuration's essentials and its state, in a
//! sortable, filterable table; the selected stream's detail pane with its limits, its
//! subjects and their counts, a message browser (by sequence, first/previous/next/last,
//! last on a subject, the first at or after a time), and purge and delete, each asked
//! for confirmation.

use std::sync::Arc;
use std::time::SystemTime;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::jetstream::{confirm, payload_viewer, Jump, PayloadChoice, Requests, Status};
use crate::gui::jetstream_client::{JsAnswer, JsReply, JsRequest};
use crate::gui::model::format;
use crate::gui::model::jetstream::{self as model, kv_bucket, limit, StreamColumn, StreamSort};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, NO_INTEREST, WARN};
use crate::inspect::snapshot::StreamSummary;
use crate::remote::jetstream::{MsgQuery, StoredMessage};

/// What the user is asked to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Purge { stream: String, filter: String },
    DeleteMessage { stream: String, seq: u64 },
    DeleteStream { stream: String },
}

/// What the stream rows depend on: the snapshot, the filter and the sort.
type RowsKey = (u64, String, StreamSort);

#[derive(Default)]
pub struct StreamsPanel {
    pub filter: String,
    pub sort: StreamSort,
    pub selected: Option<String>,
    /// The browser's fields: a sequence, a subject.
    pub seq_text: String,
    pub subject_text: String,
    /// The browser's "from time": RFC 3339, or back from now ("5m ago", "-5m").
    pub from_text: String,
    /// The purge form's subject filter (empty: everything).
    pub purge_filter: String,
    /// The message shown, of the selected stream.
    pub message: Option<StoredMessage>,
    /// The time the message shown was found from ("From time"), to say so.
    found_from: Option<SystemTime>,
    browse: Status,
    payload_view: PayloadChoice,
    /// The selected stream's subjects and counts, and how many there are.
    subjects: Option<(Vec<(String, u64)>, usize)>,
    /// The rows shown and what they were computed from: filtered and sorted once a
    /// snapshot or a change of filter or sort, not every frame.
    rows: Option<(RowsKey, Arc<Vec<usize>>)>,
    subjects_status: Status,
    action: Status,
    confirming: Option<Pending>,
}

const COLUMNS: [(StreamColumn, &str, &str); 8] = [
    (StreamColumn::Name, "Stream", "The stream's name"),
    (
        StreamColumn::Storage,
        "Storage",
        "file or memory, and the retention policy",
    ),
    (StreamColumn::Messages, "Messages", "Messages stored"),
    (StreamColumn::Bytes, "Bytes", "Bytes stored"),
    (
        StreamColumn::FirstSeq,
        "First seq",
        "The first sequence still stored",
    ),
    (
        StreamColumn::LastSeq,
        "Last seq",
        "The last sequence stored",
    ),
    (
        StreamColumn::LastTime,
        "Last message",
        "When the last message was stored",
    ),
    (
        StreamColumn::Consumers,
        "Consumers",
        "Consumers of the stream",
    ),
];

impl StreamsPanel {
    /// Selects a stream (from another view).
    pub fn select(&mut self, name: &str) {
        if self.selected.as_deref() != Some(name) {
            self.selected = Some(name.to_string());
            self.clear_detail();
        }
    }

    fn clear_detail(&mut self) {
        self.message = None;
        self.found_from = None;
        self.browse = Status::Idle;
        self.subjects = None;
        self.subjects_status = Status::Idle;
        self.action = Status::Idle;
        self.confirming = None;
        self.seq_text.clear();
        self.purge_filter.clear();
    }

    /// Takes an answer to one of this view's requests; false when it is not one.
    pub fn on_answer(&mut self, answer: &JsAnswer) -> bool {
        let id = answer.id;
        if self.browse.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::Message(m)) => {
                    self.seq_text = m.seq.to_string();
                    self.message = Some(m.clone());
                    self.found_from = match &answer.request {
                        JsRequest::Message {
                            query: MsgQuery::FromTime { start, .. },
                            ..
                        } => Some(*start),
                        _ => None,
                    };
                    self.browse = Status::Idle;
                }
                Ok(_) => self.browse = Status::Idle,
                Err(e) => self.browse = Status::Failed(e.clone()),
            }
        } else if self.subjects_status.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::Subjects(list, total)) => {
                    self.subjects = Some((list.clone(), *total));
                    self.subjects_status = Status::Idle;
                }
                Ok(_) => self.subjects_status = Status::Idle,
                Err(e) => self.subjects_status = Status::Failed(e.clone()),
            }
        } else if self.action.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::Done(text)) => {
                    self.action = Status::Done(text.clone());
                    match &answer.request {
                        JsRequest::DeleteMessage { seq, .. }
                            if self.message.as_ref().is_some_and(|m| m.seq == *seq) =>
                        {
                            self.message = None;
                        }
                        JsRequest::Purge { .. } => {
                            self.message = None;
                            self.subjects = None;
                        }
                        _ => {}
                    }
                }
                Ok(_) => self.action = Status::Idle,
                Err(e) => self.action = Status::Failed(e.clone()),
            }
        } else {
            return false;
        }
        true
    }

    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &UiState,
        requests: &mut Requests<'_>,
        jumps: &mut Vec<Jump>,
    ) {
        let inv = state.snapshot.jetstream_streams.clone();
        let key: RowsKey = (state.snapshot_generation, self.filter.clone(), self.sort);
        let rows = match &self.rows {
            Some((k, rows)) if *k == key => rows.clone(),
            _ => {
                let rows = Arc::new(model::stream_rows(&inv.streams, &self.filter, self.sort));
                self.rows = Some((key, rows.clone()));
                rows
            }
        };
        ui.horizontal(|ui| {
            widgets::filter_box(
                ui,
                "Filter",
                &mut self.filter,
                "name, subject, account or description",
                260.0,
            );
            ui.label(
                RichText::new(format!("{} of {} streams", rows.len(), inv.streams.len())).weak(),
            );
        });
        ui.separator();
        if inv.streams.is_empty() {
            ui.label(
                RichText::new(
                    "No streams yet. A client creates one with $JS.API.STREAM.CREATE \
                     (nats stream add, js.create_stream).",
                )
                .weak(),
            );
            return;
        }
        let selected = self
            .selected
            .as_deref()
            .and_then(|name| inv.streams.iter().find(|s| s.name == name))
            .cloned();
        if let Some(stream) = &selected {
            egui::Panel::right("stream_detail")
                .resizable(true)
                .default_size(460.0)
                .min_size(340.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("stream_detail_scroll")
                        .show(ui, |ui| self.detail(ui, stream, requests, jumps));
                });
        }
        egui::CentralPanel::no_frame().show(ui, |ui| {
            egui::ScrollArea::horizontal()
                .id_salt("streams_hscroll")
                .show(ui, |ui| self.table(ui, &inv.streams, &rows));
        });
    }

    fn table(&mut self, ui: &mut Ui, streams: &[StreamSummary], rows: &[usize]) {
        let now = SystemTime::now();
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut clicked: Option<String> = None;
        let mut sort = self.sort;
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("streams_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(150.0).at_least(80.0).clip(true))
            .column(Column::initial(120.0).clip(true))
            .columns(Column::auto().at_least(60.0), 6)
            .column(Column::remainder().at_least(120.0).clip(true))
            .auto_shrink([false, false])
            .header(22.0, |mut header| {
                for (column, title, tip) in COLUMNS {
                    header.col(|ui| {
                        let arrow = match (sort.column == column, sort.descending) {
                            (true, true) => " v",
                            (true, false) => " ^",
                            _ => "",
                        };
                        // A label that takes clicks: tests and screen readers find the
                        // column by its name.
                        if ui
                            .add(
                                egui::Label::new(RichText::new(format!("{title}{arrow}")).strong())
                                    .sense(egui::Sense::click()),
                            )
                            .on_hover_text(format!("{tip}. Click to sort."))
                            .clicked()
                        {
                            sort = sort.clicked(column);
                        }
                    });
                }
                header.col(|ui| {
                    ui.label(RichText::new("Subjects").strong());
                });
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let s = &streams[rows[row.index()]];
                    row.set_selected(self.selected.as_deref() == Some(s.name.as_str()));
                    row.col(|ui| {
                        ui.label(RichText::new(&s.name).strong());
                    });
                    row.col(|ui| {
                        ui.label(format!("{}, {}", s.storage, s.retention));
                    });
                    row.col(|ui| {
                        ui.label(format::count(s.messages));
                    });
                    row.col(|ui| {
                        ui.label(format::bytes(s.bytes));
                    });
                    row.col(|ui| {
                        ui.label(s.first_seq.to_string());
                    });
                    row.col(|ui| {
                        ui.label(s.last_seq.to_string());
                    });
                    row.col(|ui| {
                        ui.label(model::ago(now, s.last_time));
                    });
                    row.col(|ui| {
                        ui.label(s.consumer_count.to_string());
                    });
                    row.col(|ui| {
                        ui.monospace(s.subjects.join(" "));
                    });
                    if row.response().clicked() {
                        clicked = Some(s.name.clone());
                    }
                });
            });
        self.sort = sort;
        if let Some(name) = clicked {
            if self.selected.as_deref() == Some(name.as_str()) {
                self.selected = None;
            } else {
                self.select(&name);
            }
        }
    }

    fn detail(
        &mut self,
        ui: &mut Ui,
        s: &StreamSummary,
        requests: &mut Requests<'_>,
        jumps: &mut Vec<Jump>,
    ) {
        let now = SystemTime::now();
        ui.horizontal(|ui| {
            ui.heading(&s.name);
            if let Some(bucket) = kv_bucket(&s.name) {
                if ui.link(format!("KV bucket {bucket}")).clicked() {
                    jumps.push(Jump::Bucket(bucket.to_string()));
                }
            }
        });
        if !s.description.is_empty() {
            ui.label(RichText::new(&s.description).italics());
        }
        egui::Grid::new("stream_facts")
            .num_columns(2)
            .spacing([10.0, 3.0])
            .show(ui, |ui| {
                let fact = |ui: &mut Ui, k: &str, v: String| {
                    ui.label(RichText::new(k).weak());
                    ui.label(v);
                    ui.end_row();
                };
                if !s.account.is_empty() {
                    fact(ui, "Account", s.account.clone());
                }
                fact(ui, "Subjects", s.subjects.join(", "));
                fact(
                    ui,
                    "Storage",
                    format!(
                        "{}, {} replica{}",
                        s.storage,
                        s.replicas,
                        plural(s.replicas as u64)
                    ),
                );
                fact(
                    ui,
                    "Retention",
                    format!("{}, discard {}", s.retention, s.discard),
                );
                fact(ui, "Limits", limits(s));
                let flags: Vec<&str> = [
                    (s.allow_direct, "direct get"),
                    (s.sealed, "sealed"),
                    (s.deny_delete, "deny delete"),
                    (s.deny_purge, "deny purge"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| *name)
                .collect();
                if !flags.is_empty() {
                    fact(ui, "Flags", flags.join(", "));
                }
                if let Some(m) = &s.mirror {
                    fact(ui, "Mirror of", m.clone());
                }
                if !s.sources.is_empty() {
                    fact(ui, "Sources", s.sources.join(", "));
                }
                fact(ui, "Created", model::ago(now, s.created));
                fact(
                    ui,
                    "Messages",
                    format!("{} ({})", format::count(s.messages), format::bytes(s.bytes)),
                );
                fact(
                    ui,
                    "First",
                    format!("seq {}, {}", s.first_seq, model::ago(now, s.first_time)),
                );
                fact(
                    ui,
                    "Last",
                    format!("seq {}, {}", s.last_seq, model::ago(now, s.last_time)),
                );
                fact(
                    ui,
                    "Held",
                    format!(
                        "{} subject{}, {} deleted",
                        s.num_subjects,
                        plural(s.num_subjects),
                        s.num_deleted
                    ),
                );
            });
        ui.horizontal(|ui| {
            ui.label(RichText::new("Consumers").weak());
            if ui
                .link(format!(
                    "{} consumer{}",
                    s.consumer_count,
                    plural(s.consumer_count as u64)
                ))
                .on_hover_text("Show them in Consumers")
                .clicked()
            {
                jumps.push(Jump::Consumers(s.name.clone()));
            }
        });
        ui.separator();
        self.actions(ui, s, requests);
        ui.separator();
        self.browser(ui, s, requests);
        ui.separator();
        self.subjects_section(ui, s, requests);
    }

    /// The message browser: by sequence, first/previous/next/last, last on a subject.
    fn browser(&mut self, ui: &mut Ui, s: &StreamSummary, requests: &mut Requests<'_>) {
        ui.strong("Messages");
        let current = self.message.as_ref().map(|m| m.seq);
        let mut query: Option<MsgQuery> = None;
        ui.horizontal(|ui| {
            let l = ui.label("Sequence");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.seq_text).desired_width(80.0))
                .labelled_by(l.id);
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Get").clicked() || enter {
                match self.seq_text.trim().parse::<u64>() {
                    Ok(seq) => query = Some(MsgQuery::Seq(seq)),
                    Err(_) => self.browse = Status::Failed("a sequence is a number".into()),
                }
            }
            if ui.button("First").clicked() {
                query = Some(MsgQuery::NextBySubject {
                    seq: s.first_seq.max(1),
                    subject: ">".into(),
                });
            }
            if ui
                .add_enabled(
                    current.is_some_and(|c| c > 1),
                    egui::Button::new("Previous"),
                )
                .clicked()
            {
                query = current.map(|c| MsgQuery::Seq(c - 1));
            }
            if ui
                .add_enabled(current.is_some(), egui::Button::new("Next"))
                .clicked()
            {
                query = current.map(|c| MsgQuery::NextBySubject {
                    seq: c + 1,
                    subject: ">".into(),
                });
            }
            if ui.button("Last").clicked() {
                query = Some(MsgQuery::LastBySubject(">".into()));
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("Subject");
            ui.add(
                egui::TextEdit::singleline(&mut self.subject_text)
                    .hint_text("a subject, wildcards allowed")
                    .desired_width(200.0),
            )
            .labelled_by(l.id);
            let subject = self.subject_text.trim().to_string();
            if ui
                .add_enabled(!subject.is_empty(), egui::Button::new("Last on subject"))
                .clicked()
            {
                query = Some(MsgQuery::LastBySubject(subject.clone()));
            }
            if ui
                .add_enabled(!subject.is_empty(), egui::Button::new("Next on subject"))
                .on_hover_text("The first message on the subject after the one shown")
                .clicked()
            {
                query = Some(MsgQuery::NextBySubject {
                    seq: current.map_or(1, |c| c + 1),
                    subject,
                });
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("From time");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.from_text)
                        .hint_text("RFC 3339, or 5m ago / -5m")
                        .desired_width(260.0),
                )
                .labelled_by(l.id)
                .on_hover_text(
                    "A time in RFC 3339 with its zone (2026-12-02T06:13:00Z, \
                     2026-12-02T07:13:00+01:00), or back from now: 5m ago, -5m, 1h30m ago, \
                     -90s (units ms, s, m, h, d)",
                );
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let find = ui
                .add_enabled(!self.from_text.trim().is_empty(), egui::Button::new("Find"))
                .on_hover_text(
                    "The first message stored at or after this time (on the subject above \
                     when one is typed): start_time, by direct get when the stream allows it",
                );
            if find.clicked() || (enter && !self.from_text.trim().is_empty()) {
                match model::parse_from_time(&self.from_text, SystemTime::now()) {
                    Ok(start) => {
                        let subject = self.subject_text.trim();
                        query = Some(MsgQuery::FromTime {
                            start,
                            subject: if subject.is_empty() { ">" } else { subject }.to_string(),
                            direct: s.allow_direct,
                        });
                    }
                    Err(e) => self.browse = Status::Failed(e),
                }
            }
        });
        if let Some(query) = query {
            let what = format!("getting a message of {}", s.name);
            self.browse.send(
                requests,
                JsRequest::Message {
                    stream: s.name.clone(),
                    query,
                },
                &what,
            );
        }
        self.browse.show(ui);
        let Some(m) = self.message.clone() else {
            return;
        };
        egui::Grid::new("stream_message_facts")
            .num_columns(2)
            .spacing([10.0, 2.0])
            .show(ui, |ui| {
                ui.label(RichText::new("Sequence").weak());
                ui.label(RichText::new(m.seq.to_string()).strong());
                ui.end_row();
                ui.label(RichText::new("Subject").weak());
                ui.monospace(&m.subject);
                ui.end_row();
                ui.label(RichText::new("Stored").weak());
                ui.label(m.time.map_or_else(|| "-".into(), format::clock));
                ui.end_row();
                if let Some(from) = self.found_from {
                    ui.label(RichText::new("Found").weak());
                    ui.label(format!("the first at or after {}", format::clock(from)));
                    ui.end_row();
                }
            });
        payload_viewer(
            ui,
            "stream_message",
            m.headers.as_deref(),
            &m.payload,
            &mut self.payload_view,
        );
        if ui
            .add_enabled(
                !s.deny_delete,
                egui::Button::new(RichText::new("Delete message...").color(NO_INTEREST)),
            )
            .on_disabled_hover_text("The stream denies deletes")
            .clicked()
        {
            self.confirming = Some(Pending::DeleteMessage {
                stream: s.name.clone(),
                seq: m.seq,
            });
        }
        if matches!(self.confirming, Some(Pending::DeleteMessage { .. })) {
            self.confirmation(ui, s, requests);
            self.action.show(ui);
        }
    }

    fn subjects_section(&mut self, ui: &mut Ui, s: &StreamSummary, requests: &mut Requests<'_>) {
        ui.horizontal(|ui| {
            ui.strong("Subjects");
            if ui
                .button("Count messages per subject")
                .on_hover_text("STREAM.INFO with subjects_filter: every subject and its count")
                .clicked()
            {
                let what = format!("counting the subjects of {}", s.name);
                self.subjects_status.send(
                    requests,
                    JsRequest::Subjects {
                        stream: s.name.clone(),
                    },
                    &what,
                );
            }
        });
        self.subjects_status.show(ui);
        let Some((list, total)) = &self.subjects else {
            return;
        };
        if *total > list.len() {
            ui.label(RichText::new(format!("{} of {total} subjects", list.len())).color(WARN));
        }
        let mut pick: Option<String> = None;
        egui::ScrollArea::vertical()
            .id_salt("stream_subjects")
            .max_height(160.0)
            .show(ui, |ui| {
                egui::Grid::new("stream_subjects_grid")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for (subject, n) in list {
                            if ui
                                .link(RichText::new(subject).monospace())
                                .on_hover_text("Browse its last message")
                                .clicked()
                            {
                                pick = Some(subject.clone());
                            }
                            ui.label(format::count(*n));
                            ui.end_row();
                        }
                    });
            });
        if let Some(subject) = pick {
            self.subject_text = subject.clone();
            let what = format!("getting the last message on {subject}");
            self.browse.send(
                requests,
                JsRequest::Message {
                    stream: s.name.clone(),
                    query: MsgQuery::LastBySubject(subject),
                },
                &what,
            );
        }
    }

    fn actions(&mut self, ui: &mut Ui, s: &StreamSummary, requests: &mut Requests<'_>) {
        ui.strong("Actions");
        ui.horizontal(|ui| {
            let l = ui.label("Purge subject");
            ui.add(
                egui::TextEdit::singleline(&mut self.purge_filter)
                    .hint_text("empty: every message")
                    .desired_width(160.0),
            )
            .labelled_by(l.id);
            if ui
                .add_enabled(!s.deny_purge, egui::Button::new("Purge..."))
                .on_disabled_hover_text("The stream denies purges")
                .clicked()
            {
                self.confirming = Some(Pending::Purge {
                    stream: s.name.clone(),
                    filter: self.purge_filter.trim().to_string(),
                });
            }
            if ui
                .button(RichText::new("Delete stream...").color(NO_INTEREST))
                .clicked()
            {
                self.confirming = Some(Pending::DeleteStream {
                    stream: s.name.clone(),
                });
            }
        });
        if !matches!(self.confirming, Some(Pending::DeleteMessage { .. })) {
            self.confirmation(ui, s, requests);
        }
        self.action.show(ui);
    }
    /// The confirmation asked for, if any; carries the action out when confirmed.
    fn confirmation(&mut self, ui: &mut Ui, s: &StreamSummary, requests: &mut Requests<'_>) {
        if let Some(pending) = self.confirming.clone() {
            let (question, action, request) = match pending {
                Pending::Purge { stream, filter } if filter.is_empty() => (
                    format!(
                        "Purge every message of {stream} ({})? They cannot be brought back.",
                        format::count(s.messages)
                    ),
                    "Purge",
                    JsRequest::Purge {
                        stream,
                        filter: None,
                    },
                ),
                Pending::Purge { stream, filter } => (
                    format!("Purge the messages on {filter} from {stream}?"),
                    "Purge",
                    JsRequest::Purge {
                        stream,
                        filter: Some(filter),
                    },
                ),
                Pending::DeleteMessage { stream, seq } => (
                    format!("Delete message {seq} of {stream}?"),
                    "Delete message",
                    JsRequest::DeleteMessage { stream, seq },
                ),
                Pending::DeleteStream { stream } => (
                    format!(
                        "Delete the stream {stream}, its {} messages and its {} consumers?",
                        format::count(s.messages),
                        s.consumer_count
                    ),
                    "Delete stream",
                    JsRequest::DeleteStream { stream },
                ),
            };
            match confirm(ui, &question, action) {
                Some(true) => {
                    self.confirming = None;
                    self.action.send(requests, request, action);
                }
                Some(false) => self.confirming = None,
                None => {}
            }
        }
    }
}

/// The limits a stream has, on one line ("none" without any).
fn limits(s: &StreamSummary) -> String {
    let mut out = Vec::new();
    if s.max_msgs > 0 {
        out.push(format!("{} msgs", limit(s.max_msgs, format::count)));
    }
    if s.max_bytes > 0 {
        out.push(limit(s.max_bytes, format::bytes));
    }
    if !s.max_age.is_zero() {
        out.push(format!("age {}", format::age(s.max_age)));
    }
    if s.max_msgs_per_subject > 0 {
        out.push(format!("{} per subject", s.max_msgs_per_subject));
    }
    if s.max_msg_size > 0 {
        out.push(format!(
            "{} a message",
            limit(s.max_msg_size, format::bytes)
        ));
    }
    if s.max_consumers > 0 {
        out.push(format!("{} consumers", s.max_consumers));
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
