//! Pure data for the panels: no egui here, everything unit-tested.

pub mod connections;
pub mod diff;
pub mod filter;
pub mod format;
pub mod payload;
pub mod queues;
pub mod recording;
pub mod subject_tree;
