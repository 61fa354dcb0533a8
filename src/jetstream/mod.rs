//! JetStream on one server: streams kept in memory or on disk, the `$JS.API` that manages
//! them, and publish acknowledgements. It runs on the engine as an internal client
//! (`broker::internal`): each account with JetStream gets a subscription on `$JS.API.>`,
//! and each stream subscriptions on its subjects, whose handlers run in the publisher's task.
//!
//! Layout on disk, as nats-server's: `<store_dir>/jetstream/<account>/streams/<name>/` with
//! the stream's `meta.json` (configuration and creation time) and `msgs/` (the file store).

pub mod advisory;
pub mod api;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod errors;
pub mod gojson;
pub mod headers;
pub mod source;
pub mod store;
pub mod stream;
pub mod time;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::broker::account::Account;
use crate::broker::client::ClientShared;
use crate::broker::sublist::Subscription;
use crate::broker::{Fanout, InternalHandler, InternalMsg, Server};
use crate::options::{AccountJetStreamLimits, SyncPolicy};
use crate::{log_error, log_info, log_warn};
use config::StreamConfig;
use consumer::Consumer;
use errors::ApiError;
use store::{StorageKind, Store};
use stream::{Inbound, Quota, Stream, Usage};

/// How often expired messages are looked for (`max_age`, per-message TTLs).
const EXPIRE_INTERVAL: Duration = Duration::from_millis(100);
/// Blocks of the file store, as nats-server's default for streams without limits.
const FILE_BLOCK_SIZE: u64 = 8 * 1024 * 1024;
const META_FILE: &str = "meta.json";

/// JetStream's settings once defaults are resolved.
#[derive(Debug, Clone)]
pub struct JsConfig {
    /// `<store_dir>/jetstream`.
    pub store_dir: PathBuf,
    pub max_memory: i64,
    pub max_store: i64,
    pub domain: Option<String>,
    pub sync: SyncPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("can't use the JetStream store directory {dir}: {source}")]
    StoreDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// JetStream of one server.
#[derive(Debug)]
pub struct JetStream {
    pub config: JsConfig,
    /// Set when the broker stopped (see [`crate::broker::server::Service`]).
    stopped: std::sync::atomic::AtomicBool,
    accounts: RwLock<BTreeMap<String, Arc<JsAccount>>>,
    /// Operator mode: the `$JS.API.>` subscription answering "not enabled" in each account
    /// without JetStream (taken out when an account JWT update enables it).
    disabled: parking_lot::Mutex<BTreeMap<String, Arc<Subscription>>>,
    /// Bytes stored across all accounts.
    pub usage: Arc<Usage>,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
}

/// One account's JetStream: its streams and limits.
#[derive(Debug)]
pub struct JsAccount {
    pub name: String,
    pub account: Arc<Account>,
    /// JetStream's domain, copied here so that a PubAck needs no lookup.
    domain: Option<String>,
    client: Arc<ClientShared>,
    /// Replaced when an account JWT update changes them (operator mode).
    limits: RwLock<AccountJetStreamLimits>,
    streams: RwLock<BTreeMap<String, StreamEntry>>,
    /// `<store_dir>/jetstream/<account>/streams`.
    dir: PathBuf,
    pub usage: Arc<Usage>,
    js: Weak<JetStream>,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    /// Bumped when a stream is added, for mirrors and sources waiting for their origin.
    attached: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Clone)]
struct StreamEntry {
    stream: Arc<Stream>,
    subs: Vec<Arc<Subscription>>,
    /// The running mirror or sources (stopped when the last clone is dropped).
    links: Arc<Vec<source::Link>>,
}

/// What `meta.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct StreamMeta {
    config: StreamConfig,
    created: i64,
}

