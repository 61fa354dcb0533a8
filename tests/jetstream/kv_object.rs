//! The JetStream key-value store and object store (issue 17), end to end through async-nats'
//! `kv` and `object_store` modules, against each selected target.
//!
//! * `kv_*`: a bucket's stream config (history, max age, max value size) and status, delete
//!   of a bucket; put, get, entry and a given revision; create and compare-and-set update
//!   with the server's refusals; delete and purge markers, a key's history, the key list;
//!   watches: updates only (the default), with history, from a revision, of several keys,
//!   delete and purge markers as they arrive, and a put made by another connection.
//! * `object_*`: a store's stream config and delete; a 5 MB object in 64 KiB chunks put and
//!   read back byte for byte (digest checked by the client), replaced (old chunks purged);
//!   info, list, delete, metadata updates; watches; links to an object (same and another
//!   store) and to a bucket; a sealed store.
//!
//! Not covered because async-nats 0.51 has no call for them: a KV purge of old delete
//! markers (`purge_deletes`), a key list with a filter, and an object store status.
//! KV watches and histories, the key list, object reads, lists and watches all run on
//! ordered push consumers.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    kv::{self, Operation},
    object_store::{self, ObjectInfo},
    stream::{DiscardPolicy, StorageType},
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use super::api_code;
use crate::js::for_each_js_target_async;
use crate::support::clients::{connect, STEP};
use crate::support::wait_until_async;

/// The longest one test body may take against one target.
const LIMIT: Duration = Duration::from_secs(20);
/// How long a watch is watched to see that nothing more comes.
const QUIET: Duration = Duration::from_millis(300);

fn b(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

/// A bucket `name` with `history` values per key.
async fn bucket(ctx: &jetstream::Context, name: &str, history: i64) -> kv::Store {
    timeout(
        STEP,
        ctx.create_key_value(kv::Config {
            bucket: name.into(),
            history,
            ..Default::default()
        }),
    )
    .await
    .expect("create_key_value timed out")
    .unwrap_or_else(|e| panic!("create bucket {name}: {e}"))
}

/// `(key, revision, operation, value)` of an entry.
fn seen(e: &kv::Entry) -> (String, u64, Operation, String) {
    (
        e.key.clone(),
        e.revision,
        e.operation,
        String::from_utf8_lossy(&e.value).into_owned(),
    )
}

fn row(key: &str, revision: u64, op: Operation, value: &str) -> (String, u64, Operation, String) {
    (key.to_string(), revision, op, value.to_string())
}

/// The next entry of a watch, within [`STEP`].
async fn next_entry(watch: &mut kv::Watch) -> kv::Entry {
    timeout(STEP, watch.next())
        .await
        .expect("no watch entry within 5 s")
        .expect("the watch ended")
        .expect("a watch error")
}

/// The next `n` entries of a watch, as [`seen`] rows.
async fn next_entries(watch: &mut kv::Watch, n: usize) -> Vec<(String, u64, Operation, String)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(seen(&next_entry(watch).await));
    }
    out
}

/// Expects nothing more on the watch for [`QUIET`].
async fn quiet(watch: &mut kv::Watch) {
    if let Ok(more) = timeout(QUIET, watch.next()).await {
        panic!("the watch gave more: {more:?}");
    }
}

/// A key's whole history, as [`seen`] rows.
async fn history(store: &kv::Store, key: &str) -> Vec<(String, u64, Operation, String)> {
    let entries: Vec<kv::Entry> = timeout(STEP, async {
        store.history(key).await.unwrap().try_collect().await
    })
    .await
    .unwrap_or_else(|_| panic!("history of {key} did not end within 5 s"))
    .unwrap();
    entries.iter().map(seen).collect()
}

/// The bucket's keys, sorted.
async fn keys(store: &kv::Store) -> Vec<String> {
    let mut keys: Vec<String> = timeout(STEP, async {
        store.keys().await.unwrap().try_collect().await
    })
    .await
    .expect("the key list did not end within 5 s")
    .unwrap();
    keys.sort();
    keys
}

/// A fresh status of bucket `name` (a store's own `status()` shows the info it was opened
/// with).
async fn status(ctx: &jetstream::Context, name: &str) -> kv::bucket::Status {
    ctx.get_key_value(name)
        .await
        .unwrap()
        .status()
        .await
        .unwrap()
}

