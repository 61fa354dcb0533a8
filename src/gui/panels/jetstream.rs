//! The JetStream views together: Streams, Consumers and KV share the client that browses
//! and changes things ([`JsClient`]), hand each answer to the view that asked, and move the
//! user between them (a stream's consumers, a consumer's stream, a bucket's stream).

use egui::{RichText, Ui};

use crate::connect::ConnectArgs;
use crate::inspect::snapshot::{JetStreamState, StreamInventory};

use super::consumers::ConsumersPanel;
use super::kv::KvPanel;
use super::streams::StreamsPanel;
use super::{Command, View};
use crate::gui::jetstream_client::{JsClient, JsRequest, KvWatch};
use crate::gui::model::jetstream::{kv_bucket, obj_bucket, stall};
use crate::gui::model::{format, payload};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, NO_INTEREST, WARN};

fn spawn_client(
    egui_ctx: &egui::Context,
    target: &ConnectArgs,
    runtime: &tokio::runtime::Handle,
) -> JsClient {
    let repaint = egui_ctx.clone();
    JsClient::spawn(target.clone(), runtime, move || repaint.request_repaint())
}

/// Where a view goes next (carried out by [`JetStreamViews::ui`] after the view drew).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jump {
    /// Streams, with this stream selected.
    Stream(String),
    /// Consumers of this stream.
    Consumers(String),
    /// KV, with this bucket selected.
    Bucket(String),
}

/// The three views and their client.
pub struct JetStreamViews {
    pub client: JsClient,
    pub streams: StreamsPanel,
    pub consumers: ConsumersPanel,
    pub kv: KvPanel,
    /// Where a new source's client runs, and the window it wakes.
    runtime: tokio::runtime::Handle,
    egui_ctx: egui::Context,
    /// Whether the KV view was drawn since the last [`JetStreamViews::poll`]: a KV watch
    /// ends once the view goes away.
    kv_drawn: bool,
}

/// A view's handle on the client: sends a request and says why it could not.
pub struct Requests<'a> {
    client: &'a mut JsClient,
}

impl Requests<'_> {
    /// The request's id, or why it could not be sent.
    pub fn send(&mut self, request: JsRequest) -> Result<u64, String> {
        self.client.send(request)
    }

    /// Starts watching a KV bucket (see [`JsClient::watch_kv`]).
    pub fn watch_kv(&mut self, bucket: &str) -> Result<KvWatch, String> {
        self.client.watch_kv(bucket)
    }
}

impl JetStreamViews {
    /// The views, with a client for `target` on `runtime` that wakes the window after each
    /// answer.
    pub fn new(
        egui_ctx: &egui::Context,
        target: &ConnectArgs,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        Self {
            client: spawn_client(egui_ctx, target, runtime),
            streams: StreamsPanel::default(),
            consumers: ConsumersPanel::default(),
            kv: KvPanel::default(),
            runtime: runtime.clone(),
            egui_ctx: egui_ctx.clone(),
            kv_drawn: false,
        }
    }

    /// Another source: a client for it, and nothing of the old source kept.
    pub fn switch_source(&mut self, target: &ConnectArgs) {
        *self = Self::new(&self.egui_ctx, target, &self.runtime);
    }

    /// Every frame, whichever view shows: hands the answers that came to the views that
    /// asked, follows the consumers' progress (their rates have a history when one is
    /// selected), takes a KV watch's changes, and ends the watch when the KV view is no
    /// longer drawn.
    pub fn poll(&mut self, state: &UiState) {
        for answer in self.client.poll() {
            // An answer nobody waits for any more (the user moved on) is dropped here.
            let _taken = self.streams.on_answer(&answer) || self.kv.on_answer(&answer);
        }
        self.consumers
            .rates
            .observe(&state.snapshot.jetstream_streams);
        if !std::mem::take(&mut self.kv_drawn) {
            self.kv.stop_watch();
        }
        self.kv.poll_watch();
    }

    /// Draws `view` (one of the JetStream views).
    pub fn ui(&mut self, view: View, ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
        let mut jumps = Vec::new();
        let dropped = self.client.dropped();
        let mut requests = Requests {
            client: &mut self.client,
        };
        if !jetstream_header(ui, state, dropped) {
            return;
        }
        match view {
            View::Streams => self.streams.ui(ui, state, &mut requests, &mut jumps),
            View::Consumers => self.consumers.ui(ui, state, &mut jumps),
            View::Kv => {
                self.kv_drawn = true;
                self.kv.ui(ui, state, &mut requests, &mut jumps)
            }
            _ => {}
        }
        for jump in jumps {
            match jump {
                Jump::Stream(name) => {
                    self.streams.select(&name);
                    commands.push(Command::Show(View::Streams));
                }
                Jump::Consumers(stream) => {
                    self.consumers.show_stream(&stream);
                    commands.push(Command::Show(View::Consumers));
                }
                Jump::Bucket(bucket) => {
                    self.kv.select_bucket(&bucket);
                    commands.push(Command::Show(View::Kv));
                }
            }
        }
    }
}

