//! Overview: who the server is, how busy it is, what is hottest, what just happened.

use std::time::SystemTime;

use egui::{Color32, RichText, Ui, Vec2};

use crate::inspect::snapshot::{
    BrokerEvent, EventKind, JetStreamState, JetStreamSummary, LinkState, SystemEventKind,
};

use super::{Command, View};
use crate::gui::model::format;
use crate::gui::model::replies::{self, PickerEntry};
use crate::gui::model::smoothing::{trailing_mean, RATE_WINDOW_SECS};
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, NO_INTEREST, OK, OUT, WARN};

/// Points of history the sparklines show (about a minute).
const SPARK_POINTS: usize = 240;
/// Rows of the top subjects.
const TOP_SUBJECTS: usize = 12;

pub fn ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    let snap = &state.snapshot;
    if snap.server.exposed_without_auth {
        widgets::badge(
            ui,
            "Listening beyond this machine without authentication: anyone who can reach it can use this broker",
            NO_INTEREST,
        );
    }
    identity(ui, state);
    super::leaf::overview(ui, &snap.leaf_links);
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 28.0;
        widgets::stat(ui, "Connections", &snap.connections.len().to_string());
        widgets::stat(ui, "Subscriptions", &snap.subscriptions.to_string());
        widgets::stat(ui, "Subjects", &snap.subjects.len().to_string());
        widgets::stat(ui, "Messages in", &format::count(snap.totals.in_msgs));
        widgets::stat(ui, "Messages out", &format::count(snap.totals.out_msgs));
        widgets::stat(ui, "Bytes in", &format::bytes(snap.totals.in_bytes));
        widgets::stat(ui, "Bytes out", &format::bytes(snap.totals.out_bytes));
        widgets::stat(ui, "Slow consumers", &snap.slow_consumers.to_string());
    });
    ui.add_space(4.0);
    jetstream(ui, state, commands);
    ui.add_space(6.0);
    sparklines(ui, state);
    ui.add_space(6.0);
    no_interest_banner(ui, state, commands);
    ui.separator();
    ui.columns(2, |cols| {
        top_subjects_list(&mut cols[0], state, commands);
        events(&mut cols[1], state);
    });
}

fn identity(ui: &mut Ui, state: &UiState) {
    let snap = &state.snapshot;
    let server = &snap.server;
    ui.horizontal(|ui| {
        let name = if server.name.is_empty() {
            "switchboard"
        } else {
            server.name.as_str()
        };
        ui.heading(name);
        if !server.version.is_empty() {
            let text = if snap.vantage.knows_routing() {
                format!(
                    "switchboard {}  (speaks nats-server {})",
                    server.version, server.nats_version
                )
            } else {
                // A remote deployment: the server attached to is a nats-server.
                format!("nats-server {}", server.nats_version)
            };
            ui.label(RichText::new(text).weak());
        }
    });
    egui::Grid::new("identity")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            ui.label("Client URL");
            ui.horizontal(|ui| {
                ui.monospace(&server.client_url);
                widgets::copy_button(ui, "Copy URL", &server.client_url);
            });
            ui.end_row();
            if let Some(url) = &server.websocket_url {
                ui.label("WebSocket URL");
                ui.horizontal(|ui| {
                    ui.monospace(url);
                    widgets::copy_button(ui, "Copy WebSocket URL", url);
                });
                ui.end_row();
            }
            ui.label("Uptime");
            ui.label(format::age(snap.uptime));
            ui.end_row();
            // Our own HTTP port: known only for the embedded broker.
            if snap.vantage.knows_routing() {
                ui.label("Monitoring");
                match &server.monitor_url {
                    Some(url) => ui.hyperlink_to(url, url),
                    None => ui.label(RichText::new("off (no HTTP port)").weak()),
                };
                ui.end_row();
            }
            if !server.id.is_empty() {
                ui.label("Server ID");
                ui.monospace(RichText::new(&server.id).small());
                ui.end_row();
            }
        });
}

/// JetStream: on with its usage and limits, off with how to turn it on, or unknown.
fn jetstream(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    egui::Frame::group(ui.style())
        .inner_margin(egui::Margin::symmetric(8, 6))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            jetstream_inner(ui, state);
            super::jetstream::overview_links(ui, &state.snapshot, commands);
        });
}

