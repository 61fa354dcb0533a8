//! Accounts from JWTs (operator mode): registered on first lookup through the resolver,
//! with the exports and imports their JWT declares (private exports through activation
//! tokens), and updated when a newer JWT arrives, as nats-server does it
//! (`updateAccountClaimsWithRefresh`): imports are re-done, importers of changed exports
//! re-checked, JetStream follows the limits (through the update observers), and clients
//! over the new connection limit, revoked users, users of a signing key that was removed
//! and bearer users the account no longer allows are disconnected; every client's limits
//! are applied again. An account JWT's `exp`, and its imports' activation expiries, are
//! one timer task each.

use std::sync::Arc;
use std::time::Duration;

use super::account::{Account, AccountJwt};
use super::client::ClientShared;
use super::close::CloseReason;
use super::imports::{self, ServiceImportSpec};
use super::latency::LatencyConfig;
use super::operator::{AccountJwtError, Trust};
use super::server::Server;
use crate::jwt;
use crate::options::{ImportKind, ResponseType, DEFAULT_RESPONSE_THRESHOLD};
use crate::proto::errors;
use crate::{log_debug, log_error};

/// Called for every account, those registered already when it is installed and each one
/// registered afterwards.
pub type AccountObserver = Arc<dyn Fn(&Arc<Server>, &Arc<Account>) + Send + Sync>;

