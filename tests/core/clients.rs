//! Behaviour tests driven by a real client library (async-nats).
//!
//! Every test runs against each selected target (see `tests/support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::clients::{
    assert_no_message, connect, connect_with, flush, next, sync, sync_no_echo, STEP,
};
use crate::support::{
    for_each_target_async, try_wait_for_async, wait_until_async, RawConn, ServerInfo, ServerOpts,
};
use async_nats::{ConnectOptions, HeaderMap};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::timeout;

#[test]
fn wildcard_subscriptions() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect(&s).await;
            let mut star = c.subscribe("orders.*").await.unwrap();
            let mut gt = c.subscribe("orders.>").await.unwrap();
            let mut exact = c.subscribe("orders.new").await.unwrap();
            sync(&c).await;

            let p = connect(&s).await;
            p.publish("orders.new", "1".into()).await.unwrap();
            p.publish("orders.eu.new", "2".into()).await.unwrap();
            p.publish("orders", "3".into()).await.unwrap();
            flush(&p).await;

            let m = next(&mut star).await;
            assert_eq!(
                (m.subject.as_str(), &m.payload[..]),
                ("orders.new", &b"1"[..])
            );
            let m = next(&mut exact).await;
            assert_eq!(
                (m.subject.as_str(), &m.payload[..]),
                ("orders.new", &b"1"[..])
            );
            let m = next(&mut gt).await;
            assert_eq!(
                (m.subject.as_str(), &m.payload[..]),
                ("orders.new", &b"1"[..])
            );
            let m = next(&mut gt).await;
            assert_eq!(
                (m.subject.as_str(), &m.payload[..]),
                ("orders.eu.new", &b"2"[..])
            );
            assert_no_message(&mut star, 200).await;
            assert_no_message(&mut gt, 50).await;
            assert_no_message(&mut exact, 50).await;
        },
    );
}

#[test]
fn queue_group_distribution() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(60),
        |s| async move {
            const MEMBERS: usize = 4;
            const N: usize = 2000;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, u32)>();
            let mut clients = Vec::new();
            let mut tasks = Vec::new();
            for member in 0..MEMBERS {
                let c = connect(&s).await;
                let mut sub = c.queue_subscribe("jobs", "workers".into()).await.unwrap();
                sync(&c).await;
                let tx = tx.clone();
                tasks.push(tokio::spawn(async move {
                    while let Some(m) = sub.next().await {
                        let n = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
                        if tx.send((member, n)).is_err() {
                            break;
                        }
                    }
                }));
                clients.push(c);
            }
            drop(tx);
            // A plain subscriber on the same subject sees everything.
            let watcher = connect(&s).await;
            let mut all = watcher.subscribe("jobs").await.unwrap();
            sync(&watcher).await;

            let p = connect(&s).await;
            for i in 0..N as u32 {
                p.publish("jobs", Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .unwrap();
            }
            flush(&p).await;

            let mut per_member = [0usize; MEMBERS];
            let mut seen = HashSet::new();
            try_wait_for_async(Duration::from_secs(20), async || {
                while let Ok((member, n)) = rx.try_recv() {
                    assert!(
                        seen.insert(n),
                        "message {n} delivered twice in the queue group"
                    );
                    per_member[member] += 1;
                }
                (seen.len() >= N).then_some(())
            })
            .await;
            assert_eq!(
                seen.len(),
                N,
                "queue group got {} of {N} messages",
                seen.len()
            );
            // Nothing more (no duplicates) arrives afterwards.
            if let Ok(Some((member, n))) = timeout(Duration::from_millis(300), rx.recv()).await {
                panic!("extra delivery of {n} to member {member}");
            }
            for (i, count) in per_member.iter().enumerate() {
                assert!(
                    *count >= N / 10,
                    "member {i} got only {count} of {N} messages: {per_member:?}"
                );
            }
            for i in 0..N as u32 {
                let m = next(&mut all).await;
                assert_eq!(&m.payload[..], &i.to_be_bytes(), "plain subscriber order");
            }
            for t in tasks {
                t.abort();
            }
        },
    );
}

#[test]
fn request_reply() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let responder = connect(&s).await;
            let mut sub = responder.subscribe("svc.upper").await.unwrap();
            sync(&responder).await;
            let r = responder.clone();
            let task = tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    if let Some(reply) = m.reply {
                        let up = m.payload.to_ascii_uppercase();
                        r.publish(reply, up.into()).await.unwrap();
                    }
                }
            });
            let c = connect(&s).await;
            for i in 0..20 {
                let body = format!("hello {i}");
                let resp = timeout(STEP, c.request("svc.upper", body.clone().into()))
                    .await
                    .expect("request timed out")
                    .expect("request failed");
                assert_eq!(resp.payload, body.to_uppercase().as_bytes());
            }
            task.abort();
        },
    );
}

