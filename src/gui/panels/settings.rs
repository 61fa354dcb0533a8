//! Settings: where the embedded broker listens, whether it runs JetStream and where it keeps
//! its streams, whether it serves WebSocket clients and on which port, which hub it joins as
//! a leaf node, the theme, how long a request may wait before Latency calls it a timeout,
//! and how many messages the Messages view keeps. Changes apply at once (the listen address,
//! JetStream, WebSocket and the leaf node when the broker restarts) and are saved to the
//! settings file shortly after.

use egui::{RichText, Ui};

use crate::gui::settings::{
    default_jetstream_store_dir, Settings, Theme, MAX_HISTORY, MAX_LATENCY_TIMEOUT_MILLIS,
    MIN_HISTORY, MIN_LATENCY_TIMEOUT_MILLIS,
};
use crate::gui::widgets::{NO_INTEREST, WARN};
use crate::inspect::snapshot::{JetStreamState, LeafLinkInfo};

/// What the app must do after the panel changed something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsOutcome {
    /// Something changed: apply and save.
    pub changed: bool,
    /// Restart the embedded broker on this address.
    pub restart: Option<(String, u16)>,
}

/// What the panel shows besides the settings themselves.
pub struct SettingsContext<'a> {
    /// The settings file, if there is one.
    pub path: Option<&'a std::path::Path>,
    /// The file could not be read (defaults are in use) or saved.
    pub problem: Option<&'a str>,
    /// Where the embedded broker listens now (None: not running or not embedded).
    pub listening: Option<&'a str>,
    /// Can the window restart the embedded broker?
    pub can_restart: bool,
    /// A restart is in progress.
    pub restarting: bool,
    /// JetStream in the embedded broker now (None: not running or not embedded).
    pub jetstream_now: Option<&'a JetStreamState>,
    /// The command line or the configuration file decides JetStream for this run.
    pub jetstream_given: bool,
    /// The WebSocket URL of the embedded broker now (outer None: not running or not
    /// embedded; inner None: no WebSocket listener).
    pub websocket_now: Option<Option<&'a str>>,
    /// The configuration file decides WebSocket for this run.
    pub websocket_given: bool,
    /// The embedded broker's leaf-node links now (None: not running or not embedded).
    pub leaf_now: Option<&'a [LeafLinkInfo]>,
    /// `--leaf` or the configuration file decides the leaf-node links for this run.
    pub leafnodes_given: bool,
}

