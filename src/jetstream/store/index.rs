//! The in-memory index both stores keep: messages by sequence, sequences by subject, and the
//! counters of [`StoreState`]. The memory store keeps the message itself as the location; the
//! file store keeps where its record is on disk.
//!
//! Sequences live in chunks of 64 consecutive sequences, in an ordered map keyed by the
//! chunk's number (`seq / 64`). A chunk holds a bitmap of which of its sequences are stored
//! and the entries of those, in order; the n-th set bit's entry is `entries[n]`. A dense
//! stream so costs one small map node per 64 messages on top of the entries themselves, and
//! a gap costs nothing: a purge of one subject out of the middle of a long stream empties
//! chunks (which go), and a hostile file that claims sequence 2^60 after sequence 1 cannot
//! make recovery allocate for the gap. A sparse stream (a KV bucket whose old keys pin the
//! front) costs at most one chunk per stored message.
//!
//! An entry names its subject by a number into the table of distinct subjects, which holds
//! each subject's name once with its stored sequences.
//!
//! Message times increase with sequence (the stream stamps them as it appends), which is
//! what lets [`Index::seq_for_time`] binary-search.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::{subject_matches, PurgeRequest, StoreState};

/// How many messages a wildcard lookup walks in sequence order before it compares that walk
/// with going through the distinct subjects instead.
const LINEAR_PROBE: usize = 64;

/// Sequences per chunk: the bits of the chunk's bitmap.
const CHUNK_BITS: u32 = 6;
const CHUNK: u64 = 1 << CHUNK_BITS;

/// An entry's size field when the size does not fit it; the size is then in `big_sizes`.
const BIG_SIZE: u32 = u32::MAX;

/// One stored message as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct Entry<L> {
    /// Unix nanoseconds.
    pub time: i64,
    /// [`super::msg_size`] of the message, or [`BIG_SIZE`].
    size: u32,
    /// Number of the subject in [`Index::subjects`].
    subject: u32,
    /// Where the message is: the message itself (memory) or its record (file).
    pub loc: L,
}

/// What a purge request comes down to (nats-server's PurgeEx).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PurgePlan {
    Nothing,
    /// Remove every message below this sequence, which becomes the first one (and when it
    /// lies past `last_seq + 1`, the next append gets it).
    Compact(u64),
    /// Remove these sequences, ascending.
    Remove(Vec<u64>),
}

/// Whether a filter matches every subject.
pub(crate) fn is_all(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

fn is_literal(filter: &str) -> bool {
    !crate::proto::subject::has_wildcard(filter.as_bytes())
}

fn filter_matches(filter: &str, subject: &str) -> bool {
    is_all(filter) || subject_matches(filter, subject)
}

/// Up to 64 consecutive sequences, from `key * 64`.
#[derive(Debug)]
struct Chunk<L> {
    /// Bit `i` set: sequence `key * 64 + i` is stored.
    present: u64,
    /// The stored ones' entries, ascending.
    entries: Vec<Entry<L>>,
}

/// Bits below `bit`.
fn below(bit: u32) -> u64 {
    (1u64 << bit) - 1
}

impl<L> Chunk<L> {
    /// Where `bit`'s entry is (or would go) in `entries`.
    fn rank(&self, bit: u32) -> usize {
        (self.present & below(bit)).count_ones() as usize
    }
}

/// The stored messages of some chunks, with sequences from `bits` of each; double-ended.
struct ChunkIter<'a, L> {
    base: u64,
    present: u64,
    /// Bits still to yield.
    bits: u64,
    entries: &'a [Entry<L>],
}

impl<'a, L> ChunkIter<'a, L> {
    fn at(&self, bit: u32) -> (u64, &'a Entry<L>) {
        let i = (self.present & below(bit)).count_ones() as usize;
        (self.base + u64::from(bit), &self.entries[i])
    }
}

impl<'a, L> Iterator for ChunkIter<'a, L> {
    type Item = (u64, &'a Entry<L>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.bits == 0 {
            return None;
        }
        let bit = self.bits.trailing_zeros();
        self.bits &= self.bits - 1;
        Some(self.at(bit))
    }
}

