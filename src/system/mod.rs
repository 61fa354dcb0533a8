//! The system account (`$SYS`): nats-server's events and request services, which the tools
//! that operate NATS use (`nats server ping/list/info/report`, `nats account info`,
//! `nats events`, NUI's server views, switchboard's own `--attach`).
//!
//! - Events (`events.rs`), published in the system account when someone listens:
//!   `$SYS.ACCOUNT.<acc>.CONNECT`, `.DISCONNECT`, `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (and the
//!   older `$SYS.SERVER.ACCOUNT.<acc>.CONNS`), `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`, and
//!   `$SYS.SERVER.<id>.STATSZ` on a timer (250 ms at first, doubling to every 10 s, as
//!   nats-server's) while someone subscribes to it. The engine tells this service about
//!   clients through [`ClientEvents`]; nothing is polled.
//! - Requests (`requests.rs`): `$SYS.REQ.SERVER.PING[.<endpoint>]`,
//!   `$SYS.REQ.SERVER.<id>.<endpoint>`, `$SYS.REQ.ACCOUNT.<acc>.<endpoint>`,
//!   `$SYS.REQ.ACCOUNT.PING.STATZ` and `$SYS.REQ.USER.INFO`, answered from the same builders
//!   as the HTTP endpoints (`crate::monitor`), with the request options of the payload.
//!
//! A front end beside `monitor`, not a layer-3 service: the answers are the monitoring
//! endpoints' JSON (docs/architecture.md says why). It runs on the engine as an internal
//! client of the system account, and the engine never imports it.

pub mod claims;
pub mod events;
pub mod reqopts;
pub mod requests;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::broker::account::Account;
use crate::broker::client::ClientShared;
use crate::broker::server::{client_totals, ClosedClient, Server, Service};
use crate::broker::{ClientEvents, Fanout, InternalHandler, InternalMsg};
use crate::log_error;
use crate::monitor::format::{compact_json, GoTime};
use crate::monitor::MonitorState;
use events::{
    AccountConnsEvent, AccountStat, ClientInfo, ClosedTotals, ConnectEvent, DisconnectEvent,
    EventServer, ACCOUNT_CONNS_TYPE, CONNECT_TYPE,
};
use requests::Request;

/// The first `STATSZ` broadcast comes this soon; the interval then doubles.
const STATSZ_FIRST: Duration = Duration::from_millis(250);
/// nats-server's `statsHBInterval`: the longest interval between `STATSZ` broadcasts.
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);
/// nats-server's `eventsHBInterval`: how often an account with connections repeats its
/// `CONNS` event.
const CONNS_HEARTBEAT: Duration = Duration::from_secs(30);
/// Failed authentications remembered until their connection closes; a bound in case a
/// close were ever missed.
const MAX_FAILED_USERS: usize = 10_000;

/// The subjects the request services listen on; `<id>` is the server's id.
const REQUEST_SUBJECTS: &[&str] = &[
    "$SYS.REQ.SERVER.PING",
    "$SYS.REQ.SERVER.PING.*",
    "$SYS.REQ.SERVER.<id>.*",
    "$SYS.REQ.ACCOUNT.*.*",
    "$SYS.REQ.USER.INFO",
    "$SYS.REQ.USER.*.INFO",
];

/// The system account's events and services on one server.
#[derive(Debug)]
pub struct SystemAccount {
    account: Arc<Account>,
    /// The internal client that owns the request subscriptions.
    _client: Arc<ClientShared>,
    /// nats-server's per-server message sequence (`server.seq` of every message).
    seq: AtomicU64,
    /// What `VARZ` and `STATSZ` report of monitoring when no HTTP monitor runs.
    fallback_monitor: Arc<MonitorState>,
    /// What closed connections left to their accounts' statistics, by account name.
    closed: Mutex<HashMap<String, ClosedTotals>>,
    /// The user a connection that failed to authenticate offered, until it closes (its
    /// DISCONNECT names it, as nats-server's does).
    failed_users: Mutex<HashMap<u64, String>>,
    stopped: AtomicBool,
}

/// Starts the system account's events and services when the server has a system account;
/// `None` without one (`no_system_account`). Must run in the runtime.
pub fn enable(server: &Arc<Server>) -> Option<Arc<SystemAccount>> {
    let account = server.system_account()?.clone();
    let client = server.internal_client(&account);
    let opts = &server.opts;
    let monitor_host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
    let sys = Arc::new(SystemAccount {
        account,
        _client: client.clone(),
        seq: AtomicU64::new(0),
        fallback_monitor: Arc::new(MonitorState::new(&monitor_host, 0)),
        closed: Mutex::new(HashMap::new()),
        failed_users: Mutex::new(HashMap::new()),
        stopped: AtomicBool::new(false),
    });
    let handler = Arc::new(RequestHandler {
        sys: Arc::downgrade(&sys),
    });
    for pattern in REQUEST_SUBJECTS {
        let subject = pattern.replace("<id>", &server.id);
        if let Err(e) = server.subscribe_internal(&client, &subject, None, handler.clone()) {
            log_error!("Error setting up internal tracking for {}: {}", subject, e);
        }
    }
    import_into_accounts(server, &sys.account);
    claims::enable(server, &sys);
    if !server.set_client_events(sys.clone()) {
        log_error!("The system account's events are already set up for this server");
    }
    server.add_service(sys.clone());
    tokio::spawn(heartbeat(Arc::downgrade(&sys), Arc::downgrade(server)));
    Some(sys)
}

