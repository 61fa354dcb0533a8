//! Small reusable widgets: sparklines, share bars, badges, copy buttons, colours.

use egui::{Color32, RichText, Sense, Stroke, Ui, Vec2};

// The colours are mid-tones (relative luminance about 0.2), so each keeps a contrast of
// about 4:1 against both the dark theme's panels (gray 27) and the light theme's (gray 248):
// one set reads in both themes, and the views need not ask which theme is on.

/// Red: published to nobody, errors, disconnects.
pub const NO_INTEREST: Color32 = Color32::from_rgb(0xd6, 0x45, 0x38);
/// Amber: warnings (imbalance, slow consumers, some messages to nobody).
pub const WARN: Color32 = Color32::from_rgb(0xad, 0x70, 0x0a);
/// Green: healthy.
pub const OK: Color32 = Color32::from_rgb(0x2e, 0x8b, 0x3e);
/// Inbound traffic.
pub const IN: Color32 = Color32::from_rgb(0x2f, 0x80, 0xd4);
/// Outbound traffic.
pub const OUT: Color32 = Color32::from_rgb(0x9b, 0x5f, 0xd9);

/// A small line chart of the last values (no axes), scaled to its own maximum.
pub fn sparkline(ui: &mut Ui, values: &[f64], size: Vec2, color: Color32) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    if values.len() >= 2 {
        let max = values.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
        let n = values.len() - 1;
        let points: Vec<egui::Pos2> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x = rect.left() + rect.width() * i as f32 / n as f32;
                let y = rect.bottom() - 2.0 - (rect.height() - 4.0) * (*v / max) as f32;
                egui::pos2(x, y)
            })
            .collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.5, color)));
    }
    response
}

/// A horizontal bar for a share (0..=1) with text on it, and a tick at the fair share.
pub fn share_bar(ui: &mut Ui, share: f64, fair: f64, text: &str, color: Color32) -> egui::Response {
    let size = Vec2::new(ui.available_width().clamp(120.0, 320.0), 16.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    if ui.is_rect_visible(rect) {
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 3.0, ui.visuals().extreme_bg_color);
        let mut fill = rect;
        fill.set_width(rect.width() * share.clamp(0.0, 1.0) as f32);
        painter.rect_filled(fill, 3.0, color.gamma_multiply(0.7));
        if fair > 0.0 && fair < 1.0 {
            let x = rect.left() + rect.width() * fair as f32;
            painter.line_segment(
                [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
                Stroke::new(1.0, ui.visuals().strong_text_color()),
            );
        }
        painter.text(
            rect.left_center() + Vec2::new(6.0, 0.0),
            egui::Align2::LEFT_CENTER,
            text,
            egui::FontId::proportional(12.0),
            ui.visuals().strong_text_color(),
        );
    }
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ProgressIndicator, true, text));
    response.on_hover_text(format!("{text}; the line marks a fair share"))
}

/// Coloured text on a faint background of the same colour.
pub fn badge(ui: &mut Ui, text: &str, color: Color32) -> egui::Response {
    ui.label(
        RichText::new(text)
            .color(color)
            .background_color(color.gamma_multiply(0.18))
            .strong(),
    )
}

/// A small button that puts `text` on the clipboard.
pub fn copy_button(ui: &mut Ui, label: &str, text: &str) -> bool {
    let clicked = ui
        .small_button(label)
        .on_hover_text("Copy to the clipboard")
        .clicked();
    if clicked {
        ui.ctx().copy_text(text.to_string());
    }
    clicked
}

/// A caption above a big value, as on the overview cards.
pub fn stat(ui: &mut Ui, caption: &str, value: &str) {
    ui.vertical(|ui| {
        ui.label(RichText::new(caption).small().weak());
        ui.label(RichText::new(value).size(18.0).strong());
    });
}

/// A filter text box with a hint and a clear button; returns true when changed.
pub fn filter_box(ui: &mut Ui, label: &str, text: &mut String, hint: &str, width: f32) -> bool {
    let l = ui.label(label);
    let r = ui
        .add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(width),
        )
        .labelled_by(l.id);
    let mut changed = r.changed();
    if !text.is_empty() && ui.small_button("Clear").clicked() {
        text.clear();
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG relative luminance.
    fn luminance(c: Color32) -> f64 {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }

    fn contrast(a: Color32, b: Color32) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn status_colours_read_in_both_themes() {
        let dark = egui::Visuals::dark().panel_fill;
        let light = egui::Visuals::light().panel_fill;
        for (name, colour) in [
            ("NO_INTEREST", NO_INTEREST),
            ("WARN", WARN),
            ("OK", OK),
            ("IN", IN),
            ("OUT", OUT),
        ] {
            for (theme, background) in [("dark", dark), ("light", light)] {
                let ratio = contrast(colour, background);
                assert!(ratio >= 3.5, "{name} on {theme}: contrast {ratio:.2}");
            }
        }
    }
}
