//! How this program connects to a NATS server as a client (the window's own client,
//! recording from and replaying into a server, attaching to a deployment): one connection
//! profile, with the NATS CLI's option names, turned into async-nats options.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The server a client connects to when none is named: the embedded broker's default
/// address (`crate::options::DEFAULT_HOST` and `DEFAULT_PORT`).
pub const DEFAULT_SERVER_URL: &str = "nats://127.0.0.1:4222";

/// Why a connection could not be made or its options could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("can't connect to {server}: {source}")]
    Connect {
        server: String,
        source: async_nats::ConnectError,
    },
    #[error("can't read nkey seed file {path}: {source}")]
    NkeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("can't read credentials {}: {source}", path.display())]
    Credentials {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--tlscert and --tlskey go together")]
    CertWithoutKey,
}

/// How to reach and authenticate to a server (the NATS CLI's flag names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// Server URL(s), comma separated
    #[arg(short = 's', long = "server", default_value = DEFAULT_SERVER_URL)]
    pub server: String,
    /// Username
    #[arg(long)]
    pub user: Option<String>,
    /// Password
    #[arg(long)]
    pub password: Option<String>,
    /// Authentication token
    #[arg(long)]
    pub token: Option<String>,
    /// NKey seed file (or the seed itself)
    #[arg(long)]
    pub nkey: Option<String>,
    /// User credentials file (JWT and seed)
    #[arg(long)]
    pub creds: Option<PathBuf>,
    /// TLS client certificate file
    #[arg(long)]
    pub tlscert: Option<PathBuf>,
    /// TLS client private key file
    #[arg(long)]
    pub tlskey: Option<PathBuf>,
    /// TLS certificate authority chain file
    #[arg(long)]
    pub tlsca: Option<PathBuf>,
}

impl ConnectArgs {
    pub fn url(server: &str) -> Self {
        ConnectArgs {
            server: server.to_string(),
            ..ConnectArgs::default()
        }
    }

    /// Connects with these options. `slow_drops` counts messages async-nats dropped for a
    /// slow subscription (its slow-consumer events).
    pub async fn connect(
        &self,
        name: &str,
        slow_drops: Option<Arc<AtomicU64>>,
    ) -> Result<async_nats::Client, ConnectError> {
        let mut opts = self.options(name).await?;
        if let Some(counter) = slow_drops {
            opts = opts.event_callback(move |event| {
                let counter = counter.clone();
                async move {
                    if let async_nats::Event::SlowConsumer(_) = event {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        opts.connect(self.servers().as_slice())
            .await
            .map_err(|source| ConnectError::Connect {
                server: self.server.clone(),
                source,
            })
    }

    /// The server URLs, trimmed, without empty entries.
    pub fn servers(&self) -> Vec<&str> {
        self.server
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// async-nats options for these credentials and TLS files (reads the files it needs),
    /// for callers that add their own event callback or timeouts.
    pub async fn options(&self, name: &str) -> Result<async_nats::ConnectOptions, ConnectError> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(name)
            .skip_subject_validation(true)
            .subscription_capacity(256 * 1024);
        if let (Some(user), password) = (&self.user, &self.password) {
            opts = opts.user_and_password(user.clone(), password.clone().unwrap_or_default());
        }
        if let Some(token) = &self.token {
            opts = opts.token(token.clone());
        }
        if let Some(nkey) = &self.nkey {
            let seed = match std::fs::read_to_string(nkey) {
                Ok(text) => text.trim().to_string(),
                Err(_) if nkey.starts_with('S') => nkey.clone(),
                Err(source) => {
                    return Err(ConnectError::NkeyFile {
                        path: nkey.clone(),
                        source,
                    })
                }
            };
            opts = opts.nkey(seed);
        }
        if let Some(creds) = &self.creds {
            opts =
                opts.credentials_file(creds)
                    .await
                    .map_err(|source| ConnectError::Credentials {
                        path: creds.clone(),
                        source,
                    })?;
        }
        if let Some(ca) = &self.tlsca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.tlscert, &self.tlskey) {
            (Some(cert), Some(key)) => {
                opts = opts
                    .add_client_certificate(cert.clone(), key.clone())
                    .require_tls(true);
            }
            (None, None) => {}
            _ => return Err(ConnectError::CertWithoutKey),
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{DEFAULT_HOST, DEFAULT_PORT};

    #[test]
    fn the_default_server_is_the_embedded_brokers_default_address() {
        assert_eq!(
            DEFAULT_SERVER_URL,
            format!("nats://{DEFAULT_HOST}:{DEFAULT_PORT}")
        );
    }
}