/// The count the navigation shows beside a JetStream view (none while there are none).
pub fn nav_count(view: View, inv: &StreamInventory) -> Option<usize> {
    let n = match view {
        View::Streams => inv.streams.len(),
        View::Consumers => inv.streams.iter().map(|s| s.consumers.len()).sum(),
        View::Kv => inv
            .streams
            .iter()
            .filter(|s| kv_bucket(&s.name).is_some() || obj_bucket(&s.name).is_some())
            .count(),
        _ => 0,
    };
    (n > 0).then_some(n)
}

/// The Overview's way into the JetStream views: the streams, the consumers (stalled ones
/// said), the buckets; nothing while JetStream is off or no stream is known.
pub fn overview_links(
    ui: &mut Ui,
    snap: &crate::inspect::snapshot::Snapshot,
    commands: &mut Vec<Command>,
) {
    let inv = &snap.jetstream_streams;
    if snap.jetstream.summary().is_none() || inv.streams.is_empty() {
        return;
    }
    let consumers: usize = inv.streams.iter().map(|s| s.consumers.len()).sum();
    let stalled = inv
        .streams
        .iter()
        .flat_map(|s| &s.consumers)
        .filter(|c| stall(c, inv.read_at.unwrap_or_else(std::time::SystemTime::now)).is_some())
        .count();
    let buckets = nav_count(View::Kv, inv).unwrap_or(0);
    ui.horizontal_wrapped(|ui| {
        let n = inv.streams.len();
        if ui
            .link(format!(
                "Browse {n} stream{}",
                if n == 1 { "" } else { "s" }
            ))
            .on_hover_text("Streams: configuration, state, messages by sequence")
            .clicked()
        {
            commands.push(Command::Show(View::Streams));
        }
        ui.label(RichText::new("|").weak());
        let text = if stalled > 0 {
            RichText::new(format!("{consumers} consumers, {stalled} stalled")).color(WARN)
        } else {
            RichText::new(format!("{consumers} consumers"))
        };
        if ui
            .link(text)
            .on_hover_text("Consumers: pending, ack pending, redelivered, waiting pulls")
            .clicked()
        {
            commands.push(Command::Show(View::Consumers));
        }
        if buckets > 0 {
            ui.label(RichText::new("|").weak());
            if ui
                .link(format!(
                    "{buckets} bucket{} (KV, objects)",
                    if buckets == 1 { "" } else { "s" }
                ))
                .clicked()
            {
                commands.push(Command::Show(View::Kv));
            }
        }
    });
}

/// A red mark beside Consumers in the navigation when some are stalled.
pub fn stalled_badge(ui: &mut Ui, inv: &StreamInventory) {
    let stalled = inv
        .streams
        .iter()
        .flat_map(|s| &s.consumers)
        .filter(|c| stall(c, inv.read_at.unwrap_or_else(std::time::SystemTime::now)).is_some())
        .count();
    if stalled > 0 {
        ui.label(RichText::new("!").color(WARN).strong())
            .on_hover_text(format!(
                "{stalled} stalled consumer{}",
                if stalled == 1 { "" } else { "s" }
            ));
    }
}

/// The line above each JetStream view: whether JetStream runs, when the streams were read,
/// what was left out. False when there is nothing to show (JetStream off or unknown).
fn jetstream_header(ui: &mut Ui, state: &UiState, dropped_answers: u64) -> bool {
    let snap = &state.snapshot;
    let inv: &StreamInventory = &snap.jetstream_streams;
    match &snap.jetstream {
        JetStreamState::Off => {
            ui.label(
                RichText::new(
                    "JetStream is off here. Turn it on in Settings (JetStream) and restart the \
                     broker, or start with -js.",
                )
                .weak(),
            );
            return false;
        }
        JetStreamState::Unknown if inv.read_at.is_none() && inv.error.is_none() => {
            ui.label(RichText::new("Reading the streams...").weak());
            return false;
        }
        _ => {}
    }
    ui.horizontal_wrapped(|ui| {
        if let Some(at) = inv.read_at {
            let age = format::since(std::time::SystemTime::now(), at);
            ui.label(RichText::new(format!("read {} ago", format::age(age))).weak())
                .on_hover_text(if snap.vantage.knows_routing() {
                    "Read from inside the broker about once a second"
                } else {
                    "Read through the $JS.API (STREAM.LIST, CONSUMER.LIST) every few seconds"
                });
        }
        if inv.streams_omitted > 0 || inv.consumers_omitted > 0 {
            widgets::badge(
                ui,
                &format!(
                    "{} streams and {} consumers not listed",
                    inv.streams_omitted, inv.consumers_omitted
                ),
                WARN,
            )
            .on_hover_text(format!(
                "A snapshot lists at most {} streams and {} consumers",
                crate::inspect::snapshot::MAX_STREAMS,
                crate::inspect::snapshot::MAX_CONSUMERS
            ));
        }
        if let Some(e) = &inv.error {
            ui.label(RichText::new(e).color(NO_INTEREST));
        }
        if dropped_answers > 0 {
            ui.label(
                RichText::new(format!(
                    "{dropped_answers} answers dropped (window too slow)"
                ))
                .color(WARN),
            );
        }
    });
    true
}

