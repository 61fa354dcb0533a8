//! The upgrade request: parsing, nats-server's checks in its order, the answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn request(text: &str) -> Request {
    match parse(text.as_bytes()) {
        Parsed::Complete(r, n) => {
            assert_eq!(n, text.len());
            r
        }
        other => panic!("{other:?}"),
    }
}

const GOOD: &str = "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n\
    Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn with(extra: &str) -> Request {
    request(&GOOD.replace("\r\n\r\n", &format!("\r\n{extra}\r\n\r\n")))
}

fn status(req: &Request) -> Result<Upgrade, (u16, String)> {
    check(req, true, |r| check_origin(r, false, false, &[])).map_err(|e| (e.status, e.reason))
}

#[test]
fn rfc_6455_accept_key() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn a_good_request_upgrades() {
    let up = status(&request(GOOD)).unwrap();
    assert!(!up.compress && !up.browser && !up.no_masking);
    let up = status(&with(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ))
    .unwrap();
    assert!(up.compress);
    let answer = String::from_utf8(switching_protocols(&up, &[])).unwrap();
    assert_eq!(
        answer,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
         client_no_context_takeover\r\n\r\n"
    );
}

#[test]
fn refusals_in_nats_server_order() {
    let r = request("POST / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status(&r).unwrap_err().0, 405);
    let r = request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        status(&r).unwrap_err().1,
        "invalid value for header 'Upgrade'"
    );
    let r = request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(
        status(&r).unwrap_err().1,
        "invalid value for header 'Connection'"
    );
    let r = request(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "abc"));
    assert_eq!(status(&r).unwrap_err().1, "invalid websocket key");
    let r = request(&GOOD.replace("Version: 13", "Version: 8"));
    assert_eq!(status(&r).unwrap_err().1, "invalid version");
}

#[test]
fn not_http_is_malformed() {
    assert_eq!(parse(b"hello garbage\r\n\r\n"), Parsed::Malformed(None));
    assert_eq!(parse(b"hello garbage\r\n"), Parsed::Malformed(None));
    assert_eq!(parse(b"GET / HTTP/1.1\r\nHo"), Parsed::Partial);
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\n\r\n"),
        Parsed::Malformed(Some("missing required Host header"))
    );
    assert_eq!(parse(&vec![b'a'; MAX_REQUEST_BYTES + 1]), Parsed::TooLarge);
}

#[test]
fn origins() {
    let allowed = vec![(
        "ok.example".to_string(),
        "http".to_string(),
        "80".to_string(),
    )];
    let r = with("Origin: http://ok.example");
    assert!(check_origin(&r, false, false, &allowed).is_ok());
    let r = with("Origin: http://bad.example");
    assert_eq!(
        check_origin(&r, false, false, &allowed).unwrap_err(),
        "not in the allowed list"
    );
    let r = with("Origin: http://localhost:8080");
    assert!(check_origin(&r, false, true, &[]).is_ok());
    let r = with("Origin: https://localhost:8080");
    assert_eq!(
        check_origin(&r, false, true, &[]).unwrap_err(),
        "not same origin"
    );
    // No Origin: not a browser; allowed.
    assert!(check_origin(&request(GOOD), false, true, &allowed).is_ok());
}

#[test]
fn cookies_and_browsers() {
    let r = with("Cookie: a=1; tok=\"secret\"\r\nUser-Agent: Mozilla/5.0 Version/17 Safari/605");
    assert_eq!(r.cookie("tok").as_deref(), Some("secret"));
    assert_eq!(r.cookie("nope"), None);
    let up = status(&r).unwrap();
    assert!(up.browser && up.safari);
}

#[test]
fn refusal_bytes_match_go() {
    let out = String::from_utf8(refusal_response(400, 1, "D")).unwrap();
    assert_eq!(
        out,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: D\r\n\
         Content-Length: 12\r\n\r\nBad Request\n"
    );
    let out = String::from_utf8(bad_request_response(400, None)).unwrap();
    assert_eq!(
        out,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Connection: close\r\n\r\n400 Bad Request"
    );
}
