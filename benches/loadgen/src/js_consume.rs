//! JetStream consumer scenarios: reading a stream back through pull and push consumers, and
//! a KV bucket's puts and direct gets. Every run checks what it read; a run that loses,
//! duplicates or reorders a message (where the scenario promises order) fails.
//!
//! The stream scenarios first delete and re-create the stream `BENCH` (subjects `js.>`, file
//! storage) and fill it with --msgs messages of --size bytes on `js.bench` by the
//! asynchronous publish of `js-async-*` (every PubAck checked). That fill is not timed. Then:
//!
//! - `js-pull-100`, `js-pull-1000`: a durable pull consumer `PULL` (ack explicit, deliver
//!   all, max_ack_pending 20,000). The reader sends `$JS.API.CONSUMER.MSG.NEXT.BENCH.PULL`
//!   requests `{"batch":B,"expires":<--timeout>}` from `_INBOX.x.pull<k>`, and asks for the
//!   next batch once half of what it asked for has arrived (as clients' consume loops do),
//!   so at most 1.5 batches are outstanding. It acks every message with an empty publish to
//!   its reply subject, in the same write as the reads' other answers. Rate: acked
//!   messages a second, from the first request to the write of the last ack. Checks: every
//!   delivery's reply is a `$JS.ACK.BENCH.PULL.<delivered>.<stream seq>.<consumer seq>.<ts>.
//!   <pending>` subject (or the v2 layout with domain and account hash), its payload has
//!   --size bytes, every stream sequence 1..N is delivered, a sequence delivered again is
//!   marked delivered > 1 (at least once; otherwise a duplicate, which fails the run); then
//!   the consumer's info must show num_ack_pending 0 and ack_floor.stream_seq N (polled
//!   for up to --timeout while the last acks land).
//! - `js-pull-verify-1m` (not in compare.sh's default list): the same with batch 1,000 over
//!   1,000,000 messages (unless --msgs), reporting redeliveries.
//! - `js-push-fc`: a durable push consumer `PUSHFC` with deliver_subject `_DELIVER.bench`
//!   (subscribed first), flow_control, idle_heartbeat 1 s, ack none. The reader answers each
//!   `100 FlowControl Request` (an HMSG with a `$JS.FC.` reply) with an empty publish to its
//!   reply, and a heartbeat's `Nats-Consumer-Stalled` subject likewise. Rate: messages a
//!   second from the create request to the N-th message. Checks: each stream sequence
//!   1..N exactly once, delivered 1; consumer info then shows delivered.stream_seq N.
//! - `js-ordered-1m`: an ordered consumer's replay (as nats.go's ordered consumer creates
//!   it: push, ack none, flow control, heartbeats 5 s, mem_storage, one replica, max_deliver
//!   1, deliver all, inactive_threshold 5 min) of 1,000,000 messages (unless --msgs). Checks:
//!   stream sequences arrive exactly in order 1..N and consumer sequences 1..N, with no gap
//!   or duplicate; the first wrong one fails the run at once.
//!
//! Every wait is bounded: a run fails when nothing new arrives for --timeout ("stalled"),
//! or when the whole read takes longer than 3 * --timeout + N / 5,000 s.
//!
//! KV, bucket `bench` (stream `KV_bench`, created as nats.go's `CreateKeyValue` does:
//! subjects `$KV.bench.>`, max_msgs_per_subject 1, discard new, allow_direct, allow_rollup_hdrs,
//! deny_delete, duplicate window 2 min, file storage):
//!
//! - `js-kv-put`: puts of --size bytes to `$KV.bench.k<i % 1000>`, each with a reply and a
//!   checked PubAck (stream KV_bench, seq = previous + 1), at most --window outstanding for
//!   --seconds (ops/s = msgs_per_sec); then one at a time for --seconds / 2 (p50/p99 us,
//!   sync_ops_per_sec). The bucket must then hold 1,000 keys (or as many as were put).
//! - `js-kv-get`: the 1,000 keys put first (untimed), then direct gets
//!   `$JS.API.DIRECT.GET.KV_bench.$KV.bench.k<i % 1000>` with --window outstanding for
//!   --seconds (ops/s), then one at a time for --seconds / 2 (p50/p99). Each answer must be
//!   an HMSG without a status, with `Nats-Subject: $KV.bench.k<i>` and a --size byte value.

