//! permessage-deflate (RFC 7692) with no context takeover in either direction, as nats-server
//! negotiates it: every message is deflated and inflated on its own (raw deflate, the
//! trailing `00 00 ff ff` of a sync flush left off on the wire and put back to inflate).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The tail a sync flush ends with, dropped from each message on the wire.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// What is fed after a message to finish it (nats-server's `compressLastBlock`).
const LAST_BLOCK: [u8; 9] = [0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff];
/// Output grows by this much at a time while inflating.
const INFLATE_STEP: usize = 32 * 1024;

/// Deflates one message into `out` (cleared first), without the sync-flush tail. The level is
/// the fastest, as nats-server's (`flate.BestSpeed`).
pub fn deflate(compressor: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    compressor.reset();
    out.clear();
    out.reserve(data.len() / 2 + 64);
    let mut consumed = 0usize;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let before_in = compressor.total_in();
        compressor
            .compress_vec(&data[consumed..], out, FlushCompress::Sync)
            .map_err(std::io::Error::other)?;
        consumed += (compressor.total_in() - before_in) as usize;
        // The flush is complete once all input is in and it left room to spare.
        if consumed == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    Ok(())
}

/// A new compressor for a connection's outbound messages.
pub fn compressor() -> Compress {
    Compress::new(Compression::fast(), false)
}

/// A new decompressor for a connection's inbound messages.
pub fn decompressor() -> Decompress {
    Decompress::new(false)
}

/// Why a message could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// More than `limit` bytes came out; `out` holds the first `limit`.
    TooBig,
    Corrupt(String),
}

/// Inflates one whole message (`input`, as received) into `out`, at most `limit` bytes.
pub fn inflate(
    decompressor: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), InflateError> {
    decompressor.reset(false);
    out.clear();
    for part in [input, &LAST_BLOCK[..]] {
        let mut consumed = 0usize;
        loop {
            if out.capacity() - out.len() == 0 {
                out.reserve(INFLATE_STEP.min(limit.saturating_add(1).max(1)));
            }
            let before_in = decompressor.total_in();
            let before_out = decompressor.total_out();
            let status = decompressor
                .decompress_vec(&part[consumed..], out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            consumed += (decompressor.total_in() - before_in) as usize;
            let produced = decompressor.total_out() - before_out;
            if out.len() > limit {
                out.truncate(limit);
                return Err(InflateError::TooBig);
            }
            if status == Status::StreamEnd {
                return Ok(());
            }
            let room = out.capacity() > out.len();
            if consumed == part.len() && room {
                break;
            }
            if produced == 0 && consumed == part.len() {
                break;
            }
            if produced == 0 && (decompressor.total_in() - before_in) == 0 && room {
                return Err(InflateError::Corrupt(
                    "inflate made no progress".to_string(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_without_context_takeover() {
        let mut c = compressor();
        let mut d = decompressor();
        for data in [
            b"".to_vec(),
            b"PUB foo 5\r\nhello\r\n".repeat(100),
            (0..200_000u32).map(|i| (i % 251) as u8).collect(),
        ] {
            let mut wire = Vec::new();
            deflate(&mut c, &data, &mut wire).unwrap();
            let mut out = Vec::new();
            inflate(&mut d, &wire, &mut out, usize::MAX / 2).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn the_limit_cuts_a_bomb() {
        let data = vec![b'a'; 10 * 1024 * 1024];
        let mut wire = Vec::new();
        deflate(&mut compressor(), &data, &mut wire).unwrap();
        assert!(wire.len() < 64 * 1024);
        let mut out = Vec::new();
        let err = inflate(&mut decompressor(), &wire, &mut out, 1024 * 1024).unwrap_err();
        assert_eq!(err, InflateError::TooBig);
        assert_eq!(out.len(), 1024 * 1024);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let r = inflate(&mut decompressor(), &[0xff; 64], &mut out, 1 << 20);
        assert!(matches!(r, Err(InflateError::Corrupt(_))), "{r:?}");
    }
}
