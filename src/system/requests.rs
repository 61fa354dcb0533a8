//! The request services of the system account: `$SYS.REQ.SERVER.PING[.<endpoint>]`,
//! `$SYS.REQ.SERVER.<id>.<endpoint>`, `$SYS.REQ.ACCOUNT.<acc>.<endpoint>`,
//! `$SYS.REQ.ACCOUNT.PING.STATZ` and `$SYS.REQ.USER.INFO`, answered as nats-server answers
//! them: most in its `{server, data, error}` envelope with the same data as the HTTP
//! endpoints, `STATSZ` and `IDZ` bare.
//!
//! [`Request::parse`] and [`SystemAccount::answer`] know nothing of how the request arrived,
//! so that a service import (a non-system account's `$SYS.REQ.ACCOUNT.PING.CONNZ`, mapped to
//! `$SYS.REQ.ACCOUNT.<acc>.CONNZ`) can be answered by the same code.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::events::{AccountStat, EventServer, ServerStatsMsg};
use super::reqopts::{self, EventFilter, ServerIdentity};
use super::SystemAccount;
use crate::broker::client::ClientShared;
use crate::broker::close::CloseReason;
use crate::broker::server::Server;
use crate::monitor::format::{compact_json, GoTime};
use crate::monitor::{absent, accountz, connz, jsz, leafz, subsz};
use crate::options::{Permissions, User};

/// The endpoints of `$SYS.REQ.SERVER.PING.<endpoint>` and `$SYS.REQ.SERVER.<id>.<endpoint>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEndpoint {
    Idz,
    Statsz,
    Varz,
    Subsz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Accountz,
    Jsz,
    Healthz,
    /// Closes a connection; only addressed to one server (`$SYS.REQ.SERVER.<id>.KICK`).
    Kick,
}

impl ServerEndpoint {
    fn parse(token: &str) -> Option<Self> {
        Some(match token {
            "IDZ" => Self::Idz,
            "STATSZ" => Self::Statsz,
            "VARZ" => Self::Varz,
            "SUBSZ" => Self::Subsz,
            "CONNZ" => Self::Connz,
            "ROUTEZ" => Self::Routez,
            "GATEWAYZ" => Self::Gatewayz,
            "LEAFZ" => Self::Leafz,
            "ACCOUNTZ" => Self::Accountz,
            "JSZ" => Self::Jsz,
            "HEALTHZ" => Self::Healthz,
            "KICK" => Self::Kick,
            _ => return None,
        })
    }
}

/// The endpoints of `$SYS.REQ.ACCOUNT.<acc>.<endpoint>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountEndpoint {
    Subsz,
    Connz,
    Leafz,
    Jsz,
    Info,
    Statz,
    Conns,
}

impl AccountEndpoint {
    fn parse(token: &str) -> Option<Self> {
        Some(match token {
            "SUBSZ" => Self::Subsz,
            "CONNZ" => Self::Connz,
            "LEAFZ" => Self::Leafz,
            "JSZ" => Self::Jsz,
            "INFO" => Self::Info,
            "STATZ" => Self::Statz,
            "CONNS" => Self::Conns,
            _ => return None,
        })
    }
}

/// A request this service answers, from its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `$SYS.REQ.SERVER.PING`: the statistics (`nats server ping`).
    Ping,
    Server(ServerEndpoint),
    Account {
        account: String,
        endpoint: AccountEndpoint,
    },
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account with connections.
    AccountsStatz,
    /// `$SYS.REQ.USER.INFO` and `$SYS.REQ.USER.<acc>.INFO`: who the requester is.
    UserInfo,
}

impl Request {
    /// The request `subject` asks of the server `server_id`, or `None` when it is not one.
    pub fn parse(subject: &str, server_id: &str) -> Option<Request> {
        let rest = subject.strip_prefix("$SYS.REQ.")?;
        let tokens: Vec<&str> = rest.split('.').collect();
        match tokens.as_slice() {
            ["SERVER", "PING"] => Some(Request::Ping),
            ["SERVER", "PING", ep] => match ServerEndpoint::parse(ep)? {
                ServerEndpoint::Kick => None,
                ep => Some(Request::Server(ep)),
            },
            ["SERVER", id, ep] if *id == server_id => {
                ServerEndpoint::parse(ep).map(Request::Server)
            }
            ["ACCOUNT", "PING", "STATZ"] => Some(Request::AccountsStatz),
            ["ACCOUNT", account, ep] if !account.is_empty() => Some(Request::Account {
                account: (*account).to_string(),
                endpoint: AccountEndpoint::parse(ep)?,
            }),
            ["USER", "INFO"] | ["USER", _, "INFO"] => Some(Request::UserInfo),
            _ => None,
        }
    }
}

