//! The stores' tests. One behavioural suite runs over the memory store and over two file
//! stores (one large block; blocks of a few records each), and every file store is then
//! reopened and must come back the same. Then what only the file store has: restart, torn
//! tails, damage, a full disk and SIGKILL (these two in a child process), and property tests
//! that feed its recovery reader hostile files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::file::FileStore;
use super::memory::MemoryStore;
use super::*;

const BIG: u64 = 8 << 20;
/// A few records per block.
const TINY: u64 = 256;
const HDR: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";

fn cfg(dir: &Path, block_size: u64, sync: SyncPolicy) -> FileStoreConfig {
    FileStoreConfig {
        dir: dir.to_owned(),
        block_size,
        sync,
    }
}

fn open(dir: &Path, block_size: u64) -> (FileStore, RecoveryReport) {
    FileStore::open(cfg(
        dir,
        block_size,
        SyncPolicy::Interval(Duration::from_secs(60)),
    ))
    .expect("open the file store")
}

fn clean(report: &RecoveryReport) -> bool {
    report.torn_tails.is_empty() && report.damaged.is_empty()
}

/// Every stored message, ascending.
fn contents(s: &dyn Store) -> Vec<StoredMsg> {
    let mut out = Vec::new();
    let mut next = 1;
    while let Some(m) = s.load_next(">", next).expect("load_next") {
        next = m.seq + 1;
        out.push(m);
    }
    out
}

fn seqs(s: &dyn Store) -> Vec<u64> {
    contents(s).iter().map(|m| m.seq).collect()
}

/// Appends with time = 1000 × the sequence it will get.
fn put(s: &mut dyn Store, subject: &str, payload: &str) -> u64 {
    let time = (s.state().last_seq as i64 + 1) * 1000;
    s.append(subject, b"", payload.as_bytes(), time)
        .expect("append")
}

/// Runs `body` over a memory store and two file stores; each file store is then reopened and
/// must have the same state, messages and deleted sequences.
fn each_store(body: impl Fn(&mut dyn Store, StorageKind)) {
    body(&mut MemoryStore::new(1), StorageKind::Memory);
    for block_size in [BIG, TINY] {
        let dir = tempfile::tempdir().expect("temp dir");
        let before = {
            let (mut s, report) = open(dir.path(), block_size);
            assert_eq!(report, RecoveryReport::default());
            body(&mut s, StorageKind::File);
            (s.state(), contents(&s), s.deleted())
        };
        let (s, report) = open(dir.path(), block_size);
        assert!(clean(&report), "block size {block_size}: {report:?}");
        let after = (s.state(), contents(&s), s.deleted());
        assert_eq!(after, before, "block size {block_size}: after a reopen");
    }
}

#[test]
fn append_and_load() {
    each_store(|s, kind| {
        assert_eq!(
            s.state(),
            StoreState {
                first_seq: 1,
                ..StoreState::default()
            }
        );
        assert_eq!(s.append("a.b", b"", b"one", 100).unwrap(), 1);
        assert_eq!(s.append("a.c", HDR, b"two", 200).unwrap(), 2);
        assert_eq!(s.append("a.b", b"", b"", 300).unwrap(), 3);
        let m = s.load(2).unwrap().unwrap();
        assert_eq!(
            m,
            StoredMsg {
                subject: "a.c".into(),
                seq: 2,
                time: 200,
                headers: Bytes::from_static(HDR),
                payload: Bytes::from_static(b"two"),
            }
        );
        assert_eq!(s.load(3).unwrap().unwrap().payload, Bytes::new());
        assert_eq!(s.load(1).unwrap().unwrap().headers, Bytes::new());
        assert!(s.load(0).unwrap().is_none());
        assert!(s.load(4).unwrap().is_none());
        let bytes = msg_size(kind, "a.b", b"", b"one")
            + msg_size(kind, "a.c", HDR, b"two")
            + msg_size(kind, "a.b", b"", b"");
        assert_eq!(
            s.state(),
            StoreState {
                msgs: 3,
                bytes,
                first_seq: 1,
                first_time: 100,
                last_seq: 3,
                last_time: 300,
                num_subjects: 2,
                num_deleted: 0,
            }
        );
    });
}

#[test]
fn sizes_are_nats_servers() {
    assert_eq!(
        msg_size(StorageKind::File, "foo", b"", b"hello"),
        22 + 3 + 5 + 8
    );
    assert_eq!(
        msg_size(StorageKind::File, "foo", b"hh", b"hello"),
        22 + 3 + 4 + 2 + 5 + 8
    );
    assert_eq!(
        msg_size(StorageKind::Memory, "foo", b"hh", b"hello"),
        3 + 2 + 5 + 16
    );
}

#[test]
fn too_large_is_refused_and_changes_nothing() {
    each_store(|s, _| {
        put(s, "a", "x");
        let subject = "s".repeat(70_000);
        assert!(matches!(
            s.append(&subject, b"", b"x", 5),
            Err(StoreError::TooLarge)
        ));
        assert_eq!(put(s, "a", "y"), 2);
    });
}

#[test]
fn load_next_and_load_last_with_wildcards() {
    each_store(|s, _| {
        for subject in ["a.1", "a.2", "b.1", "a.1", "c.x.y"] {
            put(s, subject, subject);
        }
        let next = |s: &dyn Store, f: &str, start: u64| {
            s.load_next(f, start).unwrap().map(|m| (m.seq, m.subject))
        };
        assert_eq!(next(s, "a.*", 1), Some((1, "a.1".into())));
        assert_eq!(next(s, "a.*", 3), Some((4, "a.1".into())));
        assert_eq!(next(s, "a.1", 2), Some((4, "a.1".into())));
        assert_eq!(next(s, "b.>", 0), Some((3, "b.1".into())));
        assert_eq!(next(s, ">", 5), Some((5, "c.x.y".into())));
        assert_eq!(next(s, "c.>", 1), Some((5, "c.x.y".into())));
        assert_eq!(next(s, "c.*", 1), None);
        assert_eq!(next(s, "*.1", 4), Some((4, "a.1".into())));
        assert_eq!(next(s, ">", 6), None);
        assert_eq!(next(s, "", 2), Some((2, "a.2".into())));
        assert_eq!(next(s, "d", 1), None);
        let last = |s: &dyn Store, f: &str| s.load_last(f).unwrap().map(|m| m.seq);
        assert_eq!(last(s, "a.*"), Some(4));
        assert_eq!(last(s, "a.2"), Some(2));
        assert_eq!(last(s, "*.1"), Some(4));
        assert_eq!(last(s, ">"), Some(5));
        assert_eq!(last(s, "z.>"), None);
        assert!(s.remove(4, false).unwrap());
        assert_eq!(last(s, "a.1"), Some(1));
        assert_eq!(last(s, "a.*"), Some(2));
        assert_eq!(next(s, "a.1", 2), None);
    });
}

