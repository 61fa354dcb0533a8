//! Rates: time series of total and per-subject msgs/s or bytes/s (egui_plot), averaged
//! over the last two seconds so that steady traffic draws a steady line (see
//! [`crate::gui::model::smoothing`]), with reply subjects folded into one entry per group
//! as in Subjects ([`crate::gui::model::replies`]).

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::gui::model::format;
use crate::gui::model::replies::{self, PickerEntry, INBOX_GROUP};
use crate::gui::model::smoothing::{trailing_mean, RATE_WINDOW_SECS};
use crate::gui::model::subject_tree::held_order;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, OUT};

#[derive(Default)]
pub struct RatesPanel {
    pub bytes: bool,
    pub subject_filter: String,
    /// Plot each snapshot's own rate instead of the average over the last seconds.
    pub per_tick: bool,
    /// The picker's entries as last shown, and where: while the pointer is over the list,
    /// it keeps that order (busiest first otherwise moves entries under the pointer).
    held: Vec<String>,
    /// What `held` was taken from: the snapshot, the filter and the reply switch (the
    /// order changes with nothing else, so the names are not copied every frame).
    held_from: Option<(u64, String, bool)>,
    list_rect: Option<egui::Rect>,
}

/// The caption that says how the plotted rates are computed.
pub fn rates_caption(per_tick: bool) -> String {
    if per_tick {
        "Each point: what the source counted since the previous snapshot (every 250 ms); \
         the broker counts in batches, so steady traffic zigzags."
            .to_string()
    } else {
        format!(
            "Each point: the rate over the last {RATE_WINDOW_SECS:.0} s (snapshots every \
             250 ms, averaged by time), so steady traffic draws a flat line."
        )
    }
}

/// What a picker entry reads: the subject, or the group's pattern.
fn entry_name<'a>(
    entry: PickerEntry,
    subjects: &'a [crate::inspect::snapshot::SubjectStat],
    tree: &'a crate::gui::model::subject_tree::SubjectTree,
) -> Option<&'a str> {
    match entry {
        PickerEntry::Subject(i) => subjects.get(i).map(|s| s.subject.as_str()),
        PickerEntry::Group(g) => tree.folds.groups.get(g).map(|g| g.pattern.as_str()),
    }
}

/// Subjects offered in the picker.
const PICKER_SUBJECTS: usize = 200;

