//! `serve --record FILE`: a recording inside the broker for the whole run, its drops
//! logged as they happen and its totals when it ends.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::command::ServeRecordArgs;
use crate::record::recorder::{RecordError, RecordOptions};

/// A running `serve --record` recording and its drop watcher.
pub struct ServeRecording {
    recording: crate::broker::BrokerRecording,
    watcher: tokio::task::JoinHandle<()>,
}

/// Starts `serve --record` (nothing when no `--record` was given). Call within the runtime.
pub fn start_serve_recording(
    server: &Arc<crate::broker::Server>,
    args: &ServeRecordArgs,
) -> Result<Option<ServeRecording>, RecordError> {
    let Some(file) = &args.file else {
        return Ok(None);
    };
    let opts = RecordOptions::subjects(args.subjects.clone());
    let recording = server.start_recording(file, opts)?;
    crate::log_info!(
        "Recording {} to {}",
        if args.subjects.is_empty() {
            "all messages".to_string()
        } else {
            args.subjects.join(" ")
        },
        file.display()
    );
    let monitor = recording.monitor();
    let watcher = tokio::spawn(async move {
        let Some(monitor) = monitor else { return };
        let mut reported = 0u64;
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticker.tick().await;
            let c = monitor.counters();
            if c.drops > reported {
                crate::log_warn!(
                    "Recording can't keep up: {} messages dropped in the last second ({} in all, written into the file)",
                    c.drops - reported,
                    c.drops
                );
                reported = c.drops;
            }
        }
    });
    Ok(Some(ServeRecording { recording, watcher }))
}

/// Finishes a `serve --record` recording and logs its totals.
pub async fn stop_serve_recording(recording: Option<ServeRecording>) {
    let Some(r) = recording else { return };
    r.watcher.abort();
    let path = r
        .recording
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match tokio::task::spawn_blocking(move || r.recording.stop()).await {
        Ok(Ok(s)) => crate::log_info!(
            "Recorded {} messages ({} bytes, {} dropped) to {}",
            s.messages,
            s.bytes,
            s.drops,
            path
        ),
        Ok(Err(e)) => crate::log_error!("Recording to {} failed: {}", path, e),
        Err(e) => crate::log_error!("Recording to {} failed: {}", path, e),
    }
}
