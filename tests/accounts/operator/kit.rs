//! NATS JWTs built by the tests themselves, in nats-io/jwt v2's format (what `nsc`
//! writes): claims with `jti`, `iat`, `iss`, `sub` and a `nats` part, base64url without
//! padding, signed with the issuer's nkey over `header.payload`. nats-server accepting them
//! is what shows the format is right.

use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{json, Value};

use crate::support::{RawConn, Server};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` with `signer`: `iss` is set to its key, `iat` to now unless given, and
/// `jti` to a fresh value.
pub fn sign(mut claims: Value, signer: &KeyPair) -> String {
    claims["iss"] = json!(signer.public_key());
    if claims.get("iat").is_none() {
        claims["iat"] = json!(now());
    }
    claims["jti"] = json!(KeyPair::new_user().public_key()[1..53].to_string());
    let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = b64(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let sig = signer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64(&sig))
}

pub fn operator_claims(op: &KeyPair, system_account: &str) -> Value {
    json!({
        "name": "OP", "sub": op.public_key(),
        "nats": {"system_account": system_account, "type": "operator", "version": 2}
    })
}

/// An account's claims with `nsc`'s defaults: no limits, JetStream off.
pub fn account_claims(acc: &KeyPair, name: &str) -> Value {
    json!({
        "name": name, "sub": acc.public_key(),
        "nats": {
            "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                       "wildcards": true, "conn": -1, "leaf": -1},
            "default_permissions": {"pub": {}, "sub": {}},
            "authorization": {},
            "type": "account", "version": 2
        }
    })
}

/// A user's claims with `nsc`'s defaults (no limits).
pub fn user_claims(user: &KeyPair, name: &str) -> Value {
    json!({
        "name": name, "sub": user.public_key(),
        "nats": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                 "type": "user", "version": 2}
    })
}

/// A `.creds` file's text, as `nsc generate creds` writes it.
pub fn creds(jwt: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.seed().unwrap()
    )
}

/// An operator, its system account and two accounts A and B, each with a user.
pub struct World {
    pub op: KeyPair,
    pub op_jwt: String,
    pub sys: KeyPair,
    pub sys_jwt: String,
    pub sys_user: KeyPair,
    pub sys_user_jwt: String,
    pub a: KeyPair,
    pub a_jwt: String,
    pub b: KeyPair,
    pub b_jwt: String,
}

impl World {
    pub fn new() -> World {
        Self::with_accounts(|_| {}, |_| {})
    }

    /// A world whose accounts' claims `edit_a` and `edit_b` change first.
    pub fn with_accounts(
        edit_a: impl FnOnce(&mut Value),
        edit_b: impl FnOnce(&mut Value),
    ) -> World {
        let op = KeyPair::new_operator();
        let sys = KeyPair::new_account();
        let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
        let op_jwt = sign(operator_claims(&op, &sys.public_key()), &op);
        let sys_jwt = sign(account_claims(&sys, "SYS"), &op);
        let mut ac = account_claims(&a, "A");
        edit_a(&mut ac);
        let mut bc = account_claims(&b, "B");
        edit_b(&mut bc);
        let sys_user = KeyPair::new_user();
        let sys_user_jwt = sign(user_claims(&sys_user, "sys"), &sys);
        World {
            a_jwt: sign(ac, &op),
            b_jwt: sign(bc, &op),
            op_jwt,
            sys_jwt,
            sys_user,
            sys_user_jwt,
            op,
            sys,
            a,
            b,
        }
    }

    /// `operator`, `system_account`, `resolver: MEMORY` and the three accounts preloaded;
    /// with debug logging, so that a failed login's log says why.
    pub fn memory_config(&self) -> String {
        format!(
            "debug: true\noperator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\n\
             resolver_preload {{\n  {}: \"{}\"\n  {}: \"{}\"\n  {}: \"{}\"\n}}\n",
            self.op_jwt,
            self.sys.public_key(),
            self.sys.public_key(),
            self.sys_jwt,
            self.a.public_key(),
            self.a_jwt,
            self.b.public_key(),
            self.b_jwt
        )
    }

    /// The full directory resolver in `dir`, with the accounts preloaded.
    pub fn full_config(&self, dir: &std::path::Path) -> String {
        self.memory_config().replace(
            "resolver: MEMORY",
            &format!(
                "resolver {{ type: full, dir: \"{}\", allow_delete: false, interval: \"2m\" }}",
                dir.display()
            ),
        )
    }

    /// A fresh user of account A (signed by A's key), with `edit` applied to its claims.
    pub fn user_of_a(&self, edit: impl FnOnce(&mut Value)) -> (KeyPair, String) {
        let user = KeyPair::new_user();
        let mut c = user_claims(&user, "ua");
        edit(&mut c);
        let jwt = sign(c, &self.a);
        (user, jwt)
    }
}

/// `CONNECT` with the user JWT and the signature of the INFO's nonce (raw-URL base64), then
/// `PING`. The caller reads what comes back.
pub fn send_login(c: &mut RawConn, jwt: &str, user: Option<&KeyPair>) {
    let nonce = c.info["nonce"].as_str().unwrap_or_default().to_string();
    let sig = user
        .map(|u| format!(r#","sig":"{}""#, b64(&u.sign(nonce.as_bytes()).unwrap())))
        .unwrap_or_default();
    c.send(format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1,\"jwt\":\"{jwt}\"{sig}}}\r\nPING\r\n"
    ));
}

/// A logged-in raw client (the async INFO that follows the first PONG is read).
pub fn login(server: &Server, jwt: &str, user: &KeyPair) -> RawConn {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut c = RawConn::connect(server.addr(), "login");
        send_login(&mut c, jwt, Some(user));
        c.expect(b"PONG\r\n");
        let info = c.read_line();
        assert!(
            info.starts_with(b"INFO "),
            "{}",
            String::from_utf8_lossy(&info)
        );
        c
    }));
    attempt.unwrap_or_else(|e| {
        // The server's reason is in its log (debug level).
        std::thread::sleep(std::time::Duration::from_millis(300));
        eprintln!("--- {} log ---\n{}", server.target, server.log());
        std::panic::resume_unwind(e)
    })
}

/// Expects the login to be refused as nats-server refuses it.
pub fn expect_refused(server: &Server, jwt: &str, user: Option<&KeyPair>) {
    let mut c = RawConn::connect(server.addr(), "refused");
    send_login(&mut c, jwt, user);
    c.expect_then_closed(b"-ERR 'Authorization Violation'\r\n");
}
