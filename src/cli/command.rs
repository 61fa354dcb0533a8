//! The program's command line, in one place: which command runs (the app, `serve`, the
//! `nats-server` name, the terminal commands, help), switchboard's own flags beside
//! nats-server's, and `serve`'s recording flags. nats-server's flags themselves are parsed
//! by [`super::parse_server_args`].

use std::path::PathBuf;

use super::{parse_server_args, CliError, Launch};

/// The terminal commands of record and replay (`crate::terminal::record`).
pub const RECORD_COMMANDS: [&str; 5] = ["record", "replay", "export", "import", "info"];

/// The window with its broker, or the broker alone (asked for by `serve`, or by the name
/// `nats-server`, which also makes `--help` and `--version` print nats-server's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    App,
    Serve,
    NatsServer,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// The app or the headless broker.
    Server(Box<ServerCommand>),
    /// `switchboard record|replay|export|import|info ARGS...`.
    Record { command: String, args: Vec<String> },
    /// `switchboard attach ARGS...`.
    Attach(Vec<String>),
    /// `switchboard help [COMMAND]`.
    Help(Option<String>),
    /// `switchboard version`.
    Version,
    /// A command line that can't run; the message is printed with the overview.
    Unknown(String),
    /// A bad flag outside nats-server's; the message is printed alone.
    Invalid(CommandError),
}

/// The app or the headless broker, with what nats-server's flags said.
#[derive(Debug)]
pub struct ServerCommand {
    pub mode: Mode,
    pub launch: Result<Launch, CliError>,
    /// nats-server's flags as given, kept to apply them again on a reload.
    pub args: Vec<String>,
    pub extras: Extras,
    pub record: ServeRecordArgs,
}

/// A flag of switchboard's own that is wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("--record-subject needs --record FILE")]
    RecordSubjectWithoutFile,
}

/// Reads the command line: `program` is how the binary was started (its file stem decides
/// whether it is `nats-server`), `args` what follows.
pub fn parse(program: &str, args: Vec<String>) -> Command {
    let (mode, server_args) = if program == "nats-server" {
        (Mode::NatsServer, args)
    } else {
        match args.first().map(String::as_str) {
            Some("serve") | Some("run") => (Mode::Serve, args[1..].to_vec()),
            Some("help") => return Command::Help(args.get(1).cloned()),
            Some(cmd) if RECORD_COMMANDS.contains(&cmd) => {
                return Command::Record {
                    command: cmd.to_string(),
                    args: args[1..].to_vec(),
                }
            }
            Some("attach") => return Command::Attach(args[1..].to_vec()),
            Some("version") => return Command::Version,
            Some(other) if !other.starts_with('-') => {
                return Command::Unknown(format!("unknown command {other:?}"))
            }
            // No subcommand: the app, which takes the same flags as `serve`.
            _ => (Mode::App, args),
        }
    };
    let (extras, server_args) = Extras::split(server_args);
    let (record, server_args) = match split_serve_args(server_args) {
        Ok(split) => split,
        Err(e) => return Command::Invalid(e),
    };
    Command::Server(Box::new(ServerCommand {
        mode,
        launch: parse_server_args(server_args.clone()),
        args: server_args,
        extras,
        record,
    }))
}

/// switchboard's own flags, next to nats-server's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `--demo`: start in-process clients that show every messaging pattern.
    pub demo: bool,
    /// `--inspect`: run the inspection tap as if the window were open (sampling, latency
    /// tracking, snapshots), to measure what it costs.
    pub inspect: bool,
    /// `--attach URL[,URL...]`: open the window on that remote deployment instead of
    /// starting the embedded broker.
    pub attach: Option<String>,
    /// `--context NAME`: the same with a saved profile or NATS CLI context.
    pub context: Option<String>,
}

impl Extras {
    /// Takes switchboard's own flags out of a command line; the rest is nats-server's.
    pub fn split(args: Vec<String>) -> (Extras, Vec<String>) {
        let mut extras = Extras::default();
        let mut rest = Vec::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            match name.as_str() {
                "--demo" if inline.is_none() => extras.demo = true,
                "--inspect" if inline.is_none() => extras.inspect = true,
                "--attach" | "--context" => {
                    // A missing value is left for the flag parser to report.
                    let Some(value) = inline.or_else(|| args.next_if(|a| !a.starts_with('-')))
                    else {
                        rest.push(arg);
                        continue;
                    };
                    if name == "--attach" {
                        extras.attach = Some(value);
                    } else {
                        extras.context = Some(value);
                    }
                }
                _ => rest.push(arg),
            }
        }
        (extras, rest)
    }

    /// True when the window should open on a remote deployment.
    pub fn remote(&self) -> bool {
        self.attach.is_some() || self.context.is_some()
    }
}

