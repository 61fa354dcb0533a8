//! One leaf link's shared state: the interest it announced to the other side (nats-server's
//! `smap`), what may cross it, and the framing of messages for it.
//!
//! Interest flows by notification: once a link is bound to its account it watches the
//! account's sublist ([`InterestWatcher`]), so every subscription added or removed there
//! (a client's, a service's, a shadow of an import, another link's) reaches it under the
//! sublist's lock, in order. The link counts members per key (`subject` or
//! `subject queue`) and sends `LS+` when a plain subject goes from 0 to 1 and `LS-` when it
//! goes back to 0; a queue group's every change is sent with its new weight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::super::account::Account;
use super::super::client::ClientShared;
use super::super::permissions::CompiledPermissions;
use super::super::router::{queued, Fanout};
use super::super::server::Server;
use super::super::sublist::{InterestWatcher, Subscription};
use crate::options::{Permissions, SubjectPermission};
use crate::proto::leaf::{self, LOOP_DETECTION_PREFIX};
use crate::proto::Publish;

/// What nats-server keeps off every link of an account other than the system account:
/// JetStream's API and the KV and object store subjects, so that each side's JetStream
/// answers its own clients only (a domain reaches across with `$JS.<domain>.API`).
const JETSTREAM_DENY: &[&str] = &["$JS.API.>", "$KV.>", "$OBJ.>"];
/// The same for the system account, plus the cluster's own traffic.
const JETSTREAM_DENY_SYSTEM: &[&str] = &["$JSC.>", "$NRG.>", "$JS.API.>", "$KV.>", "$OBJ.>"];

/// Which subjects may cross a link, in each sense.
#[derive(Debug, Default)]
struct LinkPerms {
    /// Messages sent over the link, and (literal) interest the other side may announce.
    send: Option<CompiledPermissions>,
    /// Interest this side announces.
    interest: Option<CompiledPermissions>,
    /// Messages accepted from the link.
    receive: Option<CompiledPermissions>,
}

fn allows(perms: &Option<CompiledPermissions>, subject: &[u8]) -> bool {
    perms
        .as_ref()
        .is_none_or(|p| p.can_subscribe(subject, None))
}

/// Subjects that cross links without permission checks: loop detection, and replies routed
/// through gateways and service imports.
fn exempt(subject: &[u8]) -> bool {
    subject.starts_with(LOOP_DETECTION_PREFIX)
        || subject.starts_with(b"$GR.")
        || subject.starts_with(b"_GR_.")
}

/// A list of subjects as a permission: allowed unless `allow` is given and misses, and not
/// denied.
fn compile(allow: &[String], deny: &[String]) -> Option<CompiledPermissions> {
    if allow.is_empty() && deny.is_empty() {
        return None;
    }
    Some(CompiledPermissions::new(&Permissions {
        subscribe: Some(SubjectPermission {
            allow: allow.to_vec(),
            deny: deny.to_vec(),
        }),
        ..Permissions::default()
    }))
}

/// What monitoring shows of the other side.
#[derive(Debug, Clone, Default)]
pub struct RemoteMeta {
    /// The other server's name (its id when it has none).
    pub name: String,
    /// The other side's account the link is bound to.
    pub account: String,
    /// The other side's cluster, if it has one.
    pub cluster: String,
}

/// Where a bound link's watcher is registered: its account, and the watcher.
type Bound = (Arc<Account>, Arc<dyn InterestWatcher>);

/// The shared state of one leaf link (see the module docs).
#[derive(Debug)]
pub struct LinkState {
    /// This server connected to the other (its hub): the link carries local interest only.
    pub solicited: bool,
    perms: RwLock<LinkPerms>,
    /// The interest announced, by key; `None` until the link is bound to its account.
    smap: Mutex<Option<HashMap<Box<[u8]>, u32>>>,
    pub(crate) remote: Mutex<RemoteMeta>,
    /// The watcher this link registered in its account's sublist while bound.
    watcher: Mutex<Option<Bound>>,
    /// `$JS.<domain>.API.` of this server's JetStream domain: requests for it are answered
    /// here and never sent over the link (nats-server's guard against two sides with the
    /// same domain).
    local_domain_api: Option<Box<[u8]>>,
}

