//! The file store's on-disk formats: message records (block files), block index files,
//! delete files and the state file. docs/storage.md ("The store as built") describes them.
//!
//! Everything here that reads bytes treats them as hostile: lengths are checked against what
//! is there before anything is sliced, and a short or inconsistent input is `None` (or
//! [`Parsed::Bad`]), never a panic.

use super::StoreError;

/// A message.
pub(crate) const KIND_MSG: u8 = 1;
/// A removed message whose subject, headers and payload were overwritten (erase).
pub(crate) const KIND_ERASED: u8 = 2;

/// `len u32 | kind u8 | seq u64 | ts i64 | subject len u16` before the subject.
const HEAD: usize = 4 + 1 + 8 + 8 + 2;
/// A record's bytes besides subject, headers and payload: the head, the header length, the
/// crc.
pub(crate) const OVERHEAD: usize = HEAD + 4 + 4;

/// Whether a message fits a record: a subject of at most 64 KiB, and 4 GiB in all.
pub(crate) fn fits(subject: &str, headers: &[u8], payload: &[u8]) -> bool {
    let total = (OVERHEAD as u64)
        .saturating_add(subject.len() as u64)
        .saturating_add(headers.len() as u64)
        .saturating_add(payload.len() as u64);
    subject.len() <= usize::from(u16::MAX) && total <= u64::from(u32::MAX)
}

/// Encodes a record into `buf` (cleared first):
/// `[len u32 | kind u8 | seq u64 | ts i64 | subject len u16 | subject | hdr len u32 |
/// headers | payload | crc32]`, little-endian; `len` counts the bytes after itself and the
/// crc covers every byte before it.
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    kind: u8,
    seq: u64,
    ts: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) -> Result<(), StoreError> {
    let subject_len = u16::try_from(subject.len()).map_err(|_| StoreError::TooLarge)?;
    let headers_len = u32::try_from(headers.len()).map_err(|_| StoreError::TooLarge)?;
    let total = OVERHEAD
        .checked_add(subject.len())
        .and_then(|n| n.checked_add(headers.len()))
        .and_then(|n| n.checked_add(payload.len()))
        .ok_or(StoreError::TooLarge)?;
    // The whole record, not just `len`, must fit a u32: a block offset is one.
    let len = u32::try_from(total)
        .map_err(|_| StoreError::TooLarge)?
        .wrapping_sub(4);
    buf.clear();
    buf.reserve(total);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.push(kind);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.extend_from_slice(&subject_len.to_le_bytes());
    buf.extend_from_slice(subject);
    buf.extend_from_slice(&headers_len.to_le_bytes());
    buf.extend_from_slice(headers);
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The erased form of a record of `total` bytes: same length, sequence and time, kind
/// [`KIND_ERASED`], no subject or headers, and zeros where they and the payload were.
pub(crate) fn encode_erased(buf: &mut Vec<u8>, seq: u64, ts: i64, total: usize) {
    let zeros = vec![0u8; total.saturating_sub(OVERHEAD)];
    // Cannot fail: the same length was a valid record.
    let _ = encode(buf, KIND_ERASED, seq, ts, b"", b"", &zeros);
}

/// One record read from bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub kind: u8,
    pub seq: u64,
    pub ts: i64,
    pub subject: &'a str,
    pub headers: &'a [u8],
    pub payload: &'a [u8],
    /// Bytes of the whole record.
    pub total: usize,
}

impl Record<'_> {
    /// Where the headers and the payload are within the record's bytes.
    pub fn body_ranges(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let headers = HEAD + self.subject.len() + 4;
        let payload = headers + self.headers.len();
        (headers..payload, payload..payload + self.payload.len())
    }

    /// The size the stream counts for it ([`super::msg_size`] for the file store).
    pub fn size(&self) -> u64 {
        super::file_msg_size(self.subject.len(), self.headers.len(), self.payload.len())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    Ok(Record<'a>),
    /// The bytes end before the record does.
    Incomplete,
    /// Not a record: a length out of range, a failed crc, an unknown kind, a subject that is
    /// not UTF-8.
    Bad,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The total length a record starting at `b` declares, if its length field is there.
pub(crate) fn declared_total(b: &[u8]) -> Option<usize> {
    usize::try_from(u32_at(b, 0)?).ok()?.checked_add(4)
}

/// The sequence in a record's head, without checking anything else (the crc may fail).
pub(crate) fn head_seq(b: &[u8]) -> Option<u64> {
    u64_at(b, 5)
}

/// The time in a record's head, without checking anything else.
pub(crate) fn head_ts(b: &[u8]) -> Option<i64> {
    u64_at(b, 13).map(|t| t as i64)
}

/// Parses the record at the start of `b`.
pub(crate) fn parse(b: &[u8]) -> Parsed<'_> {
    let Some(total) = declared_total(b) else {
        return Parsed::Incomplete;
    };
    if total < OVERHEAD {
        return Parsed::Bad;
    }
    let Some(rec) = b.get(..total) else {
        return Parsed::Incomplete;
    };
    match parse_whole(rec) {
        Some(r) => Parsed::Ok(r),
        None => Parsed::Bad,
    }
}

/// Parses exactly one record of `rec.len()` bytes, checking its crc.
fn parse_whole(rec: &[u8]) -> Option<Record<'_>> {
    let total = rec.len();
    if total < OVERHEAD || declared_total(rec)? != total {
        return None;
    }
    let body_end = total - 4;
    let crc = u32_at(rec, body_end)?;
    if crc32fast::hash(rec.get(..body_end)?) != crc {
        return None;
    }
    let kind = *rec.get(4)?;
    if kind != KIND_MSG && kind != KIND_ERASED {
        return None;
    }
    let seq = u64_at(rec, 5)?;
    let ts = u64_at(rec, 13)? as i64;
    let subject_len = usize::from(u16_at(rec, 21)?);
    let subject_end = HEAD.checked_add(subject_len)?;
    let subject = std::str::from_utf8(rec.get(HEAD..subject_end)?).ok()?;
    let headers_len = usize::try_from(u32_at(rec, subject_end)?).ok()?;
    let headers_start = subject_end.checked_add(4)?;
    let headers_end = headers_start.checked_add(headers_len)?;
    if headers_end > body_end {
        return None;
    }
    Some(Record {
        kind,
        seq,
        ts,
        subject,
        headers: rec.get(headers_start..headers_end)?,
        payload: rec.get(headers_end..body_end)?,
        total,
    })
}