/// A payload viewer's choice of rendering, remembered per view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PayloadChoice(pub Option<payload::PayloadView>);

/// Headers and payload of a stored message or value, as the Messages view shows them: the
/// header lines, then the payload as text, JSON or hex (the best one unless chosen).
pub fn payload_viewer(
    ui: &mut Ui,
    id: &str,
    headers: Option<&[u8]>,
    body: &[u8],
    choice: &mut PayloadChoice,
) {
    if let Some(raw) = headers {
        let (status, pairs) = payload::parse_header_block(raw);
        ui.label(RichText::new(format!("Headers ({status})")).small().weak());
        egui::Grid::new(format!("{id}_headers"))
            .num_columns(2)
            .spacing([10.0, 2.0])
            .show(ui, |ui| {
                for (k, v) in &pairs {
                    ui.monospace(k);
                    ui.monospace(v);
                    ui.end_row();
                }
            });
    }
    let view = choice.0.unwrap_or_else(|| payload::best_view(body));
    let mut caption = None;
    ui.horizontal(|ui| {
        caption = Some(
            ui.label(
                RichText::new(format!("Payload, {}", format::bytes(body.len() as u64)))
                    .small()
                    .weak(),
            )
            .id,
        );
        for (v, name) in [
            (payload::PayloadView::Text, "Text"),
            (payload::PayloadView::Json, "JSON"),
            (payload::PayloadView::Hex, "Hex"),
        ] {
            if ui.selectable_label(view == v, name).clicked() {
                choice.0 = Some(v);
            }
        }
        widgets::copy_button(ui, "Copy", &payload::render_text(body));
    });
    let mut text = payload::render(body, view);
    egui::ScrollArea::vertical()
        .id_salt(format!("{id}_payload"))
        .max_height(260.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let r = ui.add(
                egui::TextEdit::multiline(&mut text)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(f32::INFINITY)
                    .interactive(true),
            );
            if let Some(id) = caption {
                r.labelled_by(id);
            }
        });
}

/// A confirmation asked inline: the question, a red button that does it, and Cancel.
/// Some(true) when confirmed, Some(false) when cancelled.
pub fn confirm(ui: &mut Ui, question: &str, action: &str) -> Option<bool> {
    let mut out = None;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, NO_INTEREST))
        .show(ui, |ui| {
            ui.label(RichText::new(question).strong());
            ui.horizontal(|ui| {
                if ui
                    .button(RichText::new(action).color(NO_INTEREST).strong())
                    .clicked()
                {
                    out = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    out = Some(false);
                }
            });
        });
    out
}

/// The outcome of the last request of a view: in progress, done (green), failed (red).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Idle,
    Waiting(u64, String),
    Done(String),
    Failed(String),
}

impl Status {
    /// Sends `request`, noting it as in progress (`what`), or the reason it was refused.
    pub fn send(&mut self, requests: &mut Requests<'_>, request: JsRequest, what: &str) -> u64 {
        match requests.send(request) {
            Ok(id) => {
                *self = Status::Waiting(id, what.to_string());
                id
            }
            Err(e) => {
                *self = Status::Failed(e);
                0
            }
        }
    }

    pub fn waiting_for(&self, id: u64) -> bool {
        matches!(self, Status::Waiting(w, _) if *w == id)
    }

    pub fn show(&self, ui: &mut Ui) {
        match self {
            Status::Idle => {}
            Status::Waiting(_, what) => {
                ui.label(RichText::new(format!("{what}...")).weak());
            }
            Status::Done(text) => {
                ui.label(RichText::new(text).color(widgets::OK));
            }
            Status::Failed(text) => {
                ui.label(RichText::new(text).color(NO_INTEREST));
            }
        }
    }
}
