//! The subject trie (nats-server's Sublist): subscriptions by subject token, with `*` and `>`
//! branches, matched against literal subjects. Publishers cache results per generation; the
//! generation moves on every insert and remove, which invalidates every cache at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::client::ClientShared;
use crate::proto::subject;

/// One SUB of one connection.
#[derive(Debug)]
pub struct Subscription {
    pub client: Arc<ClientShared>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Auto-unsubscribe after this many deliveries; 0 = no limit.
    pub max_msgs: AtomicU64,
    pub delivered: AtomicU64,
    /// Delivery-time permission checks of the owning client, if it has any that matter.
    pub perms: Option<super::permissions::SubPerms>,
    /// Set on an internal client's subscription: messages call it instead of being queued.
    pub handler: Option<Arc<dyn super::internal::InternalHandler>>,
    /// Set on a shadow subscription (in an exporter's sublist, for a subscriber of an
    /// importing account): deliveries carry the importer's subject.
    pub import: Option<Arc<super::imports::StreamImport>>,
    /// This subscription's shadows in the accounts it imports streams from (they change
    /// when an account JWT update changes the stream imports).
    pub shadows: super::imports::Shadows,
    /// How many members a queue subscription stands for: 1, or for the interest of a leaf
    /// link the weight the other side announced (`LS+ subject queue weight`).
    pub weight: AtomicU32,
    /// The owner is a leaf link (kept here, beside what delivery reads anyway, so that the
    /// publish path tells links from clients without touching the client).
    pub leaf: bool,
    closed: AtomicBool,
}

impl Subscription {
    pub fn new(
        client: Arc<ClientShared>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Self {
        let leaf = client.leaf.is_some();
        Subscription {
            client,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: sid.into(),
            max_msgs: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            perms: None,
            handler: None,
            import: None,
            shadows: Default::default(),
            weight: AtomicU32::new(1),
            leaf,
            closed: AtomicBool::new(false),
        }
    }

    /// Attaches the owning client's delivery-time permission checks.
    pub fn with_perms(mut self, perms: Option<super::permissions::SubPerms>) -> Self {
        self.perms = perms;
        self
    }

    /// Makes this an internal subscription (see `broker::internal`).
    pub fn with_handler(mut self, handler: Arc<dyn super::internal::InternalHandler>) -> Self {
        self.handler = Some(handler);
        self
    }

    /// Makes this a shadow subscription of a stream import.
    pub fn with_import(mut self, import: Arc<super::imports::StreamImport>) -> Self {
        self.import = Some(import);
        self
    }

    pub fn with_shadows(mut self, shadows: Vec<Arc<Subscription>>) -> Self {
        self.shadows = super::imports::Shadows::new(shadows);
        self
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the subscription dead; returns false if it already was.
    pub fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// A snapshot for monitoring.
    pub fn info(&self) -> SubInfo {
        SubInfo {
            subject: String::from_utf8_lossy(&self.subject).into_owned(),
            queue: self
                .queue
                .as_ref()
                .map(|q| String::from_utf8_lossy(q).into_owned()),
            sid: String::from_utf8_lossy(&self.sid).into_owned(),
            msgs: self.delivered.load(Ordering::Relaxed),
            max: self.max_msgs.load(Ordering::Relaxed),
            cid: self.client.cid,
        }
    }
}

/// What monitoring shows of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubInfo {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    /// Messages delivered so far.
    pub msgs: u64,
    /// Auto-unsubscribe limit; 0 = none.
    pub max: u64,
    /// The owning connection's id.
    pub cid: u64,
}

/// Counters of a sublist, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SublistStats {
    pub count: usize,
    pub inserts: u64,
    pub removes: u64,
}

/// What a subject matched: every plain subscription, and the queue groups by name.
#[derive(Debug, Default)]
pub struct SublistResult {
    pub psubs: Vec<Arc<Subscription>>,
    pub qsubs: Vec<QueueGroup>,
}

#[derive(Debug)]
pub struct QueueGroup {
    pub name: Box<[u8]>,
    pub members: Vec<Arc<Subscription>>,
}

impl SublistResult {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid subject")]
pub struct InvalidSubject;

#[derive(Debug, Default)]
struct Level {
    literals: HashMap<Box<[u8]>, Node>,
    partial_wildcard: Option<Box<Node>>,
    full_wildcard: Option<Box<Node>>,
}

#[derive(Debug, Default)]
struct Node {
    next: Option<Box<Level>>,
    psubs: Vec<Arc<Subscription>>,
    qsubs: Vec<QueueGroup>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.psubs.is_empty()
            && self.qsubs.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

impl Level {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.partial_wildcard.is_none() && self.full_wildcard.is_none()
    }

