//! `loadgen`: a raw-TCP NATS load generator (no client library in the hot loop).
//!
//! Its own small package (no broker, no GUI, builds in a minute):
//! `cargo run --release --manifest-path benches/loadgen/Cargo.toml -- --scenario NAME
//! [options]`; `benches/compare.sh` builds it the same way and runs the executable. Each run prints exactly one JSON line on stdout;
//! progress and errors go to stderr, and any failure (short delivery, duplicate, `-ERR`,
//! closed connection, timeout) exits non-zero instead of hanging.
//!
//! `loadgen summarize FILE` reads JSON lines (as written by `compare.sh`, which adds `server`,
//! `cpu_s` and `hwm_kb` to each) and prints the comparison table.
//!
//! Every connection sends `CONNECT {"verbose":false,"pedantic":false,"headers":true}` and
//! finishes its set-up with PING/PONG, so subscriptions are registered before anything is
//! published. Publishers write one large pre-built buffer of many `PUB` frames per write;
//! subscribers count `MSG`/`HMSG` frames with an incremental scanner that copes with frames
//! split across reads.

mod js;
mod js_consume;
mod ws;

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
loadgen: raw-TCP NATS load generator

usage: loadgen --scenario NAME [options]
       loadgen summarize FILE.jsonl

scenarios:
  pub1        1 publisher, no subscribers (publish rate until the server answers PONG)
  pub4        4 publishers, no subscribers
  pub         alias of pub1 (use --pubs N to change the count)
  pubsub      1 publisher -> 1 subscriber
  fanout      1 publisher -> 5 subscribers (--subs N)
  queue       1 publisher -> queue group of 4 (--subs N); every message checked
              to be delivered exactly once in total (sequence numbers in payloads)
  fanin-star  1 publisher over 1,000 subjects -> one `bench.fanin.*` subscriber
  fanin-gt    1 publisher over 1,000 subjects -> one `bench.fanin.>` subscriber
  reqrep      sequential request/reply through a responder; latency percentiles
  reqrep-paced  the same at a steady --rate (1000 requests a second), as an application
              that does not saturate the server sends them
  slowcons    1 publisher floods a subject (bench.t) that one stuck consumer (never reads)
              and one reader share, while a bystander measures PING round trips:
              bystander RTT percentiles, the flood's rate, whether the stuck
              consumer was cut off (run the server with a small max_pending to
              see the cut within --seconds)
  idle        --conns idle connections (default 10000): connect rate and server
              RSS per connection (needs --server-pid to read /proc/PID/status)

