//! `leafnodes { ... }` as nats-server reads and validates it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::apply_config_str;
use crate::options::Options;

fn apply(text: &str) -> Result<(Options, Vec<String>), String> {
    let mut opts = Options::default();
    apply_config_str(text, &mut opts)
        .map(|w| (opts, w))
        .map_err(|e| e.to_string())
}

#[test]
fn a_hub_listener_with_users_and_accounts() {
    let (opts, warnings) = apply(
        r#"
        accounts { A { users [ {user: a, password: a} ] } }
        leafnodes {
            listen: "127.0.0.1:7422"
            advertise: "hub.example:7422"
            no_advertise: true
            reconnect: "250ms"
            authorization {
                users [ {user: leaf, password: s3cret, account: A}, {user: g, password: g} ]
                timeout: 1.5
            }
        }
        "#,
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let leaf = &opts.leafnodes;
    assert_eq!((leaf.host.as_deref(), leaf.port), (Some("127.0.0.1"), 7422));
    assert_eq!(leaf.advertise.as_deref(), Some("hub.example:7422"));
    assert!(leaf.no_advertise);
    assert_eq!(leaf.reconnect, Duration::from_millis(250));
    assert_eq!(leaf.auth.users.len(), 2);
    assert_eq!(leaf.auth.users[0].account.as_deref(), Some("A"));
    assert_eq!(leaf.auth.timeout, Some(Duration::from_millis(1500)));
}

#[test]
fn remotes_with_credentials_and_deny_lists() {
    let seed = nkeys::KeyPair::new_user().seed().unwrap();
    let (opts, warnings) = apply(&format!(
        r#"
        leafnodes {{
            remotes [
                {{ url: "nats-leaf://u:p@127.0.0.1:7422", deny_imports: "secret.>",
                   deny_exports: ["a", "b.*"], first_info_timeout: "3s", hub: false }}
                {{ urls: ["tls://h1:7422", "tls://h2:7422"], nkey: "{seed}",
                   tls {{ ca_file: "ca.pem" }}, no_randomize: true }}
                {{ url: "h3", credentials: "/tmp/x.creds", disabled: true }}
            ]
        }}
        "#
    ))
    .unwrap();
    let r = &opts.leafnodes.remotes;
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].urls, vec!["nats-leaf://u:p@127.0.0.1:7422"]);
    assert_eq!(r[0].deny_imports, vec!["secret.>"]);
    assert_eq!(r[0].deny_exports, vec!["a", "b.*"]);
    assert_eq!(r[0].first_info_timeout, Duration::from_secs(3));
    assert_eq!(r[1].nkey.as_deref(), Some(seed.as_str()));
    assert!(r[1].tls.is_some() && r[1].no_randomize);
    assert!(r[2].disabled);
    assert_eq!(r[2].account_name(), "$G");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"leafnodes.remotes[0].hub\" is not supported")),
        "{warnings:?}"
    );
}

#[test]
fn nats_servers_errors() {
    for (text, expected) in [
        ("leafnodes: 4", "Expected map to define a leafnode"),
        (
            "leafnodes { remotes: {url: x} }",
            "Expected remotes field to be an array",
        ),
        (
            "leafnodes { remotes: [ 1 ] }",
            "Expected remote leafnode entry to be a map/struct",
        ),
        (
            "leafnodes { remotes: [ {url: 1} ] }",
            "Expected remote leafnode url to be an array or string",
        ),
        (
            "leafnodes { remotes: [ {url: x, nkey: SUnot} ] }",
            "Remote leafnode nkey is not a valid seed",
        ),
        (
            "leafnodes { authorization { nkey: Unot } }",
            "Not a valid public nkey for leafnode authorization",
        ),
        (
            "leafnodes { authorization { user: a, users [ {user: b} ] } }",
            "can not have a single user/pass and a users array",
        ),
        (
            "leafnodes { authorization { users [ {user: b}, {user: b} ] } }",
            "duplicate user \"b\" detected in leafnode authorization",
        ),
        (
            "leafnodes { remotes [ {url: x, account: NOPE} ] }",
            "cannot find local account \"NOPE\" specified in leafnode remote",
        ),
        (
            "leafnodes { port: 7422, authorization { account: NOPE } }",
            "cannot find local account \"NOPE\" specified in leafnode authorization",
        ),
        (
            "leafnodes { remotes [ {url: x}, {url: x} ] }",
            "duplicate remote",
        ),
        (
            "leafnodes { remotes [ {url: x, deny_imports: \"a..b\"} ] }",
            "not a valid subject",
        ),
        ("leafnodes { port: 70000 }", "out of range"),
    ] {
        let err = apply(text).unwrap_err();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn the_system_account_and_declared_accounts_may_be_bound() {
    apply("leafnodes { remotes [ {url: x, account: \"$SYS\"} ] }").unwrap();
    apply("accounts { B {} }\nleafnodes { remotes [ {url: x, account: B} ] }").unwrap();
    // Accounts declared after the block count too (the file is checked as a whole).
    apply("leafnodes { remotes [ {url: x, account: B} ] }\naccounts { B {} }").unwrap();
}

#[test]
fn keys_for_features_not_served_are_warned_about() {
    let (_, warnings) =
        apply("leafnodes { port: -1, compression: s2_auto, min_version: \"2.8.0\" }").unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("not supported yet"), "{warnings:?}");
}
