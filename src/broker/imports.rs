//! Exports and imports between accounts, as nats-server routes them.
//!
//! - A **stream import** makes messages published in the exporting account reach the
//!   importer's subscribers. Each subscription in the importing account that overlaps an
//!   import gets a *shadow* subscription in the exporter's sublist (nats-server's
//!   `addShadowSubscriptions`): the same client and sid, on the exporter's subject. A
//!   message matched there is delivered to the importer's client with its subject mapped
//!   (prefix, `to`), without being published again, so no loop can form.
//! - A **service import** makes requests published in the importer reach the exporter's
//!   responders. An internal subscription on the import's subject in the importer hands
//!   each request to the exporter under the exported subject, with a fresh
//!   `_R_.<prefix>.<id>` reply that the exporter maps back to the requester's reply (a
//!   *response route*). The exporter's internal `_R_.<prefix>.>` subscription takes the
//!   responses and delivers them in the importer: one for a singleton service, any number
//!   until the response threshold for a streamed or chunked one. Only replies to routed
//!   requests cross back, so nothing else leaves the exporter.
//!
//! The configuration was checked when it was read (`config::imports`): accounts exist,
//! imports are authorized, no cycles.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::account::Account;
use super::client::ClientShared;
use super::internal::{InternalHandler, InternalMsg};
use super::latency::{self, ClientInfo, LatencyConfig, Outcome, Tracking};
use super::router::Fanout;
use super::server::Server;
use super::sublist::Subscription;
use crate::options::{ImportKind, ResponseType, DEFAULT_RESPONSE_THRESHOLD};
use crate::proto::subject::{self, intersection, is_subset};

/// The header nats-server adds to a request that crossed a service import.
pub const REQUEST_INFO_HEADER: &str = "Nats-Request-Info";

/// How often a response table drops routes whose threshold passed.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A mapping between two subject patterns whose wildcards correspond one to one (an
/// import's exporter subject and its local subject). It maps subjects with wildcards too,
/// which a shadow subscription's subject may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardMap {
    src: Vec<Token>,
    dest: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// The n-th `*` of the source (0-based).
    Wild(usize),
    /// A trailing `>`: the rest of the subject.
    Rest,
}

impl WildcardMap {
    /// `src` holds literals, `*` and a trailing `>`; `dest` the same, where each `*` takes
    /// the source's wildcards in order, or `$N` / `{{wildcard(N)}}` names one. `None` when
    /// the wildcards do not correspond (a `>` on one side only, an unknown `$N`).
    pub fn new(src: &str, dest: &str) -> Option<WildcardMap> {
        let mut wilds = 0;
        let src: Vec<Token> = src
            .split('.')
            .map(|t| match t {
                "*" => {
                    wilds += 1;
                    Token::Wild(wilds - 1)
                }
                ">" => Token::Rest,
                lit => Token::Literal(lit.to_string()),
            })
            .collect();
        let mut next = 0;
        let dest: Vec<Token> = dest
            .split('.')
            .map(|t| {
                if t == "*" {
                    next += 1;
                    return Some(Token::Wild(next - 1));
                }
                if t == ">" {
                    return Some(Token::Rest);
                }
                // `$N` names a wildcard; `$JS` and the like are literals.
                let n = t
                    .strip_prefix('$')
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .or_else(|| {
                        t.strip_prefix("{{")
                            .and_then(|r| r.strip_suffix("}}"))
                            .map(str::trim)
                            .and_then(|r| r.strip_prefix("wildcard("))
                            .and_then(|r| r.strip_suffix(')'))
                            .map(str::trim)
                    })
                    .map(str::parse::<usize>);
                match n {
                    Some(Ok(n)) if n >= 1 && n <= wilds => Some(Token::Wild(n - 1)),
                    Some(_) => None,
                    None => Some(Token::Literal(t.to_string())),
                }
            })
            .collect::<Option<_>>()?;
        let rest = |v: &[Token]| v.last() == Some(&Token::Rest);
        (rest(&src) == rest(&dest)).then_some(WildcardMap { src, dest })
    }