JetStream scenarios (the server must run JetStream; each creates the stream BENCH,
subjects js.>, and checks every PubAck's stream and sequence; a run with ack errors fails):
  js-async-file  1 publisher to a file stream with a reply subject per message, at most
                 --window acks outstanding (as nats.go's async publish); acked msgs/s
  js-async-mem   the same, memory storage
  js-sync-file   publish, wait for the ack, next: ack latency percentiles and rate
  js-sync-mem    the same, memory storage
  With --store-dir DIR (the server's -sd), file scenarios also report the store's
  allocated bytes on disk per message (disk_bytes_per_msg), measured before returning.

JetStream consumer scenarios (stream BENCH re-created and filled with --msgs messages of
--size bytes first, untimed; every delivery checked, see src/js_consume.rs):
  js-pull-100    durable pull consumer, ack explicit: MSG.NEXT batches of 100, the next one
                 asked for when half arrived, every message acked; acked msgs/s. Then every
                 stream seq must have come, num_ack_pending 0, ack floor = last seq
  js-pull-1000   the same with batches of 1,000
  js-pull-verify-1m  the same over 1,000,000 messages: none lost, repeats only as redeliveries
  js-push-fc     push consumer, flow control, heartbeats 1 s, ack none: msgs/s, each seq once
  js-ordered-1m  ordered consumer replay (push, flow control, mem_storage, ack none) of
                 1,000,000 messages: sequences exactly 1..N in order; msgs/s
  js-kv-put      KV bucket puts to 1,000 keys, --window acks outstanding: ops/s; then one at
                 a time: p50/p99
  js-kv-get      direct gets of those keys, --window outstanding: ops/s; then one at a time

options:
  --host H            server host (127.0.0.1)
  --port P            server port (4222)
  --size BYTES        payload size (16); 1024 for 1 KiB
  --seconds S         publishing time per run (2)
  --timeout S         bound on every wait: handshake, drain, reply (10)
  --pubs N / --subs N override the scenario's publisher / subscriber count
  --conns N           idle connections (10000)
  --batch N           idle: connections handshaken concurrently (100)
  --settle S          idle: wait before reading RSS (1)
  --server-pid PID    server process, for RSS (idle)
  --label TEXT        copied to the output's `label` field
  --rate N            reqrep-paced: requests a second (1000)
  --pub-rate N        throughput scenarios: each publisher's messages a second (default: as
                      fast as it can), to compare server CPU per message below saturation
  --window N          js-async-*: acks outstanding at most (4096)
  --store-dir DIR     js-*-file: the server's store directory, for the size on disk
  --msgs N            consumer scenarios: messages in the stream (200,000; 1,000,000 for
                      js-ordered-1m and js-pull-verify-1m)
  --ws                throughput scenarios (pub1, pub4, pubsub, fanout, queue, fanin-*): every
                      connection goes over WebSocket to --ws-port (an HTTP/1.1 upgrade whose
                      101 and Sec-WebSocket-Accept are checked; masked binary frames out,
                      server frames decoded back into the NATS stream); the scenario is
                      reported as ws-NAME
  --ws-port P         the server's WebSocket port (needed with --ws)
  --ws-compress       with --ws: ask for permessage-deflate (no context takeover either way;
                      the run fails if the server does not grant it); publishers send
                      compressed frames, compressed server frames are inflated; reported as
                      ws-NAME-z
  --sub-port P        throughput scenarios: subscribers connect to this port (on --host),
                      publishers to --port: two servers joined by a leaf link (or a route).
                      Before the clock starts, a probe message must cross from --port to P
                      on a subject subscribed after the subscribers' (interest crosses in
                      order), so every timed message has somewhere to go
";

#[derive(Clone, Debug)]
struct Opts {
    scenario: String,
    addr: SocketAddr,
    size: usize,
    seconds: f64,
    timeout: Duration,
    pubs: Option<usize>,
    subs: Option<usize>,
    conns: usize,
    batch: usize,
    settle: f64,
    server_pid: Option<u32>,
    label: String,
    /// reqrep-paced: requests a second.
    rate: f64,
    /// Throughput scenarios: each publisher's messages a second (None = as fast as it can),
    /// to compare the server's CPU per message below saturation.
    pub_rate: Option<f64>,
    /// js-async-*: acks outstanding at most.
    window: usize,
    /// js-*-file: the server's store directory (`-sd`), to measure the store on disk.
    store_dir: Option<String>,
    /// Consumer scenarios: messages in the stream (None: the scenario's own count).
    msgs: Option<u64>,
    /// `--ws`: connect over WebSocket to this address (the host with `--ws-port`).
    ws: Option<SocketAddr>,
    /// `--ws-compress`: negotiate permessage-deflate.
    ws_compress: bool,
    /// The host as given, for the upgrade's `Host` header.
    host: String,
    /// `--sub-port`: subscribers connect here (another server), publishers to `addr`.
    sub_addr: Option<SocketAddr>,
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("summarize") {
        let file = args
            .get(1)
            .ok_or_else(|| anyhow!("summarize needs a FILE"))?;
        return summarize(file);
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return Ok(());
    }
    let Some(opts) = parse_args(&args)? else {
        // No scenario: check the frame scanner (fast) and say how to use the tool.
        scanner_selftest()?;
        js::selftest()?;
        js_consume::selftest()?;
        ws::selftest()?;
        eprintln!(
            "loadgen: scanner and websocket self-tests passed; no --scenario given (see --help)"
        );
        return Ok(());
    };
    let out = match opts.scenario.as_str() {
        "pub" | "pub1" => throughput(&opts, Shape::new(opts.pubs.unwrap_or(1), 0, Kind::Plain))?,
        "pub4" => throughput(&opts, Shape::new(opts.pubs.unwrap_or(4), 0, Kind::Plain))?,
        "pubsub" => throughput(&opts, Shape::new(1, opts.subs.unwrap_or(1), Kind::Plain))?,
        "fanout" => throughput(&opts, Shape::new(1, opts.subs.unwrap_or(5), Kind::Plain))?,
        "queue" => throughput(&opts, Shape::new(1, opts.subs.unwrap_or(4), Kind::Queue))?,
        "fanin-star" => throughput(&opts, Shape::new(1, 1, Kind::FaninStar))?,
        "fanin-gt" => throughput(&opts, Shape::new(1, 1, Kind::FaninGt))?,
        "reqrep" => reqrep(&opts, None)?,
        "reqrep-paced" => reqrep(&opts, Some(opts.rate))?,
        "slowcons" => slow_consumer(&opts)?,
        "idle" => idle(&opts)?,
        "js-pull-100" | "js-pull-1000" | "js-pull-verify-1m" | "js-push-fc" | "js-ordered-1m"
        | "js-kv-put" | "js-kv-get" => js_consume::scenario(&opts)?,
        s if s.starts_with("js-") => js::scenario(&opts)?,
        other => bail!("unknown scenario {other:?} (see --help)"),
    };
    println!("{out}");
    Ok(())
}

fn parse_args(args: &[String]) -> Result<Option<Opts>> {
    let mut scenario = None;
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 4222;
    let mut o = Opts {
        scenario: String::new(),
        addr: SocketAddr::from(([127, 0, 0, 1], 4222)),
        size: 16,
        seconds: 2.0,
        timeout: Duration::from_secs(10),
        pubs: None,
        subs: None,
        conns: 10_000,
        batch: 100,
        settle: 1.0,
        server_pid: None,
        label: String::new(),
        rate: 1000.0,
        pub_rate: None,
        window: 4096,
        store_dir: None,
        msgs: None,
        ws: None,
        ws_compress: false,
        host: String::new(),
        sub_addr: None,
    };
    let mut ws = false;
    let mut ws_port: Option<u16> = None;
    let mut sub_port: Option<u16> = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--scenario" | "-s" => scenario = Some(val()?),
            "--host" => host = val()?,
            "--port" | "-p" => port = val()?.parse().context("--port")?,
            "--size" => o.size = val()?.parse().context("--size")?,
            "--seconds" => o.seconds = val()?.parse().context("--seconds")?,
            "--timeout" => {
                o.timeout = Duration::from_secs_f64(val()?.parse().context("--timeout")?)
            }
            "--pubs" => o.pubs = Some(val()?.parse().context("--pubs")?),
            "--subs" => o.subs = Some(val()?.parse().context("--subs")?),
            "--conns" => o.conns = val()?.parse().context("--conns")?,
            "--batch" => o.batch = val()?.parse().context("--batch")?,
            "--settle" => o.settle = val()?.parse().context("--settle")?,
            "--server-pid" => o.server_pid = Some(val()?.parse().context("--server-pid")?),
            "--label" => o.label = val()?,
            "--rate" => o.rate = val()?.parse().context("--rate")?,
            "--pub-rate" => {
                let rate: f64 = val()?.parse().context("--pub-rate")?;
                if !(rate > 0.0 && rate.is_finite()) {
                    bail!("--pub-rate must be a positive number");
                }
                o.pub_rate = Some(rate);
            }
            "--window" => o.window = val()?.parse().context("--window")?,
            "--store-dir" => o.store_dir = Some(val()?),
            "--msgs" => o.msgs = Some(val()?.parse().context("--msgs")?),
            "--ws" => ws = true,
            "--ws-port" => ws_port = Some(val()?.parse().context("--ws-port")?),
            "--ws-compress" => o.ws_compress = true,
            "--sub-port" => sub_port = Some(val()?.parse().context("--sub-port")?),
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    let Some(scenario) = scenario else {
        return Ok(None);
    };
    o.scenario = scenario;
    o.addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}:{port}"))?
        .next()
        .ok_or_else(|| anyhow!("{host}:{port} resolves to nothing"))?;
    if o.ws_compress && !ws {
        bail!("--ws-compress needs --ws");
    }
    if ws {
        let Some(p) = ws_port else {
            bail!("--ws needs --ws-port");
        };
        match o.scenario.as_str() {
            "pub" | "pub1" | "pub4" | "pubsub" | "fanout" | "queue" | "fanin-star" | "fanin-gt" => {
            }
            s => {
                bail!("--ws: scenario {s} is not served over WebSocket (throughput scenarios only)")
            }
        }
        o.ws = Some(SocketAddr::new(o.addr.ip(), p));
    }
    if let Some(p) = sub_port {
        if ws {
            bail!("--sub-port is not served over WebSocket");
        }
        o.sub_addr = Some(SocketAddr::new(o.addr.ip(), p));
    }
    o.host = host;
    if !(o.seconds > 0.0 && o.seconds < 86_400.0) {
        bail!("--seconds must be in (0, 86400)");
    }
    if o.batch == 0 || o.pubs == Some(0) || o.subs == Some(0) {
        bail!("--batch, --pubs and --subs must be at least 1");
    }
    Ok(Some(o))
}

// ---------------------------------------------------------------------------------------
// Incremental scanner of what a server sends.

const MAX_LINE: usize = 64 * 1024;
const SEQ_LEN: usize = 16;

/// Counts frames in a byte stream cut at arbitrary points.
#[derive(Default)]
struct Scanner {
    /// A control line not yet ended by `\n`.
    line: Vec<u8>,
    /// Bytes of the current message (payload and its CRLF) still to pass over.
    skip: usize,
    /// Payload bytes of the current message, to know how much of it is still payload.
    payload_left: usize,
    msgs: u64,
    pongs: u64,
    pings: u64,
    infos: u64,
    errs: Vec<String>,
    /// reqrep responder: reply subjects of the messages seen, in order.
    replies: Option<Vec<Vec<u8>>>,
    /// queue: sequence numbers (first 16 hex digits of payloads) seen.
    seqs: Option<SeqSet>,
    cap: [u8; SEQ_LEN],
    cap_len: usize,
}

