//! An account: its own subject space. Messages cross accounts only through the exports and
//! imports the configuration declares (see `imports`).

use std::sync::atomic::{AtomicU64, Ordering};
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
        }
    }

    /// Moves whenever a subscription is added or removed; read without the lock.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
