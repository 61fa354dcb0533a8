//! Account JWT requests in operator mode, as nats-server's resolvers answer them:
//!
//! - full directory resolver (`DirAccResolver.Start`): updates on
//!   `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE`, `$SYS.ACCOUNT.<acc>.CLAIMS.UPDATE` (the older
//!   subject `nsc push` still uses) and `$SYS.REQ.CLAIMS.UPDATE` are stored in the directory
//!   and applied to the account when it is registered; `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP`
//!   answers with the stored JWT (an empty message when there is none); `$SYS.REQ.CLAIMS.LIST`
//!   with the stored accounts' keys; `$SYS.REQ.CLAIMS.DELETE` (with `allow_delete`) deletes
//!   the accounts an operator-signed claim lists, and disables those registered.
//! - `MEMORY` resolver (`accountClaimUpdate`): the two per-account update subjects update a
//!   registered account only.
//!
//! Answers are nats-server's `{"server": ..., "data": {"account", "code", "message"}}` or
//! `{"server": ..., "error": {"account", "code": 500, "description"}}`.

use std::sync::{Arc, Weak};

use serde::Serialize;

use super::events::EventServer;
use super::SystemAccount;
use crate::broker::server::Server;
use crate::broker::{Fanout, InternalHandler, InternalMsg};
use crate::monitor::format::compact_json;
use crate::{log_debug, log_error};

const UPDATE_NEW: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE";
const UPDATE_OLD: &str = "$SYS.ACCOUNT.*.CLAIMS.UPDATE";
const UPDATE: &str = "$SYS.REQ.CLAIMS.UPDATE";
const LOOKUP: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP";
const LIST: &str = "$SYS.REQ.CLAIMS.LIST";
const DELETE: &str = "$SYS.REQ.CLAIMS.DELETE";

/// Subscribes the claim requests the server's resolver serves (none outside operator mode).
pub(super) fn enable(server: &Arc<Server>, sys: &Arc<SystemAccount>) {
    let Some(trust) = server.trust() else {
        return;
    };
    let subjects: &[&str] = if trust.resolver.is_dir() {
        &[UPDATE_OLD, UPDATE_NEW, UPDATE, LOOKUP, LIST, DELETE]
    } else {
        &[UPDATE_OLD, UPDATE_NEW]
    };
    let client = server.internal_client(sys.account());
    let handler = Arc::new(ClaimsHandler {
        sys: Arc::downgrade(sys),
    });
    for subject in subjects {
        if let Err(e) = server.subscribe_internal(&client, subject, None, handler.clone()) {
            log_error!("Error setting up claims handling for {}: {}", subject, e);
        }
    }
}

#[derive(Debug)]
struct ClaimsHandler {
    sys: Weak<SystemAccount>,
}

#[derive(Serialize)]
struct UpdateResponse {
    server: EventServer,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<UpdateStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<UpdateError>,
}

#[derive(Serialize)]
struct UpdateStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    code: u16,
    message: String,
}

#[derive(Serialize)]
struct UpdateError {
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    code: u16,
    description: String,
}

#[derive(Serialize)]
struct ListResponse {
    server: EventServer,
    data: Vec<String>,
}

/// One request being answered.
struct Ctx<'a, 'f> {
    server: &'a Arc<Server>,
    sys: &'a SystemAccount,
    fanout: &'f mut Fanout,
    msg: &'a InternalMsg<'a>,
}

impl Ctx<'_, '_> {
    fn reply(&mut self, payload: &[u8]) {
        let Some(reply) = self.msg.reply.filter(|r| !r.is_empty()) else {
            return;
        };
        self.server
            .publish_internal(self.fanout, self.msg.account, reply, None, &[], payload);
    }

    /// nats-server's `respondToUpdate`: logs the outcome and answers it.
    fn respond(&mut self, account: &str, message: &str, error: Option<String>) {
        match &error {
            None if account.is_empty() => log_debug!("{}", message),
            None => log_debug!("{} - {}", message, account),
            Some(e) if account.is_empty() => log_error!("{} - {}", message, e),
            Some(e) => log_error!("{} - {} - {}", message, account, e),
        }
        if self.msg.reply.is_none_or(<[u8]>::is_empty) {
            return;
        }
        let server = self.sys.event_server(self.server);
        let response = match error {
            None => UpdateResponse {
                server,
                data: Some(UpdateStatus {
                    account: account.to_string(),
                    code: 200,
                    message: message.to_string(),
                }),
                error: None,
            },
            Some(e) => UpdateResponse {
                server,
                data: None,
                error: Some(UpdateError {
                    account: account.to_string(),
                    code: 500,
                    description: format!("{message} - {e}"),
                }),
            },
        };
        self.reply(&compact_json(&response));
    }
}

impl InternalHandler for ClaimsHandler {
    fn on_msg(&self, server: &Arc<Server>, fanout: &mut Fanout, msg: &InternalMsg<'_>) -> bool {
        let Some(sys) = self.sys.upgrade() else {
            return false;
        };
        let Ok(subject) = std::str::from_utf8(msg.subject) else {
            return false;
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        let dir = server.trust().is_some_and(|t| t.resolver.is_dir());
        let body = String::from_utf8_lossy(msg.payload).into_owned();
        let mut ctx = Ctx {
            server,
            sys: &sys,
            fanout,
            msg,
        };
        match tokens.as_slice() {
            ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "UPDATE"]
            | ["$SYS", "ACCOUNT", acc, "CLAIMS", "UPDATE"] => {
                if dir {
                    dir_update(&mut ctx, Some(acc), &body);
                } else {
                    memory_update(&mut ctx, acc, &body);
                }
            }
            ["$SYS", "REQ", "CLAIMS", "UPDATE"] => dir_update(&mut ctx, None, &body),
            ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "LOOKUP"] => lookup(&mut ctx, acc),
            ["$SYS", "REQ", "CLAIMS", "LIST"] => list(&mut ctx),
            ["$SYS", "REQ", "CLAIMS", "DELETE"] if dir => delete(&mut ctx, &body),
            _ => return false,
        }
        true
    }
}