    fn child(&mut self, token: &[u8]) -> &mut Node {
        match token {
            b"*" => self.partial_wildcard.get_or_insert_with(Default::default),
            b">" => self.full_wildcard.get_or_insert_with(Default::default),
            _ => self.literals.entry(token.into()).or_default(),
        }
    }
}

/// Told of every change of a sublist's interest, under the sublist's write lock, so that
/// changes arrive in the order they happened and none is missed by a watcher that took a
/// snapshot under the same lock (the leaf links forward interest this way).
pub trait InterestWatcher: Send + Sync + std::fmt::Debug {
    /// `delta` members were added to (positive) or removed from (negative) the interest
    /// `sub` stands for.
    fn interest_changed(&self, sub: &Arc<Subscription>, delta: i64);
}

/// The trie itself. Callers hold it behind a lock and read `generation` to validate caches.
#[derive(Debug, Default)]
pub struct Sublist {
    root: Level,
    count: usize,
    inserts: u64,
    removes: u64,
    generation: Arc<AtomicU64>,
    /// Who hears of interest changes; empty unless leaf links are bound to the account.
    watchers: Vec<Arc<dyn InterestWatcher>>,
}

impl Sublist {
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation counter, shared so readers can check it without the lock.
    pub fn generation(&self) -> Arc<AtomicU64> {
        self.generation.clone()
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Subscription count and lifetime insert/remove counters.
    pub fn stats(&self) -> SublistStats {
        SublistStats {
            count: self.count,
            inserts: self.inserts,
            removes: self.removes,
        }
    }

    /// Every subscription in the trie (for monitoring; walks the whole trie).
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        let mut out = Vec::with_capacity(self.count);
        collect_level(&self.root, &mut out);
        out
    }

    pub fn insert(&mut self, sub: Arc<Subscription>) -> Result<(), InvalidSubject> {
        if !subject::is_valid_subject(&sub.subject) {
            return Err(InvalidSubject);
        }
        let tokens: Vec<&[u8]> = subject::tokens(&sub.subject).collect();
        let mut level = &mut self.root;
        let last = tokens.len() - 1;
        for (index, token) in tokens.iter().enumerate() {
            let node = level.child(token);
            if index == last {
                match &sub.queue {
                    None => node.psubs.push(sub.clone()),
                    Some(queue) => match node.qsubs.iter_mut().find(|g| &g.name == queue) {
                        Some(group) => group.members.push(sub.clone()),
                        None => node.qsubs.push(QueueGroup {
                            name: queue.clone(),
                            members: vec![sub.clone()],
                        }),
                    },
                }
                break;
            }
            level = node.next.get_or_insert_with(Default::default);
        }
        self.count += 1;
        self.inserts += 1;
        self.generation.fetch_add(1, Ordering::Release);
        if !self.watchers.is_empty() {
            self.notify(&sub, i64::from(sub.weight.load(Ordering::Relaxed)));
        }
        Ok(())
    }

    /// Starts telling `watcher` of interest changes.
    pub fn watch(&mut self, watcher: Arc<dyn InterestWatcher>) {
        self.watchers.push(watcher);
    }

    /// Stops telling `watcher` (the same `Arc`) of interest changes.
    pub fn unwatch(&mut self, watcher: &Arc<dyn InterestWatcher>) {
        self.watchers.retain(|w| !Arc::ptr_eq(w, watcher));
    }

    /// Tells the watchers of a change that is not an insert or a remove (a queue weight).
    pub fn notify(&self, sub: &Arc<Subscription>, delta: i64) {
        for watcher in &self.watchers {
            watcher.interest_changed(sub, delta);
        }
    }

    /// Removes this exact subscription; returns whether it was present.
    pub fn remove(&mut self, sub: &Arc<Subscription>) -> bool {
        let tokens: Vec<&[u8]> = subject::tokens(&sub.subject).collect();
        let removed = remove_from(&mut self.root, &tokens, sub);
        if removed {
            self.count -= 1;
            self.removes += 1;
            self.generation.fetch_add(1, Ordering::Release);
            if !self.watchers.is_empty() {
                self.notify(sub, -i64::from(sub.weight.load(Ordering::Relaxed)));
            }
        }
        removed
    }

