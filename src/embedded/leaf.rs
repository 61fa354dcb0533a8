//! The leaf-node links of the embedded broker for its snapshots: each configured remote
//! (its link, or the state of the attempts while it is down), then the leaf nodes that
//! connected to this server.

use std::collections::HashMap;

use crate::broker::client::ClientShared;
use crate::broker::leaf::LeafNodes;
use crate::broker::server::{client_totals, Server};
use crate::inspect::snapshot::{LeafLinkInfo, LeafLinkState, Rates, Totals};

/// Keeps the previous tick's totals of each link, to turn them into rates.
#[derive(Debug, Default)]
pub struct LeafSampler {
    last: HashMap<u64, Totals>,
}

impl LeafSampler {
    /// The links of this moment; `elapsed` seconds since the last call.
    pub fn sample(&mut self, server: &Server, elapsed: f64) -> Vec<LeafLinkInfo> {
        let Some(nodes) = LeafNodes::of(server) else {
            self.last.clear();
            return Vec::new();
        };
        let links: HashMap<u64, std::sync::Arc<ClientShared>> =
            nodes.links().into_iter().map(|l| (l.cid, l)).collect();
        let mut next = HashMap::new();
        let mut out = Vec::new();
        for status in nodes.remote_statuses() {
            let link = status.cid.and_then(|cid| links.get(&cid));
            let mut info = match link {
                Some(link) => self.link(link, elapsed, &mut next),
                None => LeafLinkInfo {
                    account: status.account.clone(),
                    ..LeafLinkInfo::default()
                },
            };
            info.solicited = true;
            info.url = status.url;
            info.last_error = status.last_error;
            out.push(info);
        }
        // Then the leaf nodes connected here, by id.
        let mut accepted: Vec<_> = links
            .values()
            .filter(|l| {
                l.leaf
                    .as_ref()
                    .is_some_and(|s| !s.solicited && s.is_bound())
            })
            .collect();
        accepted.sort_by_key(|l| l.cid);
        for link in accepted {
            let mut info = self.link(link, elapsed, &mut next);
            info.url = link.addr.to_string();
            out.push(info);
        }
        self.last = next;
        out
    }

    fn link(
        &self,
        link: &ClientShared,
        elapsed: f64,
        next: &mut HashMap<u64, Totals>,
    ) -> LeafLinkInfo {
        let totals = client_totals(link);
        let previous = self.last.get(&link.cid).copied().unwrap_or(totals);
        next.insert(link.cid, totals);
        let (meta, announced, bound) = match &link.leaf {
            Some(state) => (
                state.remote_meta(),
                state.announced_count(),
                state.is_bound(),
            ),
            None => Default::default(),
        };
        LeafLinkInfo {
            cid: Some(link.cid),
            solicited: false,
            state: if bound {
                LeafLinkState::Connected
            } else {
                LeafLinkState::Connecting
            },
            url: String::new(),
            last_error: None,
            remote_name: meta.name,
            account: link.account().name.clone(),
            remote_account: meta.account,
            remote_interest: link.subs.lock().len(),
            local_interest: announced,
            totals,
            rates: Rates::between(&previous, &totals, elapsed),
            rtt: link.meta.lock().rtt,
            start: Some(link.start),
        }
    }
}
