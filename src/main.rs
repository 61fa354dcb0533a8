//! Command-line entry: reads the command line (`switchboard::cli::command`) and hands it to
//! the runner or a terminal command.
//!
//! `switchboard serve [nats-server flags]` runs the headless broker; started under the name
//! `nats-server` the program behaves exactly as `switchboard serve`. With no subcommand it
//! runs the app: the broker and the inspector window (headless when there is no display).

use std::path::Path;
use std::process::ExitCode;

use switchboard::cli::command::{self, Command, Mode, ServerCommand, RECORD_COMMANDS};
use switchboard::cli::{self, help, Launch};
use switchboard::runner;
use switchboard::terminal;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    let invoked_as = Path::new(&program)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match command::parse(&invoked_as, rest) {
        Command::Server(server) => {
            let ServerCommand {
                mode,
                launch,
                args,
                extras,
                record,
            } = *server;
            match launch {
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    if e.is_usage_error() {
                        eprintln!("{}", usage_of(mode));
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
                Ok(Launch::Signal(request)) => runner::signals::send(&request),
                Ok(Launch::Run(plan)) => match mode {
                    Mode::App => runner::app(plan, args, extras, record),
                    Mode::Serve | Mode::NatsServer => runner::serve(plan, args, extras, record),
                },
            }
        }
        Command::Record { command, args } => terminal::record::run(&command, &args),
        Command::Attach(args) => terminal::attach::run(&args),
        Command::Help(command) => print_help(command.as_deref()),
        Command::Version => {
            println!("{}", help::version());
            ExitCode::SUCCESS
        }
        Command::Unknown(message) => {
            eprintln!("switchboard: {message}\n\n{}", help::overview());
            ExitCode::from(1)
        }
        Command::Invalid(e) => {
            eprintln!("switchboard: {e}");
            ExitCode::from(1)
        }
    }
}

/// The usage text printed after a flag error.
fn usage_of(mode: Mode) -> String {
    match mode {
        Mode::NatsServer => cli::usage(),
        Mode::Serve => help::serve(),
        Mode::App => help::overview(),
    }
}

/// `switchboard help [COMMAND]`.
fn print_help(command: Option<&str>) -> ExitCode {
    match command {
        None | Some("help") | Some("version") => print!("{}", help::overview()),
        Some("serve") | Some("run") => print!("{}", help::serve()),
        Some(cmd) if RECORD_COMMANDS.contains(&cmd) => {
            return terminal::record::run(cmd, &["--help".to_string()]);
        }
        Some("attach") => return terminal::attach::run(&["--help".to_string()]),
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
