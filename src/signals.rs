//! Process signals, as nats-server handles them: SIGINT/SIGTERM stop gracefully, SIGUSR1
//! reopens the log file. `--signal` sends one of these to a running server.

use std::process::ExitCode;

use crate::{log_error, log_info, log_warn};

/// Waits until the process is asked to stop, handling the other signals meanwhile.
pub async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined2()),
        );
        let (Ok(mut int), Ok(mut term), Ok(mut usr1), Ok(mut hup), Ok(mut usr2)) = streams else {
            log_error!("can't install signal handlers; stop with SIGKILL");
            std::future::pending::<()>().await;
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => { log_info!("Trapped \"interrupt\" signal"); return; }
                _ = term.recv() => { log_info!("Trapped \"terminated\" signal"); return; }
                _ = usr1.recv() => {
                    log_info!("Reopening log file");
                    if let Err(e) = crate::logging::reopen() {
                        log_error!("Could not reopen log file: {}", e);
                    }
                }
                _ = hup.recv() => log_warn!("Configuration reload (SIGHUP) is not supported yet; ignored"),
                _ = usr2.recv() => log_warn!("Lame duck mode (SIGUSR2) is not supported yet; ignored"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `--signal COMMAND[=PID]`: not available yet; says so clearly.
pub fn send(command: &str, pid: Option<&str>) -> ExitCode {
    eprintln!(
        "switchboard: --signal {command}{} is not supported yet",
        pid.map(|p| format!("={p}")).unwrap_or_default()
    );
    ExitCode::from(1)
}