/// The installed observers; locked while an account is registered, so that an observer
/// installed meanwhile sees each account exactly once.
#[derive(Default)]
pub struct AccountObservers(
    parking_lot::Mutex<Vec<AccountObserver>>,
    /// Called after an account JWT update.
    parking_lot::Mutex<Vec<AccountObserver>>,
    /// Serialises account JWT updates, deletions and activation expiries, so that two
    /// arriving together cannot leave imports of the older claims behind (re-entrant: an
    /// update looks up exporters, which may update an expired one).
    parking_lot::ReentrantMutex<()>,
);

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
    /// verified and registered now. nats-server's `LookupAccount`: a registered account
    /// whose JWT expired is looked up again in the resolver, and is not returned while it
    /// stays expired.
    pub fn lookup_account(self: &Arc<Self>, name: &str) -> Option<Arc<Account>> {
        if let Some(account) = self.account(name) {
            if !account.is_expired() {
                return Some(account);
            }
            log_debug!("Requested account [{}] has expired", name);
            let token = self.trust.as_ref()?.resolver.fetch(name)?;
            if let Err(e) = self.update_account_jwt(name, &token) {
                log_debug!("Account JWT lookup error: {}", e);
            }
            return (!account.is_expired()).then_some(account);
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
            self.check_expiration(&account);
            self.configure_jwt_imports(&account);
            self.complete_importers(&account);
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

    /// Installs `observer`, called after an account JWT update was applied to an account,
    /// or after its JWT was deleted (then the account is expired): JetStream follows the
    /// new limits with it.
    pub fn add_account_update_observer(self: &Arc<Self>, observer: AccountObserver) {
        self.account_observers.1.lock().push(observer);
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
                self.check_expiration(system);
            }
            Ok(_) => log_error!("System account JWT does not match {}", system.name),
            Err(e) => log_error!("System account JWT of {}: {}", system.name, e),
        }
    }

    /// The imports of an account JWT, set up (or re-done after an update) as nats-server's
    /// `updateAccountClaims` does: an import of an export that is missing, not approved for
    /// this account (a missing, forged, expired or revoked activation token) or of an
    /// unknown account is left out and logged. Imports that stay as they were keep working
    /// without a gap; the earliest activation expiry re-does them again.
    pub(crate) fn configure_jwt_imports(self: &Arc<Self>, account: &Arc<Account>) {
        let Some(jwt) = account.jwt() else {
            return;
        };
        let label = trace_label(account);
        let now = jwt::now_unix();
        let (mut streams, mut services) = (Vec::new(), Vec::new());
        let mut next_expiry: Option<i64> = None;
        let mut incomplete = false;
        for import in &jwt.claims.nats.imports {
            let Some(exporter) = self.lookup_account(&import.account) else {
                incomplete = true;
                log_error!(
                    "Can't locate account [{}] for import of [{}] {} (err=account missing)",
                    import.account,
                    import.subject,
                    jwt::kind_name(import.kind)
                );
                continue;
            };
            match plan_import(account, &exporter, import, now) {
                Ok((planned, expires)) => {
                    if let Some(at) = expires {
                        next_expiry = Some(next_expiry.map_or(at, |n| n.min(at)));
                    }
                    match planned {
                        Planned::Stream { from, to } => {
                            log_debug!(
                                "Adding stream import {}:{:?} for {}:{:?}",
                                trace_label(&exporter),
                                from,
                                label,
                                to
                            );
                            streams.push((exporter, from, to));
                        }
                        Planned::Service(spec) => {
                            log_debug!(
                                "Adding service import {}:{:?} for {}:{:?}",
                                trace_label(&exporter),
                                spec.local,
                                label,
                                spec.subject
                            );
                            services.push((exporter, spec));
                        }
                    }
                }
                Err(e) => log_debug!(
                    "Error adding {} import to account [{}]: {}",
                    jwt::kind_name(import.kind),
                    label,
                    e
                ),
            }
        }
        imports::set_stream_imports(self, account, streams);
        imports::set_claim_service_imports(self, account, services);
        self.set_activation_timer(account, next_expiry);
        account
            .incomplete
            .store(incomplete, std::sync::atomic::Ordering::Release);
    }

    /// A newly registered account: the accounts whose imports of it could not be set up
    /// before (it was unknown) get them now.
    fn complete_importers(self: &Arc<Self>, exporter: &Arc<Account>) {
        self.reconfigure_importers(exporter, |account| {
            account
                .incomplete
                .load(std::sync::atomic::Ordering::Acquire)
        });
    }

    /// Re-does the imports of every other registered account that imports from
    /// `exporter`: what its exports now allow (nats-server re-checks them as `invalid`).
    fn refresh_importers(self: &Arc<Self>, exporter: &Arc<Account>) {
        self.reconfigure_importers(exporter, |_| true);
    }

    /// Sets up again the JWT imports of the other accounts that `which` picks and whose
    /// claims import from `exporter`.
    fn reconfigure_importers(
        self: &Arc<Self>,
        exporter: &Arc<Account>,
        which: impl Fn(&Account) -> bool,
    ) {
        for account in self.accounts() {
            if Arc::ptr_eq(&account, exporter) || !which(&account) {
                continue;
            }
            let imports_from_it = account.jwt().is_some_and(|j| {
                j.claims
                    .nats
                    .imports
                    .iter()
                    .any(|i| i.account == exporter.name)
            });
            if imports_from_it {
                self.configure_jwt_imports(&account);
            }
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
        let _serial = self.account_observers.2.lock();
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
        self.check_expiration(&account);
        self.apply_exports_and_imports(&account, old.as_deref(), &jwt);
        let observers = self.account_observers.1.lock().clone();
        for observer in observers {
            observer(self, &account);
        }
        self.enforce_account_jwt(&account, old.as_deref(), &jwt);
        Ok(true)
    }

    /// nats-server's re-doing of exports and imports in `updateAccountClaimsWithRefresh`:
    /// the account's own imports follow the new JWT, and when what it exports (or who may
    /// sign its activation tokens, or which are revoked) changed, so do the imports of the
    /// accounts importing from it.
    fn apply_exports_and_imports(
        self: &Arc<Self>,
        account: &Arc<Account>,
        old: Option<&AccountJwt>,
        new: &AccountJwt,
    ) {
        let claims = &new.claims.nats;
        if claims
            .exports
            .iter()
            .any(|e| e.kind == jwt::ExportType::Service)
        {
            imports::take_responses(self, account);
        }
        self.configure_jwt_imports(account);
        let exports_changed = old.is_none_or(|o| {
            o.claims.nats.exports != claims.exports
                || o.claims.nats.signing_keys != claims.signing_keys
        });
        if exports_changed {
            self.refresh_importers(account);
        }
    }

    /// nats-server's `checkExpiration`: an account JWT with an `exp` gets a timer that
    /// disconnects the account's users then (`Account Authentication Expired`); one that
    /// expired already marks the account expired.
    pub(crate) fn check_expiration(self: &Arc<Self>, account: &Arc<Account>) {
        let expires = account.jwt().map_or(0, |j| j.claims.data.expires);
        let mut timers = account.timers.lock();
        if let Some(old) = timers.expiry.take() {
            old.abort();
        }
        if expires == 0 {
            account.set_expired(false);
            return;
        }
        if expires <= jwt::now_unix() {
            account.set_expired(true);
            return;
        }
        account.set_expired(false);
        let weak = Arc::downgrade(account);
        timers.expiry = self.at_unix_time(expires, move |server| {
            if let Some(account) = weak.upgrade() {
                server.account_expired(&account);
            }
        });
    }

    /// An account JWT deleted from the resolver (`$SYS.REQ.CLAIMS.DELETE`): as nats-server's
    /// `removeCb`, a registered account is expired at once (its clients get
    /// `Account Authentication Expired`), loses its imports and timers, and is not found by
    /// later lookups.
    pub fn account_jwt_deleted(self: &Arc<Self>, name: &str) {
        let Some(account) = self.account(name) else {
            return;
        };
        let _serial = self.account_observers.2.lock();
        log_debug!("Disable account {} due to remove", name);
        account.set_expired(true);
        {
            let mut timers = account.timers.lock();
            for timer in [timers.expiry.take(), timers.activation.take()]
                .into_iter()
                .flatten()
            {
                timer.abort();
            }
        }
        imports::set_stream_imports(self, &account, Vec::new());
        imports::set_claim_service_imports(self, &account, Vec::new());
        let observers = self.account_observers.1.lock().clone();
        for observer in observers {
            observer(self, &account);
        }
        for client in self.clients() {
            if Arc::ptr_eq(&client.account(), &account) {
                close_with(&client, ACCOUNT_EXPIRED, CloseReason::AuthenticationExpired);
            }
        }
    }

    /// nats-server's `expiredTimeout`: the account is expired and its clients are closed.
    fn account_expired(&self, account: &Arc<Account>) {
        let still = account
            .jwt()
            .is_some_and(|j| j.claims.data.expires > 0 && j.claims.data.expires <= jwt::now_unix());
        if !still {
            return;
        }
        account.set_expired(true);
        for client in self.clients() {
            if Arc::ptr_eq(&client.account(), account) {
                close_with(&client, ACCOUNT_EXPIRED, CloseReason::AuthenticationExpired);
            }
        }
    }

    /// Re-does the account's imports when the earliest of their activation tokens
    /// expires (nats-server's `activationExpired`).
    fn set_activation_timer(self: &Arc<Self>, account: &Arc<Account>, at: Option<i64>) {
        let mut timers = account.timers.lock();
        if let Some(old) = timers.activation.take() {
            old.abort();
        }
        let Some(at) = at else {
            return;
        };
        let weak = Arc::downgrade(account);
        timers.activation = self.at_unix_time(at, move |server| {
            if let Some(account) = weak.upgrade() {
                log_debug!(
                    "Activation expired for imports of account [{}]",
                    account.name
                );
                let _serial = server.account_observers.2.lock();
                server.configure_jwt_imports(&account);
            }
        });
    }

    /// Runs `f` once at the Unix time `at` (seconds), on the runtime, unless the server is
    /// gone by then. `None` outside a runtime (nothing to run it on).
    fn at_unix_time(
        self: &Arc<Self>,
        at: i64,
        f: impl FnOnce(Arc<Server>) + Send + 'static,
    ) -> Option<tokio::task::AbortHandle> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        // A time past what the clock can hold (a JWT may say anything) never comes.
        let target = std::time::UNIX_EPOCH
            .checked_add(Duration::from_secs(u64::try_from(at).unwrap_or(0)))?;
        let delay = target
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let server = Arc::downgrade(self);
        let task = runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(server) = server.upgrade() {
                f(server);
            }
        });
        Some(task.abort_handle())
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

