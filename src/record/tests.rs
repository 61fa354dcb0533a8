//! Record and replay: file round trips, torn files, NDJSON, drops, replay timing on virtual
//! time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::format::{self, Message, Meta, Record};
use super::reader::{read_all, Reader, TailReason};
use super::recorder::{RecordOptions, Recording};
use super::replay::{
    replay, PublishError, Publisher, ReplayControl, ReplayOptions, ReplayState, Speed,
};
use super::select::Selection;
use super::writer::RecordWriter;
use super::{ndjson, summary};

fn sample_messages() -> Vec<Message> {
    vec![
        Message {
            time_ns: 1_000_000_000,
            subject: b"orders.new".to_vec(),
            payload: b"hello".to_vec(),
            ..Message::default()
        },
        Message {
            time_ns: 1_100_000_000,
            subject: b"orders.empty".to_vec(),
            reply: Some(b"_INBOX.abc.1".to_vec()),
            payload: Vec::new(),
            publisher: Some(3),
            receivers: Some(0),
            ..Message::default()
        },
        Message {
            time_ns: 1_100_000_000,
            subject: b"bin.\xff\xfe".to_vec(),
            headers: Some(b"NATS/1.0\r\nTrace-Id: 7\r\nTrace-Id: 8\r\n\r\n".to_vec()),
            payload: (0..=255u8).rev().collect(),
            publisher: Some(4),
            receivers: Some(2),
            ..Message::default()
        },
        Message {
            time_ns: 1_300_000_000,
            subject: b"orders.hdr".to_vec(),
            reply: Some(Vec::new()),
            headers: Some(Vec::new()),
            payload: vec![0, 13, 10, 0],
            ..Message::default()
        },
        Message {
            // Recorded out of order (another publishing thread): no gap.
            time_ns: 1_250_000_000,
            subject: b"orders.late".to_vec(),
            payload: "ünïcode".as_bytes().to_vec(),
            ..Message::default()
        },
        Message {
            time_ns: 2_000_000_000,
            subject: b"orders.last".to_vec(),
            payload: vec![b'x'; 100_000],
            ..Message::default()
        },
    ]
}

fn meta() -> Meta {
    Meta {
        source: "test".into(),
        started_ns: 42,
        ..Meta::default()
    }
}

fn write_file(path: &Path, messages: &[Message], end: bool) {
    let mut w = RecordWriter::create(path, &meta()).unwrap();
    w.write_connection(3, "publisher three").unwrap();
    for m in messages {
        w.write_message(m).unwrap();
    }
    if end {
        w.finish(0).unwrap();
    } else {
        w.flush().unwrap();
    }
}

/// The messages among `records`, in order.
pub(crate) fn messages_of(records: &[Record]) -> Vec<Message> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn file_round_trip_is_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.rec");
    let messages = sample_messages();
    write_file(&path, &messages, true);
    let (records, tail) = read_all(&path).unwrap();
    assert_eq!(tail, None);
    assert_eq!(records[0], Record::Meta(meta()));
    assert_eq!(
        records[1],
        Record::Connection {
            cid: 3,
            name: "publisher three".into()
        }
    );
    assert_eq!(messages_of(&records), messages);
    let Some(Record::End(end)) = records.last() else {
        panic!("no END record: {:?}", records.last());
    };
    assert_eq!(end.messages, messages.len() as u64);
    let s = summary::summarize(&path).unwrap();
    assert!(s.clean_end);
    assert_eq!(s.messages, 6);
    assert_eq!(s.span_ns(), 1_000_000_000);
    assert_eq!(s.connections[0].name, "publisher three");
    assert_eq!(s.subjects.len(), 6);
}

