//! Exports and imports between accounts, byte for byte against nats-server: service
//! imports with reply mapping (singleton and streamed responses, the `Nats-Request-Info`
//! header, no responders), stream imports with `prefix` and `to` (shadow subscriptions
//! follow SUB and UNSUB, queue groups), what must not cross, and the configuration errors.

use std::time::Duration;

use crate::support::{for_each_target_bare, RawConn, Server, ServerOpts, Target};

const ACCOUNTS: &str = r#"
accounts {
  A {
    users [ {user: a, password: a} ]
    exports [
      {service: "svc.>"}
      {service: "many", response_type: stream}
      {service: "priv.req", accounts: [C]}
      {stream: "events.>"}
      {stream: "orders.*"}
    ]
  }
  B {
    users [ {user: b, password: b} ]
    imports [
      {service: {account: A, subject: "svc.>"}}
      {service: {account: A, subject: "many"}, to: "getmany"}
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "orders.*"}, to: "shop.orders.*"}
    ]
  }
  C {
    users [ {user: c, password: c} ]
    imports [ {service: {account: A, subject: "priv.req"}, to: "private", share: true} ]
  }
}
"#;

fn start(t: &Target) -> Server {
    Server::start_opts(t, &ServerOpts::new().config(ACCOUNTS))
}

fn user(server: &Server, name: &str) -> RawConn {
    server.client_with(&format!(
        r#"{{"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"user":"{name}","pass":"{name}"}}"#
    ))
}

/// One `MSG`/`HMSG`: its control line, header block and payload (PINGs skipped).
fn next_msg(c: &mut RawConn) -> (String, String, Vec<u8>) {
    loop {
        let line = String::from_utf8(c.read_line()).unwrap();
        if line == "PING\r\n" {
            c.send("PONG\r\n");
            continue;
        }
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        let (hdr, total) = match fields[0] {
            "MSG" => (0, fields[fields.len() - 1].parse::<usize>().unwrap()),
            "HMSG" => (
                fields[fields.len() - 2].parse::<usize>().unwrap(),
                fields[fields.len() - 1].parse::<usize>().unwrap(),
            ),
            _ => panic!("expected a message, got {line:?}"),
        };
        let mut body = Vec::new();
        while body.len() < total + 2 {
            let chunk = c.read_line();
            body.extend_from_slice(&chunk);
        }
        let headers = String::from_utf8(body[..hdr].to_vec()).unwrap();
        let payload = body[hdr..total].to_vec();
        return (line.trim_end().to_string(), headers, payload);
    }
}

/// The `_R_.xxxxxx.yyyyyy` reply of a routed request's control line.
fn routed_reply(line: &str) -> String {
    let reply = line.split(' ').nth(3).unwrap().to_string();
    let parts: Vec<&str> = reply.split('.').collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert_eq!(parts[0], "_R_", "{line}");
    assert!(parts[1].len() == 6 && parts[2].len() == 6, "{line}");
    reply
}

