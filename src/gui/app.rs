//! The eframe app: navigation, status bar, the current view, and carrying out the panels'
//! commands (broker control, the NATS client, switching views).

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use crate::demo::{DemoStatus, DemoSwitch};
use crate::inspect::SourceControl;

use super::bridge::Bridge;
use super::broker_start::{self, BrokerStarter};
use super::client::{ClientCommand, NatsClient};
use super::model::format;
use super::panels::jetstream::JetStreamViews;
use super::panels::{
    accounts,
    connections::ConnectionsPanel,
    flow::FlowPanel,
    latency,
    messages::MessagesPanel,
    overview,
    publish::{PublishPanel, TemplateAction},
    queues,
    rates::RatesPanel,
    recordings::{RecordingsPanel, Tab as RecordingsTab},
    servers, settings as settings_panel,
    subjects::SubjectsPanel,
    Command, View,
};
use super::profiles::{ProfileAction, ProfilesWindow};
use super::settings::{Loaded, Settings, SettingsStore};
use super::state::UiState;
use super::widgets::{self, WARN};
use super::{GuiContext, Launcher, Source, StartFailure};
use crate::connect::ConnectArgs;

/// Settings are saved this long after the last change (a dragged value changes every frame).
const SAVE_DELAY: Duration = Duration::from_millis(500);

/// Key under which the app's small preferences are saved.
const STORAGE_KEY: &str = "switchboard_inspector";

/// Where a frame's time went (the frame-time benchmark reports it for the slowest frames).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameParts {
    /// Taking a new snapshot into the UI state (zero when none came).
    pub snapshot: Duration,
    /// Taking message samples (bounded by the bridge's budget).
    pub samples: Duration,
    /// Laying out the current view.
    pub view: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Saved {
    view: View,
    message_filter: String,
}

pub struct InspectorApp {
    bridge: Bridge,
    pub state: UiState,
    control: Arc<dyn SourceControl>,
    /// The source's demo switch (none on a remote deployment).
    demo: Option<Arc<DemoSwitch>>,
    client: NatsClient,
    client_url: String,
    /// What the status bar calls the current source.
    source_label: String,
    runtime: Option<tokio::runtime::Handle>,
    pub view: View,
    /// What we last told the broker about sampling.
    sampling: bool,
    latency_tracking: bool,
    connections: ConnectionsPanel,
    subjects: SubjectsPanel,
    messages: MessagesPanel,
    rates: RatesPanel,
    flow: FlowPanel,
    pub latency: latency::LatencyPanel,
    pub publish: PublishPanel,
    /// Streams, Consumers and KV, with their own client.
    pub jetstream: JetStreamViews,
    /// The settings users edit, and where they are saved (tests have no store: nothing is
    /// written).
    pub settings: Settings,
    settings_store: Option<SettingsStore>,
    /// The settings file could not be read (defaults in use), or the last save failed.
    settings_problem: Option<String>,
    /// Changed and not saved yet, since.
    settings_dirty: Option<Instant>,
    /// (Re)starting the embedded broker, and why it is not running.
    pub starter: BrokerStarter,
    /// The demo switch is on (kept when the broker restarts).
    demo_wanted: bool,
    /// CPU time of the last [`InspectorApp::frame`], and where it went.
    pub last_frame_time: Duration,
    pub last_frame_parts: FrameParts,
    pub recordings: RecordingsPanel,
    /// How the current source's client connects (kept to park the source).
    client_args: ConnectArgs,
    /// The embedded broker's source while a remote deployment is shown (its feed can be
    /// taken only once, so it is kept rather than attached again).
    parked: Option<Source>,
    /// True while a remote deployment is shown.
    remote_active: bool,
    pub profiles: ProfilesWindow,
}

impl InspectorApp {
    /// The app with its own NATS client on `ctx.runtime`.
    pub fn new(egui_ctx: &egui::Context, ctx: GuiContext) -> Self {
        let client = spawn_client(egui_ctx, &ctx.source, &ctx.runtime);
        let runtime = ctx.runtime.clone();
        let mut app = Self::with_client(egui_ctx, ctx, client);
        app.runtime = Some(runtime);
        app
    }

