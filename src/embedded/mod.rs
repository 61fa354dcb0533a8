//! Inspecting the embedded broker: the sampler task feeding its snapshots, and the control
//! surface the inspector uses on it.

pub mod accounts;
pub mod jetstream;
pub mod leaf;
pub mod sampler;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::record_tap::BrokerRecording;
use crate::broker::{CloseReason, Server};
use crate::inspect::control::{ControlError, RecordCounters, RecordingStatus, SourceControl};
use crate::inspect::feed::Feed;
use crate::record::recorder::{RecordError, RecordOptions};
use sampler::Sampler;

/// Commands on the embedded broker.
pub struct EmbeddedControl {
    server: Arc<Server>,
    /// The recording started from the inspector (one at a time).
    recording: Mutex<Option<(BrokerRecording, Vec<String>)>>,
}

/// The URL in-process clients (the demo traffic, the window's own client) use to reach
/// `server`; its snapshots show the same.
pub fn client_url(server: &Server) -> String {
    format!(
        "nats://{}:{}",
        sampler::url_host(&server.opts.host),
        server.port()
    )
}

impl SourceControl for EmbeddedControl {
    fn kick(&self, cid: u64) -> bool {
        match self.server.client(cid) {
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

    fn start_recording(&self, path: &Path, subjects: Vec<String>) -> Result<(), ControlError> {
        let mut slot = self.recording.lock();
        if slot.is_some() {
            return Err(ControlError::AlreadyRecording);
        }
        let opts = RecordOptions::subjects(subjects.clone());
        let recording = self
            .server
            .start_recording(path, opts)
            .map_err(|e| match e {
                RecordError::AlreadyRecording => ControlError::AlreadyRecording,
                e => ControlError::Failed(e.to_string()),
            })?;
        *slot = Some((recording, subjects));
        Ok(())
    }

    fn stop_recording(&self) -> Result<RecordCounters, ControlError> {
        let Some((recording, _)) = self.recording.lock().take() else {
            return Err(ControlError::NotRecording);
        };
        // The final counts come from the writer, after it wrote what was still queued.
        let stats = recording
            .stop()
            .map_err(|e| ControlError::Failed(e.to_string()))?;
        Ok(RecordCounters {
            messages: stats.messages,
            bytes: stats.bytes,
            drops: stats.drops,
            queued_bytes: 0,
        })
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
) -> Option<(Feed, Arc<dyn SourceControl>)> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use super::*;
    use crate::broker::BrokerHandle;
    use crate::record::format::Record;
    use crate::record::reader::read_all;

    /// Polls `status` until `done` says so, at most five seconds.
    async fn wait_for(
        control: &Arc<dyn SourceControl>,
        done: impl Fn(&RecordingStatus) -> bool,
    ) -> RecordingStatus {
        let mut status = None;
        crate::testkit::wait_until_async("the recording's status", Duration::from_secs(5), || {
            status = control.recording().filter(|s| done(s));
            status.is_some()
        })
        .await;
        status.expect("wait_until_async returned, so the status is there")
    }

    #[tokio::test]
    async fn recording_through_the_control() {
        let dir = tempfile::tempdir().unwrap();
        let handle = BrokerHandle::start_for_test().await;
        let (_feed, control) = attach(handle.server().clone(), None).unwrap();
        assert!(control.recording().is_none());
        assert!(control.stop_recording().is_err(), "stop without a start");

        let path = dir.path().join("control.rec");
        control
            .start_recording(&path, vec!["ctl.>".into()])
            .unwrap();
        let second = control.start_recording(&dir.path().join("two.rec"), vec![]);
        assert!(second.is_err(), "a second recording at once");
        assert!(control
            .start_recording(&dir.path().join("bad.rec"), vec!["a..b".into()])
            .is_err());
        let status = control.recording().unwrap();
        assert_eq!(status.path, path);
        assert_eq!(status.subjects, vec!["ctl.>".to_string()]);
        assert_eq!(status.error, None);

        let client = async_nats::connect(handle.local_addr().to_string())
            .await
            .unwrap();
        for (subject, payload) in [("ctl.a", "1"), ("other", "x"), ("ctl.b", "22")] {
            client.publish(subject, payload.into()).await.unwrap();
        }
        client.flush().await.unwrap();
        let status = wait_for(&control, |s| s.counters.messages == 2).await;
        // Subject, reply, headers and payload bytes: "ctl.a" + "1" + "ctl.b" + "22".
        assert_eq!(status.counters.bytes, 13);
        assert_eq!(status.counters.drops, 0);

        let last = control.stop_recording().unwrap();
        assert_eq!((last.messages, last.bytes, last.drops), (2, 13, 0));
        assert!(control.recording().is_none());
        assert!(control.stop_recording().is_err(), "stopped twice");
        let (records, tail) = read_all(&path).unwrap();
        assert!(tail.is_none());
        let subjects: Vec<Vec<u8>> = records
            .iter()
            .filter_map(|r| match r {
                Record::Message(m) => Some(m.subject.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(subjects, vec![b"ctl.a".to_vec(), b"ctl.b".to_vec()]);
        assert!(matches!(records.last(), Some(Record::End(_))));

        // One at a time, but another after the first stopped is fine.
        control
            .start_recording(&dir.path().join("again.rec"), vec![])
            .unwrap();
        control.stop_recording().unwrap();
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_created_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let handle = BrokerHandle::start_for_test().await;
        let (_feed, control) = attach(handle.server().clone(), None).unwrap();
        let err = control
            .start_recording(&dir.path().join("no/such/dir/x.rec"), vec![])
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::Failed(text) if text.contains("no/such/dir")),
            "{err:?}"
        );
        assert!(control.recording().is_none());
        handle.shutdown().await;
    }
}