#[test]
fn a_service_import_routes_requests_and_their_replies() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut a = user(&server, "a");
        let mut b = user(&server, "b");
        a.send("SUB svc.> 1\r\nSUB many 2\r\n");
        a.ping();
        b.send("SUB _INBOX.x.> 9\r\n");
        b.ping();

        // A request from B reaches A under the exported subject, with a routed reply and
        // the requester's account in Nats-Request-Info.
        b.send("PUB svc.echo _INBOX.x.1 5\r\nhello\r\n");
        let (line, headers, payload) = next_msg(&mut a);
        assert!(line.starts_with("HMSG svc.echo 1 _R_."), "[{t}] {line}");
        let reply = routed_reply(&line);
        assert_eq!(payload, b"hello");
        let info = headers
            .strip_prefix("NATS/1.0\r\nNats-Request-Info: ")
            .and_then(|h| h.strip_suffix("\r\n\r\n"))
            .unwrap_or_else(|| panic!("[{t}] {headers:?}"));
        let info: serde_json::Value = serde_json::from_str(info).unwrap();
        assert_eq!(info["acc"], "B", "[{t}] {info}");
        let keys: Vec<&String> = info.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| *k == "acc" || *k == "rtt"),
            "[{t}] {info}"
        );

        // A singleton: the first response crosses back, the second does not.
        a.send(format!(
            "PUB {reply} 5\r\nworld\r\nPUB {reply} 6\r\nworld2\r\n"
        ));
        b.expect(b"MSG _INBOX.x.1 9 5\r\nworld\r\n");
        b.ping();

        // A streamed service under a local name: every response crosses, headers kept.
        b.send("HPUB getmany _INBOX.x.2 22 24\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhi\r\n");
        let (line, headers, _) = next_msg(&mut a);
        assert!(line.starts_with("HMSG many 2 _R_."), "[{t}] {line}");
        assert!(
            headers.starts_with("NATS/1.0\r\nFoo: bar\r\nNats-Request-Info: {\"acc\":\"B\""),
            "[{t}] {headers:?}"
        );
        let reply = routed_reply(&line);
        a.send(format!("PUB {reply} 1\r\n1\r\nPUB {reply} 1\r\n2\r\n"));
        b.expect(b"MSG _INBOX.x.2 9 1\r\n1\r\nMSG _INBOX.x.2 9 1\r\n2\r\n");

        // Nobody answering in A: no responders, for the subject the requester used.
        a.send("UNSUB 1\r\n");
        a.ping();
        b.send("PUB svc.none _INBOX.x.3 1\r\nx\r\n");
        b.expect(b"HMSG _INBOX.x.3 9 40 40\r\nNATS/1.0 503\r\nNats-Subject: svc.none\r\n\r\n\r\n");
    });
}

#[test]
fn nothing_else_crosses_accounts() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut a = user(&server, "a");
        let mut b = user(&server, "b");
        let mut c = user(&server, "c");
        a.send("SUB > 1\r\n");
        a.ping();
        b.send("SUB > 1\r\n");
        b.ping();
        // A subject that is not imported stays in its account.
        b.send("PUB orders.1 1\r\nx\r\nPUB other 1\r\nx\r\n");
        b.expect(b"MSG orders.1 1 1\r\nx\r\nMSG other 1 1\r\nx\r\n");
        b.ping();
        // A publishing to B's inbox, or to a reply it was never given, reaches nobody in B.
        a.send("PUB _INBOX.x.1 1\r\nx\r\nPUB _R_.abcdef.ghijkl 1\r\nx\r\n");
        a.expect(b"MSG _INBOX.x.1 1 1\r\nx\r\nMSG _R_.abcdef.ghijkl 1 1\r\nx\r\n");
        a.ping();
        b.ping();
        // C imported only priv.req: its requests on svc.x go nowhere.
        c.send("SUB _INBOX.c.> 2\r\nPUB svc.x _INBOX.c.1 1\r\nx\r\n");
        c.expect(b"HMSG _INBOX.c.1 2 37 37\r\nNATS/1.0 503\r\nNats-Subject: svc.x\r\n\r\n\r\n");
        a.expect_silence(300);
        b.expect_silence(100);
    });
}

#[test]
fn a_shared_import_tells_the_exporter_who_asked() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut a = user(&server, "a");
        let mut c = server.client_with(
            r#"{"verbose":false,"pedantic":false,"headers":true,"user":"c","pass":"c","name":"asker","lang":"rust","version":"9.9"}"#,
        );
        a.send("SUB priv.req 1\r\n");
        a.ping();
        c.send("PUB private _INBOX.c.1 2\r\nhi\r\n");
        let (line, headers, _) = next_msg(&mut a);
        assert!(line.starts_with("HMSG priv.req 1 _R_."), "[{t}] {line}");
        let info = headers
            .split("Nats-Request-Info: ")
            .nth(1)
            .and_then(|h| h.strip_suffix("\r\n\r\n"))
            .unwrap_or_else(|| panic!("[{t}] {headers:?}"));
        let info: serde_json::Value = serde_json::from_str(info).unwrap();
        for (key, want) in [
            ("acc", "C"),
            ("user", "c"),
            ("name", "asker"),
            ("lang", "rust"),
            ("ver", "9.9"),
            ("kind", "Client"),
            ("client_type", "nats"),
            ("host", "127.0.0.1"),
        ] {
            assert_eq!(info[key], want, "[{t}] {key} in {info}");
        }
        for key in ["start", "id", "server"] {
            assert!(info.get(key).is_some(), "[{t}] {key} in {info}");
        }
        // In nats-server's order.
        let keys: Vec<&str> = info
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let order = [
            "start",
            "host",
            "id",
            "acc",
            "user",
            "name",
            "lang",
            "ver",
            "rtt",
            "server",
            "kind",
            "client_type",
        ];
        let raw_order: Vec<&str> = order.iter().copied().filter(|k| keys.contains(k)).collect();
        let mut seen: Vec<(usize, &str)> = raw_order
            .iter()
            .map(|k| (headers.find(&format!("\"{k}\":")).unwrap(), *k))
            .collect();
        seen.sort();
        let in_headers: Vec<&str> = seen.into_iter().map(|(_, k)| k).collect();
        assert_eq!(in_headers, raw_order, "[{t}] {headers}");
    });
}

