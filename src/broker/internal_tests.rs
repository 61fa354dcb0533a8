#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::broker::BrokerHandle;

/// (subject, headers, payload) as a handler saw them.
type Seen = (String, Vec<u8>, Vec<u8>);

/// Answers each request with "echo:<payload>" and remembers what it saw.
#[derive(Debug, Default)]
struct Echo {
    seen: Mutex<Vec<Seen>>,
}

impl InternalHandler for Echo {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        self.seen.lock().push((
            String::from_utf8_lossy(msg.subject).into_owned(),
            msg.headers.to_vec(),
            msg.payload.to_vec(),
        ));
        if let Some(reply) = msg.reply {
            let mut body = b"echo:".to_vec();
            body.extend_from_slice(msg.payload);
            server.publish_internal(fanout, msg.account, reply, None, b"", &body);
        }
        msg.subject != b"svc.decline"
    }
}

/// Publishes to its own subject again: the depth limit must stop it.
#[derive(Debug, Default)]
struct Loop {
    calls: Mutex<u32>,
}

impl InternalHandler for Loop {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        *self.calls.lock() += 1;
        server.publish_internal(fanout, msg.account, msg.subject, None, b"", b"again");
        true
    }
}

async fn read_until(stream: &mut TcpStream, want: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    while !out.windows(want.len()).any(|w| w == want) {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

#[tokio::test]
async fn a_request_to_an_internal_subscription_is_answered_in_the_publishers_pass() {
    let handle = BrokerHandle::start_for_test().await;
    let server = handle.server().clone();
    let account = server.global_account().clone();
    let client = server.internal_client(&account);
    let echo = Arc::new(Echo::default());
    server
        .subscribe_internal(&client, "svc.>", None, echo.clone())
        .unwrap();

    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    s.write_all(
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB inbox 1\r\n\
          HPUB svc.a inbox 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
    )
    .await
    .unwrap();
    let got = read_until(&mut s, b"PONG\r\n").await;
    let text = String::from_utf8_lossy(&got);
    // The answer is queued before the PONG that follows the request in the same read.
    let answer = text.find("MSG inbox 1 7\r\necho:hi\r\n").expect(&text);
    assert!(answer < text.find("PONG").unwrap(), "{text}");
    let seen = echo.seen.lock().clone();
    assert_eq!(
        seen,
        vec![(
            "svc.a".to_string(),
            b"NATS/1.0\r\n\r\n".to_vec(),
            b"hi".to_vec()
        )]
    );
    assert_eq!(server.subscription_count(), 2);

    // A declined request is answered with no responders, as if nobody had subscribed.
    s.write_all(b"PUB svc.decline inbox 0\r\n\r\nPING\r\n")
        .await
        .unwrap();
    let got = read_until(&mut s, b"PONG\r\n").await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("HMSG inbox 1"), "{text}");
    assert!(text.contains("NATS/1.0 503"), "{text}");
    handle.shutdown().await;
}

#[tokio::test]
async fn internal_publishes_reach_clients_and_queue_groups_once() {
    let handle = BrokerHandle::start_for_test().await;
    let server = handle.server().clone();
    let account = server.global_account().clone();
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    s.write_all(
        b"CONNECT {\"verbose\":false}\r\nSUB ev.* 1\r\nSUB ev.* q 2\r\nSUB ev.* q 3\r\nPING\r\n",
    )
    .await
    .unwrap();
    read_until(&mut s, b"PONG\r\n").await;
    let mut fanout = Fanout::default();
    let receivers = server.publish_internal(&mut fanout, &account, b"ev.x", Some(b"r"), b"", b"1");
    fanout.wake_all();
    assert_eq!(receivers, 2, "the plain subscription and one queue member");
    s.write_all(b"PING\r\n").await.unwrap();
    let got = String::from_utf8_lossy(&read_until(&mut s, b"PONG\r\n").await).into_owned();
    assert_eq!(got.matches("MSG ev.x").count(), 2, "{got}");
    assert!(got.contains("MSG ev.x 1 r 1\r\n1\r\n"), "{got}");
    handle.shutdown().await;
}

#[tokio::test]
async fn an_internal_publish_loop_stops_at_the_depth_limit() {
    let handle = BrokerHandle::start_for_test().await;
    let server = handle.server().clone();
    let account = server.global_account().clone();
    let client = server.internal_client(&account);
    let looping = Arc::new(Loop::default());
    server
        .subscribe_internal(&client, "loop", None, looping.clone())
        .unwrap();
    let mut fanout = Fanout::default();
    server.publish_internal(&mut fanout, &account, b"loop", None, b"", b"go");
    assert_eq!(*looping.calls.lock(), u32::from(MAX_DEPTH));
    assert_eq!(fanout.depth, 0);
    handle.shutdown().await;
}