/// Turns JetStream on for `server` when its options ask for it: recovers the streams of
/// every account with JetStream and starts answering `$JS.API`. Must run in the runtime.
pub fn enable(server: &Arc<Server>) -> Result<Option<Arc<JetStream>>, EnableError> {
    let Some(opts) = server.opts.jetstream.clone() else {
        return Ok(None);
    };
    let store_dir = opts.dir();
    std::fs::create_dir_all(&store_dir).map_err(|source| EnableError::StoreDir {
        dir: store_dir.clone(),
        source,
    })?;
    let config = JsConfig {
        max_memory: opts.max_memory.unwrap_or_else(default_max_memory),
        max_store: opts
            .max_store
            .unwrap_or_else(|| default_max_store(&store_dir)),
        store_dir,
        domain: opts.domain.clone().filter(|d| !d.is_empty()),
        sync: opts.sync,
    };
    log_info!("Starting JetStream");
    log_info!("---------------- JETSTREAM ----------------");
    log_info!("  Max Memory:      {}", friendly_bytes(config.max_memory));
    log_info!("  Max Storage:     {}", friendly_bytes(config.max_store));
    log_info!("  Store Directory: \"{}\"", config.store_dir.display());
    if let Some(domain) = &config.domain {
        log_info!("  Domain:          {}", domain);
    }
    log_info!("  API Level:       {}", config::API_LEVEL);
    log_info!("-------------------------------------------");
    let js = Arc::new(JetStream {
        config,
        stopped: Default::default(),
        accounts: RwLock::new(BTreeMap::new()),
        disabled: Default::default(),
        usage: Arc::new(Usage::default()),
        api_total: AtomicU64::new(0),
        api_errors: AtomicU64::new(0),
    });
    // As nats-server: without configured accounts everyone (the global account) has
    // JetStream; once accounts are configured, only those that say so.
    let configured = &server.opts.auth.accounts;
    if server.trust().is_some() {
        // Operator mode: accounts come and go with their JWTs, whose limits say whether
        // they have JetStream.
        let weak = Arc::downgrade(&js);
        server.add_account_observer(Arc::new(move |server, account| {
            if let Some(js) = weak.upgrade() {
                js.account_registered(server, account);
            }
        }));
        let weak = Arc::downgrade(&js);
        server.add_account_update_observer(Arc::new(move |server, account| {
            if let Some(js) = weak.upgrade() {
                js.account_updated(server, account);
            }
        }));
        server.add_service(js.clone());
        tokio::spawn(housekeeping(Arc::downgrade(&js)));
        return Ok(Some(js));
    }
    let mut enabled: Vec<(Arc<Account>, AccountJetStreamLimits)> = Vec::new();
    if configured.is_empty() {
        enabled.push((server.global_account().clone(), Default::default()));
    }
    for a in configured {
        if let (Some(limits), Some(account)) = (a.jetstream, server.account(&a.name)) {
            enabled.push((account.clone(), limits));
        }
    }
    for (account, limits) in &enabled {
        js.enable_account(server, account, *limits)?;
    }
    for account in server.accounts() {
        if !enabled.iter().any(|(a, _)| Arc::ptr_eq(a, &account)) {
            let client = server.internal_client(&account);
            let handler = Arc::new(api::ApiHandler { account: None });
            if let Err(e) = server.subscribe_internal(&client, "$JS.API.>", None, handler) {
                log_error!("JetStream could not subscribe to its API: {}", e);
            }
        }
    }
    server.add_service(js.clone());
    tokio::spawn(housekeeping(Arc::downgrade(&js)));
    Ok(Some(js))
}

impl JetStream {
    /// The JetStream of a server, when it runs one.
    pub fn of(server: &Server) -> Option<Arc<JetStream>> {
        server.service::<JetStream>()
    }

    pub fn accounts(&self) -> Vec<Arc<JsAccount>> {
        self.accounts.read().values().cloned().collect()
    }

    pub fn account(&self, name: &str) -> Option<Arc<JsAccount>> {
        self.accounts.read().get(name).cloned()
    }

    /// Operator mode: JetStream for an account whose JWT has JetStream limits, else the
    /// API's "not enabled" answers.
    fn account_registered(self: &Arc<Self>, server: &Arc<Server>, account: &Arc<Account>) {
        if let Some(limits) = account.jwt().and_then(|j| j.jetstream_limits()) {
            if let Err(e) = self.enable_account(server, account, limits) {
                log_error!(
                    "Error configuring jetstream for account [{}]: {}",
                    account.name,
                    e
                );
            }
            return;
        }
        self.answer_not_enabled(server, account);
    }

