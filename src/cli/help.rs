//! What `switchboard --help`, `switchboard serve --help` and `--version` print.
//!
//! Started as `nats-server`, the program prints nats-server's texts instead ([`super::usage`],
//! [`nats_server_version`]), since scripts and test harnesses read them.

use crate::proto::info::NATS_COMPAT_VERSION;

/// switchboard's version, with the nats-server release whose protocol it speaks.
pub fn version() -> String {
    format!(
        "switchboard {} (NATS protocol of nats-server {NATS_COMPAT_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The version line as nats-server prints it (`nats-server: v2.15.1`), with switchboard's own.
pub fn nats_server_version() -> String {
    format!(
        "nats-server: v{NATS_COMPAT_VERSION} (switchboard {})",
        env!("CARGO_PKG_VERSION")
    )
}

/// `switchboard --help`: what the program is, its commands, the options most runs need, and
/// where the rest are listed.
pub fn overview() -> String {
    format!(
        "\
switchboard {version}
A NATS broker with a live desktop inspector of everything that crosses it.

Usage:
  switchboard [OPTIONS]            Open the inspector window with its broker
  switchboard serve [OPTIONS]      Run the broker headless (as nats-server does)
  switchboard record [OPTIONS]     Record a NATS server's traffic as a client
  switchboard replay FILE          Replay a recording into a NATS server, with its timing
  switchboard info FILE            Summarize a recording
  switchboard export FILE          Write a recording's messages as NDJSON
  switchboard import FILE          Make a recording from NDJSON
  switchboard attach --server URL  Print the inspector's model of a remote NATS deployment
  switchboard help [COMMAND]       This text, or a command's options
  switchboard version              The version

Common options (the window and serve):
  -a, --addr <host>            Listen address (default: 127.0.0.1; 0.0.0.0 exposes the broker)
  -p, --port <port>            Client port (default: 4222; -1 picks a free port)
  -c, --config <file>          nats-server configuration file (flags override it)
  -m, --http_port <port>       Monitoring endpoints (/varz, /connz, /metrics, ...)
  -l, --log <file>             Log to this file
  -D, -V, -DV                  Debug output, protocol trace, both
      --user, --pass, --auth   Authentication; --tls... flags for TLS
      --demo                   Start in-process clients that show every messaging pattern
      --record <file>          Record the broker's traffic (--record-subject <pattern> to pick)
      --inspect                (serve) Run the inspection tap as if the window were open
      --attach <url[,url]>     Open the window on a remote NATS deployment (no broker)
      --context <name>         The same with a saved profile or a NATS CLI context
  -h, --help                   This text
  -v, --version                The version

`switchboard serve --help` lists every nats-server option; `switchboard COMMAND --help` shows
a command's options. Installed or linked under the name `nats-server`, switchboard behaves as
`switchboard serve`. Without a display the window's broker runs headless.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// `switchboard serve --help`: nats-server's option list under switchboard's usage line.
pub fn serve() -> String {
    let flags = super::usage();
    // nats-server's first line names nats-server; the rest is the option list.
    let options = flags
        .split_once('\n')
        .map_or(flags.as_str(), |(_, rest)| rest);
    format!(
        "\
Usage: switchboard serve [options]

Runs the broker headless. The options are nats-server's, with its defaults except the
listen address (127.0.0.1). switchboard's own:
        --busy_poll <duration>       Keep polling up to this long after traffic before
                                     parking a thread (default 100us; 0 turns it off)
        --demo                       Start in-process clients that show every messaging pattern
        --inspect                    Run the inspection tap as if the window were open
        --record <file>              Record the broker's traffic to a file
        --record-subject <pattern>   Record only matching subjects (repeatable)
{options}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_names_every_command() {
        let text = overview();
        for command in crate::cli::command::RECORD_COMMANDS
            .iter()
            .chain(&["serve", "help", "version"])
        {
            assert!(
                text.contains(&format!("switchboard {command} ")),
                "{command} missing:\n{text}"
            );
        }
        assert!(text.contains("switchboard serve --help"));
        assert!(text.contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn serve_help_keeps_the_option_list_under_its_own_usage_line() {
        let text = serve();
        assert!(
            text.starts_with("Usage: switchboard serve [options]\n"),
            "{text}"
        );
        assert!(!text.contains("Usage: nats-server"), "{text}");
        assert!(text.contains("--http_port"));
        assert!(text.contains("--record-subject"));
    }

    #[test]
    fn versions() {
        assert!(version().starts_with(&format!("switchboard {}", env!("CARGO_PKG_VERSION"))));
        assert!(nats_server_version().starts_with(&format!("nats-server: v{NATS_COMPAT_VERSION}")));
    }

    #[test]
    fn lines_fit_a_terminal() {
        for text in [overview(), serve()] {
            for line in text.lines() {
                assert!(line.chars().count() <= 100, "too long: {line:?}");
            }
        }
    }
}
