//! Demo traffic: in-process NATS clients that show every pattern of the seed, so that a
//! first-time user sees every view of the inspector alive within seconds. Off by default;
//! every client is named `demo-...` and every subject starts with `demo.`.
//!
//! - one-to-N stream: a sensor publishes readings that a dashboard and an alerter receive;
//! - request/reply: a calculator service and a client asking it every quarter second;
//! - one-of-N: a dispatcher hands jobs to a queue group of three workers;
//! - M-to-N: three people chatting in a room;
//! - and an audit log that nobody listens to ("published to nobody").

mod switch;

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use switch::{DemoStatus, DemoSwitch};

/// Running demo clients; dropping it (or `stop`) ends them.
pub struct Demo {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo traffic: can't connect to {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("demo traffic: can't subscribe: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

async fn connect(url: &str, name: &str) -> Result<async_nats::Client, DemoError> {
    async_nats::ConnectOptions::new()
        .name(format!("demo-{name}"))
        .connect(url)
        .await
        .map_err(|source| DemoError::Connect {
            url: url.to_string(),
            source,
        })
}

impl Demo {
    /// Connects the demo clients to `url` and starts their traffic on the current runtime.
    pub async fn start(url: &str) -> Result<Demo, DemoError> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();

        // One-to-N: a sensor stream with two different listeners.
        let sensor = connect(url, "sensor").await?;
        for (name, pattern) in [
            ("dashboard", "demo.sensors.>"),
            ("alerts", "demo.sensors.*.temperature"),
        ] {
            let client = connect(url, name).await?;
            tasks.spawn(drain(client, pattern.to_string(), None, stopped.clone()));
        }
        tasks.spawn(every(
            Duration::from_millis(100),
            stopped.clone(),
            move |n| {
                let sensor = sensor.clone();
                async move {
                    for (i, room) in ["kitchen", "lab", "office", "server-room"]
                        .iter()
                        .enumerate()
                    {
                        let celsius = 19.0 + i as f64 * 1.5 + ((n as f64) / 10.0).sin();
                        let body =
                            format!("{{\"room\":\"{room}\",\"celsius\":{celsius:.2},\"seq\":{n}}}");
                        let _ = sensor
                            .publish(format!("demo.sensors.{room}.temperature"), body.into())
                            .await;
                    }
                }
            },
        ));

        // Request/reply: a calculator service and its client.
        let service = connect(url, "calc-service").await?;
        let mut requests = service.subscribe("demo.svc.add").await?;
        let mut service_stop = stopped.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = service_stop.changed() => return,
                    request = requests.next() => {
                        let Some(request) = request else { return };
                        let sum: i64 = String::from_utf8_lossy(&request.payload)
                            .split('+')
                            .filter_map(|t| t.trim().parse::<i64>().ok())
                            .sum();
                        if let Some(reply) = request.reply {
                            // Some work before answering, so latency is worth looking at.
                            tokio::time::sleep(Duration::from_millis(fastrand::u64(1..8))).await;
                            let _ = service.publish(reply, sum.to_string().into()).await;
                        }
                    }
                }
            }
        });
        let asker = connect(url, "calc-client").await?;
        tasks.spawn(every(
            Duration::from_millis(250),
            stopped.clone(),
            move |n| {
                let asker = asker.clone();
                async move {
                    let question = format!("{} + {}", n, n * 2);
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        asker.request("demo.svc.add", question.into()),
                    )
                    .await;
                }
            },
        ));

        // One-of-N: a queue group of workers.
        for worker in 1..=3 {
            let client = connect(url, &format!("worker-{worker}")).await?;
            tasks.spawn(drain(
                client,
                "demo.jobs.>".to_string(),
                Some("workers".to_string()),
                stopped.clone(),
            ));
        }
        let dispatcher = connect(url, "dispatcher").await?;
        tasks.spawn(every(
            Duration::from_millis(50),
            stopped.clone(),
            move |n| {
                let dispatcher = dispatcher.clone();
                async move {
                    let kind = ["resize", "thumbnail", "transcode"][n as usize % 3];
                    let body = format!("{{\"job\":{n},\"kind\":\"{kind}\"}}");
                    let _ = dispatcher
                        .publish(format!("demo.jobs.{kind}"), body.into())
                        .await;
                }
            },
        ));

        // M-to-N: everyone in the room hears everyone.
        for person in ["alice", "bob", "carol"] {
            let client = connect(url, person).await?;
            let listener = client.clone();
            tasks.spawn(drain(
                listener,
                "demo.chat.>".to_string(),
                None,
                stopped.clone(),
            ));
            tasks.spawn(every(
                Duration::from_millis(700 + fastrand::u64(0..600)),
                stopped.clone(),
                move |n| {
                    let client = client.clone();
                    async move {
                        let line = format!("{{\"from\":\"{person}\",\"text\":\"message {n}\"}}");
                        let _ = client.publish("demo.chat.room1", line.into()).await;
                    }
                },
            ));
        }

        // Published to nobody: only a broker can tell you nobody hears this.
        let auditor = connect(url, "auditor").await?;
        tasks.spawn(every(Duration::from_millis(500), stopped, move |n| {
            let auditor = auditor.clone();
            async move {
                let _ = auditor
                    .publish("demo.audit.log", format!("audit entry {n}").into())
                    .await;
            }
        }));
        Ok(Demo { stop, tasks })
    }

    /// Stops every demo client and waits for them (bounded).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

/// Runs `tick(n)` every `period` until stopped.
async fn every<F, Fut>(period: Duration, mut stopped: watch::Receiver<bool>, tick: F)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    for n in 0u64.. {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = ticker.tick() => tick(n).await,
        }
    }
}

/// Receives and discards everything on `pattern` until stopped.
async fn drain(
    client: async_nats::Client,
    pattern: String,
    queue: Option<String>,
    mut stopped: watch::Receiver<bool>,
) {
    let subscribed = match queue {
        Some(q) => client.queue_subscribe(pattern, q).await,
        None => client.subscribe(pattern).await,
    };
    let Ok(mut subscription) = subscribed else {
        return;
    };
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            message = subscription.next() => if message.is_none() { return },
        }
    }
}