    /// The same mapping the other way round.
    pub fn reverse(&self) -> WildcardMap {
        // The reverse source is the destination with its wildcards renumbered in order; the
        // reverse destination puts each back where the source had it.
        let mut order: Vec<usize> = Vec::new();
        let src = self
            .dest
            .iter()
            .map(|t| match t {
                Token::Wild(n) => {
                    order.push(*n);
                    Token::Wild(order.len() - 1)
                }
                other => other.clone(),
            })
            .collect();
        let dest = self
            .src
            .iter()
            .map(|t| match t {
                Token::Wild(n) => Token::Wild(order.iter().position(|o| o == n).unwrap_or(*n)),
                other => other.clone(),
            })
            .collect();
        WildcardMap { src, dest }
    }

    /// `subject` (which the source pattern covers) in the destination's terms; `None` when
    /// the source does not cover it.
    pub fn apply(&self, subject: &str) -> Option<String> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut captured: Vec<&str> = Vec::new();
        let mut rest: &[&str] = &[];
        for (i, t) in self.src.iter().enumerate() {
            match t {
                Token::Literal(lit) => {
                    if tokens.get(i) != Some(&lit.as_str()) {
                        return None;
                    }
                }
                Token::Wild(_) => captured.push(tokens.get(i)?),
                Token::Rest => {
                    rest = tokens.get(i..).filter(|r| !r.is_empty())?;
                }
            }
        }
        if self.src.last() != Some(&Token::Rest) && tokens.len() != self.src.len() {
            return None;
        }
        let mut out: Vec<&str> = Vec::with_capacity(tokens.len());
        for t in &self.dest {
            match t {
                Token::Literal(lit) => out.push(lit),
                Token::Wild(n) => out.push(captured.get(*n)?),
                Token::Rest => out.extend_from_slice(rest),
            }
        }
        Some(out.join("."))
    }
}

/// A stream import, held by the importing account.
#[derive(Debug)]
pub struct StreamImport {
    pub exporter: Weak<Account>,
    /// The subject in the exporting account.
    pub from: String,
    /// The subject in the importing account.
    pub to: String,
    /// Exporter's subject to importer's.
    forward: WildcardMap,
    reverse: WildcardMap,
    /// Messages delivered to the importer's subscribers.
    pub delivered: AtomicU64,
    /// Set when an account JWT update took the import away: no new shadow is inserted.
    removed: AtomicBool,
}

impl StreamImport {
    /// The subject the importer's subscriber sees for `subject` published in the exporter:
    /// the same bytes, without a copy, for an import that maps nothing (the common case,
    /// and a per-delivery cost otherwise).
    pub fn local_subject<'a>(&self, subject: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        if self.from == self.to {
            return Some(Cow::Borrowed(subject));
        }
        let mapped = self.forward.apply(std::str::from_utf8(subject).ok()?)?;
        Some(Cow::Owned(mapped.into_bytes()))
    }

    /// The subject of the shadow subscription in the exporter for a local subscription on
    /// `local`; `None` when they do not overlap (nats-server's four cases: the import's
    /// own subject, a subscription covering it, one inside it, one overlapping it).
    fn shadow_subject(&self, local: &str) -> Option<String> {
        if local == self.to || is_subset(&self.to, local) {
            return Some(self.from.clone());
        }
        let inside = if is_subset(local, &self.to) {
            local.to_string()
        } else {
            intersection(local, &self.to)?
        };
        self.reverse.apply(&inside)
    }
}

