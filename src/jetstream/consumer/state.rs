//! A consumer's files under its stream's directory, `obs/<name>/`: `meta.json` (the
//! configuration and creation time, written when it is created or updated) and
//! `state.json` (delivered, ack floor, pending and redelivery counts). Both are replaced
//! whole (written to a temporary file, then renamed), so a crash, SIGKILL included, leaves
//! the old or the new one. The state is written by the consumer's task after a change, at
//! most every 100 ms, without fsync (a SIGKILL keeps what the kernel has); at shutdown it
//! is fsynced. What a crash can lose are the last 100 ms of deliveries and
//! acknowledgements, which means redeliveries: nats-server's at-least-once rule, never a
//! message skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::ConsumerConfig;
use super::Pending;

pub const OBS_DIR: &str = "obs";
const META_FILE: &str = "meta.json";
const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSeq {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(default)]
    pub last_active: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    pub delivered: SavedSeq,
    pub ack_floor: SavedSeq,
    /// Stream sequence and what was delivered.
    #[serde(default)]
    pub pending: Vec<(u64, Pending)>,
    /// Stream sequence and delivery count.
    #[serde(default)]
    pub redelivered: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    pub config: ConsumerConfig,
    pub created: i64,
}

/// `<stream dir>/obs/<name>`.
pub fn consumer_dir(stream_dir: &Path, name: &str) -> PathBuf {
    stream_dir.join(OBS_DIR).join(name)
}

fn replace(dir: &Path, file: &str, body: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = dir.join(format!("{file}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, dir.join(file))?;
    if sync {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Writes `meta.json`, creating the consumer's directory.
pub fn write_meta(dir: &Path, meta: &ConsumerMeta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let body = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    replace(dir, META_FILE, &body, true)
}

/// Writes `state.json` into the consumer's existing directory (one deleted with its
/// consumer or stream is not made again: the write fails instead).
pub fn write_state(dir: &Path, state: &SavedState, sync: bool) -> std::io::Result<()> {
    let body = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    replace(dir, STATE_FILE, &body, sync)
}

pub fn read_meta(dir: &Path) -> Result<ConsumerMeta, String> {
    let bytes = std::fs::read(dir.join(META_FILE)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The saved state; `None` when there is none yet (or it can not be read, which the
/// caller logs: the consumer then starts over from its configuration).
pub fn read_state(dir: &Path) -> Result<Option<SavedState>, String> {
    match std::fs::read(dir.join(STATE_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cdir = consumer_dir(dir.path(), "C");
        assert_eq!(read_state(&cdir).unwrap(), None);
        assert!(write_state(&cdir, &SavedState::default(), false).is_err());
        std::fs::create_dir_all(&cdir).unwrap();
        let state = SavedState {
            delivered: SavedSeq {
                consumer_seq: 5,
                stream_seq: 9,
                last_active: 7,
            },
            ack_floor: SavedSeq {
                consumer_seq: 3,
                stream_seq: 6,
                last_active: 1,
            },
            pending: vec![
                (8, Pending { dseq: 4, ts: 11 }),
                (9, Pending { dseq: 5, ts: 12 }),
            ],
            redelivered: vec![(8, 2)],
        };
        write_state(&cdir, &state, true).unwrap();
        assert_eq!(read_state(&cdir).unwrap(), Some(state.clone()));
        let mut next = state;
        next.pending.clear();
        write_state(&cdir, &next, false).unwrap();
        assert_eq!(read_state(&cdir).unwrap(), Some(next));
        assert!(!cdir.join("state.json.tmp").exists());
        std::fs::write(cdir.join(STATE_FILE), b"{torn").unwrap();
        assert!(read_state(&cdir).is_err());
        let meta = ConsumerMeta {
            name: "C".into(),
            config: ConsumerConfig::default(),
            created: 42,
        };
        write_meta(&cdir, &meta).unwrap();
        assert_eq!(read_meta(&cdir).unwrap().created, 42);
    }
}