    /// Looks at another source from now on (another profile, or the embedded broker
    /// restarted on another port): new feed, control and client; the old ones are dropped,
    /// which ends their tasks. What the views showed of the old source is cleared.
    pub fn switch_source(&mut self, egui_ctx: &egui::Context, source: Source) {
        drop(self.replace_source(egui_ctx, source));
    }

    /// [`Self::switch_source`], handing back the source it replaced (sampling off).
    pub fn replace_source(&mut self, egui_ctx: &egui::Context, source: Source) -> Source {
        if let Some(runtime) = &self.runtime {
            self.client = spawn_client(egui_ctx, &source, runtime);
        }
        self.jetstream.switch_source(&source.client);
        if self.sampling {
            self.control.set_sampling(false);
        }
        self.latency_tracking = source.control.latency_tracking();
        self.sampling = false;
        self.client_url = source.client.server.clone();
        self.recordings.set_source_client(source.client.clone());
        let old_feed = std::mem::replace(&mut self.bridge, Bridge::new(source.feed, egui_ctx));
        self.state = UiState::new();
        let old = Source {
            feed: old_feed.into_feed(),
            control: std::mem::replace(&mut self.control, source.control),
            client: std::mem::replace(&mut self.client_args, source.client),
            label: std::mem::replace(&mut self.source_label, source.label),
            demo: std::mem::replace(&mut self.demo, source.demo),
        };
        self.apply_settings(egui_ctx);
        if self.demo_wanted {
            if let Some(demo) = &self.demo {
                demo.set(true);
            }
        }
        old
    }
    /// Shows a remote deployment; the embedded broker's source is parked, not dropped.
    pub fn connect_profile(&mut self, egui_ctx: &egui::Context, profile: crate::remote::Profile) {
        let Some(runtime) = self.runtime.clone() else {
            return;
        };
        let attached = crate::remote::attach(profile, &runtime);
        let source = Source {
            feed: attached.feed,
            control: attached.control,
            client: attached.client,
            label: attached.label,
            demo: None,
        };
        let old = self.replace_source(egui_ctx, source);
        if old.label == super::EMBEDDED_LABEL && self.parked.is_none() {
            self.parked = Some(old);
        }
        self.remote_active = true;
        self.view = View::Servers;
    }

    /// Back to the embedded broker, when it was parked.
    pub fn show_embedded(&mut self, egui_ctx: &egui::Context) {
        if let Some(source) = self.parked.take() {
            drop(self.replace_source(egui_ctx, source));
            self.remote_active = false;
        }
    }

    /// The app with a given client (tests pass a detached one).
    pub fn with_client(egui_ctx: &egui::Context, ctx: GuiContext, client: NatsClient) -> Self {
        let source = ctx.source;
        let jetstream = JetStreamViews::new(egui_ctx, &source.client, &ctx.runtime);
        let recordings = RecordingsPanel::new(source.client.clone(), Some(ctx.runtime.clone()));
        let latency_tracking = source.control.latency_tracking();
        let demo_wanted = source.demo.as_ref().is_some_and(|d| d.status().wanted());
        Self {
            bridge: Bridge::new(source.feed, egui_ctx),
            state: UiState::new(),
            control: source.control,
            demo: source.demo,
            client,
            client_url: source.client.server.clone(),
            client_args: source.client,
            source_label: source.label,
            parked: None,
            remote_active: false,
            profiles: ProfilesWindow::default(),
            runtime: None,
            view: View::Overview,
            sampling: false,
            latency_tracking,
            connections: ConnectionsPanel::default(),
            subjects: SubjectsPanel::default(),
            messages: MessagesPanel::default(),
            rates: RatesPanel::default(),
            flow: FlowPanel::default(),
            latency: latency::LatencyPanel::default(),
            publish: PublishPanel::default(),
            jetstream,
            recordings,
            settings: Settings::default(),
            settings_store: None,
            settings_problem: None,
            settings_dirty: None,
            starter: BrokerStarter::default(),
            demo_wanted,
            last_frame_time: Duration::ZERO,
            last_frame_parts: FrameParts::default(),
        }
    }

    /// Takes the loaded settings (and the store to save them in) and applies them.
    pub fn use_settings(
        &mut self,
        egui_ctx: &egui::Context,
        store: Option<SettingsStore>,
        loaded: Loaded,
    ) {
        self.settings = loaded.settings;
        self.settings_problem = loaded.warning;
        self.settings_store = store;
        self.view = self.settings.last_view;
        self.apply_settings(egui_ctx);
    }

