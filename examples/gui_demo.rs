//! The inspector on synthetic traffic (for screenshots and trying it out):
//! `cargo run --example gui_demo`. Publish & Request go to a real embedded broker.

use switchboard::broker::BrokerHandle;
use switchboard::connect::ConnectArgs;
use switchboard::gui::{self, GuiContext};
use switchboard::options::Options;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let opts = Options {
        port: 0,
        ..Options::default()
    };
    let broker = runtime.block_on(BrokerHandle::start(opts))?;
    let client_url = format!("nats://{}", broker.local_addr());
    let (feed, control) = gui::synthetic::synthetic_feed_with_url(runtime.handle(), &client_url);
    gui::run(
        GuiContext {
            source: gui::Source {
                feed,
                control,
                client: ConnectArgs::url(&client_url),
                label: "synthetic demo".into(),
                demo: None,
            },
            runtime: runtime.handle().clone(),
        },
        gui::Startup::default(),
    )?;
    runtime.block_on(broker.shutdown());
    Ok(())
}
