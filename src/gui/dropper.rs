//! Frees large values off the UI thread. A replaced snapshot of 10,000 subjects and 1,000
//! connections is tens of thousands of small allocations; freeing them took about 10 ms of
//! the frame that took the next snapshot. The UI hands such values to a background thread
//! through a bounded queue instead. The UI never waits: when the queue is full (or the
//! thread is gone) the value is freed right there, as before, and counted.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// Values waiting to be freed. Snapshots come four a second, so a handful is plenty; the
/// bound keeps memory in check if the thread is starved.
pub const DROP_QUEUE: usize = 16;

type Garbage = Box<dyn Any + Send>;

/// The UI's end of the dropper thread. Cheap to clone; all clones feed the same thread.
#[derive(Clone, Debug)]
pub struct Dropper {
    queue: Option<Sender<Garbage>>,
    /// Values freed on the caller's thread because the queue was full or the thread gone.
    inline: Arc<AtomicU64>,
}

impl Dropper {
    /// A dropper with its own thread, which ends when the last clone is dropped.
    pub fn spawn(capacity: usize) -> Self {
        let (dropper, garbage) = Self::unstarted(capacity);
        let started = std::thread::Builder::new()
            .name("ui-dropper".into())
            .spawn(move || garbage.iter().for_each(drop));
        match started {
            Ok(_) => dropper,
            // No thread: everything is freed inline (and counted), as without a dropper.
            Err(_) => Self {
                queue: None,
                inline: dropper.inline,
            },
        }
    }

    /// The process's dropper, started on first use (one thread for every UI state).
    pub fn shared() -> Self {
        static SHARED: OnceLock<Dropper> = OnceLock::new();
        SHARED.get_or_init(|| Self::spawn(DROP_QUEUE)).clone()
    }

    /// A dropper and the queue's other end, for whoever frees (the thread, or a test).
    fn unstarted(capacity: usize) -> (Self, Receiver<Garbage>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        (
            Self {
                queue: Some(tx),
                inline: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Frees `value` on the dropper thread, or here when its queue is full.
    pub fn drop_later<T: Send + 'static>(&self, value: T) {
        let Some(queue) = &self.queue else {
            self.inline.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match queue.try_send(Box::new(value)) {
            Ok(()) => {}
            Err(TrySendError::Full(value) | TrySendError::Disconnected(value)) => {
                self.inline.fetch_add(1, Ordering::Relaxed);
                drop(value);
            }
        }
    }

    /// Values freed on the caller's thread so far.
    pub fn freed_inline(&self) -> u64 {
        self.inline.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Reports the name of the thread that drops it.
    struct Witness(mpsc::Sender<Option<String>>);

    impl Drop for Witness {
        fn drop(&mut self) {
            let name = std::thread::current().name().map(str::to_string);
            let _ = self.0.send(name);
        }
    }

    #[test]
    fn values_are_freed_on_the_dropper_thread() {
        let dropper = Dropper::spawn(4);
        let (tx, rx) = mpsc::channel();
        dropper.drop_later(Witness(tx));
        let freed_by = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(freed_by.as_deref(), Some("ui-dropper"));
        assert_eq!(dropper.freed_inline(), 0);
    }

    #[test]
    fn a_full_queue_frees_inline_and_counts() {
        let (dropper, garbage) = Dropper::unstarted(2);
        let (tx, rx) = mpsc::channel();
        for _ in 0..5 {
            dropper.drop_later(Witness(tx.clone()));
        }
        assert_eq!(dropper.freed_inline(), 3, "two queued, three freed here");
        let here = std::thread::current().name().map(str::to_string);
        let freed: Vec<_> = rx.try_iter().collect();
        assert_eq!(freed, vec![here; 3]);
        assert_eq!(garbage.len(), 2);
        drop(garbage);
        dropper.drop_later(Witness(tx));
        assert_eq!(dropper.freed_inline(), 4, "no thread left: freed here");
    }
}
