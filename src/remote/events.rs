//! The system account's client events, for the Overview's feed: with system-account
//! credentials the inspector subscribes to every server's `$SYS.ACCOUNT.*.CONNECT`,
//! `.DISCONNECT` and `$SYS.SERVER.*.CLIENT.AUTH.ERR`, as `nats events` does, and turns each
//! event into a line of the feed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::watch;

use super::session::Shared;
use crate::inspect::snapshot::{EventKind, SystemEventKind};

/// The subjects followed (one subscription each).
const SUBJECTS: [&str; 3] = [
    "$SYS.ACCOUNT.*.CONNECT",
    "$SYS.ACCOUNT.*.DISCONNECT",
    "$SYS.SERVER.*.CLIENT.AUTH.ERR",
];
/// How often the task looks for the inventory's system client before it has one.
const CLIENT_WAIT: Duration = Duration::from_millis(500);

#[derive(Deserialize, Default)]
struct ServerInfo {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct ClientInfo {
    #[serde(default)]
    host: String,
    #[serde(default)]
    id: u64,
    #[serde(default)]
    acc: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    name: String,
}

/// nats-server's connect and disconnect event (an auth error is a disconnect event).
#[derive(Deserialize)]
struct ClientEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    server: ServerInfo,
    #[serde(default)]
    client: ClientInfo,
    #[serde(default)]
    reason: String,
}

/// The feed's event for one message on a followed subject; `None` for anything else.
pub fn parse(subject: &str, payload: &[u8]) -> Option<EventKind> {
    let kind = if subject.ends_with(".CLIENT.AUTH.ERR") {
        SystemEventKind::AuthError
    } else if subject.ends_with(".DISCONNECT") {
        SystemEventKind::Disconnect
    } else if subject.ends_with(".CONNECT") {
        SystemEventKind::Connect
    } else {
        return None;
    };
    let event: ClientEvent = serde_json::from_slice(payload).ok()?;
    let expected = match kind {
        SystemEventKind::Connect => "io.nats.server.advisory.v1.client_connect",
        _ => "io.nats.server.advisory.v1.client_disconnect",
    };
    if event.kind != expected {
        return None;
    }
    let c = &event.client;
    let mut text = match (kind, c.name.is_empty()) {
        (SystemEventKind::AuthError, _) if !c.user.is_empty() => format!("user {:?}", c.user),
        (SystemEventKind::AuthError, _) => "a client".to_string(),
        (_, false) => format!("{:?} (cid {})", c.name, c.id),
        (_, true) => format!("cid {}", c.id),
    };
    if !c.acc.is_empty() && kind != SystemEventKind::AuthError {
        text.push_str(&format!(" in {}", c.acc));
    }
    if !c.host.is_empty() {
        text.push_str(&format!(" from {}", c.host));
    }
    if kind != SystemEventKind::Connect && !event.reason.is_empty() {
        text.push_str(&format!(": {}", event.reason));
    }
    Some(EventKind::System {
        kind,
        server: event.server.name,
        text,
    })
}

/// Follows the system events while the session lives, through the inventory task's
/// system-account client (none without system credentials: the task ends at once).
pub(crate) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    if shared.profile.system_connect_args().is_none() {
        return;
    }
    loop {
        let client = loop {
            if let Some(c) = shared.system.lock().clone() {
                break c;
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(CLIENT_WAIT) => {}
            }
        };
        let mut subs = Vec::new();
        for subject in SUBJECTS {
            match client.subscribe(subject).await {
                Ok(s) => subs.push(s),
                Err(_) => break,
            }
        }
        if subs.len() == SUBJECTS.len() {
            let mut events = futures_util::stream::select_all(subs);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    next = events.next() => {
                        let Some(m) = next else { break };
                        if let Some(kind) = parse(m.subject.as_str(), &m.payload) {
                            shared.publisher.push_event(SystemTime::now(), kind);
                        }
                    }
                }
            }
        }
        // The client went away (the inventory reconnects): wait for the next one.
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(CLIENT_WAIT) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(kind: EventKind) -> (SystemEventKind, String, String) {
        match kind {
            EventKind::System { kind, server, text } => (kind, server, text),
            other => panic!("not a system event: {other:?}"),
        }
    }

    #[test]
    fn connect_disconnect_and_auth_errors_become_feed_lines() {
        let connect = br#"{"type":"io.nats.server.advisory.v1.client_connect","id":"x",
            "timestamp":"2026-12-02T00:00:00Z","server":{"name":"n1","id":"NABC"},
            "client":{"host":"10.0.0.7","id":12,"acc":"APP","user":"u","name":"orders"}}"#;
        assert_eq!(
            text(parse("$SYS.ACCOUNT.APP.CONNECT", connect).unwrap()),
            (
                SystemEventKind::Connect,
                "n1".into(),
                "\"orders\" (cid 12) in APP from 10.0.0.7".into()
            )
        );
        let gone = br#"{"type":"io.nats.server.advisory.v1.client_disconnect","id":"x",
            "server":{"name":"n2"},"client":{"id":3,"acc":"APP"},"reason":"Client Closed"}"#;
        assert_eq!(
            text(parse("$SYS.ACCOUNT.APP.DISCONNECT", gone).unwrap()),
            (
                SystemEventKind::Disconnect,
                "n2".into(),
                "cid 3 in APP: Client Closed".into()
            )
        );
        let denied = br#"{"type":"io.nats.server.advisory.v1.client_disconnect","id":"x",
            "server":{"name":"n1"},"client":{"host":"127.0.0.1","id":9,"user":"eve"},
            "reason":"Authentication Failure"}"#;
        assert_eq!(
            text(parse("$SYS.SERVER.NABC.CLIENT.AUTH.ERR", denied).unwrap()),
            (
                SystemEventKind::AuthError,
                "n1".into(),
                "user \"eve\" from 127.0.0.1: Authentication Failure".into()
            )
        );
    }

    #[test]
    fn other_messages_are_not_events() {
        assert!(parse("$SYS.ACCOUNT.A.CONNECT", b"not json").is_none());
        // The connect subject with another type (a server's own JSON) is left out.
        assert!(parse(
            "$SYS.ACCOUNT.A.CONNECT",
            br#"{"type":"io.nats.server.advisory.v1.client_disconnect"}"#
        )
        .is_none());
        assert!(parse("$SYS.ACCOUNT.A.SERVER.CONNS", b"{}").is_none());
    }
}