/// The system services every other account reaches, as nats-server imports them into each
/// (`registerSystemImports`): its own connections and statistics through the PING subjects,
/// and `$SYS.REQ.USER.INFO` with the requester's details shared.
/// Accounts registered later (operator mode) get them when they are registered.
fn import_into_accounts(server: &Arc<Server>, system: &Arc<Account>) {
    let system = system.clone();
    server.add_account_observer(Arc::new(move |server, account| {
        import_into_account(server, &system, account);
    }));
}

fn import_into_account(server: &Arc<Server>, system: &Arc<Account>, account: &Arc<Account>) {
    use crate::broker::imports::{import_service, ServiceImportSpec};
    use crate::options::{ResponseType, DEFAULT_RESPONSE_THRESHOLD};
    if Arc::ptr_eq(account, system) {
        return;
    }
    let name = &account.name;
    let imports = [
        (
            "$SYS.REQ.SERVER.PING.CONNZ".to_string(),
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
            ResponseType::Streamed,
            false,
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.CONNZ".to_string(),
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
            ResponseType::Streamed,
            false,
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.STATZ".to_string(),
            format!("$SYS.REQ.ACCOUNT.{name}.STATZ"),
            ResponseType::Streamed,
            false,
        ),
        (
            "$SYS.REQ.USER.INFO".to_string(),
            format!("$SYS.REQ.USER.{name}.INFO"),
            ResponseType::Singleton,
            true,
        ),
    ];
    for (local, subject, response_type, share) in imports {
        let spec = ServiceImportSpec {
            local,
            subject,
            response_type,
            threshold: DEFAULT_RESPONSE_THRESHOLD,
            share,
            latency: None,
        };
        if let Err(e) = import_service(server, account, system, spec) {
            log_error!("Error setting up system service import for {}: {}", name, e);
        }
    }
}

/// `$SYS.SERVER.<id>.STATSZ`.
pub fn statsz_subject(server: &Server) -> String {
    format!("$SYS.SERVER.{}.STATSZ", server.id)
}

impl SystemAccount {
    /// The system account service of a server, when it runs one.
    pub fn of(server: &Server) -> Option<Arc<SystemAccount>> {
        server.service::<SystemAccount>()
    }

    pub fn account(&self) -> &Arc<Account> {
        &self.account
    }

