//! Record & replay: record the inspected server's traffic into a file (live counters,
//! drops, stop with the final counts), open a recording (summary, rate plot, its messages in
//! the same inspector as live traffic) and replay it into the inspected server or another
//! one, with speed, passes, subject filter, remaps, pause and stop. Everything slow runs
//! off the UI thread (`gui::recording_tasks`); this file only draws and steers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use egui::{Color32, RichText, Ui};
use egui_plot::{Line, Plot, PlotPoints};

use super::messages::MessagesPanel;
use super::Command;
use crate::connect::ConnectArgs;
use crate::gui::model::connections::display_name;
use crate::gui::model::format;
use crate::gui::model::recording::{
    default_recording_path, duration_text, parse_patterns, parse_remaps, replay_fraction,
    replay_progress_text,
};
use crate::gui::recording_tasks::{
    file_dialog, DialogKind, LoadJob, Loaded, Pending, ReplayJob, BROWSE_LIMIT,
};
use crate::gui::state::{MessageLog, UiState};
use crate::gui::widgets::{self, NO_INTEREST, OK, WARN};
use crate::inspect::control::{ControlError, RecordCounters, RecordingStatus};
use crate::inspect::SourceControl;
use crate::record::replay::ReplayOutcome;
use crate::record::select::Selection;
use crate::record::{ReplayOptions, ReplayState, Speed};

/// The red of the recording indicator.
pub const REC: Color32 = Color32::from_rgb(0xe0, 0x30, 0x30);
/// How often counters and progress refresh while something runs.
const REFRESH: Duration = Duration::from_millis(200);
/// Subjects and connections listed in the summary.
const SUMMARY_ROWS: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Record,
    Summary,
    Browse,
    Replay,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Record, Tab::Summary, Tab::Browse, Tab::Replay];

    fn label(self) -> &'static str {
        match self {
            Tab::Record => "New recording",
            Tab::Summary => "Summary",
            Tab::Browse => "Browse",
            Tab::Replay => "Replay",
        }
    }
}

/// A recording that this view stopped.
#[derive(Debug, Clone)]
pub struct Finished {
    pub path: PathBuf,
    pub counters: RecordCounters,
    pub elapsed: Duration,
}

/// The replay form: where, how fast, how often, what.
#[derive(Debug, Clone)]
pub struct ReplayForm {
    /// False: the inspected server; true: `remote`.
    pub to_remote: bool,
    pub remote: RemoteFields,
    pub speed: String,
    pub loops: u32,
    pub subjects: String,
    pub remaps: String,
}

impl Default for ReplayForm {
    fn default() -> Self {
        ReplayForm {
            to_remote: false,
            remote: RemoteFields::default(),
            speed: "1x".into(),
            loops: 1,
            subjects: String::new(),
            remaps: String::new(),
        }
    }
}

/// Another server's URL and credentials, as the NATS CLI names them.
#[derive(Debug, Clone)]
pub struct RemoteFields {
    pub server: String,
    pub user: String,
    pub password: String,
    pub token: String,
    pub nkey: String,
    pub creds: String,
    pub tlscert: String,
    pub tlskey: String,
    pub tlsca: String,
}

impl Default for RemoteFields {
    fn default() -> Self {
        RemoteFields {
            server: crate::connect::DEFAULT_SERVER_URL.into(),
            user: String::new(),
            password: String::new(),
            token: String::new(),
            nkey: String::new(),
            creds: String::new(),
            tlscert: String::new(),
            tlskey: String::new(),
            tlsca: String::new(),
        }
    }
}

impl RemoteFields {
    pub fn connect_args(&self) -> ConnectArgs {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let path = |s: &str| text(s).map(PathBuf::from);
        ConnectArgs {
            server: self.server.trim().to_string(),
            user: text(&self.user),
            password: text(&self.password),
            token: text(&self.token),
            nkey: text(&self.nkey),
            creds: path(&self.creds),
            tlscert: path(&self.tlscert),
            tlskey: path(&self.tlskey),
            tlsca: path(&self.tlsca),
        }
    }
}

