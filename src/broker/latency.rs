//! Service latency tracking, as nats-server does it for a service export with `latency {
//! sampling, subject }`: a sampled request that crosses the import is timed until its first
//! response, and an `io.nats.server.metric.v1.service_latency` event goes to the results
//! subject in the exporting account: status 200 with the service, system and total
//! latencies; 400 for a request without a reply; 503 when no responder took it; 504 when
//! no response came within the export's response threshold; 408 when the requester stopped
//! listening for the reply first.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// The event's type.
pub const SERVICE_LATENCY_TYPE: &str = "io.nats.server.metric.v1.service_latency";

/// An export's `latency` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyConfig {
    /// Where the events go, in the exporting account.
    pub subject: String,
    /// 1 to 100 percent; 0 samples only requests whose tracing headers ask for it.
    pub sampling_percent: u8,
}

/// nats-server's `ClientInfo`, as much of it as a request crossing an import shows, in its
/// field order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A request being timed: who asked, when, and the tracing headers that chose it.
#[derive(Debug, Clone)]
pub struct Tracking {
    pub subject: String,
    pub requestor: ClientInfo,
    /// When the request crossed the import.
    pub at: SystemTime,
    pub header: Option<BTreeMap<String, Vec<String>>>,
}

/// The event, in nats-server's field order.
#[derive(Debug, Serialize)]
struct ServiceLatency<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    status: u16,
    #[serde(rename = "description", skip_serializing_if = "str::is_empty")]
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requestor: Option<&'a ClientInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    responder: Option<&'a ClientInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<&'a BTreeMap<String, Vec<String>>>,
    start: String,
    service: u64,
    system: u64,
    total: u64,
}

