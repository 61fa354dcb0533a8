//! Accounts from JWTs (operator mode): registered on first lookup through the resolver,
//! with the exports and imports their JWT declares, and updated when a newer JWT arrives:
//! clients over the new connection limit, revoked users, users of a signing key that was
//! removed and bearer users the account no longer allows are disconnected as nats-server
//! does (`updateAccountClaimsWithRefresh`), and every client's limits are applied again.

use std::sync::Arc;

use super::account::{Account, AccountJwt};
use super::client::ClientShared;
use super::close::CloseReason;
use super::imports::{self, ServiceImportSpec};
use super::latency::LatencyConfig;
use super::operator::{AccountJwtError, Trust};
use super::server::Server;
use crate::jwt;
use crate::options::{
    AccountConfig, Export, ImportKind, ResponseType, ServiceLatencyConfig,
    DEFAULT_RESPONSE_THRESHOLD,
};
use crate::proto::errors;
use crate::{log_debug, log_error};

/// Called for every account, those registered already when it is installed and each one
/// registered afterwards.
pub type AccountObserver = Arc<dyn Fn(&Arc<Server>, &Arc<Account>) + Send + Sync>;

/// The installed observers; locked while an account is registered, so that an observer
/// installed meanwhile sees each account exactly once.
#[derive(Default)]
pub struct AccountObservers(parking_lot::Mutex<Vec<AccountObserver>>);

impl std::fmt::Debug for AccountObservers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountObservers({})", self.0.lock().len())
    }
}

/// Why an account JWT update was not applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Jwt(#[from] AccountJwtError),
    #[error("subject does not match jwt content")]
    Subject,
}

impl Server {
    /// Operator mode's trust (operators and resolver), when the server runs in it.
    pub fn trust(&self) -> Option<&Trust> {
        self.trust.as_ref()
    }

    /// The account `name`: registered already, or (operator mode) fetched from the resolver,
    /// verified and registered now. nats-server's `LookupAccount`.
    pub fn lookup_account(self: &Arc<Self>, name: &str) -> Option<Arc<Account>> {
        if let Some(account) = self.account(name) {
            return Some(account);
        }
        let trust = self.trust.as_ref()?;
        let Some(token) = trust.resolver.fetch(name) else {
            log_debug!("Account JWT lookup error: account {} not found", name);
            return None;
        };
        let claims = match trust.verify_account(&token) {
            Ok(c) if c.data.subject == name => c,
            Ok(_) => {
                log_debug!("Account JWT lookup error: subject does not match {}", name);
                return None;
            }
            Err(e) => {
                log_debug!("Account JWT lookup error: {}", e);
                return None;
            }
        };
        let account = Arc::new(Account::new(name));
        let exports_services = claims
            .nats
            .exports
            .iter()
            .any(|e| e.kind == jwt::ExportType::Service);
        account.set_jwt(Arc::new(AccountJwt { token, claims }));
        let (account, new) = self.register_account(account);
        if new {
            if exports_services {
                imports::take_responses(self, &account);
            }
            self.configure_jwt_imports(&account);
        }
        Some(account)
    }

    /// Adds `account` unless one of its name is there already (a lookup in another task won
    /// the race); returns the registered one and whether it is `account`.
    fn register_account(self: &Arc<Self>, account: Arc<Account>) -> (Arc<Account>, bool) {
        let observers = self.account_observers.0.lock();
        {
            let mut map = self.accounts.write();
            if let Some(existing) = map.get(&account.name) {
                return (existing.clone(), false);
            }
            map.insert(account.name.clone(), account.clone());
        }
        log_debug!("Registered account {}", account.name);
        for observer in observers.iter() {
            observer(self, &account);
        }
        (account, true)
    }

    /// Installs `observer` and calls it for every account registered so far.
    pub fn add_account_observer(self: &Arc<Self>, observer: AccountObserver) {
        let mut observers = self.account_observers.0.lock();
        for account in self.accounts() {
            observer(self, &account);
        }
        observers.push(observer);
    }

