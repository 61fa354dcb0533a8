//! What JetStream promises about acknowledged messages, on switchboard's file store: a
//! SIGKILL of the server loses none of them, and a full disk refuses publishes with
//! nats-server's error while the broker keeps serving and keeps what it acknowledged.
//! (The store's own tests cut torn tails at every offset and fuzz its recovery reader.)

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;

use crate::support::free_port;

/// A `switchboard serve -js` process on a store directory, started through `sh` so that a
/// file-size limit can be set first (`ulimit -f`, with SIGXFSZ ignored so writes fail with
/// EFBIG instead of killing the process).
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    fn start(store: &std::path::Path, file_limit_kib: Option<u64>) -> Broker {
        let port = free_port();
        let limit = file_limit_kib
            .map(|k| format!("ulimit -f {k}; trap '' XFSZ; "))
            .unwrap_or_default();
        let script = format!("{limit}exec \"$0\" serve -a 127.0.0.1 -p {port} -js -sd \"$1\"");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_switchboard"))
            .arg(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts switchboard");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "switchboard did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child, port }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn payload(i: u64) -> Bytes {
    Bytes::from(format!("message {i} {}", "x".repeat((i % 200) as usize)))
}

async fn context(url: &str) -> jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(5)))
        .connect(url)
        .await
        .expect("connect");
    jetstream::new(client)
}

async fn create(ctx: &jetstream::Context) {
    ctx.create_stream(stream::Config {
        name: "D".into(),
        subjects: vec!["d.>".into()],
        ..Default::default()
    })
    .await
    .expect("stream created");
}

/// Every acknowledged (sequence, payload) must read back byte for byte.
async fn check_all(ctx: &jetstream::Context, acked: &[(u64, Bytes)]) {
    let stream = ctx.get_stream("D").await.expect("the stream is back");
    for (seq, body) in acked {
        let msg = stream
            .get_raw_message(*seq)
            .await
            .unwrap_or_else(|e| panic!("acknowledged sequence {seq} is gone: {e}"));
        assert_eq!(&msg.payload, body, "sequence {seq}");
        assert_eq!(msg.subject.as_str(), format!("d.{}", seq % 7));
    }
}

#[test]
fn no_acknowledged_message_is_lost_when_the_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let broker = Broker::start(dir.path(), None);
    let acked = rt.block_on(async {
        let ctx = context(&broker.url()).await;
        create(&ctx).await;
        // Publish with a window of acks outstanding; kill the server while 64 are in flight.
        let mut acked = Vec::new();
        let mut pending = std::collections::VecDeque::new();
        for seq in 1..=3_000u64 {
            let subject = format!("d.{}", seq % 7);
            let ack = ctx.publish(subject, payload(seq)).await.expect("publish");
            pending.push_back((seq, ack));
            if pending.len() >= 64 {
                let (seq, ack) = pending.pop_front().unwrap();
                let a = ack.await.expect("an ack while the server runs");
                assert_eq!(a.sequence, seq);
                acked.push((seq, payload(seq)));
            }
        }
        broker.kill();
        // Acks that reached the client before the kill count too; the first missing one
        // ends them (acks come in order).
        while let Some((seq, ack)) = pending.pop_front() {
            match tokio::time::timeout(Duration::from_millis(300), ack).await {
                Ok(Ok(a)) if a.sequence == seq => acked.push((seq, payload(seq))),
                _ => break,
            }
        }
        acked
    });
    assert!(
        acked.len() >= 1_000,
        "only {} acks before the kill",
        acked.len()
    );
    let broker = Broker::start(dir.path(), None);
    rt.block_on(async {
        let ctx = context(&broker.url()).await;
        check_all(&ctx, &acked).await;
        // The stream goes on after the last sequence it kept.
        let last = ctx
            .get_stream("D")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .last_sequence;
        let ack = ctx
            .publish("d.0", "after".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, last + 1);
    });
}

#[test]
fn a_full_disk_refuses_publishes_and_keeps_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // 2 MiB per file: the stream's first block fills up after a few thousand messages.
    let broker = Broker::start(dir.path(), Some(2048));
    let acked = rt.block_on(async {
        let ctx = context(&broker.url()).await;
        create(&ctx).await;
        let mut acked = Vec::new();
        let mut refused = None;
        for seq in 1..=100_000u64 {
            let subject = format!("d.{}", seq % 7);
            let ack = ctx.publish(subject, payload(seq)).await.unwrap().await;
            match ack {
                Ok(a) => {
                    assert_eq!(a.sequence, seq);
                    acked.push((seq, payload(seq)));
                }
                Err(e) => {
                    refused = Some(e.to_string());
                    break;
                }
            }
        }
        let refused = refused.expect("the file-size limit was reached");
        assert!(
            refused.contains("10023") || refused.contains("insufficient resources"),
            "{refused}"
        );
        // The broker keeps serving: core messaging and the API answer.
        let client = async_nats::connect(broker.url()).await.unwrap();
        let mut sub = client.subscribe("core.x").await.unwrap();
        client.publish("core.x", "still here".into()).await.unwrap();
        let got = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::StreamExt::next(&mut sub),
        )
        .await
        .expect("core messaging works")
        .unwrap();
        assert_eq!(&got.payload[..], b"still here");
        let info = ctx
            .get_stream("D")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone();
        assert_eq!(info.state.messages, acked.len() as u64);
        check_all(&ctx, &acked).await;
        acked
    });
    broker.kill();
    // Without the limit, everything acknowledged is there and publishing goes on.
    let broker = Broker::start(dir.path(), None);
    rt.block_on(async {
        let ctx = context(&broker.url()).await;
        check_all(&ctx, &acked).await;
        let ack = ctx
            .publish("d.1", "more".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, acked.len() as u64 + 1);
    });
}