    /// Lets the window (re)start the embedded broker.
    pub fn set_launcher(&mut self, launcher: Arc<dyn Launcher>) {
        self.starter.set_launcher(launcher);
    }

    /// The embedded broker is not running: the window says why and offers another port.
    pub fn show_start_failure(&mut self, failure: StartFailure) {
        self.starter.fail(failure);
    }

    /// Carries the settings into the theme, the broker and the message history.
    fn apply_settings(&mut self, egui_ctx: &egui::Context) {
        egui_ctx.set_theme(self.settings.theme.preference());
        self.control
            .set_request_timeout(Duration::from_millis(self.settings.latency_timeout_millis));
        self.state
            .messages
            .set_capacity(self.settings.message_history);
        self.starter.setting = self.settings.broker_setting();
    }

    /// Writes the settings file now (if there is one).
    fn save_settings(&mut self) {
        self.settings.last_view = self.view;
        self.settings_dirty = None;
        if let Some(store) = &self.settings_store {
            self.settings_problem = store.save(&self.settings).err();
        }
    }

    /// Saves once the settings have not changed for [`SAVE_DELAY`].
    fn save_settings_when_settled(&mut self, ctx: &egui::Context) {
        if let Some(since) = self.settings_dirty {
            let waited = since.elapsed();
            if waited >= SAVE_DELAY {
                self.save_settings();
            } else {
                ctx.request_repaint_after(SAVE_DELAY - waited);
            }
        }
    }

    /// Fills Settings' leaf node from a deployment's profile and shows it there: the user
    /// checks it (the leaf-node port is a guess) and restarts the broker to join.
    fn join_as_leaf(&mut self, profile: &crate::remote::Profile) {
        self.settings.leaf = true;
        self.settings.leaf_urls = super::profiles::leaf_urls(profile);
        self.settings.leaf_credentials = profile
            .credentials
            .creds
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.starter.setting = self.settings.broker_setting();
        self.profiles.open = false;
        self.view = View::Settings;
        self.settings_changed();
    }

    fn settings_changed(&mut self) {
        self.settings_dirty = Some(Instant::now());
    }

    /// Turns the demo traffic on or off.
    pub fn set_demo(&mut self, on: bool) {
        self.demo_wanted = on;
        if let Some(demo) = &self.demo {
            demo.set(on);
        }
    }

    /// Restarts the embedded broker on `host:port`.
    fn restart_broker(&mut self, host: &str, port: u16) {
        if let Err(e) = self.starter.start(host, port) {
            self.settings_problem = Some(e);
        }
    }

    /// Restores the preferences saved by [`eframe::App::save`].
    pub fn restore(&mut self, storage: &dyn eframe::Storage) {
        if let Some(saved) = eframe::get_value::<Saved>(storage, STORAGE_KEY) {
            self.view = saved.view;
            self.state.messages.set_filter(&saved.message_filter);
        }
    }

    fn run_command(&mut self, cmd: Command) {
        match cmd {
            Command::Show(view) => self.view = view,
            Command::Kick(id) => {
                let ok = self.control.kick(id);
                self.connections.last_kick = Some((id, ok));
                if ok && self.state.selection.connection == Some(id) {
                    self.state.selection.connection = None;
                }
            }
            Command::SetLatencyTracking(on) => {
                self.control.set_latency_tracking(on);
                self.latency_tracking = on;
            }
            Command::ShowMessages(filter) => {
                self.state.messages.set_filter(&filter);
                self.view = View::Messages;
            }
            Command::PrefillPublish(msg) => {
                self.publish.prefill(&msg);
                self.view = View::Publish;
            }
            Command::SelectConnection(id) => {
                self.state.selection.connection = Some(id);
                self.view = View::Connections;
            }
            Command::SelectSubject(path) => {
                self.subjects.reveal(&mut self.state, &path);
                self.view = View::Subjects;
            }
            Command::Plot(subject) => {
                self.state.plotted_subjects.insert(subject);
                self.view = View::Rates;
            }
        }
    }