#[test]
fn torn_file_reads_every_whole_record_and_reports_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.rec");
    let messages = sample_messages();
    // A small last record, so that cutting at every offset stays quick.
    let mut messages = messages[..4].to_vec();
    messages.push(Message {
        time_ns: 3,
        subject: b"last".to_vec(),
        headers: Some(b"NATS/1.0\r\n\r\n".to_vec()),
        payload: b"tail".to_vec(),
        ..Message::default()
    });
    write_file(&full, &messages, false);
    let bytes = std::fs::read(&full).unwrap();
    // Where the last record starts.
    let mut reader = Reader::open(&full).unwrap();
    let mut last_start = 0;
    while reader.next_record().unwrap().is_some() {
        if reader.offset() < bytes.len() as u64 {
            last_start = reader.offset();
        }
    }
    assert!(last_start > 0);
    let cut_path = dir.path().join("cut.rec");
    for cut in last_start as usize..bytes.len() {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let (records, tail) = read_all(&cut_path).unwrap();
        assert_eq!(
            messages_of(&records),
            messages[..messages.len() - 1],
            "cut at {cut}"
        );
        if cut == last_start as usize {
            assert_eq!(tail, None, "a cut between records is a clean end");
        } else {
            let tail = tail.unwrap_or_else(|| panic!("no tail reported at cut {cut}"));
            assert_eq!(tail.offset, last_start);
            assert_eq!(tail.bytes, Some((cut - last_start as usize) as u64));
            assert_eq!(tail.reason, TailReason::Truncated);
        }
        let s = summary::summarize(&cut_path).unwrap();
        assert_eq!(s.messages, messages.len() as u64 - 1);
        assert!(!s.clean_end);
    }
    // A flipped byte in the last record is a bad checksum, also reported as the tail.
    let mut damaged = bytes.clone();
    let at = damaged.len() - 2;
    damaged[at] ^= 0x40;
    std::fs::write(&cut_path, &damaged).unwrap();
    let (records, tail) = read_all(&cut_path).unwrap();
    assert_eq!(messages_of(&records).len(), messages.len() - 1);
    assert_eq!(tail.unwrap().reason, TailReason::BadChecksum);
    // Cut inside the file header: empty, with a tail; not a recording at all: an error.
    std::fs::write(&cut_path, &bytes[..3]).unwrap();
    let (records, tail) = read_all(&cut_path).unwrap();
    assert!(records.is_empty() && tail.is_some());
    std::fs::write(&cut_path, b"GARBAGE!").unwrap();
    assert!(read_all(&cut_path).is_err());
    std::fs::write(&cut_path, b"SWBREC\x09\x00").unwrap();
    assert!(read_all(&cut_path).is_err(), "future version");
}

#[test]
fn ndjson_export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.rec");
    let messages = sample_messages();
    write_file(&path, &messages, true);
    let mut out = Vec::new();
    let (count, tail) = ndjson::export(&path, &mut out).unwrap();
    assert_eq!((count, tail), (6, None));
    let text = String::from_utf8(out.clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["payload"], "hello");
    assert_eq!(lines[0]["payload_encoding"], "text");
    assert_eq!(lines[1]["publisher_name"], "publisher three");
    assert_eq!(lines[2]["payload_encoding"], "base64");
    assert_eq!(lines[2]["subject_encoding"], "base64");
    assert_eq!(lines[4]["payload"], "ünïcode");
    let back = dir.path().join("b.rec");
    assert_eq!(ndjson::import(&out[..], &back).unwrap(), 6);
    let (records, _) = read_all(&back).unwrap();
    assert_eq!(messages_of(&records), messages);
    assert!(records.contains(&Record::Connection {
        cid: 3,
        name: "publisher three".into()
    }));
    // Errors name the line.
    let err = ndjson::import(&b"\n{\"subject\":\"a\"}\n"[..], &back).unwrap_err();
    assert!(err.to_string().starts_with("line 2:"), "{err}");
    let err = ndjson::import(
        &b"{\"time_ns\":1,\"subject\":\"a\",\"payload\":\"!\",\"payload_encoding\":\"base64\"}"[..],
        &back,
    )
    .unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
}

#[test]
fn a_full_queue_drops_and_counts_and_the_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drops.rec");
    let opts = RecordOptions {
        queue_messages: 1,
        ..RecordOptions::default()
    };
    let recording = Recording::start(&path, &meta(), &opts, None).unwrap();
    let sink = recording.sink();
    let m = Message {
        subject: b"x".to_vec(),
        payload: vec![7; 64],
        ..Message::default()
    };
    let offered = 200_000u64;
    let mut accepted = 0u64;
    for _ in 0..offered {
        accepted += u64::from(sink.offer_message(&m.as_ref()));
    }
    drop(sink);
    let stats = recording.stop().unwrap();
    assert!(stats.drops > 0, "a one-message queue never filled");
    assert_eq!(stats.messages, accepted);
    assert_eq!(stats.messages + stats.drops, offered);
    let s = summary::summarize(&path).unwrap();
    assert_eq!(
        (s.messages, s.drops, s.clean_end),
        (accepted, stats.drops, true)
    );
}

#[test]
fn a_byte_limit_also_drops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bytes.rec");
    let opts = RecordOptions {
        queue_bytes: 1,
        ..RecordOptions::default()
    };
    let recording = Recording::start(&path, &meta(), &opts, None).unwrap();
    let sink = recording.sink();
    let mut dropped = 0;
    let m = Message {
        subject: b"big".to_vec(),
        payload: vec![0; 1000],
        ..Message::default()
    };
    for _ in 0..10_000 {
        dropped += u64::from(!sink.offer_message(&m.as_ref()));
    }
    drop(sink);
    let c = recording.counters();
    assert_eq!(c.drops, dropped);
    let stats = recording.stop().unwrap();
    assert_eq!(stats.messages + stats.drops, 10_000);
    assert!(stats.drops > 0);
}

