//! Inspection: what the engine hands to observers. `snapshot` is the plain data, `feed` the
//! bounded, never-blocking hand-over, `sampler` turns engine counters into snapshots,
//! `control` the commands an observer may send back, `embedded` wires both to the broker
//! running in this process.

pub mod control;
pub mod embedded;
pub mod feed;
pub mod sampler;
pub mod snapshot;

pub use control::{BrokerControl, DemoStatus, NoBroker, RecordingStatus};
pub use feed::{Feed, FeedPublisher};
