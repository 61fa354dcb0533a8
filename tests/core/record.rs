//! Record and replay end to end: a recording made as a client from one server, replayed into
//! another and received complete (real nats-servers when NATS_SERVER_BIN is set, switchboard
//! otherwise), and the CLI: `serve --record`, `info`, `export`, `import`, `replay`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{try_wait_for, wait_until_async, Server, Target};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use switchboard::connect::ConnectArgs;
use switchboard::record::format::Record;
use switchboard::record::nats::NatsPublisher;
use switchboard::record::reader::read_all;
use switchboard::record::remote::{record_remote, RemoteOptions, StopReason};
use switchboard::record::replay::{replay, ReplayControl, ReplayOptions, Speed};
use switchboard::record::select::Selection;
use switchboard::record::summarize;

const N: usize = 300;

fn targets() -> Target {
    match std::env::var_os("NATS_SERVER_BIN") {
        Some(p) if !p.is_empty() => Target::Reference(p.into()),
        _ => Target::Switchboard,
    }
}

fn payload(i: usize) -> Bytes {
    match i % 3 {
        0 => Bytes::new(),
        1 => Bytes::from((0..=255u8).cycle().skip(i).take(1000).collect::<Vec<_>>()),
        _ => Bytes::from(format!("message {i}")),
    }
}

#[test]
fn recorded_from_one_server_replayed_into_another_arrives_complete() {
    let target = targets();
    let source = Server::start(&target, &[]);
    let dest = Server::start(&target, &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remote.rec");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            let recorder = ConnectArgs::url(&source.url())
                .connect("recorder", None)
                .await
                .unwrap();
            let opts = RemoteOptions {
                subjects: vec!["rr.>".into(), "rr.a.*".into()],
                count: Some(N as u64),
                ..RemoteOptions::default()
            };
            let rec_path = path.clone();
            let url = source.url();
            let task = tokio::spawn(async move {
                record_remote(
                    &recorder,
                    &url,
                    &rec_path,
                    &opts,
                    Arc::new(AtomicU64::new(0)),
                    std::future::pending(),
                    |_| {},
                )
                .await
            });
            let publisher = async_nats::connect(source.url()).await.unwrap();
            // The recorder creates its file once its subscriptions are sent.
            wait_until_async(
                "the recorder's file (its subscriptions in place)",
                Duration::from_secs(10),
                async || path.exists(),
            )
            .await;
            publisher.publish("not.recorded", "x".into()).await.unwrap();
            for i in 0..N {
                let subject = format!("rr.a.{}", i % 7);
                let mut headers = HeaderMap::new();
                headers.insert("Seq", i.to_string().as_str());
                match i % 4 {
                    0 => publisher.publish(subject, payload(i)).await,
                    1 => {
                        publisher
                            .publish_with_headers(subject, headers, payload(i))
                            .await
                    }
                    2 => {
                        publisher
                            .publish_with_reply(subject, format!("reply.{i}"), payload(i))
                            .await
                    }
                    _ => {
                        publisher
                            .publish_with_reply_and_headers(
                                subject,
                                format!("reply.{i}"),
                                headers,
                                payload(i),
                            )
                            .await
                    }
                }
                .unwrap();
            }
            publisher.flush().await.unwrap();
            let outcome = task.await.unwrap().unwrap();
            assert_eq!(outcome.reason, StopReason::Count);
            assert_eq!(outcome.stats.messages, N as u64);
            assert_eq!(outcome.stats.drops, 0);
            let summary = summarize(&path).unwrap();
            assert_eq!(summary.messages, N as u64);
            assert!(summary.clean_end);

            // Replay into the other server, remapped, at max speed.
            let subscriber = async_nats::connect(dest.url()).await.unwrap();
            let mut sub = subscriber.subscribe("copy.>").await.unwrap();
            subscriber.flush().await.unwrap();
            let client = ConnectArgs::url(&dest.url())
                .connect("replayer", None)
                .await
                .unwrap();
            let opts = ReplayOptions {
                speed: Speed::Max,
                selection: Selection::new(&[], vec!["rr.>=copy.>".parse().unwrap()]).unwrap(),
                loops: 1,
            };
            let control = ReplayControl::new(opts.speed);
            let outcome = replay(&path, &opts, &mut NatsPublisher::new(client), &control)
                .await
                .unwrap();
            assert_eq!((outcome.sent, outcome.skipped), (N as u64, 0));
            for i in 0..N {
                let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .unwrap_or_else(|_| panic!("message {i} of {N} did not arrive"))
                    .unwrap();
                assert_eq!(m.subject.as_str(), format!("copy.a.{}", i % 7));
                assert_eq!(m.payload, payload(i), "payload {i}");
                let reply = (i % 4 >= 2).then(|| format!("reply.{i}"));
                assert_eq!(m.reply.as_ref().map(|r| r.to_string()), reply);
                let seq = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Seq"))
                    .map(|v| v.to_string());
                assert_eq!(seq, (i % 2 == 1).then(|| i.to_string()), "headers {i}");
            }
        })
        .await
        .expect("test did not finish within 60 s");
    });
}