/// A bucket's config as its stream shows it, its status and its deletion.
#[test]
fn kv_bucket_admin() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let config = kv::Config {
            bucket: "CFG".into(),
            description: "settings".into(),
            history: 5,
            max_age: Duration::from_secs(3600),
            max_value_size: 128,
            ..Default::default()
        };
        let store = ctx.create_key_value(config.clone()).await.unwrap();
        assert_eq!(
            (store.name.as_str(), store.stream_name.as_str()),
            ("CFG", "KV_CFG")
        );
        let st = store.status().await.unwrap();
        assert_eq!(st.bucket(), "CFG");
        assert_eq!(st.history(), 5);
        assert_eq!(st.max_age(), Duration::from_secs(3600));
        assert_eq!(st.values(), 0);

        let c = ctx
            .get_stream("KV_CFG")
            .await
            .unwrap()
            .cached_info()
            .config
            .clone();
        assert_eq!(c.subjects, ["$KV.CFG.>"]);
        assert_eq!(c.description.as_deref(), Some("settings"));
        assert_eq!(c.max_messages_per_subject, 5);
        assert_eq!(c.max_message_size, 128);
        assert_eq!(c.max_age, Duration::from_secs(3600));
        assert_eq!(c.discard, DiscardPolicy::New);
        assert!(c.allow_rollup && c.deny_delete && !c.deny_purge && c.allow_direct);

        // The same config again is fine; a value over max_value_size is refused.
        ctx.create_key_value(config.clone()).await.unwrap();
        store.put("k", Bytes::from(vec![b'x'; 128])).await.unwrap();
        let err = store
            .put("k", Bytes::from(vec![b'x'; 129]))
            .await
            .expect_err("a value over max_value_size");
        assert_eq!(err.kind(), kv::PutErrorKind::Ack, "{err}");
        assert_eq!(api_code(&err), Some((400, 10054)), "{err}");
        store.put("j", b("v")).await.unwrap();
        assert_eq!(status(&ctx, "CFG").await.values(), 2);

        // An invalid bucket name never reaches the server; a missing bucket is an error.
        let err = ctx
            .create_key_value(kv::Config {
                bucket: "no.dots".into(),
                ..Default::default()
            })
            .await
            .expect_err("invalid name");
        assert_eq!(
            err.kind(),
            jetstream::context::CreateKeyValueErrorKind::InvalidStoreName
        );
        assert!(ctx.get_key_value("NONE").await.is_err());

        // Delete: the bucket and its stream are gone.
        assert!(ctx.delete_key_value("CFG").await.unwrap().success);
        assert!(ctx.get_key_value("CFG").await.is_err());
        let err = ctx.get_stream("KV_CFG").await.expect_err("stream gone");
        assert_eq!(api_code(&err), Some((404, 10059)), "{err}");
        assert!(ctx.delete_key_value("CFG").await.is_err());
    });
}

/// A bucket's max age: values expire.
#[test]
fn kv_ttl_expires_values() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = ctx
            .create_key_value(kv::Config {
                bucket: "TTL".into(),
                max_age: Duration::from_secs(1),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            store.status().await.unwrap().max_age(),
            Duration::from_secs(1)
        );
        store.put("short", b("lived")).await.unwrap();
        assert_eq!(store.get("short").await.unwrap(), Some(b("lived")));
        wait_until_async("the value to expire", Duration::from_secs(5), async || {
            store.get("short").await.unwrap().is_none()
        })
        .await;
        assert!(store.entry("short").await.unwrap().is_none());
        assert_eq!(status(&ctx, "TTL").await.values(), 0);
    });
}

/// Put, get, entry and the entry of a given revision.
#[test]
fn kv_put_get_entry_revision() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = bucket(&ctx, "PG", 10).await;
        assert_eq!(store.put("a", b("1")).await.unwrap(), 1);
        assert_eq!(store.put("b", b("x")).await.unwrap(), 2);
        assert_eq!(store.put("a", b("2")).await.unwrap(), 3);
        assert_eq!(store.put("deep.key.name", b("d")).await.unwrap(), 4);

        assert_eq!(store.get("a").await.unwrap(), Some(b("2")));
        assert_eq!(store.get("deep.key.name").await.unwrap(), Some(b("d")));
        assert_eq!(store.get("missing").await.unwrap(), None);
        assert!(store.entry("missing").await.unwrap().is_none());

        let e = store.entry("a").await.unwrap().unwrap();
        assert_eq!(seen(&e), row("a", 3, Operation::Put, "2"));
        assert_eq!((e.bucket.as_str(), e.delta), ("PG", 0));
        let old = store.entry_for_revision("a", 1).await.unwrap().unwrap();
        assert_eq!(seen(&old), row("a", 1, Operation::Put, "1"));
        // Revision 2 is another key's.
        assert!(store.entry_for_revision("a", 2).await.unwrap().is_none());
        let e = store.entry_for_revision("b", 2).await.unwrap().unwrap();
        assert_eq!(seen(&e), row("b", 2, Operation::Put, "x"));

        // Invalid keys are refused by the client.
        let err = store.put(".bad", b("v")).await.expect_err("invalid key");
        assert_eq!(err.kind(), kv::PutErrorKind::InvalidKey);
        let err = store.get("bad.").await.expect_err("invalid key");
        assert_eq!(err.kind(), kv::EntryErrorKind::InvalidKey);

        // The values come back from a second connection too.
        let other = jetstream::new(connect(&info).await);
        let store2 = other.get_key_value("PG").await.unwrap();
        assert_eq!(store2.get("a").await.unwrap(), Some(b("2")));
        assert_eq!(status(&other, "PG").await.values(), 4);
    });
}

