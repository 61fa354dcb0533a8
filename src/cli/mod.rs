//! nats-server's command line, with the semantics of Go's `flag` package.
//!
//! * `-flag` and `--flag` are the same; a value is given as `-flag=value`, `-flag value` or
//!   `--flag value` (the next argument is taken whatever it looks like, so `-p -1` works);
//! * boolean flags never take the next argument (`-D`, `--tls`), but accept `-D=false`;
//! * flag names are whole words: `-DV`, `-DVV` and `-VV` are flags of their own, not
//!   combinations of `-D` and `-V`;
//! * parsing stops at `--`, at `-` or at the first argument that does not start with `-`;
//!   what remains may be the command `version` or `help`, anything else is an error;
//! * integers take Go's forms (`0x1F`, `0o17`, `017` octal, `0b101`, `1_000`).
//!
//! As in nats-server, the result is built from the defaults, then the configuration file
//! (`-c`), then the flags, so flags win over the file whatever their position.
//! Flags that nats-server has but switchboard does not serve yet (cluster, syslog,
//! profiling...) are accepted with their values and reported as warnings.
//!
//! JetStream: `-js`/`--jetstream` turns it on (with the file's settings, if any; `-js=false`
//! turns off what the file turned on); `-sd`/`--store_dir DIR` sets the store directory but,
//! as in nats-server, does not turn JetStream on by itself.
//!
//! Differences from nats-server: the default host is `127.0.0.1` (from [`Options`]); TLS flags
//! complete a `tls {}` block of the configuration file (nats-server needs `--tlscert` and
//! `--tlskey` whenever any TLS flag is given); `--routes` without `--cluster` is not refused
//! (clustering is ignored anyway); `-t` also applies the flags; `-sd` with a `store_dir` in the
//! file overrides it (nats-server refuses that pair with "Duplicate 'store_dir' configuration",
//! since it reads its flags once before the file too).

use std::path::PathBuf;

use crate::config::{apply_config_file, ConfigError};
use crate::options::{Options, TlsOptions, DEFAULT_HOST, DEFAULT_PORT};

pub mod command;
pub mod help;
#[cfg(test)]
mod tests;

/// What the process should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// Start the broker.
    Run(RunPlan),
    /// Print the version and exit (`-v`, `--version`, `version`).
    Version,
    /// Print this text and exit (`-h`, `--help`, `help`, `--help_tls`).
    Help(String),
    /// `-t`: the configuration loaded; report it as valid and exit.
    TestConfig(RunPlan),
    /// `--signal CMD[=PID|=PIDFILE]`: send a signal to a running server and exit.
    Signal(SignalRequest),
}

/// Everything needed to start the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub options: Options,
    /// Unsupported or unknown keys and flags, to print before starting.
    pub warnings: Vec<String>,
    /// The `-c/--config` file, as given.
    pub config_file: Option<PathBuf>,
    /// The command line chose the listen address (`-a`, `-p`, or a `-c` file, which may):
    /// the window's saved address is then not used.
    pub listen_given: bool,
    /// The command line or the `-c` file said anything about JetStream (`-js`, `-sd`,
    /// `jetstream`, `store_dir`): the window's JetStream setting is then not used.
    pub jetstream_given: bool,
    /// The `-c` file has a `websocket` block: the window's WebSocket setting is then not
    /// used.
    pub websocket_given: bool,
    /// `--leaf` or a `leafnodes` block in the `-c` file: the window's leaf-node setting is
    /// then not used.
    pub leafnodes_given: bool,
}

/// `--signal` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRequest {
    pub command: SignalCommand,
    /// The text after `=`: a PID or a PID file (see [`resolve_pid`]). nats-server looks for
    /// running `nats-server` processes when it is absent.
    pub pid: Option<String>,
}

/// The commands of `--signal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalCommand {
    /// `ldm`: lame duck mode (SIGUSR2).
    LameDuck,
    /// `stop`: SIGKILL.
    Stop,
    /// `quit`: SIGINT.
    Quit,
    /// `term`: SIGTERM.
    Term,
    /// `reopen`: reopen the log file (SIGUSR1).
    Reopen,
    /// `reload`: reload the configuration (SIGHUP).
    Reload,
}

