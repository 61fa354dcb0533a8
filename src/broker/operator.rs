//! Operator mode's trust: the operators whose keys may issue account JWTs, and the resolver
//! the account JWTs come from. Checked at start as nats-server's `validateTrustedOperators`
//! checks them, with its messages.

use std::collections::HashSet;

use super::resolver::Resolver;
use crate::jwt::{self, Claims, JwtError};
use crate::options::{Options, ResolverOptions};

#[derive(Debug)]
pub struct Trust {
    /// The operators' JWTs as configured (for `/varz`).
    pub jwts: Vec<String>,
    pub operators: Vec<Claims<jwt::Operator>>,
    /// Keys that may sign account JWTs: each operator's own key (unless it asks for strict
    /// signing key usage) and its signing keys.
    keys: HashSet<String>,
    pub resolver: Resolver,
}

/// Why an account JWT is not used.
#[derive(Debug, thiserror::Error)]
pub enum AccountJwtError {
    #[error("{0}")]
    Jwt(#[from] JwtError),
    /// nats-server's `ErrAccountValidation`.
    #[error("account validation failed")]
    Validation,
}

impl Trust {
    /// The trust the options configure; `Ok(None)` outside operator mode.
    pub fn new(opts: &Options) -> Result<Option<Trust>, String> {
        let op = &opts.operator;
        if !op.enabled() {
            return Ok(None);
        }
        let mut operators = Vec::new();
        for token in &op.operators {
            let claims = jwt::decode_operator(token)
                .map_err(|e| format!("error parsing operator JWT: {e}"))?;
            operators.push(claims);
        }
        let Some(resolver_opts) = &op.resolver else {
            return Err("operators require an account resolver to be configured".to_string());
        };
        if !opts.auth.accounts.is_empty() {
            return Err("operators do not allow Accounts to be configured directly".to_string());
        }
        if !opts.auth.users.is_empty() {
            return Err("operators do not allow users to be configured directly".to_string());
        }
        let system = opts.system_account.as_deref().filter(|s| !s.is_empty());
        if let Some(system) = system {
            let named: Vec<&str> = operators
                .iter()
                .map(|o| o.nats.system_account.as_str())
                .filter(|s| !s.is_empty())
                .collect();
            if !named.is_empty() && !named.contains(&system) {
                return Err(
                    "system_account in config and operator JWT must be identical".to_string(),
                );
            }
        } else if op.system_account.is_none() && matches!(resolver_opts, ResolverOptions::Full(_)) {
            return Err(
                "using nats based account resolver - the system account needs to be \
                        specified in configuration or the operator jwt"
                    .to_string(),
            );
        }
        let mut keys = HashSet::new();
        for o in &operators {
            if !o.nats.strict_signing_key_usage {
                keys.insert(o.data.subject.clone());
            }
            keys.extend(o.nats.signing_keys.iter().cloned());
        }
        let resolver = Resolver::new(resolver_opts)?;
        let trust = Trust {
            jwts: op.operators.clone(),
            operators,
            keys,
            resolver,
        };
        for (key, token) in &op.preload {
            trust.preload(key, token);
        }
        Ok(Some(trust))
    }

    /// A preloaded account JWT goes to the resolver unless it holds a newer one (nats-server's
    /// `Store`, which for the directory keeps the newer of the two).
    fn preload(&self, key: &str, token: &str) {
        let newer_stored = self
            .resolver
            .fetch(key)
            .and_then(|old| jwt::decode_account(&old).ok())
            .zip(jwt::decode_account(token).ok())
            .is_some_and(|(old, new)| old.data.issued_at > new.data.issued_at);
        if newer_stored {
            return;
        }
        if let Err(e) = self.resolver.store(key, token) {
            crate::log_error!("Preloading account {} failed: {}", key, e);
        }
    }

    /// nats-server's `isTrustedIssuer`.
    pub fn is_trusted(&self, issuer: &str) -> bool {
        self.keys.contains(issuer)
    }

    /// The first operator's key and whether it insists on signing keys (nats-server's
    /// `getOperatorKeys`, used by the claim update requests).
    pub fn strict_operator(&self) -> Option<&str> {
        self.operators
            .first()
            .filter(|o| o.nats.strict_signing_key_usage)
            .map(|o| o.data.subject.as_str())
    }

