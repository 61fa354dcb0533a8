//! Decentralised authentication (operator mode): the trusted operators' JWTs, the account
//! resolver and its preloaded account JWTs, with nats-server's names.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's default `interval` of the full resolver's synchronisation with others.
pub const DEFAULT_RESOLVER_INTERVAL: Duration = Duration::from_secs(120);

/// `operator`, `resolver`, `resolver_preload`. Operator mode is on when `operators` is not
/// empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorOptions {
    /// The trusted operators' JWTs (`operator: FILE` or the JWT itself; several allowed).
    pub operators: Vec<String>,
    /// The `system_account` of the (single) operator's JWT, used when the configuration
    /// names none (nats-server's rule).
    pub system_account: Option<String>,
    /// `resolver`; `None` when not configured.
    pub resolver: Option<ResolverOptions>,
    /// `resolver_preload { <account public key>: <account JWT> }`, sorted by key.
    pub preload: Vec<(String, String)>,
}

impl OperatorOptions {
    /// Whether the server runs in operator mode (users must present a user JWT).
    pub fn enabled(&self) -> bool {
        !self.operators.is_empty()
    }
}

/// Where account JWTs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolverOptions {
    /// `resolver: MEMORY`: the preloaded JWTs, updated in memory only.
    Memory,
    /// `resolver { type: full, dir, allow_delete, hard_delete, interval, limit }`: every
    /// account JWT kept as `<dir>/<public key>.jwt`.
    Full(DirResolverOptions),
}

/// The full directory resolver's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DirResolverOptions {
    pub dir: PathBuf,
    /// `allow_delete`: `$SYS.REQ.CLAIMS.DELETE` may remove account JWTs.
    pub allow_delete: bool,
    /// `hard_delete`: deleted JWTs are removed, not renamed to `.jwt.deleted`.
    pub hard_delete: bool,
    /// `interval`: how often resolvers compare their stores (nats-server's cluster sync;
    /// kept for `/varz`, a single server has no one to compare with).
    pub interval: Duration,
    /// `limit`: the most account JWTs the directory may hold (0 = no limit).
    pub limit: i64,
}
