//! Authentication, as nats-server's `processClientOrLeafAuthentication` decides it for client
//! connections: nkeys (a signature over the nonce sent in INFO), a users list (plain text or
//! bcrypt passwords), a single user/password, or a token; `no_auth_user` for clients that
//! send no credentials; and the account each user is bound to.
//!
//! Secrets are compared in constant time (`subtle`), or with bcrypt when the configured value
//! is a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$` and a two-digit cost), in which case
//! sending the hash itself fails as any wrong password does.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::account::Account;
use super::permissions::CompiledPermissions;
use crate::options::{AuthOptions, Permissions, User};
use crate::proto::info::ConnectOptions;

/// nats-server's `nonceRawLen`: 11 random bytes, sent as 15 raw-URL base64 characters.
const NONCE_RAW_LEN: usize = 11;

/// Who a connection turned out to be.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: Arc<Account>,
    /// `None` = no permissions: everything allowed.
    pub permissions: Option<Arc<CompiledPermissions>>,
    /// The user name or nkey, for monitoring and events.
    pub user: Option<String>,
}

#[derive(Debug)]
struct UserEntry {
    name: String,
    password: String,
    account: Arc<Account>,
    permissions: Option<Arc<CompiledPermissions>>,
}

/// The configured identities, indexed once at start-up.
#[derive(Debug)]
pub struct Authenticator {
    required: bool,
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
    users: HashMap<String, UserEntry>,
    nkeys: HashMap<String, UserEntry>,
    no_auth_user: Option<String>,
    global: Arc<Account>,
    /// Operator mode: users present JWTs (checked by `jwt_auth`), never the lists here.
    operator: bool,
}

fn compile(p: &Option<Permissions>) -> Option<Arc<CompiledPermissions>> {
    p.as_ref().map(|p| Arc::new(CompiledPermissions::new(p)))
}

impl Authenticator {
    /// `accounts` resolves the configured account names (every one of `opts.accounts`).
    pub fn new(
        opts: &AuthOptions,
        global: Arc<Account>,
        accounts: &HashMap<String, Arc<Account>>,
    ) -> Self {
        let mut users = HashMap::new();
        let mut nkeys = HashMap::new();
        let mut add = |u: &User, account: &Arc<Account>| {
            let entry = |name: &str| UserEntry {
                name: name.to_string(),
                password: u.password.clone().unwrap_or_default(),
                account: account.clone(),
                permissions: compile(&u.permissions),
            };
            if let Some(nkey) = &u.nkey {
                nkeys.insert(nkey.clone(), entry(nkey));
            } else if let Some(name) = &u.user {
                users.insert(name.clone(), entry(name));
            }
        };
        for u in &opts.users {
            add(u, &global);
        }
        for acc in &opts.accounts {
            let account = accounts.get(&acc.name).unwrap_or(&global);
            for u in &acc.users {
                add(u, account);
            }
        }
        Authenticator {
            required: opts.is_required(),
            token: opts.token.clone(),
            user: opts.user.clone(),
            password: opts.password.clone(),
            users,
            nkeys,
            no_auth_user: opts.no_auth_user.clone(),
            global,
            operator: false,
        }
    }

    /// Operator mode: authentication is required and INFO carries a nonce.
    pub fn with_operator(mut self, operator: bool) -> Self {
        if operator {
            self.operator = true;
            self.required = true;
        }
        self
    }

    /// Whether users authenticate with JWTs (operator mode).
    pub fn operator(&self) -> bool {
        self.operator
    }

    /// Whether clients must authenticate (CONNECT first, within the auth timeout).
    pub fn required(&self) -> bool {
        self.required
    }

    /// What INFO says: nats-server reports `auth_required: false` when a `no_auth_user`
    /// lets clients in without credentials.
    pub fn advertised_required(&self) -> bool {
        self.required && self.no_auth_user.is_none()
    }

