//! JetStream scenarios: publishes to a stream, each with a reply subject, and checks every
//! PubAck.
//!
//! Every scenario first creates the stream `BENCH` (subjects `js.>`, file or memory
//! storage) with a request to `$JS.API.STREAM.CREATE.BENCH`, retried until the server's
//! JetStream answers (within --timeout). One connection subscribes to the wildcard inbox
//! `_INBOX.x.*` and publishes to `js.bench` with the reply subject `_INBOX.x.<n>`, n = 1, 2, ...
//! Each ack must be a PubAck `{"stream":"BENCH","seq":S}` with S = n + the stream's last
//! sequence before the run, without `error` or `duplicate`, and each n acknowledged once;
//! anything else counts as an ack error, and a run with ack errors fails. After the run the
//! stream's message count (`$JS.API.STREAM.INFO.BENCH`) must equal what was acknowledged.
//!
//! - `js-async-*`: the publisher keeps at most --window acks outstanding (as nats.go's
//!   asynchronous publish does, 4096 by default). When the window is full it waits, and tops
//!   it up once a sixteenth of it is free; a reader thread takes the acks. The rate is acked
//!   messages a second, from the first publish to the last ack.
//! - `js-sync-*`: one publish, wait for its ack, then the next; latency percentiles and the
//!   rate, like reqrep.
//!
//! With --store-dir (the server's `-sd` directory), a file scenario also reports the store's
//! size on disk: the allocated bytes (as `du` counts them) of every file under the directory,
//! read once it has stopped growing, divided by the stream's message count.

use crate::{round3, Opts, SeqSet, CONNECT, MAX_LINE};
use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) const STREAM: &str = "BENCH";
pub(crate) const SUBJECT: &str = "js.bench";
pub(crate) const INBOX: &str = "_INBOX.x";
/// Publish frames per write, at most (and at most this many bytes).
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Ack errors whose text is kept for the failure message.
const KEEP_ERRORS: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Async,
    Sync,
}

pub fn scenario(o: &Opts) -> Result<Value> {
    let (mode, storage) = match o.scenario.as_str() {
        "js-async-file" => (Mode::Async, "file"),
        "js-async-mem" => (Mode::Async, "memory"),
        "js-sync-file" => (Mode::Sync, "file"),
        "js-sync-mem" => (Mode::Sync, "memory"),
        other => bail!("unknown JetStream scenario {other:?}"),
    };
    if o.window == 0 {
        bail!("--window must be at least 1");
    }
    let mut c = JsConn::open(o, "publisher")?;
    let created = create_stream(&mut c, o, storage)?;
    let base_seq = created["state"]["last_seq"].as_u64().unwrap_or(0);
    let base_msgs = created["state"]["messages"].as_u64().unwrap_or(0);
    let payload = vec![b'x'; o.size];
    let subjects = [SUBJECT.to_string()];
    let spec = PubSpec {
        subjects: &subjects,
        payload: &payload,
        check: Check::PubAck { stream: STREAM },
        limit: None,
        seconds: o.seconds,
    };

    let (mut c, run) = match mode {
        Mode::Async => run_async(o, c, base_seq, &spec)?,
        Mode::Sync => {
            let r = run_sync(o, &mut c, base_seq, &spec)?;
            (c, r)
        }
    };
    run.ensure_clean("ack")?;

    // The stream must hold what was acknowledged.
    let info = c.api(
        &format!("$JS.API.STREAM.INFO.{STREAM}"),
        b"",
        o.timeout,
        "stream info",
    )?;
    let stream_msgs = info["state"]["messages"]
        .as_u64()
        .ok_or_else(|| anyhow!("stream info without state.messages: {info}"))?;
    let stream_bytes = info["state"]["bytes"].as_u64().unwrap_or(0);
    if stream_msgs != base_msgs + run.acked {
        bail!(
            "the stream holds {stream_msgs} messages, {} expected ({base_msgs} before + {} acked)",
            base_msgs + run.acked,
            run.acked
        );
    }

    let secs = run.seconds;
    let rate = run.acked as f64 / secs;
    let mut out = json!({
        "scenario": o.scenario,
        "label": o.label,
        "size": o.size,
        "storage": storage,
        "msgs": run.acked,
        "published": run.sent,
        "seconds": round3(secs),
        "msgs_per_sec": rate.round(),
        "bytes_per_sec": (rate * o.size as f64).round(),
        "ack_errors": run.errors,
        "stream_msgs": stream_msgs,
        "stream_bytes": stream_bytes,
    });
    match mode {
        Mode::Async => {
            out["window"] = json!(o.window);
            out["pub_seconds"] = json!(round3(run.pub_seconds));
        }
        Mode::Sync => {
            let Some(h) = run.hist.as_ref() else {
                bail!("a sync run without its histogram");
            };
            let us = |v: u64| round3(v as f64 / 1000.0);
            out["p50_us"] = json!(us(h.value_at_quantile(0.50)));
            out["p90_us"] = json!(us(h.value_at_quantile(0.90)));
            out["p99_us"] = json!(us(h.value_at_quantile(0.99)));
            out["max_us"] = json!(us(h.max()));
            out["mean_us"] = json!(round3(h.mean() / 1000.0));
        }
    }
    if let (Some(dir), "file") = (o.store_dir.as_deref(), storage) {
        let (alloc, apparent) = settled_disk_usage(Path::new(dir))?;
        out["disk_bytes"] = json!(alloc);
        out["disk_apparent_bytes"] = json!(apparent);
        if stream_msgs > 0 {
            out["disk_bytes_per_msg"] = json!(round3(alloc as f64 / stream_msgs as f64));
            out["disk_apparent_bytes_per_msg"] =
                json!(round3(apparent as f64 / stream_msgs as f64));
        }
    }
    Ok(out)
}

