//! The file store: a segment log of our own (docs/storage.md says why, and describes the
//! files under "The store as built").
//!
//! A stream's directory holds numbered block files of records, appended to one at a time;
//! beside a block, its delete file (messages removed from it) and, once it is sealed and
//! fsynced, its index file (so that opening the store reads the index rather than the
//! block). One small state file keeps what no block can say once the blocks are gone: the
//! first sequence after a purge, compact or skip, and the last sequence and time.
//!
//! Durability: an append returns after write(2) of its whole record (SIGKILL-safe); with
//! [`SyncPolicy::Always`] after fdatasync too; with [`SyncPolicy::Interval`] the owner's timer
//! calls [`Store::sync`]. A failed write is cut off again, so the log never holds half a
//! record of ours, and the store goes on as if the append had not been tried.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::index::{Index, PurgePlan};
use super::record::{self, Parsed, KIND_ERASED, KIND_MSG, OVERHEAD};
use super::{
    FileStoreConfig, PurgeRequest, RecoveryReport, Store, StoreError, StoreState, StoredMsg,
    SyncPolicy,
};

/// Where a message's record is: block id, offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    block: u64,
    off: u32,
    len: u32,
}

/// Sealed blocks whose files stay open for reads (and erases); others are opened on demand.
const OPEN_FILES: usize = 16;

/// The resync after a damaged record checks at most this many bytes of crc per byte of the
/// block (plus a fixed allowance), so hostile bytes cannot make recovery quadratic.
const RESYNC_BUDGET_FACTOR: usize = 16;

/// The append buffer is given back when a large message grew it beyond this.
const BUF_KEEP: usize = 1 << 20;

const STATE_FILE: &str = "state";

/// One block file and what the store knows of it.
#[derive(Debug)]
struct Block {
    id: u64,
    /// Bytes in the file (records, and in a sealed block any unreadable tail left as it was).
    bytes: u64,
    /// Sequences of the records in the file, removed ones included; 0 when it has none.
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    /// Messages of this block still in the index.
    live: u64,
    /// No more appends go here.
    sealed: bool,
    /// Its index file is on disk and matches it.
    indexed: bool,
    idx_bytes: u64,
    /// Written since its last fsync.
    dirty: bool,
    del_bytes: u64,
    del_dirty: bool,
}

impl Block {
    fn new(id: u64) -> Self {
        Block {
            id,
            bytes: 0,
            first_seq: 0,
            last_seq: 0,
            last_ts: 0,
            live: 0,
            sealed: false,
            indexed: false,
            idx_bytes: 0,
            dirty: false,
            del_bytes: 0,
            del_dirty: false,
        }
    }

    fn note_record(&mut self, seq: u64, ts: i64) {
        if self.first_seq == 0 || seq < self.first_seq {
            self.first_seq = seq;
        }
        if seq >= self.last_seq {
            self.last_seq = seq;
            self.last_ts = ts;
        }
    }

    fn has_records(&self) -> bool {
        self.first_seq != 0
    }
}

fn block_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.blk"))
}

fn idx_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.idx"))
}

fn del_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.del"))
}

/// The disk (or the file-size limit) refused: [`StoreError::Full`]; anything else is I/O.
fn classify(e: io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded => {
            StoreError::Full(e)
        }
        _ => StoreError::Io(e),
    }
}

#[cfg(unix)]
fn write_all_at(f: &File, buf: &[u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, off)
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
}