    /// Subscribes the API of an account without JetStream, answering "not enabled".
    fn answer_not_enabled(&self, server: &Arc<Server>, account: &Arc<Account>) {
        let client = server.internal_client(account);
        let handler = Arc::new(api::ApiHandler { account: None });
        match server.subscribe_internal(&client, "$JS.API.>", None, handler) {
            Ok(sub) => {
                self.disabled.lock().insert(account.name.clone(), sub);
            }
            Err(e) => log_error!("JetStream could not subscribe to its API: {}", e),
        }
    }

    /// Operator mode: an account JWT update enables, disables or changes the account's
    /// JetStream, as nats-server's `configJetStream` does (a disabled account's streams
    /// stay on disk and come back when it is enabled again).
    fn account_updated(self: &Arc<Self>, server: &Arc<Server>, account: &Arc<Account>) {
        // An expired account here is one whose JWT was deleted: its JetStream goes too.
        let limits = account
            .jwt()
            .filter(|_| !account.is_expired())
            .and_then(|j| j.jetstream_limits());
        let current = self.account(&account.name);
        match (current, limits) {
            (Some(jsa), Some(limits)) => *jsa.limits.write() = limits,
            (None, Some(limits)) => {
                if let Some(sub) = self.disabled.lock().remove(&account.name) {
                    sub.client.unsubscribe(&sub);
                }
                if let Err(e) = self.enable_account(server, account, limits) {
                    log_error!(
                        "Error configuring jetstream for account [{}]: {}",
                        account.name,
                        e
                    );
                }
            }
            (Some(jsa), None) => {
                self.accounts.write().remove(&account.name);
                jsa.disable();
                self.answer_not_enabled(server, account);
            }
            (None, None) => {}
        }
    }

    fn enable_account(
        self: &Arc<Self>,
        server: &Arc<Server>,
        account: &Arc<Account>,
        limits: AccountJetStreamLimits,
    ) -> Result<(), EnableError> {
        let dir = self.config.store_dir.join(&account.name).join("streams");
        std::fs::create_dir_all(&dir).map_err(|source| EnableError::StoreDir {
            dir: dir.clone(),
            source,
        })?;
        let jsa = Arc::new(JsAccount {
            name: account.name.clone(),
            account: account.clone(),
            domain: self.config.domain.clone(),
            client: server.internal_client(account),
            limits: RwLock::new(limits),
            streams: RwLock::new(BTreeMap::new()),
            dir,
            usage: Arc::new(Usage::default()),
            js: Arc::downgrade(self),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            attached: tokio::sync::watch::channel(0).0,
        });
        jsa.recover(server, self);
        let handler = Arc::new(api::ApiHandler {
            account: Some(Arc::downgrade(&jsa)),
        });
        if let Err(e) = server.subscribe_internal(&jsa.client, "$JS.API.>", None, handler) {
            log_error!("JetStream could not subscribe to its API: {}", e);
        }
        if let Some(domain) = &self.config.domain {
            // `$JS.<domain>.API`, for local clients and, through leaf links, remote ones.
            let handler = Arc::new(domain::DomainHandler {
                domain: domain.clone(),
            });
            for subject in domain::subjects(domain) {
                if let Err(e) =
                    server.subscribe_internal(&jsa.client, &subject, None, handler.clone())
                {
                    log_error!("Error adding JetStream domain mapping: {}", e);
                }
            }
        }
        self.accounts.write().insert(account.name.clone(), jsa);
        Ok(())
    }

    /// Bytes stored, of one kind, on this server.
    pub fn used(&self, kind: StorageKind) -> u64 {
        self.usage.get(kind)
    }

    /// Streams and their total across accounts (for monitoring).
    pub fn totals(&self) -> (usize, u64, u64) {
        let mut streams = 0;
        let mut msgs = 0;
        let mut bytes = 0;
        for a in self.accounts() {
            for s in a.streams() {
                let st = s.state();
                streams += 1;
                msgs += st.msgs;
                bytes += st.bytes;
            }
        }
        (streams, msgs, bytes)
    }
}

