//! Attaching the inspector to an existing NATS deployment (nats-server, alone or clustered)
//! as an ordinary client, with the same views as the embedded broker.
//!
//! Map: `profile` (connection profiles and their JSON file), `contexts` (importing the NATS
//! CLI's saved contexts), `observer` (subject stats and request/reply latency from the
//! messages a subscription receives), `cluster` (servers, connections and subscriptions
//! from nats-server's monitoring data, merged), `poll` (fetching that data over `$SYS` or
//! HTTP), `events` (the system account's client events for the feed), `session` (the tasks
//! of one attached deployment), and here `attach` with the [`RemoteControl`] the
//! inspector commands.
//!
//! What is known from outside, and what is not: every message the subscriptions receive
//! (subjects, sizes, rates, payloads, request/reply pairs); servers, connections,
//! subscriptions and per-subscription delivery counts when a monitoring URL or system
//! credentials are given. Who published a given message, who received it (which queue
//! member), and messages nobody was subscribed to are not visible to a client: snapshots
//! say `Vantage::Outside` and the views show those as unknown.

pub mod cluster;
pub mod contexts;
pub mod events;
pub mod jetstream;
pub mod observer;
pub mod poll;
pub mod profile;
mod session;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use crate::connect::ConnectArgs;
use crate::inspect::control::{ControlError, RecordCounters, RecordingStatus, SourceControl};
use crate::inspect::feed::{self, Feed};
use crate::inspect::snapshot::EventKind;
use crate::record::remote::{record_remote, RemoteOptions};

pub use profile::{Credentials, Profile, Profiles};
pub use session::{CLIENT_NAME, POLL_INTERVAL, TICK};

/// Samples in flight between the observer and the GUI.
const SAMPLE_QUEUE: usize = 8192;
/// How long `stop_recording` waits for the file's trailer to be written.
const STOP_RECORDING_WAIT: Duration = Duration::from_secs(3);

/// A remote deployment being inspected.
pub struct Attached {
    pub feed: Feed,
    pub control: Arc<RemoteControl>,
    /// How the inspector's own client (Publish & Request, replay) connects.
    pub client: ConnectArgs,
    /// What the status bar calls it.
    pub label: String,
}

/// Starts inspecting `profile`'s deployment on `runtime`. Returns at once: connecting,
/// retrying and polling happen in the background and show in the snapshots' link status.
/// Dropping the control ends the session's tasks and closes its connections.
pub fn attach(profile: Profile, runtime: &tokio::runtime::Handle) -> Attached {
    let (publisher, feed) = feed::channel(SAMPLE_QUEUE);
    let client = profile.connect_args();
    let label = profile.name.clone();
    let shared = Arc::new(session::Shared::new(profile, publisher));
    let (stop_tx, stop_rx) = watch::channel(());
    runtime.spawn(session::run_observer(shared.clone(), stop_rx.clone()));
    runtime.spawn(session::run_inventory(shared.clone(), stop_rx.clone()));
    runtime.spawn(events::run(shared.clone(), stop_rx.clone()));
    let js_client = {
        let shared = shared.clone();
        move || shared.client.lock().clone()
    };
    runtime.spawn(jetstream::run(
        js_client,
        shared.js_streams.clone(),
        stop_rx,
    ));
    Attached {
        feed,
        control: Arc::new(RemoteControl {
            shared,
            runtime: runtime.clone(),
            recording: Mutex::new(None),
            _stop: stop_tx,
        }),
        client,
        label,
    }
}

/// A recording made from the remote deployment through the observer's client.
struct RemoteRecording {
    path: std::path::PathBuf,
    subjects: Vec<String>,
    counters: Arc<Mutex<RecordCounters>>,
    error: Arc<Mutex<Option<String>>>,
    stop: Option<oneshot::Sender<()>>,
    done: std::sync::mpsc::Receiver<Result<RecordCounters, ControlError>>,
}

/// Commands on a remote deployment. Kicking needs system-account credentials.
pub struct RemoteControl {
    shared: Arc<session::Shared>,
    runtime: tokio::runtime::Handle,
    recording: Mutex<Option<RemoteRecording>>,
    /// Dropped with the control: the session's tasks see it and end.
    _stop: watch::Sender<()>,
}

impl RemoteControl {
    /// The profile this session inspects.
    pub fn profile(&self) -> &Profile {
        &self.shared.profile
    }

