//! `switchboard attach`: the inspector's model of a remote deployment, printed in the
//! terminal after watching it for a while (for scripts, CI checks and quick looks).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::connect::ConnectArgs;
use crate::inspect::snapshot::{LinkState, Snapshot};
use crate::remote::profile::{resolve_named, Credentials, Profile, ProfileError};

#[derive(Debug, Parser)]
#[command(
    about = "Watch a remote NATS deployment for a while and print what the inspector sees",
    long_about = None
)]
pub struct AttachCmd {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// A saved profile or NATS CLI context (instead of --server and credentials)
    #[arg(long)]
    pub context: Option<String>,
    /// Monitoring URL(s) of the servers, comma separated (http://host:8222)
    #[arg(long)]
    pub monitor: Option<String>,
    /// System-account user (connections of every server over $SYS)
    #[arg(long)]
    pub system_user: Option<String>,
    #[arg(long)]
    pub system_password: Option<String>,
    /// System-account credentials file
    #[arg(long)]
    pub system_creds: Option<std::path::PathBuf>,
    /// Subject pattern to watch (repeatable; default `>`)
    #[arg(long = "subject")]
    pub subjects: Vec<String>,
    /// How long to watch
    #[arg(long, default_value_t = 3)]
    pub seconds: u64,
}

impl AttachCmd {
    /// The profile these flags describe.
    pub fn profile(&self) -> Result<Profile, ProfileError> {
        let mut profile = match &self.context {
            Some(name) => resolve_named(name)?,
            None => Profile {
                name: self.connect.server.clone(),
                servers: self.connect.server.clone(),
                credentials: Credentials::from_connect_args(&self.connect),
                ..Profile::default()
            },
        };
        if self.monitor.is_some() {
            profile.monitor_url = self.monitor.clone();
        }
        if self.system_user.is_some() || self.system_creds.is_some() {
            profile.system = Some(Credentials {
                user: self.system_user.clone(),
                password: self.system_password.clone(),
                creds: self.system_creds.clone(),
                ..Credentials::default()
            });
        }
        if !self.subjects.is_empty() {
            profile.subjects = self.subjects.clone();
        }
        Ok(profile)
    }
}

/// Runs `switchboard attach ARGS...`.
pub fn run(args: &[String]) -> ExitCode {
    let argv = std::iter::once("switchboard attach".to_string()).chain(args.iter().cloned());
    let cmd = match AttachCmd::try_parse_from(argv) {
        Ok(cmd) => cmd,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let profile = match cmd.profile() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("switchboard attach: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(problem) = profile.problem() {
        eprintln!("switchboard attach: {problem}");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard attach: can't start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut attached = crate::remote::attach(profile, runtime.handle());
    let deadline = Instant::now() + Duration::from_secs(cmd.seconds);
    let mut last = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(s) = attached.feed.latest() {
            last = Some(s);
        }
    }
    let Some(snapshot) = last else {
        eprintln!("switchboard attach: no snapshot was taken");
        return ExitCode::from(1);
    };
    print!("{}", summary(&snapshot));
    drop(attached);
    runtime.shutdown_timeout(Duration::from_secs(1));
    match snapshot.link.as_ref().map(|l| l.state) {
        Some(LinkState::Connected) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// The model as text: link, servers, connections, subjects, latency.
pub fn summary(s: &Snapshot) -> String {
    let mut out = String::new();
    if let Some(link) = &s.link {
        out.push_str(&format!("link: {} {}\n", link.state.label(), link.detail));
        out.push_str(&format!("inventory: {}\n", link.inventory));
    }
    out.push_str(&format!("servers: {}\n", s.servers.len()));
    for v in &s.servers {
        out.push_str(&format!(
            "  {}{} {} {} connections={} {}\n",
            v.name,
            if v.attached { " (attached)" } else { "" },
            v.version,
            v.url.as_deref().unwrap_or("unknown"),
            v.connections
                .map_or_else(|| "unknown".to_string(), |n| n.to_string()),
            if v.reachable {
                "reachable"
            } else {
                "unreachable"
            },
        ));
    }
    out.push_str(&format!(
        "connections: {}  subscriptions: {}\n",
        s.connections.len(),
        s.subscriptions
    ));
    out.push_str(&format!("subjects: {}\n", s.subjects.len()));
    for x in &s.subjects {
        out.push_str(&format!(
            "  {} msgs={} bytes={}\n",
            x.subject, x.msgs, x.bytes
        ));
    }
    for l in &s.latency {
        out.push_str(&format!(
            "latency {} requests={} replies={} timeouts={} p50={:?} p99={:?}\n",
            l.subject, l.requests, l.replies, l.timeouts, l.p50, l.p99
        ));
    }
    out
}