impl Scanner {
    fn feed(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                if self.seqs.is_some() && self.cap_len < SEQ_LEN {
                    let take = (SEQ_LEN - self.cap_len).min(n).min(self.payload_left);
                    self.cap[self.cap_len..self.cap_len + take].copy_from_slice(&data[..take]);
                    self.cap_len += take;
                }
                self.payload_left = self.payload_left.saturating_sub(n);
                self.skip -= n;
                data = &data[n..];
                if self.skip == 0 {
                    self.finish_msg()?;
                }
                continue;
            }
            match memchr::memchr(b'\n', data) {
                None => {
                    if self.line.len() + data.len() > MAX_LINE {
                        bail!("control line longer than {MAX_LINE} bytes from the server");
                    }
                    self.line.extend_from_slice(data);
                    break;
                }
                Some(i) => {
                    if self.line.is_empty() {
                        self.control(&data[..i])?;
                    } else {
                        let mut line = std::mem::take(&mut self.line);
                        line.extend_from_slice(&data[..i]);
                        let r = self.control(&line);
                        line.clear();
                        self.line = line;
                        r?;
                    }
                    data = &data[i + 1..];
                }
            }
        }
        Ok(())
    }

    fn finish_msg(&mut self) -> Result<()> {
        self.msgs += 1;
        if let Some(seqs) = self.seqs.as_mut() {
            if self.cap_len != SEQ_LEN {
                bail!("message payload shorter than the {SEQ_LEN}-byte sequence number");
            }
            let seq = parse_hex(&self.cap)
                .ok_or_else(|| anyhow!("payload does not start with a sequence number"))?;
            seqs.insert(seq);
            self.cap_len = 0;
        }
        Ok(())
    }

    fn control(&mut self, line: &[u8]) -> Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let op_end = memchr::memchr(b' ', line).unwrap_or(line.len());
        let op = &line[..op_end];
        if op.eq_ignore_ascii_case(b"MSG") || op.eq_ignore_ascii_case(b"HMSG") {
            let toks: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|t| !t.is_empty())
                .collect();
            let hmsg = op.len() == 4;
            // MSG subj sid [reply] size | HMSG subj sid [reply] hdr total
            let (min, max) = if hmsg { (5, 6) } else { (4, 5) };
            if toks.len() < min || toks.len() > max {
                bail!("malformed {}", String::from_utf8_lossy(line));
            }
            let total = toks
                .last()
                .and_then(|t| parse_dec(t))
                .ok_or_else(|| anyhow!("bad size in {}", String::from_utf8_lossy(line)))?;
            let hdr = if hmsg {
                parse_dec(toks[toks.len() - 2]).unwrap_or(0)
            } else {
                0
            };
            if let Some(replies) = self.replies.as_mut() {
                if toks.len() == max {
                    replies.push(toks[3].to_vec());
                }
            }
            // For the sequence capture only the payload after any headers matters; we
            // never publish headers, so pass over them as payload-less bytes.
            self.payload_left = total.saturating_sub(hdr);
            self.skip = total + 2;
            if hdr > 0 && self.seqs.is_some() {
                bail!("unexpected headers on a queue benchmark message");
            }
        } else if op.eq_ignore_ascii_case(b"PING") {
            self.pings += 1;
        } else if op.eq_ignore_ascii_case(b"PONG") {
            self.pongs += 1;
        } else if op.eq_ignore_ascii_case(b"INFO") {
            self.infos += 1;
        } else if op.eq_ignore_ascii_case(b"+OK") {
        } else if op.eq_ignore_ascii_case(b"-ERR") {
            self.errs.push(String::from_utf8_lossy(line).into_owned());
        } else {
            bail!(
                "unexpected from server: {:?}",
                String::from_utf8_lossy(line)
            );
        }
        Ok(())
    }
}

fn parse_dec(t: &[u8]) -> Option<usize> {
    if t.is_empty() || t.len() > 12 {
        return None;
    }
    t.iter().try_fold(0usize, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + usize::from(b - b'0'))
    })
}

fn parse_hex(t: &[u8]) -> Option<u64> {
    t.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(d))
    })
}

fn write_hex(dst: &mut [u8], mut v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in dst.iter_mut().rev() {
        *b = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// A growable bit set of sequence numbers, counting repeats.
#[derive(Default)]
struct SeqSet {
    words: Vec<u64>,
    dups: u64,
}

impl SeqSet {
    fn insert(&mut self, seq: u64) {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        if self.words[w] & (1 << b) != 0 {
            self.dups += 1;
        }
        self.words[w] |= 1 << b;
    }
}

/// Feeds a stream with every kind of frame cut at every point, and byte by byte.
fn scanner_selftest() -> Result<()> {
    let parts: [&[u8]; 7] = [
        b"INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n",
        b"MSG a.b 1 0\r\n\r\n",
        b"MSG a.b 1 reply.x 16\r\n0000000000000001\r\n",
        b"PING\r\n+OK\r\n",
        b"MSG a.b 1 20\r\n0000000000000002\r\nMS\r\n",
        b"HMSG a.b 1 r 12 28\r\nNATS/1.0\r\n\r\n0000000000000003\r\n",
        b"msg a.b 1 17\r\n0000000000000004P\r\nPONG\r\n",
    ];
    let stream = parts.concat();
    // The sequence check refuses empty payloads and headers: leave those frames out.
    let plain: Vec<u8> = [parts[0], parts[2], parts[3], parts[4], parts[6]].concat();
    let check = |cuts: &[usize]| -> Result<()> {
        let mut sc = Scanner {
            replies: Some(Vec::new()),
            ..Scanner::default()
        };
        let mut seq_sc = Scanner {
            seqs: Some(SeqSet::default()),
            ..Scanner::default()
        };
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&stream.len())) {
            sc.feed(&stream[from..to])?;
            from = to;
        }
        for chunk in plain.chunks(cuts.first().copied().unwrap_or(1).max(1)) {
            seq_sc.feed(chunk)?;
        }
        let replies = sc.replies.as_ref().map(Vec::len);
        let bits = seq_sc.seqs.as_ref().map(|s| s.words.first().copied());
        if (sc.msgs, sc.pings, sc.pongs, sc.infos, replies) != (5, 1, 1, 1, Some(2))
            || !sc.line.is_empty()
            || sc.skip != 0
            || seq_sc.msgs != 3
            || bits != Some(Some(0b10110))
        {
            bail!(
                "scanner self-test failed at cuts {cuts:?}: msgs {} pings {} pongs {} replies {replies:?} seq msgs {} bits {bits:?}",
                sc.msgs,
                sc.pings,
                sc.pongs,
                seq_sc.msgs
            );
        }
        Ok(())
    };
    check(&[])?;
    for i in 0..stream.len() {
        check(&[i])?;
    }
    let all: Vec<usize> = (1..stream.len()).collect();
    check(&all)
}

// ---------------------------------------------------------------------------------------
// A connection.

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    sc: Scanner,
    name: String,
    /// `--ws`: the WebSocket framing between this connection and the server.
    ws: Option<Box<ws::Ws>>,
}

