//! Reading `$JS.API` request bodies as nats-server does (Go's `json.Decoder`), so that a
//! malformed request gets the same error text: `invalid character 'b' looking for beginning
//! of object key string at offset 2`, `unexpected EOF`, `can not unmarshal "\"disk\""`.
//!
//! [`check`] walks the body with the grammar of Go's JSON scanner and reports the first
//! error as Go words it. Bodies are then parsed with serde_json, which accepts exactly the
//! documents `check` accepts.

/// Why a body is not JSON, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one or more JSON values in a row (a decoder reads them one after the other).
pub fn check(body: &[u8]) -> Result<(), SyntaxError> {
    let mut s = Scanner { b: body, i: 0 };
    loop {
        s.skip_ws();
        if s.i >= s.b.len() {
            return Ok(());
        }
        s.value()?;
    }
}

/// Go's `quoteChar`: how an offending byte is shown.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => {
            let quoted = format!("{:?}", (c as char).to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// The byte at the cursor, or "unexpected EOF" (the decoder ran out mid-value).
    fn peek(&self) -> Result<u8, SyntaxError> {
        self.b
            .get(self.i)
            .copied()
            .ok_or_else(|| SyntaxError("unexpected EOF".into()))
    }

    /// `invalid character 'c' <context> at offset N`, N counting the offending byte.
    fn error(&self, context: &str) -> SyntaxError {
        let c = self.b.get(self.i).copied().unwrap_or(b' ');
        SyntaxError(format!(
            "invalid character {} {} at offset {}",
            quote_char(c),
            context,
            self.i + 1
        ))
    }

    fn value(&mut self) -> Result<(), SyntaxError> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(self.error("looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Result<(), SyntaxError> {
        self.i += 1;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return Err(self.error("looking for beginning of object key string"));
            }
            self.string()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return Err(self.error("after object key"));
            }
            self.i += 1;
            self.value()?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.error("after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<(), SyntaxError> {
        self.i += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.error("after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<(), SyntaxError> {
        self.i += 1;
        loop {
            let c = self.peek()?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return Err(self.error("in \\u hexadecimal character escape"));
                                }
                                self.i += 1;
                            }
                        }
                        _ => return Err(self.error("in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.error("in string literal")),
                _ => self.i += 1,
            }
        }
    }

    fn digits(&mut self) {
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// A number ends at the first byte that cannot continue it; the enclosing value
    /// judges that byte, as Go's scanner does. At the end of the body a number is whole.
    fn number(&mut self) -> Result<(), SyntaxError> {
        if self.b[self.i] == b'-' {
            self.i += 1;
            match self.peek()? {
                b'0'..=b'9' => {}
                _ => return Err(self.error("in numeric literal")),
            }
        }
        if self.b[self.i] == b'0' {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            match self.peek()? {
                b'0'..=b'9' => self.digits(),
                _ => return Err(self.error("after decimal point in numeric literal")),
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.i += 1;
            }
            match self.peek()? {
                b'0'..=b'9' => self.digits(),
                _ => return Err(self.error("in exponent of numeric literal")),
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), SyntaxError> {
        let name = std::str::from_utf8(word).unwrap_or_default();
        for &want in word {
            let c = self.peek()?;
            if c != want {
                return Err(self.error(&format!(
                    "in literal {name} (expecting {})",
                    quote_char(want)
                )));
            }
            self.i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        check(body.as_bytes()).unwrap_err().0
    }

    #[test]
    fn errors_read_as_go_writes_them() {
        assert_eq!(
            err("{bad"),
            "invalid character 'b' looking for beginning of object key string at offset 2"
        );
        assert_eq!(err("{\"name\":"), "unexpected EOF");
        assert_eq!(
            err("bad json"),
            "invalid character 'b' looking for beginning of value at offset 1"
        );
        assert_eq!(
            err("{\"a\" 1}"),
            "invalid character '1' after object key at offset 6"
        );
        assert_eq!(
            err("{\"a\":1 \"b\"}"),
            "invalid character '\"' after object key:value pair at offset 8"
        );
        assert_eq!(
            err("[1 2]"),
            "invalid character '2' after array element at offset 4"
        );
        assert_eq!(
            err("{\"a\":tru}"),
            "invalid character '}' in literal true (expecting 'e') at offset 9"
        );
        assert_eq!(
            err("{\"a\":-x}"),
            "invalid character 'x' in numeric literal at offset 7"
        );
        assert_eq!(
            err("{}}"),
            "invalid character '}' looking for beginning of value at offset 3"
        );
        assert_eq!(
            err("\"\\q\""),
            "invalid character 'q' in string escape code at offset 3"
        );
    }

    #[test]
    fn valid_documents_pass() {
        for ok in [
            "",
            "  ",
            "{}",
            "{} {}",
            "[1,-2.5e+3,\"x\\u00e9\",true,false,null]",
            "0",
        ] {
            assert!(check(ok.as_bytes()).is_ok(), "{ok}");
        }
    }
}