#[test]
fn a_stream_import_follows_the_importers_subscriptions() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut a = user(&server, "a");
        let mut b = user(&server, "b");
        b.send("SUB fromA.> 1\r\nSUB shop.orders.* 2\r\nSUB fromA.events.x 3\r\n");
        b.ping();
        a.send("PUB events.x 3\r\nevt\r\nPUB orders.7 2\r\nok\r\nPUB events.y.z 1\r\nz\r\n");
        a.ping();
        let (got, _) = b.drain_until_quiet(300, Duration::from_secs(3));
        let mut lines: Vec<String> = String::from_utf8(got)
            .unwrap()
            .split("\r\n")
            .filter(|l| l.starts_with("MSG"))
            .map(str::to_string)
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                "MSG fromA.events.x 1 3",
                "MSG fromA.events.x 3 3",
                "MSG fromA.events.y.z 1 1",
                "MSG shop.orders.7 2 2",
            ],
            "[{t}]"
        );
        // After UNSUB nothing arrives on those sids.
        b.send("UNSUB 1\r\nUNSUB 2\r\n");
        b.ping();
        a.send("PUB events.y 1\r\ny\r\nPUB orders.8 1\r\n8\r\nPUB events.x 1\r\nx\r\n");
        a.ping();
        b.expect(b"MSG fromA.events.x 3 1\r\nx\r\n");
        b.expect_silence(200);
    });
}

#[test]
fn a_queue_group_takes_imported_messages_once() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut a = user(&server, "a");
        let mut b1 = user(&server, "b");
        let mut b2 = user(&server, "b");
        b1.send("SUB fromA.events.* workers 1\r\n");
        b1.ping();
        b2.send("SUB fromA.events.* workers 1\r\n");
        b2.ping();
        for i in 0..20 {
            a.send(format!("PUB events.{i} 1\r\nx\r\n"));
        }
        a.ping();
        let count = |c: &mut RawConn| {
            let (got, _) = c.drain_until_quiet(300, Duration::from_secs(3));
            String::from_utf8(got)
                .unwrap()
                .matches("MSG fromA.events.")
                .count()
        };
        assert_eq!(count(&mut b1) + count(&mut b2), 20, "[{t}]");
    });
}

