//! The memory store: the messages themselves in the shared [`Index`].

use bytes::Bytes;

use super::index::{Index, PurgePlan};
use super::{msg_size, PurgeRequest, StorageKind, Store, StoreError, StoreState, StoredMsg};

/// A message's bytes: headers then payload in one allocation.
#[derive(Debug, Clone)]
struct Body {
    data: Bytes,
    headers: usize,
}

/// A stream's messages in memory (`storage: memory`).
#[derive(Debug)]
pub struct MemoryStore {
    index: Index<Body>,
}

impl MemoryStore {
    /// An empty store whose first message gets `first_seq` (0 is taken as 1).
    pub fn new(first_seq: u64) -> Self {
        MemoryStore {
            index: Index::new(first_seq),
        }
    }

    fn msg(&self, seq: u64) -> Option<StoredMsg> {
        let e = self.index.get(seq)?;
        let split = e.loc.headers.min(e.loc.data.len());
        Some(StoredMsg {
            subject: self.index.subject(e).to_owned(),
            seq,
            time: e.time,
            headers: e.loc.data.slice(..split),
            payload: e.loc.data.slice(split..),
        })
    }
}

impl Store for MemoryStore {
    fn append(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        time: i64,
    ) -> Result<u64, StoreError> {
        // The same limits as a file record, so that both stores take the same messages.
        if !super::record::fits(subject, headers, payload) {
            return Err(StoreError::TooLarge);
        }
        let seq = self
            .index
            .last_seq()
            .checked_add(1)
            .ok_or_else(super::seq_exhausted)?;
        let mut data = Vec::with_capacity(headers.len() + payload.len());
        data.extend_from_slice(headers);
        data.extend_from_slice(payload);
        let body = Body {
            data: Bytes::from(data),
            headers: headers.len(),
        };
        let size = msg_size(StorageKind::Memory, subject, headers, payload);
        self.index.insert(seq, subject, time, size, body);
        Ok(seq)
    }

    fn load(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.msg(seq))
    }

    fn load_next(&self, filter: &str, start: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self
            .index
            .next_match(filter, start)
            .and_then(|s| self.msg(s)))
    }

    fn load_last(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.index.last_match(filter).and_then(|s| self.msg(s)))
    }

    fn remove(&mut self, seq: u64, _erase: bool) -> Result<bool, StoreError> {
        // Nothing to overwrite: the bytes go with the last reference to them.
        Ok(self.index.remove(seq).is_some())
    }

    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError> {
        Ok(match self.index.plan_purge(req) {
            PurgePlan::Nothing => 0,
            PurgePlan::Compact(floor) => self.index.compact(floor).len() as u64,
            PurgePlan::Remove(seqs) => seqs
                .into_iter()
                .filter(|s| self.index.remove(*s).is_some())
                .count() as u64,
        })
    }

    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq <= self.index.last_seq() {
            return Err(super::skip_backwards(seq, self.index.last_seq()));
        }
        self.index.compact(seq);
        Ok(())
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

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn disk_usage(&self) -> u64 {
        0
    }
}