/// Create only when absent (or deleted), update only at the last revision.
#[test]
fn kv_create_and_compare_and_set() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = bucket(&ctx, "CAS", 5).await;
        assert_eq!(store.create("k", b("v1")).await.unwrap(), 1);
        let err = store.create("k", b("again")).await.expect_err("k exists");
        assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists, "{err}");
        assert_eq!(store.get("k").await.unwrap(), Some(b("v1")));

        assert_eq!(store.update("k", b("v2"), 1).await.unwrap(), 2);
        let err = store
            .update("k", b("stale"), 1)
            .await
            .expect_err("revision 1 is not the last");
        assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision, "{err}");
        assert_eq!(api_code(&err), Some((400, 10071)), "{err}");
        let err = store
            .update("k", b("future"), 9)
            .await
            .expect_err("revision 9 does not exist");
        assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision, "{err}");
        // Revision 0 means "no value yet".
        let err = store.update("k", b("new"), 0).await.expect_err("k exists");
        assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision, "{err}");
        assert_eq!(store.update("fresh", b("f"), 0).await.unwrap(), 3);
        assert_eq!(store.get("k").await.unwrap(), Some(b("v2")));

        // A deleted key can be created again (over its delete marker).
        let err = store
            .delete_expect_revision("k", Some(1))
            .await
            .expect_err("delete at a stale revision");
        assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision, "{err}");
        store.delete_expect_revision("k", Some(2)).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None);
        assert_eq!(store.create("k", b("v3")).await.unwrap(), 5);
        assert_eq!(store.get("k").await.unwrap(), Some(b("v3")));
        // And a purged one too.
        store.purge("k").await.unwrap();
        assert_eq!(store.create("k", b("v4")).await.unwrap(), 7);
        let err = store
            .purge_expect_revision("k", Some(6))
            .await
            .expect_err("purge at a stale revision");
        assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision, "{err}");
        store.purge_expect_revision("k", Some(7)).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None);
    });
}

/// Delete and purge markers, a key's history (bounded by the bucket's), the key list.
#[test]
fn kv_delete_purge_history_keys() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = bucket(&ctx, "HIST", 3).await;
        assert!(keys(&store).await.is_empty());
        assert!(history(&store, "x").await.is_empty());

        for (i, v) in ["1", "2", "3", "4"].iter().enumerate() {
            assert_eq!(store.put("x", b(v)).await.unwrap(), i as u64 + 1);
        }
        // History 3: the oldest value is gone.
        assert_eq!(
            history(&store, "x").await,
            [
                row("x", 2, Operation::Put, "2"),
                row("x", 3, Operation::Put, "3"),
                row("x", 4, Operation::Put, "4"),
            ]
        );
        assert!(store.entry_for_revision("x", 1).await.unwrap().is_none());

        // Delete: a marker with no value, counted in the history.
        store.delete("x").await.unwrap();
        assert_eq!(store.get("x").await.unwrap(), None);
        let e = store.entry("x").await.unwrap().expect("the delete marker");
        assert_eq!(seen(&e), row("x", 5, Operation::Delete, ""));
        assert_eq!(
            history(&store, "x").await,
            [
                row("x", 3, Operation::Put, "3"),
                row("x", 4, Operation::Put, "4"),
                row("x", 5, Operation::Delete, ""),
            ]
        );

        // Purge: one marker is all that is left of the key.
        store.put("x", b("5")).await.unwrap();
        store.purge("x").await.unwrap();
        let e = store.entry("x").await.unwrap().expect("the purge marker");
        assert_eq!(seen(&e), row("x", 7, Operation::Purge, ""));
        assert_eq!(
            history(&store, "x").await,
            [row("x", 7, Operation::Purge, "")]
        );

        // Keys: deleted and purged keys are not listed.
        for k in ["a.one", "a.two", "b", "gone"] {
            store.put(k, b(k)).await.unwrap();
        }
        store.delete("gone").await.unwrap();
        assert_eq!(keys(&store).await, ["a.one", "a.two", "b"]);
        assert_eq!(status(&ctx, "HIST").await.values(), 10 - 4);
    });
}

