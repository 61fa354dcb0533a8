//! Encoders for what the server sends: MSG and HMSG frames, and the short protocol lines.

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Appends `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, or the HMSG form
/// `HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n<headers><payload>\r\n` when
/// `header_len` is given. `message` holds the headers (if any) followed by the payload.
pub fn message(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    message: &[u8],
) {
    out.reserve(subject.len() + sid.len() + reply.map_or(0, <[u8]>::len) + message.len() + 32);
    out.extend_from_slice(if header_len.is_some() {
        b"HMSG "
    } else {
        b"MSG "
    });
    out.extend_from_slice(subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    sizes_and_message(out, reply, header_len, message);
}

/// Appends what a client sends to publish: `PUB <subject> [reply] <size>\r\n<payload>\r\n`,
/// or `HPUB <subject> [reply] <hdr_len> <total_len>\r\n<headers><payload>\r\n`.
pub fn publish(
    out: &mut Vec<u8>,
    subject: &[u8],
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    message: &[u8],
) {
    out.reserve(subject.len() + reply.map_or(0, <[u8]>::len) + message.len() + 32);
    out.extend_from_slice(if header_len.is_some() {
        b"HPUB "
    } else {
        b"PUB "
    });
    out.extend_from_slice(subject);
    sizes_and_message(out, reply, header_len, message);
}

/// The rest of a MSG or PUB frame: ` [reply] [hdr_len] <size>\r\n<message>\r\n`.
#[inline]
fn sizes_and_message(
    out: &mut Vec<u8>,
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    message: &[u8],
) {
    let mut digits = itoa::Buffer::new();
    if let Some(reply) = reply {
        out.push(b' ');
        out.extend_from_slice(reply);
    }
    if let Some(header_len) = header_len {
        out.push(b' ');
        out.extend_from_slice(digits.format(header_len).as_bytes());
    }
    out.push(b' ');
    out.extend_from_slice(digits.format(message.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
}

/// The no-responders status message nats-server sends to a requester when nobody is
/// subscribed to the request subject.
pub fn no_responders(out: &mut Vec<u8>, reply: &[u8], sid: &[u8], subject: &[u8]) {
    let mut headers = Vec::with_capacity(32 + subject.len());
    headers.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    headers.extend_from_slice(subject);
    headers.extend_from_slice(b"\r\n\r\n");
    message(out, reply, sid, None, Some(headers.len()), &headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_and_hmsg_frames() {
        let mut out = Vec::new();
        message(&mut out, b"foo", b"1", Some(b"bar"), None, b"hi");
        message(
            &mut out,
            b"foo",
            b"1",
            None,
            Some(12),
            b"NATS/1.0\r\n\r\nhi",
        );
        assert_eq!(
            out,
            b"MSG foo 1 bar 2\r\nhi\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".to_vec()
        );
    }

    #[test]
    fn no_responders_matches_nats_server_bytes() {
        let mut out = Vec::new();
        no_responders(&mut out, b"_INBOX.x", b"2", b"nobody");
        assert_eq!(
            out,
            b"HMSG _INBOX.x 2 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\n".to_vec()
        );
    }
}
