//! The endpoints for features this broker does not have (routes, gateways),
//! answered as nats-server answers them when the feature is off, plus `/healthz`.
//! `/accountz` is in `accountz.rs`, `/jsz` in `jsz.rs`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::format::GoTime;
use crate::broker::server::Server;

#[derive(Debug, Clone, Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    pub now: GoTime,
    pub num_routes: usize,
    pub routes: Vec<()>,
}

pub fn routez(server: &Server, now: SystemTime) -> Routez {
    Routez {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        now: GoTime(now),
        num_routes: 0,
        routes: Vec::new(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Gatewayz {
    pub server_id: String,
    pub now: GoTime,
    pub outbound_gateways: BTreeMap<String, ()>,
    pub inbound_gateways: BTreeMap<String, ()>,
}

pub fn gatewayz(server: &Server, now: SystemTime) -> Gatewayz {
    Gatewayz {
        server_id: server.id.clone(),
        now: GoTime(now),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    }
}

pub use super::leafz::Leafz;

/// `/leafz` without options (the system account's `LEAFZ` requests ignore theirs).
pub fn leafz(server: &Server, now: SystemTime) -> Leafz {
    super::leafz::leafz(server, &super::leafz::LeafzOptions::default(), now)
}

/// nats-server's `HealthStatus`. Over HTTP the code is the response's status; the system
/// account's `HEALTHZ` answer carries it in the body.
#[derive(Debug, Clone, Serialize)]
pub struct Healthz {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// A healthy server; `with_code` adds `status_code` (the system account's answer).
pub fn healthz(with_code: bool) -> Healthz {
    Healthz {
        status: "ok",
        status_code: with_code.then_some(200),
    }
}

/// The endpoints the index page lists: path and what it shows.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("/varz", "Server overview"),
    ("/connz", "Client connections"),
    ("/subsz", "Subscriptions"),
    ("/accountz", "Accounts"),
    ("/routez", "Routes"),
    ("/gatewayz", "Gateways"),
    ("/leafz", "Leaf nodes"),
    ("/jsz", "JetStream"),
    ("/healthz", "Health check"),
    ("/metrics", "Prometheus metrics"),
];

/// The HTML index page at `/`.
pub fn index_html(version: &str) -> String {
    let mut links = String::new();
    for (path, label) in ENDPOINTS {
        links.push_str(&format!(
            "    <li><a href=\".{path}\">{label}</a> <code>{path}</code></li>\n"
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <title>switchboard monitoring</title>\n  <style>\n    body {{ font-family: \
         system-ui, sans-serif; margin: 2rem; color: #223 }}\n    li {{ margin: 0.4rem 0 \
         }}\n    a {{ color: #2a4cc8; text-decoration: none; font-weight: 600 }}\n    code {{ \
         color: #889 }}\n  </style>\n</head>\n<body>\n  <h1>switchboard</h1>\n  <p>NATS \
         {version}-compatible broker. Monitoring endpoints:</p>\n  <ul>\n{links}  </ul>\n\
         </body>\n</html>\n"
    )
}