    /// Operator mode: the system account's JWT from the resolver, applied once the server
    /// exists (the account itself is created with the server).
    pub(super) fn load_system_account_jwt(self: &Arc<Self>) {
        let (Some(trust), Some(system)) = (&self.trust, self.system_account()) else {
            return;
        };
        let Some(token) = trust.resolver.fetch(&system.name) else {
            return;
        };
        match trust.verify_account(&token) {
            Ok(claims) if claims.data.subject == system.name => {
                system.set_jwt(Arc::new(AccountJwt { token, claims }));
            }
            Ok(_) => log_error!("System account JWT does not match {}", system.name),
            Err(e) => log_error!("System account JWT of {}: {}", system.name, e),
        }
    }

    /// The imports of an account JWT, set up as nats-server's `updateAccountClaims` does;
    /// an import of an export that is missing, private (activation tokens are not
    /// supported) or of an unknown account is left out and logged.
    fn configure_jwt_imports(self: &Arc<Self>, account: &Arc<Account>) {
        let Some(jwt) = account.jwt() else {
            return;
        };
        for import in &jwt.claims.nats.imports {
            let Some(exporter) = self.lookup_account(&import.account) else {
                log_error!(
                    "Can't locate account [{}] for import of [{}] {:?}",
                    import.account,
                    import.subject,
                    import.kind
                );
                continue;
            };
            if let Err(e) = self.add_jwt_import(account, &exporter, import) {
                log_debug!(
                    "Error adding {:?} import to account [{}]: {}",
                    import.kind,
                    account.name,
                    e
                );
            }
        }
    }

    fn add_jwt_import(
        self: &Arc<Self>,
        importer: &Arc<Account>,
        exporter: &Arc<Account>,
        import: &jwt::Import,
    ) -> Result<(), String> {
        let exports = exporter
            .jwt()
            .map(|j| exports_of(&exporter.name, &j.claims.nats.exports))
            .unwrap_or_default();
        match import.kind {
            jwt::ExportType::Stream => {
                let from = &import.subject;
                let to = if !import.local_subject.is_empty() {
                    import.local_subject.clone()
                } else if !import.to.is_empty() {
                    format!("{}.{from}", import.to.trim_end_matches('.'))
                } else {
                    from.clone()
                };
                exports
                    .export_approving(ImportKind::Stream, from, &importer.name)
                    .ok_or("stream import not authorized")?;
                imports::import_stream(importer, exporter, from, &to)
            }
            jwt::ExportType::Service => {
                let (local, remote) = if !import.local_subject.is_empty() {
                    (import.local_subject.clone(), import.subject.clone())
                } else if !import.to.is_empty() {
                    (import.subject.clone(), import.to.clone())
                } else {
                    (import.subject.clone(), import.subject.clone())
                };
                let export = exports
                    .export_approving(ImportKind::Service, &remote, &importer.name)
                    .ok_or("service import not authorized")?;
                let spec = ServiceImportSpec {
                    local,
                    subject: remote,
                    response_type: export.response_type,
                    threshold: export
                        .response_threshold
                        .unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
                    share: import.share,
                    latency: export.latency.as_ref().map(|l| LatencyConfig {
                        subject: l.subject.clone(),
                        sampling_percent: l.sampling_percent,
                    }),
                };
                imports::import_service(self, importer, exporter, spec)
            }
            jwt::ExportType::Unknown => Err("unknown import type".to_string()),
        }
    }

    /// An account JWT update (`$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE` and the like): applied
    /// to the account when it is registered; `Ok(false)` when it is not (nothing to do yet).
    pub fn update_account_jwt(
        self: &Arc<Self>,
        name: &str,
        token: &str,
    ) -> Result<bool, UpdateError> {
        let Some(trust) = &self.trust else {
            return Ok(false);
        };
        let Some(account) = self.account(name) else {
            return Ok(false);
        };
        if account.jwt().is_some_and(|j| j.token == token) {
            log_debug!(
                "Requested account update for [{}], same claims detected",
                name
            );
            return Ok(true);
        }
        let claims = trust.verify_account(token)?;
        if claims.data.subject != name {
            return Err(UpdateError::Subject);
        }
        log_debug!("Updating account claims: {}/{}", name, claims.data.name);
        let old = account.jwt();
        let jwt = Arc::new(AccountJwt {
            token: token.to_string(),
            claims,
        });
        account.set_jwt(jwt.clone());
        self.enforce_account_jwt(&account, old.as_deref(), &jwt);
        Ok(true)
    }

