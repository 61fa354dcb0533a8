//! The UI-side model: what the panels draw from. Everything here is bounded: rate history
//! rings, the message history, the event log. Updated by the bridge, read by the panels.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use crate::inspect::snapshot::{BrokerEvent, MessageSample, Snapshot, SubjectStat};

use super::dropper::Dropper;
use super::model::filter::SubjectFilter;
use super::model::latency::LatencyHistory;
use super::model::queues;
use super::model::replies::{group_branch, inbox_branch, INBOX_GROUP};
use super::model::subject_tree::SubjectTree;

/// Messages kept for the live view.
pub const MESSAGE_HISTORY: usize = 10_000;
/// Bytes of message headers and payloads kept for the live view (oldest go first).
pub const MESSAGE_HISTORY_BYTES: usize = 256 * 1024 * 1024;
/// Rate points kept (at the sampler's ~4 ticks a second: about five minutes).
pub const RATE_HISTORY_POINTS: usize = 1200;
/// Points kept per connection and per subject (about a minute).
pub const SHORT_HISTORY_POINTS: usize = 240;
/// Events kept for the overview feed.
pub const EVENT_HISTORY: usize = 1000;
/// Subjects whose rate history is always kept (the busiest), besides the chosen ones.
pub const TRACKED_TOP_SUBJECTS: usize = 8;
/// Rows pushed out of the message history are freed off the UI thread in batches this big.
const EVICTED_BATCH: usize = 1024;

/// A fixed-capacity ring: pushing past capacity drops the oldest.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }
}

/// One point of the server-wide rates; `t` is seconds since the first snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RatePoint {
    pub t: f64,
    pub in_msgs: f64,
    pub out_msgs: f64,
    pub in_bytes: f64,
    pub out_bytes: f64,
}

/// `MessageRow::receivers` of a message whose receivers were not recorded (a recording
/// made as a client sees the message, not who else got it).
pub const RECEIVERS_UNKNOWN: u32 = u32::MAX;

/// One message in the live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub seq: u64,
    pub time: SystemTime,
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub publisher_cid: u64,
    pub receivers: u32,
}

impl MessageRow {
    pub fn from_sample(s: MessageSample) -> Self {
        Self {
            seq: s.seq,
            time: s.time,
            subject: text(s.subject),
            reply: s.reply.map(text),
            headers: s.headers,
            payload: s.payload,
            publisher_cid: s.publisher_cid,
            receivers: s.receivers,
        }
    }

    /// False for recorded messages that do not say who received them.
    pub fn receivers_known(&self) -> bool {
        self.receivers != RECEIVERS_UNKNOWN
    }

    /// Bytes on the wire as counted by the broker: headers plus payload.
    pub fn size(&self) -> usize {
        self.payload.len() + self.headers.as_ref().map_or(0, Vec::len)
    }
}

/// The bytes as text, keeping their allocation when they are valid UTF-8 (subjects
/// nearly always are; this runs for every sample the view takes).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The bounded message history with its filtered view, kept up to date incrementally:
/// positions are absolute (they survive eviction from the front).
#[derive(Debug)]
pub struct MessageLog {
    rows: VecDeque<MessageRow>,
    /// Absolute position of `rows[0]`.
    first: u64,
    capacity: usize,
    filter: SubjectFilter,
    filter_text: String,
    /// Absolute positions of rows that match the filter, ascending.
    visible: VecDeque<u64>,
    /// Messages that arrived while paused (bounded by `capacity`), appended on resume.
    held: VecDeque<MessageRow>,
    paused: bool,
    /// Messages dropped from `held` because the pause lasted too long.
    held_dropped: u64,
    /// Bytes of headers and payloads in `rows`, and in `held`.
    bytes: usize,
    held_bytes: usize,
    /// Sample sequence gaps seen (samples the broker dropped).
    pub gaps: u64,
    last_seq: Option<u64>,
    /// Rows pushed out, waiting to be handed to `dropper` (see [`Self::flush_evicted`]).
    evicted: Vec<MessageRow>,
    dropper: Dropper,
}

