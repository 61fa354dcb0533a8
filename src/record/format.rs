//! The recording file format, version 2 (described in docs/recording-format.md): a magic and
//! version, then records, each `u32 length | u32 crc32 | body`, all integers little-endian.
//! The body starts with a one-byte kind. This module encodes and decodes bodies; framing and
//! I/O are the writer's and the reader's.

use serde::{Deserialize, Serialize};

/// The first bytes of every recording, followed by the version.
pub const MAGIC: &[u8; 6] = b"SWBREC";
/// The format version written after the magic (`u16` little-endian). Version 2 added BATCH
/// records, version 3 WIRE records; readers read versions 1 to 3.
pub const VERSION: u16 = 3;
/// Bytes before the first record: magic and version.
pub const FILE_HEADER_LEN: usize = MAGIC.len() + 2;
/// Bytes in front of each record body: length and CRC32.
pub const FRAME_HEADER_LEN: usize = 8;
/// Largest body a reader accepts; a larger length means a damaged file.
pub const MAX_BODY_LEN: u32 = 256 * 1024 * 1024;

/// Record kinds (the first byte of a body).
pub mod kind {
    /// JSON metadata about the recording; the first record.
    pub const META: u8 = 1;
    /// One message.
    pub const MESSAGE: u8 = 2;
    /// A publishing connection's id and name, before its first message.
    pub const CONNECTION: u8 = 3;
    /// Counters so far (written periodically while recording).
    pub const STATS: u8 = 4;
    /// Final counters; present only when the recording was closed cleanly.
    pub const END: u8 = 5;
    /// Messages one broker connection published in one socket read: they share the time
    /// and the publisher, so each costs a short entry and the batch one CRC.
    pub const BATCH: u8 = 6;
    /// Messages one broker connection published in one socket read, kept as the client
    /// sent them (`PUB`/`HPUB` frames) with each message's receiver count: recording them
    /// costs the publish path one copy per read instead of an encoding per message.
    pub const WIRE: u8 = 7;
}

/// Message flags.
const HAS_REPLY: u8 = 1;
const HAS_HEADERS: u8 = 2;
const HAS_PUBLISHER: u8 = 4;
const HAS_RECEIVERS: u8 = 8;
/// Fixed part of a message body: kind, flags, time, publisher, receivers and four lengths.
const MESSAGE_FIXED: usize = 1 + 1 + 8 + 8 + 4 + 4 * 4;
/// Fixed part of a BATCH body: kind, flags (publisher present), time, publisher.
#[cfg(test)]
const BATCH_FIXED: usize = 1 + 1 + 8 + 8;
/// Fixed part of a WIRE body: kind, flags (publisher present), time, publisher, count.
const WIRE_FIXED: usize = 1 + 1 + 8 + 8 + 4;
/// Fixed part of each BATCH entry: flags, receivers and four lengths.
#[cfg(test)]
const ENTRY_FIXED: usize = 1 + 4 + 4 * 4;

/// One recorded message, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds since the Unix epoch when the message was seen.
    pub time_ns: u64,
    pub subject: Vec<u8>,
    pub reply: Option<Vec<u8>>,
    /// The raw header block (`NATS/1.0\r\n...\r\n\r\n`) of an HPUB.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// The publishing connection's id (recordings made inside the broker).
    pub publisher: Option<u64>,
    /// How many subscriptions received it (recordings made inside the broker).
    pub receivers: Option<u32>,
}

/// Borrowed view of a message to encode, so the broker encodes straight from its buffers.
#[derive(Debug, Clone, Copy)]
pub struct MessageRef<'a> {
    pub time_ns: u64,
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
    pub publisher: Option<u64>,
    pub receivers: Option<u32>,
}

impl Message {
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            time_ns: self.time_ns,
            subject: &self.subject,
            reply: self.reply.as_deref(),
            headers: self.headers.as_deref(),
            payload: &self.payload,
            publisher: self.publisher,
            receivers: self.receivers,
        }
    }

    /// Subject, reply, headers and payload bytes: what the live counters call bytes.
    pub fn size(&self) -> usize {
        self.as_ref().size()
    }
}