#[cfg(windows)]
fn write_all_at(f: &File, mut buf: &[u8], mut off: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_write(buf, off) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = buf.get(n..).unwrap_or_default();
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut off: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, off) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = buf.get_mut(n..).unwrap_or_default();
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the directory's entries (files created, renamed, removed) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory to flush it; NTFS journals its metadata.
#[cfg(windows)]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a small file whole or not at all: a temporary file renamed over it. `durable`
/// fsyncs the file before the rename and the directory after; without it a crash may leave
/// the old file, or (power loss) a new one that fails its crc, never a mix that passes.
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        write_all_at(&f, bytes, 0)?;
        if durable {
            f.sync_data()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn read_file(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Open files of sealed blocks, least recently used first.
#[derive(Debug, Default)]
struct OpenBlocks(Mutex<Vec<(u64, Arc<File>)>>);

impl OpenBlocks {
    fn get(&self, dir: &Path, id: u64) -> io::Result<Arc<File>> {
        let mut open = self.0.lock();
        if let Some(i) = open.iter().position(|(b, _)| *b == id) {
            let entry = open.remove(i);
            let file = entry.1.clone();
            open.push(entry);
            return Ok(file);
        }
        let file = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(block_path(dir, id))?,
        );
        if open.len() >= OPEN_FILES {
            open.remove(0);
        }
        open.push((id, file.clone()));
        Ok(file)
    }

    fn put(&self, id: u64, file: Arc<File>) {
        let mut open = self.0.lock();
        open.retain(|(b, _)| *b != id);
        if open.len() >= OPEN_FILES {
            open.remove(0);
        }
        open.push((id, file));
    }

    fn forget(&self, id: u64) {
        self.0.lock().retain(|(b, _)| *b != id);
    }
}

/// The block appends go to.
#[derive(Debug)]
struct Current {
    id: u64,
    file: Arc<File>,
}

/// A stream's messages on disk (`storage: file`).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    block_size: u64,
    sync: SyncPolicy,
    index: Index<Loc>,
    blocks: BTreeMap<u64, Block>,
    /// `None` when the next append starts a new block.
    cur: Option<Current>,
    open: OpenBlocks,
    /// The delete file last written to, kept open: removals come in runs on one block.
    del_file: Option<(u64, File)>,
    state_bytes: u64,
    /// Files were created or removed since the directory's last fsync.
    dir_dirty: bool,
    buf: Vec<u8>,
    /// The records appended last, by sequence, with no gap: consumers mostly read what was
    /// just stored, and find it here instead of on the disk (nats-server keeps its last
    /// block's cache in memory the same way).
    recent: VecDeque<(u64, Bytes)>,
    recent_bytes: usize,
}

/// How many bytes of just-appended records a file store keeps in memory.
const RECENT_BYTES: usize = 8 * 1024 * 1024;

/// A record found by scanning a block.
struct Scanned<'a> {
    kind: u8,
    seq: u64,
    ts: i64,
    off: usize,
    total: usize,
    subject: &'a str,
    size: u64,
}

/// What scanning a block found.
struct Scan<'a> {
    records: Vec<Scanned<'a>>,
    /// Byte ranges that held no readable record and were skipped.
    bad: Vec<(usize, usize)>,
    /// The end of the last readable record; what lies after it is a torn (or damaged) tail.
    end: usize,
}

/// Reads a block's records in order. A record that does not parse is skipped up to the next
/// one that does (with a sequence above the last good one); if none follows, the scan ends
/// there and the rest is the block's unreadable tail.
fn scan<'a>(data: &'a [u8], deleted: &HashSet<u64>) -> Scan<'a> {
    let mut out = Scan {
        records: Vec::new(),
        bad: Vec::new(),
        end: 0,
    };
    let mut budget = data
        .len()
        .saturating_mul(RESYNC_BUDGET_FACTOR)
        .saturating_add(1 << 20);
    let mut prev: Option<u64> = None;
    let mut off = 0usize;
    while off < data.len() {
        let rest = data.get(off..).unwrap_or_default();
        if let Parsed::Ok(r) = record::parse(rest) {
            if prev.is_none_or(|p| r.seq > p) {
                out.records.push(Scanned {
                    kind: r.kind,
                    seq: r.seq,
                    ts: r.ts,
                    off,
                    total: r.total,
                    subject: r.subject,
                    size: r.size(),
                });
                prev = Some(r.seq);
                off += r.total;
                out.end = off;
                continue;
            }
        }
        // An erase torn by a crash: the delete was written before it, so the sequence in the
        // record's head (an erase never changes it, nor the length) is a removed one.
        if let (Some(total), Some(seq), Some(ts)) = (
            record::declared_total(rest),
            record::head_seq(rest),
            record::head_ts(rest),
        ) {
            if deleted.contains(&seq)
                && total >= OVERHEAD
                && total <= rest.len()
                && prev.is_none_or(|p| seq > p)
            {
                out.records.push(Scanned {
                    kind: KIND_ERASED,
                    seq,
                    ts,
                    off,
                    total,
                    subject: "",
                    size: 0,
                });
                prev = Some(seq);
                off += total;
                out.end = off;
                continue;
            }
        }
        match resync(data, off + 1, prev, &mut budget) {
            Some(next) => {
                out.bad.push((off, next));
                off = next;
            }
            None => break,
        }
    }
    out
}

