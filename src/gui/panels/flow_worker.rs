//! Builds the flow maps of large snapshots off the UI thread. At 10,000 subjects and 1,000
//! connections a build hashes a few hundred thousand keys, which cost the frame that took
//! a new snapshot more than the 33 ms budget on a loaded two-core machine. The worker
//! builds one map at a time; a newer request waits (the newest wins) and the UI draws the
//! last map it has meanwhile. Small snapshots are built in the frame, as before.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::gui::model::flow::{self, Delivered, FlowGraph, FlowOptions};
use crate::inspect::snapshot::Snapshot;

/// A map to build: of which snapshot, with which options.
pub struct Job {
    pub generation: u64,
    pub options: FlowOptions,
    pub snapshot: Arc<Snapshot>,
    pub earlier: Option<Delivered>,
}

/// A built map, with its structure id (the layout is the UI's: it keeps the previous one).
pub struct Done {
    pub generation: u64,
    pub options: FlowOptions,
    pub graph: FlowGraph,
    pub structure: u64,
}

pub struct Worker {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    /// What the worker is building now, and what waits for it.
    in_flight: Option<(u64, FlowOptions)>,
    waiting: Option<Job>,
    stopped: bool,
}

impl Worker {
    /// Starts the worker; `wake` asks for a frame when a map is ready. None when no thread
    /// can be started (maps are then built in the frame).
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Option<Self> {
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(1);
        let (done_tx, done) = crossbeam_channel::bounded::<Done>(1);
        std::thread::Builder::new()
            .name("ui-flow-map".into())
            .spawn(move || {
                for job in job_rx.iter() {
                    let graph = flow::build(&job.snapshot, &job.options, job.earlier.as_ref());
                    let structure = graph.structure();
                    let done = Done {
                        generation: job.generation,
                        options: job.options,
                        graph,
                        structure,
                    };
                    if done_tx.send(done).is_err() {
                        break;
                    }
                    wake();
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            done,
            in_flight: None,
            waiting: None,
            stopped: false,
        })
    }

    /// Asks for the map of `generation` with `options`, unless it is already asked for;
    /// `job` makes the request only when it is needed.
    pub fn want(&mut self, generation: u64, options: &FlowOptions, job: impl FnOnce() -> Job) {
        let asked = |g: u64, o: &FlowOptions| g == generation && o == options;
        if self.in_flight.as_ref().is_some_and(|(g, o)| asked(*g, o))
            || self
                .waiting
                .as_ref()
                .is_some_and(|j| asked(j.generation, &j.options))
        {
            return;
        }
        let job = job();
        if self.in_flight.is_some() {
            self.waiting = Some(job);
        } else {
            self.send(job);
        }
    }

    fn send(&mut self, job: Job) {
        let key = (job.generation, job.options.clone());
        // One job at a time, sent only when the worker is free, so there is room.
        match self.jobs.try_send(job) {
            Ok(()) => self.in_flight = Some(key),
            Err(crossbeam_channel::TrySendError::Full(job)) => self.waiting = Some(job),
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => self.stopped = true,
        }
    }

    /// The map built since the last call, if one is ready (the waiting request goes next).
    pub fn poll(&mut self) -> Option<Done> {
        let done = match self.done.try_recv() {
            Ok(done) => done,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.stopped = true;
                return None;
            }
            Err(crossbeam_channel::TryRecvError::Empty) => return None,
        };
        self.in_flight = None;
        if let Some(job) = self.waiting.take() {
            self.send(job);
        }
        Some(done)
    }

    /// The worker is gone (it panicked): maps are built in the frame from then on.
    pub fn stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inspect::snapshot::SubjectStat;
    use std::time::{Duration, Instant};

    fn job(generation: u64) -> Job {
        Job {
            generation,
            options: FlowOptions::default(),
            snapshot: Arc::new(Snapshot {
                subjects: vec![SubjectStat {
                    subject: format!("s{generation}"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            earlier: None,
        }
    }

    fn wait(worker: &mut Worker) -> Done {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(done) = worker.poll() {
                return done;
            }
            assert!(Instant::now() < deadline, "the worker never answered");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn the_newest_request_waits_and_then_wins() {
        let mut worker = Worker::spawn(|| {}).unwrap();
        let options = FlowOptions::default();
        worker.want(1, &options, || job(1));
        worker.want(2, &options, || job(2));
        worker.want(3, &options, || job(3));
        let mut asked_again = false;
        worker.want(3, &options, || {
            asked_again = true;
            job(3)
        });
        assert!(!asked_again, "a request already waiting is not made again");
        assert_eq!(wait(&mut worker).generation, 1);
        let second = wait(&mut worker);
        assert_eq!(second.generation, 3, "2 was replaced while 1 was built");
        assert_eq!(second.graph.graph.node_count(), 1);
    }
}
