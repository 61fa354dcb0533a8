//! Core NATS, the command line and the package, one binary (each test binary links the
//! whole crate, which costs CI about half a minute on two cores): the wire protocol byte for
//! byte against nats-server, the official clients, the drop-in `nats-server`, security and
//! TLS, WebSocket, recording, the demo, the packaging files and the layer table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod clients;
mod demo;
mod dropin;
mod layers;
mod packaging;
mod record;
mod security;
mod tls;
mod websocket;
mod wire;
