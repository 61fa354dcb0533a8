//! Lame-duck mode (nats-server's SIGUSR2): after the listener closed, every client is told
//! with an INFO carrying `ldm: true`, then closed one by one over `lame_duck_duration`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Command, Server};
use crate::broker::close::CloseReason;
use crate::log_info;

/// Lame-duck mode after the listener closed; returns early on a shutdown command.
pub(super) async fn run(
    server: &Arc<Server>,
    command: &mut watch::Receiver<Command>,
    connections: &mut JoinSet<()>,
) {
    log_info!("Entering lame duck mode, stop accepting new clients");
    let clients = server.clients();
    if clients.is_empty() {
        return;
    }
    for client in &clients {
        let line = server.lame_duck_info_line(client);
        client.send_protocol(&line);
    }
    let grace = server.opts.lame_duck_grace_period;
    let spread = server
        .opts
        .lame_duck_duration
        .saturating_sub(grace)
        .max(Duration::from_secs(1));
    // One close per step, at most a second apart, as nats-server paces them.
    let step = (spread / clients.len() as u32).min(Duration::from_secs(1));
    let interrupted = async {
        loop {
            if command.changed().await.is_err() || *command.borrow() == Command::Shutdown {
                return;
            }
        }
    };
    let closing = async {
        tokio::time::sleep(grace).await;
        log_info!("Closing existing clients");
        for (index, client) in clients.iter().enumerate() {
            client.close(CloseReason::ServerShutdown, true);
            if index + 1 < clients.len() {
                tokio::time::sleep(step).await;
            }
        }
        while connections.join_next().await.is_some() {}
    };
    tokio::select! {
        _ = interrupted => {}
        _ = closing => {}
    }
}