impl MessageLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            rows: VecDeque::new(),
            first: 0,
            capacity,
            filter: SubjectFilter::All,
            filter_text: String::new(),
            visible: VecDeque::new(),
            held: VecDeque::new(),
            paused: false,
            held_dropped: 0,
            bytes: 0,
            held_bytes: 0,
            gaps: 0,
            last_seq: None,
            evicted: Vec::new(),
            dropper: Dropper::shared(),
        }
    }

    /// Frees the rows pushed out so far off the UI thread (at the end of each pump; also
    /// whenever a batch fills up, so the buffer stays bounded if nobody calls this).
    pub fn flush_evicted(&mut self) {
        if !self.evicted.is_empty() {
            let batch = std::mem::replace(&mut self.evicted, Vec::with_capacity(EVICTED_BATCH));
            self.dropper.drop_later(batch);
        }
    }

    fn discard(&mut self, row: MessageRow) {
        self.evicted.push(row);
        if self.evicted.len() >= EVICTED_BATCH {
            self.flush_evicted();
        }
    }

    pub fn push(&mut self, row: MessageRow) {
        if let Some(last) = self.last_seq {
            self.gaps += row.seq.saturating_sub(last + 1);
        }
        self.last_seq = Some(row.seq);
        if self.paused {
            let size = row.size();
            while !self.held.is_empty()
                && (self.held.len() >= self.capacity
                    || self.held_bytes + size > MESSAGE_HISTORY_BYTES)
            {
                if let Some(old) = self.held.pop_front() {
                    self.held_bytes -= old.size();
                    self.held_dropped += 1;
                    self.discard(old);
                }
            }
            self.held_bytes += size;
            self.held.push_back(row);
            return;
        }
        self.append(row);
    }

    fn append(&mut self, row: MessageRow) {
        let size = row.size();
        while !self.rows.is_empty()
            && (self.rows.len() >= self.capacity || self.bytes + size > MESSAGE_HISTORY_BYTES)
        {
            self.evict_oldest();
        }
        self.bytes += size;
        let pos = self.first + self.rows.len() as u64;
        if self.filter.matches(row.subject.as_bytes()) {
            self.visible.push_back(pos);
        }
        self.rows.push_back(row);
    }

    fn evict_oldest(&mut self) {
        if let Some(old) = self.rows.pop_front() {
            self.bytes -= old.size();
            if self.visible.front() == Some(&self.first) {
                self.visible.pop_front();
            }
            self.first += 1;
            self.discard(old);
        }
    }

    /// Keeps at most `capacity` messages from now on (the oldest go first).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.rows.len() > self.capacity {
            self.evict_oldest();
        }
        while self.held.len() > self.capacity {
            if let Some(old) = self.held.pop_front() {
                self.held_bytes -= old.size();
                self.held_dropped += 1;
            }
        }
    }

    /// Most rows kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of headers and payloads held in the history.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn set_paused(&mut self, paused: bool) {
        if self.paused == paused {
            return;
        }
        self.paused = paused;
        if !paused {
            self.held_bytes = 0;
            for row in std::mem::take(&mut self.held) {
                self.append(row);
            }
        }
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Messages waiting to be shown on resume.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    pub fn held_dropped(&self) -> u64 {
        self.held_dropped
    }

    pub fn filter_text(&self) -> &str {
        &self.filter_text
    }

    /// Changes the filter; recomputes the view only if the filter really changed.
    pub fn set_filter(&mut self, text: &str) {
        if text == self.filter_text {
            return;
        }
        self.filter_text = text.to_string();
        let filter = SubjectFilter::parse(text);
        if filter == self.filter {
            return;
        }
        self.filter = filter;
        self.visible = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| self.filter.matches(r.subject.as_bytes()))
            .map(|(i, _)| self.first + i as u64)
            .collect();
    }

    /// Rows in the history (before filtering).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows that pass the filter.
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// The `i`-th row of the filtered view (oldest first).
    pub fn visible_row(&self, i: usize) -> Option<&MessageRow> {
        let pos = *self.visible.get(i)?;
        self.rows.get((pos - self.first) as usize)
    }

    /// The row with sample sequence `seq`, if still in the history.
    pub fn by_seq(&self, seq: u64) -> Option<&MessageRow> {
        // Sequence numbers increase along the history: binary search.
        let idx = self.rows.partition_point(|r| r.seq < seq);
        self.rows.get(idx).filter(|r| r.seq == seq)
    }

    /// The most recent message on the same subject before `seq`.
    pub fn previous_on_subject(&self, seq: u64) -> Option<&MessageRow> {
        let row = self.by_seq(seq)?;
        let idx = self.rows.partition_point(|r| r.seq < seq);
        self.rows
            .range(..idx)
            .rev()
            .find(|r| r.subject == row.subject)
    }

    pub fn clear(&mut self) {
        self.first += self.rows.len() as u64;
        self.bytes = 0;
        self.held_bytes = 0;
        self.dropper.drop_later(std::mem::take(&mut self.rows));
        self.dropper.drop_later(std::mem::take(&mut self.held));
        self.visible.clear();
    }
}

