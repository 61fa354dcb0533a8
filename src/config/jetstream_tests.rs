//! `jetstream`, `store_dir` and accounts' `jetstream`, checked against what nats-server 2.15
//! does with the same files (its error texts are quoted where it has them).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::{apply_config_str, ConfigError};
use crate::options::{
    AccountJetStreamLimits, JetStreamOptions, Options, SyncPolicy, DEFAULT_SYNC_INTERVAL,
};

fn load(text: &str) -> (Options, Vec<String>) {
    let mut o = Options::default();
    match apply_config_str(text, &mut o) {
        Ok(w) => (o, w),
        Err(e) => panic!("config failed: {e}\n---\n{text}"),
    }
}

fn load_err(text: &str) -> ConfigError {
    let mut o = Options::default();
    match apply_config_str(text, &mut o) {
        Ok(_) => panic!("expected an error\n---\n{text}"),
        Err(e) => e,
    }
}

/// The message of an `Invalid` error, after `invalid "key": `.
fn message(text: &str) -> String {
    match load_err(text) {
        ConfigError::Invalid { message, .. } => message,
        other => panic!("{text:?}: expected Invalid, got {other}"),
    }
}

/// The JetStream settings in force after `text`.
fn js(text: &str) -> JetStreamOptions {
    let (o, w) = load(text);
    assert!(w.is_empty(), "{text:?}: {w:?}");
    o.jetstream
        .unwrap_or_else(|| panic!("{text:?}: JetStream is off"))
}

#[test]
fn jetstream_is_off_by_default() {
    let o = Options::default();
    assert_eq!(o.jetstream, None);
    assert_eq!(o.jetstream_disabled, None);
    let (o, _) = load("port: 4222\n");
    assert_eq!(o.jetstream, None);
}

#[test]
fn top_level_words_and_booleans() {
    for on in [
        "enabled",
        "enable",
        "Enabled",
        "ENABLE",
        "true",
        "yes",
        "on",
        "\"enabled\"",
    ] {
        assert_eq!(
            js(&format!("jetstream: {on}\n")),
            JetStreamOptions::default(),
            "{on}"
        );
    }
    for off in ["disabled", "disable", "DISABLED", "false", "no", "off"] {
        let (o, w) = load(&format!("jetstream: {off}\n"));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(o.jetstream, None, "{off}");
    }
    assert_eq!(
        message("jetstream: maybe\n"),
        "Expected 'enabled' or 'disabled' for string value, got 'maybe'"
    );
    assert_eq!(
        message("jetstream: 5\n"),
        "Expected map, bool or string to define JetStream, got int64"
    );
    assert_eq!(
        message("jetstream: 1.5\n"),
        "Expected map, bool or string to define JetStream, got float64"
    );
}

#[test]
fn block_with_every_served_key() {
    let j = js(concat!(
        "jetstream {\n",
        "  store_dir: \"/data/nats\"\n",
        "  max_memory_store: 1GB\n",
        "  max_file_store: 10GiB\n",
        "  domain: hub\n",
        "  sync_interval: \"10s\"\n",
        "}\n",
    ));
    assert_eq!(
        j,
        JetStreamOptions {
            store_dir: Some(PathBuf::from("/data/nats")),
            max_memory: Some(1 << 30),
            max_store: Some(10 << 30),
            domain: Some("hub".into()),
            sync: SyncPolicy::Interval(Duration::from_secs(10)),
        }
    );
    // The other spellings nats-server takes.
    let j = js("jetstream { store: /a, max_mem_store: 1MB, max_file: 2MB, sync: always }\n");
    assert_eq!(j.store_dir, Some(PathBuf::from("/a")));
    assert_eq!((j.max_memory, j.max_store), (Some(1 << 20), Some(2 << 20)));
    assert_eq!(j.sync, SyncPolicy::Always);
    let j = js("jetstream { StoreDir: /b, MAX_MEM: 5 }\n");
    assert_eq!(j.store_dir, Some(PathBuf::from("/b")));
    assert_eq!(j.max_memory, Some(5));
    // An empty block turns JetStream on with the defaults.
    assert_eq!(js("jetstream {}\n"), JetStreamOptions::default());
    assert_eq!(
        js("jetstream { enabled: true }\n"),
        JetStreamOptions::default()
    );
}