    /// Sampling costs the broker a copy per message: on only while a view shows samples.
    fn sync_sampling(&mut self) {
        let want = self.view.needs_samples();
        if want != self.sampling {
            self.control.set_sampling(want);
            self.sampling = want;
        }
    }

    /// The demo switch, at the foot of the navigation: off by default, marked as demo.
    fn demo_switch(&mut self, ui: &mut Ui) {
        let Some(status) = self.demo.as_ref().map(|d| d.status()) else {
            return;
        };
        ui.separator();
        let mut on = status.wanted();
        if ui
            .checkbox(&mut on, "Demo traffic")
            .on_hover_text(
                "In-process clients named demo-* on demo.> subjects: a sensor stream, a \
                 request/reply service, a queue group of workers, a chat, and an audit log \
                 nobody hears",
            )
            .changed()
        {
            self.set_demo(on);
        }
        match status {
            DemoStatus::Starting => {
                ui.label(RichText::new("connecting demo clients...").weak().small());
            }
            DemoStatus::On => {
                widgets::badge(ui, "DEMO", WARN);
            }
            DemoStatus::Failed(e) => {
                ui.label(RichText::new(e).color(widgets::NO_INTEREST).small());
            }
            DemoStatus::Off => {}
        }
    }

    fn nav(&mut self, ui: &mut Ui) {
        ui.add_space(6.0);
        ui.label(RichText::new("switchboard").strong().size(16.0));
        ui.add_space(8.0);
        let snap = &self.state.snapshot;
        for view in View::ALL {
            let count = match view {
                View::Connections => Some(snap.connections.len()),
                View::Subjects => Some(snap.subjects.len()),
                View::QueueGroups => Some(snap.queue_groups.len()),
                View::Latency => Some(snap.latency.len()),
                View::Accounts if !snap.accounts.is_empty() => Some(snap.accounts.len()),
                View::Streams | View::Consumers | View::Kv => {
                    super::panels::jetstream::nav_count(view, &snap.jetstream_streams)
                }
                _ => None,
            };
            ui.horizontal(|ui| {
                let shortcut = view
                    .shortcut()
                    .map(|s| ui.ctx().format_shortcut(&s))
                    .unwrap_or_default();
                let r = ui
                    .selectable_label(self.view == view, view.label())
                    .on_hover_text(shortcut);
                if r.clicked() {
                    self.view = view;
                }
                if let Some(n) = count {
                    ui.label(RichText::new(n.to_string()).weak().small());
                }
                if view == View::Consumers {
                    super::panels::jetstream::stalled_badge(ui, &snap.jetstream_streams);
                }
                if view == View::Subjects && self.state.tree.total.no_interest_subjects > 0 {
                    ui.label(RichText::new("!").color(widgets::NO_INTEREST).strong())
                        .on_hover_text("Subjects published with no one listening");
                }
            });
        }
        self.demo_switch(ui);
        ui.add_space(12.0);
        if ui
            .button("Deployments…")
            .on_hover_text("Inspect a remote NATS deployment, or the embedded broker")
            .clicked()
        {
            self.profiles.open = true;
        }
    }

