//! Stream storage benchmark (issue 16): a segment log of our own against fjall and redb.
//!
//! The workload is a publisher that waits for an ack after every message: one message is
//! appended, made durable to the chosen point (handed to the OS with write(2), or fdatasync
//! for `sync_interval: always`), and only then does the next one start. Single thread.
//!
//! Every engine stores the same record bytes and keeps the same indexes: message by
//! sequence, and last sequence by subject. Time is indexed by the seglog with per-block
//! first/last timestamps; in the two key-value stores time is monotonic in sequence, so a
//! start-by-time is a binary search over the sequence keys and needs no table of its own.
//!
//! Usage: store-bench [--n N] [--size BYTES] [--runs R] [--reads K] [--dir PATH]
//!                    [--engines a,b,...] [--crash a,b,...]
//! Engines: seglog, seglog-always, seglog-always-prealloc, fjall, fjall-always, redb-none, redb

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SUBJECTS: u64 = 1000;
const BLOCK_BYTES: u64 = 8 << 20;

// ---------------------------------------------------------------------------------------------
// The record, shared by all engines:
// [len u32 | seq u64 | ts i64 | subject len u16 | subject | hdr len u32 | headers | payload | crc32]
// `len` counts everything after itself, the crc covers everything before it.

fn encode(buf: &mut Vec<u8>, seq: u64, ts: i64, subject: &str, hdr: &[u8], payload: &[u8]) {
    buf.clear();
    let len = 8 + 8 + 2 + subject.len() + 4 + hdr.len() + payload.len() + 4;
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    buf.extend_from_slice(subject.as_bytes());
    buf.extend_from_slice(&(hdr.len() as u32).to_le_bytes());
    buf.extend_from_slice(hdr);
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(buf);
    buf.extend_from_slice(&crc.to_le_bytes());
}

struct Decoded<'a> {
    seq: u64,
    ts: i64,
    subject: &'a str,
    payload_len: usize,
}

