//! The publish path: match the subject (through the connection's cache), copy the frame into
//! each receiver's outbound queue, pick one member per queue group, and answer with a
//! no-responders status when a request reached nobody.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::client::Conn;
use super::outbound::PushResult;
use super::sublist::{SublistResult, Subscription};
use crate::log_info;
use crate::proto::{encode, Publish};

impl Conn {
    pub(crate) fn publish(&mut self, msg: &Publish<'_>) {
        let result = self.lookup(msg.subject);
        let mut delivered = false;
        for sub in &result.psubs {
            delivered |= self.deliver(sub, msg);
        }
        for group in &result.qsubs {
            let members = &group.members;
            let start = fastrand::usize(..members.len().max(1));
            for k in 0..members.len() {
                if self.deliver(&members[(start + k) % members.len()], msg) {
                    delivered = true;
                    break;
                }
            }
        }
        if !delivered && self.no_responders {
            if let Some(reply) = msg.reply {
                self.send_no_responders(reply, msg.subject);
            }
        }
    }

    /// Sublist results cached per connection and per sublist generation (nats-server's L1).
    fn lookup(&mut self, subject: &[u8]) -> Arc<SublistResult> {
        let generation = self.account.generation();
        if generation != self.cache_generation {
            self.cache.clear();
            self.cache_generation = generation;
        }
        if let Some(hit) = self.cache.get(subject) {
            return hit.clone();
        }
        let result = Arc::new(self.account.sublist.read().match_subject(subject));
        if self.cache.len() >= super::client::MAX_CACHED_SUBJECTS {
            self.cache.clear();
        }
        self.cache.insert(subject.into(), result.clone());
        result
    }

    /// Delivers to one subscription; false when it did not take the message.
    fn deliver(&mut self, sub: &Arc<Subscription>, msg: &Publish<'_>) -> bool {
        let client = &sub.client;
        if (client.id == self.shared.id && !self.echo) || sub.is_closed() {
            return false;
        }
        let max = sub.max_msgs.load(Ordering::Relaxed);
        let count = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max > 0 && count > max {
            client.unsubscribe(sub);
            return false;
        }
        // Receivers that did not negotiate headers get the payload alone.
        let (header_len, body) = match msg.header_len {
            Some(n) if n > 0 && client.supports_headers() => (Some(n), msg.message),
            Some(n) if n > 0 => (None, msg.payload()),
            _ => (None, msg.message),
        };
        let pushed = client.outbound.push(true, |out| {
            encode::message(out, msg.subject, &sub.sid, msg.reply, header_len, body)
        });
        match pushed {
            PushResult::Queued { wake, stall } => {
                if wake {
                    self.wakes.push(client.clone());
                }
                if stall && !self.stalls.iter().any(|c| c.id == client.id) {
                    self.stalls.push(client.clone());
                }
            }
            PushResult::SlowConsumer => {
                log_info!(
                    "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                    client.addr,
                    client.id,
                    self.server.opts.max_pending
                );
                self.server
                    .stats
                    .slow_consumers
                    .fetch_add(1, Ordering::Relaxed);
                client.close(super::close::CloseReason::SlowConsumerPendingBytes, false);
                return false;
            }
            PushResult::Closed => return false,
        }
        if max > 0 && count == max {
            client.unsubscribe(sub);
        }
        true
    }

    /// `NATS/1.0 503` to the requester's own subscription on the reply subject, if it has one.
    fn send_no_responders(&mut self, reply: &[u8], subject: &[u8]) {
        let own = {
            let sublist = self.account.sublist.read();
            sublist
                .match_subject(reply)
                .psubs
                .into_iter()
                .find(|s| s.client.id == self.shared.id)
        };
        if let Some(sub) = own {
            let mut frame = Vec::new();
            encode::no_responders(&mut frame, reply, &sub.sid, subject);
            self.send(&frame);
        }
    }
}
