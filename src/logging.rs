//! Logs in nats-server's format: `[pid] 2006/01/02 15:04:05.000000 [INF] message`, to stderr
//! or to the `-l` file, with `-D` (debug) and `-V` (trace) levels. Tools that launch
//! nats-server read these lines (for example "Listening for client connections on").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Fatal => "[FTL]",
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        }
    }
}

struct Logger {
    sink: Mutex<Sink>,
    debug: AtomicBool,
    trace: AtomicBool,
    time: AtomicBool,
}

enum Sink {
    Stderr,
    File { path: PathBuf, file: File },
    Silent,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        sink: Mutex::new(Sink::Stderr),
        debug: AtomicBool::new(false),
        trace: AtomicBool::new(false),
        time: AtomicBool::new(true),
    })
}

/// Configures the process-wide logger. With a file, logs go there (appended) and not to
/// stderr, as with nats-server's `-l`.
pub fn configure(debug: bool, trace: bool, time: bool, file: Option<&Path>) -> std::io::Result<()> {
    let l = logger();
    l.debug.store(debug, Ordering::Relaxed);
    l.trace.store(trace, Ordering::Relaxed);
    l.time.store(time, Ordering::Relaxed);
    let sink = match file {
        Some(path) => Sink::File {
            path: path.to_path_buf(),
            file: open_log(path)?,
        },
        None => Sink::Stderr,
    };
    *l.sink.lock() = sink;
    Ok(())
}

/// Silences all logging (embedded use, tests).
pub fn silence() {
    *logger().sink.lock() = Sink::Silent;
}

/// Reopens the log file (after rotation, on SIGUSR1).
pub fn reopen() -> std::io::Result<()> {
    let mut sink = logger().sink.lock();
    if let Sink::File { path, file } = &mut *sink {
        *file = open_log(path)?;
    }
    Ok(())
}

fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

pub fn enabled(level: Level) -> bool {
    let l = logger();
    match level {
        Level::Debug => l.debug.load(Ordering::Relaxed),
        Level::Trace => l.trace.load(Ordering::Relaxed),
        _ => true,
    }
}

pub fn log(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let l = logger();
    let mut line = format!("[{}] ", std::process::id());
    if l.time.load(Ordering::Relaxed) {
        line.push_str(
            &chrono::Local::now()
                .format("%Y/%m/%d %H:%M:%S%.6f ")
                .to_string(),
        );
    }
    line.push_str(level.tag());
    line.push(' ');
    line.push_str(&args.to_string());
    line.push('\n');
    // A failed log write has nowhere better to be reported; the broker carries on.
    match &mut *l.sink.lock() {
        Sink::Stderr => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        Sink::File { file, .. } => {
            let _ = file.write_all(line.as_bytes());
        }
        Sink::Silent => {}
    }
}

#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::logging::log($crate::logging::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::logging::log($crate::logging::Level::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::logging::log($crate::logging::Level::Error, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_fatal { ($($t:tt)*) => { $crate::logging::log($crate::logging::Level::Fatal, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Debug) { $crate::logging::log($crate::logging::Level::Debug, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! log_trace { ($($t:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Trace) { $crate::logging::log($crate::logging::Level::Trace, format_args!($($t)*)) } } }
