//! The file store's recovery must never panic, whatever its files hold. The input is cut on
//! `SPLIT` into up to five files of a store's directory: two blocks, the first block's delete
//! file and index file, and the state file. The store is opened, every stored message read
//! (a damaged one may fail, never panic), and one more appended.
#![no_main]

use std::path::PathBuf;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use switchboard::jetstream::store::file::FileStore;
use switchboard::jetstream::store::{FileStoreConfig, Store, StoreError, SyncPolicy};

const SPLIT: &[u8] = b"\xffSPLIT\xff";

const FILES: [&str; 5] = [
    "00000000000000000001.blk",
    "00000000000000000100.blk",
    "00000000000000000001.del",
    "00000000000000000001.idx",
    "state",
];

fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    while parts.len() + 1 < FILES.len() {
        let Some(at) = data.windows(SPLIT.len()).position(|w| w == SPLIT) else {
            break;
        };
        parts.push(&data[..at]);
        data = &data[at + SPLIT.len()..];
    }
    parts.push(data);
    parts
}

fuzz_target!(|data: &[u8]| {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("switchboard-fuzz-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for (name, bytes) in FILES.iter().zip(split(data)) {
        if !bytes.is_empty() {
            std::fs::write(dir.join(name), bytes).expect("write a store file");
        }
    }
    let cfg = FileStoreConfig {
        dir: dir.clone(),
        block_size: 4096,
        sync: SyncPolicy::Interval(Duration::from_secs(60)),
    };
    let (mut store, report) = FileStore::open(cfg).expect("open the store");
    let state = store.state();
    assert_eq!(state.msgs, report.msgs);
    let mut next = state.first_seq;
    for _ in 0..10_000 {
        let after = match store.load_next(">", next) {
            Ok(Some(m)) => m.seq.checked_add(1),
            Ok(None) => break,
            // A record whose index is trusted is checked when it is read.
            Err(StoreError::Damaged { seq }) if seq >= next => seq.checked_add(1),
            Err(e) => panic!("reading after recovery: {e}"),
        };
        match after {
            Some(n) => next = n,
            None => break,
        }
    }
    let _ = store.subjects(">");
    let _ = store.seq_for_time(0);
    if state.last_seq < u64::MAX {
        let seq = store
            .append("fuzz.after", b"", b"x", 0)
            .expect("append after recovery");
        assert_eq!(seq, state.last_seq + 1);
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
});
