//! Consumers: a stream's readers (nats-server's `consumer.go`). A consumer keeps its place
//! in the stream (the next stream and consumer sequences), the messages delivered and not yet
//! acknowledged (pending, with their deadlines and delivery counts), its ack floor and the
//! pull requests waiting for messages.
//!
//! Locks: a consumer's lock may be held while its stream's lock is taken (to load
//! messages), never the other way round; nothing is published with either held. Each
//! consumer has a task ([`run`]) that serves waiting pull requests, redelivers what was not
//! acknowledged in time, expires requests, sends heartbeats, removes an idle ephemeral and
//! writes the state file; it wakes on the stream's appends, on [`Consumer::wake`] and on
//! its next deadline.

pub mod ack;
pub mod config;
pub mod info;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::stream::Stream;
use super::time;
use crate::broker::account::Account;
use crate::broker::sublist::SublistResult;
use crate::broker::{Fanout, Server};
use crate::log_warn;
use config::{AckPolicy, ConsumerConfig, DeliverPolicy, Priority};

/// Errors worth reporting: a consumer being removed may find its directory gone.
trait FilterErr {
    fn filter_err(self, keep: impl Fn(&std::io::Error) -> bool) -> Result<(), std::io::Error>;
}

impl FilterErr for std::io::Result<()> {
    fn filter_err(self, keep: impl Fn(&std::io::Error) -> bool) -> Result<(), std::io::Error> {
        match self {
            Err(e) if keep(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

/// A message for the consumer's task to publish once every lock is released.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Where it is routed (a requester's inbox).
    pub to: String,
    /// The subject its MSG line shows (a delivered message's own subject).
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Bytes,
    pub payload: Bytes,
}

/// The reply subject of a flow control request: `$JS.FC.<stream>.<consumer>.` and four
/// random characters (nats-server's v1 layout).
fn flow_control_reply(stream: &str, consumer: &str) -> String {
    format!("$JS.FC.{stream}.{consumer}.{}", random_token(4))
}

/// `n` random base-62 characters (a pin id is 22, as nats-server's `nuid.Next()`).
fn random_token(n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|_| DIGITS[fastrand::usize(..DIGITS.len())] as char)
        .collect()
}

impl Outbound {
    /// Its size as pull requests' `max_bytes` counts it (the routing subject not included).
    fn size(&self) -> usize {
        self.subject.len()
            + self.reply.as_ref().map_or(0, String::len)
            + self.headers.len()
            + self.payload.len()
    }

    fn status(subject: &str, headers: String) -> Outbound {
        Outbound {
            to: subject.to_string(),
            subject: subject.to_string(),
            reply: None,
            headers: Bytes::from(headers.into_bytes()),
            payload: Bytes::new(),
        }
    }
}

/// A configuration's `pause_until` in Unix nanoseconds (0: none).
fn pause_time(cfg: &ConsumerConfig) -> i64 {
    cfg.pause_until
        .as_deref()
        .and_then(time::parse)
        .unwrap_or(0)
}

/// Publishes what a consumer produced, then wakes the writers.
pub fn publish_all(server: &Arc<Server>, account: &Arc<Account>, out: Vec<Outbound>) {
    if out.is_empty() {
        return;
    }
    let mut fanout = Fanout::default();
    // Deliveries of one pass mostly share their route (a deliver subject, a requester's
    // inbox): its subscribers are matched once for the run.
    let mut matched: Option<(&str, SublistResult)> = None;
    for m in &out {
        let result = match &matched {
            Some((route, result)) if *route == m.to => result,
            _ => {
                let result = account.sublist.read().match_subject(m.to.as_bytes());
                &matched.insert((m.to.as_str(), result)).1
            }
        };
        server.publish_internal_matched(
            &mut fanout,
            account,
            result,
            m.subject.as_bytes(),
            m.reply.as_deref().map(str::as_bytes),
            &m.headers,
            &m.payload,
        );
    }
    fanout.wake_all();
}

/// A message delivered and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The consumer sequence of its first delivery.
    pub dseq: u64,
    /// When it was last delivered, Unix nanoseconds.
    pub ts: i64,
}

/// A pull request waiting for messages (nats-server's `waitingRequest`).
#[derive(Debug, Clone)]
struct Waiting {
    reply: String,
    /// Messages still wanted.
    n: i64,
    /// Bytes still wanted (0: no limit given).
    b: i64,
    /// Messages delivered to it.
    d: i64,
    expires: Option<Instant>,
    no_wait: bool,
    heartbeat: Option<Duration>,
    next_heartbeat: Option<Instant>,
    /// Its priority group fields (JSON requests).
    group: Option<GroupRequest>,
}

/// The priority group fields of a pull request (`PriorityGroup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupRequest {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub min_pending: i64,
    #[serde(default)]
    pub min_ack_pending: i64,
    /// The pin id the client holds.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub priority: i64,
}

impl Waiting {
    /// Its place among prioritized requests (no group: last).
    fn priority(&self) -> i64 {
        self.group
            .as_ref()
            .map_or(i64::from(i32::MAX), |g| g.priority)
    }
}

/// The client a pinned-client consumer delivers to, while it keeps asking.
#[derive(Debug, Clone)]
struct Pin {
    id: String,
    group: String,
    /// When it was pinned, Unix nanoseconds.
    ts: i64,
    /// It loses the pin without a request by then.
    until: Instant,
}

/// Something a consumer went through that an advisory reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message was delivered `deliveries` times, `max_deliver`, and is given up.
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
    /// A delivery was negatively acknowledged.
    Nak(Delivered),
    /// A delivery was terminated (`+TERM`), with its reason.
    Terminated(Delivered, String),
    /// A client of `group` was pinned with `id`.
    Pinned { group: String, id: String },
    /// The pinned client of `group` lost its pin: `timeout` or `admin`.
    Unpinned { group: String, reason: &'static str },
    /// Paused until then (Unix nanoseconds), or resumed (0, or a time passed).
    Pause { until: i64 },
    /// An acknowledgement picked by `sample_freq`, `ack_time` nanoseconds after its
    /// delivery.
    AckSampled { delivered: Delivered, ack_time: i64 },
}

/// A delivery an acknowledgement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub deliveries: u64,
}

/// The most flow control lets a push consumer have in flight (`JsFlowControlMaxPending`).
const FLOW_CONTROL_MAX_PENDING: i64 = 32 * 1024 * 1024;
/// How often a push consumer looks at its deliver subject's subscribers again.
const INTEREST_POLL: Duration = Duration::from_millis(50);
/// How often at most a consumer's task rewrites its state file.
const STATE_WRITE_INTERVAL: Duration = Duration::from_millis(100);
/// The most messages one pass delivers before it lets other tasks run.
const PASS_LIMIT: usize = 1024;

/// A push consumer's delivery state (nats-server's `active`, `pbytes`/`maxpb`/`fcid` and
/// its heartbeat timer).
#[derive(Debug)]
struct Push {
    /// Whether the deliver subject has a subscriber (of the deliver group, when set).
    active: bool,
    /// The account's subscription generation when interest was last looked at.
    generation: u64,
    /// Since when nobody listens (the inactive threshold counts from here).
    inactive_since: Instant,
    /// When the next idle heartbeat is due.
    next_heartbeat: Option<Instant>,
    /// Bytes delivered and not yet covered by an answered flow control request.
    pbytes: i64,
    /// The flow control window: starts at 1/16 of the limit, doubles with each answer.
    maxpb: i64,
    /// The flow control request waiting for its answer (its reply subject) and the bytes
    /// it covers.
    fcid: Option<String>,
    fcsz: i64,
}

impl Push {
    fn new(flow_control: bool) -> Push {
        Push {
            active: false,
            generation: u64::MAX,
            inactive_since: Instant::now(),
            next_heartbeat: None,
            pbytes: 0,
            maxpb: if flow_control {
                (FLOW_CONTROL_MAX_PENDING / 16).max(1)
            } else {
                0
            },
            fcid: None,
            fcsz: 0,
        }
    }