#[test]
fn enabled_false_keeps_the_settings_for_later() {
    let (o, w) = load("jetstream { enabled: false, store_dir: /a, max_mem: 1MB }\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.jetstream, None);
    let kept = o.jetstream_disabled.clone().unwrap();
    assert_eq!(kept.store_dir, Some(PathBuf::from("/a")));
    assert_eq!(kept.max_memory, Some(1 << 20));
    let mut o = o;
    o.set_jetstream_enabled(true);
    assert_eq!(o.jetstream, Some(kept));
    assert_eq!(o.jetstream_disabled, None);
    o.set_jetstream_enabled(false);
    assert_eq!(o.jetstream, None);
    assert!(o.jetstream_disabled.is_some());

    let (o, _) = load("jetstream { enable: false }\n");
    assert_eq!(o.jetstream, None);
    assert!(message("jetstream { enabled: \"yes\" }\n").contains("expected a boolean"));
}

#[test]
fn top_level_store_dir_does_not_turn_jetstream_on() {
    let (o, w) = load("store_dir: /var/lib/nats\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.jetstream, None);
    assert_eq!(
        o.jetstream_disabled.unwrap().store_dir,
        Some(PathBuf::from("/var/lib/nats"))
    );
    // With `jetstream` in either order.
    for text in [
        "storedir: /x\njetstream: enabled\n",
        "jetstream: enabled\nstore_dir: /x\n",
        "jetstream { max_mem: 1K }\nstore_dir: /x\n",
    ] {
        assert_eq!(js(text).store_dir, Some(PathBuf::from("/x")), "{text}");
    }
    // An empty store_dir is none.
    assert_eq!(js("store_dir: \"\"\njetstream: true\n").store_dir, None);
    assert!(message("store_dir: 5\n").contains("expected a string"));
}

#[test]
fn store_dir_twice_is_an_error() {
    for text in [
        "store_dir: /a\njetstream { store_dir: /b }\n",
        "jetstream { store_dir: /b }\nstore_dir: /a\n",
        "storedir: /a\njetstream { store: /b }\n",
    ] {
        assert_eq!(
            message(text),
            "Duplicate 'store_dir' configuration",
            "{text}"
        );
    }
    let err = load_err("store_dir: /a\njetstream {\n  store_dir: /b\n}\n");
    assert_eq!(err.line(), Some(3));
}

#[test]
fn sizes_follow_nats_server() {
    let size = |v: &str| js(&format!("jetstream {{ max_mem: {v} }}\n")).max_memory;
    // Bare sizes: the file's suffixes, k/m/g/t decimal, kb/kib binary.
    assert_eq!(size("1024"), Some(1024));
    assert_eq!(size("1k"), Some(1000));
    assert_eq!(size("1G"), Some(1_000_000_000));
    assert_eq!(size("1GB"), Some(1 << 30));
    assert_eq!(size("1GiB"), Some(1 << 30));
    assert_eq!(size("64MB"), Some(64 << 20));
    assert_eq!(size("2T"), Some(2_000_000_000_000));
    // Strings: K, M, G, T (upper case) are powers of 1024; "" is 0.
    assert_eq!(size("\"512K\""), Some(512 << 10));
    assert_eq!(size("\"64M\""), Some(64 << 20));
    assert_eq!(size("\"10G\""), Some(10 << 30));
    assert_eq!(size("\"1T\""), Some(1 << 40));
    assert_eq!(size("\"\""), Some(0));
    // 0 allows nothing; a negative size means the default (75% of memory).
    assert_eq!(size("0"), Some(0));
    assert_eq!(size("-1"), None);
    assert_eq!(size("\"-1K\""), None);
    let store = |v: &str| js(&format!("jetstream {{ max_file_store: {v} }}\n")).max_store;
    assert_eq!(store("\"1G\""), Some(1 << 30));
    assert_eq!(store("-1"), None);
}

#[test]
fn bad_sizes_have_nats_server_texts() {
    let cases = [
        (
            "max_mem: \"1GiB\"",
            "max_mem_store strconv.ParseInt: parsing \"1Gi\": invalid syntax",
        ),
        (
            "max_mem: \"1GB\"",
            "max_mem_store strconv.ParseInt: parsing \"1G\": invalid syntax",
        ),
        (
            "max_mem: \"10g\"",
            "max_mem_store sizes defined as strings must end in K, M, G, T",
        ),
        (
            "max_memory_store: \"10\"",
            "max_mem_store sizes defined as strings must end in K, M, G, T",
        ),
        (
            "max_file: \"x\"",
            "max_file_store strconv.ParseInt: parsing \"\": invalid syntax",
        ),
        ("max_file: 1.5", "max_file_store must be int64 or string"),
        (
            "max_file_store: true",
            "max_file_store must be int64 or string",
        ),
        (
            "max_mem: \"99999999999999999999G\"",
            "max_mem_store strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "max_mem: \"9999999999T\"",
            "max_mem_store size \"9999999999T\" is too big",
        ),
    ];
    for (kv, want) in cases {
        assert_eq!(message(&format!("jetstream {{ {kv} }}\n")), want, "{kv}");
    }
}

#[test]
fn sync_interval_always_or_a_duration() {
    let sync = |v: &str| js(&format!("jetstream {{ sync_interval: {v} }}\n")).sync;
    assert_eq!(sync("always"), SyncPolicy::Always);
    assert_eq!(sync("ALWAYS"), SyncPolicy::Always);
    assert_eq!(sync("\"Always\""), SyncPolicy::Always);
    assert_eq!(sync("\"1s\""), SyncPolicy::Interval(Duration::from_secs(1)));
    assert_eq!(
        sync("\"250ms\""),
        SyncPolicy::Interval(Duration::from_millis(250))
    );
    assert_eq!(
        sync("\"2m30s\""),
        SyncPolicy::Interval(Duration::from_secs(150))
    );
    // 0 is the default, as nats-server's file store takes it.
    assert_eq!(sync("\"0s\""), SyncPolicy::Interval(DEFAULT_SYNC_INTERVAL));
    assert_eq!(
        JetStreamOptions::default().sync,
        SyncPolicy::Interval(Duration::from_secs(120))
    );
    // An integer is seconds, with nats-server's warning.
    let (o, w) = load("jetstream { sync: 5 }\n");
    assert_eq!(
        o.jetstream.unwrap().sync,
        SyncPolicy::Interval(Duration::from_secs(5))
    );
    assert_eq!(w, ["<string>:1:19: sync should be converted to a duration"]);

    assert_eq!(
        message("jetstream { sync_interval: \"abc\" }\n"),
        "error parsing sync_interval: time: invalid duration \"abc\""
    );
    assert_eq!(
        message("jetstream { sync: \"5\" }\n"),
        "error parsing sync: time: missing unit in duration \"5\""
    );
    assert_eq!(
        message("jetstream { sync_interval: \"-5s\" }\n"),
        "sync_interval can not be negative"
    );
    assert!(message("jetstream { sync_interval: true }\n").contains("\"always\" or a duration"));
}

#[test]
fn domain_is_checked_as_nats_server_checks_it() {
    assert_eq!(
        js("jetstream { domain: hub }\n").domain.as_deref(),
        Some("hub")
    );
    assert_eq!(js("jetstream { domain: \"\" }\n").domain, None);
    assert_eq!(
        message("jetstream { domain: \"a.b\" }\n"),
        "invalid domain name: may not contain ., * or >"
    );
    assert_eq!(
        message("jetstream { domain: \"a*\" }\n"),
        "invalid domain name: may not contain ., * or >"
    );
    assert_eq!(
        message("jetstream { domain: \"a b\" }\n"),
        "invalid domain name: derived \"$JS.a b.API.>\" is not a valid subject"
    );
    assert_eq!(
        message("jetstream { domain: \"a..b\" }\n"),
        "invalid domain name: derived \"$JS.a..b.API.>\" is not a valid subject"
    );
    // Checked even while JetStream is off, as nats-server does when it starts.
    assert!(message("jetstream { enabled: false, domain: \"x.y\" }\n").contains("may not"));
}

#[test]
fn keys_not_served_and_unknown_keys_warn() {
    let (o, w) = load(concat!(
        "jetstream {\n",
        "  store_dir: /a\n",
        "  cipher: aes\n  key: \"s3cr3t\"\n  strict: false\n  unique_tag: az\n",
        "  max_outstanding_catchup: 64MB\n  max_buffered_size: 1MB\n  max_buffered_msgs: 10\n",
        "  request_queue_limit: 100\n  limits { max_ack_pending: 10 }\n",
        "  tiered_limits: 1\n",
        "}\n",
    ));
    assert_eq!(o.jetstream.unwrap().store_dir, Some(PathBuf::from("/a")));
    let unsupported = [
        "cipher",
        "key",
        "strict",
        "unique_tag",
        "max_outstanding_catchup",
        "max_buffered_size",
        "max_buffered_msgs",
        "request_queue_limit",
        "limits",
    ];
    assert_eq!(w.len(), unsupported.len() + 1, "{w:#?}");
    for (warning, key) in w.iter().zip(unsupported) {
        assert!(
            warning.ends_with(&format!(
                "config key \"jetstream.{key}\" is not supported yet and is ignored"
            )),
            "{warning}"
        );
    }
    assert_eq!(
        w.last().unwrap(),
        "<string>:12:3: config key \"jetstream.tiered_limits\" is unknown and is ignored"
    );
}

#[test]
fn accounts_enable_and_disable() {
    let (o, w) = load(concat!(
        "jetstream: enabled\n",
        "accounts {\n",
        "  A { jetstream: enabled }\n",
        "  B { jetstream: true }\n",
        "  C { jetstream: disabled }\n",
        "  D { jetstream: false }\n",
        "  E { users [{user: e, password: e}] }\n",
        "  F { jetstream: {} }\n",
        "  G { jetstream: Enable }\n",
        "}\n",
    ));
    assert!(w.is_empty(), "{w:?}");
    let of = |name: &str| {
        o.auth
            .accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .jetstream
    };
    let all = Some(AccountJetStreamLimits::default());
    assert_eq!(of("A"), all);
    assert_eq!(of("B"), all);
    assert_eq!(of("C"), None);
    assert_eq!(of("D"), None);
    assert_eq!(of("E"), None);
    assert_eq!(of("F"), all);
    assert_eq!(of("G"), all);
    let limits = AccountJetStreamLimits::default();
    assert_eq!(
        (limits.max_memory, limits.max_store, limits.max_streams),
        (-1, -1, -1)
    );
    assert_eq!(
        (
            limits.max_consumers,
            limits.max_ack_pending,
            limits.memory_max_stream_bytes,
            limits.storage_max_stream_bytes,
            limits.max_bytes_required
        ),
        (-1, -1, -1, -1, false)
    );
    let (o, _) = load("accounts: [A, B]\n");
    assert!(o.auth.accounts.iter().all(|a| a.jetstream.is_none()));
}

#[test]
fn account_jetstream_does_not_turn_the_server_on() {
    let (o, _) = load("accounts { A { jetstream: enabled } }\n");
    assert_eq!(o.jetstream, None);
    assert!(o.auth.accounts[0].jetstream.is_some());
}

#[test]
fn account_limits_and_their_spellings() {
    let limits = |body: &str| {
        let (o, w) = load(&format!("accounts {{ A {{ jetstream {{ {body} }} }} }}\n"));
        assert!(w.is_empty(), "{body}: {w:?}");
        o.auth.accounts[0].jetstream.unwrap()
    };
    assert_eq!(
        limits(concat!(
            "max_mem: 1GB, max_file: 10GB, max_streams: 10, max_consumers: 100, ",
            "max_ack_pending: 1000, mem_max_stream_bytes: 1MB, ",
            "disk_max_stream_bytes: 2MB, max_bytes_required: true"
        )),
        AccountJetStreamLimits {
            max_memory: 1 << 30,
            max_store: 10 << 30,
            max_streams: 10,
            max_consumers: 100,
            max_ack_pending: 1000,
            memory_max_stream_bytes: 1 << 20,
            storage_max_stream_bytes: 2 << 20,
            max_bytes_required: true,
        }
    );
    let all = |n: i64, b: bool| AccountJetStreamLimits {
        max_memory: n,
        max_store: n,
        max_streams: n,
        max_consumers: n,
        max_ack_pending: n,
        memory_max_stream_bytes: n,
        storage_max_stream_bytes: n,
        max_bytes_required: b,
    };
    assert_eq!(
        limits(concat!(
            "max_memory: 7, max_store: 7, streams: 7, consumers: 7, max_ack_pending: 7, ",
            "memory_max_stream_bytes: 7, store_max_stream_bytes: 7, max_stream_bytes: true"
        )),
        all(7, true)
    );
    assert_eq!(
        limits("mem: 3, disk: 3, max_streams: 3, max_consumers: 3, max_ack_pending: 3, mem_max_stream_bytes: 3, disk_max_stream_bytes: 3, max_bytes: false"),
        all(3, false)
    );
    assert_eq!(limits("memory: 4, store: 4").max_store, 4);
    assert_eq!(limits("memory: 4, max_disk: 5").max_store, 5);
    // A limit left out is -1.
    let l = limits("max_streams: 2");
    assert_eq!(
        l,
        AccountJetStreamLimits {
            max_streams: 2,
            ..all(-1, false)
        }
    );
}

#[test]
fn account_errors_and_warnings() {
    let acc = |body: &str| format!("accounts {{ A {{ jetstream: {body} }} }}\n");
    assert_eq!(
        message(&acc("maybe")),
        "Expected 'enabled' or 'disabled' for string value, got 'maybe'"
    );
    assert_eq!(
        message(&acc("5")),
        "Expected map, bool or string to define JetStream, got int64"
    );
    assert_eq!(
        message(&acc("{ max_mem: \"1G\" }")),
        "Expected a parseable size for \"max_mem\", got 1G"
    );
    assert_eq!(
        message(&acc("{ max_streams: 1.5 }")),
        "Expected a parseable size for \"max_streams\", got 1.5"
    );
    assert_eq!(
        message(&acc("{ max_bytes_required: 1 }")),
        "Expected a parseable bool for \"max_bytes_required\", got 1"
    );
    assert_eq!(
        message(&acc("{ cluster_traffic: bogus }")),
        "Expected 'system' or 'owner' string value for \"cluster_traffic\", got bogus"
    );
    let err = load_err(&acc("{ max_mem: \"1G\" }"));
    match err {
        ConfigError::Invalid { key, .. } => assert_eq!(key, "accounts.A.jetstream.max_mem"),
        other => panic!("{other}"),
    }
    let (o, w) = load(&acc("{ cluster_traffic: owner, foo: 1, max_streams: 1 }"));
    assert_eq!(o.auth.accounts[0].jetstream.unwrap().max_streams, 1);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].ends_with(
        "config key \"accounts.A.jetstream.cluster_traffic\" is not supported yet and is ignored"
    ));
    assert!(w[1].ends_with("config key \"accounts.A.jetstream.foo\" is unknown and is ignored"));
}

#[test]
fn store_directory_as_nats_server_picks_it() {
    let tmp = std::env::temp_dir();
    let with = |store_dir: Option<&str>, max_memory, max_store| {
        JetStreamOptions {
            store_dir: store_dir.map(PathBuf::from),
            max_memory,
            max_store,
            ..JetStreamOptions::default()
        }
        .dir()
    };
    assert_eq!(
        with(Some("/data"), None, None),
        PathBuf::from("/data/jetstream")
    );
    assert_eq!(
        with(Some("/data"), Some(1), Some(1)),
        PathBuf::from("/data/jetstream")
    );
    assert_eq!(with(None, None, None), tmp.join("nats/jetstream"));
    assert_eq!(with(None, Some(1 << 30), None), tmp.join("nats/jetstream"));
    assert_eq!(
        with(None, Some(1 << 30), Some(0)),
        tmp.join("nats/jetstream")
    );
    // Both limits given: nats-server skips its "dynamic" path, and with it the `nats` part.
    assert_eq!(
        with(None, Some(1 << 30), Some(1 << 30)),
        tmp.join("jetstream")
    );
}
