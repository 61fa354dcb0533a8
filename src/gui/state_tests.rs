#![allow(clippy::unwrap_used)]
use super::*;

fn row(seq: u64, subject: &str) -> MessageRow {
    MessageRow {
        seq,
        time: SystemTime::UNIX_EPOCH,
        subject: subject.into(),
        reply: None,
        headers: None,
        payload: seq.to_string().into_bytes(),
        publisher_cid: 1,
        receivers: 1,
    }
}

fn visible(log: &MessageLog) -> Vec<u64> {
    (0..log.visible_len())
        .map(|i| log.visible_row(i).unwrap().seq)
        .collect()
}

#[test]
fn ring_drops_oldest() {
    let mut r = Ring::new(3);
    for i in 0..5 {
        r.push(i);
    }
    assert_eq!(r.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(r.last(), Some(&4));
}

#[test]
fn shrinking_the_history_drops_the_oldest_and_keeps_the_view_right() {
    let mut log = MessageLog::new(10);
    log.set_filter("a.*");
    for seq in 1..=6 {
        log.push(row(seq, if seq % 2 == 0 { "b.x" } else { "a.x" }));
    }
    log.set_capacity(3);
    assert_eq!(log.len(), 3);
    assert_eq!(visible(&log), [5]);
    log.push(row(7, "a.x"));
    assert_eq!(log.len(), 3, "the new capacity holds");
    assert_eq!(visible(&log), [5, 7]);
}

#[test]
fn log_is_bounded_and_filtered_incrementally() {
    let mut log = MessageLog::new(4);
    log.set_filter("a.*");
    for (seq, s) in [
        (1, "a.x"),
        (2, "b.x"),
        (3, "a.y"),
        (4, "b.y"),
        (5, "a.z"),
        (6, "b.z"),
    ] {
        log.push(row(seq, s));
    }
    assert_eq!(log.len(), 4);
    assert_eq!(visible(&log), [3, 5]);
    log.set_filter("");
    assert_eq!(visible(&log), [3, 4, 5, 6]);
    log.set_filter("b.>");
    assert_eq!(visible(&log), [4, 6]);
}

#[test]
fn log_is_bounded_in_bytes() {
    let mut log = MessageLog::new(100);
    let big = |seq| MessageRow {
        payload: vec![0; MESSAGE_HISTORY_BYTES / 3 + 1],
        ..row(seq, "big")
    };
    for seq in 1..=4 {
        log.push(big(seq));
    }
    assert_eq!(log.len(), 2, "three would exceed the byte budget");
    assert!(log.bytes() <= MESSAGE_HISTORY_BYTES);
    assert_eq!(log.visible_row(0).unwrap().seq, 3);
}

#[test]
fn pause_holds_rows_until_resume() {
    let mut log = MessageLog::new(10);
    log.push(row(1, "a"));
    log.set_paused(true);
    log.push(row(2, "a"));
    log.push(row(3, "a"));
    assert_eq!(visible(&log), [1]);
    assert_eq!(log.held(), 2);
    log.set_paused(false);
    assert_eq!(visible(&log), [1, 2, 3]);
}

#[test]
fn evicted_rows_are_batched_for_the_dropper() {
    let mut log = MessageLog::new(2);
    for seq in 1..=5 {
        log.push(row(seq, "a"));
    }
    assert_eq!(
        log.evicted.len(),
        3,
        "three pushed out, kept for one hand-over"
    );
    log.flush_evicted();
    assert!(log.evicted.is_empty());
    for seq in 6..(6 + EVICTED_BATCH as u64 + 10) {
        log.push(row(seq, "a"));
    }
    assert!(
        log.evicted.len() < EVICTED_BATCH,
        "a full batch goes by itself"
    );
    assert_eq!(visible(&log).len(), 2);
}

#[test]
fn the_tree_generation_changes_with_the_structure_only() {
    let snap = |subjects: &[&str], n: u64| {
        Arc::new(Snapshot {
            subjects: subjects
                .iter()
                .map(|s| SubjectStat {
                    subject: s.to_string(),
                    msgs: n,
                    msgs_per_sec: 1.0,
                    subscribers: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    };
    let mut st = UiState::new();
    st.apply_snapshot(snap(&["a.b", "c"], 1));
    let first = st.tree_generation;
    st.apply_snapshot(snap(&["a.b", "c"], 2));
    assert_eq!(st.tree_generation, first, "new numbers, same structure");
    assert_eq!(st.snapshot_generation, 2);
    st.apply_snapshot(snap(&["a.b"], 3));
    let second = st.tree_generation;
    assert_ne!(second, first);
    st.apply_snapshot(snap(&["a.b", "c"], 4));
    assert_ne!(st.tree_generation, second);
    assert_ne!(st.tree_generation, first, "a rebuild is a new structure");
}

#[test]
fn lookups_and_gaps() {
    let mut log = MessageLog::new(10);
    for (seq, s) in [(1, "a"), (2, "b"), (5, "a"), (6, "b")] {
        log.push(row(seq, s));
    }
    assert_eq!(log.gaps, 2);
    assert_eq!(log.by_seq(5).unwrap().subject, "a");
    assert!(log.by_seq(3).is_none());
    assert_eq!(log.previous_on_subject(5).unwrap().seq, 1);
    assert_eq!(log.previous_on_subject(6).unwrap().seq, 2);
    assert!(log.previous_on_subject(1).is_none());
}

#[test]
fn snapshot_extends_histories() {
    use crate::inspect::snapshot::{Rates, SubjectStat};
    let mut st = UiState::new();
    let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
    for i in 0..3u64 {
        st.apply_snapshot(Arc::new(Snapshot {
            taken_at: Some(t0 + std::time::Duration::from_millis(250 * i)),
            rates: Rates {
                in_msgs_per_sec: i as f64,
                ..Default::default()
            },
            subjects: vec![SubjectStat {
                subject: "a.b".into(),
                msgs: i,
                msgs_per_sec: 1.0,
                subscribers: 1,
                ..Default::default()
            }],
            ..Default::default()
        }));
    }
    assert_eq!(st.rates.len(), 3);
    assert!((st.rates.last().unwrap().t - 0.5).abs() < 1e-9);
    assert_eq!(st.subject_rates["a.b"].len(), 3);
    assert!(st.tree.find("a.b").is_some());
}

#[test]
fn a_leaf_link_is_named_as_a_publisher() {
    use crate::inspect::snapshot::{LeafLinkInfo, LeafLinkState};
    let mut st = UiState::new();
    st.apply_snapshot(Arc::new(Snapshot {
        leaf_links: vec![
            LeafLinkInfo {
                cid: Some(7),
                state: LeafLinkState::Connected,
                remote_name: "hub-a".into(),
                ..Default::default()
            },
            // A link that is not up has no connection to name.
            LeafLinkInfo {
                cid: None,
                remote_name: "hub-b".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }));
    assert_eq!(st.conn_label(7), "leaf hub-a #7");
    assert_eq!(st.conn_label(8), "#8");
}
