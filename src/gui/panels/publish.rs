//! Publish & Request: a form to publish a message, or send a request and see the reply
//! (or no responders / timeout) and its latency. The network work happens in the client
//! task; results arrive through [`PublishPanel::on_outcome`].

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use egui::{RichText, Ui};

use crate::gui::client::{ClientCommand, Outcome, Outgoing};
use crate::gui::model::format;
use crate::gui::model::payload;
use crate::gui::settings::{SendMode, Template};
use crate::gui::widgets::{self, NO_INTEREST, OK, WARN};
use crate::proto::subject;

/// Outcomes kept in the results list.
const RESULTS_KEPT: usize = 50;

pub struct PublishPanel {
    pub subject: String,
    pub reply: String,
    pub headers: String,
    pub payload: String,
    pub timeout_millis: u64,
    /// Why the form can't be sent (shown under it).
    pub error: Option<String>,
    /// Newest first.
    pub results: VecDeque<(SystemTime, Outcome)>,
    /// Commands sent and not yet answered.
    pub in_flight: usize,
    /// The name a template is saved under.
    pub template_name: String,
    /// Publish or request: what the loaded template does, and what a saved one will do.
    pub mode: SendMode,
}

/// A change to the saved templates, carried out (and saved) by the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateAction {
    Save(Template),
    Delete(String),
}

impl Default for PublishPanel {
    fn default() -> Self {
        Self {
            subject: String::new(),
            reply: String::new(),
            headers: String::new(),
            payload: String::new(),
            timeout_millis: 2000,
            error: None,
            results: VecDeque::new(),
            in_flight: 0,
            template_name: String::new(),
            mode: SendMode::Publish,
        }
    }
}

impl PublishPanel {
    /// Fills the form from a message (publish again, publish to a subject).
    pub fn prefill(&mut self, msg: &Outgoing) {
        self.subject = msg.subject.clone();
        self.reply = msg.reply.clone().unwrap_or_default();
        self.headers = payload::header_lines(&msg.headers);
        self.payload = String::from_utf8_lossy(&msg.payload).into_owned();
        self.error = None;
    }

