//! Authorization: what an authenticated user may publish and subscribe to, as nats-server
//! decides it (client.go `canSubscribe`, `pubAllowedFullCheck`, `checkDenySub`,
//! `responseAllowed`).
//!
//! * Publish and subscribe each have an allow and a deny list; deny wins. Entries are
//!   matched like a sublist: an entry `*` covers any one token (also a literal `*` or `>` in
//!   the tested subject), `>` one or more.
//! * Subscribe entries may name a queue (`"subject queue"`): a queue subscription is then
//!   allowed (or denied) only for matching queue names.
//! * A subscription whose wildcard overlaps a subscribe deny entry is filtered at delivery
//!   time, so `SUB foo.>` never receives a denied `foo.private`.
//! * `allow_responses` grants a client the right to publish to the reply subjects of the
//!   requests it received, for a number of messages and a time.
//!
//! Decisions are cached per connection (bounded, as nats-server's caches), and a connection
//! without permissions carries none of this.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::inspect::snapshot::EventKind;
use crate::options::{Permissions, ResponsePermission};
use crate::proto::{errors, subject};

/// nats-server's `maxPermCacheSize` / `maxDenyPermCacheSize` / `pruneSize`.
const MAX_PUB_CACHE: usize = 128;
const MAX_DENY_CACHE: usize = 256;
const PRUNE_SIZE: usize = 32;
/// nats-server's `replyPermLimit` and `replyPruneTime`.
const REPLY_PERM_LIMIT: usize = 4096;
const REPLY_PRUNE_TIME: Duration = Duration::from_secs(1);
/// nats-server refuses this queue name to clients (`sysGroup`).
const SYS_GROUP: &[u8] = b"_sys_";

/// One permission entry: a subject pattern and, for subscribe entries, an optional queue.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

/// A list of entries, matched as nats-server matches a sublist of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SubjectList {
    entries: Vec<Entry>,
}

/// What a subject matched in a list: plain entries, and the queue names of queue entries.
struct ListMatch<'a> {
    plain: bool,
    queues: Vec<&'a [u8]>,
}

impl SubjectList {
    fn matching(&self, subject: &[u8]) -> ListMatch<'_> {
        let mut m = ListMatch {
            plain: false,
            queues: Vec::new(),
        };
        for e in &self.entries {
            if subject::matches(&e.subject, subject) {
                match &e.queue {
                    None => m.plain = true,
                    Some(q) => m.queues.push(q),
                }
            }
        }
        m
    }

    fn has_plain_match(&self, subject: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.queue.is_none() && subject::matches(&e.subject, subject))
    }
}

/// nats-server's `queueMatches`: the queue is named, or covered by a wildcard queue entry.
fn queue_matches(queue: &[u8], queues: &[&[u8]]) -> bool {
    queues.is_empty()
        || queues
            .iter()
            .any(|q| *q == queue || (subject::has_wildcard(q) && subject::matches(q, queue)))
}

