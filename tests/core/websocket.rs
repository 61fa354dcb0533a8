//! WebSocket clients against both targets: async-nats over `ws://` and `wss://`, with and
//! without compression (publish, subscribe, request/reply, headers, a payload spanning many
//! frames, reconnect after a restart), and raw upgrade requests and hostile frames compared
//! byte for byte with nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

#[path = "../accounts/operator/kit.rs"]
#[allow(dead_code)]
mod kit;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::clients::{round_trip, STEP};
use crate::support::pki::pki;
use crate::support::ws::{
    connect, data, frame, frames, http_json, read_all, session, texts, upgrade_request,
    without_date, Frames, KEY,
};
use crate::support::{for_each_target_bare, free_port, Server, ServerOpts, Target};
use async_nats::{ConnectOptions, HeaderMap};
use futures_util::StreamExt;
use tokio::time::timeout;

/// A server with a WebSocket listener on `ws_port`; `ws_extra` goes inside the block.
fn start(target: &Target, ws_port: u16, ws_extra: &str, top: &str) -> Server {
    let config = format!("{top}\nwebsocket {{\n  port: {ws_port}\n  {ws_extra}\n}}\n");
    Server::start_opts(target, &ServerOpts::new().config(&config))
}

fn plain(compression: bool) -> String {
    format!("no_tls: true\n  compression: {compression}")
}