    pub fn on_outcome(&mut self, outcome: Outcome) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.results.len() == RESULTS_KEPT {
            self.results.pop_back();
        }
        self.results.push_front((SystemTime::now(), outcome));
    }

    /// The form as a template named `name`.
    pub fn template(&self, name: &str) -> Template {
        Template {
            name: name.to_string(),
            subject: self.subject.clone(),
            reply: self.reply.clone(),
            headers: self.headers.clone(),
            payload: self.payload.clone(),
            mode: self.mode,
            timeout_millis: self.timeout_millis,
        }
    }

    /// Fills the form from a template.
    pub fn load(&mut self, template: &Template) {
        self.subject = template.subject.clone();
        self.reply = template.reply.clone();
        self.headers = template.headers.clone();
        self.payload = template.payload.clone();
        self.mode = template.mode;
        if template.timeout_millis > 0 {
            self.timeout_millis = template.timeout_millis;
        }
        self.template_name = template.name.clone();
        self.error = None;
    }

    /// The saved templates: load, delete, and save the form under a name.
    pub fn templates_ui(&mut self, ui: &mut Ui, templates: &[Template]) -> Option<TemplateAction> {
        let mut action = None;
        egui::CollapsingHeader::new(format!("Templates ({})", templates.len()))
            .id_salt("publish_templates")
            .default_open(true)
            .show(ui, |ui| {
                if templates.is_empty() {
                    ui.label(
                        RichText::new("No templates yet: fill the form, name it, save it.").weak(),
                    );
                }
                for t in templates {
                    ui.horizontal(|ui| {
                        if ui
                            .button(format!("Load {}", t.name))
                            .on_hover_text(format!("{} ({:?})", t.subject, t.mode))
                            .clicked()
                        {
                            self.load(t);
                        }
                        ui.monospace(&t.subject);
                        let mode = match t.mode {
                            SendMode::Publish => "publish",
                            SendMode::Request => "request",
                        };
                        ui.label(RichText::new(mode).weak());
                        if ui.small_button(format!("Delete {}", t.name)).clicked() {
                            action = Some(TemplateAction::Delete(t.name.clone()));
                        }
                    });
                }
                ui.horizontal(|ui| {
                    let l = ui.label("Template name");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.template_name)
                            .hint_text("e.g. create order")
                            .desired_width(180.0),
                    )
                    .labelled_by(l.id);
                    ui.radio_value(&mut self.mode, SendMode::Publish, "publish");
                    ui.radio_value(&mut self.mode, SendMode::Request, "request");
                    if ui.button("Save template").clicked() {
                        let name = self.template_name.trim().to_string();
                        if name.is_empty() {
                            self.error = Some("name the template first".into());
                        } else {
                            action = Some(TemplateAction::Save(self.template(&name)));
                        }
                    }
                });
            });
        action
    }

    /// Validates the form into a message.
    pub fn outgoing(&self) -> Result<Outgoing, String> {
        let subj = self.subject.trim();
        if subj.is_empty() {
            return Err("enter a subject".into());
        }
        if !subject::is_valid_literal_subject(subj.as_bytes()) || subj.contains(char::is_whitespace)
        {
            return Err(format!("{subj:?} is not a subject one can publish to"));
        }
        let reply = self.reply.trim();
        if !reply.is_empty()
            && (!subject::is_valid_literal_subject(reply.as_bytes())
                || reply.contains(char::is_whitespace))
        {
            return Err(format!("{reply:?} is not a valid reply subject"));
        }
        Ok(Outgoing {
            subject: subj.to_string(),
            reply: (!reply.is_empty()).then(|| reply.to_string()),
            headers: payload::parse_header_lines(&self.headers)?,
            payload: self.payload.clone().into_bytes(),
        })
    }

    /// Draws the form; returns the command to send, if a button was pressed.
    pub fn ui(&mut self, ui: &mut Ui, client_url: &str) -> Option<ClientCommand> {
        let mut command = None;
        ui.label(
            RichText::new(format!(
                "Sent by the inspector's own client, connected to {client_url}"
            ))
            .weak(),
        );
        ui.add_space(4.0);
        egui::Grid::new("publish_form")
            .num_columns(2)
            .spacing([10.0, 6.0])
            .show(ui, |ui| {
                let l = ui.label("Subject");
                ui.add(
                    egui::TextEdit::singleline(&mut self.subject)
                        .hint_text("orders.created")
                        .desired_width(360.0),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Reply to");
                ui.add(
                    egui::TextEdit::singleline(&mut self.reply)
                        .hint_text("optional, publish only")
                        .desired_width(360.0),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Headers");
                ui.add(
                    egui::TextEdit::multiline(&mut self.headers)
                        .hint_text("Key: value, one a line")
                        .desired_rows(3)
                        .desired_width(360.0)
                        .code_editor(),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Payload");
                ui.add(
                    egui::TextEdit::multiline(&mut self.payload)
                        .hint_text("{\"id\": 1}")
                        .desired_rows(8)
                        .desired_width(f32::INFINITY)
                        .code_editor(),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Request timeout");
                ui.add(
                    egui::DragValue::new(&mut self.timeout_millis)
                        .range(10..=60_000)
                        .suffix(" ms"),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
        ui.horizontal(|ui| {
            if ui
                .add(egui::Button::new("Publish").selected(self.mode == SendMode::Publish))
                .on_hover_text("Publish once, no reply awaited")
                .clicked()
            {
                command = self
                    .outgoing()
                    .map(ClientCommand::Publish)
                    .map_err(|e| self.error = Some(e))
                    .ok();
            }
            if ui
                .add(egui::Button::new("Send request").selected(self.mode == SendMode::Request))
                .on_hover_text("Publish with a fresh inbox and wait for one reply")
                .clicked()
            {
                let timeout = Duration::from_millis(self.timeout_millis);
                command = self
                    .outgoing()
                    .map(|mut msg| {
                        msg.reply = None;
                        ClientCommand::Request { msg, timeout }
                    })
                    .map_err(|e| self.error = Some(e))
                    .ok();
            }
            if ui.button("Pretty-print JSON").clicked() {
                match payload::render_json(self.payload.as_bytes()) {
                    Ok(pretty) => self.payload = pretty,
                    Err(e) => self.error = Some(e),
                }
            }
            if self.in_flight > 0 {
                ui.label(RichText::new(format!("waiting for {}", self.in_flight)).weak());
            }
        });
        if command.is_some() {
            self.error = None;
            self.in_flight += 1;
        }
        if let Some(e) = &self.error {
            ui.label(RichText::new(e).color(NO_INTEREST));
        }
        ui.separator();
        self.results_ui(ui);
        command
    }

    fn results_ui(&self, ui: &mut Ui) {
        ui.strong("Results");
        if self.results.is_empty() {
            ui.label(RichText::new("Nothing sent yet.").weak());
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("publish_results")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for (i, (at, outcome)) in self.results.iter().enumerate() {
                    ui.horizontal_wrapped(|ui| {
                        ui.monospace(RichText::new(format::clock(*at)).weak());
                        outcome_line(ui, outcome);
                    });
                    if let Outcome::Reply { reply, .. } = outcome {
                        egui::CollapsingHeader::new(format!("reply on {}", reply.subject))
                            .id_salt(("reply", i))
                            .default_open(i == 0)
                            .show(ui, |ui| {
                                for (k, v) in &reply.headers {
                                    ui.monospace(format!("{k}: {v}"));
                                }
                                let view = payload::best_view(&reply.payload);
                                let text = payload::render(&reply.payload, view);
                                ui.horizontal(|ui| {
                                    widgets::copy_button(ui, "Copy reply", &text);
                                });
                                ui.add(
                                    egui::TextEdit::multiline(&mut text.as_str())
                                        .code_editor()
                                        .desired_width(f32::INFINITY),
                                )
                                .on_hover_text("Reply payload");
                            });
                    }
                }
            });
    }
}

fn outcome_line(ui: &mut Ui, outcome: &Outcome) {
    match outcome {
        Outcome::Published { subject, bytes } => {
            ui.label(RichText::new("published").color(OK).strong());
            ui.monospace(subject);
            ui.label(format::bytes(*bytes as u64));
        }
        Outcome::Reply {
            subject,
            latency,
            reply,
        } => {
            ui.label(RichText::new("reply").color(OK).strong());
            ui.monospace(subject);
            ui.label(format!(
                "in {}, {}",
                format::latency(*latency),
                format::bytes(reply.payload.len() as u64)
            ));
        }
        Outcome::NoResponders { subject, latency } => {
            ui.label(RichText::new("no responders").color(NO_INTEREST).strong());
            ui.monospace(subject);
            ui.label(format!("(told in {})", format::latency(*latency)));
        }
        Outcome::TimedOut { subject, timeout } => {
            ui.label(RichText::new("timed out").color(WARN).strong());
            ui.monospace(subject);
            ui.label(format!("no reply within {}", format::latency(*timeout)));
        }
        Outcome::Failed(e) => {
            ui.label(RichText::new("failed").color(NO_INTEREST).strong());
            ui.label(e);
        }
    }
}