#[test]
fn headers_round_trip() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect(&s).await;
            let mut sub = c.subscribe("h").await.unwrap();
            sync(&c).await;
            let p = connect(&s).await;
            let mut h = HeaderMap::new();
            h.insert("X-Trace", "abc-123");
            h.append("X-Multi", "one");
            h.append("X-Multi", "two");
            p.publish_with_headers("h", h, "body".into()).await.unwrap();
            // And a reply subject with headers.
            let mut h2 = HeaderMap::new();
            h2.insert("K", "v");
            p.publish_with_reply_and_headers("h", "reply.to", h2, Bytes::new())
                .await
                .unwrap();
            flush(&p).await;

            let m = next(&mut sub).await;
            assert_eq!(&m.payload[..], b"body");
            let hdrs = m.headers.expect("headers missing");
            assert_eq!(hdrs.get("X-Trace").map(|v| v.as_str()), Some("abc-123"));
            let multi: Vec<&str> = hdrs.get_all("X-Multi").map(|v| v.as_str()).collect();
            assert_eq!(multi, ["one", "two"]);

            let m = next(&mut sub).await;
            assert!(m.payload.is_empty());
            assert_eq!(m.reply.as_ref().map(|r| r.as_str()), Some("reply.to"));
            assert_eq!(
                m.headers
                    .expect("headers missing")
                    .get("K")
                    .map(|v| v.as_str()),
                Some("v")
            );
        },
    );
}

#[test]
fn no_responders_error() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect(&s).await;
            // The server's 503 must arrive well before the request times out.
            let req = async_nats::Request::new()
                .payload("x".into())
                .timeout(Some(Duration::from_secs(8)));
            let err = timeout(
                Duration::from_secs(9),
                c.send_request("nobody.listens", req),
            )
            .await
            .expect("request did not finish")
            .expect_err("request to nobody must fail");
            assert_eq!(
                err.kind(),
                async_nats::RequestErrorKind::NoResponders,
                "got {err}"
            );
        },
    );
}

#[test]
fn unsubscribe_after_n() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect(&s).await;
            let mut sub = c.subscribe("limited").await.unwrap();
            sub.unsubscribe_after(3).await.unwrap();
            sync(&c).await;
            let p = connect(&s).await;
            for i in 0..6 {
                p.publish("limited", format!("{i}").into()).await.unwrap();
            }
            flush(&p).await;
            for i in 0..3 {
                let m = next(&mut sub).await;
                assert_eq!(m.payload, format!("{i}").as_bytes());
            }
            // The subscription ends (no fourth message).
            match timeout(Duration::from_secs(3), sub.next()).await {
                Ok(None) => {}
                Ok(Some(m)) => panic!("message after auto-unsubscribe: {:?}", m.payload),
                Err(_) => panic!("subscription did not end after 3 messages"),
            }
        },
    );
}

#[test]
fn no_echo_option() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect_with(&s, ConnectOptions::new().no_echo()).await;
            let mut sub = c.subscribe("echo").await.unwrap();
            sync_no_echo(&c).await;
            c.publish("echo", "mine".into()).await.unwrap();
            sync_no_echo(&c).await;
            let other = connect(&s).await;
            other.publish("echo", "theirs".into()).await.unwrap();
            flush(&other).await;
            let m = next(&mut sub).await;
            assert_eq!(&m.payload[..], b"theirs");
            assert_no_message(&mut sub, 200).await;
        },
    );
}

#[test]
fn max_payload_is_announced_and_enforced_by_client() {
    let opts = ServerOpts::new().config("max_payload: 1024\n");
    for_each_target_async(&opts, Duration::from_secs(30), |s| async move {
        let c = connect(&s).await;
        assert_eq!(c.server_info().max_payload, 1024);
        assert_eq!(c.max_payload(), 1024);
        let mut sub = c.subscribe("p").await.unwrap();
        sync(&c).await;
        c.publish("p", Bytes::from(vec![b'a'; 1024])).await.unwrap();
        let m = next(&mut sub).await;
        assert_eq!(m.payload.len(), 1024);
        let err = c
            .publish("p", Bytes::from(vec![b'a'; 1025]))
            .await
            .expect_err("publishing over max_payload must fail");
        assert_eq!(
            err.kind(),
            async_nats::client::PublishErrorKind::MaxPayloadExceeded,
            "got {err}"
        );
        // The connection is still usable.
        c.publish("p", "ok".into()).await.unwrap();
        assert_eq!(&next(&mut sub).await.payload[..], b"ok");
    });
}

