//! WebSocket clients (`websocket { }`), served as nats-server serves them: a listener of its
//! own, the HTTP/1.1 upgrade ([`handshake`]), then binary frames ([`frame`]) carrying the
//! ordinary client protocol through the same connection code as TCP and TLS clients
//! ([`stream`] adapts the byte streams), with permessage-deflate ([`deflate`]) when both
//! sides want it.
//!
//! Everything a client sends that breaks the rules gets nats-server's answer: an HTTP status
//! for a bad upgrade, a close frame with nats-server's code and reason for a bad frame.

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod stream;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::account::Account;
use super::auth::Authenticator;
use super::client::{ClientShared, Transport};
use super::server::{Server, StartError};
use super::tls::TlsServer;
use super::tls_map::CertNames;
use crate::options::{AuthOptions, Options, WebsocketOptions};
use crate::proto::info::ConnectOptions;
use crate::{log_debug, log_error, log_info, log_warn};

/// How much of the request is read at a time.
const READ_CHUNK: usize = 4096;

/// What binding the listener produced, for the server to keep.
#[derive(Debug)]
pub struct WsListen {
    pub port: u16,
    tls: Option<TlsServer>,
}

/// Binds the WebSocket listener when `websocket { }` configures one.
pub(crate) async fn bind(opts: &Options) -> Result<Option<(TcpListener, WsListen)>, StartError> {
    let Some(ws) = &opts.websocket else {
        return Ok(None);
    };
    let tls = match &ws.tls {
        Some(t) => Some(TlsServer::new(t)?),
        None => None,
    };
    let port = u16::try_from(ws.port.max(0)).unwrap_or(0);
    let addr_text = format!("{}:{}", ws.host, port);
    let listen_error = |source| StartError::Listen {
        addr: addr_text.clone(),
        source,
    };
    let listener = TcpListener::bind((ws.host.as_str(), port))
        .await
        .map_err(listen_error)?;
    let port = listener.local_addr().map_err(listen_error)?.port();
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    log_info!(
        "Listening for websocket clients on {}://{}:{}",
        scheme,
        ws.host,
        port
    );
    if tls.is_none() {
        log_warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    Ok(Some((listener, WsListen { port, tls })))
}

/// The next connection on `listener` (the WebSocket one, or the client port's); never
/// resolves without a listener.
pub(crate) async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The running listener's settings.
#[derive(Debug)]
pub struct WsServer {
    pub opts: WebsocketOptions,
    /// The port it listens on (the real one when a random port was asked for).
    pub port: u16,
    tls: Option<TlsServer>,
    /// Allowed origins: (lower-case host, scheme, port).
    allowed: Vec<(String, String, String)>,
    /// The listener's own authentication, when it overrides the server's.
    auth: Option<Authenticator>,
}

impl WsServer {
    pub(crate) fn new(
        ws: &WebsocketOptions,
        server_auth: &AuthOptions,
        listen: WsListen,
        global: &Arc<Account>,
        accounts: &HashMap<String, Arc<Account>>,
    ) -> Self {
        let allowed = ws
            .allowed_origins
            .iter()
            .filter_map(|o| {
                let (scheme, host_port) = handshake::split_origin(o).ok()?;
                let (host, port) = handshake::host_and_port(scheme == "https", host_port).ok()?;
                Some((host, scheme.to_string(), port))
            })
            .collect();
        let auth = ws.auth_override().then(|| {
            let opts = AuthOptions {
                user: ws.user.clone(),
                password: ws.password.clone(),
                token: ws.token.clone(),
                timeout: ws.auth_timeout,
                users: server_auth.users.clone(),
                accounts: server_auth.accounts.clone(),
                no_auth_user: ws.no_auth_user.clone(),
            };
            Authenticator::new(&opts, global.clone(), accounts)
        });
        WsServer {
            opts: ws.clone(),
            port: listen.port,
            tls: listen.tls,
            allowed,
            auth,
        }
    }

    /// Whether the listener serves `wss://`.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The URL clients connect to (`ws://host:port` or `wss://...`).
    pub fn url(&self) -> String {
        let scheme = if self.tls() { "wss" } else { "ws" };
        let host = match self.opts.host.as_str() {
            "0.0.0.0" | "::" | "" => "127.0.0.1",
            h => h,
        };
        if host.contains(':') {
            format!("{scheme}://[{host}]:{}", self.port)
        } else {
            format!("{scheme}://{host}:{}", self.port)
        }
    }

    /// The listener's own authentication, when it overrides the server's.
    pub(crate) fn auth_override(&self) -> Option<&Authenticator> {
        self.auth.as_ref()
    }
}

/// A WebSocket client's authentication: whether the listener's override applies, and the
/// credentials its upgrade request carried in cookies.
#[derive(Debug, Clone, Default)]
pub struct WsAuth {
    pub override_auth: bool,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    /// A user JWT from `jwt_cookie` (operator mode).
    pub jwt: Option<String>,
}

impl WsAuth {
    /// nats-server: what CONNECT leaves out, the cookies fill in.
    pub fn fill_from_cookies(&self, connect: &mut ConnectOptions) {
        let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        if empty(&connect.user) && self.user.is_some() {
            connect.user = self.user.clone();
        }
        if empty(&connect.pass) && self.pass.is_some() {
            connect.pass = self.pass.clone();
        }
        if empty(&connect.auth_token) && self.token.is_some() {
            connect.auth_token = self.token.clone();
        }
        if empty(&connect.jwt) && self.jwt.is_some() {
            connect.jwt = self.jwt.clone();
        }
    }
}

/// A connection after the upgrade: its stream, what the upgrade negotiated, and the
/// cookies it carried.
struct Upgraded<S> {
    stream: S,
    upgrade: handshake::Upgrade,
    auth: WsAuth,
}

/// Runs one accepted WebSocket connection to its end.
pub(crate) async fn serve(server: Arc<Server>, socket: TcpStream, addr: SocketAddr) {
    let Some(ws) = server.websocket() else {
        return;
    };
    let _ = socket.set_nodelay(true);
    let timeout = ws.opts.handshake_timeout;
    if let Some(tls) = &ws.tls {
        let opening = async {
            let stream = tls.accept(socket).await?;
            // verify_and_map: who the certificate says the client is, read once.
            let cert_names = ws
                .opts
                .tls
                .as_ref()
                .filter(|t| t.verify_and_map)
                .and_then(|_| stream.get_ref().1.peer_certificates())
                .and_then(|certs| certs.first())
                .and_then(|cert| CertNames::from_der(cert))
                .map(Box::new);
            Ok(upgrade(stream, ws, true, addr)
                .await?
                .map(|up| (up, cert_names)))
        };
        match bounded(timeout, opening).await {
            Ok(Some((up, cert_names))) => {
                let (r, w) = tokio::io::split(up.stream);
                let opening = Opening {
                    transport: Transport::Wss,
                    upgrade: up.upgrade,
                    auth: up.auth,
                    cert_names,
                };
                session(server.clone(), addr, opening, r, w).await;
            }
            Ok(None) => {}
            Err(e) => log_debug!("{} - websocket handshake error: {}", addr, e),
        }
    } else {
        match bounded(timeout, upgrade(socket, ws, false, addr)).await {
            Ok(Some(up)) => {
                let (r, w) = up.stream.into_split();
                let opening = Opening {
                    transport: Transport::Ws,
                    upgrade: up.upgrade,
                    auth: up.auth,
                    cert_names: None,
                };
                session(server.clone(), addr, opening, r, w).await;
            }
            Ok(None) => {}
            Err(e) => log_debug!("{} - websocket handshake error: {}", addr, e),
        }
    }
}

/// `fut` within `timeout` (zero: no limit, as nats-server without `handshake_timeout`).
async fn bounded<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    if timeout.is_zero() {
        return fut.await;
    }
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timeout"))?
}

