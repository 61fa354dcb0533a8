//! Process-level drop-in behaviour: what tools that launch `nats-server` rely on (the log
//! lines they wait for, `-p -1`, `-l`, `-P`, exit codes, signals), checked on switchboard
//! started under the name `nats-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{selected_targets, try_wait_for, wait_for, RawConn, Target};

/// A directory holding a `nats-server` symlink to our binary.
fn dropin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_switchboard"),
        dir.path().join("nats-server"),
    )
    .unwrap();
    dir
}

fn nats_server(dir: &Path) -> Command {
    let mut cmd = Command::new(dir.join("nats-server"));
    cmd.stdin(Stdio::null());
    cmd
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) until `path` holds a line containing `needle`; returns the whole file.
fn wait_for_line(path: &Path, needle: &str) -> String {
    let mut text = String::new();
    try_wait_for(Duration::from_secs(10), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines().any(|l| l.contains(needle)).then_some(())
    })
    .unwrap_or_else(|| panic!("no {needle:?} in log:\n{text}"));
    text
}

/// The address from the line tools wait for: `... Listening for client connections on H:P`.
fn listening_addr(log: &str) -> std::net::SocketAddr {
    let line = log
        .lines()
        .find(|l| l.contains("Listening for client connections on "))
        .expect("no listening line in the log");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    wait_for("the process to exit", limit, || child.try_wait().unwrap())
}

