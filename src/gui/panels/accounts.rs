//! Accounts: each account's connections and subscriptions, what it exports, what it imports
//! from others with the traffic that crossed, and the cross-account flows at a glance.

use std::collections::HashMap;
use std::sync::Arc;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::Command;
use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, OK};
use crate::inspect::snapshot::{AccountSummary, ImportSummary};

/// How many flows the summary shows before it scrolls.
const FLOW_ROWS: f32 = 8.0;

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
    let flows = cached_flows(ui, state.snapshot_generation, accounts);
    if !flows.is_empty() {
        ui.label(RichText::new("Across accounts").strong());
        flows_table(ui, &flows);
        ui.add_space(8.0);
    }
    cards(ui, accounts, commands);
}

/// The flows of this snapshot, computed once per snapshot rather than every frame.
fn cached_flows(ui: &Ui, generation: u64, accounts: &[AccountSummary]) -> Arc<Vec<Flow>> {
    let id = egui::Id::unique("account_flows_cache");
    let cached: Option<(u64, Arc<Vec<Flow>>)> = ui.ctx().data(|d| d.get_temp(id));
    match cached {
        Some((g, flows)) if g == generation => flows,
        _ => {
            let flows = Arc::new(flows(accounts));
            ui.ctx()
                .data_mut(|d| d.insert_temp(id, (generation, flows.clone())));
            flows
        }
    }
}

/// The flows, busiest first, in a table of at most [`FLOW_ROWS`] rows that scrolls: only
/// the rows in view are laid out, however many imports there are.
fn flows_table(ui: &mut Ui, flows: &[Flow]) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("account_flows")
        .striped(true)
        .max_scroll_height(row_height * FLOW_ROWS)
        .auto_shrink([false, true])
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::auto().at_least(160.0))
        .column(Column::remainder().at_least(120.0))
        .header(row_height, |mut header| {
            for title in ["from", "to", "kind", "subject", "msgs/s"] {
                header.col(|ui| {
                    ui.label(RichText::new(title).weak());
                });
            }
        })
        .body(|body| {
            body.rows(row_height, flows.len(), |mut row| {
                let Some(f) = flows.get(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.label(&f.from);
                });
                row.col(|ui| {
                    ui.label(&f.to);
                });
                row.col(|ui| {
                    ui.label(if f.service { "service" } else { "stream" });
                });
                row.col(|ui| {
                    ui.monospace(&f.subject);
                });
                row.col(|ui| {
                    ui.label(format!(
                        "{} ({} total)",
                        format::per_sec(f.msgs_per_sec),
                        format::count(f.msgs)
                    ));
                });
            });
        });
}

/// Every account's card in a scroll area. Cards out of view are not laid out: the space
/// they took when last drawn is skipped instead (cards differ in height, so it is
/// remembered per account), which keeps hundreds of accounts within the frame budget.
fn cards(ui: &mut Ui, accounts: &[AccountSummary], commands: &mut Vec<Command>) {
    let heights_id = egui::Id::unique("account_card_heights");
    let mut heights: Arc<HashMap<String, f32>> = ui
        .ctx()
        .data(|d| d.get_temp(heights_id))
        .unwrap_or_default();
    let mut measured: Vec<(String, f32)> = Vec::new();
    egui::ScrollArea::vertical()
        .id_salt("accounts")
        .auto_shrink([false, false])
        .show_viewport(ui, |ui, viewport| {
            let top = ui.max_rect().top();
            for account in accounts {
                let y = ui.cursor().top() - top;
                let known = heights.get(&account.name).copied();
                match known {
                    Some(h) if y + h < viewport.min.y || y > viewport.max.y => {
                        ui.allocate_space(egui::vec2(ui.available_width(), h));
                    }
                    _ => {
                        let h = account_card(ui, account, commands).rect.height();
                        if known != Some(h) {
                            measured.push((account.name.clone(), h));
                        }
                    }
                }
                ui.add_space(6.0);
            }
        });
    if !measured.is_empty() {
        let map = Arc::make_mut(&mut heights);
        // Accounts that went away are forgotten when the map outgrows the list.
        if map.len() > accounts.len() * 2 {
            map.clear();
        }
        map.extend(measured);
        ui.ctx().data_mut(|d| d.insert_temp(heights_id, heights));
    }
}

fn account_card(
    ui: &mut Ui,
    account: &AccountSummary,
    commands: &mut Vec<Command>,
) -> egui::Response {
    egui::Frame::group(ui.style())
        .show(ui, |ui| {
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
                            ui.label(
                                RichText::new(format!("{} responses", e.response_type)).weak(),
                            );
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
        })
        .response
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