/// Runs `body` on a fresh runtime, bounded in time.
fn run<F: std::future::Future<Output = ()>>(body: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        timeout(Duration::from_secs(60), body)
            .await
            .expect("test body finished in time");
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

async fn ws_client(url: &str, opts: ConnectOptions) -> async_nats::Client {
    timeout(
        STEP,
        opts.connection_timeout(Duration::from_secs(3)).connect(url),
    )
    .await
    .expect("connect in time")
    .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Publish, subscribe, request/reply, headers and a payload of many frames.
async fn exercise(url: &str, opts: impl Fn() -> ConnectOptions) {
    let sub_client = ws_client(url, opts()).await;
    let pub_client = ws_client(url, opts()).await;
    let mut sub = sub_client.subscribe("ws.>").await.unwrap();
    // flush only writes; a round trip proves the server has the subscription.
    round_trip(&sub_client, "sync.1", b"x").await;

    pub_client.publish("ws.a", "hello".into()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("X-Test", "1");
    pub_client
        .publish_with_headers("ws.b", headers, "with headers".into())
        .await
        .unwrap();
    let big: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    pub_client
        .publish("ws.big", big.clone().into())
        .await
        .unwrap();
    pub_client.flush().await.unwrap();

    let m = timeout(STEP, sub.next()).await.unwrap().unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("ws.a", &b"hello"[..])
    );
    let m = timeout(STEP, sub.next()).await.unwrap().unwrap();
    assert_eq!(m.subject.as_str(), "ws.b");
    assert_eq!(
        m.headers.unwrap().get("X-Test").map(|v| v.as_str()),
        Some("1")
    );
    let m = timeout(STEP, sub.next()).await.unwrap().unwrap();
    assert_eq!(m.subject.as_str(), "ws.big");
    assert!(m.payload[..] == big[..], "the big payload came back intact");

    let mut service = sub_client.subscribe("svc").await.unwrap();
    round_trip(&sub_client, "sync.2", b"x").await;
    let responder = sub_client.clone();
    let serving = tokio::spawn(async move {
        if let Some(req) = service.next().await {
            let reply = req.reply.unwrap();
            responder.publish(reply, "pong".into()).await.unwrap();
            responder.flush().await.unwrap();
        }
    });
    let answer = timeout(STEP, pub_client.request("svc", "ping".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer.payload[..], b"pong");
    serving.await.unwrap();
}

#[test]
fn async_nats_over_ws() {
    for compression in [false, true] {
        for_each_target_bare(|t| {
            let ws_port = free_port();
            let _s = start(t, ws_port, &plain(compression), "");
            let url = format!("ws://127.0.0.1:{ws_port}");
            run(exercise(&url, ConnectOptions::new));
        });
    }
}

#[test]
fn async_nats_reconnects_after_a_restart() {
    for_each_target_bare(|t| {
        let (port, ws_port) = (free_port(), free_port());
        let config = format!("websocket {{ port: {ws_port}, no_tls: true }}");
        let opts = ServerOpts::new().config(&config).port(port);
        let server = Server::start_opts(t, &opts);
        let url = format!("ws://127.0.0.1:{ws_port}");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(ws_client(
            &url,
            ConnectOptions::new().retry_on_initial_connect(),
        ));
        drop(server);
        let _server = Server::start_opts(t, &opts);
        rt.block_on(async {
            let mut sub = None;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if client.connection_state() == async_nats::connection::State::Connected {
                    if let Ok(s) = client.subscribe("after").await {
                        round_trip(&client, "sync.after", b"x").await;
                        sub = Some(s);
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut sub = sub.expect("reconnected within 20 s");
            client.publish("after", "x".into()).await.unwrap();
            let m = timeout(STEP, sub.next()).await.unwrap().unwrap();
            assert_eq!(&m.payload[..], b"x");
        });
        rt.shutdown_timeout(Duration::from_secs(2));
    });
}

// ---- wss:// ----

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn async_nats_over_wss() {
    let p = pki();
    for compression in [false, true] {
        for_each_target_bare(|t| {
            let ws_port = free_port();
            let tls = format!(
                "compression: {compression}\n  tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
                p.cert.display(),
                p.key.display()
            );
            let _s = start(t, ws_port, &tls, "");
            let url = format!("wss://localhost:{ws_port}");
            let ca = p.ca.clone();
            run(exercise(&url, move || {
                ConnectOptions::new().add_root_certificates(ca.clone())
            }));
        });
    }
}

#[test]
fn websocket_requires_tls_unless_no_tls() {
    for_each_target_bare(|t| {
        let dir = tempfile::tempdir().unwrap();
        let conf = write(dir.path(), "ws.conf", "websocket { port: 8089 }\n");
        let out = t.command().arg("-c").arg(&conf).output().unwrap();
        assert!(!out.status.success());
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("websocket requires TLS configuration"),
            "[{t}] {text}"
        );
    });
}

// ---- raw upgrades and frames ----

/// What each target answers to `request` (Date removed), and whether it closed.
fn answers(request: &[u8]) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    support::servers::selected_targets().iter().for_each(|t| {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true", "");
        let mut c = connect(ws_port);
        c.write_all(request).unwrap();
        let (bytes, closed) = read_all(&mut c, Duration::from_millis(400));
        out.push((t.name().to_string(), without_date(&bytes), closed));
    });
    out
}

fn assert_same(request: &str, want_start: &str) {
    let all = answers(request.as_bytes());
    for (target, text, _) in &all {
        assert!(
            text.starts_with(want_start),
            "[{target}] for {request:?}: {text:?}"
        );
    }
    for w in all.windows(2) {
        assert_eq!(w[0].1, w[1].1, "{} vs {} for {request:?}", w[0].0, w[1].0);
        assert_eq!(
            w[0].2, w[1].2,
            "close: {} vs {} for {request:?}",
            w[0].0, w[1].0
        );
    }
}

#[test]
fn bad_upgrades_get_nats_server_answers() {
    assert_same(
        "POST / HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 405 Method Not Allowed",
    );
    assert_same(
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
    );
    assert_same(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 400 Bad Request",
    );
    assert_same(
        &upgrade_request("").replace(KEY, "short"),
        "HTTP/1.1 400 Bad Request",
    );
    assert_same(
        &upgrade_request("").replace("Version: 13", "Version: 8"),
        "HTTP/1.1 400 Bad Request",
    );
    assert_same("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 400 Bad Request");
    assert_same("hello garbage\r\n\r\n", "HTTP/1.1 400 Bad Request");
    assert_same(
        "GET / HTTP/1.1\r\n\r\n",
        "HTTP/1.1 400 Bad Request: missing required Host header",
    );
}

#[test]
fn forbidden_origins_get_403() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(
            t,
            ws_port,
            "no_tls: true\n  allowed_origins: [\"http://ok.example\"]",
            "",
        );
        let mut c = connect(ws_port);
        c.write_all(upgrade_request("Origin: http://bad.example\r\n").as_bytes())
            .unwrap();
        let (bytes, _) = read_all(&mut c, Duration::from_millis(400));
        let text = without_date(&bytes);
        assert!(
            text.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "[{t}] {text}"
        );
        assert!(text.ends_with("\r\n\r\nForbidden\n"), "[{t}] {text}");
        let mut c = connect(ws_port);
        c.write_all(upgrade_request("Origin: http://ok.example\r\n").as_bytes())
            .unwrap();
        let (bytes, _) = read_all(&mut c, Duration::from_millis(400));
        assert!(
            bytes.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"),
            "[{t}]"
        );
    });
}