use crate::js::{
    create_stream_with, parse_u64, run_async, run_sync, Check, Frame, JsConn, PubSpec, RunResult,
    INBOX, STREAM, SUBJECT,
};
use crate::{round3, Opts, SeqSet};
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DELIVER: &str = "_DELIVER.bench";
const KV_BUCKET: &str = "bench";
const KV_KEYS: u64 = 1000;
/// Failures whose text is kept for the message.
const KEEP_ERRORS: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pull { batch: u64 },
    PushFc,
    Ordered,
}

pub fn scenario(o: &Opts) -> Result<Value> {
    let (kind, default_msgs) = match o.scenario.as_str() {
        "js-pull-100" => (Kind::Pull { batch: 100 }, 200_000),
        "js-pull-1000" => (Kind::Pull { batch: 1000 }, 200_000),
        "js-pull-verify-1m" => (Kind::Pull { batch: 1000 }, 1_000_000),
        "js-push-fc" => (Kind::PushFc, 200_000),
        "js-ordered-1m" => (Kind::Ordered, 1_000_000),
        "js-kv-put" => return kv_put(o),
        "js-kv-get" => return kv_get(o),
        other => bail!("unknown JetStream consumer scenario {other:?}"),
    };
    let n = o.msgs.unwrap_or(default_msgs);
    if n == 0 {
        bail!("--msgs must be at least 1");
    }
    let c = JsConn::open(o, "consumer")?;
    let (c, prefill) = fill_stream(o, c, n)?;
    let (c, read) = match kind {
        Kind::Pull { batch } => pull(o, c, n, batch)?,
        Kind::PushFc | Kind::Ordered => push(o, c, n, kind == Kind::Ordered)?,
    };
    let mut c = c;
    let info = verify_consumer(o, &mut c, kind, &read.consumer, n)?;
    let rate = n as f64 / read.seconds;
    let mut out = json!({
        "scenario": o.scenario,
        "label": o.label,
        "size": o.size,
        "msgs": n,
        "seconds": round3(read.seconds),
        "msgs_per_sec": rate.round(),
        "bytes_per_sec": (rate * o.size as f64).round(),
        "deliveries": read.deliveries,
        "redelivered": read.redelivered,
        "prefill_seconds": round3(prefill),
        "consumer_info": info,
    });
    match kind {
        Kind::Pull { batch } => {
            out["batch"] = json!(batch);
            out["acks"] = json!(read.acks);
            out["pull_requests"] = json!(read.requests);
            out["statuses"] = json!(read.statuses);
        }
        Kind::PushFc | Kind::Ordered => {
            out["flow_control_answered"] = json!(read.fc);
            out["heartbeats"] = json!(read.heartbeats);
        }
    }
    Ok(out)
}

/// Re-creates `BENCH` empty and publishes `n` messages to it; the fill's seconds.
fn fill_stream(o: &Opts, mut c: JsConn, n: u64) -> Result<(JsConn, f64)> {
    // A stream left by an earlier run against the same server would be replayed too.
    let _ = c.request(&format!("$JS.API.STREAM.DELETE.{STREAM}"), b"", o.timeout)?;
    let cfg = json!({"name": STREAM, "subjects": ["js.>"], "storage": "file"});
    let created = create_stream_with(&mut c, o, STREAM, &cfg)?;
    let base = created["state"]["last_seq"].as_u64().unwrap_or(0);
    if base != 0 {
        bail!("stream {STREAM} was not empty after re-creating it: {created}");
    }
    let payload = vec![b'x'; o.size];
    let subjects = [SUBJECT.to_string()];
    let spec = PubSpec {
        subjects: &subjects,
        payload: &payload,
        check: Check::PubAck { stream: STREAM },
        limit: Some(n),
        seconds: fill_bound(o, n),
    };
    let (mut c, run) = run_async(o, c, 0, &spec).map_err(|e| anyhow!("filling: {e:#}"))?;
    run.ensure_clean("fill ack")?;
    let info = c.api(
        &format!("$JS.API.STREAM.INFO.{STREAM}"),
        b"",
        o.timeout,
        "stream info",
    )?;
    if info["state"]["messages"].as_u64() != Some(n)
        || info["state"]["last_seq"].as_u64() != Some(n)
    {
        bail!(
            "after the fill the stream's state is {}, {n} messages expected",
            info["state"]
        );
    }
    Ok((c, run.seconds))
}

/// The bound on publishing `n` messages (at 10,000 a second at least).
fn fill_bound(o: &Opts, n: u64) -> f64 {
    3.0 * o.timeout.as_secs_f64() + n as f64 / 10_000.0
}

