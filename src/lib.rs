//! switchboard: a NATS-protocol broker with a live inspector of everything that crosses it.
//!
//! The modules form layers; docs/architecture.md names them, says which module may import
//! which (tests/core/layers.rs holds the code to it), and gives the threads, the lock order and
//! the glossary. From the bottom: `proto`, `logging`, `duration` (sans-I/O); `inspect` (the
//! inspection contract, plain data), `record` (the recording library), `options`,
//! `config`, `connect`; `broker` (the engine); `embedded`, `remote` (sources of inspection
//! data), `demo` (demo traffic); `gui` (feature `gui`), `monitor`, `system` (the `$SYS`
//! account's events and requests), `terminal` (front ends);
//! `cli` and `runner` (the composition root).

pub mod broker;
pub mod cli;
pub mod config;
pub mod connect;
pub mod demo;
pub mod duration;
pub mod embedded;
#[cfg(feature = "gui")]
pub mod gui;
pub mod inspect;
pub mod jetstream;
pub mod jwt;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod proto;
pub mod record;
pub mod remote;
pub mod runner;
pub mod system;
pub mod terminal;
#[cfg(test)]
pub(crate) mod testkit;
