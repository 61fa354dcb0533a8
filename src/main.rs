//! Command-line entry: argument dispatch only.
//!
//! `switchboard serve [nats-server flags]` runs the headless broker; started under the name
//! `nats-server` the program behaves exactly as `switchboard serve`. With no subcommand it
//! runs the app: the broker and the inspector window (headless when there is no display).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use switchboard::cli::{self, Launch};
use switchboard::runner::{self, Extras};

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let rest: Vec<String> = args.map(lossy).collect();
    let invoked_as = Path::new(&program)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mode, server_args) = if invoked_as == "nats-server" {
        (Mode::Serve, rest)
    } else {
        match rest.first().map(String::as_str) {
            Some("serve") | Some("run") => (Mode::Serve, rest[1..].to_vec()),
            Some("help") => {
                print!("{}", top_level_help());
                return ExitCode::SUCCESS;
            }
            // Record and replay (src/record/cli.rs).
            Some(cmd) if switchboard::record::cli::COMMANDS.contains(&cmd) => {
                return switchboard::record::cli::run(cmd, &rest[1..]);
            }
            // The inspector's model of a remote deployment, in the terminal (src/remote/cli.rs).
            Some("attach") => return switchboard::remote::cli::run(&rest[1..]),
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
            _ => (Mode::App, rest),
        }
    };
    let (extras, server_args) = Extras::split(server_args);
    launch(server_args, extras, mode)
}

/// The window with its broker, or the broker alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    App,
    Serve,
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
         switchboard --attach URL[,URL]   the window on a remote NATS deployment\n  \
         switchboard --context NAME       the same with a saved profile or NATS CLI context\n  \
         switchboard attach --server URL [--context NAME] [--seconds N]   the model, printed\n  \
         switchboard record | replay | export | import | info ...   (--help on each)\n  \
         switchboard version | help\n\n\
         FLAGS are nats-server's; `switchboard serve --help` lists them.\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn launch(args: Vec<String>, extras: Extras, mode: Mode) -> ExitCode {
    let (record, args) = match switchboard::record::cli::split_serve_args(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(1);
        }
    };
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
        Ok(Launch::Run(plan)) => match mode {
            Mode::App => runner::app(plan, args_for_reload, extras, record),
            Mode::Serve => runner::serve(plan, args_for_reload, extras, record),
        },
    }
}