/// A service import, held by the importing account's internal subscription.
#[derive(Debug)]
pub struct ServiceImport {
    exporter: Weak<Account>,
    pub exporter_name: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The local subject (requests published on it are routed).
    pub local: String,
    /// Requests handed to the exporter, and responses that came back.
    pub requests: AtomicU64,
    pub responses: AtomicU64,
    /// Local subject to the exporter's.
    map: WildcardMap,
    response_type: ResponseType,
    threshold: Duration,
    /// `share`: the exporter sees the requester's details.
    share: bool,
    /// The export's latency tracking.
    latency: Option<LatencyConfig>,
    /// nats-server's `shash` of this server's name, which ends a tracked request's reply.
    server_hash: String,
    /// Declared by an account JWT (replaced when the JWT is), not one of the server's own.
    claim: bool,
    /// The internal subscription that routes the requests (taken out when replaced).
    sub: parking_lot::Mutex<Option<Arc<Subscription>>>,
}

/// Where one `_R_` reply of an exporter goes back to.
#[derive(Debug)]
struct ResponseRoute {
    importer: Weak<Account>,
    /// The import the request came through (for its counters).
    import: Option<Arc<ServiceImport>>,
    reply: Box<[u8]>,
    response_type: ResponseType,
    expires: Instant,
    /// A timed request, until its first response.
    tracking: Option<Tracking>,
}

/// An account's response routes: the replies of requests it received through service
/// imports, each mapped back to the requester's account and reply subject.
#[derive(Debug)]
pub struct Responses {
    /// `_R_.<6 characters>.`, this account's own.
    prefix: String,
    routes: HashMap<Box<[u8]>, ResponseRoute>,
    /// The routes whose timed request is still unanswered: the ones that owe a 408 event if
    /// the requester stops listening first, kept apart so a requester's UNSUB does not scan
    /// every route.
    timed: HashSet<Box<[u8]>>,
    last_sweep: Instant,
    /// The account's `_R_.<prefix>.>` subscription exists.
    subscribed: bool,
}

impl Default for Responses {
    fn default() -> Self {
        Responses {
            prefix: format!("_R_.{}.", crate::proto::ids::random(6)),
            routes: HashMap::new(),
            timed: HashSet::new(),
            last_sweep: Instant::now(),
            subscribed: false,
        }
    }
}

impl Responses {
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// A new reply subject routed back to `reply` in `importer` (ending in
    /// `.<server hash>.T` when the request is timed), and the timed requests whose
    /// threshold passed unanswered (each owes a 504 event).
    fn route(
        &mut self,
        importer: &Arc<Account>,
        reply: &[u8],
        response_type: ResponseType,
        threshold: Duration,
        tracking: Option<(Tracking, &str)>,
        import: Option<Arc<ServiceImport>>,
    ) -> (Box<[u8]>, Vec<Tracking>) {
        let now = Instant::now();
        let mut expired = Vec::new();
        if now.duration_since(self.last_sweep) >= SWEEP_INTERVAL {
            let timed = &mut self.timed;
            self.routes.retain(|subject, r| {
                let keep = r.expires > now;
                if !keep {
                    if let Some(tracking) = r.tracking.take() {
                        timed.remove(subject);
                        expired.push(tracking);
                    }
                }
                keep
            });
            self.last_sweep = now;
        }
        let mut subject = format!("{}{}", self.prefix, crate::proto::ids::random(6));
        let tracking = tracking.map(|(tracking, hash)| {
            subject.push('.');
            subject.push_str(hash);
            subject.push_str(".T");
            tracking
        });
        let subject: Box<[u8]> = subject.into_bytes().into();
        if tracking.is_some() {
            self.timed.insert(subject.clone());
        }
        self.routes.insert(
            subject.clone(),
            ResponseRoute {
                importer: Arc::downgrade(importer),
                import,
                reply: reply.into(),
                response_type,
                expires: now + threshold,
                tracking,
            },
        );
        (subject, expired)
    }

    /// Takes a route out, with its timing.
    fn remove(&mut self, subject: &[u8]) -> Option<ResponseRoute> {
        self.timed.remove(subject);
        self.routes.remove(subject)
    }

    /// Takes a route's timing: its request was answered, or will never be.
    fn take_tracking(&mut self, subject: &[u8]) -> Option<Tracking> {
        self.timed.remove(subject);
        self.routes.get_mut(subject)?.tracking.take()
    }

