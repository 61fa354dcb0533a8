//! HTTP monitoring compatible with nats-server's (`-m PORT`): `/varz`, `/connz`, `/subsz`,
//! `/routez`, `/gatewayz`, `/leafz`, `/accountz`, `/jsz`, `/healthz`, an index page at `/`,
//! and Prometheus metrics at `/metrics`.
//!
//! JSON bodies have nats-server's field names, types, units and layout (two-space indented,
//! Go's escaping); bad query parameters get its 400 texts and unknown paths its 404. Served by
//! axum on the broker's tokio runtime; every answer is built from read-only snapshots of the
//! engine (`Server`), never on the publish path.
//!
//! JetStream (`/jsz`, the `jetstream` section of `/varz`, the `switchboard_jetstream_*`
//! metrics) is read from `jetstream::JetStream::of(server)`; without it `/jsz` answers
//! `"disabled": true` and `/varz` has `"jetstream": {}`, as nats-server without `-js`.
//!
//! Deliberately absent (see `http_tests.rs` for the checked list): `git_commit` (no Go
//! build info), `gomaxprocs` (Go runtime) and `feature_flags` (nats-server's switches for
//! clustered JetStream), and JSONP (`?callback=`), which nats-server 2.15 no longer honours
//! either (`/jsz` included).
//!
//! The same builders answer the system account's requests (`$SYS.REQ.SERVER.PING.VARZ`
//! and the rest, `crate::system`); [`MonitorState`] is what `/varz` says of this front end
//! (its address, its request counts), registered on the server so that those answers say
//! the same.

pub mod absent;
pub mod accountz;
pub mod connz;
pub mod format;
pub mod jsz;
pub mod leafz;
pub mod metrics;
pub mod process;
pub mod query;
pub mod subsz;
pub mod varz;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::broker::server::Server;
use crate::proto::info::NATS_COMPAT_VERSION;
use format::{compact_json, pretty_json};
use query::{BadRequest, Query};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("invalid monitoring port {0}")]
    InvalidPort(i32),
    #[error("can't listen for monitoring on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A running monitoring server.
#[derive(Debug)]
pub struct MonitorHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl MonitorHandle {
    /// Where it listens (the real port when a random one was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in progress finish, and waits for the server to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts the monitoring server on `host:port` (`0` or `-1`: a free port). Must be called
/// within a tokio runtime.
pub async fn start_http(
    server: Arc<Server>,
    host: &str,
    port: i32,
) -> Result<MonitorHandle, MonitorError> {
    let port = match port {
        -1 | 0 => 0,
        p => u16::try_from(p).map_err(|_| MonitorError::InvalidPort(p))?,
    };
    let addr_text = format!("{host}:{port}");
    let listen_err = |source| MonitorError::Listen {
        addr: addr_text.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    let state = Arc::new(MonitorState::new(host, addr.port()));
    server.add_service(state.clone());
    let monitor = Arc::new(Monitor { server, state });
    let app = Router::new().fallback(dispatch).with_state(monitor);
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move {
        if let Err(e) = serve.await {
            crate::log_error!("Monitoring server stopped: {}", e);
        }
    });
    Ok(MonitorHandle { addr, stop, task })
}

#[derive(Debug)]
struct Monitor {
    server: Arc<Server>,
    state: Arc<MonitorState>,
}

/// What `/varz` reports of the monitoring front end: where it listens, how often each path
/// was asked for, and the CPU sampler (its reading spans the time since the last one).
#[derive(Debug)]
pub struct MonitorState {
    http_host: String,
    http_port: u16,
    req_stats: Mutex<BTreeMap<String, u64>>,
    cpu: process::CpuSampler,
}

impl crate::broker::server::Service for MonitorState {
    fn shutdown(&self) {}
}

impl MonitorState {
    /// The state of a monitor on `host:port`; port 0 stands for none (what nats-server
    /// reports without `-m`).
    pub fn new(host: &str, port: u16) -> Self {
        MonitorState {
            http_host: host.to_string(),
            http_port: port,
            req_stats: Mutex::new(BTreeMap::new()),
            cpu: process::CpuSampler::default(),
        }
    }

    /// The state of `server`'s running HTTP monitor, if it has one.
    pub fn of(server: &Server) -> Option<Arc<MonitorState>> {
        server.service::<MonitorState>()
    }

