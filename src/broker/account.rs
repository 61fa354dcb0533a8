//! An account: its own subject space. Messages never cross accounts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::sublist::Sublist;

/// The global account's name, as nats-server calls it.
pub const GLOBAL_ACCOUNT: &str = "$G";

#[derive(Debug)]
pub struct Account {
    pub name: String,
    pub sublist: RwLock<Sublist>,
    generation: Arc<AtomicU64>,
}

impl Account {
    pub fn new(name: &str) -> Self {
        let sublist = Sublist::new();
        let generation = sublist.generation();
        Account {
            name: name.to_string(),
            sublist: RwLock::new(sublist),
            generation,
        }
    }

    /// Moves whenever a subscription is added or removed; read without the lock.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
