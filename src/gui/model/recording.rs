//! Pure data for the Record & replay view: the rate-over-time histogram of a recording,
//! subject-pattern and remap fields, the default file name, recorded messages as message
//! rows, and the texts of durations and replay progress.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::gui::state::{MessageRow, RECEIVERS_UNKNOWN};
use crate::proto::subject;
use crate::record::format::Message;
use crate::record::select::{Remap, SelectError};
use crate::record::Progress;

/// The file extension the recording format docs use.
pub const EXTENSION: &str = "rec";
/// Folder (under the home directory) that new recordings go to by default.
pub const DEFAULT_FOLDER: &str = "switchboard-recordings";
/// Buckets the rate plot aims at (it ends with between half and all of them).
pub const RATE_BUCKETS: usize = 120;
/// Narrowest bucket: finer than a millisecond is noise on a plot.
const MIN_BUCKET_NS: u64 = 1_000_000;

/// Messages per time slice of a recording, built in one streaming pass with bounded memory:
/// the slices start at the first message and double in width (merging pairs) whenever the
/// recording outgrows them, so the end needs no second pass and no list of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHistogram {
    first_ns: Option<u64>,
    width_ns: u64,
    counts: Vec<u64>,
    max_buckets: usize,
}

impl Default for RateHistogram {
    fn default() -> Self {
        Self::new(RATE_BUCKETS)
    }
}

impl RateHistogram {
    /// An empty histogram of at most `max_buckets` slices (at least 2).
    pub fn new(max_buckets: usize) -> Self {
        Self {
            first_ns: None,
            width_ns: MIN_BUCKET_NS,
            counts: Vec::new(),
            max_buckets: max_buckets.max(2),
        }
    }

    /// Counts one message. Times before the first message (several publishing threads
    /// record out of order) count in the first slice.
    pub fn add(&mut self, time_ns: u64) {
        let first = *self.first_ns.get_or_insert(time_ns);
        let offset = time_ns.saturating_sub(first);
        let mut index = offset / self.width_ns;
        while index >= self.max_buckets as u64 {
            self.widen();
            index = offset / self.width_ns;
        }
        let index = index as usize;
        if self.counts.len() <= index {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
    }

    /// Doubles the slice width: slice `i` becomes the sum of old slices `2i` and `2i + 1`.
    fn widen(&mut self) {
        self.width_ns = self.width_ns.saturating_mul(2);
        self.counts = self
            .counts
            .chunks(2)
            .map(|pair| pair.iter().sum())
            .collect();
    }

    pub fn width(&self) -> Duration {
        Duration::from_nanos(self.width_ns)
    }

    /// Messages counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Messages in each slice, oldest first.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Plot points: x = seconds from the first message (the slice's start), y = messages
    /// per second in that slice. A step shape (two points a slice) so a burst reads as a
    /// block, not a spike.
    pub fn points(&self) -> Vec<[f64; 2]> {
        let width_s = self.width_ns as f64 / 1e9;
        let mut out = Vec::with_capacity(self.counts.len() * 2);
        for (i, &n) in self.counts.iter().enumerate() {
            let rate = n as f64 / width_s;
            out.push([i as f64 * width_s, rate]);
            out.push([(i + 1) as f64 * width_s, rate]);
        }
        out
    }

    /// The highest rate of any slice, in messages per second.
    pub fn peak_per_sec(&self) -> f64 {
        let max = self.counts.iter().copied().max().unwrap_or(0);
        max as f64 / (self.width_ns as f64 / 1e9)
    }
}

/// Subject patterns typed into one field, separated by spaces or commas; each is checked as
/// a subject (wildcards allowed). Returns the patterns and the ones that are not valid.
pub fn parse_patterns(text: &str) -> (Vec<String>, Vec<String>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for p in text.split([' ', ',', '\n', '\t']).filter(|p| !p.is_empty()) {
        if subject::is_valid_subject(p.as_bytes()) {
            good.push(p.to_string());
        } else {
            bad.push(p.to_string());
        }
    }
    (good, bad)
}

/// Remap rules `OLD=NEW` typed into one field, separated by spaces, commas or lines.
pub fn parse_remaps(text: &str) -> Result<Vec<Remap>, SelectError> {
    text.split([' ', ',', '\n', '\t'])
        .filter(|r| !r.is_empty())
        .map(str::parse)
        .collect()
}

/// `~/switchboard-recordings/2026-11-28T10-00-00.rec` (local time; no colons, which some
/// file systems refuse). Without a home directory, the current directory.
pub fn default_recording_path(home: Option<&Path>, now: SystemTime) -> PathBuf {
    let local: chrono::DateTime<chrono::Local> = now.into();
    let name = format!("{}.{EXTENSION}", local.format("%Y-%m-%dT%H-%M-%S"));
    match home {
        Some(home) => home.join(DEFAULT_FOLDER).join(name),
        None => PathBuf::from(name),
    }
}

/// A recorded message as a row of the message inspector. `seq` numbers the rows of the
/// recording (1-based, file order).
pub fn row_from_message(seq: u64, m: &Message) -> MessageRow {
    MessageRow {
        seq,
        time: UNIX_EPOCH + Duration::from_nanos(m.time_ns),
        subject: String::from_utf8_lossy(&m.subject).into_owned(),
        reply: m
            .reply
            .as_ref()
            .map(|r| String::from_utf8_lossy(r).into_owned()),
        headers: m.headers.clone(),
        payload: m.payload.clone(),
        // Recordings made as a client know neither: id 0 is shown as "not recorded".
        publisher_cid: m.publisher.unwrap_or(0),
        receivers: m.receivers.unwrap_or(RECEIVERS_UNKNOWN),
    }
}

/// A duration for people: `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
pub fn duration_text(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        super::format::age(d)
    }
}

