//! One connection's outbound queue and its writer task.
//!
//! Publishers append whole frames under a short per-connection lock (never a global one) and
//! note which writers they touched; at the end of their read batch they wake each of those
//! writers once, so one flush carries many messages. The queue is bounded by `max_pending`:
//! a frame that would pass it closes that connection as a slow consumer and nobody else is
//! affected. Each socket write has a deadline (`write_deadline`). All queues together are
//! bounded by an [`OutboundBudget`] (`max_pending_total`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::close::CloseReason;

/// Buffers above this capacity are released when the queue runs empty, so a burst does not
/// pin memory. While the queue stays busy both buffers keep their size: growing them again
/// (realloc, copies and fresh pages faulted in) cost a fifth of the 1 KiB delivery path.
const KEEP_CAPACITY: usize = 256 * 1024;

/// The bound on every connection's buffered outbound bytes together (`max_pending_total`).
///
/// Past the limit, the connection being pushed to is cut off as a slow consumer when it holds
/// a large share itself (a sixty-fourth of the limit or more): the stuck consumers that fill
/// the budget are the ones cut, while small queues still take their messages. A hard ceiling
/// of one eighth above the limit cuts anyone, so the sum stays bounded whatever happens.
#[derive(Debug)]
pub struct OutboundBudget {
    used: AtomicUsize,
    limit: usize,
}

impl OutboundBudget {
    pub fn new(limit: u64) -> Self {
        OutboundBudget {
            used: AtomicUsize::new(0),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        }
    }