/// The bound on reading `n` messages (at 5,000 a second at least).
fn read_bound(o: &Opts, n: u64) -> Duration {
    o.timeout * 3 + Duration::from_secs_f64(n as f64 / 5_000.0)
}

// ---------------------------------------------------------------------------------------
// What was read.

/// The metadata of a delivery, from its `$JS.ACK` reply subject.
#[derive(Debug, PartialEq, Eq)]
struct AckMeta<'a> {
    stream: &'a [u8],
    consumer: &'a [u8],
    delivered: u64,
    stream_seq: u64,
    consumer_seq: u64,
    pending: u64,
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or the v2 layout
/// `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.
/// <pending>[.<token>]`.
fn parse_ack(reply: &[u8]) -> Option<AckMeta<'_>> {
    let rest = reply.strip_prefix(b"$JS.ACK.")?;
    let mut t: [&[u8]; 10] = [b""; 10];
    let mut n = 0;
    for part in rest.split(|&b| b == b'.') {
        if n == t.len() {
            return None;
        }
        t[n] = part;
        n += 1;
    }
    let at = match n {
        7 => 0,
        9 | 10 => 2,
        _ => return None,
    };
    Some(AckMeta {
        stream: t[at],
        consumer: t[at + 1],
        delivered: parse_u64(t[at + 2])?,
        stream_seq: parse_u64(t[at + 3])?,
        consumer_seq: parse_u64(t[at + 4])?,
        pending: parse_u64(t[at + 6])?,
    })
}