/// Share of a replay done, 0..=1; `None` when it loops until stopped or has nothing to send.
pub fn replay_fraction(p: &Progress) -> Option<f32> {
    if p.loops == 0 || p.total == 0 {
        return None;
    }
    let all = p.total * u64::from(p.loops);
    Some(((p.sent + p.skipped) as f64 / all as f64).clamp(0.0, 1.0) as f32)
}

/// `120 of 500 sent, pass 1 of 2, 3.2 s elapsed, about 4.0 s left`.
pub fn replay_progress_text(p: &Progress) -> String {
    let mut text = match p.loops {
        0 => format!(
            "{} sent ({} a pass), pass {} until stopped",
            p.sent,
            p.total,
            p.loop_index + 1
        ),
        1 => format!("{} of {} sent", p.sent, p.total),
        n => format!(
            "{} of {} sent, pass {} of {n}",
            p.sent,
            p.total * u64::from(n),
            p.loop_index + 1
        ),
    };
    if p.skipped > 0 {
        text.push_str(&format!(", {} skipped", p.skipped));
    }
    text.push_str(&format!(", {} elapsed", duration_text(p.elapsed)));
    if let Some(eta) = p.eta {
        text.push_str(&format!(", about {} left", duration_text(eta)));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::{ReplayState, Speed};

    const MS: u64 = 1_000_000;

    #[test]
    fn histogram_counts_every_message_in_its_slice() {
        let mut h = RateHistogram::new(10);
        let t0 = 1_700_000_000_000_000_000;
        for t in [0, 0, 1, 5, 9] {
            h.add(t0 + t * MS);
        }
        assert_eq!(h.width(), Duration::from_millis(1));
        assert_eq!(h.counts(), &[2, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(h.total(), 5);
        // 2 messages in 1 ms: 2000/s.
        assert_eq!(h.peak_per_sec(), 2000.0);
    }

    #[test]
    fn histogram_widens_instead_of_growing() {
        let mut h = RateHistogram::new(10);
        for t in 0..10 {
            h.add(t * MS);
        }
        assert_eq!(h.counts().len(), 10);
        // The 11th millisecond does not fit: slices double to 2 ms, pairs merge.
        h.add(10 * MS);
        assert_eq!(h.width(), Duration::from_millis(2));
        assert_eq!(h.counts(), &[2, 2, 2, 2, 2, 1]);
        // Far beyond: widen as often as needed, nothing lost.
        h.add(1000 * MS);
        assert!(h.counts().len() <= 10);
        assert_eq!(h.total(), 12);
        assert_eq!(*h.counts().last().unwrap(), 1);
        assert_eq!(h.width(), Duration::from_millis(128));
    }

    #[test]
    fn histogram_puts_early_times_first_and_plots_steps() {
        let mut h = RateHistogram::new(4);
        h.add(10 * MS);
        h.add(5 * MS);
        assert_eq!(h.counts(), &[2]);
        assert_eq!(h.points(), vec![[0.0, 2000.0], [0.001, 2000.0]]);
        assert!(RateHistogram::default().points().is_empty());
        assert_eq!(RateHistogram::default().peak_per_sec(), 0.0);
    }

    #[test]
    fn patterns_and_remaps_are_checked() {
        let (good, bad) = parse_patterns(" orders.>, a.*.c  bad..subject ");
        assert_eq!(good, vec!["orders.>", "a.*.c"]);
        assert_eq!(bad, vec!["bad..subject"]);
        assert_eq!(parse_patterns(""), (vec![], vec![]));
        assert_eq!(parse_remaps("a.>=b.>  x=y").unwrap().len(), 2);
        assert!(parse_remaps("a.>=b").is_err());
        assert!(parse_remaps("").unwrap().is_empty());
    }

    #[test]
    fn default_path_is_timestamped_under_home() {
        let p = default_recording_path(Some(Path::new("/home/u")), SystemTime::now());
        assert!(p.starts_with("/home/u/switchboard-recordings"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(".rec"), "{name}");
        assert!(!name.contains(':'), "{name}");
        assert_eq!(name.len(), "2026-11-28T10-00-00.rec".len());
        assert!(default_recording_path(None, SystemTime::now()).is_relative());
    }

    #[test]
    fn recorded_messages_become_rows() {
        let m = Message {
            time_ns: 1_500_000_000,
            subject: b"a.b".to_vec(),
            reply: Some(b"_INBOX.1".to_vec()),
            headers: None,
            payload: vec![0xff, 1],
            publisher: None,
            receivers: None,
        };
        let row = row_from_message(7, &m);
        assert_eq!(row.seq, 7);
        assert_eq!(row.time, UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(row.reply.as_deref(), Some("_INBOX.1"));
        assert_eq!((row.publisher_cid, row.receivers), (0, RECEIVERS_UNKNOWN));
        let known = Message {
            publisher: Some(4),
            receivers: Some(0),
            ..m
        };
        assert_eq!(row_from_message(1, &known).receivers, 0);
    }

    fn progress(sent: u64, total: u64, loops: u32, loop_index: u64) -> Progress {
        Progress {
            state: ReplayState::Running,
            sent,
            skipped: 0,
            total,
            loop_index,
            loops,
            position_ns: 0,
            span_ns: 0,
            elapsed: Duration::from_millis(1500),
            eta: Some(Duration::from_secs(3)),
            speed: Speed::Max,
        }
    }

    #[test]
    fn replay_progress_reads_well() {
        assert_eq!(replay_fraction(&progress(50, 100, 1, 0)), Some(0.5));
        assert_eq!(replay_fraction(&progress(150, 100, 2, 1)), Some(0.75));
        assert_eq!(replay_fraction(&progress(5, 100, 0, 0)), None);
        assert_eq!(replay_fraction(&progress(0, 0, 1, 0)), None);
        assert_eq!(
            replay_progress_text(&progress(50, 100, 1, 0)),
            "50 of 100 sent, 1.5 s elapsed, about 3.0 s left"
        );
        assert_eq!(
            replay_progress_text(&progress(150, 100, 2, 1)),
            "150 of 200 sent, pass 2 of 2, 1.5 s elapsed, about 3.0 s left"
        );
        assert!(replay_progress_text(&progress(1, 100, 0, 4))
            .starts_with("1 sent (100 a pass), pass 5 until stopped"));
        assert_eq!(duration_text(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration_text(Duration::from_secs(245)), "4m 05s");
    }
}
