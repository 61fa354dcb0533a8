//! Command-line entry: argument dispatch only.
//!
//! `switchboard serve [nats-server flags]` runs the headless broker; started under the name
//! `nats-server` the program behaves exactly as `switchboard serve`. With no subcommand it
//! runs the app (the broker; the desktop inspector joins it when the GUI lands).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use switchboard::cli::{self, Launch, RunPlan};
use switchboard::{log_error, log_fatal, log_info, log_warn, logging};

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let rest: Vec<String> = args.map(lossy).collect();
    let invoked_as = Path::new(&program)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let server_args = if invoked_as == "nats-server" {
        rest
    } else {
        match rest.first().map(String::as_str) {
            Some("serve") | Some("run") => rest[1..].to_vec(),
            Some("help") => {
                print!("{}", top_level_help());
                return ExitCode::SUCCESS;
            }
            Some("version") => {
                println!("switchboard {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Some(other) if !other.starts_with('-') => {
                eprintln!(
                    "switchboard: unknown command {other:?}\n\n{}",
                    top_level_help()
                );
                return ExitCode::from(1);
            }
            // No subcommand: the app, which takes the same flags as `serve`.
            _ => rest,
        }
    };
    let (extras, server_args) = Extras::split(server_args);
    launch(server_args, extras)
}

/// switchboard's own flags, next to nats-server's: taken out before the rest is parsed as
/// nats-server's command line.
#[derive(Debug, Clone, Copy, Default)]
struct Extras {
    /// `--demo`: start in-process clients that show every messaging pattern.
    demo: bool,
    /// `--inspect`: run the inspection tap as if the window were open (sampling, latency
    /// tracking, snapshots), to measure what it costs.
    inspect: bool,
}

impl Extras {
    fn split(args: Vec<String>) -> (Extras, Vec<String>) {
        let mut extras = Extras::default();
        let rest = args
            .into_iter()
            .filter(|arg| match arg.as_str() {
                "--demo" => {
                    extras.demo = true;
                    false
                }
                "--inspect" => {
                    extras.inspect = true;
                    false
                }
                _ => true,
            })
            .collect();
        (extras, rest)
    }
}

fn lossy(arg: OsString) -> String {
    arg.to_string_lossy().into_owned()
}

