//! Inspection: what the engine hands to observers. `snapshot` is the plain data, `feed` the
//! bounded, never-blocking hand-over, `control` the commands an observer may send back.

pub mod control;
pub mod feed;
pub mod snapshot;

pub use control::BrokerControl;
pub use feed::{Feed, FeedPublisher};
