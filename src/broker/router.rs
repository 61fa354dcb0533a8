//! The publish path: match the subject (through the connection's cache), copy the frame into
//! each receiver's outbound queue, pick one member per queue group, and answer with a
//! no-responders status when a request reached nobody.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::account::Account;
use super::client::{CacheEntry, ClientShared, Conn};
use super::internal::InternalMsg;
use super::outbound::PushResult;
use super::server::Server;
use super::sublist::{SublistResult, Subscription};
use super::tap::LocalCount;
use crate::inspect::snapshot::EventKind;
use crate::log_info;
use crate::proto::{encode, Publish};

/// What delivering messages touched: writers to wake once the batch ends, and consumers
/// over 75% of their queue that the publisher should give a moment to drain.
#[derive(Debug, Default)]
pub struct Fanout {
    pub(crate) wakes: Vec<Arc<ClientShared>>,
    pub(crate) stalls: Vec<Arc<ClientShared>>,
    /// Nesting of internal publishes under way (see `internal`).
    pub(crate) depth: u8,
    /// The connection whose read pass this is (`None` for a service's own publishes): a
    /// request crossing a service import names its requester.
    pub(crate) publisher: Option<Arc<ClientShared>>,
    /// Leaf links the publish under way reaches: each gets the message once, framed when
    /// the publish ends, with the queue groups it was picked for (see `leaf`).
    pub(crate) leaf_targets: Vec<super::leaf::Target>,
    /// Where the publish under way's targets start (publishes nest through services).
    pub(crate) leaf_mark: usize,
}

impl Fanout {
    /// Starts a publish; returns what [`Fanout::end_publish`] restores.
    #[inline]
    pub(crate) fn begin_publish(&mut self) -> usize {
        std::mem::replace(&mut self.leaf_mark, self.leaf_targets.len())
    }

    /// Ends a publish begun with [`Fanout::begin_publish`]: frames the message once for each
    /// leaf link it reached.
    #[inline]
    pub(crate) fn end_publish(&mut self, server: &Arc<Server>, saved: usize, msg: &Publish<'_>) {
        if self.leaf_targets.len() > self.leaf_mark {
            super::leaf::flush_targets(server, self, msg);
        }
        self.leaf_mark = saved;
    }

    /// Wakes every writer touched; for services publishing outside a connection's read pass.
    pub fn wake_all(&mut self) {
        for client in self.wakes.drain(..) {
            client.outbound.wake();
        }
        self.stalls.clear();
    }
}

impl Conn {
    pub(crate) fn publish(&mut self, msg: &Publish<'_>) {
        // Paired before delivery: whether this publish is a reply is counted with the
        // subject's other counters in the cache entry the lookup touches anyway.
        let replied = self.server.tap.track(msg.subject, msg.reply);
        let result = self.lookup(msg.subject, msg.message.len(), replied);
        let saved = self.fanout.begin_publish();
        let mut receivers = 0u32;
        for sub in &result.psubs {
            receivers += u32::from(self.deliver(sub, msg));
        }
        for group in &result.qsubs {
            receivers += u32::from(deliver_to_group(&group.members, |m| self.deliver(m, msg)));
        }
        self.fanout.end_publish(&self.server, saved, msg);
        if receivers == 0 && self.no_responders {
            if let Some(reply) = msg.reply {
                self.send_no_responders(reply, msg.subject);
            }
        }
        let tap = &self.server.tap;
        if tap.wants_sample() {
            tap.sample(
                msg.subject,
                msg.reply,
                msg.headers(),
                msg.payload(),
                self.shared.cid,
                receivers,
            );
        }
        if tap.recording.active() {
            tap.recording
                .record(&mut self.record_batch, msg, self.read_frame, receivers);
        }
    }

    /// Sublist results cached per connection and per sublist generation (nats-server's L1);
    /// the same entry counts the subject's traffic for the inspector (`reply`: the tap
    /// paired this publish with a request).
    pub(crate) fn lookup(
        &mut self,
        subject: &[u8],
        size: usize,
        reply: bool,
    ) -> Arc<SublistResult> {
        let generation = self.account.generation();
        if generation != self.cache_generation {
            self.flush_subject_counts();
            self.cache.clear();
            self.cache_generation = generation;
        }
        if let Some(hit) = self.cache.get_mut(subject) {
            hit.count(size, reply);
            return hit.result.clone();
        }
        let result = Arc::new(self.account.sublist.read().match_subject(subject));
        if self.cache.len() >= super::client::MAX_CACHED_SUBJECTS {
            self.flush_subject_counts();
            self.cache.clear();
        }
        let mut entry = CacheEntry {
            result: result.clone(),
            counts: LocalCount::default(),
        };
        entry.count(size, reply);
        self.cache.insert(subject.into(), entry);
        result
    }

    /// Hands this connection's subject counters to the tap and zeroes them.
    pub(crate) fn flush_subject_counts(&mut self) {
        let counts = self
            .cache
            .iter_mut()
            .filter(|(_, e)| e.counts.msgs > 0)
            .map(|(subject, e)| (&subject[..], std::mem::take(&mut e.counts)));
        self.server.tap.merge_subjects(self.shared.cid, counts);
        self.last_flush = std::time::Instant::now();
    }

    /// Delivers to one subscription; false when it did not take the message.
    #[inline]
    fn deliver(&mut self, sub: &Arc<Subscription>, msg: &Publish<'_>) -> bool {
        let skip = (!self.echo).then_some(self.shared.cid);
        deliver(
            &self.server,
            &mut self.fanout,
            &self.account,
            sub,
            msg,
            skip,
        )
    }