/// The status code of a header block (`NATS/1.0 408 Request Timeout`), 0 if none.
fn status_code(headers: &[u8]) -> u32 {
    let line = headers.split(|&b| b == b'\n').next().unwrap_or(b"");
    let text = String::from_utf8_lossy(line);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The value of header `name` (case-insensitive), if there.
fn header<'a>(headers: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(headers).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The checks of the deliveries.
struct Tally {
    n: u64,
    size: usize,
    /// Ordered: every delivery must be the next stream and consumer sequence.
    ordered: bool,
    /// Whether a delivery must be marked delivered 1 and come once (ack none).
    once: bool,
    seen: SeqSet,
    distinct: u64,
    deliveries: u64,
    redelivered: u64,
    /// Consumer name from the first delivery.
    consumer: Vec<u8>,
    errors: u64,
    first_errors: Vec<String>,
}

impl Tally {
    fn new(n: u64, size: usize, ordered: bool, once: bool) -> Tally {
        Tally {
            n,
            size,
            ordered,
            once,
            seen: SeqSet::default(),
            distinct: 0,
            deliveries: 0,
            redelivered: 0,
            consumer: Vec::new(),
            errors: 0,
            first_errors: Vec::new(),
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_errors.len() < KEEP_ERRORS {
            self.first_errors.push(e);
        }
    }

    /// Takes one delivery; false if it is not one (no `$JS.ACK` reply).
    fn take(&mut self, reply: &[u8], payload: &[u8]) -> bool {
        let Some(m) = parse_ack(reply) else {
            return false;
        };
        self.deliveries += 1;
        if m.stream != STREAM.as_bytes() {
            self.error(format!(
                "delivery from stream {:?}",
                String::from_utf8_lossy(m.stream)
            ));
            return true;
        }
        if self.consumer.is_empty() {
            self.consumer = m.consumer.to_vec();
        }
        if payload.len() != self.size {
            self.error(format!(
                "stream seq {}: {} bytes, {} expected",
                m.stream_seq,
                payload.len(),
                self.size
            ));
        }
        if m.stream_seq == 0 || m.stream_seq > self.n {
            self.error(format!("stream seq {} of {}", m.stream_seq, self.n));
            return true;
        }
        if self.ordered {
            let want = self.distinct + 1;
            if m.stream_seq != want || m.consumer_seq != want {
                self.error(format!(
                    "out of order: stream seq {} consumer seq {} where {want} was next",
                    m.stream_seq, m.consumer_seq
                ));
            }
        }
        if m.delivered > 1 {
            self.redelivered += 1;
            if self.once {
                self.error(format!(
                    "stream seq {} delivered {} times (ack none)",
                    m.stream_seq, m.delivered
                ));
            }
        }
        let dups = self.seen.dups;
        self.seen.insert(m.stream_seq);
        if self.seen.dups == dups {
            self.distinct += 1;
        } else if m.delivered <= 1 {
            self.error(format!(
                "stream seq {} delivered again, marked delivered {}",
                m.stream_seq, m.delivered
            ));
        }
        true
    }

    /// Fails on any error, listing the first.
    fn check(&self) -> Result<()> {
        if self.errors > 0 {
            bail!(
                "{} bad deliveries in {}; first: {}",
                self.errors,
                self.deliveries,
                self.first_errors.join("; ")
            );
        }
        Ok(())
    }

    /// The stream sequences not delivered (the first few) and how many.
    fn missing(&self) -> (Vec<u64>, u64) {
        let mut first = Vec::new();
        let mut count = 0;
        for seq in 1..=self.n {
            let (w, b) = ((seq / 64) as usize, seq % 64);
            let got = self.seen.words.get(w).is_some_and(|x| x & (1 << b) != 0);
            if !got {
                count += 1;
                if first.len() < 10 {
                    first.push(seq);
                }
            }
        }
        (first, count)
    }
}

struct ReadResult {
    seconds: f64,
    deliveries: u64,
    redelivered: u64,
    acks: u64,
    requests: u64,
    statuses: Value,
    fc: u64,
    heartbeats: u64,
    consumer: String,
}

/// `PUB <subject> [<reply>] <len>\r\n<body>\r\n` appended to `out`.
fn push_msg(out: &mut Vec<u8>, subject: &[u8], reply: &[u8], body: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    if !reply.is_empty() {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// A stall and a bound on the whole read: what to say when either is hit.
struct Watch {
    start: Instant,
    last_progress: Instant,
    progress: u64,
    bound: Duration,
    stall: Duration,
}

impl Watch {
    fn new(o: &Opts, n: u64) -> Watch {
        let now = Instant::now();
        Watch {
            start: now,
            last_progress: now,
            progress: 0,
            bound: read_bound(o, n),
            stall: o.timeout,
        }
    }

    fn check(&mut self, progress: u64, what: impl Fn() -> String) -> Result<()> {
        let now = Instant::now();
        if progress != self.progress {
            self.progress = progress;
            self.last_progress = now;
        }
        if now.duration_since(self.last_progress) > self.stall {
            bail!(
                "stalled: nothing new for {:?} after {:.1} s; {}",
                self.stall,
                now.duration_since(self.start).as_secs_f64(),
                what()
            );
        }
        if now.duration_since(self.start) > self.bound {
            bail!(
                "not done within {:.0} s (3 * --timeout + N / 5,000 s); {}",
                self.bound.as_secs_f64(),
                what()
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Pull.

fn pull(o: &Opts, mut c: JsConn, n: u64, batch: u64) -> Result<(JsConn, ReadResult)> {
    let cfg = json!({
        "stream_name": STREAM,
        "config": {
            "name": "PULL",
            "durable_name": "PULL",
            "ack_policy": "explicit",
            "deliver_policy": "all",
            "max_ack_pending": 20_000,
        },
    })
    .to_string();
    c.api(
        &format!("$JS.API.CONSUMER.CREATE.{STREAM}.PULL"),
        cfg.as_bytes(),
        o.timeout,
        "pull consumer create",
    )?;
    let expires = u64::try_from(o.timeout.as_nanos()).unwrap_or(u64::MAX);
    let body = format!("{{\"batch\":{batch},\"expires\":{expires}}}");
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.PULL");
    let pull_prefix = format!("{INBOX}.pull");
    let mut tally = Tally::new(n, o.size, false, false);
    let mut acks = 0u64;
    let mut requests = 0u64;
    // Messages asked for and not yet delivered (as far as we know).
    let mut outstanding = 0u64;
    let mut statuses: std::collections::BTreeMap<u32, u64> = Default::default();
    let mut last_status = String::new();
    let mut out = Vec::with_capacity(256 * 1024);
    c.s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut watch = Watch::new(o, n);
    let mut end = None;
    let request = |out: &mut Vec<u8>, requests: &mut u64, outstanding: &mut u64| {
        *requests += 1;
        let reply = format!("{pull_prefix}{requests}");
        push_msg(out, next.as_bytes(), reply.as_bytes(), body.as_bytes());
        *outstanding += batch;
    };
    request(&mut out, &mut requests, &mut outstanding);
    c.write(&out)?;
    out.clear();
    while end.is_none() {
        c.fill()?;
        let mut pings = 0;
        while let Some(f) = c.rx.next_frame()? {
            match f {
                Frame::Msg {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    if tally.take(reply, payload) {
                        outstanding = outstanding.saturating_sub(1);
                        push_msg(&mut out, reply, b"", b"");
                        acks += 1;
                    } else if subject.starts_with(pull_prefix.as_bytes()) {
                        // A pull request's status: 408 expired, 409 (e.g. max ack pending),
                        // 404 no messages, 100 heartbeat.
                        let code = status_code(headers);
                        *statuses.entry(code).or_default() += 1;
                        last_status = String::from_utf8_lossy(headers)
                            .trim()
                            .replace("\r\n", "; ");
                        match code {
                            100 => {}
                            404 | 408 | 409 => {
                                let left = header(headers, "Nats-Pending-Messages")
                                    .and_then(|v| v.parse().ok())
                                    .unwrap_or(batch);
                                outstanding = outstanding.saturating_sub(left);
                                if code == 409 && !last_status.contains("Exceeded") {
                                    bail!("pull request refused: {last_status}");
                                }
                            }
                            _ => bail!("pull request answered with {last_status:?}"),
                        }
                    } else {
                        bail!(
                            "unexpected message on {} (reply {:?}, headers {:?})",
                            String::from_utf8_lossy(subject),
                            String::from_utf8_lossy(reply),
                            String::from_utf8_lossy(headers).trim()
                        );
                    }
                }
                Frame::Ping => pings += 1,
                _ => {}
            }
        }
        for _ in 0..pings {
            out.extend_from_slice(b"PONG\r\n");
        }
        tally.check()?;
        if tally.distinct >= n {
            end = Some(Instant::now());
        } else {
            while outstanding <= batch / 2 {
                request(&mut out, &mut requests, &mut outstanding);
            }
        }
        if !out.is_empty() {
            c.write(&out)?;
            out.clear();
        }
        if end.is_none() {
            watch.check(tally.deliveries, || {
                let (first, count) = tally.missing();
                format!(
                    "{} of {n} stream sequences delivered ({count} missing, first {first:?}), \
                     {acks} acked, {requests} pull requests, ~{outstanding} outstanding, \
                     statuses {statuses:?}, last {last_status:?}",
                    tally.distinct
                )
            })?;
        }
    }
    let seconds = end.map_or(0.0, |e| e.duration_since(watch.start).as_secs_f64());
    c.s.set_read_timeout(Some(o.timeout))?;
    Ok((
        c,
        ReadResult {
            seconds,
            deliveries: tally.deliveries,
            redelivered: tally.redelivered,
            acks,
            requests,
            statuses: json!(statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<std::collections::BTreeMap<_, _>>()),
            fc: 0,
            heartbeats: 0,
            consumer: "PULL".into(),
        },
    ))
}

// ---------------------------------------------------------------------------------------
// Push with flow control (and the ordered consumer's replay).

fn push(o: &Opts, mut c: JsConn, n: u64, ordered: bool) -> Result<(JsConn, ReadResult)> {
    let (name, config) = if ordered {
        // As nats.go's ordered consumer: its name is a random one; ours is fixed.
        (
            "ORDERED",
            json!({
                "name": "ORDERED",
                "deliver_subject": DELIVER,
                "deliver_policy": "all",
                "ack_policy": "none",
                "max_deliver": 1,
                "flow_control": true,
                "idle_heartbeat": 5_000_000_000u64,
                "mem_storage": true,
                "num_replicas": 1,
                "inactive_threshold": 300_000_000_000u64,
            }),
        )
    } else {
        (
            "PUSHFC",
            json!({
                "name": "PUSHFC",
                "durable_name": "PUSHFC",
                "deliver_subject": DELIVER,
                "deliver_policy": "all",
                "ack_policy": "none",
                "flow_control": true,
                "idle_heartbeat": 1_000_000_000u64,
            }),
        )
    };
    let body = json!({"stream_name": STREAM, "config": config}).to_string();
    let create_reply = format!("{INBOX}.create");
    let mut out = Vec::with_capacity(64 * 1024);
    // The subscription first: the server delivers only where there is interest, and
    // processes this connection's frames in order.
    out.extend_from_slice(format!("SUB {DELIVER} 2\r\n").as_bytes());
    push_msg(
        &mut out,
        format!("$JS.API.CONSUMER.CREATE.{STREAM}.{name}").as_bytes(),
        create_reply.as_bytes(),
        body.as_bytes(),
    );
    let mut tally = Tally::new(n, o.size, ordered, true);
    let (mut fc, mut heartbeats) = (0u64, 0u64);
    let mut created = false;
    c.s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut watch = Watch::new(o, n);
    c.write(&out)?;
    out.clear();
    let mut end = None;
    while end.is_none() {
        c.fill()?;
        let mut pings = 0;
        while let Some(f) = c.rx.next_frame()? {
            match f {
                Frame::Msg {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    if tally.take(reply, payload) {
                        if ordered && tally.errors > 0 {
                            // The first gap or repeat ends an ordered replay.
                            tally.check()?;
                        }
                    } else if reply.starts_with(b"$JS.FC.") {
                        fc += 1;
                        push_msg(&mut out, reply, b"", b"");
                    } else if subject == DELIVER.as_bytes() {
                        let code = status_code(headers);
                        if code != 100 {
                            bail!(
                                "status on the deliver subject: {:?}",
                                String::from_utf8_lossy(headers).trim()
                            );
                        }
                        heartbeats += 1;
                        // A heartbeat names a flow control request not yet answered.
                        if let Some(s) = header(headers, "Nats-Consumer-Stalled") {
                            push_msg(&mut out, s.as_bytes(), b"", b"");
                        }
                    } else if subject == create_reply.as_bytes() {
                        let v: Value = serde_json::from_slice(payload).map_err(|e| {
                            anyhow!(
                                "consumer create: reply is not JSON ({e}): {}",
                                String::from_utf8_lossy(payload)
                            )
                        })?;
                        if !v["error"].is_null() {
                            bail!("consumer create refused: {}", v["error"]);
                        }
                        created = true;
                    } else {
                        bail!(
                            "unexpected message on {} (reply {:?}, headers {:?})",
                            String::from_utf8_lossy(subject),
                            String::from_utf8_lossy(reply),
                            String::from_utf8_lossy(headers).trim()
                        );
                    }
                }
                Frame::Ping => pings += 1,
                _ => {}
            }
        }
        for _ in 0..pings {
            out.extend_from_slice(b"PONG\r\n");
        }
        tally.check()?;
        if tally.distinct >= n {
            end = Some(Instant::now());
        }
        if !out.is_empty() {
            c.write(&out)?;
            out.clear();
        }
        if end.is_none() {
            watch.check(tally.deliveries, || {
                let (first, count) = tally.missing();
                format!(
                    "{} of {n} delivered ({count} missing, first {first:?}), consumer create \
                     {}, {fc} flow control requests answered, {heartbeats} heartbeats",
                    tally.distinct,
                    if created { "answered" } else { "not answered" }
                )
            })?;
        }
    }
    let seconds = end.map_or(0.0, |e| e.duration_since(watch.start).as_secs_f64());
    // The create reply may come after the messages; wait for it (a bounded wait).
    let deadline = Instant::now() + o.timeout;
    while !created {
        if Instant::now() > deadline {
            bail!("all {n} messages came but no answer to the consumer create");
        }
        c.fill()?;
        while let Some(f) = c.rx.next_frame()? {
            if let Frame::Msg {
                subject, payload, ..
            } = f
            {
                if subject == create_reply.as_bytes() {
                    let v: Value = serde_json::from_slice(payload)?;
                    if !v["error"].is_null() {
                        bail!("consumer create refused: {}", v["error"]);
                    }
                    created = true;
                }
            }
        }
    }
    c.s.set_read_timeout(Some(o.timeout))?;
    Ok((
        c,
        ReadResult {
            seconds,
            deliveries: tally.deliveries,
            redelivered: tally.redelivered,
            acks: 0,
            requests: 0,
            statuses: Value::Null,
            fc,
            heartbeats,
            consumer: name.into(),
        },
    ))
}

/// The consumer's state after the read: everything acknowledged (pull) or delivered (push).
/// Polled for up to --timeout while the last acks land. Returns the fields checked.
fn verify_consumer(o: &Opts, c: &mut JsConn, kind: Kind, name: &str, n: u64) -> Result<Value> {
    let deadline = Instant::now() + o.timeout;
    let subject = format!("$JS.API.CONSUMER.INFO.{STREAM}.{name}");
    loop {
        let info = c.api(&subject, b"", o.timeout, "consumer info")?;
        let ack_pending = info["num_ack_pending"].as_u64();
        let ack_floor = info["ack_floor"]["stream_seq"].as_u64();
        let delivered = info["delivered"]["stream_seq"].as_u64();
        let pending = info["num_pending"].as_u64();
        let ok = match kind {
            Kind::Pull { .. } => ack_pending == Some(0) && ack_floor == Some(n),
            Kind::PushFc | Kind::Ordered => delivered == Some(n) && pending == Some(0),
        };
        let shown = json!({
            "num_ack_pending": ack_pending,
            "ack_floor_stream_seq": ack_floor,
            "delivered_stream_seq": delivered,
            "num_pending": pending,
            "num_redelivered": info["num_redelivered"],
        });
        if ok {
            return Ok(shown);
        }
        if Instant::now() > deadline {
            bail!(
                "consumer info after the read: {shown}; expected {} (last seq {n})",
                match kind {
                    Kind::Pull { .. } => "num_ack_pending 0 and ack_floor.stream_seq = last seq",
                    _ => "delivered.stream_seq = last seq and num_pending 0",
                }
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// KV.

fn kv_stream() -> String {
    format!("KV_{KV_BUCKET}")
}

/// Re-creates the bucket's stream, configured as nats.go's `CreateKeyValue` does (history 1,
/// no TTL).
fn kv_create(o: &Opts, c: &mut JsConn) -> Result<()> {
    let stream = kv_stream();
    let _ = c.request(&format!("$JS.API.STREAM.DELETE.{stream}"), b"", o.timeout)?;
    let cfg = json!({
        "name": stream,
        "subjects": [format!("$KV.{KV_BUCKET}.>")],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs_per_subject": 1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msg_size": -1,
        "storage": "file",
        "discard": "new",
        "num_replicas": 1,
        "duplicate_window": 120_000_000_000u64,
        "deny_delete": true,
        "deny_purge": false,
        "allow_rollup_hdrs": true,
        "allow_direct": true,
        "mirror_direct": false,
    });
    let created = create_stream_with(c, o, &stream, &cfg)?;
    if created["state"]["last_seq"].as_u64().unwrap_or(0) != 0 {
        bail!("stream {stream} was not empty after re-creating it");
    }
    Ok(())
}

fn kv_keys() -> Vec<String> {
    (0..KV_KEYS)
        .map(|i| format!("$KV.{KV_BUCKET}.k{i}"))
        .collect()
}

fn sync_seconds(o: &Opts) -> f64 {
    (o.seconds / 2.0).max(0.5)
}

fn latency_fields(out: &mut Value, run: &RunResult) -> Result<()> {
    let Some(h) = run.hist.as_ref() else {
        bail!("a sync run without its histogram");
    };
    let us = |v: u64| round3(v as f64 / 1000.0);
    out["p50_us"] = json!(us(h.value_at_quantile(0.50)));
    out["p90_us"] = json!(us(h.value_at_quantile(0.90)));
    out["p99_us"] = json!(us(h.value_at_quantile(0.99)));
    out["max_us"] = json!(us(h.max()));
    out["sync_ops"] = json!(run.acked);
    out["sync_ops_per_sec"] = json!((run.acked as f64 / run.seconds).round());
    Ok(())
}

fn kv_put(o: &Opts) -> Result<Value> {
    let stream = kv_stream();
    let mut c = JsConn::open(o, "kv")?;
    kv_create(o, &mut c)?;
    let keys = kv_keys();
    let payload = vec![b'v'; o.size];
    let mut spec = PubSpec {
        subjects: &keys,
        payload: &payload,
        check: Check::PubAck { stream: &stream },
        limit: None,
        seconds: o.seconds,
    };
    let (mut c, run) = run_async(o, c, 0, &spec)?;
    run.ensure_clean("put ack")?;
    spec.seconds = sync_seconds(o);
    let sync = run_sync(o, &mut c, run.sent, &spec)?;
    sync.ensure_clean("put ack")?;
    let total = run.sent + sync.sent;
    let info = c.api(
        &format!("$JS.API.STREAM.INFO.{stream}"),
        b"",
        o.timeout,
        "stream info",
    )?;
    let want = total.min(KV_KEYS);
    if info["state"]["messages"].as_u64() != Some(want)
        || info["state"]["last_seq"].as_u64() != Some(total)
    {
        bail!(
            "after {total} puts on {KV_KEYS} keys the bucket's state is {}, {want} messages \
             and last_seq {total} expected",
            info["state"]
        );
    }
    let rate = run.acked as f64 / run.seconds;
    let mut out = json!({
        "scenario": o.scenario,
        "label": o.label,
        "size": o.size,
        "msgs": run.acked,
        "seconds": round3(run.seconds),
        "msgs_per_sec": rate.round(),
        "bytes_per_sec": (rate * o.size as f64).round(),
        "window": o.window,
        "keys": KV_KEYS,
    });
    latency_fields(&mut out, &sync)?;
    Ok(out)
}

fn kv_get(o: &Opts) -> Result<Value> {
    let stream = kv_stream();
    let mut c = JsConn::open(o, "kv")?;
    kv_create(o, &mut c)?;
    let keys = kv_keys();
    let payload = vec![b'v'; o.size];
    let fill = PubSpec {
        subjects: &keys,
        payload: &payload,
        check: Check::PubAck { stream: &stream },
        limit: Some(KV_KEYS),
        seconds: fill_bound(o, KV_KEYS),
    };
    let (c, run) = run_async(o, c, 0, &fill)?;
    run.ensure_clean("put ack")?;
    let gets: Vec<String> = keys
        .iter()
        .map(|k| format!("$JS.API.DIRECT.GET.{stream}.{k}"))
        .collect();
    let mut spec = PubSpec {
        subjects: &gets,
        payload: b"",
        check: Check::DirectGet {
            keys: &keys,
            size: o.size,
        },
        limit: None,
        seconds: o.seconds,
    };
    let (mut c, run) = run_async(o, c, 0, &spec)?;
    run.ensure_clean("direct get")?;
    spec.seconds = sync_seconds(o);
    let sync = run_sync(o, &mut c, 0, &spec)?;
    sync.ensure_clean("direct get")?;
    let rate = run.acked as f64 / run.seconds;
    let mut out = json!({
        "scenario": o.scenario,
        "label": o.label,
        "size": o.size,
        "msgs": run.acked,
        "seconds": round3(run.seconds),
        "msgs_per_sec": rate.round(),
        "bytes_per_sec": (rate * o.size as f64).round(),
        "window": o.window,
        "keys": KV_KEYS,
    });
    latency_fields(&mut out, &sync)?;
    Ok(out)
}

/// Checks the ack subject parser and the tally.
pub fn selftest() -> Result<()> {
    let m = parse_ack(b"$JS.ACK.BENCH.PULL.2.17.5.1764611115112702368.3")
        .ok_or_else(|| anyhow!("v1 ack subject not parsed"))?;
    if (
        m.stream,
        m.consumer,
        m.delivered,
        m.stream_seq,
        m.consumer_seq,
        m.pending,
    ) != (&b"BENCH"[..], &b"PULL"[..], 2, 17, 5, 3)
    {
        bail!("v1 ack subject parsed as {m:?}");
    }
    let m = parse_ack(b"$JS.ACK.hub.ACC.BENCH.C1.1.9.8.100.0.tok")
        .ok_or_else(|| anyhow!("v2 ack subject not parsed"))?;
    if (
        m.stream,
        m.delivered,
        m.stream_seq,
        m.consumer_seq,
        m.pending,
    ) != (&b"BENCH"[..], 1, 9, 8, 0)
    {
        bail!("v2 ack subject parsed as {m:?}");
    }
    if parse_ack(b"$JS.ACK.BENCH.PULL.1.9.9.100").is_some()
        || parse_ack(b"$JS.ACK.BENCH.PULL.x.9.9.100.0").is_some()
    {
        bail!("a bad ack subject parsed");
    }
    if status_code(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 7\r\n\r\n") != 408
        || header(
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 7\r\n\r\n",
            "nats-pending-messages",
        ) != Some("7")
    {
        bail!("status header parsing");
    }
    let ack = |d: u64, s: u64| format!("$JS.ACK.BENCH.P.{d}.{s}.{s}.0.{}", 3 - s);
    let mut t = Tally::new(3, 1, false, false);
    for (d, s) in [(1, 1), (1, 3), (2, 3), (1, 2)] {
        t.take(ack(d, s).as_bytes(), b"x");
    }
    if t.errors != 0 || t.distinct != 3 || t.redelivered != 1 || t.missing().1 != 0 {
        bail!("tally: {:?}", t.first_errors);
    }
    t.take(ack(1, 2).as_bytes(), b"x");
    if t.errors != 1 {
        bail!("a repeat marked delivered 1 was not an error");
    }
    let mut t = Tally::new(3, 1, true, true);
    t.take(ack(1, 1).as_bytes(), b"x");
    t.take(ack(1, 3).as_bytes(), b"x");
    if t.errors == 0 || t.missing() != (vec![2], 1) {
        bail!("an ordered gap was not an error");
    }
    Ok(())
}
