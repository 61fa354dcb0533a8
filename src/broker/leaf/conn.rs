//! The read side of a leaf link, for both roles: it parses what the other server sends,
//! turns its interest into subscriptions owned by the link, delivers its messages here
//! (never back over the same link), answers and sends PINGs, and unhooks everything when
//! the link ends. The handshake of each role is in `accept.rs` (this server is the hub)
//! and `solicit.rs` (this server is the leaf).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::super::client::Conn;
use super::super::close::CloseReason;
use super::super::imports;
use super::super::router::{deliver, deliver_to_group};
use super::super::sublist::Subscription;
use super::link::{self, first_ping_delay, LinkState};
use super::solicit::Remote;
use super::LeafNodes;
use crate::proto::leaf::{LeafMsg, LeafOp, LeafParser, LOOP_DETECTION_PREFIX};
use crate::proto::{encode, errors, subject, ParseError, ParserLimits, Publish};
use crate::{log_debug, log_error, log_trace};

/// Read buffer bounds, as for clients.
const MIN_READ_BUF: usize = 512;
const MAX_READ_BUF: usize = 64 * 1024;
/// nats-server's `leafNodeReconnectDelayAfterLoopDetected`.
pub(super) const LOOP_DELAY: Duration = Duration::from_secs(30);
/// nats-server's `leafNodeReconnectDelayAfterClusterNameSame`.
pub(super) const SAME_CLUSTER_DELAY: Duration = Duration::from_secs(30);
/// nats-server's `leafNodeMinVersionReconnectDelay`.
pub(super) const MIN_VERSION_DELAY: Duration = Duration::from_secs(5);
/// nats-server's `DEFAULT_RTT_MEASUREMENT_INTERVAL`.
const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);

/// What handling one operation asks the read loop to do next.
pub(super) enum Step {
    Continue,
    Close(CloseReason),
}

/// The read side of one leaf link, owned by its task.
pub(super) struct LeafConn {
    pub(super) conn: Conn,
    pub(super) state: Arc<LinkState>,
    pub(super) nodes: Arc<LeafNodes>,
    pub(super) parser: LeafParser,
    /// The remote this link was made for, when this server solicited it.
    pub(super) remote: Option<Arc<Remote>>,
    /// An accepted link's INFO nonce, which its CONNECT signs.
    pub(super) nonce: String,
    /// An accepted link's INFO, which the answer to its CONNECT repeats.
    pub(super) hub_info: Option<crate::proto::leaf_info::LeafInfo>,
    /// Until the link is bound: when it must be (the CONNECT's deadline on an accepted
    /// link, the hub's answer to CONNECT on a solicited one).
    pub(super) deadline: Option<Instant>,
    pub(super) bound: bool,
    next_ping: Instant,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    last_in: Instant,
}

impl LeafConn {
    pub(super) fn new(
        conn: Conn,
        nodes: Arc<LeafNodes>,
        remote: Option<Arc<Remote>>,
        deadline: Instant,
    ) -> Self {
        let opts = &conn.server.opts;
        let parser = LeafParser::new(ParserLimits {
            max_control_line: opts.max_control_line as usize,
            max_payload: opts.max_payload as usize,
        });
        let now = Instant::now();
        let state = match &conn.shared.leaf {
            Some(state) => state.clone(),
            None => Arc::new(LinkState::new(remote.is_some())),
        };
        LeafConn {
            conn,
            state,
            nodes,
            parser,
            remote,
            nonce: String::new(),
            hub_info: None,
            deadline: Some(deadline),
            bound: false,
            next_ping: now,
            pings_out: 0,
            ping_sent_at: None,
            last_in: now,
        }
    }

    /// `addr - lid:N` for log lines, as nats-server prefixes a leaf's.
    pub(super) fn label(&self) -> String {
        format!("{} - lid:{}", self.conn.shared.addr, self.conn.shared.cid)
    }