/// Parses a record read back from a known place: it must be whole, a message, and carry
/// `seq`.
pub(crate) fn parse_msg(rec: &[u8], seq: u64) -> Option<Record<'_>> {
    parse_whole(rec).filter(|r| r.kind == KIND_MSG && r.seq == seq)
}

// ---------------------------------------------------------------------------------------------
// Delete files: `<block>.del`, one 12-byte entry per removed message of that block,
// `[seq u64 | crc32 of those 8 bytes]`.

pub(crate) const DEL_ENTRY: usize = 12;

pub(crate) fn encode_del(buf: &mut Vec<u8>, seq: u64) {
    let bytes = seq.to_le_bytes();
    buf.extend_from_slice(&bytes);
    buf.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
}

/// What a delete file holds.
#[derive(Debug, Default)]
pub(crate) struct Deletes {
    pub seqs: Vec<u64>,
    /// Entries whose crc failed, by index, not counting a failed last entry.
    pub bad: Vec<usize>,
    /// Bytes of whole, valid entries at the start that a torn tail does not spoil: a
    /// partial last entry, or a last entry whose crc fails, lies past this.
    pub valid_len: usize,
}

pub(crate) fn parse_dels(b: &[u8]) -> Deletes {
    let mut out = Deletes::default();
    let entries: Vec<&[u8]> = b.chunks_exact(DEL_ENTRY).collect();
    let n = entries.len();
    for (i, e) in entries.into_iter().enumerate() {
        let (Some(seq), Some(crc)) = (u64_at(e, 0), u32_at(e, 8)) else {
            continue;
        };
        if crc32fast::hash(e.get(..8).unwrap_or_default()) == crc {
            out.seqs.push(seq);
            out.valid_len = (i + 1) * DEL_ENTRY;
        } else if i + 1 == n {
            // A failed last entry is a torn write: cut with the partial tail.
        } else {
            out.bad.push(i);
            out.valid_len = (i + 1) * DEL_ENTRY;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Block index files: `<block>.idx`, written once a block is sealed (and fsynced), so that
// opening the store need not read the block.
//
// "SBIX" | version u8 | block id u64 | block bytes u64 | first seq u64 | last seq u64 |
// last ts i64 | subjects u32 | (len u16 | subject)* | entries u32 |
// (seq u64 | offset u32 | len u32 | ts i64 | subject no u32 | size u64)* | crc32
//
// first/last seq and last ts cover every record in the block, removed ones too (the last
// sequence must survive even when its message was removed); entries are the messages the
// block still held when the index was written.

const IDX_MAGIC: &[u8; 4] = b"SBIX";
const IDX_VERSION: u8 = 1;

/// A message's entry in a block index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdxEntry {
    pub seq: u64,
    pub off: u32,
    pub len: u32,
    pub ts: i64,
    /// The subject's number in [`BlockIndex::subjects`].
    pub subject: u32,
    pub size: u64,
}

/// What a block index says about its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockIndex<'a> {
    pub id: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_ts: i64,
    /// The block's distinct subjects, each once.
    pub subjects: Vec<&'a str>,
    pub entries: Vec<IdxEntry>,
}

/// Encodes a block index; every entry's subject number must be one of `subjects`.
pub(crate) fn encode_index(idx: &BlockIndex<'_>) -> Vec<u8> {
    let subjects_len: usize = idx.subjects.iter().map(|s| 2 + s.len()).sum();
    let mut b = Vec::with_capacity(64 + subjects_len + idx.entries.len() * 36);
    b.extend_from_slice(IDX_MAGIC);
    b.push(IDX_VERSION);
    for v in [idx.id, idx.bytes, idx.first_seq, idx.last_seq] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&idx.last_ts.to_le_bytes());
    b.extend_from_slice(&(idx.subjects.len() as u32).to_le_bytes());
    for s in &idx.subjects {
        // Subjects came from records, whose subject length is a u16.
        b.extend_from_slice(&(s.len() as u16).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    b.extend_from_slice(&(idx.entries.len() as u32).to_le_bytes());
    for e in &idx.entries {
        b.extend_from_slice(&e.seq.to_le_bytes());
        b.extend_from_slice(&e.off.to_le_bytes());
        b.extend_from_slice(&e.len.to_le_bytes());
        b.extend_from_slice(&e.ts.to_le_bytes());
        b.extend_from_slice(&e.subject.to_le_bytes());
        b.extend_from_slice(&e.size.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// A cursor over hostile bytes: every read is checked.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Parses a block index and checks it against its block (`id`, `block_bytes` on disk);
/// `None` when anything is off, and the block is then scanned instead.
pub(crate) fn parse_index(b: &[u8], id: u64, block_bytes: u64) -> Option<BlockIndex<'_>> {
    let body_end = b.len().checked_sub(4)?;
    let crc = u32::from_le_bytes(b.get(body_end..)?.try_into().ok()?);
    let body = b.get(..body_end)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut c = Cursor { b: body, at: 0 };
    if c.take(4)? != IDX_MAGIC || c.take(1)? != [IDX_VERSION] {
        return None;
    }
    let (idx_id, bytes, first_seq, last_seq) = (c.u64()?, c.u64()?, c.u64()?, c.u64()?);
    let last_ts = c.u64()? as i64;
    if idx_id != id || bytes != block_bytes || first_seq > last_seq {
        return None;
    }
    let n_subjects = usize::try_from(c.u32()?).ok()?;
    // Each subject takes at least 2 bytes: a count beyond that is a lie, not an allocation.
    let mut subjects = Vec::with_capacity(n_subjects.min(body.len() / 2));
    for _ in 0..n_subjects {
        let len = usize::from(c.u16()?);
        subjects.push(std::str::from_utf8(c.take(len)?).ok()?);
    }
    let n_entries = usize::try_from(c.u32()?).ok()?;
    let mut entries = Vec::with_capacity(n_entries.min(body.len() / 36));
    let (mut prev_seq, mut prev_end) = (None::<u64>, 0u64);
    for _ in 0..n_entries {
        let (seq, off, len) = (c.u64()?, c.u32()?, c.u32()?);
        let ts = c.u64()? as i64;
        let subject_no = c.u32()?;
        let subject = *subjects.get(usize::try_from(subject_no).ok()?)?;
        let size = c.u64()?;
        let end = u64::from(off).checked_add(u64::from(len))?;
        let minimum = OVERHEAD.checked_add(subject.len())?;
        // The size must be what a record of this length gives (with or without headers).
        let no_headers = u64::from(len).checked_sub(1)?;
        if prev_seq.is_some_and(|p| seq <= p)
            || seq < first_seq
            || seq > last_seq
            || u64::from(off) < prev_end
            || end > bytes
            || usize::try_from(len).ok()? < minimum
            || (size != no_headers && size != no_headers + 4)
        {
            return None;
        }
        prev_seq = Some(seq);
        prev_end = end;
        entries.push(IdxEntry {
            seq,
            off,
            len,
            ts,
            subject: subject_no,
            size,
        });
    }
    if c.at != body.len() {
        return None;
    }
    Some(BlockIndex {
        id,
        bytes,
        first_seq,
        last_seq,
        last_ts,
        subjects,
        entries,
    })
}

// ---------------------------------------------------------------------------------------------
// The state file: what the blocks cannot say once they are gone (a purge, a compact, a
// skip): "SBST" | version u8 | first seq u64 | last seq u64 | last ts i64 | crc32.
// Messages below `first seq` are removed, whatever a block still holds.

const STATE_MAGIC: &[u8; 4] = b"SBST";
const STATE_VERSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreFloor {
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_ts: i64,
}

pub(crate) fn encode_state(s: &StoreFloor) -> Vec<u8> {
    let mut b = Vec::with_capacity(33 + 4);
    b.extend_from_slice(STATE_MAGIC);
    b.push(STATE_VERSION);
    b.extend_from_slice(&s.first_seq.to_le_bytes());
    b.extend_from_slice(&s.last_seq.to_le_bytes());
    b.extend_from_slice(&s.last_ts.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

pub(crate) fn parse_state(b: &[u8]) -> Option<StoreFloor> {
    let body_end = b.len().checked_sub(4)?;
    let crc = u32::from_le_bytes(b.get(body_end..)?.try_into().ok()?);
    let body = b.get(..body_end)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut c = Cursor { b: body, at: 0 };
    if c.take(4)? != STATE_MAGIC || c.take(1)? != [STATE_VERSION] {
        return None;
    }
    let s = StoreFloor {
        first_seq: c.u64()?,
        last_seq: c.u64()?,
        last_ts: c.u64()? as i64,
    };
    (c.at == body.len() && s.first_seq >= 1).then_some(s)
}
