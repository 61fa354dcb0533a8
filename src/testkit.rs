//! Helpers for the unit tests under src/ (the integration tests have `tests/support`): every
//! wait is bounded in time and in polls, and names what it waited for when it gives up.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Pause between two polls.
pub const POLL: Duration = Duration::from_millis(10);

fn max_polls(timeout: Duration) -> u128 {
    timeout.as_millis() / POLL.as_millis() + 2
}

/// Polls `done` (sleeping the thread between polls) until it holds; panics naming `what`
/// after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    for _ in 0..max_polls(timeout) {
        if done() {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Awaits `done` between async sleeps until it holds; false once `timeout` passed.
async fn poll_until(timeout: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    for _ in 0..max_polls(timeout) {
        if done().await {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
    false
}

/// [`wait_until`] inside a tokio runtime: the condition is polled between async sleeps, so
/// the tasks it waits for keep running.
pub async fn wait_until_async(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    if !poll_until(timeout, async || done()).await {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}

/// Waits until something accepts connections on `addr` (a server started as a child).
pub async fn wait_for_listener(what: &str, addr: std::net::SocketAddr, timeout: Duration) {
    if !poll_until(timeout, async || TcpStream::connect(addr).await.is_ok()).await {
        panic!("timed out after {timeout:?} waiting for {what} on {addr}");
    }
}

/// Reads from `stream` until what arrived satisfies `done`, at most `timeout`; panics with
/// what it read when the time is up or the peer closed first.
pub async fn read_until(
    stream: &mut TcpStream,
    timeout: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&out) {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            Ok(Ok(_)) => panic!("closed; read {:?}", String::from_utf8_lossy(&out)),
            Ok(Err(e)) => panic!("{e}; read {:?}", String::from_utf8_lossy(&out)),
            Err(_) => panic!(
                "timed out after {timeout:?}; read {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    out
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
