//! One client connection: the part others see (`ClientShared`: outbound queue, subscriptions,
//! counters) and the read loop that parses and handles what the client sends (`Conn`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

use super::account::Account;
use super::close::CloseReason;
use super::outbound::{Outbound, OutboundBudget, PushResult};
use super::permissions::ConnPerms;
use super::server::Server;
use super::sublist::{SubInfo, SublistResult, Subscription};
use super::tap::{LocalCount, FLUSH_INTERVAL};
pub use super::transport::Transport;
use crate::inspect::snapshot::EventKind;
use crate::proto::info::ConnectOptions;
use crate::proto::{encode, errors, subject, ClientOp, ParseError, Parser, ParserLimits};
use crate::{log_debug, log_trace};

/// nats-server's `firstClientPingInterval`: the first PING comes early to measure RTT.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);
/// nats-server's `DEFAULT_RTT_MEASUREMENT_INTERVAL`.
const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);
/// Read buffer bounds, as nats-server's (512 B growing to 64 KiB).
const MIN_READ_BUF: usize = 512;
const MAX_READ_BUF: usize = 64 * 1024;
/// nats-server's fast-producer stall: wait per lagging consumer, and at most per read pass.
const STALL_WAIT: Duration = Duration::from_millis(2);
const STALL_WAIT_FULL: Duration = Duration::from_millis(5);
const STALL_TOTAL: Duration = Duration::from_millis(10);
/// Per-connection cache of sublist results, cleared when it grows past this.
pub(crate) const MAX_CACHED_SUBJECTS: usize = 1024;

/// What the CONNECT said, for monitoring.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub rtt: Option<Duration>,
    /// The user JWT the client logged in with (operator mode).
    pub jwt: Option<Arc<super::jwt_auth::UserJwt>>,
}

/// The side of a connection that other tasks see: its outbound queue, its subscriptions
/// (publishers may auto-unsubscribe), and its counters.
#[derive(Debug)]
pub struct ClientShared {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub outbound: Outbound,
    /// The account (subject space) the client belongs to; decided at CONNECT when
    /// authentication is required.
    account: RwLock<Arc<Account>>,
    pub subs: Mutex<HashMap<Box<[u8]>, Arc<Subscription>>>,
    pub meta: Mutex<ClientMeta>,
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// When the client last published or changed its interest (Unix nanoseconds).
    last_in_activity: AtomicU64,
    headers: AtomicBool,
    stop: Notify,
    transport: AtomicU8,
    /// Set on a leaf-node link: its messages are framed as LMSG and it sends interest.
    pub(crate) leaf: Option<Arc<super::leaf::LinkState>>,
    /// The largest payload this client may publish: the server's `max_payload`, lowered by
    /// its user's or account's JWT. The read loop hands changes to its parser.
    max_payload: AtomicU64,
    /// The most subscriptions it may hold; -1 = no limit.
    max_subs: std::sync::atomic::AtomicI64,
}

