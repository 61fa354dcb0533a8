//! The accounts part of a snapshot: each account's connections and subscriptions, its
//! exports as configured, and its imports with the traffic that crossed them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use crate::broker::Server;
use crate::inspect::snapshot::{AccountSummary, ExportSummary, ImportSummary};
use crate::options::ImportKind;

/// Keeps the previous tick's import counters to turn them into rates.
#[derive(Debug, Default)]
pub struct AccountsSampler {
    /// (account, import index) -> messages at the last tick.
    last: HashMap<(String, usize), u64>,
}

impl AccountsSampler {
    /// Every account, sorted by name; `elapsed` seconds since the last tick (0 at first).
    pub fn sample(&mut self, server: &Server, elapsed: f64) -> Vec<AccountSummary> {
        let mut members: HashMap<String, Vec<u64>> = HashMap::new();
        for client in server.clients() {
            members
                .entry(client.account().name.clone())
                .or_default()
                .push(client.cid);
        }
        let system = server.opts.system_account_name().map(str::to_string);
        let mut next = HashMap::new();
        let mut out: Vec<AccountSummary> = server
            .accounts()
            .iter()
            .map(|account| {
                let config = server
                    .opts
                    .auth
                    .accounts
                    .iter()
                    .find(|c| c.name == account.name);
                let exports = config
                    .map(|c| {
                        c.exports
                            .iter()
                            .map(|e| ExportSummary {
                                service: e.kind == ImportKind::Service,
                                subject: e.subject.clone(),
                                accounts: e.accounts.clone().unwrap_or_default(),
                                response_type: if e.kind == ImportKind::Service {
                                    e.response_type.as_str().to_string()
                                } else {
                                    String::new()
                                },
                                latency_subject: e.latency.as_ref().map(|l| l.subject.clone()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut imports: Vec<ImportSummary> = Vec::new();
                for import in account.stream_imports.read().iter() {
                    imports.push(ImportSummary {
                        service: false,
                        account: import
                            .exporter
                            .upgrade()
                            .map(|a| a.name.clone())
                            .unwrap_or_default(),
                        subject: import.from.clone(),
                        local_subject: import.to.clone(),
                        msgs: import.delivered.load(Ordering::Relaxed),
                        ..Default::default()
                    });
                }
                for import in account.service_imports.read().iter() {
                    imports.push(ImportSummary {
                        service: true,
                        account: import.exporter_name.clone(),
                        subject: import.subject.clone(),
                        local_subject: import.local.clone(),
                        msgs: import.requests.load(Ordering::Relaxed),
                        responses: import.responses.load(Ordering::Relaxed),
                        ..Default::default()
                    });
                }
                for (i, import) in imports.iter_mut().enumerate() {
                    let key = (account.name.clone(), i);
                    let previous = self.last.get(&key).copied().unwrap_or(import.msgs);
                    if elapsed > 0.0 {
                        import.msgs_per_sec = import.msgs.saturating_sub(previous) as f64 / elapsed;
                    }
                    next.insert(key, import.msgs);
                }
                let mut connections = members.remove(&account.name).unwrap_or_default();
                connections.sort_unstable();
                AccountSummary {
                    name: account.name.clone(),
                    connections,
                    subscriptions: account.sublist.read().count(),
                    system: system.as_deref() == Some(account.name.as_str()),
                    exports,
                    imports,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        self.last = next;
        out
    }
}
