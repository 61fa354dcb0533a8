//! Fetching the inventory: over the system account (`$SYS.REQ.SERVER.PING.VARZ` and
//! `.CONNZ`: every server of the cluster answers) or over HTTP from monitoring endpoints.
//! Every fetch is bounded in time; a server that does not answer in time is left out of the
//! poll, which is how the inventory notices it is gone.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty, Limited};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::cluster::{Connz, Jsz, Leafz, PollResult, Routez, Varz};

/// How long replies to a `$SYS.REQ.SERVER.PING.*` request are gathered.
pub const GATHER_WINDOW: Duration = Duration::from_millis(500);
/// Bound on one HTTP request, connect included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest monitoring response read.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Connections asked of each server (nats-server's default page).
const CONNZ_LIMIT: usize = 1024;
/// Replies gathered per request, at most (one per server).
const MAX_REPLIES: usize = 512;

/// Why a request to a deployment failed. The inventory shows it as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    #[error("can't subscribe for replies: {0}")]
    Subscribe(String),
    #[error("can't send {subject}: {detail}")]
    Send { subject: String, detail: String },
    #[error("{url}: no answer within {} s", HTTP_TIMEOUT.as_secs())]
    HttpTimeout { url: String },
    #[error("{url}: bad URL: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("{url}: only http:// monitoring URLs are supported")]
    NotHttp { url: String },
    #[error("{url}: no host")]
    NoHost { url: String },
    /// Connecting, the HTTP exchange or reading the body failed.
    #[error("{url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: hyper::StatusCode,
    },
    #[error("{url}: not nats-server JSON: {detail}")]
    NotJson { url: String, detail: String },
    #[error("the server did not answer the kick request")]
    KickTimeout,
    #[error("kick failed: {0}")]
    Kick(String),
    #[error("unreadable kick reply: {0}")]
    KickReply(String),
    /// The server refused, in its words.
    #[error("{0}")]
    Refused(String),
}

/// nats-server's envelope around a `$SYS` reply.
#[derive(Debug, Deserialize)]
struct ApiResponse<T> {
    data: Option<T>,
    error: Option<ApiError>,
    server: Option<ApiServer>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
struct ApiServer {
    #[serde(default)]
    name: String,
}

/// Publishes one request and gathers every reply that arrives within `window`.
pub async fn gather(
    client: &async_nats::Client,
    subject: &str,
    body: Bytes,
    window: Duration,
) -> Result<Vec<async_nats::Message>, PollError> {
    let inbox = client.new_inbox();
    let mut sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| PollError::Subscribe(e.to_string()))?;
    client
        .publish_with_reply(subject.to_string(), inbox, body)
        .await
        .map_err(|e| PollError::Send {
            subject: subject.to_string(),
            detail: e.to_string(),
        })?;
    let mut replies = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while replies.len() < MAX_REPLIES {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(m)) => replies.push(m),
            Ok(None) | Err(_) => break,
        }
    }
    let _ = sub.unsubscribe().await;
    Ok(replies)
}

fn decode<T: DeserializeOwned>(
    what: &str,
    replies: &[async_nats::Message],
    errors: &mut Vec<String>,
) -> Vec<T> {
    let mut out = Vec::new();
    for m in replies {
        // A status-only message (503: no responders) means the request reached no server
        // that serves it: not a system-account user, most likely.
        if m.status.is_some_and(|s| s.as_u16() == 503) {
            errors.push(format!(
                "{what}: no server answered (are these system-account credentials?)"
            ));
            continue;
        }
        match serde_json::from_slice::<ApiResponse<T>>(&m.payload) {
            Ok(r) => match (r.data, r.error) {
                (Some(d), _) => out.push(d),
                (None, Some(e)) => errors.push(format!(
                    "{what} from {}: {}",
                    r.server.map(|s| s.name).unwrap_or_default(),
                    e.description
                )),
                (None, None) => {}
            },
            Err(e) => errors.push(format!("{what}: unreadable reply: {e}")),
        }
    }
    out
}

