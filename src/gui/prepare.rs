//! Prepares large snapshots off the UI thread: the subject tree's update and the subjects'
//! order by rate took most of the frame that took a 10,000-subject snapshot. A worker
//! thread does them and hands the result back by value; the UI only swaps it in.
//!
//! Trees are recycled rather than rebuilt: the UI hands back the tree a new one replaces,
//! and the worker updates it in place for a later snapshot (usually the same subjects, so
//! only the numbers change). Each tree travels with the id of the build it came from, so
//! the UI knows whether the structure changed (views recompute name-only data then).
//!
//! Small snapshots are applied on the UI thread as before: they are cheap, and the views
//! (and tests) see them in the frame that takes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::inspect::snapshot::Snapshot;

use super::model::subject_tree::{by_rate, SubjectTree};

/// Snapshots with at least this many subjects and connections together are prepared on the
/// worker (below it, a frame does the work in well under a millisecond).
pub const OFF_THREAD_AT: usize = 2_000;

/// A snapshot with what the UI derives from it, ready to be swapped in.
pub struct Prepared {
    pub snapshot: Arc<Snapshot>,
    pub tree: SubjectTree,
    /// Id of the build `tree` comes from (same id, same structure).
    pub structure: u64,
    /// Indices into the snapshot's subjects, busiest first.
    pub by_rate: Vec<usize>,
}

/// A fresh id for a tree that was (re)built.
pub fn next_structure_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Derives everything for `snapshot`, reusing `tree` (built as `structure`). Pure apart
/// from freeing a replaced tree, which happens on the calling thread.
pub fn prepare(snapshot: Arc<Snapshot>, mut tree: SubjectTree, structure: u64) -> Prepared {
    let structure = match tree.update(&snapshot.subjects) {
        Some(_replaced) => next_structure_id(),
        None => structure,
    };
    let by_rate = by_rate(&snapshot.subjects);
    Prepared {
        snapshot,
        tree,
        structure,
        by_rate,
    }
}

/// Is this snapshot worth a trip to the worker?
pub fn is_large(snapshot: &Snapshot) -> bool {
    snapshot.subjects.len() + snapshot.connections.len() >= OFF_THREAD_AT
}

struct Job {
    snapshot: Arc<Snapshot>,
    tree: SubjectTree,
    structure: u64,
}

/// The UI's end of the worker. At most one snapshot is on the worker at a time; a newer
/// one that comes meanwhile waits (the newest wins), so the worker never falls behind.
pub struct Preparer {
    jobs: Sender<Job>,
    done: Receiver<Prepared>,
    in_flight: bool,
    waiting: Option<Arc<Snapshot>>,
    /// A tree handed back by the UI, and its build id, for the next job.
    spare: Option<(SubjectTree, u64)>,
}