impl Conn {
    /// Connects, sends CONNECT + `setup` + PING and waits for the PONG.
    fn open(o: &Opts, name: &str, setup: &[u8], bufsize: usize) -> Result<Conn> {
        let mut c = Conn::start(o, name, setup, bufsize)?;
        c.wait_pongs(1, Instant::now() + o.timeout)?;
        Ok(c)
    }

    /// Connects and sends CONNECT + `setup` + PING without waiting.
    fn start(o: &Opts, name: &str, setup: &[u8], bufsize: usize) -> Result<Conn> {
        let addr = o.ws.unwrap_or(o.addr);
        let s = TcpStream::connect_timeout(&addr, o.timeout)
            .with_context(|| format!("{name}: connecting to {addr}"))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(o.timeout))?;
        s.set_write_timeout(Some(o.timeout))?;
        let mut c = Conn {
            s,
            buf: vec![0; bufsize],
            sc: Scanner::default(),
            name: name.to_string(),
            ws: None,
        };
        if o.ws.is_some() {
            let host = format!("{}:{}", o.host, addr.port());
            let (w, rest) =
                ws::handshake(&mut c.s, &host, o.ws_compress, Instant::now() + o.timeout)
                    .with_context(|| format!("{name}: websocket upgrade at {addr}"))?;
            c.ws = Some(Box::new(w));
            c.feed(&rest)?;
        }
        let mut hello = Vec::with_capacity(CONNECT.len() + setup.len() + 6);
        hello.extend_from_slice(CONNECT);
        hello.extend_from_slice(setup);
        hello.extend_from_slice(b"PING\r\n");
        c.write(&hello)?;
        Ok(c)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        let b = match self.ws.as_mut() {
            Some(w) => w.frame(b)?,
            None => b,
        };
        self.s.write_all(b).map_err(|e| {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                anyhow!(
                    "{}: write blocked longer than the timeout (server stalled?)",
                    self.name
                )
            } else {
                anyhow!("{}: write: {e}", self.name)
            }
        })
    }

    /// One read, fed to the scanner. Returns false if the read timed out. Answers PINGs
    /// and turns `-ERR` and end of stream into errors.
    fn pump(&mut self) -> Result<bool> {
        let n = match self.s.read(&mut self.buf) {
            Ok(0) => bail!(
                "{}: server closed the connection{}",
                self.name,
                self.err_note()
            ),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(false)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(false),
            Err(e) => bail!("{}: read: {e}{}", self.name, self.err_note()),
        };
        let data = std::mem::take(&mut self.buf);
        let r = self.feed(&data[..n]);
        self.buf = data;
        r?;
        Ok(true)
    }

    /// Bytes from the server (WebSocket frames with `--ws`) to the scanner; answers PINGs
    /// (and WebSocket pings) and turns `-ERR` into an error.
    fn feed(&mut self, data: &[u8]) -> Result<()> {
        let r = match self.ws.as_mut() {
            Some(w) => {
                let sc = &mut self.sc;
                w.feed(data, &mut |b: &[u8]| sc.feed(b))
            }
            None => self.sc.feed(data),
        };
        r.with_context(|| self.name.clone())?;
        if let Some(w) = self.ws.as_mut() {
            if !w.reply.is_empty() {
                let reply = std::mem::take(&mut w.reply);
                self.s
                    .write_all(&reply)
                    .with_context(|| format!("{}: websocket pong", self.name))?;
            }
        }
        if !self.sc.errs.is_empty() {
            bail!("{}: server sent {}", self.name, self.sc.errs.join("; "));
        }
        while self.sc.pings > 0 {
            self.sc.pings -= 1;
            self.write(b"PONG\r\n")?;
        }
        Ok(())
    }

    fn err_note(&self) -> String {
        if self.sc.errs.is_empty() {
            String::new()
        } else {
            format!(" after {}", self.sc.errs.join("; "))
        }
    }

    fn wait_pongs(&mut self, n: u64, deadline: Instant) -> Result<()> {
        while self.sc.pongs < n {
            if Instant::now() >= deadline {
                bail!("{}: no PONG within the timeout", self.name);
            }
            self.pump()?;
        }
        Ok(())
    }

    /// PING and wait for the PONG: everything the server had for us before is now read.
    fn flush(&mut self, timeout: Duration) -> Result<()> {
        let want = self.sc.pongs + 1;
        self.write(b"PING\r\n")?;
        self.wait_pongs(want, Instant::now() + timeout)
    }
}

// ---------------------------------------------------------------------------------------
// Throughput scenarios.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    Queue,
    FaninStar,
    FaninGt,
}

#[derive(Clone, Copy, Debug)]
struct Shape {
    pubs: usize,
    subs: usize,
    kind: Kind,
}

impl Shape {
    fn new(pubs: usize, subs: usize, kind: Kind) -> Shape {
        Shape { pubs, subs, kind }
    }
}

const SUBJECTS_FANIN: usize = 1000;

/// The publish buffer: many PUB frames, and where each payload starts.
fn build_buffer(kind: Kind, size: usize) -> (Vec<u8>, Vec<usize>, u64) {
    let payload = vec![b'x'; size];
    let nsubj = match kind {
        Kind::FaninStar | Kind::FaninGt => SUBJECTS_FANIN,
        _ => 1,
    };
    let subject = |i: usize| match kind {
        Kind::Plain => "bench.t".to_string(),
        Kind::Queue => "bench.q".to_string(),
        Kind::FaninStar | Kind::FaninGt => format!("bench.fanin.{i}"),
    };
    let frame_len = format!("PUB {} {size}\r\n", subject(0)).len() + size + 2;
    let mut frames = (128 * 1024usize).div_ceil(frame_len).max(1);
    frames = frames.div_ceil(nsubj) * nsubj;
    let mut buf = Vec::with_capacity(frames * (frame_len + 4));
    let mut offs = Vec::with_capacity(frames);
    for i in 0..frames {
        buf.extend_from_slice(format!("PUB {} {size}\r\n", subject(i % nsubj)).as_bytes());
        offs.push(buf.len());
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(b"\r\n");
    }
    (buf, offs, frames as u64)
}

struct PubResult {
    sent: u64,
    done: Instant,
}

struct SubResult {
    msgs: u64,
    /// --ws: frames received, and compressed messages inflated.
    ws_frames: u64,
    ws_inflated: u64,
    last_rx: Option<Instant>,
    seqs: Option<SeqSet>,
}