/// The offset of the next readable record at or after `from` with a sequence above `prev`.
fn resync(data: &[u8], from: usize, prev: Option<u64>, budget: &mut usize) -> Option<usize> {
    for at in from..data.len() {
        let rest = data.get(at..)?;
        // Fewer than 4 bytes left: no record can start here or later.
        let total = record::declared_total(rest)?;
        if total < OVERHEAD || total > rest.len() {
            continue;
        }
        if !matches!(rest.get(4), Some(&KIND_MSG) | Some(&KIND_ERASED)) {
            continue;
        }
        if prev.is_some_and(|p| record::head_seq(rest).is_none_or(|s| s <= p)) {
            continue;
        }
        *budget = budget.checked_sub(total)?;
        if let Parsed::Ok(_) = record::parse(rest) {
            return Some(at);
        }
    }
    None
}

/// What the directory holds, by kind of file.
#[derive(Default)]
struct Listing {
    blocks: Vec<u64>,
    idx: Vec<u64>,
    del: Vec<u64>,
    tmp: Vec<PathBuf>,
}

fn list(dir: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".tmp") {
            out.tmp.push(path);
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(id) = stem.parse::<u64>() else {
            continue;
        };
        match ext {
            "blk" => out.blocks.push(id),
            "idx" => out.idx.push(id),
            "del" => out.del.push(id),
            _ => {}
        }
    }
    out.blocks.sort_unstable();
    Ok(out)
}

impl FileStore {
    /// Opens (or creates) the store in `cfg.dir`, recovering what a crash left: a torn tail
    /// of the last block is cut, unreadable records elsewhere are skipped, and the report
    /// says what was found. Errors only when the directory or a file cannot be read at all.
    pub fn open(cfg: FileStoreConfig) -> Result<(FileStore, RecoveryReport), StoreError> {
        fs::create_dir_all(&cfg.dir)?;
        let mut report = RecoveryReport::default();
        let listing = list(&cfg.dir)?;
        for tmp in &listing.tmp {
            let _ = fs::remove_file(tmp);
        }
        let state_path = cfg.dir.join(STATE_FILE);
        let floor = match read_file(&state_path)? {
            None => None,
            Some(b) => {
                let parsed = record::parse_state(&b);
                if parsed.is_none() {
                    report
                        .damaged
                        .push((state_path.clone(), "unreadable state file, ignored".into()));
                }
                parsed
            }
        };
        let mut store = FileStore {
            dir: cfg.dir.clone(),
            // A block offset is a u32.
            block_size: cfg.block_size.min(u64::from(u32::MAX)),
            sync: cfg.sync,
            index: Index::new(floor.map_or(1, |f| f.first_seq)),
            blocks: BTreeMap::new(),
            cur: None,
            open: OpenBlocks::default(),
            del_file: None,
            state_bytes: if floor.is_some() {
                fs::metadata(&state_path).map_or(0, |m| m.len())
            } else {
                0
            },
            dir_dirty: false,
            buf: Vec::new(),
            recent: VecDeque::new(),
            recent_bytes: 0,
        };
        let floor_seq = floor.map_or(0, |f| f.first_seq);
        let blocks: HashSet<u64> = listing.blocks.iter().copied().collect();
        for id in listing.idx.iter().chain(&listing.del) {
            if !blocks.contains(id) {
                let _ = remove_if_there(&idx_path(&cfg.dir, *id));
                let _ = remove_if_there(&del_path(&cfg.dir, *id));
            }
        }
        let mut last_file = None;
        for (i, &id) in listing.blocks.iter().enumerate() {
            let last = i + 1 == listing.blocks.len();
            if let Some(file) = store.recover_block(id, last, floor_seq, &mut report)? {
                last_file = Some(Current { id, file });
            }
        }
        if let Some(f) = floor {
            store.index.restore_last(f.last_seq, f.last_ts);
        }
        store.cur = last_file;
        store.drop_dead_blocks(floor_seq);
        // Sealed blocks that were read by scanning get the index they lacked, once they are
        // known to be on disk.
        let unindexed: Vec<u64> = store
            .blocks
            .values()
            .filter(|b| b.sealed && !b.indexed)
            .map(|b| b.id)
            .collect();
        for id in unindexed {
            let synced = store.open.get(&store.dir, id).and_then(|f| f.sync_data());
            if synced.is_ok() {
                let _ = store.write_index(id);
            }
        }
        report.msgs = store.index.len();
        Ok((store, report))
    }