    /// The header of the next message this server sends.
    fn event_server(&self, server: &Server) -> EventServer {
        EventServer::new(server, self.seq.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn monitor(&self, server: &Server) -> Arc<MonitorState> {
        MonitorState::of(server).unwrap_or_else(|| self.fallback_monitor.clone())
    }

    fn has_interest(&self, subject: &str) -> bool {
        !self
            .account
            .sublist
            .read()
            .match_subject(subject.as_bytes())
            .is_empty()
    }

    /// Publishes an event on `subject` when someone listens (its JSON is built only then).
    fn publish_event<T: Serialize>(
        &self,
        server: &Arc<Server>,
        subject: &str,
        build: impl FnOnce(EventServer) -> T,
    ) {
        if !self.has_interest(subject) {
            return;
        }
        let payload = compact_json(&build(self.event_server(server)));
        let mut fanout = Fanout::default();
        server.publish_internal(
            &mut fanout,
            &self.account,
            subject.as_bytes(),
            None,
            &[],
            &payload,
        );
        fanout.wake_all();
    }

    /// Handles one request message; false when the subject is not a request this service
    /// answers (the publisher then sees no responders, as with nats-server).
    fn handle(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        let Some(request) = Request::parse(subject, &server.id) else {
            return false;
        };
        let reply = msg
            .reply
            .and_then(|r| std::str::from_utf8(r).ok())
            .filter(|r| !r.is_empty());
        let requester = fanout.publisher.clone();
        let answer = self.answer(server, &request, reply, msg.payload, requester.as_deref());
        if let Some((to, payload)) = answer {
            server.publish_internal(fanout, msg.account, to.as_bytes(), None, &[], &payload);
        }
        true
    }

    fn account_stat(&self, server: &Server, account: &Arc<Account>) -> AccountStat {
        let closed = self
            .closed
            .lock()
            .get(&account.name)
            .copied()
            .unwrap_or_default();
        AccountStat::of(server, account, closed)
    }

    fn conns_event(&self, server: &Server, account: &Arc<Account>) -> AccountConnsEvent {
        let header = self.event_server(server);
        AccountConnsEvent {
            kind: ACCOUNT_CONNS_TYPE,
            id: events::event_id(),
            timestamp: header.time,
            server: header,
            stat: self.account_stat(server, account),
        }
    }

    /// The account's connection count, on both subjects nats-server uses (never for the
    /// global account, as there): one event, each copy with its own sequence number.
    fn send_conns(&self, server: &Arc<Server>, account: &Arc<Account>) {
        if Arc::ptr_eq(account, server.global_account()) {
            return;
        }
        let subjects = [
            format!("$SYS.SERVER.ACCOUNT.{}.CONNS", account.name),
            format!("$SYS.ACCOUNT.{}.SERVER.CONNS", account.name),
        ];
        if !subjects.iter().any(|s| self.has_interest(s)) {
            return;
        }
        let stat = self.account_stat(server, account);
        let (id, timestamp) = (events::event_id(), GoTime(std::time::SystemTime::now()));
        for subject in &subjects {
            self.publish_event(server, subject, |header| AccountConnsEvent {
                kind: ACCOUNT_CONNS_TYPE,
                id: id.clone(),
                timestamp,
                server: header,
                stat: stat.clone(),
            });
        }
    }

    fn broadcast_statsz(&self, server: &Arc<Server>) {
        self.publish_event(server, &statsz_subject(server), |_| self.stats_msg(server));
    }

    /// The periodic `CONNS` of every account that has connections.
    fn conns_heartbeat(&self, server: &Arc<Server>) {
        let mut live: Vec<Arc<Account>> = Vec::new();
        server.for_each_client(|c| {
            let account = c.account();
            if !live.iter().any(|a| Arc::ptr_eq(a, &account)) {
                live.push(account);
            }
        });
        for account in live {
            self.send_conns(server, &account);
        }
    }
}

impl ClientEvents for SystemAccount {
    fn connected(&self, server: &Arc<Server>, client: &Arc<ClientShared>) {
        let account = client.account();
        self.send_conns(server, &account);
        let subject = format!("$SYS.ACCOUNT.{}.CONNECT", account.name);
        self.publish_event(server, &subject, |header| ConnectEvent {
            kind: CONNECT_TYPE,
            id: events::event_id(),
            timestamp: header.time,
            server: header,
            client: ClientInfo::of_client(client),
        });
    }

    fn closed(&self, server: &Arc<Server>, client: &Arc<ClientShared>, closed: &ClosedClient) {
        let user = self
            .failed_users
            .lock()
            .remove(&closed.cid)
            .unwrap_or_default();
        {
            let mut all = self.closed.lock();
            let entry = all.entry(closed.account.clone()).or_default();
            let t = &mut entry.totals;
            t.in_msgs += closed.totals.in_msgs;
            t.in_bytes += closed.totals.in_bytes;
            t.out_msgs += closed.totals.out_msgs;
            t.out_bytes += closed.totals.out_bytes;
            if closed.reason.is_slow_consumer() {
                entry.slow_consumers += 1;
            }
        }
        self.send_conns(server, &client.account());
        let subject = format!("$SYS.ACCOUNT.{}.DISCONNECT", closed.account);
        self.publish_event(server, &subject, |header| {
            DisconnectEvent::new(
                events::event_id(),
                header,
                ClientInfo::of_closed(closed, &user),
                closed.totals,
                closed.reason.to_string(),
            )
        });
    }

    fn auth_failed(&self, server: &Arc<Server>, client: &Arc<ClientShared>, user: &str) {
        {
            let mut failed = self.failed_users.lock();
            if failed.len() >= MAX_FAILED_USERS {
                failed.clear();
            }
            failed.insert(client.cid, user.to_string());
        }
        let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", server.id);
        self.publish_event(server, &subject, |header| {
            let mut info = ClientInfo::of_client(client);
            info.user = user.to_string();
            info.rtt = client
                .meta
                .lock()
                .rtt
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            info.stop = Some(GoTime(std::time::SystemTime::now()));
            DisconnectEvent::new(
                events::event_id(),
                header,
                info,
                client_totals(client),
                crate::broker::CloseReason::AuthenticationFailure.to_string(),
            )
        });
    }
}

impl Service for SystemAccount {
    fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

/// Routes request messages to the service (held weakly: the server holds the service).
#[derive(Debug)]
struct RequestHandler {
    sys: Weak<SystemAccount>,
}

impl InternalHandler for RequestHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        self.sys
            .upgrade()
            .is_some_and(|sys| sys.handle(server, fanout, msg))
    }
}

/// `STATSZ` broadcasts (while someone listens) and accounts' `CONNS` heartbeats, until
/// the broker stops.
async fn heartbeat(sys: Weak<SystemAccount>, server: Weak<Server>) {
    let mut every = STATSZ_FIRST;
    let mut since_conns = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        let (Some(sys), Some(server)) = (sys.upgrade(), server.upgrade()) else {
            return;
        };
        if sys.stopped.load(Ordering::Acquire) {
            return;
        }
        sys.broadcast_statsz(&server);
        since_conns += every;
        if since_conns >= CONNS_HEARTBEAT {
            since_conns = Duration::ZERO;
            sys.conns_heartbeat(&server);
        }
        every = (every * 2).min(STATSZ_INTERVAL);
    }
}