fn throughput(o: &Opts, sh: Shape) -> Result<Value> {
    if sh.kind == Kind::Queue && o.size < SEQ_LEN {
        bail!("queue needs --size >= {SEQ_LEN} (payloads carry a sequence number)");
    }
    if sh.kind == Kind::Queue && sh.pubs != 1 {
        bail!("queue takes exactly one publisher");
    }
    let abort = Arc::new(AtomicBool::new(false));
    let expected = Arc::new(AtomicU64::new(u64::MAX)); // per subscriber, or in total (queue)
    let total_rx = Arc::new(AtomicU64::new(0));
    let start_gate = Arc::new(Barrier::new(sh.pubs + sh.subs + 1));
    let hard_deadline = Instant::now() + Duration::from_secs_f64(o.seconds) + o.timeout * 3;
    // Subscribers whose SUB the server acknowledged (for the --sub-port probe).
    let subscribed = Arc::new(AtomicU64::new(0));

    let mut subs = Vec::new();
    for i in 0..sh.subs {
        let o = o.clone();
        let (abort, expected, total_rx, gate, subscribed) = (
            abort.clone(),
            expected.clone(),
            total_rx.clone(),
            start_gate.clone(),
            subscribed.clone(),
        );
        subs.push(thread::spawn(move || -> Result<SubResult> {
            let r = subscriber(
                &o,
                sh,
                i,
                &gate,
                &abort,
                (&expected, &total_rx, &subscribed),
                hard_deadline,
            );
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        }));
    }
    let mut pubs = Vec::new();
    for i in 0..sh.pubs {
        let o = o.clone();
        let (abort, gate) = (abort.clone(), start_gate.clone());
        pubs.push(thread::spawn(move || -> Result<PubResult> {
            let r = publisher(&o, sh, i, &gate, &abort);
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        }));
    }
    let mut errors = Vec::new();
    if let Some(sub_addr) = o.sub_addr.filter(|_| sh.subs > 0) {
        if let Err(e) = probe_interest(o, sub_addr, &subscribed, sh.subs as u64, &abort) {
            abort.store(true, Ordering::Relaxed);
            errors.push(format!("{e:#}"));
        }
    }
    // Every connection is set up (or has failed and aborted) when the gate opens.
    start_gate.wait();
    let start = Instant::now();

    let mut sent = 0u64;
    let mut pub_done = start;
    for h in pubs {
        match h.join() {
            Ok(Ok(r)) => {
                sent += r.sent;
                pub_done = pub_done.max(r.done);
            }
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(_) => errors.push("publisher thread panicked".into()),
        }
    }
    if errors.is_empty() {
        expected.store(sent, Ordering::Release);
    } else {
        abort.store(true, Ordering::Relaxed);
    }
    let mut results = Vec::new();
    for h in subs {
        match h.join() {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(_) => errors.push("subscriber thread panicked".into()),
        }
    }
    if !errors.is_empty() {
        // Other threads' errors are usually just "aborted"; show the real ones first.
        errors.sort_by_key(|e| e.contains("aborted"));
        bail!("{}", errors.join("\n  "));
    }

    let delivered: u64 = results.iter().map(|r| r.msgs).sum();
    match sh.kind {
        Kind::Queue => {
            if delivered != sent {
                bail!("queue group received {delivered} messages in total, {sent} were published");
            }
            let mut seen: Vec<u64> = Vec::new();
            let mut dups = 0u64;
            for r in &results {
                let Some(s) = r.seqs.as_ref() else { continue };
                dups += s.dups;
                if seen.len() < s.words.len() {
                    seen.resize(s.words.len(), 0);
                }
                for (a, b) in seen.iter_mut().zip(&s.words) {
                    dups += u64::from((*a & *b).count_ones());
                    *a |= *b;
                }
            }
            let distinct: u64 = seen.iter().map(|w| u64::from(w.count_ones())).sum();
            let beyond = seen
                .iter()
                .enumerate()
                .flat_map(|(i, w)| {
                    (0..64)
                        .filter(move |b| w & (1 << b) != 0)
                        .map(move |b| i as u64 * 64 + b)
                })
                .any(|s| s >= sent);
            if dups > 0 || distinct != sent || beyond {
                bail!(
                    "queue group: {dups} duplicate deliveries, {} of {sent} sequence numbers missing",
                    sent.saturating_sub(distinct)
                );
            }
        }
        _ => {
            for (i, r) in results.iter().enumerate() {
                if r.msgs != sent {
                    bail!(
                        "subscriber {i} received {} messages, {sent} were published",
                        r.msgs
                    );
                }
            }
        }
    }
    let ws_frames: u64 = results.iter().map(|r| r.ws_frames).sum();
    let ws_inflated: u64 = results.iter().map(|r| r.ws_inflated).sum();
    if o.ws_compress && sh.subs > 0 && ws_inflated == 0 {
        bail!("--ws-compress: the server compressed none of the {ws_frames} frames it sent the subscribers");
    }
    let end = results
        .iter()
        .filter_map(|r| r.last_rx)
        .fold(pub_done, Instant::max);
    let secs = end.duration_since(start).as_secs_f64();
    let pub_secs = pub_done.duration_since(start).as_secs_f64();
    let rate = sent as f64 / secs;
    let mut out = json!({
        "scenario": scenario_name(o, sh),
        "label": o.label,
        "size": o.size,
        "pubs": sh.pubs,
        "subs": sh.subs,
        "msgs": sent,
        "delivered": delivered,
        "seconds": round3(secs),
        "pub_seconds": round3(pub_secs),
        "msgs_per_sec": rate.round(),
        "delivered_per_sec": (delivered as f64 / secs).round(),
        "bytes_per_sec": (rate * o.size as f64).round(),
    });
    if o.ws.is_some() {
        out["ws_frames_to_subs"] = json!(ws_frames);
        out["ws_inflated_msgs"] = json!(ws_inflated);
    }
    Ok(out)
}