/// Queue members' delivered counts by (client id, sid).
pub type DeliveredCounters = HashMap<(u64, String), u64>;

/// What is selected across the views.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub connection: Option<u64>,
    /// A subject-tree node's path.
    pub subject: Option<String>,
    /// A message's sample sequence number.
    pub message: Option<u64>,
}

/// The filter boxes' texts (the message filter lives in [`MessageLog`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub connections: String,
    pub subjects: String,
    /// List reply inboxes one by one in Subjects and Rates (folded into `_INBOX.>` if not).
    pub show_inboxes: bool,
}

/// What the UI knows, newest snapshot first.
pub struct UiState {
    pub selection: Selection,
    pub filters: Filters,
    pub snapshot: Arc<Snapshot>,
    /// Counts the snapshots taken (views recompute what they derive from it on change).
    pub snapshot_generation: u64,
    pub tree: SubjectTree,
    /// Id of the build the tree comes from: changes when its structure changes (a subject
    /// came or went), not when only its numbers do; what depends on names alone is
    /// recomputed only then.
    pub tree_generation: u64,
    /// Indices into the snapshot's subjects, busiest first (computed once per snapshot).
    pub subjects_by_rate: Vec<usize>,
    /// Connection names by id, live and closed (for publisher/receiver columns).
    pub names: HashMap<u64, String>,
    pub rates: Ring<RatePoint>,
    /// (t, msgs/s, bytes/s) per tracked subject.
    pub subject_rates: HashMap<String, Ring<(f64, f64, f64)>>,
    /// (t, in msgs/s, out msgs/s) per live connection.
    pub connection_rates: HashMap<u64, Ring<(f64, f64, f64)>>,
    /// Subjects the Rates view plots (their history is kept).
    pub plotted_subjects: HashSet<String>,
    /// (t, msgs/s, bytes/s) of every reply inbox together (`_INBOX.>`), always kept.
    pub inbox_rates: Ring<(f64, f64, f64)>,
    /// Request/reply latency per service over the last minutes.
    pub latency: LatencyHistory,
    pub messages: MessageLog,
    /// Newest last.
    pub events: Ring<BrokerEvent>,
    pub last_event_seq: u64,
    /// Samples the broker dropped because the UI fell behind (from the feed).
    pub dropped_samples: u64,
    /// Queue delivered counters from ~10 s ago, for "recent" shares.
    pub queue_baseline: Option<(f64, DeliveredCounters)>,
    pub queue_previous: Option<DeliveredCounters>,
    first_snapshot: Option<SystemTime>,
    started: std::time::Instant,
    /// Seconds (of `RatePoint::t`) of the newest snapshot.
    pub now_t: f64,
    /// Frees replaced snapshots and trees off the UI thread.
    dropper: Dropper,
}

impl Default for UiState {
    fn default() -> Self {
        Self::new()
    }
}