#[test]
fn wildcard_lookups_over_many_messages() {
    // More messages than a lookup walks before it turns to the subjects, few subjects.
    each_store(|s, _| {
        put(s, "y.first", "y");
        for i in 0..300 {
            put(s, &format!("x.{}", i % 3), "x");
        }
        put(s, "y.last", "y");
        let next = |f: &str, start: u64| s.load_next(f, start).unwrap().map(|m| m.seq);
        assert_eq!(next("y.*", 2), Some(302));
        assert_eq!(next("y.*", 1), Some(1));
        assert_eq!(next("x.*", 1), Some(2));
        assert_eq!(next("x.2", 290), Some(292));
        assert_eq!(next("*.last", 1), Some(302));
        assert_eq!(next("z.*", 1), None);
        let last = |f: &str| s.load_last(f).unwrap().map(|m| m.seq);
        assert_eq!(last("y.*"), Some(302));
        assert_eq!(last("*.first"), Some(1));
        assert_eq!(last("x.*"), Some(301));
        assert_eq!(last("z.>"), None);
    });
}

#[test]
fn reads_the_same_from_memory_and_from_disk() {
    // 12 MiB in 256 KiB messages: the oldest have left the just-appended cache (8 MiB) and
    // are read from the blocks, the newest come from memory; all read the same.
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = open(dir.path(), 4 * 1024 * 1024);
    let body = |i: u64| vec![b'a' + (i % 26) as u8; 256 * 1024];
    for i in 1..=48u64 {
        let seq = s
            .append(
                &format!("r.{i}"),
                b"NATS/1.0\r\nA: b\r\n\r\n",
                &body(i),
                1_000 + i as i64,
            )
            .unwrap();
        assert_eq!(seq, i);
    }
    for i in [1, 2, 17, 47, 48] {
        let m = s.load(i).unwrap().unwrap();
        assert_eq!(
            (m.subject.as_str(), m.time),
            (format!("r.{i}").as_str(), 1_000 + i as i64)
        );
        assert_eq!(&m.headers[..], b"NATS/1.0\r\nA: b\r\n\r\n");
        assert_eq!(m.payload, body(i));
    }
    // A removed message is gone from memory too.
    s.remove(48, true).unwrap();
    assert!(s.load(48).unwrap().is_none());
}

#[test]
fn counts_from_a_sequence_as_a_walk_would() {
    each_store(|s, _| {
        for i in 0..200 {
            put(s, &format!("c.{}.{}", i % 4, i % 7), "x");
        }
        for seq in [5, 50, 51, 120] {
            s.remove(seq, false).unwrap();
        }
        let walk = |s: &dyn Store, f: &str, start: u64| {
            let (mut n, mut seq) = (0, start);
            while let Some(m) = s.load_next(f, seq).unwrap() {
                n += 1;
                seq = m.seq + 1;
            }
            n
        };
        for filter in [">", "c.>", "c.1.*", "c.*.3", "c.2.2", "c.9.*", "d"] {
            for start in [1, 5, 49, 52, 150, 200, 201, 500] {
                assert_eq!(
                    s.count_from(filter, start),
                    walk(s, filter, start),
                    "{filter} from {start}"
                );
            }
        }
    });
}

#[test]
fn remove_messages() {
    each_store(|s, _| {
        for i in 1..=5 {
            put(s, "a", &i.to_string());
        }
        assert!(s.remove(3, false).unwrap());
        assert!(!s.remove(3, false).unwrap());
        assert!(!s.remove(9, false).unwrap());
        assert!(s.load(3).unwrap().is_none());
        assert_eq!(s.deleted(), vec![3]);
        assert_eq!(s.state().num_deleted, 1);
        assert!(s.remove(1, true).unwrap());
        assert_eq!(s.state().first_seq, 2);
        assert_eq!(s.state().first_time, 2000);
        assert!(s.remove(5, true).unwrap());
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 2, 5));
        assert_eq!(st.last_time, 5000, "the last time outlives its message");
        assert_eq!(s.deleted(), vec![3, 5]);
        assert_eq!(st.num_deleted, 2);
        assert_eq!(put(s, "a", "6"), 6);
        assert!(s.remove(2, false).unwrap());
        assert!(s.remove(4, false).unwrap());
        assert!(s.remove(6, false).unwrap());
        let st = s.state();
        assert_eq!(
            (st.msgs, st.bytes, st.first_seq, st.last_seq, st.num_deleted),
            (0, 0, 7, 6, 0)
        );
        assert_eq!((st.first_time, st.last_time), (0, 6000));
        assert!(s.deleted().is_empty());
        assert_eq!(put(s, "a", "7"), 7);
    });
}

/// Ten messages: a.1 a.2 b.1 a.1 b.2 a.2 b.1 a.1 c a.2 at sequences 1..=10.
fn ten(s: &mut dyn Store) {
    for subject in [
        "a.1", "a.2", "b.1", "a.1", "b.2", "a.2", "b.1", "a.1", "c", "a.2",
    ] {
        put(s, subject, subject);
    }
}

fn purge(s: &mut dyn Store, filter: Option<&str>, seq: Option<u64>, keep: Option<u64>) -> u64 {
    s.purge(&PurgeRequest {
        filter: filter.map(str::to_owned),
        seq,
        keep,
    })
    .expect("purge")
}

#[test]
fn purge_everything() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(purge(s, None, None, None), 10);
        let st = s.state();
        assert_eq!(
            st,
            StoreState {
                first_seq: 11,
                last_seq: 10,
                last_time: 10_000,
                ..StoreState::default()
            }
        );
        assert_eq!(purge(s, None, None, None), 0);
        assert_eq!(put(s, "a", "x"), 11);
        assert_eq!(purge(s, Some(">"), None, None), 1);
        assert_eq!(s.state().first_seq, 12);
    });
}

#[test]
fn purge_below_a_sequence() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(purge(s, None, Some(1), None), 0, "below 1 is nothing");
        assert_eq!(purge(s, None, Some(4), None), 3);
        assert_eq!(seqs(s), (4..=10).collect::<Vec<_>>());
        assert_eq!(s.state().first_seq, 4);
        assert_eq!(purge(s, None, Some(3), None), 0, "already past");
        // A hole at the new first sequence: the first stored one above it becomes first.
        assert!(s.remove(6, false).unwrap());
        assert_eq!(
            purge(s, Some(">"), Some(6), Some(100)),
            2,
            "keep is ignored with >"
        );
        assert_eq!(s.state().first_seq, 7);
        assert_eq!(s.subject_count("a.2"), 1);
        assert_eq!(s.state().num_subjects, 4);
    });
}

