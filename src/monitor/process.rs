//! This process's resident memory and CPU use, read from /proc as nats-server reads them.

use std::time::Instant;

use parking_lot::Mutex;

/// Clock ticks per second; nats-server assumes 100 too (the Linux default).
const TICKS_PER_SEC: f64 = 100.0;
/// CPU use is averaged over windows of at least this long.
const MIN_WINDOW_SECS: f64 = 1.0;

/// Resident set size in bytes (0 where /proc is not available).
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User plus system CPU time used so far, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; 3 is the first after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Percent of one core used, sampled over windows of at least a second (like nats-server's
/// `cpu` field: 100 is one busy core).
#[derive(Debug)]
pub struct CpuSampler {
    state: Mutex<CpuState>,
}

#[derive(Debug)]
struct CpuState {
    at: Instant,
    ticks: u64,
    percent: f64,
}

impl Default for CpuSampler {
    fn default() -> Self {
        CpuSampler {
            state: Mutex::new(CpuState {
                at: Instant::now(),
                ticks: cpu_ticks().unwrap_or(0),
                percent: 0.0,
            }),
        }
    }
}

impl CpuSampler {
    /// The latest percentage, refreshed when the last sample is over a second old.
    pub fn percent(&self) -> f64 {
        let mut st = self.state.lock();
        let elapsed = st.at.elapsed().as_secs_f64();
        if elapsed >= MIN_WINDOW_SECS {
            if let Some(ticks) = cpu_ticks() {
                let used = ticks.saturating_sub(st.ticks) as f64 / TICKS_PER_SEC;
                // One decimal, as nats-server reports it.
                st.percent = (used / elapsed * 1000.0).round() / 10.0;
                st.ticks = ticks;
                st.at = Instant::now();
            }
        }
        st.percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(rss_bytes() > 0);
            assert!(cpu_ticks().is_some());
        }
        let sampler = CpuSampler::default();
        assert!(sampler.percent() >= 0.0);
    }
}