impl SignalCommand {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ldm" => SignalCommand::LameDuck,
            "stop" => SignalCommand::Stop,
            "quit" => SignalCommand::Quit,
            "term" => SignalCommand::Term,
            "reopen" => SignalCommand::Reopen,
            "reload" => SignalCommand::Reload,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SignalCommand::LameDuck => "ldm",
            SignalCommand::Stop => "stop",
            SignalCommand::Quit => "quit",
            SignalCommand::Term => "term",
            SignalCommand::Reopen => "reopen",
            SignalCommand::Reload => "reload",
        }
    }

    /// The Unix signal nats-server sends for this command.
    #[cfg(unix)]
    pub fn signal_number(self) -> libc::c_int {
        match self {
            SignalCommand::LameDuck => libc::SIGUSR2,
            SignalCommand::Stop => libc::SIGKILL,
            SignalCommand::Quit => libc::SIGINT,
            SignalCommand::Term => libc::SIGTERM,
            SignalCommand::Reopen => libc::SIGUSR1,
            SignalCommand::Reload => libc::SIGHUP,
        }
    }
}

/// A `--signal` PID expression: the contents of the file of that name if it can be read,
/// otherwise the text itself, as a process id.
pub fn resolve_pid(expr: &str) -> Result<i32, CliError> {
    let text = std::fs::read_to_string(expr).unwrap_or_else(|_| expr.to_string());
    let text = text.trim();
    text.parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| CliError::InvalidPid(text.to_string()))
}

/// A command line that cannot be used. The messages are nats-server's.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),
    #[error("bad flag syntax: {0}")]
    BadSyntax(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid boolean value \"{value}\" for -{flag}: parse error")]
    InvalidBool { flag: String, value: String },
    #[error("invalid value \"{value}\" for flag -{flag}: {reason}")]
    InvalidValue {
        flag: String,
        value: String,
        reason: String,
    },
    #[error("unrecognized command: \"{0}\"")]
    UnrecognizedCommand(String),
    #[error("invalid signal parameters: [{}]", .0.join(" "))]
    InvalidSignalParameters(Vec<String>),
    #[error("unknown signal \"{0}\"")]
    UnknownSignal(String),
    #[error("invalid pid: {0}")]
    InvalidPid(String),
    #[error("must specify [-c, --config] option to check configuration file syntax")]
    TestWithoutConfig,
    /// TLS flags without a certificate or key.
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl CliError {
    /// Errors in the flags themselves, after which nats-server also prints the usage text.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            CliError::UnknownFlag(_)
                | CliError::BadSyntax(_)
                | CliError::MissingValue(_)
                | CliError::InvalidBool { .. }
                | CliError::InvalidValue { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Str,
    Int,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Help,
    HelpTls,
    Version,
    Port,
    Name,
    Addr,
    Debug,
    Trace,
    VerboseTrace,
    DebugTrace,
    DebugVerboseTrace,
    Logtime,
    User,
    Pass,
    Auth,
    HttpPort,
    Config,
    Test,
    Signal,
    Pid,
    Log,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    /// switchboard's own `--busy_poll <duration>`.
    BusyPoll,
    /// switchboard's own `--leaf <url,url,...>`: a leaf-node remote.
    Leaf,
    /// `-js`, `--jetstream`.
    JetStream,
    /// `-sd`, `--store_dir`.
    StoreDir,
    /// Accepted and ignored with a warning.
    Unsupported,
}

/// Every flag of nats-server 2.15, with its type, and switchboard's own that fit its style.
const FLAGS: &[(&str, F, Ty)] = &[
    ("h", F::Help, Ty::Bool),
    ("help", F::Help, Ty::Bool),
    ("help_tls", F::HelpTls, Ty::Bool),
    ("v", F::Version, Ty::Bool),
    ("version", F::Version, Ty::Bool),
    ("p", F::Port, Ty::Int),
    ("port", F::Port, Ty::Int),
    ("n", F::Name, Ty::Str),
    ("name", F::Name, Ty::Str),
    ("server_name", F::Name, Ty::Str),
    ("a", F::Addr, Ty::Str),
    ("addr", F::Addr, Ty::Str),
    ("net", F::Addr, Ty::Str),
    ("D", F::Debug, Ty::Bool),
    ("debug", F::Debug, Ty::Bool),
    ("V", F::Trace, Ty::Bool),
    ("trace", F::Trace, Ty::Bool),
    ("VV", F::VerboseTrace, Ty::Bool),
    ("DV", F::DebugTrace, Ty::Bool),
    ("DVV", F::DebugVerboseTrace, Ty::Bool),
    ("T", F::Logtime, Ty::Bool),
    ("logtime", F::Logtime, Ty::Bool),
    ("user", F::User, Ty::Str),
    ("pass", F::Pass, Ty::Str),
    ("auth", F::Auth, Ty::Str),
    ("m", F::HttpPort, Ty::Int),
    ("http_port", F::HttpPort, Ty::Int),
    ("c", F::Config, Ty::Str),
    ("config", F::Config, Ty::Str),
    ("t", F::Test, Ty::Bool),
    ("sl", F::Signal, Ty::Str),
    ("signal", F::Signal, Ty::Str),
    ("P", F::Pid, Ty::Str),
    ("pid", F::Pid, Ty::Str),
    ("l", F::Log, Ty::Str),
    ("log", F::Log, Ty::Str),
    ("tls", F::Tls, Ty::Bool),
    ("tlsverify", F::TlsVerify, Ty::Bool),
    ("tlscert", F::TlsCert, Ty::Str),
    ("tlskey", F::TlsKey, Ty::Str),
    ("tlscacert", F::TlsCaCert, Ty::Str),
    ("js", F::JetStream, Ty::Bool),
    ("jetstream", F::JetStream, Ty::Bool),
    ("sd", F::StoreDir, Ty::Str),
    ("store_dir", F::StoreDir, Ty::Str),
    // switchboard's own, in nats-server's style.
    ("busy_poll", F::BusyPoll, Ty::Str),
    ("leaf", F::Leaf, Ty::Str),
    // Known to nats-server, not served by switchboard yet.
    ("ms", F::Unsupported, Ty::Int),
    ("https_port", F::Unsupported, Ty::Int),
    ("client_advertise", F::Unsupported, Ty::Str),
    ("logtime_utc", F::Unsupported, Ty::Bool),
    ("ports_file_dir", F::Unsupported, Ty::Str),
    ("log_size_limit", F::Unsupported, Ty::Int),
    ("s", F::Unsupported, Ty::Bool),
    ("syslog", F::Unsupported, Ty::Bool),
    ("r", F::Unsupported, Ty::Str),
    ("remote_syslog", F::Unsupported, Ty::Str),
    ("profile", F::Unsupported, Ty::Int),
    ("routes", F::Unsupported, Ty::Str),
    ("cluster", F::Unsupported, Ty::Str),
    ("cluster_listen", F::Unsupported, Ty::Str),
    ("cluster_advertise", F::Unsupported, Ty::Str),
    ("no_advertise", F::Unsupported, Ty::Bool),
    ("connect_retries", F::Unsupported, Ty::Int),
    ("cluster_name", F::Unsupported, Ty::Str),
    ("max_traced_msg_len", F::Unsupported, Ty::Int),
];

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Bool(bool),
    Str(String),
    Int(i64),
}