#[test]
fn an_unfinished_handshake_is_cut_after_handshake_timeout() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(
            t,
            ws_port,
            "no_tls: true\n  handshake_timeout: \"500ms\"",
            "",
        );
        let started = Instant::now();
        let mut c = connect(ws_port);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        let (_, closed) = read_all(&mut c, Duration::from_secs(3));
        assert!(closed, "[{t}] closed");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_millis(2500),
            "[{t}] {took:?}"
        );
    });
}

#[test]
fn the_blocks_ping_interval_pings_websocket_clients() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        // The server's own interval stays at 2 minutes, whose first PING comes after 2 s:
        // only the block's can ping within the 1.5 s this waits.
        let _s = start(t, ws_port, "no_tls: true\n  ping_interval: \"200ms\"", "");
        let mut c = connect(ws_port);
        c.write_all(upgrade_request("").as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_millis(1500);
        let (head, _) = read_all(&mut c, Duration::from_millis(100));
        assert!(head.starts_with(b"HTTP/1.1 101"), "[{t}]");
        c.write_all(&frame(0x82, b"CONNECT {\"verbose\":false}\r\n"))
            .unwrap();
        let mut seen = Vec::new();
        while Instant::now() < deadline && !String::from_utf8_lossy(&seen).contains("PING\r\n") {
            let (bytes, closed) = read_all(&mut c, Duration::from_millis(100));
            seen.extend_from_slice(&bytes);
            if closed {
                break;
            }
        }
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("PING\r\n"), "[{t}] {text:?}");
    });
}

/// Upgrades, reads INFO, sends `CONNECT` and then `hostile`; returns the frames after INFO
/// and whether the server closed.
fn after_hostile(ws_port: u16, hostile: &[u8]) -> (Vec<(u8, Vec<u8>)>, bool) {
    let mut c = connect(ws_port);
    c.write_all(upgrade_request("").as_bytes()).unwrap();
    let (head, _) = read_all(&mut c, Duration::from_millis(300));
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    c.write_all(&frame(0x82, b"CONNECT {\"verbose\":false}\r\n"))
        .unwrap();
    c.write_all(hostile).unwrap();
    let (bytes, closed) = read_all(&mut c, Duration::from_millis(500));
    let mut all = frames(&bytes);
    // INFO may arrive with the 101 or after it.
    all.retain(|(_, p)| !p.starts_with(b"INFO "));
    (all, closed)
}

