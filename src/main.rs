//! Command-line entry: argument dispatch only.
//!
//! `switchboard serve [nats-server flags]` runs the headless broker; started under the name
//! `nats-server` the program behaves exactly as `switchboard serve`. With no subcommand it
//! runs the app: the broker and the inspector window (headless when there is no display).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use switchboard::cli::{self, help, Launch};
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
        (Mode::NatsServer, rest)
    } else {
        match rest.first().map(String::as_str) {
            Some("serve") | Some("run") => (Mode::Serve, rest[1..].to_vec()),
            Some("help") => return print_help(rest.get(1).map(String::as_str)),
            // Record and replay (src/record/cli.rs).
            Some(cmd) if switchboard::record::cli::COMMANDS.contains(&cmd) => {
                return switchboard::record::cli::run(cmd, &rest[1..]);
            }
            // The inspector's model of a remote deployment, in the terminal (src/remote/cli.rs).
            Some("attach") => return switchboard::remote::cli::run(&rest[1..]),
            Some("version") => {
                println!("{}", help::version());
                return ExitCode::SUCCESS;
            }
            Some(other) if !other.starts_with('-') => {
                eprintln!(
                    "switchboard: unknown command {other:?}\n\n{}",
                    help::overview()
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

/// The window with its broker, or the broker alone (asked for by `serve`, or by the name
/// `nats-server`, which also makes `--help` and `--version` print nats-server's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    App,
    Serve,
    NatsServer,
}

fn lossy(arg: OsString) -> String {
    arg.to_string_lossy().into_owned()
}

/// `switchboard help [COMMAND]`.
fn print_help(command: Option<&str>) -> ExitCode {
    match command {
        None | Some("help") | Some("version") => print!("{}", help::overview()),
        Some("serve") | Some("run") => print!("{}", help::serve()),
        Some(cmd) if switchboard::record::cli::COMMANDS.contains(&cmd) => {
            return switchboard::record::cli::run(cmd, &["--help".to_string()]);
        }
        Some(other) => {
            eprintln!(
                "switchboard: unknown command {other:?}\n\n{}",
                help::overview()
            );
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
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
                match mode {
                    Mode::NatsServer => eprintln!("{}", cli::usage()),
                    Mode::Serve => eprintln!("{}", help::serve()),
                    Mode::App => eprintln!("{}", help::overview()),
                }
            }
            ExitCode::from(1)
        }
        Ok(Launch::Version) => {
            match mode {
                Mode::NatsServer => println!("{}", help::nats_server_version()),
                Mode::App | Mode::Serve => println!("{}", help::version()),
            }
            ExitCode::SUCCESS
        }
        Ok(Launch::Help(text)) => {
            // `--help` asks for the option list; other help (`--help_tls`) is printed as is.
            let flag_list = text == cli::usage();
            match mode {
                Mode::App if flag_list => print!("{}", help::overview()),
                Mode::Serve if flag_list => print!("{}", help::serve()),
                _ => print!("{text}"),
            }
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
            Mode::Serve | Mode::NatsServer => runner::serve(plan, args_for_reload, extras, record),
        },
    }
}
