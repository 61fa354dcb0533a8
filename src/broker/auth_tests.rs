#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::options::AccountConfig;

fn connect(json: &str) -> ConnectOptions {
    ConnectOptions::parse(json.as_bytes()).unwrap()
}

fn user(name: &str, pass: &str) -> User {
    User {
        user: Some(name.into()),
        password: Some(pass.into()),
        ..Default::default()
    }
}

fn build(opts: &AuthOptions) -> (Authenticator, HashMap<String, Arc<Account>>) {
    let global = Arc::new(Account::new("$G"));
    let accounts: HashMap<_, _> = opts
        .accounts
        .iter()
        .map(|a| (a.name.clone(), Arc::new(Account::new(&a.name))))
        .collect();
    (Authenticator::new(opts, global, &accounts), accounts)
}

#[test]
fn bcrypt_prefixes() {
    assert!(is_bcrypt("$2a$10$abc"));
    assert!(is_bcrypt("$2y$04$abc"));
    assert!(!is_bcrypt("$2c$10$abc"));
    assert!(!is_bcrypt("$2a$1$abc"));
    assert!(!is_bcrypt("plain"));
}

#[test]
fn secrets_plain_and_bcrypt() {
    assert!(compare_secret("s3cret", "s3cret"));
    assert!(!compare_secret("s3cret", "s3cre"));
    assert!(!compare_secret("s3cret", ""));
    let hash = bcrypt::hash("pw", 4).unwrap();
    assert!(compare_secret(&hash, "pw"));
    assert!(!compare_secret(&hash, "pw2"));
    assert!(
        !compare_secret(&hash, &hash),
        "the hash itself is not the password"
    );
}

#[test]
fn token_and_single_user() {
    let (a, _) = build(&AuthOptions {
        token: Some("t".into()),
        ..Default::default()
    });
    assert!(a
        .authenticate(&connect(r#"{"auth_token":"t"}"#), b"")
        .is_some());
    assert!(a
        .authenticate(&connect(r#"{"auth_token":"x"}"#), b"")
        .is_none());
    assert!(a.authenticate(&connect("{}"), b"").is_none());
    let (a, _) = build(&AuthOptions {
        user: Some("u".into()),
        password: Some("p".into()),
        ..Default::default()
    });
    assert!(a
        .authenticate(&connect(r#"{"user":"u","pass":"p"}"#), b"")
        .is_some());
    assert!(a
        .authenticate(&connect(r#"{"user":"u","pass":"q"}"#), b"")
        .is_none());
}

#[test]
fn users_accounts_and_no_auth_user() {
    let opts = AuthOptions {
        users: vec![user("g", "gp")],
        accounts: vec![AccountConfig {
            name: "A".into(),
            users: vec![user("a", "ap")],
            ..Default::default()
        }],
        no_auth_user: Some("a".into()),
        ..Default::default()
    };
    let (auth, accounts) = build(&opts);
    assert!(auth.required());
    assert!(!auth.advertised_required());
    assert!(auth.no_auth_fast_path());
    let id = auth
        .authenticate(&connect(r#"{"user":"g","pass":"gp"}"#), b"")
        .unwrap();
    assert_eq!(id.account.name, "$G");
    let id = auth.authenticate(&connect("{}"), b"").unwrap();
    assert!(Arc::ptr_eq(&id.account, &accounts["A"]));
    assert_eq!(id.user.as_deref(), Some("a"));
    assert!(auth
        .authenticate(&connect(r#"{"user":"nobody","pass":"x"}"#), b"")
        .is_none());
    assert!(auth
        .authenticate(&connect(r#"{"user":"g","pass":"ap"}"#), b"")
        .is_none());
}

#[test]
fn nkey_signature_over_nonce() {
    let kp = nkeys::KeyPair::new_user();
    let opts = AuthOptions {
        users: vec![User {
            nkey: Some(kp.public_key()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (auth, _) = build(&opts);
    assert!(auth.nonce_required());
    let nonce = new_nonce().unwrap();
    assert_eq!(nonce.len(), 15);
    let sig = kp.sign(nonce.as_bytes()).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig);
    let std = base64::engine::general_purpose::STANDARD.encode(&sig);
    for encoded in [&raw, &std] {
        let c = connect(&format!(
            r#"{{"nkey":"{}","sig":"{}"}}"#,
            kp.public_key(),
            encoded
        ));
        assert!(auth.authenticate(&c, nonce.as_bytes()).is_some());
        assert!(auth.authenticate(&c, b"other-nonce").is_none());
    }
    let unsigned = connect(&format!(r#"{{"nkey":"{}"}}"#, kp.public_key()));
    assert!(auth.authenticate(&unsigned, nonce.as_bytes()).is_none());
    let stranger = nkeys::KeyPair::new_user();
    let sig = stranger.sign(nonce.as_bytes()).unwrap();
    let c = connect(&format!(
        r#"{{"nkey":"{}","sig":"{}"}}"#,
        stranger.public_key(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig)
    ));
    assert!(auth.authenticate(&c, nonce.as_bytes()).is_none());
}

/// Auth failures and permission violations reach the inspector as events.
#[tokio::test]
async fn failures_and_violations_are_events() {
    use crate::broker::BrokerHandle;
    use crate::inspect::snapshot::EventKind;
    use crate::options::{Options, SubjectPermission};
    use tokio::io::AsyncWriteExt;

    let mut opts = Options {
        port: 0,
        ..Options::default()
    };
    let mut limited = user("u", "p");
    limited.permissions = Some(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["ok".into()],
            deny: vec![],
        }),
        ..Default::default()
    });
    opts.auth.users = vec![limited];
    let handle = BrokerHandle::start(opts).await.unwrap();
    let feed = handle.server().tap.take_feed().unwrap();
    let exchange = |send: &'static [u8], want: &'static [u8]| {
        let addr = handle.local_addr();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(send).await.unwrap();
            crate::testkit::read_until(&mut s, std::time::Duration::from_secs(2), |got| {
                got.ends_with(want)
            })
            .await;
        }
    };
    exchange(
        b"CONNECT {\"user\":\"u\",\"pass\":\"bad\"}\r\n",
        b"-ERR 'Authorization Violation'\r\n",
    )
    .await;
    exchange(
        b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPUB no 0\r\n\r\nPING\r\n",
        b"PONG\r\n",
    )
    .await;
    let events = feed.events_since(0);
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::AuthFailure { user, .. } if user == "u")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::PermissionViolation { text, .. }
                if text == "Permissions Violation for Publish to \"no\""
        )),
        "{events:?}"
    );
    handle.shutdown().await;
}
