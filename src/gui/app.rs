//! The eframe app: navigation, status bar, the current view, and carrying out the panels'
//! commands (broker control, the NATS client, switching views).

use std::sync::Arc;

use egui::{RichText, Ui};

use crate::inspect::BrokerControl;

use super::bridge::Bridge;
use super::client::{ClientCommand, NatsClient};
use super::model::format;
use super::panels::{
    connections::ConnectionsPanel, latency, messages::MessagesPanel, overview,
    publish::PublishPanel, queues, rates::RatesPanel, servers, subjects::SubjectsPanel, Command,
    View,
};
use super::profiles::{ProfileAction, ProfilesWindow};
use super::state::UiState;
use super::widgets::{self, WARN};
use super::{GuiContext, Source};
use crate::record::nats::ConnectArgs;

/// Key under which the app's small preferences are saved.
const STORAGE_KEY: &str = "switchboard_inspector";

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Saved {
    view: View,
    message_filter: String,
}

pub struct InspectorApp {
    bridge: Bridge,
    pub state: UiState,
    control: Arc<dyn BrokerControl>,
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
    pub publish: PublishPanel,
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
        if self.sampling {
            self.control.set_sampling(false);
        }
        self.latency_tracking = source.control.latency_tracking();
        self.sampling = false;
        self.client_url = source.client.server.clone();
        let old_feed = std::mem::replace(&mut self.bridge, Bridge::new(source.feed, egui_ctx));
        self.state = UiState::new();
        Source {
            feed: old_feed.into_feed(),
            control: std::mem::replace(&mut self.control, source.control),
            client: std::mem::replace(&mut self.client_args, source.client),
            label: std::mem::replace(&mut self.source_label, source.label),
        }
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
        let latency_tracking = source.control.latency_tracking();
        Self {
            bridge: Bridge::new(source.feed, egui_ctx),
            state: UiState::new(),
            control: source.control,
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
            publish: PublishPanel::default(),
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

    fn nav(&mut self, ui: &mut Ui) {
        ui.add_space(6.0);
        ui.label(RichText::new("switchboard").strong().size(16.0));
        ui.add_space(8.0);
        let snap = &self.state.snapshot;
        for (i, view) in View::ALL.into_iter().enumerate() {
            let count = match view {
                View::Connections => Some(snap.connections.len()),
                View::Subjects => Some(snap.subjects.len()),
                View::QueueGroups => Some(snap.queue_groups.len()),
                View::Latency => Some(snap.latency.len()),
                _ => None,
            };
            ui.horizontal(|ui| {
                let r = ui
                    .selectable_label(self.view == view, view.label())
                    .on_hover_text(format!("Ctrl+{}", i + 1));
                if r.clicked() {
                    self.view = view;
                }
                if let Some(n) = count {
                    ui.label(RichText::new(n.to_string()).weak().small());
                }
                if view == View::Subjects && self.state.tree.total.unheard_subjects > 0 {
                    ui.label(RichText::new("!").color(widgets::NO_INTEREST).strong())
                        .on_hover_text("Subjects published with no one listening");
                }
            });
        }
        ui.add_space(12.0);
        if ui
            .button("Deployments…")
            .on_hover_text("Inspect a remote NATS deployment, or the embedded broker")
            .clicked()
        {
            self.profiles.open = true;
        }
    }

    fn status_bar(&self, ui: &mut Ui) {
        let snap = &self.state.snapshot;
        ui.horizontal(|ui| {
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
        });
    }

    fn shortcuts(&mut self, ui: &Ui) {
        let keys = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
            egui::Key::Num8,
            egui::Key::Num9,
        ];
        ui.input(|i| {
            for (key, view) in keys.into_iter().zip(View::ALL) {
                if i.modifiers.command && i.key_pressed(key) {
                    self.view = view;
                }
            }
        });
    }

    /// One frame, callable without eframe (the tests drive it through kittest).
    pub fn frame(&mut self, ui: &mut Ui) {
        let pumped = self.bridge.pump(&mut self.state);
        for outcome in self.client.poll() {
            self.publish.on_outcome(outcome);
        }
        self.shortcuts(ui);
        let mut commands: Vec<Command> = Vec::new();
        let mut client_cmd: Option<ClientCommand> = None;
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("navigation")
            .resizable(false)
            .exact_size(170.0)
            .show(ui, |ui| self.nav(ui));
        egui::CentralPanel::default().show(ui, |ui| {
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
                View::Publish => client_cmd = self.publish.ui(ui, &self.client_url),
                View::Latency => latency::ui(ui, &self.state, self.latency_tracking, &mut commands),
                View::Servers => servers::ui(ui, &self.state),
            }
        });
        match self.profiles.show(ui.ctx(), &self.source_label) {
            Some(ProfileAction::Connect(profile)) => self.connect_profile(ui.ctx(), *profile),
            Some(ProfileAction::Embedded) => self.show_embedded(ui.ctx()),
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
        self.sync_sampling();
        self.bridge.schedule(ui.ctx(), pumped);
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
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if self.sampling {
            self.control.set_sampling(false);
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
