//! The recording's file: appended in large aligned blocks that bypass the page cache.
//!
//! A recording of a busy broker writes hundreds of megabytes a second. Through the page cache
//! that cost the writer thread (on the broker's core when the broker is pinned) about a
//! kernel copy and a page allocation per byte, plus the flusher threads' work later, and it
//! pushed everything else out of the cache. With `O_DIRECT` the disk reads our buffer
//! itself: `dd` here moves 2 GB in 0.55 s of system time direct against 3.2 s buffered.
//!
//! Direct writes must be whole blocks at block offsets, so the tail of the data (less than a
//! block) waits in the buffer. [`AppendFile::flush`] writes that tail through a second,
//! ordinary handle, so the file on disk is always exact; the next direct write of that block
//! overwrites it with the block's full contents. Where `O_DIRECT` is missing or refused
//! (other systems, tmpfs, some file systems) the file is written through the page cache.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::format::{frame_header, FRAME_HEADER_LEN};

#[cfg(unix)]
use std::os::unix::fs::FileExt;

/// Block size and alignment of direct writes (the largest logical block size in common use).
const ALIGN: usize = 4096;
/// Bytes gathered before a direct write. The writer waits for each write to reach the disk,
/// so fewer, larger writes keep up with more: 1 MiB recorded about 30 % more of a 1 KiB flood
/// than 256 KiB did, at the same CPU. A multiple of the 2 MiB huge page (see `create`).
const CAPACITY: usize = 4 * 1024 * 1024;

pub struct AppendFile {
    /// The ordinary handle: the tail on `flush`, everything when direct writes are off.
    file: File,
    /// The handle opened with `O_DIRECT`, while direct writes work.
    direct: Option<File>,
    /// `CAPACITY` bytes, page-aligned; the data is `buf[..len]`.
    buf: memmap2::MmapMut,
    len: usize,
    /// File offset of `buf[0]`; block-aligned while direct writes are on.
    offset: u64,
}

impl AppendFile {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        let direct = open_direct(path);
        let buf = memmap2::MmapOptions::new().len(CAPACITY).map_anon()?;
        // Best effort. In huge pages the block is a few pieces of memory instead of 1,024:
        // the kernel pins it for the disk and maps it into far fewer segments, and the writer
        // spent about a quarter less CPU a message (9 against 12 ns, 16 B publishes).
        #[cfg(target_os = "linux")]
        let _ = buf.advise(memmap2::Advice::HugePage);
        Ok(AppendFile {
            file,
            direct,
            buf,
            len: 0,
            offset: 0,
        })
    }

    /// Flushes and asks the OS to put the file on disk.
    pub fn sync_data(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data()
    }

    /// Writes the whole blocks gathered (all of the data when direct writes are off).
    fn write_blocks(&mut self) -> io::Result<()> {
        let whole = if self.direct.is_some() {
            self.len / ALIGN * ALIGN
        } else {
            self.len
        };
        if whole == 0 {
            return Ok(());
        }
        let data = &self.buf[..whole];
        match &self.direct {
            Some(direct) => {
                if let Err(e) = write_at(direct, data, self.offset) {
                    if e.raw_os_error() != Some(libc::EINVAL) {
                        return Err(e);
                    }
                    // Direct writes refused after all: go on through the page cache.
                    self.direct = None;
                    return self.write_blocks();
                }
            }
            None => write_at(&self.file, data, self.offset)?,
        }
        self.offset += whole as u64;
        self.buf.copy_within(whole..self.len, 0);
        self.len -= whole;
        Ok(())
    }

    /// Appends one framed record whose body is `parts` one after the other. The CRC is taken
    /// from the copy in the block as it is made, so the parts are read once (a pass over the
    /// source for the CRC and another for the copy cost the writer twice the memory traffic).
    pub fn append_record(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let body_len: usize = parts.iter().map(|p| p.len()).sum();
        let framed = FRAME_HEADER_LEN + body_len;
        if self.len + framed > CAPACITY {
            self.write_blocks()?;
        }
        if self.len + framed > CAPACITY {
            // Larger than the block: through the ordinary path, a part at a time.
            let mut crc = crc32fast::Hasher::new();
            parts.iter().for_each(|p| crc.update(p));
            self.write_all(&frame_header(body_len, crc.finalize()))?;
            return parts.iter().try_for_each(|p| self.write_all(p));
        }
        let header_at = self.len;
        let mut at = header_at + FRAME_HEADER_LEN;
        let mut crc = crc32fast::Hasher::new();
        for part in parts {
            // In pieces small enough to be still in the L1 cache when the CRC reads them.
            for piece in part.chunks(CRC_CHUNK) {
                let copy = &mut self.buf[at..at + piece.len()];
                copy.copy_from_slice(piece);
                crc.update(copy);
                at += piece.len();
            }
        }
        self.buf[header_at..header_at + FRAME_HEADER_LEN]
            .copy_from_slice(&frame_header(body_len, crc.finalize()));
        self.len += framed;
        Ok(())
    }
}