fn jetstream_inner(ui: &mut Ui, state: &UiState) {
    let inside = state.snapshot.vantage.knows_routing();
    match &state.snapshot.jetstream {
        JetStreamState::On(js) => jetstream_on(ui, js),
        JetStreamState::Off => {
            ui.horizontal(|ui| {
                ui.label(RichText::new("JetStream").strong());
                ui.label(RichText::new("off").strong().color(Color32::GRAY));
                let hint = if inside {
                    "Turn it on in Settings (JetStream) and restart the broker, or start with -js."
                } else {
                    "The deployment runs without it: nats-server -js turns it on."
                };
                ui.label(RichText::new(hint).weak());
            });
        }
        JetStreamState::Unknown => {
            ui.horizontal(|ui| {
                ui.label(RichText::new("JetStream").strong());
                ui.label(RichText::new("unknown").strong().color(Color32::GRAY));
                if !inside {
                    ui.label(
                        RichText::new(
                            "Known with the system account or a monitoring URL in the profile.",
                        )
                        .weak(),
                    );
                }
            });
        }
    }
}

fn jetstream_on(ui: &mut Ui, js: &JetStreamSummary) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 28.0;
        ui.vertical(|ui| {
            ui.label(RichText::new("JetStream").small().weak());
            ui.label(RichText::new("on").size(18.0).strong().color(OK));
        });
        usage(ui, "Memory store", js.memory_used, js.max_memory);
        usage(ui, "File store", js.store_used, js.max_store);
        widgets::stat(ui, "Streams", &format::count(js.streams));
        widgets::stat(ui, "Stream messages", &format::count(js.messages));
        widgets::stat(ui, "Stream bytes", &format::bytes(js.bytes));
        ui.vertical(|ui| {
            ui.label(RichText::new("API requests").small().weak());
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format::count(js.api_requests))
                        .size(18.0)
                        .strong(),
                );
                let errors = format!(
                    "{} error{}",
                    format::count(js.api_errors),
                    if js.api_errors == 1 { "" } else { "s" }
                );
                let color = if js.api_errors > 0 {
                    WARN
                } else {
                    Color32::GRAY
                };
                ui.label(RichText::new(errors).color(color));
            });
        });
    });
    if !js.store_dir.is_empty() || js.domain.is_some() {
        ui.horizontal(|ui| {
            if !js.store_dir.is_empty() {
                ui.label(RichText::new("Store directory").small().weak());
                ui.monospace(&js.store_dir);
                widgets::copy_button(ui, "Copy path", &js.store_dir);
            }
            if let Some(domain) = &js.domain {
                ui.label(RichText::new("Domain").small().weak());
                ui.monospace(domain);
            }
        });
    }
}

/// A caption, the bytes used of the limit, and a thin bar of the share used.
fn usage(ui: &mut Ui, caption: &str, used: u64, max: Option<u64>) {
    ui.vertical(|ui| {
        ui.label(RichText::new(caption).small().weak());
        ui.label(
            RichText::new(format::bytes_of(used, max))
                .size(18.0)
                .strong(),
        );
        if let Some(max) = max.filter(|m| *m > 0) {
            let share = (used as f64 / max as f64).clamp(0.0, 1.0);
            let color = if share >= 0.9 {
                NO_INTEREST
            } else if share >= 0.75 {
                WARN
            } else {
                IN
            };
            let (rect, response) =
                ui.allocate_exact_size(Vec2::new(140.0, 4.0), egui::Sense::hover());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            let mut fill = rect;
            fill.set_width((rect.width() * share as f32).max(if used > 0 { 1.0 } else { 0.0 }));
            painter.rect_filled(fill, 2.0, color);
            response.on_hover_text(format!(
                "{caption}: {:.1}% of the limit used",
                share * 100.0
            ));
        }
    });
}