#[test]
fn hostile_frames_get_nats_server_close_frames() {
    let mut close_bad_code = 1005u16.to_be_bytes().to_vec();
    close_bad_code.extend_from_slice(b"x");
    let mut normal_close = 1000u16.to_be_bytes().to_vec();
    normal_close.extend_from_slice(b"bye");
    let mut fragment_then_new = frame(0x02, b"PI");
    fragment_then_new.extend(frame(0x82, b"NG\r\n"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked", vec![0x82, 0x03, b'a', b'b', b'c']),
        ("rsv2", frame(0xA2, b"x")),
        ("rsv1 without deflate", frame(0xC2, b"x")),
        ("unknown opcode", frame(0x83, b"x")),
        ("bad close code", frame(0x88, &close_bad_code)),
        ("one-byte close", frame(0x88, &[3])),
        ("long ping", frame(0x89, &[0u8; 126])),
        ("fragmented ping", frame(0x09, b"x")),
        ("stray continuation", frame(0x80, b"x")),
        ("new message mid-fragment", fragment_then_new),
        ("normal close", frame(0x88, &normal_close)),
        ("empty close", frame(0x88, &[])),
        ("ping", frame(0x89, b"abc")),
        ("max payload", frame(0x82, b"PUB a 99999999\r\n")),
        (
            "fragmented PING",
            [frame(0x02, b"PI"), frame(0x00, b"N"), frame(0x80, b"G\r\n")].concat(),
        ),
    ];
    let targets = support::servers::selected_targets();
    let mut results: Vec<Vec<(String, Frames, bool)>> = Vec::new();
    for t in &targets {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true", "");
        let mut per = Vec::new();
        for (name, bytes) in &cases {
            let (frames, closed) = after_hostile(ws_port, bytes);
            per.push((name.to_string(), frames, closed));
        }
        results.push(per);
    }
    // What switchboard answers, checked on its own.
    let sb = &results[0];
    let close_of = |i: usize| sb[i].1.last().cloned().unwrap_or_default();
    assert_eq!(close_of(0).0, 0x88);
    assert_eq!(
        close_of(0).1,
        [&1002u16.to_be_bytes()[..], b"mask bit missing"].concat()
    );
    assert_eq!(close_of(10).1, normal_close);
    assert_eq!(close_of(11).1, Vec::<u8>::new());
    assert_eq!(
        sb[12].1.first().cloned().unwrap_or_default(),
        (0x8A, b"abc".to_vec())
    );
    assert_eq!(
        sb[14].1.first().cloned().unwrap_or_default(),
        (0x82, b"PONG\r\n".to_vec())
    );
    // And the same as nats-server, frame for frame.
    assert_eq!(
        sb[13].1,
        vec![
            (0x82, b"-ERR 'Maximum Payload Violation'\r\n".to_vec()),
            (
                0x88,
                [
                    &1009u16.to_be_bytes()[..],
                    b"Maximum Message Payload Exceeded"
                ]
                .concat()
            ),
        ]
    );
    // And the same as nats-server, frame for frame. nats-server queues a 1002 close frame for
    // a protocol error but closes for a read error without flushing, so whether it goes out
    // depends on its write loop's timing; switchboard always sends it.
    let protocol_close = |frames: &[(u8, Vec<u8>)]| {
        frames.len() == 1 && frames[0].0 == 0x88 && frames[0].1.starts_with(&1002u16.to_be_bytes())
    };
    let mut differences = Vec::new();
    for other in &results[1..] {
        for (a, b) in sb.iter().zip(other) {
            if b.1.is_empty() && protocol_close(&a.1) && a.2 == b.2 {
                continue;
            }
            if a != b {
                differences.push(format!(
                    "{}:\n  switchboard {:?}\n  reference   {:?}",
                    a.0, a, b
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn compressed_messages_both_ways() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true\n  compression: true", "");
        let mut c = connect(ws_port);
        let req = upgrade_request("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        c.write_all(req.as_bytes()).unwrap();
        let (head, _) = read_all(&mut c, Duration::from_millis(300));
        let text = String::from_utf8_lossy(&head);
        assert!(
            text.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                 client_no_context_takeover\r\n"
            ),
            "[{t}] {text}"
        );
        // A compressed CONNECT+SUB+PUB+PING; the answer comes back compressed when large.
        let payload = "x".repeat(200);
        let ops = format!(
            "CONNECT {{\"verbose\":false}}\r\nSUB z 1\r\nPUB z {}\r\n{payload}\r\nPING\r\n",
            payload.len()
        );
        let mut deflated = Vec::with_capacity(4096);
        flate2::Compress::new(flate2::Compression::fast(), false)
            .compress_vec(ops.as_bytes(), &mut deflated, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(deflated.ends_with(&[0, 0, 0xff, 0xff]));
        deflated.truncate(deflated.len() - 4);
        c.write_all(&frame(0xC2, &deflated)).unwrap();
        let (bytes, _) = read_all(&mut c, Duration::from_millis(500));
        let mut text = Vec::new();
        for (b0, p) in frames(&bytes) {
            if b0 & 0x40 != 0 {
                let mut input = p.clone();
                input.extend_from_slice(&[0, 0, 0xff, 0xff]);
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(&input[..])
                    .read_to_end(&mut out)
                    .ok();
                text.extend(out);
            } else {
                text.extend(p);
            }
        }
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains(&format!("MSG z 1 200\r\n{payload}\r\n")),
            "[{t}] {text}"
        );
        assert!(text.contains("PONG\r\n"), "[{t}] {text}");
    });
}

#[test]
fn monitoring_shows_the_listener_and_websocket_clients() {
    for_each_target_bare(|t| {
        let (ws_port, http) = (free_port(), free_port());
        let _s = start(
            t,
            ws_port,
            "host: \"127.0.0.1\"\n  no_tls: true\n  compression: true\n  \
             allowed_origins: [\"http://ok.example\"]\n  handshake_timeout: \"2s\"",
            &format!("http_port: {http}"),
        );
        let varz = http_json(http, "/varz");
        assert_eq!(
            varz["websocket"],
            serde_json::json!({
                "host": "127.0.0.1",
                "port": ws_port,
                "handshake_timeout": 2_000_000_000u64,
                "no_tls": true,
                "allowed_origins": ["http://ok.example"],
                "compression": true,
            }),
            "[{t}]"
        );
        let mut c = connect(ws_port);
        c.write_all(upgrade_request("").as_bytes()).unwrap();
        let _ = read_all(&mut c, Duration::from_millis(300));
        let connz = http_json(http, "/connz");
        let conns = connz["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 1, "[{t}] {connz}");
        assert_eq!(conns[0]["kind"], "Client", "[{t}]");
        assert_eq!(conns[0]["type"], "websocket", "[{t}]");
    });
}

#[test]
fn auth_and_permissions_as_over_tcp() {
    let top = "authorization { users: [\n\
               {user: a, password: pa, permissions: {publish: \"ok.>\", subscribe: \"ok.>\"}}\n\
               ] }";
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true", top);
        let (frames, closed) = session(
            ws_port,
            "",
            "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"no\"}\r\n",
        );
        assert!(closed, "[{t}]");
        let want = vec![
            (0x82, b"-ERR 'Authorization Violation'\r\n".to_vec()),
            (
                0x88,
                [&1008u16.to_be_bytes()[..], b"Authentication Failure"].concat(),
            ),
        ];
        assert_eq!(frames, want, "[{t}]");
        let (frames, closed) = session(
            ws_port,
            "",
            "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\nPUB no 0\r\n\r\nPING\r\n",
        );
        assert!(!closed, "[{t}]");
        // Frame boundaries carry no meaning: compare the bytes the frames carry.
        assert_eq!(
            data(&frames),
            "-ERR 'Permissions Violation for Publish to \"no\"'\r\nPONG\r\n",
            "[{t}]"
        );
    });
}

#[test]
fn the_listener_authorization_and_cookies() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(
            t,
            ws_port,
            "no_tls: true\n  authorization { token: \"s3cret\" }\n  token_cookie: \"tok\"",
            "",
        );
        // The listener requires its token though the server does not.
        let (frames, closed) = session(ws_port, "", "CONNECT {\"verbose\":false}\r\nPING\r\n");
        assert!(closed, "[{t}]");
        assert_eq!(
            texts(&frames).first().cloned().unwrap_or_default().1,
            "-ERR 'Authorization Violation'\r\n",
            "[{t}]"
        );
        let (frames, closed) = session(
            ws_port,
            "",
            "CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n",
        );
        assert!(!closed, "[{t}]");
        assert_eq!(data(&frames), "PONG\r\n", "[{t}]");
        // The cookie stands in for the token.
        let (frames, closed) = session(
            ws_port,
            "Cookie: other=1; tok=s3cret\r\n",
            "CONNECT {\"verbose\":false}\r\nPING\r\n",
        );
        assert!(!closed, "[{t}]");
        assert_eq!(data(&frames), "PONG\r\n", "[{t}]");
    });
}