impl ClientShared {
    pub fn new(
        id: u64,
        addr: SocketAddr,
        account: Arc<Account>,
        max_pending: u64,
        budget: Arc<OutboundBudget>,
    ) -> Self {
        let start = SystemTime::now();
        ClientShared {
            cid: id,
            addr,
            start,
            outbound: Outbound::new(max_pending, budget),
            account: RwLock::new(account),
            subs: Mutex::new(HashMap::new()),
            meta: Mutex::new(ClientMeta::default()),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            last_in_activity: AtomicU64::new(unix_nanos(start)),
            headers: AtomicBool::new(false),
            stop: Notify::new(),
            transport: AtomicU8::new(Transport::Tcp.to_u8()),
            leaf: None,
            max_payload: AtomicU64::new(u64::MAX),
            max_subs: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// Makes this connection a leaf-node link.
    pub(crate) fn with_leaf(mut self, link: Arc<super::leaf::LinkState>) -> Self {
        self.leaf = Some(link);
        self
    }

    /// Whether this connection is a leaf-node link (not a client).
    pub fn is_leaf(&self) -> bool {
        self.leaf.is_some()
    }

    /// Records that the connection negotiated headers (a leaf link, from INFO or CONNECT).
    pub(crate) fn set_headers(&self, on: bool) {
        self.headers.store(on, Ordering::Relaxed);
    }

    /// Last activity as nats-server counts it: connecting, publishing, subscribing or
    /// unsubscribing, and messages delivered to the client.
    pub fn last_activity(&self) -> SystemTime {
        let delivered = self.outbound.stats.last_delivery.load(Ordering::Relaxed);
        let nanos = self.last_in_activity.load(Ordering::Relaxed).max(delivered);
        SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    /// How the client is connected.
    pub fn transport(&self) -> Transport {
        Transport::from_u8(self.transport.load(Ordering::Relaxed))
    }

    pub(crate) fn set_transport(&self, transport: Transport) {
        self.transport.store(transport.to_u8(), Ordering::Relaxed);
    }

    fn touch(&self) {
        self.last_in_activity
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    /// Snapshots of this client's subscriptions, in no particular order.
    pub fn subscription_infos(&self) -> Vec<SubInfo> {
        self.subs.lock().values().map(|s| s.info()).collect()
    }

    pub fn account(&self) -> Arc<Account> {
        self.account.read().clone()
    }

    /// The client's own payload limit, when a JWT set one (else the server's applies).
    pub fn max_payload(&self) -> Option<u64> {
        Some(self.max_payload.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }

    /// The client's own subscription limit, when a JWT set one.
    pub fn max_subscriptions(&self) -> Option<u64> {
        u64::try_from(self.max_subs.load(Ordering::Relaxed)).ok()
    }

    /// nats-server's `applyAccountLimits`: the user's `payload` and `subs` (its scope's,
    /// for a scoped signing key), lowered by the account's, then by the server's.
    pub(crate) fn apply_limits(
        &self,
        user: &super::jwt_auth::UserJwt,
        account: Option<&super::account::AccountJwt>,
        server_max_payload: u32,
        server_max_subs: usize,
    ) {
        let limit = |n: i64| u64::try_from(n).ok();
        let lower = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let payload = lower(limit(user.payload), account.and_then(|a| a.max_payload()));
        let payload = lower(payload, Some(u64::from(server_max_payload)));
        let subs = lower(
            limit(user.subs),
            account.and_then(|a| a.max_subscriptions()),
        );
        let subs = lower(
            subs,
            (server_max_subs > 0).then_some(server_max_subs as u64),
        );
        self.max_payload
            .store(payload.unwrap_or(u64::MAX), Ordering::Relaxed);
        let subs = subs.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        self.max_subs.store(subs, Ordering::Relaxed);
    }

    /// Whether the client negotiated headers (else HMSG is delivered as MSG without them).
    pub fn supports_headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    /// Queues a protocol line (not a message) and wakes the writer: for lines the server
    /// sends on its own, such as an async INFO.
    pub fn send_protocol(&self, line: &[u8]) {
        if let PushResult::Queued { .. } = self.outbound.push(None, |b| b.extend_from_slice(line)) {
            self.outbound.wake();
        }
    }

    /// Resolves once [`ClientShared::close`] was called (for read loops outside this module).
    pub(crate) async fn stopped(&self) {
        self.stop.notified().await;
    }

    /// Closes the connection from anywhere (slow consumer, kick, shutdown).
    pub fn close(&self, reason: CloseReason, flush: bool) {
        self.outbound.close(reason, flush);
        self.stop.notify_one();
    }

    /// Removes one subscription everywhere (UNSUB, auto-unsubscribe).
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        if sub.close() {
            self.account().sublist.write().remove(sub);
            super::imports::remove_shadows(&sub.shadows);
            let mut subs = self.subs.lock();
            if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
                subs.remove(&sub.sid);
            }
        }
    }
}

/// A cached sublist result, with the subject's traffic since the last flush to the tap.
pub(crate) struct CacheEntry {
    pub(crate) result: Arc<SublistResult>,
    pub(crate) counts: LocalCount,
}

impl CacheEntry {
    /// One publish of `size` bytes; `reply` when the tap paired it with an earlier request.
    #[inline]
    pub(crate) fn count(&mut self, size: usize, reply: bool) {
        self.counts.msgs += 1;
        self.counts.bytes += size as u64;
        self.counts.reply_msgs += u64::from(reply);
        if self.result.is_empty() {
            self.counts.no_interest_msgs += 1;
        }
    }
}

/// What handling one operation asks the read loop to do next.
pub(crate) enum Step {
    Continue,
    /// CONNECT accepted: stop requiring auth, enable HPUB if headers were negotiated.
    Connected {
        headers: bool,
    },
    Close(CloseReason),
}

/// The read side of a connection, owned by its task.
pub(crate) struct Conn {
    pub(crate) server: Arc<Server>,
    pub(crate) shared: Arc<ClientShared>,
    pub(crate) connect: Option<ConnectOptions>,
    /// The client's account, cached for the publish path.
    pub(crate) account: Arc<Account>,
    pub(crate) echo: bool,
    pub(crate) verbose: bool,
    pub(crate) pedantic: bool,
    pub(crate) no_responders: bool,
    /// Writers touched in this read batch (woken once at its end) and consumers over 75%
    /// of max_pending.
    pub(crate) fanout: super::router::Fanout,
    pub(crate) cache: HashMap<Box<[u8]>, CacheEntry, foldhash::fast::RandomState>,
    pub(crate) last_flush: Instant,
    /// Messages recorded in this batch (record and replay, `record_tap`).
    pub(crate) record_batch: super::record_tap::RecordBatch,
    /// Where the operation being handled is in the read buffer, when it arrived whole in
    /// this read (the recording copies publishes from there).
    pub(crate) read_frame: Option<(usize, usize)>,
    pub(crate) cache_generation: u64,
    /// The nonce INFO carried (nkey authentication signs it).
    pub(crate) nonce: Option<String>,
    /// The user's permissions; `None` (the common case) means everything is allowed.
    pub(crate) perms: Option<Box<ConnPerms>>,
    batch_in_msgs: u64,
    batch_in_bytes: u64,
    pub(crate) auth_deadline: Option<Instant>,
    /// When the user JWT stops being valid (its `exp`, the end of its `times`).
    pub(crate) expires_at: Option<Instant>,
    next_ping: Instant,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    last_in: Instant,
    first_pong_sent: bool,
    /// A WebSocket client's own authentication (the listener's override and cookies).
    pub(crate) ws: Option<super::websocket::WsAuth>,
    /// What the client certificate offers as a user name, with `verify_and_map`.
    pub(crate) cert_names: Option<Box<super::tls_map::CertNames>>,
}

impl Conn {
    pub(crate) fn new(server: Arc<Server>, shared: Arc<ClientShared>) -> Self {
        let now = Instant::now();
        let auth_deadline = server.auth_required().then(|| now + server.auth_timeout());
        let next_ping = now + first_ping_delay(server.opts.ping_interval);
        let publisher = shared.clone();
        Conn {
            account: shared.account(),
            server,
            shared,
            connect: None,
            echo: true,
            // Before CONNECT nats-server applies its defaults: verbose and pedantic.
            verbose: true,
            pedantic: true,
            no_responders: false,
            fanout: super::router::Fanout {
                publisher: Some(publisher),
                ..Default::default()
            },
            cache: HashMap::default(),
            last_flush: now,
            record_batch: Default::default(),
            read_frame: None,
            cache_generation: u64::MAX,
            nonce: None,
            perms: None,
            batch_in_msgs: 0,
            batch_in_bytes: 0,
            auth_deadline,
            expires_at: None,
            next_ping,
            pings_out: 0,
            ping_sent_at: None,
            last_in: now,
            first_pong_sent: false,
            ws: None,
            cert_names: None,
        }
    }

    /// Reads and handles operations until the connection ends; returns why it ended.
    pub(crate) async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> CloseReason {
        let opts = &self.server.opts;
        let mut parser = Parser::new(ParserLimits {
            max_control_line: opts.max_control_line as usize,
            max_payload: opts.max_payload as usize,
        });
        parser.awaiting_auth = self.auth_deadline.is_some();
        let mut buf = vec![0u8; MIN_READ_BUF];
        let mut small_reads = 0u32;
        // One timer for the connection's life, moved only when its deadline changes: a new
        // `sleep_until` per read registered the timer again each time, and when it was the
        // runtime's earliest one that woke the I/O driver (an eventfd write and an extra
        // epoll round) on every request.
        let timer = tokio::time::sleep_until(self.next_timer().into());
        tokio::pin!(timer);
        loop {
            let deadline = tokio::time::Instant::from(self.next_timer());
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            let n = tokio::select! {
                biased;
                _ = self.shared.stop.notified() => {
                    return self.shared.outbound.close_reason().unwrap_or(CloseReason::ClientClosed);
                }
                r = reader.read(&mut buf) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(e) => return super::websocket::stream::close_reason_of(&e),
                },
                _ = &mut timer => {
                    if let Some(reason) = self.on_timer() {
                        self.end_batch(&mut Vec::new(), 0);
                        return reason;
                    }
                    self.end_batch(&mut Vec::new(), 0);
                    continue;
                }
            };
            self.last_in = Instant::now();
            self.sync_max_payload(&mut parser);
            if let Some(poll) = &self.server.hot_poll {
                poll.touch(self.last_in);
            }
            let mut pos = 0;
            loop {
                let op_start = pos;
                let whole = parser.is_idle();
                let step = match parser.next_op(&buf[..n], &mut pos) {
                    Ok(Some(op)) => {
                        self.read_frame = whole.then_some((op_start, pos));
                        self.handle(op)
                    }
                    Ok(None) => break,
                    Err(ParseError::AuthViolation) if self.no_auth_user_fast_path() => {
                        parser.awaiting_auth = false;
                        continue;
                    }
                    Err(e) => Step::Close(self.on_parse_error(e)),
                };
                match step {
                    Step::Continue => {}
                    Step::Connected { headers } => {
                        parser.awaiting_auth = false;
                        parser.headers_enabled = headers;
                        self.sync_max_payload(&mut parser);
                    }
                    Step::Close(reason) => {
                        self.end_batch(&mut buf, n);
                        return reason;
                    }
                }
            }
            let woke_writers = self.end_batch(&mut buf, n);
            self.stall_for_lagging_consumers().await;
            if woke_writers {
                // Let the writers just woken run before this publisher reads more: with few
                // worker threads a busy publisher would otherwise refill the queues it just
                // filled until the runtime's budget forces a yield, so the queues (and the
                // memory) grow, consumers pass the stall mark, and every other connection
                // waits behind it.
                tokio::task::yield_now().await;
            }
            // Grow the buffer while reads fill it; shrink it back when the client idles.
            if n == buf.len() && buf.len() < MAX_READ_BUF {
                buf.resize(buf.len() * 2, 0);
                small_reads = 0;
            } else if n < buf.len() / 2 && buf.len() > MIN_READ_BUF {
                small_reads += 1;
                if small_reads > 2 {
                    buf.truncate(buf.len() / 2);
                    buf.shrink_to_fit();
                    small_reads = 0;
                }
            }
        }
    }

    /// Wakes every writer touched in this batch and publishes the batch's counters; true
    /// when it woke another connection's writer. `read[..n]` is the read just handled (`n`
    /// is 0 when there was none): the recording copies its publishes from it, or keeps the
    /// buffer and leaves another of the same length.
    pub(crate) fn end_batch(&mut self, read: &mut Vec<u8>, n: usize) -> bool {
        self.server
            .tap
            .recording
            .flush(&mut self.record_batch, self.shared.cid, read, n);
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush_subject_counts();
        }
        let mut woke_others = false;
        for client in self.fanout.wakes.drain(..) {
            woke_others |= client.cid != self.shared.cid;
            client.outbound.wake();
        }
        if self.batch_in_msgs > 0 {
            self.shared
                .in_msgs
                .fetch_add(self.batch_in_msgs, Ordering::Relaxed);
            self.shared
                .in_bytes
                .fetch_add(self.batch_in_bytes, Ordering::Relaxed);
            self.batch_in_msgs = 0;
            self.batch_in_bytes = 0;
            self.shared.touch();
        }
        woke_others
    }

    /// Gives consumers this batch pushed over 75% of their queue a moment to drain.
    pub(crate) async fn stall_for_lagging_consumers(&mut self) {
        if self.fanout.stalls.is_empty() {
            return;
        }
        let started = Instant::now();
        let max_pending = self.server.opts.max_pending as usize;
        for client in std::mem::take(&mut self.fanout.stalls) {
            let spent = started.elapsed();
            if spent >= STALL_TOTAL {
                break;
            }
            let wait = if client.outbound.pending_bytes() >= max_pending {
                STALL_WAIT_FULL
            } else {
                STALL_WAIT
            };
            let wait = wait.min(STALL_TOTAL - spent);
            let _ = tokio::time::timeout(wait, client.outbound.wait_drained()).await;
        }
        self.server.stats.stalls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message received (flushed to the connection's totals with the batch).
    pub(crate) fn count_in(&mut self, bytes: usize) {
        self.batch_in_msgs += 1;
        self.batch_in_bytes += bytes as u64;
    }

    /// Queues a protocol line for this client.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        if let PushResult::Queued { wake: true, .. } = self
            .shared
            .outbound
            .push(None, |b| b.extend_from_slice(bytes))
        {
            self.fanout.wakes.push(self.shared.clone());
        }
    }

    pub(crate) fn send_err(&mut self, text: &str) {
        log_debug!(
            "{} - cid:{} - Sending -ERR '{}'",
            self.shared.addr,
            self.shared.cid,
            text
        );
        self.send(&errors::err_line(text));
    }

    fn next_timer(&self) -> Instant {
        [self.auth_deadline, self.expires_at]
            .into_iter()
            .flatten()
            .fold(self.next_ping, Instant::min)
    }

    /// Hands the client's payload limit (a JWT's, which an account update may change) to
    /// the parser; one relaxed load per read.
    fn sync_max_payload(&self, parser: &mut Parser) {
        let max = self
            .shared
            .max_payload()
            .map_or(self.server.opts.max_payload as usize, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            });
        if parser.max_payload() != max {
            parser.set_max_payload(max);
        }
    }

    /// The auth timeout and the ping timer, as nats-server runs them.
    /// The server's `ping_interval`, or the `websocket` block's for a WebSocket client.
    fn ping_interval(&self) -> Duration {
        if matches!(self.shared.transport(), Transport::Ws | Transport::Wss) {
            if let Some(ws) = self.server.websocket() {
                if !ws.opts.ping_interval.is_zero() {
                    return ws.opts.ping_interval;
                }
            }
        }
        self.server.opts.ping_interval
    }

    fn on_timer(&mut self) -> Option<CloseReason> {
        let now = Instant::now();
        if self.auth_deadline.is_some_and(|d| d <= now) {
            self.send_err(errors::AUTHENTICATION_TIMEOUT);
            self.auth_failure_event(None);
            return Some(CloseReason::AuthenticationTimeout);
        }
        if self.expires_at.is_some_and(|d| d <= now) {
            self.send_err(errors::USER_AUTHENTICATION_EXPIRED);
            return Some(CloseReason::AuthenticationExpired);
        }
        if self.next_ping > now {
            return None;
        }
        let interval = self.ping_interval();
        let need_rtt = self
            .ping_sent_at
            .is_none_or(|t| now.duration_since(t) > RTT_MEASUREMENT_INTERVAL);
        if now.duration_since(self.last_in) >= interval || need_rtt {
            if self.pings_out + 1 > self.server.opts.ping_max {
                self.send_err(errors::STALE_CONNECTION);
                self.server
                    .stats
                    .stale_connections
                    .fetch_add(1, Ordering::Relaxed);
                return Some(CloseReason::StaleConnection);
            }
            self.send(encode::PING);
            self.pings_out += 1;
            self.ping_sent_at = Some(now);
        }
        self.next_ping = now + interval;
        None
    }

    fn on_parse_error(&mut self, error: ParseError) -> CloseReason {
        log_debug!(
            "{} - cid:{} - Parser error: {}",
            self.shared.addr,
            self.shared.cid,
            error
        );
        match error {
            ParseError::UnknownOperation => {
                self.send_err(errors::UNKNOWN_PROTOCOL_OPERATION);
                CloseReason::ProtocolViolation
            }
            ParseError::MaxControlLine => {
                self.send_err(errors::MAX_CONTROL_LINE_EXCEEDED);
                CloseReason::MaxControlLineExceeded
            }
            ParseError::MaxPayload { .. } => {
                self.send_err(errors::MAX_PAYLOAD_VIOLATION);
                CloseReason::MaxPayloadExceeded
            }
            ParseError::AuthViolation => {
                self.send_err(errors::AUTHORIZATION_VIOLATION);
                self.auth_failure_event(None);
                CloseReason::AuthenticationFailure
            }
            ParseError::HeadersNotSupported => CloseReason::MessageHeaderViolation,
            ParseError::BadArguments(_) => CloseReason::ProtocolViolation,
        }
    }

    fn handle(&mut self, op: ClientOp<'_>) -> Step {
        if crate::logging::enabled(crate::logging::Level::Trace) {
            log_trace!(
                "{} - cid:{} - <<- {}",
                self.shared.addr,
                self.shared.cid,
                op
            );
        }
        match op {
            ClientOp::Pub(p) => {
                self.batch_in_msgs += 1;
                self.batch_in_bytes += p.message.len() as u64;
                if self.pedantic && !subject::is_valid_literal_subject(p.subject) {
                    // nats-server reports it and still routes the message.
                    self.send_err(errors::INVALID_PUBLISH_SUBJECT);
                }
                if !self.may_publish(p.subject, p.reply) {
                    return Step::Continue;
                }
                if self.verbose {
                    self.send(encode::OK);
                }
                self.publish(&p);
                Step::Continue
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.subscribe(subject, queue, sid);
                Step::Continue
            }
            ClientOp::Unsub { sid, max_msgs } => {
                self.unsubscribe(sid, max_msgs);
                Step::Continue
            }
            ClientOp::Ping => {
                self.send(encode::PONG);
                self.after_client_ping();
                Step::Continue
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent_at {
                    self.shared.meta.lock().rtt = Some(sent.elapsed());
                }
                Step::Continue
            }
            ClientOp::Connect(json) => self.on_connect(json),
            ClientOp::Info(json) => {
                match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(json) {
                    Ok(_) => Step::Continue,
                    Err(_) => Step::Close(CloseReason::ProtocolViolation),
                }
            }
            ClientOp::Ok => Step::Continue,
            ClientOp::Err(text) => {
                log_debug!(
                    "{} - cid:{} - Client Error {}",
                    self.shared.addr,
                    self.shared.cid,
                    String::from_utf8_lossy(text)
                );
                Step::Close(CloseReason::ParseError)
            }
        }
    }

    /// nats-server answers a client's first PING after CONNECT (protocol >= 1) with an
    /// async INFO that tells the client which account it is bound to.
    fn after_client_ping(&mut self) {
        let Some(connect) = &self.connect else {
            return;
        };
        if self.first_pong_sent {
            return;
        }
        self.first_pong_sent = true;
        if connect.protocol() >= 1 {
            let line = self.server.connect_info_line(&self.shared);
            self.send(&line);
        }
    }

    fn on_connect(&mut self, json: &[u8]) -> Step {
        let Ok(mut connect) = ConnectOptions::parse(json) else {
            return Step::Close(CloseReason::ProtocolViolation);
        };
        self.auth_deadline = None;
        if let Some(ws) = &self.ws {
            ws.fill_from_cookies(&mut connect);
        }
        let nonce = self.nonce.as_deref().unwrap_or_default().as_bytes();
        let mut jwt_user = None;
        let identity = if self.server.authenticator().operator() {
            let login = self.server.authenticate_jwt(&connect, nonce, &self.shared);
            if login.is_none() {
                crate::log_error!(
                    "{} - cid:{} - authentication error",
                    self.shared.addr,
                    self.shared.cid
                );
            }
            login.map(|login| {
                // A far `exp` must not overflow the clock: no deadline then.
                self.expires_at = login.valid_for.and_then(|d| Instant::now().checked_add(d));
                jwt_user = Some(login.user);
                login.identity
            })
        } else if self.tls_map() {
            self.authenticator()
                .authenticate_cert(self.cert_names.as_deref(), &connect, nonce)
        } else {
            self.authenticator().authenticate(&connect, nonce)
        };
        let identity =
            identity.filter(|_| connect.account.is_none() && connect.new_account != Some(true));
        let Some(identity) = identity else {
            self.send_err(errors::AUTHORIZATION_VIOLATION);
            self.remember_failed_connect(&connect);
            self.auth_failure_event(connect.user.clone().or(connect.nkey.clone()));
            return Step::Close(CloseReason::AuthenticationFailure);
        };
        let user = identity.user.clone();
        self.adopt(identity);
        if let Some(jwt_user) = jwt_user {
            if let Some(step) = self.adopt_jwt_user(jwt_user) {
                return step;
            }
        }
        let protocol = connect.protocol();
        if !(0..=1).contains(&protocol) {
            self.send_err(errors::INVALID_CLIENT_PROTOCOL);
            return Step::Close(CloseReason::BadClientProtocolVersion);
        }
        let headers = connect.headers();
        if connect.no_responders() && !headers {
            self.send_err(errors::NO_RESPONDERS_REQUIRES_HEADERS);
            return Step::Close(CloseReason::NoRespondersRequiresHeaders);
        }
        self.echo = connect.echo();
        self.verbose = connect.verbose();
        self.pedantic = connect.pedantic();
        self.no_responders = connect.no_responders();
        self.shared.headers.store(headers, Ordering::Relaxed);
        {
            let mut meta = self.shared.meta.lock();
            meta.name = connect.name.clone().unwrap_or_default();
            meta.lang = connect.lang.clone().unwrap_or_default();
            meta.version = connect.version.clone().unwrap_or_default();
            meta.user = user.or_else(|| connect.user.clone()).unwrap_or_default();
            if meta.rtt.is_none() {
                meta.rtt = self.shared.start.elapsed().ok();
            }
        }
        if self.connect.is_none() {
            self.next_ping = Instant::now() + first_ping_delay(self.ping_interval());
            self.server.tap.event(EventKind::Connected {
                cid: self.shared.cid,
                addr: self.shared.addr,
                name: connect.name.clone().unwrap_or_default(),
            });
            self.server.client_connected(&self.shared);
        }
        self.connect = Some(connect);
        if self.verbose {
            self.send(encode::OK);
        }
        Step::Connected { headers }
    }

    /// Who checks this connection's credentials: a WebSocket listener's own when it overrides
    /// the server's, else the server's.
    /// Whether the listener this client came through maps certificates to users (a
    /// WebSocket client: the `websocket` block's `tls`, as nats-server overrides it there).
    fn tls_map(&self) -> bool {
        let tls = if self.ws.is_some() {
            self.server.websocket().and_then(|ws| ws.opts.tls.as_ref())
        } else {
            self.server.opts.tls.as_ref()
        };
        tls.is_some_and(|t| t.verify_and_map)
    }

    pub(crate) fn authenticator(&self) -> &super::auth::Authenticator {
        if self.ws.as_ref().is_some_and(|ws| ws.override_auth) {
            if let Some(auth) = self.server.websocket().and_then(|l| l.auth_override()) {
                return auth;
            }
        }
        self.server.authenticator()
    }

    /// Binds the connection to who it authenticated as: its account and permissions.
    pub(crate) fn adopt(&mut self, identity: super::auth::Identity) {
        self.perms = identity.permissions.map(|p| Box::new(ConnPerms::new(p)));
        let account = identity.account;
        if Arc::ptr_eq(&account, &self.account) {
            return;
        }
        // Subscriptions made before (after the no_auth_user fast path) move along.
        let subs: Vec<Arc<Subscription>> = self.shared.subs.lock().values().cloned().collect();
        if !subs.is_empty() {
            let mut old = self.account.sublist.write();
            for sub in &subs {
                old.remove(sub);
            }
            drop(old);
            let mut new = account.sublist.write();
            for sub in &subs {
                let _ = new.insert(sub.clone());
            }
        }
        self.flush_subject_counts();
        self.cache.clear();
        self.cache_generation = u64::MAX;
        *self.shared.account.write() = account.clone();
        self.account = account;
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        self.shared.touch();
        let mut sub_perms = None;
        if let Some(perms) = &self.perms {
            if !perms.can_subscribe(subject, queue) {
                self.permission_violation(errors::subscribe_violation(subject, queue));
                return;
            }
            sub_perms = perms.for_subscription(subject, queue);
        }
        let max_subs = match self.shared.max_subscriptions() {
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => Some(self.server.opts.max_subscriptions).filter(|n| *n > 0),
        };
        {
            let mut subs = self.shared.subs.lock();
            if max_subs.is_some_and(|max| subs.len() >= max) {
                drop(subs);
                self.send_err(errors::MAX_SUBSCRIPTIONS_EXCEEDED);
                return;
            }
            // A duplicate sid is ignored and the first subscription stays, as in nats-server.
            if !subs.contains_key(sid) {
                let shadows = super::imports::shadows_for(
                    &self.account,
                    &self.shared,
                    subject,
                    queue,
                    sid,
                    &sub_perms,
                );
                let sub = Arc::new(
                    Subscription::new(self.shared.clone(), subject, queue, sid)
                        .with_perms(sub_perms)
                        .with_shadows(shadows),
                );
                if self.account.sublist.write().insert(sub.clone()).is_err() {
                    drop(subs);
                    self.send_err(errors::INVALID_SUBJECT);
                    return;
                }
                super::imports::insert_shadows(&sub.shadows);
                subs.insert(sid.into(), sub);
            }
        }
        if self.verbose {
            self.send(encode::OK);
        }
    }

    fn unsubscribe(&mut self, sid: &[u8], max_msgs: Option<i64>) {
        self.shared.touch();
        let sub = self.shared.subs.lock().get(sid).cloned();
        if let Some(sub) = sub {
            let delivered = sub.delivered.load(Ordering::Relaxed);
            match max_msgs {
                Some(max) if max > 0 && max as u64 > delivered => {
                    sub.max_msgs.store(max as u64, Ordering::Relaxed);
                }
                _ => {
                    self.shared.unsubscribe(&sub);
                    super::imports::reply_interest_lost(&self.server, &self.account, &sub.subject);
                }
            }
        }
        if self.verbose {
            self.send(encode::OK);
        }
    }

    /// Called once the read loop ended: unhooks the client from everything.
    pub(crate) fn finish(&mut self, reason: CloseReason) {
        self.flush_subject_counts();
        let reason = self.shared.outbound.close(reason, true);
        if self.connect.is_some() {
            self.server.tap.event(EventKind::Disconnected {
                cid: self.shared.cid,
                name: self.shared.meta.lock().name.clone(),
                reason: reason.to_string(),
            });
        }
        let subs: Vec<Arc<Subscription>> =
            self.shared.subs.lock().drain().map(|(_, s)| s).collect();
        let sub_infos = subs.iter().map(|s| s.info()).collect();
        {
            let mut sublist = self.account.sublist.write();
            for sub in &subs {
                if sub.close() {
                    sublist.remove(sub);
                }
            }
        }
        for sub in &subs {
            super::imports::remove_shadows(&sub.shadows);
            super::imports::reply_interest_lost(&self.server, &self.account, &sub.subject);
        }
        self.server.client_closed(&self.shared, reason, sub_infos);
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The first PING goes out early (at most 2 s) with up to 20% jitter, as in nats-server.
fn first_ping_delay(ping_interval: Duration) -> Duration {
    let base = ping_interval.min(FIRST_PING_INTERVAL);
    let jitter_nanos = (base.as_nanos() / 5) as u64;
    base + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
}