impl Preparer {
    /// Starts the worker; `wake` is called when a prepared snapshot is ready (a repaint).
    /// None when no thread can be started (snapshots are then applied on the UI thread).
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Option<Self> {
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(1);
        let (done_tx, done) = crossbeam_channel::bounded::<Prepared>(1);
        std::thread::Builder::new()
            .name("ui-prepare".into())
            .spawn(move || {
                for job in job_rx.iter() {
                    let prepared = prepare(job.snapshot, job.tree, job.structure);
                    if done_tx.send(prepared).is_err() {
                        break;
                    }
                    wake();
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            done,
            in_flight: false,
            waiting: None,
            spare: None,
        })
    }

    /// Hands a snapshot to the worker (or keeps it for when the worker is free).
    pub fn submit(&mut self, snapshot: Arc<Snapshot>) {
        if self.in_flight {
            self.waiting = Some(snapshot);
        } else {
            self.send(snapshot);
        }
    }

    fn send(&mut self, snapshot: Arc<Snapshot>) {
        let (tree, structure) = self.spare.take().unwrap_or_default();
        // The worker takes one job at a time and we send only when it is free, so the
        // queue has room; a worker that is gone leaves the snapshot unapplied.
        self.in_flight = self
            .jobs
            .try_send(Job {
                snapshot,
                tree,
                structure,
            })
            .is_ok();
    }

    /// A prepared snapshot, when the worker has finished one.
    pub fn poll(&mut self) -> Option<Prepared> {
        match self.done.try_recv() {
            Ok(prepared) => {
                self.in_flight = false;
                if let Some(next) = self.waiting.take() {
                    self.send(next);
                }
                Some(prepared)
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Takes back a tree the UI no longer shows (built as `structure`), for reuse.
    pub fn recycle(&mut self, tree: SubjectTree, structure: u64) {
        self.spare = Some((tree, structure));
    }

    /// Work is on the worker or waiting for it.
    pub fn busy(&self) -> bool {
        self.in_flight || self.waiting.is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::gui::model::subject_tree::build_tree;
    use crate::inspect::snapshot::SubjectStat;
    use std::time::Duration;

    fn snapshot(subjects: &[&str], rate: f64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            subjects: subjects
                .iter()
                .enumerate()
                .map(|(i, s)| SubjectStat {
                    subject: s.to_string(),
                    msgs: i as u64,
                    msgs_per_sec: rate * i as f64,
                    subscribers: 1,
                    publishers: vec![1],
                    receivers: vec![2],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    /// Polls (bounded) until the worker hands something back.
    fn wait(preparer: &mut Preparer) -> Prepared {
        let mut prepared = None;
        crate::testkit::wait_until("the worker's answer", Duration::from_secs(10), || {
            prepared = preparer.poll();
            prepared.is_some()
        });
        prepared.expect("wait_until returned, so the worker answered")
    }

    #[test]
    fn structure_ids_change_exactly_when_the_structure_does() {
        let a = snapshot(&["a.x", "a.y"], 1.0);
        let first = prepare(a.clone(), SubjectTree::default(), 0);
        assert_ne!(first.structure, 0, "built: a new id");
        assert_eq!(first.tree, build_tree(&a.subjects));
        assert_eq!(first.by_rate, [1, 0]);
        let a2 = snapshot(&["a.x", "a.y"], 2.0);
        let second = prepare(a2.clone(), first.tree, first.structure);
        assert_eq!(second.structure, first.structure, "numbers only: same id");
        assert_eq!(second.tree, build_tree(&a2.subjects));
        let b = snapshot(&["b.z"], 1.0);
        let third = prepare(b.clone(), second.tree, second.structure);
        assert_ne!(third.structure, second.structure);
        assert_eq!(third.tree, build_tree(&b.subjects));
    }

    #[test]
    fn the_worker_prepares_the_newest_snapshot_and_reuses_trees() {
        let mut preparer = Preparer::spawn(|| {}).unwrap();
        assert!(!preparer.busy());
        preparer.submit(snapshot(&["a.x"], 1.0));
        // Two more while the first is on the worker: only the newest is prepared next.
        preparer.submit(snapshot(&["a.x"], 2.0));
        preparer.submit(snapshot(&["a.x", "b.y"], 3.0));
        let first = wait(&mut preparer);
        assert_eq!(first.snapshot.subjects.len(), 1);
        let newest = wait(&mut preparer);
        assert_eq!(
            newest.snapshot.subjects.len(),
            2,
            "the middle one was skipped"
        );
        assert_eq!(newest.tree, build_tree(&newest.snapshot.subjects));
        assert_ne!(newest.structure, first.structure);
        assert!(!preparer.busy());
        // A recycled tree of another structure is rebuilt, under a new id.
        preparer.recycle(first.tree, first.structure);
        preparer.submit(snapshot(&["a.x", "b.y"], 4.0));
        let again = wait(&mut preparer);
        assert_ne!(again.structure, first.structure);
        assert_eq!(again.tree, build_tree(&again.snapshot.subjects));
    }
}
