//! Text -> [`Map`]: the nats-server configuration syntax.
//!
//! The grammar follows nats-server's `conf` package (as of 2.15):
//!
//! * entries are `key: value`, `key = value` or `key value`, ended by a new line, `;` or `,`
//!   (inside maps and at top level) or `,`/new line (inside arrays);
//! * keys are bare words or quoted with `"` / `'`; `include <file>` merges another file's entries
//!   into the current map (the path is relative to the including file);
//! * values: `{ ... }` maps, `[ ... ]` arrays, `"..."` strings with `\t \n \r \" \\ \xHH` escapes,
//!   `'...'` raw strings, `( ... )` multi-line raw blocks ending with `)` alone on a line, integers
//!   with optional size suffix, floats, ISO 8601 Zulu date-times, booleans
//!   (`true/false/yes/no/on/off`, unquoted only), `$name` variables, and bare strings (anything
//!   else up to a space, tab, new line, `,`, `;`, `]` or `}`);
//! * size suffixes: `k`/`m`/`g`/`t`/`p`/`e` are powers of 1000, `kb`/`ki`/`kib` (and likewise for
//!   the other letters) are powers of 1024, in any letter case. `1m` is therefore 1000000, not a
//!   minute; `2s`, `100ms` and `1h` are bare strings (durations are read from strings);
//! * a digit-led word that is not a number (`4222abc`, `1h`) is a bare string, and dotted words
//!   with two or more dots (`127.0.0.1`, `1.2.3.4:4222`) are strings;
//! * `$name` looks for a key `name` defined earlier in the enclosing maps (innermost first), then
//!   for an environment variable, whose text is parsed as a value; `$2a$...` is a bcrypt hash;
//! * `#` and `//` start comments that run to the end of the line;
//! * the whole top level may be wrapped in `{ }` (JSON-like files).
//!
//! Deliberate differences from nats-server: an unknown size suffix (`1kbi`) and a missing value
//! are errors rather than silently dropped; `]` right after a number ends it (`[1,2]` is two
//! integers, nats-server reads the `2` as a string) and so does `#` (`port: 4222# note`);
//! maps and arrays nest at most 64 deep and includes 16 deep (nats-server has no limit and loops
//! on an include cycle).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::value::{Entry, Kind, Map, Pos, Value};
use super::ConfigError;

mod refs;

/// Maps and arrays nested deeper than this are refused (no real configuration comes close).
const MAX_DEPTH: usize = 64;
/// Includes nested deeper than this are refused; this also stops include cycles.
const MAX_INCLUDE_DEPTH: usize = 16;

/// State shared by a parser and the sub-parsers it starts for includes and environment values.
struct Shared<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    /// Environment variables being expanded, to detect reference cycles.
    env_stack: Vec<String>,
    include_depth: usize,
}

/// Parses a configuration file. Variables fall back to the process environment.
pub fn parse_file(path: &Path) -> Result<Map, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_str(&text, Some(path))
}

/// Parses configuration text. `origin` names the file in messages and is the base for relative
/// includes (without it, includes are relative to the working directory).
pub fn parse_str(text: &str, origin: Option<&Path>) -> Result<Map, ConfigError> {
    let env = |name: &str| {
        let valid = !name.is_empty() && !name.contains(['=', '\0']);
        valid.then(|| std::env::var(name).ok()).flatten()
    };
    parse_str_with_env(text, origin, &env)
}

/// [`parse_str`] with a custom source of environment variables.
pub fn parse_str_with_env(
    text: &str,
    origin: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Map, ConfigError> {
    let mut shared = Shared {
        env,
        env_stack: Vec::new(),
        include_depth: 0,
    };
    let (name, dir) = match origin {
        Some(p) => (p.display().to_string(), p.parent().map(Path::to_path_buf)),
        None => ("<string>".to_string(), None),
    };
    Parser::new(text, Arc::from(name), dir, &mut shared).parse_document()
}

/// Where an entry or value sits; decides which characters end a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Top level; the number of `{` wrapping the top level that are still open.
    Top(usize),
    Map,
    Array,
}

struct Parser<'s, 'c, 'e> {
    src: &'s str,
    b: &'s [u8],
    i: usize,
    line: u32,
    line_start: usize,
    file: Arc<str>,
    dir: Option<PathBuf>,
    /// The maps being built, outermost first; variables are looked up here.
    scopes: Vec<Map>,
    depth: usize,
    shared: &'c mut Shared<'e>,
}

