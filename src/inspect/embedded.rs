//! Inspecting the embedded broker: the sampler task feeding its snapshots, and the control
//! surface the inspector uses on it.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::control::{BrokerControl, DemoStatus, RecordingStatus};
use super::feed::Feed;
use super::sampler::{self, Sampler};
use crate::broker::record_tap::BrokerRecording;
use crate::broker::{CloseReason, Server};
use crate::demo::Demo;
use crate::record::recorder::{RecordCounters, RecordError, RecordOptions};

/// Commands on the embedded broker.
pub struct EmbeddedControl {
    server: Arc<Server>,
    /// The recording started from the inspector (one at a time).
    recording: Mutex<Option<(BrokerRecording, Vec<String>)>>,
    /// The demo clients started from the inspector, shared with the task that starts them.
    demo: Arc<Mutex<DemoSlot>>,
    /// The runtime the broker runs on: the demo clients run there.
    runtime: tokio::runtime::Handle,
}

#[derive(Default)]
struct DemoSlot {
    status: Option<DemoStatus>,
    running: Option<Demo>,
    /// Bumped by every switch, so a start that finishes after "off" knows it is stale.
    generation: u64,
}

impl EmbeddedControl {
    /// The URL in-process clients use to reach this broker.
    fn client_url(&self) -> String {
        format!(
            "nats://{}:{}",
            super::sampler::url_host(&self.server.opts.host),
            self.server.port()
        )
    }

    /// Stops the demo clients and waits for them (bounded): before the broker shuts down,
    /// so they leave as clients do rather than being cut off.
    pub async fn stop_demo(&self) {
        let running = {
            let mut slot = self.demo.lock();
            slot.generation += 1;
            slot.status = Some(DemoStatus::Off);
            slot.running.take()
        };
        if let Some(demo) = running {
            demo.stop().await;
        }
    }
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

    fn set_request_timeout(&self, timeout: std::time::Duration) {
        self.server.tap.set_request_timeout(timeout);
    }

    fn set_demo(&self, on: bool) {
        if !on {
            let running = {
                let mut slot = self.demo.lock();
                slot.generation += 1;
                slot.status = Some(DemoStatus::Off);
                slot.running.take()
            };
            if let Some(demo) = running {
                self.runtime.spawn(demo.stop());
            }
            return;
        }
        let generation = {
            let mut slot = self.demo.lock();
            if matches!(slot.status, Some(DemoStatus::On | DemoStatus::Starting)) {
                return;
            }
            slot.generation += 1;
            slot.status = Some(DemoStatus::Starting);
            slot.generation
        };
        let url = self.client_url();
        let shared = self.demo.clone();
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

    fn demo(&self) -> DemoStatus {
        self.demo.lock().status.clone().unwrap_or(DemoStatus::Off)
    }

    fn start_recording(&self, path: &Path, subjects: Vec<String>) -> Result<(), String> {
        let mut slot = self.recording.lock();
        if slot.is_some() {
            return Err(RecordError::AlreadyRecording.to_string());
        }
        let opts = RecordOptions::subjects(subjects.clone());
        let recording = self
            .server
            .start_recording(path, opts)
            .map_err(|e| e.to_string())?;
        *slot = Some((recording, subjects));
        Ok(())
    }

    fn stop_recording(&self) -> Result<RecordCounters, String> {
        let Some((recording, _)) = self.recording.lock().take() else {
            return Err("no recording is running".into());
        };
        let counters = recording.counters();
        recording.stop().map_err(|e| e.to_string())?;
        Ok(counters)
    }

    fn recording(&self) -> Option<RecordingStatus> {
        let slot = self.recording.lock();
        let (recording, subjects) = slot.as_ref()?;
        Some(RecordingStatus {
            path: recording.path()?.to_path_buf(),
            subjects: subjects.clone(),
            counters: recording.counters(),
            error: recording.error(),
        })
    }
}

/// Starts the sampler on the current tokio runtime and hands out the feed and the control.
/// There is one feed per broker: `None` when it was already taken.
pub fn attach(
    server: Arc<Server>,
    monitor_url: Option<String>,
) -> Option<(Feed, Arc<dyn BrokerControl>)> {
    let (feed, control) = attach_embedded(server, monitor_url)?;
    Some((feed, control))
}

/// [`attach`], keeping the control's own type (for what only the embedded broker offers,
/// such as [`EmbeddedControl::stop_demo`]).
pub fn attach_embedded(
    server: Arc<Server>,
    monitor_url: Option<String>,
) -> Option<(Feed, Arc<EmbeddedControl>)> {
    let feed = server.tap.take_feed()?;
    tokio::spawn(sampler::run(Sampler::new(server.clone(), monitor_url)));
    Some((
        feed,
        Arc::new(EmbeddedControl {
            server,
            recording: Mutex::new(None),
            demo: Arc::new(Mutex::new(DemoSlot::default())),
            runtime: tokio::runtime::Handle::current(),
        }),
    ))
}