/// nats-server's start-up error for one import of B from A, or `None` when it starts.
fn import_error(t: &Target, import: &str) -> Option<String> {
    let config = format!(
        r#"
accounts {{
  A {{ exports [ {{service: "svc.>"}}, {{stream: "events.>"}}, {{service: "priv.req", accounts: [C]}} ] }}
  B {{ imports [ {import} ] }}
  C {{ }}
}}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.conf");
    std::fs::write(&path, config).unwrap();
    let out = t
        .command()
        .args(["-c", path.to_str().unwrap(), "-t"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (!out.status.success()).then_some(text)
}

/// (nats-server refuses a stream import with both `prefix` and `to` only when its map
/// iteration meets `to` last, so that case is a unit test of switchboard's, which always
/// refuses it.)
#[test]
fn bad_imports_are_refused_at_start_as_nats_server_does() {
    for_each_target_bare(|t| {
        let cases = [
            (
                r#"{service: {account: A, subject: "nope"}}"#,
                r#"Error adding service import "nope": service import not authorized"#,
            ),
            (
                r#"{service: {account: A, subject: "priv.req"}}"#,
                r#"Error adding service import "priv.req": service import not authorized"#,
            ),
            (
                r#"{stream: {account: A, subject: "svc.>"}}"#,
                r#"Error adding stream import "svc.>": stream import not authorized"#,
            ),
            (
                r#"{stream: {account: Z, subject: "events.>"}}"#,
                r#""Z" account not defined for stream import"#,
            ),
            (
                r#"{stream: {account: A, subject: "events.>"}, prefix: "x.*"}"#,
                r#"Error adding stream import "events.>": stream import prefix can not contain wildcard tokens"#,
            ),
            (
                r#"{service: {account: A}}"#,
                "Expect an account name and a subject",
            ),
        ];
        for (import, want) in cases {
            let error = import_error(t, import).unwrap_or_else(|| panic!("[{t}] {import} starts"));
            assert!(error.contains(want), "[{t}] {import}: {error}");
        }
        assert_eq!(
            import_error(t, r#"{stream: {account: A, subject: "events.a"}}"#),
            None,
            "[{t}] a narrower import is allowed"
        );
    });
}

const TRACKED: &str = r#"
accounts {
  A {
    users [ {user: a, password: a} ]
    exports [ {service: "lat.svc", latency: {sampling: 100, subject: "latency.results"}} ]
  }
  B {
    users [ {user: b, password: b} ]
    imports [ {service: {account: A, subject: "lat.svc"}} ]
  }
}
"#;

/// The keys of a JSON object, sorted.
fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn a_tracked_export_reports_service_latency() {
    for_each_target_bare(|t| {
        let server = Server::start_opts(t, &ServerOpts::new().config(TRACKED));
        let mut a = user(&server, "a");
        let mut b = user(&server, "b");
        a.send("SUB lat.svc 1\r\nSUB latency.results 2\r\n");
        a.ping();
        b.send("SUB _INBOX.b.> 1\r\n");
        b.ping();
        b.send("PUB lat.svc _INBOX.b.1 1\r\nq\r\n");
        let (line, _, _) = next_msg(&mut a);
        // A timed request's reply ends in the server's hash and `T`.
        let reply = line.split(' ').nth(3).unwrap().to_string();
        let parts: Vec<&str> = reply.split('.').collect();
        assert_eq!(parts.len(), 5, "[{t}] {line}");
        assert_eq!(
            (parts[0], parts[3].len(), parts[4]),
            ("_R_", 8, "T"),
            "[{t}] {line}"
        );
        std::thread::sleep(Duration::from_millis(20));
        a.send(format!("PUB {reply} 1\r\nr\r\n"));
        b.expect(b"MSG _INBOX.b.1 1 1\r\nr\r\n");
        let (line, _, payload) = next_msg(&mut a);
        assert!(line.starts_with("MSG latency.results 2 "), "[{t}] {line}");
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            event["type"], "io.nats.server.metric.v1.service_latency",
            "[{t}]"
        );
        assert_eq!(event["status"], 200, "[{t}] {event}");
        assert_eq!(
            keys(&event),
            [
                "id",
                "requestor",
                "responder",
                "service",
                "start",
                "status",
                "system",
                "timestamp",
                "total",
                "type"
            ],
            "[{t}] {event}"
        );
        assert_eq!(event["requestor"]["acc"], "B", "[{t}] {event}");
        assert_eq!(event["responder"]["acc"], "A", "[{t}] {event}");
        assert_eq!(event["responder"]["kind"], "Client", "[{t}] {event}");
        let service = event["service"].as_u64().unwrap();
        assert!(service >= 10_000_000, "[{t}] waited 20 ms: {event}");
        assert!(event["total"].as_u64().unwrap() >= service, "[{t}] {event}");

        // Nobody answering: a 503 event.
        a.send("UNSUB 1\r\n");
        a.ping();
        b.send("PUB lat.svc _INBOX.b.2 1\r\nq\r\n");
        let (line, _, payload) = next_msg(&mut a);
        assert!(line.starts_with("MSG latency.results 2 "), "[{t}] {line}");
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["status"], 503, "[{t}] {event}");
        assert_eq!(event["description"], "Service Unavailable", "[{t}] {event}");

        // The requester gives up (UNSUB of its reply) before an answer: a 408 event, and
        // the route is gone: a late answer reaches no one, even with the reply listened to
        // again.
        let (line, headers, _) = next_msg(&mut b);
        assert!(line.starts_with("HMSG _INBOX.b.2 1 "), "[{t}] {line}");
        assert!(headers.starts_with("NATS/1.0 503"), "[{t}] {headers}");
        a.send("SUB lat.svc 1\r\n");
        a.ping();
        b.send("PUB lat.svc _INBOX.b.3 1\r\nq\r\n");
        let (line, _, _) = next_msg(&mut a);
        let reply = line.split(' ').nth(3).unwrap().to_string();
        b.send("UNSUB 1\r\n");
        b.ping();
        let (line, _, payload) = next_msg(&mut a);
        assert!(line.starts_with("MSG latency.results 2 "), "[{t}] {line}");
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["status"], 408, "[{t}] {event}");
        assert_eq!(event["description"], "Request Timeout", "[{t}] {event}");
        assert_eq!(event["requestor"]["acc"], "B", "[{t}] {event}");
        b.send("SUB _INBOX.b.> 3\r\n");
        b.ping();
        a.send(format!("PUB {reply} 1\r\nr\r\n"));
        a.ping();
        b.expect_silence(200);
    });
}

#[test]
fn jetstream_through_a_service_import() {
    for_each_target_bare(|t| {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"
jetstream {{ store_dir: "{}" }}
accounts {{
  A {{ jetstream: enabled, users [ {{user: a, password: a}} ], exports [ {{service: "$JS.API.>"}} ] }}
  B {{ users [ {{user: b, password: b}} ], imports [ {{service: {{account: A, subject: "$JS.API.>"}}, to: "js.a.>"}} ] }}
}}
"#,
            dir.path().display()
        );
        let server = Server::start_opts(t, &ServerOpts::new().config(&config));
        let mut b = user(&server, "b");
        b.send("SUB _INBOX.b.> 1\r\n");
        let create = r#"{"name":"S","subjects":["s.>"]}"#;
        b.send(format!(
            "PUB js.a.STREAM.CREATE.S _INBOX.b.1 {}\r\n{create}\r\n",
            create.len()
        ));
        let (line, _, payload) = next_msg(&mut b);
        assert!(line.starts_with("MSG _INBOX.b.1 1 "), "[{t}] {line}");
        let created: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            created["type"], "io.nats.jetstream.api.v1.stream_create_response",
            "[{t}] {created}"
        );
        b.send("PUB js.a.STREAM.NAMES _INBOX.b.2 0\r\n\r\n");
        let (_, _, payload) = next_msg(&mut b);
        let names: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(names["streams"], serde_json::json!(["S"]), "[{t}] {names}");
    });
}

