//! One connection's outbound queue and its writer task.
//!
//! Publishers append whole frames under a short per-connection lock (never a global one) and
//! note which writers they touched; at the end of their read batch they wake each of those
//! writers once, so one flush carries many messages. The queue is bounded by `max_pending`:
//! a frame that would pass it closes that connection as a slow consumer and nobody else is
//! affected. Each socket write has a deadline (`write_deadline`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::close::CloseReason;

/// Buffers above this capacity are released once drained, so a burst does not pin memory.
const KEEP_CAPACITY: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushResult {
    /// Queued; `wake` is true when the writer must be woken for it, `stall` when the queue
    /// is over 75% of `max_pending` and the producer should wait a moment for it to drain.
    Queued { wake: bool, stall: bool },
    /// The connection is closing; the frame was dropped.
    Closed,
    /// The frame would have passed `max_pending`: the connection is now closing.
    SlowConsumer,
}

#[derive(Debug, Default)]
struct State {
    buf: Vec<u8>,
    /// Frames in `buf` that are messages (for out_msgs).
    msgs: u64,
    msg_bytes: u64,
    /// Bytes handed to the socket and not yet written.
    in_flight: usize,
    wake_scheduled: bool,
    closing: Option<Closing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Closing {
    reason: CloseReason,
    /// Write what is queued first (an `-ERR` before the close) or drop it (slow consumer).
    flush: bool,
}

/// Counters the writer keeps; read by monitoring.
#[derive(Debug, Default)]
pub struct OutStats {
    pub msgs: AtomicU64,
    pub bytes: AtomicU64,
    /// When messages were last written to the client (Unix nanoseconds; 0 = never).
    pub last_delivery: AtomicU64,
}

#[derive(Debug)]
pub struct Outbound {
    state: Mutex<State>,
    wake: Notify,
    abort: Notify,
    drained: Notify,
    max_pending: usize,
    pub stats: OutStats,
}

impl Outbound {
    pub fn new(max_pending: u64) -> Self {
        Outbound {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            abort: Notify::new(),
            drained: Notify::new(),
            max_pending: usize::try_from(max_pending).unwrap_or(usize::MAX),
            stats: OutStats::default(),
        }
    }

    /// Appends one frame written by `encode`. `msg_bytes` is `Some(message size)` for a
    /// delivered message: like nats-server, out_msgs/out_bytes count messages and their
    /// header+payload bytes, not protocol lines.
    pub fn push(&self, msg_bytes: Option<usize>, encode: impl FnOnce(&mut Vec<u8>)) -> PushResult {
        let mut st = self.state.lock();
        if st.closing.is_some() {
            return PushResult::Closed;
        }
        let before = st.buf.len();
        encode(&mut st.buf);
        if st.buf.len() + st.in_flight > self.max_pending {
            st.buf.truncate(before);
            st.closing = Some(Closing {
                reason: CloseReason::SlowConsumerPendingBytes,
                flush: false,
            });
            drop(st);
            self.abort.notify_one();
            return PushResult::SlowConsumer;
        }
        if let Some(n) = msg_bytes {
            st.msgs += 1;
            st.msg_bytes += n as u64;
        }
        let wake = !st.wake_scheduled;
        st.wake_scheduled = true;
        let stall = (st.buf.len() + st.in_flight) * 4 > self.max_pending * 3;
        PushResult::Queued { wake, stall }
    }

    /// Waits (bounded by the caller) until the writer has written something, when the queue
    /// is still over 75% full: nats-server's fast-producer stall, which lets a consumer that
    /// keeps up but lags in bursts catch up instead of being cut off.
    pub async fn wait_drained(&self) {
        let notified = self.drained.notified();
        if self.pending_bytes() * 4 > self.max_pending * 3 && !self.is_closing() {
            notified.await;
        }
    }

    /// Wakes the writer (after a batch of pushes).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Bytes queued and not yet written.
    pub fn pending_bytes(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() + st.in_flight
    }

    /// Starts closing: with `flush`, what is queued is written first. The first reason wins.
    /// Returns the reason in force.
    pub fn close(&self, reason: CloseReason, flush: bool) -> CloseReason {
        let mut st = self.state.lock();
        let closing = *st.closing.get_or_insert(Closing { reason, flush });
        drop(st);
        if closing.flush {
            self.wake.notify_one();
        } else {
            self.abort.notify_one();
        }
        closing.reason
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().closing.map(|c| c.reason)
    }

    pub fn is_closing(&self) -> bool {
        self.state.lock().closing.is_some()
    }

    /// The writer task: drains the queue into `writer` until the connection closes.
    /// Returns the reason when the writer itself ended the connection (write error or
    /// deadline).
    pub async fn write_loop<W: AsyncWrite + Unpin>(
        &self,
        mut writer: W,
        write_deadline: Duration,
    ) -> Option<CloseReason> {
        let mut spare: Vec<u8> = Vec::new();
        loop {
            let (msgs, msg_bytes, closing) = {
                let mut st = self.state.lock();
                st.wake_scheduled = false;
                if let Some(Closing { flush: false, .. }) = st.closing {
                    return None;
                }
                std::mem::swap(&mut st.buf, &mut spare);
                st.in_flight = spare.len();
                (
                    std::mem::take(&mut st.msgs),
                    std::mem::take(&mut st.msg_bytes),
                    st.closing,
                )
            };
            if !spare.is_empty() {
                let outcome = tokio::select! {
                    biased;
                    _ = self.abort.notified() => return None,
                    // The flush matters for TLS (records buffered in the session); it is a
                    // no-op on plain TCP.
                    r = tokio::time::timeout(write_deadline, async {
                        writer.write_all(&spare).await?;
                        writer.flush().await
                    }) => r,
                };
                let failure = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(_)) => Some(CloseReason::WriteError),
                    Err(_) => Some(CloseReason::SlowConsumerWriteDeadline),
                };
                if let Some(reason) = failure {
                    return Some(self.close(reason, false));
                }
                if msgs > 0 {
                    self.stats.msgs.fetch_add(msgs, Ordering::Relaxed);
                    let now = super::client::unix_nanos(std::time::SystemTime::now());
                    self.stats.last_delivery.store(now, Ordering::Relaxed);
                }
                self.stats.bytes.fetch_add(msg_bytes, Ordering::Relaxed);
                if spare.capacity() > KEEP_CAPACITY {
                    spare = Vec::new();
                } else {
                    spare.clear();
                }
                self.state.lock().in_flight = 0;
                self.drained.notify_waiters();
            }
            if closing.is_some() {
                if self.state.lock().buf.is_empty() {
                    let _ = writer.shutdown().await;
                    return None;
                }
                continue;
            }
            let has_more = !self.state.lock().buf.is_empty();
            if !has_more {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = self.abort.notified() => return None,
                }
            }
        }
    }
}