    /// Applies a new account JWT to the account's clients, oldest first.
    fn enforce_account_jwt(
        &self,
        account: &Arc<Account>,
        old: Option<&AccountJwt>,
        new: &AccountJwt,
    ) {
        let clients: Vec<Arc<ClientShared>> = self
            .clients()
            .into_iter()
            .filter(|c| !c.is_leaf() && Arc::ptr_eq(&c.account(), account))
            .collect();
        let claims = &new.claims.nats;
        let max_conns = new.max_connections();
        let mut count = 0u64;
        for client in clients {
            if max_conns.is_some_and(|max| count >= max) {
                close_with(
                    &client,
                    errors::MAX_ACCOUNT_CONNECTIONS_EXCEEDED,
                    CloseReason::MaxAccountConnectionsExceeded,
                );
                continue;
            }
            count += 1;
            let Some(user) = client.meta.lock().jwt.clone() else {
                continue;
            };
            client.apply_limits(
                &user,
                Some(new),
                self.opts.max_payload,
                self.opts.max_subscriptions,
            );
            if user.bearer && claims.limits.disallow_bearer {
                close_with(
                    &client,
                    errors::AUTHORIZATION_VIOLATION,
                    CloseReason::AuthenticationFailure,
                );
            } else if claims.is_revoked(&user.public_key, user.issued_at) {
                close_with(
                    &client,
                    errors::USER_AUTHENTICATION_REVOKED,
                    CloseReason::Revocation,
                );
            } else if let Some(key) = &user.signing_key {
                // A user of a signing key that is gone, or whose scope changed, must
                // authenticate again.
                let before = old.and_then(|o| o.claims.nats.signing_key(key));
                let now = claims.signing_key(key);
                if now.is_none() || before != now {
                    client.close(CloseReason::AuthenticationFailure, true);
                }
            }
        }
    }
}

/// Queues `-ERR 'text'` and closes the client after it is written.
fn close_with(client: &ClientShared, text: &str, reason: CloseReason) {
    log_debug!("{} - cid:{} - {}", client.addr, client.cid, text);
    client.send_protocol(&errors::err_line(text));
    client.close(reason, true);
}

/// An account JWT's exports as the configuration's, so that the import checks of
/// `options::AccountConfig` apply. An export that needs an activation token is approved for
/// no one: activation tokens are not supported.
fn exports_of(name: &str, exports: &[jwt::Export]) -> AccountConfig {
    let exports = exports
        .iter()
        .filter_map(|e| {
            let kind = match e.kind {
                jwt::ExportType::Stream => ImportKind::Stream,
                jwt::ExportType::Service => ImportKind::Service,
                jwt::ExportType::Unknown => return None,
            };
            let response_type = match e.response_type.as_str() {
                "Stream" => ResponseType::Streamed,
                "Chunked" => ResponseType::Chunked,
                _ => ResponseType::Singleton,
            };
            Some(Export {
                kind,
                subject: e.subject.clone(),
                accounts: e.token_req.then(Vec::new),
                account_token_position: e.account_token_position,
                response_type,
                response_threshold: u64::try_from(e.response_threshold)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(std::time::Duration::from_nanos),
                latency: e.service_latency.as_ref().map(|l| ServiceLatencyConfig {
                    sampling_percent: u8::try_from(l.sampling.clamp(0, 100)).unwrap_or(100),
                    subject: l.results.clone(),
                }),
            })
        })
        .collect();
    AccountConfig {
        name: name.to_string(),
        exports,
        ..Default::default()
    }
}