    /// nats-server sends a nonce whenever nkey users exist.
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty() || self.operator
    }

    /// Whether configured passwords are stored in plain text (nats-server warns about it).
    pub fn has_plaintext_passwords(&self) -> bool {
        let plain = |p: &str| !p.is_empty() && !is_bcrypt(p);
        self.password.as_deref().is_some_and(plain)
            || self.token.as_deref().is_some_and(plain)
            || self.users.values().any(|u| plain(&u.password))
    }

    /// nats-server's parser fast path: with a `no_auth_user` that is a users-list entry, an
    /// operation other than CONNECT first authenticates as that user.
    pub fn no_auth_fast_path(&self) -> bool {
        self.no_auth_user
            .as_deref()
            .is_some_and(|n| self.users.contains_key(n))
    }

    /// [`Authenticator::authenticate`] on a listener with `verify_and_map`: when users are
    /// configured, the user is the one the client certificate maps to (see `tls_map`), and
    /// CONNECT's user and password do not count; an nkey still signs in as an nkey.
    pub fn authenticate_cert(
        &self,
        cert: Option<&super::tls_map::CertNames>,
        connect: &ConnectOptions,
        nonce: &[u8],
    ) -> Option<Identity> {
        let nkey = connect.nkey.as_deref().is_some_and(|n| !n.is_empty());
        if !self.required || self.users.is_empty() || (nkey && !self.nkeys.is_empty()) {
            return self.authenticate(connect, nonce);
        }
        let name = cert?.find_user(self.users.keys().map(String::as_str))?;
        if let Some(offered) = connect.user.as_deref().filter(|u| !u.is_empty()) {
            crate::log_warn!(
                "User {:?} found in connect proto, but user required from cert",
                offered
            );
        }
        self.users.get(name).map(identity)
    }

    /// Checks CONNECT's credentials; `nonce` is what INFO carried (empty when none).
    pub fn authenticate(&self, connect: &ConnectOptions, nonce: &[u8]) -> Option<Identity> {
        if !self.required {
            return Some(Identity {
                account: self.global.clone(),
                permissions: None,
                user: None,
            });
        }
        let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        let no_credentials =
            empty(&connect.user) && empty(&connect.pass) && empty(&connect.auth_token);
        let no_auth = self.no_auth_user.as_deref();

        let mut nkey_name = connect.nkey.clone().filter(|n| !n.is_empty());
        let mut nkey = None;
        if !self.nkeys.is_empty() {
            if let Some(n) = no_auth {
                if no_credentials && nkey_name.is_none() && self.nkeys.contains_key(n) {
                    nkey_name = Some(n.to_string());
                }
            }
            if let Some(name) = &nkey_name {
                nkey = Some(self.nkeys.get(name)?);
            }
        }
        if let Some(entry) = nkey {
            if Some(entry.name.as_str()) != no_auth && !verify_nonce_signature(connect, nonce) {
                return None;
            }
            return Some(identity(entry));
        }

        if !self.users.is_empty() {
            let mut name = connect.user.clone().filter(|u| !u.is_empty());
            let mut pass = connect.pass.clone().unwrap_or_default();
            if let Some(n) = no_auth {
                if no_credentials {
                    if let Some(u) = self.users.get(n) {
                        name = Some(u.name.clone());
                        pass = u.password.clone();
                    }
                }
            }
            if let Some(name) = name {
                let entry = self.users.get(&name)?;
                return compare_secret(&entry.password, &pass).then(|| identity(entry));
            }
        }

        let accepted = if let Some(token) = &self.token {
            compare_secret(token, connect.auth_token.as_deref().unwrap_or_default())
        } else if let Some(user) = &self.user {
            connect.user.as_deref() == Some(user.as_str())
                && compare_secret(
                    self.password.as_deref().unwrap_or_default(),
                    connect.pass.as_deref().unwrap_or_default(),
                )
        } else {
            false
        };
        accepted.then(|| Identity {
            account: self.global.clone(),
            permissions: None,
            user: connect.user.clone().filter(|_| self.user.is_some()),
        })
    }
}