impl RatesPanel {
    pub fn ui(&mut self, ui: &mut Ui, state: &mut UiState) {
        ui.horizontal(|ui| {
            ui.label("Show");
            ui.selectable_value(&mut self.bytes, false, "msgs/s");
            ui.selectable_value(&mut self.bytes, true, "bytes/s");
            ui.separator();
            ui.checkbox(&mut self.per_tick, "Per snapshot (unsmoothed)")
                .on_hover_text("Plot each snapshot's rate as it came, without averaging");
            ui.separator();
            ui.label(
                RichText::new(
                    "Totals are always plotted; tick subjects to add them (their history \
                     starts when ticked, the busiest are kept anyway).",
                )
                .weak()
                .small(),
            );
        });
        ui.label(RichText::new(rates_caption(self.per_tick)).weak().small());
        ui.separator();
        egui::Panel::left("rate_subjects")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| self.picker(ui, state));
        egui::CentralPanel::no_frame().show(ui, |ui| self.plot(ui, state));
    }

    fn picker(&mut self, ui: &mut Ui, state: &mut UiState) {
        widgets::filter_box(ui, "Subjects", &mut self.subject_filter, "filter", 140.0);
        super::subjects::reply_switch(ui, state);
        let needle = self.subject_filter.to_lowercase();
        let matches = |s: &str| needle.is_empty() || s.to_lowercase().contains(&needle);
        // Indices, not copies: this runs every frame over up to PICKER_SUBJECTS subjects.
        let snapshot = state.snapshot.clone();
        let shown = replies::picker_entries(
            &snapshot.subjects,
            &state.subjects_by_rate,
            &state.tree,
            !state.filters.show_inboxes,
            |s| matches(&s.subject),
            |g| matches(&g.pattern),
            PICKER_SUBJECTS,
        );
        let tree = &state.tree;
        let name = |e: &PickerEntry| entry_name(*e, &snapshot.subjects, tree);
        let hold = self.list_rect.is_some_and(|r| ui.rect_contains_pointer(r));
        let shown = if hold {
            held_order(shown, &self.held, name)
        } else {
            shown
        };
        let current = self
            .held_from
            .as_ref()
            .is_some_and(|(generation, filter, inboxes)| {
                *generation == state.snapshot_generation
                    && *filter == self.subject_filter
                    && *inboxes == state.filters.show_inboxes
            });
        if !hold && !current {
            self.held.clear();
            self.held
                .extend(shown.iter().filter_map(|e| name(e).map(str::to_string)));
            self.held_from = Some((
                state.snapshot_generation,
                self.subject_filter.clone(),
                state.filters.show_inboxes,
            ));
        }
        // Always there (greyed out with nothing ticked): appearing with the first tick, it
        // pushed the list down under the pointer.
        let any_ticked = !state.plotted_subjects.is_empty();
        if ui
            .add_enabled(any_ticked, egui::Button::new("Untick all").small())
            .clicked()
        {
            state.plotted_subjects.clear();
        }
        let plotted = &state.plotted_subjects;
        let mut toggled: Vec<(String, bool)> = Vec::new();
        let list = egui::ScrollArea::vertical()
            .id_salt("rate_picker")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for entry in shown {
                    let (subject, msgs, bytes, note) = match entry {
                        PickerEntry::Subject(i) => {
                            let Some(s) = snapshot.subjects.get(i) else {
                                continue;
                            };
                            (s.subject.as_str(), s.msgs_per_sec, s.bytes_per_sec, None)
                        }
                        PickerEntry::Group(g) => {
                            let Some(group) = tree.folds.groups.get(g) else {
                                continue;
                            };
                            let Some(b) = replies::group_branch(tree, group) else {
                                continue;
                            };
                            (
                                group.pattern.as_str(),
                                b.msgs_per_sec,
                                b.bytes_per_sec,
                                Some(format!("{} together", group.kind.count(b.subjects))),
                            )
                        }
                    };
                    let mut on = plotted.contains(subject);
                    let rate = if self.bytes {
                        format::bytes_per_sec(bytes)
                    } else {
                        format::per_sec(msgs)
                    };
                    let hover = match note {
                        Some(note) => format!("{rate}, {note}"),
                        None => rate,
                    };
                    if ui
                        .checkbox(&mut on, RichText::new(subject).monospace())
                        .on_hover_text(hover)
                        .changed()
                    {
                        toggled.push((subject.to_string(), on));
                    }
                }
            });
        self.list_rect = Some(list.inner_rect);
        for (subject, on) in toggled {
            if on {
                state.plotted_subjects.insert(subject);
            } else {
                state.plotted_subjects.remove(&subject);
            }
        }
    }

    fn plot(&self, ui: &mut Ui, state: &UiState) {
        let now = state.now_t;
        let bytes = self.bytes;
        let per_tick = self.per_tick;
        let smooth = |points: Vec<(f64, f64)>| -> Vec<[f64; 2]> {
            let points = if per_tick {
                points
            } else {
                trailing_mean(&points, RATE_WINDOW_SECS)
            };
            points.into_iter().map(|(t, v)| [t - now, v]).collect()
        };
        let total = |f: fn(&crate::gui::state::RatePoint) -> f64| -> Vec<[f64; 2]> {
            smooth(state.rates.iter().map(|p| (p.t, f(p))).collect())
        };
        let (ins, outs) = if bytes {
            (total(|p| p.in_bytes), total(|p| p.out_bytes))
        } else {
            (total(|p| p.in_msgs), total(|p| p.out_msgs))
        };
        let mut plotted: Vec<&String> = state.plotted_subjects.iter().collect();
        plotted.sort();
        let series: Vec<(String, Vec<[f64; 2]>)> = plotted
            .into_iter()
            .filter_map(|s| {
                let ring = if s == INBOX_GROUP {
                    &state.inbox_rates
                } else {
                    state.subject_rates.get(s)?
                };
                let pts = ring
                    .iter()
                    .map(|&(t, m, b)| (t, if bytes { b } else { m }))
                    .collect();
                Some((s.clone(), smooth(pts)))
            })
            .collect();
        let unit = if bytes { "bytes/s" } else { "msgs/s" };
        Plot::new("rates_plot")
            .legend(Legend::default())
            .x_axis_label("seconds ago")
            .y_axis_label(unit)
            .include_y(0.0)
            .allow_scroll(false)
            .y_axis_formatter(move |mark, _| {
                if bytes {
                    format::bytes_per_sec(mark.value)
                } else {
                    format::per_sec(mark.value)
                }
            })
            .x_axis_formatter(|mark, _| format!("{:.0}s", mark.value))
            .show(ui, move |plot| {
                plot.line(
                    Line::new(format!("total in {unit}"), PlotPoints::from(ins))
                        .color(IN)
                        .width(2.0),
                );
                plot.line(
                    Line::new(format!("total out {unit}"), PlotPoints::from(outs))
                        .color(OUT)
                        .width(2.0),
                );
                for (name, pts) in series {
                    plot.line(Line::new(name, PlotPoints::from(pts)).width(1.5));
                }
            });
    }
}