/// nats-server's `ApiError` in the envelope.
#[derive(Debug, Clone, Serialize)]
struct ApiError {
    code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
}

/// nats-server's `ServerAPIResponse`. `data` is `Some(None)` (JSON `null`) when building the
/// answer failed, as nats-server's typed nil comes out, and absent when the options could
/// not be read.
#[derive(Debug, Serialize)]
struct Envelope<T: Serialize> {
    server: EventServer,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Option<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

/// How building an enveloped answer ended.
enum Outcome<T> {
    Data(T),
    /// Options not understood: 400, no `data`.
    BadRequest(String),
    /// The data could not be built: 500, `data: null`.
    Failed(String),
    /// The action failed: 500, no `data`.
    Error(String),
    /// Done, with nothing to report: the envelope alone (`KICK`).
    Empty,
    /// Not for this server (a filter), or nothing to say: no answer at all.
    Skip,
}

/// nats-server's `UserInfo`.
#[derive(Debug, Serialize)]
struct UserInfo {
    user: String,
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<PublicPermissions>,
}

/// A user's permissions as nats-server shows them (`publish`/`subscribe` always present once
/// the user has permissions, `responses` when responses are allowed).
#[derive(Debug, Serialize)]
struct PublicPermissions {
    publish: SubjectLists,
    subscribe: SubjectLists,
    #[serde(skip_serializing_if = "Option::is_none")]
    responses: Option<Responses>,
}

#[derive(Debug, Default, Serialize)]
struct SubjectLists {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Responses {
    max: usize,
    /// Nanoseconds.
    ttl: u64,
}

impl PublicPermissions {
    fn of(p: &Permissions) -> Self {
        let lists = |s: &Option<crate::options::SubjectPermission>| {
            s.as_ref()
                .map_or_else(SubjectLists::default, |s| SubjectLists {
                    allow: s.allow.clone(),
                    deny: s.deny.clone(),
                })
        };
        PublicPermissions {
            publish: lists(&p.publish),
            subscribe: lists(&p.subscribe),
            responses: p.allow_responses.as_ref().map(|r| Responses {
                max: r.max_msgs,
                ttl: u64::try_from(r.expires.as_nanos()).unwrap_or(u64::MAX),
            }),
        }
    }
}

/// nats-server's `AccountStatz`.
#[derive(Debug, Serialize)]
struct AccountStatz {
    server_id: String,
    now: GoTime,
    account_statz: Vec<AccountStat>,
}

/// nats-server's `ServerID` (the `IDZ` answer).
#[derive(Debug, Serialize)]
struct ServerId<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
}

/// nats-server's `accNumConnsReq` (the optional payload of `CONNS`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConnsRequest {
    acc: String,
}

impl SystemAccount {
    /// The answer to `request` and where it goes: the reply subject, or for `STATSZ`
    /// without one the server's statistics subject. `requester` is the client that asked
    /// (for `USER.INFO`).
    pub fn answer(
        &self,
        server: &Arc<Server>,
        request: &Request,
        reply: Option<&str>,
        body: &[u8],
        requester: Option<&ClientShared>,
    ) -> Option<(String, Vec<u8>)> {
        match request {
            Request::Ping | Request::Server(ServerEndpoint::Statsz) => {
                self.statsz_answer(server, reply, body)
            }
            Request::Server(ServerEndpoint::Idz) => {
                let id = ServerId {
                    name: &server.name,
                    host: &server.opts.host,
                    id: &server.id,
                };
                Some((reply?.to_string(), compact_json(&id)))
            }
            Request::Server(ep) => self.server_answer(server, *ep, reply?, body),
            Request::Account { account, endpoint } => {
                self.account_answer(server, account, *endpoint, reply?, body)
            }
            Request::AccountsStatz => {
                let reply = reply?;
                self.enveloped(server, reply, body, |opts| {
                    let o: reqopts::AccountStatzRequest = reqopts::decode(opts)?;
                    Ok(self.account_statz(server, &o.accounts, o.include_unused))
                })
            }
            Request::UserInfo => {
                let reply = reply?;
                let outcome = match requester {
                    Some(client) => Outcome::Data(user_info(server, client)),
                    None => Outcome::BadRequest(String::new()),
                };
                Some((reply.to_string(), self.envelope(server, outcome)?))
            }
        }
    }