fn scenario_name(o: &Opts, sh: Shape) -> String {
    let name = match o.scenario.as_str() {
        "pub" | "pub1" | "pub4" => format!("pub{}", sh.pubs),
        s => s.to_string(),
    };
    match (o.ws.is_some(), o.ws_compress) {
        (false, _) => name,
        (true, false) => format!("ws-{name}"),
        (true, true) => format!("ws-{name}-z"),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// --ws-compress: publish buffers the server has not answered the PING after, at most.
const COMPRESSED_WINDOW: u64 = 16;

fn publisher(
    o: &Opts,
    sh: Shape,
    i: usize,
    gate: &Barrier,
    abort: &AtomicBool,
) -> Result<PubResult> {
    let setup = || -> Result<(Conn, Vec<u8>, Vec<usize>, u64)> {
        let c = Conn::open(o, &format!("publisher {i}"), b"", 4096)?;
        let (buf, offs, frames) = build_buffer(sh.kind, o.size);
        Ok((c, buf, offs, frames))
    };
    let set = setup();
    gate.wait();
    let (mut c, mut buf, offs, frames) = set?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.seconds);
    let mut sent = 0u64;
    // --ws-compress: a compressed buffer is a few hundred bytes, so the socket buffers would
    // hold minutes of work for the server. A PING after each buffer, and at most
    // COMPRESSED_WINDOW buffers unanswered, keep as much in flight as plain TCP does.
    let pong_base = c.sc.pongs;
    let mut pinged = 0u64;
    loop {
        if abort.load(Ordering::Relaxed) {
            bail!("publisher {i}: aborted");
        }
        if sh.kind == Kind::Queue {
            for (k, &off) in offs.iter().enumerate() {
                write_hex(&mut buf[off..off + SEQ_LEN], sent + k as u64);
            }
        }
        c.write(&buf)?;
        sent += frames;
        if o.ws_compress {
            c.write(b"PING\r\n")?;
            pinged += 1;
            while (pong_base + pinged).saturating_sub(c.sc.pongs) > COMPRESSED_WINDOW {
                if !c.pump()? {
                    bail!(
                        "publisher {i}: no PONG within {:?} (server stalled?)",
                        o.timeout
                    );
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if let Some(rate) = o.pub_rate {
            // On schedule: the next buffer when the messages sent so far are due.
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            if due > now {
                thread::sleep((due - now).min(deadline - now));
            }
        }
    }
    // The PONG comes after the server has processed every PUB before the PING.
    c.wait_pongs(pong_base + pinged, Instant::now() + o.timeout)?;
    c.flush(o.timeout)
        .context("waiting for the server to take in everything published")?;
    Ok(PubResult {
        sent,
        done: Instant::now(),
    })
}

#[allow(clippy::too_many_arguments)]
/// `--sub-port`: the subscribers are on another server, whose interest reaches the
/// publishers' server in its own time. Once every subscriber's SUB was acknowledged, a probe
/// subscribes on the subscribers' server after them, and a probe message is published on the
/// publishers' server until it arrives: interest crosses in order, so the subscribers' has
/// crossed too. Bounded by --timeout.
fn probe_interest(
    o: &Opts,
    sub_addr: SocketAddr,
    subscribed: &AtomicU64,
    subs: u64,
    abort: &AtomicBool,
) -> Result<()> {
    let deadline = Instant::now() + o.timeout;
    while subscribed.load(Ordering::Acquire) < subs {
        if abort.load(Ordering::Relaxed) || Instant::now() >= deadline {
            bail!("probe: the subscribers did not subscribe");
        }
        thread::sleep(Duration::from_millis(5));
    }
    let subject = format!("bench.probe.{}", std::process::id());
    let at = Opts {
        addr: sub_addr,
        ..o.clone()
    };
    let mut rx = Conn::open(&at, "probe subscriber", format!("SUB {subject} 1\r\n").as_bytes(), 4096)?;
    rx.s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut tx = Conn::open(o, "probe publisher", b"", 4096)?;
    let msg = format!("PUB {subject} 0\r\n\r\n");
    while Instant::now() < deadline {
        tx.write(msg.as_bytes())?;
        let wait_until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < wait_until {
            rx.pump()?;
            if rx.sc.msgs > 0 {
                return Ok(());
            }
        }
    }
    bail!(
        "probe: nothing published on {} reached {} within {:?} (no link?)",
        o.addr,
        sub_addr,
        o.timeout
    )
}

fn subscriber(
    o: &Opts,
    sh: Shape,
    i: usize,
    gate: &Barrier,
    abort: &AtomicBool,
    (expected, total_rx, subscribed): (&AtomicU64, &AtomicU64, &AtomicU64),
    hard_deadline: Instant,
) -> Result<SubResult> {
    let sub = match sh.kind {
        Kind::Plain => "SUB bench.t 1\r\n",
        Kind::Queue => "SUB bench.q workers 1\r\n",
        Kind::FaninStar => "SUB bench.fanin.* 1\r\n",
        Kind::FaninGt => "SUB bench.fanin.> 1\r\n",
    };
    let name = format!("subscriber {i}");
    let at = Opts {
        addr: o.sub_addr.unwrap_or(o.addr),
        ..o.clone()
    };
    let set = Conn::open(&at, &name, sub.as_bytes(), 256 * 1024).and_then(|c| {
        c.s.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(c)
    });
    subscribed.fetch_add(1, Ordering::Release);
    gate.wait();
    let mut c = set?;
    if sh.kind == Kind::Queue {
        c.sc.seqs = Some(SeqSet::default());
    }
    let mut last_rx = None;
    loop {
        let before = c.sc.msgs;
        let got = c.pump()?;
        if got && c.sc.msgs > before {
            last_rx = Some(Instant::now());
            total_rx.fetch_add(c.sc.msgs - before, Ordering::Relaxed);
        }
        let exp = expected.load(Ordering::Acquire);
        if exp != u64::MAX {
            let done = match sh.kind {
                Kind::Queue => total_rx.load(Ordering::Relaxed) >= exp,
                _ => c.sc.msgs >= exp,
            };
            if done {
                break;
            }
        }
        if abort.load(Ordering::Relaxed) {
            bail!("{name}: aborted");
        }
        if Instant::now() >= hard_deadline {
            let exp = if exp == u64::MAX {
                "publishing had not finished".to_string()
            } else {
                format!("{exp} published")
            };
            bail!(
                "{name}: timed out with {} messages received ({exp}; group total {}); slow consumer?",
                c.sc.msgs,
                total_rx.load(Ordering::Relaxed)
            );
        }
    }
    // Whatever else the server had for us (duplicates) arrives before this PONG.
    c.s.set_read_timeout(Some(o.timeout))?;
    c.flush(o.timeout)?;
    let (ws_frames, ws_inflated) =
        c.ws.as_ref()
            .map_or((0, 0), |w| (w.frames_in, w.inflated_msgs));
    Ok(SubResult {
        msgs: c.sc.msgs,
        ws_frames,
        ws_inflated,
        last_rx,
        seqs: c.sc.seqs.take(),
    })
}

// ---------------------------------------------------------------------------------------
// Request/reply latency.

/// Request/reply through a responder: back to back (`pace` None), or one request every
/// 1/rate seconds, as an application that is not saturating the server sends them.
fn reqrep(o: &Opts, pace: Option<f64>) -> Result<Value> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut responder = Conn::open(o, "responder", b"SUB bench.req 1\r\n", 64 * 1024)?;
    responder
        .s
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    responder.sc.replies = Some(Vec::new());
    let size = o.size;
    let rstop = stop.clone();
    let rh = thread::spawn(move || -> Result<u64> {
        let payload = vec![b'r'; size];
        let mut out = Vec::new();
        let mut n = 0u64;
        while !rstop.load(Ordering::Relaxed) {
            responder.pump()?;
            let Some(replies) = responder.sc.replies.as_mut() else {
                break;
            };
            if replies.is_empty() {
                continue;
            }
            out.clear();
            for r in replies.drain(..) {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(&r);
                out.extend_from_slice(format!(" {size}\r\n").as_bytes());
                out.extend_from_slice(&payload);
                out.extend_from_slice(b"\r\n");
                n += 1;
            }
            responder.write(&out)?;
        }
        Ok(n)
    });
    let result = requester(o, pace);
    stop.store(true, Ordering::Relaxed);
    let served = match rh.join() {
        Ok(r) => r,
        Err(_) => Err(anyhow!("responder thread panicked")),
    };
    let (count, secs, h) = result?;
    served?;
    let us = |v: u64| round3(v as f64 / 1000.0);
    Ok(json!({
        "scenario": if pace.is_some() { "reqrep-paced" } else { "reqrep" },
        "rate": pace,
        "label": o.label,
        "size": o.size,
        "msgs": count,
        "seconds": round3(secs),
        "msgs_per_sec": (count as f64 / secs).round(),
        "bytes_per_sec": (count as f64 / secs * o.size as f64).round(),
        "p50_us": us(h.value_at_quantile(0.50)),
        "p90_us": us(h.value_at_quantile(0.90)),
        "p99_us": us(h.value_at_quantile(0.99)),
        "max_us": us(h.max()),
        "mean_us": round3(h.mean() / 1000.0),
    }))
}

fn requester(o: &Opts, pace: Option<f64>) -> Result<(u64, f64, Histogram<u64>)> {
    let interval = match pace {
        Some(rate) if rate > 0.0 && rate.is_finite() => Some(Duration::from_secs_f64(1.0 / rate)),
        Some(rate) => bail!("--rate must be a positive number, not {rate}"),
        None => None,
    };
    let inbox = format!("bench.reply.{}", fastrand::u64(..));
    let mut c = Conn::open(
        o,
        "requester",
        format!("SUB {inbox} 1\r\n").as_bytes(),
        64 * 1024,
    )?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| anyhow!("histogram: {e}"))?;
    let mut req = format!("PUB bench.req {inbox} {}\r\n", o.size).into_bytes();
    req.extend(std::iter::repeat_n(b'q', o.size));
    req.extend_from_slice(b"\r\n");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.seconds);
    let mut count = 0u64;
    let mut next_send = start;
    while Instant::now() < deadline {
        if let Some(interval) = interval {
            // On schedule, not back to back; a late request goes at once.
            let now = Instant::now();
            if next_send > now {
                thread::sleep(next_send - now);
            }
            next_send += interval;
        }
        let t0 = Instant::now();
        let want = c.sc.msgs + 1;
        c.write(&req)?;
        while c.sc.msgs < want {
            if !c.pump()? || t0.elapsed() > o.timeout {
                bail!(
                    "requester: no reply within {:?} (request {count})",
                    o.timeout
                );
            }
        }
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        h.record(ns.max(1)).map_err(|e| anyhow!("histogram: {e}"))?;
        count += 1;
    }
    Ok((count, start.elapsed().as_secs_f64(), h))
}

// ---------------------------------------------------------------------------------------
// A stuck consumer in a flood: what everybody else sees.

fn slow_consumer(o: &Opts) -> Result<Value> {
    // The stuck consumer: a tiny receive buffer, so the kernel absorbs little, and no reads.
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(o.addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_recv_buffer_size(4096)?;
    sock.connect_timeout(&o.addr.into(), o.timeout)
        .context("stuck consumer: connecting")?;
    let mut stuck: TcpStream = sock.into();
    stuck.set_read_timeout(Some(o.timeout))?;
    let mut hello = CONNECT.to_vec();
    hello.extend_from_slice(b"SUB bench.t 1\r\nPING\r\n");
    stuck
        .write_all(&hello)
        .context("stuck consumer: subscribing")?;
    // Its INFO and PONG stay unread with the rest: a stuck client reads nothing.
    thread::sleep(Duration::from_millis(100));

    let stop = Arc::new(AtomicBool::new(false));
    // A reader that keeps up, so the flood has a real receiver besides the stuck one.
    let mut reader = Conn::open(o, "reader", b"SUB bench.t 1\r\n", 256 * 1024)?;
    reader.s.set_read_timeout(Some(Duration::from_millis(50)))?;
    let rstop = stop.clone();
    let reader_thread = thread::spawn(move || -> Result<u64> {
        while !rstop.load(Ordering::Relaxed) {
            reader.pump()?;
        }
        Ok(reader.sc.msgs)
    });
    let mut publisher = Conn::open(o, "publisher", b"", 4096)?;
    // Plain publish buffers go to `bench.t`.
    let (buf, _, frames) = build_buffer(Kind::Plain, o.size);
    let pstop = stop.clone();
    let started = Instant::now();
    let flood = thread::spawn(move || -> Result<u64> {
        let mut sent = 0u64;
        while !pstop.load(Ordering::Relaxed) {
            publisher.write(&buf)?;
            sent += frames;
        }
        Ok(sent)
    });
    // The bystander: a client with no part in the flood, asking the server for a PONG.
    let mut bystander = Conn::open(o, "bystander", b"", 4096)?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| anyhow!("histogram: {e}"))?;
    let deadline = started + Duration::from_secs_f64(o.seconds);
    let mut pings = 0u64;
    let measured = (|| -> Result<()> {
        while Instant::now() < deadline {
            let t0 = Instant::now();
            bystander.flush(o.timeout)?;
            let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
            h.record(ns.max(1)).map_err(|e| anyhow!("histogram: {e}"))?;
            pings += 1;
            thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let sent = flood
        .join()
        .map_err(|_| anyhow!("publisher thread panicked"))??;
    let delivered = reader_thread
        .join()
        .map_err(|_| anyhow!("reader thread panicked"))??;
    measured?;
    // Cut off? Reading what the server had sent the stuck consumer ends in EOF or a reset.
    stuck.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut scratch = vec![0u8; 1 << 16];
    let mut stuck_bytes = 0usize;
    let cut = loop {
        match stuck.read(&mut scratch) {
            Ok(0) => break true,
            Ok(n) => stuck_bytes += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
        if stuck_bytes > 1 << 30 {
            break false;
        }
    };
    let us = |v: u64| round3(v as f64 / 1000.0);
    Ok(json!({
        "scenario": "slowcons",
        "label": o.label,
        "size": o.size,
        "msgs": sent,
        "seconds": round3(secs),
        "msgs_per_sec": (sent as f64 / secs).round(),
        "delivered": delivered,
        "pings": pings,
        "p50_us": us(h.value_at_quantile(0.50)),
        "p90_us": us(h.value_at_quantile(0.90)),
        "p99_us": us(h.value_at_quantile(0.99)),
        "max_us": us(h.max()),
        "stuck_consumer_cut": cut,
    }))
}

// ---------------------------------------------------------------------------------------
// Idle connections.

fn vm_kb(pid: u32, field: &str) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

fn idle(o: &Opts) -> Result<Value> {
    let need = o.conns as u64 + 64;
    let got = rlimit::increase_nofile_limit(need).context("raising RLIMIT_NOFILE")?;
    if got < need {
        bail!(
            "file-descriptor limit is {got}, {need} needed for {} connections (raise the hard limit: ulimit -Hn)",
            o.conns
        );
    }
    let rss0 = o.server_pid.map(|p| vm_kb(p, "VmRSS")).transpose()?;
    let mut conns: Vec<Conn> = Vec::with_capacity(o.conns);
    let start = Instant::now();
    let deadline = start + o.timeout * 3 + Duration::from_secs(o.conns as u64 / 500);
    while conns.len() < o.conns {
        if Instant::now() > deadline {
            bail!(
                "idle: only {} connections set up before the deadline",
                conns.len()
            );
        }
        let first = conns.len();
        let n = o.batch.min(o.conns - first);
        for k in 0..n {
            let c = Conn::start(o, &format!("idle connection {}", first + k), b"", 1024)?;
            conns.push(c);
        }
        for c in &mut conns[first..] {
            c.wait_pongs(1, Instant::now() + o.timeout)?;
        }
    }
    let connect_secs = start.elapsed().as_secs_f64();
    thread::sleep(Duration::from_secs_f64(o.settle));
    // Every connection still alive?
    for chunk in conns.chunks_mut(o.batch) {
        for c in chunk.iter_mut() {
            c.write(b"PING\r\n")?;
        }
        for c in chunk.iter_mut() {
            c.wait_pongs(2, Instant::now() + o.timeout)?;
        }
    }
    let rss1 = o.server_pid.map(|p| vm_kb(p, "VmRSS")).transpose()?;
    let hwm = o.server_pid.map(|p| vm_kb(p, "VmHWM")).transpose()?;
    drop(conns);
    let per_conn = match (rss0, rss1) {
        (Some(a), Some(b)) => json!(round3((b as f64 - a as f64) * 1024.0 / o.conns as f64)),
        _ => Value::Null,
    };
    Ok(json!({
        "scenario": "idle",
        "label": o.label,
        "size": 0,
        "conns": o.conns,
        "seconds": round3(connect_secs),
        "connect_per_sec": (o.conns as f64 / connect_secs).round(),
        "server_rss_before_kb": rss0,
        "server_rss_after_kb": rss1,
        "server_hwm_kb": hwm,
        "rss_per_conn_bytes": per_conn,
    }))
}

// ---------------------------------------------------------------------------------------
// summarize: the comparison table from compare.sh's JSON lines.

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn fmt_num(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x.abs() >= 1e6 => format!("{:.2}M", x / 1e6),
        Some(x) if x.abs() >= 1e4 => format!("{:.1}k", x / 1e3),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    }
}

/// Values of each metric, per server.
type Metrics = BTreeMap<&'static str, Vec<f64>>;

fn summarize(file: &str) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mut servers: Vec<String> = Vec::new();
    // (scenario, size) in order of appearance -> server -> metric -> values
    let mut order: Vec<(String, u64)> = Vec::new();
    let mut data: BTreeMap<(String, u64), BTreeMap<String, Metrics>> = BTreeMap::new();
    let mut failures: BTreeMap<(String, u64, String), u64> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("{file}:{}: not JSON", n + 1))?;
        let scen = v["scenario"].as_str().unwrap_or("?").to_string();
        let size = v["size"].as_u64().unwrap_or(0);
        let server = v["server"].as_str().unwrap_or("?").to_string();
        if !servers.contains(&server) {
            servers.push(server.clone());
        }
        let key = (scen.clone(), size);
        if !order.contains(&key) {
            order.push(key.clone());
        }
        if v["failed"].as_bool() == Some(true) {
            *failures.entry((scen, size, server)).or_default() += 1;
            continue;
        }
        let m = data.entry(key).or_default().entry(server).or_default();
        for f in [
            "msgs_per_sec",
            "p50_us",
            "p99_us",
            "connect_per_sec",
            "rss_per_conn_bytes",
            "cpu_s",
            "hwm_kb",
            "disk_bytes_per_msg",
        ] {
            if let Some(x) = v[f].as_f64() {
                m.entry(f).or_default().push(x);
            }
        }
    }
    let rounds = data
        .values()
        .flat_map(|m| m.values())
        .filter_map(|m| m.get("cpu_s").or(m.get("msgs_per_sec")).map(Vec::len))
        .max()
        .unwrap_or(0);
    let letters: Vec<String> = (0..servers.len())
        .map(|i| char::from(b'A' + (i % 26) as u8).to_string())
        .collect();
    println!("medians over up to {rounds} runs per server; servers:");
    for (l, s) in letters.iter().zip(&servers) {
        println!("  {l} = {s}");
    }
    println!(
        "A/x = ratio of medians (rates: higher is better for A; latency, B/conn and disk B/msg: lower is better for A); \
         cpu = server CPU seconds per run; rss = server peak RSS (VmHWM) MB"
    );
    // The scenario column fits the longest name (13 at least, as before).
    let sw = order.iter().map(|k| k.0.len()).max().unwrap_or(0).max(13);
    let mut header = format!("{:<sw$} {:>5} {:<11}", "scenario", "size", "metric");
    for l in &letters {
        header += &format!(" {:>10}", l);
    }
    for l in letters.iter().skip(1) {
        header += &format!(" {:>6}", format!("A/{l}"));
    }
    for l in &letters {
        header += &format!(" {:>6}", format!("cpu{l}"));
    }
    for l in &letters {
        header += &format!(" {:>6}", format!("rss{l}"));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let empty = BTreeMap::new();
    for key in &order {
        let per = data.get(key).unwrap_or(&empty);
        let metrics: &[(&str, &str)] = match key.0.as_str() {
            "reqrep" | "reqrep-paced" | "slowcons" => &[("p50_us", "p50 us"), ("p99_us", "p99 us")],
            "js-sync-file" | "js-sync-mem" | "js-kv-put" | "js-kv-get" => &[
                ("msgs_per_sec", "msgs/s"),
                ("p50_us", "p50 us"),
                ("p99_us", "p99 us"),
            ],
            "js-async-file" => &[
                ("msgs_per_sec", "msgs/s"),
                ("disk_bytes_per_msg", "disk B/msg"),
            ],
            "idle" => &[
                ("connect_per_sec", "conn/s"),
                ("rss_per_conn_bytes", "rss B/conn"),
            ],
            _ => &[("msgs_per_sec", "msgs/s")],
        };
        for (mi, (field, label)) in metrics.iter().enumerate() {
            let med = |server: &String, f: &str| {
                let mut v = per.get(server)?.get(f)?.clone();
                median(&mut v)
            };
            let size = if key.0 == "idle" {
                "-".to_string()
            } else {
                key.1.to_string()
            };
            let mut row = format!("{:<sw$} {:>5} {:<11}", key.0, size, label);
            let vals: Vec<Option<f64>> = servers.iter().map(|s| med(s, field)).collect();
            for (s, v) in servers.iter().zip(&vals) {
                let fails = failures
                    .get(&(key.0.clone(), key.1, s.clone()))
                    .copied()
                    .unwrap_or(0);
                let cell = if fails > 0 {
                    format!("{}!{fails}F", fmt_num(*v))
                } else {
                    fmt_num(*v)
                };
                row += &format!(" {cell:>10}");
            }
            for v in vals.iter().skip(1) {
                let ratio = match (vals.first().copied().flatten(), v) {
                    (Some(a), Some(b)) if *b != 0.0 => format!("{:.2}", a / b),
                    _ => "-".into(),
                };
                row += &format!(" {ratio:>6}");
            }
            if mi == 0 {
                for s in &servers {
                    row += &format!(" {:>6}", fmt_num(med(s, "cpu_s")));
                }
                for s in &servers {
                    row += &format!(" {:>6}", fmt_num(med(s, "hwm_kb").map(|k| k / 1024.0)));
                }
            }
            println!("{row}");
        }
    }
    if !failures.is_empty() {
        println!("\nfailed runs (excluded from medians):");
        for ((s, size, server), n) in &failures {
            println!("  {s} size {size} on {server}: {n}");
        }
    }
    Ok(())
}
