//! switchboard: a NATS-protocol broker with a live inspector of everything that crosses it.
//!
//! Map: `proto` (sans-I/O protocol: parser, encoders, subjects, INFO/CONNECT, error texts),
//! `broker` (the engine on tokio: server, connections, sublist, routing), `config`
//! (nats-server's configuration file format), `cli` (nats-server's command-line flags),
//! `inspect` (snapshots and the feed observers read), `logging` (nats-server's log format),
//! `monitor` (nats-server-compatible HTTP monitoring and Prometheus metrics), `record`
//! (record and replay: file format, recorder, replay engine), `remote` (attaching to
//! an existing NATS deployment as a client), `runner` (the headless server
//! and the app), `demo` (demo traffic), `signals` (process signals), `gui` (feature `gui`,
//! on by default: the desktop inspector, which reads `inspect` only).
//!
//! Threads and locks: each connection has a reader task (parses and routes what the client
//! sends) and a writer task (drains the outbound queue). Lock order, outermost first:
//! a client's `subs` map, then an account's sublist, then a client's outbound queue. No
//! lock is held across an `.await`. The window runs on the main thread, with two helpers
//! that take data by value through bounded channels and share no lock with it:
//! `ui-prepare` (derives the subject tree of large snapshots) and `ui-dropper` (frees what
//! the window replaced).

pub mod broker;
pub mod cli;
pub mod config;
pub mod demo;
#[cfg(feature = "gui")]
pub mod gui;
pub mod inspect;
pub mod logging;
pub mod monitor;
pub mod proto;
pub mod record;
pub mod remote;
pub mod runner;
pub mod signals;
