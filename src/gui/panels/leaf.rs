//! Leaf-node links in the window: the Settings rows that make the embedded broker join a
//! hub, the Overview's line about the link, and the links' table in Connections (links are
//! not clients: nats-server lists them in `/leafz`, apart from `/connz`).

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::gui::model::format;
use crate::gui::settings::Settings;
use crate::gui::widgets::{NO_INTEREST, OK, WARN};
use crate::inspect::snapshot::{LeafLinkInfo, LeafLinkState};

/// The Settings grid's leaf-node rows; true when something changed.
pub fn settings_rows(ui: &mut Ui, settings: &mut Settings) -> bool {
    let mut changed = false;
    ui.label("Leaf node");
    changed |= ui
        .checkbox(&mut settings.leaf, "Join a hub as a leaf node")
        .on_hover_text(
            "The embedded broker connects to a NATS server (its leaf-node port, 7422 by \
             default) and shares subjects with it: local clients reach the hub's services \
             and the hub's traffic reaches them",
        )
        .changed();
    ui.end_row();

    let l = ui.label("Hub URLs");
    changed |= ui
        .add_enabled(
            settings.leaf,
            egui::TextEdit::singleline(&mut settings.leaf_urls)
                .hint_text("nats://hub.example:7422, nats://hub2.example:7422")
                .desired_width(360.0),
        )
        .labelled_by(l.id)
        .on_hover_text(
            "nats://, tls:// or nats-leaf:// URLs of the hub's leaf-node port, separated by \
             commas; user:password@ in a URL authenticates with it",
        )
        .changed();
    ui.end_row();

    let l = ui.label("Credentials file");
    changed |= ui
        .add_enabled(
            settings.leaf,
            egui::TextEdit::singleline(&mut settings.leaf_credentials)
                .hint_text("none (a .creds file: user JWT and seed)")
                .desired_width(360.0),
        )
        .labelled_by(l.id)
        .on_hover_text("A .creds file the hub's operator gave you; empty: none")
        .changed();
    ui.end_row();

    let l = ui.label("Local account");
    changed |= ui
        .add_enabled(
            settings.leaf,
            egui::TextEdit::singleline(&mut settings.leaf_account)
                .hint_text("$G (the global account)")
                .desired_width(160.0),
        )
        .labelled_by(l.id)
        .on_hover_text("The account of this broker whose subjects the link shares")
        .changed();
    ui.end_row();
    changed
}

/// Below the Settings grid: what is wrong with the setting, how the link is doing now, and
/// whether the command line decides instead.
pub fn settings_status(
    ui: &mut Ui,
    settings: &Settings,
    now: Option<&[LeafLinkInfo]>,
    given: bool,
) {
    for problem in settings.leaf_setting().problems() {
        ui.label(RichText::new(format!("Leaf node: {problem}")).color(NO_INTEREST));
    }
    if let Some(links) = now {
        let joined: Vec<&LeafLinkInfo> = links.iter().filter(|l| l.solicited).collect();
        if joined.is_empty() {
            ui.label("The broker joins no hub now.");
        }
        for link in joined {
            let (text, color) = headline(link);
            ui.label(RichText::new(text).color(color));
        }
    }
    if given {
        ui.label(
            RichText::new(
                "This run's leaf nodes come from the command line or the configuration file \
                 (--leaf, leafnodes): the leaf-node setting applies when switchboard starts \
                 without them.",
            )
            .color(WARN),
        );
    }
}

/// One line about a hub this server joins: "Leaf node: connected to URL", or where it is
/// trying to connect and the last error; with its colour.
pub fn headline(link: &LeafLinkInfo) -> (String, egui::Color32) {
    let url = if link.url.is_empty() {
        "the hub"
    } else {
        link.url.as_str()
    };
    match (link.state, &link.last_error) {
        (LeafLinkState::Connected, _) => {
            let name = if link.remote_name.is_empty() {
                String::new()
            } else {
                format!(" ({})", link.remote_name)
            };
            (format!("Leaf node: connected to {url}{name}"), OK)
        }
        (LeafLinkState::Connecting, Some(error)) => (
            format!("Leaf node: not connected to {url} \u{2014} {error}"),
            NO_INTEREST,
        ),
        (LeafLinkState::Connecting, None) => (format!("Leaf node: connecting to {url}"), WARN),
    }
}

