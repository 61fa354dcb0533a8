//! The inspector's own NATS client (async-nats), for Publish & Request. It runs on the
//! app's tokio runtime, connects on first use, and hands outcomes back through a channel;
//! the UI thread only sends commands and polls results, it never waits on the network.

use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::connect::ConnectArgs;

/// The name the inspector's connection gives itself (it shows up in Connections).
pub const CLIENT_NAME: &str = "switchboard-inspector";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    Publish(Outgoing),
    Request { msg: Outgoing, timeout: Duration },
}

/// A reply as the form shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyMsg {
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Published and flushed to the server.
    Published {
        subject: String,
        bytes: usize,
    },
    Reply {
        subject: String,
        latency: Duration,
        reply: ReplyMsg,
    },
    NoResponders {
        subject: String,
        latency: Duration,
    },
    TimedOut {
        subject: String,
        timeout: Duration,
    },
    Failed(String),
}

/// The UI's end: send commands, poll outcomes.
pub struct NatsClient {
    commands: mpsc::UnboundedSender<ClientCommand>,
    outcomes: Receiver<Outcome>,
}

impl NatsClient {
    /// Starts the client task on `runtime`; `wake` is called after each outcome.
    pub fn spawn(
        target: ConnectArgs,
        runtime: &Handle,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        runtime.spawn(run(target, rx, out_tx, std::sync::Arc::new(wake)));
        Self {
            commands: tx,
            outcomes: out_rx,
        }
    }

    /// A client whose commands go nowhere (tests): `sent` receives them instead.
    pub fn detached() -> (
        Self,
        mpsc::UnboundedReceiver<ClientCommand>,
        Sender<Outcome>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        (
            Self {
                commands: tx,
                outcomes: out_rx,
            },
            rx,
            out_tx,
        )
    }

    pub fn send(&self, cmd: ClientCommand) -> bool {
        self.commands.send(cmd).is_ok()
    }

    pub fn poll(&self) -> Vec<Outcome> {
        self.outcomes.try_iter().collect()
    }
}

type Wake = std::sync::Arc<dyn Fn() + Send + Sync>;

async fn run(
    target: ConnectArgs,
    mut commands: mpsc::UnboundedReceiver<ClientCommand>,
    outcomes: Sender<Outcome>,
    wake: Wake,
) {
    let mut client: Option<async_nats::Client> = None;
    while let Some(cmd) = commands.recv().await {
        if client.is_none() {
            match target.connect(CLIENT_NAME, None).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    let _ = outcomes.send(Outcome::Failed(e.to_string()));
                    wake();
                    continue;
                }
            }
        }
        let Some(c) = client.clone() else { continue };
        let outcomes = outcomes.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            let outcome = execute(&c, cmd).await;
            let _ = outcomes.send(outcome);
            wake();
        });
    }
}

fn header_map(headers: &[(String, String)]) -> Option<async_nats::HeaderMap> {
    if headers.is_empty() {
        return None;
    }
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers {
        map.append(k.as_str(), v.as_str());
    }
    Some(map)
}

async fn execute(client: &async_nats::Client, cmd: ClientCommand) -> Outcome {
    match cmd {
        ClientCommand::Publish(msg) => {
            let bytes = msg.payload.len();
            let subject = msg.subject.clone();
            let payload = Bytes::from(msg.payload);
            let result = match (msg.reply, header_map(&msg.headers)) {
                (Some(reply), Some(h)) => {
                    client
                        .publish_with_reply_and_headers(msg.subject, reply, h, payload)
                        .await
                }
                (Some(reply), None) => client.publish_with_reply(msg.subject, reply, payload).await,
                (None, Some(h)) => client.publish_with_headers(msg.subject, h, payload).await,
                (None, None) => client.publish(msg.subject, payload).await,
            };
            if let Err(e) = result {
                return Outcome::Failed(format!("publish failed: {e}"));
            }
            match client.flush().await {
                Ok(()) => Outcome::Published { subject, bytes },
                Err(e) => Outcome::Failed(format!("publish not flushed: {e}")),
            }
        }
        ClientCommand::Request { msg, timeout } => {
            let subject = msg.subject.clone();
            let mut request = async_nats::Request::new()
                .payload(Bytes::from(msg.payload))
                .timeout(Some(timeout));
            if let Some(h) = header_map(&msg.headers) {
                request = request.headers(h);
            }
            let started = Instant::now();
            match client.send_request(msg.subject, request).await {
                Ok(reply) => Outcome::Reply {
                    subject,
                    latency: started.elapsed(),
                    reply: ReplyMsg {
                        subject: reply.subject.to_string(),
                        headers: reply
                            .headers
                            .map(|h| {
                                let mut pairs: Vec<(String, String)> = h
                                    .iter()
                                    .flat_map(|(k, vs)| {
                                        vs.iter().map(move |v| (k.to_string(), v.to_string()))
                                    })
                                    .collect();
                                pairs.sort();
                                pairs
                            })
                            .unwrap_or_default(),
                        payload: reply.payload.to_vec(),
                    },
                },
                Err(e) => match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => Outcome::NoResponders {
                        subject,
                        latency: started.elapsed(),
                    },
                    async_nats::RequestErrorKind::TimedOut => {
                        Outcome::TimedOut { subject, timeout }
                    }
                    _ => Outcome::Failed(format!("request failed: {e}")),
                },
            }
        }
    }
}