#[test]
fn every_account_reaches_its_own_system_services() {
    for_each_target_bare(|t| {
        let server = start(t);
        let mut b = user(&server, "b");
        b.send("SUB _INBOX.b.> 1\r\nPUB $SYS.REQ.USER.INFO _INBOX.b.1 0\r\n\r\n");
        let (line, _, payload) = next_msg(&mut b);
        assert!(line.starts_with("MSG _INBOX.b.1 1 "), "[{t}] {line}");
        let info: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(info["data"]["user"], "b", "[{t}] {info}");
        assert_eq!(info["data"]["account"], "B", "[{t}] {info}");
        // Its own connections only.
        b.send("PUB $SYS.REQ.ACCOUNT.PING.CONNZ _INBOX.b.2 0\r\n\r\n");
        let (_, _, payload) = next_msg(&mut b);
        let connz: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(connz["data"]["num_connections"], 1, "[{t}] {connz}");
        // Other system requests are not imported.
        b.send("PUB $SYS.REQ.SERVER.PING.VARZ _INBOX.b.3 0\r\n\r\n");
        b.expect(
            b"HMSG _INBOX.b.3 1 57 57\r\nNATS/1.0 503\r\nNats-Subject: $SYS.REQ.SERVER.PING.VARZ\r\n\r\n\r\n",
        );
    });
}
