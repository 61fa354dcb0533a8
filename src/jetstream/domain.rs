//! JetStream's domain (`jetstream { domain: X }`): the API under `$JS.X.API`, as
//! nats-server maps it for each account with JetStream. A request on
//! `$JS.X.API.STREAM.INFO.S` is published again in the account as `$JS.API.STREAM.INFO.S`
//! (so the API, a stream's direct gets, a KV bucket's `$KV.` subjects answer it as they
//! answer local clients); the reply goes back to the requester's reply subject.
//!
//! The mapped subjects are internal subscriptions of the account, so a leaf link announces
//! them to its other side like any local interest: a hub's clients reach a leaf's JetStream
//! through its domain (and a leaf's clients a hub's), while `$JS.API.>` itself never
//! crosses a link. This side's own domain is not sent over a link either (see
//! `broker::leaf`), which guards against two sides that share a domain name.

use std::sync::Arc;

use crate::broker::{Fanout, InternalHandler, InternalMsg, Server};

/// nats-server's mapping table: what follows `$JS.<domain>.API.` and where it goes.
const MAPPINGS: &[(&str, &str)] = &[
    ("INFO", "$JS.API.INFO"),
    ("STREAM.>", "$JS.API.STREAM.>"),
    ("CONSUMER.>", "$JS.API.CONSUMER.>"),
    ("DIRECT.>", "$JS.API.DIRECT.>"),
    ("META.>", "$JS.API.META.>"),
    ("SERVER.>", "$JS.API.SERVER.>"),
    ("ACCOUNT.>", "$JS.API.ACCOUNT.>"),
    ("$KV.>", "$KV.>"),
    ("$OBJ.>", "$OBJ.>"),
];

/// The subjects a domain's API listens on: `$JS.<domain>.API.INFO`, `...STREAM.>`, ...
pub fn subjects(domain: &str) -> Vec<String> {
    MAPPINGS
        .iter()
        .map(|(suffix, _)| format!("$JS.{domain}.API.{suffix}"))
        .collect()
}

/// `subject` (one of the domain's) as the account's JetStream knows it: `None` for a
/// subject outside the domain's API.
pub fn mapped(domain: &str, subject: &[u8]) -> Option<Vec<u8>> {
    let prefix = format!("$JS.{domain}.API.");
    let rest = subject.strip_prefix(prefix.as_bytes())?;
    if rest == b"INFO" {
        return Some(b"$JS.API.INFO".to_vec());
    }
    for (suffix, to) in MAPPINGS {
        let Some(token) = suffix.strip_suffix('>') else {
            continue;
        };
        if rest.starts_with(token.as_bytes()) && rest.len() > token.len() {
            let target = to.strip_suffix('>').unwrap_or(to);
            let mut out = target.as_bytes().to_vec();
            out.extend_from_slice(&rest[token.len()..]);
            return Some(out);
        }
    }
    None
}

/// Publishes what arrives on the domain's subjects again under the mapped subject.
#[derive(Debug)]
pub struct DomainHandler {
    pub domain: String,
}

impl InternalHandler for DomainHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let Some(subject) = mapped(&self.domain, msg.subject) else {
            return false;
        };
        let took = server.publish_internal(
            fanout,
            msg.account,
            &subject,
            msg.reply,
            msg.headers,
            msg.payload,
        );
        took > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_api_maps_to_the_api() {
        let m = |s: &str| {
            mapped("leaf", s.as_bytes()).map(|v| String::from_utf8(v).unwrap_or_default())
        };
        assert_eq!(m("$JS.leaf.API.INFO").as_deref(), Some("$JS.API.INFO"));
        assert_eq!(
            m("$JS.leaf.API.STREAM.INFO.ORDERS").as_deref(),
            Some("$JS.API.STREAM.INFO.ORDERS")
        );
        assert_eq!(
            m("$JS.leaf.API.CONSUMER.MSG.NEXT.S.C").as_deref(),
            Some("$JS.API.CONSUMER.MSG.NEXT.S.C")
        );
        assert_eq!(
            m("$JS.leaf.API.$KV.cfg.key").as_deref(),
            Some("$KV.cfg.key")
        );
        assert_eq!(m("$JS.leaf.API.$OBJ.b.c").as_deref(), Some("$OBJ.b.c"));
        assert_eq!(m("$JS.leaf.API.STREAM").as_deref(), None, "a token short");
        assert_eq!(m("$JS.leaf.API.OTHER.X").as_deref(), None);
        assert_eq!(m("$JS.hub.API.INFO").as_deref(), None, "another domain");
        assert_eq!(m("$JS.API.INFO").as_deref(), None);
        assert_eq!(
            subjects("leaf")[..2],
            ["$JS.leaf.API.INFO", "$JS.leaf.API.STREAM.>"]
        );
    }
}
