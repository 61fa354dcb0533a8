//! Inspecting the embedded broker: the sampler task feeding its snapshots, and the control
//! surface the inspector uses on it.

use std::sync::Arc;

use super::control::BrokerControl;
use super::feed::Feed;
use super::sampler::{self, Sampler};
use crate::broker::{CloseReason, Server};

/// Commands on the embedded broker.
pub struct EmbeddedControl {
    server: Arc<Server>,
}

impl BrokerControl for EmbeddedControl {
    fn kick(&self, client_id: u64) -> bool {
        match self.server.client(client_id) {
            Some(client) => {
                client.close(CloseReason::Kicked, true);
                true
            }
            None => false,
        }
    }

    fn set_sampling(&self, on: bool) {
        self.server.tap.set_sampling(on);
    }

    fn sampling(&self) -> bool {
        self.server.tap.sampling()
    }

    fn set_latency_tracking(&self, on: bool) {
        self.server.tap.set_latency_tracking(on);
    }

    fn latency_tracking(&self) -> bool {
        self.server.tap.latency_tracking()
    }
}

/// Starts the sampler on the current tokio runtime and hands out the feed and the control.
/// There is one feed per broker: `None` when it was already taken.
pub fn attach(
    server: Arc<Server>,
    monitor_url: Option<String>,
) -> Option<(Feed, Arc<dyn BrokerControl>)> {
    let feed = server.tap.take_feed()?;
    tokio::spawn(sampler::run(Sampler::new(server.clone(), monitor_url)));
    Some((feed, Arc::new(EmbeddedControl { server })))
}