pub struct RecordingsPanel {
    pub tab: Tab,
    /// Subject patterns to record (empty: everything).
    pub record_subjects: String,
    pub record_path: String,
    /// The default path last put in the field: replaced by a fresh timestamp at each
    /// Record unless the user typed another.
    auto_path: String,
    starting: Option<Pending<Result<(), ControlError>>>,
    stopping: Option<Pending<Result<RecordCounters, ControlError>>>,
    /// The running recording, polled each frame.
    pub live: Option<RecordingStatus>,
    started_at: Option<Instant>,
    pub record_error: Option<String>,
    pub finished: Option<Finished>,

    pub open_path: String,
    loading: Option<LoadJob>,
    pub opened: Option<Loaded>,
    pub open_error: Option<String>,
    dialog: Option<(DialogKind, Pending<Option<PathBuf>>)>,

    /// The opened recording's messages, in their own history (not the live one).
    pub browse: UiState,
    browse_panel: MessagesPanel,

    pub replay_form: ReplayForm,
    replay: Option<ReplayJob>,
    pub replay_result: Option<Result<ReplayOutcome, String>>,
    /// How the inspector reaches the inspected server (the default replay target).
    source_client: ConnectArgs,
    runtime: Option<tokio::runtime::Handle>,
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn fresh_path() -> String {
    default_recording_path(home_dir().as_deref(), SystemTime::now())
        .display()
        .to_string()
}

impl RecordingsPanel {
    pub fn new(source_client: ConnectArgs, runtime: Option<tokio::runtime::Handle>) -> Self {
        let path = fresh_path();
        RecordingsPanel {
            tab: Tab::default(),
            record_subjects: String::new(),
            record_path: path.clone(),
            auto_path: path,
            starting: None,
            stopping: None,
            live: None,
            started_at: None,
            record_error: None,
            finished: None,
            open_path: String::new(),
            loading: None,
            opened: None,
            open_error: None,
            dialog: None,
            browse: UiState::new(),
            browse_panel: MessagesPanel::default(),
            replay_form: ReplayForm::default(),
            replay: None,
            replay_result: None,
            source_client,
            runtime,
        }
    }

    /// The inspector looks at another server: it is the default replay target from now on.
    pub fn set_source_client(&mut self, client: ConnectArgs) {
        self.source_client = client;
    }

    pub fn set_runtime(&mut self, runtime: tokio::runtime::Handle) {
        self.runtime = Some(runtime);
    }

    /// True while a recording runs (for the status bar).
    pub fn recording(&self) -> bool {
        self.live.is_some()
    }

