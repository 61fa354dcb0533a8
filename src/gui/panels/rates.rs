//! Rates: time series of total and per-subject msgs/s or bytes/s (egui_plot).

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::gui::model::format;
use crate::gui::state::UiState;
use crate::gui::widgets::{self, IN, OUT};

#[derive(Default)]
pub struct RatesPanel {
    pub bytes: bool,
    pub subject_filter: String,
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
            ui.label(
                RichText::new(
                    "Totals are always plotted; tick subjects to add them (their history \
                     starts when ticked, the busiest are kept anyway).",
                )
                .weak()
                .small(),
            );
        });
        ui.separator();
        egui::Panel::left("rate_subjects")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| self.picker(ui, state));
        egui::CentralPanel::no_frame().show(ui, |ui| self.plot(ui, state));
    }

    fn picker(&mut self, ui: &mut Ui, state: &mut UiState) {
        widgets::filter_box(ui, "Subjects", &mut self.subject_filter, "filter", 140.0);
        let needle = self.subject_filter.to_lowercase();
        // Indices, not copies: this runs every frame over up to PICKER_SUBJECTS subjects.
        let snapshot = state.snapshot.clone();
        let shown: Vec<usize> = state
            .subjects_by_rate
            .iter()
            .copied()
            .filter(|&i| {
                snapshot.subjects.get(i).is_some_and(|s| {
                    needle.is_empty() || s.subject.to_lowercase().contains(&needle)
                })
            })
            .take(PICKER_SUBJECTS)
            .collect();
        if !state.plotted_subjects.is_empty() && ui.small_button("Untick all").clicked() {
            state.plotted_subjects.clear();
        }
        egui::ScrollArea::vertical()
            .id_salt("rate_picker")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for s in shown.into_iter().filter_map(|i| snapshot.subjects.get(i)) {
                    let mut on = state.plotted_subjects.contains(&s.subject);
                    let rate = if self.bytes {
                        format::bytes_per_sec(s.bytes_per_sec)
                    } else {
                        format::per_sec(s.msgs_per_sec)
                    };
                    if ui
                        .checkbox(&mut on, RichText::new(&s.subject).monospace())
                        .on_hover_text(rate)
                        .changed()
                    {
                        if on {
                            state.plotted_subjects.insert(s.subject.clone());
                        } else {
                            state.plotted_subjects.remove(&s.subject);
                        }
                    }
                }
            });
    }

    fn plot(&self, ui: &mut Ui, state: &UiState) {
        let now = state.now_t;
        let bytes = self.bytes;
        let total = |f: fn(&crate::gui::state::RatePoint) -> f64| -> Vec<[f64; 2]> {
            state.rates.iter().map(|p| [p.t - now, f(p)]).collect()
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
                let ring = state.subject_rates.get(s)?;
                let pts = ring
                    .iter()
                    .map(|&(t, m, b)| [t - now, if bytes { b } else { m }])
                    .collect();
                Some((s.clone(), pts))
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