/// Bytes copied before the CRC reads them back.
const CRC_CHUNK: usize = 16 * 1024;

impl Write for AppendFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == CAPACITY {
            self.write_blocks()?;
        }
        let n = data.len().min(CAPACITY - self.len);
        let at = self.len;
        self.buf[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    /// Puts everything written so far in the file: whole blocks directly, the tail through
    /// the ordinary handle (it stays in the buffer for the next direct write of its block).
    fn flush(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.len > 0 {
            write_at(&self.file, &self.buf[..self.len], self.offset)?;
        }
        Ok(())
    }
}

impl Drop for AppendFile {
    fn drop(&mut self) {
        // What `BufWriter` does: best effort, errors have nowhere to go.
        let _ = self.flush();
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
}

#[cfg(unix)]
fn write_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    file.write_all_at(data, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !data.is_empty() {
        let n = file.seek_write(data, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Data of awkward sizes across many blocks, with flushes in between, comes back exact,
    /// and the file is always exactly as long as what was written and flushed.
    #[test]
    fn writes_come_back_exact_across_blocks_and_flushes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("exact");
        let mut f = AppendFile::create(&path).expect("create");
        let mut expected = Vec::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..40 {
            let size = match round % 4 {
                0 => rng.usize(1..100),
                1 => rng.usize(4000..5000),
                2 => rng.usize(100_000..400_000),
                _ => CAPACITY + rng.usize(0..10_000),
            };
            let chunk: Vec<u8> = (0..size).map(|_| rng.u8(..)).collect();
            f.write_all(&chunk).expect("write");
            expected.extend_from_slice(&chunk);
            if round % 3 == 0 {
                f.flush().expect("flush");
                let on_disk = std::fs::read(&path).expect("read");
                assert_eq!(on_disk.len(), expected.len(), "round {round}");
                assert!(on_disk == expected, "contents differ after round {round}");
            }
        }
        f.sync_data().expect("sync");
        drop(f);
        assert!(std::fs::read(&path).expect("read") == expected);
    }

    /// Records appended from parts come back framed with their whole length and the CRC of
    /// all their parts: small ones, ones that cross the block, ones larger than it, mixed
    /// with plain writes and flushes.
    #[test]
    fn records_are_framed_with_the_crc_of_all_their_parts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("records");
        let mut f = AppendFile::create(&path).expect("create");
        let mut rng = fastrand::Rng::with_seed(3);
        let mut expected = Vec::new();
        let mut bodies = Vec::new();
        f.write_all(b"head").expect("write");
        expected.extend_from_slice(b"head");
        for round in 0..60 {
            let sizes: Vec<usize> = match round % 5 {
                0 => vec![rng.usize(0..50)],
                1 => vec![rng.usize(0..3000), rng.usize(20_000..70_000)],
                2 => vec![CAPACITY + rng.usize(0..5000)],
                3 => vec![0, 0],
                _ => vec![rng.usize(1..CRC_CHUNK * 3), 1, rng.usize(0..10)],
            };
            let parts: Vec<Vec<u8>> = sizes
                .iter()
                .map(|&n| (0..n).map(|_| rng.u8(..)).collect())
                .collect();
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            f.append_record(&refs).expect("append");
            let body = parts.concat();
            expected.extend_from_slice(&frame_header(body.len(), crc32fast::hash(&body)));
            expected.extend_from_slice(&body);
            bodies.push(body);
            if round % 7 == 0 {
                f.flush().expect("flush");
                assert!(
                    std::fs::read(&path).expect("read") == expected,
                    "round {round}"
                );
            }
        }
        drop(f);
        let on_disk = std::fs::read(&path).expect("read");
        assert!(on_disk == expected);
        // And each record reads back as its body.
        let read_back: Vec<&[u8]> = crate::record::format::batch_bodies(&on_disk[4..]).collect();
        assert_eq!(read_back.len(), bodies.len());
        assert!(read_back.iter().zip(&bodies).all(|(a, b)| a == b));
    }

    #[test]
    fn dropping_flushes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("drop");
        let mut f = AppendFile::create(&path).expect("create");
        f.write_all(b"tail bytes").expect("write");
        drop(f);
        assert_eq!(std::fs::read(&path).expect("read"), b"tail bytes");
    }
}