impl JsAccount {
    /// Every stream, by name.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams
            .read()
            .values()
            .map(|e| e.stream.clone())
            .collect()
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).map(|e| e.stream.clone())
    }

    pub fn js(&self) -> Option<Arc<JetStream>> {
        self.js.upgrade()
    }

    /// Opens every stream found under the account's directory.
    fn recover(self: &Arc<Self>, server: &Arc<Server>, js: &Arc<JetStream>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            let meta = match read_meta(&dir) {
                Ok(meta) => meta,
                Err(e) => {
                    log_warn!(
                        "  Error unmarshalling stream metafile \"{}\": {}",
                        dir.join(META_FILE).display(),
                        e
                    );
                    continue;
                }
            };
            let name = meta.config.name.clone();
            match self.open_file_store(js, &dir) {
                Ok(store) => {
                    let stream = self.new_stream(js, meta.config, meta.created, store, Some(dir));
                    let st = stream.state();
                    log_info!(
                        "  Restored {} messages for stream '{} > {}'",
                        st.msgs,
                        self.name,
                        name
                    );
                    self.attach(server, stream.clone());
                    self.recover_consumers(server, &stream);
                }
                Err(e) => log_error!(
                    "  Error recreating stream '{} > {}': {}",
                    self.name,
                    name,
                    e
                ),
            }
        }
    }

    fn open_file_store(
        &self,
        js: &JetStream,
        dir: &Path,
    ) -> Result<Box<dyn Store>, store::StoreError> {
        let (store, report) = store::file::FileStore::open(store::FileStoreConfig {
            dir: dir.join("msgs"),
            block_size: FILE_BLOCK_SIZE,
            sync: js.config.sync,
        })?;
        for (file, cut) in &report.torn_tails {
            log_warn!(
                "Stream '{} > {}': cut a torn tail of {} bytes from {}",
                self.name,
                dir.file_name().unwrap_or_default().to_string_lossy(),
                cut,
                file.display()
            );
        }
        for (file, why) in &report.damaged {
            log_error!(
                "Stream '{} > {}': skipped damaged data in {}: {}",
                self.name,
                dir.file_name().unwrap_or_default().to_string_lossy(),
                file.display(),
                why
            );
        }
        Ok(Box::new(store))
    }

    fn new_stream(
        &self,
        js: &JetStream,
        cfg: StreamConfig,
        created: i64,
        store: Box<dyn Store>,
        dir: Option<PathBuf>,
    ) -> Arc<Stream> {
        let usage = vec![self.usage.clone(), js.usage.clone()];
        Arc::new(Stream::new(cfg, created, store, dir, usage))
    }

    /// Subscribes a stream to its subjects (and direct gets) and lists it.
    fn attach(self: &Arc<Self>, server: &Arc<Server>, stream: Arc<Stream>) {
        let subs = self.subscribe(server, &stream);
        let links = Arc::new(source::start(server, self, &stream));
        self.streams.write().insert(
            stream.name.clone(),
            StreamEntry {
                stream,
                subs,
                links,
            },
        );
        self.attached.send_modify(|n| *n += 1);
    }

    /// A receiver told whenever a stream is added to the account.
    pub fn watch_attached(&self) -> tokio::sync::watch::Receiver<u64> {
        self.attached.subscribe()
    }

    /// Restarts a stream's mirror or sources after its configuration changed them.
    pub(crate) fn restart_links(self: &Arc<Self>, server: &Arc<Server>, name: &str) {
        let Some(stream) = self.stream(name) else {
            return;
        };
        let links = Arc::new(source::start(server, self, &stream));
        let old = self
            .streams
            .write()
            .get_mut(name)
            .map(|e| std::mem::replace(&mut e.links, links));
        if let Some(old) = old {
            old.iter().for_each(source::Link::stop);
        }
    }

    /// The account's limits in force.
    pub fn limits(&self) -> AccountJetStreamLimits {
        *self.limits.read()
    }

    /// JetStream disabled for the account: its streams and consumers stop, their files stay,
    /// and its API subscriptions go.
    fn disable(&self) {
        self.stop_links();
        let entries: Vec<StreamEntry> = std::mem::take(&mut *self.streams.write())
            .into_values()
            .collect();
        for entry in entries {
            for c in entry.stream.consumers() {
                c.flush();
                c.stop();
            }
            if entry.stream.kind == StorageKind::File {
                if let Err(e) = entry.stream.sync() {
                    log_error!(
                        "JetStream failed to sync stream '{}': {}",
                        entry.stream.name,
                        e
                    );
                }
            }
            entry.stream.release_usage();
        }
        let subs: Vec<Arc<Subscription>> = self.client.subs.lock().values().cloned().collect();
        for sub in subs {
            self.client.unsubscribe(&sub);
        }
    }

    /// Stops every mirror and source of the account (the broker stopped).
    fn stop_links(&self) {
        for entry in self.streams.read().values() {
            entry.links.iter().for_each(source::Link::stop);
        }
    }

    /// What a stream's info shows of its mirror and its sources.
    pub fn links_info(&self, name: &str) -> (Option<source::SourceInfo>, Vec<source::SourceInfo>) {
        let Some(links) = self.streams.read().get(name).map(|e| e.links.clone()) else {
            return (None, Vec::new());
        };
        let mirror = links.iter().find(|l| l.is_mirror()).map(source::Link::info);
        let sources = links
            .iter()
            .filter(|l| !l.is_mirror())
            .map(source::Link::info)
            .collect();
        (mirror, sources)
    }

    fn subscribe(
        self: &Arc<Self>,
        server: &Arc<Server>,
        stream: &Arc<Stream>,
    ) -> Vec<Arc<Subscription>> {
        let cfg = stream.config();
        let mut subs = Vec::new();
        let capture: Arc<dyn InternalHandler> = Arc::new(StreamHandler {
            stream: Arc::downgrade(stream),
            account: Arc::downgrade(self),
        });
        for subject in &cfg.subjects {
            match server.subscribe_internal(&self.client, subject, None, capture.clone()) {
                Ok(sub) => subs.push(sub),
                Err(e) => log_error!(
                    "Stream '{} > {}' could not subscribe to {}: {}",
                    self.name,
                    cfg.name,
                    subject,
                    e
                ),
            }
        }
        let acks: Arc<dyn InternalHandler> = Arc::new(AckHandler {
            stream: Arc::downgrade(stream),
            account: Arc::downgrade(self),
        });
        // Acknowledgements, and answers to push consumers' flow control requests.
        for prefix in ["$JS.ACK", "$JS.FC"] {
            match server.subscribe_internal(
                &self.client,
                &format!("{prefix}.{}.>", cfg.name),
                None,
                acks.clone(),
            ) {
                Ok(sub) => subs.push(sub),
                Err(e) => log_error!(
                    "Stream '{} > {}' could not subscribe to {}: {}",
                    self.name,
                    cfg.name,
                    prefix,
                    e
                ),
            }
        }
        if cfg.allow_direct {
            let direct: Arc<dyn InternalHandler> = Arc::new(api::DirectGetHandler {
                stream: Arc::downgrade(stream),
            });
            for subject in [
                format!("$JS.API.DIRECT.GET.{}", cfg.name),
                format!("$JS.API.DIRECT.GET.{}.>", cfg.name),
            ] {
                if let Ok(sub) =
                    server.subscribe_internal(&self.client, &subject, Some("_sys_"), direct.clone())
                {
                    subs.push(sub);
                }
            }
        }
        subs
    }

    /// Re-subscribes a stream whose subjects or direct-get setting changed.
    fn resubscribe(self: &Arc<Self>, server: &Arc<Server>, name: &str) {
        let Some(entry) = self.streams.read().get(name).cloned() else {
            return;
        };
        for sub in &entry.subs {
            self.client.unsubscribe(sub);
        }
        let subs = self.subscribe(server, &entry.stream);
        if let Some(e) = self.streams.write().get_mut(name) {
            e.subs = subs;
        }
    }

    /// Removes a stream: its subscriptions, its usage and its files.
    fn remove_stream(&self, name: &str) -> Result<(), std::io::Error> {
        let Some(entry) = self.streams.write().remove(name) else {
            return Ok(());
        };
        for sub in &entry.subs {
            self.client.unsubscribe(sub);
        }
        entry.links.iter().for_each(source::Link::stop);
        for c in entry.stream.consumers() {
            c.stop();
        }
        entry.stream.release_usage();
        if let Some(dir) = &entry.stream.dir {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }

    /// Starts a consumer: lists it with its stream and runs its task.
    pub(crate) fn start_consumer(
        self: &Arc<Self>,
        server: &Arc<Server>,
        stream: &Arc<Stream>,
        consumer: Arc<Consumer>,
    ) {
        stream.add_consumer(consumer.clone());
        let jsa = Arc::downgrade(self);
        let weak_server = Arc::downgrade(server);
        let (events_jsa, events_server) = (jsa.clone(), weak_server.clone());
        let runner = consumer::Runner {
            server: Arc::downgrade(server),
            account: self.account.clone(),
            stream: Arc::downgrade(stream),
            consumer: Arc::downgrade(&consumer),
            on_idle: Arc::new(move |stream: &str, name: &str| {
                if let Some(jsa) = jsa.upgrade() {
                    let removed = jsa.remove_consumer(stream, name);
                    // nats-server's idle removal deletes the consumer with its advisory.
                    if let (Ok(true), Some(server)) = (removed, weak_server.upgrade()) {
                        let at = advisory::ConsumerRef {
                            domain: jsa.domain(),
                            stream,
                            consumer: name,
                        };
                        advisory::consumer_action(
                            &server,
                            &jsa.account,
                            at,
                            advisory::Action::Delete,
                        );
                    }
                }
            }),
            on_events: Arc::new(move |c: &Consumer, events: &[consumer::Event]| {
                if let (Some(jsa), Some(server)) = (events_jsa.upgrade(), events_server.upgrade()) {
                    let mut fanout = Fanout::default();
                    jsa.consumer_advisories(&server, &mut fanout, c, events);
                    fanout.wake_all();
                }
            }),
        };
        tokio::spawn(consumer::run(runner));
    }

    /// Sends the advisories of what a consumer went through, to those who listen.
    fn consumer_advisories(
        &self,
        server: &Arc<Server>,
        fanout: &mut Fanout,
        c: &Consumer,
        events: &[consumer::Event],
    ) {
        let at = advisory::ConsumerRef {
            domain: self.domain(),
            stream: &c.stream_name,
            consumer: &c.name,
        };
        let wanted = |s: &str| advisory::listening(&self.account, s);
        for e in events {
            if let Some(adv) = advisory::consumer_event(&wanted, at, &self.name, e) {
                advisory::publish_in(server, fanout, &self.account, &adv);
            }
        }
    }

    /// Removes a consumer: stops it and deletes its files.
    pub(crate) fn remove_consumer(&self, stream: &str, name: &str) -> Result<bool, std::io::Error> {
        let Some(stream) = self.stream(stream) else {
            return Ok(false);
        };
        let Some(consumer) = stream.remove_consumer(name) else {
            return Ok(false);
        };
        consumer.stop();
        if let Some(dir) = &consumer.dir {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(true)
    }

    /// Opens the consumers found under a recovered file stream's `obs/`.
    fn recover_consumers(self: &Arc<Self>, server: &Arc<Server>, stream: &Arc<Stream>) {
        let Some(dir) = &stream.dir else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir.join(consumer::state::OBS_DIR)) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for cdir in dirs.into_iter().filter(|d| d.is_dir()) {
            let meta = match consumer::state::read_meta(&cdir) {
                Ok(m) => m,
                Err(e) => {
                    log_warn!(
                        "  Error unmarshalling consumer metafile \"{}\": {}",
                        cdir.display(),
                        e
                    );
                    continue;
                }
            };
            let saved = match consumer::state::read_state(&cdir) {
                Ok(s) => s,
                Err(e) => {
                    log_warn!(
                        "  Consumer '{} > {} > {}' state unreadable, starting over: {}",
                        self.name,
                        stream.name,
                        meta.name,
                        e
                    );
                    None
                }
            };
            let c = Arc::new(Consumer::recovered(
                meta.name,
                stream,
                meta.config,
                meta.created,
                cdir,
                saved,
            ));
            self.start_consumer(server, stream, c);
        }
        let n = stream.consumer_count();
        if n > 0 {
            log_info!(
                "  Recovered {} consumers for stream '{} > {}'",
                n,
                self.name,
                stream.name
            );
        }
    }

    /// JetStream's domain, if one is configured.
    pub(crate) fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Consumers across the account's streams.
    pub fn consumer_total(&self) -> usize {
        self.streams().iter().map(|s| s.consumer_count()).sum()
    }

    /// Counts one answered API request, in the account and in the server.
    fn count_api(&self, is_error: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.api_total.fetch_add(1, Relaxed);
        if is_error {
            self.api_errors.fetch_add(1, Relaxed);
        }
        if let Some(js) = self.js.upgrade() {
            js.api_total.fetch_add(1, Relaxed);
            if is_error {
                js.api_errors.fetch_add(1, Relaxed);
            }
        }
    }

    /// Bytes reserved by streams with `max_bytes`, per kind.
    pub fn reserved(&self, kind: StorageKind) -> u64 {
        self.streams()
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.config().max_bytes.max(0) as u64)
            .sum()
    }
}