    /// Collects what background work finished and the recording's live counters; asks for
    /// a repaint soon while anything runs. Called once a frame, whatever the view.
    pub fn poll(&mut self, control: &Arc<dyn SourceControl>, ctx: &egui::Context) {
        self.live = control.recording();
        if let Some(done) = self.starting.as_ref().and_then(Pending::poll) {
            self.starting = None;
            match done.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(()) => self.started_at = Some(Instant::now()),
                Err(e) => self.record_error = Some(format!("can't start recording: {e}")),
            }
        }
        if let Some(done) = self.stopping.as_ref().and_then(Pending::poll) {
            self.stopping = None;
            let elapsed = self
                .started_at
                .take()
                .map(|t| t.elapsed())
                .unwrap_or_default();
            match done.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(counters) => {
                    self.finished = Some(Finished {
                        path: PathBuf::from(&self.record_path),
                        counters,
                        elapsed,
                    });
                    self.record_path = fresh_path();
                    self.auto_path = self.record_path.clone();
                }
                Err(e) => self.record_error = Some(format!("stopping the recording: {e}")),
            }
        }
        if self.live.is_some() && self.started_at.is_none() {
            // Started before this view looked (or by another window): count from now.
            self.started_at = Some(Instant::now());
        }
        if let Some(done) = self.loading.as_ref().and_then(LoadJob::poll) {
            self.loading = None;
            match done {
                Ok(loaded) => self.install(loaded),
                Err(e) if e == "cancelled" => {}
                Err(e) => self.open_error = Some(e),
            }
        }
        if let Some(done) = self.dialog.as_ref().and_then(|(_, p)| p.poll()) {
            if let Some((kind, _)) = self.dialog.take() {
                match (kind, done) {
                    (DialogKind::Save, Ok(Some(path))) => {
                        self.record_path = path.display().to_string();
                    }
                    (DialogKind::Open, Ok(Some(path))) => {
                        self.open_path = path.display().to_string();
                        self.open(ctx);
                    }
                    _ => {}
                }
            }
        }
        if let Some(done) = self.replay.as_ref().and_then(ReplayJob::poll) {
            self.replay_result = Some(done);
            self.replay = None;
        }
        let busy = self.live.is_some()
            || self.starting.is_some()
            || self.stopping.is_some()
            || self.loading.is_some()
            || self.replay.is_some()
            || self.dialog.is_some();
        if busy {
            ctx.request_repaint_after(REFRESH);
        }
    }

    /// The status bar's "REC" indicator while recording; true when clicked.
    pub fn status_badge(&self, ui: &mut Ui) -> bool {
        let Some(live) = &self.live else {
            return false;
        };
        rec_dot(ui);
        let mut text = format!("REC {} msgs", format::count(live.counters.messages));
        if live.error.is_some() {
            text.push_str(", write failed");
        }
        let clicked = ui
            .add(egui::Button::new(RichText::new(text).color(REC).strong()).frame(false))
            .on_hover_text(format!(
                "Recording into {}; click to open Record & replay",
                live.path.display()
            ))
            .clicked();
        ui.separator();
        clicked
    }

    pub fn ui(
        &mut self,
        ui: &mut Ui,
        control: &Arc<dyn SourceControl>,
        commands: &mut Vec<Command>,
    ) {
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                if ui.selectable_label(self.tab == tab, tab.label()).clicked() {
                    self.tab = tab;
                }
            }
            if self.live.is_some() && self.tab != Tab::Record {
                ui.separator();
                ui.label(RichText::new("recording").color(REC).strong());
            }
        });
        ui.separator();
        match self.tab {
            Tab::Record => self.record_ui(ui, control),
            Tab::Summary => {
                self.open_bar(ui);
                self.summary_ui(ui);
            }
            Tab::Browse => {
                self.open_bar(ui);
                self.browse_ui(ui, commands);
            }
            Tab::Replay => {
                self.open_bar(ui);
                self.replay_ui(ui);
            }
        }
    }

    // ---- recording ----

    fn record_ui(&mut self, ui: &mut Ui, control: &Arc<dyn SourceControl>) {
        let (patterns, bad) = parse_patterns(&self.record_subjects);
        let busy = self.starting.is_some() || self.stopping.is_some();
        let recording = self.live.is_some();
        ui.label(
            RichText::new(
                "Records every message the inspected server receives into a file, off the \
                 publish path: if the disk falls behind or the broker needs the CPU, \
                 copies are dropped and counted, never the messages themselves.",
            )
            .weak(),
        );
        ui.add_space(4.0);
        egui::Grid::new("record_form")
            .num_columns(2)
            .spacing([10.0, 6.0])
            .show(ui, |ui| {
                let l = ui.label("Subject patterns");
                ui.vertical(|ui| {
                    ui.add_enabled(
                        !recording,
                        egui::TextEdit::singleline(&mut self.record_subjects)
                            .hint_text("everything; or e.g. orders.> telemetry.*.temp")
                            .desired_width(420.0),
                    )
                    .labelled_by(l.id);
                    for b in &bad {
                        ui.label(
                            RichText::new(format!("not a valid subject: {b}")).color(NO_INTEREST),
                        );
                    }
                });
                ui.end_row();
                let l = ui.label("File");
                ui.horizontal(|ui| {
                    ui.add_enabled(
                        !recording,
                        egui::TextEdit::singleline(&mut self.record_path).desired_width(420.0),
                    )
                    .labelled_by(l.id);
                    if ui
                        .add_enabled(!recording, egui::Button::new("Choose file"))
                        .on_hover_text("Pick where to save (a native dialog, where available)")
                        .clicked()
                    {
                        self.show_dialog(ui.ctx(), DialogKind::Save);
                    }
                });
                ui.end_row();
            });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if recording {
                if ui
                    .add_enabled(!busy, egui::Button::new("Stop recording"))
                    .clicked()
                {
                    self.stop_recording(ui.ctx(), control);
                }
            } else {
                let can = !busy && bad.is_empty() && !self.record_path.trim().is_empty();
                if ui
                    .add_enabled(can, egui::Button::new(RichText::new("Record").color(REC)))
                    .on_hover_text("Start recording into the file above")
                    .clicked()
                {
                    self.start_recording(ui.ctx(), control, patterns);
                }
            }
            if self.starting.is_some() {
                ui.spinner();
                ui.label("starting");
            }
            if self.stopping.is_some() {
                ui.spinner();
                ui.label("writing what is queued and closing the file");
            }
        });
        if let Some(e) = &self.record_error {
            ui.label(RichText::new(e).color(NO_INTEREST));
        }
        if let Some(live) = self.live.clone() {
            ui.add_space(6.0);
            self.live_counters(ui, &live);
        }
        if let Some(f) = self.finished.clone() {
            if self.live.is_none() {
                ui.add_space(6.0);
                ui.separator();
                ui.label(format!(
                    "Saved {} messages ({}) in {}, {} dropped, to {}",
                    f.counters.messages,
                    format::bytes(f.counters.bytes),
                    duration_text(f.elapsed),
                    f.counters.drops,
                    f.path.display()
                ));
                if f.counters.drops > 0 {
                    drops_note(ui, f.counters.drops);
                }
                if ui.button("Open this recording").clicked() {
                    self.open_path = f.path.display().to_string();
                    self.open(ui.ctx());
                    self.tab = Tab::Summary;
                }
            }
        }
    }

    fn live_counters(&self, ui: &mut Ui, live: &RecordingStatus) {
        ui.horizontal(|ui| {
            rec_dot(ui);
            ui.label(RichText::new("recording").color(REC).strong());
            ui.monospace(live.path.display().to_string());
        });
        if !live.subjects.is_empty() {
            ui.label(format!("Subjects: {}", live.subjects.join(" ")));
        }
        let elapsed = self.started_at.map(|t| t.elapsed()).unwrap_or_default();
        let c = &live.counters;
        ui.horizontal(|ui| {
            widgets::stat(ui, "Messages", &c.messages.to_string());
            ui.add_space(16.0);
            widgets::stat(ui, "Bytes", &format::bytes(c.bytes));
            ui.add_space(16.0);
            ui.vertical(|ui| {
                ui.label(RichText::new("Dropped").small().weak());
                let text = RichText::new(c.drops.to_string()).size(18.0).strong();
                ui.label(if c.drops > 0 { text.color(WARN) } else { text })
                    .on_hover_text(DROPS_EXPLAINED);
            });
            ui.add_space(16.0);
            widgets::stat(ui, "Elapsed", &duration_text(elapsed));
            ui.add_space(16.0);
            widgets::stat(ui, "Queued", &format::bytes(c.queued_bytes as u64));
        });
        if let Some(e) = &live.error {
            ui.label(
                RichText::new(format!(
                    "Writing failed: {e}. Messages from now on count as dropped."
                ))
                .color(NO_INTEREST),
            );
        }
    }

    fn start_recording(
        &mut self,
        ctx: &egui::Context,
        control: &Arc<dyn SourceControl>,
        subjects: Vec<String>,
    ) {
        if self.record_path == self.auto_path {
            self.record_path = fresh_path();
            self.auto_path = self.record_path.clone();
        }
        let path = PathBuf::from(self.record_path.trim());
        self.record_error = None;
        self.finished = None;
        let control = control.clone();
        let wake = waker(ctx);
        self.starting = Some(Pending::thread("record-start", wake, move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ControlError::Failed(format!("can't create {}: {e}", dir.display()))
                })?;
            }
            control.start_recording(&path, subjects)
        }));
    }

    fn stop_recording(&mut self, ctx: &egui::Context, control: &Arc<dyn SourceControl>) {
        if let Some(live) = &self.live {
            self.record_path = live.path.display().to_string();
        }
        let control = control.clone();
        self.stopping = Some(Pending::thread("record-stop", waker(ctx), move || {
            control.stop_recording()
        }));
    }

    // ---- opening ----

    fn show_dialog(&mut self, ctx: &egui::Context, kind: DialogKind) {
        if self.dialog.is_some() {
            return;
        }
        let start = match kind {
            DialogKind::Save => Some(PathBuf::from(&self.record_path)),
            DialogKind::Open => Some(PathBuf::from(&self.open_path))
                .filter(|p| !p.as_os_str().is_empty())
                .or_else(|| Some(PathBuf::from(&self.record_path))),
        };
        self.dialog = Some((kind, file_dialog(kind, start, waker(ctx))));
    }

    /// Starts reading the file in `open_path` (replacing one being read).
    pub fn open(&mut self, ctx: &egui::Context) {
        if let Some(job) = self.loading.take() {
            job.cancel();
        }
        self.open_error = None;
        let path = PathBuf::from(self.open_path.trim());
        self.loading = Some(LoadJob::spawn(path, waker(ctx)));
    }

    fn install(&mut self, loaded: Loaded) {
        let mut browse = UiState::new();
        browse.messages = MessageLog::new(BROWSE_LIMIT);
        for c in &loaded.summary.connections {
            browse.names.insert(c.cid, c.name.clone());
        }
        browse
            .names
            .entry(0)
            .or_insert_with(|| "not recorded".into());
        for row in &loaded.rows {
            browse.messages.push(row.clone());
        }
        self.browse = browse;
        self.browse_panel = MessagesPanel::default();
        self.opened = Some(loaded);
        self.replay_result = None;
    }

    fn open_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let l = ui.label("Recording file");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.open_path)
                        .hint_text("path of a .rec file")
                        .desired_width(420.0),
                )
                .labelled_by(l.id);
            let entered = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Choose file")
                .on_hover_text("A native dialog, where available; or type the path")
                .clicked()
            {
                self.show_dialog(ui.ctx(), DialogKind::Open);
            }
            let can_open = !self.open_path.trim().is_empty();
            if ui
                .add_enabled(can_open, egui::Button::new("Open"))
                .clicked()
                || (entered && can_open)
            {
                self.open(ui.ctx());
            }
        });
        if let Some(job) = &self.loading {
            let mut cancel = false;
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(job.fraction())
                        .desired_width(300.0)
                        .show_percentage(),
                );
                ui.label(format!("reading {}", job.path.display()));
                cancel = ui.button("Cancel").clicked();
            });
            if cancel {
                job.cancel();
            }
        }
        if let Some(e) = &self.open_error {
            ui.label(RichText::new(e).color(NO_INTEREST));
        }
        ui.separator();
    }

    // ---- summary ----

    fn summary_ui(&mut self, ui: &mut Ui) {
        let Some(opened) = &self.opened else {
            ui.label(RichText::new("Open a recording to see what it holds.").weak());
            return;
        };
        let s = &opened.summary;
        let mut browse_subject = None;
        egui::ScrollArea::vertical()
            .id_salt("recording_summary")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.label(
                    RichText::new(format!(
                        "{} messages, {}, on {} subjects, over {}",
                        s.messages,
                        format::bytes(s.bytes),
                        s.subjects.len() as u64 + u64::from(s.other_subjects > 0),
                        duration_text(Duration::from_nanos(s.span_ns()))
                    ))
                    .strong(),
                );
                if let Some(tail) = &s.tail_text {
                    widgets::badge(
                        ui,
                        &format!("Torn tail: {tail}; everything before it is shown"),
                        WARN,
                    );
                } else if !s.clean_end {
                    widgets::badge(
                        ui,
                        "No end record: the recording did not stop cleanly (still being written?)",
                        WARN,
                    );
                }
                if s.drops > 0 {
                    drops_note(ui, s.drops);
                }
                egui::Grid::new("recording_facts")
                    .num_columns(2)
                    .spacing([12.0, 3.0])
                    .show(ui, |ui| {
                        ui.label(RichText::new("File").weak());
                        ui.monospace(format!(
                            "{} ({})",
                            opened.path.display(),
                            format::bytes(opened.file_bytes)
                        ));
                        ui.end_row();
                        if let Some(meta) = &s.meta {
                            ui.label(RichText::new("Recorded").weak());
                            let how = match meta.source.as_str() {
                                "broker" => "inside the broker",
                                "client" => "as a client",
                                "import" => "imported from NDJSON",
                                other => other,
                            };
                            let mut text = how.to_string();
                            if !meta.server.is_empty() {
                                text.push_str(&format!(" of {}", meta.server));
                            }
                            if !meta.subjects.is_empty() {
                                text.push_str(&format!(", subjects {}", meta.subjects.join(" ")));
                            }
                            ui.label(text);
                            ui.end_row();
                        }
                        if let (Some(first), Some(last)) = (s.first_ns, s.last_ns) {
                            ui.label(RichText::new("Time span").weak());
                            ui.label(format!(
                                "{} {} to {}",
                                date(first),
                                format::clock(time(first)),
                                format::clock(time(last))
                            ));
                            ui.end_row();
                        }
                        ui.label(RichText::new("Format").weak());
                        ui.label(format!("version {}", s.version));
                        ui.end_row();
                    });
                ui.add_space(6.0);
                let rates = &opened.rates;
                ui.label(format!(
                    "Messages per second (slices of {}, peak {})",
                    duration_text(rates.width()),
                    format::per_sec(rates.peak_per_sec())
                ));
                let points = rates.points();
                Plot::new("recording_rates")
                    .height(180.0)
                    .include_y(0.0)
                    .allow_scroll(false)
                    .x_axis_label("seconds from the first message")
                    .y_axis_formatter(|mark, _| format::per_sec(mark.value))
                    .show(ui, |plot| {
                        plot.line(
                            Line::new("messages/s", PlotPoints::from(points))
                                .color(widgets::IN)
                                .width(1.5),
                        );
                    });
                ui.add_space(6.0);
                subjects_table(ui, s, &mut browse_subject);
                ui.add_space(6.0);
                connections_table(ui, s);
            });
        if let Some(subject) = browse_subject {
            self.browse.messages.set_filter(&subject);
            self.tab = Tab::Browse;
        }
    }

    // ---- browsing ----

    fn browse_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let Some(opened) = &self.opened else {
            ui.label(RichText::new("Open a recording to browse its messages.").weak());
            return;
        };
        if opened.truncated {
            ui.label(
                RichText::new(format!(
                    "Showing the first {} of {} messages.",
                    format::count(opened.rows.len() as u64),
                    format::count(opened.summary.messages)
                ))
                .color(WARN),
            );
        }
        if self.browse.messages.len() < opened.rows.len() {
            ui.label(
                RichText::new("The oldest were left out to keep the list's memory bounded.").weak(),
            );
        }
        // Recorded messages are all there is: nothing to sample.
        self.browse_panel.ui(ui, &mut self.browse, true, commands);
    }

    // ---- replay ----

    fn replay_ui(&mut self, ui: &mut Ui) {
        let Some(opened) = &self.opened else {
            ui.label(RichText::new("Open a recording to replay it.").weak());
            return;
        };
        let path = opened.path.clone();
        let running = self.replay.is_some();
        ui.label(
            RichText::new(format!(
                "Replays {} ({} messages) in order, with the recorded gaps divided by the \
                 speed; replies and headers are kept.",
                path.display(),
                opened.summary.messages
            ))
            .weak(),
        );
        ui.add_space(4.0);
        let form = &mut self.replay_form;
        let speed = form.speed.parse::<Speed>();
        let (patterns, bad_patterns) = parse_patterns(&form.subjects);
        let remaps = parse_remaps(&form.remaps);
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                ui.label("Target");
                ui.radio_value(
                    &mut form.to_remote,
                    false,
                    format!("The inspected server ({})", self.source_client.server),
                );
                ui.radio_value(&mut form.to_remote, true, "Another server");
            });
            if form.to_remote {
                remote_form(ui, &mut form.remote);
            }
        });
        egui::Grid::new("replay_form")
            .num_columns(2)
            .spacing([10.0, 6.0])
            .show(ui, |ui| {
                let l = ui.label("Speed");
                ui.horizontal(|ui| {
                    for preset in ["1x", "2x", "10x", "max"] {
                        if ui.selectable_label(form.speed == preset, preset).clicked() {
                            form.speed = preset.into();
                        }
                    }
                    ui.add(
                        egui::TextEdit::singleline(&mut form.speed)
                            .hint_text("2.5")
                            .desired_width(60.0),
                    )
                    .labelled_by(l.id)
                    .on_hover_text("A factor (0.5, 2.5x) or max; a change applies at once");
                    if let Err(e) = &speed {
                        ui.label(RichText::new(e.to_string()).color(NO_INTEREST));
                    }
                });
                ui.end_row();
                let l = ui.label("Passes");
                ui.horizontal(|ui| {
                    ui.add_enabled(
                        !running,
                        egui::DragValue::new(&mut form.loops).range(0..=1_000_000),
                    )
                    .labelled_by(l.id);
                    ui.label(RichText::new("0 repeats until stopped").weak());
                });
                ui.end_row();
                let l = ui.label("Only subjects");
                ui.vertical(|ui| {
                    ui.add_enabled(
                        !running,
                        egui::TextEdit::singleline(&mut form.subjects)
                            .hint_text("everything; or e.g. orders.>")
                            .desired_width(360.0),
                    )
                    .labelled_by(l.id);
                    for b in &bad_patterns {
                        ui.label(
                            RichText::new(format!("not a valid subject: {b}")).color(NO_INTEREST),
                        );
                    }
                });
                ui.end_row();
                let l = ui.label("Remap");
                ui.vertical(|ui| {
                    ui.add_enabled(
                        !running,
                        egui::TextEdit::singleline(&mut form.remaps)
                            .hint_text("e.g. orders.>=test.orders.>")
                            .desired_width(360.0),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(
                        "OLD=NEW rules; wildcards carry over in order, the first match wins",
                    );
                    if let Err(e) = &remaps {
                        ui.label(RichText::new(e.to_string()).color(NO_INTEREST));
                    }
                });
                ui.end_row();
            });
        ui.add_space(4.0);
        let mut start = false;
        let mut stop = false;
        ui.horizontal(|ui| match &self.replay {
            None => {
                let can = speed.is_ok() && bad_patterns.is_empty() && remaps.is_ok();
                start = ui.add_enabled(can, egui::Button::new("Play")).clicked();
            }
            Some(job) => {
                let p = job.control.progress(job.loops);
                if p.state == ReplayState::Paused {
                    if ui.button("Resume").clicked() {
                        job.control.resume();
                    }
                } else if ui.button("Pause").clicked() {
                    job.control.pause();
                }
                stop = ui.button("Stop replay").clicked();
                ui.label(RichText::new(format!("into {}", job.target)).weak());
            }
        });
        if let (Some(job), Ok(speed)) = (&self.replay, &speed) {
            if job.control.progress(job.loops).speed != *speed {
                job.control.set_speed(*speed);
            }
        }
        if stop {
            if let Some(job) = &self.replay {
                job.control.stop();
            }
        }
        if let Some(job) = &self.replay {
            let p = job.control.progress(job.loops);
            let bar = match replay_fraction(&p) {
                Some(f) => egui::ProgressBar::new(f).show_percentage(),
                None => egui::ProgressBar::new(0.0).animate(true),
            };
            ui.add(bar.desired_width(420.0));
            let state = match p.state {
                ReplayState::Paused => "paused: ",
                _ => "",
            };
            ui.label(format!("{state}{}", replay_progress_text(&p)));
        }
        match &self.replay_result {
            Some(Ok(o)) => {
                let how = if o.stopped { "Stopped" } else { "Finished" };
                ui.label(
                    RichText::new(format!(
                        "{how}: {} messages sent in {}, {} passes{}",
                        o.sent,
                        duration_text(o.elapsed),
                        o.loops_done,
                        if o.skipped > 0 {
                            format!(", {} skipped", o.skipped)
                        } else {
                            String::new()
                        }
                    ))
                    .color(if o.stopped { WARN } else { OK }),
                );
            }
            Some(Err(e)) => {
                ui.label(RichText::new(format!("Replay failed: {e}")).color(NO_INTEREST));
            }
            None => {}
        }
        if start {
            if let (Ok(speed), Ok(remaps)) = (speed, remaps) {
                self.start_replay(ui.ctx(), path, speed, patterns, remaps);
            }
        }
    }

    fn start_replay(
        &mut self,
        ctx: &egui::Context,
        path: PathBuf,
        speed: Speed,
        patterns: Vec<String>,
        remaps: Vec<crate::record::select::Remap>,
    ) {
        let Some(runtime) = &self.runtime else {
            self.replay_result = Some(Err("no runtime to replay on".into()));
            return;
        };
        let selection = match Selection::new(&patterns, remaps) {
            Ok(s) => s,
            Err(e) => {
                self.replay_result = Some(Err(e.to_string()));
                return;
            }
        };
        let target = if self.replay_form.to_remote {
            self.replay_form.remote.connect_args()
        } else {
            self.source_client.clone()
        };
        let opts = ReplayOptions {
            speed,
            selection,
            loops: self.replay_form.loops,
        };
        self.replay_result = None;
        self.replay = Some(ReplayJob::spawn(runtime, path, opts, target, waker(ctx)));
    }
}