impl MessageRef<'_> {
    pub fn size(&self) -> usize {
        self.subject.len()
            + self.reply.map_or(0, <[u8]>::len)
            + self.headers.map_or(0, <[u8]>::len)
            + self.payload.len()
    }
}

/// Metadata in the META record. Unknown fields are ignored by readers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// `broker` (recorded inside switchboard), `client` (recorded as a NATS client) or
    /// `import` (made from NDJSON).
    pub source: String,
    /// Server URL or name, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
    /// Subject patterns recorded (empty: everything).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Nanoseconds since the Unix epoch when recording started.
    pub started_ns: u64,
    /// The program that wrote the file.
    #[serde(default)]
    pub writer: String,
}

/// Counters in STATS and END records (cumulative since the recording started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub time_ns: u64,
    /// Messages written.
    pub messages: u64,
    /// Message bytes written (subject, reply, headers and payload).
    pub bytes: u64,
    /// Messages that matched but were not written because the queue was full.
    pub drops: u64,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Meta(Meta),
    Message(Message),
    Connection {
        cid: u64,
        name: String,
    },
    Stats(Stats),
    End(Stats),
    /// A kind this version does not know (skipped by readers).
    Unknown(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("record of kind {0} is truncated or malformed")]
    Malformed(u8),
    #[error("metadata is not valid JSON: {0}")]
    Meta(String),
    #[error("a BATCH or WIRE record holds several messages (decode it with decode_into)")]
    Batch,
}

/// The file header: magic and version.
pub fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..MAGIC.len()].copy_from_slice(MAGIC);
    h[MAGIC.len()..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Encodes a message body.
pub fn encode_message(m: &MessageRef<'_>) -> Vec<u8> {
    let mut b = Vec::with_capacity(MESSAGE_FIXED + m.size());
    write_message(&mut b, m);
    b
}

/// Appends a message record framed as in the file, with its CRC left zero: the form in
/// which producers (recording as a client) hand messages to the writer, which fills in the
/// CRCs as it copies the records into the file's block (`AppendFile::append_record`).
pub fn append_message(out: &mut Vec<u8>, m: &MessageRef<'_>) {
    let len = MESSAGE_FIXED + m.size();
    out.reserve(FRAME_HEADER_LEN + len);
    out.extend_from_slice(&len_u32(len).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    write_message(out, m);
}

/// The bodies of the records in a batch made by `append_message`.
pub fn batch_bodies(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (header, rest) = data.split_first_chunk::<FRAME_HEADER_LEN>()?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let body = rest.get(..len)?;
        data = &rest[len..];
        Some(body)
    })
}

/// Starts a BATCH record at the end of `out`, framed as in the file with its length and CRC
/// left zero (`end_batch` fills in the length, the writer the CRC); returns where it starts.
/// Its messages share `time_ns` and `publisher` (the time of the socket read that brought
/// them in, and the connection that read). The broker wrote BATCH records in version 2;
/// the tests still write them, to check that such files read.
#[cfg(test)]
pub fn begin_batch(out: &mut Vec<u8>, time_ns: u64, publisher: Option<u64>) -> usize {
    begin_shared(out, kind::BATCH, BATCH_FIXED, time_ns, publisher)
}

/// The start both batch kinds share: the frame header left zero, kind, flags (publisher
/// present), time and publisher; `room` is what to reserve after the frame header.
fn begin_shared(
    out: &mut Vec<u8>,
    kind: u8,
    room: usize,
    time_ns: u64,
    publisher: Option<u64>,
) -> usize {
    let start = out.len();
    out.reserve(FRAME_HEADER_LEN + room);
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    out.push(kind);
    out.push(if publisher.is_some() {
        HAS_PUBLISHER
    } else {
        0
    });
    out.extend_from_slice(&time_ns.to_le_bytes());
    out.extend_from_slice(&publisher.unwrap_or(0).to_le_bytes());
    start
}

