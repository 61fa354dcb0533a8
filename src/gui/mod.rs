//! The desktop inspector (feature `gui`): an eframe/egui window on the main thread that
//! shows everything the broker sees, fed by [`crate::inspect::Feed`].
//!
//! Map: `app` (the eframe app: navigation, status bar, commands), `bridge` (the only module
//! that knows both the feed and egui), `state` (bounded UI-side model), `model` (pure data
//! for the panels, tested without egui), `panels` (one file a view), `widgets`, `client`
//! (the inspector's own NATS client for Publish & Request), `jetstream_client` (the
//! JetStream views' client: browse, KV, purge and delete through `$JS.API`), `synthetic` (a simulated deployment for tests and screenshots),
//! `profiles` (the Deployments window: remote profiles and NATS CLI context import),
//! `dropper` (frees replaced snapshots and old messages off the UI thread), `prepare`
//! (derives the subject tree and order of large snapshots off the UI thread).

pub mod app;
pub mod bridge;
pub mod broker_start;
pub mod client;
pub mod dropper;
pub mod jetstream_client;
pub mod model;
pub mod panels;
pub mod prepare;
pub mod profiles;
pub mod recording_tasks;
pub mod settings;
pub mod state;
pub mod synthetic;
pub mod widgets;

use std::sync::Arc;

use crate::connect::ConnectArgs;
use crate::demo::DemoSwitch;
use crate::inspect::{Feed, SourceControl};

pub use synthetic::synthetic_feed;

/// Where the inspector looks: the feed it reads, the control it commands, and how its own
/// client (Publish & Request) connects. The embedded broker is one source; a remote
/// deployment is another. [`app::InspectorApp::switch_source`] swaps them at run time.
pub struct Source {
    pub feed: Feed,
    pub control: Arc<dyn SourceControl>,
    /// How the inspector's own client connects (URL and credentials).
    pub client: ConnectArgs,
    /// What the status bar calls the source ("embedded broker", a profile's name).
    pub label: String,
    /// The demo traffic's switch: only a broker in this process has one.
    pub demo: Option<Arc<DemoSwitch>>,
}

/// What the inspector needs from whoever started it.
pub struct GuiContext {
    pub source: Source,
    /// The runtime the broker runs on; the client task runs there too.
    pub runtime: tokio::runtime::Handle,
}

/// Why the embedded broker is not running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    /// `host:port` it tried.
    pub addr: String,
    /// The client port was taken (by another nats-server, most likely).
    pub port_in_use: bool,
    pub message: String,
}

/// Starting the embedded broker from the window (after a port in use, or on another
/// address). Implemented by the runner, which owns the broker's services.
pub trait Launcher: Send + Sync {
    /// Stops the embedded broker running now, if any, and starts one on `host:port` (0: a
    /// free port) with JetStream and WebSocket as `setting` says (unless the command line
    /// or the configuration file said how, see [`Launcher::jetstream_given`] and
    /// [`Launcher::websocket_given`]) and the program's other options, in the background;
    /// the outcome comes through the returned channel, which the UI polls (it never waits
    /// on it).
    fn start_embedded(
        &self,
        host: &str,
        port: u16,
        setting: &settings::BrokerSetting,
    ) -> crossbeam_channel::Receiver<Result<Source, StartFailure>>;

    /// The command line or the configuration file said how to run JetStream (`-js`, `-sd`,
    /// `jetstream`, `store_dir`): the JetStream setting is not used for this run.
    fn jetstream_given(&self) -> bool {
        false
    }

    /// The configuration file has a `websocket` block: the WebSocket setting is not used.
    fn websocket_given(&self) -> bool {
        false
    }

    /// `--leaf` or the configuration file's `leafnodes` block decides the leaf-node links:
    /// the leaf-node setting is not used.
    fn leafnodes_given(&self) -> bool {
        false
    }
}

/// What the runner hands the window besides its source.
#[derive(Default)]
pub struct Startup {
    pub launcher: Option<Arc<dyn Launcher>>,
    /// The embedded broker could not start: the window opens on this message.
    pub broker_error: Option<StartFailure>,
    /// Where the settings are kept and what was in them.
    pub settings: Option<(settings::SettingsStore, settings::Loaded)>,
    /// `--demo`: the demo switch starts on (and stays on if the broker is restarted).
    pub demo: bool,
    /// Called once with the window's context (to close it on a signal, say).
    #[allow(clippy::type_complexity)]
    pub on_ready: Option<Box<dyn FnOnce(&egui::Context) + Send>>,
}
/// The label of the embedded broker's source (the one the Deployments window returns to).
pub const EMBEDDED_LABEL: &str = "embedded broker";

/// Window title.
pub const TITLE: &str = "switchboard";

/// The application id: the window's Wayland app id and X11 WM_CLASS (eframe sets both), and
/// the name of the desktop entry, the icon and the AppStream component in packaging/linux/,
/// which is how a desktop links the window to its icon and launcher.
pub const APP_ID: &str = "io.github.switchboard.Switchboard";

/// The window icon (X11 and Windows; Wayland desktops take the icon from the desktop entry).
const ICON_PNG: &[u8] =
    include_bytes!("../../assets/icons/hicolor/256x256/apps/io.github.switchboard.Switchboard.png");

/// The window icon, decoded (the PNG is built in; tests/core/packaging.rs checks that it decodes,
/// so `None` would only mean a window without its icon).
pub fn window_icon() -> Option<egui::IconData> {
    eframe::icon_data::from_png_bytes(ICON_PNG).ok()
}

/// The native options: glow renderer (explicitly: test builds also enable wgpu).
pub fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: with_icon(
            egui::ViewportBuilder::default()
                .with_title(TITLE)
                .with_app_id(APP_ID)
                .with_inner_size([1280.0, 800.0])
                .with_min_inner_size([720.0, 420.0]),
        ),
        // eframe would derive the folder of its saved state from the app id; keep it where
        // it was before the app id became a reverse-DNS name (~/.local/share/switchboard).
        persistence_path: eframe::storage_dir(TITLE).map(|dir| dir.join("app.ron")),
        ..Default::default()
    }
}

fn with_icon(viewport: egui::ViewportBuilder) -> egui::ViewportBuilder {
    match window_icon() {
        Some(icon) => viewport.with_icon(icon),
        None => viewport,
    }
}

/// Opens the inspector window; returns when it is closed.
pub fn run(ctx: GuiContext, startup: Startup) -> anyhow::Result<()> {
    eframe::run_native(
        TITLE,
        native_options(),
        Box::new(move |cc| {
            let mut app = app::InspectorApp::new(&cc.egui_ctx, ctx);
            if let Some(storage) = cc.storage {
                app.restore(storage);
            }
            let Startup {
                launcher,
                broker_error,
                settings,
                demo,
                on_ready,
            } = startup;
            if let Some((store, loaded)) = settings {
                app.use_settings(&cc.egui_ctx, Some(store), loaded);
            }
            if let Some(launcher) = launcher {
                app.set_launcher(launcher);
            }
            if let Some(failure) = broker_error {
                app.show_start_failure(failure);
            }
            if demo {
                app.set_demo(true);
            }
            if let Some(on_ready) = on_ready {
                on_ready(&cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the inspector window failed: {e}"))
}
