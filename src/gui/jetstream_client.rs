//! The JetStream views' own NATS client: browsing a stream's messages, reading and writing
//! KV keys, listing objects, purging and deleting, all through the `$JS.API` (and the KV's
//! subjects) as any client would, for the embedded broker and a remote deployment alike.
//! It runs on the app's tokio runtime and connects on first use; the window sends
//! [`JsRequest`]s through a bounded queue (a full queue refuses the request, it never
//! waits) and takes [`JsAnswer`]s back by value through another bounded queue (an answer
//! that finds it full is dropped and counted). The window never blocks on the network.
//!
//! A KV watch ([`JsClient::watch_kv`], in `jetstream_watch.rs`) is the one long-lived
//! request: its changes come back through a bounded queue of their own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_util::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Semaphore};

use crate::connect::ConnectArgs;
use crate::remote::jetstream::{
    api_request, decode, decode_message, direct_get, MsgQuery, StoredMessage,
};

#[path = "jetstream_watch.rs"]
mod watch;
pub use watch::{KvWatch, WatchEvent, WatchFeed, WATCH_QUEUE};

use super::model::jetstream::{
    kv_entry, kv_subject, kv_subjects, obj_meta_subjects, object_info, KvEntry, ObjectInfo,
};

/// The name this connection gives itself (it shows in Connections).
pub const CLIENT_NAME: &str = "switchboard-inspector-jetstream";
/// Requests waiting to be sent, and answers waiting for the window.
pub const QUEUE: usize = 32;
/// Requests worked on at once.
const IN_FLIGHT: usize = 4;
/// Keys listed per bucket, and keys whose value is read for the list.
pub const MAX_KEYS: usize = 1000;
pub const MAX_KEY_VALUES: usize = 200;
/// Revisions of a key read for its history.
pub const MAX_HISTORY: usize = 64;
/// Objects listed per store.
pub const MAX_OBJECTS: usize = 500;
/// Subjects of a stream listed with their counts.
pub const MAX_SUBJECTS: usize = 1000;
/// `$JS.API` requests made at once while listing keys or objects.
const CONCURRENT_GETS: usize = 16;

/// What the views ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsRequest {
    Message {
        stream: String,
        query: MsgQuery,
    },
    /// The stream's subjects with their message counts.
    Subjects {
        stream: String,
    },
    /// Purges the stream, or only the messages of `filter`.
    Purge {
        stream: String,
        filter: Option<String>,
    },
    DeleteMessage {
        stream: String,
        seq: u64,
    },
    DeleteStream {
        stream: String,
    },
    /// A bucket's keys with their latest revision.
    KvKeys {
        bucket: String,
    },
    /// A key's revisions, oldest first.
    KvHistory {
        bucket: String,
        key: String,
    },
    KvPut {
        bucket: String,
        key: String,
        value: Vec<u8>,
    },
    KvDelete {
        bucket: String,
        key: String,
    },
    Objects {
        bucket: String,
    },
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsReply {
    Message(StoredMessage),
    /// Subjects and counts (sorted by subject), and how many subjects there are in all.
    Subjects(Vec<(String, u64)>, usize),
    /// An action was carried out; in words ("purged 12 messages").
    Done(String),
    /// Keys (sorted, newest revision each), and how many the bucket has in all.
    KvKeys(Vec<KvEntry>, usize),
    KvHistory(Vec<KvEntry>),
    Objects(Vec<ObjectInfo>, usize),
}

/// An answer, with the id [`JsClient::send`] gave its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsAnswer {
    pub id: u64,
    pub request: JsRequest,
    pub result: Result<JsReply, String>,
}

/// The window's end: send requests, poll answers.
pub struct JsClient {
    requests: mpsc::Sender<(u64, JsRequest)>,
    watches: mpsc::Sender<WatchFeed>,
    answers: Receiver<JsAnswer>,
    next_id: u64,
    /// Answers dropped because the window did not take them in time.
    dropped: Arc<AtomicU64>,
}