const DROPS_EXPLAINED: &str = "Messages the recorder could not write because the disk fell \
    behind (or failed), or because the broker had the CPU busy and the recorder gave way \
    (it then takes at most 2 % of a core). Only the copies are dropped: subscribers got every \
    message. The count is also written into the file.";

fn drops_note(ui: &mut Ui, drops: u64) {
    ui.label(RichText::new(format!("{drops} messages dropped while recording")).color(WARN))
        .on_hover_text(DROPS_EXPLAINED);
}

/// The red recording dot, painted (the bundled fonts have no such glyph).
fn rec_dot(ui: &mut Ui) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.5, REC);
}

fn time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

fn date(ns: u64) -> String {
    let local: chrono::DateTime<chrono::Local> = time(ns).into();
    local.format("%Y-%m-%d").to_string()
}

fn waker(ctx: &egui::Context) -> impl Fn() + Send + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

fn subjects_table(ui: &mut Ui, s: &crate::record::Summary, browse: &mut Option<String>) {
    ui.strong("Subjects (most messages first)");
    egui::Grid::new("recording_subjects")
        .num_columns(4)
        .striped(true)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            for sub in s.subjects.iter().take(SUMMARY_ROWS) {
                ui.monospace(&sub.subject);
                ui.label(sub.messages.to_string());
                ui.label(format::bytes(sub.bytes));
                if ui
                    .small_button("See messages")
                    .on_hover_text("Its messages in the Browse tab")
                    .clicked()
                {
                    *browse = Some(sub.subject.clone());
                }
                ui.end_row();
            }
        });
    let more = s.subjects.len().saturating_sub(SUMMARY_ROWS);
    if more > 0 || s.other_subjects > 0 {
        ui.label(RichText::new(format!("and {more} more subjects")).weak());
    }
}

