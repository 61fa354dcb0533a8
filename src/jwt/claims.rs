//! The claim types of operator, account and user JWTs, with the JSON field names of
//! nats-io/jwt v2. Only what the server acts on is kept; unknown fields are ignored, so a
//! JWT from a newer `nsc` still decodes. Numbers the Go library leaves out when zero
//! (`omitempty`) default to 0 here too: an account JWT without `limits.conn` allows no
//! connections, as in nats-server (`nsc` writes -1 for "no limit").

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// nats-io/jwt's `NoLimit`.
pub const NO_LIMIT: i64 = -1;

/// The registered claims every NATS JWT carries (nats-io/jwt's `ClaimsData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClaimsData {
    #[serde(rename = "aud")]
    pub audience: String,
    /// Unix seconds; 0 = never.
    #[serde(rename = "exp")]
    pub expires: i64,
    #[serde(rename = "jti")]
    pub id: String,
    #[serde(rename = "iat")]
    pub issued_at: i64,
    #[serde(rename = "iss")]
    pub issuer: String,
    pub name: String,
    /// Unix seconds; 0 = at once.
    #[serde(rename = "nbf")]
    pub not_before: i64,
    #[serde(rename = "sub")]
    pub subject: String,
}

/// A decoded JWT: the registered claims and the type's own (`nats`) part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Default"))]
pub struct Claims<T> {
    #[serde(flatten)]
    pub data: ClaimsData,
    #[serde(default)]
    pub nats: T,
}

/// `nats` of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Operator {
    pub signing_keys: Vec<String>,
    pub account_server_url: String,
    pub system_account: String,
    pub strict_signing_key_usage: bool,
    pub tags: Vec<String>,
}

/// `pub` / `sub` of permissions: allow and deny lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Permission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `resp`: the user may publish to reply subjects of requests it received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    pub max: i64,
    /// A Go `time.Duration`: nanoseconds.
    pub ttl: i64,
}

/// `pub`, `sub`, `resp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Permissions {
    #[serde(rename = "pub")]
    pub publish: Permission,
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    /// Whether nothing is restricted (nats-server then gives the user no permissions).
    pub fn is_empty(&self) -> bool {
        self.publish == Permission::default()
            && self.subscribe == Permission::default()
            && self.resp.is_none()
    }
}

/// A time of day range a user may connect in (`"08:00:00"` to `"17:00:00"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// What a user JWT (or a scoped signing key's template) allows: permissions, limits, and
/// how the user may connect (nats-io/jwt's `UserPermissionLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    /// CIDRs the user may connect from: a list, or one comma-separated string.
    #[serde(deserialize_with = "string_or_list")]
    pub src: Vec<String>,
    pub times: Vec<TimeRange>,
    pub times_location: String,
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub bearer_token: bool,
    pub allowed_connection_types: Vec<String>,
}

/// `nats` of a user JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account, when a signing key of it issued the JWT.
    pub issuer_account: String,
    pub tags: Vec<String>,
}

/// `limits` of an account JWT: connections and messages, and JetStream's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub imports: i64,
    pub exports: i64,
    pub wildcards: bool,
    pub disallow_bearer: bool,
    pub conn: i64,
    pub leaf: i64,
    pub mem_storage: i64,
    pub disk_storage: i64,
    pub streams: i64,
    pub consumer: i64,
    pub max_ack_pending: i64,
    pub mem_max_stream_bytes: i64,
    pub disk_max_stream_bytes: i64,
    pub max_bytes_required: bool,
    /// JetStream limits by replica tier (`R1`, `R3`, ...).
    pub tiered_limits: BTreeMap<String, JetStreamTier>,
}

/// One tier of `tiered_limits` (nats-io/jwt's `JetStreamLimits`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JetStreamTier {
    pub mem_storage: i64,
    pub disk_storage: i64,
    pub streams: i64,
    pub consumer: i64,
    pub max_ack_pending: i64,
    pub mem_max_stream_bytes: i64,
    pub disk_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl JetStreamTier {
    fn enabled(&self) -> bool {
        self.mem_storage != 0 || self.disk_storage != 0
    }
}

/// The replica tier a single server runs every stream in.
pub const SINGLE_SERVER_TIER: &str = "R1";

impl AccountLimits {
    /// nats-io/jwt's `IsJSEnabled`: storage of either kind in a tier, or (without tiers)
    /// in the untiered limits.
    pub fn jetstream_enabled(&self) -> bool {
        if self.tiered_limits.is_empty() {
            self.untiered().enabled()
        } else {
            self.tiered_limits.values().any(JetStreamTier::enabled)
        }
    }

    /// The JetStream limits a single server applies, when JetStream is enabled: the
    /// untiered ones if they give storage (nats-server prefers them), else the `R1` tier (a
    /// single server has no other replicas), else no storage at all (nats-server refuses
    /// R1 streams without an applicable tier).
    pub fn jetstream_tier(&self) -> Option<JetStreamTier> {
        if !self.jetstream_enabled() {
            return None;
        }
        let untiered = self.untiered();
        if untiered.enabled() {
            return Some(untiered);
        }
        Some(
            self.tiered_limits
                .get(SINGLE_SERVER_TIER)
                .copied()
                .unwrap_or_default(),
        )
    }

