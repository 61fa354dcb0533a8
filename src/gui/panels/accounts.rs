//! Accounts: each account's connections and subscriptions, what it exports, what it imports
//! from others with the traffic that crossed, and the cross-account flows at a glance.

use egui::{RichText, Ui};

use super::Command;
use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, OK};
use crate::inspect::snapshot::{AccountSummary, ImportSummary};

/// One flow between two accounts, for the summary at the top.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Where the messages come from: the exporter of a stream, the importer of a service
    /// (its requests).
    pub from: String,
    pub to: String,
    pub service: bool,
    pub subject: String,
    pub msgs: u64,
    pub msgs_per_sec: f64,
}

/// Every import as a flow, busiest first (then by accounts and subject, so the order is
/// stable while traffic is equal).
pub fn flows(accounts: &[AccountSummary]) -> Vec<Flow> {
    let mut out: Vec<Flow> = accounts
        .iter()
        .flat_map(|account| {
            account.imports.iter().map(|i| {
                let (from, to) = if i.service {
                    (account.name.clone(), i.account.clone())
                } else {
                    (i.account.clone(), account.name.clone())
                };
                Flow {
                    from,
                    to,
                    service: i.service,
                    subject: i.subject.clone(),
                    msgs: i.msgs,
                    msgs_per_sec: i.msgs_per_sec,
                }
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.msgs_per_sec
            .total_cmp(&a.msgs_per_sec)
            .then_with(|| b.msgs.cmp(&a.msgs))
            .then_with(|| (&a.from, &a.to, &a.subject).cmp(&(&b.from, &b.to, &b.subject)))
    });
    out
}

pub fn ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    let accounts = &state.snapshot.accounts;
    ui.horizontal(|ui| {
        ui.label(format!("{} accounts", accounts.len()));
        ui.label(
            RichText::new(
                "Messages cross accounts only through exports and imports; a stream flows from \
                 its exporter, a service's requests from its importer.",
            )
            .weak()
            .small(),
        );
    });
    ui.separator();
    if accounts.is_empty() {
        ui.label(
            RichText::new(if state.snapshot.vantage.knows_routing() {
                "No accounts yet."
            } else {
                "Accounts of a remote deployment are not shown here."
            })
            .weak(),
        );
        return;
    }
    let flows = flows(accounts);
    egui::ScrollArea::vertical()
        .id_salt("accounts")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if !flows.is_empty() {
                ui.label(RichText::new("Across accounts").strong());
                egui::Grid::new("account_flows")
                    .num_columns(5)
                    .striped(true)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        for title in ["from", "to", "kind", "subject", "msgs/s"] {
                            ui.label(RichText::new(title).weak());
                        }
                        ui.end_row();
                        for f in &flows {
                            ui.label(&f.from);
                            ui.label(&f.to);
                            ui.label(if f.service { "service" } else { "stream" });
                            ui.monospace(&f.subject);
                            ui.label(format!(
                                "{} ({} total)",
                                format::per_sec(f.msgs_per_sec),
                                format::count(f.msgs)
                            ));
                            ui.end_row();
                        }
                    });
                ui.add_space(8.0);
            }
            for account in accounts {
                account_card(ui, account, commands);
                ui.add_space(6.0);
            }
        });
}

fn account_card(ui: &mut Ui, account: &AccountSummary, commands: &mut Vec<Command>) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            ui.label(RichText::new(&account.name).strong().size(16.0));
            if account.system {
                widgets::badge(ui, "system", IN);
            }
            ui.label(
                RichText::new(format!(
                    "{}, {}",
                    plural(account.connections.len(), "connection"),
                    plural(account.subscriptions, "subscription")
                ))
                .weak(),
            );
        });
        if !account.connections.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("connections").weak());
                for cid in &account.connections {
                    if ui
                        .link(format!("#{cid}"))
                        .on_hover_text("Open it in Connections")
                        .clicked()
                    {
                        commands.push(Command::SelectConnection(*cid));
                    }
                }
            });
        }
        if !account.exports.is_empty() {
            ui.label(RichText::new("Exports").weak());
            for e in &account.exports {
                ui.horizontal(|ui| {
                    ui.label(if e.service { "service" } else { "stream" });
                    ui.monospace(&e.subject);
                    let to = if e.accounts.is_empty() {
                        "public".to_string()
                    } else {
                        format!("to {}", e.accounts.join(", "))
                    };
                    ui.label(RichText::new(to).weak());
                    if e.service && e.response_type != "Singleton" {
                        ui.label(RichText::new(format!("{} responses", e.response_type)).weak());
                    }
                    if let Some(subject) = &e.latency_subject {
                        widgets::badge(ui, &format!("latency to {subject}"), OK);
                    }
                });
            }
        }
        if !account.imports.is_empty() {
            ui.label(RichText::new("Imports").weak());
            for i in &account.imports {
                import_row(ui, i, commands);
            }
        }
    });
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn import_row(ui: &mut Ui, i: &ImportSummary, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label(if i.service { "service" } else { "stream" });
        if ui
            .link(RichText::new(&i.local_subject).monospace())
            .on_hover_text("Show its messages")
            .clicked()
        {
            commands.push(Command::ShowMessages(i.local_subject.clone()));
        }
        ui.label(
            RichText::new(format!("from {} {}", i.account, i.subject))
                .weak()
                .monospace(),
        );
        let traffic = if i.service {
            format!(
                "{} requests, {} responses, {}",
                format::count(i.msgs),
                format::count(i.responses),
                format::per_sec(i.msgs_per_sec)
            )
        } else {
            format!(
                "{} messages, {}",
                format::count(i.msgs),
                format::per_sec(i.msgs_per_sec)
            )
        };
        ui.label(traffic);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(service: bool, account: &str, subject: &str, rate: f64) -> ImportSummary {
        ImportSummary {
            service,
            account: account.into(),
            subject: subject.into(),
            local_subject: subject.into(),
            msgs: 10,
            responses: 0,
            msgs_per_sec: rate,
        }
    }

    #[test]
    fn flows_point_the_way_messages_go_busiest_first() {
        let accounts = vec![
            AccountSummary {
                name: "B".into(),
                imports: vec![
                    import(true, "A", "svc", 1.0),
                    import(false, "A", "ev.>", 5.0),
                ],
                ..Default::default()
            },
            AccountSummary {
                name: "A".into(),
                ..Default::default()
            },
        ];
        let f = flows(&accounts);
        assert_eq!(f.len(), 2);
        // The stream comes from its exporter A; the service's requests from importer B.
        assert_eq!(
            (f[0].from.as_str(), f[0].to.as_str(), f[0].service),
            ("A", "B", false)
        );
        assert_eq!(
            (f[1].from.as_str(), f[1].to.as_str(), f[1].service),
            ("B", "A", true)
        );
    }
}
