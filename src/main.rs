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
            // Record and replay (src/record/cli.rs).
            Some(cmd) if switchboard::record::cli::COMMANDS.contains(&cmd) => {
                return switchboard::record::cli::run(cmd, &rest[1..]);
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
    launch(server_args)
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
         switchboard serve --record FILE [--record-subject PATTERN]...\n  \
         switchboard record | replay | export | import | info ...   (--help on each)\n  \
         switchboard version | help\n\n\
         FLAGS are nats-server's; `switchboard serve --help` lists them.\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn launch(args: Vec<String>) -> ExitCode {
    let (record, args) = match switchboard::record::cli::split_serve_args(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(1);
        }
    };
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
        Ok(Launch::Run(plan)) => serve(plan, record),
    }
}

fn serve(plan: RunPlan, record: switchboard::record::cli::ServeRecordArgs) -> ExitCode {
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
        let recording = match switchboard::record::cli::start_serve_recording(&server, &record) {
            Ok(recording) => recording,
            Err(e) => {
                log_fatal!("{}", e);
                eprintln!("switchboard: {e}");
                handle.shutdown().await;
                return ExitCode::from(1);
            }
        };
        log_info!("Server is ready");
        switchboard::signals::wait_for_stop().await;
        log_info!("Initiating Shutdown...");
        if let Some(monitor) = monitor {
            monitor.shutdown().await;
        }
        handle.shutdown().await;
        switchboard::record::cli::stop_serve_recording(recording).await;
        log_info!("Server Exiting..");
        ExitCode::SUCCESS
    })
}
