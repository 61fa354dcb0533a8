//! The engine: listener, connections, subject trie, routing.

pub mod options;