/// Appends one message to the BATCH record being built at the end of `out` (its time and
/// publisher are the batch's; those of `m` are not written).
#[cfg(test)]
pub fn append_batch_entry(out: &mut Vec<u8>, m: &MessageRef<'_>) {
    let reply = m.reply.unwrap_or_default();
    let headers = m.headers.unwrap_or_default();
    let mut fixed = [0u8; ENTRY_FIXED];
    fixed[0] = message_flags(m) & !HAS_PUBLISHER;
    fixed[1..5].copy_from_slice(&m.receivers.unwrap_or(0).to_le_bytes());
    for (i, len) in [m.subject.len(), reply.len(), headers.len(), m.payload.len()]
        .into_iter()
        .enumerate()
    {
        fixed[5 + 4 * i..9 + 4 * i].copy_from_slice(&len_u32(len).to_le_bytes());
    }
    out.reserve(ENTRY_FIXED + m.size());
    out.extend_from_slice(&fixed);
    out.extend_from_slice(m.subject);
    out.extend_from_slice(reply);
    out.extend_from_slice(headers);
    out.extend_from_slice(m.payload);
}

/// Starts a WIRE record at the end of `out` (framed, length and CRC left zero as in
/// `begin_batch`): the shared time and publisher, the message count and the receiver counts;
/// the caller appends the messages' frames and finishes it with `end_batch`.
pub fn begin_wire_batch(
    out: &mut Vec<u8>,
    time_ns: u64,
    publisher: Option<u64>,
    receivers: &[u32],
) -> usize {
    let start = begin_shared(
        out,
        kind::WIRE,
        WIRE_FIXED + 4 * receivers.len(),
        time_ns,
        publisher,
    );
    out.extend_from_slice(&len_u32(receivers.len()).to_le_bytes());
    // One pass the compiler can vectorize, not a capacity check per count.
    out.extend(receivers.iter().flat_map(|r| r.to_le_bytes()));
    start
}

/// Finishes the BATCH or WIRE record started at `start`: fills in its length.
pub fn end_batch(out: &mut [u8], start: usize) {
    let len = len_u32(out.len().saturating_sub(start + FRAME_HEADER_LEN));
    if let Some(field) = out.get_mut(start..start + 4) {
        field.copy_from_slice(&len.to_le_bytes());
    }
}

fn message_flags(m: &MessageRef<'_>) -> u8 {
    let mut flags = 0u8;
    flags |= if m.reply.is_some() { HAS_REPLY } else { 0 };
    flags |= if m.headers.is_some() { HAS_HEADERS } else { 0 };
    flags |= if m.publisher.is_some() {
        HAS_PUBLISHER
    } else {
        0
    };
    flags |= if m.receivers.is_some() {
        HAS_RECEIVERS
    } else {
        0
    };
    flags
}

/// The four lengths, then subject, reply, headers and payload.
fn write_parts(b: &mut Vec<u8>, m: &MessageRef<'_>) {
    let reply = m.reply.unwrap_or_default();
    let headers = m.headers.unwrap_or_default();
    for len in [m.subject.len(), reply.len(), headers.len(), m.payload.len()] {
        b.extend_from_slice(&len_u32(len).to_le_bytes());
    }
    b.extend_from_slice(m.subject);
    b.extend_from_slice(reply);
    b.extend_from_slice(headers);
    b.extend_from_slice(m.payload);
}

fn write_message(b: &mut Vec<u8>, m: &MessageRef<'_>) {
    b.push(kind::MESSAGE);
    b.push(message_flags(m));
    b.extend_from_slice(&m.time_ns.to_le_bytes());
    b.extend_from_slice(&m.publisher.unwrap_or(0).to_le_bytes());
    b.extend_from_slice(&m.receivers.unwrap_or(0).to_le_bytes());
    write_parts(b, m);
}

pub fn encode_meta(meta: &Meta) -> Vec<u8> {
    let mut b = vec![kind::META];
    // Serializing a struct of strings and integers cannot fail.
    b.extend_from_slice(&serde_json::to_vec(meta).unwrap_or_default());
    b
}

pub fn encode_connection(id: u64, name: &str) -> Vec<u8> {
    let mut b = vec![kind::CONNECTION];
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(name.as_bytes());
    b
}