    /// `STATSZ` (and the plain `PING`): the statistics, bare, unless the options are bad.
    fn statsz_answer(
        &self,
        server: &Arc<Server>,
        reply: Option<&str>,
        body: &[u8],
    ) -> Option<(String, Vec<u8>)> {
        let to = reply.map_or_else(|| super::statsz_subject(server), str::to_string);
        match options(server, body) {
            Err(None) => None,
            Err(Some(e)) => Some((to, self.envelope::<()>(server, Outcome::BadRequest(e))?)),
            Ok(_) => Some((to, compact_json(&self.stats_msg(server)))),
        }
    }

    pub(super) fn stats_msg(&self, server: &Server) -> ServerStatsMsg {
        ServerStatsMsg {
            server: self.event_server(server),
            statsz: super::events::server_stats(server, self.monitor(server).usage()),
        }
    }

    fn server_answer(
        &self,
        server: &Arc<Server>,
        ep: ServerEndpoint,
        reply: &str,
        body: &[u8],
    ) -> Option<(String, Vec<u8>)> {
        let now = SystemTime::now();
        match ep {
            ServerEndpoint::Varz => self.enveloped(server, reply, body, |_| {
                Ok(Ok(self.monitor(server).varz(server, now)))
            }),
            ServerEndpoint::Subsz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::SubszRequest = reqopts::decode(opts)?;
                Ok(o.options().map(|o| subsz::subsz(server, &o, now)))
            }),
            ServerEndpoint::Connz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::ConnzRequest = reqopts::decode(opts)?;
                Ok(o.options().map(|o| connz::connz(server, &o, now)))
            }),
            ServerEndpoint::Routez => {
                self.ignoring_options(server, reply, body, || Ok(absent::routez(server, now)))
            }
            ServerEndpoint::Gatewayz => {
                self.ignoring_options(server, reply, body, || Ok(absent::gatewayz(server, now)))
            }
            ServerEndpoint::Leafz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::LeafzRequest = reqopts::decode(opts)?;
                Ok(Ok(leafz::leafz(server, &o.options(), now)))
            }),
            ServerEndpoint::Healthz => {
                self.ignoring_options(server, reply, body, || Ok(absent::healthz(true)))
            }
            ServerEndpoint::Accountz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::AccountzRequest = reqopts::decode(opts)?;
                Ok(accountz::accountz(server, &o.account, now))
            }),
            ServerEndpoint::Jsz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::JszRequest = reqopts::decode(opts)?;
                Ok(jsz::jsz(server, &o.options(), now).map_err(|e| e.0))
            }),
            ServerEndpoint::Kick => {
                // nats-server reads the client id before anything else and stays silent
                // when it cannot.
                let kick: reqopts::KickRequest = serde_json::from_slice(body).ok()?;
                let outcome = match options(server, body) {
                    Err(None) => return None,
                    Err(Some(e)) => Outcome::BadRequest(e),
                    Ok(_) => match server.client(kick.cid) {
                        Some(client) => {
                            client.close(CloseReason::Kicked, true);
                            Outcome::Empty
                        }
                        // Unlike a builder's failure, no `data: null` here.
                        None => Outcome::Error("no such client or leafnode id".to_string()),
                    },
                };
                Some((reply.to_string(), self.envelope::<()>(server, outcome)?))
            }
            ServerEndpoint::Idz | ServerEndpoint::Statsz => None,
        }
    }

    fn account_answer(
        &self,
        server: &Arc<Server>,
        account: &str,
        ep: AccountEndpoint,
        reply: &str,
        body: &[u8],
    ) -> Option<(String, Vec<u8>)> {
        let now = SystemTime::now();
        match ep {
            AccountEndpoint::Subsz => self.enveloped(server, reply, body, |opts| {
                let mut o: reqopts::SubszRequest = reqopts::decode(opts)?;
                o.subscriptions = true;
                o.account = account.to_string();
                Ok(o.options().map(|o| subsz::subsz(server, &o, now)))
            }),
            AccountEndpoint::Connz => self.enveloped(server, reply, body, |opts| {
                let mut o: reqopts::ConnzRequest = reqopts::decode(opts)?;
                o.acc = account.to_string();
                Ok(o.options().map(|o| connz::connz(server, &o, now)))
            }),
            AccountEndpoint::Leafz => self.enveloped(server, reply, body, |opts| {
                let mut o: reqopts::LeafzRequest = reqopts::decode(opts)?;
                o.account = account.to_string();
                Ok(Ok(leafz::leafz(server, &o.options(), now)))
            }),
            AccountEndpoint::Jsz => self.enveloped(server, reply, body, |opts| {
                let mut o: reqopts::JszRequest = reqopts::decode(opts)?;
                o.account = account.to_string();
                Ok(jsz::account(server, &o.options()))
            }),
            AccountEndpoint::Info => self.enveloped(server, reply, body, |_| {
                Ok(accountz::account_info(server, account))
            }),
            AccountEndpoint::Statz => self.enveloped(server, reply, body, |opts| {
                let o: reqopts::AccountStatzRequest = reqopts::decode(opts)?;
                Ok(self.account_statz(server, &[account.to_string()], o.include_unused))
            }),
            AccountEndpoint::Conns => {
                let request: ConnsRequest = if body.is_empty() {
                    ConnsRequest::default()
                } else {
                    serde_json::from_slice(body).ok()?
                };
                if !request.acc.is_empty() && request.acc != account {
                    return None;
                }
                let found = accountz::find_account(server, account)?;
                let event = self.conns_event(server, &found);
                (event.stat.conns > 0).then(|| (reply.to_string(), compact_json(&event)))
            }
        }
    }

    /// `AccountStatz` of `accounts` (all when empty); `Skip` when no account qualifies, as
    /// nats-server stays silent then.
    fn account_statz(
        &self,
        server: &Server,
        accounts: &[String],
        include_unused: bool,
    ) -> Result<Option<AccountStatz>, String> {
        let chosen: Vec<_> = if accounts.is_empty() {
            server.accounts()
        } else {
            accounts
                .iter()
                .filter_map(|name| accountz::find_account(server, name))
                .collect()
        };
        let stats: Vec<AccountStat> = chosen
            .iter()
            .map(|a| self.account_stat(server, a))
            .filter(|s| include_unused || s.conns > 0)
            .collect();
        Ok((!stats.is_empty()).then(|| AccountStatz {
            server_id: server.id.clone(),
            now: GoTime(SystemTime::now()),
            account_statz: stats,
        }))
    }

    /// An enveloped answer to `reply`: the event filter applied, options decoded by `build`
    /// from the payload (the outer `Err`, a 400), then the data or (the inner `Err`) a 500.
    fn enveloped<T, F>(
        &self,
        server: &Arc<Server>,
        reply: &str,
        body: &[u8],
        build: F,
    ) -> Option<(String, Vec<u8>)>
    where
        T: IntoData,
        F: FnOnce(Option<&serde_json::Value>) -> Result<Result<T, String>, String>,
    {
        let outcome = match options(server, body) {
            Err(None) => return None,
            Err(Some(e)) => Outcome::<T::Data>::BadRequest(e),
            Ok(opts) => match build(opts.as_ref()) {
                Err(e) => Outcome::BadRequest(e),
                Ok(Err(e)) => Outcome::Failed(e),
                Ok(Ok(data)) => data.into_outcome(),
            },
        };
        Some((reply.to_string(), self.envelope(server, outcome)?))
    }

    /// [`Self::enveloped`] for endpoints whose own options change nothing here.
    fn ignoring_options<T, F>(
        &self,
        server: &Arc<Server>,
        reply: &str,
        body: &[u8],
        build: F,
    ) -> Option<(String, Vec<u8>)>
    where
        T: IntoData,
        F: FnOnce() -> Result<T, String>,
    {
        self.enveloped(server, reply, body, |opts| {
            reqopts::decode::<reqopts::Ignored>(opts)?;
            Ok(build())
        })
    }

    fn envelope<T: Serialize>(&self, server: &Server, outcome: Outcome<T>) -> Option<Vec<u8>> {
        let (data, error) = match outcome {
            Outcome::Skip => return None,
            Outcome::Empty => (None, None),
            Outcome::Data(d) => (Some(Some(d)), None),
            Outcome::BadRequest(description) => (
                None,
                Some(ApiError {
                    code: 400,
                    description,
                }),
            ),
            Outcome::Failed(description) => (
                Some(None),
                Some(ApiError {
                    code: 500,
                    description,
                }),
            ),
            Outcome::Error(description) => (
                None,
                Some(ApiError {
                    code: 500,
                    description,
                }),
            ),
        };
        let envelope = Envelope {
            server: self.event_server(server),
            data,
            error,
        };
        Some(compact_json(&envelope))
    }
}

