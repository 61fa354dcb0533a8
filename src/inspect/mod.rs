//! Inspection: what the engine hands to observers. `snapshot` is the plain data,
//! `feed` the bounded, never-blocking hand-over.

pub mod feed;
pub mod snapshot;
