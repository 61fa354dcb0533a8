//! One file a view. A panel draws from the UI state and pushes [`Command`]s; the app
//! carries them out after the frame (calls into the broker, the client, other views).

pub mod accounts;
pub mod connections;
pub mod consumers;
pub mod flow;
pub mod jetstream;
pub mod kv;
pub mod latency;
pub mod latency_plots;
pub mod leaf;
pub mod messages;
pub mod overview;
pub mod publish;
pub mod queues;
pub mod rates;
pub mod recordings;
pub mod servers;
pub mod settings;
pub mod streams;
pub mod subjects;

use super::client::Outgoing;

/// The views, in navigation order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum View {
    #[default]
    Overview,
    Connections,
    Subjects,
    QueueGroups,
    Messages,
    Rates,
    Publish,
    Latency,
    Recordings,
    FlowMap,
    Streams,
    Consumers,
    Kv,
    Accounts,
    Servers,
    Settings,
}

impl View {
    pub const ALL: [View; 16] = [
        View::Overview,
        View::Connections,
        View::Subjects,
        View::QueueGroups,
        View::Messages,
        View::Rates,
        View::Publish,
        View::Latency,
        View::Recordings,
        View::FlowMap,
        View::Streams,
        View::Consumers,
        View::Kv,
        View::Accounts,
        View::Servers,
        View::Settings,
    ];

    pub fn label(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Connections => "Connections",
            View::Subjects => "Subjects",
            View::QueueGroups => "Queue groups",
            View::Messages => "Messages",
            View::Rates => "Rates",
            View::Publish => "Publish & Request",
            View::Latency => "Latency",
            View::Recordings => "Record & replay",
            View::FlowMap => "Flow map",
            View::Streams => "Streams",
            View::Consumers => "Consumers",
            View::Kv => "KV buckets",
            View::Accounts => "Accounts",
            View::Servers => "Servers",
            View::Settings => "Settings",
        }
    }

    /// The keyboard shortcut that shows this view: Ctrl+1..9 then Ctrl+0 in navigation
    /// order (Cmd on macOS), Ctrl+, for Settings as desktop apps have it. The Flow map came
    /// tenth, after the views people had learnt the keys of: it takes Ctrl+0.
    pub fn shortcut(self) -> Option<egui::KeyboardShortcut> {
        const DIGITS: [egui::Key; 10] = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
            egui::Key::Num8,
            egui::Key::Num9,
            egui::Key::Num0,
        ];
        let key = if self == View::Settings {
            egui::Key::Comma
        } else {
            let position = View::ALL
                .iter()
                .filter(|v| **v != View::Settings)
                .position(|v| *v == self)?;
            *DIGITS.get(position)?
        };
        Some(egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, key))
    }

    /// Does this view need message samples (which cost the broker a copy each)? Publish
    /// too, so that what one sends from the form is in Messages when one looks.
    pub fn needs_samples(self) -> bool {
        matches!(self, View::Messages | View::Publish)
    }
}

/// What a panel asks for; carried out by the app after the frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Show(View),
    Kick(u64),
    SetLatencyTracking(bool),
    /// Show the message view filtered to this subject pattern.
    ShowMessages(String),
    /// Open the publish form filled with this message.
    PrefillPublish(Outgoing),
    SelectConnection(u64),
    SelectSubject(String),
    /// Add a subject to the Rates plot and show it.
    Plot(String),
}
