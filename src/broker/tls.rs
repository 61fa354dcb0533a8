//! TLS for client connections (rustls with the ring provider), negotiated as nats-server
//! does it:
//!
//! * classic: INFO goes out in plain text with `tls_required:true`, then the client starts
//!   the handshake. Anything but a TLS handshake record closes the connection silently.
//! * `handshake_first: true`: nothing is sent in plain text; INFO comes over TLS.
//! * `handshake_first` with a delay: wait that long for the client to speak first (TLS
//!   first); if it stays silent, send INFO in plain text and continue in classic mode.
//!
//! The whole negotiation (waiting for the ClientHello and the handshake) is bounded by the TLS
//! `timeout`. TLS 1.2 is the minimum (rustls supports nothing older). With `verify`, clients
//! must present a certificate signed by the `ca_file` authorities.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::options::{HandshakeFirst, TlsOptions};

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// How long writing the plain-text INFO may take.
const INFO_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// A configured TLS listener side.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    timeout: Duration,
    handshake_first: HandshakeFirst,
    verify: bool,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("timeout", &self.timeout)
            .field("handshake_first", &self.handshake_first)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

/// What negotiation produced: the TLS stream, and whether INFO still has to be sent (over
/// TLS, after a TLS-first handshake).
pub struct Negotiated {
    pub stream: TlsStream<TcpStream>,
    pub info_pending: bool,
}

/// Why TLS can't be served with the configured files (nats-server's wording where it has one).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS Server certificate must be present and valid")]
    MissingCertificate,
    /// The certificate or the key can't be read or parsed, or they do not match.
    #[error("error parsing X509 certificate/key pair: {0}")]
    Pair(String),
    #[error("TLS configuration error: {0}")]
    Config(rustls::Error),
    #[error(
        "TLS verify requires ca_file: the authorities client certificates are checked against"
    )]
    VerifyWithoutCa,
    #[error("failed to parse root ca: {0}")]
    RootCaFile(String),
    #[error("failed to parse root ca {}: {detail}", path.display())]
    RootCa { path: PathBuf, detail: String },
    #[error("failed to parse root ca certificate {}", .0.display())]
    NoRootCa(PathBuf),
    #[error("TLS client verification setup: {0}")]
    Verifier(String),
}

/// The file's bytes, or the error as Go writes it (`open PATH: no such file or directory`).
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {}: {}", path.display(), io_text(&e)))
}

/// Go-style lower-case I/O error text (`no such file or directory`).
fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn pair_error(detail: impl std::fmt::Display) -> TlsError {
    TlsError::Pair(detail.to_string())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path).map_err(pair_error)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pair_error(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(pair_error(format!(
            "{}: failed to find any PEM data in certificate input",
            path.display()
        )));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path).map_err(pair_error)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        pair_error(format!(
            "{}: failed to find a private key in the PEM data ({e})",
            path.display()
        ))
    })
}

impl TlsServer {
    /// Loads the certificate, key and CA and builds the acceptor. The error is one line,
    /// naming the file at fault.
    pub fn new(opts: &TlsOptions) -> Result<TlsServer, TlsError> {
        let (Some(cert_file), Some(key_file)) = (&opts.cert_file, &opts.key_file) else {
            return Err(TlsError::MissingCertificate);
        };
        let certs = load_certs(cert_file)?;
        let key = load_key(key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?;
        let builder = if opts.verify {
            let Some(ca_file) = &opts.ca_file else {
                return Err(TlsError::VerifyWithoutCa);
            };
            let mut roots = RootCertStore::empty();
            let pem = read_file(ca_file).map_err(TlsError::RootCaFile)?;
            let root_ca = |detail: String| TlsError::RootCa {
                path: ca_file.clone(),
                detail,
            };
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| root_ca(e.to_string()))?;
                roots.add(cert).map_err(|e| root_ca(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoRootCa(ca_file.clone()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| pair_error(format!("{}: {e}", key_file.display())))?;
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            timeout: opts.timeout,
            handshake_first: opts.handshake_first,
            verify: opts.verify,
        })
    }

    pub fn verify(&self) -> bool {
        self.verify
    }

    /// Whether INFO is held back until the client has had a chance to start TLS.
    pub fn handshake_first(&self) -> bool {
        self.handshake_first != HandshakeFirst::Off
    }

    /// A TLS handshake first thing, nothing sent in plain text (a `wss://` listener), bounded
    /// by the TLS timeout.
    pub async fn accept(&self, socket: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        tokio::time::timeout(self.timeout, self.acceptor.accept(socket))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timeout"))?
    }

    /// Negotiates TLS on a fresh connection; `info` is the plain INFO line to send in
    /// classic mode. `Err` means the connection must be closed (timeout, not TLS, failed
    /// handshake).
    pub async fn negotiate(&self, mut socket: TcpStream, info: &[u8]) -> io::Result<Negotiated> {
        let tls_first = match self.handshake_first {
            HandshakeFirst::Off => false,
            HandshakeFirst::On => true,
            HandshakeFirst::Fallback(delay) => {
                let mut byte = [0u8; 1];
                match tokio::time::timeout(delay, socket.peek(&mut byte)).await {
                    Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(Ok(_)) => true,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => false,
                }
            }
        };
        if !tls_first {
            tokio::time::timeout(INFO_WRITE_TIMEOUT, socket.write_all(info))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        }
        let handshake = async {
            let mut byte = [0u8; 1];
            let n = socket.peek(&mut byte).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if byte[0] != TLS_HANDSHAKE_RECORD {
                // Go's TLS server closes without an alert when the first record is not TLS.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "first record does not look like a TLS handshake",
                ));
            }
            self.acceptor.accept(socket).await
        };
        let stream = tokio::time::timeout(self.timeout, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timeout"))??;
        Ok(Negotiated {
            stream,
            info_pending: tls_first,
        })
    }
}