/// Two subjects collide when some literal subject matches both.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    let mut ta = subject::tokens(a);
    let mut tb = subject::tokens(b);
    loop {
        match (ta.next(), tb.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if x == b">" || y == b">" {
                    return true;
                }
                if x != y && x != b"*" && y != b"*" {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// A `"subject queue"` entry split as nats-server's `splitSubjectQueue` does.
fn split_subject_queue(text: &str) -> Option<Entry> {
    let mut fields = text.split_ascii_whitespace();
    let subject = fields.next()?;
    let queue = fields.next();
    if fields.next().is_some() || !subject::is_valid_subject(subject.as_bytes()) {
        return None;
    }
    if queue.is_some_and(|q| !subject::is_valid_subject(q.as_bytes())) {
        return None;
    }
    Some(Entry {
        subject: subject.as_bytes().into(),
        queue: queue.map(|q| q.as_bytes().into()),
    })
}

fn publish_list(items: &[String], deny: bool) -> SubjectList {
    let entries = items
        .iter()
        .filter_map(|s| {
            if subject::is_valid_subject(s.as_bytes()) {
                Some(Entry {
                    subject: s.as_bytes().into(),
                    queue: None,
                })
            } else if deny {
                // A queue qualifier means nothing for publish; keep the subject's scope.
                split_subject_queue(s).map(|e| Entry { queue: None, ..e })
            } else {
                None
            }
        })
        .collect();
    SubjectList { entries }
}

fn subscribe_list(items: &[String]) -> SubjectList {
    SubjectList {
        entries: items
            .iter()
            .filter_map(|s| split_subject_queue(s))
            .collect(),
    }
}

/// A user's permissions, compiled once per server and shared by its connections.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPermissions {
    /// `None` = no allow check (everything allowed unless denied).
    pub_allow: Option<SubjectList>,
    pub_deny: Option<SubjectList>,
    sub_allow: Option<SubjectList>,
    sub_deny: Option<SubjectList>,
    responses: Option<ResponsePermission>,
}

impl CompiledPermissions {
    pub fn new(p: &Permissions) -> Self {
        let publish = p.publish.as_ref();
        // As nats-server's validateResponsePermissions: allowing responses turns the blanket
        // publish allowance off, so an empty allow list then means "only replies".
        let pub_allow = publish
            .filter(|pp| !pp.allow.is_empty() || p.allow_responses.is_some())
            .map(|pp| publish_list(&pp.allow, false))
            .or_else(|| p.allow_responses.as_ref().map(|_| SubjectList::default()));
        let pub_deny = publish
            .filter(|pp| !pp.deny.is_empty())
            .map(|pp| publish_list(&pp.deny, true));
        let subscribe = p.subscribe.as_ref();
        let sub_allow = subscribe
            .filter(|sp| !sp.allow.is_empty())
            .map(|sp| subscribe_list(&sp.allow));
        let sub_deny = subscribe
            .filter(|sp| !sp.deny.is_empty())
            .map(|sp| subscribe_list(&sp.deny));
        let responses = p.allow_responses.as_ref().map(|r| ResponsePermission {
            max_msgs: if r.max_msgs == 0 { 1 } else { r.max_msgs },
            expires: r.expires,
        });
        CompiledPermissions {
            pub_allow,
            pub_deny,
            sub_allow,
            sub_deny,
            responses,
        }
    }

    /// The static publish decision (allow, then deny), without reply tracking.
    fn publish_static(&self, subject: &[u8]) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.pub_allow {
            allowed = allow.has_plain_match(subject);
        }
        if allowed {
            if let Some(deny) = &self.pub_deny {
                allowed = !deny.has_plain_match(subject);
            }
        }
        allowed
    }

    fn checks_publish(&self) -> bool {
        self.pub_allow.is_some() || self.pub_deny.is_some()
    }

    /// nats-server's `canSubscribe` (without the delivery filter set-up).
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if queue == Some(SYS_GROUP) {
            return false;
        }
        let queue = queue.filter(|q| !q.is_empty());
        let mut allowed = true;
        if let Some(allow) = &self.sub_allow {
            let m = allow.matching(subject);
            allowed = m.plain;
            if let Some(q) = queue {
                if !m.queues.is_empty() {
                    allowed = queue_matches(q, &m.queues);
                }
            }
        }
        if allowed {
            if let Some(deny) = &self.sub_deny {
                let m = deny.matching(subject);
                allowed = !m.plain;
                if allowed {
                    if let Some(q) = queue {
                        if !m.queues.is_empty() {
                            allowed = !queue_matches(q, &m.queues);
                        }
                    }
                }
            }
        }
        allowed
    }

    /// Whether a subscription must be checked against the deny list at delivery time: it has
    /// a wildcard or a queue, and overlaps a deny entry.
    pub fn needs_delivery_check(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let Some(deny) = &self.sub_deny else {
            return false;
        };
        (queue.is_some_and(|q| !q.is_empty()) || subject::has_wildcard(subject))
            && deny
                .entries
                .iter()
                .any(|e| subjects_collide(&e.subject, subject))
    }

    fn delivery_denied(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let Some(deny) = &self.sub_deny else {
            return false;
        };
        let m = deny.matching(subject);
        let mut denied = m.plain;
        if let Some(q) = queue.filter(|q| !q.is_empty()) {
            if !denied && !m.queues.is_empty() {
                denied = queue_matches(q, &m.queues);
            }
        }
        denied
    }
}

