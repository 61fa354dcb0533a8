use super::*;

#[test]
fn wildcard_maps_go_both_ways() {
    let prefix = WildcardMap::new("events.>", "fromA.events.>").unwrap();
    assert_eq!(
        prefix.apply("events.x.y").as_deref(),
        Some("fromA.events.x.y")
    );
    assert_eq!(prefix.apply("other.x"), None);
    assert_eq!(prefix.apply("events"), None, "> needs a token");
    let back = prefix.reverse();
    assert_eq!(back.apply("fromA.events.*").as_deref(), Some("events.*"));

    let swap = WildcardMap::new("a.*.*", "b.$2.$1").unwrap();
    assert_eq!(swap.apply("a.x.y").as_deref(), Some("b.y.x"));
    assert_eq!(swap.reverse().apply("b.y.x").as_deref(), Some("a.x.y"));
    let ordered = WildcardMap::new("a.*.c.*", "z.*.*").unwrap();
    assert_eq!(ordered.apply("a.1.c.2").as_deref(), Some("z.1.2"));
    assert_eq!(ordered.reverse().apply("z.1.2").as_deref(), Some("a.1.c.2"));
    let mustache = WildcardMap::new("a.*", "b.{{wildcard(1)}}").unwrap();
    assert_eq!(mustache.apply("a.q").as_deref(), Some("b.q"));

    assert_eq!(WildcardMap::new("a.>", "b.*"), None, "> on one side");
    assert_eq!(WildcardMap::new("a.*", "b.$2"), None, "no second wildcard");
    let js = WildcardMap::new("js.a.>", "$JS.API.>").unwrap();
    assert_eq!(
        js.apply("js.a.STREAM.NAMES").as_deref(),
        Some("$JS.API.STREAM.NAMES")
    );
    let literal = WildcardMap::new("svc.req", "local.req").unwrap();
    assert_eq!(literal.apply("svc.req").as_deref(), Some("local.req"));
    assert_eq!(literal.apply("svc.other"), None);
}

fn stream_import(from: &str, to: &str) -> StreamImport {
    let forward = WildcardMap::new(from, to).unwrap();
    StreamImport {
        exporter: Weak::new(),
        from: from.into(),
        to: to.into(),
        reverse: forward.reverse(),
        forward,
        delivered: Default::default(),
        removed: Default::default(),
    }
}

#[test]
fn shadow_subjects_cover_the_four_cases() {
    let im = stream_import("events.>", "fromA.events.>");
    // The import's own subject, and a subscription covering it: the exporter's subject.
    assert_eq!(
        im.shadow_subject("fromA.events.>").as_deref(),
        Some("events.>")
    );
    assert_eq!(im.shadow_subject(">").as_deref(), Some("events.>"));
    assert_eq!(im.shadow_subject("fromA.>").as_deref(), Some("events.>"));
    // Inside it: mapped back.
    assert_eq!(
        im.shadow_subject("fromA.events.x").as_deref(),
        Some("events.x")
    );
    assert_eq!(
        im.shadow_subject("fromA.events.*.y").as_deref(),
        Some("events.*.y")
    );
    // Overlapping it: the overlap, mapped back.
    assert_eq!(im.shadow_subject("*.events.x").as_deref(), Some("events.x"));
    assert_eq!(im.shadow_subject("fromA.*.x").as_deref(), Some("events.x"));
    // Elsewhere: none.
    assert_eq!(im.shadow_subject("fromB.events.x"), None);
    assert_eq!(im.shadow_subject("events.x"), None);
    assert_eq!(
        im.local_subject(b"events.x.y").as_deref(),
        Some(&b"fromA.events.x.y"[..])
    );
}

#[test]
fn request_info_is_the_last_header() {
    let info = r#"{"acc":"B","rtt":5}"#;
    assert_eq!(
        with_request_info(b"", info),
        b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":5}\r\n\r\n".to_vec()
    );
    assert_eq!(
        String::from_utf8(with_request_info(b"NATS/1.0\r\nFoo: bar\r\n\r\n", info)).unwrap(),
        "NATS/1.0\r\nFoo: bar\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":5}\r\n\r\n"
    );
    // One that came with the request is replaced.
    assert_eq!(
        String::from_utf8(with_request_info(
            b"NATS/1.0\r\nNats-Request-Info: forged\r\nA: 1\r\n\r\n",
            info
        ))
        .unwrap(),
        "NATS/1.0\r\nA: 1\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":5}\r\n\r\n"
    );
}

#[test]
fn response_routes_expire_after_their_threshold() {
    let importer = Arc::new(Account::new("B"));
    let mut responses = Responses::default();
    let tracking = Tracking {
        subject: "lat".into(),
        requestor: ClientInfo::default(),
        at: SystemTime::now(),
        header: None,
    };
    let (reply, _) = responses.route(
        &importer,
        b"_INBOX.1",
        ResponseType::Singleton,
        Duration::ZERO,
        Some((tracking, "HASH1234")),
        None,
    );
    let reply = String::from_utf8(reply.to_vec()).unwrap();
    assert!(
        reply.starts_with("_R_.") && reply.ends_with(".HASH1234.T"),
        "{reply}"
    );
    assert_eq!(reply.len(), "_R_.abcdef.ghijkl.HASH1234.T".len());
    assert_eq!(responses.len(), 1);
    // The next route after a sweep interval drops the expired one, which owes a 504.
    responses.last_sweep = Instant::now() - SWEEP_INTERVAL;
    let (plain, expired) = responses.route(
        &importer,
        b"_INBOX.2",
        ResponseType::Streamed,
        Duration::from_secs(60),
        None,
        None,
    );
    assert_eq!(plain.len(), "_R_.abcdef.ghijkl".len());
    assert_eq!(responses.len(), 1);
    assert_eq!(expired.len(), 1);
}
