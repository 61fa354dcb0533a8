//! A status line on stderr: rewritten in place on a terminal, plain lines (less often)
//! when stderr is a file or a pipe.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Line {
    tty: bool,
    last: Option<Instant>,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    pub fn new() -> Self {
        Line {
            tty: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// How often `update` is worth calling.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(if self.tty { 200 } else { 1000 })
    }

    /// Shows `text` as the current status (on a non-terminal, at most every 5 s).
    pub fn update(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K{text}");
            let _ = err.flush();
        } else if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            self.last = Some(Instant::now());
            let _ = writeln!(err, "{text}");
        }
    }

    /// Replaces the status with a final line.
    pub fn finish(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\r\x1b[K{text}");
        } else {
            let _ = writeln!(err, "{text}");
        }
    }
}

/// `1h02m03s`, `4m05s`, `6.1s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