/// Collects what a replay publishes, with the virtual time it was published at.
#[derive(Default)]
struct Collect {
    start: Option<Instant>,
    got: Vec<(Vec<u8>, Message, Duration)>,
    refuse: Vec<u8>,
}

impl Publisher for Collect {
    async fn publish(&mut self, subject: &[u8], m: &Message) -> Result<(), PublishError> {
        if subject == self.refuse.as_slice() {
            return Err(PublishError::Skip("refused".into()));
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        self.got
            .push((subject.to_vec(), m.clone(), start.elapsed()));
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), PublishError> {
        Ok(())
    }
}

fn offsets(c: &Collect) -> Vec<u64> {
    c.got.iter().map(|g| g.2.as_millis() as u64).collect()
}

async fn run_replay(path: &Path, opts: ReplayOptions) -> (Collect, super::replay::ReplayOutcome) {
    let mut c = Collect::default();
    let control = ReplayControl::new(opts.speed);
    let outcome = replay(path, &opts, &mut c, &control).await.unwrap();
    assert_eq!(control.progress(opts.loops).state, ReplayState::Finished);
    (c, outcome)
}

#[tokio::test(start_paused = true)]
async fn replay_keeps_order_and_scales_gaps_on_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let messages = sample_messages();
    write_file(&path, &messages, true);
    // Recorded offsets 0, 100, 100, 300, 250 (back in time: no gap), 1000 ms.
    for (speed, expected) in [
        (Speed::Factor(1.0), vec![0, 100, 100, 300, 300, 1000]),
        (Speed::Factor(2.0), vec![0, 50, 50, 150, 150, 500]),
        (Speed::Factor(2.5), vec![0, 40, 40, 120, 120, 400]),
        (Speed::Factor(0.5), vec![0, 200, 200, 600, 600, 2000]),
        (Speed::Max, vec![0, 0, 0, 0, 0, 0]),
    ] {
        let opts = ReplayOptions {
            speed,
            ..ReplayOptions::default()
        };
        let (c, outcome) = run_replay(&path, opts).await;
        assert_eq!(offsets(&c), expected, "speed {speed}");
        let sent: Vec<Message> = c.got.iter().map(|g| g.1.clone()).collect();
        assert_eq!(sent, messages, "order and contents at {speed}");
        assert_eq!(
            (outcome.sent, outcome.total, outcome.stopped),
            (6, 6, false)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn replay_filters_remaps_loops_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    write_file(&path, &sample_messages(), true);
    let opts = ReplayOptions {
        speed: Speed::Factor(1.0),
        selection: Selection::new(
            &["orders.>".into()],
            vec!["orders.*=test.*".parse().unwrap()],
        )
        .unwrap(),
        loops: 2,
    };
    let mut c = Collect {
        refuse: b"test.late".to_vec(),
        ..Collect::default()
    };
    let control = ReplayControl::new(opts.speed);
    let outcome = replay(&path, &opts, &mut c, &control).await.unwrap();
    let subjects: Vec<String> = c
        .got
        .iter()
        .map(|g| String::from_utf8_lossy(&g.0).into_owned())
        .collect();
    let pass = ["test.new", "test.empty", "test.hdr", "test.last"];
    assert_eq!(subjects, [pass, pass].concat());
    // The second pass starts when the first ends; the filtered-out message leaves no gap.
    assert_eq!(offsets(&c), vec![0, 100, 300, 1000, 1000, 1100, 1300, 2000]);
    assert_eq!((outcome.sent, outcome.skipped, outcome.total), (8, 2, 5));
    assert_eq!(outcome.loops_done, 2);
}

#[tokio::test(start_paused = true)]
async fn replay_pauses_changes_speed_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let messages: Vec<Message> = (0..10u64)
        .map(|i| Message {
            time_ns: i * 1_000_000_000,
            subject: format!("s.{i}").into_bytes(),
            ..Message::default()
        })
        .collect();
    write_file(&path, &messages, true);
    let opts = ReplayOptions::default();
    let control = ReplayControl::new(opts.speed);
    let c2 = control.clone();
    let start = Instant::now();
    let task = tokio::spawn(async move {
        let mut c = Collect::default();
        let outcome = replay(&path, &opts, &mut c, &c2).await.unwrap();
        (c, outcome)
    });
    // Messages at 0, 1 s, 2 s; pause at 2.5 s for 10 s.
    tokio::time::sleep_until(start + Duration::from_millis(2500)).await;
    assert_eq!(control.progress(1).sent, 3);
    control.pause();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let p = control.progress(1);
    assert_eq!((p.sent, p.state), (3, ReplayState::Paused));
    assert_eq!(p.eta, Some(Duration::from_secs(7)));
    // Resume at 12.5 s: the next gap (1 s) starts over, at 4x: 250 ms.
    control.set_speed(Speed::Factor(4.0));
    control.resume();
    tokio::time::sleep(Duration::from_millis(260)).await;
    assert_eq!(control.progress(1).sent, 4);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(control.progress(1).sent, 5);
    control.stop();
    let (c, outcome) = task.await.unwrap();
    assert!(outcome.stopped);
    assert_eq!(outcome.sent, 5);
    assert_eq!(control.progress(1).state, ReplayState::Stopped);
    assert_eq!(offsets(&c), vec![0, 1000, 2000, 12750, 13000]);
}

#[test]
fn the_writer_hands_emptied_buffers_back_for_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.rec");
    let recording = Recording::start(&path, &meta(), &RecordOptions::default(), None).unwrap();
    let sink = recording.sink();
    // A buffer the pool could not have made: its capacity marks it.
    const MARK: usize = 123_457;
    let mut data = Vec::with_capacity(MARK);
    let start = format::begin_batch(&mut data, 5, Some(1));
    let m = Message {
        subject: b"a".to_vec(),
        payload: b"x".to_vec(),
        receivers: Some(1),
        ..Message::default()
    };
    format::append_batch_entry(&mut data, &m.as_ref());
    format::end_batch(&mut data, start);
    assert!(sink.offer_batch(data, 1, m.size(), Some(1)));
    let mut reused = Vec::new();
    crate::testkit::wait_until(
        "the written buffer back in the pool",
        Duration::from_secs(10),
        || {
            reused = sink.take_buffer();
            reused.capacity() == MARK
        },
    );
    assert_eq!(
        reused.capacity(),
        MARK,
        "the written buffer never came back"
    );
    assert!(reused.is_empty(), "a reused buffer starts empty");
    drop(sink);
    recording.stop().unwrap();
    let (records, tail) = read_all(&path).unwrap();
    assert!(tail.is_none());
    let got = messages_of(&records);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].time_ns, got[0].publisher), (5, Some(1)));
}

