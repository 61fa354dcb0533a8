//! nats-server's exact `-ERR` texts. Clients match these byte for byte (nats.go lower-cases
//! them and branches on prefixes), so they are kept verbatim, including their odd casing.

pub const UNKNOWN_PROTOCOL_OPERATION: &str = "Unknown Protocol Operation";
pub const MAX_CONTROL_LINE_EXCEEDED: &str = "maximum control line exceeded";
pub const MAX_PAYLOAD_VIOLATION: &str = "Maximum Payload Violation";
pub const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";
pub const AUTHENTICATION_TIMEOUT: &str = "Authentication Timeout";
pub const USER_AUTHENTICATION_EXPIRED: &str = "User Authentication Expired";
pub const USER_AUTHENTICATION_REVOKED: &str = "User Authentication Revoked";
pub const MAX_ACCOUNT_CONNECTIONS_EXCEEDED: &str = "maximum account active connections exceeded";
pub const STALE_CONNECTION: &str = "Stale Connection";
pub const MAX_CONNECTIONS_EXCEEDED: &str = "maximum connections exceeded";
pub const INVALID_CLIENT_PROTOCOL: &str = "invalid client protocol";
pub const NO_RESPONDERS_REQUIRES_HEADERS: &str = "no responders requires headers support";
pub const SECURE_CONNECTION_TLS_REQUIRED: &str = "Secure Connection - TLS Required";
pub const INVALID_SUBJECT: &str = "Invalid Subject";
pub const INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";
pub const MAX_SUBSCRIPTIONS_EXCEEDED: &str = "maximum subscriptions exceeded";

/// `Permissions Violation for Publish to "<subject>"`.
pub fn publish_violation(subject: &[u8]) -> String {
    format!("Permissions Violation for Publish to {}", go_quote(subject))
}

/// `Permissions Violation for Publish with Reply of "<reply>"`.
pub fn publish_reply_violation(reply: &[u8]) -> String {
    format!(
        "Permissions Violation for Publish with Reply of {}",
        go_quote(reply)
    )
}

/// `Permissions Violation for Subscription to "<subject>"`, with ` using queue "<queue>"`.
pub fn subscribe_violation(subject: &[u8], queue: Option<&[u8]>) -> String {
    match queue {
        Some(q) => format!(
            "Permissions Violation for Subscription to {} using queue {}",
            go_quote(subject),
            go_quote(q)
        ),
        None => format!(
            "Permissions Violation for Subscription to {}",
            go_quote(subject)
        ),
    }
}

/// The whole `-ERR '<text>'\r\n` line.
pub fn err_line(text: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(text.len() + 9);
    line.extend_from_slice(b"-ERR '");
    line.extend_from_slice(text.as_bytes());
    line.extend_from_slice(b"'\r\n");
    line
}

/// Quotes bytes the way Go's `%q` does for the strings nats-server puts in errors:
/// printable ASCII as is, `"` and `\` escaped, everything else as an escape.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_line_is_quoted_and_terminated() {
        assert_eq!(
            err_line(UNKNOWN_PROTOCOL_OPERATION),
            b"-ERR 'Unknown Protocol Operation'\r\n".to_vec()
        );
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote(b"foo.bar"), "\"foo.bar\"");
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote(b"\x00\xff"), "\"\\x00\\xff\"");
        assert_eq!(
            subscribe_violation(b"foo", Some(b"q")),
            "Permissions Violation for Subscription to \"foo\" using queue \"q\""
        );
    }
}
