//! JetStream streams (issue 16): the `$JS.API` stream requests, stream publishes and their
//! acks, message get/delete, purge and direct get, and pull consumers (issue 17: the
//! consumer API, pulls with their statuses, acknowledgements, retention and consumer state
//! across a restart), answered like nats-server 2.15.1.
//!
//! Every test runs against each selected target, each with JetStream on (`-js -sd DIR`) and
//! a store directory of its own.
//!
//! * `api_*`: raw protocol. A script of requests runs against the target and every answer is
//!   written down byte for byte (JSON field order, escaping and byte counts included), with
//!   timestamps, the server's id and name and the `_nats.ver` version replaced by markers
//!   (Go's zero time stays). The transcript must equal the golden file
//!   `tests/jetstream/<test>.golden`, recorded from nats-server 2.15.1, so each target is
//!   checked on its own and both are checked against each other. To record the golden files
//!   again: `SWITCHBOARD_BLESS=1 SWITCHBOARD_TEST_TARGETS=reference cargo test --test
//!   jetstream api_`, then review the diff.
//! * `js_*`: the same features through async-nats' JetStream context: stream management,
//!   publish with acks and expectations, dedupe, direct and raw gets, purge, limits, max age
//!   and per-message TTL, streams and messages coming back after a restart on the same
//!   store directory, pull consumers (fetch, message streams, every ack kind, redelivery,
//!   backoff, max deliver, idle ephemerals) and a durable consumer's state after a SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "support/jetstream.rs"]
mod js;

#[path = "jetstream/durability.rs"]
mod durability;

#[path = "jetstream/push.rs"]
mod push;

#[path = "jetstream/pacing.rs"]
mod pacing;

#[path = "jetstream/priority.rs"]
mod priority;

#[path = "jetstream/kv_object.rs"]
mod kv_object;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::{
    self,
    context::{CreateStreamErrorKind, PublishErrorKind},
    message::PublishMessage,
    publish::PublishAck,
    stream::{
        self, DirectGetErrorKind, DiscardPolicy, RawMessageErrorKind, RetentionPolicy, StorageType,
    },
};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::TryStreamExt;
use js::{
    check_golden, for_each_js_target, for_each_js_target_async, with_log, JsServer, Transcript,
};
use support::clients::{connect, STEP};
use support::{for_each_target_bare, wait_until_async};
use tokio::time::timeout;

/// Every field of a stream config that issue 16 lists, on a memory stream.
const FULL_CONFIG: &str = r#"{"name":"FULL","description":"every field","subjects":["full.*","fullx.>"],"retention":"limits","storage":"memory","max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":10,"max_msg_size":1024,"max_consumers":5,"discard":"new","discard_new_per_subject":true,"duplicate_window":60000000000,"allow_rollup_hdrs":true,"deny_delete":true,"deny_purge":false,"allow_direct":true,"first_seq":100,"metadata":{"owner":"tests","a":"b"},"allow_msg_ttl":true}"#;