/// The default watch gives only what changes after it starts (deletes and purges as
/// markers); `watch_all` the same for every key.
#[test]
fn kv_watch_updates_only() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = bucket(&ctx, "W", 5).await;
        store.put("a", b("before")).await.unwrap();
        store.put("b", b("before")).await.unwrap();

        let mut wa = store.watch("a").await.unwrap();
        let mut all = store.watch_all().await.unwrap();
        quiet(&mut wa).await;

        store.put("a", b("1")).await.unwrap();
        store.put("b", b("1")).await.unwrap();
        store.delete("a").await.unwrap();
        store.put("c.d", b("1")).await.unwrap();
        // Seen before the purge: a lagging watch would skip the b it removes.
        assert_eq!(
            next_entries(&mut all, 4).await,
            [
                row("a", 3, Operation::Put, "1"),
                row("b", 4, Operation::Put, "1"),
                row("a", 5, Operation::Delete, ""),
                row("c.d", 6, Operation::Put, "1"),
            ]
        );
        store.purge("b").await.unwrap();

        let e = next_entry(&mut wa).await;
        assert_eq!(seen(&e), row("a", 3, Operation::Put, "1"));
        assert_eq!((e.bucket.as_str(), e.seen_current), ("W", true));
        assert_eq!(
            seen(&next_entry(&mut wa).await),
            row("a", 5, Operation::Delete, "")
        );
        quiet(&mut wa).await;
        assert_eq!(
            seen(&next_entry(&mut all).await),
            row("b", 7, Operation::Purge, "")
        );
        quiet(&mut all).await;

        // A wildcard key.
        let mut wc = store.watch("c.>").await.unwrap();
        store.put("c.e.f", b("2")).await.unwrap();
        store.put("x", b("2")).await.unwrap();
        assert_eq!(
            seen(&next_entry(&mut wc).await),
            row("c.e.f", 8, Operation::Put, "2")
        );
        quiet(&mut wc).await;
    });
}

/// Watches that start with the last value of each key, or at a revision.
#[test]
fn kv_watch_with_history() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = bucket(&ctx, "WH", 5).await;
        store.put("a", b("1")).await.unwrap();
        store.put("a", b("2")).await.unwrap();
        store.put("b", b("1")).await.unwrap();
        store.put("c", b("1")).await.unwrap();
        store.delete("c").await.unwrap();

        // The last value of the key, then what comes.
        let mut wa = store.watch_with_history("a").await.unwrap();
        let e = next_entry(&mut wa).await;
        assert_eq!(seen(&e), row("a", 2, Operation::Put, "2"));
        assert_eq!((e.delta, e.seen_current), (0, true));
        quiet(&mut wa).await;

        // The last entry of every key (c's delete marker included).
        let mut all = store.watch_with_history(">").await.unwrap();
        assert_eq!(
            next_entries(&mut all, 3).await,
            [
                row("a", 2, Operation::Put, "2"),
                row("b", 3, Operation::Put, "1"),
                row("c", 5, Operation::Delete, ""),
            ]
        );
        quiet(&mut all).await;

        // Every entry from revision 2 on.
        let mut from = store.watch_all_from_revision(2).await.unwrap();
        let first = next_entry(&mut from).await;
        assert_eq!(seen(&first), row("a", 2, Operation::Put, "2"));
        assert!(!first.seen_current, "three more are pending");
        assert_eq!(first.delta, 3);
        assert_eq!(
            next_entries(&mut from, 3).await,
            [
                row("b", 3, Operation::Put, "1"),
                row("c", 4, Operation::Put, "1"),
                row("c", 5, Operation::Delete, ""),
            ]
        );
        quiet(&mut from).await;
        let mut key_from = store.watch_from_revision("a", 1).await.unwrap();
        assert_eq!(
            next_entries(&mut key_from, 2).await,
            [
                row("a", 1, Operation::Put, "1"),
                row("a", 2, Operation::Put, "2"),
            ]
        );

        // Several keys at once.
        let mut many = store.watch_many_with_history(["a", "c"]).await.unwrap();
        assert_eq!(
            next_entries(&mut many, 2).await,
            [
                row("a", 2, Operation::Put, "2"),
                row("c", 5, Operation::Delete, ""),
            ]
        );
        let mut many_new = store.watch_many(["b", "c"]).await.unwrap();

        // Then all of them see what comes next.
        store.put("a", b("3")).await.unwrap();
        store.put("c", b("2")).await.unwrap();
        assert_eq!(
            seen(&next_entry(&mut wa).await),
            row("a", 6, Operation::Put, "3")
        );
        assert_eq!(
            next_entries(&mut all, 2).await,
            [
                row("a", 6, Operation::Put, "3"),
                row("c", 7, Operation::Put, "2"),
            ]
        );
        assert_eq!(
            next_entries(&mut from, 2).await,
            [
                row("a", 6, Operation::Put, "3"),
                row("c", 7, Operation::Put, "2"),
            ]
        );
        assert_eq!(
            seen(&next_entry(&mut key_from).await),
            row("a", 6, Operation::Put, "3")
        );
        assert_eq!(
            next_entries(&mut many, 2).await,
            [
                row("a", 6, Operation::Put, "3"),
                row("c", 7, Operation::Put, "2"),
            ]
        );
        assert_eq!(
            seen(&next_entry(&mut many_new).await),
            row("c", 7, Operation::Put, "2")
        );
        quiet(&mut many_new).await;
    });
}

