//! Queue groups: how evenly members share the work.

use std::collections::HashMap;

use crate::inspect::snapshot::QueueGroupInfo;

#[derive(Debug, Clone, PartialEq)]
pub struct MemberShare {
    pub cid: u64,
    pub client_name: String,
    pub sid: String,
    pub delivered: u64,
    /// Fraction of the group's deliveries (0..=1); 0 when nothing was delivered.
    pub share: f64,
    /// Deliveries since the previous view (None on the first).
    pub recent: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupShares {
    pub subject: String,
    pub queue: String,
    pub delivered: u64,
    pub members: Vec<MemberShare>,
    /// The busiest member's share over a fair share (1.0 = perfectly even).
    pub imbalance: f64,
}

/// Below this many deliveries an uneven split means nothing.
pub const MIN_DELIVERIES_FOR_IMBALANCE: u64 = 20;
/// Above this the group is flagged as unbalanced.
pub const IMBALANCE_WARNING: f64 = 1.5;

impl GroupShares {
    pub fn is_unbalanced(&self) -> bool {
        self.delivered >= MIN_DELIVERIES_FOR_IMBALANCE && self.imbalance >= IMBALANCE_WARNING
    }

    pub fn fair_share(&self) -> f64 {
        if self.members.is_empty() {
            0.0
        } else {
            1.0 / self.members.len() as f64
        }
    }
}

/// Shares of one group; `previous` maps (client id, sid) to an earlier delivered count.
pub fn shares(g: &QueueGroupInfo, previous: Option<&HashMap<(u64, String), u64>>) -> GroupShares {
    let delivered: u64 = g.members.iter().map(|m| m.delivered).sum();
    let members: Vec<MemberShare> = g
        .members
        .iter()
        .map(|m| MemberShare {
            cid: m.cid,
            client_name: m.client_name.clone(),
            sid: m.sid.clone(),
            delivered: m.delivered,
            share: if delivered == 0 {
                0.0
            } else {
                m.delivered as f64 / delivered as f64
            },
            recent: previous.map(|p| {
                m.delivered
                    .saturating_sub(p.get(&(m.cid, m.sid.clone())).copied().unwrap_or(0))
            }),
        })
        .collect();
    let max_share = members.iter().map(|m| m.share).fold(0.0, f64::max);
    let imbalance = if members.is_empty() || delivered == 0 {
        1.0
    } else {
        max_share * members.len() as f64
    };
    GroupShares {
        subject: g.subject.clone(),
        queue: g.queue.clone(),
        delivered,
        members,
        imbalance,
    }
}

/// The delivered counters of every member, to compare a later snapshot with.
pub fn delivered_counters(groups: &[QueueGroupInfo]) -> HashMap<(u64, String), u64> {
    groups
        .iter()
        .flat_map(|g| g.members.iter())
        .map(|m| ((m.cid, m.sid.clone()), m.delivered))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::snapshot::QueueMember;

    fn group(delivered: &[u64]) -> QueueGroupInfo {
        QueueGroupInfo {
            subject: "jobs.>".into(),
            queue: "workers".into(),
            members: delivered
                .iter()
                .enumerate()
                .map(|(i, &d)| QueueMember {
                    cid: i as u64 + 1,
                    client_name: format!("worker-{i}"),
                    sid: "1".into(),
                    delivered: d,
                })
                .collect(),
        }
    }

    #[test]
    fn even_group_is_balanced() {
        let s = shares(&group(&[100, 100, 100, 100]), None);
        assert_eq!(s.delivered, 400);
        assert!(s.members.iter().all(|m| (m.share - 0.25).abs() < 1e-9));
        assert!((s.imbalance - 1.0).abs() < 1e-9);
        assert!(!s.is_unbalanced());
        assert!((s.fair_share() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn skewed_group_is_flagged() {
        let s = shares(&group(&[700, 200, 100]), None);
        assert!((s.members[0].share - 0.7).abs() < 1e-9);
        assert!((s.imbalance - 2.1).abs() < 1e-9);
        assert!(s.is_unbalanced());
    }

    #[test]
    fn small_or_empty_groups_are_not_flagged() {
        assert!(!shares(&group(&[5, 0, 0]), None).is_unbalanced());
        let empty = shares(&group(&[0, 0]), None);
        assert_eq!(empty.members[0].share, 0.0);
        assert!((empty.imbalance - 1.0).abs() < 1e-9);
        assert!(!shares(&group(&[]), None).is_unbalanced());
    }

    #[test]
    fn recent_deliveries_are_deltas() {
        let before = delivered_counters(&[group(&[10, 10])]);
        let s = shares(&group(&[30, 11]), Some(&before));
        assert_eq!(s.members[0].recent, Some(20));
        assert_eq!(s.members[1].recent, Some(1));
    }
}
