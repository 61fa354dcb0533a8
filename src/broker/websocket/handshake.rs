//! The HTTP/1.1 upgrade, sans I/O: the request parsed from its bytes, checked in
//! nats-server's order (`wsUpgrade`), and the answer: `101 Switching Protocols` with the
//! `Sec-WebSocket-Accept` key, or the status nats-server answers with (Go's `http.Error`
//! format) or Go's HTTP server's own `400 Bad Request` for what is not HTTP at all.

use base64::Engine as _;

/// RFC 6455's GUID, hashed with the client's key for `Sec-WebSocket-Accept`.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Go's `http.DefaultMaxHeaderBytes` plus the 4 KiB slack its server adds.
pub const MAX_REQUEST_BYTES: usize = (1 << 20) + 4096;

/// A parsed request: method, target, minor HTTP version and headers in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// Every value of header `name` (case-insensitive).
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name`, or `""`.
    pub fn get<'a>(&'a self, name: &str) -> &'a str {
        self.values(name).next().unwrap_or("")
    }

    /// nats-server's `wsHeaderContains`: a comma-separated token equal (ignoring case).
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    }

    /// Whether the client offers permessage-deflate.
    pub fn offers_deflate(&self) -> bool {
        self.values("Sec-WebSocket-Extensions")
            .flat_map(|v| v.split(','))
            .flat_map(|ext| ext.split(';'))
            .any(|p| {
                p.trim_matches([' ', '\t'])
                    .eq_ignore_ascii_case("permessage-deflate")
            })
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.values("Cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"').to_string())
    }
}

/// Why bytes are not a request yet, or not one at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete.
    Partial,
    /// A request whose head took this many bytes.
    Complete(Request, usize),
    /// Not HTTP: Go's server answers `400 Bad Request` (with this detail, when it gives one)
    /// and closes.
    Malformed(Option<&'static str>),
    /// The head is larger than Go's limit: `431`.
    TooLarge,
}

/// Parses the request head in `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_REQUEST_BYTES {
            return Parsed::TooLarge;
        }
        // A request line that can't be HTTP is refused without waiting for the rest.
        if let Some(line_end) = memchr::memmem::find(buf, b"\r\n") {
            if request_line(&buf[..line_end]).is_none() {
                return Parsed::Malformed(None);
            }
        }
        return Parsed::Partial;
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Parsed::Malformed(None);
    };
    let mut lines = head.split("\r\n");
    let Some((method, target, minor)) = lines.next().and_then(|l| request_line(l.as_bytes()))
    else {
        return Parsed::Malformed(None);
    };
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Malformed(None);
        };
        if name.is_empty() || name.bytes().any(|b| !is_token(b)) {
            return Parsed::Malformed(None);
        }
        headers.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    let request = Request {
        method,
        target,
        minor,
        headers,
    };
    if minor == 1 && request.values("Host").next().is_none() {
        return Parsed::Malformed(Some("missing required Host header"));
    }
    Parsed::Complete(request, end + 4)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `METHOD SP target SP HTTP/1.x`.
fn request_line(line: &[u8]) -> Option<(String, String, u8)> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target, proto) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || method.bytes().any(|b| !is_token(b)) {
        return None;
    }
    let minor = match proto {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return None,
    };
    if target.is_empty() {
        return None;
    }
    Some((method.to_string(), target.to_string(), minor))
}

/// A refusal nats-server answers with, and the reason it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
    }
}

/// What an accepted upgrade negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub key: String,
    pub compress: bool,
    /// `Nats-No-Masking: true`: the client will not mask its frames.
    pub no_masking: bool,
    /// `User-Agent: Mozilla/...`.
    pub browser: bool,
    /// Safari, whose compressed messages must not be fragmented.
    pub safari: bool,
}