pub fn encode_stats(stats: &Stats, end: bool) -> Vec<u8> {
    let mut b = vec![if end { kind::END } else { kind::STATS }];
    for v in [stats.time_ns, stats.messages, stats.bytes, stats.drops] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// A cursor over a body that fails instead of panicking.
struct Cursor<'a> {
    buf: &'a [u8],
    kind: u8,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Malformed(self.kind));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// The four lengths and the byte strings of a message whose other fields are known.
    fn message(
        &mut self,
        flags: u8,
        time_ns: u64,
        publisher: u64,
        receivers: u32,
    ) -> Result<Message, DecodeError> {
        let lens = [self.u32()?, self.u32()?, self.u32()?, self.u32()?];
        let kind = self.kind;
        let mut part = |n: u32| -> Result<Vec<u8>, DecodeError> {
            let n = usize::try_from(n).map_err(|_| DecodeError::Malformed(kind))?;
            Ok(self.take(n)?.to_vec())
        };
        let subject = part(lens[0])?;
        let reply = part(lens[1])?;
        let headers = part(lens[2])?;
        let payload = part(lens[3])?;
        Ok(Message {
            time_ns,
            subject,
            reply: (flags & HAS_REPLY != 0).then_some(reply),
            headers: (flags & HAS_HEADERS != 0).then_some(headers),
            payload,
            publisher: (flags & HAS_PUBLISHER != 0).then_some(publisher),
            receivers: (flags & HAS_RECEIVERS != 0).then_some(receivers),
        })
    }
}

/// Decodes one record body into the records it holds, appended to `out` in order: the
/// record itself, or each message of a BATCH. Nothing is appended when it fails.
pub fn decode_into(
    body: &[u8],
    out: &mut std::collections::VecDeque<Record>,
) -> Result<(), DecodeError> {
    match body.split_first() {
        Some((&kind::BATCH, rest)) => {
            let messages = decode_batch(rest)?;
            out.extend(messages.into_iter().map(Record::Message));
            Ok(())
        }
        Some((&kind::WIRE, rest)) => {
            let messages = decode_wire_batch(rest)?;
            out.extend(messages.into_iter().map(Record::Message));
            Ok(())
        }
        _ => {
            out.push_back(decode(body)?);
            Ok(())
        }
    }
}

fn decode_batch(rest: &[u8]) -> Result<Vec<Message>, DecodeError> {
    let mut c = Cursor {
        buf: rest,
        kind: kind::BATCH,
    };
    let batch_flags = c.u8()?;
    let time_ns = c.u64()?;
    let publisher = c.u64()?;
    let mut messages = Vec::new();
    while !c.buf.is_empty() {
        let flags = (c.u8()? & !HAS_PUBLISHER) | (batch_flags & HAS_PUBLISHER);
        let receivers = c.u32()?;
        messages.push(c.message(flags, time_ns, publisher, receivers)?);
    }
    Ok(messages)
}

fn decode_wire_batch(rest: &[u8]) -> Result<Vec<Message>, DecodeError> {
    use crate::proto::parser::{ClientOp, Parser, ParserLimits};
    let malformed = DecodeError::Malformed(kind::WIRE);
    let mut c = Cursor {
        buf: rest,
        kind: kind::WIRE,
    };
    let flags = c.u8()?;
    let time_ns = c.u64()?;
    let publisher_cid = c.u64()?;
    let publisher = (flags & HAS_PUBLISHER != 0).then_some(publisher_cid);
    let count = c.u32()? as usize;
    let receivers = c.take(
        count
            .checked_mul(4)
            .ok_or(DecodeError::Malformed(kind::WIRE))?,
    )?;
    let frames = c.buf;
    let mut parser = Parser::new(ParserLimits {
        max_control_line: frames.len(),
        max_payload: frames.len(),
    });
    parser.headers_enabled = true;
    let mut pos = 0;
    let mut messages = Vec::with_capacity(count);
    for r in receivers.chunks_exact(4) {
        let Ok(Some(ClientOp::Pub(p))) = parser.next_op(frames, &mut pos) else {
            return Err(malformed);
        };
        messages.push(Message {
            time_ns,
            subject: p.subject.to_vec(),
            reply: p.reply.map(<[u8]>::to_vec),
            headers: p
                .header_len
                .map(|n| p.message.get(..n).unwrap_or_default().to_vec()),
            payload: p.payload().to_vec(),
            publisher,
            receivers: Some(u32::from_le_bytes([r[0], r[1], r[2], r[3]])),
        });
    }
    if pos != frames.len() || !parser.is_idle() {
        return Err(malformed);
    }
    Ok(messages)
}