/// nats-server's text when an account JWT expires under its users.
const ACCOUNT_EXPIRED: &str = "Account Authentication Expired";

/// nats-server's `traceLabel`: the public key, and the JWT's name after a slash.
fn trace_label(account: &Account) -> String {
    let tag = account.name_tag();
    if tag.is_empty() {
        account.name.clone()
    } else {
        format!("{}/{}", account.name, tag)
    }
}

/// An import of an account JWT, checked against its exporter's JWT.
enum Planned {
    Stream { from: String, to: String },
    Service(ServiceImportSpec),
}

/// What `import` (of `importer`'s JWT) sets up with `exporter`, and when its activation
/// token expires; `Err` with nats-server's reason when it is not allowed.
fn plan_import(
    importer: &Account,
    exporter: &Account,
    import: &jwt::Import,
    now: i64,
) -> Result<(Planned, Option<i64>), String> {
    let exporter_jwt = exporter.jwt();
    let exporter_claims = exporter_jwt.as_ref().map(|j| &j.claims.nats);
    let no_exports = Vec::new();
    let exports = exporter_claims.map_or(&no_exports, |c| &c.exports);
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
            let expires = approved(
                exporter,
                exports,
                ImportKind::Stream,
                from,
                importer,
                import,
                now,
            )
            .ok_or("stream import not authorized")?
            .1;
            Ok((
                Planned::Stream {
                    from: from.clone(),
                    to,
                },
                expires,
            ))
        }
        jwt::ExportType::Service => {
            let (local, remote) = if !import.local_subject.is_empty() {
                (import.local_subject.clone(), import.subject.clone())
            } else if !import.to.is_empty() {
                (import.subject.clone(), import.to.clone())
            } else {
                (import.subject.clone(), import.subject.clone())
            };
            let (export, expires) = approved(
                exporter,
                exports,
                ImportKind::Service,
                &remote,
                importer,
                import,
                now,
            )
            .ok_or("service import not authorized")?;
            let response_type = match export.response_type.as_str() {
                "Stream" => ResponseType::Streamed,
                "Chunked" => ResponseType::Chunked,
                _ => ResponseType::Singleton,
            };
            let spec = ServiceImportSpec {
                local,
                subject: remote,
                response_type,
                threshold: u64::try_from(export.response_threshold)
                    .ok()
                    .filter(|n| *n > 0)
                    .map_or(DEFAULT_RESPONSE_THRESHOLD, Duration::from_nanos),
                share: import.share,
                latency: export.service_latency.as_ref().map(|l| LatencyConfig {
                    subject: l.results.clone(),
                    sampling_percent: u8::try_from(l.sampling.clamp(0, 100)).unwrap_or(100),
                }),
            };
            Ok((Planned::Service(spec), expires))
        }
        jwt::ExportType::Unknown => Err("invalid import type".to_string()),
    }
}

