//! Stream storage: what a stream keeps of its messages, in memory ([`memory::MemoryStore`])
//! or on disk ([`file::FileStore`], a segment log of our own; docs/storage.md says why).
//!
//! A store knows sequences, subjects, times and bytes. It knows nothing of stream
//! configuration: limits, deduplication, expected headers and TTLs are the stream's job,
//! which uses the queries below to enforce them.
//!
//! Sizes are counted as nats-server counts them, so `bytes` in a stream's state (and every
//! limit on it) means the same number on both servers: see [`msg_size`].

pub mod file;
mod index;
pub mod memory;
mod record;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use bytes::Bytes;

/// Which backend a stream uses (`storage` in the stream's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    File,
    Memory,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    /// When it was stored, in Unix nanoseconds.
    pub time: i64,
    /// The raw header block (`NATS/1.0\r\n...\r\n\r\n`), empty when the message had none.
    pub headers: Bytes,
    pub payload: Bytes,
}

/// A store's counters, as a stream's `state` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreState {
    pub msgs: u64,
    /// Sum of [`msg_size`] over the stored messages.
    pub bytes: u64,
    /// The first sequence still stored; after a purge of everything, `last_seq + 1`.
    pub first_seq: u64,
    /// Unix nanoseconds of the first stored message; 0 when there is none.
    pub first_time: i64,
    pub last_seq: u64,
    /// Unix nanoseconds of the last message ever stored (kept when it is removed); 0 if none.
    pub last_time: i64,
    /// Distinct subjects among the stored messages.
    pub num_subjects: u64,
    /// Sequences between `first_seq` and `last_seq` that are no longer stored.
    pub num_deleted: u64,
}

/// What `purge` removes; every field left `None`/0 removes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Only messages whose subject matches this filter (wildcards allowed).
    pub filter: Option<String>,
    /// Only messages with a sequence below this one.
    pub seq: Option<u64>,
    /// Keep this many of the newest (matching) messages.
    pub keep: Option<u64>,
}

/// When the file store calls fsync: the configuration's `sync_interval` (the owner drives
/// the timer by calling [`Store::sync`]) or `always` (before every append returns).
pub use crate::options::SyncPolicy;

/// How a file store is opened.
#[derive(Debug, Clone)]
pub struct FileStoreConfig {
    /// The stream's message directory (`.../streams/<name>/msgs`); created when missing.
    pub dir: PathBuf,
    /// Bytes a block may hold before the next one is started.
    pub block_size: u64,
    pub sync: SyncPolicy,
}

/// What opening a file store found and repaired; the caller logs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// A block whose last record was incomplete or failed its checksum and was cut:
    /// (block file, bytes cut).
    pub torn_tails: Vec<(PathBuf, u64)>,
    /// Blocks (or parts of blocks) that could not be read and were skipped, with why.
    pub damaged: Vec<(PathBuf, String)>,
    /// Messages recovered.
    pub msgs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk (or the process's file-size limit) refused the write; nothing was stored.
    #[error("no space left for the message: {0}")]
    Full(std::io::Error),
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record read back failed its checksum or does not parse.
    #[error("damaged record at sequence {seq}")]
    Damaged { seq: u64 },
    /// The message is larger than a record can hold (subject over 64 KiB, total over 4 GiB).
    #[error("message too large for the store")]
    TooLarge,
}

/// The storage a stream appends to and reads from. Owned by one stream behind its lock.
pub trait Store: Send + std::fmt::Debug {
    /// Stores a message under the next sequence, stamped with `time` (Unix nanoseconds);
    /// returns that sequence. When this returns Ok the message survives a SIGKILL of the
    /// process (file store: the record went through write(2); with `SyncPolicy::Always` it
    /// was also fsynced). On error nothing was stored and the store is unchanged.
    fn append(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        time: i64,
    ) -> Result<u64, StoreError>;

