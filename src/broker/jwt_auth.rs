//! A client's login with a user JWT (operator mode), checked in nats-server's order
//! (`processClientOrLeafAuthentication`): the JWT decodes and is in force; its account
//! (the issuer, or `issuer_account` for a signing key) resolves; the issuer is the account
//! or one of its signing keys (a scoped key's template replaces the user's permissions and
//! limits); the account allows bearer tokens if the JWT is one; the connection type is
//! allowed; the nonce is signed by the user's key (not for bearer tokens); the user is not
//! revoked; the client's address is in `src`; the time of day is in `times`. Each refusal
//! is logged at debug level with nats-server's words; the client gets
//! `-ERR 'Authorization Violation'`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use super::account::{Account, AccountJwt};
use super::auth::Identity;
use super::client::{ClientShared, Transport};
use super::permissions::CompiledPermissions;
use super::server::Server;
use crate::jwt::{self, SigningKey, UserPermissionLimits};
use crate::options::{Permissions, ResponsePermission, SubjectPermission};
use crate::proto::info::ConnectOptions;

/// What the connection keeps of its user JWT (monitoring, revocations, limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserJwt {
    pub token: String,
    /// The user's public key (`sub`).
    pub public_key: String,
    /// The account's public key.
    pub account: String,
    /// The signing key that issued the JWT, when not the account's own key.
    pub signing_key: Option<String>,
    pub issued_at: i64,
    /// The JWT's `name` and `tags`.
    pub name: String,
    pub tags: Vec<String>,
    pub bearer: bool,
    /// `payload` and `subs` of the user (or its scope's template); -1 = no limit.
    pub payload: i64,
    pub subs: i64,
}

impl UserJwt {
    /// nats-server's `issuerForClient`: the signing key, else the account.
    pub fn issuer_key(&self) -> &str {
        self.signing_key.as_deref().unwrap_or(&self.account)
    }
}

/// A successful login.
#[derive(Debug)]
pub(crate) struct JwtLogin {
    pub identity: Identity,
    pub user: Arc<UserJwt>,
    /// How long the login holds (the JWT's `exp`, the end of its time range).
    pub valid_for: Option<Duration>,
    /// The permissions `identity` holds compiled, as written (a leaf link reverses them).
    pub permissions: Option<Permissions>,
}

macro_rules! refuse {
    ($client:expr, $($arg:tt)*) => {{
        crate::log_debug!("{} - cid:{} - {}", $client.addr, $client.cid, format!($($arg)*));
        return None;
    }};
}