fn top_level_help() -> String {
    format!(
        "switchboard {} - a NATS broker with a live inspector\n\n\
         Usage:\n  \
         switchboard [FLAGS]          run the app (broker on 127.0.0.1:4222)\n  \
         switchboard serve [FLAGS]    run the headless broker\n  \
         nats-server [FLAGS]          (when installed under that name) same as serve\n  \
         switchboard version | help\n\n\
         FLAGS are nats-server's; `switchboard serve --help` lists them.\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn launch(args: Vec<String>, extras: Extras) -> ExitCode {
    let args_for_reload = args.clone();
    match cli::parse_server_args(args) {
        Err(e) => {
            eprintln!("switchboard: {e}");
            if e.is_usage_error() {
                eprintln!("{}", cli::usage());
            }
            ExitCode::from(1)
        }
        Ok(Launch::Version) => {
            println!(
                "nats-server: v{} (switchboard {})",
                switchboard::proto::info::NATS_COMPAT_VERSION,
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Ok(Launch::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Launch::TestConfig(plan)) => {
            for warning in &plan.warnings {
                eprintln!("warning: {warning}");
            }
            let file = plan
                .config_file
                .as_ref()
                .map_or_else(|| "<none>".to_string(), |p| p.display().to_string());
            println!("switchboard: configuration file {file} test is successful");
            ExitCode::SUCCESS
        }
        Ok(Launch::Signal(request)) => switchboard::signals::send(&request),
        Ok(Launch::Run(plan)) => serve(plan, args_for_reload, extras),
    }
}

/// `--inspect`: everything the window would switch on, consumed by a task that keeps only
/// the newest snapshot, as the window does.
fn start_headless_inspection(
    server: &std::sync::Arc<switchboard::broker::Server>,
    monitor: &Option<switchboard::monitor::MonitorHandle>,
) -> tokio::task::JoinHandle<()> {
    let monitor_url = monitor
        .as_ref()
        .map(|m| format!("http://{}", m.local_addr()));
    let attached = switchboard::inspect::embedded::attach(server.clone(), monitor_url);
    tokio::spawn(async move {
        let Some((mut feed, control)) = attached else {
            return;
        };
        control.set_sampling(true);
        control.set_latency_tracking(true);
        log_info!("Inspection on: subject stats, message samples, latency tracking");
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(16));
        loop {
            ticker.tick().await;
            let _ = feed.latest();
            let _ = feed.drain_samples(10_000);
        }
    })
}

/// SIGHUP: reads the configuration again (same flags and file). Logging levels change at
/// once; any other setting needs a restart, and the log says which.
fn reload(args: &[String], running: &switchboard::broker::Options) {
    let plan = match cli::parse_server_args(args.to_vec()) {
        Ok(Launch::Run(plan)) => plan,
        Ok(_) => return,
        Err(e) => {
            log_error!("Failed to reload server configuration: {}", e);
            return;
        }
    };
    let fresh = plan.options;
    let logging = &fresh.logging;
    if let Err(e) = logging::configure(
        logging.debug,
        logging.trace,
        logging.time,
        logging.file.as_deref(),
    ) {
        log_error!("Failed to reload server configuration: {}", e);
        return;
    }
    let mut same_apart_from_logging = fresh.clone();
    same_apart_from_logging.logging = running.logging.clone();
    if &same_apart_from_logging != running {
        log_warn!("Configuration changes other than logging take effect after a restart");
    }
    log_info!("Reloaded server configuration");
}

fn serve(plan: RunPlan, args: Vec<String>, extras: Extras) -> ExitCode {
    let opts = plan.options;
    if let Err(e) = logging::configure(
        opts.logging.debug,
        opts.logging.trace,
        opts.logging.time,
        opts.logging.file.as_deref(),
    ) {
        eprintln!("switchboard: can't open log file: {e}");
        return ExitCode::from(1);
    }
    // Like Go programs (nats-server among them), take the hard limit of open files as our
    // soft one: each client is a file descriptor.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        log_warn!("could not raise the open-file limit: {}", e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log_fatal!("can't start the runtime: {}", e);
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        log_info!(
            "Starting switchboard {} (nats-server {} compatible)",
            env!("CARGO_PKG_VERSION"),
            switchboard::proto::info::NATS_COMPAT_VERSION
        );
        for warning in &plan.warnings {
            log_warn!("{}", warning);
        }
        if let Some(path) = &plan.config_file {
            log_info!("Using configuration file: {}", path.display());
        }
        let signals = switchboard::signals::Signals::install();
        let pid_file = opts.pid_file.clone();
        let handle = match switchboard::broker::BrokerHandle::start(opts).await {
            Ok(handle) => handle,
            Err(e) => {
                log_fatal!("{}", e);
                eprintln!("switchboard: {e}");
                return ExitCode::from(1);
            }
        };
        let server = handle.server().clone();
        log_info!("  Version:  {}", env!("CARGO_PKG_VERSION"));
        log_info!("  Name:     {}", server.name);
        log_info!("  ID:       {}", server.id);
        if let Some(path) = &pid_file {
            if let Err(e) = std::fs::write(path, std::process::id().to_string()) {
                log_error!("Could not write pidfile: {}", e);
            }
        }
        let monitor = match server.opts.http_port {
            Some(port) => {
                let host = server
                    .opts
                    .http_host
                    .clone()
                    .unwrap_or_else(|| server.opts.host.clone());
                match switchboard::monitor::start_http(server.clone(), &host, port).await {
                    Ok(monitor) => {
                        log_info!("Starting http monitor on {}", monitor.local_addr());
                        Some(monitor)
                    }
                    Err(e) => {
                        log_fatal!("{}", e);
                        eprintln!("switchboard: {e}");
                        handle.shutdown().await;
                        return ExitCode::from(1);
                    }
                }
            }
            None => None,
        };
        log_info!(
            "Listening for client connections on {}",
            handle.local_addr()
        );
        log_info!("Server is ready");
        let inspection = extras
            .inspect
            .then(|| start_headless_inspection(&server, &monitor));
        let demo = if extras.demo {
            let url = format!("nats://{}", handle.local_addr());
            match switchboard::demo::Demo::start(&url).await {
                Ok(demo) => {
                    log_info!("Demo traffic started (clients named demo-*, subjects demo.>)");
                    Some(demo)
                }
                Err(e) => {
                    log_error!("{}", e);
                    None
                }
            }
        } else {
            None
        };
        let running = server.opts.clone();
        signals
            .serve_until_stopped(&handle, || reload(&args, &running))
            .await;
        log_info!("Initiating Shutdown...");
        if let Some(demo) = demo {
            demo.stop().await;
        }
        if let Some(task) = inspection {
            task.abort();
        }
        if let Some(monitor) = monitor {
            monitor.shutdown().await;
        }
        handle.shutdown().await;
        log_info!("Server Exiting..");
        ExitCode::SUCCESS
    })
}
