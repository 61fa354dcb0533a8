//! Decoding a NATS JWT as nats-io/jwt's `Decode` does: three base64url (raw) parts, a header
//! `{"typ":"JWT","alg":"ed25519-nkey"}`, claims of version 2, and an Ed25519 signature of
//! `header.payload` by the key in `iss`, whose kind must fit the claim's type.

use base64::Engine as _;
use serde::Deserialize;

use super::claims::{Account, Activation, Claims, Operator, User};
use super::JwtError;

/// nats-io/jwt's `MaxTokenSize`.
const MAX_TOKEN_SIZE: usize = 1024 * 1024;
/// The claims version this decoder reads (nats-io/jwt's `libVersion`).
const VERSION: i64 = 2;

/// The claim types the server acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimType {
    Operator,
    Account,
    User,
    Activation,
}

impl ClaimType {
    fn as_str(self) -> &'static str {
        match self {
            ClaimType::Operator => "operator",
            ClaimType::Account => "account",
            ClaimType::User => "user",
            ClaimType::Activation => "activation",
        }
    }

    /// Who may issue it: nats-io/jwt's `ExpectedPrefixes`.
    fn issuer_ok(self, issuer: &str) -> bool {
        let prefix = issuer.as_bytes().first().copied();
        let kind_ok = match self {
            ClaimType::Operator | ClaimType::Account => prefix == Some(b'O'),
            ClaimType::User => prefix == Some(b'A'),
            ClaimType::Activation => prefix == Some(b'A') || prefix == Some(b'O'),
        };
        kind_ok && nkeys::KeyPair::from_public_key(issuer).is_ok()
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// Only what tells the claim's type and version apart.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Identifier {
    /// Set at the top level by version 1 JWTs only.
    #[serde(rename = "type")]
    v1_type: String,
    nats: Generic,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Generic {
    #[serde(rename = "type")]
    kind: String,
    version: i64,
}

fn b64(part: &str) -> Result<Vec<u8>, JwtError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Encoding)
}

/// Decodes `token` as a claim of type `kind` and verifies its signature.
fn decode<T: serde::de::DeserializeOwned + Default>(
    token: &str,
    kind: ClaimType,
) -> Result<Claims<T>, JwtError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_SIZE {
        return Err(JwtError::TooLarge(token.len()));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(JwtError::Chunks);
    };
    let h: Header = serde_json::from_slice(&b64(header)?).map_err(|_| JwtError::Header)?;
    let alg = h.alg.to_ascii_lowercase();
    if !h.typ.eq_ignore_ascii_case("JWT") || (alg != "ed25519-nkey" && alg != "ed25519") {
        return Err(JwtError::Header);
    }
    let body = b64(payload)?;
    let id: Identifier =
        serde_json::from_slice(&body).map_err(|e| JwtError::Json(e.to_string()))?;
    if !id.v1_type.is_empty() || id.nats.version < VERSION {
        return Err(JwtError::Version(1));
    }
    if id.nats.version > VERSION {
        return Err(JwtError::Version(id.nats.version));
    }
    if id.nats.kind != kind.as_str() {
        return Err(JwtError::Type {
            expected: kind.as_str(),
            found: id.nats.kind,
        });
    }
    let claims: Claims<T> =
        serde_json::from_slice(&body).map_err(|e| JwtError::Json(e.to_string()))?;
    let sig = b64(signature)?;
    let signer =
        nkeys::KeyPair::from_public_key(&claims.data.issuer).map_err(|_| JwtError::Signature)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    signer
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    if !kind.issuer_ok(&claims.data.issuer) {
        return Err(JwtError::Issuer(claims.data.issuer));
    }
    Ok(claims)
}

pub fn decode_operator(token: &str) -> Result<Claims<Operator>, JwtError> {
    decode(token, ClaimType::Operator)
}

pub fn decode_account(token: &str) -> Result<Claims<Account>, JwtError> {
    let claims: Claims<Account> = decode(token, ClaimType::Account)?;
    if !claims.data.subject.starts_with('A') {
        return Err(JwtError::Subject(claims.data.subject));
    }
    Ok(claims)
}

pub fn decode_user(token: &str) -> Result<Claims<User>, JwtError> {
    let claims: Claims<User> = decode(token, ClaimType::User)?;
    if !claims.data.subject.starts_with('U') {
        return Err(JwtError::Subject(claims.data.subject));
    }
    Ok(claims)
}

/// An activation token (an import's `token`): its subject must be an account.
pub fn decode_activation(token: &str) -> Result<Claims<Activation>, JwtError> {
    let claims: Claims<Activation> = decode(token, ClaimType::Activation)?;
    if !claims.data.subject.starts_with('A') {
        return Err(JwtError::Subject(claims.data.subject));
    }
    Ok(claims)
}

/// Any JWT decoded as nats-io/jwt's `DecodeGeneric` decodes it: the registered claims and
/// the `nats` part as JSON, its signature verified against `iss` (no type or version
/// check; `$SYS.REQ.CLAIMS.DELETE` carries such a claim).
pub fn decode_generic(token: &str) -> Result<Claims<serde_json::Value>, JwtError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(JwtError::Chunks);
    };
    let h: Header = serde_json::from_slice(&b64(header)?).map_err(|_| JwtError::Header)?;
    let alg = h.alg.to_ascii_lowercase();
    if !h.typ.eq_ignore_ascii_case("JWT") || alg != "ed25519-nkey" {
        return Err(JwtError::Header);
    }
    let claims: Claims<serde_json::Value> =
        serde_json::from_slice(&b64(payload)?).map_err(|e| JwtError::Json(e.to_string()))?;
    let sig = b64(signature)?;
    let signer =
        nkeys::KeyPair::from_public_key(&claims.data.issuer).map_err(|_| JwtError::Signature)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    signer
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    Ok(claims)
}

/// Whether the claim is in force at `now` (Unix seconds): not expired, not before its
/// `nbf` (nats-io/jwt's `ClaimsData.Validate`, which blocks on both).
pub fn check_times(data: &super::ClaimsData, now: i64) -> Result<(), JwtError> {
    if data.expires > 0 && data.expires < now {
        return Err(JwtError::Expired);
    }
    if data.not_before > 0 && data.not_before > now {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

/// The JWT in a file's text: a bare token, or the first block framed by
/// `-----BEGIN ... JWT-----` lines as in a `.creds` or `nsc`'s operator file (nats-io/jwt's
/// `ParseDecoratedJWT`).
pub fn parse_decorated(text: &str) -> String {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.starts_with("---") && line.contains("BEGIN") && line.contains("JWT") {
            if let Some(token) = lines.find(|l| !l.is_empty()) {
                return token.to_string();
            }
        }
    }
    text.trim().to_string()
}

/// The Unix time now, in seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A JWT's claims as JSON, undecoded into types and unverified (for showing a token that
/// was verified before, as `/varz` shows the trusted operators).
pub fn payload_json(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&b64(payload).ok()?).ok()
}