/// A watch sees puts, deletes and purges made over another connection.
#[test]
fn kv_watch_sees_other_client() {
    for_each_js_target_async(LIMIT, |info| async move {
        let watcher = jetstream::new(connect(&info).await);
        let store = bucket(&watcher, "SHARED", 1).await;
        let mut all = store.watch_all().await.unwrap();
        let mut one = store.watch("cfg.mode").await.unwrap();

        let writer_client = connect(&info).await;
        let writer = jetstream::new(writer_client.clone())
            .get_key_value("SHARED")
            .await
            .unwrap();
        // Each change is awaited on the watches before the next: a watch that lags
        // behind would otherwise never see a value a later purge or history limit removed
        // (nats-server's consumers skip what is no longer stored, as ours do).
        assert_eq!(writer.put("cfg.mode", b("fast")).await.unwrap(), 1);
        let fast = row("cfg.mode", 1, Operation::Put, "fast");
        assert_eq!(seen(&next_entry(&mut all).await), fast);
        assert_eq!(seen(&next_entry(&mut one).await), fast);
        assert_eq!(writer.create("cfg.size", b("10")).await.unwrap(), 2);
        assert_eq!(
            seen(&next_entry(&mut all).await),
            row("cfg.size", 2, Operation::Put, "10")
        );
        assert_eq!(writer.update("cfg.mode", b("slow"), 1).await.unwrap(), 3);
        let slow = row("cfg.mode", 3, Operation::Put, "slow");
        assert_eq!(seen(&next_entry(&mut all).await), slow);
        assert_eq!(seen(&next_entry(&mut one).await), slow);
        writer.delete("cfg.size").await.unwrap();
        assert_eq!(
            seen(&next_entry(&mut all).await),
            row("cfg.size", 4, Operation::Delete, "")
        );
        writer.purge("cfg.mode").await.unwrap();
        let purged = row("cfg.mode", 5, Operation::Purge, "");
        assert_eq!(seen(&next_entry(&mut all).await), purged);
        assert_eq!(seen(&next_entry(&mut one).await), purged);
        // The key watch saw only its key.
        quiet(&mut one).await;
        quiet(&mut all).await;

        // The writer's connection going away does not end the watch.
        drop(writer);
        writer_client.drain().await.unwrap();
        store.put("cfg.mode", b("back")).await.unwrap();
        assert_eq!(
            seen(&next_entry(&mut one).await),
            row("cfg.mode", 6, Operation::Put, "back")
        );
    });
}

// ---------------------------------------------------------------------------
// Object store
// ---------------------------------------------------------------------------

/// `len` bytes that look random (splitmix64 from `seed`).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A store `name` (file storage).
async fn object_store(ctx: &jetstream::Context, name: &str) -> object_store::ObjectStore {
    timeout(
        STEP,
        ctx.create_object_store(object_store::Config {
            bucket: name.into(),
            ..Default::default()
        }),
    )
    .await
    .expect("create_object_store timed out")
    .unwrap_or_else(|e| panic!("create object store {name}: {e}"))
}

/// Puts `data` as `name`, in chunks of `chunk` bytes (async-nats cuts chunks of exactly that
/// size only for sizes of 64 and up: below, its read buffer grows by 64 after the first).
async fn put_object(
    store: &object_store::ObjectStore,
    name: &str,
    chunk: usize,
    data: &[u8],
) -> ObjectInfo {
    let meta = object_store::ObjectMetadata {
        name: name.into(),
        chunk_size: Some(chunk),
        ..Default::default()
    };
    let mut reader = data;
    timeout(Duration::from_secs(10), store.put(meta, &mut reader))
        .await
        .unwrap_or_else(|_| panic!("put of {name} timed out"))
        .unwrap_or_else(|e| panic!("put of {name}: {e}"))
}

