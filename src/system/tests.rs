#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::Value;

use super::reqopts::{self, ConnzRequest, EventFilter, ServerIdentity};
use super::requests::{AccountEndpoint, Request, ServerEndpoint};
use super::*;
use crate::broker::BrokerHandle;
use crate::monitor::connz::{ConnState, SortOpt};
use crate::options::Options;

const ID: &str = "NSERVERID";

#[test]
fn subjects_name_their_requests() {
    let parse = |s: &str| Request::parse(s, ID);
    assert_eq!(parse("$SYS.REQ.SERVER.PING"), Some(Request::Ping));
    assert_eq!(
        parse("$SYS.REQ.SERVER.PING.CONNZ"),
        Some(Request::Server(ServerEndpoint::Connz))
    );
    assert_eq!(
        parse("$SYS.REQ.SERVER.NSERVERID.VARZ"),
        Some(Request::Server(ServerEndpoint::Varz))
    );
    assert_eq!(
        parse("$SYS.REQ.SERVER.NSERVERID.KICK"),
        Some(Request::Server(ServerEndpoint::Kick))
    );
    // A kick goes to one server, never to all; another server's id is not ours.
    assert_eq!(parse("$SYS.REQ.SERVER.PING.KICK"), None);
    assert_eq!(parse("$SYS.REQ.SERVER.NOTUS.VARZ"), None);
    assert_eq!(parse("$SYS.REQ.SERVER.PING.PROFILEZ"), None);
    assert_eq!(
        parse("$SYS.REQ.ACCOUNT.A.CONNZ"),
        Some(Request::Account {
            account: "A".into(),
            endpoint: AccountEndpoint::Connz
        })
    );
    assert_eq!(
        parse("$SYS.REQ.ACCOUNT.PING.STATZ"),
        Some(Request::AccountsStatz)
    );
    assert_eq!(parse("$SYS.REQ.ACCOUNT.A.NOPE"), None);
    assert_eq!(parse("$SYS.REQ.USER.INFO"), Some(Request::UserInfo));
    assert_eq!(parse("$SYS.REQ.USER.SYS.INFO"), Some(Request::UserInfo));
    assert_eq!(parse("$SYS.REQ.SERVER.PING.CONNZ.X"), None);
    assert_eq!(parse("foo.bar"), None);
}