#[test]
fn purge_past_the_end() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(purge(s, None, Some(50), None), 10);
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 50, 49));
        assert_eq!(st.last_time, 10_000);
        assert_eq!(s.append("a", b"", b"x", 60_000).unwrap(), 50);
    });
}

#[test]
fn purge_by_filter() {
    each_store(|s, kind| {
        ten(s);
        assert_eq!(purge(s, Some("a.1"), None, None), 3);
        assert_eq!(seqs(s), vec![2, 3, 5, 6, 7, 9, 10]);
        assert_eq!(purge(s, Some("b.*"), None, None), 3);
        assert_eq!(seqs(s), vec![2, 6, 9, 10]);
        assert_eq!(purge(s, Some("nothing"), None, None), 0);
        let st = s.state();
        assert_eq!((st.first_seq, st.last_seq, st.num_deleted), (2, 10, 5));
        assert_eq!(
            st.bytes,
            3 * msg_size(kind, "a.2", b"", b"a.2") + msg_size(kind, "c", b"", b"c")
        );
        assert_eq!(s.subjects(">"), vec![("a.2".into(), 3), ("c".into(), 1)]);
        assert_eq!(purge(s, Some("*.2"), None, None), 3);
        assert_eq!(seqs(s), vec![9]);
        assert_eq!(s.state().first_seq, 9);
        assert_eq!(purge(s, Some("c"), None, None), 1);
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 11, 10));
    });
}

#[test]
fn purge_by_filter_below_a_sequence() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(purge(s, Some("a.*"), Some(6), None), 3);
        assert_eq!(seqs(s), vec![3, 5, 6, 7, 8, 9, 10]);
        assert_eq!(purge(s, Some("b.1"), Some(1), None), 0);
    });
}

#[test]
fn purge_keeping_the_newest() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(purge(s, Some("a.1"), None, Some(1)), 2);
        assert_eq!(s.first_seq_for_subject("a.1"), Some(8));
        assert_eq!(purge(s, Some("a.*"), None, Some(3)), 1, "a.2 at 2 goes");
        assert_eq!(seqs(s), vec![3, 5, 6, 7, 8, 9, 10]);
        assert_eq!(purge(s, Some("a.*"), None, Some(3)), 0);
        assert_eq!(purge(s, Some("a.*"), None, Some(30)), 0);
        // No filter: keep the newest of everything, the rest goes from the front.
        assert_eq!(purge(s, None, None, Some(2)), 5);
        assert_eq!(seqs(s), vec![9, 10]);
        assert_eq!(s.state().first_seq, 9);
        assert_eq!(purge(s, None, None, Some(2)), 0);
    });
}

#[test]
fn purge_keeping_below_a_sequence() {
    // nats-server: keep counts every matching message, and the removal stops at the sequence.
    each_store(|s, _| {
        ten(s);
        // a.* has 7 messages: 1 2 4 6 8 10 ... keep 2 → up to 5 may go, but only below 5.
        assert_eq!(purge(s, Some("a.*"), Some(5), Some(2)), 3);
        assert_eq!(seqs(s), vec![3, 5, 6, 7, 8, 9, 10]);
        // a.* now 6 8 10: keep 1 → 2 may go, below 9: 6 and 8.
        assert_eq!(purge(s, Some("a.*"), Some(9), Some(1)), 2);
        assert_eq!(seqs(s), vec![3, 5, 7, 9, 10]);
    });
}

#[test]
fn skip_to_moves_the_next_sequence() {
    each_store(|s, _| {
        s.skip_to(5).unwrap();
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 5, 4));
        assert_eq!(put(s, "a", "x"), 5);
        put(s, "a", "y");
        s.skip_to(100).unwrap();
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.bytes),
            (0, 100, 99, 0)
        );
        assert_eq!(st.num_subjects, 0);
        assert!(s.skip_to(99).is_err());
        assert!(s.skip_to(50).is_err());
        assert_eq!(s.state().first_seq, 100);
        s.skip_to(100).unwrap();
        assert_eq!(put(s, "a", "z"), 100);
    });
}

#[test]
fn memory_store_starts_at_its_first_sequence() {
    let mut s = MemoryStore::new(42);
    assert_eq!(s.state().first_seq, 42);
    assert_eq!(s.state().last_seq, 41);
    assert_eq!(put(&mut s, "a", "x"), 42);
    assert_eq!(MemoryStore::new(0).state().first_seq, 1);
}

#[test]
fn subjects_and_counts() {
    each_store(|s, _| {
        ten(s);
        assert_eq!(
            s.subjects(">"),
            vec![
                ("a.1".into(), 3),
                ("a.2".into(), 3),
                ("b.1".into(), 2),
                ("b.2".into(), 1),
                ("c".into(), 1)
            ]
        );
        assert_eq!(
            s.subjects("b.*"),
            vec![("b.1".into(), 2), ("b.2".into(), 1)]
        );
        assert_eq!(s.subjects("a.2"), vec![("a.2".into(), 3)]);
        assert!(s.subjects("zz").is_empty());
        assert_eq!(s.subject_count("a.1"), 3);
        assert_eq!(s.subject_count("a.*"), 0, "a literal subject only");
        assert_eq!(s.subject_count("zz"), 0);
        assert_eq!(s.first_seq_for_subject("b.1"), Some(3));
        assert!(s.remove(3, false).unwrap());
        assert_eq!(s.first_seq_for_subject("b.1"), Some(7));
        assert_eq!(s.subject_count("b.1"), 1);
        assert!(s.remove(5, false).unwrap());
        assert_eq!(s.first_seq_for_subject("b.2"), None);
        assert_eq!(s.state().num_subjects, 4);
    });
}

#[test]
fn seq_for_time_finds_the_first_at_or_after() {
    each_store(|s, _| {
        assert_eq!(s.seq_for_time(0), None);
        ten(s);
        assert_eq!(s.seq_for_time(i64::MIN), Some(1));
        assert_eq!(s.seq_for_time(1000), Some(1));
        assert_eq!(s.seq_for_time(1001), Some(2));
        assert_eq!(s.seq_for_time(5000), Some(5));
        assert_eq!(s.seq_for_time(10_000), Some(10));
        assert_eq!(s.seq_for_time(10_001), None);
        for seq in [2, 3, 4, 6] {
            assert!(s.remove(seq, false).unwrap());
        }
        assert_eq!(s.seq_for_time(1500), Some(5));
        assert_eq!(s.seq_for_time(5500), Some(7));
        assert_eq!(s.seq_for_time(0), Some(1));
        assert_eq!(purge(s, None, Some(8), None), 3);
        assert_eq!(s.seq_for_time(0), Some(8));
    });
}