fn is_nl(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn is_size_suffix(c: u8) -> bool {
    matches!(
        c.to_ascii_lowercase(),
        b'k' | b'm' | b'g' | b't' | b'p' | b'e'
    )
}

/// Characters that end a number (anything else turns the word into a bare string).
fn ends_number(c: Option<u8>) -> bool {
    match c {
        None => true,
        Some(c) => is_nl(c) || is_blank(c) || matches!(c, b'}' | b']' | b';' | b',' | b'#'),
    }
}

fn is_bool_word(s: &str) -> Option<bool> {
    ["true", "yes", "on"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
        .then_some(true)
        .or_else(|| {
            ["false", "no", "off"]
                .iter()
                .any(|w| s.eq_ignore_ascii_case(w))
                .then_some(false)
        })
}

fn size_multiplier(suffix: &str) -> Option<i64> {
    let s = suffix.to_ascii_lowercase();
    let (letter, rest) = s.split_at(1.min(s.len()));
    let power: u32 = match letter {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    let base: i64 = match rest {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    base.checked_pow(power)
}

impl<'s, 'c, 'e> Parser<'s, 'c, 'e> {
    fn new(src: &'s str, file: Arc<str>, dir: Option<PathBuf>, shared: &'c mut Shared<'e>) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            i: 0,
            line: 1,
            line_start: 0,
            file,
            dir,
            scopes: Vec::new(),
            depth: 0,
            shared,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn bump(&mut self) {
        if let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            if c == b'\n' {
                self.line = self.line.saturating_add(1);
                self.line_start = self.i;
            }
        }
    }

    /// Moves to byte `to`, counting the lines crossed.
    fn advance_to(&mut self, to: usize) {
        while self.i < to && self.i < self.b.len() {
            self.bump();
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col: u32::try_from(self.i - self.line_start + 1).unwrap_or(u32::MAX),
        }
    }

    fn err_at(&self, pos: Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            pos,
            message: message.into(),
        }
    }

    fn err(&self, message: impl Into<String>) -> ConfigError {
        self.err_at(self.pos(), message)
    }

    /// The character at the cursor, for messages.
    fn current_char(&self) -> String {
        match self.src.get(self.i..).and_then(|s| s.chars().next()) {
            Some('\n') => "\\n".to_string(),
            Some('\r') => "\\r".to_string(),
            Some(c) => c.to_string(),
            None => "end of file".to_string(),
        }
    }

    fn skip_blank(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.bump();
        }
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some(b'#') => true,
            Some(b'/') => self.peek_at(1) == Some(b'/'),
            _ => false,
        }
    }

    /// Skips to the end of the line (the new line itself stays).
    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| !is_nl(c)) {
            self.bump();
        }
    }

    fn skip_whitespace_and_comments(&mut self) {
        loop {
            self.skip_whitespace();
            if self.at_comment() {
                self.skip_comment();
            } else {
                return;
            }
        }
    }

    fn parse_document(mut self) -> Result<Map, ConfigError> {
        self.scopes.push(Map::new());
        let mut braces = 0usize;
        loop {
            self.skip_whitespace_and_comments();
            match self.peek() {
                None => break,
                Some(b'{') => {
                    braces += 1;
                    self.bump();
                }
                Some(b'}') if braces > 0 => {
                    braces -= 1;
                    self.bump();
                }
                Some(b'}' | b',' | b';' | b':' | b'=') => {
                    return Err(self.err(format!("unexpected '{}'", self.current_char())));
                }
                Some(_) => self.parse_entry(Level::Top(braces))?,
            }
        }
        Ok(self.scopes.pop().unwrap_or_default())
    }

    fn parse_entry(&mut self, level: Level) -> Result<(), ConfigError> {
        let key_pos = self.pos();
        let (key, quoted) = match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.bump();
                let start = self.i;
                let Some(len) = self.b[start..].iter().position(|&c| c == q) else {
                    return Err(self.err_at(key_pos, "unexpected end of file in a quoted key"));
                };
                self.advance_to(start + len);
                self.bump();
                (self.src[start..start + len].to_string(), true)
            }
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !c.is_ascii_whitespace() && c != b':' && c != b'=')
                {
                    self.bump();
                }
                if self.peek().is_none() && level == Level::Map {
                    return Err(self.err("unexpected end of file in a map key"));
                }
                (self.src[start..self.i].to_string(), false)
            }
        };
        if !quoted
            && key.eq_ignore_ascii_case("include")
            && self.peek().is_some_and(|c| c.is_ascii_whitespace())
        {
            self.parse_include(key_pos)?;
            return self.value_end(level);
        }

        self.skip_whitespace();
        let had_separator = matches!(self.peek(), Some(b':' | b'='));
        if had_separator {
            self.bump();
        }
        match level {
            Level::Map | Level::Array => {
                self.skip_whitespace();
                match self.peek() {
                    None => return Err(self.err("unexpected end of file in a map")),
                    Some(b',' | b'}') => {
                        return Err(self.err(format!("missing value for key \"{key}\"")));
                    }
                    _ => {}
                }
            }
            Level::Top(_) => {
                self.skip_blank();
                match self.peek() {
                    Some(c) if is_nl(c) => {
                        return Err(self.err(format!(
                            "expected a value for key \"{key}\" but found a new line"
                        )));
                    }
                    None if !had_separator => {
                        return Err(self.err(format!("missing value for key \"{key}\"")));
                    }
                    _ => {}
                }
            }
        }
        let value = self.parse_value()?;
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(Entry {
                key,
                key_pos,
                value,
                used_as_variable: false,
            });
        }
        self.value_end(level)
    }

    /// After a value: blanks, then a comment, a terminator or the closing bracket of the level.
    fn value_end(&mut self, level: Level) -> Result<(), ConfigError> {
        self.skip_blank();
        if self.at_comment() {
            self.skip_comment();
            return Ok(());
        }
        match (level, self.peek()) {
            (Level::Top(_), None) => Ok(()),
            (Level::Map, None) => Err(self.err("unexpected end of file in a map, expected '}'")),
            (Level::Array, None) => {
                Err(self.err("unexpected end of file in an array, expected ']'"))
            }
            (_, Some(c)) if is_nl(c) || c == b',' => {
                self.bump();
                Ok(())
            }
            (Level::Top(_) | Level::Map, Some(b';')) => {
                self.bump();
                Ok(())
            }
            (Level::Top(braces), Some(b'}')) => {
                if braces == 0 {
                    self.bump();
                }
                Ok(())
            }
            (Level::Map, Some(b'}')) | (Level::Array, Some(b']')) => Ok(()),
            (Level::Array, Some(_)) => Err(self.err(format!(
                "expected ',' or ']' after an array value, but got '{}'",
                self.current_char()
            ))),
            (Level::Map, Some(_)) => Err(self.err(format!(
                "expected ',', ';', '}}' or a new line after a map value, but got '{}'",
                self.current_char()
            ))),
            (Level::Top(_), Some(_)) => Err(self.err(format!(
                "expected a new line, ';', ',' or a comment after a value, but got '{}'",
                self.current_char()
            ))),
        }
    }

    fn parse_value(&mut self) -> Result<Value, ConfigError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("maps and arrays are nested too deeply"));
        }
        self.depth += 1;
        let pos = self.pos();
        let result = match self.peek() {
            None => Ok(Kind::String(String::new())),
            Some(b'[') => self.parse_array(),
            Some(b'{') => self.parse_map(),
            Some(b'\'') => self.parse_raw_string(),
            Some(b'"') => self.parse_quoted_string(),
            Some(b'(') => self.parse_block(),
            Some(b'-') => self.parse_number(true),
            Some(c) if c.is_ascii_digit() => self.parse_number(false),
            Some(b'.') => Err(self.err("floats must start with a digit")),
            Some(c) if is_nl(c) => Err(self.err("expected a value but found a new line")),
            Some(_) => {
                let start = self.i;
                self.parse_bare(start, pos.clone())
            }
        };
        self.depth -= 1;
        Ok(Value { kind: result?, pos })
    }

    fn parse_array(&mut self) -> Result<Kind, ConfigError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_whitespace_and_comments();
            match self.peek() {
                None => return Err(self.err("unexpected end of file in an array, expected ']'")),
                Some(b']') => {
                    self.bump();
                    return Ok(Kind::Array(items));
                }
                Some(b',') => return Err(self.err("unexpected ',' in an array")),
                Some(_) => {
                    items.push(self.parse_value()?);
                    self.value_end(Level::Array)?;
                }
            }
        }
    }

    fn parse_map(&mut self) -> Result<Kind, ConfigError> {
        self.bump();
        self.scopes.push(Map::new());
        loop {
            self.skip_whitespace_and_comments();
            match self.peek() {
                None => return Err(self.err("unexpected end of file in a map, expected '}'")),
                Some(b'}') => {
                    self.bump();
                    return Ok(Kind::Map(self.scopes.pop().unwrap_or_default()));
                }
                Some(b':' | b'=' | b']' | b',' | b';') => {
                    return Err(self.err(format!(
                        "unexpected '{}' where a map key was expected",
                        self.current_char()
                    )));
                }
                Some(_) => self.parse_entry(Level::Map)?,
            }
        }
    }

    fn parse_raw_string(&mut self) -> Result<Kind, ConfigError> {
        let start_pos = self.pos();
        self.bump();
        let start = self.i;
        let Some(len) = self.b[start..].iter().position(|&c| c == b'\'') else {
            return Err(self.err_at(start_pos, "unexpected end of file in a quoted string"));
        };
        self.advance_to(start + len);
        self.bump();
        Ok(Kind::String(self.src[start..start + len].to_string()))
    }

    fn parse_quoted_string(&mut self) -> Result<Kind, ConfigError> {
        let start_pos = self.pos();
        self.bump();
        let mut out = Vec::new();
        let mut seg = self.i;
        loop {
            match self.peek() {
                None => {
                    return Err(self.err_at(start_pos, "unexpected end of file in a quoted string"))
                }
                Some(b'"') => {
                    out.extend_from_slice(&self.b[seg..self.i]);
                    self.bump();
                    return self.finish_string(out, start_pos);
                }
                Some(b'\\') => {
                    out.extend_from_slice(&self.b[seg..self.i]);
                    self.parse_escape(&mut out)?;
                    seg = self.i;
                }
                Some(_) => self.bump(),
            }
        }
    }

    fn finish_string(&self, bytes: Vec<u8>, pos: Pos) -> Result<Kind, ConfigError> {
        String::from_utf8(bytes)
            .map(Kind::String)
            .map_err(|_| self.err_at(pos, "string escapes do not form valid UTF-8"))
    }

    /// At a backslash: appends the escaped byte(s).
    fn parse_escape(&mut self, out: &mut Vec<u8>) -> Result<(), ConfigError> {
        self.bump();
        let c = self.peek();
        match c {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'"') => out.push(b'"'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = |c: Option<u8>| c.and_then(|c| (c as char).to_digit(16));
                match (hex(self.peek_at(1)), hex(self.peek_at(2))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        self.bump();
                        self.bump();
                    }
                    _ => return Err(self.err("expected two hexadecimal digits after '\\x'")),
                }
            }
            _ => {
                return Err(self.err(format!(
                    "invalid escape character '{}'; only \\xHH, \\t, \\n, \\r, \\\" and \\\\ are allowed",
                    self.current_char()
                )))
            }
        }
        self.bump();
        Ok(())
    }

    /// A bare word starting at byte `start` (the cursor may already be past `start`).
    fn parse_bare(&mut self, start: usize, pos: Pos) -> Result<Kind, ConfigError> {
        let mut out: Option<Vec<u8>> = None;
        let mut seg = start;
        loop {
            match self.peek() {
                None => break,
                Some(c) if is_nl(c) || is_blank(c) || matches!(c, b';' | b',' | b']' | b'}') => {
                    break
                }
                Some(b'\'') => {
                    // nats-server ends a bare word at a single quote and drops the quote.
                    let mut bytes = out.unwrap_or_default();
                    bytes.extend_from_slice(&self.b[seg..self.i]);
                    self.bump();
                    return self.finish_string(bytes, pos);
                }
                Some(b'\\') => {
                    let bytes = out.get_or_insert_with(Vec::new);
                    bytes.extend_from_slice(&self.b[seg..self.i]);
                    let mut tmp = std::mem::take(bytes);
                    self.parse_escape(&mut tmp)?;
                    out = Some(tmp);
                    seg = self.i;
                }
                Some(_) => self.bump(),
            }
        }
        if let Some(mut bytes) = out {
            bytes.extend_from_slice(&self.b[seg..self.i]);
            return self.finish_string(bytes, pos);
        }
        let word = &self.src[start..self.i];
        if let Some(b) = is_bool_word(word) {
            return Ok(Kind::Bool(b));
        }
        if let Some(name) = word.strip_prefix('$') {
            return self.lookup_variable(name, pos).map(|v| v.kind);
        }
        Ok(Kind::String(word.to_string()))
    }

    fn parse_block(&mut self) -> Result<Kind, ConfigError> {
        let start_pos = self.pos();
        self.bump();
        let start = self.i;
        let mut j = start;
        while j < self.b.len() {
            if self.b[j] == b')'
                && j > start
                && self.b[j - 1] == b'\n'
                && self.b.get(j + 1).is_none_or(|&c| is_nl(c))
            {
                self.advance_to(j + 1);
                return Ok(Kind::String(self.src[start..j].to_string()));
            }
            j += 1;
        }
        Err(self.err_at(
            start_pos,
            "unexpected end of file in a block string, expected ')' alone on a line",
        ))
    }

    fn parse_number(&mut self, negative: bool) -> Result<Kind, ConfigError> {
        let start = self.i;
        let pos = self.pos();
        if negative {
            self.bump();
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {}
                Some(b'.') => return Err(self.err("floats must start with a digit, not '.'")),
                _ => {
                    return Err(self.err(format!(
                        "expected a digit after '-' but got '{}'",
                        self.current_char()
                    )))
                }
            }
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let digits_end = self.i;
        match self.peek() {
            Some(b'-') if !negative => {
                if digits_end - start != 4 {
                    return Err(self.err("dates must be in full ISO 8601 Zulu form"));
                }
                self.parse_datetime(start)
            }
            Some(b'.') => {
                self.bump();
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.err(format!(
                        "floats must have a digit after the '.', but got '{}'",
                        self.current_char()
                    )));
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                if self.peek() == Some(b'.') {
                    // An IP address or similar dotted word.
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b':' | b'-'))
                    {
                        self.bump();
                    }
                    return Ok(Kind::String(self.src[start..self.i].to_string()));
                }
                let text = &self.src[start..self.i];
                text.parse::<f64>()
                    .map(Kind::Float)
                    .map_err(|_| self.err_at(pos, format!("invalid float '{text}'")))
            }
            Some(c) if is_size_suffix(c) => {
                self.bump();
                while self
                    .peek()
                    .is_some_and(|c| matches!(c, b'b' | b'B' | b'i' | b'I'))
                {
                    self.bump();
                }
                if ends_number(self.peek()) || self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.integer(start, digits_end, pos)
                } else {
                    self.parse_bare(start, pos)
                }
            }
            c if ends_number(c) || negative => self.integer(start, digits_end, pos),
            _ => self.parse_bare(start, pos),
        }
    }

    fn integer(&self, start: usize, digits_end: usize, pos: Pos) -> Result<Kind, ConfigError> {
        let text = &self.src[start..self.i];
        let out_of_range = || self.err_at(pos.clone(), format!("integer '{text}' is out of range"));
        let n: i64 = self.src[start..digits_end]
            .parse()
            .map_err(|_| out_of_range())?;
        let suffix = &self.src[digits_end..self.i];
        if suffix.is_empty() {
            return Ok(Kind::Integer(n));
        }
        let mult = size_multiplier(suffix).ok_or_else(|| {
            self.err_at(
                pos.clone(),
                format!("invalid size suffix '{suffix}' in '{text}'"),
            )
        })?;
        n.checked_mul(mult)
            .map(Kind::Integer)
            .ok_or_else(out_of_range)
    }

    fn parse_datetime(&mut self, start: usize) -> Result<Kind, ConfigError> {
        // After the year: -MM-DDTHH:MM:SSZ, where 0 stands for a digit.
        for expected in "-00-00T00:00:00Z".bytes() {
            let got = self.peek();
            let ok = match expected {
                b'0' => got.is_some_and(|c| c.is_ascii_digit()),
                e => got == Some(e),
            };
            if !ok {
                let what = if expected == b'0' {
                    "a digit".to_string()
                } else {
                    format!("'{}'", expected as char)
                };
                return Err(self.err(format!(
                    "expected {what} in an ISO 8601 date-time, but found '{}'",
                    self.current_char()
                )));
            }
            self.bump();
        }
        Ok(Kind::DateTime(self.src[start..self.i].to_string()))
    }
}
