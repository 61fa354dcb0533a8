//! The NATS header block (`NATS/1.0\r\nKey: value\r\n\r\n`): reading the JetStream headers of
//! a publish and adding the ones a direct get answers with. Keys match case-sensitively and
//! only at the start of a line, as nats-server's `sliceHeader` does.

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";
pub const TTL: &str = "Nats-TTL";
pub const STREAM: &str = "Nats-Stream";
pub const SUBJECT: &str = "Nats-Subject";
pub const SEQUENCE: &str = "Nats-Sequence";
pub const TIME_STAMP: &str = "Nats-Time-Stamp";
pub const NUM_PENDING: &str = "Nats-Num-Pending";
pub const LAST_SEQUENCE: &str = "Nats-Last-Sequence";
pub const UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";
pub const CLIENT_INFO: &str = "Nats-Request-Info";
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";
pub const INCR: &str = "Nats-Incr";
pub const SCHEDULE: &str = "Nats-Schedule";

const HEADER_LINE: &[u8] = b"NATS/1.0\r\n";

/// The value of `key`, when the block has it (the first occurrence).
pub fn get<'a>(headers: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let start = key_index(headers, key)?;
    let mut i = start + key.len() + 1;
    while headers.get(i) == Some(&b' ') {
        i += 1;
    }
    let rest = headers.get(i..)?;
    let end = memchr::memmem::find(rest, b"\r\n").unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The value as text, when present and UTF-8.
pub fn get_str<'a>(headers: &'a [u8], key: &str) -> Option<&'a str> {
    get(headers, key).and_then(|v| std::str::from_utf8(v).ok())
}

/// The value as an unsigned integer; `Some(None)` when present but not a number.
pub fn get_u64(headers: &[u8], key: &str) -> Option<Option<u64>> {
    get_str(headers, key).map(|v| v.trim().parse().ok())
}

/// Where `key:` starts a line of the block.
fn key_index(headers: &[u8], key: &str) -> Option<usize> {
    let key = key.as_bytes();
    let mut offset = 0;
    while let Some(found) = memchr::memmem::find(headers.get(offset..)?, key) {
        let index = offset + found;
        let at_line_start =
            index >= 2 && headers[index - 1] == b'\n' && headers[index - 2] == b'\r';
        if at_line_start && headers.get(index + key.len()) == Some(&b':') {
            return Some(index);
        }
        offset = index + key.len();
    }
    None
}

/// The block without any `key` lines; empty when nothing but the status line is left.
pub fn remove(headers: &[u8], key: &str) -> Vec<u8> {
    let mut out = headers.to_vec();
    while let Some(start) = key_index(&out, key) {
        let Some(end) = memchr::memmem::find(&out[start..], b"\r\n") else {
            break;
        };
        out.drain(start..start + end + 2);
    }
    if out.len() <= HEADER_LINE.len() + 2 {
        out.clear();
    }
    out
}

/// The block with `key: value` appended (a new block when `headers` is empty).
pub fn append(headers: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len() + key.len() + value.len() + 16);
    if headers.len() > 2 {
        out.extend_from_slice(&headers[..headers.len() - 2]);
    } else {
        out.extend_from_slice(HEADER_LINE);
    }
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// A status-only block such as `NATS/1.0 404 Message Not Found`, with extra headers.
pub fn status(code: u16, text: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("NATS/1.0 {code} {text}\r\n").into_bytes();
    for (k, v) in extra {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: a1\r\nX-Nats-Msg-Id: no\r\nNats-Expected-Last-Sequence: 7\r\n\r\n";

    #[test]
    fn values_are_found_only_at_a_line_start() {
        assert_eq!(get(BLOCK, MSG_ID), Some(&b"a1"[..]));
        assert_eq!(get_u64(BLOCK, EXPECTED_LAST_SEQ), Some(Some(7)));
        assert_eq!(get(BLOCK, "Msg-Id"), None);
        assert_eq!(get(b"", MSG_ID), None);
        assert_eq!(get(b"NATS/1.0\r\nNats-Msg-Id", MSG_ID), None);
    }

    #[test]
    fn remove_and_append_keep_the_block_well_formed() {
        let without = remove(BLOCK, MSG_ID);
        assert_eq!(
            without,
            b"NATS/1.0\r\nX-Nats-Msg-Id: no\r\nNats-Expected-Last-Sequence: 7\r\n\r\n"
        );
        assert!(remove(b"NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n", MSG_ID).is_empty());
        assert_eq!(
            append(b"", STREAM, "S"),
            b"NATS/1.0\r\nNats-Stream: S\r\n\r\n"
        );
        let appended = append(b"NATS/1.0\r\nA: b\r\n\r\n", STREAM, "S");
        assert_eq!(appended, b"NATS/1.0\r\nA: b\r\nNats-Stream: S\r\n\r\n");
        assert_eq!(get_str(&appended, "A"), Some("b"));
    }
}