#[test]
fn large_payload_round_trip() {
    for_each_target_async(
        &ServerOpts::new(),
        Duration::from_secs(30),
        |s| async move {
            let c = connect(&s).await;
            let mut sub = c.subscribe("big").await.unwrap();
            sync(&c).await;
            let payload: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
            let p = connect(&s).await;
            p.publish("big", Bytes::from(payload.clone()))
                .await
                .unwrap();
            flush(&p).await;
            let m = next(&mut sub).await;
            assert!(m.payload[..] == payload[..], "1 MiB payload corrupted");
        },
    );
}

/// A raw subscriber socket with a small receive buffer that never reads.
fn slow_raw_subscriber(s: &ServerInfo, subject: &str) -> RawConn {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect_timeout(&s.addr().into(), Duration::from_secs(2))
        .unwrap();
    let stream: TcpStream = sock.into();
    let mut c = RawConn::from_stream(stream, "slow-subscriber");
    c.read_info();
    c.handshake(r#"{"verbose":false}"#);
    c.send(format!("SUB {subject} 1\r\nPING\r\n"));
    c.expect(b"PONG\r\n");
    c
}

/// Reads (and discards) until EOF/reset; returns (bytes read, closed).
fn drain_to_close(stream: &mut TcpStream, limit: Duration) -> (usize, bool) {
    let end = Instant::now() + limit;
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..1_000_000 {
        let now = Instant::now();
        if now >= end {
            return (total, false);
        }
        stream.set_read_timeout(Some(end - now)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (total, true),
            Ok(n) => total += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (total, false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (total, true),
        }
    }
    (total, false)
}

#[test]
fn slow_consumer_is_disconnected_others_unaffected() {
    const MSGS: u64 = 20_000;
    const SIZE: usize = 1000; // 20 MB in total
    const WINDOW: u64 = 200; // messages the fast subscriber may lag behind (~200 KB)
    let opts = ServerOpts::new().config("max_pending: 1048576\n");
    for_each_target_async(&opts, Duration::from_secs(120), |s| async move {
        let slow = slow_raw_subscriber(&s, "flood");

        let fast = connect(&s).await;
        let mut fast_sub = fast.subscribe("flood").await.unwrap();
        sync(&fast).await;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let fast_task = tokio::spawn(async move {
            let mut expect = 0u64;
            while expect < MSGS {
                let Ok(Some(m)) = timeout(Duration::from_secs(10), fast_sub.next()).await else {
                    return Err(format!("fast subscriber stalled after {expect} messages"));
                };
                let n = u64::from_be_bytes(m.payload[..8].try_into().unwrap());
                if n != expect || m.payload.len() != SIZE {
                    return Err(format!(
                        "fast subscriber: expected #{expect}, got #{n} ({} bytes)",
                        m.payload.len()
                    ));
                }
                expect += 1;
                counter.store(expect, Ordering::Release);
            }
            Ok(expect)
        });

        let p = connect(&s).await;
        let mut body = vec![b'.'; SIZE];
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0..MSGS {
            // Pace the publisher on the fast subscriber only, so that its own
            // backlog stays far below max_pending while the slow one fills up.
            if i >= received.load(Ordering::Acquire) + WINDOW {
                flush(&p).await;
                wait_until_async(
                    &format!("the fast subscriber to catch up (flood at #{i})"),
                    deadline.saturating_duration_since(Instant::now()),
                    async || i < received.load(Ordering::Acquire) + WINDOW,
                )
                .await;
            }
            body[..8].copy_from_slice(&i.to_be_bytes());
            p.publish("flood", Bytes::copy_from_slice(&body))
                .await
                .unwrap();
        }
        flush(&p).await;

        let got = fast_task.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, MSGS);

        // The slow subscriber was cut off: reading now hits EOF or a reset
        // after at most what the kernel buffers and max_pending held.
        let mut stream = slow.stream().try_clone().unwrap();
        let (bytes, closed) = tokio::task::spawn_blocking(move || {
            drain_to_close(&mut stream, Duration::from_secs(15))
        })
        .await
        .unwrap();
        assert!(
            closed,
            "slow subscriber still connected after the flood (read {bytes} bytes)"
        );
        assert!(
            (bytes as u64) < MSGS * SIZE as u64,
            "slow subscriber received everything ({bytes} bytes): it was never cut off"
        );

        // The publisher and fast subscriber connections are healthy, and a
        // fresh client can connect and round-trip.
        sync(&p).await;
        sync(&fast).await;
        let fresh = connect(&s).await;
        let mut sub = fresh.subscribe("after").await.unwrap();
        sync(&fresh).await;
        p.publish("after", "still here".into()).await.unwrap();
        sync(&p).await;
        assert_eq!(&next(&mut sub).await.payload[..], b"still here");
    });
}