/// A reply subject a client may answer once or a few times.
#[derive(Debug, Clone, Copy)]
struct Reply {
    at: Instant,
    uses: usize,
}

#[derive(Debug, Default)]
struct Shared {
    replies: HashMap<Box<[u8]>, Reply>,
    replies_since_prune: usize,
    last_prune: Option<Instant>,
    /// Delivery-time deny decisions per subject and queue (nats-server's `msgDenyKey`),
    /// keyed `subject` or `subject queue` (neither may hold a space).
    deny_cache: HashMap<Box<[u8]>, bool>,
    /// Where the key is built, so a cache hit allocates nothing.
    key: Vec<u8>,
}

/// The part of a client's permissions that publishers touch while delivering to it: the
/// delivery-time deny filter and the reply subjects it was handed.
#[derive(Debug)]
pub struct DeliveryPerms {
    perms: Arc<CompiledPermissions>,
    state: Mutex<Shared>,
}

impl DeliveryPerms {
    pub fn new(perms: Arc<CompiledPermissions>) -> Self {
        DeliveryPerms {
            perms,
            state: Mutex::new(Shared::default()),
        }
    }

    pub fn tracks_replies(&self) -> bool {
        self.perms.responses.is_some()
    }

    /// nats-server's `checkDenySub`: true when this message must not reach the subscription.
    pub fn denies(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        st.key.clear();
        st.key.extend_from_slice(subject);
        if let Some(q) = queue {
            st.key.push(b' ');
            st.key.extend_from_slice(q);
        }
        if let Some(&denied) = st.deny_cache.get(st.key.as_slice()) {
            return denied;
        }
        let denied = self.perms.delivery_denied(subject, queue);
        st.deny_cache.insert(st.key.as_slice().into(), denied);
        if st.deny_cache.len() > MAX_DENY_CACHE {
            prune(&mut st.deny_cache);
        }
        denied
    }

    /// Called when a message with a reply subject is queued to this client: remember the
    /// reply so the client may answer it (unless it may publish there anyway).
    pub fn track_reply(&self, reply: &[u8]) {
        let Some(rp) = &self.perms.responses else {
            return;
        };
        if self.perms.publish_static(reply) {
            return;
        }
        let now = Instant::now();
        let mut st = self.state.lock();
        if response_allowed(&mut st, rp, reply, now) {
            return;
        }
        st.replies.insert(reply.into(), Reply { at: now, uses: 0 });
        st.replies_since_prune += 1;
        let stale = st
            .last_prune
            .is_none_or(|t| now.duration_since(t) > REPLY_PRUNE_TIME);
        if st.replies_since_prune > REPLY_PERM_LIMIT || stale {
            st.replies
                .retain(|_, r| r.uses < rp.max_msgs && now.duration_since(r.at) <= rp.expires);
            st.replies_since_prune = 0;
            st.last_prune = Some(now);
        }
    }

    /// Uses up one response permission for `subject`, if the client holds one.
    fn use_reply(&self, subject: &[u8]) -> bool {
        let Some(rp) = &self.perms.responses else {
            return false;
        };
        let mut st = self.state.lock();
        response_allowed(&mut st, rp, subject, Instant::now())
    }
}

/// nats-server's `responseAllowed`: counts a use; forgets the reply once spent or expired.
fn response_allowed(
    st: &mut Shared,
    rp: &ResponsePermission,
    subject: &[u8],
    now: Instant,
) -> bool {
    let Some(r) = st.replies.get_mut(subject) else {
        return false;
    };
    r.uses += 1;
    if r.uses > rp.max_msgs || now.duration_since(r.at) > rp.expires {
        st.replies.remove(subject);
        return false;
    }
    true
}

/// Drops a few entries, as nats-server prunes its caches (it deletes in map order).
fn prune<K: Eq + std::hash::Hash + Clone, V>(cache: &mut HashMap<K, V>) {
    let victims: Vec<K> = cache.keys().take(PRUNE_SIZE + 1).cloned().collect();
    for k in victims {
        cache.remove(&k);
    }
}