#[test]
fn tcp_and_websocket_clients_see_each_other() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let s = start(t, ws_port, "no_tls: true", "");
        let tcp_url = s.url();
        let ws_url = format!("ws://127.0.0.1:{ws_port}");
        run(async move {
            let tcp = ws_client(&tcp_url, ConnectOptions::new()).await;
            let ws = ws_client(&ws_url, ConnectOptions::new()).await;
            let mut on_tcp = tcp.subscribe("x.tcp").await.unwrap();
            let mut on_ws = ws.subscribe("x.ws").await.unwrap();
            round_trip(&tcp, "sync.t", b"x").await;
            round_trip(&ws, "sync.w", b"x").await;
            ws.publish("x.tcp", "from ws".into()).await.unwrap();
            tcp.publish("x.ws", "from tcp".into()).await.unwrap();
            let m = timeout(STEP, on_tcp.next()).await.unwrap().unwrap();
            assert_eq!(&m.payload[..], b"from ws");
            let m = timeout(STEP, on_ws.next()).await.unwrap().unwrap();
            assert_eq!(&m.payload[..], b"from tcp");
        });
    });
}

#[test]
fn browsers_get_frames_of_at_most_4_kib() {
    let targets = support::servers::selected_targets();
    let mut sizes = Vec::new();
    for t in &targets {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true", "");
        let payload = "y".repeat(10_000);
        let ops = format!(
            "CONNECT {{\"verbose\":false}}\r\nSUB b 1\r\nPUB b {}\r\n{payload}\r\nPING\r\n",
            payload.len()
        );
        let (frames, _) = session(ws_port, "User-Agent: Mozilla/5.0 (X11)\r\n", &ops);
        let data = data(&frames);
        assert!(
            data.contains(&format!("MSG b 1 10000\r\n{payload}\r\n")),
            "[{t}]"
        );
        assert!(frames.iter().all(|(_, p)| p.len() <= 4096), "[{t}]");
        assert!(frames.iter().all(|(b, _)| *b == 0x82), "[{t}]");
        sizes.push(frames.iter().map(|(_, p)| p.len()).sum::<usize>());
    }
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
}