#[test]
fn deleted_lists_the_gaps() {
    each_store(|s, _| {
        ten(s);
        assert!(s.deleted().is_empty());
        for seq in [2, 5, 6, 10] {
            assert!(s.remove(seq, false).unwrap());
        }
        assert_eq!(s.deleted(), vec![2, 5, 6, 10]);
        assert_eq!(s.state().num_deleted, 4);
        assert!(s.remove(1, false).unwrap());
        assert_eq!(s.deleted(), vec![2, 5, 6, 10][1..].to_vec());
        assert_eq!(s.state().first_seq, 3);
    });
}

// ---------------------------------------------------------------------------------------------
// The file store's own.

fn block_files(dir: &Path) -> Vec<PathBuf> {
    files_ending(dir, ".blk")
}

fn files_ending(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the store dir")
        .map(|e| e.expect("a dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn file_restart_keeps_deletes_and_erases() {
    let dir = tempfile::tempdir().unwrap();
    let (want, state) = {
        let (mut s, _) = open(dir.path(), TINY);
        for i in 1..=60u64 {
            let payload = format!("secret-{i:03}");
            let headers: &[u8] = if i % 4 == 0 { HDR } else { b"" };
            s.append(
                &format!("k.{}", i % 5),
                headers,
                payload.as_bytes(),
                i as i64,
            )
            .unwrap();
        }
        assert!(block_files(dir.path()).len() > 5, "several blocks");
        for seq in [7, 20, 33, 60] {
            assert!(s.remove(seq, false).unwrap());
        }
        for seq in [8, 21, 45] {
            assert!(s.remove(seq, true).unwrap());
        }
        assert_eq!(purge(&mut s, Some("k.3"), None, None), 10);
        (contents(&s), s.state())
    };
    let all: Vec<u8> = block_files(dir.path())
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    for erased in [8, 21, 45] {
        assert!(!contains(&all, format!("secret-{erased:03}").as_bytes()));
    }
    assert!(
        contains(&all, b"secret-007"),
        "a plain remove does not erase"
    );
    let (s, report) = open(dir.path(), TINY);
    assert!(clean(&report), "{report:?}");
    assert_eq!(report.msgs, want.len() as u64);
    assert_eq!(s.state(), state);
    assert_eq!(state.last_time, 60, "60 was removed, its time stays");
    assert_eq!(contents(&s), want);
}

#[test]
fn file_restart_after_purges_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), TINY);
        ten(&mut s);
        assert_eq!(purge(&mut s, None, None, None), 10);
        assert!(
            block_files(dir.path()).is_empty(),
            "a full purge removes every block"
        );
    }
    let (mut s, report) = open(dir.path(), TINY);
    assert!(clean(&report));
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_time),
        (0, 11, 10, 10_000)
    );
    ten(&mut s);
    assert_eq!(purge(&mut s, None, Some(15), None), 4);
    drop(s);
    let (mut s, _) = open(dir.path(), TINY);
    assert_eq!(seqs(&s), (15..=20).collect::<Vec<_>>());
    s.skip_to(1000).unwrap();
    drop(s);
    let (mut s, _) = open(dir.path(), TINY);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 1000, 999));
    assert_eq!(put(&mut s, "a", "x"), 1000);
    drop(s);
    let (s, _) = open(dir.path(), TINY);
    assert_eq!(seqs(&s), vec![1000]);
}

#[test]
fn file_blocks_emptied_from_the_front_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = open(dir.path(), TINY);
    for i in 0..40 {
        put(&mut s, "a", &format!("{i:040}"));
    }
    let blocks = block_files(dir.path()).len();
    let usage = s.disk_usage();
    // Limits remove from the front, one message at a time.
    for seq in 1..=20 {
        assert!(s.remove(seq, false).unwrap());
    }
    assert!(block_files(dir.path()).len() < blocks);
    assert!(s.disk_usage() < usage);
    assert_eq!(s.state().first_seq, 21);
    // Everything, one at a time: the last block stays, it holds the last sequence.
    for seq in 21..=40 {
        assert!(s.remove(seq, false).unwrap());
    }
    assert_eq!(block_files(dir.path()).len(), 1);
    drop(s);
    let (mut s, report) = open(dir.path(), TINY);
    assert!(clean(&report));
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 41, 40));
    assert_eq!(put(&mut s, "a", "x"), 41);
}

#[test]
fn file_sealed_blocks_are_indexed_and_a_bad_index_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let (mut s, _) = open(dir.path(), TINY);
        for i in 0..50 {
            put(&mut s, &format!("s.{}", i % 4), &format!("payload {i}"));
        }
        s.remove(10, false).unwrap();
        s.sync().unwrap();
        contents(&s)
    };
    let blocks = block_files(dir.path());
    let indexes = files_ending(dir.path(), ".idx");
    assert_eq!(
        indexes.len(),
        blocks.len() - 1,
        "every sealed block has its index"
    );
    // A corrupt index, a missing one, an index of another length: the blocks are scanned.
    let mut bad = std::fs::read(&indexes[0]).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&indexes[0], bad).unwrap();
    std::fs::remove_file(&indexes[1]).unwrap();
    let other = std::fs::read(&indexes[3]).unwrap();
    std::fs::write(&indexes[2], other).unwrap();
    let (s, report) = open(dir.path(), TINY);
    assert!(clean(&report), "{report:?}");
    assert_eq!(contents(&s), want);
    drop(s);
    assert_eq!(files_ending(dir.path(), ".idx").len(), blocks.len() - 1);
}

#[test]
fn file_torn_tail_at_every_offset_of_the_last_record() {
    const N: u64 = 12;
    let src = tempfile::tempdir().unwrap();
    let (want, last_start) = {
        let (mut s, _) = open(src.path(), BIG);
        for i in 1..N {
            let headers: &[u8] = if i % 2 == 0 { HDR } else { b"" };
            s.append(&format!("t.{i}"), headers, &[i as u8; 40], i as i64)
                .unwrap();
        }
        let last_start = std::fs::metadata(&block_files(src.path())[0])
            .unwrap()
            .len();
        s.append("t.last", HDR, b"the last one", N as i64).unwrap();
        (contents(&s)[..N as usize - 1].to_vec(), last_start)
    };
    let block = block_files(src.path()).remove(0);
    let bytes = std::fs::read(&block).unwrap();
    assert!(bytes.len() as u64 > last_start + 40);
    for len in last_start..bytes.len() as u64 {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join(block.file_name().unwrap());
        std::fs::write(&copy, &bytes[..len as usize]).unwrap();
        let (mut s, report) = open(dir.path(), BIG);
        let cut = len - last_start;
        if cut == 0 {
            assert!(clean(&report), "at {len}: {report:?}");
        } else {
            assert_eq!(report.torn_tails, vec![(copy.clone(), cut)], "at {len}");
            assert!(report.damaged.is_empty(), "at {len}: {report:?}");
        }
        assert_eq!(report.msgs, N - 1);
        assert_eq!(contents(&s), want, "at {len}");
        assert_eq!(std::fs::metadata(&copy).unwrap().len(), last_start);
        assert_eq!(s.append("t.new", b"", b"new", 99).unwrap(), N, "at {len}");
        drop(s);
        let (s, report) = open(dir.path(), BIG);
        assert!(clean(&report));
        assert_eq!(
            s.load(N).unwrap().unwrap().payload,
            Bytes::from_static(b"new")
        );
    }
}