    /// Returns true when the recording indicator was clicked.
    fn status_bar(&self, ui: &mut Ui) -> bool {
        let snap = &self.state.snapshot;
        let mut open_recordings = false;
        ui.horizontal(|ui| {
            if self
                .demo
                .as_ref()
                .is_some_and(|d| d.status() == DemoStatus::On)
            {
                widgets::badge(ui, "DEMO", WARN)
                    .on_hover_text("Demo traffic is on: clients named demo-* on demo.>");
            }
            if self.starter.failure.is_some() {
                widgets::badge(ui, "broker not running", widgets::NO_INTEREST);
            }
            open_recordings = self.recordings.status_badge(ui);
            ui.label(RichText::new(&self.source_label).strong());
            if let Some(link) = &snap.link {
                let color = match link.state {
                    crate::inspect::snapshot::LinkState::Connected => widgets::OK,
                    _ => WARN,
                };
                ui.label(RichText::new(link.state.label()).color(color))
                    .on_hover_text(&link.detail);
            }
            ui.monospace(&self.client_url);
            widgets::copy_button(ui, "Copy", &self.client_url);
            ui.separator();
            ui.label(format!("{} connections", snap.connections.len()));
            ui.separator();
            ui.label(
                RichText::new(format!(
                    "in {}",
                    format::per_sec(snap.rates.in_msgs_per_sec)
                ))
                .color(widgets::IN),
            );
            ui.label(
                RichText::new(format!(
                    "out {}",
                    format::per_sec(snap.rates.out_msgs_per_sec)
                ))
                .color(widgets::OUT),
            );
            ui.separator();
            let dropped = self.state.dropped_samples;
            let text = RichText::new(format!("{} dropped samples", format::count(dropped)));
            ui.label(if dropped > 0 {
                text.color(WARN)
            } else {
                text.weak()
            })
            .on_hover_text("Message copies the broker dropped because the view fell behind");
            ui.separator();
            ui.label(
                RichText::new(if self.sampling {
                    "sampling on"
                } else {
                    "sampling off"
                })
                .weak(),
            );
            if self.state.messages.paused() && !self.messages.hover_hold {
                ui.separator();
                ui.label(RichText::new("paused").color(WARN));
            }
            ui.separator();
            ui.label(
                RichText::new(format!(
                    "frame {:.1} ms",
                    self.last_frame_time.as_secs_f64() * 1e3
                ))
                .weak(),
            )
            .on_hover_ui(|ui| {
                ui.label(format!(
                    "CPU time the window spent on its last frame. Values freed on this \
                     thread because the background freeing fell behind: {}",
                    self.state.frees_on_ui_thread()
                ));
            });
        });
        open_recordings
    }

    /// Ctrl+1..9 and Ctrl+, (see [`View::shortcut`]).
    fn shortcuts(&mut self, ui: &Ui) {
        for view in View::ALL {
            if let Some(shortcut) = view.shortcut() {
                if ui.ctx().input_mut(|i| i.consume_shortcut(&shortcut)) {
                    self.view = view;
                }
            }
        }
    }

