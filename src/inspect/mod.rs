//! The inspection contract: what any source of inspection data (the embedded broker, a
//! remote deployment) hands to observers, as plain data. `snapshot` is the state at one
//! tick, `feed` the bounded, never-blocking hand-over of snapshots, events and message
//! samples, `control` the commands an observer may send back. It depends on nothing above
//! the protocol: sources (`crate::embedded`, `crate::remote`) fill it, front ends read it.

pub mod control;
pub mod feed;
pub mod histogram;
pub mod snapshot;

pub use control::{NoBroker, RecordCounters, RecordingStatus, SourceControl};
pub use feed::{Feed, FeedPublisher};
