//! Connection profiles: how to reach a remote NATS deployment and what to watch there,
//! saved as JSON in the platform's config folder (`SWITCHBOARD_CONFIG_DIR` overrides it).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connect::ConnectArgs;

/// Environment variable naming the folder profiles are saved in (tests, portable setups).
pub const CONFIG_DIR_ENV: &str = "SWITCHBOARD_CONFIG_DIR";
/// The file, inside that folder.
pub const PROFILES_FILE: &str = "profiles.json";

/// Credentials and TLS files for one connection (the NATS CLI's vocabulary).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Credentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// An nkey seed file, or the seed itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// A credentials file (user JWT and seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creds: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
}

impl Credentials {
    /// These credentials for the given server URLs.
    pub fn connect_args(&self, servers: &str) -> ConnectArgs {
        ConnectArgs {
            server: servers.to_string(),
            user: self.user.clone(),
            password: self.password.clone(),
            token: self.token.clone(),
            nkey: self.nkey.clone(),
            creds: self.creds.clone(),
            tlscert: self.tls_cert.clone(),
            tlskey: self.tls_key.clone(),
            tlsca: self.tls_ca.clone(),
        }
    }

    /// Takes the credentials of a command line's connection flags.
    pub fn from_connect_args(args: &ConnectArgs) -> Self {
        Credentials {
            user: args.user.clone(),
            password: args.password.clone(),
            token: args.token.clone(),
            nkey: args.nkey.clone(),
            creds: args.creds.clone(),
            tls_cert: args.tlscert.clone(),
            tls_key: args.tlskey.clone(),
            tls_ca: args.tlsca.clone(),
        }
    }
}

/// One remote deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    /// Server URLs, comma separated (several for a cluster: the client fails over).
    pub servers: String,
    pub credentials: Credentials,
    /// nats-server monitoring endpoints (`http://host:8222`), comma separated; each is
    /// polled for /varz, /connz, /routez and /jsz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_url: Option<String>,
    /// Credentials of a system-account user: with them, every server of the cluster is
    /// asked for its connections and subscriptions over `$SYS.REQ.SERVER.PING.*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<Credentials>,
    /// Subject patterns the inspector subscribes to (`>` sees all traffic the account
    /// may subscribe to).
    pub subjects: Vec<String>,
    /// The NATS CLI context it was imported from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: String::new(),
            servers: "nats://127.0.0.1:4222".into(),
            credentials: Credentials::default(),
            monitor_url: None,
            system: None,
            subjects: vec![">".into()],
            imported_from: None,
        }
    }
}

impl Profile {
    /// A profile for `servers` with no credentials, named after the first URL.
    pub fn for_url(servers: &str) -> Self {
        Profile {
            name: servers
                .split(',')
                .next()
                .unwrap_or(servers)
                .trim()
                .to_string(),
            servers: servers.to_string(),
            ..Profile::default()
        }
    }

    /// How the inspector's clients (observer, Publish & Request, replay) connect.
    pub fn connect_args(&self) -> ConnectArgs {
        self.credentials.connect_args(&self.servers)
    }

    /// How the system-account client connects, when system credentials are given.
    pub fn system_connect_args(&self) -> Option<ConnectArgs> {
        self.system.as_ref().map(|c| c.connect_args(&self.servers))
    }

    /// The monitoring URLs, without trailing slashes.
    pub fn monitor_urls(&self) -> Vec<String> {
        self.monitor_url
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// The subscription patterns, `>` when none are set.
    pub fn patterns(&self) -> Vec<String> {
        let patterns: Vec<String> = self
            .subjects
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if patterns.is_empty() {
            vec![">".into()]
        } else {
            patterns
        }
    }

    /// What is wrong with the profile, if anything, in a sentence for the form.
    pub fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() {
            return Some("the profile needs a name".into());
        }
        if self.servers.split(',').all(|s| s.trim().is_empty()) {
            return Some("the profile needs at least one server URL".into());
        }
        for p in self.patterns() {
            if !crate::proto::subject::is_valid_subject(p.as_bytes()) {
                return Some(format!("{p:?} is not a valid subject pattern"));
            }
        }
        for c in std::iter::once(&self.credentials).chain(self.system.as_ref()) {
            if c.tls_cert.is_some() != c.tls_key.is_some() {
                return Some("a TLS client certificate and its key go together".into());
            }
        }
        None
    }
}

/// Every saved profile, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profiles {
    pub profiles: Vec<Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no config folder for this user (set {CONFIG_DIR_ENV})")]
    NoConfigDir,
    #[error("can't read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid profiles file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("can't write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no profile or NATS CLI context named {0:?}")]
    Unknown(String),
    #[error("{0}")]
    Context(String),
}

/// The folder profiles live in: `SWITCHBOARD_CONFIG_DIR`, else the platform's config folder
/// for switchboard (`~/.config/switchboard` on Linux).
pub fn config_dir() -> Result<PathBuf, ProfileError> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "switchboard")
        .map(|d| d.config_dir().to_path_buf())
        .ok_or(ProfileError::NoConfigDir)
}

impl Profiles {
    /// The profiles saved in `dir`; none when the file does not exist yet.
    pub fn load_from(dir: &Path) -> Result<Profiles, ProfileError> {
        let path = dir.join(PROFILES_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Profiles::default()),
            Err(source) => return Err(ProfileError::Read { path, source }),
        };
        let mut profiles: Profiles =
            serde_json::from_str(&text).map_err(|source| ProfileError::Parse { path, source })?;
        profiles.sort();
        Ok(profiles)
    }

    /// The profiles in the usual place.
    pub fn load() -> Result<Profiles, ProfileError> {
        Profiles::load_from(&config_dir()?)
    }

    /// Writes the profiles to `dir` (created if needed) through a temporary file, readable
    /// by the user only: they may hold passwords.
    pub fn save_to(&self, dir: &Path) -> Result<(), ProfileError> {
        let path = dir.join(PROFILES_FILE);
        let write = |source| ProfileError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| write(e.into()))?;
        let tmp = dir.join(format!("{PROFILES_FILE}.tmp"));
        write_private(&tmp, text.as_bytes()).map_err(write)?;
        std::fs::rename(&tmp, &path).map_err(write)
    }

    pub fn save(&self) -> Result<(), ProfileError> {
        self.save_to(&config_dir()?)
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Adds `profile`, replacing the one of the same name.
    pub fn upsert(&mut self, profile: Profile) {
        self.profiles.retain(|p| p.name != profile.name);
        self.profiles.push(profile);
        self.sort();
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.profiles.len();
        self.profiles.retain(|p| p.name != name);
        before != self.profiles.len()
    }

    fn sort(&mut self) {
        self.profiles.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A saved profile of that name, else the NATS CLI context of that name.
pub fn resolve_named(name: &str) -> Result<Profile, ProfileError> {
    if let Ok(profiles) = Profiles::load() {
        if let Some(p) = profiles.get(name) {
            return Ok(p.clone());
        }
    }
    match super::contexts::nats_config_dir() {
        Some(dir) => super::contexts::context_profile_named(&dir, name),
        None => Err(ProfileError::Unknown(name.to_string())),
    }
}