#[test]
fn file_torn_tail_in_a_store_of_many_blocks() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), TINY);
        for i in 0..30 {
            put(&mut s, "m", &format!("{i:030}"));
        }
    }
    let last = block_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(len - 3).unwrap();
    let (mut s, report) = open(dir.path(), TINY);
    assert_eq!(report.torn_tails.len(), 1);
    assert_eq!(report.msgs, 29);
    assert_eq!(seqs(&s), (1..=29).collect::<Vec<_>>());
    assert_eq!(put(&mut s, "m", "again"), 30);
}

#[test]
fn file_damaged_byte_in_a_sealed_block() {
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let (mut s, _) = open(dir.path(), 1024);
        for i in 0..60 {
            put(
                &mut s,
                &format!("d.{}", i % 3),
                &format!("message number {i:04}"),
            );
        }
        contents(&s)
    };
    let blocks = block_files(dir.path());
    assert!(blocks.len() >= 3);
    let victim = &blocks[1];
    let mut bytes = std::fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(victim, &bytes).unwrap();

    // With its index the block is not read at open: the damage shows when the record is.
    let (s, report) = open(dir.path(), 1024);
    assert!(clean(&report), "{report:?}");
    let mut damaged = Vec::new();
    for m in &want {
        match s.load(m.seq) {
            Ok(Some(got)) => assert_eq!(&got, m),
            Err(StoreError::Damaged { seq }) => damaged.push(seq),
            other => panic!("seq {}: {other:?}", m.seq),
        }
    }
    assert_eq!(damaged.len(), 1, "one record holds the byte");
    drop(s);

    // Without it the block is scanned: the damage is reported and the record skipped.
    std::fs::remove_file(victim.with_extension("idx")).unwrap();
    let (mut s, report) = open(dir.path(), 1024);
    assert!(report.torn_tails.is_empty());
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(&report.damaged[0].0, victim);
    assert_eq!(report.msgs, want.len() as u64 - 1);
    let left: Vec<StoredMsg> = want.into_iter().filter(|m| m.seq != damaged[0]).collect();
    assert_eq!(contents(&s), left);
    assert_eq!(s.state().num_deleted, 1);
    assert_eq!(put(&mut s, "d.0", "after"), 61);
}

#[test]
fn file_damaged_length_in_the_middle_of_the_last_block() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), BIG);
        for i in 0..20 {
            put(&mut s, "x", &format!("{i:020}"));
        }
    }
    let block = block_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&block).unwrap();
    let rec = bytes.len() / 20;
    // The length field of the 6th record claims far more than there is.
    bytes[5 * rec + 2] = 0x7f;
    std::fs::write(&block, &bytes).unwrap();
    let (s, report) = open(dir.path(), BIG);
    assert!(report.torn_tails.is_empty(), "{report:?}");
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(seqs(&s), (1..=20).filter(|s| *s != 6).collect::<Vec<_>>());
}

#[test]
fn file_torn_delete_file_keeps_its_whole_entries() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), BIG);
        ten(&mut s);
        s.remove(3, false).unwrap();
        s.remove(4, false).unwrap();
    }
    let del = files_ending(dir.path(), ".del").remove(0);
    let mut bytes = std::fs::read(&del).unwrap();
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    std::fs::write(&del, &bytes).unwrap();
    let (s, report) = open(dir.path(), BIG);
    assert_eq!(report.torn_tails, vec![(del.clone(), 5)]);
    assert_eq!(s.deleted(), vec![3, 4]);
}

#[test]
fn file_blocks_below_the_floor_left_by_a_crash_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let saved: Vec<(PathBuf, Vec<u8>)> = {
        let (mut s, _) = open(dir.path(), TINY);
        ten(&mut s);
        s.sync().unwrap();
        let saved = block_files(dir.path())
            .into_iter()
            .map(|p| {
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        assert_eq!(purge(&mut s, None, Some(8), None), 7);
        saved
    };
    // As if the process died after the state file was written, before the blocks went.
    for (p, b) in &saved {
        std::fs::write(p, b).unwrap();
    }
    let (s, report) = open(dir.path(), TINY);
    assert!(clean(&report));
    assert_eq!(seqs(&s), vec![8, 9, 10]);
    assert_eq!(s.state().first_seq, 8);
    drop(s);
    assert!(block_files(dir.path()).len() < saved.len());
}

#[test]
fn file_always_policy_syncs_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let (mut s, _) = FileStore::open(cfg(dir.path(), TINY, SyncPolicy::Always)).unwrap();
        ten(&mut s);
        s.remove(2, true).unwrap();
        assert_eq!(purge(&mut s, Some("b.*"), None, None), 3);
        assert_eq!(
            files_ending(dir.path(), ".idx").len(),
            block_files(dir.path()).len() - 1,
            "sealed blocks are indexed as they are sealed"
        );
        assert!(s.disk_usage() > 0);
        contents(&s)
    };
    let (s, report) = FileStore::open(cfg(dir.path(), TINY, SyncPolicy::Always)).unwrap();
    assert!(clean(&report));
    assert_eq!(contents(&s), want);
}