/// One flag as given.
#[derive(Debug, Clone)]
struct Given {
    flag: F,
    /// As typed, without the value: `-sd`, `--store_dir`.
    typed: String,
    /// The name without dashes.
    name: String,
    value: Val,
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then decimal, `0x`, `0o`, `0b` or leading-`0` octal;
/// underscores between digits.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err("parse error");
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return Err("parse error");
    }
    let magnitude = u64::from_str_radix(&clean, radix).map_err(|_| "value out of range")?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or("value out of range")
    } else {
        i64::try_from(magnitude).map_err(|_| "value out of range")
    }
}

/// Splits the arguments into flags and the remaining positional arguments.
fn parse_flags(args: &[String]) -> Result<(Vec<Given>, Vec<String>), CliError> {
    let mut given = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let dashes = if arg.starts_with("--") { 2 } else { 1 };
        if arg == "--" {
            i += 1;
            break;
        }
        let body = &arg[dashes..];
        if body.starts_with('-') || body.starts_with('=') {
            return Err(CliError::BadSyntax(arg.clone()));
        }
        i += 1;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(_, flag, ty)) = FLAGS.iter().find(|(n, _, _)| *n == name) else {
            return Err(CliError::UnknownFlag(name.to_string()));
        };
        let value = if ty == Ty::Bool {
            match inline {
                None => Val::Bool(true),
                Some(v) => Val::Bool(parse_go_bool(v).ok_or_else(|| CliError::InvalidBool {
                    flag: name.to_string(),
                    value: v.to_string(),
                })?),
            }
        } else {
            let text = match inline {
                Some(v) => v.to_string(),
                None => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| CliError::MissingValue(name.to_string()))?;
                    i += 1;
                    v.clone()
                }
            };
            if ty == Ty::Int {
                Val::Int(
                    parse_go_int(&text).map_err(|reason| CliError::InvalidValue {
                        flag: name.to_string(),
                        value: text.clone(),
                        reason: reason.to_string(),
                    })?,
                )
            } else {
                Val::Str(text)
            }
        };
        given.push(Given {
            flag,
            typed: arg[..dashes + name.len()].to_string(),
            name: name.to_string(),
            value,
        });
    }
    Ok((given, args[i..].to_vec()))
}

