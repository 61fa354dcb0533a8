//! KV: key-value buckets (streams named `KV_<bucket>`) as keys and values, read on demand
//! (and again when the bucket's stream changes while the view is open): each key with its
//! revision, when it was written and its value; a key's value in the payload viewer and
//! its history; put and delete (delete asks first). *Watch* follows the bucket's changes
//! live (see [`crate::gui::jetstream_client::KvWatch`]): each put, delete and purge as it
//! is stored, in a bounded list, and into the key list. Object stores (`OBJ_<bucket>`)
//! are listed with their objects.

use std::time::SystemTime;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::jetstream::{confirm, payload_viewer, Jump, PayloadChoice, Requests, Status};
use crate::gui::jetstream_client::{
    JsAnswer, JsReply, JsRequest, KvWatch, WatchEvent, MAX_KEY_VALUES,
};
use crate::gui::model::format;
use crate::gui::model::jetstream::{
    self as model, kv_bucket, obj_bucket, KvEntry, ObjectInfo, WatchLog,
};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, NO_INTEREST, WARN};
use crate::inspect::snapshot::StreamSummary;

/// Characters of a value shown in the key table.
const PREVIEW_CHARS: usize = 60;

/// Which bucket is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    Kv(String),
    Objects(String),
}

#[derive(Default)]
pub struct KvPanel {
    pub selected: Option<Selected>,
    pub key_filter: String,
    pub show_deleted: bool,
    /// The bucket's keys as last read, and how many it has.
    pub keys: Option<(Vec<KvEntry>, usize)>,
    /// The stream's last sequence when the keys were read (read again when it moves).
    keys_at_seq: Option<u64>,
    keys_status: Status,
    pub selected_key: Option<String>,
    pub history: Option<Vec<KvEntry>>,
    history_status: Status,
    payload_view: PayloadChoice,
    /// The put form.
    pub put_key: String,
    pub put_value: String,
    put_status: Status,
    confirm_delete: Option<String>,
    pub objects: Option<(Vec<ObjectInfo>, usize)>,
    objects_at_seq: Option<u64>,
    objects_status: Status,
    /// The running watch of the selected bucket (dropping it ends it).
    watch: Option<KvWatch>,
    /// Whether the running watch's consumer is in place.
    watch_started: bool,
    /// What the watch saw, kept after it stops until another bucket is chosen.
    pub watch_log: WatchLog,
    /// Changes that never reached the window (see [`KvWatch::missed`]).
    watch_missed: u64,
    watch_status: Status,
}

impl KvPanel {
    /// Shows `bucket` (from another view).
    pub fn select_bucket(&mut self, bucket: &str) {
        self.choose(Selected::Kv(bucket.to_string()));
    }

    fn choose(&mut self, selected: Selected) {
        if self.selected.as_ref() != Some(&selected) {
            *self = KvPanel {
                selected: Some(selected),
                ..KvPanel::default()
            };
        }
    }

    /// Whether a watch is running.
    pub fn watching(&self) -> bool {
        self.watch.is_some()
    }

    /// Ends the watch, if one runs (the view went away, or the user turned it off).
    pub fn stop_watch(&mut self) {
        if self.watch.take().is_some() {
            self.watch_started = false;
            self.watch_status = Status::Done("stopped watching".into());
        }
    }

    fn start_watch(&mut self, bucket: &str, requests: &mut Requests<'_>) {
        self.watch_log = WatchLog::default();
        self.watch_missed = 0;
        self.watch_started = false;
        match requests.watch_kv(bucket) {
            Ok(w) => {
                self.watch = Some(w);
                self.watch_status = Status::Waiting(0, format!("starting to watch {bucket}"));
            }
            Err(e) => self.watch_status = Status::Failed(e),
        }
    }

    /// Takes what the watch sent since the last frame (never waits).
    pub fn poll_watch(&mut self) {
        let Some(w) = &self.watch else {
            return;
        };
        self.watch_missed = w.missed();
        let bucket = w.bucket.clone();
        for event in w.poll() {
            match event {
                WatchEvent::Started { consumer } => {
                    self.watch_started = true;
                    self.watch_status = Status::Done(format!(
                        "watching {bucket} since {} (consumer {consumer})",
                        format::clock(SystemTime::now())
                    ));
                    // Read once more: what was stored before the watch began is in it.
                    self.keys_at_seq = None;
                }
                WatchEvent::Change(entry) => {
                    if let Some((keys, total)) = &mut self.keys {
                        model::apply_change(keys, total, &entry);
                    }
                    self.watch_log.push(entry);
                }
                WatchEvent::Failed(e) => {
                    self.watch = None;
                    self.watch_started = false;
                    self.watch_status = Status::Failed(e);
                    break;
                }
            }
        }
    }

