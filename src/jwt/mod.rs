//! NATS JWTs (decentralised authentication): the claims of operator, account and user JWTs,
//! decoded and verified as nats-io/jwt v2 does it. Pure data and Ed25519 checks (with the
//! `nkeys` crate); which keys are trusted, and what a claim means for a connection or an
//! account, is the broker's business (`broker::operator`).
//!
//! No crate on crates.io fit: `nats-jwt` only writes account and user JWTs, `nats-io-jwt`
//! is generated and marked work in progress, `nats-jwt-rs` is barely documented. The types
//! here keep only what the server acts on, with nats-io/jwt's field names.

mod activation;
mod claims;
mod decode;
mod template;

#[cfg(test)]
mod tests;

pub use activation::{kind_name, validate_import_token, validate_imports};
pub use claims::*;
pub use decode::{
    check_times, decode_account, decode_activation, decode_generic, decode_operator, decode_user,
    now_unix, parse_decorated, payload_json, ClaimType,
};
pub use template::{expand_user_template, TemplateError};

/// Why a JWT was refused; the texts follow nats-io/jwt's where the server repeats them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token size {0} exceeds maximum of 1048576 bytes: token too large")]
    TooLarge(usize),
    #[error("expected 3 chunks")]
    Chunks,
    #[error("illegal base64 data")]
    Encoding,
    #[error("not a NATS JWT header")]
    Header,
    #[error("{0}")]
    Json(String),
    #[error("JWT version {0} is not supported")]
    Version(i64),
    #[error("not {expected} claim")]
    Type {
        expected: &'static str,
        found: String,
    },
    #[error("claim failed V2 signature verification")]
    Signature,
    #[error("unable to validate expected prefixes - issuer {0}")]
    Issuer(String),
    #[error("subject {0} is not a valid public key for the claim")]
    Subject(String),
    #[error("claim is expired")]
    Expired,
    #[error("claim is not yet valid")]
    NotYetValid,
}
