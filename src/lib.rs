//! switchboard: a NATS-protocol broker with a live inspector of everything that crosses it.

pub mod broker;
pub mod cli;
pub mod config;