/// A client whose task is the test: the requests the window sends arrive on `requests`,
/// answers sent on `answers` come back through [`JsClient::poll`], and the watches the
/// window starts arrive on `watches`.
pub struct Detached {
    pub client: JsClient,
    pub requests: mpsc::Receiver<(u64, JsRequest)>,
    pub answers: Sender<JsAnswer>,
    pub watches: mpsc::Receiver<WatchFeed>,
}

impl JsClient {
    /// Starts the client task on `runtime`; `wake` is called after each answer.
    pub fn spawn(
        target: ConnectArgs,
        runtime: &Handle,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (watch_tx, watch_rx) = mpsc::channel(QUEUE);
        let (answer_tx, answer_rx) = crossbeam_channel::bounded(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let channels = Channels {
            requests: rx,
            watches: watch_rx,
            answers: answer_tx,
        };
        runtime.spawn(run(target, channels, dropped.clone(), Arc::new(wake)));
        Self {
            requests: tx,
            watches: watch_tx,
            answers: answer_rx,
            next_id: 0,
            dropped,
        }
    }

    /// A client whose requests go nowhere (tests), with the ends a test plays the task
    /// with (see [`Detached`]).
    pub fn detached() -> Detached {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (watch_tx, watch_rx) = mpsc::channel(QUEUE);
        let (answer_tx, answer_rx) = crossbeam_channel::bounded(QUEUE);
        Detached {
            client: Self {
                requests: tx,
                watches: watch_tx,
                answers: answer_rx,
                next_id: 0,
                dropped: Arc::default(),
            },
            requests: rx,
            answers: answer_tx,
            watches: watch_rx,
        }
    }

    /// Starts watching `bucket`'s changes; the watch runs until the handle is dropped.
    pub fn watch_kv(&mut self, bucket: &str) -> Result<KvWatch, String> {
        let (watch, feed) = watch::channel(bucket);
        match self.watches.try_send(feed) {
            Ok(()) => Ok(watch),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err("too many watches are starting; try again in a moment".into())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err("the JetStream client has stopped".into())
            }
        }
    }

    /// Queues a request; its id, or why it could not be queued (never waits).
    pub fn send(&mut self, request: JsRequest) -> Result<u64, String> {
        self.next_id += 1;
        let id = self.next_id;
        match self.requests.try_send((id, request)) {
            Ok(()) => Ok(id),
            Err(mpsc::error::TrySendError::Full(_)) => Err(format!(
                "{QUEUE} JetStream requests are already waiting; try again in a moment"
            )),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err("the JetStream client has stopped".into())
            }
        }
    }

    pub fn poll(&self) -> Vec<JsAnswer> {
        self.answers.try_iter().collect()
    }

    /// Answers dropped because the window did not take them in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

type Wake = Arc<dyn Fn() + Send + Sync>;

/// The task's ends of the client's queues.
struct Channels {
    requests: mpsc::Receiver<(u64, JsRequest)>,
    watches: mpsc::Receiver<WatchFeed>,
    answers: Sender<JsAnswer>,
}

/// What the task was handed next.
enum Job {
    Request(u64, JsRequest),
    Watch(WatchFeed),
}

async fn run(target: ConnectArgs, mut ch: Channels, dropped: Arc<AtomicU64>, wake: Wake) {
    let mut client: Option<async_nats::Client> = None;
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let job = tokio::select! {
            Some((id, request)) = ch.requests.recv() => Job::Request(id, request),
            Some(feed) = ch.watches.recv() => Job::Watch(feed),
            else => return,
        };
        if client.is_none() {
            match target.connect(CLIENT_NAME, None).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    match job {
                        Job::Request(id, request) => answer(
                            &ch.answers,
                            &dropped,
                            &wake,
                            id,
                            request,
                            Err(e.to_string()),
                        ),
                        Job::Watch(feed) => {
                            feed.send(WatchEvent::Failed(e.to_string()));
                            wake();
                        }
                    }
                    continue;
                }
            }
        }
        let Some(c) = client.clone() else { continue };
        match job {
            Job::Request(id, request) => {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (answers, dropped, wake) = (ch.answers.clone(), dropped.clone(), wake.clone());
                tokio::spawn(async move {
                    let result = execute(&c, &request).await;
                    drop(permit);
                    answer(&answers, &dropped, &wake, id, request, result);
                });
            }
            Job::Watch(feed) => {
                tokio::spawn(watch::run_watch(c, feed, wake.clone()));
            }
        }
    }
}

