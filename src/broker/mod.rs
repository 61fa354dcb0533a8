//! The engine: listener, connections, subject trie, routing.

pub mod account;
pub mod account_claims;
pub mod auth;
pub mod client;
pub mod close;
pub mod events;
pub mod hot_poll;
pub mod imports;
pub mod internal;
pub mod jwt_auth;
pub mod latency;
pub mod leaf;
pub mod operator;
pub mod outbound;
pub mod permissions;
pub mod record_tap;
pub mod resolver;
pub mod router;
pub mod server;
pub mod sublist;
pub mod tap;
pub mod tls;
pub mod tls_map;
pub mod transport;
pub mod websocket;

pub use close::CloseReason;
pub use events::ClientEvents;

pub use internal::{InternalHandler, InternalMsg};
pub use record_tap::BrokerRecording;
pub use router::Fanout;
pub use server::{BoundBroker, BrokerHandle, Server, StartError};
