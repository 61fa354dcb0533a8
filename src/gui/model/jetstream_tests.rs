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