    /// Whether flow control holds deliveries back until the client answers.
    fn stalled(&self) -> bool {
        self.maxpb > 0 && self.pbytes > self.maxpb
    }
}

/// A consumer's `rate_limit_bps` as a token bucket of bytes (nats-server's `rate.Limiter`,
/// its burst the largest message the stream takes).
#[derive(Debug)]
struct RateLimit {
    /// Bytes a second.
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn new(bps: u64, burst: usize) -> RateLimit {
        let burst = burst.max(1) as f64;
        RateLimit {
            rate: ((bps / 8).max(1)) as f64,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes `size` bytes' worth: `None` when they were there, else how long until they
    /// are (nothing taken then).
    fn take(&mut self, size: usize, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        let need = (size as f64).min(self.burst);
        if self.tokens >= need {
            self.tokens -= need;
            None
        } else {
            Some(Duration::from_secs_f64((need - self.tokens) / self.rate))
        }
    }
}

/// The largest message a stream takes, the rate limiter's burst (the server's default
/// max payload when the stream sets none).
fn rate_burst(stream: &Stream) -> usize {
    match stream.config().max_msg_size {
        n if n > 0 => n as usize,
        _ => 1024 * 1024,
    }
}

/// A pull request as its body gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextRequest {
    pub batch: i64,
    pub expires: i64,
    pub max_bytes: i64,
    pub no_wait: bool,
    pub heartbeat: i64,
    pub group: Option<GroupRequest>,
}

/// Reads a pull request's body (`nextReqFromMsg`): empty (one message), a number (a batch)
/// or JSON.
pub fn parse_next_request(body: &[u8]) -> Result<NextRequest, String> {
    let body = body.trim_ascii();
    let one = NextRequest {
        batch: 1,
        ..Default::default()
    };
    if body.is_empty() {
        return Ok(one);
    }
    if body[0] == b'{' {
        #[derive(Deserialize)]
        struct Req {
            #[serde(default)]
            expires: i64,
            #[serde(default)]
            batch: i64,
            #[serde(default)]
            max_bytes: i64,
            #[serde(default)]
            no_wait: bool,
            #[serde(default)]
            idle_heartbeat: i64,
            #[serde(flatten)]
            group: GroupRequest,
        }
        // A plain `json.Unmarshal` in nats-server: its words for a cut-off body.
        super::gojson::check(body).map_err(|e| match e.to_string().as_str() {
            "unexpected EOF" => "unexpected end of JSON input".to_string(),
            other => other.to_string(),
        })?;
        // Clients send `null` for fields they leave unset (async-nats' priority fields);
        // Go's decoder leaves those at zero.
        let r: Req = serde_json::from_slice::<serde_json::Value>(body)
            .map(super::api::without_nulls)
            .and_then(serde_json::from_value)
            .map_err(|e| e.to_string())?;
        if r.idle_heartbeat > 0 && r.idle_heartbeat * 2 > r.expires {
            return Err("heartbeat value too large".to_string());
        }
        return Ok(NextRequest {
            batch: r.batch,
            expires: r.expires,
            max_bytes: r.max_bytes,
            no_wait: r.no_wait,
            heartbeat: r.idle_heartbeat,
            group: Some(r.group),
        });
    }
    match std::str::from_utf8(body)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
    {
        Some(n) => Ok(NextRequest {
            batch: n,
            ..Default::default()
        }),
        None => Ok(one),
    }
}

/// The delivered or ack-floor sequences of an info response.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

#[derive(Debug)]
struct State {
    cfg: ConsumerConfig,
    filters: Vec<String>,
    /// The next stream sequence to look at.
    sseq: u64,
    /// The next consumer sequence to give.
    dseq: u64,
    last_delivered: i64,
    /// The ack floor: consumer and stream sequences below which everything is done.
    adflr: u64,
    asflr: u64,
    last_ack: i64,
    pending: BTreeMap<u64, Pending>,
    /// When each pending message is due for redelivery.
    deadlines: BTreeSet<(Instant, u64)>,
    due: HashMap<u64, Instant>,
    /// Delivery counts of messages delivered more than once.
    rdc: HashMap<u64, u64>,
    /// Messages to deliver again, by stream sequence.
    rdq: BTreeSet<u64>,
    /// Last-per-subject start: the sequences to deliver first, then where to go on.
    skip: Option<(VecDeque<u64>, u64)>,
    waiting: VecDeque<Waiting>,
    push: Push,
    /// Deliveries wait until then (the original pace of a replay, the rate limit).
    hold_until: Option<Instant>,
    /// Replaying at the original pace and not caught up yet, with the last delivered
    /// message's time and when it went.
    replaying: bool,
    replay_mark: Option<(i64, Instant)>,
    rate: Option<RateLimit>,
    rate_burst: usize,
    /// `pause_until`, Unix nanoseconds (0: not paused).
    paused_until: i64,
    /// The pinned client of a pinned-client consumer, and pins given and taken since the
    /// last pass (for advisories).
    pin: Option<Pin>,
    /// For advisories, since the last pass or acknowledgement.
    events: Vec<Event>,
    last_active: Instant,
    dirty: bool,
}

#[derive(Debug)]
pub struct Consumer {
    pub name: String,
    pub stream_name: String,
    /// When it was created, Unix nanoseconds.
    pub created: i64,
    /// `<stream dir>/obs/<name>` for consumers of file streams.
    pub dir: Option<PathBuf>,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    stopped: AtomicBool,
}

/// What one pass of a consumer's task produced.
#[derive(Debug, Default)]
struct Pass {
    /// Messages to publish.
    out: Vec<Outbound>,
    /// Stream sequences delivered without acknowledgements (retention may drop them).
    done: Vec<u64>,
    /// When to look again.
    next: Option<Instant>,
    /// Stopped at [`PASS_LIMIT`]: run again at once.
    more: bool,
    /// For advisories.
    events: Vec<Event>,
}

/// What acknowledging produced: messages to send (the double-ack reply) and stream
/// sequences that may no longer be needed (interest and work-queue retention).
#[derive(Debug, Default)]
pub struct AckOutcome {
    pub out: Vec<Outbound>,
    pub done: Vec<u64>,
    /// For advisories.
    pub events: Vec<Event>,
}

impl Consumer {
    /// A new consumer placed at its starting position in `stream`.
    pub fn new(
        name: String,
        stream: &Stream,
        cfg: ConsumerConfig,
        created: i64,
        dir: Option<PathBuf>,
    ) -> Consumer {
        let filters = cfg.filters();
        let mut st = State::new(cfg, filters, rate_burst(stream));
        st.start_position(stream);
        Consumer {
            name,
            stream_name: stream.name.clone(),
            created,
            dir,
            state: Mutex::new(st),
            wake: tokio::sync::Notify::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// A consumer recovered from its files.
    pub fn recovered(
        name: String,
        stream: &Stream,
        cfg: ConsumerConfig,
        created: i64,
        dir: PathBuf,
        saved: Option<state::SavedState>,
    ) -> Consumer {
        let c = Consumer::new(name, stream, cfg, created, Some(dir));
        if let Some(saved) = saved {
            let mut st = c.state.lock();
            st.restore(&saved, stream);
        }
        c
    }

    pub fn config(&self) -> ConsumerConfig {
        self.state.lock().cfg.clone()
    }

    pub fn filters(&self) -> Vec<String> {
        self.state.lock().filters.clone()
    }

    pub fn is_durable(&self) -> bool {
        self.state.lock().cfg.is_durable()
    }

    /// Replaces the configuration (an update that changed only what may change).
    pub fn set_config(&self, cfg: ConsumerConfig) {
        let mut st = self.state.lock();
        if st.cfg.deliver_subject != cfg.deliver_subject {
            // A new deliver subject: what is pending goes out again to it, once someone
            // listens there (`updateDeliverSubjectLocked`).
            let pending: Vec<u64> = st.pending.keys().copied().collect();
            for seq in pending {
                st.clear_deadline(seq);
                st.rdq.insert(seq);
            }
            st.push.generation = u64::MAX;
        }
        if st.cfg.rate_limit != cfg.rate_limit {
            st.rate = (cfg.rate_limit > 0).then(|| RateLimit::new(cfg.rate_limit, st.rate_burst));
        }
        let until = pause_time(&cfg);
        if until != st.paused_until {
            st.events.push(Event::Pause { until });
        }
        st.paused_until = until;
        st.cfg = cfg;
        st.dirty = true;
        drop(st);
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the consumer still needs to see or acknowledge stream sequence `seq` of
    /// `subject` (interest and work-queue retention keep it until nobody does).
    pub fn needs(&self, seq: u64, subject: &str) -> bool {
        let st = self.state.lock();
        if !st.matches(subject) {
            return false;
        }
        if seq >= st.sseq {
            return true;
        }
        if let Some((skip, _)) = &st.skip {
            if skip.contains(&seq) {
                return true;
            }
        }
        st.cfg.ack_policy != AckPolicy::None && st.pending.contains_key(&seq)
    }

    /// The stream was purged up to `first` (its new first sequence), or by a filter: the
    /// consumer moves past what went, and forgets pending messages that are gone.
    pub fn purged(&self, first: u64, stream: &Stream) {
        let mut st = self.state.lock();
        if st.sseq < first {
            st.sseq = first;
        }
        if let Some((skip, _)) = &mut st.skip {
            skip.retain(|s| *s >= first);
        }
        if st.asflr < first {
            st.asflr = first - 1;
        }
        let gone: Vec<u64> = st
            .pending
            .keys()
            .copied()
            .filter(|seq| *seq < first || !matches!(stream.load(*seq), Ok(Some(_))))
            .collect();
        if !gone.is_empty() {
            st.last_ack = time::now_nanos();
        }
        for seq in gone {
            if let Some(p) = st.pending.remove(&seq) {
                st.adflr = st.adflr.max(p.dseq);
            }
            st.clear_deadline(seq);
            st.rdc.remove(&seq);
            st.rdq.remove(&seq);
        }
        if st.pending.is_empty() {
            st.adflr = st.dseq - 1;
            st.asflr = st.sseq.saturating_sub(1);
        }
        st.dirty = true;
        drop(st);
        self.wake.notify_one();
    }

    /// A push consumer with a subscriber on its deliver subject.
    pub fn push_bound(&self) -> bool {
        let st = self.state.lock();
        st.is_push() && st.push.active
    }

    /// A pull request (`$JS.API.CONSUMER.MSG.NEXT`): queued for the consumer's task, or
    /// answered at once with a status when it can not be served.
    pub fn request_next(&self, reply: &str, body: &[u8], stream: &Stream) -> Vec<Outbound> {
        let mut st = self.state.lock();
        st.last_active = Instant::now();
        let status = |code: u16, text: &str| {
            vec![Outbound::status(
                reply,
                format!("NATS/1.0 {code} {text}\r\n\r\n"),
            )]
        };
        if st.is_push() {
            return status(409, "Consumer is push based");
        }
        let req = match parse_next_request(body) {
            Ok(r) => r,
            Err(e) => return status(400, &format!("Bad Request - {e}")),
        };
        let cfg = &st.cfg;
        if cfg.max_request_batch > 0 && req.batch > cfg.max_request_batch {
            return status(
                409,
                &format!("Exceeded MaxRequestBatch of {}", cfg.max_request_batch),
            );
        }
        if req.expires > 0 && cfg.max_request_expires > 0 && req.expires > cfg.max_request_expires {
            return status(
                409,
                &format!(
                    "Exceeded MaxRequestExpires of {}",
                    config::go_duration(cfg.max_request_expires)
                ),
            );
        }
        if req.max_bytes > 0
            && cfg.max_request_max_bytes > 0
            && req.max_bytes > cfg.max_request_max_bytes
        {
            return status(
                409,
                &format!(
                    "Exceeded MaxRequestMaxBytes of {}",
                    cfg.max_request_max_bytes
                ),
            );
        }
        if let Some(g) = &req.group {
            let policy = cfg.priority();
            if (g.min_pending != 0 || g.min_ack_pending != 0) && policy != Priority::Overflow {
                return status(400, "Bad Request - Not a Overflow Priority consumer");
            }
            if !g.id.is_empty() && policy != Priority::PinnedClient {
                return status(400, "Bad Request - Not a Pinned Client Priority consumer");
            }
            if !(0..=9).contains(&g.priority) {
                return status(400, "Bad Request - Priority must be between 0 and 9");
            }
            if policy != Priority::None {
                if g.group.is_empty() {
                    return status(400, "Bad Request - Priority Group missing");
                }
                if !cfg.priority_groups.contains(&g.group) {
                    return status(400, "Bad Request - Invalid Priority Group");
                }
                let ttl = Duration::from_nanos(cfg.pinned_ttl.max(0) as u64);
                if let Some(pin) = &mut st.pin {
                    if g.id == pin.id {
                        pin.until = Instant::now() + ttl;
                    } else if !g.id.is_empty() {
                        return status(423, "Nats-Pin-Id mismatch");
                    }
                }
            }
        }
        if req.no_wait {
            let available = st.num_pending(stream) + st.rdq.len() as u64 + st.expired_now();
            if available == 0 && req.expires <= 0 {
                return status(404, "No Messages");
            }
        }
        if st.waiting.len() as i64 >= st.cfg.max_waiting.max(1) {
            if req.heartbeat > 0 {
                return Vec::new();
            }
            return status(409, "Exceeded MaxWaiting");
        }
        let now = Instant::now();
        let heartbeat = (req.heartbeat > 0).then(|| Duration::from_nanos(req.heartbeat as u64));
        let w = Waiting {
            reply: reply.to_string(),
            n: req.batch,
            b: req.max_bytes.max(0),
            d: 0,
            expires: (req.expires > 0).then(|| now + Duration::from_nanos(req.expires as u64)),
            no_wait: req.no_wait,
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
            group: req.group,
        };
        st.queue_request(w);
        drop(st);
        self.wake.notify_one();
        Vec::new()
    }

    /// Handles an acknowledgement of the message delivered as `info`.
    pub fn process_ack(
        &self,
        info: &ack::AckInfo<'_>,
        kind: &ack::AckKind<'_>,
        reply: Option<&str>,
        stream: &Stream,
    ) -> AckOutcome {
        let mut outcome = AckOutcome::default();
        let mut answer = reply.is_some() && info.stream_seq > 0;
        {
            let mut st = self.state.lock();
            st.last_active = Instant::now();
            // nats-server answers a double ack unless it names a message not delivered yet.
            if info.stream_seq >= st.sseq && st.skip.is_none() {
                answer = false;
            }
            match kind {
                ack::AckKind::Ack => {
                    st.ack(info.stream_seq, info.consumer_seq, &mut outcome.done);
                }
                ack::AckKind::Next(body) => {
                    st.ack(info.stream_seq, info.consumer_seq, &mut outcome.done);
                    drop(st);
                    if let Some(reply) = reply {
                        outcome.out = self.request_next(reply, body, stream);
                    }
                    self.wake.notify_one();
                    return outcome;
                }
                ack::AckKind::Nak(delay) => st.nak(info, *delay),
                ack::AckKind::Progress => st.progress(info.stream_seq),
                ack::AckKind::Term(reason) => {
                    st.term(info, reason, &mut outcome.done);
                }
                ack::AckKind::Unknown => {}
            }
            outcome.events = std::mem::take(&mut st.events);
        }
        if answer {
            if let Some(reply) = reply {
                outcome.out.push(Outbound {
                    to: reply.to_string(),
                    subject: reply.to_string(),
                    reply: None,
                    headers: Bytes::new(),
                    payload: Bytes::new(),
                });
            }
        }
        self.wake.notify_one();
        outcome
    }

    /// One pass of the consumer's work: redeliveries due, then for a pull consumer expired
    /// and finished requests, heartbeats and deliveries; for a push consumer its
    /// subscriber, deliveries and heartbeat.
    fn pass(&self, stream: &Stream, account: &Account) -> Pass {
        let mut st = self.state.lock();
        let now = Instant::now();
        let mut p = Pass::default();
        st.collect_due(now, &mut p.done);
        if st.pin.as_ref().is_some_and(|p| now >= p.until) {
            st.unpin("timeout");
        }
        let held = st.held(now);
        if st.is_push() {
            st.check_interest(account, now);
            if !held {
                p.more = st.deliver_push(self, stream, &mut p.out, &mut p.done, now);
            }
            st.push_heartbeat(self, now, &mut p.out);
        } else {
            let has_interest = |reply: &str| {
                let found = account.sublist.read().match_subject(reply.as_bytes());
                !found.psubs.is_empty() || !found.qsubs.is_empty()
            };
            st.expire_waiting(now, &mut p.out, false, &has_interest);
            if !held {
                p.more = st.deliver(self, stream, &mut p.out, &mut p.done);
            }
            // A message held back for its time is not the end of the stream: no-wait
            // requests wait for it (a pause, though, ends them as nats-server does).
            if st.hold_until.is_none_or(|at| at <= now) {
                st.expire_waiting(now, &mut p.out, true, &has_interest);
            }
            if !st.waiting.is_empty() {
                st.last_active = now;
            }
        }
        p.next = st.next_deadline(now);
        if st.paused_until > 0 && st.pause_left().is_none() {
            // The pause ran out: resumed.
            st.paused_until = 0;
            st.events.push(Event::Pause { until: 0 });
        }
        p.events = std::mem::take(&mut st.events);
        p
    }

    /// Takes the pin from the pinned client of `group` (`$JS.API.CONSUMER.UNPIN`); false
    /// when the consumer has no such group.
    pub fn unpin(&self, group: &str) -> bool {
        let mut st = self.state.lock();
        if !st.cfg.priority_groups.iter().any(|g| g == group) {
            return false;
        }
        st.unpin("admin");
        drop(st);
        self.wake.notify_one();
        true
    }

    /// The answer to a flow control request (`processFlowControl`): the window grows and
    /// what it covered is no longer in flight. With acknowledgements by flow control, its
    /// `Nats-Last-Consumer`/`Nats-Last-Stream` headers acknowledge everything up to them.
    pub fn flow_control_answer(&self, subject: &str, headers: &[u8]) -> Vec<u64> {
        let mut done = Vec::new();
        let mut st = self.state.lock();
        if st.push.fcid.as_deref() != Some(subject) {
            return done;
        }
        let push = &mut st.push;
        if push.maxpb < FLOW_CONTROL_MAX_PENDING {
            push.maxpb = (push.maxpb * 2).min(FLOW_CONTROL_MAX_PENDING);
        }
        push.pbytes = (push.pbytes - push.fcsz).max(0);
        push.fcid = None;
        push.fcsz = 0;
        if st.cfg.ack_policy == AckPolicy::FlowControl {
            let number = |name: &str| {
                super::headers::get(headers, name)
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            if let Some(sseq) = number("Nats-Last-Stream").filter(|s| *s > 0) {
                let dseq = number("Nats-Last-Consumer").unwrap_or(0);
                st.ack(sseq, dseq, &mut done);
            }
        }
        drop(st);
        self.wake.notify_one();
        done
    }

    /// Whether an ephemeral consumer has been idle past its inactive threshold (or a
    /// durable one with a threshold set).
    fn idle_expired(&self) -> Option<Instant> {
        let st = self.state.lock();
        let threshold = st.cfg.inactive_threshold;
        if threshold <= 0 {
            return None;
        }
        let threshold = Duration::from_nanos(threshold as u64);
        if st.is_push() {
            // A push consumer is idle while nobody listens on its deliver subject.
            return (!st.push.active).then(|| st.push.inactive_since + threshold);
        }
        if !st.waiting.is_empty() {
            return None;
        }
        Some(st.last_active + threshold)
    }

    fn is_dirty(&self) -> bool {
        self.state.lock().dirty
    }

    /// The state to write, when it changed since last written.
    fn take_dirty(&self) -> Option<state::SavedState> {
        let mut st = self.state.lock();
        if !st.dirty {
            return None;
        }
        st.dirty = false;
        Some(st.saved())
    }

    /// Writes the state file now (shutdown).
    pub fn flush(&self) {
        if let (Some(dir), Some(saved)) = (&self.dir, self.take_dirty()) {
            if let Err(e) = state::write_state(dir, &saved, true).filter_err(|_| !self.is_stopped())
            {
                log_warn!("Consumer '{}' could not write its state: {}", self.name, e);
            }
        }
    }
}

impl State {
    fn new(cfg: ConsumerConfig, filters: Vec<String>, rate_burst: usize) -> State {
        let cfg_flow_control = cfg.flow_control;
        let replaying = cfg.replay_policy == config::ReplayPolicy::Original;
        let rate = (cfg.rate_limit > 0).then(|| RateLimit::new(cfg.rate_limit, rate_burst));
        let paused_until = pause_time(&cfg);
        State {
            cfg,
            filters,
            sseq: 1,
            dseq: 1,
            last_delivered: 0,
            adflr: 0,
            asflr: 0,
            last_ack: 0,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            due: HashMap::new(),
            rdc: HashMap::new(),
            rdq: BTreeSet::new(),
            skip: None,
            waiting: VecDeque::new(),
            push: Push::new(cfg_flow_control),
            hold_until: None,
            replaying,
            replay_mark: None,
            rate,
            rate_burst,
            paused_until,
            pin: None,
            events: Vec::new(),
            last_active: Instant::now(),
            dirty: true,
        }
    }

    fn is_push(&self) -> bool {
        !self.cfg.deliver_subject.is_empty()
    }

    fn matches(&self, subject: &str) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| super::store::subject_matches(f, subject))
    }

    /// Where a new consumer starts (`selectStartingSeqNo`).
    fn start_position(&mut self, stream: &Stream) {
        let st = stream.state();
        let first = st.first_seq.max(1);
        let last_matching = |filters: &[String]| -> Option<u64> {
            if filters.is_empty() {
                return stream.load_last(">").ok().flatten().map(|m| m.seq);
            }
            filters
                .iter()
                .filter_map(|f| stream.load_last(f).ok().flatten().map(|m| m.seq))
                .max()
        };
        self.sseq = match self.cfg.deliver_policy {
            DeliverPolicy::All => first,
            DeliverPolicy::Last => last_matching(&self.filters).unwrap_or(st.last_seq + 1),
            DeliverPolicy::New => st.last_seq + 1,
            DeliverPolicy::ByStartSequence => self.cfg.opt_start_seq.max(first),
            DeliverPolicy::ByStartTime => self
                .cfg
                .opt_start_time
                .as_deref()
                .and_then(time::parse)
                .and_then(|t| stream.seq_for_time(t))
                .unwrap_or(st.last_seq + 1),
            DeliverPolicy::LastPerSubject => {
                let seqs: VecDeque<u64> = stream
                    .multi_last(&self.filters, 0, u64::MAX)
                    .iter()
                    .map(|m| m.seq)
                    .collect();
                let resume = st.last_seq + 1;
                match seqs.front() {
                    Some(&s) => {
                        self.skip = Some((seqs, resume));
                        s
                    }
                    None => resume,
                }
            }
        };
        // The ack floor starts just below the first message it will see.
        self.asflr = self.sseq.saturating_sub(1);
    }

    fn restore(&mut self, saved: &state::SavedState, stream: &Stream) {
        self.dseq = saved.delivered.consumer_seq + 1;
        // The saved position wins (it was written when the consumer was created), except
        // for a last-per-subject start not begun yet, which is worked out again.
        if saved.delivered.consumer_seq > 0 || self.skip.is_none() {
            self.sseq = saved.delivered.stream_seq + 1;
            self.skip = None;
        }
        self.adflr = saved.ack_floor.consumer_seq;
        self.asflr = saved.ack_floor.stream_seq;
        self.last_delivered = saved.delivered.last_active;
        self.last_ack = saved.ack_floor.last_active;
        let now = Instant::now();
        for (seq, p) in &saved.pending {
            self.pending.insert(*seq, *p);
            // What was pending when the server stopped is due again after the ack wait.
            let at = now + self.ack_wait_for(1);
            self.set_deadline(*seq, at);
        }
        for (seq, n) in &saved.redelivered {
            self.rdc.insert(*seq, *n);
        }
        let first = stream.state().first_seq;
        if self.sseq < first {
            self.sseq = first;
        }
        self.dirty = false;
    }

    fn saved(&self) -> state::SavedState {
        state::SavedState {
            delivered: state::SavedSeq {
                consumer_seq: self.dseq - 1,
                stream_seq: self.sseq.saturating_sub(1),
                last_active: self.last_delivered,
            },
            ack_floor: state::SavedSeq {
                consumer_seq: self.adflr,
                stream_seq: self.asflr,
                last_active: self.last_ack,
            },
            pending: self.pending.iter().map(|(s, p)| (*s, *p)).collect(),
            redelivered: self.rdc.iter().map(|(s, n)| (*s, *n)).collect(),
        }
    }

    /// Messages the consumer has yet to deliver (`num_pending`), skipping the
    /// last-per-subject list's remaining entries the same way.
    fn num_pending(&self, stream: &Stream) -> u64 {
        if let Some((skip, _)) = &self.skip {
            return skip.len() as u64;
        }
        if self.filters.is_empty() {
            return stream.num_pending(">", self.sseq);
        }
        self.filters
            .iter()
            .map(|f| stream.num_pending(f, self.sseq))
            .sum()
    }

    /// The ack wait before the redelivery that follows delivery number `dc`.
    fn ack_wait_for(&self, dc: u64) -> Duration {
        let nanos = if self.cfg.backoff.is_empty() {
            self.cfg.ack_wait
        } else {
            let i = (dc.max(1) - 1) as usize;
            self.cfg.backoff[i.min(self.cfg.backoff.len() - 1)]
        };
        Duration::from_nanos(nanos.max(1) as u64)
    }

    fn set_deadline(&mut self, seq: u64, at: Instant) {
        if let Some(old) = self.due.insert(seq, at) {
            self.deadlines.remove(&(old, seq));
        }
        self.deadlines.insert((at, seq));
    }

    fn clear_deadline(&mut self, seq: u64) {
        if let Some(old) = self.due.remove(&seq) {
            self.deadlines.remove(&(old, seq));
        }
    }

    /// How many pending messages are past their deadline right now (not yet queued).
    fn expired_now(&self) -> u64 {
        let now = Instant::now();
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .count() as u64
    }

    /// Moves pending messages whose ack wait ran out to the redelivery queue; one
    /// delivered `max_deliver` times is given up instead (`hasMaxDeliveries`).
    fn collect_due(&mut self, now: Instant, done: &mut Vec<u64>) {
        while let Some(&(at, seq)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            self.due.remove(&seq);
            if !self.pending.contains_key(&seq) {
                continue;
            }
            let dc = self.rdc.get(&seq).copied().unwrap_or(1);
            if self.cfg.max_deliver > 0 && dc >= self.cfg.max_deliver as u64 {
                self.give_up(seq, dc, done);
            } else {
                self.rdq.insert(seq);
            }
        }
    }

    /// A message delivered as often as allowed: no longer pending, reported
    /// (`notifyDeliveryExceeded`).
    fn give_up(&mut self, seq: u64, deliveries: u64, done: &mut Vec<u64>) {
        self.events.push(Event::MaxDeliveries {
            stream_seq: seq,
            deliveries,
        });
        if let Some(p) = self.pending.remove(&seq) {
            self.clear_deadline(seq);
            self.rdc.remove(&seq);
            self.rdq.remove(&seq);
            self.move_ack_floor(p.dseq, seq);
            done.push(seq);
        }
    }

    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let mut next = self.deadlines.first().map(|(at, _)| *at);
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for w in &self.waiting {
            earliest(w.expires);
            earliest(w.next_heartbeat);
        }
        if self.is_push() {
            // Subscribers come and go without waking the consumer: it looks again soon.
            earliest(self.push.next_heartbeat);
            earliest(Some(now + INTEREST_POLL));
        }
        earliest(self.hold_until);
        earliest(self.pin.as_ref().map(|p| p.until));
        earliest(self.pause_left().map(|left| now + left));
        next
    }

    /// Expires requests and sends heartbeats (`processWaiting`); at the end of the stream
    /// (`eos`), finishes no-wait requests.
    fn expire_waiting(
        &mut self,
        now: Instant,
        out: &mut Vec<Outbound>,
        eos: bool,
        has_interest: &dyn Fn(&str) -> bool,
    ) {
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        let (dseq, sseq) = (self.dseq - 1, self.sseq.saturating_sub(1));
        while let Some(mut w) = self.waiting.pop_front() {
            let expired = w.expires.is_some_and(|e| now >= e);
            if expired {
                out.push(Outbound::status(
                    &w.reply,
                    format!(
                        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                        w.n, w.b
                    ),
                ));
                continue;
            }
            if eos && w.no_wait && (w.expires.is_none() || w.d > 0) {
                out.push(Outbound::status(
                    &w.reply,
                    "NATS/1.0 404 No Messages\r\n\r\n".to_string(),
                ));
                continue;
            }
            // The requester went away (nothing subscribes to its reply subject any more):
            // dropped without an answer, as nats-server drops it.
            if !has_interest(&w.reply) {
                continue;
            }
            if let (Some(hb), Some(at)) = (w.heartbeat, w.next_heartbeat) {
                if now >= at {
                    out.push(Outbound::status(
                        &w.reply,
                        format!(
                            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {dseq}\r\nNats-Last-Stream: {sseq}\r\n\r\n"
                        ),
                    ));
                    w.next_heartbeat = Some(now + hb);
                }
            }
            kept.push_back(w);
        }
        self.waiting = kept;
    }

    /// The next message to deliver: a redelivery first, then the next new one. Returns
    /// the message and its delivery count.
    fn next_msg(
        &mut self,
        stream: &Stream,
        done: &mut Vec<u64>,
    ) -> Option<(super::store::StoredMsg, u64)> {
        while let Some(seq) = self.rdq.pop_first() {
            if !self.pending.contains_key(&seq) {
                continue;
            }
            let dc = self.rdc.get(&seq).copied().unwrap_or(1) + 1;
            if self.cfg.max_deliver > 0 && dc > self.cfg.max_deliver as u64 {
                self.give_up(seq, dc - 1, done);
                continue;
            }
            match stream.load(seq) {
                Ok(Some(m)) => {
                    self.rdc.insert(seq, dc);
                    return Some((m, dc));
                }
                _ => {
                    // Gone from the stream (deleted, purged): no longer pending.
                    if let Some(p) = self.pending.remove(&seq) {
                        self.clear_deadline(seq);
                        self.rdc.remove(&seq);
                        self.move_ack_floor(p.dseq, seq);
                    }
                    continue;
                }
            }
        }
        if self.cfg.ack_policy != AckPolicy::None
            && self.cfg.max_ack_pending > 0
            && self.pending.len() as i64 >= self.cfg.max_ack_pending
        {
            return None;
        }
        if let Some((skip, resume)) = &mut self.skip {
            while let Some(seq) = skip.pop_front() {
                if skip.is_empty() {
                    self.sseq = *resume;
                } else {
                    self.sseq = seq + 1;
                }
                if let Ok(Some(m)) = stream.load(seq) {
                    if skip.is_empty() {
                        self.skip = None;
                    }
                    return Some((m, 1));
                }
            }
            self.skip = None;
        }
        let next = if self.filters.is_empty() {
            stream.load_next(">", self.sseq).ok().flatten()
        } else {
            self.filters
                .iter()
                .filter_map(|f| stream.load_next(f, self.sseq).ok().flatten())
                .min_by_key(|m| m.seq)
        };
        let m = next?;
        self.sseq = m.seq + 1;
        Some((m, 1))
    }

    /// Queues a pull request: at the end, or for a prioritized consumer after every request
    /// of the same or a higher priority (`addPrioritized`, `insertAtPosition`).
    fn queue_request(&mut self, w: Waiting) {
        if self.cfg.priority() != Priority::Prioritized {
            self.waiting.push_back(w);
            return;
        }
        let p = w.priority();
        let at = self
            .waiting
            .iter()
            .position(|o| o.priority() > p)
            .unwrap_or(self.waiting.len());
        self.waiting.insert(at, w);
    }

    /// The request the next message goes to (`nextWaiting`): the pinned client's (a pin is
    /// given to the first request without one), and an overflow request only past its
    /// minimums; requests naming a pin that is not the current one are ended (423).
    /// `np` counts the messages still to deliver, this one included.
    fn next_waiting(&mut self, np: u64, out: &mut Vec<Outbound>) -> Option<Waiting> {
        let policy = self.cfg.priority();
        let mut cycled = 0;
        while let Some(mut w) = self.waiting.pop_front() {
            let group = w.group.clone().unwrap_or_default();
            let skip = match policy {
                Priority::PinnedClient => match &self.pin {
                    None if group.id.is_empty() => {
                        let id = random_token(22);
                        let ttl = Duration::from_nanos(self.cfg.pinned_ttl.max(0) as u64);
                        self.pin = Some(Pin {
                            id: id.clone(),
                            group: group.group.clone(),
                            ts: time::now_nanos(),
                            until: Instant::now() + ttl,
                        });
                        self.events.push(Event::Pinned {
                            group: group.group.clone(),
                            id: id.clone(),
                        });
                        if let Some(g) = &mut w.group {
                            g.id = id;
                        }
                        false
                    }
                    Some(pin) if group.id == pin.id => false,
                    Some(_) if group.id.is_empty() => true,
                    _ => {
                        out.push(Outbound::status(
                            &w.reply,
                            format!(
                                "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                                w.n, w.b
                            ),
                        ));
                        continue;
                    }
                },
                Priority::Overflow => {
                    (group.min_pending > 0 || group.min_ack_pending > 0)
                        && !((group.min_pending > 0 && group.min_pending as u64 <= np + 1)
                            || (group.min_ack_pending > 0
                                && group.min_ack_pending as usize <= self.pending.len()))
                }
                _ => false,
            };
            if skip {
                self.waiting.push_back(w);
                cycled += 1;
                if cycled >= self.waiting.len() {
                    return None;
                }
                continue;
            }
            return Some(w);
        }
        None
    }

    /// Takes the pin away (`unassignPinId`), for an advisory saying `why`.
    fn unpin(&mut self, why: &'static str) {
        if let Some(pin) = self.pin.take() {
            self.events.push(Event::Unpinned {
                group: pin.group,
                reason: why,
            });
        }
    }

    /// The pending count an ack reply carries: counted once (after `next_msg` moved on),
    /// then one less for each new message.
    fn pending_after(&self, stream: &Stream, counted: &mut Option<u64>, dc: u64) -> u64 {
        let np = match *counted {
            None => self.num_pending(stream),
            Some(p) if dc == 1 => p.saturating_sub(1),
            Some(p) => p,
        };
        *counted = Some(np);
        np
    }

    /// The delivery of `m` to `to` with the next consumer sequence (not taken yet): its
    /// headers (or the headers-only form) and its ack reply.
    fn delivery(
        &self,
        consumer: &Consumer,
        m: &super::store::StoredMsg,
        dc: u64,
        np: u64,
        to: &str,
    ) -> Outbound {
        let (headers, payload) = if self.cfg.headers_only {
            let size = m.payload.len();
            (
                Bytes::from(super::headers::append(
                    &m.headers,
                    "Nats-Msg-Size",
                    &size.to_string(),
                )),
                Bytes::new(),
            )
        } else {
            (m.headers.clone(), m.payload.clone())
        };
        let ack_reply = ack::reply_subject(
            &consumer.stream_name,
            &consumer.name,
            dc,
            m.seq,
            self.dseq,
            time::now_nanos(),
            np,
        );
        Outbound {
            to: to.to_string(),
            subject: m.subject.clone(),
            reply: Some(ack_reply),
            headers,
            payload,
        }
    }

    /// Takes the consumer sequence of a delivery of stream sequence `seq` (every delivery,
    /// redeliveries included, takes the next one) and tracks it: pending until acknowledged,
    /// or done at once without acknowledgements.
    fn delivered(&mut self, seq: u64, dc: u64, done: &mut Vec<u64>) {
        let dseq = self.dseq;
        self.dseq += 1;
        let now_ns = time::now_nanos();
        self.last_delivered = now_ns;
        self.dirty = true;
        if self.cfg.ack_policy == AckPolicy::None {
            self.adflr = dseq;
            self.asflr = seq;
            done.push(seq);
        } else {
            let first = self.pending.get(&seq).map_or(dseq, |p| p.dseq);
            self.pending.insert(
                seq,
                Pending {
                    dseq: first,
                    ts: now_ns,
                },
            );
            let at = Instant::now() + self.ack_wait_for(dc);
            self.set_deadline(seq, at);
        }
    }

    /// Serves waiting requests while there are messages for them, at most [`PASS_LIMIT`]
    /// messages; true when it stopped at the limit.
    fn deliver(
        &mut self,
        consumer: &Consumer,
        stream: &Stream,
        out: &mut Vec<Outbound>,
        done: &mut Vec<u64>,
    ) -> bool {
        let mut counted: Option<u64> = None;
        let mut sent = 0;
        while !self.waiting.is_empty() {
            if sent >= PASS_LIMIT {
                return true;
            }
            let Some((m, dc)) = self.next_msg(stream, done) else {
                self.replaying = false;
                break;
            };
            if !self.may_send(&m, dc, Instant::now()) {
                break;
            }
            let np = self.pending_after(stream, &mut counted, dc);
            let Some(mut w) = self.next_waiting(np, out) else {
                self.unget(m.seq, dc);
                break;
            };
            let mut msg = self.delivery(consumer, &m, dc, np, &w.reply);
            if let Some(pin) = &self.pin {
                msg.headers =
                    Bytes::from(super::headers::append(&msg.headers, "Nats-Pin-Id", &pin.id));
            }
            let size = msg.size() as i64;
            if w.b > 0 {
                if size <= w.b {
                    w.b -= size;
                    if w.b == 0 {
                        w.n = 1;
                    }
                } else {
                    out.push(Outbound::status(
                        &w.reply,
                        format!(
                            "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                            w.n, w.b
                        ),
                    ));
                    // The message stays for the next request.
                    self.unget(m.seq, dc);
                    if dc == 1 {
                        counted = counted.map(|p| p + 1);
                    }
                    continue;
                }
            }
            w.n -= 1;
            w.d += 1;
            if w.n > 0 {
                self.queue_request(w);
            }
            self.delivered(m.seq, dc, done);
            out.push(msg);
            sent += 1;
        }
        false
    }

    /// Whether the message `next_msg` gave may go now: a replay at the original pace waits
    /// as long as the stream waited between the two messages, and the rate limit waits for
    /// its bytes. If not, the message is put back and deliveries wait (`hold_until`).
    fn may_send(&mut self, m: &super::store::StoredMsg, dc: u64, now: Instant) -> bool {
        if self.replaying {
            if let Some((ts, sent)) = self.replay_mark {
                let delay = m.time.saturating_sub(ts);
                if delay > 1_000_000 {
                    let due = sent + Duration::from_nanos(delay as u64);
                    if now < due {
                        self.unget(m.seq, dc);
                        self.hold_until = Some(due);
                        return false;
                    }
                }
            }
        }
        if let Some(rate) = &mut self.rate {
            let size = m.subject.len() + m.headers.len() + m.payload.len();
            if let Some(wait) = rate.take(size, now) {
                self.unget(m.seq, dc);
                self.hold_until = Some(now + wait);
                return false;
            }
        }
        if self.replaying {
            self.replay_mark = Some((m.time, now));
        }
        true
    }

    /// Whether deliveries wait now: paused, or held back by [`State::may_send`].
    fn held(&mut self, now: Instant) -> bool {
        if self.pause_left().is_some() {
            return true;
        }
        match self.hold_until {
            Some(at) if now < at => true,
            _ => {
                self.hold_until = None;
                false
            }
        }
    }

    /// How long the consumer stays paused, when it is.
    fn pause_left(&self) -> Option<Duration> {
        let left = self.paused_until.saturating_sub(time::now_nanos());
        (self.paused_until > 0 && left > 0).then(|| Duration::from_nanos(left as u64))
    }

    /// Whether the deliver subject has a subscriber: one subscribed to exactly that subject
    /// (in the deliver group, when set), as nats-server's interest notifications count.
    fn deliver_interest(&self, account: &Account) -> bool {
        let subject = self.cfg.deliver_subject.as_bytes();
        let found = account.sublist.read().match_subject(subject);
        if self.cfg.deliver_group.is_empty() {
            found.psubs.iter().any(|s| &*s.subject == subject)
        } else {
            let group = self.cfg.deliver_group.as_bytes();
            found
                .qsubs
                .iter()
                .any(|q| &*q.name == group && q.members.iter().any(|s| &*s.subject == subject))
        }
    }

    /// Looks at the deliver subject's interest again when the account's subscriptions
    /// changed (`updateDeliveryInterest`).
    fn check_interest(&mut self, account: &Account, now: Instant) {
        let generation = account.generation();
        if generation == self.push.generation {
            return;
        }
        self.push.generation = generation;
        let active = self.deliver_interest(account);
        if active != self.push.active {
            self.push.active = active;
            if active {
                self.push.next_heartbeat = self.heartbeat().map(|hb| now + hb);
            } else {
                self.push.inactive_since = now;
                self.push.next_heartbeat = None;
            }
        }
    }

    fn heartbeat(&self) -> Option<Duration> {
        (self.cfg.heartbeat > 0).then(|| Duration::from_nanos(self.cfg.heartbeat as u64))
    }

    /// Delivers to the deliver subject while someone listens and flow control allows, at
    /// most [`PASS_LIMIT`] messages; true when it stopped at the limit.
    fn deliver_push(
        &mut self,
        consumer: &Consumer,
        stream: &Stream,
        out: &mut Vec<Outbound>,
        done: &mut Vec<u64>,
        now: Instant,
    ) -> bool {
        if !self.push.active {
            return false;
        }
        let to = self.cfg.deliver_subject.clone();
        let mut counted: Option<u64> = None;
        let mut sent = 0;
        while !self.push.stalled() {
            if sent >= PASS_LIMIT {
                return true;
            }
            let Some((m, dc)) = self.next_msg(stream, done) else {
                self.replaying = false;
                break;
            };
            if !self.may_send(&m, dc, now) {
                break;
            }
            let np = self.pending_after(stream, &mut counted, dc);
            let msg = self.delivery(consumer, &m, dc, np, &to);
            self.delivered(m.seq, dc, done);
            if self.push.maxpb > 0 {
                let size = (to.len()
                    + msg.reply.as_ref().map_or(0, String::len)
                    + msg.headers.len()
                    + msg.payload.len()) as i64;
                self.push.pbytes += size;
                out.push(msg);
                if let Some(fc) = self.flow_control_due(consumer, size) {
                    out.push(fc);
                }
            } else {
                out.push(msg);
            }
            sent += 1;
        }
        if sent > 0 {
            self.push.next_heartbeat = self.heartbeat().map(|hb| now + hb);
        }
        false
    }

    /// A flow control request when the bytes in flight passed half the window
    /// (`needFlowControl`, `sendFlowControl`).
    fn flow_control_due(&mut self, consumer: &Consumer, size: i64) -> Option<Outbound> {
        let push = &mut self.push;
        let need = push.fcid.is_none()
            && (push.pbytes > push.maxpb / 2
                || (self.cfg.ack_policy == AckPolicy::FlowControl
                    && self.cfg.max_ack_pending > 0
                    && self.pending.len() as i64 >= self.cfg.max_ack_pending));
        if !need {
            // An outstanding request covers what was in flight when it was sent; it grows
            // with what is delivered past a full window.
            if push.fcid.is_some() && push.pbytes - push.fcsz >= push.maxpb {
                push.fcsz += size;
            }
            return None;
        }
        Some(self.flow_control_request(consumer))
    }

    fn flow_control_request(&mut self, consumer: &Consumer) -> Outbound {
        let reply = flow_control_reply(&consumer.stream_name, &consumer.name);
        self.push.fcid = Some(reply.clone());
        self.push.fcsz = self.push.pbytes;
        let mut fc = Outbound::status(
            &self.cfg.deliver_subject,
            "NATS/1.0 100 FlowControl Request\r\n\r\n".to_string(),
        );
        fc.reply = Some(reply);
        fc
    }

    /// An idle heartbeat when nothing was delivered for the heartbeat interval, naming the
    /// flow control request the consumer waits for, if any (`sendIdleHeartbeat`).
    fn push_heartbeat(&mut self, consumer: &Consumer, now: Instant, out: &mut Vec<Outbound>) {
        let (Some(hb), Some(at)) = (self.heartbeat(), self.push.next_heartbeat) else {
            return;
        };
        if !self.push.active || now < at {
            return;
        }
        let (dseq, sseq) = (self.dseq - 1, self.sseq.saturating_sub(1));
        let stalled = match &self.push.fcid {
            Some(fc) => format!("Nats-Consumer-Stalled: {fc}\r\n"),
            None => String::new(),
        };
        out.push(Outbound::status(
            &self.cfg.deliver_subject,
            format!(
                "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {dseq}\r\nNats-Last-Stream: {sseq}\r\n{stalled}\r\n"
            ),
        ));
        // With acknowledgements by flow control, the end of the stream asks for one too.
        if self.cfg.ack_policy == AckPolicy::FlowControl
            && !self.pending.is_empty()
            && self.push.fcid.is_none()
        {
            out.push(self.flow_control_request(consumer));
        }
        self.push.next_heartbeat = Some(now + hb);
    }

    /// Puts back a message `next_msg` took but could not deliver.
    fn unget(&mut self, seq: u64, dc: u64) {
        if dc > 1 {
            self.rdq.insert(seq);
            if dc == 2 {
                self.rdc.remove(&seq);
            } else {
                self.rdc.insert(seq, dc - 1);
            }
        } else if self.skip.is_some() || seq < self.sseq {
            match &mut self.skip {
                Some((skip, _)) => {
                    skip.push_front(seq);
                    self.sseq = seq;
                }
                None => self.sseq = seq,
            }
        }
    }

    /// Moves the ack floor after `dseq`/`sseq` was finished (`moveAckFloor`-like).
    fn move_ack_floor(&mut self, _dseq: u64, _sseq: u64) {
        match self.pending.first_key_value() {
            None => {
                self.adflr = self.dseq - 1;
                self.asflr = self.sseq.saturating_sub(1);
            }
            Some((&seq, p)) => {
                self.adflr = p.dseq.saturating_sub(1).max(self.adflr);
                self.asflr = seq.saturating_sub(1).max(self.asflr);
            }
        }
        self.dirty = true;
    }

    /// An acknowledgement; false when it acknowledged nothing (already done or unknown).
    fn ack(&mut self, sseq: u64, dseq: u64, done: &mut Vec<u64>) -> bool {
        match self.cfg.ack_policy {
            AckPolicy::None => false,
            AckPolicy::All | AckPolicy::FlowControl => {
                let seqs: Vec<u64> = self.pending.range(..=sseq).map(|(s, _)| *s).collect();
                if seqs.is_empty() && dseq <= self.adflr {
                    return false;
                }
                for s in seqs {
                    self.pending.remove(&s);
                    self.clear_deadline(s);
                    self.rdc.remove(&s);
                    self.rdq.remove(&s);
                    done.push(s);
                }
                self.last_ack = time::now_nanos();
                if self.pending.is_empty() {
                    self.adflr = self.dseq - 1;
                    self.asflr = self.sseq.saturating_sub(1);
                } else {
                    self.adflr = self.adflr.max(dseq);
                    self.asflr = self.asflr.max(sseq);
                    self.move_ack_floor(dseq, sseq);
                }
                self.dirty = true;
                true
            }
            AckPolicy::Explicit => {
                let Some(p) = self.pending.remove(&sseq) else {
                    return false;
                };
                if self.should_sample() {
                    self.events.push(Event::AckSampled {
                        delivered: Delivered {
                            consumer_seq: dseq,
                            stream_seq: sseq,
                            deliveries: self.rdc.get(&sseq).copied().unwrap_or(1),
                        },
                        ack_time: time::now_nanos() - p.ts,
                    });
                }
                self.clear_deadline(sseq);
                self.rdc.remove(&sseq);
                self.rdq.remove(&sseq);
                self.last_ack = time::now_nanos();
                done.push(sseq);
                self.move_ack_floor(p.dseq, sseq);
                true
            }
        }
    }

    /// Whether to report this acknowledgement (`sample_freq`, a percentage).
    fn should_sample(&self) -> bool {
        if self.cfg.sample_frequency.is_empty() {
            return false;
        }
        let freq = self
            .cfg
            .sample_frequency
            .trim_end_matches('%')
            .parse::<i64>()
            .unwrap_or(0);
        match freq {
            f if f <= 0 => false,
            f if f >= 100 => true,
            f => (fastrand::i64(0..100)) <= f,
        }
    }

    fn nak(&mut self, info: &ack::AckInfo<'_>, delay: Option<i64>) {
        let (sseq, dseq) = (info.stream_seq, info.consumer_seq);
        if dseq <= self.adflr || dseq >= self.dseq || !self.pending.contains_key(&sseq) {
            return;
        }
        self.events.push(Event::Nak(Delivered {
            consumer_seq: dseq,
            stream_seq: sseq,
            deliveries: info.delivered,
        }));
        match delay {
            Some(d) => {
                self.rdq.remove(&sseq);
                self.set_deadline(sseq, Instant::now() + Duration::from_nanos(d as u64));
            }
            None => {
                self.clear_deadline(sseq);
                self.rdq.insert(sseq);
            }
        }
    }

    fn progress(&mut self, sseq: u64) {
        if let Some(p) = self.pending.get_mut(&sseq) {
            p.ts = time::now_nanos();
            let dc = self.rdc.get(&sseq).copied().unwrap_or(1);
            let at = Instant::now() + self.ack_wait_for(dc);
            self.set_deadline(sseq, at);
            self.dirty = true;
        }
    }

    fn term(&mut self, info: &ack::AckInfo<'_>, reason: &str, done: &mut Vec<u64>) -> bool {
        let sseq = info.stream_seq;
        let Some(p) = self.pending.remove(&sseq) else {
            return false;
        };
        self.events.push(Event::Terminated(
            Delivered {
                consumer_seq: info.consumer_seq,
                stream_seq: sseq,
                deliveries: info.delivered,
            },
            reason.trim().to_string(),
        ));
        self.clear_deadline(sseq);
        self.rdc.remove(&sseq);
        self.rdq.remove(&sseq);
        done.push(sseq);
        self.move_ack_floor(p.dseq, sseq);
        true
    }
}

/// Removes an idle consumer: `(stream, consumer)`.
pub type IdleHook = Arc<dyn Fn(&str, &str) + Send + Sync>;
/// Reports what a consumer went through (advisories).
pub type EventHook = Arc<dyn Fn(&Consumer, &[Event]) + Send + Sync>;

/// What the consumer's task needs to publish and to remove what nobody needs any more.
pub struct Runner {
    pub server: Weak<Server>,
    pub account: Arc<Account>,
    pub stream: Weak<Stream>,
    pub consumer: Weak<Consumer>,
    /// Called (with the stream's and the consumer's names) when the consumer has been idle
    /// past its inactive threshold, to remove it.
    pub on_idle: IdleHook,
    pub on_events: EventHook,
}

/// The consumer's task: runs until the consumer is stopped or dropped.
pub async fn run(r: Runner) {
    let Some(mut appends) = r.stream.upgrade().map(|s| s.watch_appends()) else {
        return;
    };
    let mut last_write = Instant::now()
        .checked_sub(STATE_WRITE_INTERVAL)
        .unwrap_or_else(Instant::now);
    loop {
        let (Some(consumer), Some(stream), Some(server)) =
            (r.consumer.upgrade(), r.stream.upgrade(), r.server.upgrade())
        else {
            return;
        };
        if consumer.is_stopped() {
            consumer.flush();
            return;
        }
        let Pass {
            out,
            done,
            mut next,
            more,
            events,
        } = consumer.pass(&stream, &r.account);
        if !events.is_empty() {
            (r.on_events)(&consumer, &events);
        }
        publish_all(&server, &r.account, out);
        if !done.is_empty() {
            stream.remove_unneeded(&done);
        }
        // The state file is written at most every STATE_WRITE_INTERVAL: under a stream of
        // acknowledgements it is rewritten a few times a second, not once per ack.
        if consumer.dir.is_some() && consumer.is_dirty() {
            let due = last_write + STATE_WRITE_INTERVAL;
            let now = Instant::now();
            if now >= due {
                last_write = now;
                if let (Some(dir), Some(saved)) = (&consumer.dir, consumer.take_dirty()) {
                    let result = state::write_state(dir, &saved, false);
                    if let Err(e) = result.filter_err(|_| !consumer.is_stopped()) {
                        log_warn!(
                            "Consumer '{} > {}' could not write its state: {}",
                            consumer.stream_name,
                            consumer.name,
                            e
                        );
                    }
                }
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        if let Some(idle) = consumer.idle_expired() {
            if Instant::now() >= idle {
                (r.on_idle)(&consumer.stream_name, &consumer.name);
                return;
            }
            next = Some(next.map_or(idle, |n| n.min(idle)));
        }
        let wake = Arc::clone(&consumer);
        drop((consumer, stream, server));
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        let notified = wake.wake.notified();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = notified => {}
            changed = appends.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_bodies_read_as_nats_server_reads_them() {
        assert_eq!(parse_next_request(b"").unwrap().batch, 1);
        assert_eq!(parse_next_request(b" 10 ").unwrap().batch, 10);
        let r = parse_next_request(
            br#"{"batch":5,"expires":2000000000,"no_wait":true,"max_bytes":100,"idle_heartbeat":500000000}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            NextRequest {
                batch: 5,
                expires: 2_000_000_000,
                max_bytes: 100,
                no_wait: true,
                heartbeat: 500_000_000,
                group: Some(GroupRequest::default()),
            }
        );
        assert_eq!(
            parse_next_request(br#"{"batch":1,"idle_heartbeat":1000000000,"expires":1000000000}"#)
                .unwrap_err(),
            "heartbeat value too large"
        );
    }
}