/// A WIRE record offered as a head and a range of a read buffer is written whole, the
/// connection gets a buffer of the same length in place of its own, and once written its
/// buffer goes to the next connection that hands one over.
#[test]
fn a_handed_over_read_buffer_is_written_from_its_range_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handed.rec");
    let recording = Recording::start(&path, &meta(), &RecordOptions::default(), None).unwrap();
    let sink = recording.sink();
    let frames: &[u8] = b"junkPUB a 1\r\nx\r\nHPUB b 12 14\r\nNATS/1.0\r\n\r\nyz\r\njunk";
    // A buffer the pool could not have made: its capacity marks it.
    const MARK: usize = 99_991;
    let mut read = Vec::with_capacity(MARK);
    read.extend_from_slice(frames);
    let mut head = sink.take_buffer();
    format::begin_wire_batch(&mut head, 7, Some(3), &[1, 0]);
    assert!(sink.try_offer_read(head, &mut read, 4..frames.len() - 4, 2, 5, 3));
    assert_eq!(
        read.len(),
        frames.len(),
        "a buffer of the same length in its place"
    );
    assert_ne!(read.capacity(), MARK);
    crate::testkit::wait_until("both messages written", Duration::from_secs(10), || {
        recording.counters().messages >= 2
    });
    let mut other = b"PUB c 0\r\n\r\n".to_vec();
    let mut head = sink.take_buffer();
    format::begin_wire_batch(&mut head, 8, Some(3), &[4]);
    let len = other.len();
    assert!(sink.try_offer_read(head, &mut other, 0..len, 1, 1, 3));
    assert_eq!(other.capacity(), MARK, "the written buffer never came back");
    assert_eq!(other.len(), len);
    drop(sink);
    recording.stop().unwrap();
    let (records, tail) = read_all(&path).unwrap();
    assert!(tail.is_none());
    type Seen<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8], u64, Option<u32>);
    let messages = messages_of(&records);
    let got: Vec<Seen> = messages
        .iter()
        .map(|m| {
            (
                m.subject.as_slice(),
                m.headers.as_deref(),
                m.payload.as_slice(),
                m.time_ns,
                m.receivers,
            )
        })
        .collect();
    let want: Vec<Seen> = vec![
        (b"a", None, b"x", 7, Some(1)),
        (b"b", Some(b"NATS/1.0\r\n\r\n"), b"yz", 7, Some(0)),
        (b"c", None, b"", 8, Some(4)),
    ];
    assert_eq!(got, want);
}
