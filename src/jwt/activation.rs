//! Activation tokens: the JWT an import of a private export (`token_req`) carries, checked
//! as nats-io/jwt's `Import.Validate` checks it inside an account JWT. A token that fails
//! these checks makes the whole account JWT invalid (nats-server refuses the account); its
//! expiry and revocation are the server's to check when it sets the import up.

use super::claims::{Account, Activation, Claims, ExportType, Import};
use super::decode::decode_activation;

/// The activation token of `import` (an import of the account `importer`) decoded and
/// consistent with it: issued by the exporting account or for it (`issuer_account`), for
/// `importer`, of the import's type, for a subject containing the import's. `Ok(None)` when
/// the import carries no token. The errors are nats-io/jwt's validation texts.
pub fn validate_import_token(
    import: &Import,
    importer: &str,
) -> Result<Option<Claims<Activation>>, String> {
    if import.token.is_empty() {
        return Ok(None);
    }
    let act = decode_activation(&import.token).map_err(|_| {
        format!(
            "import {:?} contains an invalid activation token",
            import.subject
        )
    })?;
    if act.data.issuer != import.account && act.nats.issuer_account != import.account {
        return Err(format!(
            "activation token doesn't match account for import {:?}",
            import.subject
        ));
    }
    if act.data.subject != importer {
        return Err(format!(
            "activation token doesn't match account it is being included in, {:?}",
            import.subject
        ));
    }
    if act.nats.kind != import.kind {
        return Err(format!(
            "mismatch between token import type {} and type of import {}",
            kind_name(act.nats.kind),
            kind_name(import.kind)
        ));
    }
    let subject = if import.kind == ExportType::Service && !import.to.is_empty() {
        &import.to
    } else {
        &import.subject
    };
    if !is_contained_in(subject, &act.nats.subject) {
        return Err(format!(
            "activation token import subject {:?} doesn't match import {:?}",
            act.nats.subject, import.subject
        ));
    }
    Ok(Some(act))
}

/// Every import's token of an account JWT, checked as above (part of nats-io/jwt's
/// `AccountClaims.Validate`, which blocks the account on any error).
pub fn validate_imports(account: &Claims<Account>) -> Result<(), String> {
    for import in &account.nats.imports {
        validate_import_token(import, &account.data.subject)?;
    }
    Ok(())
}

/// `stream`, `service`, or `unknown` (nats-io/jwt's `ExportType.String`).
pub fn kind_name(kind: ExportType) -> &'static str {
    match kind {
        ExportType::Stream => "stream",
        ExportType::Service => "service",
        ExportType::Unknown => "unknown",
    }
}

/// nats-io/jwt's `Subject.IsContainedIn`: `subject` is `other`, or inside it by its `*`
/// tokens and a trailing `>`.
fn is_contained_in(subject: &str, other: &str) -> bool {
    let others: Vec<&str> = other.split('.').collect();
    let mine: Vec<&str> = subject.split('.').collect();
    let open = others.last() == Some(&">");
    if (mine.len() > others.len() && !open) || mine.len() < others.len() {
        return false;
    }
    for (i, tok) in others.iter().enumerate() {
        if i == others.len() - 1 && *tok == ">" {
            return true;
        }
        if mine.get(i) != Some(tok) && *tok != "*" {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    fn sign(mut claims: serde_json::Value, signer: &nkeys::KeyPair) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        claims["iss"] = json!(signer.public_key());
        let signed = format!(
            "{}.{}",
            b(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
            b(claims.to_string().as_bytes())
        );
        format!("{signed}.{}", b(&signer.sign(signed.as_bytes()).unwrap()))
    }

    fn activation(importer: &str, subject: &str, kind: &str) -> serde_json::Value {
        json!({"sub": importer, "iat": 1,
               "nats": {"subject": subject, "kind": kind, "type": "activation", "version": 2}})
    }

    fn import(exporter: &str, subject: &str, token: String) -> Import {
        Import {
            subject: subject.into(),
            account: exporter.into(),
            token,
            kind: ExportType::Service,
            ..Default::default()
        }
    }

    #[test]
    fn activation_tokens_must_fit_their_import() {
        let exporter = nkeys::KeyPair::new_account();
        let importer = nkeys::KeyPair::new_account().public_key();
        let ex = exporter.public_key();
        let good = sign(activation(&importer, "svc.>", "service"), &exporter);
        let act = validate_import_token(&import(&ex, "svc.a", good.clone()), &importer)
            .unwrap()
            .unwrap();
        assert_eq!(act.nats.subject, "svc.>");
        assert_eq!(act.nats.kind, ExportType::Service);
        assert!(
            validate_import_token(&import(&ex, "svc.a", String::new()), &importer)
                .unwrap()
                .is_none()
        );

        let other = nkeys::KeyPair::new_account().public_key();
        let e = validate_import_token(&import(&ex, "svc.a", good.clone()), &other).unwrap_err();
        assert!(e.contains("being included in"), "{e}");
        let e = validate_import_token(&import(&ex, "other", good.clone()), &importer).unwrap_err();
        assert!(e.contains("doesn't match import"), "{e}");
        let stream = sign(activation(&importer, "svc.>", "stream"), &exporter);
        let e = validate_import_token(&import(&ex, "svc.a", stream), &importer).unwrap_err();
        assert!(e.contains("mismatch between token import type"), "{e}");
        // Signed by someone else than the exporter.
        let stranger = nkeys::KeyPair::new_account();
        let forged = sign(activation(&importer, "svc.>", "service"), &stranger);
        let e = validate_import_token(&import(&ex, "svc.a", forged), &importer).unwrap_err();
        assert!(e.contains("doesn't match account for import"), "{e}");
        // A tampered signature, and a URL (not fetched) are invalid tokens.
        let mut tampered = good.clone();
        tampered.push('A');
        for token in [tampered, "https://example.com/act".to_string()] {
            let e = validate_import_token(&import(&ex, "svc.a", token), &importer).unwrap_err();
            assert!(e.contains("invalid activation token"), "{e}");
        }
    }

    #[test]
    fn containment_follows_nats_io_jwt() {
        assert!(is_contained_in("a.b", "a.b"));
        assert!(is_contained_in("a.b", "a.*"));
        assert!(is_contained_in("a.b.c", "a.>"));
        assert!(!is_contained_in("a", "a.>"));
        assert!(!is_contained_in("a.b.c", "a.*"));
        assert!(!is_contained_in("a.*", "a.b"));
        assert!(is_contained_in("a.*", "a.*"));
    }
}