impl Quota for JsAccount {
    fn check(&self, kind: StorageKind, add: u64) -> Result<(), ApiError> {
        if let Some(js) = self.js.upgrade() {
            let max = match kind {
                StorageKind::Memory => js.config.max_memory,
                StorageKind::File => js.config.max_store,
            };
            if max >= 0 && js.used(kind) + add > max as u64 {
                crate::log_warn!(
                    "JetStream resource limits exceeded for server: {} storage",
                    if kind == StorageKind::Memory {
                        "memory"
                    } else {
                        "file"
                    }
                );
                return Err(ApiError::insufficient_resources());
            }
        }
        let max = match kind {
            StorageKind::Memory => self.limits().max_memory,
            StorageKind::File => self.limits().max_store,
        };
        if max >= 0 && self.usage.get(kind) + add > max as u64 {
            return Err(ApiError::account_resources_exceeded());
        }
        Ok(())
    }
}

/// Stores what is published to a stream's subjects and acknowledges it.
#[derive(Debug)]
struct StreamHandler {
    stream: Weak<Stream>,
    account: Weak<JsAccount>,
}

impl InternalHandler for StreamHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let (Some(stream), Some(jsa)) = (self.stream.upgrade(), self.account.upgrade()) else {
            return false;
        };
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        let inbound = Inbound {
            subject,
            headers: msg.headers,
            payload: msg.payload,
        };
        let processed = stream.process(
            &inbound,
            msg.reply.is_some(),
            jsa.domain.as_deref(),
            u64::from(server.opts.max_payload),
            jsa.as_ref(),
        );
        // As nats-server, the republished message goes out before the PubAck.
        if let Some(r) = &processed.republish {
            server.publish_internal(
                fanout,
                msg.account,
                r.subject.as_bytes(),
                None,
                &r.headers,
                &r.payload,
            );
        }
        if let (Some(ack), Some(reply)) = (processed.ack, msg.reply) {
            server.publish_internal(fanout, msg.account, reply, None, b"", &ack);
        }
        true
    }
}

