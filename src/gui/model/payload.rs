//! Payloads and headers as a person reads them: text, pretty JSON or a hex dump; the
//! NATS header block split into lines; the publish form's `key: value` lines parsed.

/// How the detail pane shows a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadView {
    #[default]
    Text,
    Json,
    Hex,
}

/// The most useful view for these bytes: JSON if it parses, text if it reads as text,
/// otherwise hex.
pub fn best_view(payload: &[u8]) -> PayloadView {
    if payload.is_empty() {
        return PayloadView::Text;
    }
    if serde_json::from_slice::<serde_json::Value>(payload).is_ok() {
        return PayloadView::Json;
    }
    if looks_like_text(payload) {
        PayloadView::Text
    } else {
        PayloadView::Hex
    }
}

/// Valid UTF-8 with no control characters other than whitespace.
pub fn looks_like_text(payload: &[u8]) -> bool {
    match std::str::from_utf8(payload) {
        Ok(s) => s
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')),
        Err(_) => false,
    }
}

/// The payload as text; invalid UTF-8 and control bytes are shown escaped.
pub fn render_text(payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len());
    for chunk in payload.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && !matches!(c, '\n' | '\t') {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Pretty-printed JSON, or why it is not JSON.
pub fn render_json(payload: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

/// A classic hex dump (offset, 16 bytes in hex, ASCII), at most `max_bytes` of the payload.
pub fn render_hex(payload: &[u8], max_bytes: usize) -> String {
    let shown = &payload[..payload.len().min(max_bytes)];
    let mut out = String::with_capacity(shown.len() * 4 + 16);
    for (line, chunk) in shown.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", line * 16));
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        for &b in chunk {
            out.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
        out.push('\n');
    }
    if payload.len() > shown.len() {
        out.push_str(&format!(
            "... {} more bytes not shown\n",
            payload.len() - shown.len()
        ));
    }
    out
}

/// Renders in the given view; JSON falls back to text with the parse error first.
pub fn render(payload: &[u8], view: PayloadView) -> String {
    match view {
        PayloadView::Text => render_text(payload),
        PayloadView::Json => match render_json(payload) {
            Ok(s) => s,
            Err(e) => format!("({e})\n{}", render_text(payload)),
        },
        PayloadView::Hex => render_hex(payload, 64 * 1024),
    }
}

/// A NATS header block (`NATS/1.0 [status]\r\nKey: Value\r\n...\r\n\r\n`) split into its
/// status line and `(key, value)` pairs, in order.
pub fn parse_header_block(raw: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default().trim().to_string();
    let pairs = lines
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect();
    (status, pairs)
}

/// Back from the pairs to `key: value` lines (what the publish form edits).
pub fn header_lines(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The publish form's header text: one `key: value` a line, blank lines ignored.
pub fn parse_header_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("header line {}: expected `key: value`", n + 1));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("header line {}: bad key {key:?}", n + 1));
        }
        out.push((key.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_view() {
        assert_eq!(best_view(br#"{"a":1}"#), PayloadView::Json);
        assert_eq!(best_view(b"hello world"), PayloadView::Text);
        assert_eq!(best_view(&[0, 1, 2, 0xff]), PayloadView::Hex);
        assert_eq!(best_view(b""), PayloadView::Text);
    }

    #[test]
    fn text_escapes_what_it_cannot_show() {
        assert_eq!(render_text(b"a\tb\nc"), "a\tb\nc");
        assert_eq!(render_text(b"a\x00b"), "a\\x00b");
        assert_eq!(render_text(b"ok\xffok"), "ok\\xffok");
    }

    #[test]
    fn json_is_pretty_or_explained() {
        assert_eq!(
            render_json(br#"{"id":7,"items":[1,2]}"#).as_deref(),
            Ok("{\n  \"id\": 7,\n  \"items\": [\n    1,\n    2\n  ]\n}")
        );
        assert!(render_json(b"nope").is_err());
        assert!(render(b"nope", PayloadView::Json).starts_with("(not JSON"));
    }

    #[test]
    fn hex_dump_layout() {
        let dump = render_hex(b"0123456789abcdefXY", 1024);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(
            lines[0],
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  0123456789abcdef"
        );
        assert!(lines[1].starts_with("00000010  58 59 "));
        assert!(lines[1].ends_with("  XY"));
        let cut = render_hex(&[0u8; 40], 16);
        assert!(cut.ends_with("... 24 more bytes not shown\n"));
    }

    #[test]
    fn header_blocks_and_lines() {
        let (status, pairs) =
            parse_header_block(b"NATS/1.0\r\nTrace-Id: abc\r\nContent-Type: json\r\n\r\n");
        assert_eq!(status, "NATS/1.0");
        assert_eq!(
            pairs,
            [
                ("Trace-Id".to_string(), "abc".to_string()),
                ("Content-Type".to_string(), "json".to_string())
            ]
        );
        assert_eq!(header_lines(&pairs), "Trace-Id: abc\nContent-Type: json");
        assert_eq!(
            parse_header_lines("Trace-Id: abc\n\n X: a:b ").as_deref(),
            Ok(&[
                ("Trace-Id".to_string(), "abc".to_string()),
                ("X".to_string(), "a:b".to_string())
            ][..])
        );
        assert!(parse_header_lines("no colon").is_err());
        assert!(parse_header_lines("bad key: v").is_err());
    }
}
