#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

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

#[tokio::test]
async fn slow_consumer_is_cut_off_and_others_carry_on() {
    // Enough to fill the kernel's socket buffers of the consumer that never reads.
    const MESSAGES: usize = 10_000;
    const FRAME: usize = "MSG big 1 1000\r\n".len() + 1000 + 2;
    let handle = start(|o| o.max_pending = 256 * 1024).await;
    // A consumer that never reads, with a tiny receive buffer so the kernel absorbs little.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(handle.local_addr()).await.unwrap();
    assert!(read_some(&mut slow, 1).await.starts_with(b"INFO"));
    slow.write_all(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_some(&mut slow, 6).await, b"PONG\r\n");
    let mut fast = connect(&handle).await;
    fast.write_all(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_some(&mut fast, 6).await, b"PONG\r\n");
    // The publisher is paced on what the fast subscriber has received, so only the consumer
    // that never reads can fall behind, however loaded the machine is.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        let mut total = 0usize;
        let mut buf = vec![0u8; 65536];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while total < MESSAGES * FRAME {
            match tokio::time::timeout_at(deadline, fast.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => total += n,
                _ => break,
            }
            counter.store(total, Ordering::Relaxed);
        }
        total
    });
    let mut publisher = connect(&handle).await;
    publisher
        .write_all(b"CONNECT {\"verbose\":false}\r\n")
        .await
        .unwrap();
    let payload = vec![b'x'; 1000];
    let mut frame = b"PUB big 1000\r\n".to_vec();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    const BATCH: usize = 50;
    let pace_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for sent in (BATCH..=MESSAGES).step_by(BATCH) {
        publisher.write_all(&frame.repeat(BATCH)).await.unwrap();
        // Stay at most four batches ahead of the fast subscriber.
        while received.load(Ordering::Relaxed) + 4 * BATCH * FRAME < sent * FRAME {
            assert!(
                tokio::time::Instant::now() < pace_deadline,
                "fast subscriber stalled"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    publisher.write_all(b"PING\r\n").await.unwrap();
    assert!(read_some(&mut publisher, 6).await.ends_with(b"PONG\r\n"));
    let got = reader.await.unwrap();
    assert_eq!(got, MESSAGES * FRAME, "fast subscriber got everything");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while handle.server().stats.slow_consumers.load(Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no slow consumer detected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closed = handle.server().closed_clients();
    assert!(closed
        .iter()
        .any(|c| c.reason == CloseReason::SlowConsumerPendingBytes));
    handle.shutdown().await;
}