    /// The message with this sequence, if it is stored.
    fn load(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// The first stored message with a sequence at or after `start` whose subject matches
    /// `filter` (wildcards allowed; `>` matches all).
    fn load_next(&self, filter: &str, start: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// The stored message with the highest sequence whose subject matches `filter`
    /// (wildcards allowed).
    fn load_last(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError>;

    /// Removes one message; false when it was not stored. `erase` overwrites its bytes on
    /// disk (nats-server's secure delete) instead of only forgetting them. Removing the
    /// first message moves `first_seq` to the next stored one; `last_seq` and `last_time`
    /// stay whatever is removed.
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError>;

    /// Removes messages as nats-server's PurgeEx does; returns how many were removed.
    /// `seq` means "below this sequence" (1 removes nothing); `keep` keeps the newest
    /// matching messages and counts all of them, whatever `seq` says. Without a filter (or
    /// with `>`), a purge of everything or up to `seq` is nats-server's purge or compact
    /// (`keep` is then ignored when `seq` is given): `first_seq` becomes the first stored
    /// sequence at or above `seq`, or `last_seq + 1` when nothing is left; a `seq` past
    /// `last_seq + 1` also moves `last_seq` to `seq - 1`, so that the next append gets `seq`.
    fn purge(&mut self, req: &PurgeRequest) -> Result<u64, StoreError>;

    /// Makes the next append get sequence `seq` and drops everything below it (a stream's
    /// `first_seq`); only valid with `seq > last_seq`, an `InvalidInput` I/O error
    /// otherwise.
    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError>;

    fn state(&self) -> StoreState;

    /// How many stored messages each subject matching `filter` has, sorted by subject.
    fn subjects(&self, filter: &str) -> Vec<(String, u64)>;

    /// How many stored messages have exactly this (literal) subject.
    fn subject_count(&self, subject: &str) -> u64;

    /// How many stored messages with a sequence at or after `start` match `filter` (a
    /// consumer's `num_pending`), from the index: no message is read.
    fn count_from(&self, filter: &str, start: u64) -> u64;

    /// The lowest stored sequence with exactly this (literal) subject.
    fn first_seq_for_subject(&self, subject: &str) -> Option<u64>;

    /// The first stored sequence whose time is at or after `time` (Unix nanoseconds).
    fn seq_for_time(&self, time: i64) -> Option<u64>;

    /// Sequences between `first_seq` and `last_seq` that are not stored, ascending.
    fn deleted(&self) -> Vec<u64>;

    /// Fsyncs what was written since the last call (the `sync_interval` timer calls this):
    /// the file store's blocks, delete files and directory; it also writes the index of
    /// each block sealed since, now that the block is on disk.
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Bytes the store occupies on disk (0 for memory).
    fn disk_usage(&self) -> u64;
}

/// nats-server's size of a stored message: what `bytes` in a stream's state sums and
/// `max_bytes` limits. The file store counts its record overhead (and 4 bytes for the
/// header length when there are headers); the memory store a fixed 16.
pub fn msg_size(kind: StorageKind, subject: &str, headers: &[u8], payload: &[u8]) -> u64 {
    match kind {
        StorageKind::File => file_msg_size(subject.len(), headers.len(), payload.len()),
        StorageKind::Memory => {
            subject.len() as u64 + headers.len() as u64 + payload.len() as u64 + 16
        }
    }
}

/// [`msg_size`] for the file store, from the lengths alone (what a record on disk gives).
pub(crate) fn file_msg_size(subject: usize, headers: usize, payload: usize) -> u64 {
    let (s, h, p) = (subject as u64, headers as u64, payload as u64);
    if h > 0 {
        22 + s + 4 + h + p + 8
    } else {
        22 + s + p + 8
    }
}

/// The error of a [`Store::skip_to`] that would go backwards.
pub(crate) fn skip_backwards(seq: u64, last_seq: u64) -> StoreError {
    StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("skip to sequence {seq}: the store is already at {last_seq}"),
    ))
}

/// The error of an append after sequence 2^64 - 1.
pub(crate) fn seq_exhausted() -> StoreError {
    StoreError::Io(std::io::Error::other("no sequence left after 2^64 - 1"))
}

/// Whether a subject matches a filter with `*` and `>` wildcards (a literal filter matches
/// only itself).
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    crate::proto::subject::matches(filter.as_bytes(), subject.as_bytes())
}