#[test]
fn random_port_log_file_pid_file_and_sigterm() {
    let dir = dropin_dir();
    let log = dir.path().join("server.log");
    let pid_file = dir.path().join("server.pid");
    let child = nats_server(dir.path())
        .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
        .arg(&log)
        .arg("-P")
        .arg(&pid_file)
        .args(["--store_dir", "/tmp/unused-js-dir"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let text = wait_for_line(&log, "Server is ready");
    // The line async-nats' harness parses: `.+\sclient connections on\s+(\S+)`.
    assert!(
        text.contains("[INF] Listening for client connections on "),
        "{text}"
    );
    let addr = listening_addr(&text);
    assert_ne!(addr.port(), 0);
    // As in nats-server, -sd alone does not turn JetStream on, and is not warned about.
    assert!(!text.contains("Starting JetStream"), "{text}");
    assert!(!text.contains("not supported yet"), "{text}");
    let mut conn = RawConn::connect(addr, "dropin");
    assert_eq!(conn.info["port"].as_u64(), Some(u64::from(addr.port())));
    conn.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    conn.expect("PONG\r\n");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid as u32, server.0.id());
    // `--signal quit=PIDFILE` as harnesses use it: graceful stop, exit code 0.
    let status = nats_server(dir.path())
        .arg("--signal")
        .arg(format!("quit={}", pid_file.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_exit(&mut server.0, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    conn.expect_closed();
}

#[test]
fn stderr_log_lines_without_log_file() {
    let dir = dropin_dir();
    let mut child = nats_server(dir.path())
        .args([
            "--addr",
            "127.0.0.1",
            "--port",
            "-1",
            "--server_name",
            "sb-test",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut server = Running(child);
    // Read on a thread of its own, so that the wait below stays bounded.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    try_wait_for(Duration::from_secs(10), || {
        seen.extend(lines.try_iter());
        seen.iter()
            .any(|l| l.contains("Server is ready"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no \"Server is ready\" on stderr: {seen:?}"));
    let text = seen.join("\n");
    assert!(
        text.contains("Listening for client connections on 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("sb-test"), "{text}");
    nix_kill(server.0.id(), "TERM");
    assert!(wait_exit(&mut server.0, Duration::from_secs(10)).success());
}

fn nix_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn port_in_use_is_one_line_and_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "-a", "127.0.0.1", "-p", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can't listen on 127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn config_file_flags_win_and_bad_values_fail() {
    let dir = dropin_dir();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:4999\nmax_payload: 2KB\njetstream {{ max_mem: 1G, store_dir: \"{}\" }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let log = dir.path().join("s.log");
    let child = nats_server(dir.path())
        .arg("-c")
        .arg(&conf)
        .args(["-p", "-1", "-l"])
        .arg(&log)
        .spawn()
        .unwrap();
    let _server = Running(child);
    let text = wait_for_line(&log, "Server is ready");
    assert!(!text.contains("not supported yet"), "{text}");
    assert!(text.contains("Starting JetStream"), "{text}");
    let addr = listening_addr(&text);
    assert_ne!(
        addr.port(),
        4999,
        "the -p flag overrides the file's listen port"
    );
    let conn = RawConn::connect(addr, "conf");
    assert_eq!(conn.info["max_payload"].as_u64(), Some(2048));

    std::fs::write(&conf, "max_payload: \"lots\"\n").unwrap();
    let out = nats_server(dir.path())
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut stderr = String::new();
    out.stderr.as_slice().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("max_payload"), "{stderr}");
}

#[test]
fn version_and_unknown_flag() {
    let dir = dropin_dir();
    let out = nats_server(dir.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("nats-server: v"));
    let out = nats_server(dir.path()).arg("-bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -bogus"));
}

/// SIGUSR2 (sent with `--signal ldm=PID`): INFO with `ldm:true` to every client, then the
/// clients are closed and the server exits with code 0, as nats-server 2.15.1 does. Checked
/// on every selected target (switchboard started as `nats-server`, and the reference).
#[test]
fn lame_duck_mode() {
    let dir = dropin_dir();
    for target in selected_targets() {
        let binary = match &target {
            Target::Switchboard => dir.path().join("nats-server"),
            Target::Reference(path) => path.clone(),
        };
        let conf = dir.path().join("ldm.conf");
        std::fs::write(
            &conf,
            "lame_duck_grace_period: \"200ms\"\nlame_duck_duration: \"30s\"\n",
        )
        .unwrap();
        let log = dir.path().join("ldm.log");
        let _ = std::fs::remove_file(&log);
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
            .arg(&conf)
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Running(child);
        let text = wait_for_line(&log, "Server is ready");
        let addr = listening_addr(&text);
        let mut conn = RawConn::connect(addr, target.name());
        conn.send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        assert_eq!(conn.read_line(), b"PONG\r\n", "{target}");
        // The async INFO that follows the first PONG to a protocol-1 client.
        let connect_info = conn.read_line();
        assert!(connect_info.starts_with(b"INFO "), "{target}");
        let sent = Command::new(&binary)
            .arg("--signal")
            .arg(format!("ldm={}", server.0.id()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(sent.status.success(), "[{target}] --signal ldm: {sent:?}");
        // A signal sent is said with the exit code alone, as nats-server does.
        assert!(
            sent.stdout.is_empty() && sent.stderr.is_empty(),
            "[{target}] --signal ldm printed: {sent:?}"
        );
        let info = conn.read_line_within(Duration::from_secs(5)).unwrap();
        let text = String::from_utf8_lossy(&info);
        assert!(
            text.starts_with("INFO ") && text.contains("\"ldm\":true"),
            "[{target}] {text}"
        );
        conn.expect_closed();
        let status = wait_exit(&mut server.0, Duration::from_secs(10));
        eprintln!("[{target}] exit status after lame duck mode: {status:?}");
        assert_eq!(
            status.code(),
            Some(0),
            "[{target}] the exit code after lame duck mode: {status:?}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("Entering lame duck mode"),
            "[{target}] {text}"
        );
    }
}

/// SIGHUP (`--signal reload`): the configuration is read again; logging changes at once.
#[test]
fn reload_applies_logging() {
    let dir = dropin_dir();
    let conf = dir.path().join("reload.conf");
    std::fs::write(&conf, "debug: false\n").unwrap();
    let log = dir.path().join("reload.log");
    let child = nats_server(dir.path())
        .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
        .arg(&conf)
        .arg("-l")
        .arg(&log)
        .spawn()
        .unwrap();
    let server = Running(child);
    let text = wait_for_line(&log, "Server is ready");
    let addr = listening_addr(&text);
    std::fs::write(&conf, "debug: true\n").unwrap();
    let status = nats_server(dir.path())
        .arg("--signal")
        .arg(format!("reload={}", server.0.id()))
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_line(&log, "Reloaded server configuration");
    // Debug logging is now on: a new connection is logged at [DBG].
    let _conn = RawConn::connect(addr, "reload");
    wait_for_line(&log, "[DBG]");
}