/// What an endpoint's builder produced: data, or (`Option::None`) an answer without data
/// (`KICK`) or no answer at all (an account statistic nobody has).
trait IntoData {
    type Data: Serialize;
    fn into_outcome(self) -> Outcome<Self::Data>;
}

macro_rules! plain_data {
    ($($t:ty),* $(,)?) => {$(
        impl IntoData for $t {
            type Data = $t;
            fn into_outcome(self) -> Outcome<$t> {
                Outcome::Data(self)
            }
        }
    )*};
}

plain_data!(
    crate::monitor::varz::Varz,
    subsz::Subsz,
    connz::Connz,
    absent::Routez,
    absent::Gatewayz,
    leafz::Leafz,
    absent::Healthz,
    accountz::Accountz,
    accountz::AccountInfo,
    jsz::Jsz,
    jsz::AccountDetail,
);

impl IntoData for Option<AccountStatz> {
    type Data = AccountStatz;
    fn into_outcome(self) -> Outcome<AccountStatz> {
        self.map_or(Outcome::Skip, Outcome::Data)
    }
}

/// The request's options, once the event filter let it through: `Err(None)` when the
/// request is not for this server, `Err(Some(_))` (a 400) when the payload is not JSON or
/// the filter's fields have the wrong types.
fn options(server: &Server, body: &[u8]) -> Result<Option<serde_json::Value>, Option<String>> {
    let opts = reqopts::parse_body(body).map_err(Some)?;
    if let Some(v) = &opts {
        let filter: EventFilter = reqopts::decode(Some(v)).map_err(Some)?;
        if filter.excludes(&identity(server)) {
            return Err(None);
        }
    }
    Ok(opts)
}

