//! The `record`, `replay`, `export`, `import` and `info` commands (clap).

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::connect::ConnectArgs;
use crate::record::nats::NatsPublisher;
use crate::record::progress::{fmt_duration, Line};
use crate::record::remote::{record_remote, RemoteOptions, StopReason};
use crate::record::replay::{spawn_replay, ReplayOptions, ReplayState, Speed};
use crate::record::select::{Remap, Selection};
use crate::record::{ndjson, summary};

/// Record a NATS server's traffic as a client.
#[derive(Debug, Parser)]
#[command(name = "switchboard record")]
struct RecordCmd {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Subject pattern to record (repeatable; default `>`)
    #[arg(long = "subject", value_name = "PATTERN")]
    subjects: Vec<String>,
    /// Recording file to write
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Stop after this long (Go duration: 60s, 5m, 1h30m)
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many messages
    #[arg(long)]
    count: Option<u64>,
}

/// Replay a recording into a NATS server.
#[derive(Debug, Parser)]
#[command(name = "switchboard replay")]
struct ReplayCmd {
    /// Recording file
    file: PathBuf,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Speed factor (1, 2.5, 0.5 ...) or `max`
    #[arg(long, default_value = "1")]
    speed: Speed,
    /// Replay only subjects matching this pattern (repeatable)
    #[arg(long = "subject", value_name = "PATTERN")]
    subjects: Vec<String>,
    /// Rewrite subjects: OLD=NEW, wildcards carried over (e.g. orders.>=test.orders.>)
    #[arg(long = "remap", value_name = "OLD=NEW")]
    remaps: Vec<Remap>,
    /// Passes over the recording (0 repeats until interrupted)
    #[arg(long = "loop", default_value_t = 1, value_name = "N")]
    loops: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Ndjson,
}

