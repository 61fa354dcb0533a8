//! `exports` and `imports` read into Options, and nats-server's refusals.
#![allow(clippy::unwrap_used)]

use super::apply_config_str;
use crate::options::{ImportKind, Options, ResponseType};

fn apply(text: &str) -> Result<Options, String> {
    let mut o = Options::default();
    apply_config_str(text, &mut o)
        .map(|_| o)
        .map_err(|e| e.to_string())
}

#[test]
fn exports_and_imports_are_read() {
    let o = apply(
        r#"
        accounts {
          A { exports [
                {service: "svc.*", accounts: [B], response_type: chunked, threshold: "5s",
                 latency: {sampling: "25%", subject: "lat.svc"}}
                {stream: "ev.>"}
                {service: "by.*.req", account_token_position: 2}
              ] }
          B { imports [
                {service: {account: A, subject: "svc.x"}, to: "local.x", share: true}
                {stream: {account: A, subject: "ev.>"}, prefix: "a"}
                {service: {account: A, subject: "by.B.req"}}
              ] }
        }
        "#,
    )
    .unwrap();
    let a = &o.auth.accounts[0];
    assert_eq!(a.exports.len(), 3);
    let svc = &a.exports[0];
    assert_eq!(svc.kind, ImportKind::Service);
    assert_eq!(svc.accounts.as_deref(), Some(&["B".to_string()][..]));
    assert_eq!(svc.response_type, ResponseType::Chunked);
    assert_eq!(
        svc.response_threshold,
        Some(std::time::Duration::from_secs(5))
    );
    let latency = svc.latency.as_ref().unwrap();
    assert_eq!(
        (latency.sampling_percent, latency.subject.as_str()),
        (25, "lat.svc")
    );
    assert_eq!(a.exports[2].account_token_position, 2);
    let b = &o.auth.accounts[1];
    assert_eq!(b.imports[0].local_subject(), "local.x");
    assert!(b.imports[0].share);
    assert_eq!(b.imports[1].local_subject(), "a.ev.>");
    assert_eq!(b.imports[2].local_subject(), "by.B.req");
}

#[test]
fn refusals_carry_nats_server_texts() {
    let accounts = |exports: &str, imports: &str| {
        format!(
            "accounts {{ A {{ exports [ {exports} ] }}, B {{ imports [ {imports} ] }}, C {{}} }}"
        )
    };
    let cases = [
        (
            accounts(
                r#"{stream: "ev.>"}"#,
                r#"{stream: {account: A, subject: "ev.>"}, prefix: "p", to: "q"}"#,
            ),
            "Stream import can not have a 'prefix' and a 'to' property",
        ),
        (
            accounts(r#"{stream: "ev.>", response_type: stream}"#, ""),
            "Detected response directive on non-service",
        ),
        (
            accounts(r#"{stream: "ev.>", latency: "x"}"#, ""),
            "Detected latency directive on non-service",
        ),
        (
            accounts(r#"{service: "s", response_type: "lots"}"#, ""),
            "Unknown response type: \"lots\"",
        ),
        (
            accounts(r#"{service: "s", latency: {sampling: 101, subject: x}}"#, ""),
            "sampling value should be between 1 and 100",
        ),
        (
            accounts(r#"{service: "s", accounts: [Z]}"#, ""),
            "\"Z\" account not defined for service export",
        ),
        (
            accounts(
                r#"{service: "s"}"#,
                r#"{service: {account: A, subject: "s"}}, {service: {account: A, subject: "s"}}"#,
            ),
            "Duplicate service import subject \"s\"",
        ),
        (
            accounts(r#"{service: "by.*.req", account_token_position: 2}"#, r#"{service: {account: A, subject: "by.C.req"}}"#),
            "service import not authorized",
        ),
        (
            "accounts { A { exports [ {service: x} ], imports [ {service: {account: B, subject: x}} ] }, B { exports [ {service: x} ], imports [ {service: {account: A, subject: x}} ] } }".to_string(),
            "import forms a cycle",
        ),
        (
            "accounts { A { exports [ {stream: x} ], imports [ {stream: {account: B, subject: x}} ] }, B { exports [ {stream: x} ], imports [ {stream: {account: A, subject: x}} ] } }".to_string(),
            "Error adding stream import \"x\": import forms a cycle",
        ),
        (
            accounts("", "\"nope\""),
            "Import Items should be a map with type entry, got string",
        ),
    ];
    for (text, want) in cases {
        let error = apply(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(error.contains(want), "{text}\n=> {error}");
    }
    // The importer's name at the token position is allowed.
    apply(&accounts(
        r#"{service: "by.*.req", account_token_position: 2}"#,
        r#"{service: {account: A, subject: "by.B.req"}}"#,
    ))
    .unwrap();
}