    /// One frame, callable without eframe (the tests drive it through kittest).
    pub fn frame(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        if let Some(source) = self.starter.poll() {
            self.switch_source(ui.ctx(), source);
        }
        if self.starter.busy() {
            ui.ctx().request_repaint_after(broker_start::POLL);
        }
        let pumped = self.bridge.pump(&mut self.state);
        for outcome in self.client.poll() {
            self.publish.on_outcome(outcome);
        }
        self.jetstream.poll(&self.state);
        self.recordings.poll(&self.control, ui.ctx());
        self.shortcuts(ui);
        let mut commands: Vec<Command> = Vec::new();
        let mut client_cmd: Option<ClientCommand> = None;
        let mut template_action: Option<TemplateAction> = None;
        let mut settings_outcome = settings_panel::SettingsOutcome::default();
        let mut open_recordings = false;
        egui::Panel::bottom("status_bar").show(ui, |ui| open_recordings = self.status_bar(ui));
        if open_recordings {
            self.recordings.tab = RecordingsTab::Record;
            commands.push(Command::Show(View::Recordings));
        }
        egui::Panel::left("navigation")
            .resizable(false)
            .exact_size(170.0)
            .show(ui, |ui| self.nav(ui));
        let view_started = Instant::now();
        egui::CentralPanel::default().show(ui, |ui| {
            self.starter.ui(ui);
            ui.heading(self.view.label());
            ui.add_space(2.0);
            match self.view {
                View::Overview => overview::ui(ui, &self.state, &mut commands),
                View::Connections => self.connections.ui(ui, &mut self.state, &mut commands),
                View::Subjects => self.subjects.ui(ui, &mut self.state, &mut commands),
                View::QueueGroups => queues::ui(ui, &self.state, &mut commands),
                View::Messages => {
                    self.messages
                        .ui(ui, &mut self.state, self.sampling, &mut commands)
                }
                View::Rates => self.rates.ui(ui, &mut self.state),
                View::Publish => {
                    template_action = self.publish.templates_ui(ui, &self.settings.templates);
                    ui.separator();
                    client_cmd = self.publish.ui(ui, &self.client_url);
                }
                View::Settings => {
                    let listening = self.state.snapshot.server.client_url.clone();
                    let cx = settings_panel::SettingsContext {
                        path: self.settings_store.as_ref().map(|s| s.path()),
                        problem: self.settings_problem.as_deref(),
                        listening: (self.starter.failure.is_none() && !listening.is_empty())
                            .then_some(listening.as_str()),
                        can_restart: self.starter.available(),
                        restarting: self.starter.busy(),
                        jetstream_now: (self.starter.failure.is_none() && !self.remote_active)
                            .then_some(&self.state.snapshot.jetstream),
                        jetstream_given: self.starter.jetstream_given(),
                        websocket_now: (self.starter.failure.is_none() && !self.remote_active)
                            .then_some(self.state.snapshot.server.websocket_url.as_deref()),
                        websocket_given: self.starter.websocket_given(),
                        leaf_now: (self.starter.failure.is_none() && !self.remote_active)
                            .then_some(self.state.snapshot.leaf_links.as_slice()),
                        leafnodes_given: self.starter.leafnodes_given(),
                    };
                    settings_outcome = settings_panel::ui(ui, &mut self.settings, &cx);
                }
                View::Latency => {
                    self.latency
                        .ui(ui, &self.state, self.latency_tracking, &mut commands)
                }
                View::Recordings => self.recordings.ui(ui, &self.control, &mut commands),
                View::Servers => servers::ui(ui, &self.state),
                View::FlowMap => self.flow.ui(ui, &mut self.state, &mut commands),
                View::Accounts => accounts::ui(ui, &self.state, &mut commands),
                View::Streams | View::Consumers | View::Kv => {
                    self.jetstream.ui(self.view, ui, &self.state, &mut commands)
                }
            }
        });
        let view_time = view_started.elapsed();
        match self.profiles.show(ui.ctx(), &self.source_label) {
            Some(ProfileAction::Connect(profile)) => self.connect_profile(ui.ctx(), *profile),
            Some(ProfileAction::Embedded) => self.show_embedded(ui.ctx()),
            Some(ProfileAction::JoinAsLeaf(profile)) => self.join_as_leaf(&profile),
            None => {}
        }
        if let Some(cmd) = client_cmd {
            if !self.client.send(cmd) {
                self.publish.in_flight = self.publish.in_flight.saturating_sub(1);
                self.publish.error = Some("the client task has stopped".into());
            }
        }
        for cmd in commands {
            self.run_command(cmd);
        }
        match template_action {
            Some(TemplateAction::Save(template)) => {
                self.settings.put_template(template);
                self.save_settings();
            }
            Some(TemplateAction::Delete(name)) => {
                self.settings.templates.retain(|t| t.name != name);
                self.save_settings();
            }
            None => {}
        }
        if settings_outcome.changed {
            self.apply_settings(ui.ctx());
            self.settings_changed();
        }
        if let Some((host, port)) = settings_outcome.restart {
            self.save_settings();
            self.restart_broker(&host, port);
        }
        self.save_settings_when_settled(ui.ctx());
        self.sync_sampling();
        self.bridge.schedule(ui.ctx(), pumped);
        self.last_frame_time = started.elapsed();
        self.last_frame_parts = FrameParts {
            snapshot: self.bridge.last_snapshot_time,
            samples: self.bridge.last_samples_time,
            view: view_time,
        };
    }

    pub fn sampling(&self) -> bool {
        self.sampling
    }
}

impl eframe::App for InspectorApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(
            storage,
            STORAGE_KEY,
            &Saved {
                view: self.view,
                message_filter: self.state.messages.filter_text().to_string(),
            },
        );
        if self.settings_dirty.is_some() || self.settings.last_view != self.view {
            self.save_settings();
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if self.settings_dirty.is_some() || self.settings.last_view != self.view {
            self.save_settings();
        }
        if self.sampling {
            self.control.set_sampling(false);
        }
        // A recording started here ends with the window, closed cleanly with its trailer.
        if self.control.recording().is_some() {
            let _ = self.control.stop_recording();
        }
    }
}

/// The inspector's own client for `source`, asking for a repaint after each outcome.
fn spawn_client(
    egui_ctx: &egui::Context,
    source: &Source,
    runtime: &tokio::runtime::Handle,
) -> NatsClient {
    let repaint = egui_ctx.clone();
    NatsClient::spawn(source.client.clone(), runtime, move || {
        repaint.request_repaint();
    })
}