/// Decodes one record body (after the frame header).
pub fn decode(body: &[u8]) -> Result<Record, DecodeError> {
    let (&k, rest) = body.split_first().ok_or(DecodeError::Empty)?;
    let mut c = Cursor { buf: rest, kind: k };
    match k {
        kind::META => serde_json::from_slice(rest)
            .map(Record::Meta)
            .map_err(|e| DecodeError::Meta(e.to_string())),
        kind::MESSAGE => {
            let flags = c.u8()?;
            let time_ns = c.u64()?;
            let publisher = c.u64()?;
            let receivers = c.u32()?;
            let m = c.message(flags, time_ns, publisher, receivers)?;
            if !c.buf.is_empty() {
                return Err(DecodeError::Malformed(k));
            }
            Ok(Record::Message(m))
        }
        kind::BATCH | kind::WIRE => Err(DecodeError::Batch),
        kind::CONNECTION => {
            let id = c.u64()?;
            Ok(Record::Connection {
                cid: id,
                name: String::from_utf8_lossy(c.buf).into_owned(),
            })
        }
        kind::STATS | kind::END => {
            let stats = Stats {
                time_ns: c.u64()?,
                messages: c.u64()?,
                bytes: c.u64()?,
                drops: c.u64()?,
            };
            Ok(if k == kind::END {
                Record::End(stats)
            } else {
                Record::Stats(stats)
            })
        }
        other => Ok(Record::Unknown(other)),
    }
}