    /// The unanswered timed routes of `importer` whose reply `gone` (a subscription's
    /// subject, perhaps a wildcard) covered.
    fn timed_under(&self, importer: &Arc<Account>, gone: &[u8]) -> Vec<TimedRoute> {
        self.timed
            .iter()
            .filter_map(|subject| {
                let route = self.routes.get(subject)?;
                let ours = std::ptr::eq(route.importer.as_ptr(), Arc::as_ptr(importer));
                (ours && subject::matches(gone, &route.reply))
                    .then(|| (subject.clone(), route.reply.clone()))
            })
            .collect()
    }
}

/// An unanswered timed route: its `_R_` subject, and the requester's reply subject.
type TimedRoute = (Box<[u8]>, Box<[u8]>);

/// A subscription of `account` went away (UNSUB or close): a timed request it made through
/// a service import that no one in the account listens for the reply of any more is over,
/// and its exporter gets nats-server's 408 event (`Request Timeout`); the route goes too.
pub(crate) fn reply_interest_lost(server: &Arc<Server>, account: &Arc<Account>, gone: &[u8]) {
    let exporters: Vec<Arc<Account>> = {
        let imports = account.service_imports.read();
        if imports.is_empty() {
            return;
        }
        let mut exporters: Vec<Arc<Account>> = Vec::new();
        for exporter in imports.iter().filter_map(|i| i.exporter.upgrade()) {
            if !exporters.iter().any(|e| Arc::ptr_eq(e, &exporter)) {
                exporters.push(exporter);
            }
        }
        exporters
    };
    let mut fanout = Fanout::default();
    for exporter in exporters {
        let candidates = {
            let responses = exporter.responses.lock();
            if responses.timed.is_empty() {
                continue;
            }
            responses.timed_under(account, gone)
        };
        for (route, reply) in candidates {
            if !account.sublist.read().match_subject(&reply).is_empty() {
                continue;
            }
            let tracking = {
                let mut responses = exporter.responses.lock();
                let tracking = responses.take_tracking(&route);
                responses.remove(&route);
                tracking
            };
            if let Some(tracking) = tracking {
                send_latency(
                    server,
                    &mut fanout,
                    &exporter,
                    &tracking,
                    Outcome::InterestLost,
                );
            }
        }
    }
    fanout.wake_all();
}

/// Sets up every account's imports from the options: stream imports for the shadow
/// subscriptions, an internal subscription per service import, and the response
/// subscription of every account that exports a service.
pub fn configure(server: &Arc<Server>) {
    let configs = server.opts.auth.accounts.clone();
    for config in &configs {
        let Some(importer) = server.account(&config.name) else {
            continue;
        };
        let (mut streams, mut services) = (Vec::new(), Vec::new());
        for import in &config.imports {
            let Some(exporter) = server.account(&import.account) else {
                continue;
            };
            let local = import.local_subject();
            match import.kind {
                ImportKind::Stream => {
                    let Some(import) = new_stream_import(&exporter, &import.subject, &local) else {
                        crate::log_warn!(
                            "Stream import {:?} of account {:?}: its subjects do not map",
                            import.subject,
                            config.name
                        );
                        continue;
                    };
                    streams.push(import);
                }
                ImportKind::Service => {
                    let export = configs
                        .iter()
                        .find(|c| c.name == import.account)
                        .and_then(|c| {
                            c.export_approving(ImportKind::Service, &import.subject, &config.name)
                        });
                    let spec = ServiceImportSpec {
                        local: local.clone(),
                        subject: import.subject.clone(),
                        response_type: export.map(|e| e.response_type).unwrap_or_default(),
                        threshold: export
                            .and_then(|e| e.response_threshold)
                            .unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
                        share: import.share,
                        latency: export
                            .and_then(|e| e.latency.as_ref())
                            .map(|l| LatencyConfig {
                                subject: l.subject.clone(),
                                sampling_percent: l.sampling_percent,
                            }),
                    };
                    match new_service_import(server, &importer, &exporter, spec, false) {
                        Ok(service) => services.push(service),
                        Err(e) => crate::log_warn!(
                            "Service import {:?} of account {:?}: {}",
                            import.subject,
                            config.name,
                            e
                        ),
                    }
                }
            }
        }
        importer.stream_imports.write().extend(streams);
        importer.service_imports.write().extend(services);
    }
    // An account that exports a service takes the responses to its `_R_` replies.
    for config in &configs {
        if !config.exports.iter().any(|e| e.kind == ImportKind::Service) {
            continue;
        }
        if let Some(account) = server.account(&config.name) {
            take_responses(server, &account);
        }
    }
}