/// One connection's view of its permissions, owned by its read task.
#[derive(Debug)]
pub struct ConnPerms {
    perms: Arc<CompiledPermissions>,
    pub delivery: Arc<DeliveryPerms>,
    pub_cache: HashMap<Box<[u8]>, bool>,
}

impl ConnPerms {
    pub fn new(perms: Arc<CompiledPermissions>) -> Self {
        ConnPerms {
            delivery: Arc::new(DeliveryPerms::new(perms.clone())),
            perms,
            pub_cache: HashMap::new(),
        }
    }

    /// nats-server's `pubAllowedFullCheck`: the static decision is cached; a denied subject
    /// may still be a reply this client was handed (not cached).
    pub fn can_publish(&mut self, subject: &[u8]) -> bool {
        if !self.perms.checks_publish() {
            return true;
        }
        if let Some(&allowed) = self.pub_cache.get(subject) {
            if allowed || self.perms.responses.is_none() {
                return allowed;
            }
            return self.delivery.use_reply(subject);
        }
        let allowed = self.perms.publish_static(subject);
        if !allowed && self.perms.responses.is_some() {
            return self.delivery.use_reply(subject);
        }
        self.pub_cache.insert(subject.into(), allowed);
        if self.pub_cache.len() > MAX_PUB_CACHE {
            prune(&mut self.pub_cache);
        }
        allowed
    }

    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.perms.can_subscribe(subject, queue)
    }

    /// What a new subscription must carry for delivery-time checks, if anything.
    pub fn for_subscription(&self, subject: &[u8], queue: Option<&[u8]>) -> Option<SubPerms> {
        let check_deny = self.perms.needs_delivery_check(subject, queue);
        (check_deny || self.delivery.tracks_replies()).then(|| SubPerms {
            check_deny,
            perms: self.delivery.clone(),
        })
    }
}

/// Attached to a subscription of a client with permissions that matter at delivery.
#[derive(Debug, Clone)]
pub struct SubPerms {
    pub check_deny: bool,
    pub perms: Arc<DeliveryPerms>,
}

/// nats-server's reserved subjects, refused to every client whatever its permissions:
/// publishing to `_GR_.…` or `$NRG.…`, and replies on `_R_.…`, `$JS.ACK.…` or `_GR_.…`.
pub fn reserved_publish(subject: &[u8]) -> bool {
    (subject.len() > 5 && subject.starts_with(b"_GR_.")) || subject.starts_with(b"$NRG.")
}

pub fn reserved_reply(reply: &[u8]) -> bool {
    (reply.len() > 3 && reply.starts_with(b"_R_."))
        || (reply.len() > 8 && reply.starts_with(b"$JS.ACK."))
        || (reply.len() > 5 && reply.starts_with(b"_GR_."))
}

impl super::client::Conn {
    /// Whether a PUB may go ahead; answers a refusal with nats-server's `-ERR` (the
    /// connection stays open). Costs two byte compares when no permissions are configured.
    #[inline]
    pub(crate) fn may_publish(&mut self, subject: &[u8], reply: Option<&[u8]>) -> bool {
        let reserved_subject = matches!(subject.first(), Some(b'_' | b'$'));
        if reserved_subject && subject.starts_with(b"_GR_.") && reserved_publish(subject) {
            self.permission_violation(errors::publish_violation(subject));
            return false;
        }
        if let Some(perms) = &mut self.perms {
            if !perms.can_publish(subject) {
                self.permission_violation(errors::publish_violation(subject));
                return false;
            }
        }
        if reserved_subject && reserved_publish(subject) {
            self.permission_violation(errors::publish_violation(subject));
            return false;
        }
        if let Some(reply) = reply {
            if matches!(reply.first(), Some(b'_' | b'$')) && reserved_reply(reply) {
                self.permission_violation(errors::publish_reply_violation(reply));
                return false;
            }
        }
        true
    }

    /// Sends a permissions `-ERR` (the connection stays open) and tells the inspector.
    pub(crate) fn permission_violation(&mut self, text: String) {
        crate::log_error!("{} - cid:{} - {}", self.shared.addr, self.shared.cid, text);
        self.send_err(&text);
        self.server.tap.event(EventKind::PermissionViolation {
            cid: self.shared.cid,
            text,
        });
    }
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
