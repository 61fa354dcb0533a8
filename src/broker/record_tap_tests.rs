//! Recording the embedded broker: publisher ids and names, receiver counts, headers, the
//! subject filter, and one recording at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::broker::{BrokerHandle, BrokerRecording};
use crate::record::format::{Record, Stats};
use crate::record::reader::read_all;
use crate::record::recorder::{RecordError, RecordOptions};
use crate::record::tests::messages_of;
use crate::testkit;

async fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    testkit::read_until(stream, Duration::from_secs(5), |out| {
        testkit::contains(out, needle)
    })
    .await
}

/// Stops a recording (it joins the writer thread, so off the runtime) and reads the file
/// back, which must have no torn tail.
async fn stop_and_read(recording: BrokerRecording, path: &Path) -> (Stats, Vec<Record>) {
    let stats = tokio::task::spawn_blocking(move || recording.stop())
        .await
        .unwrap()
        .unwrap();
    let (records, tail) = read_all(path).unwrap();
    assert_eq!(tail, None);
    (stats, records)
}

async fn client(handle: &BrokerHandle, connect: &str) -> TcpStream {
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    read_until(&mut s, b"\r\n").await;
    s.write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await
        .unwrap();
    read_until(&mut s, b"PONG\r\n").await;
    s
}

/// The broker records publishes as the client framed them: a message split over two reads
/// (framed again by the tap), lower-case and oddly spaced operations, and a filtered-out
/// publish between recorded ones all come back exactly, in order.
#[tokio::test]
async fn records_split_and_oddly_framed_publishes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("split.rec");
    let handle = BrokerHandle::start_for_test().await;
    let recording = handle
        .start_recording(&path, RecordOptions::subjects(vec!["split.>".into()]))
        .unwrap();
    let mut publisher = client(&handle, r#"{"headers":true}"#).await;
    publisher
        .write_all(b"pub split.one 10\r\n01234")
        .await
        .unwrap();
    // Apart long enough that the rest comes in another read.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut rest = b"56789\r\npub\tsplit.two  reply.x 3\r\nabc\r\n".to_vec();
    rest.extend_from_slice(b"PUB skipped.subject 1\r\nx\r\n");
    rest.extend_from_slice(b"hpub split.three 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    rest.extend_from_slice(b"PUB split.four 0\r\n\r\nPING\r\n");
    publisher.write_all(&rest).await.unwrap();
    read_until(&mut publisher, b"PONG\r\n").await;
    let (stats, records) = stop_and_read(recording, &path).await;
    assert_eq!((stats.messages, stats.drops), (4, 0));
    type Parts<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8]);
    let messages = messages_of(&records);
    let got: Vec<Parts> = messages
        .iter()
        .map(|m| {
            (
                m.subject.as_slice(),
                m.reply.as_deref(),
                m.headers.as_deref(),
                m.payload.as_slice(),
            )
        })
        .collect();
    let expected: Vec<Parts> = vec![
        (b"split.one", None, None, b"0123456789"),
        (b"split.two", Some(b"reply.x"), None, b"abc"),
        (b"split.three", None, Some(b"NATS/1.0\r\n\r\n"), b"hi"),
        (b"split.four", None, None, b""),
    ];
    assert_eq!(got, expected);
}