/// Checks a request as nats-server's `wsUpgrade` does, in its order. `origin_ok` checks the
/// `Origin` (nats-server's `checkOrigin`); `compression` is the listener's setting.
pub fn check(
    req: &Request,
    compression: bool,
    origin_ok: impl FnOnce(&Request) -> Result<(), String>,
) -> Result<Upgrade, Refusal> {
    if req.method != "GET" {
        return Err(refuse(405, "request method must be GET"));
    }
    if req.get("Host").is_empty() {
        return Err(refuse(400, "'Host' missing in request"));
    }
    if !req.contains_token("Upgrade", "websocket") {
        return Err(refuse(400, "invalid value for header 'Upgrade'"));
    }
    if !req.contains_token("Connection", "Upgrade") {
        return Err(refuse(400, "invalid value for header 'Connection'"));
    }
    let key = req.get("Sec-WebSocket-Key");
    if key.is_empty() {
        return Err(refuse(400, "key missing"));
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if decoded.map(|d| d.len()) != Ok(16) {
        return Err(refuse(400, "invalid websocket key"));
    }
    if !req.contains_token("Sec-WebSocket-Version", "13") {
        return Err(refuse(400, "invalid version"));
    }
    if let Err(e) = origin_ok(req) {
        return Err(refuse(403, format!("origin not allowed: {e}")));
    }
    let agent = req.get("User-Agent");
    let browser = agent.starts_with("Mozilla/");
    let compress = compression && req.offers_deflate();
    Ok(Upgrade {
        key: key.to_string(),
        compress,
        no_masking: req.get("Nats-No-Masking") == "true",
        browser,
        safari: browser && agent.contains("Version/") && agent.contains("Safari/"),
    })
}

/// `Sec-WebSocket-Accept` for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// The `101 Switching Protocols` answer; `headers` are the listener's extra ones.
pub fn switching_protocols(upgrade: &Upgrade, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: ",
    );
    out.push_str(&accept_key(&upgrade.key));
    out.push_str("\r\n");
    if upgrade.compress {
        out.push_str(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\n",
        );
    }
    if upgrade.no_masking {
        out.push_str("Nats-No-Masking: true\r\n");
    }
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Go's status text for the codes the upgrade answers with.
fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// nats-server's refusal as Go's `http.Error` writes it: the status text as a plain-text
/// body, `Sec-Websocket-Version: 13`, and the date in `now_http_date`'s format.
pub fn refusal_response(status: u16, minor: u8, date: &str) -> Vec<u8> {
    let text = status_text(status);
    format!(
        "HTTP/1.{minor} {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {date}\r\n\
         Content-Length: {}\r\n\r\n{text}\n",
        text.len() + 1
    )
    .into_bytes()
}

/// What Go's HTTP server answers to bytes that are not a request it can read, before it
/// closes the connection.
pub fn bad_request_response(status: u16, detail: Option<&str>) -> Vec<u8> {
    let mut text = format!("{status} {}", status_text(status));
    if let Some(d) = detail {
        text.push_str(": ");
        text.push_str(d);
    }
    format!(
        "HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{text}"
    )
    .into_bytes()
}

/// The `Date` header's value now (`Tue, 01 Dec 2026 21:42:47 GMT`).
pub fn now_http_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// nats-server's `checkOrigin`: with `same_origin`, the `Origin` must be the request's own
/// scheme, host and port; with `allowed`, one of them (host to scheme and port). A request
/// without `Origin` (a client that is not a browser) passes.
pub fn check_origin(
    req: &Request,
    tls: bool,
    same_origin: bool,
    allowed: &[(String, String, String)],
) -> Result<(), String> {
    if !same_origin && allowed.is_empty() {
        return Ok(());
    }
    let mut origin = req.get("Origin");
    if origin.is_empty() {
        origin = req.get("Sec-WebSocket-Origin");
    }
    if origin.is_empty() {
        return Ok(());
    }
    let (scheme, host_port) = split_origin(origin)?;
    let (host, port) = host_and_port(scheme == "https", host_port)?;
    if same_origin {
        let (rh, rp) = host_and_port(tls, req.get("Host"))?;
        let rs = if tls { "https" } else { "http" };
        if host != rh || port != rp || !scheme.eq_ignore_ascii_case(rs) {
            return Err("not same origin".to_string());
        }
    }
    if !allowed.is_empty()
        && !allowed
            .iter()
            .any(|(h, s, p)| *h == host && s == scheme && *p == port)
    {
        return Err("not in the allowed list".to_string());
    }
    Ok(())
}

/// `scheme://host[:port][/...]` -> (scheme, host[:port]).
pub fn split_origin(origin: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| format!("parse \"{origin}\": invalid URI for request"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Ok((scheme, host))
}

/// nats-server's `wsGetHostAndPort`: the port defaults to 443 or 80; the host is lower-cased.
pub fn host_and_port(tls: bool, host_port: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {host_port}: missing ']' in address"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => default_port,
            None => return Err(format!("address {host_port}: missing port in address")),
        };
        return Ok((host.to_ascii_lowercase(), port.to_string()));
    }
    match host_port.matches(':').count() {
        0 => Ok((host_port.to_ascii_lowercase(), default_port.to_string())),
        1 => {
            let (h, p) = host_port.split_once(':').unwrap_or((host_port, ""));
            Ok((h.to_ascii_lowercase(), p.to_string()))
        }
        _ => Err(format!("address {host_port}: too many colons in address")),
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