fn rfc3339(t: SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What a finished measurement reports.
pub enum Outcome<'a> {
    /// The first response, from `responder`.
    Answered { responder: &'a ClientInfo },
    /// A request without a reply subject.
    BadRequest,
    /// No responder took the request.
    NoResponders,
    /// No response within the threshold.
    Timeout,
    /// The requester stopped listening for the reply before it came.
    InterestLost,
}

/// The event's JSON for `tracking` ending in `outcome` now.
pub fn event(tracking: &Tracking, outcome: Outcome<'_>) -> Vec<u8> {
    let now = SystemTime::now();
    let requestor_rtt = Duration::from_nanos(tracking.requestor.rtt);
    let request_start = tracking
        .at
        .checked_sub(requestor_rtt)
        .unwrap_or(tracking.at);
    let (status, error, responder) = match outcome {
        Outcome::Answered { responder } => (200, "", Some(responder)),
        Outcome::BadRequest => (400, "Bad Request", None),
        Outcome::NoResponders => (503, "Service Unavailable", None),
        Outcome::Timeout => (504, "Service Timeout", None),
        Outcome::InterestLost => (408, "Request Timeout", None),
    };
    let (mut service, mut system, mut total) = (0, 0, 0);
    if let Some(responder) = responder {
        // The round trip through the responder, less its own RTT, is the service's time.
        let round_trip = now.duration_since(tracking.at).unwrap_or_default();
        let responder_rtt = Duration::from_nanos(responder.rtt);
        service = nanos(round_trip.saturating_sub(responder_rtt));
        total = nanos(requestor_rtt + round_trip);
        if responder.rtt > 0 {
            system = nanos(now.elapsed().unwrap_or_default());
            total = total.saturating_add(system);
        }
    }
    let event = ServiceLatency {
        kind: SERVICE_LATENCY_TYPE,
        id: crate::proto::ids::event_id(),
        timestamp: rfc3339(now),
        status,
        error,
        requestor: Some(&tracking.requestor),
        responder,
        header: tracking.header.as_ref(),
        start: rfc3339(request_start),
        service,
        system,
        total,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// Whether to time this request (nats-server's `shouldSample`): by the sampling percentage,
/// else by its tracing headers (Uber, B3, W3C trace context), which then go in the event.
pub fn should_sample(
    config: &LatencyConfig,
    headers: &[u8],
) -> (bool, Option<BTreeMap<String, Vec<String>>>) {
    let percent = i32::from(config.sampling_percent);
    if percent >= 100 {
        return (true, None);
    }
    if percent > 0 && fastrand::i32(0..100) <= percent {
        return (true, None);
    }
    let h = parse_headers(headers);
    if h.is_empty() {
        return (false, None);
    }
    let first = |k: &str| h.get(k).and_then(|v| v.first()).map(String::as_str);
    let pick = |keys: &[&str]| -> BTreeMap<String, Vec<String>> {
        keys.iter()
            .filter_map(|k| h.get(*k).map(|v| ((*k).to_string(), v.clone())))
            .collect()
    };
    if let Some(id) = first("Uber-Trace-Id") {
        let flags = id.split(':').nth(3).filter(|_| id.split(':').count() == 4);
        let sampled = flags
            .filter(|f| !f.is_empty() && f.len() <= 2)
            .and_then(|f| u8::from_str_radix(f, 16).ok())
            .is_some_and(|f| f & 1 == 1);
        if !sampled {
            return (false, None);
        }
        let mut out = pick(&["Uber-Trace-Id"]);
        for (k, v) in &h {
            if k.starts_with("Uberctx-") {
                out.insert(k.clone(), v.clone());
            }
        }
        return (true, Some(out));
    }
    let b3_keys = [
        "X-B3-Sampled",
        "X-B3-Traceid",
        "X-B3-Parentspanid",
        "X-B3-Spanid",
    ];
    match first("X-B3-Sampled") {
        Some("1") => return (true, Some(pick(&b3_keys))),
        Some("0") => return (false, None),
        _ => {}
    }
    if h.contains_key("X-B3-Traceid") {
        return (true, Some(pick(&b3_keys)));
    }
    if let Some(b3) = first("B3") {
        let tokens: Vec<&str> = b3.split('-').collect();
        let denied =
            (tokens.len() > 2 && tokens[2] == "0") || (tokens.len() == 1 && tokens[0] == "0");
        return if denied {
            (false, None)
        } else {
            (true, Some(pick(&["B3"])))
        };
    }
    if let Some(parent) = first("Traceparent") {
        let tokens: Vec<&str> = parent.split('-').collect();
        let sampled = tokens.len() == 4
            && tokens[3].len() == 2
            && u8::from_str_radix(tokens[3], 16).is_ok_and(|f| f & 1 == 1);
        return if sampled {
            (true, Some(pick(&["Traceparent", "Tracestate"])))
        } else {
            (false, None)
        };
    }
    (false, None)
}

/// A header block's fields by canonical name (Go's `CanonicalMIMEHeaderKey`).
fn parse_headers(block: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(text) = std::str::from_utf8(block) else {
        return out;
    };
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        out.entry(canonical(name.trim()))
            .or_default()
            .push(value.trim().to_string());
    }
    out
}

fn canonical(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(percent: u8) -> LatencyConfig {
        LatencyConfig {
            subject: "lat".into(),
            sampling_percent: percent,
        }
    }

    #[test]
    fn sampling_by_percent_and_by_tracing_headers() {
        assert_eq!(should_sample(&config(100), b""), (true, None));
        assert!(!should_sample(&config(0), b"").0);
        let b3 = b"NATS/1.0\r\nx-b3-sampled: 1\r\nX-B3-TraceId: abc\r\n\r\n";
        let (yes, header) = should_sample(&config(0), b3);
        assert!(yes);
        let header = header.unwrap();
        assert_eq!(header["X-B3-Sampled"], ["1"]);
        assert_eq!(header["X-B3-Traceid"], ["abc"]);
        assert!(!should_sample(&config(0), b"NATS/1.0\r\nX-B3-Sampled: 0\r\n\r\n").0);
        let w3c = b"NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";
        assert!(should_sample(&config(0), w3c).0);
        let off = b"NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n\r\n";
        assert!(!should_sample(&config(0), off).0);
        let uber = b"NATS/1.0\r\nUber-Trace-Id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1\r\nUberctx-X: y\r\n\r\n";
        let (yes, header) = should_sample(&config(0), uber);
        assert!(yes);
        assert_eq!(header.unwrap().len(), 2);
    }

    #[test]
    fn events_carry_status_and_latencies() {
        let tracking = Tracking {
            subject: "lat".into(),
            requestor: ClientInfo {
                acc: "B".into(),
                rtt: 1_000,
                ..Default::default()
            },
            at: SystemTime::now() - Duration::from_millis(5),
            header: None,
        };
        let responder = ClientInfo {
            acc: "A".into(),
            rtt: 2_000,
            kind: "Client".into(),
            ..Default::default()
        };
        let ok: serde_json::Value = serde_json::from_slice(&event(
            &tracking,
            Outcome::Answered {
                responder: &responder,
            },
        ))
        .unwrap();
        assert_eq!(ok["type"], SERVICE_LATENCY_TYPE);
        assert_eq!(ok["status"], 200);
        assert!(ok.get("description").is_none());
        assert_eq!(ok["requestor"]["acc"], "B");
        assert_eq!(ok["responder"]["acc"], "A");
        let service = ok["service"].as_u64().unwrap();
        assert!(service >= 4_000_000, "{ok}");
        assert!(ok["total"].as_u64().unwrap() >= service + 1_000, "{ok}");
        let timeout: serde_json::Value =
            serde_json::from_slice(&event(&tracking, Outcome::Timeout)).unwrap();
        assert_eq!(timeout["status"], 504);
        assert_eq!(timeout["description"], "Service Timeout");
        assert!(timeout.get("responder").is_none());
        assert_eq!(timeout["service"], 0);
    }
}
