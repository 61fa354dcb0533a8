//! Pure data for the panels: no egui here, everything unit-tested.

pub mod connections;
pub mod consumer_rates;
pub mod diff;
pub mod filter;
pub mod flow;
pub mod flow_layout;
pub mod flow_pattern;
pub mod format;
pub mod jetstream;
pub mod latency;
pub mod payload;
pub mod queues;
pub mod recording;
pub mod replies;
pub mod smoothing;
pub mod subject_tree;