/// A stream import: messages published in `exporter` on `from` reach `importer`'s
/// subscribers under `to`. `None` when the subjects do not map onto each other.
fn new_stream_import(exporter: &Arc<Account>, from: &str, to: &str) -> Option<Arc<StreamImport>> {
    let forward = WildcardMap::new(from, to)?;
    Some(Arc::new(StreamImport {
        exporter: Arc::downgrade(exporter),
        from: from.to_string(),
        reverse: forward.reverse(),
        forward,
        to: to.to_string(),
        delivered: AtomicU64::new(0),
        removed: AtomicBool::new(false),
    }))
}

/// A service import to set up (from the configuration, or the system account's own).
#[derive(Debug, Clone)]
pub struct ServiceImportSpec {
    /// The subject requests are published on in the importing account.
    pub local: String,
    /// The subject in the exporting account.
    pub subject: String,
    pub response_type: ResponseType,
    pub threshold: Duration,
    pub share: bool,
    pub latency: Option<LatencyConfig>,
}

/// Routes `importer`'s requests on `spec.local` to `exporter` (nats-server's internal
/// `addServiceImportWithClaim`, which skips the export check: the system account's imports
/// into every account use it).
pub fn import_service(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    spec: ServiceImportSpec,
) -> Result<(), String> {
    let service = new_service_import(server, importer, exporter, spec, false)?;
    importer.service_imports.write().push(service);
    take_responses(server, exporter);
    Ok(())
}

fn new_service_import(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    spec: ServiceImportSpec,
    claim: bool,
) -> Result<Arc<ServiceImport>, String> {
    let map = WildcardMap::new(&spec.local, &spec.subject)
        .ok_or_else(|| format!("{:?} does not map to {:?}", spec.local, spec.subject))?;
    let service = Arc::new(ServiceImport {
        exporter: Arc::downgrade(exporter),
        exporter_name: exporter.name.clone(),
        subject: spec.subject,
        local: spec.local,
        requests: AtomicU64::new(0),
        responses: AtomicU64::new(0),
        map,
        response_type: spec.response_type,
        threshold: spec.threshold,
        share: spec.share,
        latency: spec.latency,
        server_hash: crate::proto::ids::name_hash(&server.name, 8),
        claim,
        sub: parking_lot::Mutex::new(None),
    });
    let client = server.internal_client(importer);
    let sub = server
        .subscribe_internal(
            &client,
            &service.local,
            None,
            Arc::new(ServiceImportHandler(service.clone())),
        )
        .map_err(|e| e.to_string())?;
    *service.sub.lock() = Some(sub);
    Ok(service)
}

/// Subscribes `account` to the responses to its `_R_` replies, once.
pub(crate) fn take_responses(server: &Arc<Server>, account: &Arc<Account>) {
    let prefix = {
        let mut responses = account.responses.lock();
        if responses.subscribed {
            return;
        }
        responses.subscribed = true;
        responses.prefix.clone()
    };
    let client = server.internal_client(account);
    let handler = Arc::new(ResponseHandler(Arc::downgrade(account)));
    if let Err(e) = server.subscribe_internal(&client, &format!("{prefix}>"), None, handler) {
        crate::log_warn!("Service responses of account {:?}: {}", account.name, e);
    }
}