fn sparklines(ui: &mut Ui, state: &UiState) {
    let points: Vec<_> = state.rates.iter().rev().take(SPARK_POINTS).rev().collect();
    // Averaged over the last seconds as in Rates: per snapshot, steady traffic zigzags.
    let series = |f: fn(&crate::gui::state::RatePoint) -> f64| -> Vec<f64> {
        let raw: Vec<(f64, f64)> = points.iter().map(|&p| (p.t, f(p))).collect();
        trailing_mean(&raw, RATE_WINDOW_SECS)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    let rates = state.snapshot.rates;
    let size = Vec2::new(180.0, 36.0);
    ui.horizontal_wrapped(|ui| {
        let one = |ui: &mut Ui, caption: &str, value: String, data: Vec<f64>, color: Color32| {
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.label(RichText::new(caption).small().weak());
                    ui.label(RichText::new(value).strong().color(color));
                });
                widgets::sparkline(ui, &data, size, color)
                    .on_hover_text(format!("{caption}, last minute"));
            });
            ui.add_space(12.0);
        };
        one(
            ui,
            "in msgs/s",
            format::per_sec(rates.in_msgs_per_sec),
            series(|p| p.in_msgs),
            IN,
        );
        one(
            ui,
            "out msgs/s",
            format::per_sec(rates.out_msgs_per_sec),
            series(|p| p.out_msgs),
            OUT,
        );
        one(
            ui,
            "in bytes/s",
            format::bytes_per_sec(rates.in_bytes_per_sec),
            series(|p| p.in_bytes),
            IN,
        );
        one(
            ui,
            "out bytes/s",
            format::bytes_per_sec(rates.out_bytes_per_sec),
            series(|p| p.out_bytes),
            OUT,
        );
    });
}

/// The thing only a broker can tell: subjects published with nobody listening.
fn no_interest_banner(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    let no_interest = state.tree.total.no_interest_subjects;
    ui.horizontal(|ui| {
        if no_interest > 0 {
            widgets::badge(
                ui,
                &format!(
                    "{no_interest} subject{} published with no one listening",
                    if no_interest == 1 { "" } else { "s" }
                ),
                NO_INTEREST,
            );
            if ui.button("Show in Subjects").clicked() {
                commands.push(Command::Show(View::Subjects));
            }
        } else if !state.snapshot.vantage.knows_routing() {
            // From outside, messages published to nobody can't be seen.
            ui.label(
                RichText::new("Messages published to no one are seen only by the broker itself")
                    .weak()
                    .small(),
            );
        } else if !state.snapshot.subjects.is_empty() {
            widgets::badge(ui, "Every published subject has a listener", OK);
        }
    });
}

/// One row of the top subjects: a subject, or every reply inbox folded together.
struct TopRow<'a> {
    text: &'a str,
    /// The subject tree's node it opens.
    path: &'a str,
    msgs_per_sec: f64,
    bytes_per_sec: f64,
    /// Subscriptions, or why there is no number.
    subs: TopSubs,
}

enum TopSubs {
    Count(usize),
    NoOne,
    Folded(replies::GroupKind, usize),
}

fn top_subjects_list(ui: &mut Ui, state: &UiState, commands: &mut Vec<Command>) {
    ui.strong("Top subjects by rate");
    let snap = &state.snapshot;
    // Reply inboxes are folded as in Subjects: each is published to once, and a dozen of
    // them would push the subjects that matter off the list.
    let rows: Vec<TopRow> = replies::picker_entries(
        &snap.subjects,
        &state.subjects_by_rate,
        &state.tree,
        !state.filters.show_inboxes,
        |_| true,
        |_| true,
        TOP_SUBJECTS,
    )
    .into_iter()
    .filter_map(|entry| match entry {
        PickerEntry::Subject(i) => {
            let s = snap.subjects.get(i)?;
            let no_interest = s.subscribers == 0 && s.no_interest_msgs > 0;
            Some(TopRow {
                text: &s.subject,
                path: &s.subject,
                msgs_per_sec: s.msgs_per_sec,
                bytes_per_sec: s.bytes_per_sec,
                subs: if no_interest {
                    TopSubs::NoOne
                } else {
                    TopSubs::Count(s.subscribers)
                },
            })
        }
        PickerEntry::Group(g) => {
            let group = state.tree.folds.groups.get(g)?;
            let node = state.tree.nodes.get(group.node)?;
            Some(TopRow {
                text: &group.pattern,
                path: &node.path,
                msgs_per_sec: node.branch.msgs_per_sec,
                bytes_per_sec: node.branch.bytes_per_sec,
                subs: TopSubs::Folded(group.kind, node.branch.subjects),
            })
        }
    })
    .collect();
    if rows.is_empty() {
        ui.label(RichText::new("Nothing published yet.").weak());
        return;
    }
    // A table, not a grid: a grid grows with its longest subject and ran into the event
    // feed beside it, the "no one" badge over the events' timestamps. Here the numbers
    // keep their width and the subject column takes what is left, cut short with "...".
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui_extras::TableBuilder::new(ui)
        .id_salt("top_subjects")
        .striped(true)
        .vscroll(false)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(egui_extras::Column::remainder().at_least(80.0).clip(true))
        .columns(egui_extras::Column::auto().at_least(44.0), 3)
        .header(row_height, |mut header| {
            for title in ["subject", "msgs/s", "bytes/s", "subs"] {
                header.col(|ui| {
                    ui.label(RichText::new(title).small().weak());
                });
            }
        })
        .body(|mut body| {
            for row in &rows {
                body.row(row_height, |mut cells| {
                    let no_interest = matches!(row.subs, TopSubs::NoOne);
                    cells.col(|ui| {
                        let text = RichText::new(row.text).monospace();
                        let text = if no_interest {
                            text.color(NO_INTEREST)
                        } else {
                            text
                        };
                        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                        if ui
                            .link(text)
                            .on_hover_text(format!("{}: show in the subject tree", row.text))
                            .clicked()
                        {
                            commands.push(Command::SelectSubject(row.path.to_string()));
                        }
                    });
                    cells.col(|ui| {
                        ui.label(format::per_sec(row.msgs_per_sec));
                    });
                    cells.col(|ui| {
                        ui.label(format::bytes_per_sec(row.bytes_per_sec));
                    });
                    cells.col(|ui| match row.subs {
                        TopSubs::NoOne => {
                            ui.label(RichText::new("no one").color(NO_INTEREST));
                        }
                        TopSubs::Count(n) => {
                            ui.label(n.to_string());
                        }
                        TopSubs::Folded(kind, n) => {
                            ui.label(RichText::new(kind.short(n)).weak())
                                .on_hover_text(format!("{}, folded into one row", kind.count(n)));
                        }
                    });
                });
            }
        });
}

