//! The demo switch: turns the demo clients on and off in the background, for the window's
//! switch and `--demo`. It belongs to whoever runs a broker in this process (the runner);
//! a remote deployment has none.

use std::sync::Arc;

use parking_lot::Mutex;

use super::Demo;

/// The demo traffic's state, as the switch shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoStatus {
    Off,
    /// Connecting its clients.
    Starting,
    On,
    /// The last start failed.
    Failed(String),
}

impl DemoStatus {
    /// On, or on its way.
    pub fn wanted(&self) -> bool {
        matches!(self, DemoStatus::On | DemoStatus::Starting)
    }
}

#[derive(Default)]
struct Slot {
    status: Option<DemoStatus>,
    running: Option<Demo>,
    /// Bumped by every switch, so a start that finishes after "off" knows it is stale.
    generation: u64,
}

/// Starts and stops the demo clients of one broker; never blocks the caller.
pub struct DemoSwitch {
    /// The URL the in-process clients connect to.
    url: String,
    /// The runtime the clients run on.
    runtime: tokio::runtime::Handle,
    slot: Arc<Mutex<Slot>>,
}

impl DemoSwitch {
    pub fn new(url: String, runtime: tokio::runtime::Handle) -> Self {
        Self {
            url,
            runtime,
            slot: Arc::default(),
        }
    }

    pub fn status(&self) -> DemoStatus {
        self.slot.lock().status.clone().unwrap_or(DemoStatus::Off)
    }

    /// Starts (in the background: see [`Self::status`]) or stops the demo clients.
    pub fn set(&self, on: bool) {
        if !on {
            if let Some(demo) = self.switch_off() {
                self.runtime.spawn(demo.stop());
            }
            return;
        }
        let generation = {
            let mut slot = self.slot.lock();
            if slot.status.as_ref().is_some_and(DemoStatus::wanted) {
                return;
            }
            slot.generation += 1;
            slot.status = Some(DemoStatus::Starting);
            slot.generation
        };
        let url = self.url.clone();
        let shared = self.slot.clone();
        self.runtime.spawn(async move {
            let started = Demo::start(&url).await;
            let stale = {
                let mut slot = shared.lock();
                if slot.generation != generation {
                    started.ok()
                } else {
                    match started {
                        Ok(demo) => {
                            slot.status = Some(DemoStatus::On);
                            slot.running = Some(demo);
                        }
                        Err(e) => slot.status = Some(DemoStatus::Failed(e.to_string())),
                    }
                    None
                }
            };
            // Switched off (or on again) while connecting: this start is not wanted.
            if let Some(demo) = stale {
                demo.stop().await;
            }
        });
    }

    /// Stops the demo clients and waits for them (bounded): before the broker shuts down,
    /// so they leave as clients do rather than being cut off.
    pub async fn stop(&self) {
        if let Some(demo) = self.switch_off() {
            demo.stop().await;
        }
    }

    fn switch_off(&self) -> Option<Demo> {
        let mut slot = self.slot.lock();
        slot.generation += 1;
        slot.status = Some(DemoStatus::Off);
        slot.running.take()
    }
}