/// A flood written in one go reaches the broker in reads of tens of kilobytes, whose
/// buffers go to the recording whole (messages cut between reads are framed again): every
/// message comes back exactly, in order, with its receiver count, and the connection reads
/// on correctly into the buffers it gets in their place.
#[tokio::test]
async fn records_a_flood_of_large_reads_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.rec");
    let handle = BrokerHandle::start_for_test().await;
    let recording = handle
        .start_recording(&path, RecordOptions::default())
        .unwrap();
    let mut subscriber = client(&handle, "{}").await;
    subscriber
        .write_all(b"SUB flood.* 1\r\nPING\r\n")
        .await
        .unwrap();
    read_until(&mut subscriber, b"PONG\r\n").await;
    // Drain the subscriber so it never becomes a slow consumer.
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(subscriber.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let mut publisher = client(&handle, r#"{"headers":true}"#).await;
    let mut rng = fastrand::Rng::with_seed(11);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for i in 0..20_000u32 {
        let subject = if i % 3 == 0 {
            format!("other.{i}")
        } else {
            format!("flood.{i}")
        };
        let payload: Vec<u8> = (0..rng.usize(0..120)).map(|_| rng.u8(..)).collect();
        let headers = (i % 7 == 0).then(|| format!("NATS/1.0\r\nn: {i}\r\n\r\n").into_bytes());
        match &headers {
            Some(h) => wire.extend_from_slice(
                format!("HPUB {subject} {} {}\r\n", h.len(), h.len() + payload.len()).as_bytes(),
            ),
            None => {
                wire.extend_from_slice(format!("PUB {subject} {}\r\n", payload.len()).as_bytes())
            }
        }
        wire.extend_from_slice(headers.as_deref().unwrap_or_default());
        wire.extend_from_slice(&payload);
        wire.extend_from_slice(b"\r\n");
        let receivers = u32::from(i % 3 != 0);
        expected.push((subject.into_bytes(), headers, payload, Some(receivers)));
    }
    wire.extend_from_slice(b"PING\r\n");
    publisher.write_all(&wire).await.unwrap();
    read_until(&mut publisher, b"PONG\r\n").await;
    let (stats, records) = stop_and_read(recording, &path).await;
    drain.abort();
    assert_eq!((stats.messages, stats.drops), (20_000, 0));
    let got: Vec<_> = messages_of(&records)
        .into_iter()
        .map(|m| (m.subject, m.headers, m.payload, m.receivers))
        .collect();
    assert_eq!(got.len(), expected.len());
    if let Some(at) = (0..got.len()).find(|&k| got[k] != expected[k]) {
        panic!("message {at} differs: {:?} vs {:?}", got[at], expected[at]);
    }
}

#[tokio::test]
async fn records_the_embedded_broker_with_publishers_and_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broker.rec");
    let handle = BrokerHandle::start_for_test().await;
    let recording = handle
        .start_recording(&path, RecordOptions::subjects(vec!["rec.>".into()]))
        .unwrap();
    assert!(handle.server().recording());
    assert!(matches!(
        handle.start_recording(&dir.path().join("second.rec"), RecordOptions::default()),
        Err(RecordError::AlreadyRecording)
    ));
    let mut sub1 = client(&handle, r#"{"headers":true,"name":"sub1"}"#).await;
    let mut sub2 = client(&handle, r#"{"name":"sub2"}"#).await;
    sub1.write_all(b"SUB rec.* 1\r\nSUB rec.fan 2\r\nPING\r\n")
        .await
        .unwrap();
    read_until(&mut sub1, b"PONG\r\n").await;
    sub2.write_all(b"SUB rec.fan 1\r\nPING\r\n").await.unwrap();
    read_until(&mut sub2, b"PONG\r\n").await;
    let mut publisher = client(&handle, r#"{"headers":true,"name":"the publisher"}"#).await;
    let headers = b"NATS/1.0\r\nA: 1\r\n\r\n";
    let mut frames = Vec::new();
    frames.extend_from_slice(b"PUB rec.one 5\r\nhello\r\n");
    frames.extend_from_slice(b"PUB other.subject 1\r\nx\r\n");
    frames.extend_from_slice(b"PUB rec.fan _INBOX.r 0\r\n\r\n");
    frames.extend_from_slice(
        format!("HPUB rec.hdr {} {}\r\n", headers.len(), headers.len() + 3).as_bytes(),
    );
    frames.extend_from_slice(headers);
    frames.extend_from_slice(b"\x00\xff\r\r\n");
    frames.extend_from_slice(b"PUB rec.nobody.here 2\r\nzz\r\nPING\r\n");
    publisher.write_all(&frames).await.unwrap();
    read_until(&mut publisher, b"PONG\r\n").await;
    read_until(&mut sub2, b"MSG rec.fan").await;
    let live = recording.counters();
    let (stats, records) = stop_and_read(recording, &path).await;
    assert!(!handle.server().recording());
    assert_eq!((stats.messages, stats.drops), (4, 0));
    assert!(live.messages <= 4);
    let Record::Meta(meta) = &records[0] else {
        panic!("first record {:?}", records[0]);
    };
    assert_eq!(meta.source, "broker");
    assert_eq!(meta.subjects, vec!["rec.>".to_string()]);
    // An unnamed server is named by its id, once.
    assert_eq!(meta.server, handle.server().id);
    let publisher_cid = records
        .iter()
        .find_map(|r| match r {
            Record::Connection { cid: id, name } if name == "the publisher" => Some(*id),
            _ => None,
        })
        .expect("a CONNECTION record names the publisher");
    let messages = messages_of(&records);
    let subjects: Vec<&[u8]> = messages.iter().map(|m| m.subject.as_slice()).collect();
    assert_eq!(
        subjects,
        vec![&b"rec.one"[..], b"rec.fan", b"rec.hdr", b"rec.nobody.here"]
    );
    assert!(messages.iter().all(|m| m.publisher == Some(publisher_cid)));
    let receivers: Vec<Option<u32>> = messages.iter().map(|m| m.receivers).collect();
    assert_eq!(receivers, vec![Some(1), Some(3), Some(1), Some(0)]);
    assert_eq!(messages[0].payload, b"hello");
    assert_eq!(messages[0].reply, None);
    assert_eq!(messages[1].reply.as_deref(), Some(&b"_INBOX.r"[..]));
    assert_eq!(messages[1].payload, b"");
    assert_eq!(messages[2].headers.as_deref(), Some(&headers[..]));
    assert_eq!(messages[2].payload, b"\x00\xff\r");
    assert!(messages.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    // Recording again after a stop works, and records nothing when nothing is published.
    let again = handle
        .start_recording(&dir.path().join("again.rec"), RecordOptions::default())
        .unwrap();
    let stats = tokio::task::spawn_blocking(move || again.stop())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.messages, 0);
    assert!(handle
        .start_recording(&path, RecordOptions::subjects(vec!["a..b".into()]))
        .is_err());
    handle.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_drops_whole_reads_and_every_message_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.rec");
    let handle = BrokerHandle::start_for_test().await;
    // Room for a single batch: while the writer has it, every later read is dropped
    // (refused by the queue, or not even encoded because the queue was full already).
    let recording = handle
        .start_recording(
            &path,
            RecordOptions {
                queue_messages: 1,
                ..RecordOptions::default()
            },
        )
        .unwrap();
    let mut publisher = client(&handle, r#"{"name":"flood"}"#).await;
    const ROUNDS: usize = 200;
    const PER_ROUND: usize = 500;
    let mut frames = Vec::new();
    for i in 0..PER_ROUND {
        frames.extend_from_slice(format!("PUB flood.{} 8\r\n12345678\r\n", i % 7).as_bytes());
    }
    for _ in 0..ROUNDS {
        publisher.write_all(&frames).await.unwrap();
    }
    publisher.write_all(b"PING\r\n").await.unwrap();
    read_until(&mut publisher, b"PONG\r\n").await;
    let (stats, records) = stop_and_read(recording, &path).await;
    let published = (ROUNDS * PER_ROUND) as u64;
    assert_eq!(stats.messages + stats.drops, published, "{stats:?}");
    assert!(stats.drops > 0, "a one-entry queue took a flood: {stats:?}");
    let recorded = records
        .iter()
        .filter(|r| matches!(r, Record::Message(_)))
        .count() as u64;
    assert_eq!(recorded, stats.messages);
    let end_drops = records.iter().find_map(|r| match r {
        Record::End(s) => Some(s.drops),
        _ => None,
    });
    assert_eq!(
        end_drops,
        Some(stats.drops),
        "the END record carries the drops"
    );
    handle.shutdown().await;
}