fn answer(
    answers: &Sender<JsAnswer>,
    dropped: &AtomicU64,
    wake: &Wake,
    id: u64,
    request: JsRequest,
    result: Result<JsReply, String>,
) {
    match answers.try_send(JsAnswer {
        id,
        request,
        result,
    }) {
        Ok(()) => wake(),
        Err(TrySendError::Full(_)) => {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        Err(TrySendError::Disconnected(_)) => {}
    }
}

/// `{"success":true,...}` answers (purge, delete).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Success {
    success: bool,
    purged: u64,
}

/// A publish's acknowledgement.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PubAck {
    seq: u64,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct InfoWithSubjects {
    state: crate::remote::jetstream::StreamStateWire,
    total: usize,
}

async fn execute(c: &async_nats::Client, request: &JsRequest) -> Result<JsReply, String> {
    match request {
        JsRequest::Message { stream, query } => get(c, stream, query).await.map(JsReply::Message),
        JsRequest::Subjects { stream } => {
            let (subjects, total) = subjects(c, stream, ">").await?;
            Ok(JsReply::Subjects(subjects, total))
        }
        JsRequest::Purge { stream, filter } => {
            let body = match filter {
                Some(f) => serde_json::json!({ "filter": f }).to_string(),
                None => String::new(),
            };
            let s: Success = call(c, format!("$JS.API.STREAM.PURGE.{stream}"), body).await?;
            Ok(JsReply::Done(format!(
                "purged {} message{}",
                s.purged,
                if s.purged == 1 { "" } else { "s" }
            )))
        }
        JsRequest::DeleteMessage { stream, seq } => {
            let body = serde_json::json!({ "seq": seq }).to_string();
            let s: Success = call(c, format!("$JS.API.STREAM.MSG.DELETE.{stream}"), body).await?;
            done(s, format!("deleted message {seq}"))
        }
        JsRequest::DeleteStream { stream } => {
            let s: Success =
                call(c, format!("$JS.API.STREAM.DELETE.{stream}"), String::new()).await?;
            done(s, format!("deleted stream {stream}"))
        }
        JsRequest::KvKeys { bucket } => kv_keys(c, bucket).await,
        JsRequest::KvHistory { bucket, key } => kv_history(c, bucket, key).await,
        JsRequest::KvPut { bucket, key, value } => {
            let ack = kv_publish(c, bucket, key, None, value.clone()).await?;
            Ok(JsReply::Done(format!("put {key}: revision {}", ack.seq)))
        }
        JsRequest::KvDelete { bucket, key } => {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("KV-Operation", "DEL");
            let ack = kv_publish(c, bucket, key, Some(headers), Vec::new()).await?;
            Ok(JsReply::Done(format!(
                "deleted {key}: revision {}",
                ack.seq
            )))
        }
        JsRequest::Objects { bucket } => objects(c, bucket).await,
    }
}

fn done(s: Success, text: String) -> Result<JsReply, String> {
    if s.success {
        Ok(JsReply::Done(text))
    } else {
        Err("the server did not say it succeeded".into())
    }
}

async fn call<T: serde::de::DeserializeOwned>(
    c: &async_nats::Client,
    subject: String,
    body: String,
) -> Result<T, String> {
    let payload = api_request(c, subject, body).await?;
    decode(&payload)
}

async fn get(
    c: &async_nats::Client,
    stream: &str,
    query: &MsgQuery,
) -> Result<StoredMessage, String> {
    if let MsgQuery::FromTime { direct: true, .. } = query {
        // Direct get answers from any replica without the API's queue; a stream without
        // `allow_direct` has nobody listening, a server before 2.11 refuses `start_time`:
        // then `STREAM.MSG.GET` answers (and says why not, if it cannot either).
        if let Some(answer) = direct_get(c, stream, query).await {
            return answer;
        }
    }
    let payload = api_request(c, format!("$JS.API.STREAM.MSG.GET.{stream}"), query.body()).await?;
    decode_message(&payload)
}

