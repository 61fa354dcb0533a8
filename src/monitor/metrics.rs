//! `/metrics`: the `/varz` counters in Prometheus' text exposition format (0.0.4).
//!
//! Names are prefixed `switchboard_` and follow Prometheus conventions: counters end in
//! `_total`, sizes are in bytes and times in seconds. Gauges: `switchboard_connections`,
//! `switchboard_subscriptions`, `switchboard_memory_resident_bytes`,
//! `switchboard_uptime_seconds`, `switchboard_cpu_percent`, `switchboard_info` (value 1,
//! labels `server_id`, `server_name`, `version`). Counters: `switchboard_connections_total`,
//! `switchboard_in_messages_total`, `switchboard_out_messages_total`,
//! `switchboard_in_bytes_total`, `switchboard_out_bytes_total`,
//! `switchboard_slow_consumers_total`, `switchboard_stale_connections_total`.
//!
//! With JetStream (from `/jsz`), gauges `switchboard_jetstream_memory_bytes`,
//! `switchboard_jetstream_storage_bytes`, `switchboard_jetstream_reserved_memory_bytes`,
//! `switchboard_jetstream_reserved_storage_bytes`, `switchboard_jetstream_max_memory_bytes`,
//! `switchboard_jetstream_max_storage_bytes`, `switchboard_jetstream_accounts`,
//! `switchboard_jetstream_streams`, `switchboard_jetstream_messages`,
//! `switchboard_jetstream_bytes`, and counters `switchboard_jetstream_api_requests_total`,
//! `switchboard_jetstream_api_errors_total`; without it, none of them.

use std::fmt::Write as _;

use super::jsz::Jsz;
use super::varz::Varz;

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the metrics from a `/varz` snapshot, the uptime in seconds and, when JetStream
/// runs, its `/jsz`.
pub fn render(v: &Varz, uptime_seconds: f64, js: Option<&Jsz>) -> String {
    let mut out = String::with_capacity(2048);
    let _ = writeln!(
        out,
        "# HELP switchboard_info Server identity; the value is always 1.\n\
         # TYPE switchboard_info gauge\n\
         switchboard_info{{server_id=\"{}\",server_name=\"{}\",version=\"{}\"}} 1",
        label(&v.server_id),
        label(&v.server_name),
        label(&v.version)
    );
    let gauges: [(&str, &str, f64); 5] = [
        (
            "connections",
            "Client connections open now.",
            v.connections as f64,
        ),
        (
            "subscriptions",
            "Subscriptions registered now.",
            v.subscriptions as f64,
        ),
        (
            "memory_resident_bytes",
            "Resident memory of the process.",
            v.mem as f64,
        ),
        (
            "uptime_seconds",
            "Seconds since the server started.",
            uptime_seconds,
        ),
        ("cpu_percent", "CPU use in percent of one core.", v.cpu),
    ];
    for (name, help, value) in gauges {
        metric(&mut out, name, help, "gauge", value);
    }
    let counters: [(&str, &str, u64); 7] = [
        (
            "connections_total",
            "Client connections accepted since start.",
            v.total_connections,
        ),
        (
            "in_messages_total",
            "Messages received from clients.",
            v.in_msgs,
        ),
        (
            "out_messages_total",
            "Messages delivered to clients.",
            v.out_msgs,
        ),
        (
            "in_bytes_total",
            "Payload bytes received from clients.",
            v.in_bytes,
        ),
        ("out_bytes_total", "Bytes written to clients.", v.out_bytes),
        (
            "slow_consumers_total",
            "Connections closed as slow consumers.",
            v.slow_consumers,
        ),
        (
            "stale_connections_total",
            "Connections closed as stale.",
            v.stale_connections,
        ),
    ];
    for (name, help, value) in counters {
        metric(&mut out, name, help, "counter", value as f64);
    }
    if let Some(js) = js {
        jetstream(&mut out, js);
    }
    out
}

fn jetstream(out: &mut String, js: &Jsz) {
    let s = &js.stats;
    let gauges: [(&str, &str, f64); 10] = [
        (
            "jetstream_memory_bytes",
            "Bytes stored in memory streams.",
            s.memory as f64,
        ),
        (
            "jetstream_storage_bytes",
            "Bytes stored in file streams.",
            s.storage as f64,
        ),
        (
            "jetstream_reserved_memory_bytes",
            "Bytes reserved by memory streams' max_bytes.",
            s.reserved_memory as f64,
        ),
        (
            "jetstream_reserved_storage_bytes",
            "Bytes reserved by file streams' max_bytes.",
            s.reserved_storage as f64,
        ),
        (
            "jetstream_max_memory_bytes",
            "Bytes all memory streams may hold.",
            js.config.max_memory as f64,
        ),
        (
            "jetstream_max_storage_bytes",
            "Bytes all file streams may hold.",
            js.config.max_storage as f64,
        ),
        (
            "jetstream_accounts",
            "Accounts with JetStream.",
            s.accounts as f64,
        ),
        ("jetstream_streams", "Streams.", js.streams as f64),
        (
            "jetstream_messages",
            "Messages stored in streams.",
            js.messages as f64,
        ),
        (
            "jetstream_bytes",
            "Bytes of the messages stored in streams.",
            js.bytes as f64,
        ),
    ];
    for (name, help, value) in gauges {
        metric(out, name, help, "gauge", value);
    }
    metric(
        out,
        "jetstream_api_requests_total",
        "JetStream API requests answered.",
        "counter",
        s.api.total as f64,
    );
    metric(
        out,
        "jetstream_api_errors_total",
        "JetStream API requests answered with an error.",
        "counter",
        s.api.errors as f64,
    );
}

fn metric(out: &mut String, name: &str, help: &str, kind: &str, value: f64) {
    let _ = writeln!(out, "# HELP switchboard_{name} {help}");
    let _ = writeln!(out, "# TYPE switchboard_{name} {kind}");
    let _ = writeln!(out, "switchboard_{name} {value}");
}

/// Escapes a label value (backslash, quote, newline).
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
