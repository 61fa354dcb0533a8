//! Inspecting the embedded broker: the sampler task feeding its snapshots, and the control
//! surface the inspector uses on it.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::control::{BrokerControl, RecordingStatus};
use super::feed::Feed;
use super::sampler::{self, Sampler};
use crate::broker::record_tap::BrokerRecording;
use crate::broker::{CloseReason, Server};
use crate::record::recorder::{RecordCounters, RecordError, RecordOptions};

/// Commands on the embedded broker.
pub struct EmbeddedControl {
    server: Arc<Server>,
    /// The recording started from the inspector (one at a time).
    recording: Mutex<Option<(BrokerRecording, Vec<String>)>>,
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
    let feed = server.tap.take_feed()?;
    tokio::spawn(sampler::run(Sampler::new(server.clone(), monitor_url)));
    Some((
        feed,
        Arc::new(EmbeddedControl {
            server,
            recording: Mutex::new(None),
        }),
    ))
}
