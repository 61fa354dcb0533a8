//! Shared harness for the integration tests, one file a concern:
//!
//! * [`servers`]: [`Target`] names a broker implementation (switchboard itself, or the
//!   reference `nats-server`, path taken from `NATS_SERVER_BIN`); [`Server`] starts one
//!   target on a free loopback port and kills it on drop; [`for_each_target`] and friends
//!   run a test body once per selected target and name the target (and print the server
//!   log) when the body panics.
//! * [`wire`]: [`RawConn`], a byte-exact client for wire tests, and `MSG`/`HMSG` builders.
//! * [`clients`]: async-nats helpers, bounded in time.
//! * [`wait`]: [`wait_until`] and friends, the one way a test waits for something.
//! * [`ws`]: a raw WebSocket client (upgrade requests, masked frames, server frames).
//! * [`pki`]: test certificates (a CA, a server and a client certificate).
//! * `gui.rs` (not a module of this one): the egui_kittest helpers, included by the GUI test
//!   files only, with `#[path = "support/gui.rs"] mod gui;`.
//!
//! Target selection: `SWITCHBOARD_TEST_TARGETS` is a comma-separated list of
//! `switchboard` and `reference`. Without it, `switchboard` runs, plus
//! `reference` when `NATS_SERVER_BIN` is set.
//!
//! Caveat for raw tests: nats-server sends its first PING to a client about
//! 2 s after it connects (`min(ping_interval, 2s)` plus jitter), so a raw
//! connection that lives longer than that must expect `PING\r\n` in its stream.
//!
//! When a test fails, the tail of the server's log is printed; with
//! `SWITCHBOARD_TEST_LOG_DIR=DIR` the whole log is also written to DIR.
#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod pki;
pub mod servers;
pub mod wait;
pub mod wire;
pub mod ws;

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use clients::connect_once;
pub use servers::{
    for_each_target, for_each_target_async, for_each_target_bare, for_each_target_opts, free_port,
    selected_targets, Server, ServerInfo, ServerOpts, Target,
};
pub use wait::{
    try_wait_for, try_wait_for_async, wait_for, wait_for_async, wait_until, wait_until_async,
};
pub use wire::{hmsg, msg, parse_msgs, show, RawConn, DEADLINE};

/// Marks a child process started by [`in_own_process`]: it holds the test's name.
const CHILD_ENV: &str = "SWITCHBOARD_TEST_CHILD";

/// Runs `body` in a process of its own, with `envs` set in that process only.
///
/// For a test that needs environment variables: setting them in the test binary would race
/// with the tests running beside it. The test binary is started again with `--exact test`
/// (`test` is the test's name, which for a test at the top of an integration test file is
/// the function's name) and the variables on the child's command; the child runs `body`,
/// and the parent checks that exactly that one test ran there and passed.
#[track_caller]
pub fn in_own_process(test: &str, envs: &[(&str, &OsStr)], body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).is_ok_and(|t| t == test) {
        body();
        return;
    }
    const LIMIT: Duration = Duration::from_secs(120);
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = tempfile::tempfile().expect("a file for the child's stdout");
    let err = tempfile::tempfile().expect("a file for the child's stderr");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, test)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone the stdout file"))
        .stderr(err.try_clone().expect("clone the stderr file"))
        .spawn()
        .expect("start the test binary again");
    let status = try_wait_for(LIMIT, || child.try_wait().expect("the child's status"));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        let _ = f.rewind().and_then(|()| f.read_to_string(&mut text));
        text
    };
    let (stdout, stderr) = (read(out), read(err));
    let Some(status) = status else {
        panic!("{test} did not finish within {LIMIT:?} in its own process\n{stdout}\n{stderr}");
    };
    assert!(
        status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} in its own process: {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
}
