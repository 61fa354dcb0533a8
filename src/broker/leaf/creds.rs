//! What a leaf needs to reach and authenticate to its hub: the remote's URLs, `.creds`
//! files, and nonce signatures with a user seed.

use base64::Engine;

use crate::options::DEFAULT_LEAFNODE_PORT;

/// A remote's URL, parsed as nats-server's leaf remotes use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafUrl {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl LeafUrl {
    /// `scheme://[user[:password]@]host[:port]`; a bare `host:port` is taken as
    /// `nats-leaf://`. The port defaults to 7422. WebSocket URLs are refused (leaf links
    /// over WebSocket are not served).
    pub fn parse(text: &str) -> Result<LeafUrl, String> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("nats-leaf".to_string(), text),
        };
        if scheme == "ws" || scheme == "wss" {
            return Err(format!(
                "leafnode url {text:?}: connecting over WebSocket is not supported"
            ));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("error parsing leafnode url [{text:?}]"))?;
            (host.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) if !p.is_empty() => p
                .parse::<u16>()
                .map_err(|_| format!("error parsing leafnode url [{text:?}]"))?,
            _ => DEFAULT_LEAFNODE_PORT,
        };
        if host.is_empty() {
            return Err(format!("error parsing leafnode url [{text:?}]"));
        }
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(info)), None),
            },
            None => (None, None),
        };
        Ok(LeafUrl {
            scheme,
            host,
            port,
            user,
            password,
        })
    }

    /// `host:port`, as logs and `/varz` show it (without credentials).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without credentials.
    pub fn redacted(&self) -> String {
        format!("{}://{}", self.scheme, self.host_port())
    }

    /// Whether the scheme asks for TLS.
    pub fn wants_tls(&self) -> bool {
        self.scheme == "tls"
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user JWT and the seed of a `.creds` file: the first two blocks that sit between
/// `-----...-----` marker lines, as nats-server's `credsRe` finds them.
pub fn parse_creds(text: &str) -> Result<(String, String), String> {
    let is_marker = |l: &str| {
        let l = l.trim();
        l.len() >= 6 && l.starts_with("---") && l.ends_with("---")
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        if is_marker(lines[i]) && !is_marker(lines[i + 1]) && is_marker(lines[i + 2]) {
            let item = lines[i + 1].trim();
            let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
            if !item.is_empty() && item.chars().all(word) {
                items.push(item.to_string());
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    let mut items = items.into_iter();
    match (items.next(), items.next()) {
        (Some(jwt), Some(seed)) => Ok((jwt, seed)),
        _ => Err("Credentials file malformed".to_string()),
    }
}

/// Signs `nonce` with the user `seed`: the public key and the signature in raw URL-safe
/// base64, as nats-server's leaf CONNECT carries them.
pub fn sign_nonce(seed: &str, nonce: &[u8]) -> Result<(String, String), String> {
    let kp = nkeys::KeyPair::from_seed(seed.trim()).map_err(|e| format!("malformed seed: {e}"))?;
    let sig = kp
        .sign(nonce)
        .map_err(|e| format!("signing the nonce: {e}"))?;
    Ok((
        kp.public_key(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_parse_as_leaf_remotes_need_them() {
        let u = LeafUrl::parse("nats-leaf://u:p%40ss@hub.example:7000").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.user.as_deref(),
                u.password.as_deref()
            ),
            ("hub.example", 7000, Some("u"), Some("p@ss"))
        );
        let u = LeafUrl::parse("tls://[::1]").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.wants_tls()),
            ("::1", 7422, true)
        );
        assert_eq!(u.host_port(), "[::1]:7422");
        let u = LeafUrl::parse("127.0.0.1:4").unwrap();
        assert_eq!((u.scheme.as_str(), u.port, u.user), ("nats-leaf", 4, None));
        let u = LeafUrl::parse("nats://token@h").unwrap();
        assert_eq!((u.user.as_deref(), u.password), (Some("token"), None));
        assert!(LeafUrl::parse("nats://h:notaport").is_err());
        assert!(LeafUrl::parse("ws://h:80").is_err());
        assert!(LeafUrl::parse("nats://").is_err());
    }

    #[test]
    fn creds_files_give_the_jwt_then_the_seed() {
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        let text = format!(
            "-----BEGIN NATS USER JWT-----\neyJhbGc.eyJqdGki.sig-_=\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        );
        let (jwt, got) = parse_creds(&text).unwrap();
        assert_eq!(jwt, "eyJhbGc.eyJqdGki.sig-_=");
        assert_eq!(got, seed);
        assert!(parse_creds("-----A-----\nonly\n-----B-----\n").is_err());
        let (public, sig) = sign_nonce(&seed, b"nonce").unwrap();
        assert_eq!(public, kp.public_key());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        assert!(kp.verify(b"nonce", &raw).is_ok());
        assert!(sign_nonce("SXbad", b"n").is_err());
    }
}
