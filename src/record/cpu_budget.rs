//! Keeps the recording's writer off a CPU the broker needs.
//!
//! The writer runs at a lower priority (nice 10), but on a core the broker saturates that
//! still gives it a tenth of the core whenever it has work, and when the disk can't keep up
//! it always has work: copying and checksumming what the disk takes cost a pinned broker
//! 10 to 25 % of its throughput with 1 KiB messages. So the writer watches how long it waits
//! for a CPU (the scheduler's run delay). When it waits longer than it runs, the CPU is
//! contended, and the writer holds its own use to `SHARE` of a core by sleeping; what it has
//! no time for is dropped at the tap and counted, as when the disk is too slow. On a core
//! with room to spare nothing changes.

use std::time::{Duration, Instant};

/// The fraction of a core a writer contending with the broker may use (the recording view
/// says "at most 2 %" where it explains drops).
pub const SHARE: f64 = 0.02;
/// How often the writer looks at its run time and delay.
const WINDOW: Duration = Duration::from_millis(20);
/// The longest single pause: the writer still flushes and writes STATS records on time.
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// The writer's scheduler counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    /// Nanoseconds on a CPU and waiting for one, since the thread started.
    run_ns: u64,
    delay_ns: u64,
}

/// Paces the calling thread; `pace` is called between the writer's batches.
#[derive(Debug, Default)]
pub struct CpuBudget {
    last: Option<Sample>,
    /// Time spent paused, for the tests and the curious.
    paused: Duration,
}

impl CpuBudget {
    /// Sleeps as long as the last window's CPU use asks for (see `pause_for`). Cheap when the
    /// window has not ended: one clock reading.
    pub fn pace(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            if now.duration_since(last.at) < WINDOW {
                return;
            }
        }
        let Some((run_ns, delay_ns)) = thread_sched_times() else {
            return;
        };
        if let Some(last) = self.last {
            let pause = pause_for(
                now.duration_since(last.at),
                run_ns.saturating_sub(last.run_ns),
                delay_ns.saturating_sub(last.delay_ns),
            );
            if !pause.is_zero() {
                std::thread::sleep(pause);
                self.paused += pause;
            }
        }
        // The window starts after the pause: each window's run time is then spread over it
        // and its pause, which is `SHARE` of a core on average.
        self.last = Some(Sample {
            at: Instant::now(),
            run_ns,
            delay_ns,
        });
    }

    /// Time paused so far (the writer's tests look at it).
    pub fn paused(&self) -> Duration {
        self.paused
    }
}

/// How long to pause after a window of `wall` time in which the thread ran `run_ns` and
/// waited `delay_ns` for a CPU: nothing while it waited less than it ran (a CPU was free) or
/// used no more than `SHARE`; else long enough to bring its use down to `SHARE`.
fn pause_for(wall: Duration, run_ns: u64, delay_ns: u64) -> Duration {
    let run = Duration::from_nanos(run_ns);
    if delay_ns <= run_ns || run.as_secs_f64() <= SHARE * wall.as_secs_f64() {
        return Duration::ZERO;
    }
    let spread = run.div_f64(SHARE);
    spread.saturating_sub(wall).min(MAX_PAUSE)
}

/// The calling thread's time on a CPU and waiting for one, in nanoseconds
/// (`/proc/thread-self/schedstat`); None where the system does not say.
#[cfg(target_os = "linux")]
fn thread_sched_times() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    parse_schedstat(&text)
}

#[cfg(not(target_os = "linux"))]
fn thread_sched_times() -> Option<(u64, u64)> {
    None
}

/// `schedstat` is "run-time run-delay timeslices".
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let run = fields.next()?.parse().ok()?;
    let delay = fields.next()?.parse().ok()?;
    Some((run, delay))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_writer_with_a_cpu_to_itself_never_pauses() {
        // All of a 20 ms window on the CPU, hardly any waiting: a free core.
        assert_eq!(
            pause_for(Duration::from_millis(20), 20 * MS, MS),
            Duration::ZERO
        );
        // Waiting exactly as long as it ran is not yet contention.
        assert_eq!(
            pause_for(Duration::from_millis(20), 5 * MS, 5 * MS),
            Duration::ZERO
        );
    }

    #[test]
    fn a_contended_writer_within_its_share_never_pauses() {
        // 0.3 ms of 20 ms is 1.5 %, under the share, however long it waited.
        const { assert!(0.3 / 20.0 < SHARE) };
        assert_eq!(
            pause_for(Duration::from_millis(20), MS * 3 / 10, 19 * MS),
            Duration::ZERO
        );
    }

    #[test]
    fn a_contended_writer_over_its_share_pauses_down_to_it() {
        // 2 ms on the CPU in a 20 ms window, waiting the rest: 10 % of a core.
        let wall = Duration::from_millis(20);
        let pause = pause_for(wall, 2 * MS, 18 * MS);
        let share = 0.002 / (wall + pause).as_secs_f64();
        assert!(
            (share - SHARE).abs() < 1e-6,
            "share {share} after {pause:?}"
        );
        // A huge window of work is paused for at most MAX_PAUSE at a time.
        assert_eq!(pause_for(wall, 1000 * MS, 2000 * MS), MAX_PAUSE);
    }

    #[test]
    fn schedstat_lines_parse() {
        assert_eq!(
            parse_schedstat("279307232 478818 61\n"),
            Some((279_307_232, 478_818))
        );
        assert_eq!(parse_schedstat("12"), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_threads_run_time_grows_while_it_works() {
        let Some((before, _)) = thread_sched_times() else {
            // A kernel without scheduler statistics: the budget is off there.
            return;
        };
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let (after, _) = thread_sched_times().expect("schedstat went away");
        assert!(after > before, "run time {before} -> {after}");
    }

    /// The real thing: a nice-10 thread that shares one CPU with a spinning one sees its run
    /// delay, finds itself over its share and pauses.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_writer_sharing_a_busy_cpu_pauses() {
        use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        if thread_sched_times().is_none() {
            return;
        }
        let allowed = sched_getaffinity(None).expect("sched_getaffinity");
        let Some(cpu) = (0..CpuSet::MAX_CPU).find(|&c| allowed.is_set(c)) else {
            return;
        };
        let mut one = CpuSet::new();
        one.set(cpu);
        let stop = Arc::new(AtomicBool::new(false));
        let hog = std::thread::spawn({
            let stop = stop.clone();
            move || {
                sched_setaffinity(None, &one).expect("pin the spinning thread");
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
        });
        let writer = std::thread::spawn(move || {
            sched_setaffinity(None, &one).expect("pin the writer");
            rustix::process::nice(10).expect("lower the writer's priority");
            let mut budget = CpuBudget::default();
            let start = Instant::now();
            while budget.paused().is_zero() && start.elapsed() < Duration::from_secs(5) {
                let work = Instant::now();
                while work.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                budget.pace();
            }
            budget.paused()
        });
        let paused = writer.join().expect("writer thread");
        stop.store(true, Ordering::Relaxed);
        hog.join().expect("spinning thread");
        assert!(!paused.is_zero(), "a contended writer never paused");
    }
}
