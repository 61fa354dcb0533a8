#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use serde_json::json;

use super::*;

/// Encodes and signs claims as nats-io/jwt's `Encode` does.
fn sign(mut claims: serde_json::Value, signer: &nkeys::KeyPair) -> String {
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    claims["iss"] = json!(signer.public_key());
    let header = b(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = b(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let sig = signer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b(&sig))
}

fn account_claims(sub: &str) -> serde_json::Value {
    json!({
        "jti": "X", "iat": 1, "name": "A", "sub": sub,
        "nats": {
            "limits": {"subs": -1, "data": -1, "payload": -1, "conn": 5, "imports": -1},
            "signing_keys": ["AB", {"kind": "user_scope", "key": "AC", "role": "r",
                "template": {"pub": {"allow": ["a.>"]}, "subs": -1}}],
            "revocations": {"UX": 100, "*": 50},
            "exports": [{"subject": "s.>", "type": "service", "response_type": "Stream",
                "service_latency": {"sampling": "headers", "results": "lat"}}],
            "type": "account", "version": 2
        }
    })
}

#[test]
fn account_claims_decode_with_their_signing_keys_and_revocations() {
    let op = nkeys::KeyPair::new_operator();
    let acc = nkeys::KeyPair::new_account();
    let token = sign(account_claims(&acc.public_key()), &op);
    let c = decode_account(&token).unwrap();
    assert_eq!(c.data.issuer, op.public_key());
    assert_eq!(c.data.subject, acc.public_key());
    assert_eq!(c.nats.limits.conn, 5);
    assert_eq!(c.nats.limits.mem_storage, 0);
    assert!(matches!(
        c.nats.signing_key("AB"),
        Some(SigningKey::Plain(_))
    ));
    let Some(SigningKey::Scoped(scope)) = c.nats.signing_key("AC") else {
        panic!("scoped key");
    };
    assert_eq!(scope.template.permissions.publish.allow, vec!["a.>"]);
    assert!(c.nats.is_revoked("UX", 100));
    assert!(!c.nats.is_revoked("UX", 101));
    assert!(c.nats.is_revoked("UY", 50));
    assert!(!c.nats.is_revoked("UY", 51));
    assert_eq!(c.nats.exports[0].kind, ExportType::Service);
    assert_eq!(
        c.nats.exports[0].service_latency.as_ref().unwrap().sampling,
        0
    );
}

#[test]
fn forged_and_malformed_tokens_are_refused() {
    let op = nkeys::KeyPair::new_operator();
    let acc = nkeys::KeyPair::new_account();
    let token = sign(account_claims(&acc.public_key()), &op);
    // Another payload under the same signature.
    let other = sign(
        account_claims(&nkeys::KeyPair::new_account().public_key()),
        &op,
    );
    let parts: Vec<&str> = token.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    assert_eq!(decode_account(&forged), Err(JwtError::Signature));
    assert_eq!(decode_account("a.b"), Err(JwtError::Chunks));
    assert_eq!(decode_account("!!.b.c"), Err(JwtError::Encoding));
    // A user JWT is not an account JWT.
    assert!(matches!(
        decode_user(&token),
        Err(JwtError::Type {
            expected: "user",
            ..
        })
    ));
    // An account JWT must be issued by an operator key.
    let by_account = sign(account_claims(&acc.public_key()), &acc);
    assert!(matches!(
        decode_account(&by_account),
        Err(JwtError::Issuer(_))
    ));
    // Version 1 and versions from the future.
    let mut v3 = account_claims(&acc.public_key());
    v3["nats"]["version"] = json!(3);
    assert_eq!(decode_account(&sign(v3, &op)), Err(JwtError::Version(3)));
}

#[test]
fn user_claims_read_src_as_list_or_string_and_times_are_checked() {
    let acc = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let claims = json!({
        "jti": "Y", "iat": 10, "exp": 20, "nbf": 5, "sub": user.public_key(),
        "nats": {"src": "127.0.0.1/32, 10.0.0.0/8", "bearer_token": true,
                 "pub": {"deny": ["x"]}, "resp": {"max": 1, "ttl": 1000},
                 "type": "user", "version": 2}
    });
    let c = decode_user(&sign(claims, &acc)).unwrap();
    assert_eq!(c.nats.limits.src, vec!["127.0.0.1/32", "10.0.0.0/8"]);
    assert!(c.nats.limits.bearer_token);
    assert_eq!(c.nats.limits.permissions.resp.as_ref().unwrap().ttl, 1000);
    assert_eq!(check_times(&c.data, 10), Ok(()));
    assert_eq!(check_times(&c.data, 21), Err(JwtError::Expired));
    assert_eq!(check_times(&c.data, 4), Err(JwtError::NotYetValid));
}

#[test]
fn decorated_files_yield_their_jwt() {
    let text =
        "-----BEGIN NATS OPERATOR JWT-----\nabc.def.ghi\n------END NATS OPERATOR JWT------\n";
    assert_eq!(parse_decorated(text), "abc.def.ghi");
    assert_eq!(parse_decorated("  abc.def.ghi\n"), "abc.def.ghi");
}

#[test]
fn tiered_jetstream_limits_map_onto_the_single_server_tier() {
    let limits = |v: serde_json::Value| -> AccountLimits { serde_json::from_value(v).unwrap() };
    let none = limits(json!({"conn": -1}));
    assert!(!none.jetstream_enabled());
    assert_eq!(none.jetstream_tier(), None);
    let untiered = limits(json!({"mem_storage": -1, "disk_storage": 1024, "streams": 3}));
    assert_eq!(untiered.jetstream_tier().unwrap().streams, 3);
    let tiered = limits(json!({"tiered_limits": {
        "R1": {"mem_storage": -1, "disk_storage": -1, "streams": 5, "consumer": 7},
        "R3": {"mem_storage": -1}
    }}));
    assert!(tiered.jetstream_enabled());
    let r1 = tiered.jetstream_tier().unwrap();
    assert_eq!((r1.streams, r1.consumer, r1.disk_storage), (5, 7, -1));
    // Only a replicated tier: enabled, but nothing a single server can store in.
    let r3 = limits(json!({"tiered_limits": {"R3": {"disk_storage": -1, "streams": 2}}}));
    assert_eq!(r3.jetstream_tier(), Some(JetStreamTier::default()));
    // Tiers without storage disable JetStream even when untiered limits are set.
    let off = limits(json!({"disk_storage": -1, "tiered_limits": {"R1": {"streams": 1}}}));
    assert!(!off.jetstream_enabled());
}

#[test]
fn exports_carry_their_activation_revocations() {
    let export: Export = serde_json::from_value(json!({
        "subject": "priv.>", "type": "service", "token_req": true,
        "revocations": {"AIMPORTER": 100, "*": 50}
    }))
    .unwrap();
    assert!(export.token_req);
    assert!(export.is_activation_revoked("AIMPORTER", 100));
    assert!(!export.is_activation_revoked("AIMPORTER", 101));
    assert!(export.is_activation_revoked("AOTHER", 50));
    assert!(!export.is_activation_revoked("AOTHER", 51));
}