    fn count(&self, path: &str) {
        *self.req_stats.lock().entry(path.to_string()).or_insert(0) += 1;
    }

    /// `/varz` at `now`.
    pub fn varz(&self, server: &Server, now: SystemTime) -> varz::Varz {
        let ctx = varz::VarzContext {
            http_host: self.http_host.clone(),
            http_port: self.http_port,
            req_stats: self.req_stats.lock().clone(),
            cpu: self.cpu.percent(),
            mem: process::rss_bytes(),
            now,
        };
        varz::varz(server, ctx)
    }

    /// This process's CPU use (percent of one core) and resident memory.
    pub fn usage(&self) -> (f64, u64) {
        (self.cpu.percent(), process::rss_bytes())
    }
}

impl Monitor {
    fn count(&self, path: &str) {
        self.state.count(path);
    }

    fn varz(&self, now: SystemTime) -> varz::Varz {
        self.state.varz(&self.server, now)
    }
}

/// Routes by exact path, as nats-server's mux does (any method).
async fn dispatch(State(m): State<Arc<Monitor>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let now = SystemTime::now();
    let server = &m.server;
    let known = matches!(
        path.as_str(),
        "/" | "/varz"
            | "/connz"
            | "/subsz"
            | "/subscriptionsz"
            | "/routez"
            | "/gatewayz"
            | "/leafz"
            | "/accountz"
            | "/jsz"
            | "/healthz"
            | "/metrics"
    );
    if !known {
        return not_found();
    }
    m.count(if path == "/subscriptionsz" {
        "/subsz"
    } else {
        &path
    });
    match path.as_str() {
        "/" => html(absent::index_html(NATS_COMPAT_VERSION)),
        "/varz" => json(&m.varz(now)),
        "/connz" => match connz::ConnzOptions::from_query(&query) {
            Ok(opts) => json(&connz::connz(server, &opts, now)),
            Err(e) => bad_request(e),
        },
        "/subsz" | "/subscriptionsz" => match subsz::SubszOptions::from_query(&query) {
            Ok(opts) => json(&subsz::subsz(server, &opts, now)),
            Err(e) => bad_request(e),
        },
        "/routez" => json(&absent::routez(server, now)),
        "/gatewayz" => json(&absent::gatewayz(server, now)),
        "/leafz" => match leafz::LeafzOptions::from_query(&query) {
            Ok(opts) => json(&leafz::leafz(server, &opts, now)),
            Err(e) => bad_request(e),
        },
        "/accountz" => match accountz::accountz(server, query.get("acc"), now) {
            Ok(a) => json(&a),
            Err(e) => bad_request(BadRequest(e)),
        },
        "/jsz" => match jsz::JszOptions::from_query(&query).and_then(|o| jsz::jsz(server, &o, now))
        {
            Ok(info) => json(&info),
            Err(e) => bad_request(e),
        },
        "/healthz" => respond(
            StatusCode::OK,
            "application/json",
            true,
            compact_json(&absent::healthz(false)),
        ),
        _ => {
            let v = m.varz(now);
            let up = now.duration_since(server.start).unwrap_or_default();
            let js = jsz::jsz(server, &jsz::JszOptions::default(), now)
                .ok()
                .filter(|j| !j.disabled);
            respond(
                StatusCode::OK,
                metrics::CONTENT_TYPE,
                false,
                metrics::render(&v, up.as_secs_f64(), js.as_ref()).into_bytes(),
            )
        }
    }
}

fn respond(status: StatusCode, content_type: &'static str, cors: bool, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if cors {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    resp
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    respond(StatusCode::OK, "application/json", true, pretty_json(value))
}

fn html(body: String) -> Response {
    respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        false,
        body.into_bytes(),
    )
}

fn bad_request(e: BadRequest) -> Response {
    respond(
        StatusCode::BAD_REQUEST,
        "text/plain; charset=utf-8",
        false,
        e.0.into_bytes(),
    )
}

fn not_found() -> Response {
    let mut resp = respond(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        false,
        b"404 page not found\n".to_vec(),
    );
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod http_tests;

#[cfg(test)]
#[path = "jsz_tests.rs"]
mod jsz_tests;
