//! The inspector's UI tests, one binary (each test binary links the whole GUI, which costs
//! CI minutes on two cores): egui_kittest drives the window without a GPU or a display.
#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/gui.rs"]
mod gui;
#[path = "../support/mod.rs"]
mod support;

mod flow;
mod jetstream;
mod jetstream_live;
mod latency;
mod leaf;
mod live;
mod record;
mod remote;
mod ui;
