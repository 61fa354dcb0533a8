//! What an observer may ask of a source (the embedded broker, a remote deployment). The GUI
//! holds it as `Arc<dyn SourceControl>`, so its views can be tested against a stand-in, the
//! embedded broker and a remote deployment alike.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Live counters of a recording (filled by the recorder).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounters {
    /// Messages written to the file.
    pub messages: u64,
    /// Message bytes written (subject, reply, headers, payload).
    pub bytes: u64,
    /// Messages dropped because the queue was full or the disk failed.
    pub drops: u64,
    /// Bytes waiting in the queue (encoded).
    pub queued_bytes: usize,
}

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

/// Why a command on a source was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("recording is not available here")]
    Unavailable,
    #[error("a recording is already running")]
    AlreadyRecording,
    #[error("no recording is running")]
    NotRecording,
    #[error("not connected to the deployment yet")]
    NotConnected,
    #[error("the recording is still finishing; {} will be complete shortly", .0.display())]
    StillFinishing(PathBuf),
    /// The source's own failure (a file that can't be created, a disk that failed), in its
    /// words: the contract carries data, not the source's error types.
    #[error("{0}")]
    Failed(String),
}

/// A request without a reply after this long counts as a timeout in the Latency view,
/// unless the observer changes it ([`SourceControl::set_request_timeout`]).
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Commands from the inspector to its source. None of them waits on the network.
pub trait SourceControl: Send + Sync {
    /// Disconnects a client (close reason "Kicked"); false if it is not connected.
    fn kick(&self, cid: u64) -> bool;
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

    /// Starts recording the traffic into `path` (created or truncated); `subjects` are
    /// patterns, empty records everything. One recording at a time.
    fn start_recording(&self, path: &Path, subjects: Vec<String>) -> Result<(), ControlError> {
        let _ = (path, subjects);
        Err(ControlError::Unavailable)
    }
    /// Stops the running recording, writes its trailer and returns its final counters.
    fn stop_recording(&self) -> Result<RecordCounters, ControlError> {
        Err(ControlError::NotRecording)
    }
    /// The running recording, if any, with live counters.
    fn recording(&self) -> Option<RecordingStatus> {
        None
    }
}

/// The control of no broker at all (the embedded one could not start): every command is
/// refused or ignored.
pub struct NoBroker;

impl SourceControl for NoBroker {
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