impl<L> DoubleEndedIterator for ChunkIter<'_, L> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.bits == 0 {
            return None;
        }
        let bit = 63 - self.bits.leading_zeros();
        self.bits &= !(1u64 << bit);
        Some(self.at(bit))
    }
}

/// A distinct stored subject.
#[derive(Debug)]
struct Subject {
    name: Arc<str>,
    /// Its stored sequences, ascending.
    seqs: VecDeque<u64>,
}

#[derive(Debug)]
pub(crate) struct Index<L> {
    chunks: BTreeMap<u64, Chunk<L>>,
    /// Stored messages.
    len: u64,
    /// Every stored subject by number; a subject leaves with its last message, and its
    /// number goes to `free` for the next new subject.
    subjects: Vec<Option<Subject>>,
    numbers: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    free: Vec<u32>,
    /// Sizes of stored messages that do not fit an entry's u32 (records near 4 GiB).
    big_sizes: HashMap<u64, u64>,
    /// The first stored sequence, or when nothing is stored the sequence the next message
    /// would be the first of (`last_seq + 1`, or more after a compact past the end).
    first_seq: u64,
    last_seq: u64,
    last_time: i64,
    bytes: u64,
}

impl<L> Index<L> {
    /// An empty index whose next message gets `first_seq` (0 is taken as 1).
    pub fn new(first_seq: u64) -> Self {
        let first_seq = first_seq.max(1);
        Index {
            chunks: BTreeMap::new(),
            len: 0,
            subjects: Vec::new(),
            numbers: HashMap::default(),
            free: Vec::new(),
            big_sizes: HashMap::new(),
            first_seq,
            last_seq: first_seq - 1,
            last_time: 0,
            bytes: 0,
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    pub fn last_time(&self) -> i64 {
        self.last_time
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn get(&self, seq: u64) -> Option<&Entry<L>> {
        let chunk = self.chunks.get(&(seq >> CHUNK_BITS))?;
        let bit = (seq & (CHUNK - 1)) as u32;
        if chunk.present & (1 << bit) == 0 {
            return None;
        }
        chunk.entries.get(chunk.rank(bit))
    }

    /// The subject of a stored entry.
    pub fn subject(&self, entry: &Entry<L>) -> &str {
        self.name(entry.subject)
    }

    fn name(&self, number: u32) -> &str {
        match self.subjects.get(number as usize) {
            Some(Some(s)) => &s.name,
            _ => "",
        }
    }

    /// The [`super::msg_size`] of the stored message `seq` whose entry this is.
    pub fn size(&self, seq: u64, entry: &Entry<L>) -> u64 {
        if entry.size == BIG_SIZE {
            self.big_sizes
                .get(&seq)
                .copied()
                .unwrap_or(u64::from(BIG_SIZE))
        } else {
            u64::from(entry.size)
        }
    }

    /// Stored messages with a sequence in `lo..=hi`, ascending.
    fn iter(&self, lo: u64, hi: u64) -> impl DoubleEndedIterator<Item = (u64, &Entry<L>)> {
        let keys = if lo <= hi {
            lo >> CHUNK_BITS..=hi >> CHUNK_BITS
        } else {
            // An empty key range (1..=0) would also do, but BTreeMap panics on start > end.
            1..=1
        };
        let empty = lo > hi;
        self.chunks.range(keys).flat_map(move |(&key, chunk)| {
            let base = key << CHUNK_BITS;
            let mut bits = if empty { 0 } else { chunk.present };
            if key == lo >> CHUNK_BITS {
                bits &= !below((lo & (CHUNK - 1)) as u32);
            }
            if key == hi >> CHUNK_BITS {
                let top = (hi & (CHUNK - 1)) as u32;
                if top < 63 {
                    bits &= below(top + 1);
                }
            }
            ChunkIter {
                base,
                present: chunk.present,
                bits,
                entries: &chunk.entries,
            }
        })
    }

    /// Stored messages with a sequence in `range`, ascending.
    pub fn range(
        &self,
        range: impl std::ops::RangeBounds<u64>,
    ) -> impl DoubleEndedIterator<Item = (u64, &Entry<L>)> {
        use std::ops::Bound;
        let lo = match range.start_bound() {
            Bound::Included(s) => Some(*s),
            Bound::Excluded(s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let hi = match range.end_bound() {
            Bound::Included(s) => Some(*s),
            Bound::Excluded(s) => s.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) => self.iter(lo, hi),
            _ => self.iter(1, 0),
        }
    }

    fn first_stored(&self) -> Option<(u64, &Entry<L>)> {
        let (&key, chunk) = self.chunks.first_key_value()?;
        let bit = chunk.present.trailing_zeros();
        Some(((key << CHUNK_BITS) + u64::from(bit), chunk.entries.first()?))
    }

    fn last_stored(&self) -> Option<(u64, &Entry<L>)> {
        let (&key, chunk) = self.chunks.last_key_value()?;
        let bit = 63 - chunk.present.leading_zeros();
        Some(((key << CHUNK_BITS) + u64::from(bit), chunk.entries.last()?))
    }

    /// The number of `subject`, given one if it is new.
    fn number(&mut self, subject: &str) -> u32 {
        if let Some(n) = self.numbers.get(subject) {
            return *n;
        }
        let name: Arc<str> = Arc::from(subject);
        let s = Subject {
            name: name.clone(),
            seqs: VecDeque::new(),
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.subjects[n as usize] = Some(s);
                n
            }
            None => {
                self.subjects.push(Some(s));
                (self.subjects.len() - 1) as u32
            }
        };
        self.numbers.insert(name, n);
        n
    }

    fn seqs_of(&self, subject: &str) -> Option<&VecDeque<u64>> {
        let n = *self.numbers.get(subject)?;
        self.subjects.get(n as usize)?.as_ref().map(|s| &s.seqs)
    }

    /// The stored subjects with their sequences.
    fn all_subjects(&self) -> impl Iterator<Item = &Subject> {
        self.subjects.iter().flatten()
    }

    /// Adds a message; false (and nothing changes) unless `seq` is above `last_seq`.
    pub fn insert(&mut self, seq: u64, subject: &str, time: i64, size: u64, loc: L) -> bool {
        if seq <= self.last_seq {
            return false;
        }
        let number = self.number(subject);
        if let Some(Some(s)) = self.subjects.get_mut(number as usize) {
            s.seqs.push_back(seq);
        }
        if self.len == 0 {
            self.first_seq = seq;
        }
        let small = match u32::try_from(size) {
            Ok(s) if s != BIG_SIZE => s,
            _ => {
                self.big_sizes.insert(seq, size);
                BIG_SIZE
            }
        };
        let entry = Entry {
            time,
            size: small,
            subject: number,
            loc,
        };
        let key = seq >> CHUNK_BITS;
        let bit = (seq & (CHUNK - 1)) as u32;
        // Above every stored sequence: the last bit of the last chunk, or a new chunk.
        match self.chunks.last_entry() {
            Some(mut last) if *last.key() == key => {
                let chunk = last.get_mut();
                chunk.present |= 1 << bit;
                chunk.entries.push(entry);
            }
            _ => {
                // A chunk that appends will fill gets its whole room at once.
                let dense = bit == 0 && self.last_seq == seq - 1;
                let mut entries = Vec::with_capacity(if dense { CHUNK as usize } else { 1 });
                entries.push(entry);
                self.chunks.insert(
                    key,
                    Chunk {
                        present: 1 << bit,
                        entries,
                    },
                );
            }
        }
        self.len += 1;
        self.bytes = self.bytes.saturating_add(size);
        self.last_seq = seq;
        self.last_time = time;
        true
    }

    /// Records that `seq` was used (at `time`) without storing anything under it: a message
    /// that recovery found deleted, or the last sequence a state file remembers.
    pub fn advance_last(&mut self, seq: u64, time: i64) {
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        self.last_time = time;
        if self.len == 0 {
            self.first_seq = self.first_seq.max(seq.saturating_add(1));
        }
    }

    /// Restores the last sequence and time a state file remembers, unless a message above
    /// it was found.
    pub fn restore_last(&mut self, seq: u64, time: i64) {
        if seq < self.last_seq {
            return;
        }
        self.last_seq = seq;
        self.last_time = time;
        if self.len == 0 {
            self.first_seq = self.first_seq.max(seq.saturating_add(1));
        }
    }

    pub fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        let key = seq >> CHUNK_BITS;
        let chunk = self.chunks.get_mut(&key)?;
        let bit = (seq & (CHUNK - 1)) as u32;
        if chunk.present & (1 << bit) == 0 {
            return None;
        }
        let entry = chunk.entries.remove(chunk.rank(bit));
        chunk.present &= !(1 << bit);
        if chunk.present == 0 {
            self.chunks.remove(&key);
        } else if chunk.entries.capacity() >= 8
            && chunk.entries.len() < chunk.entries.capacity() / 4
        {
            chunk.entries.shrink_to(chunk.entries.len() * 2);
        }
        self.len -= 1;
        self.forget(seq, &entry);
        if seq == self.first_seq {
            self.first_seq = self.next_first();
        }
        Some(entry)
    }

    /// Removes every message below `floor`, which becomes `first_seq` (or the first stored
    /// sequence above it); a floor past `last_seq + 1` also moves `last_seq` to `floor - 1`
    /// so that the next append gets `floor`. A floor at or below `first_seq` changes nothing.
    pub fn compact(&mut self, floor: u64) -> Vec<(u64, Entry<L>)> {
        if floor <= self.first_seq {
            return Vec::new();
        }
        let key = floor >> CHUNK_BITS;
        let kept = self.chunks.split_off(&key);
        let whole = std::mem::replace(&mut self.chunks, kept);
        let mut removed: Vec<(u64, Entry<L>)> = Vec::new();
        for (k, chunk) in whole {
            take_bits(k, chunk.present, chunk.entries, &mut removed);
        }
        // The floor's own chunk loses its sequences below the floor.
        let bit = (floor & (CHUNK - 1)) as u32;
        if bit > 0 {
            if let Some(chunk) = self.chunks.get_mut(&key) {
                let low = chunk.present & below(bit);
                if low != 0 {
                    let n = low.count_ones() as usize;
                    let rest = chunk.entries.split_off(n);
                    let gone = std::mem::replace(&mut chunk.entries, rest);
                    chunk.present &= !low;
                    take_bits(key, low, gone, &mut removed);
                    if chunk.present == 0 {
                        self.chunks.remove(&key);
                    }
                }
            }
        }
        self.len -= removed.len() as u64;
        for (seq, entry) in &removed {
            self.forget(*seq, entry);
        }
        if floor > self.last_seq.saturating_add(1) {
            self.last_seq = floor - 1;
        }
        self.first_seq = self.next_first();
        removed
    }

    /// Takes a removed message out of the per-subject lists and the byte count.
    fn forget(&mut self, seq: u64, entry: &Entry<L>) {
        let size = if entry.size == BIG_SIZE {
            self.big_sizes.remove(&seq).unwrap_or(u64::from(BIG_SIZE))
        } else {
            u64::from(entry.size)
        };
        self.bytes = self.bytes.saturating_sub(size);
        let number = entry.subject;
        let Some(Some(subject)) = self.subjects.get_mut(number as usize) else {
            return;
        };
        let seqs = &mut subject.seqs;
        // Removals are mostly the subject's oldest message (limits, compaction).
        if seqs.front() == Some(&seq) {
            seqs.pop_front();
        } else if let Ok(i) = seqs.binary_search(&seq) {
            seqs.remove(i);
        }
        if seqs.is_empty() {
            if let Some(s) = self.subjects[number as usize].take() {
                self.numbers.remove(&s.name);
                self.free.push(number);
            }
        } else if seqs.capacity() >= 64 && seqs.len() < seqs.capacity() / 4 {
            seqs.shrink_to(seqs.len() * 2);
        }
    }

    fn next_first(&self) -> u64 {
        match self.first_stored() {
            Some((seq, _)) => seq,
            None => self.first_seq.max(self.last_seq.saturating_add(1)),
        }
    }

    pub fn state(&self) -> StoreState {
        let msgs = self.len();
        let (first_time, num_deleted) = match self.first_stored() {
            Some((first, entry)) => (entry.time, (self.last_seq - first + 1) - msgs),
            None => (0, 0),
        };
        StoreState {
            msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_time,
            last_seq: self.last_seq,
            last_time: self.last_time,
            num_subjects: self.numbers.len() as u64,
            num_deleted,
        }
    }

    /// The first stored sequence at or after `start` whose subject matches `filter`.
    pub fn next_match(&self, filter: &str, start: u64) -> Option<u64> {
        let start = start.max(self.first_seq);
        if is_all(filter) {
            return self.range(start..).next().map(|(s, _)| s);
        }
        if is_literal(filter) {
            let seqs = self.seqs_of(filter)?;
            return seqs.get(seqs.partition_point(|s| *s < start)).copied();
        }
        let mut walked = self.range(start..);
        for (seq, entry) in walked.by_ref().take(LINEAR_PROBE) {
            if subject_matches(filter, self.name(entry.subject)) {
                return Some(seq);
            }
        }
        let (rest, _) = walked.next()?;
        // The rest of the walk costs up to one step per sequence left; the subjects cost one
        // match and one binary search each.
        let left = self.last_seq.saturating_sub(rest);
        if left <= 4 * self.numbers.len() as u64 {
            return self
                .range(rest..)
                .find(|(_, e)| subject_matches(filter, self.name(e.subject)))
                .map(|(s, _)| s);
        }
        self.all_subjects()
            .filter(|s| subject_matches(filter, &s.name))
            .filter_map(|s| s.seqs.get(s.seqs.partition_point(|q| *q < rest)).copied())
            .min()
    }

    /// The highest stored sequence whose subject matches `filter`.
    pub fn last_match(&self, filter: &str) -> Option<u64> {
        if is_all(filter) {
            return self.last_stored().map(|(s, _)| s);
        }
        if is_literal(filter) {
            return self.seqs_of(filter)?.back().copied();
        }
        let mut walked = self.range(..).rev();
        for (seq, entry) in walked.by_ref().take(LINEAR_PROBE) {
            if subject_matches(filter, self.name(entry.subject)) {
                return Some(seq);
            }
        }
        let (rest, _) = walked.next()?;
        let left = rest.saturating_sub(self.first_seq);
        if left <= 4 * self.numbers.len() as u64 {
            return self
                .range(..=rest)
                .rev()
                .find(|(_, e)| subject_matches(filter, self.name(e.subject)))
                .map(|(s, _)| s);
        }
        self.all_subjects()
            .filter(|s| subject_matches(filter, &s.name))
            .filter_map(|s| s.seqs.back().copied())
            .max()
    }

    /// Stored sequences whose subject matches `filter`, ascending.
    fn matching(&self, filter: &str) -> Vec<u64> {
        if is_all(filter) {
            return self.range(..).map(|(s, _)| s).collect();
        }
        if is_literal(filter) {
            return self
                .seqs_of(filter)
                .map(|seqs| seqs.iter().copied().collect())
                .unwrap_or_default();
        }
        let mut seqs: Vec<u64> = self
            .all_subjects()
            .filter(|s| subject_matches(filter, &s.name))
            .flat_map(|s| s.seqs.iter().copied())
            .collect();
        seqs.sort_unstable();
        seqs
    }

    /// What `req` removes, with the semantics of nats-server's PurgeEx: `seq` is "below this
    /// sequence" (1 removes nothing); without a filter (or with `>`), a purge of everything or
    /// up to `seq` compacts (and `keep` is then ignored, as there); `keep` keeps the newest
    /// matching messages and counts all of them, whatever `seq` says.
    pub fn plan_purge(&self, req: &PurgeRequest) -> PurgePlan {
        let seq = req.seq.filter(|s| *s > 0);
        let keep = req.keep.unwrap_or(0);
        if seq == Some(1) {
            return PurgePlan::Nothing;
        }
        let filter = req.filter.as_deref().unwrap_or("");
        if is_all(filter) {
            if let Some(seq) = seq {
                return PurgePlan::Compact(seq);
            }
            if keep == 0 {
                return PurgePlan::Compact(self.last_seq.saturating_add(1));
            }
            let msgs = self.len();
            if keep >= msgs {
                return PurgePlan::Nothing;
            }
            // Keeping the newest `keep` of everything is a compact to the first kept one.
            return match self.nth_stored(msgs - keep) {
                Some(s) => PurgePlan::Compact(s),
                None => PurgePlan::Nothing,
            };
        }
        let matching = self.matching(filter);
        let total = matching.len() as u64;
        if keep > 0 && keep >= total {
            return PurgePlan::Nothing;
        }
        let max = if keep > 0 { total - keep } else { total };
        let below = seq.unwrap_or(u64::MAX);
        let remove: Vec<u64> = matching
            .into_iter()
            .take_while(|s| *s < below)
            .take(usize::try_from(max).unwrap_or(usize::MAX))
            .collect();
        if remove.is_empty() {
            PurgePlan::Nothing
        } else {
            PurgePlan::Remove(remove)
        }
    }

    /// The stored sequence with `n` stored ones below it, counting whole chunks at a time.
    fn nth_stored(&self, mut n: u64) -> Option<u64> {
        for (&key, chunk) in &self.chunks {
            let here = u64::from(chunk.present.count_ones());
            if n >= here {
                n -= here;
                continue;
            }
            let mut bits = chunk.present;
            for _ in 0..n {
                bits &= bits - 1;
            }
            return Some((key << CHUNK_BITS) + u64::from(bits.trailing_zeros()));
        }
        None
    }

    /// How many stored messages each subject matching `filter` has, sorted by subject.
    pub fn subjects(&self, filter: &str) -> Vec<(String, u64)> {
        if !is_all(filter) && is_literal(filter) {
            return self
                .seqs_of(filter)
                .map(|seqs| vec![(filter.to_owned(), seqs.len() as u64)])
                .unwrap_or_default();
        }
        let mut out: Vec<(String, u64)> = self
            .all_subjects()
            .filter(|s| filter_matches(filter, &s.name))
            .map(|s| (s.name.to_string(), s.seqs.len() as u64))
            .collect();
        out.sort_unstable();
        out
    }

    /// Stored messages from `start` on whose subject matches `filter`: per subject, its
    /// sequences at or after `start` (a binary search each).
    pub fn count_from(&self, filter: &str, start: u64) -> u64 {
        let after =
            |seqs: &VecDeque<u64>| (seqs.len() - seqs.partition_point(|s| *s < start)) as u64;
        if is_all(filter) {
            return self.range(start..).count() as u64;
        }
        if is_literal(filter) {
            return self.seqs_of(filter).map_or(0, after);
        }
        self.all_subjects()
            .filter(|s| subject_matches(filter, &s.name))
            .map(|s| after(&s.seqs))
            .sum()
    }

    pub fn subject_count(&self, subject: &str) -> u64 {
        self.seqs_of(subject).map_or(0, |s| s.len() as u64)
    }

    pub fn first_seq_for_subject(&self, subject: &str) -> Option<u64> {
        self.seqs_of(subject)?.front().copied()
    }

    /// The first stored sequence whose time is at or after `time`: a binary search over the
    /// sequence range, each probe finding the next stored message.
    pub fn seq_for_time(&self, time: i64) -> Option<u64> {
        let (first, first_entry) = self.first_stored()?;
        if first_entry.time >= time {
            return Some(first);
        }
        let (last, last_entry) = self.last_stored()?;
        if last_entry.time < time {
            return None;
        }
        // Invariant: the answer lies in [lo, hi], and `last` qualifies.
        let (mut lo, mut hi, mut found) = (first + 1, last, last);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            match self.range(mid..=hi).next() {
                None => hi = mid - 1,
                Some((seq, entry)) if entry.time >= time => {
                    found = seq;
                    hi = mid - 1;
                }
                Some((seq, _)) => lo = seq + 1,
            }
        }
        Some(found)
    }

    /// Sequences between `first_seq` and `last_seq` that are not stored, ascending.
    pub fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut next = self.first_seq;
        if self.len == 0 {
            return out;
        }
        for (seq, _) in self.range(..) {
            out.extend(next..seq);
            match seq.checked_add(1) {
                Some(n) => next = n,
                None => return out,
            }
        }
        out.extend(next..=self.last_seq);
        out
    }
}

/// Moves the entries of chunk `key` (whose stored bits are `bits`) into `out`, with their
/// sequences.
fn take_bits<L>(key: u64, mut bits: u64, entries: Vec<Entry<L>>, out: &mut Vec<(u64, Entry<L>)>) {
    let base = key << CHUNK_BITS;
    for entry in entries {
        let bit = bits.trailing_zeros();
        bits &= bits - 1;
        out.push((base + u64::from(bit), entry));
    }
}
