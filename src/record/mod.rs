//! Record and replay: the traffic of the embedded broker (through the recording tap,
//! `broker::record_tap`) or of any NATS server (as a client) into an append-only file, and
//! back out into a server, in order and with the recorded timing.
//!
//! One job per file: `format` (the file format, docs/recording-format.md), `append_file` (the
//! file, written around the page cache in aligned blocks), `writer` and
//! `reader` (framed records; a torn tail is reported, not fatal), `recorder` (bounded queue
//! and writer thread with live counters and drop accounting), `cpu_budget` (the writer gives
//! way to a broker that needs the CPU), `summary` (what a file holds),
//! `select` (subject filters and remaps), `replay` (the timed engine with its control),
//! `nats` (async-nats options, headers, the replay publisher), `remote` (recording as a
//! client), `ndjson` (export/import), `progress` (the terminal status line), `cli` (the
//! subcommands).
//!
//! For a GUI: `BrokerHandle::start_recording(path, RecordOptions)` gives a
//! `BrokerRecording` (`counters()`, `monitor()`, `stop()`); `summary::summarize(path)` opens
//! a file; `replay::spawn_replay(path, ReplayOptions, NatsPublisher)` gives a
//! `ReplayControl` (`pause`, `resume`, `stop`, `set_speed`, `progress`).

pub mod append_file;
pub mod cpu_budget;
pub mod format;
pub mod nats;
pub mod ndjson;
pub mod progress;
pub mod reader;
pub mod recorder;
pub mod remote;
pub mod replay;
pub mod select;
pub mod summary;
pub mod writer;

pub use format::{Message, Meta, Record, Stats};
pub use recorder::{RecordMonitor, RecordOptions};
pub use replay::{spawn_replay, Progress, ReplayControl, ReplayOptions, ReplayState, Speed};
pub use summary::{summarize, Summary};

#[cfg(test)]
pub(crate) mod tests;
