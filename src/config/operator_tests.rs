#![allow(clippy::unwrap_used)]

use base64::Engine as _;

use super::{apply_config_str, ConfigError};
use crate::options::{Options, ResolverOptions};

fn sign(claims: serde_json::Value, signer: &nkeys::KeyPair) -> String {
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let mut claims = claims;
    claims["iss"] = serde_json::json!(signer.public_key());
    let signed = format!(
        "{}.{}",
        b(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
        b(claims.to_string().as_bytes())
    );
    let sig = signer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b(&sig))
}

fn load(text: &str) -> Result<Options, ConfigError> {
    let mut o = Options::default();
    apply_config_str(text, &mut o).map(|_| o)
}

#[test]
fn operator_files_and_inline_jwts_with_the_operators_system_account() {
    let op = nkeys::KeyPair::new_operator();
    let sys = nkeys::KeyPair::new_account().public_key();
    let token = sign(
        serde_json::json!({"sub": op.public_key(), "nats": {"system_account": sys,
            "type": "operator", "version": 2}}),
        &op,
    );
    let acc = nkeys::KeyPair::new_account();
    let acc_jwt = sign(
        serde_json::json!({"sub": acc.public_key(), "nats": {"type": "account", "version": 2}}),
        &op,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("op.jwt");
    std::fs::write(
        &file,
        format!("-----BEGIN NATS OPERATOR JWT-----\n{token}\n------END NATS OPERATOR JWT------\n"),
    )
    .unwrap();
    let o = load(&format!(
        "operator: \"{}\"\nresolver: MEMORY\nresolver_preload {{ {}: \"{acc_jwt}\" }}\n",
        file.display(),
        acc.public_key()
    ))
    .unwrap();
    assert_eq!(o.operator.operators, vec![token.clone()]);
    assert_eq!(o.operator.system_account.as_deref(), Some(sys.as_str()));
    assert_eq!(o.system_account_name(), Some(sys.as_str()));
    assert_eq!(o.operator.resolver, Some(ResolverOptions::Memory));
    assert_eq!(o.operator.preload, vec![(acc.public_key(), acc_jwt)]);

    let o = load(&format!(
        "operator: \"{token}\"\nresolver {{ type: full, dir: \"{}\", limit: 5 }}\n",
        dir.path().join("jwt").display()
    ))
    .unwrap();
    let Some(ResolverOptions::Full(full)) = &o.operator.resolver else {
        panic!("full resolver");
    };
    assert_eq!(full.limit, 5);
    assert!(!full.allow_delete);
}

#[test]
fn bad_operator_and_resolver_settings_are_errors() {
    let e = load("operator: /nonexistent/op.jwt\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("error parsing operator JWT"), "{e}");
    let e = load("operator: \"eyJhbGciOi.bad.jwt\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("error parsing operator JWT"), "{e}");
    let e = load("resolver: URL(http://localhost:9090/jwt/v1/accounts/)\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("URL account resolver is not supported"), "{e}");
    let e = load("resolver { type: full }\n").unwrap_err().to_string();
    assert!(e.contains("dir has no value"), "{e}");
    let e = load("resolver_preload { AB: \"x.y.z\" }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid account JWT"), "{e}");
}