/// Acknowledgements of a stream's consumers' deliveries (`$JS.ACK.<stream>.>`).
#[derive(Debug)]
struct AckHandler {
    stream: Weak<Stream>,
    account: Weak<JsAccount>,
}

impl InternalHandler for AckHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let (Some(stream), Some(jsa)) = (self.stream.upgrade(), self.account.upgrade()) else {
            return false;
        };
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        if let Some(rest) = subject.strip_prefix("$JS.FC.") {
            // `$JS.FC.<stream>.<consumer>.<random>`: the stream is this handler's.
            let mut tokens = rest.split('.');
            if let (Some(_), Some(name), Some(_), None) =
                (tokens.next(), tokens.next(), tokens.next(), tokens.next())
            {
                if let Some(c) = stream.consumer(name) {
                    let done = c.flow_control_answer(subject, msg.headers);
                    if !done.is_empty() {
                        stream.remove_unneeded(&done);
                    }
                }
            }
            return true;
        }
        let Some(info) = consumer::ack::parse(subject) else {
            return true;
        };
        let Some(c) = stream.consumer(info.consumer) else {
            return true;
        };
        let reply = msg.reply.and_then(|r| std::str::from_utf8(r).ok());
        let kind = consumer::ack::kind(msg.payload);
        let outcome = c.process_ack(&info, &kind, reply, &stream);
        if !outcome.events.is_empty() {
            jsa.consumer_advisories(server, fanout, &c, &outcome.events);
        }
        for m in &outcome.out {
            server.publish_internal_to(
                fanout,
                msg.account,
                m.to.as_bytes(),
                m.subject.as_bytes(),
                m.reply.as_deref().map(str::as_bytes),
                &m.headers,
                &m.payload,
            );
        }
        if !outcome.done.is_empty() {
            stream.remove_unneeded(&outcome.done);
        }
        true
    }
}

