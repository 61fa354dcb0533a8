//! The Latency view's graphs (egui_plot): p50/p90/p99 over time for the chosen services
//! with their timeouts marked, and the histogram of the window on a log scale of latency.
//! Everything drawn comes from a [`LatencyPlot`], computed without egui.

use std::time::Duration;

use egui::{Color32, RichText, Ui};
use egui_plot::{
    Bar, BarChart, Corner, GridInput, GridMark, HoverPosition, Legend, Line, LineStyle,
    MarkerShape, Plot, PlotPoints, Points,
};

use crate::gui::model::format;
use crate::gui::model::latency::{bar_text, bins, Percentile, Window};
use crate::gui::widgets::NO_INTEREST;

use super::latency::Shown;

/// Height of the two graphs.
const PLOT_HEIGHT: f32 = 280.0;

/// Colours of the services, in plot order (red is kept for timeouts).
const PALETTE: [Color32; 6] = [
    Color32::from_rgb(0x2f, 0x80, 0xd4),
    Color32::from_rgb(0x2e, 0x8b, 0x3e),
    Color32::from_rgb(0x9b, 0x5f, 0xd9),
    Color32::from_rgb(0xad, 0x70, 0x0a),
    Color32::from_rgb(0x1f, 0x8f, 0x8f),
    Color32::from_rgb(0xc2, 0x47, 0x8f),
];

/// The colour of the `i`-th plotted service.
pub fn service_color(i: usize) -> Color32 {
    PALETTE[i % PALETTE.len()]
}

/// Milliseconds, as the graphs' values.
fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn from_millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms.max(0.0) / 1e3).unwrap_or_default()
}

/// The smallest latency a log axis shows (a round trip of 0 has no logarithm).
const LOG_FLOOR_MS: f64 = 1e-4;

fn log_ms(d: Duration) -> f64 {
    millis(d).max(LOG_FLOOR_MS).log10()
}

/// A latency as an axis shows it: "2 ms", "500 µs", "1.5 s" (no trailing zeros).
fn axis_latency(ms: f64) -> String {
    if ms <= 0.0 {
        return "0".into();
    }
    let text = format::latency(from_millis(ms));
    match text.split_once(' ') {
        Some((number, unit)) if number.contains('.') => {
            let number = number.trim_end_matches('0').trim_end_matches('.');
            format!("{number} {unit}")
        }
        _ => text,
    }
}

/// Grid lines of a log10 axis: every power of ten, and 2x and 5x between them while they
/// are far enough apart (egui_plot's own spacing would put lines at 10^0.5 and such).
fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (low, high) = input.bounds;
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return Vec::new();
    }
    let thirds = input.base_step_size < 0.1;
    let mut marks = Vec::new();
    let mut decade = low.floor();
    while decade <= high.ceil() {
        marks.push(GridMark {
            value: decade,
            step_size: 1.0,
        });
        if thirds {
            for factor in [2f64, 5.0] {
                marks.push(GridMark {
                    value: decade + factor.log10(),
                    step_size: 0.3,
                });
            }
        }
        decade += 1.0;
    }
    marks.retain(|m| (low..=high).contains(&m.value));
    marks
}

/// The legend of a graph: small, in the upper left where the oldest points are (the newest,
/// on the right, matter most), in the order the items were added.
fn legend() -> Legend {
    Legend::default()
        .position(Corner::LeftTop)
        .follow_insertion_order(true)
        .text_style(egui::TextStyle::Small)
}

pub fn ui(ui: &mut Ui, shown: &Shown, log_scale: bool, window: Window) {
    let plot = &shown.plot;
    if shown.services.is_empty() || plot.summaries.iter().all(|s| s.round_trips() == 0) {
        ui.add_sized(
            [ui.available_width(), 40.0],
            egui::Label::new(
                RichText::new(format!(
                    "No round trips of the plotted services in the last {}.",
                    window.label()
                ))
                .weak(),
            ),
        );
        return;
    }
    let width = ui.available_width();
    let spacing = ui.spacing().item_spacing.x;
    let series_width = ((width - spacing) * 0.62).max(200.0);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(series_width);
            ui.label(
                RichText::new(format!(
                    "Latency over the last {}, one point per {} s",
                    window.label(),
                    plot.step_secs
                ))
                .small()
                .weak(),
            );
            time_series(ui, shown, log_scale, series_width);
        });
        ui.vertical(|ui| {
            let rest = ui.available_width();
            ui.label(
                RichText::new(format!(
                    "Round trips of the last {} by latency (log scale)",
                    window.label()
                ))
                .small()
                .weak(),
            );
            histogram(ui, shown, rest);
        });
    });
}