/// The shadow subscriptions for a new subscription of `client` in `account` (not inserted
/// anywhere yet, see [`insert_shadows`]).
pub(crate) fn shadows_for(
    account: &Account,
    client: &Arc<ClientShared>,
    subject: &[u8],
    queue: Option<&[u8]>,
    sid: &[u8],
    perms: &Option<super::permissions::SubPerms>,
) -> Vec<Arc<Subscription>> {
    let imports = account.stream_imports.read();
    shadows_of(&imports, client, subject, queue, sid, perms)
}

/// The shadows `imports` need for a subscription.
fn shadows_of(
    imports: &[Arc<StreamImport>],
    client: &Arc<ClientShared>,
    subject: &[u8],
    queue: Option<&[u8]>,
    sid: &[u8],
    perms: &Option<super::permissions::SubPerms>,
) -> Vec<Arc<Subscription>> {
    if imports.is_empty() {
        return Vec::new();
    }
    let Ok(local) = std::str::from_utf8(subject) else {
        return Vec::new();
    };
    imports
        .iter()
        .filter_map(|import| {
            let shadow = import.shadow_subject(local)?;
            Some(Arc::new(
                Subscription::new(client.clone(), shadow.as_bytes(), queue, sid)
                    .with_perms(perms.clone())
                    .with_import(import.clone()),
            ))
        })
        .collect()
}

/// A service import's subscription in the importing account.
#[derive(Debug)]
struct ServiceImportHandler(Arc<ServiceImport>);

impl InternalHandler for ServiceImportHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let import = &self.0;
        let Some(exporter) = import.exporter.upgrade() else {
            return false;
        };
        let Some(to) = std::str::from_utf8(msg.subject)
            .ok()
            .and_then(|s| import.map.apply(s))
        else {
            return false;
        };
        let requestor = client_info(server, fanout, &msg.account.name, import.share);
        let tracking = import.latency.as_ref().and_then(|config| {
            let (sampled, header) = latency::should_sample(config, msg.headers);
            sampled.then(|| Tracking {
                subject: config.subject.clone(),
                requestor: requestor.clone(),
                at: SystemTime::now(),
                header,
            })
        });
        let mut owed = Vec::new();
        let reply = match (msg.reply, tracking) {
            (Some(reply), tracking) => {
                let (subject, expired) = exporter.responses.lock().route(
                    msg.account,
                    reply,
                    import.response_type,
                    import.threshold,
                    tracking.map(|t| (t, import.server_hash.as_str())),
                    Some(import.clone()),
                );
                owed.extend(expired.into_iter().map(|t| (t, Outcome::Timeout)));
                Some(subject)
            }
            (None, Some(tracking)) => {
                owed.push((tracking, Outcome::BadRequest));
                None
            }
            (None, None) => None,
        };
        let info = serde_json::to_string(&requestor).unwrap_or_default();
        let headers = with_request_info(msg.headers, &info);
        let receivers = server.publish_internal(
            fanout,
            &exporter,
            to.as_bytes(),
            reply.as_deref(),
            &headers,
            msg.payload,
        );
        import.requests.fetch_add(1, Ordering::Relaxed);
        if receivers == 0 {
            if let Some(reply) = &reply {
                let route = exporter.responses.lock().remove(reply);
                if let Some(tracking) = route.and_then(|r| r.tracking) {
                    owed.push((tracking, Outcome::NoResponders));
                }
            }
        }
        for (tracking, outcome) in owed {
            send_latency(server, fanout, &exporter, &tracking, outcome);
        }
        receivers > 0
    }
}

/// Publishes a latency event in the exporting account.
fn send_latency(
    server: &Arc<Server>,
    fanout: &mut Fanout,
    exporter: &Arc<Account>,
    tracking: &Tracking,
    outcome: Outcome<'_>,
) {
    let event = latency::event(tracking, outcome);
    server.publish_internal(
        fanout,
        exporter,
        tracking.subject.as_bytes(),
        None,
        b"",
        &event,
    );
}