/// Reads object `name` whole: its info and its bytes.
async fn read_object(store: &object_store::ObjectStore, name: &str) -> (ObjectInfo, Vec<u8>) {
    timeout(Duration::from_secs(10), async {
        let mut object = store
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("get {name}: {e}"));
        let mut data = Vec::new();
        object
            .read_to_end(&mut data)
            .await
            .unwrap_or_else(|e| panic!("read {name}: {e}"));
        (object.info().clone(), data)
    })
    .await
    .unwrap_or_else(|_| panic!("reading {name} took over 10 s"))
}

/// The names a store lists, sorted.
async fn list_names(store: &object_store::ObjectStore) -> Vec<String> {
    let infos: Vec<ObjectInfo> = timeout(STEP, async {
        store.list().await.unwrap().try_collect().await
    })
    .await
    .expect("the list did not end within 5 s")
    .unwrap();
    let mut names: Vec<String> = infos.into_iter().map(|i| i.name).collect();
    names.sort();
    names
}

/// The number of messages in the store's stream (chunks and metadata).
async fn stream_messages(ctx: &jetstream::Context, store: &str) -> u64 {
    let mut stream = ctx.get_stream(format!("OBJ_{store}")).await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// The next change a store watch reports, within [`STEP`].
async fn next_change(watch: &mut object_store::Watch) -> ObjectInfo {
    timeout(STEP, watch.next())
        .await
        .expect("no object change within 5 s")
        .expect("the watch ended")
        .expect("a watch error")
}

/// A store's stream, and its deletion.
#[test]
fn object_store_admin() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        ctx.create_object_store(object_store::Config {
            bucket: "FILES".into(),
            description: Some("files".into()),
            storage: StorageType::Memory,
            max_bytes: 1 << 20,
            ..Default::default()
        })
        .await
        .unwrap();
        let c = ctx
            .get_stream("OBJ_FILES")
            .await
            .unwrap()
            .cached_info()
            .config
            .clone();
        assert_eq!(c.subjects, ["$O.FILES.C.>", "$O.FILES.M.>"]);
        assert_eq!(c.description.as_deref(), Some("files"));
        assert_eq!(c.storage, StorageType::Memory);
        assert_eq!(c.max_bytes, 1 << 20);
        assert_eq!(c.discard, DiscardPolicy::New);
        assert!(c.allow_rollup && c.allow_direct && !c.sealed);

        let store = ctx.get_object_store("FILES").await.unwrap();
        put_object(&store, "f", 1024, b"hello").await;
        // Over the store's max bytes: refused.
        let meta = object_store::ObjectMetadata {
            name: "big".into(),
            chunk_size: Some(64 * 1024),
            ..Default::default()
        };
        let big = pseudo_random(1 << 20, 1);
        let err = store
            .put(meta, &mut big.as_slice())
            .await
            .expect_err("over max_bytes");
        assert_eq!(
            err.kind(),
            object_store::PutErrorKind::PublishChunks,
            "{err}"
        );
        assert_eq!(api_code(&err), Some((503, 10077)), "{err}");

        let err = ctx.get_object_store("NONE").await.err().expect("no store");
        assert_eq!(
            err.kind(),
            jetstream::context::ObjectStoreErrorKind::GetStore
        );
        ctx.delete_object_store("FILES").await.unwrap();
        assert!(ctx.get_object_store("FILES").await.is_err());
        let err = ctx.get_stream("OBJ_FILES").await.expect_err("stream gone");
        assert_eq!(api_code(&err), Some((404, 10059)), "{err}");
        assert!(ctx.delete_object_store("FILES").await.is_err());
    });
}