/// The export of `exports` that lets `importer` import `subject` (nats-server's
/// `checkStreamExportApproved` / `checkServiceExportApproved`: the export of exactly that
/// subject, else one covering it), with the expiry of the activation token it needed.
fn approved<'a>(
    exporter: &Account,
    exports: &'a [jwt::Export],
    kind: ImportKind,
    subject: &str,
    importer: &Account,
    import: &jwt::Import,
    now: i64,
) -> Option<(&'a jwt::Export, Option<i64>)> {
    let want = match kind {
        ImportKind::Stream => jwt::ExportType::Stream,
        ImportKind::Service => jwt::ExportType::Service,
    };
    let of_kind = || exports.iter().filter(move |e| e.kind == want);
    let (export, exact) = match of_kind().find(|e| e.subject == subject) {
        Some(e) => (e, true),
        None => (
            of_kind().find(|e| crate::proto::subject::is_subset(subject, &e.subject))?,
            false,
        ),
    };
    // nats-server's `checkAuth`: the account token position first, then the token.
    if export.account_token_position > 0 {
        let token = subject.split('.').nth(export.account_token_position - 1);
        return (!exact && token == Some(importer.name.as_str())).then_some((export, None));
    }
    if !export.token_req {
        return Some((export, None));
    }
    match check_activation(exporter, export, importer, import, now) {
        Ok(expires) => Some((export, expires)),
        Err(e) => {
            log_debug!(
                "Activation token of import {:?} of account [{}] refused: {}",
                import.subject,
                importer.name,
                e
            );
            None
        }
    }
}

/// nats-server's `checkActivation` (with nats-io/jwt's `Import.Validate`): the import's
/// `token` is an activation JWT issued by the exporter (or one of its signing keys, named
/// with `issuer_account`), for the importing account, of the import's type, for a subject
/// that contains the import's, in force, and not revoked by the export. `Ok` carries the
/// token's expiry.
fn check_activation(
    exporter: &Account,
    export: &jwt::Export,
    importer: &Account,
    import: &jwt::Import,
    now: i64,
) -> Result<Option<i64>, String> {
    let act = jwt::validate_import_token(import, &importer.name)?
        .ok_or_else(|| "no activation token".to_string())?;
    // nats-server's `isIssuerClaimTrusted`.
    if !act.nats.issuer_account.is_empty() {
        if act.nats.issuer_account != exporter.name {
            log_error!(
                "Invalid issuer account {:?} in activation claim (subject: {:?} - type: {:?}) for account {:?}",
                act.nats.issuer_account,
                act.nats.subject,
                jwt::kind_name(act.nats.kind),
                exporter.name
            );
            return Err("invalid issuer account".to_string());
        }
        let signer = &act.data.issuer;
        let known = *signer == exporter.name
            || exporter
                .jwt()
                .is_some_and(|j| j.claims.nats.signing_key(signer).is_some());
        if !known {
            return Err(format!("activation issuer {signer} is not a signing key"));
        }
    }
    jwt::check_times(&act.data, now).map_err(|e| e.to_string())?;
    let expires = (act.data.expires != 0).then_some(act.data.expires);
    if expires.is_some_and(|at| at <= now) {
        return Err(jwt::JwtError::Expired.to_string());
    }
    if export.is_activation_revoked(&act.data.subject, act.data.issued_at) {
        return Err("activation token revoked".to_string());
    }
    Ok(expires)
}