/// Reads requests until one upgrades (`Some`), or the client goes or is refused (`None`).
/// Refused requests get nats-server's answer; HTTP/1.1 clients may try again on the same
/// connection, as Go's server keeps it open.
async fn upgrade<S>(
    mut stream: S,
    ws: &WsServer,
    tls: bool,
    addr: SocketAddr,
) -> io::Result<Option<Upgraded<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        let (request, used) = loop {
            match handshake::parse(&buf) {
                handshake::Parsed::Complete(req, used) => break (req, used),
                handshake::Parsed::Partial => {}
                handshake::Parsed::Malformed(detail) => {
                    let answer = handshake::bad_request_response(400, detail);
                    let _ = stream.write_all(&answer).await;
                    let _ = stream.shutdown().await;
                    return Ok(None);
                }
                handshake::Parsed::TooLarge => {
                    let answer = handshake::bad_request_response(431, None);
                    let _ = stream.write_all(&answer).await;
                    let _ = stream.shutdown().await;
                    return Ok(None);
                }
            }
            let start = buf.len();
            buf.resize(start + READ_CHUNK, 0);
            let n = stream.read(&mut buf[start..]).await?;
            buf.truncate(start + n);
            if n == 0 {
                return Ok(None);
            }
        };
        let checked = handshake::check(&request, ws.opts.compression, |req| {
            handshake::check_origin(req, tls, ws.opts.same_origin, &ws.allowed)
        });
        let upgrade = match checked {
            Ok(upgrade) => upgrade,
            Err(refusal) => {
                log_error!("{} - websocket handshake error: {}", addr, refusal.reason);
                let date = handshake::now_http_date();
                let answer = handshake::refusal_response(refusal.status, request.minor, &date);
                stream.write_all(&answer).await?;
                if request.minor == 0 {
                    let _ = stream.shutdown().await;
                    return Ok(None);
                }
                buf.drain(..used);
                continue;
            }
        };
        if used < buf.len() {
            // nats-server: "client sent data before handshake is complete"; it closes.
            log_error!(
                "{} - websocket handshake error: client sent data before handshake is complete",
                addr
            );
            return Ok(None);
        }
        stream
            .write_all(&handshake::switching_protocols(&upgrade, &ws.opts.headers))
            .await?;
        let cookie = |name: &Option<String>| name.as_deref().and_then(|n| request.cookie(n));
        let auth = WsAuth {
            override_auth: ws.opts.auth_override(),
            user: cookie(&ws.opts.user_cookie),
            pass: cookie(&ws.opts.pass_cookie),
            token: cookie(&ws.opts.token_cookie),
            jwt: cookie(&ws.opts.jwt_cookie),
        };
        return Ok(Some(Upgraded {
            stream,
            upgrade,
            auth,
        }));
    }
}

