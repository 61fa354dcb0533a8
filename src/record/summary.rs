//! What a recording holds, in one pass: message and byte counts, time span, subjects,
//! publishing connections, drops, and whether it ended cleanly or has a torn tail.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::format::{Message, Meta, Record, Stats};
use super::reader::{OpenError, Reader, Tail};

/// Distinct subjects counted; the rest are summed into `other_subjects`.
pub const MAX_SUBJECTS: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectSummary {
    /// The subject (invalid UTF-8 replaced).
    pub subject: String,
    pub messages: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionSummary {
    /// The connection's cid (`id` in JSON, as `info --json` has always written it).
    #[serde(rename = "id")]
    pub cid: u64,
    pub name: String,
    pub messages: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub version: u16,
    pub meta: Option<Meta>,
    pub messages: u64,
    pub bytes: u64,
    /// Time of the first and last message (ns since the Unix epoch).
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    /// Subjects by message count, most first.
    pub subjects: Vec<SubjectSummary>,
    /// Messages on subjects beyond `MAX_SUBJECTS`.
    pub other_subjects: u64,
    /// Publishing connections (broker recordings), by id.
    pub connections: Vec<ConnectionSummary>,
    /// The last STATS or END record.
    pub stats: Option<Stats>,
    /// Messages the recorder dropped (from the last STATS or END record).
    pub drops: u64,
    /// True when the file has its END record.
    pub clean_end: bool,
    /// Records of kinds this version does not know (skipped).
    pub unknown_records: u64,
    #[serde(skip)]
    pub tail: Option<Tail>,
    /// `tail` as text, for display.
    pub tail_text: Option<String>,
}

impl Summary {
    /// Recorded duration: last message time minus first.
    pub fn span_ns(&self) -> u64 {
        match (self.first_ns, self.last_ns) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        }
    }
}

/// Reads the whole file once and summarizes it.
pub fn summarize(path: &Path) -> Result<Summary, OpenError> {
    summarize_with(path, |_, _| true)
}

/// [`summarize`], also showing each message to `visit` with the file offset reached after
/// it, so one pass can collect more (a GUI's rate plot and message list) and report
/// progress. Reading stops early, with a partial summary, when `visit` returns false.
pub fn summarize_with(
    path: &Path,
    mut visit: impl FnMut(&Message, u64) -> bool,
) -> Result<Summary, OpenError> {
    let mut reader = Reader::open(path)?;
    let mut s = Summary {
        version: reader.version(),
        ..Summary::default()
    };
    let mut subjects: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
    let mut connections: HashMap<u64, ConnectionSummary> = HashMap::new();
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Meta(meta) => s.meta = Some(meta),
            Record::Message(m) => {
                if !visit(&m, reader.offset()) {
                    break;
                }
                let size = m.size() as u64;
                s.messages += 1;
                s.bytes += size;
                s.first_ns.get_or_insert(m.time_ns);
                s.last_ns = Some(s.last_ns.map_or(m.time_ns, |t| t.max(m.time_ns)));
                let full = subjects.len() >= MAX_SUBJECTS;
                match subjects.get_mut(&m.subject) {
                    Some(e) => *e = (e.0 + 1, e.1 + size),
                    None if full => s.other_subjects += 1,
                    None => {
                        subjects.insert(m.subject, (1, size));
                    }
                }
                if let Some(id) = m.publisher {
                    connections
                        .entry(id)
                        .or_insert_with(|| ConnectionSummary {
                            cid: id,
                            ..ConnectionSummary::default()
                        })
                        .messages += 1;
                }
            }
            Record::Connection { cid: id, name } => {
                connections
                    .entry(id)
                    .or_insert_with(|| ConnectionSummary {
                        cid: id,
                        ..ConnectionSummary::default()
                    })
                    .name = name;
            }
            Record::Stats(stats) => {
                s.drops = stats.drops;
                s.stats = Some(stats);
            }
            Record::End(stats) => {
                s.drops = stats.drops;
                s.stats = Some(stats);
                s.clean_end = true;
            }
            Record::Unknown(_) => s.unknown_records += 1,
        }
    }
    let mut subjects: Vec<SubjectSummary> = subjects
        .into_iter()
        .map(|(k, (messages, bytes))| SubjectSummary {
            subject: String::from_utf8_lossy(&k).into_owned(),
            messages,
            bytes,
        })
        .collect();
    subjects.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    s.subjects = subjects;
    let mut connections: Vec<_> = connections.into_values().collect();
    connections.sort_by_key(|c| c.cid);
    s.connections = connections;
    s.tail = reader.tail().cloned();
    s.tail_text = s.tail.as_ref().map(ToString::to_string);
    Ok(s)
}