    /// Reads one block into the index; returns its file when it is the last block (the one
    /// appends continue in).
    fn recover_block(
        &mut self,
        id: u64,
        last: bool,
        floor: u64,
        report: &mut RecoveryReport,
    ) -> Result<Option<Arc<File>>, StoreError> {
        let path = block_path(&self.dir, id);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let file_len = file.metadata()?.len();
        let mut block = Block::new(id);
        block.bytes = file_len;

        let dpath = del_path(&self.dir, id);
        let mut deleted = HashSet::new();
        if let Some(b) = read_file(&dpath)? {
            let dels = record::parse_dels(&b);
            for i in &dels.bad {
                report.damaged.push((
                    dpath.clone(),
                    format!("delete entry {i} unreadable, skipped"),
                ));
            }
            if dels.valid_len < b.len() {
                OpenOptions::new()
                    .write(true)
                    .open(&dpath)?
                    .set_len(dels.valid_len as u64)?;
                report
                    .torn_tails
                    .push((dpath.clone(), (b.len() - dels.valid_len) as u64));
            }
            block.del_bytes = dels.valid_len as u64;
            deleted.extend(dels.seqs);
        }

        let ipath = idx_path(&self.dir, id);
        let index_bytes = if last {
            // The last block may grow: an index of it is stale by definition.
            let _ = remove_if_there(&ipath);
            None
        } else {
            read_file(&ipath)?
        };
        let index = index_bytes
            .as_deref()
            .and_then(|b| record::parse_index(b, id, file_len));

        if let Some(index) = index {
            block.sealed = true;
            block.indexed = true;
            block.idx_bytes = index_bytes.as_ref().map_or(0, |b| b.len() as u64);
            block.note_record(index.first_seq, 0);
            block.note_record(index.last_seq, index.last_ts);
            for e in &index.entries {
                // Checked when the index was parsed.
                let subject = index
                    .subjects
                    .get(e.subject as usize)
                    .copied()
                    .unwrap_or("");
                if e.seq < floor || deleted.contains(&e.seq) {
                    self.index.advance_last(e.seq, e.ts);
                    continue;
                }
                let loc = Loc {
                    block: id,
                    off: e.off,
                    len: e.len,
                };
                if self.index.insert(e.seq, subject, e.ts, e.size, loc) {
                    block.live += 1;
                } else {
                    report.damaged.push((
                        ipath.clone(),
                        format!("sequence {} out of order, skipped", e.seq),
                    ));
                }
            }
            // The block's last record may be a removed one the entries no longer list.
            self.index.advance_last(index.last_seq, index.last_ts);
            self.blocks.insert(id, block);
            return Ok(None);
        }

        if u32::try_from(file_len).is_err() {
            report.damaged.push((
                path,
                format!("{file_len} bytes: too large for a block, skipped"),
            ));
            // Kept in the map so that its name is not given to a new block.
            block.sealed = true;
            self.blocks.insert(id, block);
            return Ok(None);
        }
        let data = fs::read(&path)?;
        let found = scan(&data, &deleted);
        for (from, to) in &found.bad {
            report.damaged.push((
                path.clone(),
                format!("bytes {from}..{to} unreadable, skipped"),
            ));
        }
        for r in &found.records {
            block.note_record(r.seq, r.ts);
            if r.seq < floor {
                continue;
            }
            if r.kind != KIND_MSG || deleted.contains(&r.seq) {
                self.index.advance_last(r.seq, r.ts);
                continue;
            }
            // The scan keeps offsets below the file's length, which fits a u32.
            let loc = Loc {
                block: id,
                off: r.off as u32,
                len: r.total as u32,
            };
            if self.index.insert(r.seq, r.subject, r.ts, r.size, loc) {
                block.live += 1;
            } else {
                report.damaged.push((
                    path.clone(),
                    format!("sequence {} out of order, skipped", r.seq),
                ));
            }
        }
        if found.end < data.len() {
            let cut = (data.len() - found.end) as u64;
            if last {
                file.set_len(found.end as u64)?;
                block.bytes = found.end as u64;
                report.torn_tails.push((path, cut));
            } else {
                report.damaged.push((
                    path,
                    format!(
                        "bytes {}..{}: unreadable tail, skipped",
                        found.end,
                        data.len()
                    ),
                ));
            }
        }
        block.sealed = !last;
        self.blocks.insert(id, block);
        Ok(last.then(|| Arc::new(file)))
    }