impl crate::broker::server::Service for JetStream {
    /// Stops expiring and syncing, and fsyncs every file store, so that a broker started
    /// next on the same store (the window restarts its broker) is the only writer.
    fn shutdown(&self) {
        if self.stopped.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        for account in self.accounts() {
            account.stop_links();
            for stream in account.streams() {
                for c in stream.consumers() {
                    c.flush();
                    c.stop();
                }
                if stream.kind == StorageKind::File {
                    if let Err(e) = stream.sync() {
                        log_error!("JetStream failed to sync stream '{}': {}", stream.name, e);
                    }
                }
            }
        }
        log_info!("JetStream stopped");
    }
}

/// Expires messages and, on `sync_interval`, fsyncs the file stores, until JetStream stops.
async fn housekeeping(js: Weak<JetStream>) {
    let mut last_sync = std::time::Instant::now();
    loop {
        tokio::time::sleep(EXPIRE_INTERVAL).await;
        let Some(js) = js.upgrade() else {
            return;
        };
        if js.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let now = time::now_nanos();
        let sync_due = match js.config.sync {
            SyncPolicy::Interval(every) => last_sync.elapsed() >= every,
            SyncPolicy::Always => false,
        };
        for account in js.accounts() {
            for stream in account.streams() {
                stream.expire(now);
                if sync_due && stream.kind == StorageKind::File {
                    if let Err(e) = stream.sync() {
                        log_error!("JetStream failed to sync stream '{}': {}", stream.name, e);
                    }
                }
            }
        }
        if sync_due {
            last_sync = std::time::Instant::now();
        }
    }
}

fn read_meta(dir: &Path) -> Result<StreamMeta, String> {
    let bytes = std::fs::read(dir.join(META_FILE)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Writes `meta.json` so that a crash leaves either the old or the new one.
fn write_meta(dir: &Path, cfg: &StreamConfig, created: i64) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let meta = StreamMeta {
        config: cfg.clone(),
        created,
    };
    let body = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{META_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(META_FILE))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// nats-server's default memory limit: 75% of the machine's memory.
fn default_max_memory() -> i64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(1 << 30);
    total / 4 * 3
}

/// nats-server's default file limit: 75% of the free space where the store lives.
fn default_max_store(dir: &Path) -> i64 {
    let free = nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() as i64 * s.fragment_size() as i64)
        .unwrap_or(1 << 40);
    free / 4 * 3
}

/// Bytes as nats-server's banner prints them (`17.66 GB`).
pub fn friendly_bytes(bytes: i64) -> String {
    let units = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    value /= 1024.0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}B", units[unit])
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