#[test]
fn the_event_filter_matches_as_nats_server() {
    let tags = vec!["blue".to_string()];
    let me = ServerIdentity {
        name: "edge-1",
        host: "127.0.0.1",
        cluster: "",
        tags: &tags,
        domain: "hub",
    };
    let filter = |json: &str| -> EventFilter { serde_json::from_str(json).unwrap() };
    assert!(!filter("{}").excludes(&me));
    assert!(!filter(r#"{"server_name":"edge"}"#).excludes(&me));
    assert!(filter(r#"{"server_name":"edge","exact_match":true}"#).excludes(&me));
    assert!(!filter(r#"{"server_name":"edge-1","exact_match":true}"#).excludes(&me));
    assert!(filter(r#"{"server_name":"core"}"#).excludes(&me));
    assert!(!filter(r#"{"host":"127.0"}"#).excludes(&me));
    // No cluster here: any cluster asked for excludes us.
    assert!(filter(r#"{"cluster":"c1"}"#).excludes(&me));
    assert!(!filter(r#"{"tags":["blue"]}"#).excludes(&me));
    assert!(filter(r#"{"tags":["blue","red"]}"#).excludes(&me));
    assert!(filter(r#"{"domain":"leaf"}"#).excludes(&me));
    assert!(!filter(r#"{"domain":"hub"}"#).excludes(&me));
}

#[test]
fn payloads_are_json_objects() {
    assert_eq!(reqopts::parse_body(b""), Ok(None));
    assert!(reqopts::parse_body(b"null").unwrap().unwrap().is_object());
    assert!(reqopts::parse_body(b"{bad").is_err());
    assert!(reqopts::parse_body(b"[1]").is_err());
    let v = reqopts::parse_body(br#"{"cid":"x"}"#).unwrap();
    assert!(reqopts::decode::<ConnzRequest>(v.as_ref()).is_err());
    // Unknown fields are ignored, as Go's decoder does.
    let v = reqopts::parse_body(br#"{"limit":5,"whatever":[1]}"#).unwrap();
    let c: ConnzRequest = reqopts::decode(v.as_ref()).unwrap();
    assert_eq!(c.limit, 5);
}

#[test]
fn connz_options_are_checked_as_nats_servers_connz() {
    let opts = |json: &str| {
        serde_json::from_str::<ConnzRequest>(json)
            .unwrap()
            .options()
    };
    let o =
        opts(r#"{"sort":"msgs_to","state":2,"subscriptions":true,"offset":-3,"limit":0}"#).unwrap();
    assert_eq!(o.sort, SortOpt::MsgsTo);
    assert_eq!(o.state, ConnState::Any);
    assert!(o.subs && !o.subs_detail);
    assert_eq!(
        (o.offset, o.limit),
        (0, crate::monitor::connz::DEFAULT_LIMIT)
    );
    assert_eq!(opts(r#"{"cid":7,"limit":50}"#).unwrap().limit, 1);
    assert_eq!(
        opts(r#"{"sort":"bogus"}"#),
        Err("invalid sorting option: bogus".into())
    );
    assert_eq!(
        opts(r#"{"sort":"stop"}"#),
        Err("sort by stop only valid on closed connections".into())
    );
    assert!(opts(r#"{"sort":"stop","state":1}"#).is_ok());
    assert_eq!(
        opts(r#"{"filter_subject":"a.b"}"#),
        Err("filter by subject only valid with account filtering".into())
    );
}

#[test]
fn event_ids_are_nuid_shaped() {
    let id = events::event_id();
    assert_eq!(id.len(), 22);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(id, events::event_id());
}

#[test]
fn the_system_account_is_chosen_as_nats_server_does() {
    let mut o = Options::default();
    assert_eq!(o.system_account_name(), Some("$SYS"));
    o.no_system_account = true;
    assert_eq!(o.system_account_name(), None);
    o.system_account = Some("SYS".into());
    assert_eq!(o.system_account_name(), Some("SYS"));
    let mut o = Options {
        no_system_account: true,
        ..Options::default()
    };
    o.auth.accounts.push(crate::options::AccountConfig {
        name: "$SYS".into(),
        ..Default::default()
    });
    assert_eq!(o.system_account_name(), Some("$SYS"));
}

#[tokio::test]
async fn a_missing_system_account_stops_the_start() {
    let opts = Options {
        port: 0,
        system_account: Some("NOPE".into()),
        ..Options::default()
    };
    let err = BrokerHandle::start(opts).await.err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("error resolving system account: account missing")
    );
    let opts = Options {
        port: 0,
        no_system_account: true,
        ..Options::default()
    };
    let broker = BrokerHandle::start(opts).await.unwrap();
    assert!(broker.server().system_account().is_none());
    assert!(enable(broker.server()).is_none());
    broker.shutdown().await;
}

/// The answer to `subject` with `body`, as JSON.
fn ask(sys: &SystemAccount, server: &Arc<Server>, subject: &str, body: &str) -> Option<Value> {
    let request = Request::parse(subject, &server.id)?;
    let (to, payload) = sys.answer(server, &request, Some("_INBOX.r"), body.as_bytes(), None)?;
    assert_eq!(to, "_INBOX.r");
    Some(serde_json::from_slice(&payload).unwrap())
}

#[tokio::test]
async fn answers_come_in_nats_servers_envelope() {
    let broker = BrokerHandle::start_for_test().await;
    let server = broker.server().clone();
    let sys = enable(&server).unwrap();
    assert!(SystemAccount::of(&server).is_some());

    let request = Request::Server(ServerEndpoint::Varz);
    let (_, raw) = sys.answer(&server, &request, Some("r"), b"", None).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.starts_with(r#"{"server":{"name":"#), "{raw}");
    assert!(raw.contains(r#""data":{"server_id":"#), "{raw}");
    let varz = ask(&sys, &server, "$SYS.REQ.SERVER.PING.VARZ", "").unwrap();
    assert_eq!(varz["server"]["id"], server.id.as_str());
    assert_eq!(
        varz["server"]["ver"],
        crate::proto::info::NATS_COMPAT_VERSION
    );
    assert_eq!(varz["data"]["system_account"], "$SYS");
    // Each message has the next sequence number.
    let again = ask(&sys, &server, "$SYS.REQ.SERVER.PING.VARZ", "").unwrap();
    assert_eq!(
        again["server"]["seq"].as_u64(),
        varz["server"]["seq"].as_u64().map(|s| s + 1)
    );

    // Options nats-server cannot read: 400 and no data.
    let bad = ask(&sys, &server, "$SYS.REQ.SERVER.PING.CONNZ", "{bad").unwrap();
    assert_eq!(bad["error"]["code"], 400);
    assert!(bad.get("data").is_none());
    // A builder's failure: 500 and `data: null`.
    let failed = ask(
        &sys,
        &server,
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"sort":"x"}"#,
    )
    .unwrap();
    assert_eq!(failed["error"]["code"], 500);
    assert_eq!(failed["error"]["description"], "invalid sorting option: x");
    assert_eq!(failed.get("data"), Some(&Value::Null));
    // A kick of nobody: 500 without data; an unreadable kick: silence.
    let kick = format!("$SYS.REQ.SERVER.{}.KICK", server.id);
    let k = ask(&sys, &server, &kick, r#"{"cid":424242}"#).unwrap();
    assert_eq!(k["error"]["description"], "no such client or leafnode id");
    assert!(k.get("data").is_none());
    assert!(ask(&sys, &server, &kick, "nonsense").is_none());
    // Filtered out: no answer at all.
    assert!(ask(
        &sys,
        &server,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"zz"}"#
    )
    .is_none());

    // STATSZ and IDZ come bare.
    let statsz = ask(&sys, &server, "$SYS.REQ.SERVER.PING", "").unwrap();
    assert_eq!(statsz["statsz"]["active_servers"], 1);
    let idz = ask(&sys, &server, "$SYS.REQ.SERVER.PING.IDZ", "").unwrap();
    assert_eq!(idz["id"], server.id.as_str());
    // HEALTHZ carries its status code in the body here.
    let health = ask(&sys, &server, "$SYS.REQ.SERVER.PING.HEALTHZ", "").unwrap();
    assert_eq!(health["data"]["status_code"], 200);
    // Without a requester there is no user to describe.
    let user = ask(&sys, &server, "$SYS.REQ.USER.INFO", "").unwrap();
    assert_eq!(user["error"]["code"], 400);
    // An account nobody uses has no statistics to report, unless asked to.
    assert!(ask(&sys, &server, "$SYS.REQ.ACCOUNT.$G.STATZ", "").is_none());
    let unused = ask(
        &sys,
        &server,
        "$SYS.REQ.ACCOUNT.$G.STATZ",
        r#"{"include_unused":true}"#,
    );
    assert_eq!(unused.unwrap()["data"]["account_statz"][0]["acc"], "$G");
    broker.shutdown().await;
}
