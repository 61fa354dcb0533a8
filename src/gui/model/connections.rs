//! The connection table: which rows match the filter box, in which order.

use std::cmp::Ordering;
use std::time::SystemTime;

use crate::inspect::snapshot::ConnectionInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnColumn {
    #[default]
    Id,
    Name,
    Lang,
    Addr,
    Uptime,
    Subs,
    MsgsIn,
    MsgsOut,
    BytesIn,
    BytesOut,
    RateIn,
    RateOut,
    Pending,
    Rtt,
}

impl ConnColumn {
    /// Numeric columns sort busiest first on the first click.
    pub fn descending_by_default(self) -> bool {
        !matches!(self, Self::Id | Self::Name | Self::Lang | Self::Addr)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnSort {
    pub column: ConnColumn,
    pub descending: bool,
}

impl ConnSort {
    /// A click on a header: the same column flips, another starts in its natural order.
    pub fn clicked(self, column: ConnColumn) -> Self {
        if self.column == column {
            Self {
                column,
                descending: !self.descending,
            }
        } else {
            Self {
                column,
                descending: column.descending_by_default(),
            }
        }
    }
}

/// Does the connection match the filter text? Matches id (`#12` or `12`), name, language,
/// address, or any subscription subject; case-insensitive.
pub fn matches_filter(c: &ConnectionInfo, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    if f.is_empty() {
        return true;
    }
    let id = f.trim_start_matches('#');
    if id.parse::<u64>().ok() == Some(c.cid) {
        return true;
    }
    c.name.to_lowercase().contains(&f)
        || c.lang.to_lowercase().contains(&f)
        || c.addr.to_string().contains(&f)
        || c.subscriptions
            .iter()
            .any(|s| s.subject.to_lowercase().contains(&f))
}

fn compare(a: &ConnectionInfo, b: &ConnectionInfo, column: ConnColumn) -> Ordering {
    match column {
        ConnColumn::Id => a.cid.cmp(&b.cid),
        ConnColumn::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        ConnColumn::Lang => (&a.lang, &a.version).cmp(&(&b.lang, &b.version)),
        ConnColumn::Addr => a.addr.cmp(&b.addr),
        // Longest-lived first when descending: an earlier start is a longer uptime.
        ConnColumn::Uptime => b
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .cmp(
                &a.start
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
        ConnColumn::Subs => a.subscriptions.len().cmp(&b.subscriptions.len()),
        ConnColumn::MsgsIn => a.totals.in_msgs.cmp(&b.totals.in_msgs),
        ConnColumn::MsgsOut => a.totals.out_msgs.cmp(&b.totals.out_msgs),
        ConnColumn::BytesIn => a.totals.in_bytes.cmp(&b.totals.in_bytes),
        ConnColumn::BytesOut => a.totals.out_bytes.cmp(&b.totals.out_bytes),
        ConnColumn::RateIn => a.rates.in_msgs_per_sec.total_cmp(&b.rates.in_msgs_per_sec),
        ConnColumn::RateOut => a
            .rates
            .out_msgs_per_sec
            .total_cmp(&b.rates.out_msgs_per_sec),
        ConnColumn::Pending => a.pending_bytes.cmp(&b.pending_bytes),
        ConnColumn::Rtt => a.rtt.cmp(&b.rtt),
    }
}

/// Indices into `conns` of the rows to show, sorted; ties fall back to the id.
pub fn table_rows(conns: &[ConnectionInfo], filter: &str, sort: ConnSort) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..conns.len())
        .filter(|&i| matches_filter(&conns[i], filter))
        .collect();
    rows.sort_by(|&a, &b| {
        let ord = compare(&conns[a], &conns[b], sort.column);
        let ord = if sort.descending { ord.reverse() } else { ord };
        ord.then_with(|| conns[a].cid.cmp(&conns[b].cid))
    });
    rows
}

/// `lang version`, or what there is of it.
pub fn lang_version(c: &ConnectionInfo) -> String {
    match (c.lang.is_empty(), c.version.is_empty()) {
        (true, _) => "-".into(),
        (false, true) => c.lang.clone(),
        (false, false) => format!("{} {}", c.lang, c.version),
    }
}

/// A connection's display name: its name, or `#id` when it gave none.
pub fn display_name(id: u64, name: &str) -> String {
    if name.is_empty() {
        format!("#{id}")
    } else {
        format!("{name} #{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::snapshot::{Rates, SubscriptionInfo, Totals};
    use std::time::Duration;

    fn conn(id: u64, name: &str, in_msgs: u64, rate: f64, age_secs: u64) -> ConnectionInfo {
        ConnectionInfo {
            cid: id,
            name: name.into(),
            lang: "go".into(),
            version: "1.41.1".into(),
            addr: ([127, 0, 0, 1], 50_000 + id as u16).into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs),
            subscriptions: vec![SubscriptionInfo {
                subject: format!("svc.{name}.>"),
                queue: None,
                sid: "1".into(),
                delivered: 0,
            }],
            totals: Totals {
                in_msgs,
                ..Default::default()
            },
            rates: Rates {
                in_msgs_per_sec: rate,
                ..Default::default()
            },
            pending_bytes: 0,
            rtt: Some(Duration::from_micros(id * 100)),
            transport: "tcp",
        }
    }

    fn sample() -> Vec<ConnectionInfo> {
        vec![
            conn(3, "billing", 10, 1.0, 30),
            conn(1, "orders", 500, 50.0, 10),
            conn(2, "Audit", 20, 9.0, 99),
        ]
    }

    #[test]
    fn sorts_by_column_and_direction() {
        let c = sample();
        let by = |column, descending| -> Vec<u64> {
            table_rows(&c, "", ConnSort { column, descending })
                .into_iter()
                .map(|i| c[i].cid)
                .collect()
        };
        assert_eq!(by(ConnColumn::Id, false), [1, 2, 3]);
        assert_eq!(by(ConnColumn::Name, false), [2, 3, 1]);
        assert_eq!(by(ConnColumn::MsgsIn, true), [1, 2, 3]);
        assert_eq!(by(ConnColumn::RateIn, false), [3, 2, 1]);
        assert_eq!(by(ConnColumn::Uptime, true), [2, 3, 1]);
        assert_eq!(by(ConnColumn::Rtt, true), [3, 2, 1]);
    }

    #[test]
    fn header_clicks_toggle() {
        let s = ConnSort::default().clicked(ConnColumn::RateIn);
        assert!(s.descending, "rates start busiest first");
        assert!(!s.clicked(ConnColumn::RateIn).descending);
        assert!(!s.clicked(ConnColumn::Name).descending);
    }

    #[test]
    fn filter_by_name_id_and_subscription() {
        let c = sample();
        let ids = |f: &str| -> Vec<u64> {
            table_rows(&c, f, ConnSort::default())
                .into_iter()
                .map(|i| c[i].cid)
                .collect()
        };
        assert_eq!(ids("audit"), [2]);
        assert_eq!(ids("#3"), [3]);
        assert_eq!(ids("svc.orders"), [1]);
        assert_eq!(ids("127.0.0.1:50002"), [2]);
        assert_eq!(ids(""), [1, 2, 3]);
        assert!(ids("nothing-like-it").is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(display_name(4, ""), "#4");
        assert_eq!(display_name(4, "api"), "api #4");
        assert_eq!(lang_version(&sample()[0]), "go 1.41.1");
    }
}