pub fn ui(ui: &mut Ui, settings: &mut Settings, cx: &SettingsContext<'_>) -> SettingsOutcome {
    let mut out = SettingsOutcome::default();
    match cx.path {
        Some(path) => ui.label(RichText::new(format!("Saved in {}", path.display())).weak()),
        None => ui.label(RichText::new("Not saved: no settings folder on this system").color(WARN)),
    };
    if let Some(problem) = cx.problem {
        ui.label(RichText::new(problem).color(NO_INTEREST));
    }
    ui.add_space(6.0);
    egui::Grid::new("settings_grid")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            ui.label("Theme");
            ui.horizontal(|ui| {
                for theme in Theme::ALL {
                    if ui
                        .radio_value(&mut settings.theme, theme, theme.label())
                        .changed()
                    {
                        out.changed = true;
                    }
                }
            });
            ui.end_row();

            let l = ui.label("Latency timeout");
            out.changed |= ui
                .add(
                    egui::DragValue::new(&mut settings.latency_timeout_millis)
                        .range(MIN_LATENCY_TIMEOUT_MILLIS..=MAX_LATENCY_TIMEOUT_MILLIS)
                        .speed(50)
                        .suffix(" ms"),
                )
                .labelled_by(l.id)
                .on_hover_text("A request with no reply after this long counts as a timeout")
                .changed();
            ui.end_row();

            let l = ui.label("Message history");
            out.changed |= ui
                .add(
                    egui::DragValue::new(&mut settings.message_history)
                        .range(MIN_HISTORY..=MAX_HISTORY)
                        .speed(100)
                        .suffix(" messages"),
                )
                .labelled_by(l.id)
                .on_hover_text("Messages the Messages view keeps (the oldest go first)")
                .changed();
            ui.end_row();

            let l = ui.label("Listen host");
            out.changed |= ui
                .add(egui::TextEdit::singleline(&mut settings.listen_host).desired_width(160.0))
                .labelled_by(l.id)
                .on_hover_text("127.0.0.1 keeps the broker on this machine; 0.0.0.0 exposes it")
                .changed();
            ui.end_row();

            let l = ui.label("Listen port");
            out.changed |= ui
                .add(egui::DragValue::new(&mut settings.listen_port).range(1..=65535))
                .labelled_by(l.id)
                .changed();
            ui.end_row();

            ui.label("JetStream");
            out.changed |= ui
                .checkbox(&mut settings.jetstream, "Run JetStream")
                .on_hover_text("Streams, key-value and object stores in the embedded broker")
                .changed();
            ui.end_row();

            let l = ui.label("Store directory");
            ui.horizontal(|ui| {
                let default = default_jetstream_store_dir().map_or_else(
                    || "the temporary folder".to_string(),
                    |d| d.display().to_string(),
                );
                out.changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut settings.jetstream_store_dir)
                            .hint_text(default)
                            .desired_width(360.0),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(
                        "As -sd: streams are kept in its jetstream folder. Empty: the data folder",
                    )
                    .changed();
                if !settings.jetstream_store_dir.is_empty() && ui.small_button("Default").clicked()
                {
                    settings.jetstream_store_dir.clear();
                    out.changed = true;
                }
            });
            ui.end_row();

            ui.label("WebSocket");
            out.changed |= ui
                .checkbox(&mut settings.websocket, "Serve WebSocket clients")
                .on_hover_text(
                    "A ws:// listener for browser clients (nats.ws, nats.js wsconnect) beside \
                     the client port, without TLS",
                )
                .changed();
            ui.end_row();

            let l = ui.label("WebSocket port");
            out.changed |= ui
                .add_enabled(
                    settings.websocket,
                    egui::DragValue::new(&mut settings.websocket_port).range(1..=65535),
                )
                .labelled_by(l.id)
                .changed();
            ui.end_row();

            out.changed |= super::leaf::settings_rows(ui, settings);
        });
    ui.add_space(4.0);
    if let Some(listening) = cx.listening {
        ui.label(format!("The embedded broker listens on {listening} now."));
    }
    if let Some(now) = cx.jetstream_now {
        match now {
            JetStreamState::On(js) => ui.label(format!(
                "JetStream runs now, its streams in {}.",
                js.store_dir
            )),
            JetStreamState::Off => ui.label("JetStream is off now."),
            JetStreamState::Unknown => ui.label("JetStream: not known yet."),
        };
    }
    if let Some(now) = cx.websocket_now {
        match now {
            Some(url) => ui.label(format!("WebSocket clients connect to {url} now.")),
            None => ui.label("WebSocket is off now."),
        };
    }
    if cx.websocket_given {
        ui.label(
            RichText::new(
                "This run's WebSocket listener comes from the configuration file (its \
                 websocket block): the WebSocket setting applies when switchboard starts \
                 without it.",
            )
            .color(WARN),
        );
    }
    super::leaf::settings_status(ui, settings, cx.leaf_now, cx.leafnodes_given);
    if cx.jetstream_given {
        ui.label(
            RichText::new(
                "This run's JetStream comes from the command line or the configuration file \
                 (-js, -sd, jetstream, store_dir): the JetStream setting applies when \
                 switchboard starts without them.",
            )
            .color(WARN),
        );
    }
    ui.label(
        RichText::new(
            "The listen address, JetStream, WebSocket and the leaf node apply the next time \
             the broker starts; command-line flags override them (-a, -p, -c for the \
             address; -js, -sd, -c for JetStream; -c for WebSocket; --leaf, -c for the leaf \
             node).",
        )
        .weak(),
    );
    if cx.can_restart {
        ui.horizontal(|ui| {
            let button = egui::Button::new("Restart the broker with these settings");
            if ui
                .add_enabled(!cx.restarting, button)
                .on_hover_text(
                    "Stops the embedded broker (its clients reconnect) and starts it again",
                )
                .clicked()
            {
                out.restart = Some((
                    settings.listen_host.trim().to_string(),
                    settings.listen_port,
                ));
            }
            if cx.restarting {
                ui.spinner();
            }
        });
    }
    if settings.listen_host.trim() != "127.0.0.1"
        && settings.listen_host.trim() != "localhost"
        && settings.listen_host.trim() != "::1"
    {
        ui.label(
            RichText::new(
                "Beyond loopback, anyone who can reach this machine can use the broker unless \
                 authentication is configured.",
            )
            .color(WARN),
        );
    }
    out
}