    /// nats-server's `verifyAccountClaims`: decoded, issued by a trusted key, in force.
    pub fn verify_account(&self, token: &str) -> Result<Claims<jwt::Account>, AccountJwtError> {
        let claims = jwt::decode_account(token)?;
        if !self.is_trusted(&claims.data.issuer) {
            return Err(AccountJwtError::Validation);
        }
        jwt::check_times(&claims.data, jwt::now_unix()).map_err(|_| AccountJwtError::Validation)?;
        // An import whose activation token does not fit it blocks the whole account, as
        // nats-io/jwt's validation does.
        if let Err(e) = jwt::validate_imports(&claims) {
            crate::log_debug!("Account JWT {} not valid: {}", claims.data.subject, e);
            return Err(AccountJwtError::Validation);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine as _;

    use super::*;
    use crate::options::{AccountConfig, DirResolverOptions, DEFAULT_RESOLVER_INTERVAL};

    fn sign(claims: serde_json::Value, signer: &nkeys::KeyPair) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let mut claims = claims;
        claims["iss"] = serde_json::json!(signer.public_key());
        let signed = format!(
            "{}.{}",
            b(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
            b(claims.to_string().as_bytes())
        );
        format!("{signed}.{}", b(&signer.sign(signed.as_bytes()).unwrap()))
    }

    fn options(op: &nkeys::KeyPair, system: &str) -> Options {
        let token = sign(
            serde_json::json!({"sub": op.public_key(), "nats": {"system_account": system,
                "type": "operator", "version": 2}}),
            op,
        );
        let mut o = Options::default();
        o.operator.operators = vec![token];
        o.operator.resolver = Some(ResolverOptions::Memory);
        o
    }

    #[test]
    fn start_checks_follow_nats_server() {
        let op = nkeys::KeyPair::new_operator();
        let sys = nkeys::KeyPair::new_account().public_key();
        assert!(Trust::new(&Options::default()).unwrap().is_none());
        assert!(Trust::new(&options(&op, &sys)).unwrap().is_some());

        let mut o = options(&op, &sys);
        o.operator.resolver = None;
        assert_eq!(
            Trust::new(&o).unwrap_err(),
            "operators require an account resolver to be configured"
        );
        let mut o = options(&op, &sys);
        o.auth.accounts.push(AccountConfig {
            name: "A".into(),
            ..Default::default()
        });
        assert!(Trust::new(&o).unwrap_err().contains("Accounts"));
        let mut o = options(&op, &sys);
        o.system_account = Some(nkeys::KeyPair::new_account().public_key());
        assert!(Trust::new(&o).unwrap_err().contains("must be identical"));
        let mut o = options(&op, "");
        let dir = tempfile::tempdir().unwrap();
        o.operator.resolver = Some(ResolverOptions::Full(DirResolverOptions {
            dir: dir.path().to_path_buf(),
            allow_delete: false,
            hard_delete: false,
            interval: DEFAULT_RESOLVER_INTERVAL,
            limit: 0,
        }));
        assert!(Trust::new(&o)
            .unwrap_err()
            .contains("system account needs to be"));
    }

    #[test]
    fn only_account_jwts_of_trusted_keys_in_force_are_used() {
        let op = nkeys::KeyPair::new_operator();
        let trust = Trust::new(&options(&op, "")).unwrap().unwrap();
        let acc = nkeys::KeyPair::new_account();
        let claims = |exp: i64| {
            serde_json::json!({"sub": acc.public_key(), "exp": exp,
                "nats": {"type": "account", "version": 2}})
        };
        assert!(trust.verify_account(&sign(claims(0), &op)).is_ok());
        let stranger = nkeys::KeyPair::new_operator();
        assert!(matches!(
            trust.verify_account(&sign(claims(0), &stranger)),
            Err(AccountJwtError::Validation)
        ));
        assert!(matches!(
            trust.verify_account(&sign(claims(1), &op)),
            Err(AccountJwtError::Validation)
        ));
    }
}
