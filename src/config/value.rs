//! The tree a configuration file parses into: maps, arrays and scalars, each with the place it
//! came from so that later checks can name file and line.

use std::fmt;
use std::sync::Arc;

/// Where a key or value starts: the file (or a pseudo name such as `<string>`), line and column,
/// both counted from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One parsed value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

/// The types the format knows. Integers already carry their size suffix (`128KB` is 131072).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// An ISO 8601 Zulu date-time such as `2016-05-04T18:53:41Z`, kept as written.
    DateTime(String),
    Array(Vec<Value>),
    Map(Map),
}

impl Kind {
    /// A short name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::String(_) => "string",
            Kind::Integer(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Bool(_) => "boolean",
            Kind::DateTime(_) => "date-time",
            Kind::Array(_) => "array",
            Kind::Map(_) => "map",
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.kind {
            Kind::Integer(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One `key: value` of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Value,
    /// The key was referenced as `$key` later in the file: it defines a variable, so it is not
    /// reported as an unknown setting.
    pub used_as_variable: bool,
}

/// A map keeps the order keys were written in. Writing a key again replaces its value in place
/// (the last assignment wins, as in nats-server).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

impl Map {
    pub fn new() -> Self {
        Map::default()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`, compared exactly.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    pub(crate) fn get_entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// Sets `key`, replacing an earlier value of the same key.
    pub fn insert(&mut self, entry: Entry) {
        match self.get_entry_mut(&entry.key) {
            Some(existing) => {
                let used = existing.used_as_variable || entry.used_as_variable;
                *existing = entry;
                existing.used_as_variable = used;
            }
            None => self.entries.push(entry),
        }
    }
}