impl Server {
    pub(crate) fn authenticate_jwt(
        self: &Arc<Self>,
        connect: &ConnectOptions,
        nonce: &[u8],
        client: &ClientShared,
    ) -> Option<JwtLogin> {
        let token = connect.jwt.as_deref().unwrap_or_default();
        if token.is_empty() {
            refuse!(client, "Authentication requires a user JWT");
        }
        let claims = match jwt::decode_user(token) {
            Ok(c) => c,
            Err(e) => refuse!(client, "User JWT not valid: {e}"),
        };
        let now = jwt::now_unix();
        if let Err(e) = jwt::check_times(&claims.data, now) {
            refuse!(client, "User JWT no longer valid: {e}");
        }
        let user = &claims.nats;
        let issuer = if user.issuer_account.is_empty() {
            &claims.data.issuer
        } else {
            &user.issuer_account
        };
        let Some(account) = self.lookup_account(issuer) else {
            refuse!(client, "Account JWT lookup error: {issuer}");
        };
        let Some(account_jwt) = account.jwt() else {
            refuse!(client, "Account JWT not signed by trusted operator");
        };
        let acc = &account_jwt.claims.nats;
        let mut limits = user.limits.clone();
        let mut signing_key = None;
        if claims.data.issuer != account.name {
            match acc.signing_key(&claims.data.issuer) {
                None => refuse!(client, "User JWT issuer is not known"),
                Some(SigningKey::Plain(_)) => {}
                Some(SigningKey::Scoped(scope)) => {
                    if !is_unrestricted(&limits) {
                        refuse!(
                            client,
                            "User JWT is not valid: scoped users require no permissions or \
                             limits set"
                        );
                    }
                    // nats-server's `processUserPermissionsTemplate`: the template's
                    // `{{...}}` placeholders become this user's values.
                    limits = match jwt::expand_user_template(
                        &scope.template,
                        &claims,
                        &account_jwt.claims.data.name,
                        &acc.tags,
                    ) {
                        Ok(l) => l,
                        Err(e) => {
                            crate::log_debug!("Template of scoped signing key: {}", e);
                            refuse!(client, "User JWT generated invalid permissions")
                        }
                    };
                }
            }
            if !user.issuer_account.is_empty() {
                signing_key = Some(claims.data.issuer.clone());
            }
        }
        let account_expires = account_jwt.claims.data.expires;
        if account.is_expired() || (account_expires > 0 && account_expires <= now) {
            refuse!(client, "Account JWT has expired");
        }
        if limits.bearer_token && acc.limits.disallow_bearer {
            refuse!(client, "Account does not allow bearer tokens");
        }
        if !connection_type_allowed(&limits.allowed_connection_types, client.transport()) {
            refuse!(client, "Connection type not allowed");
        }
        if !limits.bearer_token {
            let Some(sig) = connect.sig.as_deref().filter(|s| !s.is_empty()) else {
                refuse!(client, "Signature missing");
            };
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig));
            let Ok(sig) = decoded else {
                refuse!(client, "Signature not valid base64");
            };
            let Ok(key) = nkeys::KeyPair::from_public_key(&claims.data.subject) else {
                refuse!(client, "User nkey not valid");
            };
            if key.verify(nonce, &sig).is_err() {
                refuse!(client, "Signature not verified");
            }
        }
        if acc.is_revoked(&claims.data.subject, claims.data.issued_at) {
            refuse!(client, "User authentication revoked");
        }
        if !src_allowed(&limits.src, client.addr.ip()) {
            crate::log_error!(
                "{} - cid:{} - Bad src Ip {}",
                client.addr,
                client.cid,
                client.addr.ip()
            );
            return None;
        }
        let Some(in_range_for) = times_allowed(&limits) else {
            crate::log_error!(
                "{} - cid:{} - Outside connect times",
                client.addr,
                client.cid
            );
            return None;
        };
        let expires_in = (claims.data.expires > 0)
            .then(|| Duration::from_secs(u64::try_from(claims.data.expires - now).unwrap_or(0)));
        let valid_for = match (expires_in, in_range_for) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let raw_permissions = permissions_of(&limits.permissions)
            .or_else(|| permissions_of(&acc.default_permissions));
        let permissions = raw_permissions
            .as_ref()
            .map(|p| Arc::new(CompiledPermissions::new(p)));
        crate::log_debug!(
            "{} - cid:{} - Authenticated JWT: Client {:?} (claim-name: {:?}) signed with {:?} by Account {:?} (claim-name: {:?})",
            client.addr,
            client.cid,
            claims.data.subject,
            claims.data.name,
            claims.data.issuer,
            account.name,
            account_jwt.claims.data.name
        );
        let user = Arc::new(UserJwt {
            token: token.to_string(),
            public_key: claims.data.subject.clone(),
            account: account.name.clone(),
            signing_key,
            issued_at: claims.data.issued_at,
            name: claims.data.name.clone(),
            tags: user.tags.clone(),
            bearer: limits.bearer_token,
            payload: limits.payload,
            subs: limits.subs,
        });
        Some(JwtLogin {
            identity: Identity {
                account,
                permissions,
                user: Some(claims.data.subject.clone()),
            },
            user,
            valid_for,
            permissions: raw_permissions,
        })
    }

    /// Whether `account` has room for one more client (counting `client`, registered
    /// already) under its JWT's `limits.conn`.
    pub(crate) fn account_has_room(&self, account: &Arc<Account>, jwt: &AccountJwt) -> bool {
        let Some(max) = jwt.max_connections() else {
            return true;
        };
        let mut count = 0u64;
        self.for_each_client(|c| {
            if !c.is_leaf() && Arc::ptr_eq(&c.account(), account) {
                count += 1;
            }
        });
        count <= max
    }
}

/// nats-io/jwt's `HasEmptyPermissions`, required of a scoped key's user: every permission
/// and limit at its zero value (`nsc` writes none for such users; -1 counts as set).
fn is_unrestricted(l: &UserPermissionLimits) -> bool {
    *l == UserPermissionLimits::default()
}

/// nats-io/jwt's permissions as the configuration's (nats-server's
/// `buildPermissionsFromJwt`); `None` when they restrict nothing.
fn permissions_of(p: &jwt::Permissions) -> Option<Permissions> {
    if p.is_empty() {
        return None;
    }
    let list = |l: &jwt::Permission| {
        (!l.allow.is_empty() || !l.deny.is_empty()).then(|| SubjectPermission {
            allow: l.allow.clone(),
            deny: l.deny.clone(),
        })
    };
    Some(Permissions {
        publish: list(&p.publish),
        subscribe: list(&p.subscribe),
        allow_responses: p.resp.as_ref().map(|r| ResponsePermission {
            // nats-server's `validateResponsePermissions`: 0 means the defaults.
            max_msgs: usize::try_from(r.max).ok().filter(|n| *n != 0).unwrap_or(1),
            expires: u64::try_from(r.ttl)
                .ok()
                .filter(|n| *n != 0)
                .map(Duration::from_nanos)
                .unwrap_or(Duration::from_secs(120)),
        }),
    })
}

