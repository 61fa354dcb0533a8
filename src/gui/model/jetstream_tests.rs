#![allow(clippy::unwrap_used)]
use super::*;

fn stream(name: &str, messages: u64, subjects: &[&str]) -> StreamSummary {
    StreamSummary {
        name: name.into(),
        messages,
        storage: "file".into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn pull(name: &str) -> ConsumerSummary {
    ConsumerSummary {
        name: name.into(),
        durable: true,
        ack_policy: "explicit".into(),
        max_ack_pending: 100,
        ..Default::default()
    }
}

#[test]
fn buckets_and_keys_by_name() {
    assert_eq!(kv_bucket("KV_config"), Some("config"));
    assert_eq!(kv_bucket("KV_"), None);
    assert_eq!(kv_bucket("ORDERS"), None);
    assert_eq!(obj_bucket("OBJ_files"), Some("files"));
    assert_eq!(kv_key("config", "$KV.config.db.url"), Some("db.url"));
    assert_eq!(kv_key("config", "$KV.configx.a"), None);
    assert_eq!(kv_key("config", "$KV.config."), None);
    assert_eq!(kv_subject("config", "db.url"), "$KV.config.db.url");
    assert!(valid_key("db.url") && valid_key("a/b=c_d-e"));
    for bad in ["", ".a", "a.", "a..b", "a b", "a.*", "a.>"] {
        assert!(!valid_key(bad), "{bad:?}");
    }
}

#[test]
fn stream_rows_filter_and_sort() {
    let streams = vec![
        stream("ORDERS", 50, &["orders.>"]),
        stream("AUDIT", 900, &["audit.*"]),
        stream("KV_config", 7, &["$KV.config.>"]),
    ];
    let names = |rows: Vec<usize>| -> Vec<&str> {
        rows.iter().map(|&i| streams[i].name.as_str()).collect()
    };
    assert_eq!(
        names(stream_rows(&streams, "", StreamSort::default())),
        ["AUDIT", "KV_config", "ORDERS"]
    );
    let by_msgs = StreamSort::default().clicked(StreamColumn::Messages);
    assert!(by_msgs.descending, "numbers sort biggest first");
    assert_eq!(
        names(stream_rows(&streams, "", by_msgs)),
        ["AUDIT", "ORDERS", "KV_config"]
    );
    assert_eq!(
        names(stream_rows(
            &streams,
            "",
            by_msgs.clicked(StreamColumn::Messages)
        )),
        ["KV_config", "ORDERS", "AUDIT"]
    );
    assert_eq!(names(stream_rows(&streams, "orders.", by_msgs)), ["ORDERS"]);
    assert_eq!(names(stream_rows(&streams, "kv", by_msgs)), ["KV_config"]);
}

#[test]
fn stalled_consumers_say_why() {
    let now = SystemTime::now();
    let mut c = pull("dispatch");
    assert_eq!(stall(&c, now), None, "nothing to do");
    c.num_pending = 10;
    assert_eq!(stall(&c, now), Some(Stall::NoPullWaiting), "never active");
    c.last_delivered = Some(now - Duration::from_secs(5));
    assert_eq!(stall(&c, now), None, "between two fetches");
    c.last_ack = Some(now - Duration::from_secs(40));
    c.last_delivered = Some(now - Duration::from_secs(31));
    assert_eq!(stall(&c, now), Some(Stall::NoPullWaiting), "idle for 30 s");
    c.num_waiting = 1;
    assert_eq!(stall(&c, now), None, "a client is asking");
    c.num_ack_pending = 100;
    assert_eq!(stall(&c, now), Some(Stall::AckPendingAtMax));
    c.max_ack_pending = -1;
    assert_eq!(stall(&c, now), None, "no limit on ack pending");
    let mut push = pull("monitor");
    push.deliver_subject = Some("deliver.monitor".into());
    push.num_pending = 3;
    assert_eq!(stall(&push, now), Some(Stall::NoSubscriber));
    push.push_bound = true;
    assert_eq!(stall(&push, now), None);
    push.paused = true;
    assert_eq!(stall(&push, now), Some(Stall::Paused));
}

#[test]
fn consumer_rows_by_stream_filter_and_stall() {
    let now = SystemTime::now();
    let mut orders = stream("ORDERS", 50, &["orders.>"]);
    let mut stuck = pull("billing");
    stuck.num_pending = 5;
    let mut eu = pull("eu-dispatch");
    eu.filter_subjects = vec!["orders.eu.>".into()];
    orders.consumers = vec![stuck, eu];
    let mut audit = stream("AUDIT", 1, &["audit.*"]);
    audit.consumers = vec![pull("archiver")];
    let streams = vec![audit, orders];
    let names = |rows: Vec<ConsumerRow>| -> Vec<String> {
        rows.iter()
            .map(|r| streams[r.stream].consumers[r.consumer].name.clone())
            .collect()
    };
    assert_eq!(
        names(consumer_rows(&streams, None, "", false, now)),
        ["archiver", "billing", "eu-dispatch"]
    );
    assert_eq!(
        names(consumer_rows(&streams, Some("ORDERS"), "", false, now)),
        ["billing", "eu-dispatch"]
    );
    assert_eq!(
        names(consumer_rows(&streams, None, "", true, now)),
        ["billing"]
    );
    assert_eq!(
        names(consumer_rows(&streams, None, "orders.eu", false, now)),
        ["eu-dispatch"]
    );
    let rows = consumer_rows(&streams, None, "billing", false, now);
    assert_eq!(rows[0].stall, Some(Stall::NoPullWaiting));
}

fn stored(subject: &str, seq: u64, headers: Option<&str>, payload: &str) -> StoredMessage {
    StoredMessage {
        subject: subject.into(),
        seq,
        time: None,
        headers: headers.map(|h| h.as_bytes().to_vec()),
        payload: payload.as_bytes().to_vec(),
    }
}

#[test]
fn kv_entries_from_stored_messages() {
    let put = kv_entry(
        "config",
        stored("$KV.config.db.url", 4, None, "postgres://"),
    )
    .unwrap();
    assert_eq!(
        (put.key.as_str(), put.revision, put.operation),
        ("db.url", 4, KvOperation::Put)
    );
    let del = kv_entry(
        "config",
        stored(
            "$KV.config.db.url",
            5,
            Some("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"),
            "",
        ),
    )
    .unwrap();
    assert_eq!(del.operation, KvOperation::Delete);
    let purge = kv_entry(
        "config",
        stored(
            "$KV.config.x",
            6,
            Some("NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n"),
            "",
        ),
    )
    .unwrap();
    assert_eq!(purge.operation, KvOperation::Purge);
    assert_eq!(
        kv_entry("config", stored("other.subject", 1, None, "")),
        None
    );
}

#[test]
fn previews_fit_one_line() {
    assert_eq!(preview(b"a\nb", 10), "a b");
    assert_eq!(preview(b"abcdefghij", 4), "abcd...");
    assert_eq!(preview(&[0, 159, 146, 150], 10), "(4 bytes, binary)");
    assert_eq!(preview(b"", 10), "");
}

#[test]
fn object_metadata() {
    let meta = br#"{"name":"report.pdf","bucket":"files","nuid":"x","size":2500000,
        "mtime":"2026-11-30T10:00:00Z","chunks":20,"digest":"SHA-256=abc"}"#;
    let o = object_info(meta).unwrap();
    assert_eq!(
        (o.name.as_str(), o.size, o.chunks),
        ("report.pdf", 2_500_000, 20)
    );
    assert!(!o.deleted);
    assert!(object_info(b"{").is_err());
    let nulls = br#"{"name":"a","description":null,"digest":null,"size":3,"chunks":1}"#;
    assert_eq!(object_info(nulls).unwrap().description, "");
}

#[test]
fn from_times_absolute_and_relative() {
    use std::time::UNIX_EPOCH;
    let now = UNIX_EPOCH + Duration::from_secs(1_764_656_000);
    let at = |text: &str| parse_from_time(text, now);
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert_eq!(at("5m ago"), Ok(now - Duration::from_secs(300)));
    assert_eq!(at("-5m"), Ok(now - Duration::from_secs(300)));
    assert_eq!(at(" -90s "), Ok(now - Duration::from_secs(90)));
    assert_eq!(at("1h30m ago"), Ok(now - Duration::from_secs(5400)));
    assert_eq!(at("2 days ago"), Ok(now - Duration::from_secs(172_800)));
    assert_eq!(at("250ms ago"), Ok(now - Duration::from_millis(250)));
    assert_eq!(at("1.5h ago"), Ok(now - Duration::from_secs(5400)));
    assert_eq!(
        secs(at("2025-12-01T17:45:15.1Z").unwrap()),
        1_764_611_115.1,
        "RFC 3339 with fractions"
    );
    assert_eq!(
        at("2025-12-01T18:45:15+01:00"),
        at("2025-12-01T17:45:15Z"),
        "an offset is honoured"
    );
    assert_eq!(
        at("2025-12-01 17:45:15Z"),
        at("2025-12-01T17:45:15Z"),
        "a space for the T"
    );
    for bad in [
        "",
        "ago",
        "-",
        "5 ago",
        "5x ago",
        "-5mm",
        "yesterday",
        "2025-12-01T17:45:15",
    ] {
        assert!(at(bad).is_err(), "{bad:?} is refused");
    }
    assert!(at("-5m").is_ok_and(|t| t < now));
    assert!(
        at("5q ago").unwrap_err().contains("5m ago"),
        "the error says the form"
    );
}

fn change(key: &str, revision: u64, op: KvOperation) -> KvEntry {
    KvEntry {
        key: key.into(),
        revision,
        time: None,
        operation: op,
        value: format!("v{revision}").into_bytes(),
    }
}

#[test]
fn watched_changes_update_the_key_list() {
    let mut keys = vec![
        change("a", 1, KvOperation::Put),
        change("c", 3, KvOperation::Put),
    ];
    let mut total = 2;
    apply_change(&mut keys, &mut total, &change("b", 4, KvOperation::Put));
    apply_change(&mut keys, &mut total, &change("c", 5, KvOperation::Delete));
    let listed: Vec<(&str, u64, KvOperation)> = keys
        .iter()
        .map(|e| (e.key.as_str(), e.revision, e.operation))
        .collect();
    assert_eq!(
        listed,
        [
            ("a", 1, KvOperation::Put),
            ("b", 4, KvOperation::Put),
            ("c", 5, KvOperation::Delete)
        ],
        "a new key in order, a deleted one marked"
    );
    assert_eq!(total, 3);
    apply_change(&mut keys, &mut total, &change("b", 2, KvOperation::Put));
    assert_eq!(keys[1].revision, 4, "an older revision changes nothing");
    assert_eq!(total, 3);
}

#[test]
fn the_watch_log_is_bounded_and_counts_what_it_let_go() {
    let mut log = WatchLog::default();
    assert!(log.is_empty());
    for rev in 1..=(WatchLog::CAPACITY as u64 + 5) {
        log.push(change("k", rev, KvOperation::Put));
    }
    assert_eq!(log.len(), WatchLog::CAPACITY);
    assert_eq!(log.overflowed, 5);
    let newest: Vec<u64> = log.changes().take(2).map(|e| e.revision).collect();
    assert_eq!(
        newest,
        [WatchLog::CAPACITY as u64 + 5, WatchLog::CAPACITY as u64 + 4]
    );
    assert_eq!(log.changes().last().map(|e| e.revision), Some(6));
}

#[test]
fn kv_operations_from_the_header() {
    assert_eq!(kv_operation(None), KvOperation::Put);
    assert_eq!(kv_operation(Some("DEL")), KvOperation::Delete);
    assert_eq!(kv_operation(Some(" PURGE ")), KvOperation::Purge);
    assert_eq!(kv_operation(Some("other")), KvOperation::Put);
}
