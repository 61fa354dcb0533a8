//! The synthetic world's leaf node: the simulated broker joined a team's hub cluster, and
//! one leaf node (a Raspberry Pi at the edge) joined it.

use std::time::Duration;

use super::SyntheticWorld;
use crate::inspect::snapshot::{LeafLinkInfo, LeafLinkState, Rates, Totals};

impl SyntheticWorld {
    pub(super) fn leaf_links(&self) -> Vec<LeafLinkInfo> {
        let secs = self
            .now
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs();
        let link = |cid, solicited, url: &str, name: &str, rate: u64, rtt_micros| LeafLinkInfo {
            cid: Some(cid),
            solicited,
            state: LeafLinkState::Connected,
            url: url.into(),
            last_error: None,
            remote_name: name.into(),
            account: "$G".into(),
            remote_account: "$G".into(),
            remote_interest: 14,
            local_interest: 9,
            totals: Totals {
                in_msgs: rate * secs,
                in_bytes: rate * secs * 96,
                out_msgs: rate * secs / 2,
                out_bytes: rate * secs * 48,
            },
            rates: Rates {
                in_msgs_per_sec: rate as f64,
                in_bytes_per_sec: (rate * 96) as f64,
                out_msgs_per_sec: (rate / 2) as f64,
                out_bytes_per_sec: (rate * 48) as f64,
            },
            rtt: Some(Duration::from_micros(rtt_micros)),
            start: Some(self.start),
        };
        vec![
            link(
                90,
                true,
                "nats://hub.dev.example:7422",
                "hub-dev-1",
                40,
                2_300,
            ),
            link(91, false, "192.168.1.40:51812", "edge-pi", 6, 8_100),
        ]
    }
}
