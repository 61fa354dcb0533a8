//! The endpoints for features this broker does not have (routes, gateways, leaf nodes,
//! JetStream), answered as nats-server answers them when the feature is off, plus
//! `/accountz` and `/healthz`.

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

#[derive(Debug, Clone, Serialize)]
pub struct Leafz {
    pub server_id: String,
    pub now: GoTime,
    pub leafnodes: usize,
    pub leafs: Vec<()>,
}

pub fn leafz(server: &Server, now: SystemTime) -> Leafz {
    Leafz {
        server_id: server.id.clone(),
        now: GoTime(now),
        leafnodes: 0,
        leafs: Vec::new(),
    }
}

/// `/accountz`: the account names. There is no system account here.
#[derive(Debug, Clone, Serialize)]
pub struct Accountz {
    pub server_id: String,
    pub now: GoTime,
    pub accounts: Vec<String>,
}

pub fn accountz(server: &Server, now: SystemTime) -> Accountz {
    Accountz {
        server_id: server.id.clone(),
        now: GoTime(now),
        accounts: server.accounts().iter().map(|a| a.name.clone()).collect(),
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct JsApi {
    pub level: u64,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct JsConfig {
    pub max_memory: u64,
    pub max_storage: u64,
}

/// `/jsz` of a server without JetStream (`"disabled": true`, everything zero).
#[derive(Debug, Clone, Serialize)]
pub struct Jsz {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: u64,
    pub ha_assets: u64,
    pub api: JsApi,
    pub server_id: String,
    pub now: GoTime,
    pub disabled: bool,
    pub config: JsConfig,
    pub streams: u64,
    pub consumers: u64,
    pub messages: u64,
    pub bytes: u64,
    pub total: u64,
}

pub fn jsz(server: &Server, now: SystemTime) -> Jsz {
    Jsz {
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: JsApi::default(),
        server_id: server.id.clone(),
        now: GoTime(now),
        disabled: true,
        config: JsConfig::default(),
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        total: 0,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Healthz {
    pub status: &'static str,
}

pub fn healthz() -> Healthz {
    Healthz { status: "ok" }
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