/// `serve`'s recording flags, taken out of its nats-server flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeRecordArgs {
    pub file: Option<PathBuf>,
    pub subjects: Vec<String>,
}

/// Splits `--record FILE` and `--record-subject PATTERN` (also `-record`, `=VALUE` forms)
/// out of `serve`'s arguments; returns them and the rest for `parse_server_args`.
pub fn split_serve_args(args: Vec<String>) -> Result<(ServeRecordArgs, Vec<String>), CommandError> {
    let mut out = ServeRecordArgs::default();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let bare = arg.trim_start_matches('-');
        let dashes = arg.len() - bare.len();
        let (name, inline) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (bare, None),
        };
        if !(1..=2).contains(&dashes) || !matches!(name, "record" | "record-subject") {
            rest.push(arg);
            continue;
        }
        let value = match inline.or_else(|| it.next()) {
            Some(v) => v,
            None => return Err(CommandError::MissingValue(name.to_string())),
        };
        if name == "record" {
            out.file = Some(PathBuf::from(value));
        } else {
            out.subjects.push(value);
        }
    }
    if out.file.is_none() && !out.subjects.is_empty() {
        return Err(CommandError::RecordSubjectWithoutFile);
    }
    Ok((out, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn serve_record_flags_are_split_out() {
        let (rec, rest) = split_serve_args(strings(&[
            "-p",
            "4333",
            "--record",
            "a.rec",
            "--record-subject=x.>",
            "-record-subject",
            "y",
            "-D",
        ]))
        .unwrap();
        assert_eq!(rec.file, Some(PathBuf::from("a.rec")));
        assert_eq!(rec.subjects, strings(&["x.>", "y"]));
        assert_eq!(rest, strings(&["-p", "4333", "-D"]));
        assert!(split_serve_args(strings(&["--record"])).is_err());
        assert!(split_serve_args(strings(&["--record-subject", "a"])).is_err());
        let (rec, rest) = split_serve_args(strings(&["-a", "127.0.0.1"])).unwrap();
        assert_eq!((rec, rest.len()), (ServeRecordArgs::default(), 2));
    }

    fn listen_given(args: &[&str]) -> bool {
        match parse("switchboard", strings(args)) {
            Command::Server(server) => match server.launch {
                Ok(Launch::Run(plan)) => plan.listen_given,
                other => panic!("{args:?} did not parse to a run: {other:?}"),
            },
            other => panic!("{args:?} is not a server command: {other:?}"),
        }
    }

    #[test]
    fn listen_flags_and_config_files_override_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("server.conf");
        std::fs::write(&conf, "debug: false\n").unwrap();
        let conf = conf.to_string_lossy().into_owned();
        assert!(!listen_given(&[]));
        assert!(!listen_given(&["--demo", "-m", "8222", "-DV"]));
        assert!(listen_given(&["-p", "4333"]));
        assert!(listen_given(&["--port=4333"]));
        assert!(listen_given(&["-a", "0.0.0.0"]));
        assert!(listen_given(&["--net", "::1"]));
        assert!(listen_given(&["-c", &conf]));
    }

    #[test]
    fn commands_are_told_apart_by_their_first_word() {
        assert!(matches!(
            parse("nats-server", strings(&["record"])),
            Command::Server(s) if s.mode == Mode::NatsServer
        ));
        assert!(matches!(
            parse("switchboard", strings(&["serve", "-p", "1"])),
            Command::Server(s) if s.mode == Mode::Serve
        ));
        assert!(matches!(
            parse("switchboard", strings(&["replay", "f.rec"])),
            Command::Record { command, .. } if command == "replay"
        ));
        assert!(matches!(
            parse("switchboard", strings(&["attach"])),
            Command::Attach(_)
        ));
        assert!(matches!(
            parse("switchboard", strings(&["bogus"])),
            Command::Unknown(_)
        ));
        assert!(matches!(
            parse("switchboard", strings(&["--record-subject", "a"])),
            Command::Invalid(CommandError::RecordSubjectWithoutFile)
        ));
    }
}