/// The label, colour and description of an event.
pub fn describe(kind: &EventKind, state: &UiState) -> (&'static str, Color32, String) {
    match kind {
        EventKind::Connected { cid, addr, name } => (
            "connect",
            OK,
            format!(
                "{} from {addr}",
                crate::gui::model::connections::display_name(*cid, name)
            ),
        ),
        EventKind::Disconnected { cid, name, reason } => (
            "disconnect",
            Color32::GRAY,
            format!(
                "{}: {reason}",
                crate::gui::model::connections::display_name(*cid, name)
            ),
        ),
        EventKind::SlowConsumer { cid, name } => (
            "slow consumer",
            WARN,
            crate::gui::model::connections::display_name(*cid, name),
        ),
        EventKind::AuthFailure { addr, user } => (
            "auth failure",
            NO_INTEREST,
            if user.is_empty() {
                format!("from {addr}")
            } else {
                format!("user {user:?} from {addr}")
            },
        ),
        EventKind::PermissionViolation { cid, text } => (
            "permission",
            NO_INTEREST,
            format!("{}: {text}", state.conn_label(*cid)),
        ),
        EventKind::Link { state, detail } => (
            "link",
            if *state == LinkState::Connected {
                OK
            } else {
                WARN
            },
            format!("{}: {detail}", state.label()),
        ),
        EventKind::Server { name, reachable } => (
            "server",
            if *reachable { OK } else { WARN },
            format!(
                "{name} {}",
                if *reachable {
                    "is reachable"
                } else {
                    "stopped answering"
                }
            ),
        ),
        EventKind::System { kind, server, text } => match kind {
            SystemEventKind::Connect => ("connect", OK, format!("{text} on {server}")),
            SystemEventKind::Disconnect => {
                ("disconnect", Color32::GRAY, format!("{text} on {server}"))
            }
            SystemEventKind::AuthError => {
                ("auth failure", NO_INTEREST, format!("{text} on {server}"))
            }
        },
    }
}

fn events(ui: &mut Ui, state: &UiState) {
    ui.strong(format!("Events ({})", state.events.len()));
    if state.events.is_empty() {
        ui.label(RichText::new("No events yet.").weak());
        return;
    }
    let events: Vec<&BrokerEvent> = state.events.iter().rev().collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical()
        .id_salt("events")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, events.len(), |ui, range| {
            for e in &events[range] {
                event_row(ui, e, state);
            }
        });
}

fn event_row(ui: &mut Ui, e: &BrokerEvent, state: &UiState) {
    let (label, color, text) = describe(&e.kind, state);
    ui.horizontal(|ui| {
        ui.monospace(RichText::new(format::clock(e.time)).weak());
        ui.label(RichText::new(label).color(color).strong());
        ui.label(text);
        let age = format::since(SystemTime::now(), e.time);
        if age.as_secs() >= 60 {
            ui.label(
                RichText::new(format!("{} ago", format::age(age)))
                    .weak()
                    .small(),
            );
        }
    });
}
