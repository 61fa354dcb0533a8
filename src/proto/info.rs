//! INFO (server to client) and CONNECT (client to server) JSON.

use serde::{Deserialize, Serialize};

/// The nats-server release whose client protocol switchboard implements. Reported as
/// `version` in INFO because clients gate features on it; our own version is reported in
/// `switchboard_version`.
pub const NATS_COMPAT_VERSION: &str = "2.15.1";
/// Client protocol level: 1 = supports async INFO.
pub const PROTOCOL_VERSION: i64 = 1;

/// The INFO sent to each client, field names and order as nats-server's.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i64,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub tls_available: bool,
    pub max_payload: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ldm: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_account: Option<String>,
    pub switchboard_version: String,
}

impl ServerInfo {
    /// The whole `INFO {...} \r\n` line (nats-server puts a space before the CRLF).
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing plain strings, integers and booleans cannot fail.
        line.extend(serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec()));
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// The options a client sends in CONNECT. Absent booleans take nats-server's defaults
/// (verbose, pedantic and echo default to true), and so does an explicit `null`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ConnectOptions {
    #[serde(default)]
    verbose: Option<bool>,
    #[serde(default)]
    pedantic: Option<bool>,
    #[serde(default)]
    pub tls_required: Option<bool>,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub protocol: Option<i64>,
    #[serde(default)]
    echo: Option<bool>,
    #[serde(default)]
    headers: Option<bool>,
    #[serde(default)]
    no_responders: Option<bool>,
    #[serde(default)]
    pub sig: Option<String>,
    #[serde(default)]
    pub nkey: Option<String>,
    #[serde(default)]
    pub jwt: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub new_account: Option<bool>,
}

impl ConnectOptions {
    /// Parses CONNECT's argument; any error means nats-server would close silently.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        // serde would also accept a JSON array for a struct; Go's decoder does not.
        if json.trim_ascii_start().first() == Some(&b'[') {
            return Err(serde::de::Error::custom("CONNECT must be a JSON object"));
        }
        serde_json::from_slice(json)
    }
    pub fn verbose(&self) -> bool {
        self.verbose.unwrap_or(true)
    }
    pub fn pedantic(&self) -> bool {
        self.pedantic.unwrap_or(true)
    }
    pub fn echo(&self) -> bool {
        self.echo.unwrap_or(true)
    }
    pub fn headers(&self) -> bool {
        self.headers.unwrap_or(false)
    }
    pub fn no_responders(&self) -> bool {
        self.no_responders.unwrap_or(false)
    }
    pub fn protocol(&self) -> i64 {
        self.protocol.unwrap_or(0)
    }
}

/// CONNECT's JSON for a trace line, secrets replaced by `[REDACTED]` as nats-server's
/// `removeSecretsFromTrace` does: values of keys starting with `auth_token` or `pass`, and of
/// `nkey`, `sig` and `proxy_sig`.
pub fn redact_secrets(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'"' {
            if let Some(len) = json[i + 1..].iter().position(|&b| b == b'"') {
                let key = &json[i + 1..i + 1 + len];
                let secret = key.starts_with(b"auth_token")
                    || key.starts_with(b"pass")
                    || matches!(key, b"nkey" | b"sig" | b"proxy_sig");
                let mut j = i + len + 2;
                while json.get(j).is_some_and(u8::is_ascii_whitespace) {
                    j += 1;
                }
                if secret && matches!(json.get(j), Some(b':' | b'=')) {
                    j += 1;
                    while json.get(j).is_some_and(u8::is_ascii_whitespace) {
                        j += 1;
                    }
                    if json.get(j) == Some(&b'"') {
                        j += 1;
                    }
                    out.extend_from_slice(&json[i..j]);
                    out.extend_from_slice(b"[REDACTED]");
                    while json
                        .get(j)
                        .is_some_and(|b| !matches!(b, b'"' | b',' | b'\r' | b'\n' | b'}'))
                    {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
            }
        }
        out.push(json[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connect_defaults_match_nats_server() {
        let c = ConnectOptions::parse(b"{}").unwrap();
        assert!(c.verbose() && c.pedantic() && c.echo());
        assert!(!c.headers() && !c.no_responders());
        let c = ConnectOptions::parse(br#"{"verbose":null,"echo":false,"x":1}"#).unwrap();
        assert!(c.verbose());
        assert!(!c.echo());
    }

    #[test]
    fn connect_rejects_what_go_rejects() {
        for bad in [
            &b"{bad json"[..],
            b"[]",
            br#"{"verbose":"yes"}"#,
            b"{} xyz",
            b"",
        ] {
            assert!(
                ConnectOptions::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn secrets_are_redacted_for_traces() {
        let r = redact_secrets(
            br#"{"verbose":false,"user":"u","pass":"p,w","auth_token":"t","nkey":"UA","sig":"s"}"#,
        );
        assert_eq!(
            String::from_utf8_lossy(&r),
            r#"{"verbose":false,"user":"u","pass":"[REDACTED],w","auth_token":"[REDACTED]","nkey":"[REDACTED]","sig":"[REDACTED]"}"#
        );
        assert_eq!(redact_secrets(b"{}"), b"{}");
    }

    #[test]
    fn info_line_format() {
        let info = ServerInfo {
            server_id: "N1".into(),
            port: 4222,
            ..Default::default()
        };
        let line = info.to_line();
        assert!(line.starts_with(b"INFO {\"server_id\":\"N1\""));
        assert!(line.ends_with(b"} \r\n"));
        assert!(!String::from_utf8_lossy(&line).contains("auth_required"));
    }
}