fn sb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn cli_serve_record_info_export_import_replay() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("serve.rec");
    let rec_arg = rec.to_str().unwrap();
    let server = Server::start(
        &Target::Switchboard,
        &["--record", rec_arg, "--record-subject", "cli.>"],
    );
    let mut c = server.client();
    c.send("PUB cli.one 3\r\nabc\r\nPUB skip.me 1\r\nx\r\nPUB cli.two r.1 0\r\n\r\nPING\r\n");
    c.expect("PONG\r\n");
    drop(c);
    // The writer flushes within 100 ms of going idle: wait for both messages in the file.
    let written = || {
        read_all(&rec).map(|(records, _)| {
            records
                .iter()
                .filter(|r| matches!(r, Record::Message(_)))
                .count()
        })
    };
    if try_wait_for(Duration::from_secs(10), || {
        written().is_ok_and(|n| n == 2).then_some(())
    })
    .is_none()
    {
        panic!(
            "both messages were not written within 10 s: {:?}\nserver log:\n{}",
            written(),
            server.log()
        );
    }
    drop(server); // SIGKILL: the file is cut off without END, and must still read.
    let info = run_ok(sb().args(["info", rec_arg]));
    assert!(info.contains("2 messages"), "{info}");
    assert!(info.contains("not closed cleanly"), "{info}");

    let ndjson = dir.path().join("out.ndjson");
    run_ok(
        sb().args(["export", rec_arg, "--format", "ndjson", "-o"])
            .arg(&ndjson),
    );
    let text = std::fs::read_to_string(&ndjson).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("\"payload\":\"abc\""), "{text}");
    let imported = dir.path().join("imported.rec");
    run_ok(sb().arg("import").arg(&ndjson).arg("-o").arg(&imported));

    let dest = Server::start(&Target::Switchboard, &[]);
    let mut sub = dest.client();
    sub.send("SUB again.> 1\r\nPING\r\n");
    sub.expect("PONG\r\n");
    let out = run_ok(
        sb().arg("replay")
            .arg(&imported)
            .args([
                "--server",
                &dest.url(),
                "--speed",
                "max",
                "--remap",
                "cli.>=again.>",
            ])
            .args(["--loop", "2"]),
    );
    assert!(
        out.contains("replayed 4 messages (2 per pass, 2 passes done)"),
        "{out}"
    );
    sub.expect("MSG again.one 1 3\r\nabc\r\n");
    sub.expect("MSG again.two 1 r.1 0\r\n\r\n");
    sub.expect("MSG again.one 1 3\r\nabc\r\n");
    sub.expect("MSG again.two 1 r.1 0\r\n\r\n");

    let bad = sb()
        .args(["replay", "/nonexistent.rec", "--server", &dest.url()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let usage = sb()
        .args(["replay", "--speed", "fast", "x"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