/// How often the queue-group "recent" baseline moves forward.
const QUEUE_WINDOW_SECS: f64 = 10.0;

impl UiState {
    pub fn new() -> Self {
        Self {
            selection: Selection::default(),
            filters: Filters::default(),
            snapshot: Arc::new(Snapshot::default()),
            snapshot_generation: 0,
            tree: SubjectTree::default(),
            tree_generation: 0,
            subjects_by_rate: Vec::new(),
            names: HashMap::new(),
            rates: Ring::new(RATE_HISTORY_POINTS),
            subject_rates: HashMap::new(),
            connection_rates: HashMap::new(),
            plotted_subjects: HashSet::new(),
            inbox_rates: Ring::new(RATE_HISTORY_POINTS),
            latency: LatencyHistory::default(),
            messages: MessageLog::new(MESSAGE_HISTORY),
            events: Ring::new(EVENT_HISTORY),
            last_event_seq: 0,
            dropped_samples: 0,
            queue_baseline: None,
            queue_previous: None,
            first_snapshot: None,
            started: std::time::Instant::now(),
            now_t: 0.0,
            dropper: Dropper::shared(),
        }
    }

    /// Takes a new snapshot: derives what the views need (on this thread) and extends the
    /// histories.
    pub fn apply_snapshot(&mut self, snap: Arc<Snapshot>) {
        let tree = std::mem::take(&mut self.tree);
        let prepared = super::prepare::prepare(snap, tree, self.tree_generation);
        // What comes back is the empty tree left by `take`.
        drop(self.apply_prepared(prepared));
    }

    /// Takes a snapshot prepared by [`super::prepare`] and extends the histories. Returns
    /// the tree it replaced with its build id, for reuse.
    pub fn apply_prepared(&mut self, prepared: super::prepare::Prepared) -> (SubjectTree, u64) {
        let super::prepare::Prepared {
            snapshot: snap,
            tree,
            structure,
            by_rate,
        } = prepared;
        let t = match snap.taken_at {
            Some(taken) => {
                let first = *self.first_snapshot.get_or_insert(taken);
                taken
                    .duration_since(first)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(self.now_t)
            }
            None => self.started.elapsed().as_secs_f64(),
        };
        self.now_t = t;
        self.rates.push(RatePoint {
            t,
            in_msgs: snap.rates.in_msgs_per_sec,
            out_msgs: snap.rates.out_msgs_per_sec,
            in_bytes: snap.rates.in_bytes_per_sec,
            out_bytes: snap.rates.out_bytes_per_sec,
        });
        self.names.clear();
        for c in &snap.closed {
            self.names.insert(c.cid, c.name.clone());
        }
        // A message that came over a leaf-node link names the link as its publisher.
        for link in &snap.leaf_links {
            if let Some(cid) = link.cid {
                self.names.insert(cid, format!("leaf {}", link.remote_name));
            }
        }
        for c in &snap.connections {
            self.names.insert(c.cid, c.name.clone());
            self.connection_rates
                .entry(c.cid)
                .or_insert_with(|| Ring::new(SHORT_HISTORY_POINTS))
                .push((t, c.rates.in_msgs_per_sec, c.rates.out_msgs_per_sec));
        }
        let live: HashSet<u64> = snap.connections.iter().map(|c| c.cid).collect();
        self.connection_rates.retain(|id, _| live.contains(id));
        // The order prepared with the tree serves both the tracked subjects and the views.
        self.track_subjects(&snap, &by_rate, t);
        self.track_reply_groups(&tree, t);
        let inboxes = inbox_branch(&tree).map_or((0.0, 0.0), |b| (b.msgs_per_sec, b.bytes_per_sec));
        self.inbox_rates.push((t, inboxes.0, inboxes.1));
        self.latency.push(t, &snap.latency);
        let counters = queues::delivered_counters(&snap.queue_groups);
        match &self.queue_baseline {
            Some((since, _)) if t - since < QUEUE_WINDOW_SECS => {}
            _ => {
                self.queue_previous = self.queue_baseline.take().map(|(_, c)| c);
                self.queue_baseline = Some((t, counters));
            }
        }
        let replaced = std::mem::replace(&mut self.tree, tree);
        let replaced_structure = std::mem::replace(&mut self.tree_generation, structure);
        self.subjects_by_rate = by_rate;
        // The previous snapshot is often the last reference to tens of thousands of small
        // allocations: freeing them here cost the frame about 10 ms.
        let previous = std::mem::replace(&mut self.snapshot, snap);
        self.dropper.drop_later(previous);
        self.snapshot_generation += 1;
        (replaced, replaced_structure)
    }

