//! `/accountz`: the accounts and which is the system account, or with `acc=NAME` the one
//! account's details (nats-server's `AccountInfo`).
//!
//! Accounts here are configured in the file, so an account's `update_time` is the server's
//! start and `expired`/`complete` never change. Exports, imports and mappings are not listed
//! yet (nats-server omits them when empty).

use std::time::SystemTime;

use serde::Serialize;

use super::format::{go_float, GoTime};
use crate::broker::account::Account;
use crate::broker::server::Server;
use crate::jetstream::JetStream;

#[derive(Debug, Clone, Serialize)]
pub struct Accountz {
    pub server_id: String,
    pub now: GoTime,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo`, as far as a configured account has it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub account_name: String,
    pub update_time: GoTime,
    #[serde(skip_serializing_if = "is_false")]
    pub is_system: bool,
    pub expired: bool,
    pub complete: bool,
    pub jetstream_enabled: bool,
    pub leafnode_connections: usize,
    pub client_connections: usize,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    pub sublist_stats: SublistStats,
}

/// nats-server's `SublistStats`. There is no shared match cache here (each connection
/// caches its own results), so the cache and fan-out figures are zero.
#[derive(Debug, Clone, Serialize)]
pub struct SublistStats {
    pub num_subscriptions: usize,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    #[serde(serialize_with = "go_float")]
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    pub avg_fanout: f64,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// `/accountz`, or with `account` non-empty that account's details; `Err` is nats-server's
/// text for an unknown account.
pub fn accountz(server: &Server, account: &str, now: SystemTime) -> Result<Accountz, String> {
    let mut out = Accountz {
        server_id: server.id.clone(),
        now: GoTime(now),
        system_account: system_account_name(server),
        accounts: Vec::new(),
        account_detail: None,
    };
    if account.is_empty() {
        out.accounts = server.accounts().iter().map(|a| a.name.clone()).collect();
    } else {
        out.account_detail = Some(account_info(server, account)?);
    }
    Ok(out)
}

/// The system account's name, or "" when there is none (`no_system_account`).
pub fn system_account_name(server: &Server) -> String {
    server
        .system_account()
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

/// The account `name` would bind a client to (the global account is `$G`).
pub fn find_account(server: &Server, name: &str) -> Option<std::sync::Arc<Account>> {
    if name == server.global_account().name {
        return Some(server.global_account().clone());
    }
    server.account(name)
}

/// One account's details (nats-server's `accountInfo`).
pub fn account_info(server: &Server, name: &str) -> Result<AccountInfo, String> {
    let account =
        find_account(server, name).ok_or_else(|| format!("Account {name} does not exist"))?;
    let stats = account.sublist.read().stats();
    let is_system = server
        .system_account()
        .is_some_and(|s| std::sync::Arc::ptr_eq(s, &account));
    let clients = server
        .clients()
        .iter()
        .filter(|c| std::sync::Arc::ptr_eq(&c.account(), &account))
        .count();
    Ok(AccountInfo {
        account_name: account.name.clone(),
        update_time: GoTime(server.start),
        is_system,
        expired: false,
        complete: true,
        jetstream_enabled: JetStream::of(server).is_some_and(|js| js.account(name).is_some()),
        leafnode_connections: 0,
        client_connections: clients,
        subscriptions: stats.count,
        name_tag: account.name.clone(),
        sublist_stats: SublistStats {
            num_subscriptions: stats.count,
            num_cache: 0,
            num_inserts: stats.inserts,
            num_removes: stats.removes,
            num_matches: 0,
            cache_hit_rate: 0.0,
            max_fanout: 0,
            avg_fanout: 0.0,
        },
    })
}
