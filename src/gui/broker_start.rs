//! (Re)starting the embedded broker from the window: the message when it could not start
//! (a port in use, most often), a port field, "Start on this port" and "Pick a free port".
//! The start itself runs on the runtime (see [`Launcher`]); this only polls its outcome.

use std::sync::Arc;

use crossbeam_channel::{Receiver, TryRecvError};
use egui::{RichText, Ui};

use super::settings::BrokerSetting;
use super::widgets::{self, NO_INTEREST, WARN};
use super::{Launcher, Source, StartFailure};

/// How often the window looks for the outcome of a start in progress.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Default)]
pub struct BrokerStarter {
    launcher: Option<Arc<dyn Launcher>>,
    /// The address being started and where its outcome will arrive.
    pending: Option<(String, Receiver<Result<Source, StartFailure>>)>,
    /// Why the embedded broker is not running.
    pub failure: Option<StartFailure>,
    /// The address fields of the failure message.
    pub host: String,
    pub port: u16,
    /// JetStream and WebSocket for every start from the window (the settings' current
    /// choice).
    pub setting: BrokerSetting,
}

impl BrokerStarter {
    pub fn set_launcher(&mut self, launcher: Arc<dyn Launcher>) {
        self.launcher = Some(launcher);
    }

    /// Can the window start the embedded broker?
    pub fn available(&self) -> bool {
        self.launcher.is_some()
    }

    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The command line or the configuration file decides JetStream, not the settings.
    pub fn jetstream_given(&self) -> bool {
        self.launcher.as_ref().is_some_and(|l| l.jetstream_given())
    }

    /// The configuration file decides WebSocket, not the settings.
    pub fn websocket_given(&self) -> bool {
        self.launcher.as_ref().is_some_and(|l| l.websocket_given())
    }

    /// `--leaf` or the configuration file decides the leaf-node links, not the settings.
    pub fn leafnodes_given(&self) -> bool {
        self.launcher.as_ref().is_some_and(|l| l.leafnodes_given())
    }

    /// Shows `failure` and offers its port again.
    pub fn fail(&mut self, failure: StartFailure) {
        if let Some((host, port)) = split_addr(&failure.addr) {
            self.host = host;
            self.port = port;
        }
        self.failure = Some(failure);
    }

    /// Asks the launcher to (re)start the embedded broker on `host:port` (0: a free port).
    pub fn start(&mut self, host: &str, port: u16) -> Result<(), String> {
        let launcher = self
            .launcher
            .as_ref()
            .ok_or("this window did not start a broker of its own")?;
        if self.busy() {
            return Err("a start is already in progress".into());
        }
        let rx = launcher.start_embedded(host, port, &self.setting);
        self.pending = Some((format!("{host}:{port}"), rx));
        Ok(())
    }

    /// The new source once a start succeeded; a failure is kept for [`Self::ui`].
    pub fn poll(&mut self) -> Option<Source> {
        let (addr, rx) = self.pending.as_ref()?;
        let outcome = match rx.try_recv() {
            Ok(outcome) => outcome,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(StartFailure {
                addr: addr.clone(),
                port_in_use: false,
                message: "the start was abandoned (the program is shutting down?)".into(),
            }),
        };
        self.pending = None;
        match outcome {
            Ok(source) => {
                self.failure = None;
                Some(source)
            }
            Err(failure) => {
                self.fail(failure);
                None
            }
        }
    }

    /// The message with its port field and buttons, when the broker is not running.
    pub fn ui(&mut self, ui: &mut Ui) {
        let Some(failure) = &self.failure else {
            return;
        };
        let headline = if failure.port_in_use {
            format!(
                "{} is in use \u{2014} by another nats-server?",
                failure.addr
            )
        } else {
            format!("The broker could not start on {}", failure.addr)
        };
        let detail = failure.message.clone();
        let mut start = None;
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.0, NO_INTEREST))
            .inner_margin(10.0)
            .show(ui, |ui| {
                ui.label(
                    RichText::new(headline)
                        .color(NO_INTEREST)
                        .strong()
                        .size(16.0),
                );
                ui.label(RichText::new(detail).weak());
                ui.label(
                    "The embedded broker is not running. Start it on another port; clients \
                     then connect to the new URL.",
                );
                if !self.available() {
                    ui.label(RichText::new("Restart switchboard with -p PORT.").color(WARN));
                    return;
                }
                ui.horizontal(|ui| {
                    let l = ui.label("Port");
                    ui.add(egui::DragValue::new(&mut self.port).range(1..=65535))
                        .labelled_by(l.id);
                    let idle = !self.busy();
                    if ui
                        .add_enabled(idle, egui::Button::new("Start on this port"))
                        .clicked()
                    {
                        start = Some(self.port);
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new("Pick a free port"))
                        .on_hover_text("Let the system choose a port nobody uses")
                        .clicked()
                    {
                        start = Some(0);
                    }
                    if !idle {
                        ui.spinner();
                        ui.label("starting...");
                    }
                });
            });
        if let Some(port) = start {
            let host = if self.host.is_empty() {
                crate::options::DEFAULT_HOST.to_string()
            } else {
                self.host.clone()
            };
            if let Err(e) = self.start(&host, port) {
                widgets::badge(ui, &e, WARN);
            }
        }
        ui.add_space(6.0);
    }
}

/// `host:port` (IPv6 hosts in brackets or bare) into its parts.
fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(
            split_addr("127.0.0.1:4222"),
            Some(("127.0.0.1".into(), 4222))
        );
        assert_eq!(split_addr("[::1]:4333"), Some(("::1".into(), 4333)));
        assert_eq!(split_addr("nonsense"), None);
    }
}