#[test]
fn a_compression_bomb_is_cut_and_others_carry_on() {
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(t, ws_port, "no_tls: true\n  compression: true", "");
        let mut bystander = connect(ws_port);
        bystander.write_all(upgrade_request("").as_bytes()).unwrap();
        let _ = read_all(&mut bystander, Duration::from_millis(300));
        bystander
            .write_all(&frame(0x82, b"CONNECT {\"verbose\":false}\r\n"))
            .unwrap();

        let mut c = connect(ws_port);
        let req = upgrade_request("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        c.write_all(req.as_bytes()).unwrap();
        let _ = read_all(&mut c, Duration::from_millis(300));
        // 32 publishes of 1,000,000 bytes each (every one under max_payload), deflated to
        // a few tens of KiB: the message inflates past max_payload.
        let mut bomb = Vec::with_capacity(33 << 20);
        for _ in 0..32 {
            bomb.extend_from_slice(b"PUB bomb 1000000\r\n");
            bomb.resize(bomb.len() + 1_000_000, b'a');
            bomb.extend_from_slice(b"\r\n");
        }
        let mut deflated = Vec::with_capacity(1 << 20);
        flate2::Compress::new(flate2::Compression::best(), false)
            .compress_vec(&bomb, &mut deflated, flate2::FlushCompress::Sync)
            .unwrap();
        deflated.truncate(deflated.len() - 4);
        assert!(deflated.len() < 1 << 20);
        c.write_all(&frame(0xC2, &deflated)).unwrap();
        let (bytes, closed) = read_all(&mut c, Duration::from_secs(2));
        assert!(closed, "[{t}] the bomb's connection is closed");
        let frames = frames(&bytes);
        if let Some((0x88, p)) = frames.last() {
            assert_eq!(
                p,
                &[
                    &1009u16.to_be_bytes()[..],
                    b"Maximum Message Payload Exceeded"
                ]
                .concat(),
                "[{t}]"
            );
        }
        // The bystander still answers.
        bystander.write_all(&frame(0x82, b"PING\r\n")).unwrap();
        let (bytes, _) = read_all(&mut bystander, Duration::from_millis(500));
        assert!(
            data(&support::ws::frames(&bytes)).contains("PONG\r\n"),
            "[{t}] {:?}",
            String::from_utf8_lossy(&bytes)
        );
    });
}