#[test]
fn file_reopen_of_a_big_store_reads_indexes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), 64 << 10);
        let payload = "p".repeat(100);
        for i in 0..20_000 {
            s.append(&format!("big.{}", i % 100), b"", payload.as_bytes(), i)
                .unwrap();
        }
    }
    let start = std::time::Instant::now();
    let (s, report) = open(dir.path(), 64 << 10);
    let took = start.elapsed();
    assert!(clean(&report));
    assert_eq!(s.state().msgs, 20_000);
    assert_eq!(s.subject_count("big.7"), 200);
    assert_eq!(s.load(12_345).unwrap().unwrap().subject, "big.44");
    assert!(took < Duration::from_secs(5), "reopen took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// In a child process: the test binary started again on one test, with the role in the
// environment.

#[cfg(unix)]
mod child {
    use std::io::{BufRead, BufReader, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;

    const ROLE: &str = "SWITCHBOARD_STORE_TEST_ROLE";
    const DIR: &str = "SWITCHBOARD_STORE_TEST_DIR";

    /// The full name of a test in this module, as `--exact` wants it.
    fn test_name(test: &str) -> String {
        let module = module_path!();
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        format!("{module}::{test}")
    }

    /// The directory this process is a child for `test` on, if it is one.
    fn child_dir(test: &str) -> Option<PathBuf> {
        let role = std::env::var(ROLE).ok()?;
        (role == test).then(|| std::env::var_os(DIR).map(PathBuf::from))?
    }

    fn spawn(test: &str, dir: &Path) -> std::process::Child {
        Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                &test_name(test),
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(ROLE, test)
            .env(DIR, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the test binary again")
    }

    /// Lines of a child's stdout, as they come.
    fn lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("the child's stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn wait(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("the child's status") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn payload(seq: u64) -> Vec<u8> {
        format!("payload of {seq};")
            .repeat(1 + (seq % 7) as usize)
            .into_bytes()
    }

    #[test]
    fn file_full_disk() {
        const LIMIT: u64 = 16 << 10;
        if let Some(dir) = child_dir("file_full_disk") {
            // Past RLIMIT_FSIZE a write fails with EFBIG and the kernel sends SIGXFSZ, which
            // would kill the process: blocked, it stays pending on this thread.
            let mut xfsz = nix::sys::signal::SigSet::empty();
            xfsz.add(nix::sys::signal::Signal::SIGXFSZ);
            xfsz.thread_block().expect("block SIGXFSZ");
            let (soft, hard) = rlimit::getrlimit(rlimit::Resource::FSIZE).unwrap();
            let (mut s, _) = open(&dir, 1 << 20);
            rlimit::setrlimit(rlimit::Resource::FSIZE, LIMIT, hard).unwrap();
            let body = vec![7u8; 300];
            let mut acked = 0;
            let full = loop {
                assert!(acked < 1000, "never full");
                match s.append("full.a", b"", &body, acked as i64) {
                    Ok(seq) => {
                        acked += 1;
                        assert_eq!(seq, acked);
                    }
                    Err(e) => break e,
                }
            };
            assert!(matches!(full, StoreError::Full(_)), "{full:?}");
            let st = s.state();
            assert_eq!((st.msgs, st.last_seq), (acked, acked));
            let block = block_files(&dir).remove(0);
            // A record: 31 bytes besides the subject (6) and the payload.
            assert_eq!(
                std::fs::metadata(&block).unwrap().len(),
                acked * (31 + 6 + 300),
                "no part of the refused record is left"
            );
            assert!(matches!(
                s.append("full.b", b"", &body, 0),
                Err(StoreError::Full(_))
            ));
            assert_eq!(s.load(acked).unwrap().unwrap().payload.len(), 300);
            // Space comes back.
            rlimit::setrlimit(rlimit::Resource::FSIZE, soft, hard).unwrap();
            assert_eq!(s.append("full.c", HDR, b"after", 1).unwrap(), acked + 1);
            drop(s);
            let (s, report) = open(&dir, 1 << 20);
            assert!(clean(&report), "{report:?}");
            assert_eq!(s.state().msgs, acked + 1);
            for seq in 1..=acked {
                assert_eq!(s.load(seq).unwrap().unwrap().payload.as_ref(), &body[..]);
            }
            println!("child done: {acked} acked");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn("file_full_disk", dir.path());
        let out = lines(&mut child);
        let status = wait(&mut child, Duration::from_secs(60));
        // The child is gone: its stdout ends, and so does the reader.
        let out: Vec<String> = out.iter().collect();
        assert!(
            status.success() && out.iter().any(|l| l.contains("child done")),
            "{status}\n{}",
            out.join("\n")
        );
    }

    #[test]
    fn file_sigkill_loses_no_acked_message() {
        if let Some(dir) = child_dir("file_sigkill_loses_no_acked_message") {
            let (mut s, _) = open(&dir, 4096);
            let stdout = std::io::stdout();
            let started = Instant::now();
            for i in 0..2_000_000u64 {
                if started.elapsed() > Duration::from_secs(30) {
                    break;
                }
                let seq = s.state().last_seq + 1;
                let headers: &[u8] = if seq % 3 == 0 { HDR } else { b"" };
                let got = s
                    .append(
                        &format!("kill.{}", i % 7),
                        headers,
                        &payload(seq),
                        seq as i64,
                    )
                    .unwrap();
                assert_eq!(got, seq);
                if seq % 50 == 0 {
                    s.remove(seq - 25, false).unwrap();
                }
                let mut out = stdout.lock();
                writeln!(out, "ack {seq}").unwrap();
                out.flush().unwrap();
            }
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn("file_sigkill_loses_no_acked_message", dir.path());
        let out = lines(&mut child);
        let mut acked: Vec<u64> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.len() < 3000 {
            let left = deadline.saturating_duration_since(Instant::now());
            match out.recv_timeout(left) {
                Ok(line) => acked.extend(
                    line.strip_prefix("ack ")
                        .and_then(|s| s.parse::<u64>().ok()),
                ),
                Err(e) => {
                    let _ = child.kill();
                    panic!("the child stopped acking after {} acks: {e}", acked.len());
                }
            }
        }
        child.kill().expect("SIGKILL the child");
        let _ = child.wait();
        // What the child printed before it died was acked too.
        while let Ok(line) = out.recv_timeout(Duration::from_secs(5)) {
            acked.extend(
                line.strip_prefix("ack ")
                    .and_then(|s| s.parse::<u64>().ok()),
            );
        }
        let (mut s, report) = open(dir.path(), 4096);
        assert!(report.damaged.is_empty(), "{report:?}");
        let last = *acked.last().unwrap();
        assert!(s.state().last_seq >= last);
        for &seq in &acked {
            if seq % 50 == 25 {
                // Removed by the child once it stored seq + 25 (which it may have done
                // without living to print the ack).
                if seq + 25 <= last {
                    assert!(s.load(seq).unwrap().is_none(), "seq {seq} was removed");
                }
                continue;
            }
            let m = s
                .load(seq)
                .unwrap()
                .unwrap_or_else(|| panic!("acked {seq} lost"));
            assert_eq!(m.payload.as_ref(), &payload(seq)[..], "seq {seq}");
            assert_eq!(m.headers.is_empty(), seq % 3 != 0);
        }
        let next = s.state().last_seq + 1;
        assert_eq!(put(&mut s, "kill.after", "x"), next);
    }
}

// ---------------------------------------------------------------------------------------------
// Recovery against hostile files.

/// Writes `files` into a fresh store directory, opens it, and checks what any store must do
/// whatever it found: open, answer every query without panicking, take a new message.
fn open_hostile(
    files: &[(String, Vec<u8>)],
) -> (tempfile::TempDir, RecoveryReport, Vec<StoredMsg>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let (mut s, report) = open(dir.path(), TINY);
    let st = s.state();
    assert_eq!(st.msgs, report.msgs);
    // Walk the messages without `deleted()`: a hostile file may claim gaps of 2^63.
    let mut loaded = Vec::new();
    let mut next = st.first_seq;
    for _ in 0..10_000 {
        match s.load_next(">", next) {
            Ok(Some(m)) => {
                let after = m.seq.checked_add(1);
                loaded.push(m);
                match after {
                    Some(n) => next = n,
                    None => break,
                }
            }
            Ok(None) => break,
            Err(StoreError::Damaged { seq }) if seq >= next => match seq.checked_add(1) {
                Some(n) => next = n,
                None => break,
            },
            Err(e) => panic!("after seq {next}: {e}"),
        }
    }
    let _ = s.subjects(">");
    let _ = s.subjects("*.*");
    let _ = s.seq_for_time(0);
    let _ = s.seq_for_time(i64::MAX);
    let _ = s.load_last("*.>");
    let _ = s.load_last("after");
    if st.last_seq < u64::MAX {
        assert_eq!(s.append("after", b"", b"x", 0).unwrap(), st.last_seq + 1);
    }
    drop(s);
    (dir, report, loaded)
}

/// A valid store of a few blocks: its files and its messages.
fn valid_store() -> (Vec<(String, Vec<u8>)>, Vec<StoredMsg>) {
    let dir = tempfile::tempdir().unwrap();
    let msgs = {
        let (mut s, _) = open(dir.path(), TINY);
        for i in 0..12 {
            let headers: &[u8] = if i % 3 == 0 { HDR } else { b"" };
            s.append(
                &format!("v.{}", i % 4),
                headers,
                format!("value {i}").as_bytes(),
                i,
            )
            .unwrap();
        }
        s.remove(5, false).unwrap();
        contents(&s)
    };
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    (files, msgs)
}

proptest! {
    // 48 cases in the test run; PROPTEST_CASES=5000 for a longer look.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn recovery_survives_arbitrary_files(
        blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..1500), 1..4),
        del in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        idx in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        state in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..48)),
    ) {
        let mut files: Vec<(String, Vec<u8>)> = blocks
            .into_iter()
            .enumerate()
            .map(|(i, b)| (format!("{:020}.blk", i + 1), b))
            .collect();
        files.extend(del.map(|b| (format!("{:020}.del", 1), b)));
        files.extend(idx.map(|b| (format!("{:020}.idx", 1), b)));
        files.extend(state.map(|b| ("state".to_owned(), b)));
        let (_dir, report, _) = open_hostile(&files);
        prop_assert!(!clean(&report), "random bytes pass for records: {report:?}");
    }

    #[test]
    fn recovery_survives_crafted_records(
        recs in proptest::collection::vec(
            (
                prop_oneof![1u64..40, Just(0u64), Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()],
                any::<i64>(),
                prop_oneof![Just(2u8), Just(1u8), Just(1u8)],
                "[a-c.*>\u{e9}]{0,8}",
                proptest::collection::vec(any::<u8>(), 0..24),
                0usize..3,
            ),
            1..24,
        ),
        dels in proptest::collection::vec(prop_oneof![1u64..40, any::<u64>()], 0..6),
    ) {
        // Records that pass their crc but say anything: sequences out of order, repeated,
        // 0 or 2^64-1, times anywhere, odd subjects, erased ones.
        let mut blocks: Vec<Vec<u8>> = vec![Vec::new(); 3];
        let mut buf = Vec::new();
        for (seq, ts, kind, subject, payload, block) in &recs {
            super::record::encode(&mut buf, *kind, *seq, *ts, subject.as_bytes(), b"", payload)
                .unwrap();
            blocks[*block].extend_from_slice(&buf);
        }
        let mut del = Vec::new();
        for seq in &dels {
            super::record::encode_del(&mut del, *seq);
        }
        let mut files: Vec<(String, Vec<u8>)> = blocks
            .into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(i, b)| (format!("{:020}.blk", [1, 20, 30][i]), b))
            .collect();
        files.push((format!("{:020}.del", 1), del));
        let (_dir, report, loaded) = open_hostile(&files);
        prop_assert_eq!(report.msgs as usize, loaded.len());
    }

    #[test]
    fn recovery_reports_mutated_blocks(
        which in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        drop_index in any::<bool>(),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (mut files, want) = valid_store();
        let blocks: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n.ends_with(".blk"))
            .map(|(i, _)| i)
            .collect();
        let victim = blocks[which.index(blocks.len())];
        let name = files[victim].0.clone();
        {
            let bytes = &mut files[victim].1;
            for (at, x) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Some(cut) = cut {
                let len = cut.index(bytes.len());
                bytes.truncate(len.max(1));
            }
        }
        if drop_index {
            let idx = name.replace(".blk", ".idx");
            files.retain(|(n, _)| *n != idx);
        }
        let indexed = files.iter().any(|(n, _)| *n == name.replace(".blk", ".idx"));
        let (_dir, report, loaded) = open_hostile(&files);
        // Never a wrong message: what loads is what was stored.
        for m in &loaded {
            let orig = want.iter().find(|w| w.seq == m.seq);
            prop_assert_eq!(Some(m), orig);
        }
        // Nothing lost unsaid: with a clean report (and the block read, not trusted to its
        // index) every message is there. Damage to a removed message's record need not be
        // reported; a cut at a record boundary cannot be told from a shorter log.
        if clean(&report) && !indexed && cut.is_none() {
            prop_assert_eq!(loaded, want);
        }
    }
}

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

