//! The engine: listener, connections, subject trie, routing.

pub mod account;
pub mod auth;
pub mod client;
pub mod close;
pub mod hot_poll;
pub mod outbound;
pub mod permissions;
pub mod record_tap;
mod router;
pub mod server;
pub mod sublist;
pub mod tap;
pub mod tls;

pub use close::CloseReason;

pub use record_tap::BrokerRecording;
pub use server::{BoundBroker, BrokerHandle, Server, StartError};
