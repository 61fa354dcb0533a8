//! async-nats helpers, each bounded in time: connecting (once, without retries), waiting for
//! a message, flushing, and server round trips that prove earlier operations were processed.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::timeout;

use super::servers::ServerInfo;

/// The longest one client operation may take.
pub const STEP: Duration = Duration::from_secs(5);

/// One async-nats connection attempt, bounded in time: without
/// `retry_on_initial_connect` a refused login fails `connect` instead of retrying.
pub async fn connect_once(url: String, opts: ConnectOptions) -> Result<Client, String> {
    timeout(
        STEP,
        opts.connection_timeout(Duration::from_secs(3))
            .max_reconnects(0)
            .connect(url),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())
}

/// A client of `s` with default options; panics if it cannot connect.
pub async fn connect(s: &ServerInfo) -> Client {
    connect_with(s, ConnectOptions::new()).await
}

/// A client of `s` with `opts`; panics if it cannot connect.
pub async fn connect_with(s: &ServerInfo, opts: ConnectOptions) -> Client {
    connect_url(&s.url(), opts).await
}

/// A client of `url` with `opts`; panics if it cannot connect.
pub async fn connect_url(url: &str, opts: ConnectOptions) -> Client {
    connect_once(url.to_string(), opts)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// A client of `url` that names itself `name` (as it shows in the inspector).
pub async fn connect_named(url: &str, name: &str) -> Client {
    connect_url(url, ConnectOptions::new().name(name)).await
}

/// The next message of `sub`, within [`STEP`].
pub async fn next(sub: &mut Subscriber) -> async_nats::Message {
    timeout(STEP, sub.next())
        .await
        .expect("no message within 5 s")
        .expect("subscription ended unexpectedly")
}

/// Client-side flush only: async-nats' `flush` waits for the socket write,
/// not for a server round trip.
pub async fn flush(c: &Client) {
    timeout(STEP, c.flush())
        .await
        .expect("flush timed out")
        .expect("flush failed");
}

/// Server round trip: once this returns, the server has processed everything
/// `c` sent before (e.g. its SUBs are registered). Uses an echoed message on a
/// fresh inbox, so it needs echo enabled.
pub async fn sync(c: &Client) {
    let inbox = c.new_inbox();
    let mut probe = c
        .subscribe(inbox.clone())
        .await
        .expect("subscribe the probe");
    c.publish(inbox, Bytes::new())
        .await
        .expect("publish the probe");
    timeout(STEP, probe.next())
        .await
        .expect("sync probe not echoed within 5 s")
        .expect("sync probe subscription ended");
}

/// Server round trip for a client without echo: a request nobody serves is
/// answered by the server's no-responders status after it processed
/// everything sent before.
pub async fn sync_no_echo(c: &Client) {
    let subject = format!("sync.nobody.{}", c.new_inbox());
    let err = timeout(STEP, c.request(subject, Bytes::new()))
        .await
        .expect("sync request timed out")
        .expect_err("sync request must get no responders");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "got {err}"
    );
}

/// Asserts that no message arrives within `ms` milliseconds.
pub async fn assert_no_message(sub: &mut Subscriber, ms: u64) {
    if let Ok(Some(m)) = timeout(Duration::from_millis(ms), sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

/// Subscribes to `subject`, publishes `payload` to it and expects it back.
pub async fn round_trip(c: &Client, subject: &str, payload: &'static [u8]) {
    let mut sub = c
        .subscribe(subject.to_string())
        .await
        .expect("subscribe for the round trip");
    c.publish(subject.to_string(), Bytes::from_static(payload))
        .await
        .expect("publish for the round trip");
    let m = timeout(STEP, sub.next())
        .await
        .expect("no message")
        .expect("subscription ended");
    assert_eq!(&m.payload[..], payload);
}