/// The stream's subjects matching `filter` with their counts, at most [`MAX_SUBJECTS`].
async fn subjects(
    c: &async_nats::Client,
    stream: &str,
    filter: &str,
) -> Result<(Vec<(String, u64)>, usize), String> {
    let body = serde_json::json!({ "subjects_filter": filter }).to_string();
    let info: InfoWithSubjects = call(c, format!("$JS.API.STREAM.INFO.{stream}"), body).await?;
    let subjects: Vec<(String, u64)> = info
        .state
        .subjects
        .unwrap_or_default()
        .into_iter()
        .take(MAX_SUBJECTS)
        .collect();
    let total = info.total.max(subjects.len());
    Ok((subjects, total))
}

async fn kv_keys(c: &async_nats::Client, bucket: &str) -> Result<JsReply, String> {
    let stream = format!("KV_{bucket}");
    let (subjects, total) = subjects(c, &stream, &kv_subjects(bucket)).await?;
    let keys: Vec<String> = subjects
        .into_iter()
        .take(MAX_KEYS)
        .map(|(subject, _)| subject)
        .collect();
    let listed = keys.len();
    let mut entries: Vec<KvEntry> =
        futures_util::stream::iter(keys.into_iter().take(MAX_KEY_VALUES))
            .map(|subject| {
                let stream = stream.clone();
                async move { get(c, &stream, &MsgQuery::LastBySubject(subject)).await }
            })
            .buffered(CONCURRENT_GETS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|m| m.map(|m| kv_entry(bucket, m)))
            .collect::<Result<Vec<_>, String>>()?
            .into_iter()
            .flatten()
            .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(JsReply::KvKeys(entries, total.max(listed)))
}

async fn kv_history(c: &async_nats::Client, bucket: &str, key: &str) -> Result<JsReply, String> {
    let stream = format!("KV_{bucket}");
    let subject = kv_subject(bucket, key);
    let mut out = Vec::new();
    let mut seq = 1;
    while out.len() < MAX_HISTORY {
        let query = MsgQuery::NextBySubject {
            seq,
            subject: subject.clone(),
        };
        match get(c, &stream, &query).await {
            Ok(m) => {
                seq = m.seq + 1;
                out.extend(kv_entry(bucket, m));
            }
            // "no message found": the end of the history.
            Err(e) if out.is_empty() && !e.contains("10037") => return Err(e),
            Err(_) => break,
        }
    }
    Ok(JsReply::KvHistory(out))
}

async fn kv_publish(
    c: &async_nats::Client,
    bucket: &str,
    key: &str,
    headers: Option<async_nats::HeaderMap>,
    value: Vec<u8>,
) -> Result<PubAck, String> {
    let subject = kv_subject(bucket, key);
    let mut request = async_nats::Request::new()
        .payload(Bytes::from(value))
        .timeout(Some(crate::remote::jetstream::REQUEST_TIMEOUT));
    if let Some(h) = headers {
        request = request.headers(h);
    }
    let reply = c
        .send_request(subject.clone(), request)
        .await
        .map_err(|e| format!("{subject}: {e}"))?;
    decode(&reply.payload)
}

async fn objects(c: &async_nats::Client, bucket: &str) -> Result<JsReply, String> {
    let stream = format!("OBJ_{bucket}");
    let (subjects, total) = subjects(c, &stream, &obj_meta_subjects(bucket)).await?;
    let mut out: Vec<ObjectInfo> =
        futures_util::stream::iter(subjects.into_iter().take(MAX_OBJECTS))
            .map(|(subject, _)| {
                let stream = stream.clone();
                async move { get(c, &stream, &MsgQuery::LastBySubject(subject)).await }
            })
            .buffered(CONCURRENT_GETS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|m| m.and_then(|m| object_info(&m.payload)))
            .collect::<Result<Vec<_>, String>>()?;
    out.retain(|o| !o.deleted);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(JsReply::Objects(out, total))
}