    fn note(&self, detail: String) {
        let state = self.shared.link.lock().state;
        self.shared.publisher.push_event(
            std::time::SystemTime::now(),
            EventKind::Link { state, detail },
        );
    }
}

impl SourceControl for RemoteControl {
    /// Sends `$SYS.REQ.SERVER.<id>.KICK` for the connection; true when the request went
    /// out. The outcome (or why it could not be sent) shows in the event log.
    fn kick(&self, cid: u64) -> bool {
        let Some((server_id, cid)) = self.shared.ids.lock().lookup(cid) else {
            return false;
        };
        let Some(system) = self.shared.system.lock().clone() else {
            self.note("kicking a client needs system-account credentials in the profile".into());
            return false;
        };
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            let detail = match poll::kick(&system, &server_id, cid).await {
                Ok(()) => format!("kicked client {cid} on server {server_id}"),
                Err(e) => format!("kicking client {cid} on server {server_id} failed: {e}"),
            };
            let state = shared.link.lock().state;
            shared.publisher.push_event(
                std::time::SystemTime::now(),
                EventKind::Link { state, detail },
            );
        });
        true
    }

    fn set_sampling(&self, on: bool) {
        self.shared.sampling.store(on, Ordering::Relaxed);
    }

    fn sampling(&self) -> bool {
        self.shared.sampling.load(Ordering::Relaxed)
    }

    fn set_latency_tracking(&self, on: bool) {
        self.shared.latency.store(on, Ordering::Relaxed);
    }

    fn latency_tracking(&self) -> bool {
        self.shared.latency.load(Ordering::Relaxed)
    }

    fn start_recording(&self, path: &Path, subjects: Vec<String>) -> Result<(), ControlError> {
        let mut slot = self.recording.lock();
        if slot.as_ref().is_some_and(|r| r.stop.is_some()) {
            return Err(ControlError::AlreadyRecording);
        }
        let Some(client) = self.shared.client.lock().clone() else {
            return Err(ControlError::NotConnected);
        };
        // Fail now, not later in the background, on a path that can't be written.
        std::fs::File::create(path)
            .map_err(|e| ControlError::Failed(format!("can't create {}: {e}", path.display())))?;
        let counters = Arc::new(Mutex::new(RecordCounters::default()));
        let error = Arc::new(Mutex::new(None));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let server = self.shared.profile.servers.clone();
        let opts = RemoteOptions {
            subjects: subjects.clone(),
            ..RemoteOptions::default()
        };
        let file = path.to_path_buf();
        let live = counters.clone();
        let failure = error.clone();
        self.runtime.spawn(async move {
            let outcome = record_remote(
                &client,
                &server,
                &file,
                &opts,
                Arc::new(AtomicU64::new(0)),
                async {
                    let _ = stop_rx.await;
                },
                |c| *live.lock() = c,
            )
            .await;
            let result = match outcome {
                Ok(o) => Ok(RecordCounters {
                    messages: o.stats.messages,
                    bytes: o.stats.bytes,
                    drops: o.stats.drops,
                    queued_bytes: 0,
                }),
                Err(e) => {
                    let text = e.to_string();
                    *failure.lock() = Some(text.clone());
                    Err(ControlError::Failed(text))
                }
            };
            let _ = done_tx.send(result);
        });
        *slot = Some(RemoteRecording {
            path: path.to_path_buf(),
            subjects,
            counters,
            error,
            stop: Some(stop_tx),
            done: done_rx,
        });
        Ok(())
    }

    /// Stops the recording and waits (at most a few seconds, local work only: the file's
    /// trailer) for its final counters.
    fn stop_recording(&self) -> Result<RecordCounters, ControlError> {
        let Some(mut recording) = self.recording.lock().take() else {
            return Err(ControlError::NotRecording);
        };
        if let Some(stop) = recording.stop.take() {
            let _ = stop.send(());
        }
        match recording.done.recv_timeout(STOP_RECORDING_WAIT) {
            Ok(result) => result,
            Err(_) => Err(ControlError::StillFinishing(recording.path.clone())),
        }
    }

    fn recording(&self) -> Option<RecordingStatus> {
        let slot = self.recording.lock();
        let status = slot.as_ref().map(|r| RecordingStatus {
            path: r.path.clone(),
            subjects: r.subjects.clone(),
            counters: *r.counters.lock(),
            error: r.error.lock().clone(),
        });
        status
    }
}