impl LinkState {
    pub(crate) fn new(solicited: bool) -> Self {
        LinkState {
            solicited,
            perms: RwLock::new(LinkPerms::default()),
            smap: Mutex::new(None),
            remote: Mutex::new(RemoteMeta::default()),
            watcher: Mutex::new(None),
            local_domain_api: None,
        }
    }

    /// The link of a server whose JetStream runs in `domain` (`None`: no JetStream, or no
    /// domain): that domain's API stays on this side.
    pub(crate) fn with_local_domain(mut self, domain: Option<&str>) -> Self {
        self.local_domain_api = domain
            .filter(|d| !d.is_empty())
            .map(|d| format!("$JS.{d}.API.").into_bytes().into());
        self
    }

    /// Sets what may cross a link this server solicited: what the hub allows it to export
    /// and import (its INFO), narrowed by the remote's `deny_exports` and `deny_imports`.
    pub(crate) fn set_spoke_perms(
        &self,
        export: Option<&crate::proto::leaf_info::SubjectLists>,
        import: Option<&crate::proto::leaf_info::SubjectLists>,
        deny_exports: &[String],
        deny_imports: &[String],
        system: bool,
    ) {
        let js = js_deny(system);
        let lists = |l: Option<&crate::proto::leaf_info::SubjectLists>, extra: &[String]| {
            let allow = l.map(|l| l.allow.clone()).unwrap_or_default();
            let mut deny = l.map(|l| l.deny.clone()).unwrap_or_default();
            deny.extend_from_slice(extra);
            deny.extend(js.iter().cloned());
            compile(&allow, &deny)
        };
        let interest = lists(import, deny_imports);
        *self.perms.write() = LinkPerms {
            send: lists(export, deny_exports),
            receive: lists(import, deny_imports),
            interest,
        };
    }

    /// Sets what may cross a link this server accepted, from the leaf user's permissions
    /// (seen from the leaf: its publish is what it sends here, its subscribe what it gets)
    /// and the `deny_pub` of its CONNECT (what it refuses to import).
    pub(crate) fn set_hub_perms(
        &self,
        user: Option<&Permissions>,
        deny_pub: &[String],
        system: bool,
    ) {
        let js = js_deny(system);
        let publish = user.and_then(|p| p.publish.as_ref());
        let subscribe = user.and_then(|p| p.subscribe.as_ref());
        let allow = |p: Option<&SubjectPermission>| p.map(|p| p.allow.clone()).unwrap_or_default();
        let deny = |p: Option<&SubjectPermission>| p.map(|p| p.deny.clone()).unwrap_or_default();
        let mut send_deny = deny(subscribe);
        send_deny.extend_from_slice(deny_pub);
        send_deny.extend(js.iter().cloned());
        let mut interest_deny = deny(publish);
        interest_deny.extend(js.iter().cloned());
        *self.perms.write() = LinkPerms {
            send: compile(&allow(subscribe), &send_deny),
            interest: compile(&allow(publish), &interest_deny),
            // The leaf's own publish permissions, without JetStream's denies: nats-server
            // lets a leaf's JetStream API requests in (a domain's mapping needs them).
            receive: compile(&allow(publish), &deny(publish)),
        };
    }

    /// Whether the link is up: bound to its account, its interest flowing.
    pub fn is_bound(&self) -> bool {
        self.smap.lock().is_some()
    }

    /// Whether a message on `subject` may be sent over the link (and, for a literal
    /// subject, whether the other side may announce interest in it).
    pub fn may_send(&self, subject: &[u8]) -> bool {
        let own_domain = self
            .local_domain_api
            .as_deref()
            .is_some_and(|p| subject.starts_with(p));
        !own_domain && self.permits_send(subject)
    }

    /// Whether the permissions let a message on `subject` be sent over the link (and the
    /// other side announce interest in it), this side's JetStream domain aside.
    pub fn permits_send(&self, subject: &[u8]) -> bool {
        exempt(subject) || allows(&self.perms.read().send, subject)
    }