fn time_series(ui: &mut Ui, shown: &Shown, log_scale: bool, width: f32) {
    let plot = &shown.plot;
    let value = move |d: Duration| if log_scale { log_ms(d) } else { millis(d) };
    let axis = move |v: f64| axis_latency(if log_scale { 10f64.powf(v) } else { v });
    let mut chart = Plot::new("latency_series")
        .height(PLOT_HEIGHT)
        .width(width)
        .legend(legend())
        .x_axis_label("seconds ago")
        .include_x(-(plot.window_secs as f64))
        .include_x(0.0)
        .allow_scroll(false)
        .x_axis_formatter(|mark, _| format!("{:.0}s", mark.value))
        .y_axis_formatter(move |mark, _| axis(mark.value))
        .label_formatter(|pos| match pos {
            HoverPosition::NearDataPoint {
                plot_name, index, ..
            } => plot.hover_text(plot_name, *index),
            HoverPosition::Elsewhere { .. } => None,
        });
    chart = if log_scale {
        chart.y_grid_spacer(log_grid)
    } else {
        chart.include_y(0.0)
    };
    chart.show(ui, |p| {
        for series in &plot.series {
            let i = shown
                .services
                .iter()
                .position(|s| *s == series.service)
                .unwrap_or(0);
            let points: Vec<[f64; 2]> = series.points.iter().map(|&(x, d)| [x, value(d)]).collect();
            let (style, width) = match series.percentile {
                Percentile::P50 => (LineStyle::Solid, 1.5),
                Percentile::P90 => (LineStyle::dashed_dense(), 1.5),
                Percentile::P99 => (LineStyle::Solid, 2.5),
            };
            p.line(
                Line::new(series.name.clone(), PlotPoints::from(points))
                    .color(service_color(i))
                    .style(style)
                    .width(width),
            );
            if series.points.len() == 1 {
                // One point draws no line: mark it.
                let (x, d) = series.points[0];
                p.points(
                    Points::new(series.name.clone(), PlotPoints::from(vec![[x, value(d)]]))
                        .color(service_color(i))
                        .radius(3.0),
                );
            }
        }
        for marks in &plot.marks {
            let points: Vec<[f64; 2]> = marks
                .points
                .iter()
                .map(|&(x, d, _)| [x, value(d)])
                .collect();
            p.points(
                Points::new(marks.name.clone(), PlotPoints::from(points))
                    .shape(MarkerShape::Cross)
                    .color(NO_INTEREST)
                    .radius(6.0),
            );
        }
    });
}

fn histogram(ui: &mut Ui, shown: &Shown, width: f32) {
    Plot::new("latency_histogram")
        .height(PLOT_HEIGHT)
        .width(width.max(160.0))
        .legend(legend())
        .y_axis_label("round trips")
        .include_y(0.0)
        .allow_scroll(false)
        .x_grid_spacer(log_grid)
        .x_axis_formatter(|mark, _| axis_latency(10f64.powf(mark.value)))
        .label_formatter(|_| None)
        .show(ui, |p| {
            for (i, summary) in shown.plot.summaries.iter().enumerate() {
                let service = summary.service.clone();
                let bars: Vec<Bar> = bins(&summary.histogram)
                    .iter()
                    .map(|bin| {
                        let (low, high) = (log_ms(bin.low), log_ms(bin.high));
                        Bar::new((low + high) / 2.0, bin.count as f64)
                            .width((high - low) * 0.9)
                            .name(bar_text(&service, bin))
                    })
                    .collect();
                p.bar_chart(
                    BarChart::new(format!("{service} round trips"), bars)
                        .color(service_color(i))
                        .element_formatter(Box::new(|bar, _| bar.name.clone())),
                );
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_latencies_drop_trailing_zeros() {
        assert_eq!(axis_latency(10.0), "10 ms");
        assert_eq!(axis_latency(2.5), "2.5 ms");
        assert_eq!(axis_latency(0.5), "500 µs");
        assert_eq!(axis_latency(1500.0), "1.5 s");
        assert_eq!(axis_latency(0.0), "0");
    }

    #[test]
    fn a_log_axis_has_lines_at_powers_of_ten_and_between() {
        let marks = log_grid(GridInput {
            bounds: (-0.2, 2.1),
            base_step_size: 0.01,
        });
        let values: Vec<f64> = marks.iter().map(|m| m.value).collect();
        let expected = [
            0.0,
            2f64.log10(),
            5f64.log10(),
            1.0,
            1.0 + 2f64.log10(),
            1.0 + 5f64.log10(),
            2.0,
        ];
        assert_eq!(values.len(), expected.len(), "{values:?}");
        assert!(values
            .iter()
            .zip(expected)
            .all(|(a, b)| (a - b).abs() < 1e-12));
        let coarse = log_grid(GridInput {
            bounds: (-3.0, 3.0),
            base_step_size: 0.5,
        });
        assert_eq!(coarse.len(), 7, "powers of ten only");
    }
}
