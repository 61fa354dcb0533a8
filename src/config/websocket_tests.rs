//! `websocket { ... }` as nats-server reads and validates it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::apply_config_str;
use crate::options::Options;

fn apply(text: &str) -> Result<Options, String> {
    let mut opts = Options::default();
    apply_config_str(text, &mut opts)
        .map(|_| opts)
        .map_err(|e| e.to_string())
}

#[test]
fn a_plain_listener_needs_no_tls() {
    let opts = apply("websocket { port: 8080, no_tls: true }").unwrap();
    let ws = opts.websocket.unwrap();
    assert_eq!(ws.port, 8080);
    assert_eq!(ws.host, "127.0.0.1");
    assert!(ws.no_tls);
    assert!(!ws.compression);
    assert_eq!(ws.handshake_timeout, Duration::ZERO);
}

#[test]
fn tls_is_required_unless_no_tls() {
    let err = apply("websocket { port: 8080 }").unwrap_err();
    assert!(
        err.contains("websocket requires TLS configuration"),
        "{err}"
    );
    let opts =
        apply("websocket { port: -1, tls { cert_file: \"c.pem\", key_file: \"k.pem\" } }").unwrap();
    assert!(opts.websocket.unwrap().tls.is_some());
}

#[test]
fn port_zero_means_no_listener_and_no_checks() {
    let opts = apply("websocket { port: 0 }").unwrap();
    assert_eq!(opts.websocket, None);
    let opts = apply("websocket { host: \"0.0.0.0\" }").unwrap();
    assert_eq!(opts.websocket, None);
}

#[test]
fn every_key_is_read() {
    let opts = apply(
        r#"
        ws {
            listen: "0.0.0.0:9222"
            advertise: "example.com:443"
            no_tls: true
            same_origin: true
            allowed_origins: ["http://a.example", "https://b.example:8443"]
            compression: true
            handshake_timeout: "3s"
            authorization { user: u, password: p, timeout: 1.5 }
            user_cookie: "u"
            pass_cookie: "p"
            token_cookie: "t"
            headers { "X-B": "2", "X-A": "1" }
            ping_interval: "45s"
        }
        "#,
    )
    .unwrap();
    let ws = opts.websocket.unwrap();
    assert_eq!((ws.host.as_str(), ws.port), ("0.0.0.0", 9222));
    assert_eq!(ws.advertise.as_deref(), Some("example.com:443"));
    assert!(ws.same_origin && ws.compression);
    assert_eq!(ws.allowed_origins.len(), 2);
    assert_eq!(ws.handshake_timeout, Duration::from_secs(3));
    assert_eq!(ws.user.as_deref(), Some("u"));
    assert_eq!(ws.password.as_deref(), Some("p"));
    assert_eq!(ws.auth_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(ws.user_cookie.as_deref(), Some("u"));
    assert_eq!(ws.pass_cookie.as_deref(), Some("p"));
    assert_eq!(ws.token_cookie.as_deref(), Some("t"));
    assert_eq!(
        ws.headers,
        vec![("X-A".into(), "1".into()), ("X-B".into(), "2".into())]
    );
    assert!(ws.auth_override());
    assert_eq!(ws.ping_interval, Duration::from_secs(45));
}

#[test]
fn handshake_timeout_in_seconds() {
    let opts = apply("websocket { port: 1, no_tls: true, handshake_timeout: 2 }").unwrap();
    assert_eq!(
        opts.websocket.unwrap().handshake_timeout,
        Duration::from_secs(2)
    );
}

#[test]
fn bad_origins_are_refused_as_nats_server_does() {
    let err =
        apply("websocket { port: 1, no_tls: true, allowed_origins: [\"ftp://x\"] }").unwrap_err();
    assert!(
        err.contains("allowed origins must be absolute URLs with http or https scheme"),
        "{err}"
    );
    let err =
        apply("websocket { port: 1, no_tls: true, allowed_origins: [\"http://\"] }").unwrap_err();
    assert!(err.contains("host is required"), "{err}");
    let err = apply("websocket { port: 1, no_tls: true, allowed_origins: \"x\" }").unwrap_err();
    assert!(err.contains("unable to parse allowed origin"), "{err}");
}

#[test]
fn own_user_or_token_conflicts_with_a_users_list() {
    let err = apply(
        "websocket { port: 1, no_tls: true, authorization { user: a, password: b } }\n\
         authorization { users: [{user: x, password: y}] }",
    )
    .unwrap_err();
    assert!(
        err.contains(
            "websocket authentication username not compatible with presence of users/nkeys"
        ),
        "{err}"
    );
    let err = apply(
        "authorization { users: [{user: x, password: y}] }\n\
         websocket { port: 1, no_tls: true, authorization { token: t } }",
    )
    .unwrap_err();
    assert!(err.contains("token not compatible"), "{err}");
}

#[test]
fn no_auth_user_must_be_a_user() {
    let err = apply("websocket { port: 1, no_tls: true, no_auth_user: x }").unwrap_err();
    assert!(
        err.contains("present, but users/nkeys are not defined"),
        "{err}"
    );
    let err = apply(
        "authorization { users: [{user: a, password: b}] }\n\
         websocket { port: 1, no_tls: true, no_auth_user: x }",
    )
    .unwrap_err();
    assert!(err.contains("not present as user or nkey"), "{err}");
    let opts = apply(
        "authorization { users: [{user: a, password: b}] }\n\
         websocket { port: 1, no_tls: true, no_auth_user: a }",
    )
    .unwrap();
    assert_eq!(opts.websocket.unwrap().no_auth_user.as_deref(), Some("a"));
}

#[test]
fn jwt_cookie_needs_operator_mode() {
    let err = apply("websocket { port: 1, no_tls: true, jwt_cookie: jwt }").unwrap_err();
    assert!(
        err.contains("trusted operators or trusted keys configuration is required"),
        "{err}"
    );
}

#[test]
fn reserved_headers_are_refused() {
    let err = apply("websocket { port: 1, no_tls: true, headers { Upgrade: x } }").unwrap_err();
    assert!(
        err.contains("websocket: invalid header \"Upgrade\" not allowed"),
        "{err}"
    );
    let err =
        apply("websocket { port: 1, no_tls: true, headers { Sec-WebSocket-X: x } }").unwrap_err();
    assert!(
        err.contains("\"Sec-WebSocket-\" prefix not allowed"),
        "{err}"
    );
}
