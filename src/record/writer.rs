//! Appends framed records to a recording. Every record is whole on its own, so a file cut off
//! anywhere is readable up to its last whole record.

use std::io::{self, Write};
use std::path::Path;

use super::append_file::AppendFile;
use super::format::{self, Message, Meta, Stats, FRAME_HEADER_LEN};

/// A recording being written: the file header, then records appended in order.
pub struct RecordWriter {
    out: AppendFile,
    messages: u64,
    bytes: u64,
}

impl RecordWriter {
    /// Creates (or truncates) `path` and writes the header and the META record.
    pub fn create(path: &Path, meta: &Meta) -> io::Result<Self> {
        let mut out = AppendFile::create(path)?;
        out.write_all(&format::file_header())?;
        let mut w = RecordWriter {
            out,
            messages: 0,
            bytes: 0,
        };
        w.write_body(&format::encode_meta(meta))?;
        Ok(w)
    }

    /// Flushes and asks the OS to put the file on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.sync_data()
    }

    /// Appends one record body (as made by `format::encode_*`).
    pub fn write_body(&mut self, body: &[u8]) -> io::Result<()> {
        self.out.append_record(&[body])
    }

    /// Appends a batch of framed message records (`format::append_message`,
    /// `format::begin_wire_batch`) with their CRCs left zero; `count_messages` counts them.
    pub fn write_batch(&mut self, data: &[u8]) -> io::Result<()> {
        format::batch_bodies(data).try_for_each(|body| self.out.append_record(&[body]))
    }

    /// Appends one framed record (CRC left zero) whose body goes on past `head` with `rest`:
    /// a WIRE record's start and the publishes it holds, still in the broker's read buffer.
    pub fn write_split(&mut self, head: &[u8], rest: &[u8]) -> io::Result<()> {
        let head_body = head.get(FRAME_HEADER_LEN..).unwrap_or_default();
        self.out.append_record(&[head_body, rest])
    }

    /// Adds to the counts of messages and message bytes written.
    pub fn count_messages(&mut self, messages: u64, bytes: usize) {
        self.messages += messages;
        self.bytes += bytes as u64;
    }

    pub fn write_message(&mut self, m: &Message) -> io::Result<()> {
        self.write_body(&format::encode_message(&m.as_ref()))?;
        self.count_messages(1, m.size());
        Ok(())
    }

    pub fn write_connection(&mut self, id: u64, name: &str) -> io::Result<()> {
        self.write_body(&format::encode_connection(id, name))
    }

    /// Appends a STATS record with this writer's counts and `drops`.
    pub fn write_stats(&mut self, drops: u64) -> io::Result<Stats> {
        let stats = self.stats(drops);
        self.write_body(&format::encode_stats(&stats, false))?;
        Ok(stats)
    }

    /// Messages and bytes written so far, with `drops`, as of now.
    pub fn stats(&self, drops: u64) -> Stats {
        Stats {
            time_ns: format::now_ns(),
            messages: self.messages,
            bytes: self.bytes,
            drops,
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Appends the END record and flushes; returns the final counts and the output.
    pub fn finish(mut self, drops: u64) -> io::Result<(Stats, AppendFile)> {
        let stats = self.stats(drops);
        self.write_body(&format::encode_stats(&stats, true))?;
        self.out.flush()?;
        Ok((stats, self.out))
    }
}