/// The Overview's lines: one per hub this server joins, and how many leaf nodes joined it.
pub fn overview(ui: &mut Ui, links: &[LeafLinkInfo]) {
    for link in links.iter().filter(|l| l.solicited) {
        let (text, color) = headline(link);
        ui.label(RichText::new(text).color(color));
    }
    let accepted = links.iter().filter(|l| !l.solicited).count();
    if accepted > 0 {
        let noun = if accepted == 1 {
            "leaf node"
        } else {
            "leaf nodes"
        };
        ui.label(RichText::new(format!("{accepted} {noun} connected to this server")).color(OK));
    }
}

/// The leaf-node links table in Connections.
pub fn table(ui: &mut Ui, links: &[LeafLinkInfo]) {
    ui.label(RichText::new(format!("Leaf-node links ({})", links.len())).strong())
        .on_hover_text(
            "Links to other servers, not clients: nats-server lists them in /leafz, apart \
             from /connz",
        );
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    TableBuilder::new(ui)
        .id_salt("leaf_links_table")
        .striped(true)
        .resizable(true)
        .vscroll(false)
        .column(Column::auto().at_least(36.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(180.0))
        .column(Column::auto().at_least(90.0))
        .columns(Column::auto().at_least(56.0), 7)
        .column(Column::remainder().at_least(60.0))
        .header(row_height, |mut header| {
            for (title, tip) in [
                ("ID", "The link's connection id"),
                ("Kind", "leaf: this server joined a hub; leaf (hub side): a leaf node joined this server"),
                ("Remote", "The hub's URL, or the leaf node's address"),
                ("State", "connected, or connecting (with the last error)"),
                ("Server", "The other server's name"),
                ("Account", "The local account the link is bound to"),
                ("Interest", "Subjects and queue groups the other side announced"),
                ("Msgs in", "Messages received over the link"),
                ("Msgs out", "Messages sent over the link"),
                ("Bytes in", "Bytes received over the link"),
                ("Bytes out", "Bytes sent over the link"),
                ("RTT", "Round-trip time of the last PING"),
            ] {
                header.col(|ui| {
                    ui.strong(title).on_hover_text(tip);
                });
            }
        })
        // Only the rows in view are laid out: a hub may have hundreds of leaf nodes.
        .body(|body| {
            body.rows(row_height, links.len(), |mut row| {
                let Some(link) = links.get(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.label(link.cid.map_or_else(|| "\u{2014}".into(), |c| c.to_string()));
                });
                row.col(|ui| {
                    ui.label(kind(link));
                });
                row.col(|ui| {
                    ui.add(
                        egui::Label::new(RichText::new(&link.url).monospace())
                            .wrap_mode(egui::TextWrapMode::Extend),
                    );
                });
                row.col(|ui| {
                    let (color, text) = match link.state {
                        LeafLinkState::Connected => (OK, "connected"),
                        LeafLinkState::Connecting => (NO_INTEREST, "connecting"),
                    };
                    let r = ui.label(RichText::new(text).color(color));
                    if let Some(error) = &link.last_error {
                        r.on_hover_text(error);
                    }
                });
                row.col(|ui| {
                    ui.label(&link.remote_name);
                });
                row.col(|ui| {
                    ui.label(&link.account);
                });
                row.col(|ui| {
                    ui.label(link.remote_interest.to_string())
                        .on_hover_text(format!("this side announced {}", link.local_interest));
                });
                row.col(|ui| {
                    ui.label(format::count(link.totals.in_msgs));
                });
                row.col(|ui| {
                    ui.label(format::count(link.totals.out_msgs));
                });
                row.col(|ui| {
                    ui.label(format::bytes(link.totals.in_bytes));
                });
                row.col(|ui| {
                    ui.label(format::bytes(link.totals.out_bytes));
                });
                row.col(|ui| {
                    ui.label(link.rtt.map_or_else(String::new, format::latency));
                });
            });
        });
}

/// The link's kind, as the Connections table shows it.
pub fn kind(link: &LeafLinkInfo) -> &'static str {
    if link.solicited {
        "leaf"
    } else {
        "leaf (hub side)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_says_where_and_why() {
        let mut link = LeafLinkInfo {
            solicited: true,
            url: "nats-leaf://hub:7422".into(),
            ..LeafLinkInfo::default()
        };
        assert_eq!(
            headline(&link).0,
            "Leaf node: connecting to nats-leaf://hub:7422"
        );
        link.last_error = Some("hub:7422: connection refused".into());
        assert_eq!(
            headline(&link).0,
            "Leaf node: not connected to nats-leaf://hub:7422 \u{2014} hub:7422: connection refused"
        );
        link.state = LeafLinkState::Connected;
        link.remote_name = "hub-a".into();
        assert_eq!(
            headline(&link).0,
            "Leaf node: connected to nats-leaf://hub:7422 (hub-a)"
        );
        assert_eq!(kind(&link), "leaf");
    }
}