/// The full resolver's update: stored when it decodes (and names `acc`), then applied to
/// the account if it is registered.
fn dir_update(ctx: &mut Ctx<'_, '_>, acc: Option<&str>, body: &str) {
    let Some(trust) = ctx.server.trust() else {
        return;
    };
    let claims = match crate::jwt::decode_account(body) {
        Ok(c) => c,
        Err(e) => {
            return ctx.respond("n/a", "jwt update resulted in error", Some(e.to_string()));
        }
    };
    let key = claims.data.subject.clone();
    if acc.is_some_and(|acc| acc != key) {
        let acc = acc.unwrap_or_default();
        let e = "subject does not match jwt content".to_string();
        return ctx.respond(acc, "jwt update resulted in error", Some(e));
    }
    if trust.strict_operator() == Some(claims.data.issuer.as_str()) {
        let e = "operator requires issuer to be a signing key".to_string();
        return ctx.respond(&key, "jwt update resulted in error", Some(e));
    }
    match trust.resolver.store(&key, body) {
        Err(e) => ctx.respond(&key, "jwt update resulted in error", Some(e)),
        Ok(changed) => {
            if changed {
                if let Err(e) = ctx.server.update_account_jwt(&key, body) {
                    log_error!(
                        "DirResolver - Update for account {:?} resulted in error {}",
                        key,
                        e
                    );
                }
            }
            ctx.respond(&key, "jwt updated", None);
        }
    }
}

/// nats-server's `accountClaimUpdate` (no directory): only a registered account changes.
fn memory_update(ctx: &mut Ctx<'_, '_>, acc: &str, body: &str) {
    if body.is_empty() {
        let e = "request body is empty".to_string();
        return ctx.respond(acc, "jwt update error", Some(e));
    }
    let claims = match crate::jwt::decode_account(body) {
        Ok(c) => c,
        Err(e) => return ctx.respond(acc, "jwt update resulted in error", Some(e.to_string())),
    };
    if claims.data.subject != acc {
        let e = "subject does not match jwt content".to_string();
        return ctx.respond(acc, "jwt update resulted in error", Some(e));
    }
    match ctx.server.update_account_jwt(acc, body) {
        Ok(false) => ctx.respond(acc, "jwt update skipped", None),
        Ok(true) => ctx.respond(acc, "jwt updated", None),
        Err(e) => ctx.respond(acc, "jwt update resulted in error", Some(e.to_string())),
    }
}

/// nats-server's `handleDeleteRequest`: a JWT signed by a trusted operator key about
/// itself (`sub` = `iss`), listing account keys in `nats.accounts`; the system account
/// cannot be deleted. Answered `deleted N accounts`, or with the failures.
fn delete(ctx: &mut Ctx<'_, '_>, body: &str) {
    let Some(trust) = ctx.server.trust() else {
        return;
    };
    let system = ctx.server.system_account().map(|a| a.name.clone());
    let mut subject = String::new();
    let checked = crate::jwt::decode_generic(body)
        .map_err(|e| e.to_string())
        .and_then(|claims| {
            subject = claims.data.subject.clone();
            if !trust.resolver.allows_delete() {
                return Err("delete must be enabled in server config".to_string());
            }
            if claims.data.subject != claims.data.issuer {
                return Err("not self signed".to_string());
            }
            if !trust.is_trusted(&claims.data.issuer) {
                return Err("not trusted".to_string());
            }
            let Some(list) = claims.nats.get("accounts").and_then(|l| l.as_array()) else {
                return Err("malformed request".to_string());
            };
            let mut keys = Vec::with_capacity(list.len());
            for entry in list {
                let key = entry
                    .as_str()
                    .filter(|k| k.starts_with('A') && nkeys::KeyPair::from_public_key(k).is_ok())
                    .ok_or("malformed request")?;
                if system.as_deref() == Some(key) {
                    return Err("not allowed to delete system account".to_string());
                }
                keys.push(key.to_string());
            }
            Ok(keys)
        });
    let keys = match checked {
        Ok(keys) => keys,
        Err(e) => {
            let message = format!("delete accounts request by {subject} failed");
            return ctx.respond("", &message, Some(e));
        }
    };
    let mut errors = Vec::new();
    let mut deleted = 0;
    for key in &keys {
        match trust.resolver.delete(key) {
            Ok(()) => {
                deleted += 1;
                ctx.server.account_jwt_deleted(key);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        ctx.respond("", &format!("deleted {deleted} accounts"), None);
    } else {
        let message = format!("deleted {deleted} accounts, failed for {}", errors.len());
        ctx.respond("", &message, Some(errors.join("\n")));
    }
}

/// The stored JWT, or an empty message when there is none.
fn lookup(ctx: &mut Ctx<'_, '_>, acc: &str) {
    let token = ctx.server.trust().and_then(|t| t.resolver.fetch(acc));
    if token.is_none() {
        log_debug!("DirResolver - Could not find account {:?}", acc);
    }
    ctx.reply(token.unwrap_or_default().as_bytes());
}

fn list(ctx: &mut Ctx<'_, '_>) {
    let Some(trust) = ctx.server.trust() else {
        return;
    };
    let data = trust.resolver.list();
    log_debug!("list request responded with {} account ids", data.len());
    let response = ListResponse {
        server: ctx.sys.event_server(ctx.server),
        data,
    };
    ctx.reply(&compact_json(&response));
}
