//! `leafnodes { ... }`: the leaf-node listener (this server as a hub) and the remotes it
//! connects to (this server as a leaf of another), with nats-server's names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::TlsOptions;

/// nats-server's `DEFAULT_LEAF_NODE_RECONNECT`: the wait before a remote is tried again.
pub const DEFAULT_LEAF_RECONNECT: Duration = Duration::from_secs(1);
/// nats-server's `DEFAULT_LEAFNODE_INFO_WAIT`: how long a remote has to send its INFO.
pub const DEFAULT_LEAF_FIRST_INFO_TIMEOUT: Duration = Duration::from_secs(1);
/// nats-server's `DEFAULT_LEAF_TLS_TIMEOUT`.
pub const DEFAULT_LEAF_TLS_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's `DEFAULT_LEAFNODE_PORT`, the port of a remote URL that names none.
pub const DEFAULT_LEAFNODE_PORT: u16 = 7422;

/// `leafnodes { host port listen advertise no_advertise authorization tls reconnect
/// remotes }`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafNodeOptions {
    /// `host` / `net` / `listen`'s host; the client listener's host when not given
    /// (nats-server's default is `0.0.0.0`; switchboard stays where its clients are).
    pub host: Option<String>,
    /// `port` / `listen`'s port: 0 means no leaf-node listener, -1 a random port.
    pub port: i32,
    /// `advertise`: the `host:port` given to leaf nodes instead of the listener's.
    pub advertise: Option<String>,
    /// `no_advertise`: read for compatibility (it only matters to clusters).
    pub no_advertise: bool,
    /// `authorization { ... }`: who may connect as a leaf node, and to which account.
    pub auth: LeafAuthOptions,
    /// `tls { ... }`: leaf nodes must connect with TLS.
    pub tls: Option<TlsOptions>,
    /// `reconnect` / `reconnect_delay` / `reconnect_interval`.
    pub reconnect: Duration,
    /// `remotes [ ... ]`: the hubs this server connects to as a leaf node.
    pub remotes: Vec<RemoteLeafOptions>,
}

impl Default for LeafNodeOptions {
    fn default() -> Self {
        LeafNodeOptions {
            host: None,
            port: 0,
            advertise: None,
            no_advertise: false,
            auth: LeafAuthOptions::default(),
            tls: None,
            reconnect: DEFAULT_LEAF_RECONNECT,
            remotes: Vec::new(),
        }
    }
}

impl LeafNodeOptions {
    /// Whether leaf nodes may connect to this server.
    pub fn listens(&self) -> bool {
        self.port != 0
    }
}

/// `leafnodes.authorization`: a single user (or nkey) with an account, or a list of users;
/// without either, leaf nodes authenticate as clients do (or bind to `account` when the
/// server requires no authentication).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafAuthOptions {
    pub user: Option<String>,
    pub password: Option<String>,
    /// A user nkey (`U...`): the leaf signs the nonce with its seed.
    pub nkey: Option<String>,
    /// The account a leaf node that authenticated with `user` or `nkey` (or with nothing)
    /// is bound to; the global account when not given.
    pub account: Option<String>,
    pub users: Vec<LeafUser>,
    /// `timeout`: seconds to send CONNECT; `None` is nats-server's default.
    pub timeout: Option<Duration>,
}

/// One of `leafnodes.authorization.users`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafUser {
    pub user: String,
    pub password: String,
    pub account: Option<String>,
}

/// One of `leafnodes.remotes`: a hub to connect to.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteLeafOptions {
    /// `url` / `urls`: `nats-leaf://`, `nats://` or `tls://` URLs, with credentials in
    /// them if any (`user:password@`, or a token as the user).
    pub urls: Vec<String>,
    /// `account` / `local`: the local account bound to the hub's; the global one when not
    /// given.
    pub account: Option<String>,
    /// `credentials` / `creds`: a `.creds` file (user JWT and seed).
    pub credentials: Option<PathBuf>,
    /// `nkey` / `seed`: a user seed whose public key the hub knows.
    pub nkey: Option<String>,
    /// `tls { ... }`: connect with TLS (certificate files for the client side, `ca_file`
    /// to verify the hub).
    pub tls: Option<TlsOptions>,
    /// `deny_imports`: subjects this server will not receive from the hub.
    pub deny_imports: Vec<String>,
    /// `deny_exports`: subjects this server will not send to the hub.
    pub deny_exports: Vec<String>,
    /// `first_info_timeout`: how long the hub has to send its INFO.
    pub first_info_timeout: Duration,
    /// `no_randomize` / `dont_randomize`: try the URLs in order (those the hub names
    /// included).
    pub no_randomize: bool,
    /// `ignore_discovered_servers`: reconnect to the configured URLs only, not to the other
    /// servers of the hub's cluster its INFO names (`leafnode_urls`).
    pub ignore_discovered_servers: bool,
    /// `disabled`: configured but not connected.
    pub disabled: bool,
}

impl Default for RemoteLeafOptions {
    fn default() -> Self {
        RemoteLeafOptions {
            urls: Vec::new(),
            account: None,
            credentials: None,
            nkey: None,
            tls: None,
            deny_imports: Vec::new(),
            deny_exports: Vec::new(),
            first_info_timeout: DEFAULT_LEAF_FIRST_INFO_TIMEOUT,
            no_randomize: false,
            ignore_discovered_servers: false,
            disabled: false,
        }
    }
}

impl RemoteLeafOptions {
    /// A remote with only a URL (`--leaf URL`).
    pub fn url(url: &str) -> Self {
        RemoteLeafOptions {
            urls: vec![url.to_string()],
            ..RemoteLeafOptions::default()
        }
    }

    /// The local account's name.
    pub fn account_name(&self) -> &str {
        self.account.as_deref().unwrap_or("$G")
    }
}
