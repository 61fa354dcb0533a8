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
        // The final counts come from the writer, after it wrote what was still queued.
        let stats = recording.stop().map_err(|e| e.to_string())?;
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
        control: &Arc<dyn BrokerControl>,
        done: impl Fn(&RecordingStatus) -> bool,
    ) -> RecordingStatus {
        for _ in 0..500 {
            if let Some(s) = control.recording().filter(|s| done(s)) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "recording status never got there: {:?}",
            control.recording()
        );
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
        assert!(!err.is_empty());
        assert!(control.recording().is_none());
        handle.shutdown().await;
    }
}