/// The responses to an account's `_R_` replies.
#[derive(Debug)]
struct ResponseHandler(Weak<Account>);

impl InternalHandler for ResponseHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let Some(account) = self.0.upgrade() else {
            return false;
        };
        let (importer, reply, tracking) = {
            let mut responses = account.responses.lock();
            let Some(route) = responses.routes.get_mut(msg.subject) else {
                return false;
            };
            if route.expires <= Instant::now() {
                let tracking = responses.take_tracking(msg.subject);
                responses.remove(msg.subject);
                drop(responses);
                if let Some(tracking) = tracking {
                    send_latency(server, fanout, &account, &tracking, Outcome::Timeout);
                }
                return false;
            }
            if let Some(import) = &route.import {
                import.responses.fetch_add(1, Ordering::Relaxed);
            }
            let (importer, reply, singleton) = (
                route.importer.clone(),
                route.reply.clone(),
                route.response_type == ResponseType::Singleton,
            );
            let tracking = responses.take_tracking(msg.subject);
            if singleton {
                responses.remove(msg.subject);
            }
            (importer, reply, tracking)
        };
        if let Some(tracking) = tracking {
            let responder = client_info(server, fanout, &account.name, true);
            send_latency(
                server,
                fanout,
                &account,
                &tracking,
                Outcome::Answered {
                    responder: &responder,
                },
            );
        }
        let Some(importer) = importer.upgrade() else {
            return false;
        };
        server.publish_internal(fanout, &importer, &reply, None, msg.headers, msg.payload) > 0
    }
}

/// The publisher of this pass as nats-server's `ClientInfo` in `account`: its account and
/// RTT, and with `detailed` its connection's details (a shared import's requester, a
/// responder).
fn client_info(server: &Server, fanout: &Fanout, account: &str, detailed: bool) -> ClientInfo {
    let publisher = fanout.publisher.as_ref();
    let meta = publisher.map(|p| p.meta.lock().clone()).unwrap_or_default();
    let mut info = ClientInfo {
        acc: account.to_string(),
        rtt: meta
            .rtt
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        ..Default::default()
    };
    if let (true, Some(p)) = (detailed, publisher) {
        let start: chrono::DateTime<chrono::Utc> = p.start.into();
        info.start = Some(start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        info.host = Some(p.addr.ip().to_string());
        info.id = Some(p.cid);
        info.user = meta.user;
        info.name = meta.name;
        info.lang = meta.lang;
        info.ver = meta.version;
        info.server = server.name.clone();
        info.kind = "Client".into();
        info.client_type = match p.transport() {
            super::transport::Transport::Ws | super::transport::Transport::Wss => "websocket",
            _ => "nats",
        }
        .into();
    }
    info
}

/// `headers` (a header block, or empty) with `Nats-Request-Info: <info>` set, as the last
/// header (nats-server replaces an existing one).
fn with_request_info(headers: &[u8], info: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len() + info.len() + 40);
    if headers.is_empty() {
        out.extend_from_slice(b"NATS/1.0\r\n");
    } else {
        // Drop the block's closing empty line; keep every other line with its CRLF.
        let body = headers.strip_suffix(b"\r\n").unwrap_or(headers);
        let mut lines = body.split_inclusive(|&b| b == b'\n');
        if let Some(status) = lines.next() {
            out.extend_from_slice(status);
        }
        for line in lines {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            if !name.eq_ignore_ascii_case(REQUEST_INFO_HEADER.as_bytes()) {
                out.extend_from_slice(line);
            }
        }
    }
    out.extend_from_slice(REQUEST_INFO_HEADER.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(info.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// Imports re-done when an account JWT changes, with the shadows that follow them.
#[path = "imports_update.rs"]
mod update;
pub use update::Shadows;
pub(crate) use update::{
    insert_shadows, remove_shadows, set_claim_service_imports, set_stream_imports,
};

#[cfg(test)]
#[path = "imports_tests.rs"]
mod tests;
