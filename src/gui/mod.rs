//! The desktop inspector (feature `gui`): an eframe/egui window on the main thread that
//! shows everything the broker sees, fed by [`crate::inspect::Feed`].
//!
//! Map: `app` (the eframe app: navigation, status bar, commands), `bridge` (the only module
//! that knows both the feed and egui), `state` (bounded UI-side model), `model` (pure data
//! for the panels, tested without egui), `panels` (one file a view), `widgets`, `client`
//! (the inspector's own NATS client for Publish & Request), `demo` (synthetic traffic),
//! `profiles` (the Deployments window: remote profiles and NATS CLI context import).

pub mod app;
pub mod bridge;
pub mod client;
pub mod demo;
pub mod model;
pub mod panels;
pub mod profiles;
pub mod state;
pub mod widgets;

use std::sync::Arc;

use crate::inspect::{BrokerControl, Feed};
use crate::record::nats::ConnectArgs;

pub use demo::demo_feed;

/// Where the inspector looks: the feed it reads, the control it commands, and how its own
/// client (Publish & Request) connects. The embedded broker is one source; a remote
/// deployment is another. [`app::InspectorApp::switch_source`] swaps them at run time.
pub struct Source {
    pub feed: Feed,
    pub control: Arc<dyn BrokerControl>,
    /// How the inspector's own client connects (URL and credentials).
    pub client: ConnectArgs,
    /// What the status bar calls the source ("embedded broker", a profile's name).
    pub label: String,
}

/// What the inspector needs from whoever started it.
pub struct GuiContext {
    pub source: Source,
    /// The runtime the broker runs on; the client task runs there too.
    pub runtime: tokio::runtime::Handle,
}

/// The label of the embedded broker's source (the one the Deployments window returns to).
pub const EMBEDDED_LABEL: &str = "embedded broker";

/// Window title.
pub const TITLE: &str = "switchboard";

/// The native options: glow renderer (explicitly: test builds also enable wgpu).
pub fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("switchboard")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 420.0]),
        ..Default::default()
    }
}

/// Opens the inspector window; returns when it is closed.
pub fn run(ctx: GuiContext) -> anyhow::Result<()> {
    eframe::run_native(
        TITLE,
        native_options(),
        Box::new(move |cc| {
            let mut app = app::InspectorApp::new(&cc.egui_ctx, ctx);
            if let Some(storage) = cc.storage {
                app.restore(storage);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the inspector window failed: {e}"))
}