/// Write a recording's messages as NDJSON.
#[derive(Debug, Parser)]
#[command(name = "switchboard export")]
struct ExportCmd {
    /// Recording file
    file: PathBuf,
    #[arg(long, value_enum, default_value = "ndjson")]
    format: ExportFormat,
    /// Output file (default: standard output)
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

/// Make a recording from NDJSON (as `export` writes it).
#[derive(Debug, Parser)]
#[command(name = "switchboard import")]
struct ImportCmd {
    /// NDJSON file (`-` for standard input)
    input: PathBuf,
    /// Recording file to write
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

/// Summarize a recording.
#[derive(Debug, Parser)]
#[command(name = "switchboard info")]
struct InfoCmd {
    /// Recording file
    file: PathBuf,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
    /// Subjects to list
    #[arg(long, default_value_t = 20)]
    top: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse_std_duration(s).map_err(|e| e.to_string())
}

/// Runs `switchboard COMMAND ARGS...` for one of `crate::cli::command::RECORD_COMMANDS`.
pub fn run(command: &str, args: &[String]) -> ExitCode {
    let argv = std::iter::once(format!("switchboard {command}")).chain(args.iter().cloned());
    let result = match command {
        "record" => RecordCmd::try_parse_from(argv).map(|c| block_on(record(c))),
        "replay" => ReplayCmd::try_parse_from(argv).map(|c| block_on(replay(c))),
        "export" => ExportCmd::try_parse_from(argv).map(export),
        "import" => ImportCmd::try_parse_from(argv).map(import),
        "info" => InfoCmd::try_parse_from(argv).map(info),
        other => Ok(Err(format!("unknown command {other:?}"))),
    };
    match result {
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(Err(message)) => {
            eprintln!("switchboard {command}: {message}");
            ExitCode::from(1)
        }
        Ok(Ok(code)) => code,
    }
}

fn block_on<F: std::future::Future<Output = Result<ExitCode, String>>>(
    f: F,
) -> Result<ExitCode, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("can't start the runtime: {e}"))?
        .block_on(f)
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn record(cmd: RecordCmd) -> Result<ExitCode, String> {
    let slow = Arc::new(AtomicU64::new(0));
    let client = cmd
        .connect
        .connect("switchboard record", Some(slow.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let opts = RemoteOptions {
        subjects: cmd.subjects.clone(),
        duration: cmd.duration,
        count: cmd.count,
        queue_messages: None,
    };
    let mut line = Line::new();
    let started = std::time::Instant::now();
    eprintln!(
        "recording {} from {} into {} (Ctrl-C stops)",
        if cmd.subjects.is_empty() {
            ">".to_string()
        } else {
            cmd.subjects.join(" ")
        },
        cmd.connect.server,
        cmd.output.display()
    );
    let outcome = record_remote(
        &client,
        &cmd.connect.server,
        &cmd.output,
        &opts,
        slow,
        interrupted(),
        |c| {
            line.update(&format!(
                "{} messages, {} bytes, {} dropped, {}",
                c.messages,
                c.bytes,
                c.drops,
                fmt_duration(started.elapsed())
            ))
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let s = outcome.stats;
    let why = match outcome.reason {
        StopReason::Duration => "duration reached",
        StopReason::Count => "count reached",
        StopReason::Signal => "interrupted",
        StopReason::Closed => "connection closed",
    };
    line.finish(&format!(
        "recorded {} messages ({} bytes, {} dropped) into {} in {}: {why}",
        s.messages,
        s.bytes,
        s.drops,
        cmd.output.display(),
        fmt_duration(started.elapsed())
    ));
    Ok(ExitCode::SUCCESS)
}

async fn replay(cmd: ReplayCmd) -> Result<ExitCode, String> {
    let selection = Selection::new(&cmd.subjects, cmd.remaps).map_err(|e| e.to_string())?;
    // Check the file before connecting.
    crate::record::reader::Reader::open(&cmd.file)
        .map_err(|e| format!("{}: {e}", cmd.file.display()))?;
    let client = cmd
        .connect
        .connect("switchboard replay", None)
        .await
        .map_err(|e| e.to_string())?;
    let opts = ReplayOptions {
        speed: cmd.speed,
        selection,
        loops: cmd.loops,
    };
    let loops = opts.loops;
    let (control, mut task) = spawn_replay(cmd.file.clone(), opts, NatsPublisher::new(client));
    let mut line = Line::new();
    let mut ticker = tokio::time::interval(line.interval());
    let stop = interrupted();
    tokio::pin!(stop);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = &mut stop, if !stopping => {
                stopping = true;
                control.stop();
            }
            _ = ticker.tick() => line.update(&progress_text(&control.progress(loops))),
        }
    };
    let outcome = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            let p = control.progress(loops);
            line.finish(&format!("replay failed after {} messages: {e}", p.sent));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(format!("replay task failed: {e}")),
    };
    let p = control.progress(loops);
    let mut text = format!(
        "{} {} messages{} in {}",
        if outcome.stopped {
            "stopped after"
        } else {
            "replayed"
        },
        outcome.sent,
        if loops == 1 {
            format!(" of {}", outcome.total)
        } else {
            format!(
                " ({} per pass, {} passes done)",
                outcome.total, outcome.loops_done
            )
        },
        fmt_duration(outcome.elapsed)
    );
    if outcome.stopped {
        text.push_str(&format!(
            " (pass {}, at {} of {} recorded)",
            p.loop_index + 1,
            fmt_duration(Duration::from_nanos(p.position_ns)),
            fmt_duration(Duration::from_nanos(p.span_ns))
        ));
    }
    if outcome.skipped > 0 {
        text.push_str(&format!("; {} skipped (not sendable)", outcome.skipped));
    }
    if let Some(tail) = &outcome.tail {
        text.push_str(&format!("; {tail}"));
    }
    line.finish(&text);
    Ok(if outcome.stopped {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_text(p: &crate::record::replay::Progress) -> String {
    let done = p.sent + p.skipped;
    let of = if p.loops == 0 {
        format!("{done}")
    } else {
        format!("{done}/{}", p.total * u64::from(p.loops))
    };
    let eta = p.eta.map_or_else(|| "?".to_string(), fmt_duration);
    let state = match p.state {
        ReplayState::Paused => " [paused]",
        _ => "",
    };
    format!(
        "{of} messages, pass {}{}, elapsed {}, ETA {eta}, speed {}{state}",
        p.loop_index + 1,
        if p.loops == 0 {
            String::new()
        } else {
            format!("/{}", p.loops)
        },
        fmt_duration(p.elapsed),
        p.speed
    )
}

fn export(cmd: ExportCmd) -> Result<ExitCode, String> {
    let ExportFormat::Ndjson = cmd.format;
    let (count, tail) = match &cmd.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("can't create {}: {e}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            ndjson::export(&cmd.file, &mut out)
        }
        None => ndjson::export(&cmd.file, &mut std::io::stdout().lock()),
    }
    .map_err(|e| format!("{}: {e}", cmd.file.display()))?;
    eprintln!("exported {count} messages");
    if let Some(tail) = tail {
        eprintln!("warning: {}: {tail}", cmd.file.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn import(cmd: ImportCmd) -> Result<ExitCode, String> {
    let count = if cmd.input.as_os_str() == "-" {
        ndjson::import(std::io::stdin().lock(), &cmd.output)
    } else {
        let file = std::fs::File::open(&cmd.input)
            .map_err(|e| format!("can't open {}: {e}", cmd.input.display()))?;
        ndjson::import(BufReader::new(file), &cmd.output)
    }
    .map_err(|e| format!("{}: {e}", cmd.input.display()))?;
    eprintln!("imported {count} messages into {}", cmd.output.display());
    Ok(ExitCode::SUCCESS)
}

fn info(cmd: InfoCmd) -> Result<ExitCode, String> {
    let s = summary::summarize(&cmd.file).map_err(|e| format!("{}: {e}", cmd.file.display()))?;
    let mut out = std::io::stdout().lock();
    if cmd.json {
        let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
        let _ = writeln!(out, "{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let meta = s.meta.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "format version {}, source {} {}",
        s.version, meta.source, meta.server
    );
    let _ = writeln!(
        out,
        "{} messages, {} bytes over {}; {} dropped while recording; {}",
        s.messages,
        s.bytes,
        fmt_duration(Duration::from_nanos(s.span_ns())),
        s.drops,
        if s.clean_end {
            "closed cleanly"
        } else {
            "not closed cleanly"
        }
    );
    if let Some(tail) = &s.tail {
        let _ = writeln!(out, "{tail}");
    }
    for subject in s.subjects.iter().take(cmd.top) {
        let _ = writeln!(
            out,
            "  {:>10} msgs {:>12} B  {}",
            subject.messages, subject.bytes, subject.subject
        );
    }
    for c in &s.connections {
        let _ = writeln!(
            out,
            "  connection {} {:?}: {} messages",
            c.cid, c.name, c.messages
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subcommands_parse() {
        let c = ReplayCmd::try_parse_from(strings(&[
            "x",
            "f.rec",
            "--server",
            "nats://h:1",
            "--speed",
            "max",
            "--remap",
            "a.>=b.>",
            "--loop",
            "3",
            "--subject",
            "a.>",
            "--user",
            "u",
            "--password",
            "p",
        ]))
        .unwrap();
        assert_eq!((c.speed, c.loops, c.remaps.len()), (Speed::Max, 3, 1));
        assert_eq!(c.connect.user.as_deref(), Some("u"));
        assert!(ReplayCmd::try_parse_from(strings(&["x", "f", "--speed", "0"])).is_err());
        assert!(ReplayCmd::try_parse_from(strings(&["x", "f", "--remap", "a.>=b"])).is_err());
        let r = RecordCmd::try_parse_from(strings(&[
            "x",
            "-o",
            "o.rec",
            "--duration",
            "1m30s",
            "--count",
            "5",
            "--tlsca",
            "ca.pem",
        ]))
        .unwrap();
        assert_eq!(r.duration, Some(Duration::from_secs(90)));
        assert_eq!(r.count, Some(5));
    }
}
