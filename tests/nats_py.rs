//! JetStream consumers, the key-value store and the object store end to end through
//! nats-py, the Python client (issue 17), as the async-nats tests in `tests/jetstream.rs` do
//! through Rust.
//!
//! Each test runs one script of `tests/py/` (asyncio, nats-py's JetStream API) against each
//! selected target, each a fresh server with JetStream on (`-js -sd DIR`):
//! `python3 tests/py/<script>.py nats://127.0.0.1:PORT`. A script checks concrete values,
//! prints one line (`ok <name>: ...` or `FAIL <name>: ...`) and exits non-zero on any
//! failure; it is killed when it overruns [`SCRIPT_LIMIT`].
//!
//! * `py_pull`: pull fetch, ack, nak with and without delay, in_progress, term, redelivery
//!   after ack_wait, the consumer's counters.
//! * `py_push`: a durable push consumer with manual acks: order, nak and ack_wait
//!   redeliveries, push_bound, binding again, a callback subscription.
//! * `py_ordered`: an ordered push consumer (flow control, heartbeats) over 1,000 messages.
//! * `py_kv`: put/get/revisions, create and update conflicts, delete, purge, history, keys,
//!   watchers seeing a second connection's changes, direct and non-direct buckets.
//! * `py_objstore`: a ~3 MB object in 128 KiB chunks with its digest, info, list, watch,
//!   delete, replace (old chunks purged) and seal.
//! * `py_creds`: operator mode (JWTs made by `tests/accounts/operator/kit.rs`): a `.creds`
//!   file and a JWT with its seed apart, nats-py signing the nonce with nkeys; a request,
//!   the user JWT's permissions, a revoked user refused.
//!
//! Python 3 is needed. When it does not import nats-py and nkeys, the tests install
//! [`NATS_PY`] and [`NKEYS`] with pip under the target directory once (`cargo test` alone
//! sets up what it needs); when that fails they fail, saying why. `SWITCHBOARD_SKIP_PY=1` skips them explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "support/jetstream.rs"]
#[allow(dead_code)]
mod js;

#[path = "accounts/operator/kit.rs"]
#[allow(dead_code)]
mod kit;

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use js::for_each_js_target;
use support::{try_wait_for, Server};

/// The nats-py release the scripts are written against (also pinned in `.ci/run`).
const NATS_PY: &str = "2.16.0";
/// The nkeys release nats-py signs the nonce of operator-mode servers with (`.creds`).
const NKEYS: &str = "0.2.1";

/// How long one script may run (each takes a few seconds; the machine may be busy).
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// Where nats-py is for the scripts: `Some(dir)` to put on `PYTHONPATH` (installed there by
/// these tests), `Some("")` when python3 imports it already, `None` when
/// `SWITCHBOARD_SKIP_PY=1` says to skip the tests. Panics, saying why, when Python 3 is
/// missing or nats-py can be neither imported nor installed.
fn python_ready() -> Option<PathBuf> {
    if std::env::var("SWITCHBOARD_SKIP_PY").is_ok_and(|v| v == "1") {
        eprintln!("SWITCHBOARD_SKIP_PY=1: the nats-py tests are skipped");
        return None;
    }
    // Once for the whole test binary: the tests run on several threads.
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match READY.get_or_init(find_or_install_nats_py) {
        Ok(path) => Some(path.clone()),
        Err(why) => panic!("{why}"),
    }
}

/// The installed nats-py's version when `python3` (with `path` on `PYTHONPATH`) imports
/// it and nkeys.
fn nats_py_version(path: &Path) -> Result<Option<String>, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import nats, nkeys, importlib.metadata as m; print(m.version('nats-py'))",
        ])
        .env("PYTHONPATH", path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("python3 could not be started ({e}): these tests need Python 3"))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// nats-py (with nkeys) as installed for `python3`, else [`NATS_PY`] and [`NKEYS`]