fn identity(entry: &UserEntry) -> Identity {
    Identity {
        account: entry.account.clone(),
        permissions: entry.permissions.clone(),
        user: Some(entry.name.clone()),
    }
}

/// nats-server's `validBcryptPrefix`: `$2a$`, `$2b$`, `$2x$` or `$2y$`, then two digits.
pub fn is_bcrypt(secret: &str) -> bool {
    let b = secret.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// nats-server's `comparePasswords`: bcrypt when the configured secret is a hash, else a
/// constant-time comparison.
pub fn compare_secret(configured: &str, offered: &str) -> bool {
    if is_bcrypt(configured) {
        let check = || bcrypt::verify(offered, configured).unwrap_or(false);
        // A bcrypt check takes tens of milliseconds: keep it off a shared worker's back.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(check),
            _ => check(),
        }
    } else {
        configured.as_bytes().ct_eq(offered.as_bytes()).into()
    }
}

/// The client's `sig` must be an Ed25519 signature of the nonce by its `nkey`. The signature
/// is raw-URL base64, with standard base64 accepted too.
fn verify_nonce_signature(connect: &ConnectOptions, nonce: &[u8]) -> bool {
    let (Some(sig), Some(key)) = (connect.sig.as_deref(), connect.nkey.as_deref()) else {
        return false;
    };
    if sig.is_empty() {
        return false;
    }
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig));
    let Ok(sig) = decoded else {
        return false;
    };
    let Ok(public) = nkeys::KeyPair::from_public_key(key) else {
        return false;
    };
    public.verify(nonce, &sig).is_ok()
}

/// A fresh nonce for INFO, or `None` if the system's random source failed.
pub fn new_nonce() -> Option<String> {
    let mut raw = [0u8; NONCE_RAW_LEN];
    getrandom::getrandom(&mut raw).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

impl super::client::Conn {
    /// nats-server's parser fast path: an operation other than CONNECT arrived first while
    /// authentication is required. With a `no_auth_user` from the users list, the client
    /// is authenticated as that user right there; returns whether it was.
    pub(crate) fn no_auth_user_fast_path(&mut self) -> bool {
        if !self.authenticator().no_auth_fast_path() {
            return false;
        }
        self.auth_deadline = None;
        let nonce = self.nonce.clone().unwrap_or_default();
        match self
            .authenticator()
            .authenticate(&ConnectOptions::default(), nonce.as_bytes())
        {
            Some(identity) => {
                let user = identity.user.clone().unwrap_or_default();
                self.shared.meta.lock().user = user;
                self.adopt(identity);
                true
            }
            None => false,
        }
    }

    /// Tells the inspector a client failed to authenticate, and the system account's events
    /// unless it was the auth timeout (nats-server reports only authorization violations).
    pub(crate) fn auth_failure_event(&self, user: Option<String>) {
        crate::log_debug!(
            "{} - cid:{} - Authentication failure",
            self.shared.addr,
            self.shared.cid
        );
        // The timeout is the one failure whose deadline has passed: a CONNECT clears the
        // deadline before it is checked, and an operation before CONNECT comes before it.
        let timed_out = self
            .auth_deadline
            .is_some_and(|d| d <= std::time::Instant::now());
        if !timed_out {
            self.server
                .client_auth_failed(&self.shared, user.as_deref().unwrap_or_default());
        }
        self.server
            .tap
            .event(crate::inspect::snapshot::EventKind::AuthFailure {
                addr: self.shared.addr,
                user: user.unwrap_or_default(),
            });
    }

    /// Keeps what a CONNECT that failed to authenticate said (name, language, version), as
    /// nats-server does: its events and closed connections show them.
    pub(crate) fn remember_failed_connect(&self, connect: &ConnectOptions) {
        let mut meta = self.shared.meta.lock();
        meta.name = connect.name.clone().unwrap_or_default();
        meta.lang = connect.lang.clone().unwrap_or_default();
        meta.version = connect.version.clone().unwrap_or_default();
        if meta.rtt.is_none() {
            meta.rtt = self.shared.start.elapsed().ok();
        }
    }
}