    /// `NATS/1.0 503` to the requester's own subscription on the reply subject, if it has one.
    fn send_no_responders(&mut self, reply: &[u8], subject: &[u8]) {
        let own = {
            let sublist = self.account.sublist.read();
            sublist
                .match_subject(reply)
                .psubs
                .into_iter()
                .find(|s| s.client.cid == self.shared.cid)
        };
        if let Some(sub) = own {
            let mut frame = Vec::new();
            encode::no_responders(&mut frame, reply, &sub.sid, subject);
            self.send(&frame);
        }
    }
}

/// Delivers to one member of a queue group, tried from a random one: a local member if one
/// takes it, else a leaf link's member (nats-server prefers local queue subscribers to
/// remote ones). True when a member took it.
#[inline]
pub(crate) fn deliver_to_group(
    members: &[Arc<Subscription>],
    mut deliver: impl FnMut(&Arc<Subscription>) -> bool,
) -> bool {
    let start = fastrand::usize(..members.len().max(1));
    let mut remote = false;
    for k in 0..members.len() {
        let member = &members[(start + k) % members.len()];
        if member.leaf {
            remote = true;
            continue;
        }
        if deliver(member) {
            return true;
        }
    }
    if remote {
        for k in 0..members.len() {
            let member = &members[(start + k) % members.len()];
            if member.leaf && deliver(member) {
                return true;
            }
        }
    }
    false
}

/// Delivers to one subscription; false when it did not take the message. `skip` is the
/// publisher's cid when it asked for no echo (and a leaf link's, whose messages never go
/// back over it); `account` is where the message was published.
pub(crate) fn deliver(
    server: &Arc<Server>,
    fanout: &mut Fanout,
    account: &Arc<Account>,
    sub: &Arc<Subscription>,
    msg: &Publish<'_>,
    skip: Option<u64>,
) -> bool {
    let client = &sub.client;
    if skip == Some(client.cid) || sub.is_closed() {
        return false;
    }
    if sub.leaf {
        if let Some(link) = &client.leaf {
            return super::leaf::add_target(fanout, link, sub, msg);
        }
    }
    if let Some(perms) = &sub.perms {
        if perms.check_deny && perms.perms.denies(msg.subject, sub.queue.as_deref()) {
            return false;
        }
    }
    let max = sub.max_msgs.load(Ordering::Relaxed);
    let count = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
    if max > 0 && count > max {
        client.unsubscribe(sub);
        return false;
    }
    if let Some(handler) = &sub.handler {
        let internal = InternalMsg {
            subject: msg.subject,
            reply: msg.reply,
            headers: msg.headers().unwrap_or_default(),
            payload: msg.payload(),
            account,
        };
        let took = handler.on_msg(server, fanout, &internal);
        if max > 0 && count == max {
            client.unsubscribe(sub);
        }
        return took;
    }
    // A shadow subscription's client lives in the importing account, under its subject.
    let imported;
    let subject = match &sub.import {
        Some(import) => match import.local_subject(msg.subject) {
            Some(local) => {
                imported = local;
                &imported[..]
            }
            None => return false,
        },
        None => msg.subject,
    };
    // Receivers that did not negotiate headers get the payload alone.
    let (header_len, body) = match msg.header_len {
        Some(n) if n > 0 && client.supports_headers() => (Some(n), msg.message),
        Some(n) if n > 0 => (None, msg.payload()),
        _ => (None, msg.message),
    };
    let pushed = client.outbound.push(Some(body.len()), |out| {
        encode::message(out, subject, &sub.sid, msg.reply, header_len, body)
    });
    if !queued(server, fanout, client, pushed) {
        return false;
    }
    if let Some(import) = &sub.import {
        import.delivered.fetch_add(1, Ordering::Relaxed);
    }
    if let (Some(perms), Some(reply)) = (&sub.perms, msg.reply) {
        perms.perms.track_reply(reply);
    }
    if max > 0 && count == max {
        client.unsubscribe(sub);
    }
    true
}

/// Takes note of a frame pushed to `client`'s queue: its writer to wake, a stall, or a slow
/// consumer to cut off. True when the frame was queued.
#[inline]
pub(crate) fn queued(
    server: &Arc<Server>,
    fanout: &mut Fanout,
    client: &Arc<ClientShared>,
    pushed: PushResult,
) -> bool {
    match pushed {
        PushResult::Queued { wake, stall } => {
            if wake {
                fanout.wakes.push(client.clone());
            }
            if stall && !fanout.stalls.iter().any(|c| c.cid == client.cid) {
                fanout.stalls.push(client.clone());
            }
            true
        }
        PushResult::SlowConsumer { over_total } => {
            server.tap.event(EventKind::SlowConsumer {
                cid: client.cid,
                name: client.meta.lock().name.clone(),
            });
            if over_total {
                log_info!(
                    "{} - cid:{} - Slow Consumer Detected: MaxPendingTotal of {} Exceeded",
                    client.addr,
                    client.cid,
                    server.opts.max_pending_total
                );
            } else {
                log_info!(
                    "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                    client.addr,
                    client.cid,
                    server.opts.max_pending
                );
            }
            server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            client.close(super::close::CloseReason::SlowConsumerPendingBytes, false);
            false
        }
        PushResult::Closed => false,
    }
}