    /// Values freed on the UI thread because the dropper's queue was full (process-wide).
    pub fn frees_on_ui_thread(&self) -> u64 {
        self.dropper.freed_inline()
    }

    /// Extends the rate rings of the busiest subjects and the plotted ones. Only those
    /// are looked at: walking every subject of a large snapshot (10,000 and more) with
    /// three hash lookups each cost a few milliseconds of the frames that take one.
    fn track_subjects(&mut self, snap: &Snapshot, by_rate: &[usize], t: f64) {
        let top: HashSet<&str> = by_rate
            .iter()
            .take(TRACKED_TOP_SUBJECTS)
            .filter_map(|&i| snap.subjects.get(i))
            .filter(|s| s.msgs_per_sec > 0.0)
            .map(|s| s.subject.as_str())
            .collect();
        let push = |rates: &mut HashMap<String, Ring<(f64, f64, f64)>>, s: &SubjectStat| {
            let point = (t, s.msgs_per_sec, s.bytes_per_sec);
            if let Some(ring) = rates.get_mut(&s.subject) {
                ring.push(point);
            } else {
                let mut ring = Ring::new(RATE_HISTORY_POINTS);
                ring.push(point);
                rates.insert(s.subject.clone(), ring);
            }
        };
        for s in by_rate
            .iter()
            .take(TRACKED_TOP_SUBJECTS)
            .filter_map(|&i| snap.subjects.get(i))
            .filter(|s| top.contains(s.subject.as_str()))
        {
            push(&mut self.subject_rates, s);
        }
        if !self.plotted_subjects.is_empty() {
            for s in snap.subjects.iter().filter(|s| {
                self.plotted_subjects.contains(&s.subject) && !top.contains(s.subject.as_str())
            }) {
                push(&mut self.subject_rates, s);
            }
        }
        let plotted = &self.plotted_subjects;
        self.subject_rates
            .retain(|subject, _| top.contains(subject.as_str()) || plotted.contains(subject));
    }

    /// Extends the rate rings of the folded reply groups the Rates view plots, under their
    /// patterns (`$JS.ACK.>`); `_INBOX.>` has a ring of its own, always kept.
    fn track_reply_groups(&mut self, tree: &SubjectTree, t: f64) {
        for group in &tree.folds.groups {
            if group.pattern == INBOX_GROUP || !self.plotted_subjects.contains(&group.pattern) {
                continue;
            }
            let Some(b) = group_branch(tree, group) else {
                continue;
            };
            self.subject_rates
                .entry(group.pattern.clone())
                .or_insert_with(|| Ring::new(RATE_HISTORY_POINTS))
                .push((t, b.msgs_per_sec, b.bytes_per_sec));
        }
    }

    pub fn push_events(&mut self, events: Vec<BrokerEvent>) {
        for e in events {
            self.last_event_seq = self.last_event_seq.max(e.seq);
            self.events.push(e);
        }
    }

    /// `name #id`, or `#id`.
    pub fn conn_label(&self, id: u64) -> String {
        let name = self.names.get(&id).map(String::as_str).unwrap_or("");
        super::model::connections::display_name(id, name)
    }

    /// The busiest subjects of the current snapshot, first `n`.
    pub fn top_subjects(&self, n: usize) -> impl Iterator<Item = &SubjectStat> {
        self.subjects_by_rate
            .iter()
            .take(n)
            .filter_map(|&i| self.snapshot.subjects.get(i))
    }

    /// Seconds the UI has been running, for samples without a snapshot time.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