/// `verify_and_map` in the `websocket` block's `tls`: a `wss://` client is the user its
/// certificate names, with that user's permissions; a certificate naming no user is
/// refused, whatever user and password it sends.
#[test]
fn wss_verify_and_map_takes_the_user_from_the_certificate() {
    use support::pki::{DnType, SanType};
    let p = pki();
    let subject = |cn| vec![(DnType::OrganizationName, "Acme"), (DnType::CommonName, cn)];
    let by_dns = p.client(
        "ws-dns",
        &subject("bob"),
        vec![SanType::DnsName("bob.acme.test".try_into().unwrap())],
    );
    let unknown = p.client("ws-unknown", &subject("mallory"), vec![]);
    let top = "authorization { users [
        { user: \"bob.acme.test\", permissions: { publish: { deny: \"forbidden\" } } }
        { user: app, password: app }
    ] }";
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let tls = format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify_and_map: true }}",
            p.cert.display(),
            p.key.display(),
            p.ca.display()
        );
        let server = start(t, ws_port, &tls, top);
        let url = format!("wss://localhost:{ws_port}");
        let with = |(cert, key): (PathBuf, PathBuf)| {
            ConnectOptions::new()
                .add_root_certificates(p.ca.clone())
                .add_client_certificate(cert, key)
        };
        let (mapped, refused) = (with(by_dns.clone()), with(unknown.clone()));
        run(async {
            let bob = ws_client(&url, mapped).await;
            round_trip(&bob, "mapped.ws", b"hi").await;
            // bob's permissions: the denied publish never arrives.
            let mut denied = bob.subscribe("forbidden").await.unwrap();
            bob.flush().await.unwrap();
            bob.publish("forbidden", "x".into()).await.unwrap();
            bob.flush().await.unwrap();
            assert!(
                timeout(STEP, denied.next()).await.is_err(),
                "[{t}] bob may not publish to `forbidden`"
            );
            let refused = refused
                .user_and_password("app".into(), "app".into())
                .connection_timeout(Duration::from_secs(3));
            let refused = timeout(STEP, refused.connect(&url)).await;
            let refused = match refused {
                Err(_) | Ok(Err(_)) => true,
                Ok(Ok(c)) => timeout(STEP, c.flush()).await.map_or(true, |r| r.is_err()),
            };
            assert!(
                refused,
                "[{t}] a certificate that maps to no user must be refused\n{}",
                server.log()
            );
        });
    });
}

/// `jwt_cookie` in operator mode: a bearer user JWT in the upgrade request's cookie logs the
/// client in without a JWT in CONNECT; without the cookie the login is refused.
#[test]
fn a_jwt_cookie_logs_in_a_bearer_user() {
    let world = kit::World::new();
    let (_, bearer) = world.user_of_a(|c| c["nats"]["bearer_token"] = serde_json::json!(true));
    let connect = "CONNECT {\"verbose\":false}\r\nPING\r\n";
    for_each_target_bare(|t| {
        let ws_port = free_port();
        let _s = start(
            t,
            ws_port,
            "no_tls: true\n  jwt_cookie: \"nats_jwt\"",
            &world.memory_config(),
        );
        let (frames, closed) = session(ws_port, &format!("Cookie: nats_jwt={bearer}\r\n"), connect);
        assert!(!closed, "[{t}] {:?}", texts(&frames));
        assert_eq!(data(&frames), "PONG\r\n", "[{t}]");
        let (frames, closed) = session(ws_port, "", connect);
        assert!(closed, "[{t}]");
        assert_eq!(
            texts(&frames).first().cloned().unwrap_or_default().1,
            "-ERR 'Authorization Violation'\r\n",
            "[{t}]"
        );
    });
}