/// `allowed_connection_types`: empty allows all; types this server does not know are
/// ignored, but a list of only unknown types allows nothing (nats-server's rule).
fn connection_type_allowed(types: &[String], transport: Transport) -> bool {
    const KNOWN: &[&str] = &[
        "STANDARD",
        "WEBSOCKET",
        "LEAFNODE",
        "LEAFNODE_WS",
        "MQTT",
        "MQTT_WS",
        "IN_PROCESS",
    ];
    if types.is_empty() {
        return true;
    }
    let known: Vec<String> = types
        .iter()
        .map(|t| t.to_ascii_uppercase())
        .filter(|t| KNOWN.contains(&t.as_str()))
        .collect();
    let mine = match transport {
        Transport::Tcp | Transport::Tls => "STANDARD",
        Transport::Ws | Transport::Wss => "WEBSOCKET",
    };
    known.iter().any(|t| t == mine)
}

/// nats-server's `validateSrc`: no list, or an address inside one of the CIDRs.
fn src_allowed(src: &[String], ip: IpAddr) -> bool {
    src.is_empty() || src.iter().any(|cidr| cidr_contains(cidr, ip))
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.trim().split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
    (net & mask) == (ip & mask)
}

/// nats-server's `validateTimes`: `Some(None)` when there are no ranges, `Some(Some(d))`
/// when now is inside one (and it ends in `d`), `None` when outside every range. Ranges are
/// in local time, or UTC with `times_location: "UTC"`; other locations are refused (no time
/// zone database here).
fn times_allowed(l: &UserPermissionLimits) -> Option<Option<Duration>> {
    if l.times.is_empty() {
        return Some(None);
    }
    let seconds_now = match l.times_location.as_str() {
        "" | "Local" => seconds_of_day(chrono::Local::now().time()),
        "UTC" | "Etc/UTC" => seconds_of_day(chrono::Utc::now().time()),
        _ => return None,
    };
    let mut best: Option<u64> = None;
    for range in &l.times {
        let (Some(start), Some(end)) = (parse_hms(&range.start), parse_hms(&range.end)) else {
            return None;
        };
        let left = if start <= end {
            (start..end)
                .contains(&seconds_now)
                .then(|| end - seconds_now)
        } else if seconds_now >= start {
            Some(86_400 - seconds_now + end)
        } else {
            (seconds_now < end).then(|| end - seconds_now)
        };
        if let Some(left) = left {
            best = Some(best.map_or(left, |b| b.max(left)));
        }
    }
    best.map(|s| Some(Duration::from_secs(s)))
}

fn seconds_of_day(t: chrono::NaiveTime) -> u64 {
    use chrono::Timelike as _;
    u64::from(t.num_seconds_from_midnight())
}

fn parse_hms(s: &str) -> Option<u64> {
    chrono::NaiveTime::parse_from_str(s, "%H:%M:%S")
        .ok()
        .map(seconds_of_day)
}

impl super::client::Conn {
    /// After a JWT login adopted its account: the user's limits, what monitoring shows, and
    /// the account's connection limit (nats-server's `registerWithAccount`). Returns the
    /// step that closes the connection when the account is full.
    pub(crate) fn adopt_jwt_user(&mut self, user: Arc<UserJwt>) -> Option<super::client::Step> {
        let account_jwt = self.account.jwt();
        let opts = &self.server.opts;
        self.shared.apply_limits(
            &user,
            account_jwt.as_deref(),
            opts.max_payload,
            opts.max_subscriptions,
        );
        self.shared.meta.lock().jwt = Some(user);
        let full = account_jwt.is_some_and(|j| !self.server.account_has_room(&self.account, &j));
        if full {
            crate::log_error!(
                "{} - cid:{} - {}",
                self.shared.addr,
                self.shared.cid,
                crate::proto::errors::MAX_ACCOUNT_CONNECTIONS_EXCEEDED
            );
            self.send_err(crate::proto::errors::MAX_ACCOUNT_CONNECTIONS_EXCEEDED);
            return Some(super::client::Step::Close(
                super::close::CloseReason::MaxAccountConnectionsExceeded,
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_contain_their_addresses_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(cidr_contains("127.0.0.0/8", ip("127.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("127.0.0.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("192.168.1.1")));
        assert!(cidr_contains("::1/128", ip("::1")));
        assert!(!cidr_contains("nonsense", ip("::1")));
        assert!(!cidr_contains("127.0.0.1/33", ip("127.0.0.1")));
        assert!(src_allowed(&[], ip("1.2.3.4")));
    }

    #[test]
    fn unknown_connection_types_alone_allow_nothing() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(connection_type_allowed(&[], Transport::Tcp));
        assert!(connection_type_allowed(&t(&["standard"]), Transport::Tls));
        assert!(!connection_type_allowed(&t(&["WEBSOCKET"]), Transport::Tcp));
        assert!(!connection_type_allowed(&t(&["FUTURE"]), Transport::Tcp));
        assert!(connection_type_allowed(
            &t(&["FUTURE", "WEBSOCKET"]),
            Transport::Ws
        ));
    }
}