    /// Whether a message on `subject` from the other side is accepted. Replies of service
    /// imports and JetStream acknowledgements always are, as in nats-server.
    pub fn may_receive(&self, subject: &[u8]) -> bool {
        exempt(subject)
            || subject.starts_with(b"_R_.")
            || subject.starts_with(b"$JS.ACK.")
            || allows(&self.perms.read().receive, subject)
    }

    /// Whether interest in `subject` is announced to the other side.
    fn may_announce(&self, subject: &[u8]) -> bool {
        exempt(subject) || allows(&self.perms.read().interest, subject)
    }

    /// How many keys (subjects, queue groups) this side announced.
    pub fn announced_count(&self) -> usize {
        self.smap.lock().as_ref().map_or(0, HashMap::len)
    }

    /// The other side's name, account and cluster.
    pub fn remote_meta(&self) -> RemoteMeta {
        self.remote.lock().clone()
    }

    /// The keys announced and their weights, sorted (for tests and monitoring).
    pub fn announced(&self) -> Vec<(String, u32)> {
        let smap = self.smap.lock();
        let mut keys: Vec<(String, u32)> = smap
            .iter()
            .flatten()
            .map(|(k, n)| (String::from_utf8_lossy(k).into_owned(), *n))
            .collect();
        keys.sort();
        keys
    }
}

fn js_deny(system: bool) -> Vec<String> {
    let list = if system {
        JETSTREAM_DENY_SYSTEM
    } else {
        JETSTREAM_DENY
    };
    list.iter().map(|s| (*s).to_string()).collect()
}

/// Whether `owner`'s interest goes to `link`: everything but the link's own for a link
/// this server accepted; for one it solicited, only local interest (clients, services, and
/// links this server accepted), since the hub knows the rest already. Loop detection
/// subjects always go, so that a loop shows wherever it closes.
fn carries(link: &ClientShared, state: &LinkState, sub: &Subscription) -> bool {
    if sub.client.cid == link.cid {
        return false;
    }
    if !state.solicited || sub.subject.starts_with(LOOP_DETECTION_PREFIX) {
        return true;
    }
    sub.client
        .leaf
        .as_ref()
        .is_none_or(|other| !other.solicited)
}

/// The watcher a bound link registers in its account's sublist.
#[derive(Debug)]
struct LinkWatcher {
    link: Arc<ClientShared>,
}

impl InterestWatcher for LinkWatcher {
    fn interest_changed(&self, sub: &Arc<Subscription>, delta: i64) {
        let Some(state) = &self.link.leaf else {
            return;
        };
        if !carries(&self.link, state, sub) {
            return;
        }
        if delta > 0 && !state.may_announce(&sub.subject) {
            return;
        }
        let key = leaf::interest_key(&sub.subject, sub.queue.as_deref());
        let mut smap = state.smap.lock();
        let Some(map) = smap.as_mut() else {
            return;
        };
        let before = i64::from(map.get(&key[..]).copied().unwrap_or(0));
        if delta < 0 && before == 0 {
            return;
        }
        let after = (before + delta).max(0);
        let update = sub.queue.is_some() || (before == 0) != (after == 0);
        let mut line = Vec::with_capacity(key.len() + 16);
        if after > 0 {
            let weight = u32::try_from(after).unwrap_or(u32::MAX);
            leaf::sub_line(&mut line, &key, weight);
            map.insert(key.into(), weight);
        } else {
            leaf::unsub_line(&mut line, &key);
            map.remove(&key[..]);
        }
        if update {
            // Queued under the map's lock, so the other side sees changes in order.
            self.link.send_protocol(&line);
        }
    }
}