/// Decodes one whole record (with its length prefix) and checks its crc.
fn decode(rec: &[u8]) -> Option<Decoded<'_>> {
    if rec.len() < 4 + 8 + 8 + 2 + 4 + 4 {
        return None;
    }
    let n = rec.len();
    let crc = u32::from_le_bytes(rec[n - 4..].try_into().ok()?);
    if crc32fast::hash(&rec[..n - 4]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(rec[4..12].try_into().ok()?);
    let ts = i64::from_le_bytes(rec[12..20].try_into().ok()?);
    let sl = u16::from_le_bytes(rec[20..22].try_into().ok()?) as usize;
    let subject = std::str::from_utf8(rec.get(22..22 + sl)?).ok()?;
    let hl = u32::from_le_bytes(rec.get(22 + sl..26 + sl)?.try_into().ok()?) as usize;
    let payload_len = n.checked_sub(26 + sl + hl + 4)?;
    Some(Decoded {
        seq,
        ts,
        subject,
        payload_len,
    })
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

// ---------------------------------------------------------------------------------------------
// The store interface the benchmark drives.

trait Store {
    /// Appends one message; when it returns, the message may be acked.
    fn append(&mut self, seq: u64, subject: &str, payload: &[u8]);
    /// Loads a message by sequence, returns its payload length (after checking it).
    fn get(&mut self, seq: u64) -> usize;
    /// Loads the last message on a subject, returns its payload length.
    fn last_by_subject(&mut self, subject: &str) -> usize;
    /// First and last sequence, what a stream needs to know right after opening.
    fn state(&mut self) -> (u64, u64);
}

// ---------------------------------------------------------------------------------------------
// seglog: our own segment log, like nats-server's message blocks.

struct BlockMeta {
    first_seq: u64,
    last_seq: u64,
    first_ts: i64,
    last_ts: i64,
    len: u64,
}

struct SegLog {
    dir: PathBuf,
    always: bool,
    /// Size every new block to 8 MiB up front (sparse, like fjall's journal), so that an
    /// fdatasync after an append does not also have to commit a new file size.
    prealloc: bool,
    /// Open files for reads, one per block (the last one is also written).
    files: Vec<File>,
    blocks: Vec<BlockMeta>,
    /// seq -> (block, offset); seqs are dense, starting at `first_seq`.
    by_seq: Vec<(u32, u32)>,
    first_seq: u64,
    /// subject -> last seq.
    last: HashMap<String, u64>,
    buf: Vec<u8>,
    rbuf: Vec<u8>,
}

impl SegLog {
    fn block_path(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("{:08}.blk", i + 1))
    }

    fn create(dir: &Path, always: bool, prealloc: bool) -> SegLog {
        fs::create_dir_all(dir).unwrap();
        SegLog {
            dir: dir.to_owned(),
            always,
            prealloc,
            files: Vec::new(),
            blocks: Vec::new(),
            by_seq: Vec::new(),
            first_seq: 1,
            last: HashMap::new(),
            buf: Vec::with_capacity(64 << 10),
            rbuf: Vec::with_capacity(64 << 10),
        }
    }

    fn new_block(&mut self, seq: u64, ts: i64) {
        let path = Self::block_path(&self.dir, self.blocks.len());
        let f = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        if self.prealloc {
            f.set_len(BLOCK_BYTES).unwrap();
            f.sync_all().unwrap();
        }
        if self.always {
            // The new file's directory entry must be durable too.
            File::open(&self.dir).unwrap().sync_all().unwrap();
        }
        self.files.push(f);
        self.blocks.push(BlockMeta {
            first_seq: seq,
            last_seq: seq,
            first_ts: ts,
            last_ts: ts,
            len: 0,
        });
    }

    /// Reopens a directory and rebuilds every index by scanning the blocks; a torn or
    /// corrupt tail of the last block is truncated away.
    fn open(dir: &Path, always: bool, prealloc: bool) -> SegLog {
        let mut s = SegLog::create(dir, always, prealloc);
        let mut names: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "blk"))
            .collect();
        names.sort();
        let mut data = Vec::new();
        let nblocks = names.len();
        for (bi, path) in names.iter().enumerate() {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .unwrap();
            data.clear();
            f.read_to_end(&mut data).unwrap();
            let mut off = 0usize;
            let mut meta: Option<BlockMeta> = None;
            while off + 4 <= data.len() {
                let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
                let Some(rec) = data.get(off..off + 4 + len) else {
                    break;
                };
                let Some(d) = decode(rec) else { break };
                if s.by_seq.is_empty() {
                    s.first_seq = d.seq;
                }
                s.by_seq.push((bi as u32, off as u32));
                match s.last.get_mut(d.subject) {
                    Some(v) => *v = d.seq,
                    None => {
                        s.last.insert(d.subject.to_owned(), d.seq);
                    }
                }
                let m = meta.get_or_insert(BlockMeta {
                    first_seq: d.seq,
                    last_seq: d.seq,
                    first_ts: d.ts,
                    last_ts: d.ts,
                    len: 0,
                });
                m.last_seq = d.seq;
                m.last_ts = d.ts;
                off += 4 + len;
            }
            // A zero length is the unwritten (preallocated) rest of the block.
            if off < data.len() && data[off..].iter().any(|&b| b != 0) {
                assert_eq!(bi + 1, nblocks, "corruption inside a sealed block");
                f.set_len(off as u64).unwrap();
                if prealloc {
                    f.set_len(BLOCK_BYTES).unwrap();
                }
            }
            let mut m = meta.unwrap_or(BlockMeta {
                first_seq: 0,
                last_seq: 0,
                first_ts: 0,
                last_ts: 0,
                len: 0,
            });
            m.len = off as u64;
            s.blocks.push(m);
            s.files.push(f);
        }
        s
    }

    fn read_at(&mut self, seq: u64) -> usize {
        let (b, off) = self.by_seq[(seq - self.first_seq) as usize];
        let f = &self.files[b as usize];
        let mut len = [0u8; 4];
        f.read_exact_at(&mut len, off as u64).unwrap();
        let len = u32::from_le_bytes(len) as usize;
        self.rbuf.resize(4 + len, 0);
        f.read_exact_at(&mut self.rbuf, off as u64).unwrap();
        let d = decode(&self.rbuf).expect("bad record");
        assert_eq!(d.seq, seq);
        d.payload_len
    }

    /// Start by time: the first sequence with ts >= t (blocks by their range, then a binary
    /// search inside the block through the seq index).
    #[allow(dead_code)]
    fn seq_for_time(&mut self, t: i64) -> Option<u64> {
        let b = self.blocks.iter().position(|b| b.last_ts >= t)?;
        if t <= self.blocks[b].first_ts {
            return Some(self.blocks[b].first_seq);
        }
        let (mut lo, mut hi) = (self.blocks[b].first_seq, self.blocks[b].last_seq);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (bb, off) = self.by_seq[(mid - self.first_seq) as usize];
            let mut h = [0u8; 20];
            self.files[bb as usize]
                .read_exact_at(&mut h, off as u64)
                .unwrap();
            if i64::from_le_bytes(h[12..20].try_into().unwrap()) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

impl Store for SegLog {
    fn append(&mut self, seq: u64, subject: &str, payload: &[u8]) {
        let ts = now_nanos();
        let mut buf = std::mem::take(&mut self.buf);
        encode(&mut buf, seq, ts, subject, &[], payload);
        if self
            .blocks
            .last()
            .is_none_or(|b| b.len + buf.len() as u64 > BLOCK_BYTES)
        {
            self.new_block(seq, ts);
        }
        let bi = self.blocks.len() - 1;
        let off = self.blocks[bi].len;
        // One write(2) per message: in the OS page cache when we ack, so a SIGKILL loses nothing.
        self.files[bi].write_all_at(&buf, off).unwrap();
        if self.always {
            self.files[bi].sync_data().unwrap();
        }
        let b = &mut self.blocks[bi];
        b.len += buf.len() as u64;
        b.last_seq = seq;
        b.last_ts = ts;
        if self.by_seq.is_empty() {
            self.first_seq = seq;
        }
        self.by_seq.push((bi as u32, off as u32));
        match self.last.get_mut(subject) {
            Some(v) => *v = seq,
            None => {
                self.last.insert(subject.to_owned(), seq);
            }
        }
        self.buf = buf;
    }

    fn get(&mut self, seq: u64) -> usize {
        self.read_at(seq)
    }

    fn last_by_subject(&mut self, subject: &str) -> usize {
        let seq = self.last[subject];
        self.read_at(seq)
    }

    fn state(&mut self) -> (u64, u64) {
        (
            self.first_seq,
            self.first_seq + self.by_seq.len() as u64 - 1,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// fjall: keyspace "msgs" (seq big-endian -> record), keyspace "last" (subject -> seq).

#[cfg(feature = "fjall")]
struct Fjall {
    db: fjall::Database,
    msgs: fjall::Keyspace,
    last: fjall::Keyspace,
    mode: fjall::PersistMode,
    buf: Vec<u8>,
}

#[cfg(feature = "fjall")]
impl Fjall {
    fn open(dir: &Path, always: bool) -> Fjall {
        let db = fjall::Database::builder(dir).open().unwrap();
        let msgs = db
            .keyspace("msgs", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let last = db
            .keyspace("last", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        // Buffer is fjall's default: the journal's BufWriter is flushed to the OS (write(2))
        // before commit returns, which survives a SIGKILL. SyncData adds fdatasync.
        let mode = if always {
            fjall::PersistMode::SyncData
        } else {
            fjall::PersistMode::Buffer
        };
        Fjall {
            db,
            msgs,
            last,
            mode,
            buf: Vec::new(),
        }
    }
}

#[cfg(feature = "fjall")]
impl Store for Fjall {
    fn append(&mut self, seq: u64, subject: &str, payload: &[u8]) {
        encode(&mut self.buf, seq, now_nanos(), subject, &[], payload);
        // Both indexes in one atomic batch, one journal write.
        let mut b = self.db.batch().durability(Some(self.mode));
        b.insert(&self.msgs, seq.to_be_bytes(), self.buf.as_slice());
        b.insert(&self.last, subject, seq.to_be_bytes());
        b.commit().unwrap();
    }

    fn get(&mut self, seq: u64) -> usize {
        let v = self.msgs.get(seq.to_be_bytes()).unwrap().expect("missing");
        decode(&v).expect("bad record").payload_len
    }

    fn last_by_subject(&mut self, subject: &str) -> usize {
        let s = self.last.get(subject).unwrap().expect("missing");
        self.get(u64::from_be_bytes(s[..].try_into().unwrap()))
    }

    fn state(&mut self) -> (u64, u64) {
        let f = self.msgs.first_key_value().unwrap().key().unwrap();
        let l = self.msgs.last_key_value().unwrap().key().unwrap();
        (
            u64::from_be_bytes(f[..].try_into().unwrap()),
            u64::from_be_bytes(l[..].try_into().unwrap()),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// redb: table "msgs" (u64 -> record), table "last" (subject -> u64), one write txn per message.

#[cfg(feature = "redb")]
const MSGS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("msgs");
#[cfg(feature = "redb")]
const LAST: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("last");

#[cfg(feature = "redb")]
struct Redb {
    db: redb::Database,
    durability: redb::Durability,
    buf: Vec<u8>,
}

#[cfg(feature = "redb")]
impl Redb {
    fn open(dir: &Path, immediate: bool) -> Redb {
        fs::create_dir_all(dir).unwrap();
        let db = redb::Database::create(dir.join("stream.redb")).unwrap();
        let durability = if immediate {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        Redb {
            db,
            durability,
            buf: Vec::new(),
        }
    }
}

#[cfg(feature = "redb")]
impl Store for Redb {
    fn append(&mut self, seq: u64, subject: &str, payload: &[u8]) {
        encode(&mut self.buf, seq, now_nanos(), subject, &[], payload);
        let mut tx = self.db.begin_write().unwrap();
        tx.set_durability(self.durability).unwrap();
        {
            let mut m = tx.open_table(MSGS).unwrap();
            m.insert(seq, self.buf.as_slice()).unwrap();
            let mut l = tx.open_table(LAST).unwrap();
            l.insert(subject, seq).unwrap();
        }
        tx.commit().unwrap();
    }

    fn get(&mut self, seq: u64) -> usize {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read().unwrap();
        let t = tx.open_table(MSGS).unwrap();
        let v = t.get(seq).unwrap().expect("missing");
        decode(v.value()).expect("bad record").payload_len
    }

    fn last_by_subject(&mut self, subject: &str) -> usize {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read().unwrap();
        let l = tx.open_table(LAST).unwrap();
        let seq = l.get(subject).unwrap().expect("missing").value();
        let t = tx.open_table(MSGS).unwrap();
        let v = t.get(seq).unwrap().expect("missing");
        decode(v.value()).expect("bad record").payload_len
    }

    fn state(&mut self) -> (u64, u64) {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db.begin_read().unwrap();
        let t = tx.open_table(MSGS).unwrap();
        let f = t.first().unwrap().unwrap().0.value();
        let l = t.last().unwrap().unwrap().0.value();
        (f, l)
    }
}

// ---------------------------------------------------------------------------------------------

fn open(engine: &str, dir: &Path) -> Box<dyn Store> {
    match engine {
        "seglog" | "seglog-always" | "seglog-always-prealloc" => {
            let always = engine != "seglog";
            let prealloc = engine == "seglog-always-prealloc";
            if dir.exists() {
                Box::new(SegLog::open(dir, always, prealloc))
            } else {
                Box::new(SegLog::create(dir, always, prealloc))
            }
        }
        #[cfg(feature = "fjall")]
        "fjall" | "fjall-always" => Box::new(Fjall::open(dir, engine == "fjall-always")),
        #[cfg(feature = "redb")]
        "redb-none" | "redb" => Box::new(Redb::open(dir, engine == "redb")),
        _ => panic!("unknown or disabled engine {engine}"),
    }
}

fn du(dir: &Path) -> u64 {
    let mut total = 0;
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        if m.is_dir() {
            total += du(&e.path());
        } else {
            total += m.blocks() * 512;
        }
    }
    total
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[derive(Clone, Copy, Default)]
struct Result {
    appends_per_s: f64,
    bytes_per_msg: f64,
    read_us: f64,
    last_us: f64,
    reopen_ms: f64,
}

fn run_once(engine: &str, dir: &Path, n: u64, size: usize, reads: u64) -> Result {
    let _ = fs::remove_dir_all(dir);
    let subjects: Vec<String> = (0..SUBJECTS).map(|i| format!("orders.{i}")).collect();
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut store = open(engine, dir);

    let t = Instant::now();
    for seq in 1..=n {
        store.append(seq, &subjects[((seq - 1) % SUBJECTS) as usize], &payload);
    }
    let append = t.elapsed();

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut sum = 0usize;
    let t = Instant::now();
    for _ in 0..reads {
        sum += store.get(1 + rng.next() % n);
    }
    let read = t.elapsed();
    let t = Instant::now();
    for _ in 0..reads {
        let i = (rng.next() % SUBJECTS.min(n)) as usize;
        sum += store.last_by_subject(&subjects[i]);
    }
    let last = t.elapsed();
    assert_eq!(sum, (2 * reads as usize) * size);
    drop(store);

    let bytes = du(dir);
    let t = Instant::now();
    let mut store = open(engine, dir);
    let st = store.state();
    let reopen = t.elapsed();
    assert_eq!(st, (1, n), "{engine}: state after reopen");
    drop(store);
    let _ = fs::remove_dir_all(dir);

    Result {
        appends_per_s: n as f64 / append.as_secs_f64(),
        bytes_per_msg: bytes as f64 / n as f64,
        read_us: us_per(read, reads),
        last_us: us_per(last, reads),
        reopen_ms: reopen.as_secs_f64() * 1e3,
    }
}

fn us_per(d: Duration, k: u64) -> f64 {
    d.as_secs_f64() * 1e6 / k as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `--crash ENGINE`: a child process appends and reports every 1000th acked sequence on
/// stdout; the parent SIGKILLs it mid-stream, reopens the store and checks that every
/// reported (acked) message is there. Shows what survives a process kill, not a power loss.
fn crash_test(engine: &str, dir: &Path, n: u64, size: usize) {
    let _ = fs::remove_dir_all(dir);
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "--crash-child",
            engine,
            "--dir",
            dir.to_str().unwrap(),
            "--n",
            &n.to_string(),
            "--size",
            &size.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut acked = 0u64;
    let mut line = String::new();
    let mut r = std::io::BufReader::new(out);
    while std::io::BufRead::read_line(&mut r, &mut line).unwrap() > 0 {
        acked = line.trim().parse().unwrap();
        line.clear();
        if acked >= n / 2 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let res = std::panic::catch_unwind(|| {
        let mut s = open(engine, dir);
        s.state()
    });
    std::panic::set_hook(hook);
    match res {
        Ok((f, l)) if l >= acked => {
            println!("{engine}: OK, last acked seen {acked}, stored {f}..={l} after SIGKILL")
        }
        Ok((f, l)) => println!("{engine}: LOST acked messages: acked {acked}, stored {f}..={l}"),
        Err(_) => println!("{engine}: LOST everything (reopen found no data), acked {acked}"),
    }
    let _ = fs::remove_dir_all(dir);
}

fn crash_child(engine: &str, dir: &Path, n: u64, size: usize) {
    let payload = vec![7u8; size];
    let mut s = open(engine, dir);
    let mut out = std::io::stdout().lock();
    for seq in 1..=n {
        s.append(seq, &format!("orders.{}", (seq - 1) % SUBJECTS), &payload);
        if seq % 1000 == 0 {
            use std::io::Write;
            writeln!(out, "{seq}").unwrap();
            out.flush().unwrap();
        }
    }
    // Wait to be killed.
    std::thread::sleep(Duration::from_secs(60));
}

fn main() {
    let mut crash: Option<String> = None;
    let mut crash_child_engine: Option<String> = None;
    let mut n: u64 = 200_000;
    let mut size: usize = 16;
    let mut runs = 3;
    let mut reads: u64 = 10_000;
    let mut dir = PathBuf::from("target/store-bench/data");
    let mut engines = String::from("seglog,fjall,redb-none,seglog-always,fjall-always,redb");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--n" => n = v.parse().unwrap(),
            "--size" => size = v.parse().unwrap(),
            "--runs" => runs = v.parse().unwrap(),
            "--reads" => reads = v.parse().unwrap(),
            "--dir" => dir = PathBuf::from(v),
            "--engines" => engines = v,
            "--crash" => crash = Some(v),
            "--crash-child" => crash_child_engine = Some(v),
            "-h" | "--help" => {
                println!("store-bench [--n N] [--size BYTES] [--runs R] [--reads K] [--dir PATH] [--engines seglog,seglog-always,seglog-always-prealloc,fjall,fjall-always,redb-none,redb] [--crash ENGINES]");
                return;
            }
            a => panic!("unknown argument {a}"),
        }
        i += 2;
    }
    if let Some(e) = crash_child_engine {
        return crash_child(&e, &dir, n, size);
    }
    if let Some(list) = crash {
        for e in list.split(',') {
            crash_test(e, &dir.join(format!("crash-{e}")), n, size);
        }
        return;
    }
    println!("n={n} payload={size}B subjects={SUBJECTS} runs={runs} reads={reads} (medians)");
    println!(
        "| engine | appends/s | disk B/msg | get by seq µs | last by subject µs | reopen ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for engine in engines.split(',') {
        let rs: Vec<Result> = (0..runs)
            .map(|_| run_once(engine, &dir.join(engine), n, size, reads))
            .collect();
        let m = |f: fn(&Result) -> f64| median(rs.iter().map(f).collect());
        let all: Vec<String> = rs
            .iter()
            .map(|r| format!("{:.0}", r.appends_per_s))
            .collect();
        println!(
            "| {engine} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} |   (appends/s per run: {})",
            m(|r| r.appends_per_s),
            m(|r| r.bytes_per_msg),
            m(|r| r.read_us),
            m(|r| r.last_us),
            m(|r| r.reopen_ms),
            all.join(", ")
        );
    }
}
