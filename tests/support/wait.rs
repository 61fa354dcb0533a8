//! Waiting for something to happen, bounded in time and in the number of polls.
//!
//! Every wait in the tests goes through these: poll a condition, sleep [`POLL`] between
//! polls, and panic naming what was awaited once the deadline passes. The number of polls
//! is bounded as well (sleeps never end early, so the deadline comes first; the count is a
//! backstop against a clock that stands still).
//!
//! * [`wait_until`] / [`wait_for`]: a condition, or a value once it is there.
//! * [`try_wait_for`]: the same without the panic, for callers that describe the failure
//!   themselves (with the last state they saw).
//! * [`wait_until_async`] / [`wait_for_async`] / [`try_wait_for_async`]: the same inside a
//!   tokio runtime, with an async condition and an async sleep.

use std::time::{Duration, Instant};

/// Pause between two polls.
pub const POLL: Duration = Duration::from_millis(20);

/// The most polls any wait of `timeout` makes.
fn max_polls(timeout: Duration) -> u128 {
    timeout.as_millis() / POLL.as_millis() + 2
}

/// Polls `poll` until it gives a value, at most `timeout`; `None` once the deadline passed.
pub fn try_wait_for<T>(timeout: Duration, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    for _ in 0..max_polls(timeout) {
        if let Some(v) = poll() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
    None
}

/// Polls `poll` until it gives a value; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_for<T>(what: &str, timeout: Duration, poll: impl FnMut() -> Option<T>) -> T {
    match try_wait_for(timeout, poll) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `done` until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    wait_for(what, timeout, || done().then_some(()))
}

/// Async [`try_wait_for`]: awaits `poll` until it gives a value, at most `timeout`.
pub async fn try_wait_for_async<T>(
    timeout: Duration,
    mut poll: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    for _ in 0..max_polls(timeout) {
        // A poll that hangs is cut off at the deadline too (the first one always gets a
        // chance, like the sync flavour's).
        let left = deadline.saturating_duration_since(Instant::now()).max(POLL);
        if let Ok(Some(v)) = tokio::time::timeout(left, poll()).await {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
    None
}

/// Async [`wait_for`]: panics naming `what` after `timeout`.
pub async fn wait_for_async<T>(
    what: &str,
    timeout: Duration,
    poll: impl AsyncFnMut() -> Option<T>,
) -> T {
    match try_wait_for_async(timeout, poll).await {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Async [`wait_until`]: panics naming `what` after `timeout`.
pub async fn wait_until_async(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    wait_for_async(what, timeout, async || done().await.then_some(())).await
}
