//! The NATS client side of record and replay (async-nats): header blocks to and from
//! async-nats' `HeaderMap`, and the `Publisher` that replays into a server.

use std::str::FromStr;

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

use super::format::Message;
use super::replay::{PublishError, Publisher};

/// A header block as NATS sends it, from what async-nats parsed: the status line, then the
/// headers sorted by name (async-nats does not keep their order).
pub fn headers_to_raw(
    headers: Option<&HeaderMap>,
    status: Option<u16>,
    description: Option<&str>,
) -> Option<Vec<u8>> {
    if headers.is_none() && status.is_none() {
        return None;
    }
    let mut out = b"NATS/1.0".to_vec();
    if let Some(code) = status {
        out.extend_from_slice(format!(" {code}").as_bytes());
        if let Some(d) = description.filter(|d| !d.is_empty()) {
            out.push(b' ');
            out.extend_from_slice(d.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    if let Some(map) = headers {
        let mut entries: Vec<(&HeaderName, &Vec<HeaderValue>)> = map.iter().collect();
        entries.sort_by(|a, b| {
            let (x, y): (&str, &str) = (a.0.as_ref(), b.0.as_ref());
            x.cmp(y)
        });
        for (name, values) in entries {
            for value in values {
                let name: &str = name.as_ref();
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_str().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
}

/// Parses a raw header block into a `HeaderMap` (the status line is dropped: clients can't
/// publish one). Lines that are not `Name: value` are skipped.
pub fn headers_from_raw(raw: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    let text = String::from_utf8_lossy(raw);
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().is_empty() {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_str(name.trim()),
            HeaderValue::from_str(value.trim_start()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    map
}

/// Replays into a NATS server through async-nats.
pub struct NatsPublisher {
    client: async_nats::Client,
}

impl NatsPublisher {
    pub fn new(client: async_nats::Client) -> Self {
        NatsPublisher { client }
    }
}

impl Publisher for NatsPublisher {
    async fn publish(&mut self, subject: &[u8], m: &Message) -> Result<(), PublishError> {
        let subject = std::str::from_utf8(subject)
            .map_err(|_| PublishError::Skip("subject is not UTF-8".into()))?
            .to_string();
        let reply = m
            .reply
            .as_deref()
            .map(|r| std::str::from_utf8(r).map(str::to_string))
            .transpose()
            .map_err(|_| PublishError::Skip("reply subject is not UTF-8".into()))?;
        let payload = Bytes::copy_from_slice(&m.payload);
        let headers = m.headers.as_deref().map(headers_from_raw);
        let result = match (reply, headers) {
            (Some(r), Some(h)) => {
                self.client
                    .publish_with_reply_and_headers(subject, r, h, payload)
                    .await
            }
            (Some(r), None) => self.client.publish_with_reply(subject, r, payload).await,
            (None, Some(h)) => self.client.publish_with_headers(subject, h, payload).await,
            (None, None) => self.client.publish(subject, payload).await,
        };
        result.map_err(|e| PublishError::Fatal(e.to_string()))
    }

    async fn flush(&mut self) -> Result<(), PublishError> {
        self.client
            .flush()
            .await
            .map_err(|e| PublishError::Fatal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn header_blocks_convert_both_ways() {
        let raw = b"NATS/1.0\r\nA: 1\r\nB: two words\r\nA: 3\r\n\r\n";
        let map = headers_from_raw(raw);
        // Same-name values keep their order; names come out sorted.
        assert_eq!(
            headers_to_raw(Some(&map), None, None).unwrap(),
            b"NATS/1.0\r\nA: 1\r\nA: 3\r\nB: two words\r\n\r\n".to_vec()
        );
        assert_eq!(
            headers_to_raw(None, Some(503), None).unwrap(),
            b"NATS/1.0 503\r\n\r\n".to_vec()
        );
        assert_eq!(headers_to_raw(None, None, None), None);
        assert!(headers_from_raw(
            "NATS/1.0\r\ngarbage\r\n: x\r\nb\u{1}d: x\r\n\u{e9}: y\r\n".as_bytes()
        )
        .iter()
        .next()
        .is_none());
    }
}