/// Creates the stream (or finds it as configured), retrying while JetStream is not yet
/// answering. Returns the server's response.
fn create_stream(c: &mut JsConn, o: &Opts, storage: &str) -> Result<Value> {
    let body = json!({
        "name": STREAM,
        "subjects": ["js.>"],
        "storage": storage,
    });
    create_stream_with(c, o, STREAM, &body)
}

/// Creates the stream `name` with the configuration `body`, retrying while JetStream is not
/// yet answering. Returns the server's response.
pub(crate) fn create_stream_with(
    c: &mut JsConn,
    o: &Opts,
    name: &str,
    body: &Value,
) -> Result<Value> {
    let body = body.to_string();
    let subject = format!("$JS.API.STREAM.CREATE.{name}");
    let deadline = Instant::now() + o.timeout;
    loop {
        let wait = Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now()));
        match c.request(&subject, body.as_bytes(), wait)? {
            Some(reply) => {
                let v: Value = serde_json::from_slice(&reply).with_context(|| {
                    format!(
                        "stream create: reply is not JSON: {}",
                        String::from_utf8_lossy(&reply)
                    )
                })?;
                if !v["error"].is_null() {
                    bail!("stream create refused: {}", v["error"]);
                }
                return Ok(v);
            }
            None if Instant::now() >= deadline => {
                bail!(
                    "stream create: no answer within {:?} (is JetStream on?)",
                    o.timeout
                )
            }
            None => {}
        }
    }
}

pub(crate) struct RunResult {
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// First publish to last ack.
    pub seconds: f64,
    /// First publish to the last publish's write.
    pub pub_seconds: f64,
    pub hist: Option<Histogram<u64>>,
}

impl RunResult {
    /// Fails on any error, or if a publish went unanswered; `what` names the answers.
    pub fn ensure_clean(&self, what: &str) -> Result<()> {
        if self.errors > 0 {
            bail!(
                "{} {what} errors in {} answers ({} sent); first: {}",
                self.errors,
                self.acked,
                self.sent,
                self.first_errors.join("; ")
            );
        }
        if self.acked != self.sent {
            bail!("{} sent, {} answered ({what})", self.sent, self.acked);
        }
        Ok(())
    }
}

/// What a publishing run sends and how its answers are checked.
pub(crate) struct PubSpec<'a> {
    /// Publish n goes to `subjects[(n - 1) % len]`.
    pub subjects: &'a [String],
    pub payload: &'a [u8],
    pub check: Check<'a>,
    /// Stop after this many publishes; None: after `seconds`.
    pub limit: Option<u64>,
    /// Publishing time (with `limit`: a bound on it).
    pub seconds: f64,
}

