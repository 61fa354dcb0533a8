//! What an observer may ask of the engine. The GUI holds it as `Arc<dyn BrokerControl>`, so
//! its views can be tested against a stand-in, the embedded broker and a remote deployment
//! alike.

use std::path::{Path, PathBuf};

use crate::record::recorder::RecordCounters;

/// A running recording as the inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStatus {
    pub path: PathBuf,
    /// Subject patterns recorded; empty means everything.
    pub subjects: Vec<String>,
    pub counters: RecordCounters,
    /// The write error, when the disk failed (the recording stops taking messages).
    pub error: Option<String>,
}

/// The demo traffic's state, as the switch shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoStatus {
    /// This source can't run demo clients (a remote deployment: no demo traffic there).
    Unavailable,
    Off,
    /// Connecting its clients.
    Starting,
    On,
    /// The last start failed.
    Failed(String),
}

/// Commands from the inspector to the broker. None of them waits on the network.
pub trait BrokerControl: Send + Sync {
    /// Disconnects a client (close reason "Kicked"); false if it is not connected.
    fn kick(&self, client_id: u64) -> bool;
    /// Turns copying of message samples into the feed on or off.
    fn set_sampling(&self, on: bool);
    fn sampling(&self) -> bool;
    /// Turns request/reply latency tracking on or off.
    fn set_latency_tracking(&self, on: bool);
    fn latency_tracking(&self) -> bool;
    /// How long a request may wait for its reply before Latency counts a timeout.
    fn set_request_timeout(&self, timeout: std::time::Duration) {
        let _ = timeout;
    }

    /// Starts or stops the in-process demo clients (in the background: see [`Self::demo`]).
    fn set_demo(&self, on: bool) {
        let _ = on;
    }
    fn demo(&self) -> DemoStatus {
        DemoStatus::Unavailable
    }

    /// Starts recording the traffic into `path` (created or truncated); `subjects` are
    /// patterns, empty records everything. One recording at a time.
    fn start_recording(&self, path: &Path, subjects: Vec<String>) -> Result<(), String> {
        let _ = (path, subjects);
        Err("recording is not available here".into())
    }
    /// Stops the running recording, writes its trailer and returns its final counters.
    fn stop_recording(&self) -> Result<RecordCounters, String> {
        Err("no recording is running".into())
    }
    /// The running recording, if any, with live counters.
    fn recording(&self) -> Option<RecordingStatus> {
        None
    }
}

/// The control of no broker at all (the embedded one could not start): every command is
/// refused or ignored.
pub struct NoBroker;

impl BrokerControl for NoBroker {
    fn kick(&self, _client_id: u64) -> bool {
        false
    }
    fn set_sampling(&self, _on: bool) {}
    fn sampling(&self) -> bool {
        false
    }
    fn set_latency_tracking(&self, _on: bool) {}
    fn latency_tracking(&self) -> bool {
        false
    }
}