/// Binds `link`'s interest to its account: takes the account's subscriptions as the
/// interest announced (plus the account's loop-detection subject `lds`), sends it, and
/// watches for changes from then on. Done under the sublist's write lock, so no change is
/// missed or counted twice.
pub(crate) fn bind_interest(link: &Arc<ClientShared>, lds: &str) {
    let Some(state) = &link.leaf else {
        return;
    };
    let account = link.account();
    let watcher: Arc<dyn InterestWatcher> = Arc::new(LinkWatcher { link: link.clone() });
    let mut sublist = account.sublist.write();
    let mut map: HashMap<Box<[u8]>, u32> = HashMap::new();
    for sub in sublist.subscriptions() {
        if !carries(link, state, &sub) || !state.may_announce(&sub.subject) {
            continue;
        }
        let weight = sub.weight.load(std::sync::atomic::Ordering::Relaxed);
        let key = leaf::interest_key(&sub.subject, sub.queue.as_deref());
        *map.entry(key.into()).or_insert(0) += weight;
    }
    map.insert(lds.as_bytes().into(), 1);
    let mut keys: Vec<(&Box<[u8]>, &u32)> = map.iter().collect();
    keys.sort();
    let mut lines = Vec::new();
    for (key, weight) in keys {
        leaf::sub_line(&mut lines, key, *weight);
    }
    *state.smap.lock() = Some(map);
    link.send_protocol(&lines);
    sublist.watch(watcher.clone());
    drop(sublist);
    *state.watcher.lock() = Some((account, watcher));
}

/// Stops announcing interest (the link closes).
pub(crate) fn unbind_interest(link: &ClientShared) {
    let Some(state) = &link.leaf else {
        return;
    };
    if let Some((account, watcher)) = state.watcher.lock().take() {
        account.sublist.write().unwatch(&watcher);
    }
    *state.smap.lock() = None;
}

/// A leaf link a publish reaches: the first of its subscriptions that matched (a shadow
/// one maps the subject) and the queue subscriptions picked for it.
#[derive(Debug)]
pub(crate) struct Target {
    sub: Arc<Subscription>,
    queues: Vec<Arc<Subscription>>,
}

/// Notes that the publish under way goes to `sub`'s link (once, whatever else of it
/// matched); false when the link may not carry the subject.
pub(crate) fn add_target(
    fanout: &mut Fanout,
    link: &LinkState,
    sub: &Arc<Subscription>,
    msg: &Publish<'_>,
) -> bool {
    if !link.may_send(msg.subject) {
        return false;
    }
    let cid = sub.client.cid;
    let mark = fanout.leaf_mark.min(fanout.leaf_targets.len());
    if let Some(target) = fanout.leaf_targets[mark..]
        .iter_mut()
        .find(|t| t.sub.client.cid == cid)
    {
        if sub.queue.is_some() {
            target.queues.push(sub.clone());
        }
        return true;
    }
    let queues = if sub.queue.is_some() {
        vec![sub.clone()]
    } else {
        Vec::new()
    };
    fanout.leaf_targets.push(Target {
        sub: sub.clone(),
        queues,
    });
    true
}

/// Frames the publish under way once for each leaf link it reached (`LMSG`/`HMSG` with
/// the queue groups picked for that link) and queues it.
pub(crate) fn flush_targets(server: &Arc<Server>, fanout: &mut Fanout, msg: &Publish<'_>) {
    let mark = fanout.leaf_mark.min(fanout.leaf_targets.len());
    let mut targets = std::mem::take(&mut fanout.leaf_targets);
    for target in targets.drain(mark..) {
        let client = &target.sub.client;
        let mapped;
        let subject = match &target.sub.import {
            Some(import) => match import.local_subject(msg.subject) {
                Some(local) => {
                    mapped = local;
                    &mapped[..]
                }
                None => continue,
            },
            None => msg.subject,
        };
        // A link that did not negotiate headers gets the payload alone.
        let (header_len, body) = match msg.header_len {
            Some(n) if n > 0 && client.supports_headers() => (Some(n), msg.message),
            Some(n) if n > 0 => (None, msg.payload()),
            _ => (None, msg.message),
        };
        let queues = target.queues.iter().filter_map(|q| q.queue.as_deref());
        let pushed = client.outbound.push(Some(body.len()), |out| {
            leaf::message(out, subject, msg.reply, queues, header_len, body)
        });
        if queued(server, fanout, client, pushed) {
            target
                .sub
                .delivered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fanout.leaf_targets = targets;
}

/// nats-server's first PING on a server link: within a second, plus up to 20% jitter.
pub(crate) fn first_ping_delay(ping_interval: Duration) -> Duration {
    let base = ping_interval.min(Duration::from_secs(1));
    let jitter = u64::try_from(base.as_nanos() / 5).unwrap_or(0);
    base + Duration::from_nanos(fastrand::u64(0..=jitter))
}