pub(crate) enum Check<'a> {
    /// A PubAck from `stream` with seq = the base sequence + n.
    PubAck { stream: &'a str },
    /// A direct get's answer: no status, `Nats-Subject: keys[(n - 1) % len]`, a payload of
    /// `size` bytes.
    DirectGet { keys: &'a [String], size: usize },
}

impl PubSpec<'_> {
    fn subject(&self, n: u64) -> &str {
        &self.subjects[((n.max(1) - 1) % self.subjects.len() as u64) as usize]
    }
}

/// `PUB <subject> _INBOX.x.<n> <size>\r\n<payload>\r\n`
fn push_pub(out: &mut Vec<u8>, subject: &str, n: u64, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    out.push(b' ');
    out.extend_from_slice(INBOX.as_bytes());
    out.push(b'.');
    push_dec(out, n);
    out.push(b' ');
    push_dec(out, payload.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

fn push_dec(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

pub(crate) fn parse_u64(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 19 {
        return None;
    }
    t.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// Checks one ack: returns its publish number n, or what is wrong with it.
fn check_ack(
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
    base_seq: u64,
    check: &Check,
) -> std::result::Result<u64, String> {
    let text = || String::from_utf8_lossy(payload).into_owned();
    let n = subject
        .strip_prefix(INBOX.as_bytes())
        .and_then(|s| s.strip_prefix(b"."))
        .and_then(parse_u64)
        .ok_or_else(|| {
            format!(
                "message on {} is not an ack",
                String::from_utf8_lossy(subject)
            )
        })?;
    let stream = match check {
        Check::PubAck { stream } => *stream,
        Check::DirectGet { keys, size } => return check_get(n, headers, payload, keys, *size),
    };
    if !headers.is_empty() {
        return Err(format!(
            "ack {n} has headers (a status?): {:?}",
            String::from_utf8_lossy(headers).trim()
        ));
    }
    let find = |needle: &[u8]| memchr::memmem::find(payload, needle);
    if find(b"\"error\"").is_some() {
        return Err(format!("ack {n} is an error: {}", text()));
    }
    if find(b"\"duplicate\"").is_some() {
        return Err(format!("ack {n} says duplicate: {}", text()));
    }
    if find(format!("\"stream\":\"{stream}\"").as_bytes()).is_none() {
        return Err(format!("ack {n} names no stream {stream}: {}", text()));
    }
    let seq = find(b"\"seq\":")
        .map(|i| {
            let rest = &payload[i + 6..];
            let ws = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let digits = &rest[ws..];
            let end = digits
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(digits.len());
            parse_u64(&digits[..end])
        })
        .ok_or_else(|| format!("ack {n} has no seq: {}", text()))?
        .ok_or_else(|| format!("ack {n} has a bad seq: {}", text()))?;
    if seq != base_seq + n {
        return Err(format!(
            "ack {n} has seq {seq}, {} expected: {}",
            base_seq + n,
            text()
        ));
    }
    Ok(n)
}

/// Checks a direct get's answer to request n.
fn check_get(
    n: u64,
    headers: &[u8],
    payload: &[u8],
    keys: &[String],
    size: usize,
) -> std::result::Result<u64, String> {
    let h = String::from_utf8_lossy(headers);
    let status = h.lines().next().unwrap_or("");
    if status.trim() != "NATS/1.0" {
        return Err(format!("get {n}: status {:?}", status.trim()));
    }
    let key = &keys[((n.max(1) - 1) % keys.len() as u64) as usize];
    let named = h.lines().any(|l| {
        l.split_once(':')
            .is_some_and(|(k, v)| k.trim() == "Nats-Subject" && v.trim() == key)
    });
    if !named {
        return Err(format!("get {n}: no Nats-Subject: {key} in {:?}", h.trim()));
    }
    if payload.len() != size {
        return Err(format!(
            "get {n}: {} bytes of value, {size} expected",
            payload.len()
        ));
    }
    Ok(n)
}

/// Acks seen: counts, duplicates, errors.
#[derive(Default)]
struct AckTally {
    acked: u64,
    errors: u64,
    first_errors: Vec<String>,
    seen: SeqSet,
}

impl AckTally {
    /// Takes one frame's ack; `sent` bounds the publish numbers that may be acknowledged.
    fn take(&mut self, f: (&[u8], &[u8], &[u8]), base: u64, sent: u64, check: &Check) {
        let (subject, headers, payload) = f;
        match check_ack(subject, headers, payload, base, check) {
            Ok(n) if n == 0 || n > sent => self.error(format!("ack for publish {n}, of {sent}")),
            Ok(n) => {
                let dups = self.seen.dups;
                self.seen.insert(n);
                if self.seen.dups != dups {
                    self.error(format!("publish {n} acknowledged twice"));
                } else {
                    self.acked += 1;
                }
            }
            Err(e) => self.error(e),
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_errors.len() < KEEP_ERRORS {
            self.first_errors.push(e);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Asynchronous publishing with a window.

/// What the publisher and the reader share.
struct Shared {
    /// Publish numbers written (or being written) so far.
    sent: AtomicU64,
    acked: AtomicU64,
    /// Set when the publisher has stopped; `sent` is then final.
    done: AtomicBool,
    abort: AtomicBool,
    /// The publisher waits here for room in the window.
    stall: Mutex<()>,
    room: Condvar,
    waiting: AtomicBool,
}

pub(crate) fn run_async(
    o: &Opts,
    conn: JsConn,
    base: u64,
    spec: &PubSpec,
) -> Result<(JsConn, RunResult)> {
    let payload = spec.payload;
    let window = o.window as u64;
    // Top the window up once this much of it is free (one slot for small windows).
    let refill = (window / 16).max(1);
    let writer = Arc::new(Mutex::new(
        conn.s.try_clone().context("cloning the socket")?,
    ));
    let sh = Arc::new(Shared {
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        done: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        stall: Mutex::new(()),
        room: Condvar::new(),
        waiting: AtomicBool::new(false),
    });
    let hard_deadline = Instant::now() + Duration::from_secs_f64(spec.seconds) + o.timeout * 2;
    let limit = spec.limit.unwrap_or(u64::MAX);
    thread::scope(|scope| {
        let reader = {
            let (sh, writer) = (sh.clone(), writer.clone());
            let mut conn = conn;
            conn.s.set_read_timeout(Some(Duration::from_millis(20)))?;
            scope.spawn(move || -> Result<(JsConn, AckTally, Option<Instant>)> {
                let r = (|| {
                    let mut tally = AckTally::default();
                    let mut last_ack = None;
                    loop {
                        if sh.abort.load(Ordering::Relaxed) {
                            bail!("reader: aborted");
                        }
                        let got = conn.fill()?;
                        // Read `sent` before the frames: each ack in them was for a publish
                        // numbered at most this.
                        let sent = sh.sent.load(Ordering::Acquire);
                        let before = tally.acked + tally.errors;
                        let mut pings = 0;
                        while let Some(f) = conn.rx.next_frame()? {
                            match f {
                                Frame::Msg {
                                    subject,
                                    headers,
                                    payload,
                                    ..
                                } => {
                                    tally.take((subject, headers, payload), base, sent, &spec.check)
                                }
                                Frame::Ping => pings += 1,
                                Frame::Pong | Frame::Info | Frame::Ok => {}
                            }
                        }
                        if pings > 0 {
                            let mut w =
                                writer.lock().map_err(|_| anyhow!("writer lock poisoned"))?;
                            for _ in 0..pings {
                                w.write_all(b"PONG\r\n")?;
                            }
                        }
                        if tally.acked + tally.errors > before {
                            last_ack = Some(Instant::now());
                            // Errors free their slot too, so that the run ends and reports them.
                            let settled = tally.acked + tally.errors;
                            sh.acked.store(settled, Ordering::Release);
                            if sh.waiting.load(Ordering::Acquire)
                                && window - (sent.saturating_sub(settled)).min(window) >= refill
                            {
                                let _g = sh.stall.lock().map_err(|_| anyhow!("lock poisoned"))?;
                                sh.room.notify_one();
                            }
                        }
                        if sh.done.load(Ordering::Acquire)
                            && tally.acked + tally.errors >= sh.sent.load(Ordering::Acquire)
                        {
                            break;
                        }
                        if !got && Instant::now() > hard_deadline {
                            bail!(
                                "reader: {} of {} acks within the timeout",
                                tally.acked,
                                sh.sent.load(Ordering::Relaxed)
                            );
                        }
                    }
                    Ok((conn, tally, last_ack))
                })();
                if r.is_err() {
                    sh.abort.store(true, Ordering::Relaxed);
                    let _g = sh.stall.lock();
                    sh.room.notify_one();
                }
                r
            })
        };

        let published = (|| -> Result<(u64, Instant, Instant)> {
            let frame_len = {
                let mut v = Vec::new();
                let longest = spec.subjects.iter().max_by_key(|s| s.len());
                push_pub(
                    &mut v,
                    longest.map_or("", |s| s),
                    u64::from(u32::MAX),
                    payload,
                );
                v.len()
            };
            let max_batch = (MAX_BATCH_BYTES / frame_len).max(1) as u64;
            let mut out = Vec::with_capacity(MAX_BATCH_BYTES + frame_len);
            let start = Instant::now();
            let deadline = start + Duration::from_secs_f64(spec.seconds);
            let mut sent = 0u64;
            loop {
                if sh.abort.load(Ordering::Relaxed) {
                    bail!("publisher: aborted");
                }
                if sent >= limit {
                    break;
                }
                if Instant::now() >= deadline {
                    if spec.limit.is_some() {
                        bail!(
                            "publisher: {sent} of {limit} published within {:.0} s",
                            spec.seconds
                        );
                    }
                    break;
                }
                let outstanding = sent - sh.acked.load(Ordering::Acquire).min(sent);
                let room = window - outstanding.min(window);
                if room < refill {
                    let g = sh.stall.lock().map_err(|_| anyhow!("lock poisoned"))?;
                    sh.waiting.store(true, Ordering::Release);
                    let outstanding = sent - sh.acked.load(Ordering::Acquire).min(sent);
                    if window - outstanding.min(window) < refill
                        && !sh.abort.load(Ordering::Relaxed)
                    {
                        let _ = sh.room.wait_timeout(g, Duration::from_millis(5));
                    }
                    sh.waiting.store(false, Ordering::Release);
                    continue;
                }
                let n = room.min(max_batch).min(limit - sent);
                out.clear();
                for k in 1..=n {
                    push_pub(&mut out, spec.subject(sent + k), sent + k, payload);
                }
                sent += n;
                sh.sent.store(sent, Ordering::Release);
                writer
                    .lock()
                    .map_err(|_| anyhow!("writer lock poisoned"))?
                    .write_all(&out)
                    .context("publisher: write")?;
            }
            Ok((sent, start, Instant::now()))
        })();
        if published.is_err() {
            sh.abort.store(true, Ordering::Relaxed);
        }
        sh.done.store(true, Ordering::Release);
        let read = reader
            .join()
            .map_err(|_| anyhow!("reader thread panicked"))?;
        // When one side fails the other stops with "aborted": report the real error.
        let ((sent, start, pub_done), (conn, tally, last_ack)) = match (published, read) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
            (Err(p), Err(r)) => {
                return Err(if format!("{p:#}").contains("aborted") {
                    r
                } else {
                    p
                })
            }
        };
        conn.s.set_read_timeout(Some(o.timeout))?;
        let end = last_ack.unwrap_or(pub_done).max(pub_done);
        Ok((
            conn,
            RunResult {
                sent,
                acked: tally.acked,
                errors: tally.errors,
                first_errors: tally.first_errors,
                seconds: end.duration_since(start).as_secs_f64(),
                pub_seconds: pub_done.duration_since(start).as_secs_f64(),
                hist: None,
            },
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Synchronous publishing: one at a time.

pub(crate) fn run_sync(o: &Opts, c: &mut JsConn, base: u64, spec: &PubSpec) -> Result<RunResult> {
    let payload = spec.payload;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| anyhow!("histogram: {e}"))?;
    let mut tally = AckTally::default();
    let mut out = Vec::with_capacity(payload.len() + 64);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(spec.seconds);
    let limit = spec.limit.unwrap_or(u64::MAX);
    let mut sent = 0u64;
    while Instant::now() < deadline && sent < limit {
        out.clear();
        sent += 1;
        push_pub(&mut out, spec.subject(sent), sent, payload);
        let t0 = Instant::now();
        c.write(&out)?;
        let want = sent;
        // Until this publish is settled (acked or an error).
        while tally.acked + tally.errors < want {
            if t0.elapsed() > o.timeout {
                bail!("no ack within {:?} for publish {sent}", o.timeout);
            }
            c.fill()?;
            let mut pings = 0;
            while let Some(f) = c.rx.next_frame()? {
                match f {
                    Frame::Msg {
                        subject,
                        headers,
                        payload,
                        ..
                    } => tally.take((subject, headers, payload), base, sent, &spec.check),
                    Frame::Ping => pings += 1,
                    Frame::Pong | Frame::Info | Frame::Ok => {}
                }
            }
            for _ in 0..pings {
                c.write(b"PONG\r\n")?;
            }
        }
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        h.record(ns.max(1)).map_err(|e| anyhow!("histogram: {e}"))?;
        if tally.errors > KEEP_ERRORS as u64 {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(RunResult {
        sent,
        acked: tally.acked,
        errors: tally.errors,
        first_errors: tally.first_errors,
        seconds: secs,
        pub_seconds: secs,
        hist: Some(h),
    })
}

// ---------------------------------------------------------------------------------------
// Disk usage of the store.

/// Allocated and apparent bytes of every file under `dir`.
fn disk_usage(dir: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut alloc = 0u64;
    let mut apparent = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // A directory removed while we walk (a deleted block, a temporary file).
            Err(e) if e.kind() == ErrorKind::NotFound && d != dir => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
        };
        for e in entries {
            let Ok(e) = e else { continue };
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                alloc += md.blocks() * 512;
                apparent += md.len();
            }
        }
    }
    Ok((alloc, apparent))
}

/// The store's usage once it has stopped changing (a server may write behind the acks):
/// read every 100 ms until two readings agree, for at most 3 s.
fn settled_disk_usage(dir: &Path) -> Result<(u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = disk_usage(dir)?;
    loop {
        thread::sleep(Duration::from_millis(100));
        let now = disk_usage(dir)?;
        if now == last || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

// ---------------------------------------------------------------------------------------
// A connection that reads whole frames, payloads included.

pub(crate) enum Frame<'a> {
    Msg {
        subject: &'a [u8],
        /// Empty when the message has none.
        reply: &'a [u8],
        headers: &'a [u8],
        payload: &'a [u8],
    },
    Ping,
    Pong,
    Info,
    Ok,
}

/// Bytes read and not yet parsed.
pub(crate) struct Rx {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

const MIN_READ: usize = 16 * 1024;

impl Rx {
    fn new() -> Rx {
        Rx {
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// Room for a read of at least MIN_READ bytes at the end.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < MIN_READ {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < MIN_READ {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
    }

    /// The next complete frame, if the buffer holds one. `-ERR` is an error.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame<'_>>> {
        let data = &self.buf[self.start..self.end];
        let Some(i) = memchr::memchr(b'\n', data) else {
            if data.len() > MAX_LINE {
                bail!("control line longer than {MAX_LINE} bytes from the server");
            }
            return Ok(None);
        };
        let line = data[..i].strip_suffix(b"\r").unwrap_or(&data[..i]);
        let op_end = memchr::memchr(b' ', line).unwrap_or(line.len());
        let op = &line[..op_end];
        let hmsg = op.eq_ignore_ascii_case(b"HMSG");
        if hmsg || op.eq_ignore_ascii_case(b"MSG") {
            // MSG subj sid [reply] size | HMSG subj sid [reply] hdr total: token positions.
            let mut toks: [(usize, usize); 6] = [(0, 0); 6];
            let mut nt = 0;
            let mut p = op_end;
            while p < line.len() {
                if line[p] == b' ' || line[p] == b'\t' {
                    p += 1;
                    continue;
                }
                let s = p;
                while p < line.len() && line[p] != b' ' && line[p] != b'\t' {
                    p += 1;
                }
                if nt == toks.len() {
                    bail!("malformed {}", String::from_utf8_lossy(line));
                }
                toks[nt] = (s, p);
                nt += 1;
            }
            let (min, max) = if hmsg { (4, 5) } else { (3, 4) };
            if nt < min || nt > max {
                bail!("malformed {}", String::from_utf8_lossy(line));
            }
            let tok = |k: usize| &line[toks[k].0..toks[k].1];
            let total = parse_u64(tok(nt - 1))
                .ok_or_else(|| anyhow!("bad size in {}", String::from_utf8_lossy(line)))?
                as usize;
            let hdr = if hmsg {
                parse_u64(tok(nt - 2))
                    .filter(|&h| h as usize <= total)
                    .ok_or_else(|| {
                        anyhow!("bad header size in {}", String::from_utf8_lossy(line))
                    })? as usize
            } else {
                0
            };
            let need = i + 1 + total + 2;
            if data.len() < need {
                if need > self.buf.len() {
                    // A frame larger than the buffer: grow it so that the next reads fit.
                    let len = need.next_power_of_two();
                    self.buf.resize(len, 0);
                }
                return Ok(None);
            }
            if &data[i + 1 + total..need] != b"\r\n" {
                bail!(
                    "message not ended by CRLF after {}",
                    String::from_utf8_lossy(line)
                );
            }
            // Positions in the buffer: the line starts at `self.start`.
            let at = self.start;
            let subject = at + toks[0].0..at + toks[0].1;
            let reply = if nt == max {
                at + toks[2].0..at + toks[2].1
            } else {
                0..0
            };
            let body = at + i + 1;
            self.start += need;
            let buf = &self.buf;
            return Ok(Some(Frame::Msg {
                subject: &buf[subject],
                reply: &buf[reply],
                headers: &buf[body..body + hdr],
                payload: &buf[body + hdr..body + total],
            }));
        }
        let frame = if op.eq_ignore_ascii_case(b"PING") {
            Frame::Ping
        } else if op.eq_ignore_ascii_case(b"PONG") {
            Frame::Pong
        } else if op.eq_ignore_ascii_case(b"INFO") {
            Frame::Info
        } else if op.eq_ignore_ascii_case(b"+OK") {
            Frame::Ok
        } else if op.eq_ignore_ascii_case(b"-ERR") {
            bail!("server sent {}", String::from_utf8_lossy(line));
        } else {
            bail!(
                "unexpected from server: {:?}",
                String::from_utf8_lossy(line)
            );
        };
        self.start += i + 1;
        Ok(Some(frame))
    }
}

pub(crate) struct JsConn {
    pub s: TcpStream,
    pub rx: Rx,
    pub name: String,
    requests: u64,
}

impl JsConn {
    /// Connects, subscribes to the inbox and waits for the PONG.
    pub(crate) fn open(o: &Opts, name: &str) -> Result<JsConn> {
        let s = TcpStream::connect_timeout(&o.addr, o.timeout)
            .with_context(|| format!("{name}: connecting to {}", o.addr))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(o.timeout))?;
        s.set_write_timeout(Some(o.timeout))?;
        let mut c = JsConn {
            s,
            rx: Rx::new(),
            name: name.to_string(),
            requests: 0,
        };
        let mut hello = CONNECT.to_vec();
        hello.extend_from_slice(format!("SUB {INBOX}.* 1\r\nPING\r\n").as_bytes());
        c.write(&hello)?;
        let deadline = Instant::now() + o.timeout;
        loop {
            if Instant::now() >= deadline {
                bail!("{name}: no PONG within the timeout");
            }
            c.fill()?;
            let mut pong = false;
            while let Some(f) = c.rx.next_frame().with_context(|| c.name.clone())? {
                match f {
                    Frame::Pong => pong = true,
                    Frame::Msg { subject, .. } => bail!(
                        "{name}: unexpected message on {}",
                        String::from_utf8_lossy(subject)
                    ),
                    _ => {}
                }
            }
            if pong {
                return Ok(c);
            }
        }
    }

    pub(crate) fn write(&mut self, b: &[u8]) -> Result<()> {
        self.s.write_all(b).map_err(|e| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                anyhow!("{}: write blocked longer than the timeout", self.name)
            } else {
                anyhow!("{}: write: {e}", self.name)
            }
        })
    }

    /// One read into the buffer; false if it timed out.
    pub(crate) fn fill(&mut self) -> Result<bool> {
        self.rx.make_room();
        match self.s.read(&mut self.rx.buf[self.rx.end..]) {
            Ok(0) => bail!("{}: server closed the connection", self.name),
            Ok(n) => {
                self.rx.end += n;
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(false),
            Err(e) => bail!("{}: read: {e}", self.name),
        }
    }

    /// A request on the inbox; the reply's payload, or None if none came within `wait`.
    /// Replies to earlier requests (that timed out) are passed over.
    pub(crate) fn request(
        &mut self,
        subject: &str,
        body: &[u8],
        wait: Duration,
    ) -> Result<Option<Vec<u8>>> {
        self.requests += 1;
        let reply = format!("{INBOX}.api{}", self.requests);
        let mut out = format!("PUB {subject} {reply} {}\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        self.write(&out)?;
        let deadline = Instant::now() + wait;
        let old = self.s.read_timeout()?;
        self.s.set_read_timeout(Some(
            Duration::from_millis(50).min(wait.max(Duration::from_millis(1))),
        ))?;
        let r = (|| loop {
            let mut pings = 0;
            let mut got = None;
            while let Some(f) = self.rx.next_frame()? {
                match f {
                    Frame::Msg {
                        subject,
                        payload,
                        headers,
                        ..
                    } if subject == reply.as_bytes() => {
                        if payload.is_empty() && !headers.is_empty() {
                            bail!(
                                "{subject:?}: status reply {:?}",
                                String::from_utf8_lossy(headers).trim()
                            );
                        }
                        got = Some(payload.to_vec());
                    }
                    Frame::Ping => pings += 1,
                    _ => {}
                }
            }
            for _ in 0..pings {
                self.write(b"PONG\r\n")?;
            }
            if got.is_some() {
                return Ok(got);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            self.fill()?;
        })();
        self.s.set_read_timeout(old)?;
        r
    }

    /// A JetStream API request whose answer must come and must not be an error.
    pub(crate) fn api(
        &mut self,
        subject: &str,
        body: &[u8],
        wait: Duration,
        what: &str,
    ) -> Result<Value> {
        let reply = self
            .request(subject, body, wait)?
            .ok_or_else(|| anyhow!("{what}: no answer within {wait:?}"))?;
        let v: Value = serde_json::from_slice(&reply).with_context(|| {
            format!(
                "{what}: reply is not JSON: {}",
                String::from_utf8_lossy(&reply)
            )
        })?;
        if !v["error"].is_null() {
            bail!("{what}: {}", v["error"]);
        }
        Ok(v)
    }
}

/// Checks the frame reader and the ack check on frames cut at every point.
pub fn selftest() -> Result<()> {
    let msg = |n: u64, hdr: &str, body: &str| {
        if hdr.is_empty() {
            format!("MSG {INBOX}.{n} 1 {}\r\n{body}\r\n", body.len())
        } else {
            let total = hdr.len() + body.len();
            format!(
                "HMSG {INBOX}.{n} 1 {} {total}\r\n{hdr}{body}\r\n",
                hdr.len()
            )
        }
    };
    let stream = [
        "INFO {}\r\n".to_string(),
        msg(1, "", "{\"stream\":\"BENCH\",\"seq\":8}"),
        "PING\r\n".to_string(),
        msg(2, "NATS/1.0\r\n\r\n", "{\"stream\":\"BENCH\",\"seq\":9}"),
        msg(
            3,
            "",
            "{\"stream\":\"BENCH\", \"seq\":10,\"duplicate\":true}",
        ),
        msg(4, "", "{\"stream\":\"BENCH\", \"seq\": 11}").replacen("MSG", "msg", 1),
        "PONG\r\n".to_string(),
    ]
    .concat()
    .into_bytes();
    for cut in 0..=stream.len() {
        let mut rx = Rx::new();
        let mut tally = AckTally::default();
        let (mut pings, mut pongs) = (0, 0);
        for part in [&stream[..cut], &stream[cut..]] {
            rx.make_room();
            rx.buf[rx.end..rx.end + part.len()].copy_from_slice(part);
            rx.end += part.len();
            while let Some(f) = rx.next_frame()? {
                match f {
                    Frame::Msg {
                        subject,
                        headers,
                        payload,
                        ..
                    } => tally.take(
                        (subject, headers, payload),
                        7,
                        4,
                        &Check::PubAck { stream: STREAM },
                    ),
                    Frame::Ping => pings += 1,
                    Frame::Pong => pongs += 1,
                    _ => {}
                }
            }
        }
        // 1 good; 2 has headers; 3 duplicate; 4 right seq 11.
        if (tally.acked, tally.errors, pings, pongs) != (2, 2, 1, 1) || rx.start != rx.end {
            bail!(
                "JetStream frame self-test failed at cut {cut}: acked {} errors {} ({:?})",
                tally.acked,
                tally.errors,
                tally.first_errors
            );
        }
    }
    Ok(())
}