fn last(given: &[Given], flag: F) -> Option<&Val> {
    given
        .iter()
        .rev()
        .find(|g| g.flag == flag)
        .map(|g| &g.value)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Parses nats-server's arguments (without the program name).
pub fn parse_server_args<I: IntoIterator<Item = String>>(args: I) -> Result<Launch, CliError> {
    let args: Vec<String> = args.into_iter().collect();
    let (given, rest) = parse_flags(&args)?;
    let set = |flag| matches!(last(&given, flag), Some(Val::Bool(true)));

    if set(F::Version) {
        return Ok(Launch::Version);
    }
    if set(F::Help) {
        return Ok(Launch::Help(usage()));
    }
    if set(F::HelpTls) {
        return Ok(Launch::Help(tls_usage()));
    }
    if let Some(cmd) = rest.first() {
        return match cmd.to_ascii_lowercase().as_str() {
            "version" => Ok(Launch::Version),
            "help" => Ok(Launch::Help(usage())),
            _ => Err(CliError::UnrecognizedCommand(cmd.clone())),
        };
    }
    if let Some(Val::Str(sig)) = last(&given, F::Signal) {
        if !sig.is_empty() {
            return parse_signal(sig).map(Launch::Signal);
        }
    }

    let mut options = Options::default();
    let mut warnings = Vec::new();
    let config_file = match last(&given, F::Config) {
        Some(Val::Str(c)) if !c.is_empty() => Some(PathBuf::from(c)),
        _ => None,
    };
    if let Some(path) = &config_file {
        warnings.extend(apply_config_file(path, &mut options)?);
    }
    let test = set(F::Test);
    if test && config_file.is_none() {
        return Err(CliError::TestWithoutConfig);
    }
    apply_flags(&given, &mut options, &mut warnings)?;
    let listen_given = given
        .iter()
        .any(|g| matches!(g.flag, F::Addr | F::Port | F::Config));
    let jetstream_given = given
        .iter()
        .any(|g| matches!(g.flag, F::JetStream | F::StoreDir))
        || config_file
            .as_deref()
            .is_some_and(|f| config_mentions(f, &["jetstream", "store_dir", "storedir"]));
    let websocket_given = config_file
        .as_deref()
        .is_some_and(|f| config_mentions(f, &["websocket", "ws"]));
    let leafnodes_given = given.iter().any(|g| matches!(g.flag, F::Leaf))
        || config_file
            .as_deref()
            .is_some_and(|f| config_mentions(f, &["leafnodes", "leaf"]));
    let plan = RunPlan {
        options,
        warnings,
        config_file,
        listen_given,
        jetstream_given,
        websocket_given,
        leafnodes_given,
    };
    Ok(if test {
        Launch::TestConfig(plan)
    } else {
        Launch::Run(plan)
    })
}

/// Whether the configuration file has one of `keys` (lower case) at its top level (read
/// again: `jetstream: disabled` or a `websocket` block with port 0 leaves no trace in the
/// options). The file was applied already, so it parses.
fn config_mentions(path: &std::path::Path, keys: &[&str]) -> bool {
    crate::config::parse_file(path).is_ok_and(|map| {
        map.entries()
            .iter()
            .any(|e| keys.contains(&e.key.to_ascii_lowercase().as_str()))
    })
}

fn parse_signal(sig: &str) -> Result<SignalRequest, CliError> {
    let parts: Vec<&str> = sig.split('=').collect();
    if parts.len() > 2 {
        return Err(CliError::InvalidSignalParameters(
            parts[2..].iter().map(|s| s.to_string()).collect(),
        ));
    }
    let command =
        SignalCommand::parse(parts[0]).ok_or_else(|| CliError::UnknownSignal(parts[0].into()))?;
    Ok(SignalRequest {
        command,
        pid: parts.get(1).and_then(|p| non_empty(p)),
    })
}

fn invalid_flag(g: &Given, value: String, reason: &str) -> CliError {
    CliError::InvalidValue {
        flag: g.name.clone(),
        value,
        reason: reason.to_string(),
    }
}

/// A port flag: -1 (random) to 65535.
fn port_value(g: &Given, n: i64) -> Result<i32, CliError> {
    i32::try_from(n)
        .ok()
        .filter(|p| (-1..=65535).contains(p))
        .ok_or_else(|| invalid_flag(g, n.to_string(), "port out of range"))
}

fn apply_flags(
    given: &[Given],
    opts: &mut Options,
    warnings: &mut Vec<String>,
) -> Result<(), CliError> {
    for g in given {
        match (g.flag, &g.value) {
            (F::Port, Val::Int(n)) => {
                let p = port_value(g, *n)?;
                opts.port = if p == 0 { i32::from(DEFAULT_PORT) } else { p };
            }
            (F::HttpPort, Val::Int(n)) => {
                let p = port_value(g, *n)?;
                opts.http_port = (p != 0).then_some(p);
            }
            (F::Name, Val::Str(s)) => {
                if s.contains(' ') {
                    return Err(invalid_flag(
                        g,
                        s.clone(),
                        "server name can not contain spaces",
                    ));
                }
                opts.server_name = non_empty(s);
            }
            (F::Addr, Val::Str(s)) => {
                opts.host = non_empty(s).unwrap_or_else(|| DEFAULT_HOST.to_string());
            }
            (F::Debug, Val::Bool(b)) => opts.logging.debug = *b,
            (F::Trace | F::VerboseTrace, Val::Bool(b)) => opts.logging.trace = *b,
            (F::DebugTrace | F::DebugVerboseTrace, Val::Bool(b)) => {
                opts.logging.debug = *b;
                opts.logging.trace = *b;
            }
            (F::Logtime, Val::Bool(b)) => opts.logging.time = *b,
            (F::User, Val::Str(s)) => opts.auth.user = non_empty(s),
            (F::Pass, Val::Str(s)) => opts.auth.password = non_empty(s),
            (F::Auth, Val::Str(s)) => opts.auth.token = non_empty(s),
            (F::Pid, Val::Str(s)) => opts.pid_file = non_empty(s).map(PathBuf::from),
            (F::Log, Val::Str(s)) => opts.logging.file = non_empty(s).map(PathBuf::from),
            (F::BusyPoll, Val::Str(s)) => {
                opts.busy_poll = crate::duration::parse_std_duration(s)
                    .map_err(|e| invalid_flag(g, s.clone(), &e.to_string()))?;
            }
            (F::Leaf, Val::Str(s)) => {
                let urls: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                if urls.is_empty() {
                    return Err(invalid_flag(g, s.clone(), "no leafnode url"));
                }
                opts.leafnodes
                    .remotes
                    .push(crate::options::RemoteLeafOptions {
                        urls,
                        ..crate::options::RemoteLeafOptions::default()
                    });
            }
            (F::JetStream, Val::Bool(b)) => opts.set_jetstream_enabled(*b),
            (F::StoreDir, Val::Str(s)) => {
                opts.jetstream_settings().store_dir = non_empty(s).map(PathBuf::from);
            }
            (F::Unsupported, _) => warnings.push(format!(
                "flag \"{}\" is not supported yet and is ignored",
                g.typed
            )),
            _ => {}
        }
    }
    apply_tls_flags(given, opts)
}

/// `--tls`, `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify`: any of them turns TLS on
/// (completing a `tls {}` block from the file); `--tls=false` turns it off.
fn apply_tls_flags(given: &[Given], opts: &mut Options) -> Result<(), CliError> {
    if matches!(last(given, F::Tls), Some(Val::Bool(false))) {
        opts.tls = None;
        return Ok(());
    }
    let is_tls = |f: F| {
        matches!(
            f,
            F::Tls | F::TlsVerify | F::TlsCert | F::TlsKey | F::TlsCaCert
        )
    };
    if !given.iter().any(|g| is_tls(g.flag)) {
        return Ok(());
    }
    let base = opts.tls.take().unwrap_or_default();
    let path = |flag| match last(given, flag) {
        Some(Val::Str(s)) => non_empty(s).map(PathBuf::from),
        _ => None,
    };
    let cert_file = path(F::TlsCert).or(base.cert_file);
    let key_file = path(F::TlsKey).or(base.key_file);
    let ca_file = path(F::TlsCaCert).or(base.ca_file);
    let verify = match last(given, F::TlsVerify) {
        Some(Val::Bool(b)) => *b,
        _ => base.verify,
    };
    if cert_file.is_none() {
        return Err(CliError::Tls(
            "TLS Server certificate must be present and valid".into(),
        ));
    }
    if key_file.is_none() {
        return Err(CliError::Tls(
            "TLS Server private key must be present and valid".into(),
        ));
    }
    opts.tls = Some(TlsOptions {
        cert_file,
        key_file,
        ca_file,
        verify,
        ..base
    });
    Ok(())
}

/// The `--help` text.
pub fn usage() -> String {
    "\
Usage: nats-server [options]

Server options:
    -a, --addr, --net <host>         Address to bind to (default: 127.0.0.1)
    -p, --port <port>                Client port (default: 4222; -1 picks a free port)
    -n, --name, --server_name <name> Server name (default: the server id)
    -P, --pid <file>                 Write the process id to this file
    -m, --http_port <port>           Monitoring HTTP port (/varz, /connz, ...)
    -ms, --https_port <port>         Monitoring HTTPS port (not supported yet)
    -c, --config <file>              Configuration file
    -t                               Check the configuration file and exit
    -sl, --signal <cmd>[=<pid>]      Signal a running server: ldm, stop, quit, term, reopen,
                                     reload; <pid> is a process id or a pid file
        --client_advertise <url>     Client URL to advertise (not supported yet)
        --ports_file_dir <dir>       Directory for a ports file (not supported yet)

Logging options:
    -l, --log <file>                 Log to this file
    -T, --logtime                    Timestamps in the log (default: true)
        --logtime_utc                Timestamps in UTC (not supported yet)
    -s, --syslog                     Log to syslog (not supported yet)
    -r, --remote_syslog <addr>       Remote syslog address (not supported yet)
    -D, --debug                      Debug output
    -V, --trace                      Protocol trace
    -VV                              Verbose protocol trace
    -DV                              Debug output and protocol trace
    -DVV                             Debug output and verbose protocol trace
        --log_size_limit <bytes>     Log file size limit (not supported yet)
        --max_traced_msg_len <len>   Longest traced message (not supported yet)

JetStream options:
    -js, --jetstream                 Enable JetStream (default: off)
    -sd, --store_dir <dir>           Storage directory; data goes in <dir>/jetstream
                                     (default: <temp dir>/nats/jetstream). Does not
                                     enable JetStream by itself

Authorization options:
        --user <user>                User name clients must give
        --pass <password>            Password clients must give
        --auth <token>               Token clients must give

TLS options:
        --tls                        Enable TLS without client verification
        --tlscert <file>             Server certificate
        --tlskey <file>              Server private key
        --tlsverify                  Enable TLS and verify client certificates
        --tlscacert <file>           CA for client certificates

Leaf node options:
        --leaf <url,url,...>         Connect to a hub as a leaf node (its URLs, e.g.
                                     nats-leaf://user:pass@hub:7422); may be repeated

Cluster options (not supported yet):
        --routes <url,url,...>       Routes to connect to
        --cluster, --cluster_listen <url>  Cluster listen URL
        --cluster_name <name>        Cluster name
        --no_advertise               Do not advertise cluster URLs to clients
        --cluster_advertise <url>    Cluster URL to advertise
        --connect_retries <n>        Connect retries for implicit routes

Profiling options (not supported yet):
        --profile <port>             Profiling HTTP port

Common options:
    -h, --help                       This message
    -v, --version                    Version
        --help_tls                   TLS help
"
    .to_string()
}

/// The `--help_tls` text.
pub fn tls_usage() -> String {
    "\
TLS settings in the configuration file:

    tls {
        cert_file: \"server-cert.pem\"
        key_file: \"server-key.pem\"
        ca_file: \"ca.pem\"          # CA for client certificates
        verify: true                # require and verify client certificates
        timeout: 2                  # seconds (or \"2s\") allowed for the handshake
        handshake_first: true       # TLS before INFO; \"auto\" or \"300ms\" falls back to INFO
    }

The same can be given with --tls, --tlscert, --tlskey, --tlscacert and --tlsverify.
"
    .to_string()
}
