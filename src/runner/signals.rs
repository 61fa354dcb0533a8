//! Process signals, as nats-server handles them: SIGINT/SIGTERM stop gracefully, SIGUSR1
//! reopens the log file. `--signal` sends one of these to a running server.

use std::process::ExitCode;

use crate::broker::BrokerHandle;
#[cfg(unix)]
use crate::{log_error, log_info};

/// The process signals a server handles, installed before it says it is ready (a signal
/// that arrives earlier would otherwise kill the process with the default action).
pub struct Signals {
    #[cfg(unix)]
    streams: Option<[tokio::signal::unix::Signal; 5]>,
}

impl Signals {
    /// Installs the handlers; must run inside the tokio runtime.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let kinds = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::user_defined1(),
                SignalKind::hangup(),
                SignalKind::user_defined2(),
            ];
            let streams: Result<Vec<_>, _> = kinds.into_iter().map(signal).collect();
            let streams = match streams {
                Ok(s) => <[_; 5]>::try_from(s).ok(),
                Err(e) => {
                    log_error!("can't install signal handlers: {}", e);
                    None
                }
            };
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for the next signal that asks for something; SIGUSR1 (reopen the log) is
    /// handled here. Never returns when the handlers could not be installed.
    async fn next(&mut self) -> Trapped {
        #[cfg(unix)]
        {
            let Some([int, term, usr1, hup, usr2]) = &mut self.streams else {
                return std::future::pending().await;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {
                        log_info!("Trapped \"interrupt\" signal");
                        return Trapped::Stop;
                    }
                    _ = term.recv() => {
                        log_info!("Trapped \"terminated\" signal");
                        return Trapped::Stop;
                    }
                    _ = usr1.recv() => {
                        log_info!("Reopening log file");
                        if let Err(e) = crate::logging::reopen() {
                            log_error!("Could not reopen log file: {}", e);
                        }
                    }
                    _ = hup.recv() => return Trapped::Reload,
                    _ = usr2.recv() => return Trapped::LameDuck,
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            crate::log_info!("Trapped \"interrupt\" signal");
            Trapped::Stop
        }
    }

    /// Serves until the process is asked to stop (SIGINT, SIGTERM) or the broker finished
    /// by itself (after lame-duck mode), handling SIGUSR1 (reopen the log), SIGHUP
    /// (`reload`) and SIGUSR2 (lame-duck mode) meanwhile.
    pub async fn serve_until_stopped(mut self, handle: &BrokerHandle, mut reload: impl FnMut()) {
        loop {
            tokio::select! {
                trapped = self.next() => match trapped {
                    Trapped::Stop => return,
                    Trapped::Reload => reload(),
                    Trapped::LameDuck => handle.enter_lame_duck(),
                },
                _ = handle.finished() => return,
            }
        }
    }

    /// For the app: waits until the process is asked to stop (SIGINT, SIGTERM), reopening
    /// the log on SIGUSR1 meanwhile. SIGHUP and SIGUSR2 are logged and ignored: the window's
    /// broker is restarted from the window, not reloaded.
    pub async fn stop_requested(mut self) {
        loop {
            match self.next().await {
                Trapped::Stop => return,
                Trapped::Reload => {
                    crate::log_info!("Reload is not supported in the app: restart it")
                }
                Trapped::LameDuck => {
                    crate::log_info!("Lame duck mode is not supported in the app")
                }
            }
        }
    }
}

/// What a signal asks of the process (SIGUSR1 is handled where it arrives).
#[cfg_attr(not(unix), allow(dead_code))]
enum Trapped {
    /// SIGINT, SIGTERM.
    Stop,
    /// SIGHUP.
    Reload,
    /// SIGUSR2.
    LameDuck,
}

/// `--signal COMMAND[=PID|=PIDFILE]`: sends the command's signal to a running server.
/// Without a PID, the single other running `switchboard`/`nats-server` process is the target.
pub fn send(request: &crate::cli::SignalRequest) -> ExitCode {
    let pid = match &request.pid {
        Some(expr) => match crate::cli::resolve_pid(expr) {
            Ok(pid) => pid,
            Err(e) => {
                eprintln!("switchboard: {e}");
                return ExitCode::from(1);
            }
        },
        None => match find_single_server() {
            Ok(pid) => pid,
            Err(message) => {
                eprintln!("switchboard: {message}");
                return ExitCode::from(1);
            }
        },
    };
    deliver(pid, request.command)
}

/// Sends the command's signal to `pid`, as `nats-server --signal` does.
#[cfg(unix)]
fn deliver(pid: i32, command: crate::cli::SignalCommand) -> ExitCode {
    let signal = match nix::sys::signal::Signal::try_from(command.signal_number()) {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(1);
        }
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
        // nats-server says nothing when the signal was sent.
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: can't signal process {pid}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Windows has no Unix signals (nats-server uses its service control manager there).
#[cfg(not(unix))]
fn deliver(pid: i32, command: crate::cli::SignalCommand) -> ExitCode {
    eprintln!(
        "switchboard: --signal {} (process {pid}) needs Unix signals; stop the server with \
         Ctrl-C or its service manager",
        command.name()
    );
    ExitCode::from(1)
}

/// Looks through /proc for exactly one other process named switchboard or nats-server.
fn find_single_server() -> Result<i32, String> {
    let me = std::process::id() as i32;
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("can't list processes: {e}"))?;
    let found: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| matches!(c.trim(), "switchboard" | "nats-server"))
        })
        .collect();
    match found.as_slice() {
        [pid] => Ok(*pid),
        [] => Err("no nats-server process found".to_string()),
        _ => Err(format!(
            "multiple nats-server processes running ({found:?}): give the PID with --signal COMMAND=PID"
        )),
    }
}