fn connections_table(ui: &mut Ui, s: &crate::record::Summary) {
    ui.strong("Publishing connections");
    if s.connections.is_empty() {
        ui.label(RichText::new("not recorded (a recording made as a client)").weak());
        return;
    }
    egui::Grid::new("recording_connections")
        .num_columns(2)
        .striped(true)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            for c in s.connections.iter().take(SUMMARY_ROWS) {
                ui.label(display_name(c.cid, &c.name));
                ui.label(format!("{} messages", c.messages));
                ui.end_row();
            }
        });
    let more = s.connections.len().saturating_sub(SUMMARY_ROWS);
    if more > 0 {
        ui.label(RichText::new(format!("and {more} more")).weak());
    }
}

fn remote_form(ui: &mut Ui, r: &mut RemoteFields) {
    egui::Grid::new("replay_remote")
        .num_columns(2)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            let l = ui.label("Server URL");
            ui.add(egui::TextEdit::singleline(&mut r.server).desired_width(360.0))
                .labelled_by(l.id);
            ui.end_row();
        });
    egui::CollapsingHeader::new("Credentials and TLS")
        .id_salt("replay_credentials")
        .show(ui, |ui| {
            egui::Grid::new("replay_credentials_grid")
                .num_columns(2)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
                    let fields: [(&str, &mut String, bool, &str); 8] = [
                        ("User", &mut r.user, false, ""),
                        ("Password", &mut r.password, true, ""),
                        ("Token", &mut r.token, true, ""),
                        ("NKey seed", &mut r.nkey, true, "seed file, or the seed"),
                        ("Credentials file", &mut r.creds, false, "user.creds"),
                        ("TLS certificate", &mut r.tlscert, false, "client-cert.pem"),
                        ("TLS key", &mut r.tlskey, false, "client-key.pem"),
                        ("TLS CA", &mut r.tlsca, false, "ca.pem"),
                    ];
                    for (label, value, secret, hint) in fields {
                        let l = ui.label(label);
                        ui.add(
                            egui::TextEdit::singleline(value)
                                .password(secret)
                                .hint_text(hint)
                                .desired_width(300.0),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                    }
                });
        });
}
