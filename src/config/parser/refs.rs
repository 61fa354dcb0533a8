//! The parts of the parser that reach outside the text: `$variables` (earlier keys and the
//! environment) and `include` files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{is_blank, is_nl, Parser, MAX_INCLUDE_DEPTH};
use crate::config::value::{Kind, Pos, Value};
use crate::config::ConfigError;

impl Parser<'_, '_, '_> {
    pub(super) fn lookup_variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
        for prefix in ["2a$", "2b$", "2y$"] {
            if name.starts_with(prefix) {
                return Ok(Value {
                    kind: Kind::String(format!("${name}")),
                    pos,
                });
            }
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.get_entry_mut(name) {
                entry.used_as_variable = true;
                return Ok(Value {
                    kind: entry.value.kind.clone(),
                    pos,
                });
            }
        }
        if self.shared.env_stack.iter().any(|n| n == name) {
            return Err(self.err_at(pos, format!("variable reference cycle for '{name}'")));
        }
        let Some(text) = (self.shared.env)(name) else {
            return Err(self.err_at(
                pos,
                format!("variable reference for '{name}' can not be found"),
            ));
        };
        let text = format!("pk={text}");
        self.shared.env_stack.push(name.to_string());
        let file: Arc<str> = Arc::from(format!("<environment variable {name}>"));
        let parsed = Parser::new(&text, file, None, &mut *self.shared).parse_document();
        self.shared.env_stack.pop();
        let map = parsed.map_err(|e| {
            self.err_at(
                pos.clone(),
                format!("variable reference for '{name}' could not be parsed: {e}"),
            )
        })?;
        match map.get("pk") {
            Some(v) => Ok(Value {
                kind: v.kind.clone(),
                pos,
            }),
            None => Err(self.err_at(
                pos,
                format!("variable reference for '{name}' can not be found"),
            )),
        }
    }

    pub(super) fn parse_include(&mut self, pos: Pos) -> Result<(), ConfigError> {
        self.skip_blank();
        let target = match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.bump();
                let start = self.i;
                let Some(len) = self.b[start..].iter().position(|&c| c == q) else {
                    return Err(self.err_at(pos, "unexpected end of file in a quoted include"));
                };
                self.advance_to(start + len);
                self.bump();
                self.src[start..start + len].to_string()
            }
            None => return Err(self.err("expected a file name after include")),
            Some(c) if is_nl(c) => {
                return Err(self.err("expected a file name after include but found a new line"))
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'[' | b'{' | b'(' | b'-' | b'\\') => {
                return Err(self.err(format!(
                    "expected a file name after include but found '{}'",
                    self.current_char()
                )))
            }
            Some(_) => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !(is_nl(c) || is_blank(c) || matches!(c, b';' | b'}' | b'\'')))
                {
                    self.bump();
                }
                let t = self.src[start..self.i].to_string();
                if self.peek() == Some(b'\'') {
                    self.bump();
                }
                t
            }
        };
        if self.shared.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(self.err_at(
                pos,
                format!("include '{target}' is nested too deeply (is there an include cycle?)"),
            ));
        }
        let path = match &self.dir {
            Some(dir) => dir.join(&target),
            None => PathBuf::from(&target),
        };
        let include_err = |error: ConfigError| ConfigError::Include {
            pos: pos.clone(),
            include: target.clone(),
            error: Box::new(error),
        };
        let text = std::fs::read_to_string(&path).map_err(|error| {
            include_err(ConfigError::Read {
                path: path.clone(),
                error,
            })
        })?;
        self.shared.include_depth += 1;
        let file: Arc<str> = Arc::from(path.display().to_string());
        let dir = path.parent().map(Path::to_path_buf);
        let parsed = Parser::new(&text, file, dir, &mut *self.shared).parse_document();
        self.shared.include_depth -= 1;
        let map = parsed.map_err(include_err)?;
        if let Some(scope) = self.scopes.last_mut() {
            for entry in map.entries() {
                scope.insert(entry.clone());
            }
        }
        Ok(())
    }
}
