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

use std::fmt::Write as _;

use super::varz::Varz;

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the metrics from a `/varz` snapshot and the uptime in seconds.
pub fn render(v: &Varz, uptime_seconds: f64) -> String {
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
    out
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