    /// After recovery: removes blocks that hold nothing the store still needs (all below the
    /// floor, the leftovers of an interrupted purge; or all removed, unless the last
    /// sequence lives in them).
    fn drop_dead_blocks(&mut self, floor: u64) {
        let mut later_has_records = false;
        let mut dead = Vec::new();
        for b in self.blocks.values().rev() {
            let below_floor = b.has_records() && b.last_seq < floor;
            let empty = b.live == 0 && b.has_records() && later_has_records;
            if below_floor || empty {
                dead.push(b.id);
            }
            later_has_records |= b.has_records();
        }
        for id in dead {
            let _ = self.delete_block(id);
        }
    }

    fn durable(&self) -> bool {
        self.sync == SyncPolicy::Always
    }

    fn block_file(&self, id: u64) -> io::Result<Arc<File>> {
        match &self.cur {
            Some(cur) if cur.id == id => Ok(cur.file.clone()),
            _ => self.open.get(&self.dir, id),
        }
    }

    /// The record of `seq` when it is among the last appended.
    fn recent_record(&self, seq: u64) -> Option<Bytes> {
        let first = self.recent.front()?.0;
        let (at, bytes) = self
            .recent
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)?;
        (*at == seq).then(|| bytes.clone())
    }

    /// Keeps a just-written record in [`FileStore::recent`], dropping the oldest past
    /// [`RECENT_BYTES`]; a jump in sequences (a compaction) starts over.
    fn remember(&mut self, seq: u64, record: &[u8]) {
        if self.recent.back().is_some_and(|(last, _)| *last + 1 != seq) {
            self.recent.clear();
            self.recent_bytes = 0;
        }
        self.recent.push_back((seq, Bytes::copy_from_slice(record)));
        self.recent_bytes += record.len();
        while self.recent_bytes > RECENT_BYTES {
            match self.recent.pop_front() {
                Some((_, old)) => self.recent_bytes -= old.len(),
                None => break,
            }
        }
    }

    fn read_msg(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        let Some(entry) = self.index.get(seq) else {
            return Ok(None);
        };
        let loc = entry.loc;
        let bytes = match self.recent_record(seq) {
            Some(bytes) => bytes,
            None => {
                let file = self.block_file(loc.block)?;
                let mut buf = vec![0u8; loc.len as usize];
                match read_exact_at(&file, &mut buf, u64::from(loc.off)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Err(StoreError::Damaged { seq })
                    }
                    Err(e) => return Err(e.into()),
                }
                Bytes::from(buf)
            }
        };
        let (subject, headers, payload) = {
            let r = record::parse_msg(&bytes, seq).ok_or(StoreError::Damaged { seq })?;
            let (h, p) = r.body_ranges();
            (r.subject.to_owned(), h, p)
        };
        if payload.end > bytes.len() {
            return Err(StoreError::Damaged { seq });
        }
        Ok(Some(StoredMsg {
            subject,
            seq,
            time: entry.time,
            headers: bytes.slice(headers),
            payload: bytes.slice(payload),
        }))
    }

    /// Starts a block for the next append, whose sequence is `seq`, and seals the one
    /// before. A block is named after the sequence of its first record, or after the last
    /// block's name + 1 if that is more (when a file lied about its name): names only grow.
    fn start_block(&mut self, seq: u64) -> Result<(), StoreError> {
        let after_last = self
            .blocks
            .keys()
            .next_back()
            .map_or(0, |k| k.saturating_add(1));
        let id = seq.max(after_last);
        let path = block_path(&self.dir, id);
        // No block the store knows has this name, so a file of that name can only be an
        // empty one a failed append left.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(classify)?;
        if self.durable() {
            sync_dir(&self.dir).map_err(classify)?;
        } else {
            self.dir_dirty = true;
        }
        if let Some(prev) = self.cur.take() {
            self.open.put(prev.id, prev.file);
            if let Some(b) = self.blocks.get_mut(&prev.id) {
                b.sealed = true;
            }
            // With `always` every record is already on disk; otherwise `sync` writes the
            // index once it has fsynced the block.
            if self.durable() {
                let _ = self.write_index(prev.id);
            }
        }
        self.blocks.insert(id, Block::new(id));
        self.cur = Some(Current {
            id,
            file: Arc::new(file),
        });
        Ok(())
    }

    /// Takes back a block started for an append that failed, so that the last block is
    /// always the one holding the last record.
    fn abandon_block(&mut self, id: u64) {
        self.cur = None;
        self.blocks.remove(&id);
        if remove_if_there(&block_path(&self.dir, id)).is_ok() {
            self.dir_dirty = true;
        }
    }

    fn append_record(
        &mut self,
        buf: &mut Vec<u8>,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        time: i64,
    ) -> Result<u64, StoreError> {
        let seq = self
            .index
            .last_seq()
            .checked_add(1)
            .ok_or_else(super::seq_exhausted)?;
        record::encode(
            buf,
            KIND_MSG,
            seq,
            time,
            subject.as_bytes(),
            headers,
            payload,
        )?;
        let total = buf.len() as u64;
        let fresh = match &self.cur {
            None => true,
            Some(cur) => {
                let used = self.blocks.get(&cur.id).map_or(0, |b| b.bytes);
                used > 0 && (used + total > self.block_size || used + total > u64::from(u32::MAX))
            }
        };
        if fresh {
            self.start_block(seq)?;
        }
        let Some(cur) = &self.cur else {
            return Err(StoreError::Io(io::Error::other("no block to append to")));
        };
        let (id, file) = (cur.id, cur.file.clone());
        let off = self.blocks.get(&id).map_or(0, |b| b.bytes);
        let written = write_all_at(&file, buf, off).and_then(|()| {
            if self.durable() {
                file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // No half record may stay: a later append would land after it, and recovery
            // would take the garbage for damage.
            let _ = file.set_len(off);
            if fresh {
                self.abandon_block(id);
            }
            return Err(classify(e));
        }
        let durable = self.durable();
        let Some(block) = self.blocks.get_mut(&id) else {
            return Err(StoreError::Io(io::Error::other("block vanished")));
        };
        block.bytes = off + total;
        block.dirty = !durable;
        block.note_record(seq, time);
        block.live += 1;
        let size = super::file_msg_size(subject.len(), headers.len(), payload.len());
        let loc = Loc {
            block: id,
            off: off as u32,
            len: total as u32,
        };
        self.index.insert(seq, subject, time, size, loc);
        self.remember(seq, buf);
        if fresh {
            // The block before may have been emptied while it was the last: now that a later
            // record holds the last sequence it can go.
            let before = self
                .blocks
                .range(..id)
                .next_back()
                .map(|(_, b)| (b.id, b.live));
            if let Some((before, 0)) = before {
                let _ = self.delete_block(before);
            }
        }
        Ok(seq)
    }

    /// Writes the index file of a sealed block (its records must be on disk).
    fn write_index(&mut self, id: u64) -> io::Result<()> {
        let Some(b) = self.blocks.get(&id) else {
            return Ok(());
        };
        if !b.has_records() {
            return Ok(());
        }
        let mut subjects: Vec<&str> = Vec::new();
        let mut numbers: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut entries = Vec::with_capacity(usize::try_from(b.live).unwrap_or(0));
        for (seq, e) in self.index.range(b.first_seq..=b.last_seq) {
            if e.loc.block != id {
                continue;
            }
            let name = self.index.subject(e);
            let subject = *numbers.entry(name).or_insert_with(|| {
                subjects.push(name);
                (subjects.len() - 1) as u32
            });
            entries.push(record::IdxEntry {
                seq,
                off: e.loc.off,
                len: e.loc.len,
                ts: e.time,
                subject,
                size: self.index.size(seq, e),
            });
        }
        let idx = record::BlockIndex {
            id,
            bytes: b.bytes,
            first_seq: b.first_seq,
            last_seq: b.last_seq,
            last_ts: b.last_ts,
            subjects,
            entries,
        };
        let bytes = record::encode_index(&idx);
        // Not fsynced: a lost or torn index fails its crc or its length check, and the block
        // is scanned instead.
        write_atomic(&self.dir, &idx_path(&self.dir, id), &bytes, false)?;
        if let Some(b) = self.blocks.get_mut(&id) {
            b.indexed = true;
            b.idx_bytes = bytes.len() as u64;
        }
        self.dir_dirty = true;
        Ok(())
    }

    /// Removes a block's files and forgets it (its messages must be out of the index, or
    /// are taken out by the caller).
    fn delete_block(&mut self, id: u64) -> Result<(), StoreError> {
        self.open.forget(id);
        if self.del_file.as_ref().is_some_and(|(b, _)| *b == id) {
            self.del_file = None;
        }
        let was_current = self.cur.as_ref().is_some_and(|c| c.id == id);
        if was_current {
            self.cur = None;
        }
        remove_if_there(&block_path(&self.dir, id))?;
        self.blocks.remove(&id);
        // Leftovers of these are removed at the next open.
        let _ = remove_if_there(&idx_path(&self.dir, id));
        let _ = remove_if_there(&del_path(&self.dir, id));
        self.dir_dirty = true;
        Ok(())
    }

    /// Appends delete entries for `seqs` (all in block `id`) to its delete file.
    fn write_deletes(&mut self, id: u64, seqs: &[u64]) -> Result<(), StoreError> {
        let mut buf = Vec::with_capacity(seqs.len() * record::DEL_ENTRY);
        for seq in seqs {
            record::encode_del(&mut buf, *seq);
        }
        let off = self.blocks.get(&id).map_or(0, |b| b.del_bytes);
        if self.del_file.as_ref().is_none_or(|(b, _)| *b != id) {
            let path = del_path(&self.dir, id);
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(classify)?;
            if off == 0 {
                if self.durable() {
                    sync_dir(&self.dir).map_err(classify)?;
                } else {
                    self.dir_dirty = true;
                }
            }
            self.del_file = Some((id, file));
        }
        let Some((_, file)) = &self.del_file else {
            return Err(StoreError::Io(io::Error::other("no delete file")));
        };
        let durable = self.durable();
        let written =
            write_all_at(file, &buf, off).and_then(
                |()| {
                    if durable {
                        file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            );
        if let Err(e) = written {
            let _ = file.set_len(off);
            return Err(classify(e));
        }
        if let Some(b) = self.blocks.get_mut(&id) {
            b.del_bytes = off + buf.len() as u64;
            b.del_dirty = !durable;
        }
        Ok(())
    }

    /// Overwrites a removed message's record with its erased form (same length, sequence
    /// and time; subject, headers and payload zeroed).
    fn erase_record(&mut self, seq: u64, time: i64, loc: Loc) -> Result<(), StoreError> {
        let mut buf = Vec::new();
        record::encode_erased(&mut buf, seq, time, loc.len as usize);
        let file = self.block_file(loc.block)?;
        write_all_at(&file, &buf, u64::from(loc.off)).map_err(classify)?;
        if self.durable() {
            file.sync_data()?;
        } else if let Some(b) = self.blocks.get_mut(&loc.block) {
            b.dirty = true;
        }
        Ok(())
    }

    /// Removes the messages `seqs` (stored, ascending), block by block: a block left with
    /// nothing goes whole (unless appends go there), the others get delete entries. With
    /// `erase` each record is overwritten too, after its delete entry is written, so that an
    /// erase torn by a crash is known for a removed message rather than taken for damage.
    /// Returns how many were removed.
    fn remove_many(&mut self, seqs: &[u64], erase: bool) -> Result<u64, StoreError> {
        let mut by_block: BTreeMap<u64, Vec<(u64, i64, Loc)>> = BTreeMap::new();
        for &seq in seqs {
            if let Some(e) = self.index.get(seq) {
                by_block
                    .entry(e.loc.block)
                    .or_default()
                    .push((seq, e.time, e.loc));
            }
        }
        let mut removed = 0;
        for (id, msgs) in by_block {
            let is_current = self.cur.as_ref().is_some_and(|c| c.id == id);
            let live = self.blocks.get(&id).map_or(0, |b| b.live);
            let whole = msgs.len() as u64 >= live && !is_current;
            if whole {
                if erase {
                    for &(seq, time, loc) in &msgs {
                        self.erase_record(seq, time, loc)?;
                    }
                    // The zeros must reach the disk before the file is let go.
                    self.block_file(id)?.sync_data()?;
                }
                self.delete_block(id)?;
            } else {
                let just: Vec<u64> = msgs.iter().map(|m| m.0).collect();
                self.write_deletes(id, &just)?;
            }
            for (seq, _, _) in &msgs {
                if self.index.remove(*seq).is_some() {
                    removed += 1;
                }
            }
            if let Some(b) = self.blocks.get_mut(&id) {
                b.live = b.live.saturating_sub(msgs.len() as u64);
            }
            if erase && !whole {
                // The messages are removed (their delete entries are written) whether or not
                // the overwrite below succeeds.
                for &(seq, time, loc) in &msgs {
                    self.erase_record(seq, time, loc)?;
                }
            }
        }
        // A block removed whole had no delete entries: with `always` its removal must be
        // on disk too, or power loss would bring its messages back.
        if self.durable() && self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(removed)
    }

    /// Removes every message below `floor` (which becomes the first sequence; past the end
    /// it also becomes the next one appended). The state file remembers the floor before any
    /// block goes, so a crash in between only leaves blocks the next open removes.
    fn compact_to(&mut self, floor: u64) -> Result<u64, StoreError> {
        if floor <= self.index.first_seq() {
            return Ok(0);
        }
        let state = record::StoreFloor {
            first_seq: floor,
            last_seq: self.index.last_seq().max(floor - 1),
            last_ts: self.index.last_time(),
        };
        let bytes = record::encode_state(&state);
        write_atomic(&self.dir, &self.dir.join(STATE_FILE), &bytes, true).map_err(classify)?;
        self.state_bytes = bytes.len() as u64;
        let removed = self.index.compact(floor);
        for (_, e) in &removed {
            if let Some(b) = self.blocks.get_mut(&e.loc.block) {
                b.live = b.live.saturating_sub(1);
            }
        }
        let gone: Vec<u64> = self
            .blocks
            .values()
            .filter(|b| b.last_seq < floor)
            .map(|b| b.id)
            .collect();
        for id in gone {
            // The floor is on disk: a block that cannot be removed now is removed at the next
            // open, and nothing of it is read before that.
            let _ = self.delete_block(id);
        }
        if self.durable() && self.dir_dirty && sync_dir(&self.dir).is_ok() {
            self.dir_dirty = false;
        }
        Ok(removed.len() as u64)
    }
}

impl Store for FileStore {
    fn append(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        time: i64,
    ) -> Result<u64, StoreError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.append_record(&mut buf, subject, headers, payload, time);
        if buf.capacity() > BUF_KEEP {
            buf = Vec::new();
        }
        self.buf = buf;
        result
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.read_msg(seq)
    }

    fn load_next(&self, filter: &str, start: u64) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.next_match(filter, start) {
            Some(seq) => self.read_msg(seq),
            None => Ok(None),
        }
    }

    fn load_last(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.last_match(filter) {
            Some(seq) => self.read_msg(seq),
            None => Ok(None),
        }
    }

    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        Ok(self.remove_many(&[seq], erase)? == 1)
    }

    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        match self.index.plan_purge(req) {
            PurgePlan::Nothing => Ok(0),
            PurgePlan::Compact(floor) => self.compact_to(floor),
            PurgePlan::Remove(seqs) => self.remove_many(&seqs, false),
        }
    }

    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq <= self.index.last_seq() {
            return Err(super::skip_backwards(seq, self.index.last_seq()));
        }
        self.compact_to(seq).map(|_| ())
    }

    fn state(&self) -> StoreState {
        self.index.state()
    }

    fn subjects(&self, filter: &str) -> Vec<(String, u64)> {
        self.index.subjects(filter)
    }

    fn subject_count(&self, subject: &str) -> u64 {
        self.index.subject_count(subject)
    }

    fn count_from(&self, filter: &str, start: u64) -> u64 {
        self.index.count_from(filter, start)
    }

    fn first_seq_for_subject(&self, subject: &str) -> Option<u64> {
        self.index.first_seq_for_subject(subject)
    }

    fn seq_for_time(&self, time: i64) -> Option<u64> {
        self.index.seq_for_time(time)
    }

    fn deleted(&self) -> Vec<u64> {
        self.index.deleted()
    }

    /// Fsyncs what was written since the last call: blocks, delete files, then the
    /// directory; and writes the index of each block sealed since, now that it is on disk.
    fn sync(&mut self) -> Result<(), StoreError> {
        let dirty: Vec<(u64, bool, bool)> = self
            .blocks
            .values()
            .filter(|b| b.dirty || b.del_dirty)
            .map(|b| (b.id, b.dirty, b.del_dirty))
            .collect();
        for (id, data, dels) in dirty {
            if data {
                self.block_file(id)?.sync_data()?;
            }
            if dels {
                match &self.del_file {
                    Some((b, f)) if *b == id => f.sync_data()?,
                    _ => File::open(del_path(&self.dir, id))?.sync_data()?,
                }
            }
            if let Some(b) = self.blocks.get_mut(&id) {
                b.dirty = false;
                b.del_dirty = false;
            }
        }
        let unindexed: Vec<u64> = self
            .blocks
            .values()
            .filter(|b| b.sealed && !b.indexed)
            .map(|b| b.id)
            .collect();
        for id in unindexed {
            // A block without its index is scanned at the next open: slower, not wrong.
            let _ = self.write_index(id);
        }
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    fn disk_usage(&self) -> u64 {
        self.blocks
            .values()
            .map(|b| b.bytes + b.idx_bytes + b.del_bytes)
            .sum::<u64>()
            + self.state_bytes
    }
}

impl Drop for FileStore {
    /// A clean close leaves everything fsynced and every sealed block indexed.
    fn drop(&mut self) {
        let _ = self.sync();
    }
}
