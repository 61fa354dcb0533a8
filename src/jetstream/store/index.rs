//! The in-memory index both stores keep: messages by sequence, sequences by subject, and the
//! counters of [`StoreState`]. The memory store keeps the message itself as the location; the
//! file store keeps where its record is on disk.
//!
//! Sequences live in an ordered map rather than a dense array: a purge of one subject out of
//! the middle of a long stream leaves gaps that cost nothing here, and a hostile file that
//! claims sequence 2^60 after sequence 1 cannot make recovery allocate for the gap.
//!
//! Message times increase with sequence (the stream stamps them as it appends), which is
//! what lets [`Index::seq_for_time`] binary-search.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::{subject_matches, PurgeRequest, StoreState};

/// How many messages a wildcard lookup walks in sequence order before it compares that walk
/// with going through the distinct subjects instead.
const LINEAR_PROBE: usize = 64;

/// One stored message as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct Entry<L> {
    pub subject: Arc<str>,
    /// Unix nanoseconds.
    pub time: i64,
    /// [`super::msg_size`] of the message.
    pub size: u64,
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

#[derive(Debug)]
pub(crate) struct Index<L> {
    msgs: BTreeMap<u64, Entry<L>>,
    /// Every stored subject with its stored sequences, ascending; a subject leaves the map
    /// with its last message.
    subjects: HashMap<Arc<str>, VecDeque<u64>, foldhash::fast::RandomState>,
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
            msgs: BTreeMap::new(),
            subjects: HashMap::default(),
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
        self.msgs.len() as u64
    }

    pub fn get(&self, seq: u64) -> Option<&Entry<L>> {
        self.msgs.get(&seq)
    }

    /// Stored messages with a sequence in `range`, ascending.
    pub fn range(
        &self,
        range: impl std::ops::RangeBounds<u64>,
    ) -> impl Iterator<Item = (u64, &Entry<L>)> {
        self.msgs.range(range).map(|(s, e)| (*s, e))
    }

    /// Adds a message; false (and nothing changes) unless `seq` is above `last_seq`.
    pub fn insert(&mut self, seq: u64, subject: &str, time: i64, size: u64, loc: L) -> bool {
        if seq <= self.last_seq {
            return false;
        }
        let subject = match self.subjects.get_key_value(subject) {
            Some((s, _)) => s.clone(),
            None => Arc::from(subject),
        };
        self.subjects
            .entry(subject.clone())
            .or_default()
            .push_back(seq);
        if self.msgs.is_empty() {
            self.first_seq = seq;
        }
        self.msgs.insert(
            seq,
            Entry {
                subject,
                time,
                size,
                loc,
            },
        );
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
        if self.msgs.is_empty() {
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
        if self.msgs.is_empty() {
            self.first_seq = self.first_seq.max(seq.saturating_add(1));
        }
    }

    pub fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        let entry = self.msgs.remove(&seq)?;
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
        let kept = self.msgs.split_off(&floor);
        let removed = std::mem::replace(&mut self.msgs, kept);
        let removed: Vec<(u64, Entry<L>)> = removed.into_iter().collect();
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
        self.bytes = self.bytes.saturating_sub(entry.size);
        let Some(seqs) = self.subjects.get_mut(&*entry.subject) else {
            return;
        };
        // Removals are mostly the subject's oldest message (limits, compaction).
        if seqs.front() == Some(&seq) {
            seqs.pop_front();
        } else if let Ok(i) = seqs.binary_search(&seq) {
            seqs.remove(i);
        }
        if seqs.is_empty() {
            self.subjects.remove(&*entry.subject);
        }
    }

    fn next_first(&self) -> u64 {
        match self.msgs.keys().next() {
            Some(seq) => *seq,
            None => self.first_seq.max(self.last_seq.saturating_add(1)),
        }
    }

    pub fn state(&self) -> StoreState {
        let msgs = self.len();
        let (first_time, num_deleted) = match self.msgs.first_key_value() {
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
            num_subjects: self.subjects.len() as u64,
            num_deleted,
        }
    }

    /// The first stored sequence at or after `start` whose subject matches `filter`.
    pub fn next_match(&self, filter: &str, start: u64) -> Option<u64> {
        let start = start.max(self.first_seq);
        if is_all(filter) {
            return self.msgs.range(start..).next().map(|(s, _)| *s);
        }
        if is_literal(filter) {
            let seqs = self.subjects.get(filter)?;
            return seqs.get(seqs.partition_point(|s| *s < start)).copied();
        }
        let mut walked = self.msgs.range(start..);
        for (seq, entry) in walked.by_ref().take(LINEAR_PROBE) {
            if subject_matches(filter, &entry.subject) {
                return Some(*seq);
            }
        }
        let (&rest, _) = walked.next()?;
        // The rest of the walk costs up to one step per sequence left; the subjects cost one
        // match and one binary search each.
        let left = self.last_seq.saturating_sub(rest);
        if left <= 4 * self.subjects.len() as u64 {
            return self
                .msgs
                .range(rest..)
                .find(|(_, e)| subject_matches(filter, &e.subject))
                .map(|(s, _)| *s);
        }
        self.subjects
            .iter()
            .filter(|(subject, _)| subject_matches(filter, subject))
            .filter_map(|(_, seqs)| seqs.get(seqs.partition_point(|s| *s < rest)).copied())
            .min()
    }

    /// The highest stored sequence whose subject matches `filter`.
    pub fn last_match(&self, filter: &str) -> Option<u64> {
        if is_all(filter) {
            return self.msgs.keys().next_back().copied();
        }
        if is_literal(filter) {
            return self.subjects.get(filter)?.back().copied();
        }
        let mut walked = self.msgs.iter().rev();
        for (seq, entry) in walked.by_ref().take(LINEAR_PROBE) {
            if subject_matches(filter, &entry.subject) {
                return Some(*seq);
            }
        }
        let (&rest, _) = walked.next()?;
        let left = rest.saturating_sub(self.first_seq);
        if left <= 4 * self.subjects.len() as u64 {
            return self
                .msgs
                .range(..=rest)
                .rev()
                .find(|(_, e)| subject_matches(filter, &e.subject))
                .map(|(s, _)| *s);
        }
        self.subjects
            .iter()
            .filter(|(subject, _)| subject_matches(filter, subject))
            .filter_map(|(_, seqs)| seqs.back().copied())
            .max()
    }

    /// Stored sequences whose subject matches `filter`, ascending.
    fn matching(&self, filter: &str) -> Vec<u64> {
        if is_all(filter) {
            return self.msgs.keys().copied().collect();
        }
        if is_literal(filter) {
            return self
                .subjects
                .get(filter)
                .map(|seqs| seqs.iter().copied().collect())
                .unwrap_or_default();
        }
        let mut seqs: Vec<u64> = self
            .subjects
            .iter()
            .filter(|(subject, _)| subject_matches(filter, subject))
            .flat_map(|(_, seqs)| seqs.iter().copied())
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
            let first_kept = if keep <= msgs / 2 {
                self.msgs.keys().rev().nth((keep - 1) as usize)
            } else {
                self.msgs.keys().nth((msgs - keep) as usize)
            };
            return match first_kept {
                Some(s) => PurgePlan::Compact(*s),
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

    /// How many stored messages each subject matching `filter` has, sorted by subject.
    pub fn subjects(&self, filter: &str) -> Vec<(String, u64)> {
        if !is_all(filter) && is_literal(filter) {
            return self
                .subjects
                .get(filter)
                .map(|seqs| vec![(filter.to_owned(), seqs.len() as u64)])
                .unwrap_or_default();
        }
        let mut out: Vec<(String, u64)> = self
            .subjects
            .iter()
            .filter(|(subject, _)| filter_matches(filter, subject))
            .map(|(subject, seqs)| (subject.to_string(), seqs.len() as u64))
            .collect();
        out.sort_unstable();
        out
    }

    pub fn subject_count(&self, subject: &str) -> u64 {
        self.subjects.get(subject).map_or(0, |s| s.len() as u64)
    }

    pub fn first_seq_for_subject(&self, subject: &str) -> Option<u64> {
        self.subjects.get(subject)?.front().copied()
    }

    /// The first stored sequence whose time is at or after `time`: a binary search over the
    /// sequence range, each probe finding the next stored message in the ordered map.
    pub fn seq_for_time(&self, time: i64) -> Option<u64> {
        let (&first, first_entry) = self.msgs.first_key_value()?;
        if first_entry.time >= time {
            return Some(first);
        }
        let (&last, last_entry) = self.msgs.last_key_value()?;
        if last_entry.time < time {
            return None;
        }
        // Invariant: the answer lies in [lo, hi], and `last` qualifies.
        let (mut lo, mut hi, mut found) = (first + 1, last, last);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            match self.msgs.range(mid..=hi).next() {
                None => hi = mid - 1,
                Some((&seq, entry)) if entry.time >= time => {
                    found = seq;
                    hi = mid - 1;
                }
                Some((&seq, _)) => lo = seq + 1,
            }
        }
        Some(found)
    }

    /// Sequences between `first_seq` and `last_seq` that are not stored, ascending.
    pub fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut next = self.first_seq;
        if self.msgs.is_empty() {
            return out;
        }
        for &seq in self.msgs.keys() {
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
