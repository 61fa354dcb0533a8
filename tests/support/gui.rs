//! The GUI tests' harness helpers (egui_kittest), shared by the modules of the `gui` test
//! binary (`tests/gui/main.rs`).
//!
//! Widgets are found by their accessible label and role, as a screen reader would. A wait
//! steps the window between polls (snapshots arrive every 250 ms), bounded by [`PATIENCE`].
// Each GUI test file uses some of these.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use egui::accesskit::Role;
use egui::Rect;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::client::{ClientCommand, NatsClient};
use switchboard::gui::synthetic::SyntheticControl;
use switchboard::gui::{GuiContext, Source};
use switchboard::inspect::feed::{self, FeedPublisher};

/// The window on a synthetic source: the test feeds it snapshots through `publisher`, and
/// reads what its client would have sent from `sent`.
pub struct Rig {
    pub harness: Harness<'static, InspectorApp>,
    pub publisher: FeedPublisher,
    pub control: Arc<SyntheticControl>,
    pub sent: tokio::sync::mpsc::UnboundedReceiver<ClientCommand>,
    _runtime: tokio::runtime::Runtime,
}

/// A 1400 x 900 window on a synthetic source (no GPU, no display, no network).
pub fn rig() -> Rig {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let (publisher, feed) = feed::channel(1024);
    let control = Arc::new(SyntheticControl::new());
    let (client, sent, _outcomes) = NatsClient::detached();
    let ctx = GuiContext {
        source: Source {
            feed,
            control: control.clone(),
            client: ConnectArgs::url("nats://127.0.0.1:4222"),
            label: "test".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(16)
        .build_eframe(move |cc| InspectorApp::with_client(&cc.egui_ctx, ctx, client));
    Rig {
        harness,
        publisher,
        control,
        sent,
        _runtime: runtime,
    }
}

/// The longest any wait for the window may take (a slow, shared machine).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Whether a widget is labelled exactly `label`.
pub fn has<S>(harness: &Harness<'_, S>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

/// Whether a widget's label contains `text`.
pub fn has_containing<S>(harness: &Harness<'_, S>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Runs frames until the window settles, at most the harness's step budget: a view that
/// keeps animating (a progress bar, live rates) is fine, since what a test waits for it
/// waits for explicitly with [`wait_until`].
pub fn settle<S>(harness: &mut Harness<'_, S>) {
    let _ = harness.run_ok();
}

/// Clicks the widget named `label` that is not a plain label: a navigation entry, a tab, a
/// menu entry (not the view's heading of the same name).
#[track_caller]
pub fn go<S>(harness: &mut Harness<'_, S>, label: &str) {
    harness
        .get_all_by_label(label)
        .find(|n| n.accesskit_node().role() != Role::Label)
        .unwrap_or_else(|| panic!("nothing to click named {label:?}"))
        .click();
    settle(harness);
}

/// Clicks the button labelled `label`.
#[track_caller]
pub fn click<S>(harness: &mut Harness<'_, S>, label: &str) {
    harness.get_by_role_and_label(Role::Button, label).click();
    settle(harness);
}

/// Focuses the field labelled `label` and types `text` into it.
#[track_caller]
pub fn type_into<S>(harness: &mut Harness<'_, S>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    settle(harness);
    harness.get_by_label(label).type_text(text);
    settle(harness);
}

/// Steps the window until `done` holds, at most [`PATIENCE`]; panics naming `what`.
#[track_caller]
pub fn wait_until<S>(
    harness: &mut Harness<'_, S>,
    what: &str,
    mut done: impl FnMut(&Harness<'_, S>) -> bool,
) {
    crate::support::wait::wait_until(what, PATIENCE, || {
        harness.step();
        done(harness)
    });
    settle(harness);
}

/// The plain labels (text and place) of the window.
fn labels<S>(harness: &Harness<'_, S>) -> Vec<(String, Rect)> {
    harness
        .query_all_by_role(Role::Label)
        .filter_map(|n| Some((n.accesskit_node().value()?, n.rect())))
        .collect()
}

/// The one plain label reading exactly `text`.
#[track_caller]
fn the_label(labels: &[(String, Rect)], text: &str) -> Rect {
    let found: Vec<Rect> = labels
        .iter()
        .filter(|(t, _)| t == text)
        .map(|(_, r)| *r)
        .collect();
    match found[..] {
        [rect] => rect,
        [] => panic!("no label {text:?}"),
        _ => panic!("{} labels read {text:?}: {found:?}", found.len()),
    }
}

/// The labels on the line of `key` (their middle within its height), left to right.
fn line_of(labels: &[(String, Rect)], key: Rect) -> Vec<(String, Rect)> {
    let mut line: Vec<(String, Rect)> = labels
        .iter()
        .filter(|(_, r)| key.y_range().contains(r.center().y))
        .cloned()
        .collect();
    line.sort_by(|a, b| a.1.min.x.total_cmp(&b.1.min.x));
    line
}

/// The text of the table cell in the row that shows `row` and the column headed `column`,
/// however the table is drawn (a `Grid` or a `TableBuilder`): the row is the labels on the
/// line of `row`, and the column runs from its header's left edge to the next header's.
/// Panics unless exactly one label is there, listing the row.
#[track_caller]
pub fn cell<S>(harness: &Harness<'_, S>, row: &str, column: &str) -> String {
    let labels = labels(harness);
    let header = the_label(&labels, column);
    let next_header = line_of(&labels, header)
        .into_iter()
        .map(|(_, r)| r.min.x)
        .filter(|x| *x > header.min.x)
        .reduce(f32::min)
        .unwrap_or(f32::INFINITY);
    let line = line_of(&labels, the_label(&labels, row));
    let cells: Vec<&String> = line
        .iter()
        .filter(|(_, r)| (header.min.x..next_header).contains(&r.center().x))
        .map(|(t, _)| t)
        .collect();
    match cells[..] {
        [text] => text.clone(),
        _ => panic!(
            "expected one cell in row {row:?} under {column:?}, found {cells:?}; the row: {:?}",
            line.iter().map(|(t, _)| t).collect::<Vec<_>>()
        ),
    }
}