/// What the opening handshakes settled for a connection.
struct Opening {
    transport: Transport,
    upgrade: handshake::Upgrade,
    auth: WsAuth,
    /// The client certificate's names, with `verify_and_map`.
    cert_names: Option<Box<CertNames>>,
}

/// The client protocol over an upgraded connection.
async fn session<R, W>(
    server: Arc<Server>,
    addr: SocketAddr,
    opening: Opening,
    reader: R,
    writer: W,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Opening {
        transport,
        upgrade,
        auth,
        cert_names,
    } = opening;
    let Some(ws) = server.websocket() else {
        return;
    };
    let client: Arc<ClientShared> = server.new_client(addr);
    client.set_transport(transport);
    let Ok(nonce) = server.nonce_for(&client) else {
        return;
    };
    let override_auth = auth.override_auth;
    let (ws_tls, ws_host, ws_port) = (ws.tls(), ws.opts.host.clone(), ws.port);
    let info = server.info_line_with(&client, nonce.as_deref(), |info| {
        info.tls_required = ws_tls;
        info.tls_available = ws_tls;
        info.host = ws_host;
        info.port = ws_port;
        info.auth_required = info.auth_required || override_auth;
    });
    let admitted = server.admit(&client);
    client.outbound.push(None, |b| b.extend_from_slice(&info));
    let control = Arc::new(stream::Control::default());
    let decoder = frame::Decoder::new(!upgrade.no_masking, upgrade.compress);
    let reader = stream::WsReader::new(
        reader,
        decoder,
        server.opts.max_payload as usize,
        control.clone(),
        client.clone(),
    );
    let mode = stream::WriterMode {
        compress: upgrade.compress,
        browser: upgrade.browser,
        no_compressed_fragments: upgrade.safari,
    };
    let writer = stream::WsWriter::new(writer, mode, control, client.clone());
    let auth_timeout = ws.opts.auth_timeout;
    let auth_required = server.auth_required() || override_auth;
    server
        .clone()
        .run_client_with(client, nonce, admitted, reader, writer, move |conn| {
            if auth_required {
                let timeout = auth_timeout.unwrap_or_else(|| server.auth_timeout());
                conn.auth_deadline = Some(std::time::Instant::now() + timeout);
            }
            conn.ws = Some(auth);
            conn.cert_names = cert_names;
        })
        .await;
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