/// The frame header of a body of `body_len` bytes whose CRC32 is `crc`.
pub fn frame_header(body_len: usize, crc: u32) -> [u8; FRAME_HEADER_LEN] {
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[..4].copy_from_slice(&len_u32(body_len).to_le_bytes());
    h[4..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn message_bodies_round_trip() {
        let cases = [
            Message::default(),
            Message {
                time_ns: u64::MAX,
                subject: b"a.b".to_vec(),
                reply: Some(Vec::new()),
                headers: Some(b"NATS/1.0\r\nK: v\r\n\r\n".to_vec()),
                payload: (0..=255u8).collect(),
                publisher: Some(7),
                receivers: Some(0),
            },
            Message {
                subject: b"\xff\x00".to_vec(),
                reply: Some(b"_INBOX.x".to_vec()),
                payload: Vec::new(),
                ..Message::default()
            },
        ];
        for m in cases {
            let body = encode_message(&m.as_ref());
            assert_eq!(decode(&body).unwrap(), Record::Message(m));
        }
    }

    #[test]
    fn batches_split_back_into_bodies() {
        let a = Message {
            subject: b"a".to_vec(),
            ..Message::default()
        };
        let b = Message {
            subject: b"b".to_vec(),
            payload: vec![1; 300],
            ..Message::default()
        };
        let mut batch = Vec::new();
        append_message(&mut batch, &a.as_ref());
        append_message(&mut batch, &b.as_ref());
        let bodies: Vec<Vec<u8>> = batch_bodies(&batch).map(<[u8]>::to_vec).collect();
        assert_eq!(bodies.len(), 2);
        assert_eq!(decode(&bodies[1]).unwrap(), Record::Message(b));
        assert_eq!(batch_bodies(&batch[..batch.len() - 1]).count(), 1);
    }

    #[test]
    fn batch_records_round_trip_into_messages() {
        let entries = [
            Message {
                subject: b"a.b".to_vec(),
                reply: Some(b"_INBOX.1".to_vec()),
                payload: b"x".to_vec(),
                receivers: Some(3),
                ..Message::default()
            },
            Message {
                subject: b"\xff".to_vec(),
                reply: Some(Vec::new()),
                headers: Some(b"NATS/1.0\r\n\r\n".to_vec()),
                payload: (0..=255u8).collect(),
                receivers: Some(0),
                ..Message::default()
            },
            Message {
                subject: b"c".to_vec(),
                ..Message::default()
            },
        ];
        for publisher in [Some(42), None] {
            let mut data = vec![9; 5]; // whatever precedes the batch in the buffer
            let start = begin_batch(&mut data, 1_234, publisher);
            for m in &entries {
                append_batch_entry(&mut data, &m.as_ref());
            }
            end_batch(&mut data, start);
            let body = batch_bodies(&data[start..]).next().unwrap();
            assert_eq!(FRAME_HEADER_LEN + body.len(), data.len() - start);
            assert_eq!(decode(body), Err(DecodeError::Batch));
            let mut out = std::collections::VecDeque::new();
            decode_into(body, &mut out).unwrap();
            let want: Vec<Record> = entries
                .iter()
                .map(|m| {
                    Record::Message(Message {
                        time_ns: 1_234,
                        publisher,
                        ..m.clone()
                    })
                })
                .collect();
            assert_eq!(Vec::from(out), want);
            // Cut anywhere inside its last entry, the batch is malformed as a whole.
            let mut out = std::collections::VecDeque::new();
            for cut in body.len() - 5..body.len() {
                assert!(decode_into(&body[..cut], &mut out).is_err(), "cut at {cut}");
            }
            assert!(out.is_empty(), "a failed batch yields nothing");
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let body = encode_message(&Message::default().as_ref());
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        assert_eq!(decode(&[200, 1, 2]).unwrap(), Record::Unknown(200));
        assert!(decode(&[kind::META, b'{']).is_err());
    }

    /// A WIRE record holds the frames as sent; it decodes into the same messages, and a
    /// count that does not match its frames makes it undecodable.
    #[test]
    fn wire_batches_decode_into_messages() {
        let mut data = Vec::new();
        let start = begin_wire_batch(&mut data, 42, Some(7), &[2, 0, 1]);
        data.extend_from_slice(b"pub a.b  _INBOX.1 5\r\nhello\r\n");
        crate::proto::encode::publish(&mut data, b"c", None, Some(12), b"NATS/1.0\r\n\r\n\x00\r\n");
        crate::proto::encode::publish(&mut data, b"d", Some(b"r"), None, b"");
        end_batch(&mut data, start);
        let body = &data[start + FRAME_HEADER_LEN..];
        assert_eq!(decode(body), Err(DecodeError::Batch));
        let mut out = std::collections::VecDeque::new();
        decode_into(body, &mut out).unwrap();
        let got: Vec<Message> = out
            .into_iter()
            .map(|r| match r {
                Record::Message(m) => m,
                other => panic!("{other:?}"),
            })
            .collect();
        let m = |subject: &[u8],
                 reply: Option<&[u8]>,
                 headers: Option<&[u8]>,
                 payload: &[u8],
                 receivers| Message {
            time_ns: 42,
            subject: subject.to_vec(),
            reply: reply.map(<[u8]>::to_vec),
            headers: headers.map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            publisher: Some(7),
            receivers: Some(receivers),
        };
        assert_eq!(
            got,
            vec![
                m(b"a.b", Some(b"_INBOX.1"), None, b"hello", 2),
                m(b"c", None, Some(b"NATS/1.0\r\n\r\n"), b"\x00\r\n", 0),
                m(b"d", Some(b"r"), None, b"", 1),
            ]
        );
        // One receiver count too many, or a frame cut short: undecodable, nothing returned.
        let mut more = Vec::new();
        let start = begin_wire_batch(&mut more, 1, None, &[1, 1]);
        more.extend_from_slice(b"PUB a 1\r\nx\r\n");
        end_batch(&mut more, start);
        let mut out = std::collections::VecDeque::new();
        assert!(decode_into(&more[FRAME_HEADER_LEN..], &mut out).is_err());
        let cut = &body[..body.len() - 3];
        assert!(decode_into(cut, &mut out).is_err());
        assert!(out.is_empty());
    }
}
