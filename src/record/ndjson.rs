//! NDJSON export and import: one JSON object per message. Byte fields (subject, reply,
//! headers, payload) are JSON strings when they are valid UTF-8, else base64 with a
//! `<field>_encoding: "base64"` beside them; the payload always says which
//! (`payload_encoding`: `"text"` or `"base64"`).

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::format::{self, Message, Meta, Record};
use super::reader::{OpenError, Reader, Tail};
use super::writer::RecordWriter;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Line {
    pub time_ns: Option<u64>,
    /// RFC 3339 time, for people (ignored on import when `time_ns` is present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_encoding: Option<String>,
    #[serde(default)]
    pub payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receivers: Option<u32>,
}

const TEXT: &str = "text";
const B64: &str = "base64";

/// Text when UTF-8, else base64; the encoding is `None` for text.
fn encode_bytes(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (BASE64.encode(bytes), Some(B64.to_string())),
    }
}

/// A line of NDJSON that is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("{0}")]
    Json(String),
    #[error("{field} is not valid base64: {detail}")]
    Base64 { field: &'static str, detail: String },
    #[error("unknown {field}_encoding {encoding:?}")]
    UnknownEncoding {
        field: &'static str,
        encoding: String,
    },
    #[error("time {0:?} is not an RFC 3339 time after 1970")]
    BadTime(String),
    #[error("no time_ns or time")]
    NoTime,
}

fn decode_bytes(
    text: &str,
    encoding: Option<&str>,
    field: &'static str,
) -> Result<Vec<u8>, LineError> {
    match encoding {
        None | Some(TEXT) | Some("utf8") | Some("utf-8") => Ok(text.as_bytes().to_vec()),
        Some(B64) => BASE64.decode(text).map_err(|e| LineError::Base64 {
            field,
            detail: e.to_string(),
        }),
        Some(other) => Err(LineError::UnknownEncoding {
            field,
            encoding: other.to_string(),
        }),
    }
}

impl Line {
    pub fn from_message(m: &Message, publisher_name: Option<&str>) -> Line {
        let (subject, subject_encoding) = encode_bytes(&m.subject);
        let (reply, reply_encoding) = m.reply.as_deref().map(encode_bytes).unzip();
        let (headers, headers_encoding) = m.headers.as_deref().map(encode_bytes).unzip();
        let (payload, payload_encoding) = encode_bytes(&m.payload);
        let time = i64::try_from(m.time_ns).ok().map(|ns| {
            chrono::DateTime::from_timestamp_nanos(ns)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        });
        Line {
            time_ns: Some(m.time_ns),
            time,
            subject,
            subject_encoding,
            reply,
            reply_encoding: reply_encoding.flatten(),
            headers,
            headers_encoding: headers_encoding.flatten(),
            payload,
            payload_encoding: Some(payload_encoding.unwrap_or_else(|| TEXT.to_string())),
            publisher: m.publisher,
            publisher_name: publisher_name.map(str::to_string),
            receivers: m.receivers,
        }
    }

    pub fn to_message(&self) -> Result<Message, LineError> {
        let time_ns = match (self.time_ns, &self.time) {
            (Some(ns), _) => ns,
            (None, Some(t)) => chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .and_then(|d| d.timestamp_nanos_opt())
                .and_then(|ns| u64::try_from(ns).ok())
                .ok_or_else(|| LineError::BadTime(t.clone()))?,
            (None, None) => return Err(LineError::NoTime),
        };
        Ok(Message {
            time_ns,
            subject: decode_bytes(&self.subject, self.subject_encoding.as_deref(), "subject")?,
            reply: self
                .reply
                .as_deref()
                .map(|r| decode_bytes(r, self.reply_encoding.as_deref(), "reply"))
                .transpose()?,
            headers: self
                .headers
                .as_deref()
                .map(|h| decode_bytes(h, self.headers_encoding.as_deref(), "headers"))
                .transpose()?,
            payload: decode_bytes(&self.payload, self.payload_encoding.as_deref(), "payload")?,
            publisher: self.publisher,
            receivers: self.receivers,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {error}")]
    Line { line: u64, error: LineError },
}

/// Writes every message of a recording as NDJSON; returns the count and the tail, if any.
pub fn export(path: &Path, out: &mut impl Write) -> Result<(u64, Option<Tail>), NdjsonError> {
    let mut reader = Reader::open(path)?;
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut count = 0u64;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Connection { cid: id, name } => {
                names.insert(id, name);
            }
            Record::Message(m) => {
                let name = m
                    .publisher
                    .and_then(|id| names.get(&id))
                    .map(String::as_str);
                let line = Line::from_message(&m, name);
                serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
                count += 1;
            }
            _ => {}
        }
    }
    out.flush()?;
    Ok((count, reader.tail().cloned()))
}

/// Makes a recording from NDJSON; returns the number of messages written.
pub fn import(input: impl BufRead, path: &Path) -> Result<u64, NdjsonError> {
    let meta = Meta {
        source: "import".into(),
        started_ns: format::now_ns(),
        writer: format!("switchboard {}", env!("CARGO_PKG_VERSION")),
        ..Meta::default()
    };
    let mut writer = RecordWriter::create(path, &meta)?;
    let mut named: HashSet<u64> = HashSet::new();
    let mut count = 0u64;
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |error: LineError| NdjsonError::Line {
            line: index as u64 + 1,
            error,
        };
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| bad(LineError::Json(e.to_string())))?;
        let message = parsed.to_message().map_err(bad)?;
        if let (Some(id), Some(name)) = (message.publisher, &parsed.publisher_name) {
            if named.insert(id) {
                writer.write_connection(id, name)?;
            }
        }
        writer.write_message(&message)?;
        count += 1;
    }
    writer.finish(0)?;
    Ok(count)
}
