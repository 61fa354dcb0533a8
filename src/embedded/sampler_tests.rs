#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::broker::BrokerHandle;
use crate::inspect::snapshot::{BrokerEvent, EventKind, JetStreamState};
use crate::testkit::{read_until, wait_until_async};

async fn client(handle: &BrokerHandle, connect: &str) -> TcpStream {
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    s.write_all(format!("CONNECT {connect}\r\n").as_bytes())
        .await
        .unwrap();
    s
}

/// Sends `ops` followed by PING and waits for the PONG, so the server has handled them.
async fn round_trip(s: &mut TcpStream, ops: &str) -> Vec<u8> {
    s.write_all(format!("{ops}PING\r\n").as_bytes())
        .await
        .unwrap();
    read_until(s, Duration::from_secs(2), |seen| {
        seen.ends_with(b"PONG\r\n")
    })
    .await
}

#[tokio::test]
async fn snapshot_shows_connections_subjects_queues_and_latency() {
    let handle = BrokerHandle::start_for_test().await;
    let server = handle.server().clone();
    server.tap.set_latency_tracking(true);
    let mut sampler = Sampler::new(server.clone(), None);
    sampler.sample();

    let mut worker_a = client(&handle, r#"{"verbose":false,"name":"worker-a"}"#).await;
    round_trip(&mut worker_a, "SUB jobs.* workers 1\r\nSUB svc 2\r\n").await;
    let mut worker_b = client(&handle, r#"{"verbose":false,"name":"worker-b"}"#).await;
    round_trip(&mut worker_b, "SUB jobs.* workers 1\r\n").await;
    let mut publisher = client(&handle, r#"{"verbose":false,"name":"pub"}"#).await;
    let mut ops = String::new();
    for _ in 0..100 {
        ops.push_str("PUB jobs.x 3\r\nabc\r\n");
    }
    ops.push_str("PUB nobody.home 2\r\nhi\r\n");
    ops.push_str("PUB svc _INBOX.r1 1\r\nq\r\n");
    round_trip(&mut publisher, &ops).await;
    // The responder answers the request on its reply subject.
    round_trip(&mut worker_a, "PUB _INBOX.r1 1\r\na\r\n").await;
    tokio::time::sleep(crate::broker::tap::FLUSH_INTERVAL + Duration::from_millis(50)).await;
    // A batch after the flush interval merges the counters.
    round_trip(&mut publisher, "").await;
    round_trip(&mut worker_a, "").await;

    let snap = sampler.sample();
    let names: Vec<&str> = snap.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["worker-a", "worker-b", "pub"]);
    assert_eq!(
        snap.server.client_url,
        format!("nats://127.0.0.1:{}", server.port())
    );

    let jobs = snap
        .subjects
        .iter()
        .find(|s| s.subject == "jobs.x")
        .unwrap();
    assert_eq!(
        (jobs.msgs, jobs.bytes, jobs.no_interest_msgs),
        (100, 300, 0)
    );
    assert!(
        jobs.msgs_per_sec > 0.0,
        "new since the first tick: its messages came in this one"
    );
    assert_eq!(jobs.subscribers, 2);
    let publisher_cid = snap.connections[2].cid;
    assert_eq!(jobs.publishers, vec![publisher_cid]);
    let nobody = snap
        .subjects
        .iter()
        .find(|s| s.subject == "nobody.home")
        .unwrap();
    assert_eq!(
        (nobody.msgs, nobody.no_interest_msgs, nobody.subscribers),
        (1, 1, 0)
    );

    assert_eq!(snap.queue_groups.len(), 1);
    let group = &snap.queue_groups[0];
    assert_eq!(
        (group.subject.as_str(), group.queue.as_str()),
        ("jobs.*", "workers")
    );
    let delivered: u64 = group.members.iter().map(|m| m.delivered).sum();
    assert_eq!(delivered, 100, "each message to exactly one member");

    let svc = snap.latency.iter().find(|l| l.subject == "svc").unwrap();
    assert_eq!((svc.requests, svc.replies), (1, 1));
    assert!(svc.p50 > Duration::ZERO && svc.p50 <= svc.max);
    assert_eq!(
        svc.histogram.total(),
        1,
        "the round trip is in the histogram"
    );

    assert_eq!(snap.totals.in_msgs, 103);
    assert_eq!(
        snap.jetstream,
        JetStreamState::Off,
        "no JetStream asked for"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn snapshot_sums_up_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let opts = crate::options::Options {
        port: 0,
        jetstream: Some(crate::options::JetStreamOptions {
            store_dir: Some(dir.path().to_path_buf()),
            max_memory: Some(1 << 20),
            max_store: Some(1 << 30),
            ..Default::default()
        }),
        ..Default::default()
    };
    let bound = BrokerHandle::bind(opts).await.unwrap();
    crate::jetstream::enable(bound.server()).unwrap();
    let handle = bound.accept();
    let mut sampler = Sampler::new(handle.server().clone(), None);
    let JetStreamState::On(empty) = sampler.sample().jetstream else {
        panic!("JetStream is on");
    };
    assert_eq!(
        (empty.streams, empty.messages, empty.api_requests),
        (0, 0, 0)
    );
    assert_eq!(
        empty.store_dir,
        dir.path().join("jetstream").display().to_string()
    );
    assert_eq!(
        (empty.max_memory, empty.max_store),
        (Some(1 << 20), Some(1 << 30))
    );

    let mut c = client(&handle, r#"{"verbose":false}"#).await;
    let create = r#"{"name":"ORDERS","subjects":["orders.>"]}"#;
    let mut ops = format!(
        "PUB $JS.API.STREAM.CREATE.ORDERS _INBOX.1 {}\r\n{create}\r\n",
        create.len()
    );
    for i in 0..3 {
        ops.push_str(&format!("PUB orders.{i} _INBOX.ack{i} 5\r\nhello\r\n"));
    }
    ops.push_str("PUB $JS.API.STREAM.INFO.NOPE _INBOX.2 0\r\n\r\n");
    round_trip(&mut c, &ops).await;

    let mut state = JetStreamState::Unknown;
    wait_until_async("the stream's messages", Duration::from_secs(5), || {
        state = sampler.sample().jetstream;
        state
            .summary()
            .is_some_and(|js| js.messages == 3 && js.api_errors == 1)
    })
    .await;
    let JetStreamState::On(js) = state else {
        panic!("JetStream is on");
    };
    assert_eq!((js.streams, js.messages), (1, 3));
    assert!(js.bytes > 15, "{js:?}");
    assert!(js.store_used > 0, "a file stream uses the store: {js:?}");
    assert_eq!(js.memory_used, 0);
    assert_eq!((js.api_requests, js.api_errors), (2, 1), "{js:?}");
    handle.shutdown().await;
}

/// Replies are counted per subject: a custom-prefix reply inbox, a subject also published
/// to as a non-reply, and JetStream's acknowledgements, whose `$JS.ACK.` reply subjects the
/// stream's consumer (a service, not a connection) set on its deliveries.
#[tokio::test]
async fn replies_are_counted_per_subject() {
    let dir = tempfile::tempdir().unwrap();
    let opts = crate::options::Options {
        port: 0,
        jetstream: Some(crate::options::JetStreamOptions {
            store_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let bound = BrokerHandle::bind(opts).await.unwrap();
    crate::jetstream::enable(bound.server()).unwrap();
    let handle = bound.accept();
    let server = handle.server().clone();
    server.tap.set_latency_tracking(true);
    let mut sampler = Sampler::new(server.clone(), None);
    sampler.sample();

    let mut responder = client(&handle, r#"{"verbose":false}"#).await;
    round_trip(&mut responder, "SUB svc 1\r\nSUB deliver.w 2\r\n").await;
    let mut requester = client(&handle, r#"{"verbose":false}"#).await;
    round_trip(&mut requester, "PUB svc myapp.replies.1 1\r\nq\r\n").await;
    // The answer, then a message on the same subject that answers nothing.
    round_trip(
        &mut responder,
        "PUB myapp.replies.1 1\r\na\r\nPUB myapp.replies.1 1\r\nb\r\n",
    )
    .await;

    let stream = r#"{"name":"ORDERS","subjects":["orders.>"]}"#;
    let consumer = r#"{"stream_name":"ORDERS","config":{"durable_name":"w","deliver_subject":"deliver.w","ack_policy":"explicit"}}"#;
    let mut ops = format!(
        "PUB $JS.API.STREAM.CREATE.ORDERS _INBOX.s {}\r\n{stream}\r\n",
        stream.len()
    );
    for i in 0..3 {
        ops.push_str(&format!("PUB orders.{i} 5\r\nhello\r\n"));
    }
    ops.push_str(&format!(
        "PUB $JS.API.CONSUMER.CREATE.ORDERS.w _INBOX.c {}\r\n{consumer}\r\n",
        consumer.len()
    ));
    round_trip(&mut requester, &ops).await;
    let delivered = read_until(&mut responder, Duration::from_secs(5), |seen| {
        String::from_utf8_lossy(seen).matches(" $JS.ACK.").count() >= 3
    })
    .await;
    let acks: Vec<String> = String::from_utf8_lossy(&delivered)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.len() == 5 && fields[0] == "MSG").then(|| fields[3].to_string())
        })
        .collect();
    assert_eq!(acks.len(), 3, "{}", String::from_utf8_lossy(&delivered));
    let ops: String = acks.iter().map(|a| format!("PUB {a} 0\r\n\r\n")).collect();
    round_trip(&mut responder, &ops).await;

    tokio::time::sleep(crate::broker::tap::FLUSH_INTERVAL + Duration::from_millis(50)).await;
    round_trip(&mut requester, "").await;
    round_trip(&mut responder, "").await;
    let snap = sampler.sample();
    let counts = |name: &str| {
        snap.subjects
            .iter()
            .find(|s| s.subject == name)
            .map(|s| (s.msgs, s.reply_msgs))
    };
    assert_eq!(counts("svc"), Some((1, 0)), "a request is no reply");
    assert_eq!(
        counts("myapp.replies.1"),
        Some((2, 1)),
        "the answer is a reply, the second message is not"
    );
    for ack in &acks {
        assert_eq!(counts(ack), Some((1, 1)), "{ack} acknowledged a delivery");
    }
    assert_eq!(counts("orders.0"), Some((1, 0)));
    handle.shutdown().await;
}

#[tokio::test]
async fn feed_delivers_samples_and_events_and_kick_closes() {
    let handle = BrokerHandle::start_for_test().await;
    let (mut feed, control) = crate::embedded::attach(handle.server().clone(), None).unwrap();
    assert!(crate::embedded::attach(handle.server().clone(), None).is_none());
    control.set_sampling(true);
    let mut c = client(
        &handle,
        r#"{"verbose":false,"headers":true,"name":"kick-me"}"#,
    )
    .await;
    round_trip(&mut c, "HPUB a.b r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").await;
    let samples = feed.drain_samples(10);
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].subject, b"a.b");
    assert_eq!(samples[0].reply.as_deref(), Some(&b"r"[..]));
    assert_eq!(
        samples[0].headers.as_deref(),
        Some(&b"NATS/1.0\r\n\r\n"[..])
    );
    assert_eq!(samples[0].payload, b"hi");
    assert_eq!(samples[0].receivers, 0);

    let id = handle.server().clients()[0].cid;
    assert!(control.kick(id));
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "kicked client sees EOF");
    let kicked = |events: &[BrokerEvent]| {
        events.iter().any(|e| {
            matches!(&e.kind, EventKind::Disconnected { name, reason, .. } if name == "kick-me" && reason == "Kicked")
        })
    };
    wait_until_async(
        "the kick's disconnect event",
        Duration::from_secs(2),
        || kicked(&feed.events_since(0)),
    )
    .await;
    assert!(matches!(
        feed.events_since(0)[0].kind,
        EventKind::Connected { .. }
    ));
    // The sampler publishes snapshots on its own.
    wait_until_async("a snapshot", Duration::from_secs(3), || {
        feed.latest().is_some()
    })
    .await;
    handle.shutdown().await;
}

#[test]
fn only_loopback_hosts_count_as_private() {
    assert!(is_loopback_host("127.0.0.1"));
    assert!(is_loopback_host("::1"));
    assert!(is_loopback_host("[::1]"));
    assert!(is_loopback_host("localhost"));
    assert!(!is_loopback_host("0.0.0.0"));
    assert!(!is_loopback_host("::"));
    assert!(!is_loopback_host("192.0.2.7"));
}

#[test]
fn newest_round_trips_follow_the_taps_ring() {
    // The tap's ring of 4 after 6 replies (1..=6 ms): 5 and 6 overwrote 1 and 2.
    let ms = Duration::from_millis;
    let recent = [ms(5), ms(6), ms(3), ms(4)];
    let newest: Vec<Duration> = newest_round_trips(&recent, 6, 3).collect();
    assert_eq!(newest, [ms(6), ms(5), ms(4)]);
    // Not full yet: the newest are at the end.
    let newest: Vec<Duration> = newest_round_trips(&recent[..3], 3, 2).collect();
    assert_eq!(newest, [ms(3), ms(6)]);
    // More than the ring holds: all of it, once.
    assert_eq!(newest_round_trips(&recent, 6, 100).count(), 4);
    assert_eq!(newest_round_trips(&[], 0, 5).count(), 0);
}

/// Round trips reach the cumulative histogram once each, across ticks, also after the
/// tap's window of 4,096 wrapped around: the slow ones of the second tick are the ones
/// added then.
#[test]
fn the_latency_histogram_counts_each_round_trip_once() {
    let tap = crate::broker::tap::Tap::new();
    tap.set_latency_tracking(true);
    let mut histograms = HashMap::new();
    let mut reply = 0u64;
    let mut answer = |slow: bool| {
        reply += 1;
        let inbox = format!("_INBOX.{reply}");
        tap.track(b"svc", Some(inbox.as_bytes()));
        if slow {
            std::thread::sleep(Duration::from_millis(3));
        }
        tap.track(inbox.as_bytes(), None);
    };
    for _ in 0..4000 {
        answer(false);
    }
    let first = latency(tap.latency_windows(), &mut histograms);
    assert_eq!(first[0].histogram.total(), 4000);
    for _ in 0..200 {
        answer(false);
    }
    for _ in 0..3 {
        answer(true);
    }
    let second = latency(tap.latency_windows(), &mut histograms);
    let h = &second[0].histogram;
    assert_eq!(h.total(), 4203);
    let new = h.since(&first[0].histogram);
    let slow: u64 = new
        .buckets()
        .iter()
        .filter(|&&(b, _)| LatencyHistogram::bounds(b).0 >= Duration::from_millis(2))
        .map(|&(_, n)| n)
        .sum();
    // At least: a stalled machine may make a quick one slow too.
    assert!(
        slow >= 3,
        "the newest three were the slow ones, found {slow}"
    );
    assert_eq!(
        latency(tap.latency_windows(), &mut histograms)[0].histogram,
        *h
    );
}

#[tokio::test]
async fn accounts_show_their_exports_and_the_traffic_of_their_imports() {
    use crate::options::{AccountConfig, Export, Import, ImportKind, Options, ResponseType, User};
    let user = |name: &str| User {
        user: Some(name.into()),
        password: Some(name.into()),
        ..User::default()
    };
    let export = |kind, subject: &str, accounts: Option<Vec<String>>| Export {
        kind,
        subject: subject.into(),
        accounts,
        account_token_position: 0,
        response_type: ResponseType::Singleton,
        response_threshold: None,
        latency: None,
    };
    let mut opts = Options {
        port: 0,
        ..Default::default()
    };
    opts.auth.accounts = vec![
        AccountConfig {
            name: "A".into(),
            users: vec![user("a")],
            exports: vec![
                export(ImportKind::Service, "svc", None),
                export(ImportKind::Stream, "ev.>", Some(vec!["B".into()])),
            ],
            ..Default::default()
        },
        AccountConfig {
            name: "B".into(),
            users: vec![user("b")],
            imports: vec![
                Import {
                    kind: ImportKind::Service,
                    account: "A".into(),
                    subject: "svc".into(),
                    prefix: None,
                    to: Some("a.svc".into()),
                    share: false,
                },
                Import {
                    kind: ImportKind::Stream,
                    account: "A".into(),
                    subject: "ev.>".into(),
                    prefix: Some("a".into()),
                    to: None,
                    share: false,
                },
            ],
            ..Default::default()
        },
    ];
    let handle = BrokerHandle::start(opts).await.unwrap();
    let server = handle.server().clone();
    let mut sampler = Sampler::new(server.clone(), None);
    sampler.sample();
    let mut a = client(&handle, r#"{"verbose":false,"user":"a","pass":"a"}"#).await;
    round_trip(&mut a, "SUB svc 1\r\n").await;
    let mut b = client(&handle, r#"{"verbose":false,"user":"b","pass":"b"}"#).await;
    round_trip(
        &mut b,
        "SUB a.ev.> 1\r\nPUB a.svc 1\r\nq\r\nPUB a.svc 1\r\nq\r\n",
    )
    .await;
    round_trip(
        &mut a,
        "PUB ev.x 1\r\nx\r\nPUB ev.y 1\r\ny\r\nPUB ev.z 1\r\nz\r\n",
    )
    .await;
    round_trip(&mut b, "").await;

    let snap = sampler.sample();
    let names: Vec<&str> = snap.accounts.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"A") && names.contains(&"B"), "{names:?}");
    let account_a = snap.accounts.iter().find(|x| x.name == "A").unwrap();
    assert_eq!(account_a.connections.len(), 1);
    assert_eq!(account_a.exports.len(), 2);
    assert!(account_a.exports[0].service && account_a.exports[0].accounts.is_empty());
    assert_eq!(account_a.exports[1].accounts, ["B"]);
    let account_b = snap.accounts.iter().find(|x| x.name == "B").unwrap();
    let stream = account_b.imports.iter().find(|i| !i.service).unwrap();
    assert_eq!(
        (stream.account.as_str(), stream.local_subject.as_str()),
        ("A", "a.ev.>")
    );
    assert_eq!(stream.msgs, 3);
    assert!(stream.msgs_per_sec > 0.0);
    let service = account_b.imports.iter().find(|i| i.service).unwrap();
    assert_eq!(
        (service.subject.as_str(), service.local_subject.as_str()),
        ("svc", "a.svc")
    );
    assert_eq!(service.msgs, 2);
}