    /// Bytes buffered by all connections now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` for a connection that already holds `own` (these included); false,
    /// with nothing taken, when that connection must be cut instead.
    fn take(&self, bytes: usize, own: usize) -> bool {
        let total = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total <= self.limit {
            return true;
        }
        let large_share = own >= (self.limit / 64).max(64 * 1024);
        let ceiling = self.limit.saturating_add(self.limit / 8);
        if large_share || total > ceiling {
            self.release(bytes);
            return false;
        }
        true
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushResult {
    /// Queued; `wake` is true when the writer must be woken for it, `stall` when the queue
    /// is over 75% of `max_pending` and the producer should wait a moment for it to drain.
    Queued { wake: bool, stall: bool },
    /// The connection is closing; the frame was dropped.
    Closed,
    /// The frame would have passed `max_pending` (or, with `over_total`, the budget of all
    /// queues together, `max_pending_total`): the connection is now closing.
    SlowConsumer { over_total: bool },
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
    budget: Arc<OutboundBudget>,
    pub stats: OutStats,
}

impl Outbound {
    pub fn new(max_pending: u64, budget: Arc<OutboundBudget>) -> Self {
        Outbound {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            abort: Notify::new(),
            drained: Notify::new(),
            max_pending: usize::try_from(max_pending).unwrap_or(usize::MAX),
            budget,
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
        let pending = st.buf.len() + st.in_flight;
        let over_own = pending > self.max_pending;
        if over_own || !self.budget.take(st.buf.len() - before, pending) {
            st.buf.truncate(before);
            st.closing = Some(Closing {
                reason: CloseReason::SlowConsumerPendingBytes,
                flush: false,
            });
            drop(st);
            self.abort.notify_one();
            return PushResult::SlowConsumer {
                over_total: !over_own,
            };
        }
        if let Some(n) = msg_bytes {
            st.msgs += 1;
            st.msg_bytes += n as u64;
        }
        let wake = !st.wake_scheduled;
        st.wake_scheduled = true;
        let stall = self.over_stall_mark(st.buf.len() + st.in_flight);
        PushResult::Queued { wake, stall }
    }

    /// Waits (bounded by the caller) until the writer has written something, when the queue
    /// is still over 75% full: nats-server's fast-producer stall, which lets a consumer that
    /// keeps up but lags in bursts catch up instead of being cut off.
    pub async fn wait_drained(&self) {
        let notified = self.drained.notified();
        if self.over_stall_mark(self.pending_bytes()) && !self.is_closing() {
            notified.await;
        }
    }

    /// Past 75% of `max_pending`: the producer should wait a moment for the queue to drain.
    fn over_stall_mark(&self, pending: usize) -> bool {
        pending > self.max_pending / 4 * 3
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
        writer: W,
        write_deadline: Duration,
    ) -> Option<CloseReason> {
        let ended = self.write_until_closed(writer, write_deadline).await;
        // Whatever is still queued will never be written: give its bytes back to the budget.
        let mut st = self.state.lock();
        self.budget.release(st.buf.len() + st.in_flight);
        st.buf = Vec::new();
        st.in_flight = 0;
        ended
    }

    async fn write_until_closed<W: AsyncWrite + Unpin>(
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
            if spare.is_empty() && closing.is_none() {
                // Woken with nothing queued: the transport may hold frames of its own (a
                // WebSocket pong). A no-op on TCP and on an idle TLS session.
                let flushed = tokio::select! {
                    biased;
                    _ = self.abort.notified() => return None,
                    r = tokio::time::timeout(write_deadline, writer.flush()) => r,
                };
                match flushed {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Some(self.close(CloseReason::WriteError, false)),
                    Err(_) => {
                        return Some(self.close(CloseReason::SlowConsumerWriteDeadline, false))
                    }
                }
            }
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
                let written = spare.len();
                if msgs > 0 {
                    self.stats.msgs.fetch_add(msgs, Ordering::Relaxed);
                    let now = super::client::unix_nanos(std::time::SystemTime::now());
                    self.stats.last_delivery.store(now, Ordering::Relaxed);
                }
                self.stats.bytes.fetch_add(msg_bytes, Ordering::Relaxed);
                let idle = {
                    let mut st = self.state.lock();
                    st.in_flight = 0;
                    let idle = st.buf.is_empty();
                    if idle && st.buf.capacity() > KEEP_CAPACITY {
                        st.buf = Vec::new();
                    }
                    idle
                };
                if idle && spare.capacity() > KEEP_CAPACITY {
                    spare = Vec::new();
                } else {
                    spare.clear();
                }
                self.budget.release(written);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_budget_cuts_large_holders_first_and_stays_bounded() {
        const MIB: usize = 1024 * 1024;
        let budget = OutboundBudget::new(64 * MIB as u64);
        // Under the limit everyone gets through.
        assert!(budget.take(60 * MIB, 60 * MIB));
        // Over it, a connection holding a large share (>= 1 MiB here) is refused...
        assert!(!budget.take(8 * MIB, 8 * MIB));
        assert_eq!(budget.used(), 60 * MIB, "a refusal takes nothing");
        // ...a small one still gets through, up to the hard ceiling (+1/8)...
        assert!(budget.take(6 * MIB, 100 * 1024));
        assert!(budget.take(2 * MIB, 100 * 1024));
        // ...and past the ceiling nobody does.
        assert!(!budget.take(5 * MIB, 1024));
        assert_eq!(budget.used(), 68 * MIB);
        budget.release(68 * MIB);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_queue_over_the_budget_is_cut_and_gives_its_bytes_back() {
        let budget = Arc::new(OutboundBudget::new(256 * 1024));
        let big = Outbound::new(64 * 1024 * 1024, budget.clone());
        let frame = vec![b'x'; 100 * 1024];
        for _ in 0..2 {
            let r = big.push(Some(frame.len()), |b| b.extend_from_slice(&frame));
            assert!(matches!(r, PushResult::Queued { .. }), "{r:?}");
        }
        assert_eq!(budget.used(), 200 * 1024);
        let r = big.push(Some(frame.len()), |b| b.extend_from_slice(&frame));
        assert_eq!(r, PushResult::SlowConsumer { over_total: true });
        assert_eq!(
            big.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
        // The writer ends at once (slow consumer: nothing flushed) and releases the queue.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(big.write_loop(tokio::io::sink(), Duration::from_secs(1)));
        assert_eq!(budget.used(), 0);
    }
}