/// A 5 MB object in many chunks, read back whole; replacing it purges the old chunks.
#[test]
fn object_put_get_large() {
    const CHUNK: usize = 64 * 1024;
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = object_store(&ctx, "BLOBS").await;
        let data = pseudo_random(5 * 1024 * 1024 + 123, 42);
        let put = put_object(&store, "data.bin", CHUNK, &data).await;
        assert_eq!(
            (put.name.as_str(), put.bucket.as_str()),
            ("data.bin", "BLOBS")
        );
        assert_eq!(put.size, data.len());
        assert_eq!(put.chunks, data.len().div_ceil(CHUNK), "{put:?}");
        let digest = put.digest.clone().expect("a digest");
        assert!(
            digest.starts_with("SHA-256=") && digest.len() == 8 + 44,
            "{digest}"
        );
        assert_eq!(
            stream_messages(&ctx, "BLOBS").await,
            put.chunks as u64 + 1,
            "chunks and one metadata message"
        );

        let (got, bytes) = read_object(&store, "data.bin").await;
        assert_eq!(got, put);
        assert_eq!(bytes.len(), data.len());
        assert!(bytes == data, "the bytes read back differ");

        // The same name again: a new object, the old chunks purged.
        let small = pseudo_random(1000, 7);
        let again = put_object(&store, "data.bin", 256, &small).await;
        assert_eq!((again.size, again.chunks), (1000, 4));
        assert_ne!(again.nuid, put.nuid);
        assert_ne!(again.digest, put.digest);
        assert_eq!(stream_messages(&ctx, "BLOBS").await, 4 + 1);
        let (_, bytes) = read_object(&store, "data.bin").await;
        assert!(bytes == small, "the replaced object's bytes differ");

        // An empty object has no chunks.
        let empty = put_object(&store, "empty", CHUNK, b"").await;
        assert_eq!((empty.size, empty.chunks), (0, 0));
        let (_, bytes) = read_object(&store, "empty").await;
        assert!(bytes.is_empty());
    });
}

/// Info, list, metadata updates and delete.
#[test]
fn object_info_list_delete() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = object_store(&ctx, "DOCS").await;
        assert!(list_names(&store).await.is_empty());
        let report = pseudo_random(300, 5);
        let meta = object_store::ObjectMetadata {
            name: "reports/q1.txt".into(),
            description: Some("first quarter".into()),
            chunk_size: Some(128),
            metadata: HashMap::from([("owner".to_string(), "finance".to_string())]),
            ..Default::default()
        };
        store.put(meta, &mut report.as_slice()).await.unwrap();
        put_object(&store, "b", 8, b"bee").await;
        put_object(&store, "c", 8, b"sea").await;

        let i = store.info("reports/q1.txt").await.unwrap();
        assert_eq!(
            (i.name.as_str(), i.bucket.as_str()),
            ("reports/q1.txt", "DOCS")
        );
        assert_eq!((i.size, i.chunks, i.deleted), (300, 3, false));
        assert_eq!(i.description.as_deref(), Some("first quarter"));
        assert_eq!(i.metadata.get("owner").map(String::as_str), Some("finance"));
        assert_eq!(i.options.as_ref().and_then(|o| o.max_chunk_size), Some(128));
        assert!(!i.nuid.is_empty() && i.modified.is_some());
        let (_, bytes) = read_object(&store, "reports/q1.txt").await;
        assert!(bytes == report, "the bytes read back differ");

        let err = store.info("missing").await.expect_err("no such object");
        assert_eq!(err.kind(), object_store::InfoErrorKind::NotFound);
        let err = store.get("missing").await.expect_err("no such object");
        assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
        assert_eq!(list_names(&store).await, ["b", "c", "reports/q1.txt"]);

        // Delete: a deleted marker stays, the chunks go.
        let before = stream_messages(&ctx, "DOCS").await;
        assert_eq!(before, 3 + 1 + 1 + 1 + 1 + 1);
        store.delete("reports/q1.txt").await.unwrap();
        let i = store.info("reports/q1.txt").await.unwrap();
        assert_eq!((i.deleted, i.size, i.chunks), (true, 0, 0));
        let err = store.get("reports/q1.txt").await.expect_err("deleted");
        assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
        assert_eq!(list_names(&store).await, ["b", "c"]);
        assert_eq!(stream_messages(&ctx, "DOCS").await, before - 3);
        let err = store.delete("missing").await.expect_err("no such object");
        assert_eq!(err.kind(), object_store::DeleteErrorKind::NotFound);

        // Metadata: a new description; a rename; a rename onto a taken name.
        let updated = store
            .update_metadata(
                "b",
                object_store::UpdateMetadata {
                    name: "b".into(),
                    description: Some("a bee".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.description.as_deref(), Some("a bee"));
        assert_eq!(
            store.info("b").await.unwrap().description.as_deref(),
            Some("a bee")
        );
        store
            .update_metadata(
                "b",
                object_store::UpdateMetadata {
                    name: "bee".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(list_names(&store).await, ["bee", "c"]);
        assert_eq!(read_object(&store, "bee").await.1, b"bee");
        let err = store
            .update_metadata(
                "bee",
                object_store::UpdateMetadata {
                    name: "c".into(),
                    ..Default::default()
                },
            )
            .await
            .expect_err("c is taken");
        assert_eq!(
            err.kind(),
            object_store::UpdateMetadataErrorKind::NameAlreadyInUse
        );
    });
}

/// A store watch: changes only, or the current objects first.
#[test]
fn object_watch() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = object_store(&ctx, "WATCHED").await;
        put_object(&store, "old", 16, b"old").await;
        let mut changes = store.watch().await.unwrap();
        let mut with_history = store.watch_with_history().await.unwrap();
        let first = next_change(&mut with_history).await;
        assert_eq!((first.name.as_str(), first.size), ("old", 3));

        // Another connection puts and deletes.
        let other = jetstream::new(connect(&info).await);
        let store2 = other.get_object_store("WATCHED").await.unwrap();
        put_object(&store2, "new", 64, &pseudo_random(200, 9)).await;
        store2.delete("old").await.unwrap();

        for watch in [&mut changes, &mut with_history] {
            let put = next_change(watch).await;
            assert_eq!(
                (put.name.as_str(), put.size, put.chunks, put.deleted),
                ("new", 200, 4, false)
            );
            let deleted = next_change(watch).await;
            assert_eq!(
                (deleted.name.as_str(), deleted.size, deleted.deleted),
                ("old", 0, true)
            );
            if let Ok(more) = timeout(QUIET, watch.next()).await {
                panic!("the watch gave more: {more:?}");
            }
        }
    });
}

