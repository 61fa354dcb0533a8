//! Reads a recording record by record, streaming. A damaged or cut-off end is not an error:
//! the reader returns every whole record before it and then reports the tail.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::format::{self, DecodeError, Record, FILE_HEADER_LEN, FRAME_HEADER_LEN, MAGIC};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a switchboard recording (bad magic)")]
    NotARecording,
    #[error("recording format version {0} is newer than this program reads ({max})", max = format::VERSION)]
    UnsupportedVersion(u16),
}

/// Why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailReason {
    /// The file ends inside a record (a crash or a copy cut it off).
    Truncated,
    /// A record's checksum does not match its bytes.
    BadChecksum,
    /// A record claims an impossible length.
    BadLength(u32),
    /// A record's checksum matches but its contents do not decode.
    Undecodable(DecodeError),
}

/// The unreadable end of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// File offset of the first record that could not be read.
    pub offset: u64,
    /// Bytes from there to the end of the file, when known.
    pub bytes: Option<u64>,
    pub reason: TailReason,
}

impl std::fmt::Display for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.reason {
            TailReason::Truncated => "a record cut off".to_string(),
            TailReason::BadChecksum => "a record with a bad checksum".to_string(),
            TailReason::BadLength(n) => format!("a record claiming {n} bytes"),
            TailReason::Undecodable(e) => e.to_string(),
        };
        write!(f, "unreadable tail at offset {}", self.offset)?;
        if let Some(n) = self.bytes {
            write!(f, " ({n} bytes)")?;
        }
        write!(f, ": {what}")
    }
}

pub struct Reader<R: Read> {
    input: R,
    /// Offset of the next record.
    offset: u64,
    file_len: Option<u64>,
    version: u16,
    tail: Option<Tail>,
    done: bool,
    /// Records decoded and not yet returned (the messages of a BATCH).
    pending: VecDeque<Record>,
}

impl Reader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut r = Reader::new(BufReader::with_capacity(256 * 1024, file))?;
        r.file_len = Some(len);
        if let Some(t) = &mut r.tail {
            t.bytes = Some(len.saturating_sub(t.offset));
        }
        Ok(r)
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl<R: Read> Reader<R> {
    /// Checks the file header. A file cut off inside the header reads as empty with a tail.
    pub fn new(mut input: R) -> Result<Self, OpenError> {
        let mut header = [0u8; FILE_HEADER_LEN];
        let n = read_full(&mut input, &mut header)?;
        let mut reader = Reader {
            input,
            offset: FILE_HEADER_LEN as u64,
            file_len: None,
            version: format::VERSION,
            tail: None,
            done: false,
            pending: VecDeque::new(),
        };
        let magic_len = n.min(MAGIC.len());
        if header[..magic_len] != MAGIC[..magic_len] {
            return Err(OpenError::NotARecording);
        }
        if n < FILE_HEADER_LEN {
            reader.offset = 0;
            reader.stop(TailReason::Truncated, Some(n as u64));
            return Ok(reader);
        }
        let version = u16::from_le_bytes([header[MAGIC.len()], header[MAGIC.len() + 1]]);
        if version == 0 || version > format::VERSION {
            return Err(OpenError::UnsupportedVersion(version));
        }
        reader.version = version;
        Ok(reader)
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// The unreadable tail, once reading has reached it.
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    /// Offset of the next record in the file (after the record that held the last one
    /// returned: a BATCH's messages all report the offset after the batch).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn stop(&mut self, reason: TailReason, bytes: Option<u64>) {
        let bytes = self
            .file_len
            .map(|len| len.saturating_sub(self.offset))
            .or(bytes);
        self.tail = Some(Tail {
            offset: self.offset,
            bytes,
            reason,
        });
        self.done = true;
    }

    /// The next whole record; `None` at the end of the file or at an unreadable tail (then
    /// `tail()` says what). Errors are I/O errors only.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Ok(Some(record));
            }
            if self.done || !self.read_record()? {
                return Ok(None);
            }
        }
    }

    /// Reads the next framed record into `pending`; false at the end or the tail.
    fn read_record(&mut self) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        let mut frame = [0u8; FRAME_HEADER_LEN];
        let n = read_full(&mut self.input, &mut frame)?;
        if n == 0 {
            self.done = true;
            return Ok(false);
        }
        if n < FRAME_HEADER_LEN {
            self.stop(TailReason::Truncated, Some(n as u64));
            return Ok(false);
        }
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let beyond_file = self.file_len.is_some_and(|file_len| {
            self.offset + FRAME_HEADER_LEN as u64 + u64::from(len) > file_len
        });
        if len == 0 || len > format::MAX_BODY_LEN {
            self.stop(TailReason::BadLength(len), None);
            return Ok(false);
        }
        if beyond_file {
            self.stop(TailReason::Truncated, None);
            return Ok(false);
        }
        let mut body = vec![0u8; len as usize];
        let got = read_full(&mut self.input, &mut body)?;
        if got < body.len() {
            self.stop(TailReason::Truncated, Some((FRAME_HEADER_LEN + got) as u64));
            return Ok(false);
        }
        if crc32fast::hash(&body) != crc {
            self.stop(TailReason::BadChecksum, None);
            return Ok(false);
        }
        match format::decode_into(&body, &mut self.pending) {
            Ok(()) => {
                self.offset += (FRAME_HEADER_LEN + body.len()) as u64;
                Ok(true)
            }
            Err(e) => {
                self.stop(TailReason::Undecodable(e), None);
                Ok(false)
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Every whole record of a file, and its tail if it has one.
pub fn read_all(path: &Path) -> Result<(Vec<Record>, Option<Tail>), OpenError> {
    let mut reader = Reader::open(path)?;
    let mut records = Vec::new();
    while let Some(r) = reader.next_record()? {
        records.push(r);
    }
    Ok((records, reader.tail().cloned()))
}
