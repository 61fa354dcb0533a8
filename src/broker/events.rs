//! The engine's notifications about clients, for the service that reports them as
//! nats-server's system events (`$SYS.ACCOUNT.<acc>.CONNECT`, `.DISCONNECT`,
//! `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`), and the system account itself.
//!
//! One observer at most ([`Server::set_client_events`]); without one, each notification
//! costs a check of an empty cell. The engine calls it in the connection's own task, right
//! where nats-server queues the event, so the order is nats-server's: an authentication
//! failure before the close it causes, a connect before anything the client publishes.

use std::collections::HashMap;
use std::sync::Arc;

use super::account::Account;
use super::client::ClientShared;
use super::server::{ClosedClient, Server};
use crate::options::{Options, DEFAULT_SYSTEM_ACCOUNT};

/// What a service is told about clients. Runs in the client's task: keep it short and never
/// block on the network.
pub trait ClientEvents: Send + Sync + std::fmt::Debug {
    /// A CONNECT was accepted: the client's account, user and CONNECT fields are set.
    fn connected(&self, server: &Arc<Server>, client: &Arc<ClientShared>);
    /// A connection closed, whether or not it ever connected (nats-server reports every
    /// client, those that failed to authenticate under the global account); it has left
    /// the registry, and `closed` is what `/connz?state=closed` keeps of it.
    fn closed(&self, server: &Arc<Server>, client: &Arc<ClientShared>, closed: &ClosedClient);
    /// A client failed to authenticate (`user` is the name or nkey it offered, or empty);
    /// it is closed right after.
    fn auth_failed(&self, server: &Arc<Server>, client: &Arc<ClientShared>, user: &str);
}

impl Server {
    /// Installs the observer of clients; false (and nothing changes) when one is already
    /// installed.
    pub fn set_client_events(&self, observer: Arc<dyn ClientEvents>) -> bool {
        self.client_events.set(observer).is_ok()
    }

    /// The account of the `$SYS` events and requests, unless there is none
    /// (`no_system_account`).
    pub fn system_account(&self) -> Option<&Arc<Account>> {
        self.system_account.as_ref()
    }

    pub(crate) fn client_connected(self: &Arc<Self>, client: &Arc<ClientShared>) {
        if let Some(observer) = self.client_events.get() {
            observer.connected(self, client);
        }
    }

    pub(crate) fn client_auth_failed(self: &Arc<Self>, client: &Arc<ClientShared>, user: &str) {
        if let Some(observer) = self.client_events.get() {
            observer.auth_failed(self, client, user);
        }
    }

    pub(super) fn notify_closed(self: &Arc<Self>, client: &Arc<ClientShared>, c: &ClosedClient) {
        if let Some(observer) = self.client_events.get() {
            observer.closed(self, client, c);
        }
    }
}

/// The system account of a server about to start, as nats-server picks it: the configured
/// account `system_account` names, or a `$SYS` account created for it (added to
/// `accounts`, so that clients can be bound to it and monitoring lists it). `Err` names a
/// `system_account` that no configured account has.
pub(super) fn system_account(
    opts: &Options,
    accounts: &mut HashMap<String, Arc<Account>>,
) -> Result<Option<Arc<Account>>, String> {
    let Some(name) = opts.system_account_name() else {
        return Ok(None);
    };
    if let Some(account) = accounts.get(name) {
        return Ok(Some(account.clone()));
    }
    // In operator mode the system account is a public key whose JWT the resolver holds; it
    // is applied once the server runs (`Server::load_system_account_jwt`).
    if name != DEFAULT_SYSTEM_ACCOUNT && !opts.operator.enabled() {
        return Err("account missing".to_string());
    }
    let account = Arc::new(Account::new(name));
    accounts.insert(name.to_string(), account.clone());
    Ok(Some(account))
}
