//! Accounts against both servers: exports and imports between accounts, and the system
//! account's events and request services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod imports;
mod operator;
mod system;