    fn untiered(&self) -> JetStreamTier {
        JetStreamTier {
            mem_storage: self.mem_storage,
            disk_storage: self.disk_storage,
            streams: self.streams,
            consumer: self.consumer,
            max_ack_pending: self.max_ack_pending,
            mem_max_stream_bytes: self.mem_max_stream_bytes,
            disk_max_stream_bytes: self.disk_max_stream_bytes,
            max_bytes_required: self.max_bytes_required,
        }
    }
}

/// An export's or import's `type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    #[default]
    Unknown,
    Stream,
    Service,
}

/// `service_latency` of a service export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ServiceLatency {
    /// 1 to 100 percent; nats-io/jwt writes `"headers"` as 0.
    #[serde(deserialize_with = "sampling")]
    pub sampling: i64,
    pub results: String,
}

/// One entry of an account JWT's `exports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Export {
    pub name: String,
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: ExportType,
    /// Importers need an activation token (a private export).
    pub token_req: bool,
    /// `Singleton`, `Stream` or `Chunked`.
    pub response_type: String,
    /// A Go `time.Duration`: nanoseconds.
    pub response_threshold: i64,
    pub service_latency: Option<ServiceLatency>,
    pub account_token_position: usize,
    /// Activation tokens revoked: importing account (or `*`) -> Unix seconds; a token
    /// issued at or before it is revoked.
    pub revocations: BTreeMap<String, i64>,
}

impl Export {
    /// nats-server's `isRevoked` for the activation of `account` issued at `issued_at`.
    pub fn is_activation_revoked(&self, account: &str, issued_at: i64) -> bool {
        let at = |k: &str| self.revocations.get(k).is_some_and(|t| *t >= issued_at);
        at(account) || at(REVOKE_ALL)
    }
}

/// `nats` of an activation JWT: the exporting account (or one of its signing keys) lets
/// the account in `sub` import `subject` (nats-io/jwt's `Activation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Activation {
    /// The subject the importer may import (its own may be inside it).
    pub subject: String,
    /// `stream` or `service`.
    pub kind: ExportType,
    /// The exporting account, when one of its signing keys issued the token.
    pub issuer_account: String,
}

/// One entry of an account JWT's `imports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Import {
    pub name: String,
    /// A stream's subject in the exporter; a service's subject as the importer publishes
    /// it (nats-io/jwt's reading: the initial publisher's view).
    pub subject: String,
    pub account: String,
    /// An activation token (a JWT, or a URL to fetch one from).
    pub token: String,
    pub to: String,
    pub local_subject: String,
    #[serde(rename = "type")]
    pub kind: ExportType,
    pub share: bool,
}

/// A signing key of an account: plain, or scoped with the template its users get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    Plain(String),
    Scoped(Box<UserScope>),
}

/// A scoped signing key (`"kind": "user_scope"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserScope {
    pub kind: String,
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
    pub description: String,
}

impl SigningKey {
    pub fn key(&self) -> &str {
        match self {
            SigningKey::Plain(k) => k,
            SigningKey::Scoped(s) => &s.key,
        }
    }
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Plain(String),
            Scoped(Box<UserScope>),
        }
        match Raw::deserialize(d)? {
            Raw::Plain(k) => Ok(SigningKey::Plain(k)),
            Raw::Scoped(s) if s.kind == "user_scope" => Ok(SigningKey::Scoped(s)),
            Raw::Scoped(s) => Err(serde::de::Error::custom(format!(
                "unknown signing key scope {:?}",
                s.kind
            ))),
        }
    }
}

/// `nats` of an account JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Account {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub limits: AccountLimits,
    pub signing_keys: Vec<SigningKey>,
    /// User key (or `*` for all) -> Unix seconds: JWTs issued at or before are revoked.
    pub revocations: BTreeMap<String, i64>,
    pub default_permissions: Permissions,
    pub tags: Vec<String>,
    pub description: String,
    pub info_url: String,
}

/// nats-io/jwt's `All`: a revocation of every user.
pub const REVOKE_ALL: &str = "*";

impl Account {
    /// nats-server's `isRevoked`: a user JWT issued at or before its key's revocation time,
    /// or the time of the revocation of all users.
    pub fn is_revoked(&self, user: &str, issued_at: i64) -> bool {
        let at = |k: &str| self.revocations.get(k).is_some_and(|t| *t >= issued_at);
        at(user) || at(REVOKE_ALL)
    }

    /// The signing key `key`, if the account has it.
    pub fn signing_key(&self, key: &str) -> Option<&SigningKey> {
        self.signing_keys.iter().find(|k| k.key() == key)
    }
}

/// nats-io/jwt's `CIDRList`: an array of strings, or one comma-separated string.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        One(String),
        Null(()),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(l) => l,
        Raw::One(s) => s
            .to_lowercase()
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Raw::Null(()) => Vec::new(),
    })
}

/// nats-io/jwt's `SamplingRate`: a number, or `"headers"` (0).
fn sampling<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Number(n) => n,
        Raw::Text(s) if s.eq_ignore_ascii_case("headers") => 0,
        Raw::Text(s) => s.trim_end_matches('%').parse().unwrap_or(0),
    })
}
