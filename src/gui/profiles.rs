//! The Deployments window: the embedded broker and the saved remote profiles, a form to add
//! or edit one, and importing the NATS CLI's contexts. It only edits profiles and says which
//! one to connect to; the app does the switching.

use egui::{RichText, Ui};

use crate::remote::contexts;
use crate::remote::profile::{Credentials, Profile, Profiles};

use super::widgets::{self, NO_INTEREST, OK};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileAction {
    Connect(Box<Profile>),
    Embedded,
    /// Make the embedded broker a leaf node of this deployment (Settings, next start).
    JoinAsLeaf(Box<Profile>),
}

/// nats-server's default leaf-node port, which a deployment's client URLs do not tell.
pub const DEFAULT_LEAF_PORT: u16 = 7422;

/// The hub URLs for joining `profile`'s servers as a leaf node: each server's host on the
/// default leaf-node port, with the profile's user and password or token (a `.creds` file
/// goes in its own field).
pub fn leaf_urls(profile: &Profile) -> String {
    let c = &profile.credentials;
    let auth = match (&c.user, &c.password, &c.token) {
        (Some(u), Some(p), _) if !u.is_empty() => format!("{u}:{p}@"),
        (Some(u), None, _) if !u.is_empty() => format!("{u}@"),
        (_, _, Some(t)) if !t.is_empty() => format!("{t}@"),
        _ => String::new(),
    };
    profile
        .servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|url| {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = match hostport.rsplit_once(':') {
                Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
                _ => hostport,
            };
            let host = host.trim_end_matches('/');
            (!host.is_empty()).then(|| format!("nats-leaf://{auth}{host}:{DEFAULT_LEAF_PORT}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A profile being edited, as the form's text fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileForm {
    pub name: String,
    pub servers: String,
    pub user: String,
    pub password: String,
    pub token: String,
    pub nkey: String,
    pub creds: String,
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_ca: String,
    pub monitor_url: String,
    pub system_user: String,
    pub system_password: String,
    pub system_creds: String,
    pub subjects: String,
    /// The name it had when editing started (renaming replaces it).
    original: Option<String>,
    imported_from: Option<String>,
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn path_text(v: &Option<std::path::PathBuf>) -> String {
    v.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl ProfileForm {
    pub fn from_profile(p: &Profile) -> Self {
        let c = &p.credentials;
        let sys = p.system.clone().unwrap_or_default();
        ProfileForm {
            name: p.name.clone(),
            servers: p.servers.clone(),
            user: text(&c.user),
            password: text(&c.password),
            token: text(&c.token),
            nkey: text(&c.nkey),
            creds: path_text(&c.creds),
            tls_cert: path_text(&c.tls_cert),
            tls_key: path_text(&c.tls_key),
            tls_ca: path_text(&c.tls_ca),
            monitor_url: text(&p.monitor_url),
            system_user: text(&sys.user),
            system_password: text(&sys.password),
            system_creds: path_text(&sys.creds),
            subjects: p.subjects.join(", "),
            original: Some(p.name.clone()).filter(|n| !n.is_empty()),
            imported_from: p.imported_from.clone(),
        }
    }

    /// The profile the form describes (pure: tested without egui).
    pub fn to_profile(&self) -> Profile {
        let system = Credentials {
            user: opt(&self.system_user),
            password: opt(&self.system_password),
            creds: opt(&self.system_creds).map(Into::into),
            ..Credentials::default()
        };
        Profile {
            name: self.name.trim().to_string(),
            servers: self.servers.trim().to_string(),
            credentials: Credentials {
                user: opt(&self.user),
                password: opt(&self.password),
                token: opt(&self.token),
                nkey: opt(&self.nkey),
                creds: opt(&self.creds).map(Into::into),
                tls_cert: opt(&self.tls_cert).map(Into::into),
                tls_key: opt(&self.tls_key).map(Into::into),
                tls_ca: opt(&self.tls_ca).map(Into::into),
            },
            monitor_url: opt(&self.monitor_url),
            system: (system != Credentials::default()).then_some(system),
            subjects: self.subjects.split(',').filter_map(opt).collect::<Vec<_>>(),
            imported_from: self.imported_from.clone(),
        }
    }
}

/// The window's state.
#[derive(Default)]
pub struct ProfilesWindow {
    pub open: bool,
    profiles: Profiles,
    loaded: bool,
    form: Option<ProfileForm>,
    /// The last outcome (saved, imported, an error), and whether it is an error.
    message: Option<(String, bool)>,
}

impl ProfilesWindow {
    fn ensure_loaded(&mut self) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        match Profiles::load() {
            Ok(p) => self.profiles = p,
            Err(e) => self.message = Some((e.to_string(), true)),
        }
    }

    fn save(&mut self, done: &str) {
        self.message = Some(match self.profiles.save() {
            Ok(()) => (done.to_string(), false),
            Err(e) => (e.to_string(), true),
        });
    }

    fn import_contexts(&mut self) {
        match contexts::user_contexts() {
            Ok((found, _)) if found.is_empty() => {
                self.message = Some(("no NATS CLI contexts found".into(), true));
            }
            Ok((found, selected)) => {
                let mut warnings = Vec::new();
                let n = found.len();
                for c in found {
                    warnings.extend(c.warnings);
                    self.profiles.upsert(c.profile);
                }
                let mut text = format!("imported {n} NATS CLI contexts");
                if let Some(s) = selected {
                    text.push_str(&format!(" (selected: {s})"));
                }
                for w in warnings {
                    text.push_str("; ");
                    text.push_str(&w);
                }
                self.save(&text);
            }
            Err(e) => self.message = Some((e.to_string(), true)),
        }
    }

    /// Draws the window when open; returns what the user chose.
    pub fn show(&mut self, ctx: &egui::Context, active: &str) -> Option<ProfileAction> {
        if !self.open {
            return None;
        }
        self.ensure_loaded();
        let mut open = self.open;
        let mut action = None;
        egui::Window::new("Deployments")
            .open(&mut open)
            .default_width(520.0)
            // Beside the navigation, not over it.
            .default_pos(egui::pos2(190.0, 60.0))
            .show(ctx, |ui| action = self.ui(ui, active));
        self.open = open && action.is_none();
        action
    }

    fn ui(&mut self, ui: &mut Ui, active: &str) -> Option<ProfileAction> {
        let mut action = None;
        ui.horizontal(|ui| {
            ui.label("Now inspecting:");
            ui.label(RichText::new(active).strong());
        });
        ui.separator();
        let mut edit = None;
        let mut remove = None;
        // One row a deployment, in aligned columns: name, where it is, what can be done.
        egui::Grid::new("deployments")
            .num_columns(3)
            .striped(true)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label(RichText::new("Embedded broker").strong());
                ui.label(RichText::new("in this window's process").weak());
                ui.horizontal(|ui| {
                    if active == super::EMBEDDED_LABEL {
                        widgets::badge(ui, "inspecting", OK);
                    } else if ui
                        .button("Connect")
                        .on_hover_text("Back to the embedded broker (it kept running)")
                        .clicked()
                    {
                        action = Some(ProfileAction::Embedded);
                    }
                });
                ui.end_row();
                for p in &self.profiles.profiles {
                    ui.vertical(|ui| {
                        ui.label(RichText::new(&p.name).strong());
                        if let Some(context) = &p.imported_from {
                            ui.label(
                                RichText::new(format!("NATS CLI context {context}"))
                                    .weak()
                                    .small(),
                            );
                        }
                    });
                    ui.label(RichText::new(p.servers.replace(',', "\n")).monospace());
                    ui.horizontal(|ui| {
                        if p.name == active {
                            widgets::badge(ui, "inspecting", OK);
                        } else if ui
                            .button("Connect")
                            .on_hover_text(format!("Inspect {} instead", p.name))
                            .clicked()
                        {
                            action = Some(ProfileAction::Connect(Box::new(p.clone())));
                        }
                        if ui
                            .small_button("Join as leaf node")
                            .on_hover_text(
                                "Make the embedded broker a leaf node of this deployment: \
                                 Settings gets its servers on the leaf-node port (7422) and \
                                 its credentials; it joins on the next start",
                            )
                            .clicked()
                        {
                            action = Some(ProfileAction::JoinAsLeaf(Box::new(p.clone())));
                        }
                        if ui.small_button("Edit").clicked() {
                            edit = Some(ProfileForm::from_profile(p));
                        }
                        if ui.small_button("Remove").clicked() {
                            remove = Some(p.name.clone());
                        }
                    });
                    ui.end_row();
                }
            });
        ui.add_space(4.0);
        if let Some(name) = remove {
            self.profiles.remove(&name);
            self.save(&format!("removed {name}"));
        }
        if edit.is_some() {
            self.form = edit;
        }
        ui.horizontal(|ui| {
            if ui.button("New profile").clicked() {
                self.form = Some(ProfileForm::from_profile(&Profile::default()));
            }
            if ui
                .button("Import NATS CLI contexts")
                .on_hover_text("~/.config/nats/context/*.json")
                .clicked()
            {
                self.import_contexts();
            }
        });
        if let Some((text, error)) = &self.message {
            ui.label(RichText::new(text).color(if *error { NO_INTEREST } else { OK }));
        }
        if let Some(form) = &mut self.form {
            ui.separator();
            let outcome = form_ui(ui, form);
            match outcome {
                FormOutcome::None => {}
                FormOutcome::Cancel => self.form = None,
                FormOutcome::Save(connect) => {
                    let profile = form.to_profile();
                    if let Some(problem) = profile.problem() {
                        self.message = Some((problem, true));
                    } else {
                        if let Some(old) = form.original.clone() {
                            self.profiles.remove(&old);
                        }
                        self.profiles.upsert(profile.clone());
                        self.form = None;
                        self.save(&format!("saved {}", profile.name));
                        if connect {
                            action = Some(ProfileAction::Connect(Box::new(profile)));
                        }
                    }
                }
            }
        }
        action
    }
}

enum FormOutcome {
    None,
    Cancel,
    /// Save, and connect when true.
    Save(bool),
}

fn form_ui(ui: &mut Ui, f: &mut ProfileForm) -> FormOutcome {
    let mut outcome = FormOutcome::None;
    egui::Grid::new("profile_form")
        .num_columns(2)
        .show(ui, |ui| {
            let field = |ui: &mut Ui, label: &str, value: &mut String, hint: &str, secret: bool| {
                let caption = ui.label(label);
                ui.add(
                    egui::TextEdit::singleline(value)
                        .hint_text(hint)
                        .password(secret)
                        .desired_width(340.0),
                )
                .labelled_by(caption.id);
                ui.end_row();
            };
            field(ui, "Name", &mut f.name, "production", false);
            field(
                ui,
                "Servers",
                &mut f.servers,
                "nats://a:4222,nats://b:4222",
                false,
            );
            field(ui, "User", &mut f.user, "", false);
            field(ui, "Password", &mut f.password, "", true);
            field(ui, "Token", &mut f.token, "", true);
            field(ui, "NKey seed file", &mut f.nkey, "", false);
            field(
                ui,
                "Credentials file",
                &mut f.creds,
                "user.creds (JWT)",
                false,
            );
            field(ui, "TLS CA", &mut f.tls_ca, "ca.pem", false);
            field(
                ui,
                "TLS certificate",
                &mut f.tls_cert,
                "client-cert.pem",
                false,
            );
            field(ui, "TLS key", &mut f.tls_key, "client-key.pem", false);
            field(
                ui,
                "Monitoring URL",
                &mut f.monitor_url,
                "http://a:8222",
                false,
            );
            field(
                ui,
                "System user",
                &mut f.system_user,
                "for every server's connections",
                false,
            );
            field(ui, "System password", &mut f.system_password, "", true);
            field(
                ui,
                "System creds file",
                &mut f.system_creds,
                "sys.creds",
                false,
            );
            field(ui, "Subjects", &mut f.subjects, ">", false);
        });
    ui.horizontal(|ui| {
        if ui.button("Save").clicked() {
            outcome = FormOutcome::Save(false);
        }
        if ui.button("Save and connect").clicked() {
            outcome = FormOutcome::Save(true);
        }
        if ui.button("Cancel").clicked() {
            outcome = FormOutcome::Cancel;
        }
    });
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_round_trips_a_profile() {
        let p = Profile {
            name: "prod".into(),
            servers: "nats://a:4222,nats://b:4222".into(),
            credentials: Credentials {
                user: Some("u".into()),
                password: Some("p".into()),
                tls_ca: Some("/ca.pem".into()),
                ..Credentials::default()
            },
            monitor_url: Some("http://a:8222".into()),
            system: Some(Credentials {
                creds: Some("/sys.creds".into()),
                ..Credentials::default()
            }),
            subjects: vec!["orders.>".into(), "svc.*".into()],
            imported_from: Some("prod".into()),
        };
        assert_eq!(ProfileForm::from_profile(&p).to_profile(), p);
        let blank = ProfileForm {
            name: " x ".into(),
            servers: "nats://h:4222".into(),
            ..ProfileForm::default()
        }
        .to_profile();
        assert_eq!(blank.name, "x");
        assert_eq!(blank.system, None);
        assert_eq!(blank.patterns(), vec![">".to_string()]);
    }
}

#[cfg(test)]
mod leaf_tests {
    use super::*;

    #[test]
    fn a_profiles_servers_become_hub_urls_on_the_leaf_port() {
        let mut p = Profile {
            servers: "nats://a.example:4222, tls://b.example, c.example:4333".into(),
            ..Profile::default()
        };
        assert_eq!(
            leaf_urls(&p),
            "nats-leaf://a.example:7422, nats-leaf://b.example:7422, nats-leaf://c.example:7422"
        );
        p.credentials.user = Some("app".into());
        p.credentials.password = Some("s3cret".into());
        p.servers = "nats://old:pw@a.example:4222".into();
        assert_eq!(leaf_urls(&p), "nats-leaf://app:s3cret@a.example:7422");
    }
}