/// Links to an object (in the same store and in another) and to a whole store.
#[test]
fn object_links() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let store = object_store(&ctx, "MAIN").await;
        let other = object_store(&ctx, "OTHER").await;
        let data = pseudo_random(3000, 3);
        let target = put_object(&store, "target", 1024, &data).await;

        let link = store.add_link("alias", &target).await.unwrap();
        assert_eq!(
            (link.name.as_str(), link.bucket.as_str()),
            ("alias", "MAIN")
        );
        let l = store.info("alias").await.unwrap();
        let to = l.options.and_then(|o| o.link).expect("a link");
        assert_eq!(
            (to.name.as_deref(), to.bucket.as_str()),
            (Some("target"), "MAIN")
        );
        let (got, bytes) = read_object(&store, "alias").await;
        assert_eq!((got.name.as_str(), got.size), ("target", 3000));
        assert!(bytes == data, "the bytes read through the link differ");

        // A link in another store.
        other.add_link("remote", &target).await.unwrap();
        let (got, bytes) = read_object(&other, "remote").await;
        assert_eq!((got.bucket.as_str(), got.name.as_str()), ("MAIN", "target"));
        assert!(
            bytes == data,
            "the bytes read through the remote link differ"
        );

        // Refusals: a link to a link, a link over an object.
        let err = store
            .add_link("again", &link)
            .await
            .expect_err("link to link");
        assert_eq!(err.kind(), object_store::AddLinkErrorKind::LinkToLink);
        let err = store
            .add_link("target", &target)
            .await
            .expect_err("over an object");
        assert_eq!(err.kind(), object_store::AddLinkErrorKind::AlreadyExists);

        // A link to a whole store: listed, but not something to read.
        let bl = store.add_bucket_link("everything", "OTHER").await.unwrap();
        let to = bl.options.and_then(|o| o.link).expect("a bucket link");
        assert_eq!((to.name, to.bucket.as_str()), (None, "OTHER"));
        let err = store.get("everything").await.expect_err("a bucket link");
        assert_eq!(err.kind(), object_store::GetErrorKind::BucketLink);
        assert_eq!(list_names(&store).await, ["alias", "everything", "target"]);

        // Deleting the object leaves a dangling link.
        store.delete("target").await.unwrap();
        let err = store.get("alias").await.expect_err("the target is gone");
        assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
    });
}

/// A sealed store can be read but no longer changed.
#[test]
fn object_seal() {
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let mut store = object_store(&ctx, "SEALED").await;
        put_object(&store, "kept", 64, b"kept bytes").await;
        store.seal().await.unwrap();
        let c = ctx
            .get_stream("OBJ_SEALED")
            .await
            .unwrap()
            .cached_info()
            .config
            .clone();
        assert!(c.sealed);

        assert_eq!(read_object(&store, "kept").await.1, b"kept bytes");
        assert_eq!(list_names(&store).await, ["kept"]);
        let meta = object_store::ObjectMetadata::from("more");
        let err = store
            .put(meta, &mut &b"x"[..])
            .await
            .expect_err("a sealed store takes no chunks");
        assert_eq!(
            err.kind(),
            object_store::PutErrorKind::PublishChunks,
            "{err}"
        );
        let err = store.delete("kept").await.expect_err("nor deletes");
        assert!(api_code(&err).is_some(), "{err}");
        assert_eq!(read_object(&store, "kept").await.1, b"kept bytes");
        assert_eq!(stream_messages(&ctx, "SEALED").await, 1 + 1);
    });
}