    /// Reads and handles operations until the link ends (`initial` holds bytes read during
    /// the handshake); returns why it ended.
    pub(super) async fn read_loop<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: R,
        initial: Vec<u8>,
    ) -> CloseReason {
        let mut buf = initial;
        let mut n = buf.len();
        if buf.len() < MIN_READ_BUF {
            buf.resize(MIN_READ_BUF, 0);
        }
        let timer = tokio::time::sleep_until(self.next_timer().into());
        tokio::pin!(timer);
        loop {
            if n > 0 {
                self.last_in = Instant::now();
                if let Some(reason) = self.handle_bytes(&buf[..n]) {
                    self.end_batch();
                    return reason;
                }
                self.end_batch();
                // Local consumers this pass pushed over 75% of their queue get a moment
                // (10 ms at most) before the link reads on: the hub then feels TCP's
                // backpressure and paces its publishers, rather than a local subscriber
                // being cut as a slow consumer. nats-server never waits on a link.
                self.conn.stall_for_lagging_consumers().await;
                if n == buf.len() && buf.len() < MAX_READ_BUF {
                    buf.resize(buf.len() * 2, 0);
                }
            }
            let deadline = tokio::time::Instant::from(self.next_timer());
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            n = tokio::select! {
                biased;
                _ = self.conn.shared.stopped() => {
                    return self
                        .conn
                        .shared
                        .outbound
                        .close_reason()
                        .unwrap_or(CloseReason::ServerShutdown);
                }
                r = reader.read(&mut buf) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(e) => {
                        log_debug!("{} - Leafnode read error: {}", self.label(), e);
                        return CloseReason::ReadError;
                    }
                },
                _ = &mut timer => {
                    let reason = self.on_timer();
                    self.end_batch();
                    if let Some(reason) = reason {
                        return reason;
                    }
                    0
                }
            };
        }
    }

    /// Ends a read pass: wakes the writers it touched (consumers falling behind are waited
    /// for by the read loop, briefly).
    fn end_batch(&mut self) {
        self.conn.end_batch(&mut Vec::new(), 0);
    }

    /// Handles every complete operation in `bytes`; `Some` when the link must close.
    fn handle_bytes(&mut self, bytes: &[u8]) -> Option<CloseReason> {
        // The parser is taken out while its operations (which borrow it) are handled.
        let limits = self.limits();
        let mut parser = std::mem::replace(&mut self.parser, LeafParser::new(limits));
        let mut pos = 0;
        let outcome = loop {
            let step = match parser.next_op(bytes, &mut pos) {
                Ok(Some(op)) => self.handle(op),
                Ok(None) => break None,
                Err(e) => break Some(self.on_parse_error(e)),
            };
            // An accepted link may send more than CONNECT once it is bound.
            parser.awaiting_connect &= !self.bound;
            if let Step::Close(reason) = step {
                break Some(reason);
            }
        };
        self.parser = parser;
        outcome
    }

    fn limits(&self) -> ParserLimits {
        let opts = &self.conn.server.opts;
        ParserLimits {
            max_control_line: opts.max_control_line as usize,
            max_payload: opts.max_payload as usize,
        }
    }

    fn on_parse_error(&mut self, error: ParseError) -> CloseReason {
        log_debug!("{} - Leafnode parser error: {}", self.label(), error);
        match error {
            ParseError::UnknownOperation => {
                self.conn.send_err(errors::UNKNOWN_PROTOCOL_OPERATION);
                CloseReason::ProtocolViolation
            }
            ParseError::MaxControlLine => {
                self.conn.send_err(errors::MAX_CONTROL_LINE_EXCEEDED);
                CloseReason::MaxControlLineExceeded
            }
            ParseError::MaxPayload { .. } => {
                self.conn.send_err(errors::MAX_PAYLOAD_VIOLATION);
                CloseReason::MaxPayloadExceeded
            }
            ParseError::AuthViolation => {
                self.conn.send_err(errors::AUTHORIZATION_VIOLATION);
                CloseReason::AuthenticationFailure
            }
            ParseError::HeadersNotSupported | ParseError::BadArguments(_) => {
                CloseReason::ProtocolViolation
            }
        }
    }

    fn handle(&mut self, op: LeafOp<'_>) -> Step {
        if crate::logging::enabled(crate::logging::Level::Trace) {
            log_trace!("{} - <<- {}", self.label(), op);
        }
        match op {
            LeafOp::Msg(m) => self.on_msg(&m),
            LeafOp::Info(json) => self.on_info(json),
            LeafOp::Connect(json) => self.on_connect(json),
            LeafOp::Ping => {
                self.conn.send(encode::PONG);
                Step::Continue
            }
            LeafOp::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent_at {
                    self.conn.shared.meta.lock().rtt = Some(sent.elapsed());
                }
                Step::Continue
            }
            LeafOp::Ok | LeafOp::Ignored => Step::Continue,
            LeafOp::Err(text) => self.on_remote_err(&String::from_utf8_lossy(text)),
            LeafOp::Sub {
                subject,
                queue,
                weight,
                key,
            } => self.on_sub(subject, queue, weight, key),
            LeafOp::Unsub { key } => {
                let sub = self.conn.shared.subs.lock().get(key).cloned();
                if let Some(sub) = sub {
                    self.conn.shared.unsubscribe(&sub);
                }
                Step::Continue
            }
        }
    }

    /// An `-ERR` from the other side: a leaf link stays open (the other side closes it if
    /// it must), except for a loop, and some errors delay the next connection.
    fn on_remote_err(&mut self, text: &str) -> Step {
        log_error!("{} - Leafnode Error {}", self.label(), text);
        if let Some(remote) = &self.remote {
            remote.note(format!("the hub said: {text}"));
        }
        if text.contains("remote leafnode has same cluster name") {
            self.delay_reconnect(SAME_CLUSTER_DELAY);
        } else if text.contains("connection rejected since minimum version required is") {
            self.delay_reconnect(MIN_VERSION_DELAY);
        } else if text.contains("Loop detected") {
            return self.loop_detected(false);
        }
        Step::Continue
    }

    /// A loop: this account's own detection subject came back. Tells the other side (when
    /// this side found it), delays the next connection of a solicited link, and closes.
    pub(super) fn loop_detected(&mut self, found_here: bool) -> Step {
        let delay = self.delay_reconnect(LOOP_DELAY);
        let text = format!(
            "Loop detected for leafnode account={}. Delaying attempt to reconnect for {}",
            errors::go_quote(self.conn.account.name.as_bytes()),
            go_duration(delay)
        );
        if let Some(remote) = &self.remote {
            remote.failed(text.clone());
        }
        if found_here {
            self.conn.send_err(&text);
        }
        log_error!("{} - {}", self.label(), text);
        Step::Close(CloseReason::ProtocolViolation)
    }

    /// Makes a solicited link wait `delay` before its next connection; returns the delay.
    pub(super) fn delay_reconnect(&self, delay: Duration) -> Duration {
        if let Some(remote) = &self.remote {
            remote.set_delay(delay);
        }
        delay
    }

    /// `LS+`: the other side's interest becomes a subscription of this link (or a queue
    /// group's new weight).
    fn on_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, weight: u32, key: &[u8]) -> Step {
        let account = self.conn.account.clone();
        if subject.starts_with(LOOP_DETECTION_PREFIX)
            && subject == self.nodes.lds(&account.name).as_bytes()
        {
            return self.loop_detected(true);
        }
        if subject::is_valid_literal_subject(subject) && !self.state.permits_send(subject) {
            if self.state.solicited {
                // The hub told this side its permissions; its interest in a subject this
                // side may not send is left out.
                return Step::Continue;
            }
            let text = errors::subscribe_violation(subject, None);
            self.conn.send_err(&text);
            log_error!(
                "{} - Subscription Violation on {} - Check other side configuration",
                self.label(),
                errors::go_quote(subject)
            );
            return Step::Close(CloseReason::ProtocolViolation);
        }
        let shared = self.conn.shared.clone();
        let existing = shared.subs.lock().get(key).cloned();
        if let Some(sub) = existing {
            if queue.is_some() {
                let before = sub.weight.swap(weight, Ordering::Relaxed);
                if before != weight {
                    let delta = i64::from(weight) - i64::from(before);
                    account.sublist.write().notify(&sub, delta);
                }
            }
            return Step::Continue;
        }
        let max = self.conn.server.opts.max_subscriptions;
        if max > 0 && shared.subs.lock().len() >= max {
            self.conn.send_err(errors::MAX_SUBSCRIPTIONS_EXCEEDED);
            return Step::Continue;
        }
        let shadows = imports::shadows_for(&account, &shared, subject, queue, key, &None);
        let sub =
            Arc::new(Subscription::new(shared.clone(), subject, queue, key).with_shadows(shadows));
        sub.weight.store(weight, Ordering::Relaxed);
        if account.sublist.write().insert(sub.clone()).is_err() {
            self.conn.send_err("Invalid Subscription");
            return Step::Continue;
        }
        imports::insert_shadows(&sub.shadows);
        shared.subs.lock().insert(key.into(), sub);
        Step::Continue
    }

    /// `LMSG`/`HMSG`: delivered to this side's plain subscribers and, for the queue groups
    /// it names, one member each, never back over this link.
    fn on_msg(&mut self, m: &LeafMsg<'_>) -> Step {
        self.conn.count_in(m.message.len());
        if !self.state.may_receive(m.subject) {
            if self.state.solicited {
                log_debug!(
                    "{} - Not permitted to receive {}",
                    self.label(),
                    String::from_utf8_lossy(m.subject)
                );
                return Step::Continue;
            }
            self.conn.send_err(&errors::publish_violation(m.subject));
            log_error!(
                "{} - Publish Violation on {} - Check other side configuration",
                self.label(),
                errors::go_quote(m.subject)
            );
            return Step::Close(CloseReason::ProtocolViolation);
        }
        let msg = Publish {
            subject: m.subject,
            reply: m.reply,
            header_len: m.header_len,
            message: m.message,
        };
        let replied = self.conn.server.tap.track(m.subject, m.reply);
        let result = self.conn.lookup(m.subject, m.message.len(), replied);
        let server = self.conn.server.clone();
        let account = self.conn.account.clone();
        let skip = Some(self.conn.shared.cid);
        let fanout = &mut self.conn.fanout;
        let saved = fanout.begin_publish();
        let mut receivers = 0u32;
        for sub in &result.psubs {
            receivers += u32::from(deliver(&server, fanout, &account, sub, &msg, skip));
        }
        if !m.queues.is_empty() {
            for group in &result.qsubs {
                if m.queue_names().any(|q| q == &group.name[..]) {
                    let took = deliver_to_group(&group.members, |sub| {
                        deliver(&server, fanout, &account, sub, &msg, skip)
                    });
                    receivers += u32::from(took);
                }
            }
        }
        fanout.end_publish(&server, saved, &msg);
        let tap = &server.tap;
        if tap.wants_sample() {
            tap.sample(
                m.subject,
                m.reply,
                m.headers(),
                msg.payload(),
                self.conn.shared.cid,
                receivers,
            );
        }
        Step::Continue
    }

    /// Binds the link: its interest flows from now on and the PINGs start.
    pub(super) fn bind(&mut self) {
        if self.bound {
            return;
        }
        self.bound = true;
        self.deadline = None;
        let lds = self.nodes.lds(&self.conn.account.name);
        link::bind_interest(&self.conn.shared, &lds);
        if let Some(remote) = &self.remote {
            remote.linked(self.conn.shared.cid);
        }
        self.next_ping = Instant::now() + first_ping_delay(self.conn.server.opts.ping_interval);
    }

    fn next_timer(&self) -> Instant {
        match self.deadline {
            Some(deadline) if !self.bound => deadline,
            _ if self.bound => self.next_ping,
            // Neither bound nor with a deadline: only the other side's bytes move it on.
            _ => Instant::now() + Duration::from_secs(3600),
        }
    }

    /// The deadline before binding, and the PINGs after: a solicited link always pings (as
    /// nats-server's spoke does); an accepted one only when the other side was quiet for an
    /// interval or its RTT is due.
    fn on_timer(&mut self) -> Option<CloseReason> {
        let now = Instant::now();
        if !self.bound {
            if self.deadline.is_some_and(|d| d <= now) {
                if self.state.solicited {
                    self.conn.send_err("Stale Leaf Node Connection - Closing");
                    return Some(CloseReason::StaleConnection);
                }
                self.conn.send_err(errors::AUTHENTICATION_TIMEOUT);
                return Some(CloseReason::AuthenticationTimeout);
            }
            return None;
        }
        if self.next_ping > now {
            return None;
        }
        let interval = self.conn.server.opts.ping_interval;
        let need_rtt = self
            .ping_sent_at
            .is_none_or(|t| now.duration_since(t) > RTT_MEASUREMENT_INTERVAL);
        if self.state.solicited || now.duration_since(self.last_in) >= interval || need_rtt {
            if self.pings_out + 1 > self.conn.server.opts.ping_max {
                log_debug!("{} - Stale Client Connection - Closing", self.label());
                self.conn.send_err(errors::STALE_CONNECTION);
                self.conn
                    .server
                    .stats
                    .stale_connections
                    .fetch_add(1, Ordering::Relaxed);
                return Some(CloseReason::StaleConnection);
            }
            self.conn.send(encode::PING);
            self.pings_out += 1;
            self.ping_sent_at = Some(now);
        }
        self.next_ping = now + interval;
        None
    }

    /// Unhooks the link from everything once its read loop ended.
    pub(super) fn finish(&mut self, reason: CloseReason) -> CloseReason {
        self.conn.flush_subject_counts();
        let shared = self.conn.shared.clone();
        let reason = shared.outbound.close(reason, true);
        link::unbind_interest(&shared);
        let subs: Vec<Arc<Subscription>> = shared.subs.lock().drain().map(|(_, s)| s).collect();
        {
            let account = shared.account();
            let mut sublist = account.sublist.write();
            for sub in &subs {
                if sub.close() {
                    sublist.remove(sub);
                }
            }
        }
        for sub in &subs {
            imports::remove_shadows(&sub.shadows);
        }
        self.nodes.unregister(&shared);
        if let Some(remote) = &self.remote {
            remote.ended(&reason.to_string());
        }
        let remote = self.state.remote.lock().name.clone();
        crate::log_info!(
            "{} - Leafnode connection closed: {} - Remote: {}",
            self.label(),
            reason,
            remote
        );
        reason
    }
}

/// A delay as Go prints a `time.Duration` of whole seconds (`30s`, `1m30s`).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) if d.subsec_nanos() == 0 => format!("{s}s"),
        (0, m, s) if d.subsec_nanos() == 0 => format!("{m}m{s}s"),
        (h, m, s) if d.subsec_nanos() == 0 => format!("{h}h{m}m{s}s"),
        _ => format!("{}ms", d.as_millis()),
    }
}
