#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::testkit::wait_until_async;

async fn start(configure: impl FnOnce(&mut Options)) -> BrokerHandle {
    let mut opts = Options {
        port: 0,
        ..Options::default()
    };
    configure(&mut opts);
    BrokerHandle::start(opts).await.unwrap()
}

/// Reads until `want` bytes arrived (or 2 s passed) and returns them.
async fn read_some(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 4096];
    while out.len() < want {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

async fn connect(handle: &BrokerHandle) -> TcpStream {
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    let info = read_some(&mut s, 1).await;
    assert!(
        info.starts_with(b"INFO {"),
        "{}",
        String::from_utf8_lossy(&info)
    );
    s
}

#[tokio::test]
async fn pub_sub_round_trip_and_shutdown() {
    let handle = start(|_| {}).await;
    let mut sub = connect(&handle).await;
    sub.write_all(b"CONNECT {\"verbose\":false}\r\nSUB foo.* 1\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_some(&mut sub, 6).await, b"PONG\r\n");
    let mut publisher = connect(&handle).await;
    publisher
        .write_all(b"CONNECT {\"verbose\":false}\r\nPUB foo.bar r 5\r\nhello\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_some(&mut publisher, 6).await, b"PONG\r\n");
    let expected = b"MSG foo.bar 1 r 5\r\nhello\r\n";
    assert_eq!(read_some(&mut sub, expected.len()).await, expected);
    let totals = handle.server().totals();
    assert_eq!(totals.in_msgs, 1);
    handle.shutdown().await;
    assert_eq!(read_some(&mut sub, 1).await, b"", "closed on shutdown");
}

#[tokio::test]
async fn port_in_use_is_an_error() {
    let handle = start(|_| {}).await;
    let port = handle.local_addr().port();
    let err = BrokerHandle::start(Options {
        port: i32::from(port),
        ..Options::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("can't listen"), "{err}");
    handle.shutdown().await;
}

/// A consumer of `subject` that never reads, with a tiny receive buffer so the kernel
/// absorbs little of what it is sent.
async fn stuck_consumer(handle: &BrokerHandle, subject: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(handle.local_addr()).await.unwrap();
    assert!(read_some(&mut stuck, 1).await.starts_with(b"INFO"));
    let hello = format!("CONNECT {{\"verbose\":false}}\r\nSUB {subject} 1\r\nPING\r\n");
    stuck.write_all(hello.as_bytes()).await.unwrap();
    assert_eq!(read_some(&mut stuck, 6).await, b"PONG\r\n");
    stuck
}

const FLOOD_PAYLOAD: usize = 1000;
const FLOOD_FRAME: usize = "MSG big 1 1000\r\n".len() + FLOOD_PAYLOAD + 2;

/// Publishes `messages` of 1000 bytes on `big`, paced on what a subscriber that reads
/// everything has received (at most `lag` messages ahead), so only consumers that never read
/// can fall behind, however loaded the machine is. Returns the bytes that reader got.
async fn paced_flood(handle: &BrokerHandle, messages: usize, lag: usize) -> usize {
    let mut fast = connect(handle).await;
    fast.write_all(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_some(&mut fast, 6).await, b"PONG\r\n");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        let mut total = 0usize;
        let mut buf = vec![0u8; 65536];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while total < messages * FLOOD_FRAME {
            match tokio::time::timeout_at(deadline, fast.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => total += n,
                _ => break,
            }
            counter.store(total, Ordering::Relaxed);
        }
        total
    });
    let mut publisher = connect(handle).await;
    publisher
        .write_all(b"CONNECT {\"verbose\":false}\r\n")
        .await
        .unwrap();
    let mut frame = b"PUB big 1000\r\n".to_vec();
    frame.extend_from_slice(&[b'x'; FLOOD_PAYLOAD]);
    frame.extend_from_slice(b"\r\n");
    const BATCH: usize = 25;
    let pace_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for sent in (BATCH..=messages).step_by(BATCH) {
        publisher.write_all(&frame.repeat(BATCH)).await.unwrap();
        while received.load(Ordering::Relaxed) + lag * FLOOD_FRAME < sent * FLOOD_FRAME {
            assert!(
                tokio::time::Instant::now() < pace_deadline,
                "fast subscriber stalled"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    publisher.write_all(b"PING\r\n").await.unwrap();
    assert!(read_some(&mut publisher, 6).await.ends_with(b"PONG\r\n"));
    reader.await.unwrap()
}

/// Waits (bounded) until `count` connections were closed as slow consumers.
async fn wait_for_slow_consumers(handle: &BrokerHandle, count: u64) {
    wait_until_async(
        &format!("{count} connections closed as slow consumers"),
        Duration::from_secs(5),
        || handle.server().stats.slow_consumers.load(Ordering::Relaxed) >= count,
    )
    .await;
    let closed = handle.server().closed_clients();
    let cut = closed
        .iter()
        .filter(|c| c.reason == CloseReason::SlowConsumerPendingBytes)
        .count();
    assert_eq!(cut as u64, count, "closed as slow consumers");
}

#[tokio::test]
async fn slow_consumer_is_cut_off_and_others_carry_on() {
    const MESSAGES: usize = 10_000;
    let handle = start(|o| o.max_pending = 256 * 1024).await;
    let _stuck = stuck_consumer(&handle, "big").await;
    let got = paced_flood(&handle, MESSAGES, 100).await;
    assert_eq!(
        got,
        MESSAGES * FLOOD_FRAME,
        "fast subscriber got everything"
    );
    wait_for_slow_consumers(&handle, 1).await;
    handle.shutdown().await;
}

#[tokio::test]
async fn the_global_outbound_cap_cuts_the_stuck_consumers() {
    // Each stuck consumer would stay far below its own max_pending (64 MiB) with 10 MB sent:
    // only the bound on all queues together (2 MiB) can cut them off.
    const MESSAGES: usize = 10_000;
    let handle = start(|o| o.max_pending_total = 2 * 1024 * 1024).await;
    let _stuck_a = stuck_consumer(&handle, "big").await;
    let _stuck_b = stuck_consumer(&handle, "big").await;
    let got = paced_flood(&handle, MESSAGES, 25).await;
    assert_eq!(
        got,
        MESSAGES * FLOOD_FRAME,
        "fast subscriber got everything"
    );
    wait_for_slow_consumers(&handle, 2).await;
    // The cut consumers' queues went back to the budget: what is left is at most what the
    // live connections still have queued.
    wait_until_async(
        "the cut consumers' bytes back in the budget",
        Duration::from_secs(5),
        || handle.server().outbound_budget.used() <= 64 * 1024,
    )
    .await;
    handle.shutdown().await;
}
