//! One file a view. A panel draws from the UI state and pushes [`Command`]s; the app
//! carries them out after the frame (calls into the broker, the client, other views).

pub mod connections;
pub mod latency;
pub mod messages;
pub mod overview;
pub mod publish;
pub mod queues;
pub mod rates;
pub mod servers;
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
    Servers,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Overview,
        View::Connections,
        View::Subjects,
        View::QueueGroups,
        View::Messages,
        View::Rates,
        View::Publish,
        View::Latency,
        View::Servers,
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
            View::Servers => "Servers",
        }
    }

    /// Does this view need message samples (which cost the broker a copy each)?
    pub fn needs_samples(self) -> bool {
        matches!(self, View::Messages)
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
