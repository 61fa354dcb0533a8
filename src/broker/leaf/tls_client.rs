//! The client side of TLS for links this server solicits: the hub's certificate is checked
//! against the remote's `ca_file` (or the system's roots), and the remote's own
//! certificate is presented when its `tls` block names one.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::options::{HandshakeFirst, TlsOptions, DEFAULT_LEAF_TLS_TIMEOUT};

/// A remote's TLS settings, ready to connect with.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    pub timeout: Duration,
    /// Start TLS before the hub's INFO (`handshake_first`).
    pub first: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("timeout", &self.timeout)
            .field("first", &self.first)
            .finish_non_exhaustive()
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {}: {e}", path.display()))
}

impl TlsClient {
    /// From a remote's `tls { }` block; `None` settings mean system roots, no client
    /// certificate.
    pub fn new(opts: Option<&TlsOptions>) -> Result<TlsClient, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match opts.and_then(|o| o.ca_file.as_ref()) {
            Some(ca) => {
                let pem = read(ca)?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("{}: {e}", ca.display()))?;
                }
                if roots.is_empty() {
                    return Err(format!(
                        "failed to parse root ca certificate {}",
                        ca.display()
                    ));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system certificate rustls can't use is skipped, as Go skips it.
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let cert = opts.and_then(|o| o.cert_file.as_ref().zip(o.key_file.as_ref()));
        let config = match cert {
            Some((cert, key)) => {
                let certs = CertificateDer::pem_slice_iter(&read(cert)?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("{}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                    .map_err(|e| format!("{}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| e.to_string())?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            timeout: opts
                .map(|o| o.timeout)
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_LEAF_TLS_TIMEOUT),
            first: opts.is_some_and(|o| o.handshake_first != HandshakeFirst::Off),
        })
    }

    /// The client handshake with `host`, bounded by the TLS timeout.
    pub async fn connect<S>(&self, stream: S, host: &str) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        tokio::time::timeout(self.timeout, self.connector.connect(name, stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timeout"))?
    }
}