/// What the event filter compares: this server's name, host and JetStream domain.
fn identity(server: &Server) -> ServerIdentity<'_> {
    let domain = server
        .opts
        .jetstream
        .as_ref()
        .and_then(|j| j.domain.as_deref())
        .unwrap_or_default();
    ServerIdentity {
        name: &server.name,
        host: &server.opts.host,
        cluster: "",
        tags: &[],
        domain,
    }
}

/// The requester's user, account and permissions (nats-server's `UserInfo`).
fn user_info(server: &Server, client: &ClientShared) -> UserInfo {
    let user = client.meta.lock().user.clone();
    let account = client.account().name.clone();
    let permissions = configured_user(server, &account, &user)
        .and_then(|u| u.permissions.as_ref())
        .map(PublicPermissions::of);
    UserInfo {
        user,
        account: account.clone(),
        account_name: account,
        permissions,
    }
}

/// The configured user (name or nkey) a client authenticated as in `account`.
fn configured_user<'a>(server: &'a Server, account: &str, user: &str) -> Option<&'a User> {
    let auth = &server.opts.auth;
    let named = |u: &&User| u.user.as_deref() == Some(user) || u.nkey.as_deref() == Some(user);
    if account == server.global_account().name {
        return auth.users.iter().find(named);
    }
    auth.accounts
        .iter()
        .find(|a| a.name == account)
        .and_then(|a| a.users.iter().find(named))
}