/// Stream create, update, info, names, list and delete, with their errors.
#[test]
fn api_stream_admin() {
    for_each_js_target(|js| {
        let mut t = Transcript::new(&js.server);
        t.note("account info of an empty account");
        t.req("$JS.API.INFO", "");

        t.note("create: minimal, again (idempotent), again with another config");
        let orders = r#"{"name":"ORDERS","subjects":["orders.>"]}"#;
        t.req("$JS.API.STREAM.CREATE.ORDERS", orders);
        t.req("$JS.API.STREAM.CREATE.ORDERS", orders);
        t.req(
            "$JS.API.STREAM.CREATE.ORDERS",
            r#"{"name":"ORDERS","subjects":["orders.>"],"max_msgs":10}"#,
        );
        t.note("create errors");
        t.req(
            "$JS.API.STREAM.CREATE.OVERLAP",
            r#"{"name":"OVERLAP","subjects":["orders.eu"]}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.R3",
            r#"{"name":"R3","subjects":["r3"],"num_replicas":3}"#,
        );
        t.req("$JS.API.STREAM.CREATE.BAD", "{bad");
        t.req("$JS.API.STREAM.CREATE.BAD", r#"{"name":"#);
        t.req(
            "$JS.API.STREAM.CREATE.BAD",
            r#"{"name":"BAD","subjects":["bad"],"storage":"disk"}"#,
        );
        t.req("$JS.API.STREAM.CREATE.MISMATCH", r#"{"name":"OTHER"}"#);
        t.req("$JS.API.STREAM.CREATE.EMPTY", "");
        t.req("$JS.API.STREAM.CREATE.A*B", r#"{"name":"A*B"}"#);
        t.silent("$JS.API.STREAM.CREATE.A.B", r#"{"name":"A.B"}"#);
        t.silent("$JS.API.STREAM.CREATE", r#"{"name":"NONAME"}"#);
        t.req(
            "$JS.API.STREAM.CREATE.SEALED",
            r#"{"name":"SEALED","sealed":true}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.NEGAGE",
            r#"{"name":"NEGAGE","max_age":-1}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.DNPS",
            r#"{"name":"DNPS","max_msgs_per_subject":1,"discard_new_per_subject":true}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.DUPWIN",
            r#"{"name":"DUPWIN","max_age":1000000000,"duplicate_window":5000000000}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.APIOVER",
            r#"{"name":"APIOVER","subjects":["$JS.API.>"]}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.BADSUBJ",
            r#"{"name":"BADSUBJ","subjects":["a..b"]}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.TWICE",
            r#"{"name":"TWICE","subjects":["x","x"]}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.NOPURGE",
            r#"{"name":"NOPURGE","allow_rollup_hdrs":true,"deny_purge":true}"#,
        );
        t.note("create: subjects default to the name; every field; retentions");
        t.req("$JS.API.STREAM.CREATE.NOSUBJ", r#"{"name":"NOSUBJ"}"#);
        t.req(
            "$JS.API.STREAM.CREATE.EMPTYSUBJ",
            r#"{"name":"EMPTYSUBJ","subjects":[]}"#,
        );
        t.req("$JS.API.STREAM.CREATE.FULL", FULL_CONFIG);
        t.req(
            "$JS.API.STREAM.CREATE.WQ",
            r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue","storage":"memory"}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.INTEREST",
            r#"{"name":"INTEREST","subjects":["interest.>"],"retention":"interest"}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.SHORT",
            r#"{"name":"SHORT","subjects":["short"],"max_age":1000000000,"metadata":{"_nats.ver":"0.1","x":"y"}}"#,
        );

        t.note("update");
        t.req(
            "$JS.API.STREAM.UPDATE.FULL",
            &FULL_CONFIG
                .replace(r#""max_msgs":100"#, r#""max_msgs":200"#)
                .replace("every field", "changed"),
        );
        t.req(
            "$JS.API.STREAM.UPDATE.FULL",
            &FULL_CONFIG.replace(r#""storage":"memory""#, r#""storage":"file""#),
        );
        t.req(
            "$JS.API.STREAM.UPDATE.FULL",
            &FULL_CONFIG.replace(r#""deny_delete":true"#, r#""deny_delete":false"#),
        );
        t.req(
            "$JS.API.STREAM.UPDATE.FULL",
            &FULL_CONFIG.replace(r#""name":"FULL""#, r#""name":"OTHER""#),
        );
        t.req(
            "$JS.API.STREAM.UPDATE.NOPE",
            r#"{"name":"NOPE","subjects":["nope"]}"#,
        );
        t.req(
            "$JS.API.STREAM.UPDATE.WQ",
            r#"{"name":"WQ","subjects":["wq.>"],"retention":"limits","storage":"memory"}"#,
        );
        t.req(
            "$JS.API.STREAM.UPDATE.INTEREST",
            r#"{"name":"INTEREST","subjects":["interest.>","orders.x"],"retention":"interest"}"#,
        );
        t.req(
            "$JS.API.STREAM.UPDATE.ORDERS",
            r#"{"name":"ORDERS","subjects":["orders.>","more.>"]}"#,
        );
        t.req("$JS.API.STREAM.UPDATE.ORDERS", "{bad");

        t.note("info");
        t.req("$JS.API.STREAM.INFO.ORDERS", "");
        t.req("$JS.API.STREAM.INFO.ORDERS", r#"{"subjects_filter":">"}"#);
        t.req("$JS.API.STREAM.INFO.ORDERS", "{bad");
        t.req("$JS.API.STREAM.INFO.NOPE", "");
        t.silent("$JS.API.STREAM.INFO", "");

        t.note("names and list");
        t.req("$JS.API.STREAM.NAMES", "");
        t.req("$JS.API.STREAM.NAMES", r#"{"subject":"orders.new"}"#);
        t.req("$JS.API.STREAM.NAMES", r#"{"subject":"nothing.here"}"#);
        t.req("$JS.API.STREAM.NAMES", r#"{"offset":3}"#);
        t.req("$JS.API.STREAM.NAMES", r#"{"offset":99}"#);
        t.req("$JS.API.STREAM.NAMES", "{bad");
        t.req("$JS.API.STREAM.LIST", "");
        t.req("$JS.API.STREAM.LIST", r#"{"subject":"wq.x"}"#);
        t.req("$JS.API.STREAM.LIST", r#"{"offset":8}"#);
        t.req("$JS.API.STREAM.LIST", "{bad");

        t.note("delete");
        t.req("$JS.API.STREAM.DELETE.INTEREST", "");
        t.req("$JS.API.STREAM.DELETE.INTEREST", "");
        t.req("$JS.API.STREAM.DELETE.ORDERS", r#"{"name":"ORDERS"}"#);
        t.req("$JS.API.STREAM.NAMES", "");

        t.note("unknown API subjects");
        t.silent("$JS.API.NOPE", "");
        t.silent("$JS.API.STREAM.NOPE", "");

        t.note("account info at the end");
        t.req("$JS.API.INFO", "");
        check_golden(&js.server.target, "api_stream_admin", &t.finish());
    });
}

/// Stream publishes: the PubAck JSON, dedupe, each `Nats-Expected-*` header, limits with
/// discard new, rollups, per-message TTL, sealed streams and deny delete/purge.
#[test]
fn api_publish() {
    for_each_js_target(|js| {
        let mut t = Transcript::new(&js.server);
        t.req(
            "$JS.API.STREAM.CREATE.ORDERS",
            r#"{"name":"ORDERS","subjects":["orders.>"],"duplicate_window":60000000000}"#,
        );
        t.note("acks, headers kept, dedupe across subjects");
        t.req("orders.new", "one");
        t.req_h("orders.new", &[("X-Trace", "abc")], "two");
        t.req_h("orders.new", &[("Nats-Msg-Id", "m1")], "three");
        t.req_h("orders.new", &[("Nats-Msg-Id", "m1")], "three again");
        t.req_h(
            "orders.eu",
            &[("Nats-Msg-Id", "m1")],
            "same id, other subject",
        );
        t.note("Nats-Expected-Stream");
        t.req_h("orders.new", &[("Nats-Expected-Stream", "OTHER")], "x");
        t.req_h("orders.new", &[("Nats-Expected-Stream", "ORDERS")], "x");
        t.note("Nats-Expected-Last-Sequence");
        t.req_h("orders.new", &[("Nats-Expected-Last-Sequence", "1")], "x");
        t.req_h(
            "orders.new",
            &[("Nats-Expected-Last-Sequence", "bogus")],
            "x",
        );
        t.req_h("orders.new", &[("Nats-Expected-Last-Sequence", "4")], "x");
        t.note("Nats-Expected-Last-Subject-Sequence (and its -Subject companion)");
        t.req_h(
            "orders.new",
            &[("Nats-Expected-Last-Subject-Sequence", "1")],
            "x",
        );
        t.req_h(
            "orders.new",
            &[("Nats-Expected-Last-Subject-Sequence", "5")],
            "x",
        );
        t.req_h(
            "orders.fresh",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "x",
        );
        t.req_h(
            "orders.other",
            &[
                ("Nats-Expected-Last-Subject-Sequence", "0"),
                ("Nats-Expected-Last-Subject-Sequence-Subject", "orders.new"),
            ],
            "x",
        );
        t.req_h(
            "orders.other",
            &[
                ("Nats-Expected-Last-Subject-Sequence", "6"),
                ("Nats-Expected-Last-Subject-Sequence-Subject", "orders.new"),
            ],
            "x",
        );
        t.req_h(
            "orders.other",
            &[("Nats-Expected-Last-Subject-Sequence-Subject", "orders.*")],
            "x",
        );
        t.note("Nats-Expected-Last-Msg-Id");
        t.req_h("orders.new", &[("Nats-Expected-Last-Msg-Id", "m1")], "x");
        t.req_h("orders.new", &[("Nats-Msg-Id", "m2")], "x");
        t.req_h("orders.new", &[("Nats-Expected-Last-Msg-Id", "zz")], "x");
        t.req_h(
            "orders.new",
            &[("Nats-Expected-Last-Msg-Id", "m2"), ("Nats-Msg-Id", "m3")],
            "x",
        );
        t.note("features the stream does not allow");
        t.req_h("orders.new", &[("Nats-TTL", "1h")], "x");
        t.req_h("orders.new", &[("Nats-Rollup", "sub")], "x");
        t.note("a subject no stream listens on: no responders");
        t.req("nostream.x", "x");
        t.req("$JS.API.STREAM.INFO.ORDERS", r#"{"subjects_filter":">"}"#);

        t.note("max_msg_size, per-message TTL, rollups on a stream that allows them");
        t.req("$JS.API.STREAM.CREATE.FULL", FULL_CONFIG);
        t.req("full.big", &"x".repeat(1025));
        t.req("full.fit", &"x".repeat(1024));
        t.req_h("full.ttl", &[("Nats-TTL", "1h")], "x");
        t.req_h("full.ttl", &[("Nats-TTL", "30")], "x");
        t.req_h("full.ttl", &[("Nats-TTL", "never")], "x");
        t.req_h("full.ttl", &[("Nats-TTL", "bogus")], "x");
        t.req_h("full.ttl", &[("Nats-TTL", "0")], "x");
        t.req_h("full.ttl", &[("Nats-TTL", "500ms")], "x");
        t.req_h("full.roll", &[("Nats-Rollup", "bad")], "x");
        t.req("$JS.API.STREAM.INFO.FULL", r#"{"subjects_filter":">"}"#);

        t.note("rollups");
        t.req(
            "$JS.API.STREAM.CREATE.RU",
            r#"{"name":"RU","subjects":["ru.>"],"allow_rollup_hdrs":true}"#,
        );
        for (subject, body) in [("ru.a", "1"), ("ru.a", "2"), ("ru.b", "3"), ("ru.b", "4")] {
            t.req(subject, body);
        }
        t.req_h("ru.a", &[("Nats-Rollup", "sub")], "a rolled up");
        t.req(
            "$JS.API.STREAM.INFO.RU",
            r#"{"subjects_filter":">","deleted_details":true}"#,
        );
        t.req_h("ru.c", &[("Nats-Rollup", "all")], "all rolled up");
        t.req(
            "$JS.API.STREAM.INFO.RU",
            r#"{"subjects_filter":">","deleted_details":true}"#,
        );

        t.note("discard new: max_msgs, max_bytes, max_msgs_per_subject");
        t.req(
            "$JS.API.STREAM.CREATE.DN",
            r#"{"name":"DN","subjects":["dn.>"],"max_msgs":2,"discard":"new"}"#,
        );
        for (subject, body) in [("dn.a", "1"), ("dn.b", "2"), ("dn.c", "3")] {
            t.req(subject, body);
        }
        t.req(
            "$JS.API.STREAM.CREATE.DB",
            r#"{"name":"DB","subjects":["db.>"],"max_bytes":100,"discard":"new"}"#,
        );
        t.req("db.a", &"1".repeat(30));
        t.req("db.b", &"2".repeat(30));
        t.req(
            "$JS.API.STREAM.CREATE.DPS",
            r#"{"name":"DPS","subjects":["dps.>"],"max_msgs_per_subject":1,"discard":"new","discard_new_per_subject":true}"#,
        );
        for (subject, body) in [("dps.a", "1"), ("dps.b", "2"), ("dps.a", "3")] {
            t.req(subject, body);
        }
        t.note("discard old: the oldest go, per subject and overall");
        t.req(
            "$JS.API.STREAM.CREATE.OLD",
            r#"{"name":"OLD","subjects":["old.>"],"max_msgs":3,"max_msgs_per_subject":2,"storage":"memory"}"#,
        );
        for (subject, body) in [
            ("old.a", "1"),
            ("old.a", "2"),
            ("old.a", "3"),
            ("old.b", "4"),
            ("old.c", "5"),
        ] {
            t.req(subject, body);
        }
        t.req(
            "$JS.API.STREAM.INFO.OLD",
            r#"{"subjects_filter":">","deleted_details":true}"#,
        );

        t.note("sealed");
        t.req(
            "$JS.API.STREAM.CREATE.SE",
            r#"{"name":"SE","subjects":["se.>"]}"#,
        );
        t.req("se.a", "1");
        t.req(
            "$JS.API.STREAM.UPDATE.SE",
            r#"{"name":"SE","subjects":["se.>"],"sealed":true}"#,
        );
        t.req("se.a", "2");
        t.req("$JS.API.STREAM.PURGE.SE", "");
        t.req("$JS.API.STREAM.MSG.DELETE.SE", r#"{"seq":1}"#);
        t.req(
            "$JS.API.STREAM.UPDATE.SE",
            r#"{"name":"SE","subjects":["se.>"],"sealed":false}"#,
        );

        t.note("deny delete, deny purge");
        t.req(
            "$JS.API.STREAM.CREATE.DENY",
            r#"{"name":"DENY","subjects":["deny.>"],"deny_delete":true,"deny_purge":true}"#,
        );
        t.req("deny.a", "1");
        t.req("$JS.API.STREAM.PURGE.DENY", "");
        t.req("$JS.API.STREAM.MSG.DELETE.DENY", r#"{"seq":1}"#);
        t.req_h("deny.a", &[("Nats-Rollup", "all")], "x");

        t.note("account totals");
        t.req("$JS.API.INFO", "");
        check_golden(&js.server.target, "api_publish", &t.finish());
    });
}

/// Message get and delete, and purge, on a file and a memory stream.
#[test]
fn api_messages_and_purge() {
    for_each_js_target(|js| {
        let mut t = Transcript::new(&js.server);
        for storage in ["file", "memory"] {
            t.note(&format!("{storage} storage"));
            t.req(
                "$JS.API.STREAM.CREATE.M",
                &format!(r#"{{"name":"M","subjects":["m.>"],"storage":"{storage}"}}"#),
            );
            for (i, subject) in ["m.a", "m.b", "m.a", "m.c", "m.b", "m.a", "m.a", "m.b"]
                .into_iter()
                .enumerate()
            {
                let body = format!("p{}", i + 1);
                if i % 2 == 1 {
                    t.req_h(subject, &[("X-K", &format!("v{}", i + 1))], &body);
                } else {
                    t.req(subject, &body);
                }
            }
            t.note("msg get");
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":1}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":2}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"last_by_subj":"m.a"}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"last_by_subj":"m.*"}"#);
            t.req(
                "$JS.API.STREAM.MSG.GET.M",
                r#"{"next_by_subj":"m.b","seq":3}"#,
            );
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"next_by_subj":"m.c"}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":99}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"last_by_subj":"m.zz"}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", "");
            t.req("$JS.API.STREAM.MSG.GET.M", "{}");
            t.req(
                "$JS.API.STREAM.MSG.GET.M",
                r#"{"seq":1,"last_by_subj":"m.a"}"#,
            );
            t.req("$JS.API.STREAM.MSG.GET.M", "{bad");
            t.req("$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#);
            t.note("msg delete");
            t.req("$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":3}"#);
            t.req(
                "$JS.API.STREAM.MSG.DELETE.M",
                r#"{"seq":4,"no_erase":true}"#,
            );
            t.req("$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":3}"#);
            t.req("$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":99}"#);
            t.req("$JS.API.STREAM.MSG.DELETE.M", "");
            t.req("$JS.API.STREAM.MSG.DELETE.M", "{}");
            t.req("$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#);
            t.req("$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":1}"#);
            t.req("$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":1}"#);
            t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":3}"#);
            t.req(
                "$JS.API.STREAM.MSG.GET.M",
                r#"{"next_by_subj":"m.c","seq":1}"#,
            );
            t.req("$JS.API.STREAM.INFO.M", r#"{"deleted_details":true}"#);
            t.req(
                "$JS.API.STREAM.INFO.M",
                r#"{"subjects_filter":"m.a","deleted_details":true}"#,
            );
            t.note("purge: filter + keep, seq, keep, filter, bad combinations, all");
            t.req("$JS.API.STREAM.PURGE.M", r#"{"filter":"m.a","keep":1}"#);
            t.req("$JS.API.STREAM.PURGE.M", r#"{"seq":5}"#);
            t.req(
                "$JS.API.STREAM.INFO.M",
                r#"{"subjects_filter":">","deleted_details":true}"#,
            );
            t.req("$JS.API.STREAM.PURGE.M", r#"{"keep":2}"#);
            t.req("$JS.API.STREAM.PURGE.M", r#"{"filter":"m.b"}"#);
            t.req(
                "$JS.API.STREAM.PURGE.M",
                r#"{"filter":"m.b","seq":3,"keep":1}"#,
            );
            t.req("$JS.API.STREAM.PURGE.M", r#"{"filter":"m.nothing"}"#);
            t.req("$JS.API.STREAM.PURGE.M", "{bad");
            t.req("$JS.API.STREAM.PURGE.NOPE", "");
            t.req("$JS.API.STREAM.INFO.M", "");
            t.req("$JS.API.STREAM.PURGE.M", "");
            t.req("$JS.API.STREAM.INFO.M", "");
            t.req("m.z", "after the purge");
            t.req("$JS.API.STREAM.INFO.M", "");
            t.req("$JS.API.STREAM.DELETE.M", "");
        }
        check_golden(&js.server.target, "api_messages_and_purge", &t.finish());
    });
}

/// Direct get: by sequence, last and next by subject, the subject in the API subject,
/// batches, multi_last, errors; and no answer at all for a stream without allow_direct.
#[test]
fn api_direct_get() {
    for_each_js_target(|js| {
        let mut t = Transcript::new(&js.server);
        t.req(
            "$JS.API.STREAM.CREATE.D",
            r#"{"name":"D","subjects":["d.>"],"allow_direct":true}"#,
        );
        for (i, subject) in ["d.a", "d.b", "d.a", "d.c", "d.b", "d.a"]
            .into_iter()
            .enumerate()
        {
            let body = format!("p{}", i + 1);
            if i % 2 == 1 {
                t.req_h(subject, &[("X-K", &format!("v{}", i + 1))], &body);
            } else {
                t.req(subject, &body);
            }
        }
        t.req("$JS.API.STREAM.MSG.DELETE.D", r#"{"seq":3}"#);
        t.note("single messages");
        t.req("$JS.API.DIRECT.GET.D", r#"{"seq":1}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"seq":2}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"seq":3}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"seq":99}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"last_by_subj":"d.b"}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"last_by_subj":"d.zz"}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"next_by_subj":"d.a","seq":2}"#);
        t.req("$JS.API.DIRECT.GET.D", r#"{"next_by_subj":"d.c"}"#);
        t.req("$JS.API.DIRECT.GET.D.d.a", "");
        t.req("$JS.API.DIRECT.GET.D.d.zz", "");
        t.note("errors");
        t.req("$JS.API.DIRECT.GET.D", "");
        t.req("$JS.API.DIRECT.GET.D", "{bad");
        t.req("$JS.API.DIRECT.GET.D", "{}");
        t.req("$JS.API.DIRECT.GET.NOPE", r#"{"seq":1}"#);
        t.note("batches and multi_last");
        t.batch("$JS.API.DIRECT.GET.D", r#"{"seq":1,"batch":3}"#);
        t.batch("$JS.API.DIRECT.GET.D", r#"{"seq":1,"batch":10}"#);
        t.batch(
            "$JS.API.DIRECT.GET.D",
            r#"{"seq":1,"batch":3,"next_by_subj":"d.a"}"#,
        );
        t.batch(
            "$JS.API.DIRECT.GET.D",
            r#"{"multi_last":["d.a","d.b","d.zz"]}"#,
        );
        t.batch(
            "$JS.API.DIRECT.GET.D",
            r#"{"multi_last":["d.>"],"batch":2}"#,
        );
        t.batch("$JS.API.DIRECT.GET.D", r#"{"multi_last":["d.zz"]}"#);
        t.note("a stream without allow_direct has no direct get responder");
        t.req(
            "$JS.API.STREAM.CREATE.ND",
            r#"{"name":"ND","subjects":["nd.>"]}"#,
        );
        t.req("nd.a", "x");
        t.req("$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#);
        t.note("allow_direct turned on by an update, then off");
        t.req(
            "$JS.API.STREAM.UPDATE.ND",
            r#"{"name":"ND","subjects":["nd.>"],"allow_direct":true}"#,
        );
        t.req("$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#);
        t.req(
            "$JS.API.STREAM.UPDATE.ND",
            r#"{"name":"ND","subjects":["nd.>"],"allow_direct":false}"#,
        );
        t.req("$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#);
        t.note("after the stream is deleted");
        t.req("$JS.API.STREAM.DELETE.D", "");
        t.req("$JS.API.DIRECT.GET.D", r#"{"seq":1}"#);
        check_golden(&js.server.target, "api_direct_get", &t.finish());
    });
}

// ---------------------------------------------------------------------------
// Through async-nats' JetStream context
// ---------------------------------------------------------------------------

/// The longest one async-nats test body may take against one target.
const LIMIT: Duration = Duration::from_secs(30);

/// The JetStream API error `(code, err_code)` an async-nats error carries, read from its
/// text (`... (code 400, error code 10071)`), which every error kind that wraps one shows.
fn api_code(e: &impl std::fmt::Display) -> Option<(usize, u64)> {
    let s = e.to_string();
    let rest = &s[s.rfind("(code ")? + "(code ".len()..];
    let (code, rest) = rest.split_once(", error code ")?;
    let (err_code, _) = rest.split_once(')')?;
    Some((code.parse().ok()?, err_code.parse().ok()?))
}

/// Publishes `publish` to `subject` and waits for its ack.
async fn publish_acked(
    ctx: &jetstream::Context,
    subject: &str,
    publish: PublishMessage,
) -> Result<PublishAck, jetstream::context::PublishError> {
    let fut = timeout(STEP, ctx.send_publish(subject.to_string(), publish))
        .await
        .expect("publish timed out")?;
    timeout(STEP, fut).await.expect("ack timed out")
}

/// Publishes `body` to `subject` and expects an ack with sequence `seq`.
async fn publish_ok(ctx: &jetstream::Context, subject: &str, body: &str, seq: u64) {
    let ack = publish_acked(
        ctx,
        subject,
        PublishMessage::build().payload(Bytes::from(body.to_string())),
    )
    .await
    .unwrap_or_else(|e| panic!("publish to {subject}: {e}"));
    assert_eq!(
        ack.sequence, seq,
        "sequence of {body:?} on {subject}: {ack:?}"
    );
}

/// Expects the publish to fail with the API error `(code, err_code)`.
async fn publish_refused(
    ctx: &jetstream::Context,
    subject: &str,
    publish: PublishMessage,
    expected: (usize, u64),
) -> PublishErrorKind {
    let err = publish_acked(ctx, subject, publish)
        .await
        .expect_err("the publish must be refused");
    assert_eq!(api_code(&err), Some(expected), "refusal: {err}");
    err.kind()
}

async fn stream_info(ctx: &jetstream::Context, name: &str) -> stream::Info {
    let stream = timeout(STEP, ctx.get_stream(name))
        .await
        .expect("get_stream timed out")
        .unwrap_or_else(|e| panic!("get stream {name}: {e}"));
    stream.cached_info().clone()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("UTF-8 payload")
}

#[test]
fn js_stream_management() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        let config = stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            description: Some("orders".into()),
            max_messages: 1000,
            metadata: HashMap::from([("team".to_string(), "a".to_string())]),
            ..Default::default()
        };
        let mut created = ctx.create_stream(config.clone()).await.unwrap();
        let info = created.info().await.unwrap().clone();
        assert_eq!(info.config.name, "ORDERS");
        assert_eq!(info.config.subjects, ["orders.>"]);
        assert_eq!(info.config.description.as_deref(), Some("orders"));
        assert_eq!(info.config.max_messages, 1000);
        assert_eq!(info.config.max_bytes, -1);
        assert_eq!(info.config.max_messages_per_subject, -1);
        assert_eq!(info.config.max_consumers, -1);
        assert_eq!(info.config.storage, StorageType::File);
        assert_eq!(info.config.retention, RetentionPolicy::Limits);
        assert_eq!(info.config.discard, DiscardPolicy::Old);
        assert_eq!(info.config.num_replicas, 1);
        assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
        assert_eq!(
            info.config.metadata.get("team").map(String::as_str),
            Some("a")
        );
        assert_eq!(
            info.config
                .metadata
                .get("_nats.req.level")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!((info.state.messages, info.state.last_sequence), (0, 0));

        // The same config again is fine; another one is refused.
        ctx.create_stream(config.clone()).await.unwrap();
        let err = ctx
            .create_stream(stream::Config {
                max_messages: 5,
                ..config.clone()
            })
            .await
            .expect_err("a different config under the same name");
        assert_eq!(api_code(&err), Some((400, 10058)), "{err}");

        // get_or_create: the existing stream wins; a new one is created.
        let existing = ctx
            .get_or_create_stream(stream::Config {
                max_messages: 5,
                ..config.clone()
            })
            .await
            .unwrap();
        assert_eq!(existing.cached_info().config.max_messages, 1000);
        let events = ctx
            .get_or_create_stream(stream::Config {
                name: "EVENTS".into(),
                subjects: vec!["events.*".into()],
                storage: StorageType::Memory,
                retention: RetentionPolicy::Interest,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.cached_info().config.storage, StorageType::Memory);
        assert_eq!(
            events.cached_info().config.retention,
            RetentionPolicy::Interest
        );
        let err = ctx
            .create_stream(stream::Config {
                name: "CLASH".into(),
                subjects: vec!["events.new".into()],
                ..Default::default()
            })
            .await
            .expect_err("overlapping subjects");
        assert_eq!(api_code(&err), Some((400, 10065)), "{err}");

        // Update: an allowed change, a forbidden one, an unknown stream.
        let updated = ctx
            .update_stream(stream::Config {
                max_messages: 2000,
                description: Some("changed".into()),
                ..config.clone()
            })
            .await
            .unwrap();
        assert_eq!(updated.config.max_messages, 2000);
        assert_eq!(updated.config.description.as_deref(), Some("changed"));
        let err = ctx
            .update_stream(stream::Config {
                storage: StorageType::Memory,
                ..config.clone()
            })
            .await
            .expect_err("storage cannot change");
        assert_eq!(api_code(&err), Some((500, 10052)), "{err}");
        assert!(
            err.to_string().contains("can not change storage type"),
            "{err}"
        );
        let err = ctx
            .update_stream(stream::Config {
                name: "NOPE".into(),
                ..Default::default()
            })
            .await
            .expect_err("no such stream");
        assert_eq!(err.kind(), CreateStreamErrorKind::NotFound, "{err}");

        // Listing and lookup by subject.
        let mut names: Vec<String> = ctx.stream_names().try_collect().await.unwrap();
        names.sort();
        assert_eq!(names, ["EVENTS", "ORDERS"]);
        let mut infos: Vec<stream::Info> = ctx.streams().try_collect().await.unwrap();
        infos.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        let listed: Vec<(&str, i64)> = infos
            .iter()
            .map(|i| (i.config.name.as_str(), i.config.max_messages))
            .collect();
        assert_eq!(listed, [("EVENTS", -1), ("ORDERS", 2000)]);
        assert_eq!(
            ctx.stream_by_subject("orders.eu.new").await.unwrap(),
            "ORDERS"
        );
        assert_eq!(ctx.stream_by_subject("events.x").await.unwrap(), "EVENTS");
        assert!(ctx.stream_by_subject("nothing.here").await.is_err());

        let account = ctx.query_account().await.unwrap();
        assert_eq!((account.streams, account.consumers), (2, 0));

        // Delete.
        assert!(ctx.delete_stream("EVENTS").await.unwrap().success);
        let Err(err) = ctx.delete_stream("EVENTS").await else {
            panic!("EVENTS deleted twice");
        };
        assert_eq!(api_code(&err), Some((404, 10059)), "{err}");
        let err = ctx.get_stream("EVENTS").await.expect_err("gone");
        assert_eq!(api_code(&err), Some((404, 10059)), "{err}");
        let names: Vec<String> = ctx.stream_names().try_collect().await.unwrap();
        assert_eq!(names, ["ORDERS"]);
    });
}

#[test]
fn js_publish_acks_and_expectations() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        ctx.create_stream(stream::Config {
            name: "PUB".into(),
            subjects: vec!["pub.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        let body = |b: &str| PublishMessage::build().payload(Bytes::from(b.to_string()));

        let ack = timeout(STEP, ctx.publish("pub.a", "one".into()))
            .await
            .unwrap()
            .unwrap()
            .await
            .unwrap();
        assert_eq!(
            (ack.stream.as_str(), ack.sequence, ack.duplicate),
            ("PUB", 1, false)
        );
        let mut headers = HeaderMap::new();
        headers.insert("X-Trace", "t-1");
        let ack = ctx
            .publish_with_headers("pub.a", headers, "two".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, 2);

        // Dedupe by Nats-Msg-Id, whatever the subject.
        let ack = publish_acked(&ctx, "pub.b", body("three").message_id("id-1"))
            .await
            .unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (3, false));
        let ack = publish_acked(&ctx, "pub.c", body("three again").message_id("id-1"))
            .await
            .unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (3, true));

        // Each expectation header, refused then met.
        publish_refused(
            &ctx,
            "pub.a",
            body("x").expected_stream("OTHER"),
            (400, 10060),
        )
        .await;
        let ack = publish_acked(&ctx, "pub.a", body("x").expected_stream("PUB"))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 4);

        let kind = publish_refused(
            &ctx,
            "pub.a",
            body("x").expected_last_sequence(1),
            (400, 10071),
        )
        .await;
        assert_eq!(kind, PublishErrorKind::WrongLastSequence);
        let ack = publish_acked(&ctx, "pub.a", body("x").expected_last_sequence(4))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 5);

        let kind = publish_refused(
            &ctx,
            "pub.a",
            body("x").expected_last_subject_sequence(2),
            (400, 10071),
        )
        .await;
        assert_eq!(kind, PublishErrorKind::WrongLastSequence);
        let ack = publish_acked(&ctx, "pub.a", body("x").expected_last_subject_sequence(5))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 6);
        let ack = publish_acked(&ctx, "pub.new", body("x").expected_last_subject_sequence(0))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 7);

        let ack = publish_acked(&ctx, "pub.d", body("with id").message_id("id-2"))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 8);
        let kind = publish_refused(
            &ctx,
            "pub.d",
            body("x").expected_last_message_id("id-1"),
            (400, 10070),
        )
        .await;
        assert_eq!(kind, PublishErrorKind::WrongLastMessageId);
        let ack = publish_acked(&ctx, "pub.d", body("x").expected_last_message_id("id-2"))
            .await
            .unwrap();
        assert_eq!(ack.sequence, 9);

        // The stream does not allow per-message TTLs; no stream listens on `other`.
        publish_refused(
            &ctx,
            "pub.a",
            body("x").ttl(Duration::from_secs(60)),
            (400, 10166),
        )
        .await;
        let err = publish_acked(&ctx, "other", body("x"))
            .await
            .expect_err("no stream");
        assert_eq!(err.kind(), PublishErrorKind::StreamNotFound, "{err}");

        // What was stored: refused publishes left no trace, headers were kept.
        let stream = ctx.get_stream("PUB").await.unwrap();
        let info = stream.cached_info();
        assert_eq!((info.state.messages, info.state.last_sequence), (9, 9));
        let m = stream.get_raw_message(2).await.unwrap();
        assert_eq!((m.subject.as_str(), text(&m.payload)), ("pub.a", "two"));
        assert_eq!(m.headers.get("X-Trace").map(|v| v.as_str()), Some("t-1"));
        let m = stream.get_raw_message(3).await.unwrap();
        assert_eq!(
            m.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("id-1")
        );
    });
}

#[test]
fn js_direct_and_raw_get() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        ctx.create_stream(stream::Config {
            name: "D".into(),
            subjects: vec!["d.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
        let before = SystemTime::now() - Duration::from_secs(5);
        publish_ok(&ctx, "d.a", "a1", 1).await;
        let mut headers = HeaderMap::new();
        headers.insert("X-K", "v");
        publish_acked(
            &ctx,
            "d.b",
            PublishMessage::build()
                .payload("b1".into())
                .headers(headers),
        )
        .await
        .unwrap();
        publish_ok(&ctx, "d.a", "a2", 3).await;
        publish_ok(&ctx, "d.c", "c1", 4).await;
        let stream = ctx.get_stream("D").await.unwrap();

        let m = stream.direct_get(2).await.unwrap();
        assert_eq!(
            (m.subject.as_str(), m.sequence, text(&m.payload)),
            ("d.b", 2, "b1")
        );
        assert_eq!(m.headers.get("X-K").map(|v| v.as_str()), Some("v"));
        assert_eq!(m.headers.get("Nats-Stream").map(|v| v.as_str()), Some("D"));
        let at = SystemTime::from(m.time);
        assert!(
            at > before && at < SystemTime::now() + Duration::from_secs(5),
            "stored at {:?}",
            m.time
        );
        let m = stream.direct_get_last_for_subject("d.a").await.unwrap();
        assert_eq!((m.sequence, text(&m.payload)), (3, "a2"));
        let m = stream.direct_get_first_for_subject("d.a").await.unwrap();
        assert_eq!((m.sequence, text(&m.payload)), (1, "a1"));
        let m = stream
            .direct_get_next_for_subject("d.a", Some(2))
            .await
            .unwrap();
        assert_eq!(m.sequence, 3);
        let err = stream.direct_get(99).await.expect_err("no message 99");
        assert_eq!(err.kind(), DirectGetErrorKind::NotFound, "{err}");
        let err = stream
            .direct_get_last_for_subject("d.zz")
            .await
            .expect_err("no message on d.zz");
        assert_eq!(err.kind(), DirectGetErrorKind::NotFound, "{err}");

        let m = stream.get_raw_message(1).await.unwrap();
        assert_eq!(
            (m.subject.as_str(), m.sequence, text(&m.payload)),
            ("d.a", 1, "a1")
        );
        let m = stream.get_raw_message(2).await.unwrap();
        assert_eq!(m.headers.get("X-K").map(|v| v.as_str()), Some("v"));
        let m = stream.get_last_raw_message_by_subject("d.b").await.unwrap();
        assert_eq!((m.sequence, text(&m.payload)), (2, "b1"));
        let m = stream
            .get_first_raw_message_by_subject("d.a", 2)
            .await
            .unwrap();
        assert_eq!(m.sequence, 3);
        let err = stream
            .get_last_raw_message_by_subject("d.zz")
            .await
            .expect_err("no message on d.zz");
        assert_eq!(err.kind(), RawMessageErrorKind::NoMessageFound, "{err}");

        // A deleted message is gone for both kinds of get.
        assert!(stream.delete_message(1).await.unwrap());
        let err = stream.get_raw_message(1).await.expect_err("deleted");
        assert_eq!(err.kind(), RawMessageErrorKind::NoMessageFound, "{err}");
        let err = stream.direct_get(1).await.expect_err("deleted");
        assert_eq!(err.kind(), DirectGetErrorKind::NotFound, "{err}");
        let m = stream.direct_get_first_for_subject("d.a").await.unwrap();
        assert_eq!(m.sequence, 3);
        // Below the first sequence nats-server answers "no message found" (500), unlike a
        // deleted sequence in the middle ("sequence N not found", 400).
        let err = stream.delete_message(1).await.expect_err("deleted twice");
        assert_eq!(api_code(&err), Some((500, 10057)), "{err}");
    });
}

#[test]
fn js_purge_filter_keep() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        let mut stream = ctx
            .create_stream(stream::Config {
                name: "P".into(),
                subjects: vec!["p.*".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let subjects = [
            "p.a", "p.a", "p.b", "p.a", "p.c", "p.b", "p.a", "p.b", "p.c", "p.a",
        ];
        for (i, subject) in subjects.iter().enumerate() {
            publish_ok(&ctx, subject, &format!("m{}", i + 1), i as u64 + 1).await;
        }
        // p.a: 1 2 4 7 10, p.b: 3 6 8, p.c: 5 9.
        let r = stream.purge().filter("p.a").keep(2).await.unwrap();
        assert_eq!((r.success, r.purged), (true, 3));
        let r = stream.purge().filter("p.b").await.unwrap();
        assert_eq!(r.purged, 3);
        let r = stream.purge().filter("p.c").sequence(9).await.unwrap();
        assert_eq!(r.purged, 1);
        let mut counts: Vec<(String, usize)> = stream
            .info_with_subjects(">")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        counts.sort();
        assert_eq!(counts, [("p.a".to_string(), 2), ("p.c".to_string(), 1)]);
        let info = stream.info().await.unwrap();
        assert_eq!(
            (
                info.state.messages,
                info.state.first_sequence,
                info.state.last_sequence
            ),
            (3, 7, 10)
        );
        let r = stream.purge().keep(1).await.unwrap();
        assert_eq!(r.purged, 2);
        let m = stream.get_raw_message(10).await.unwrap();
        assert_eq!(text(&m.payload), "m10");
        let r = stream.purge().await.unwrap();
        assert_eq!(r.purged, 1);
        let info = stream.info().await.unwrap();
        assert_eq!(
            (
                info.state.messages,
                info.state.bytes,
                info.state.first_sequence,
                info.state.last_sequence
            ),
            (0, 0, 11, 10)
        );
        publish_ok(&ctx, "p.a", "after", 11).await;
    });
}

#[test]
fn js_limits() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        let create = |name: &str, f: &dyn Fn(&mut stream::Config)| {
            let mut c = stream::Config {
                name: name.into(),
                subjects: vec![format!("{}.>", name.to_lowercase())],
                ..Default::default()
            };
            f(&mut c);
            ctx.create_stream(c)
        };

        // max_msgs with discard old keeps the newest.
        create("OLD", &|c| c.max_messages = 3).await.unwrap();
        for i in 1..=5 {
            publish_ok(&ctx, "old.x", &format!("m{i}"), i).await;
        }
        let info = stream_info(&ctx, "OLD").await;
        assert_eq!(
            (
                info.state.messages,
                info.state.first_sequence,
                info.state.last_sequence
            ),
            (3, 3, 5)
        );
        let old = ctx.get_stream("OLD").await.unwrap();
        assert!(old.get_raw_message(2).await.is_err());
        assert_eq!(text(&old.get_raw_message(3).await.unwrap().payload), "m3");

        // max_msgs_per_subject.
        create("PER", &|c| c.max_messages_per_subject = 2)
            .await
            .unwrap();
        for (i, subject) in ["per.a", "per.a", "per.a", "per.b"].iter().enumerate() {
            publish_ok(&ctx, subject, &format!("m{}", i + 1), i as u64 + 1).await;
        }
        let info = stream_info(&ctx, "PER").await;
        assert_eq!((info.state.messages, info.state.first_sequence), (3, 2));

        // max_bytes with discard old: a file store record of `by.x` with 50 bytes of
        // payload takes 22 + 4 + 50 + 8 = 84 bytes, so two fit in 200.
        create("BY", &|c| c.max_bytes = 200).await.unwrap();
        for i in 1..=5 {
            publish_ok(&ctx, "by.x", &"b".repeat(50), i).await;
        }
        let info = stream_info(&ctx, "BY").await;
        assert_eq!(
            (
                info.state.messages,
                info.state.bytes,
                info.state.first_sequence
            ),
            (2, 168, 4)
        );

        // Discard new refuses instead.
        create("NEW", &|c| {
            c.max_messages = 2;
            c.discard = DiscardPolicy::New;
        })
        .await
        .unwrap();
        publish_ok(&ctx, "new.x", "1", 1).await;
        publish_ok(&ctx, "new.x", "2", 2).await;
        let body = PublishMessage::build().payload("3".into());
        publish_refused(&ctx, "new.x", body, (503, 10077)).await;
        let info = stream_info(&ctx, "NEW").await;
        assert_eq!((info.state.messages, info.state.last_sequence), (2, 2));

        // max_age: the messages are there, then gone within a bounded wait.
        create("AGE", &|c| c.max_age = Duration::from_secs(1))
            .await
            .unwrap();
        let published = Instant::now();
        publish_ok(&ctx, "age.x", "1", 1).await;
        publish_ok(&ctx, "age.x", "2", 2).await;
        let info = stream_info(&ctx, "AGE").await;
        assert_eq!(info.config.duplicate_window, Duration::from_secs(1));
        assert_eq!(info.state.messages, 2);
        wait_until_async(
            "max_age to expire both messages",
            Duration::from_secs(6),
            async || stream_info(&ctx, "AGE").await.state.messages == 0,
        )
        .await;
        assert!(
            published.elapsed() >= Duration::from_millis(900),
            "expired after {:?}, before max_age",
            published.elapsed()
        );
        let info = stream_info(&ctx, "AGE").await;
        assert_eq!(
            (info.state.first_sequence, info.state.last_sequence),
            (3, 2)
        );
    });
}

#[test]
fn js_message_ttl() {
    for_each_js_target_async(LIMIT, |s| async move {
        let ctx = jetstream::new(connect(&s).await);
        ctx.create_stream(stream::Config {
            name: "TTL".into(),
            subjects: vec!["ttl.>".into()],
            allow_message_ttl: true,
            ..Default::default()
        })
        .await
        .unwrap();
        let info = stream_info(&ctx, "TTL").await;
        assert!(info.config.allow_message_ttl);
        assert_eq!(
            info.config
                .metadata
                .get("_nats.req.level")
                .map(String::as_str),
            Some("1")
        );
        let published = Instant::now();
        let ack = publish_acked(
            &ctx,
            "ttl.short",
            PublishMessage::build()
                .payload("short".into())
                .ttl(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        assert_eq!(ack.sequence, 1);
        publish_ok(&ctx, "ttl.keep", "kept", 2).await;
        let stream = ctx.get_stream("TTL").await.unwrap();
        let m = stream.get_raw_message(1).await.unwrap();
        assert_eq!(m.headers.get("Nats-TTL").map(|v| v.as_str()), Some("1"));
        assert_eq!(stream.cached_info().state.messages, 2);

        wait_until_async(
            "the 1 s TTL to expire",
            Duration::from_secs(6),
            async || stream_info(&ctx, "TTL").await.state.messages == 1,
        )
        .await;
        assert!(
            published.elapsed() >= Duration::from_millis(900),
            "expired after {:?}, before its TTL",
            published.elapsed()
        );
        assert!(stream.get_raw_message(1).await.is_err());
        assert_eq!(
            text(&stream.get_raw_message(2).await.unwrap().payload),
            "kept"
        );

        // Without allow_msg_ttl the header is refused.
        ctx.create_stream(stream::Config {
            name: "NOTTL".into(),
            subjects: vec!["nottl.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        let body = PublishMessage::build()
            .payload("x".into())
            .ttl(Duration::from_secs(1));
        publish_refused(&ctx, "nottl.x", body, (400, 10166)).await;
    });
}

#[test]
fn js_restart_keeps_streams() {
    for_each_target_bare(|target| {
        let rt = js::runtime();
        let js = JsServer::start(target);
        let info = js.info();
        let before = with_log(&js.server, || {
            js::block_on_within(&rt, LIMIT, async move {
                let ctx = jetstream::new(connect(&info).await);
                ctx.create_stream(stream::Config {
                    name: "FILE".into(),
                    subjects: vec!["file.>".into()],
                    max_messages_per_subject: 100,
                    metadata: HashMap::from([("k".to_string(), "v".to_string())]),
                    ..Default::default()
                })
                .await
                .unwrap();
                ctx.create_stream(stream::Config {
                    name: "MEM".into(),
                    subjects: vec!["mem.>".into()],
                    storage: StorageType::Memory,
                    ..Default::default()
                })
                .await
                .unwrap();
                for i in 1..=40u64 {
                    let publish = PublishMessage::build()
                        .payload(Bytes::from(format!("payload {i}")))
                        .message_id(format!("id-{i}"));
                    let ack = publish_acked(&ctx, &format!("file.{}", i % 3), publish)
                        .await
                        .unwrap();
                    assert_eq!(ack.sequence, i);
                }
                publish_ok(&ctx, "mem.x", "volatile", 1).await;
                let file = ctx.get_stream("FILE").await.unwrap();
                assert!(file.delete_message(5).await.unwrap());
                stream_info(&ctx, "FILE").await
            })
        });
        assert_eq!(
            (before.state.messages, before.state.deleted_count),
            (39, Some(1))
        );

        // SIGKILL, then the same store directory again.
        let js = js.restart();
        let info = js.info();
        with_log(&js.server, || {
            js::block_on_within(&rt, LIMIT, async move {
                let ctx = jetstream::new(connect(&info).await);
                let after = stream_info(&ctx, "FILE").await;
                assert_eq!(after.config, before.config);
                assert_eq!(after.created, before.created);
                let state = |i: &stream::Info| {
                    (
                        i.state.messages,
                        i.state.bytes,
                        i.state.first_sequence,
                        i.state.last_sequence,
                        i.state.subjects_count,
                        i.state.deleted_count,
                        i.state.first_timestamp,
                        i.state.last_timestamp,
                    )
                };
                assert_eq!(state(&after), state(&before));
                let file = ctx.get_stream("FILE").await.unwrap();
                let m = file.get_raw_message(6).await.unwrap();
                assert_eq!(
                    (m.subject.as_str(), text(&m.payload)),
                    ("file.0", "payload 6")
                );
                assert!(file.get_raw_message(5).await.is_err());
                let m = file
                    .get_last_raw_message_by_subject("file.1")
                    .await
                    .unwrap();
                assert_eq!(m.sequence, 40);

                // The dedupe window survives too, and the sequence goes on.
                let again = PublishMessage::build()
                    .payload("again".into())
                    .message_id("id-40");
                let ack = publish_acked(&ctx, "file.1", again).await.unwrap();
                assert_eq!((ack.sequence, ack.duplicate), (40, true));
                publish_ok(&ctx, "file.new", "new", 41).await;

                // As in nats-server, a memory stream does not outlive the process.
                let err = ctx.get_stream("MEM").await.expect_err("memory stream gone");
                assert_eq!(api_code(&err), Some((404, 10059)), "{err}");
                let names: Vec<String> = ctx.stream_names().try_collect().await.unwrap();
                assert_eq!(names, ["FILE"]);
            })
        });
    });
}

/// `"active"` is nanoseconds since a mirror or source last heard from its origin: it varies
/// between runs and servers, so the transcript keeps only that the field is there.
fn without_active_times(transcript: &str) -> String {
    let mut out = String::with_capacity(transcript.len());
    let mut rest = transcript;
    while let Some(i) = rest.find("\"active\":") {
        let start = i + "\"active\":".len();
        out.push_str(&rest[..start]);
        out.push_str("<ACTIVE>");
        rest = rest[start..].trim_start_matches(|c: char| c == '-' || c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Subject transforms, republish, mirrors and sources: their configuration, their errors
/// and the messages they copy (issue 16's last stream features).
#[test]
fn api_transforms_mirrors_and_sources() {
    for_each_js_target(|js| {
        // Mirrors and sources copy in the background: give both servers time to catch up.
        let settle = || std::thread::sleep(Duration::from_millis(600));
        let mut t = Transcript::new(&js.server);
        t.note("a subject transform: stored under the new subject");
        t.req(
            "$JS.API.STREAM.CREATE.T",
            r#"{"name":"T","subjects":["in.>"],"storage":"memory","subject_transform":{"src":"in.*","dest":"p.{{partition(4,1)}}.$1"}}"#,
        );
        t.req("in.order-7", "x");
        t.req("in.a.b", "not transformed");
        t.req("$JS.API.STREAM.MSG.GET.T", r#"{"seq":1}"#);
        t.req("$JS.API.STREAM.MSG.GET.T", r#"{"seq":2}"#);
        t.note("transform errors");
        for (src, dest) in [
            ("v.*", "bar..x"),
            ("v..", "bar.x"),
            ("v.*", "bar.$2"),
            ("v.*", "bar.{{nope(1)}}"),
            ("v.*", "bar.{{wildcard(1,2)}}"),
        ] {
            t.req(
                "$JS.API.STREAM.CREATE.V",
                &format!(
                    r#"{{"name":"V","subjects":["v.*"],"subject_transform":{{"src":"{src}","dest":"{dest}"}}}}"#
                ),
            );
        }
        t.note("republish errors");
        t.req(
            "$JS.API.STREAM.CREATE.R",
            r#"{"name":"R","subjects":["r.>"],"republish":{"dest":"r.x"}}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.R",
            r#"{"name":"R","subjects":["r.>"],"republish":{"src":"r.*","dest":"z.$2"}}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.R",
            r#"{"name":"R","subjects":["r.*"],"subject_transform":{"src":"r.*","dest":"t.$1"},"republish":{"src":">","dest":">"}}"#,
        );
        t.note("mirror and source errors");
        for body in [
            r#"{"name":"M","mirror":{"name":"O"},"subjects":["a"]}"#,
            r#"{"name":"M","mirror":{"name":"O"},"first_seq":3}"#,
            r#"{"name":"M","mirror":{"name":"O"},"sources":[{"name":"X"}]}"#,
            r#"{"name":"M","mirror":{"name":"O.x"}}"#,
            r#"{"name":"M","mirror":{"name":"O","filter_subject":"a","subject_transforms":[{"src":"a","dest":"b"}]}}"#,
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a.*","dest":"b"},{"src":"a.>","dest":"c"}]}}"#,
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a..","dest":"b"}]}}"#,
            r#"{"name":"M","mirror":{"name":"O","subject_transforms":[{"src":"a.*","dest":"b.$3"}]}}"#,
        ] {
            t.req("$JS.API.STREAM.CREATE.M", body);
        }
        for body in [
            r#"{"name":"S","sources":[{"name":"O"},{"name":"O"}]}"#,
            r#"{"name":"S","sources":[{"name":"O.1"}]}"#,
            r#"{"name":"S","sources":[{"name":"O","subject_transforms":[{"src":"a.*","dest":"b"},{"src":"a.b","dest":"c"}]}]}"#,
            r#"{"name":"S","sources":[{"name":"O","subject_transforms":[{"src":"a.*","dest":"b.{{x(1)}}"}]}]}"#,
            r#"{"name":"S","sources":[{"name":"O","filter_subject":"x","subject_transforms":[{"src":"a.*","dest":"b"}]}]}"#,
        ] {
            t.req("$JS.API.STREAM.CREATE.S", body);
        }
        t.note("a mirror and sources of an origin");
        t.req(
            "$JS.API.STREAM.CREATE.O",
            r#"{"name":"O","subjects":["o.>"],"storage":"memory","max_msg_size":100,"allow_direct":true}"#,
        );
        t.req_h("o.a", &[("X-A", "1")], "one");
        t.req("o.b", "two");
        t.req("o.c", "three");
        t.req("$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":2}"#);
        t.req(
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","mirror":{"name":"O"},"storage":"memory"}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.M2",
            r#"{"name":"M2","storage":"memory","mirror":{"name":"O","opt_start_seq":3,"subject_transforms":[{"src":"o.*","dest":"m.$1"}]}}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","storage":"memory","sources":[{"name":"O","filter_subject":"o.c"}]}"#,
        );
        settle();
        t.req("o.d", "four");
        settle();
        t.req("$JS.API.STREAM.INFO.M", r#"{"deleted_details":true}"#);
        t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":1}"#);
        t.req("$JS.API.STREAM.MSG.GET.M", r#"{"seq":4}"#);
        t.req("$JS.API.STREAM.INFO.M2", "");
        t.req("$JS.API.STREAM.MSG.GET.M2", r#"{"seq":4}"#);
        t.req("$JS.API.STREAM.INFO.S", "");
        t.note("a mirror has no subjects to publish to; it can not be changed");
        t.req("M", "direct");
        t.req(
            "$JS.API.STREAM.UPDATE.M",
            r#"{"name":"M","mirror":{"name":"S"},"storage":"memory"}"#,
        );
        t.note("limits, cycles");
        t.req(
            "$JS.API.STREAM.CREATE.X",
            r#"{"name":"X","sources":[{"name":"O"}],"max_msg_size":5}"#,
        );
        t.req(
            "$JS.API.STREAM.CREATE.X",
            r#"{"name":"X","mirror":{"name":"O"},"max_msg_size":5}"#,
        );
        t.req(
            "$JS.API.STREAM.UPDATE.O",
            r#"{"name":"O","subjects":["o.>"],"storage":"memory","max_msg_size":100,"allow_direct":true,"sources":[{"name":"M"}]}"#,
        );
        t.req("$JS.API.STREAM.DELETE.M", "");
        t.req("$JS.API.STREAM.DELETE.O", "");
        let transcript = without_active_times(&t.finish());
        check_golden(
            &js.server.target,
            "api_transforms_mirrors_and_sources",
            &transcript,
        );
    });
}

/// Replaces the timestamp token of ack subjects (`$JS.ACK.<stream>.<consumer>.<delivered>.
/// <stream seq>.<consumer seq>.<timestamp>.<pending>`) and `last_active` times by markers.
fn without_ack_times(transcript: &str) -> String {
    let mut out = String::with_capacity(transcript.len());
    let mut rest = transcript;
    while let Some(i) = rest.find("$JS.ACK.") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find([']', ' ', '"', '\n']).unwrap_or(rest.len());
        let mut tokens: Vec<&str> = rest[..end].split('.').collect();
        if tokens.len() == 9 {
            tokens[7] = "<TS>";
        }
        out.push_str(&tokens.join("."));
        rest = &rest[end..];
    }
    out.push_str(rest);
    let mut s = out;
    let key = "\"last_active\":\"";
    let mut out = String::with_capacity(s.len());
    while let Some(i) = s.find(key) {
        let start = i + key.len();
        out.push_str(&s[..start]);
        let rest = &s[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push_str("<TS>");
        s = rest[end..].to_string();
    }
    out.push_str(&s);
    out
}

/// Consumers through the raw API: create in every subject form, info, names, list,
/// delete and their errors; pulls with each status; acknowledgements of every kind;
/// work-queue and interest retention.
#[test]
fn api_consumers() {
    for_each_js_target(|js| {
        let mut t = Transcript::new(&js.server);
        t.req(
            "$JS.API.STREAM.CREATE.ORDERS",
            r#"{"name":"ORDERS","subjects":["orders.>"],"max_consumers":4}"#,
        );
        for (subject, body) in [
            ("orders.1", "one"),
            ("orders.2", "two"),
            ("orders.1", "three"),
        ] {
            t.req(subject, body);
        }
        t.note("create errors");
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS",
            r#"{"stream_name":"OTHER","config":{}}"#,
        );
        t.req("$JS.API.CONSUMER.CREATE.ORDERS", "{bad");
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS",
            r#"{"stream_name":"ORDERS","config":{"nope":1}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.D",
            r#"{"stream_name":"ORDERS","config":{}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.D",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"X"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"X"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.C.orders.1",
            r#"{"stream_name":"ORDERS","config":{"filter_subject":"orders.2"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.C.orders.1",
            r#"{"stream_name":"ORDERS","config":{"filter_subjects":["orders.1"]}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.NOPE.C",
            r#"{"stream_name":"NOPE","config":{"name":"C"}}"#,
        );
        for cfg in [
            r#"{"durable_name":"E","deliver_policy":"by_start_sequence"}"#,
            r#"{"durable_name":"E","deliver_policy":"all","opt_start_seq":2}"#,
            r#"{"durable_name":"E","deliver_policy":"last_per_subject"}"#,
            r#"{"durable_name":"E","deliver_policy":"by_start_time"}"#,
            r#"{"durable_name":"E","filter_subjects":["orders.>","orders.1"]}"#,
            r#"{"durable_name":"E","filter_subject":"orders.1","filter_subjects":["orders.2"]}"#,
            r#"{"durable_name":"E","filter_subjects":[""]}"#,
            r#"{"durable_name":"E","ack_policy":"explicit","max_deliver":2,"backoff":[1000000000,2000000000,3000000000]}"#,
            r#"{"durable_name":"E","ack_wait":-1}"#,
            r#"{"durable_name":"E","idle_heartbeat":1000000000}"#,
            r#"{"durable_name":"E","max_expires":10}"#,
            r#"{"durable_name":"E","name":"F"}"#,
            r#"{"durable_name":"E","num_replicas":3}"#,
            r#"{"durable_name":"E","priority_groups":["a"]}"#,
        ] {
            t.req(
                "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.E",
                &format!(r#"{{"stream_name":"ORDERS","config":{cfg}}}"#),
            );
        }
        t.note("create: durable, the same again, a different one with action create");
        let d1 = r#"{"stream_name":"ORDERS","config":{"durable_name":"D1","ack_policy":"explicit","max_batch":2,"max_expires":1000000000,"max_bytes":1024}}"#;
        t.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.D1", d1);
        t.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.D1", d1);
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.D1",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"D1","ack_policy":"none"},"action":"create"}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.D1",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"D1","ack_policy":"none"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.NEW",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"NEW"},"action":"update"}"#,
        );
        t.note("create: a filter in the subject, every field");
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.F1.orders.1",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"F1","filter_subject":"orders.1","deliver_policy":"last_per_subject","ack_policy":"all"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.FULL",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"FULL","description":"every field","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"explicit","ack_wait":5000000000,"max_deliver":5,"backoff":[5000000000,10000000000],"filter_subjects":["orders.1","orders.2"],"max_waiting":8,"max_ack_pending":10,"headers_only":true,"max_batch":10,"max_expires":60000000000,"max_bytes":4096,"inactive_threshold":3600000000000,"metadata":{"team":"orders"}}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.ORDERS.FIVE",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"FIVE"}}"#,
        );
        t.note("info, names, list");
        t.req("$JS.API.CONSUMER.INFO.ORDERS.F1", "");
        t.req("$JS.API.CONSUMER.INFO.ORDERS.NOPE", "");
        t.req("$JS.API.CONSUMER.INFO.NOPE.F1", "");
        t.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
        t.req("$JS.API.CONSUMER.NAMES.ORDERS", r#"{"offset":2}"#);
        t.req("$JS.API.CONSUMER.NAMES.NOPE", "");
        t.req("$JS.API.CONSUMER.LIST.ORDERS", r#"{"offset":2}"#);
        t.req("$JS.API.STREAM.INFO.ORDERS", "");
        t.req("$JS.API.INFO", "");

        t.note("pull: one, a batch, then nothing");
        t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.FULL", "", 1);
        let acks = t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", "", 1);
        let more = t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", r#"{"batch":2}"#, 2);
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1",
            r#"{"batch":1,"no_wait":true}"#,
            1,
        );
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1",
            r#"{"batch":2,"expires":200000000}"#,
            2,
        );
        t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", r#"{"batch":5}"#, 1);
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1",
            r#"{"batch":1,"expires":2000000000}"#,
            1,
        );
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1",
            r#"{"batch":1,"max_bytes":2048}"#,
            1,
        );
        t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", r#"{"batch":"#, 1);
        t.req("$JS.API.CONSUMER.MSG.NEXT.ORDERS.NOPE", "");
        t.note("acks: ack with a reply, twice; nak; progress; term");
        t.req(&acks[0], "+ACK");
        t.silent(&acks[0], "+ACK");
        t.req(&more[0], "-NAK");
        t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", "", 1);
        t.req(&more[1], "+WPI");
        t.req(&more[1], "+TERM bad order");
        t.req("$JS.API.CONSUMER.INFO.ORDERS.D1", "");
        t.note("max bytes smaller than a message");
        t.req("orders.3", "four");
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1",
            r#"{"batch":1,"max_bytes":10}"#,
            1,
        );

        t.note("+NXT acknowledges and asks for more");
        let four = t.pull("$JS.API.CONSUMER.MSG.NEXT.ORDERS.D1", "", 1);
        t.req(&four[0], r#"+NXT {"batch":1,"no_wait":true}"#);
        t.req("$JS.API.CONSUMER.INFO.ORDERS.D1", "");

        t.note("a purge moves the consumers past what went");
        t.req("$JS.API.STREAM.PURGE.ORDERS", "");
        t.req("$JS.API.CONSUMER.INFO.ORDERS.D1", "");
        t.req("$JS.API.CONSUMER.INFO.ORDERS.FULL", "");

        t.note("delete");
        t.req("$JS.API.CONSUMER.DELETE.ORDERS.E", "x");
        t.req("$JS.API.CONSUMER.DELETE.ORDERS.E", "");
        t.req("$JS.API.CONSUMER.DELETE.ORDERS.E", "");
        t.req("$JS.API.CONSUMER.DELETE.NOPE.E", "");
        t.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
        t.note("max waiting, and an idle heartbeat");
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.MW",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"MW","deliver_policy":"new","max_waiting":1}}"#,
        );
        t.send(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.MW",
            r#"{"batch":3,"expires":300000000}"#,
        );
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.MW",
            r#"{"batch":1,"expires":300000000}"#,
            1,
        );
        t.expect_more(1, Duration::from_secs(2));
        t.pull(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.MW",
            r#"{"batch":1,"expires":800000000,"idle_heartbeat":300000000}"#,
            1,
        );
        t.drain(Duration::from_millis(600));
        t.req("$JS.API.CONSUMER.DELETE.ORDERS.MW", "");

        t.note("work queue: one consumer per subject, acks remove messages");
        t.req(
            "$JS.API.STREAM.CREATE.WQ",
            r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue","storage":"memory"}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W0",
            r#"{"stream_name":"WQ","config":{"durable_name":"W0"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W0",
            r#"{"stream_name":"WQ","config":{"durable_name":"W0","ack_policy":"explicit","deliver_policy":"new"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W1",
            r#"{"stream_name":"WQ","config":{"durable_name":"W1","ack_policy":"explicit","filter_subject":"wq.a"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W2",
            r#"{"stream_name":"WQ","config":{"durable_name":"W2","ack_policy":"explicit"}}"#,
        );
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.WQ.W3",
            r#"{"stream_name":"WQ","config":{"durable_name":"W3","ack_policy":"explicit","filter_subject":"wq.*"}}"#,
        );
        t.req("wq.a", "job");
        t.req("wq.b", "other job");
        let wq = t.pull("$JS.API.CONSUMER.MSG.NEXT.WQ.W1", "", 1);
        t.req(&wq[0], "+ACK");
        t.req("$JS.API.STREAM.INFO.WQ", "");

        t.note("interest: kept while a consumer needs it");
        t.req(
            "$JS.API.STREAM.CREATE.INT",
            r#"{"name":"INT","subjects":["int.>"],"retention":"interest","storage":"memory"}"#,
        );
        t.req("int.a", "nobody wants this");
        t.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.INT.I1",
            r#"{"stream_name":"INT","config":{"durable_name":"I1","ack_policy":"explicit"}}"#,
        );
        t.req("int.a", "wanted");
        t.req("$JS.API.STREAM.INFO.INT", "");
        let int = t.pull("$JS.API.CONSUMER.MSG.NEXT.INT.I1", "", 1);
        t.req(&int[0], "+ACK");
        t.req("$JS.API.STREAM.INFO.INT", "");

        t.note("push consumers, pauses and priority groups");
        t.req(
            "$JS.API.STREAM.CREATE.PS",
            r#"{"name":"PS","subjects":["ps.>"],"storage":"memory"}"#,
        );
        t.req(
            "$JS.API.CONSUMER.CREATE.PS.PUSH",
            r#"{"stream_name":"PS","config":{"name":"PUSH","deliver_subject":"dlv.push","deliver_group":"g","flow_control":true,"idle_heartbeat":1000000000,"ack_policy":"explicit"}}"#,
        );
        for config in [
            r#"{"name":"W","deliver_subject":"dlv.*"}"#,
            r#"{"name":"W","deliver_subject":"dlv.w","max_waiting":3}"#,
            r#"{"name":"W","deliver_subject":"ps.loop"}"#,
            r#"{"name":"W","flow_control":true}"#,
            r#"{"name":"W","deliver_subject":"dlv.w","flow_control":true}"#,
            r#"{"name":"W","deliver_subject":"dlv.w","priority_policy":"overflow","priority_groups":["A"]}"#,
            r#"{"name":"W","priority_policy":"pinned_client","priority_groups":["bad group!"]}"#,
        ] {
            t.req(
                "$JS.API.CONSUMER.CREATE.PS.W",
                &format!(r#"{{"stream_name":"PS","config":{config}}}"#),
            );
        }
        t.req(
            "$JS.API.CONSUMER.CREATE.PS.PUSH",
            r#"{"stream_name":"PS","config":{"name":"PUSH","ack_policy":"explicit","flow_control":true,"idle_heartbeat":1000000000}}"#,
        );
        t.req("$JS.API.CONSUMER.MSG.NEXT.PS.PUSH", "1");
        t.req(
            "$JS.API.CONSUMER.PAUSE.PS.PUSH",
            r#"{"pause_until":"2020-01-01T00:00:00Z"}"#,
        );
        t.req("$JS.API.CONSUMER.PAUSE.PS.PUSH", "");
        t.req("$JS.API.CONSUMER.PAUSE.PS.NOPE", "");
        t.req("$JS.API.CONSUMER.PAUSE.NOPE.PUSH", "");
        t.req(
            "$JS.API.CONSUMER.CREATE.PS.PIN",
            r#"{"stream_name":"PS","config":{"name":"PIN","priority_policy":"pinned_client","priority_groups":["A"]}}"#,
        );
        t.req("$JS.API.CONSUMER.INFO.PS.PIN", "");
        t.req(
            "$JS.API.CONSUMER.MSG.NEXT.PS.PIN",
            r#"{"batch":1,"no_wait":true}"#,
        );
        t.req(
            "$JS.API.CONSUMER.MSG.NEXT.PS.PIN",
            r#"{"batch":1,"no_wait":true,"group":"B"}"#,
        );
        t.req("$JS.API.CONSUMER.UNPIN.PS.PIN", r#"{"group":"A"}"#);
        t.req("$JS.API.CONSUMER.UNPIN.PS.PIN", r#"{"group":"Z"}"#);
        t.req("$JS.API.CONSUMER.UNPIN.PS.PIN", r#"{"group":"bad group!"}"#);
        t.req("$JS.API.CONSUMER.UNPIN.PS.PIN", "{}");
        t.req("$JS.API.CONSUMER.UNPIN.PS.NOPE", r#"{"group":"A"}"#);
        let got = without_ack_times(&t.finish());
        check_golden(&js.server.target, "api_consumers", &got);
    });
}

/// Messages of a fetch, all of them (it ends on the server's 404 or 408).
async fn fetch_all(
    consumer: &jetstream::consumer::PullConsumer,
    max: usize,
) -> Vec<jetstream::Message> {
    consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn payloads(msgs: &[jetstream::Message]) -> Vec<String> {
    msgs.iter().map(|m| text(&m.payload).to_string()).collect()
}

/// Pull consumers through async-nats: fetch, a message stream, every ack kind, the
/// consumer's counters, redelivery after the ack wait and along a backoff, max deliver,
/// and an ephemeral removed once idle.
#[test]
fn js_pull_consumers() {
    use jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
    use jetstream::AckKind;
    for_each_js_target_async(LIMIT, |info| async move {
        let ctx = jetstream::new(connect(&info).await);
        let stream = ctx
            .create_stream(stream::Config {
                name: "PULL".into(),
                subjects: vec!["p.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=10u64 {
            publish_ok(&ctx, &format!("p.{}", i % 2), &format!("m{i}"), i).await;
        }
        let consumer: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("C".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();

        // A fetch of 4, their metadata, then each ack kind.
        let msgs = fetch_all(&consumer, 4).await;
        assert_eq!(payloads(&msgs), ["m1", "m2", "m3", "m4"]);
        let i = msgs[2].info().unwrap();
        assert_eq!(
            (i.stream, i.consumer, i.stream_sequence, i.consumer_sequence),
            ("PULL", "C", 3, 3)
        );
        assert_eq!((i.delivered, i.pending), (1, 7));
        msgs[0].ack().await.unwrap();
        msgs[1].double_ack().await.unwrap();
        msgs[2].ack_with(AckKind::Nak(None)).await.unwrap();
        msgs[3].ack_with(AckKind::Progress).await.unwrap();
        msgs[3].double_ack_with(AckKind::Term).await.unwrap();
        let again = fetch_all(&consumer, 1).await;
        assert_eq!(payloads(&again), ["m3"]);
        let i = again[0].info().unwrap();
        assert_eq!(
            (i.stream_sequence, i.consumer_sequence, i.delivered),
            (3, 5, 2)
        );
        let ci = consumer.get_info().await.unwrap();
        assert_eq!(
            (ci.delivered.consumer_sequence, ci.delivered.stream_sequence),
            (5, 4)
        );
        assert_eq!(
            (ci.ack_floor.consumer_sequence, ci.ack_floor.stream_sequence),
            (2, 2)
        );
        assert_eq!(
            (ci.num_ack_pending, ci.num_redelivered, ci.num_pending),
            (1, 1, 6)
        );
        again[0].double_ack().await.unwrap();
        let ci = consumer.get_info().await.unwrap();
        assert_eq!(ci.ack_floor.stream_sequence, 4);
        assert_eq!(ci.num_ack_pending, 0);

        // A message stream gets the rest, and what is published while it runs.
        let mut stream_msgs = consumer.messages().await.unwrap();
        for want in ["m5", "m6", "m7", "m8", "m9", "m10"] {
            let m = timeout(STEP, stream_msgs.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(text(&m.payload), want);
            m.ack_with(AckKind::Ack).await.unwrap();
        }
        publish_ok(&ctx, "p.late", "late", 11).await;
        let m = timeout(STEP, stream_msgs.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((m.subject.as_str(), text(&m.payload)), ("p.late", "late"));
        m.double_ack().await.unwrap();
        drop(stream_msgs);
        let empty = fetch_all(&consumer, 3).await;
        assert!(empty.is_empty());

        // Not acknowledged in time: delivered again after ack_wait, up to max_deliver.
        let short: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("SHORT".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(300),
                max_deliver: 2,
                filter_subject: "p.late".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let first = fetch_all(&short, 1).await;
        assert_eq!(first[0].info().unwrap().delivered, 1);
        let start = Instant::now();
        let second = short
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        let second = if second.is_empty() {
            tokio::time::sleep(Duration::from_millis(400)).await;
            fetch_all(&short, 1).await
        } else {
            second
        };
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(second[0].info().unwrap().delivered, 2);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(fetch_all(&short, 1).await.is_empty(), "max_deliver 2");
        let ci = short.get_info().await.unwrap();
        assert_eq!(ci.num_ack_pending, 0);

        // A backoff sets the waits between deliveries.
        let backoff: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("BACKOFF".into()),
                ack_policy: AckPolicy::Explicit,
                backoff: vec![Duration::from_millis(100), Duration::from_millis(600)],
                max_deliver: 4,
                filter_subject: "p.late".into(),
                deliver_policy: DeliverPolicy::Last,
                ..Default::default()
            })
            .await
            .unwrap();
        let ci = backoff.get_info().await.unwrap();
        assert_eq!(ci.config.ack_wait, Duration::from_millis(100));
        assert_eq!(fetch_all(&backoff, 1).await.len(), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let m = fetch_all(&backoff, 1).await;
        assert_eq!(m[0].info().unwrap().delivered, 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(
            fetch_all(&backoff, 1).await.is_empty(),
            "second wait is 600ms"
        );

        // An ephemeral goes once idle for its inactive threshold.
        let eph: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                inactive_threshold: Duration::from_millis(300),
                ..Default::default()
            })
            .await
            .unwrap();
        let name = eph.cached_info().name.clone();
        assert_eq!(name.len(), 8);
        wait_until_async(
            "the idle ephemeral to go",
            Duration::from_secs(4),
            async || stream.consumer_info(&name).await.is_err(),
        )
        .await;
        let mut names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
        names.sort();
        assert_eq!(names, ["BACKOFF", "C", "SHORT"]);
        let si = stream_info(&ctx, "PULL").await;
        assert_eq!(si.state.consumer_count, 3);
        stream.delete_consumer("SHORT").await.unwrap();
        assert!(stream.consumer_info("SHORT").await.is_err());
    });
}

/// A durable consumer's state (delivered, ack floor, pending) survives a SIGKILL, and
/// what was delivered but not acknowledged comes again.
#[test]
fn js_consumer_state_survives_restart() {
    use jetstream::consumer::{pull, AckPolicy};
    for_each_target_bare(|target| {
        let rt = js::runtime();
        let js = JsServer::start(target);
        let info = js.info();
        with_log(&js.server, || {
            js::block_on_within(&rt, LIMIT, async move {
                let ctx = jetstream::new(connect(&info).await);
                let stream = ctx
                    .create_stream(stream::Config {
                        name: "DUR".into(),
                        subjects: vec!["d.>".into()],
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                for i in 1..=6u64 {
                    publish_ok(&ctx, "d.x", &format!("m{i}"), i).await;
                }
                let c: jetstream::consumer::PullConsumer = stream
                    .create_consumer(pull::Config {
                        durable_name: Some("D".into()),
                        ack_policy: AckPolicy::Explicit,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let msgs = fetch_all(&c, 4).await;
                assert_eq!(msgs.len(), 4);
                for i in [0, 1, 3] {
                    msgs[i].double_ack().await.unwrap();
                }
                // The state file is written by the consumer's task, just after.
                tokio::time::sleep(Duration::from_millis(300)).await;
            })
        });
        let js = js.restart();
        let info = js.info();
        with_log(&js.server, || {
            js::block_on_within(&rt, LIMIT, async move {
                let ctx = jetstream::new(connect(&info).await);
                let stream = ctx.get_stream("DUR").await.unwrap();
                let c: jetstream::consumer::PullConsumer = stream.get_consumer("D").await.unwrap();
                let ci = c.get_info().await.unwrap();
                assert_eq!(
                    (ci.delivered.consumer_sequence, ci.delivered.stream_sequence),
                    (4, 4)
                );
                assert_eq!(
                    (ci.ack_floor.consumer_sequence, ci.ack_floor.stream_sequence),
                    (2, 2)
                );
                assert_eq!((ci.num_ack_pending, ci.num_pending), (1, 2));
                let rest = fetch_all(&c, 5).await;
                assert_eq!(payloads(&rest), ["m5", "m6"]);
            })
        });
    });
}

/// The top-level keys of a JSON object as they appear in its text (serde_json's maps are
/// sorted; the keys looked for are unique in the advisories checked).
fn key_order(body: &str, v: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<(usize, String)> = v
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| body.find(&format!("\"{k}\":")).map(|i| (i, k.clone())))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.into_iter().map(|(_, k)| k).collect()
}

/// JetStream advisories on `$JS.EVENT.ADVISORY.>`: stream created, updated and deleted,
/// consumers created, deleted by the API, by their stream's deletion and by inactivity,
/// with nats-server's subjects, types and fields (ids, timestamps and servers aside), and
/// the API audit advisory of each request.
#[test]
fn js_advisories() {
    use futures_util::StreamExt;
    use jetstream::consumer::{pull, AckPolicy};
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let mut sub = client.subscribe("$JS.EVENT.ADVISORY.>").await.unwrap();
        client.flush().await.unwrap();
        let ctx = jetstream::new(client.clone());
        let mut got: Vec<async_nats::Message> = Vec::new();

        let mut cfg = stream::Config {
            name: "ADV".into(),
            subjects: vec!["adv.>".into()],
            ..Default::default()
        };
        let stream = ctx.create_stream(cfg.clone()).await.unwrap();
        cfg.description = Some("changed".into());
        ctx.update_stream(cfg.clone()).await.unwrap();
        let durable = |name: &str, description: &str| pull::Config {
            durable_name: Some(name.into()),
            description: Some(description.into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        };
        stream.create_consumer(durable("D", "one")).await.unwrap();
        // The same again, then an update: neither is a creation.
        stream.create_consumer(durable("D", "one")).await.unwrap();
        stream.create_consumer(durable("D", "two")).await.unwrap();
        stream.create_consumer(durable("E", "one")).await.unwrap();
        stream
            .create_consumer(pull::Config {
                name: Some("I".into()),
                inactive_threshold: Duration::from_millis(500),
                ..Default::default()
            })
            .await
            .unwrap();
        // The idle ephemeral goes away by itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !got
            .iter()
            .any(|m| m.subject.as_str() == "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.I")
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, sub.next()).await {
                Ok(Some(m)) => got.push(m),
                _ => panic!("no delete advisory for the idle consumer"),
            }
        }
        stream.delete_consumer("D").await.unwrap();
        ctx.delete_stream("ADV").await.unwrap();
        // Until the stream's own delete advisory, at most 3 s, then whatever follows it at
        // once. nats-server 2.15.1 queues that advisory on the stream's own send queue while
        // it stops the stream, and sometimes the queue stops first: on a busy machine it
        // may never come from the reference (seen in CI); switchboard must send it.
        let stream_deleted = "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV";
        let deadline = Instant::now() + Duration::from_secs(3);
        while !got.iter().any(|m| m.subject.as_str() == stream_deleted) {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, sub.next()).await {
                Ok(Some(m)) => got.push(m),
                _ => break,
            }
        }
        while let Ok(Some(m)) = timeout(Duration::from_millis(700), sub.next()).await {
            got.push(m);
        }
        let reference = info.target.name() == "reference";
        assert!(
            reference || got.iter().any(|m| m.subject.as_str() == stream_deleted),
            "no delete advisory for the stream"
        );

        let mut actions = Vec::new();
        let mut audits = Vec::new();
        for m in &got {
            let body = std::str::from_utf8(&m.payload).unwrap();
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["id"].as_str().map(str::len), Some(22), "{body}");
            assert!(v["timestamp"].as_str().is_some(), "{body}");
            let kind = v["type"].as_str().unwrap().to_string();
            if m.subject.as_str() == "$JS.EVENT.ADVISORY.API" {
                assert_eq!(kind, "io.nats.jetstream.advisory.v1.api_audit");
                assert_eq!(
                    &key_order(body, &v)[..3],
                    ["type", "id", "timestamp"],
                    "{body}"
                );
                for k in ["server", "client", "subject", "response"] {
                    assert!(v.get(k).is_some(), "{k} in {body}");
                }
                assert!(v["response"].as_str().is_some(), "{body}");
                audits.push((
                    v["subject"].as_str().unwrap().to_string(),
                    v.get("request")
                        .and_then(|r| r.as_str())
                        .map(str::to_string),
                ));
                continue;
            }
            let mut expected = vec!["type", "id", "timestamp", "stream"];
            if kind == "io.nats.jetstream.advisory.v1.consumer_action" {
                expected.push("consumer");
            } else {
                assert_eq!(
                    kind, "io.nats.jetstream.advisory.v1.stream_action",
                    "{body}"
                );
            }
            expected.push("action");
            assert_eq!(key_order(body, &v), expected, "{body}");
            actions.push(format!(
                "{} {} {}/{} {}",
                m.subject,
                kind.rsplit('.').next().unwrap_or_default(),
                v["stream"].as_str().unwrap_or_default(),
                v["consumer"].as_str().unwrap_or_default(),
                v["action"].as_str().unwrap_or_default(),
            ));
        }
        actions.sort();
        let deleted = "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV stream_action ADV/ delete";
        if reference && !actions.iter().any(|a| a == deleted) {
            actions.push(deleted.to_string());
            actions.sort();
        }
        assert_eq!(
            actions,
            [
                "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.D consumer_action ADV/D create",
                "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.E consumer_action ADV/E create",
                "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.I consumer_action ADV/I create",
                "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.D consumer_action ADV/D delete",
                "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.E consumer_action ADV/E delete",
                "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.I consumer_action ADV/I delete",
                "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV stream_action ADV/ create",
                "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV stream_action ADV/ delete",
                "$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV stream_action ADV/ modify",
            ]
        );
        let create = audits
            .iter()
            .find(|(s, _)| s == "$JS.API.STREAM.CREATE.ADV")
            .expect("an audit of the stream's creation");
        assert!(create.1.as_deref().is_some_and(|r| r.contains("\"ADV\"")));
        for subject in ["$JS.API.STREAM.DELETE.ADV", "$JS.API.CONSUMER.DELETE.ADV.D"] {
            assert!(
                audits
                    .iter()
                    .any(|(s, r)| s == subject && r.as_deref() == Some("{}")),
                "{subject}: {audits:?}"
            );
        }
    });
}

/// The advisories of what happens to a consumer's deliveries and its state: a nak, a
/// termination with its reason, a message given up at `max_deliver`, a pause and its end,
/// a pin given and taken by the API, and the ack metric of `sample_freq`; with
/// nats-server's subjects, types and fields in its order (ids and timestamps aside).
#[test]
fn js_consumer_advisories() {
    use futures_util::StreamExt;
    use jetstream::consumer::{pull, AckPolicy, PriorityPolicy};
    use jetstream::AckKind;
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let mut sub = client
            .subscribe("$JS.EVENT.ADVISORY.CONSUMER.>")
            .await
            .unwrap();
        client.flush().await.unwrap();
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "CADV".into(),
                subjects: vec!["cadv.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        publish_ok(&ctx, "cadv.one", "m1", 1).await;
        publish_ok(&ctx, "cadv.x", "m2", 2).await;
        publish_ok(&ctx, "cadv.s", "m3", 3).await;
        let mut metrics = client
            .subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.>")
            .await
            .unwrap();
        let c: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("C".into()),
                filter_subject: "cadv.one".into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(300),
                max_deliver: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut next = async |subject: &str| -> serde_json::Value {
            let deadline = Instant::now() + STEP;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let m = timeout(left, sub.next())
                    .await
                    .unwrap_or_else(|_| panic!("no {subject} within 5 s"))
                    .unwrap();
                if m.subject.as_str() == subject {
                    let body = text(&m.payload).to_string();
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let mut order = key_order(&body, &v);
                    order.retain(|k| k != "id" && k != "timestamp");
                    let mut v = v;
                    v["order"] = order.join(",").into();
                    return v;
                }
            }
        };
        // m1: a nak, then its second delivery is left to expire: given up.
        let m = fetch_all(&c, 1).await.remove(0);
        m.ack_with(AckKind::Nak(None)).await.unwrap();
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.CADV.C").await;
        assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.nak");
        assert_eq!(
            v["order"],
            "type,stream,consumer,consumer_seq,stream_seq,deliveries"
        );
        assert_eq!(
            (&v["consumer_seq"], &v["stream_seq"], &v["deliveries"]),
            (&1.into(), &1.into(), &1.into())
        );
        let again = fetch_all(&c, 1).await.remove(0);
        assert_eq!(again.info().unwrap().delivered, 2);
        // nats-server 2.15.1 looks at expired deliveries again after a nak only while a
        // pull request waits (switchboard at the ack wait regardless): one waits a second.
        let waited: Vec<_> = c
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap()
            .collect()
            .await;
        assert!(waited.iter().all(|m| m.is_err()), "m1 came a third time");
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CADV.C").await;
        assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.max_deliver");
        assert_eq!(v["order"], "type,stream,consumer,stream_seq,deliveries");
        assert_eq!((&v["stream_seq"], &v["deliveries"]), (&1.into(), &2.into()));

        // m2: terminated with a reason.
        let t: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("T".into()),
                filter_subject: "cadv.x".into(),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let m = fetch_all(&t, 1).await.remove(0);
        assert_eq!(text(&m.payload), "m2");
        // async-nats' `AckKind::Term` has no reason: the body by hand.
        let reply = m.reply.clone().expect("an ack subject");
        client
            .publish(reply, "+TERM bad input".into())
            .await
            .unwrap();
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.CADV.T").await;
        assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.terminated");
        assert_eq!(
            v["order"],
            "type,stream,consumer,consumer_seq,stream_seq,deliveries,reason"
        );
        assert_eq!(v["reason"], "bad input");
        assert_eq!(v["stream_seq"], 2);

        // Every acknowledgement sampled (`sample_freq` 100%): the ack metric.
        let sampled: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("S".into()),
                filter_subject: "cadv.s".into(),
                ack_policy: AckPolicy::Explicit,
                sample_frequency: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        let m = fetch_all(&sampled, 1).await.remove(0);
        m.double_ack().await.unwrap();
        let metric = timeout(STEP, metrics.next())
            .await
            .expect("an ack metric within 5 s")
            .unwrap();
        assert_eq!(
            metric.subject.as_str(),
            "$JS.EVENT.METRIC.CONSUMER.ACK.CADV.S"
        );
        let body = text(&metric.payload).to_string();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            key_order(&body, &v).join(","),
            "type,id,timestamp,stream,consumer,consumer_seq,stream_seq,ack_time,deliveries"
        );
        assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack");
        assert_eq!(
            (&v["consumer_seq"], &v["stream_seq"], &v["deliveries"]),
            (&1.into(), &3.into(), &1.into())
        );
        assert!(v["ack_time"].as_i64().unwrap() > 0);

        // A pause and its end.
        let until = chrono::Utc::now() + chrono::Duration::milliseconds(400);
        let until = until.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        client
            .request(
                "$JS.API.CONSUMER.PAUSE.CADV.C",
                format!(r#"{{"pause_until":"{until}"}}"#).into(),
            )
            .await
            .unwrap();
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.CADV.C").await;
        assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.consumer_pause");
        assert_eq!(v["order"], "type,stream,consumer,paused,pause_until");
        assert_eq!(v["paused"], true);
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.CADV.C").await;
        assert_eq!(v["paused"], false);

        // A pin given, then taken by the API.
        stream
            .create_consumer(pull::Config {
                durable_name: Some("P".into()),
                priority_policy: PriorityPolicy::PinnedClient,
                priority_groups: vec!["G".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        // async-nats' batch refuses pinned consumers: a raw pull request.
        let inbox = client.new_inbox();
        let mut pulled = client.subscribe(inbox.clone()).await.unwrap();
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.CADV.P",
                inbox,
                r#"{"batch":1,"group":"G","expires":2000000000}"#.into(),
            )
            .await
            .unwrap();
        let m = timeout(STEP, pulled.next()).await.unwrap().unwrap();
        assert!(m.status.is_none(), "{:?}", m.description);
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.PINNED.CADV.P").await;
        assert_eq!(
            v["type"],
            "io.nats.jetstream.advisory.v1.consumer_group_pinned"
        );
        assert_eq!(v["order"], "type,account,stream,consumer,group,pinned_id");
        assert_eq!((&v["account"], &v["group"]), (&"$G".into(), &"G".into()));
        assert_eq!(v["pinned_id"].as_str().map(str::len), Some(22));
        client
            .request("$JS.API.CONSUMER.UNPIN.CADV.P", r#"{"group":"G"}"#.into())
            .await
            .unwrap();
        let v = next("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.CADV.P").await;
        assert_eq!(
            v["type"],
            "io.nats.jetstream.advisory.v1.consumer_group_unpinned"
        );
        assert_eq!(v["order"], "type,account,stream,consumer,group,reason");
        assert_eq!(v["reason"], "admin");
    });
}

/// `start_time` in `STREAM.MSG.GET` and `DIRECT.GET` (nats-server 2.11+): the first message
/// stored at or after the time, over deleted ones, on `next_by_subj` when given; nothing
/// after the last; refused with `seq` or `last_by_subj`, and a time Go cannot read is bad
/// JSON. File and memory streams alike.
#[test]
fn js_msg_get_from_time() {
    for_each_js_target_async(LIMIT, |s| async move {
        let client = connect(&s).await;
        let ctx = jetstream::new(client.clone());
        let rfc3339 = |t: SystemTime| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        };
        for (name, storage) in [("TF", StorageType::File), ("TM", StorageType::Memory)] {
            let lower = name.to_lowercase();
            ctx.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![format!("{lower}.>")],
                storage,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .unwrap();
            // Five messages on a, b, a, b, a, with a time noted just before each.
            let mut before = Vec::new();
            for i in 1..=5u64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                before.push(SystemTime::now());
                tokio::time::sleep(Duration::from_millis(20)).await;
                let subject = format!("{lower}.{}", if i % 2 == 1 { "a" } else { "b" });
                publish_ok(&ctx, &subject, &format!("m{i}"), i).await;
            }
            let stream = ctx.get_stream(name).await.unwrap();
            assert!(stream.delete_message(3).await.unwrap());
            let get = |body: String| {
                let client = client.clone();
                async move {
                    let reply = timeout(
                        STEP,
                        client.request(format!("$JS.API.STREAM.MSG.GET.{name}"), body.into()),
                    )
                    .await
                    .unwrap()
                    .unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
                    match v.get("message") {
                        Some(m) => format!("seq {}", m["seq"]),
                        None => format!(
                            "error {} {}: {}",
                            v["error"]["code"], v["error"]["err_code"], v["error"]["description"]
                        ),
                    }
                }
            };
            let direct = |body: String| {
                let client = client.clone();
                async move {
                    let reply = timeout(
                        STEP,
                        client.request(format!("$JS.API.DIRECT.GET.{name}"), body.into()),
                    )
                    .await
                    .unwrap()
                    .unwrap();
                    match reply.status {
                        Some(status) if status.as_u16() != 200 => format!(
                            "status {} {}",
                            status.as_u16(),
                            reply.description.unwrap_or_default()
                        ),
                        _ => format!(
                            "seq {}",
                            reply
                                .headers
                                .as_ref()
                                .and_then(|h| h.get("Nats-Sequence"))
                                .map(|v| v.to_string())
                                .unwrap_or_default()
                        ),
                    }
                }
            };
            let at = |i: usize| rfc3339(before[i]);
            let after_all = rfc3339(SystemTime::now() + Duration::from_secs(60));
            let cases: Vec<(String, &str, &str)> = vec![
                (
                    serde_json::json!({ "start_time": at(0) }).to_string(),
                    "seq 1",
                    "seq 1",
                ),
                (
                    serde_json::json!({ "start_time": at(1) }).to_string(),
                    "seq 2",
                    "seq 2",
                ),
                // Message 3 is deleted: the next one stored.
                (
                    serde_json::json!({ "start_time": at(2) }).to_string(),
                    "seq 4",
                    "seq 4",
                ),
                (
                    serde_json::json!({ "start_time": at(1), "next_by_subj": format!("{lower}.a") })
                        .to_string(),
                    "seq 5",
                    "seq 5",
                ),
                (
                    serde_json::json!({ "start_time": at(0), "next_by_subj": format!("{lower}.b") })
                        .to_string(),
                    "seq 2",
                    "seq 2",
                ),
                (
                    serde_json::json!({ "start_time": after_all }).to_string(),
                    "error 404 10037: \"no message found\"",
                    "status 404 Message Not Found",
                ),
                (
                    serde_json::json!({ "start_time": at(1), "seq": 2 }).to_string(),
                    "error 400 10003: \"bad request\"",
                    "status 408 Bad Request",
                ),
                (
                    serde_json::json!({ "start_time": at(1), "last_by_subj": format!("{lower}.a") })
                        .to_string(),
                    "error 400 10003: \"bad request\"",
                    "status 408 Bad Request",
                ),
                (
                    r#"{"start_time":"garbage"}"#.to_string(),
                    "error 400 10025: \"invalid JSON: parsing time \\\"garbage\\\" as \\\"2006-01-02T15:04:05Z07:00\\\": cannot parse \\\"garbage\\\" as \\\"2006\\\"\"",
                    "status 408 Malformed Request",
                ),
            ];
            for (body, by_get, by_direct) in cases {
                assert_eq!(get(body.clone()).await, by_get, "[{name}] MSG.GET {body}");
                assert_eq!(
                    direct(body.clone()).await,
                    by_direct,
                    "[{name}] DIRECT.GET {body}"
                );
            }
        }
    });
}