const BENCH_MSGS: u64 = 1_000_000;
const BENCH_SUBJECTS: u64 = 1_000;

/// Appends `BENCH_MSGS` 16-byte messages on `BENCH_SUBJECTS` subjects, then times loads and
/// subject lookups; prints the RSS growth per message. Run alone, in release mode:
/// `cargo test --release --lib jetstream::store::tests::bench_index_file -- --ignored --nocapture`
fn bench_index(s: &mut dyn Store, label: &str) {
    let subjects: Vec<String> = (0..BENCH_SUBJECTS)
        .map(|i| format!("bench.s.{i}"))
        .collect();
    let payload = [b'x'; 16];
    let before = rss();
    let t = std::time::Instant::now();
    for i in 0..BENCH_MSGS {
        let subject = &subjects[(i % BENCH_SUBJECTS) as usize];
        s.append(subject, b"", &payload, i as i64 + 1).unwrap();
    }
    let took = t.elapsed();
    let grown = rss().saturating_sub(before);
    println!(
        "{label}: {} msgs, {:.1} B/msg RSS growth, {:.0} appends/s",
        BENCH_MSGS,
        grown as f64 / BENCH_MSGS as f64,
        BENCH_MSGS as f64 / took.as_secs_f64()
    );
    let t = std::time::Instant::now();
    let mut n = 0u64;
    for i in 0..BENCH_MSGS {
        let seq = 1 + (i.wrapping_mul(2_654_435_761) % BENCH_MSGS);
        n += s.load(seq).unwrap().map_or(0, |m| m.payload.len() as u64);
    }
    println!(
        "{label}: {:.0} random loads by sequence/s ({n})",
        BENCH_MSGS as f64 / t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let rounds = 200_000u64;
    let mut acc = 0u64;
    for i in 0..rounds {
        let subject = &subjects[(i.wrapping_mul(7919) % BENCH_SUBJECTS) as usize];
        acc += s.load_last(subject).unwrap().map_or(0, |m| m.seq);
        acc += s.subject_count(subject);
        acc += s.first_seq_for_subject(subject).unwrap_or(0);
    }
    println!(
        "{label}: {:.0} (load_last + subject_count + first_seq_for_subject)/s ({acc})",
        rounds as f64 / t.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "benchmark: run alone in release mode"]
fn bench_index_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = open(dir.path(), BIG);
        bench_index(&mut s, "file");
    }
    let t = std::time::Instant::now();
    let (s, report) = open(dir.path(), BIG);
    println!(
        "file: reopen of {} msgs in {:.0} ms",
        report.msgs,
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(s.state().msgs, BENCH_MSGS);
}

#[test]
#[ignore = "benchmark: run alone in release mode"]
fn bench_index_memory() {
    bench_index(&mut MemoryStore::new(1), "memory");
}

#[derive(Debug, Clone)]
enum IndexOp {
    /// Append after a gap of this many sequences, on subject `s.<n>`.
    Insert(u64, u8),
    /// Remove the stored message at this position (modulo the count).
    Remove(usize),
    /// Compact to `first_seq` plus this.
    Compact(u64),
}

fn index_op() -> impl Strategy<Value = IndexOp> {
    let gap = prop_oneof![
        Just(0u64),
        Just(0),
        Just(0),
        Just(62),
        Just(63),
        Just(64),
        Just(127),
        0u64..300,
        Just(1 << 40),
    ];
    prop_oneof![
        6 => (gap, 0u8..5).prop_map(|(g, s)| IndexOp::Insert(g, s)),
        3 => any::<usize>().prop_map(IndexOp::Remove),
        1 => prop_oneof![0u64..200, Just(1 << 41)].prop_map(IndexOp::Compact),
    ]
}

proptest! {
    /// The chunked index answers as an ordered map of the same messages would.
    #[test]
    fn index_matches_a_map(ops in proptest::collection::vec(index_op(), 1..200)) {
        use std::collections::BTreeMap;
        let mut index: index::Index<u64> = index::Index::new(1);
        let mut model: BTreeMap<u64, (String, i64, u64)> = BTreeMap::new();
        for op in ops {
            match op {
                IndexOp::Insert(gap, s) => {
                    let Some(seq) = index.last_seq().checked_add(1 + gap) else { continue };
                    let subject = format!("s.{s}");
                    let time = seq as i64;
                    let size = if s == 4 { u64::from(u32::MAX) + 7 } else { seq % 97 };
                    prop_assert!(index.insert(seq, &subject, time, size, seq * 3));
                    model.insert(seq, (subject, time, size));
                }
                IndexOp::Remove(i) => {
                    if model.is_empty() {
                        prop_assert!(index.remove(index.last_seq()).is_none());
                        continue;
                    }
                    let seq = *model.keys().nth(i % model.len()).unwrap();
                    model.remove(&seq);
                    let e = index.remove(seq).unwrap();
                    prop_assert_eq!(e.loc, seq * 3);
                    prop_assert!(index.remove(seq).is_none());
                }
                IndexOp::Compact(d) => {
                    let floor = index.first_seq().saturating_add(d);
                    let removed: Vec<u64> =
                        index.compact(floor).into_iter().map(|(s, _)| s).collect();
                    let expect: Vec<u64> = model.range(..floor).map(|(s, _)| *s).collect();
                    prop_assert_eq!(&removed, &expect);
                    model.retain(|s, _| *s >= floor);
                }
            }
            let state = index.state();
            prop_assert_eq!(state.msgs, model.len() as u64);
            prop_assert_eq!(state.bytes, model.values().map(|v| v.2).sum::<u64>());
            if let Some((&first, v)) = model.first_key_value() {
                prop_assert_eq!(state.first_seq, first);
                prop_assert_eq!(state.first_time, v.1);
                prop_assert_eq!(state.num_deleted, state.last_seq - first + 1 - state.msgs);
            }
            let fwd: Vec<u64> = index.range(..).map(|(s, _)| s).collect();
            prop_assert_eq!(&fwd, &model.keys().copied().collect::<Vec<_>>());
            let back: Vec<u64> = index.range(..).rev().map(|(s, _)| s).collect();
            prop_assert_eq!(back, model.keys().rev().copied().collect::<Vec<_>>());
            for (&seq, (subject, time, size)) in &model {
                let e = index.get(seq).unwrap();
                prop_assert_eq!(index.subject(e), subject.as_str());
                prop_assert_eq!(e.time, *time);
                prop_assert_eq!(index.size(seq, e), *size);
                prop_assert_eq!(e.loc, seq * 3);
                // A window around every stored sequence, both ways.
                let (lo, hi) = (seq.saturating_sub(70), seq.saturating_add(70));
                let w: Vec<u64> = index.range(lo..=hi).map(|(s, _)| s).collect();
                prop_assert_eq!(w, model.range(lo..=hi).map(|(s, _)| *s).collect::<Vec<_>>());
                prop_assert_eq!(
                    index.seq_for_time(*time),
                    model.range(..).find(|(_, v)| v.1 >= *time).map(|(s, _)| *s)
                );
            }
            for s in 0..5u8 {
                let subject = format!("s.{s}");
                let seqs: Vec<u64> =
                    model.iter().filter(|(_, v)| v.0 == subject).map(|(s, _)| *s).collect();
                prop_assert_eq!(index.subject_count(&subject), seqs.len() as u64);
                prop_assert_eq!(index.first_seq_for_subject(&subject), seqs.first().copied());
                prop_assert_eq!(index.last_match(&subject), seqs.last().copied());
                prop_assert_eq!(index.next_match(&subject, 0), seqs.first().copied());
            }
            prop_assert_eq!(index.last_match("s.*"), model.keys().next_back().copied());
            prop_assert_eq!(index.next_match("s.*", 0), model.keys().next().copied());
            prop_assert_eq!(state.num_subjects, index.subjects(">").len() as u64);
            if state.last_seq.saturating_sub(state.first_seq) < 100_000 {
                let deleted: Vec<u64> = (state.first_seq..=state.last_seq)
                    .filter(|s| !model.contains_key(s) && !model.is_empty())
                    .collect();
                prop_assert_eq!(index.deleted(), deleted);
            }
        }
    }
}
