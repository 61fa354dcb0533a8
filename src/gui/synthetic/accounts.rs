//! The synthetic world's accounts: orders exports its events and a pricing service,
//! billing and shipping import them.

use super::SyntheticWorld;

impl SyntheticWorld {
    /// Three accounts: orders exports its events and a pricing service, billing and
    /// shipping import them.
    pub(super) fn accounts(&self) -> Vec<crate::inspect::snapshot::AccountSummary> {
        use crate::inspect::snapshot::{AccountSummary, ExportSummary, ImportSummary};
        let secs = self
            .now
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs();
        let import = |service: bool, subject: &str, local: &str, rate: u64| ImportSummary {
            service,
            account: "orders".into(),
            subject: subject.into(),
            local_subject: local.into(),
            msgs: rate * secs,
            responses: if service { rate * secs } else { 0 },
            msgs_per_sec: rate as f64,
        };
        vec![
            AccountSummary {
                name: "billing".into(),
                connections: vec![3, 4],
                subscriptions: 6,
                imports: vec![
                    import(false, "orders.*.created", "orders.*.created", 120),
                    import(true, "pricing.quote", "quote", 35),
                ],
                ..Default::default()
            },
            AccountSummary {
                name: "orders".into(),
                connections: vec![1, 2, 5],
                subscriptions: 9,
                exports: vec![
                    ExportSummary {
                        subject: "orders.>".into(),
                        ..Default::default()
                    },
                    ExportSummary {
                        service: true,
                        subject: "pricing.quote".into(),
                        accounts: vec!["billing".into()],
                        response_type: "Singleton".into(),
                        latency_subject: Some("latency.pricing".into()),
                    },
                ],
                ..Default::default()
            },
            AccountSummary {
                name: "shipping".into(),
                connections: vec![6],
                subscriptions: 2,
                imports: vec![import(false, "orders.>", "in.orders.>", 160)],
                ..Default::default()
            },
        ]
    }
}