/// installed under the target directory (so that `cargo test` alone sets up what it needs).
fn find_or_install_nats_py() -> Result<PathBuf, String> {
    if let Some(version) = nats_py_version(Path::new(""))? {
        if version != NATS_PY {
            eprintln!(
                "note: nats-py {version} is installed; the scripts are written against \
                 {NATS_PY} (`python3 -m pip install nats-py=={NATS_PY}`)"
            );
        }
        return Ok(PathBuf::new());
    }
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nats-py-{NATS_PY}-nkeys-{NKEYS}"));
    if nats_py_version(&dir)?.as_deref() == Some(NATS_PY) {
        return Ok(dir);
    }
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&dir)
        .arg(format!("nats-py=={NATS_PY}"))
        .arg(format!("nkeys=={NKEYS}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("python3 -m pip could not be started: {e}"))?;
    if !out.status.success() || nats_py_version(&dir)?.as_deref() != Some(NATS_PY) {
        return Err(format!(
            "nats-py {NATS_PY} is not installed and `python3 -m pip install --target {} \
             nats-py=={NATS_PY} nkeys=={NKEYS}` failed ({}): install them, or set \
             SWITCHBOARD_SKIP_PY=1 to skip the nats-py tests\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(dir)
}

/// Runs `tests/py/<script>.py` against `server`, bounded by [`SCRIPT_LIMIT`], with `envs`
/// set for it; panics (with the script's output) unless it exits with success.
fn run_script(script: &str, server: &Server, python_path: &Path, envs: &[(&str, &Path)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join("tests/py").join(format!("{script}.py"));
    assert!(path.is_file(), "no script {}", path.display());
    let out = tempfile::tempfile().expect("a file for the script's stdout");
    let err = tempfile::tempfile().expect("a file for the script's stderr");
    let started = Instant::now();
    let mut child = Command::new("python3")
        .arg(&path)
        .arg(server.url())
        .current_dir(dir)
        .env("PYTHONPATH", python_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone the stdout file"))
        .stderr(err.try_clone().expect("clone the stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("start python3 {}: {e}", path.display()));
    let status = try_wait_for(SCRIPT_LIMIT, || {
        child.try_wait().expect("the script's exit status")
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let read = |mut f: std::fs::File| {
        let mut text = String::new();
        let _ = f.rewind().and_then(|()| f.read_to_string(&mut text));
        text
    };
    let (stdout, stderr) = (read(out), read(err));
    let target = server.target.name();
    let Some(status) = status else {
        panic!(
            "[{target}] {script}.py did not finish within {SCRIPT_LIMIT:?} (killed)\n\
             --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        );
    };
    assert!(
        status.success() && stdout.contains(&format!("ok {script}:")),
        "[{target}] {script}.py failed ({status}) after {:.1?}\n--- stdout ---\n{stdout}\n\
         --- stderr ---\n{stderr}",
        started.elapsed()
    );
    eprintln!("[{target}] {}", stdout.trim_end());
}

/// Runs the script once per selected target, each against a fresh JetStream server.
fn py_test(script: &str) {
    let Some(python_path) = python_ready() else {
        return;
    };
    for_each_js_target(|js| run_script(script, &js.server, &python_path, &[]));
}

/// Pull consumer: fetch, ack, nak (with and without delay), in_progress, term, ack_wait.
#[test]
fn py_pull() {
    py_test("pull");
}

/// Durable push consumer with manual acks, redeliveries and binding again.
#[test]
fn py_push() {
    py_test("push");
}

/// Ordered push consumer over 1,000 messages.
#[test]
fn py_ordered() {
    py_test("ordered");
}

/// Key-value store: revisions, conflicts, delete, purge, history, keys, watchers.
#[test]
fn py_kv() {
    py_test("kv");
}

/// Object store: a ~3 MB object with its digest, info, list, watch, delete, seal.
#[test]
fn py_objstore() {
    py_test("objstore");
}

/// Operator mode: a `.creds` file and a JWT with its seed apart log in (nats-py signs the
/// nonce), a request crosses two users, the user JWT's permissions hold, and a revoked
/// user's credentials are refused.
#[test]
fn py_creds() {
    let Some(python_path) = python_ready() else {
        return;
    };
    let revoked = nkeys::KeyPair::new_user();
    // Revoked: every JWT of that user issued up to a minute from now.
    let revoked_until = kit::now() + 60;
    let world = kit::World::with_accounts(
        |a| a["nats"]["revocations"] = serde_json::json!({ revoked.public_key(): revoked_until }),
        |_| {},
    );
    let (service, service_jwt) = world.user_of_a(|_| {});
    let (client, client_jwt) = world.user_of_a(|c| {
        c["nats"]["pub"] = serde_json::json!({"allow": ["creds.>", "_INBOX.>"]});
    });
    let revoked_jwt = kit::sign(kit::user_claims(&revoked, "revoked"), &world.a);

    let dir = tempfile::tempdir().expect("a directory for the credentials");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write a credentials file");
        path
    };
    let creds = write("service.creds", &kit::creds(&service_jwt, &service));
    let jwt = write("client.jwt", &client_jwt);
    let seed = write("client.nk", &client.seed().expect("the client's seed"));
    let revoked = write("revoked.creds", &kit::creds(&revoked_jwt, &revoked));
    let envs = [
        ("SB_CREDS", creds.as_path()),
        ("SB_JWT", jwt.as_path()),
        ("SB_SEED", seed.as_path()),
        ("SB_REVOKED", revoked.as_path()),
    ];
    support::for_each_target_bare(|t| {
        let opts = support::ServerOpts::new().config(&world.memory_config());
        let server = Server::start_opts(t, &opts);
        run_script("creds", &server, &python_path, &envs);
    });
}