    /// Whether the key list follows the watch alone: it runs and has missed nothing.
    fn keys_follow_watch(&self) -> bool {
        self.watch.is_some() && self.watch_started && self.watch_missed == 0
    }

    /// Takes an answer to one of this view's requests; false when it is not one.
    pub fn on_answer(&mut self, answer: &JsAnswer) -> bool {
        let id = answer.id;
        let failed = |e: &String| Status::Failed(e.clone());
        if self.keys_status.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::KvKeys(keys, total)) => {
                    let (mut keys, mut total) = (keys.clone(), *total);
                    // A read that crossed watched changes: the newer revision stays.
                    for change in self.watch_log.changes() {
                        model::apply_change(&mut keys, &mut total, change);
                    }
                    self.keys = Some((keys, total));
                    self.keys_status = Status::Idle;
                }
                Ok(_) => self.keys_status = Status::Idle,
                Err(e) => self.keys_status = failed(e),
            }
        } else if self.history_status.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::KvHistory(h)) => {
                    self.history = Some(h.clone());
                    self.history_status = Status::Idle;
                }
                Ok(_) => self.history_status = Status::Idle,
                Err(e) => self.history_status = failed(e),
            }
        } else if self.put_status.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::Done(text)) => {
                    self.put_status = Status::Done(text.clone());
                    // The keys are read again when the stream's last sequence moves.
                    self.history = None;
                }
                Ok(_) => self.put_status = Status::Idle,
                Err(e) => self.put_status = failed(e),
            }
        } else if self.objects_status.waiting_for(id) {
            match &answer.result {
                Ok(JsReply::Objects(list, total)) => {
                    self.objects = Some((list.clone(), *total));
                    self.objects_status = Status::Idle;
                }
                Ok(_) => self.objects_status = Status::Idle,
                Err(e) => self.objects_status = failed(e),
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
        let buckets: Vec<&StreamSummary> = inv
            .streams
            .iter()
            .filter(|s| kv_bucket(&s.name).is_some())
            .collect();
        let stores: Vec<&StreamSummary> = inv
            .streams
            .iter()
            .filter(|s| obj_bucket(&s.name).is_some())
            .collect();
        if self.selected.is_none() {
            if let Some(first) = buckets.first().and_then(|s| kv_bucket(&s.name)) {
                self.choose(Selected::Kv(first.to_string()));
            }
        }
        egui::Panel::left("kv_buckets")
            .resizable(true)
            .default_size(230.0)
            .min_size(180.0)
            .show(ui, |ui| self.bucket_list(ui, &buckets, &stores));
        let selected = self.selected.clone();
        egui::CentralPanel::no_frame().show(ui, |ui| match selected {
            Some(Selected::Kv(bucket)) => {
                let stream = buckets
                    .iter()
                    .find(|s| kv_bucket(&s.name) == Some(bucket.as_str()));
                match stream {
                    Some(stream) => self.bucket(ui, &bucket, stream, requests, jumps),
                    None => {
                        ui.label(RichText::new(format!("No bucket {bucket} any more.")).weak());
                    }
                }
            }
            Some(Selected::Objects(bucket)) => {
                let stream = stores
                    .iter()
                    .find(|s| obj_bucket(&s.name) == Some(bucket.as_str()));
                match stream {
                    Some(stream) => self.object_store(ui, &bucket, stream, requests, jumps),
                    None => {
                        ui.label(
                            RichText::new(format!("No object store {bucket} any more.")).weak(),
                        );
                    }
                }
            }
            None => {
                ui.label(
                    RichText::new(
                        "No key-value bucket or object store yet. Their streams are named \
                         KV_<bucket> and OBJ_<bucket> (nats kv add, js.create_key_value).",
                    )
                    .weak(),
                );
            }
        });
    }

    fn bucket_list(&mut self, ui: &mut Ui, buckets: &[&StreamSummary], stores: &[&StreamSummary]) {
        ui.strong(format!("Key-value buckets ({})", buckets.len()));
        let mut pick = None;
        for s in buckets {
            let Some(name) = kv_bucket(&s.name) else {
                continue;
            };
            let on = self.selected == Some(Selected::Kv(name.to_string()));
            ui.horizontal(|ui| {
                if ui.selectable_label(on, name).clicked() {
                    pick = Some(Selected::Kv(name.to_string()));
                }
                ui.label(
                    RichText::new(format!(
                        "{} keys, {}",
                        s.num_subjects,
                        format::bytes(s.bytes)
                    ))
                    .small()
                    .weak(),
                );
            });
        }
        ui.add_space(8.0);
        ui.strong(format!("Object stores ({})", stores.len()));
        for s in stores {
            let Some(name) = obj_bucket(&s.name) else {
                continue;
            };
            let on = self.selected == Some(Selected::Objects(name.to_string()));
            ui.horizontal(|ui| {
                if ui.selectable_label(on, name).clicked() {
                    pick = Some(Selected::Objects(name.to_string()));
                }
                ui.label(RichText::new(format::bytes(s.bytes)).small().weak());
            });
        }
        if let Some(p) = pick {
            self.choose(p);
        }
    }

    fn bucket(
        &mut self,
        ui: &mut Ui,
        bucket: &str,
        stream: &StreamSummary,
        requests: &mut Requests<'_>,
        jumps: &mut Vec<Jump>,
    ) {
        if self.keys_follow_watch() && self.keys_at_seq.is_some() && self.keys.is_some() {
            // The watch brings every change; reading all keys again would only repeat it.
            self.keys_at_seq = Some(stream.last_seq);
        }
        let stale = self.keys_at_seq != Some(stream.last_seq);
        if stale && !matches!(self.keys_status, Status::Waiting(..) | Status::Failed(_)) {
            self.keys_at_seq = Some(stream.last_seq);
            let what = format!("reading the keys of {bucket}");
            self.keys_status.send(
                requests,
                JsRequest::KvKeys {
                    bucket: bucket.to_string(),
                },
                &what,
            );
        }
        ui.horizontal(|ui| {
            ui.heading(bucket);
            ui.label(
                RichText::new(format!(
                    "history {} per key, {}",
                    model::limit(stream.max_msgs_per_subject, |n| n.to_string()),
                    stream.storage
                ))
                .weak(),
            );
            if ui.link(format!("stream {}", stream.name)).clicked() {
                jumps.push(Jump::Stream(stream.name.clone()));
            }
            if ui.button("Refresh").clicked() {
                self.keys_at_seq = None;
                self.keys_status = Status::Idle;
            }
            let mut on = self.watch.is_some();
            if ui
                .checkbox(&mut on, "Watch")
                .on_hover_text(
                    "Follow the bucket's changes as they are stored (puts, deletes, purges), \
                     as nats kv watch does: an ephemeral consumer on $KV.<bucket>.>, deleted \
                     when the watch stops (turned off, another bucket, another view)",
                )
                .changed()
            {
                if on {
                    self.start_watch(bucket, requests);
                } else {
                    self.stop_watch();
                }
            }
        });
        ui.horizontal(|ui| {
            widgets::filter_box(ui, "Keys", &mut self.key_filter, "part of a key", 200.0);
            ui.checkbox(&mut self.show_deleted, "Show deleted");
        });
        self.keys_status.show(ui);
        let selected = self.selected_key.clone().and_then(|k| {
            self.keys
                .as_ref()
                .and_then(|(keys, _)| keys.iter().find(|e| e.key == k).cloned())
        });
        egui::Panel::bottom("kv_put")
            .resizable(false)
            .show(ui, |ui| self.put_form(ui, bucket, requests));
        if self.watch.is_some() || !self.watch_log.is_empty() || self.watch_status != Status::Idle {
            egui::Panel::bottom("kv_watch")
                .resizable(true)
                .default_size(240.0)
                .min_size(90.0)
                .show(ui, |ui| self.watch_list(ui));
        }
        if let Some(entry) = &selected {
            egui::Panel::right("kv_key_detail")
                .resizable(true)
                .default_size(400.0)
                .min_size(300.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("kv_key_scroll")
                        .show(ui, |ui| self.key_detail(ui, bucket, entry, requests));
                });
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.key_table(ui));
    }

    fn key_table(&mut self, ui: &mut Ui) {
        let Some((keys, total)) = &self.keys else {
            return;
        };
        let f = self.key_filter.trim().to_lowercase();
        let rows: Vec<&KvEntry> = keys
            .iter()
            .filter(|e| self.show_deleted || e.operation == model::KvOperation::Put)
            .filter(|e| f.is_empty() || e.key.to_lowercase().contains(&f))
            .collect();
        if *total > keys.len() {
            ui.label(
                RichText::new(format!(
                    "{} of {total} keys read (at most {MAX_KEY_VALUES} values are read at once)",
                    keys.len()
                ))
                .color(WARN),
            );
        }
        let now = SystemTime::now();
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut clicked = None;
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("kv_keys_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(220.0).at_least(80.0).clip(true))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(80.0))
            .column(Column::remainder().at_least(120.0).clip(true))
            .auto_shrink([false, false])
            .header(22.0, |mut header| {
                for title in ["Key", "Revision", "Updated", "Value"] {
                    header.col(|ui| {
                        ui.label(RichText::new(title).strong());
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let e = rows[row.index()];
                    row.set_selected(self.selected_key.as_deref() == Some(e.key.as_str()));
                    row.col(|ui| {
                        ui.monospace(&e.key);
                    });
                    row.col(|ui| {
                        ui.label(e.revision.to_string());
                    });
                    row.col(|ui| {
                        ui.label(model::ago(now, e.time));
                    });
                    row.col(|ui| {
                        if e.operation == model::KvOperation::Put {
                            ui.label(model::preview(&e.value, PREVIEW_CHARS));
                        } else {
                            ui.label(RichText::new(e.operation.label()).color(NO_INTEREST));
                        }
                    });
                    if row.response().clicked() {
                        clicked = Some(e.key.clone());
                    }
                });
            });
        if let Some(key) = clicked {
            if self.selected_key.as_ref() == Some(&key) {
                self.selected_key = None;
            } else {
                self.put_key = key.clone();
                self.selected_key = Some(key);
                self.history = None;
                self.history_status = Status::Idle;
                self.confirm_delete = None;
            }
        }
    }

    fn key_detail(&mut self, ui: &mut Ui, bucket: &str, e: &KvEntry, requests: &mut Requests<'_>) {
        ui.heading(&e.key);
        ui.label(
            RichText::new(format!(
                "revision {}, {}, {}",
                e.revision,
                e.operation.label(),
                e.time.map_or_else(|| "-".into(), format::clock)
            ))
            .weak(),
        );
        if e.operation == model::KvOperation::Put {
            payload_viewer(ui, "kv_value", None, &e.value, &mut self.payload_view);
            if ui.button("Edit in the form").clicked() {
                self.put_key = e.key.clone();
                self.put_value = String::from_utf8_lossy(&e.value).into_owned();
            }
        }
        ui.horizontal(|ui| {
            if ui.button("History").clicked() {
                let what = format!("reading the history of {}", e.key);
                self.history_status.send(
                    requests,
                    JsRequest::KvHistory {
                        bucket: bucket.to_string(),
                        key: e.key.clone(),
                    },
                    &what,
                );
            }
            if e.operation == model::KvOperation::Put
                && ui
                    .button(RichText::new("Delete key...").color(NO_INTEREST))
                    .clicked()
            {
                self.confirm_delete = Some(e.key.clone());
            }
        });
        if let Some(key) = self.confirm_delete.clone() {
            match confirm(
                ui,
                &format!("Delete {key} from {bucket}? Its history is kept, marked deleted."),
                "Delete key",
            ) {
                Some(true) => {
                    self.confirm_delete = None;
                    let what = format!("deleting {key}");
                    self.put_status.send(
                        requests,
                        JsRequest::KvDelete {
                            bucket: bucket.to_string(),
                            key,
                        },
                        &what,
                    );
                }
                Some(false) => self.confirm_delete = None,
                None => {}
            }
        }
        self.history_status.show(ui);
        if let Some(history) = &self.history {
            ui.label(
                RichText::new(format!("History ({} revisions)", history.len()))
                    .small()
                    .weak(),
            );
            egui::Grid::new("kv_history")
                .num_columns(4)
                .striped(true)
                .spacing([10.0, 2.0])
                .show(ui, |ui| {
                    for h in history.iter().rev() {
                        ui.label(h.revision.to_string());
                        ui.label(h.time.map_or_else(|| "-".into(), format::clock));
                        ui.label(h.operation.label());
                        ui.label(model::preview(&h.value, 40));
                        ui.end_row();
                    }
                });
        }
    }

    /// The watch's changes, newest first, with what it could not keep or missed.
    fn watch_list(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            ui.strong("Changes");
            ui.label(
                RichText::new(format!(
                    "{} change{}",
                    self.watch_log.len(),
                    if self.watch_log.len() == 1 { "" } else { "s" }
                ))
                .weak(),
            );
            if self.watch_log.overflowed > 0 {
                widgets::badge(
                    ui,
                    &format!("{} older not kept", self.watch_log.overflowed),
                    WARN,
                )
                .on_hover_text(format!(
                    "The list keeps the last {} changes",
                    WatchLog::CAPACITY
                ));
            }
            if self.watch_missed > 0 {
                widgets::badge(ui, &format!("{} missed", self.watch_missed), WARN).on_hover_text(
                    "Changes that never reached the window (it fell behind, or the \
                         connection lost them); the keys are read again to catch up",
                );
            }
            self.watch_status.show(ui);
        });
        let now = SystemTime::now();
        egui::ScrollArea::vertical()
            .id_salt("kv_watch_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                egui::Grid::new("kv_watch_grid")
                    .num_columns(5)
                    .striped(true)
                    .spacing([14.0, 2.0])
                    .show(ui, |ui| {
                        // Not the key table's headings: a reader (and a test) finds
                        // either table's columns by name.
                        for h in ["Time", "Change", "Key changed", "Rev", "Preview"] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for e in self.watch_log.changes() {
                            ui.label(e.time.map_or_else(|| "-".into(), format::clock))
                                .on_hover_text(model::ago(now, e.time));
                            if e.operation == model::KvOperation::Put {
                                ui.label(e.operation.label());
                            } else {
                                ui.label(RichText::new(e.operation.label()).color(NO_INTEREST));
                            }
                            ui.monospace(&e.key);
                            ui.label(e.revision.to_string());
                            ui.label(model::preview(&e.value, PREVIEW_CHARS));
                            ui.end_row();
                        }
                    });
            });
    }

    fn put_form(&mut self, ui: &mut Ui, bucket: &str, requests: &mut Requests<'_>) {
        ui.add_space(4.0);
        ui.strong(format!("Put a value into {bucket}"));
        ui.horizontal(|ui| {
            let l = ui.label("Key name");
            ui.add(
                egui::TextEdit::singleline(&mut self.put_key)
                    .hint_text("db.url")
                    .desired_width(200.0),
            )
            .labelled_by(l.id);
            let l = ui.label("New value");
            ui.add(
                egui::TextEdit::multiline(&mut self.put_value)
                    .desired_rows(1)
                    .desired_width(320.0),
            )
            .labelled_by(l.id);
            let key = self.put_key.trim().to_string();
            let valid = model::valid_key(&key);
            if ui
                .add_enabled(valid, egui::Button::new("Put"))
                .on_disabled_hover_text(
                    "A key is tokens of letters, digits and - _ / = between dots",
                )
                .clicked()
            {
                let what = format!("putting {key}");
                self.put_status.send(
                    requests,
                    JsRequest::KvPut {
                        bucket: bucket.to_string(),
                        key,
                        value: self.put_value.clone().into_bytes(),
                    },
                    &what,
                );
            }
        });
        self.put_status.show(ui);
        ui.add_space(2.0);
    }

    fn object_store(
        &mut self,
        ui: &mut Ui,
        bucket: &str,
        stream: &StreamSummary,
        requests: &mut Requests<'_>,
        jumps: &mut Vec<Jump>,
    ) {
        let stale = self.objects_at_seq != Some(stream.last_seq);
        if stale && !matches!(self.objects_status, Status::Waiting(..) | Status::Failed(_)) {
            self.objects_at_seq = Some(stream.last_seq);
            let what = format!("reading the objects of {bucket}");
            self.objects_status.send(
                requests,
                JsRequest::Objects {
                    bucket: bucket.to_string(),
                },
                &what,
            );
        }
        ui.horizontal(|ui| {
            ui.heading(bucket);
            ui.label(
                RichText::new(format!("object store, {}", format::bytes(stream.bytes))).weak(),
            );
            if ui.link(format!("stream {}", stream.name)).clicked() {
                jumps.push(Jump::Stream(stream.name.clone()));
            }
            if ui.button("Refresh").clicked() {
                self.objects_at_seq = None;
                self.objects_status = Status::Idle;
            }
        });
        self.objects_status.show(ui);
        let Some((objects, total)) = &self.objects else {
            return;
        };
        if objects.is_empty() {
            ui.label(RichText::new("No objects.").weak());
            return;
        }
        if *total > objects.len() {
            ui.label(RichText::new(format!("{} of {total} objects", objects.len())).color(WARN));
        }
        egui::Grid::new("objects_grid")
            .num_columns(5)
            .striped(true)
            .spacing([16.0, 3.0])
            .show(ui, |ui| {
                for h in ["Object", "Size", "Chunks", "Modified", "Digest"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for o in objects {
                    ui.monospace(&o.name).on_hover_text(&o.description);
                    ui.label(format::bytes(o.size));
                    ui.label(o.chunks.to_string());
                    ui.label(&o.mtime);
                    ui.monospace(&o.digest);
                    ui.end_row();
                }
            });
    }
}
