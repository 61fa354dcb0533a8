//! An account: its own subject space. Messages cross accounts only through the exports and
//! imports the configuration declares (see `imports`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::sublist::Sublist;

/// The global account's name, as nats-server calls it.
pub const GLOBAL_ACCOUNT: &str = "$G";

#[derive(Debug)]
pub struct Account {
    pub name: String,
    pub sublist: RwLock<Sublist>,
    generation: Arc<AtomicU64>,
    /// Stream imports: each local subscription that overlaps one gets a shadow in the
    /// exporter (set once when the server starts).
    pub stream_imports: RwLock<Vec<Arc<super::imports::StreamImport>>>,
    /// Service imports (their internal subscriptions route the requests; kept here for
    /// their counters).
    pub service_imports: RwLock<Vec<Arc<super::imports::ServiceImport>>>,
    /// Where the replies of requests routed to this account through service imports go.
    pub responses: Mutex<super::imports::Responses>,
    /// In operator mode, the account JWT in force (replaced when an update arrives).
    jwt: RwLock<Option<Arc<AccountJwt>>>,
    /// The account JWT's `exp` passed (nats-server's `expired`): its users were
    /// disconnected and new ones are refused until a newer JWT arrives.
    expired: AtomicBool,
    /// An import of the account JWT named an account the resolver did not have: the
    /// imports are done again when that account is registered (nats-server's
    /// `incomplete`).
    pub(crate) incomplete: AtomicBool,
    /// The timers of the account JWT's expiry and of its imports' earliest activation
    /// expiry, replaced with the JWT (a task each, asleep until then).
    pub(crate) timers: Mutex<AccountTimers>,
}

/// The one-shot timers an account JWT sets.
#[derive(Debug, Default)]
pub(crate) struct AccountTimers {
    pub expiry: Option<tokio::task::AbortHandle>,
    pub activation: Option<tokio::task::AbortHandle>,
}

impl Drop for AccountTimers {
    fn drop(&mut self) {
        for timer in [self.expiry.take(), self.activation.take()]
            .into_iter()
            .flatten()
        {
            timer.abort();
        }
    }
}

/// An account JWT the server verified, and its claims.
#[derive(Debug)]
pub struct AccountJwt {
    pub token: String,
    pub claims: crate::jwt::Claims<crate::jwt::Account>,
}

impl AccountJwt {
    /// A limit of the claims as nats-server applies it: `None` when unlimited (-1).
    fn limit(n: i64) -> Option<u64> {
        u64::try_from(n).ok()
    }

    /// `limits.conn`: the most client connections at once.
    pub fn max_connections(&self) -> Option<u64> {
        Self::limit(self.claims.nats.limits.conn)
    }

    /// `limits.payload`.
    pub fn max_payload(&self) -> Option<u64> {
        Self::limit(self.claims.nats.limits.payload)
    }

    /// `limits.subs`: per connection, as nats-server applies it.
    pub fn max_subscriptions(&self) -> Option<u64> {
        Self::limit(self.claims.nats.limits.subs)
    }

    /// The JetStream limits of the claims, when they enable JetStream: untiered, or the
    /// `R1` tier (nats-server's mapping: a non-positive per-stream or ack-pending limit
    /// means unlimited).
    pub fn jetstream_limits(&self) -> Option<crate::options::AccountJetStreamLimits> {
        let l = self.claims.nats.limits.jetstream_tier()?;
        let unlimited = |n: i64| if n > 0 { n } else { -1 };
        Some(crate::options::AccountJetStreamLimits {
            max_memory: l.mem_storage,
            max_store: l.disk_storage,
            max_streams: l.streams,
            max_consumers: l.consumer,
            max_ack_pending: unlimited(l.max_ack_pending),
            memory_max_stream_bytes: unlimited(l.mem_max_stream_bytes),
            storage_max_stream_bytes: unlimited(l.disk_max_stream_bytes),
            max_bytes_required: l.max_bytes_required,
        })
    }
}

impl Account {
    pub fn new(name: &str) -> Self {
        let sublist = Sublist::new();
        let generation = sublist.generation();
        Account {
            name: name.to_string(),
            sublist: RwLock::new(sublist),
            generation,
            stream_imports: RwLock::new(Vec::new()),
            service_imports: RwLock::new(Vec::new()),
            responses: Mutex::new(Default::default()),
            jwt: RwLock::new(None),
            expired: AtomicBool::new(false),
            incomplete: AtomicBool::new(false),
            timers: Mutex::new(AccountTimers::default()),
        }
    }

    /// The account JWT in force (operator mode), if any.
    pub fn jwt(&self) -> Option<Arc<AccountJwt>> {
        self.jwt.read().clone()
    }

    pub(crate) fn set_jwt(&self, jwt: Arc<AccountJwt>) {
        *self.jwt.write() = Some(jwt);
    }

    /// Whether the account JWT expired while the account was registered.
    pub fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }

    pub(crate) fn set_expired(&self, expired: bool) {
        self.expired.store(expired, Ordering::Release);
    }

    /// The account JWT's `name` (nats-server's name tag), or empty.
    pub fn name_tag(&self) -> String {
        self.jwt
            .read()
            .as_ref()
            .map(|j| j.claims.data.name.clone())
            .unwrap_or_default()
    }

    /// Moves whenever a subscription is added or removed; read without the lock.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