/// Polls every server over the system account.
pub async fn poll_system(client: &async_nats::Client) -> PollResult {
    let mut result = PollResult::default();
    let varz = gather(
        client,
        "$SYS.REQ.SERVER.PING.VARZ",
        Bytes::new(),
        GATHER_WINDOW,
    );
    let connz_body = serde_json::json!({
        "subscriptions_detail": true,
        "limit": CONNZ_LIMIT,
    })
    .to_string();
    let connz = gather(
        client,
        "$SYS.REQ.SERVER.PING.CONNZ",
        Bytes::from(connz_body),
        GATHER_WINDOW,
    );
    let jsz = gather(
        client,
        "$SYS.REQ.SERVER.PING.JSZ",
        Bytes::new(),
        GATHER_WINDOW,
    );
    let leafz = gather(
        client,
        "$SYS.REQ.SERVER.PING.LEAFZ",
        Bytes::new(),
        GATHER_WINDOW,
    );
    let (varz, connz, jsz, leafz) = tokio::join!(varz, connz, jsz, leafz);
    match varz {
        Ok(replies) => result.varz = decode("VARZ", &replies, &mut result.errors),
        Err(e) => result.errors.push(e.to_string()),
    }
    match connz {
        Ok(replies) => result.connz = decode("CONNZ", &replies, &mut result.errors),
        Err(e) => result.errors.push(e.to_string()),
    }
    // JetStream is extra: a server that does not answer it leaves JetStream unknown.
    if let Ok(replies) = jsz {
        result.jsz = decode("JSZ", &replies, &mut Vec::new());
    }
    // So are leaf nodes.
    if let Ok(replies) = leafz {
        result.leafz = decode("LEAFZ", &replies, &mut Vec::new());
    }
    if result.varz.is_empty() && result.errors.is_empty() {
        result
            .errors
            .push("no server answered the system-account request".into());
    }
    result.errors.dedup();
    result
}

/// Polls each monitoring URL for /varz, /connz, /routez, /jsz and /leafz.
pub async fn poll_http(urls: &[String]) -> PollResult {
    let mut result = PollResult::default();
    for base in urls {
        let (varz_url, connz_url, routez_url, jsz_url, leafz_url) = (
            format!("{base}/varz"),
            format!("{base}/connz?subs=detail&limit={CONNZ_LIMIT}"),
            format!("{base}/routez"),
            format!("{base}/jsz"),
            format!("{base}/leafz"),
        );
        let varz = get_json::<Varz>(&varz_url);
        let connz = get_json::<Connz>(&connz_url);
        let routez = get_json::<Routez>(&routez_url);
        let jsz = get_json::<Jsz>(&jsz_url);
        let leafz = get_json::<Leafz>(&leafz_url);
        let (varz, connz, routez, jsz, leafz) = tokio::join!(varz, connz, routez, jsz, leafz);
        // JetStream and leaf nodes are extra: a server without /jsz leaves JetStream
        // unknown, one without /leafz lists no links.
        if let Ok(j) = jsz {
            result.jsz.push(j);
        }
        if let Ok(l) = leafz {
            result.leafz.push(l);
        }
        match varz {
            Ok(v) => result.varz.push(v),
            Err(e) => result.errors.push(e.to_string()),
        }
        match connz {
            Ok(c) => result.connz.push(c),
            Err(e) => result.errors.push(e.to_string()),
        }
        match routez {
            Ok(r) => result.routez.push(r),
            Err(e) => result.errors.push(e.to_string()),
        }
    }
    result.errors.dedup();
    result
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, PollError> {
    let body = tokio::time::timeout(HTTP_TIMEOUT, http_get(url))
        .await
        .map_err(|_| PollError::HttpTimeout {
            url: url.to_string(),
        })??;
    serde_json::from_slice(&body).map_err(|e| PollError::NotJson {
        url: url.to_string(),
        detail: e.to_string(),
    })
}

/// A plain HTTP/1.1 GET (monitoring endpoints are served without TLS by default).
pub async fn http_get(url: &str) -> Result<Bytes, PollError> {
    let http = |detail: String| PollError::Http {
        url: url.to_string(),
        detail,
    };
    let uri: hyper::Uri =
        url.parse()
            .map_err(|e: hyper::http::uri::InvalidUri| PollError::BadUrl {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
    if uri.scheme_str() != Some("http") {
        return Err(PollError::NotHttp {
            url: url.to_string(),
        });
    }
    let host = uri
        .host()
        .ok_or_else(|| PollError::NoHost {
            url: url.to_string(),
        })?
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| http(e.to_string()))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| http(e.to_string()))?;
    // The connection task ends with the response (the request says `close`).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or(host);
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| http(e.to_string()))?;
    if !response.status().is_success() {
        return Err(PollError::Status {
            url: url.to_string(),
            status: response.status(),
        });
    }
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| http(e.to_string()))?;
    Ok(body.to_bytes())
}

/// Asks server `server_id` to disconnect its client `cid` (nats-server 2.10 and later,
/// system account only).
pub async fn kick(client: &async_nats::Client, server_id: &str, cid: u64) -> Result<(), PollError> {
    let subject = format!("$SYS.REQ.SERVER.{server_id}.KICK");
    let body = serde_json::json!({ "cid": cid }).to_string();
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        client.request(subject, Bytes::from(body)),
    )
    .await
    .map_err(|_| PollError::KickTimeout)?
    .map_err(|e| PollError::Kick(e.to_string()))?;
    let r: ApiResponse<serde_json::Value> =
        serde_json::from_slice(&reply.payload).map_err(|e| PollError::KickReply(e.to_string()))?;
    match r.error {
        Some(e) => Err(PollError::Refused(e.description)),
        None => Ok(()),
    }
}