    /// Everything that a message published to `subject` reaches.
    pub fn match_subject(&self, subject: &[u8]) -> SublistResult {
        let mut result = SublistResult::default();
        // Most subjects have few tokens: split them on the stack (a match per unique reply
        // subject, as every PubAck has, then allocates nothing for them).
        const ON_STACK: usize = 16;
        let mut stack: [&[u8]; ON_STACK] = [&[]; ON_STACK];
        let mut heap = Vec::new();
        let mut count = 0;
        for token in subject::tokens(subject) {
            // nats-server matches nothing for a subject with an empty token.
            if token.is_empty() {
                return result;
            }
            if count < ON_STACK {
                stack[count] = token;
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&stack);
                }
                heap.push(token);
            }
            count += 1;
        }
        let tokens = if count <= ON_STACK {
            &stack[..count]
        } else {
            &heap[..]
        };
        match_level(&self.root, tokens, &mut result);
        result
    }
}

fn collect_level(level: &Level, out: &mut Vec<Arc<Subscription>>) {
    let wildcards = level
        .partial_wildcard
        .as_deref()
        .into_iter()
        .chain(level.full_wildcard.as_deref());
    for node in level.literals.values().chain(wildcards) {
        out.extend(node.psubs.iter().cloned());
        for group in &node.qsubs {
            out.extend(group.members.iter().cloned());
        }
        if let Some(next) = &node.next {
            collect_level(next, out);
        }
    }
}

fn remove_from(level: &mut Level, tokens: &[&[u8]], sub: &Arc<Subscription>) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return false;
    };
    let (removed, now_empty) = {
        let node = match *token {
            b"*" => level.partial_wildcard.as_deref_mut(),
            b">" => level.full_wildcard.as_deref_mut(),
            literal => level.literals.get_mut(literal),
        };
        let Some(node) = node else {
            return false;
        };
        let removed = if rest.is_empty() {
            remove_sub(node, sub)
        } else {
            match node.next.as_deref_mut() {
                Some(next) => remove_from(next, rest, sub),
                None => false,
            }
        };
        if node.next.as_ref().is_some_and(|l| l.is_empty()) {
            node.next = None;
        }
        (removed, node.is_empty())
    };
    if now_empty {
        match *token {
            b"*" => level.partial_wildcard = None,
            b">" => level.full_wildcard = None,
            literal => {
                level.literals.remove(literal);
            }
        }
    }
    removed
}

fn remove_sub(node: &mut Node, sub: &Arc<Subscription>) -> bool {
    match &sub.queue {
        None => match node.psubs.iter().position(|s| Arc::ptr_eq(s, sub)) {
            Some(i) => {
                node.psubs.swap_remove(i);
                true
            }
            None => false,
        },
        Some(queue) => {
            let Some(gi) = node.qsubs.iter().position(|g| &g.name == queue) else {
                return false;
            };
            let group = &mut node.qsubs[gi];
            let Some(i) = group.members.iter().position(|s| Arc::ptr_eq(s, sub)) else {
                return false;
            };
            group.members.swap_remove(i);
            if group.members.is_empty() {
                node.qsubs.swap_remove(gi);
            }
            true
        }
    }
}

fn match_level(level: &Level, tokens: &[&[u8]], result: &mut SublistResult) {
    let Some((token, rest)) = tokens.split_first() else {
        return;
    };
    if let Some(node) = &level.full_wildcard {
        add_node(node, result);
    }
    if let Some(node) = &level.partial_wildcard {
        descend(node, rest, result);
    }
    if let Some(node) = level.literals.get(*token) {
        descend(node, rest, result);
    }
}

fn descend(node: &Node, rest: &[&[u8]], result: &mut SublistResult) {
    if rest.is_empty() {
        add_node(node, result);
    } else if let Some(next) = &node.next {
        match_level(next, rest, result);
    }
}

fn add_node(node: &Node, result: &mut SublistResult) {
    result.psubs.extend(node.psubs.iter().cloned());
    for group in &node.qsubs {
        match result.qsubs.iter_mut().find(|g| g.name == group.name) {
            Some(existing) => existing.members.extend(group.members.iter().cloned()),
            None => result.qsubs.push(QueueGroup {
                name: group.name.clone(),
                members: group.members.clone(),
            }),
        }
    }
}

#[cfg(test)]
#[path = "sublist_tests.rs"]
mod tests;
