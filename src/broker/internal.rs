//! Internal clients (nats-server's `icb`): services inside the process (JetStream, later the
//! system account) subscribe and publish on an account's subjects without a socket. A
//! message to an internal subscription calls its handler in the publisher's task, so a
//! stream stores a message before the publisher's read pass ends; what a handler publishes
//! (a PubAck, an API response) goes through the same delivery as any client's message.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::account::Account;
use super::client::ClientShared;
use super::router::{deliver, deliver_to_group, Fanout};
use super::server::Server;
use super::sublist::{InvalidSubject, SublistResult, Subscription};
use crate::proto::Publish;

/// How deep internal publishes may nest (a handler publishing to a subject another internal
/// subscription handles); deeper ones are dropped so a misconfiguration cannot recurse.
const MAX_DEPTH: u8 = 4;

/// A message as an internal subscriber sees it.
#[derive(Debug, Clone, Copy)]
pub struct InternalMsg<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The header block, empty when the message has none.
    pub headers: &'a [u8],
    pub payload: &'a [u8],
    /// The account the message was published in.
    pub account: &'a Arc<Account>,
}

/// What an internal subscription calls for each message it receives.
pub trait InternalHandler: Send + Sync + std::fmt::Debug {
    /// Runs in the publisher's task: keep it short and never block on the network. Returns
    /// whether the subscription took the message: one that declines does not count as a
    /// receiver, so a request only it matched gets the no-responders status (nats-server's
    /// JetStream API does not answer for `$JS.API.DIRECT.GET` that way).
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool;
}

impl Server {
    /// A client with no connection, owned by a service of this server. It is not listed
    /// among connections; its subscriptions are (as nats-server's internal ones are).
    pub fn internal_client(&self, account: &Arc<Account>) -> Arc<ClientShared> {
        let cid = self.next_cid();
        Arc::new(ClientShared::new(
            cid,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            account.clone(),
            self.opts.max_pending,
            self.outbound_budget.clone(),
        ))
    }

    /// Subscribes an internal client; each message calls `handler`.
    pub fn subscribe_internal(
        &self,
        client: &Arc<ClientShared>,
        subject: &str,
        queue: Option<&str>,
        handler: Arc<dyn InternalHandler>,
    ) -> Result<Arc<Subscription>, InvalidSubject> {
        let sid = format!("i{}", client.subs.lock().len() + 1);
        let sub = Arc::new(
            Subscription::new(
                client.clone(),
                subject.as_bytes(),
                queue.map(str::as_bytes),
                sid.as_bytes(),
            )
            .with_handler(handler),
        );
        client.account().sublist.write().insert(sub.clone())?;
        client
            .subs
            .lock()
            .insert(sid.into_bytes().into(), sub.clone());
        Ok(sub)
    }

    /// Publishes a message from a service into `account`: delivered to every matching
    /// subscription (one member per queue group). Writers to wake are gathered in `fanout`;
    /// call [`Fanout::wake_all`] unless the fanout belongs to a connection's read pass.
    /// Returns how many subscriptions took it.
    pub fn publish_internal(
        self: &Arc<Self>,
        fanout: &mut Fanout,
        account: &Arc<Account>,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        payload: &[u8],
    ) -> u32 {
        self.publish_internal_to(fanout, account, subject, subject, reply, headers, payload)
    }

    /// [`publish_internal`](Self::publish_internal) routed by `route` but delivered with
    /// `subject` in the MSG line (nats-server's `pa.deliver`): a JetStream pull delivery goes
    /// to the requester's inbox and shows the stored message's subject.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_internal_to(
        self: &Arc<Self>,
        fanout: &mut Fanout,
        account: &Arc<Account>,
        route: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        payload: &[u8],
    ) -> u32 {
        if fanout.depth >= MAX_DEPTH {
            return 0;
        }
        let result = account.sublist.read().match_subject(route);
        self.publish_internal_matched(fanout, account, &result, subject, reply, headers, payload)
    }

    /// [`Server::publish_internal_to`] with the route's subscribers already matched: a
    /// service sending many messages to one subject (a push consumer's deliveries) matches
    /// it once.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_internal_matched(
        self: &Arc<Self>,
        fanout: &mut Fanout,
        account: &Arc<Account>,
        result: &SublistResult,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        payload: &[u8],
    ) -> u32 {
        if fanout.depth >= MAX_DEPTH {
            return 0;
        }
        let joined;
        let message = if headers.is_empty() {
            payload
        } else {
            joined = [headers, payload].concat();
            &joined[..]
        };
        let msg = Publish {
            subject,
            reply,
            header_len: (!headers.is_empty()).then_some(headers.len()),
            message,
        };
        fanout.depth += 1;
        let saved = fanout.begin_publish();
        let mut receivers = 0u32;
        for sub in &result.psubs {
            receivers += u32::from(deliver(self, fanout, account, sub, &msg, None));
        }
        for group in &result.qsubs {
            let took = deliver_to_group(&group.members, |sub| {
                deliver(self, fanout, account, sub, &msg, None)
            });
            receivers += u32::from(took);
        }
        fanout.end_publish(self, saved, &msg);
        fanout.depth -= 1;
        let tap = &self.tap;
        tap.track(subject, reply);
        if tap.wants_sample() {
            let headers = (!headers.is_empty()).then_some(headers);
            tap.sample(subject, reply, headers, payload, 0, receivers);
        }
        receivers
    }
}

#[cfg(test)]
#[path = "internal_tests.rs"]
mod tests;
