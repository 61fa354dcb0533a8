//! The NATS CLI's saved contexts (`nats context save`): `<config>/nats/context/<name>.json`
//! and the selected one's name in `<config>/nats/context.txt`, where `<config>` is
//! `XDG_CONFIG_HOME` or `~/.config` (on every platform, as the CLI does). Each becomes a
//! profile.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::profile::{Credentials, Profile, ProfileError};

/// The fields of a context file that say how to connect; others (JetStream domain, colour
/// scheme...) are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContextFile {
    description: String,
    url: String,
    token: String,
    user: String,
    password: String,
    creds: String,
    nkey: String,
    cert: String,
    key: String,
    ca: String,
    nsc: String,
}

/// One context found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsContext {
    pub name: String,
    pub description: String,
    pub profile: Profile,
    /// What of the context could not be carried over (an `nsc://` lookup).
    pub warnings: Vec<String>,
}

/// The NATS CLI's config folder: `$XDG_CONFIG_HOME/nats` or `~/.config/nats`.
pub fn nats_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("nats"));
    }
    directories::BaseDirs::new().map(|d| d.home_dir().join(".config").join("nats"))
}

/// The contexts under `nats_dir` (sorted by name) and the selected one's name.
pub fn read_contexts(nats_dir: &Path) -> Result<(Vec<NatsContext>, Option<String>), ProfileError> {
    let dir = nats_dir.join("context");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], None)),
        Err(source) => return Err(ProfileError::Read { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
            path: path.clone(),
            source,
        })?;
        // The CLI skips empty files; so do we.
        if text.trim().is_empty() {
            continue;
        }
        let file: ContextFile =
            serde_json::from_str(&text).map_err(|source| ProfileError::Parse { path, source })?;
        out.push(context_profile(&name, file));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    let selected = std::fs::read_to_string(nats_dir.join("context.txt"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok((out, selected))
}

/// The contexts of the current user.
pub fn user_contexts() -> Result<(Vec<NatsContext>, Option<String>), ProfileError> {
    match nats_config_dir() {
        Some(dir) => read_contexts(&dir),
        None => Ok((vec![], None)),
    }
}

/// The context called `name` (or the selected one for an empty name) as a profile.
pub fn context_profile_named(nats_dir: &Path, name: &str) -> Result<Profile, ProfileError> {
    let (contexts, selected) = read_contexts(nats_dir)?;
    let wanted = if name.is_empty() {
        selected.ok_or_else(|| ProfileError::Context("no NATS CLI context is selected".into()))?
    } else {
        name.to_string()
    };
    contexts
        .into_iter()
        .find(|c| c.name == wanted)
        .map(|c| c.profile)
        .ok_or(ProfileError::Unknown(wanted))
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn context_profile(name: &str, f: ContextFile) -> NatsContext {
    let mut warnings = Vec::new();
    if !f.nsc.trim().is_empty() {
        warnings.push(format!(
            "context {name} looks its credentials up with nsc ({}): set a creds file instead",
            f.nsc.trim()
        ));
    }
    let credentials = Credentials {
        user: non_empty(f.user),
        password: non_empty(f.password),
        token: non_empty(f.token),
        nkey: non_empty(f.nkey).map(|p| expand_home(&p)),
        creds: non_empty(f.creds).map(|p| PathBuf::from(expand_home(&p))),
        tls_cert: non_empty(f.cert).map(|p| PathBuf::from(expand_home(&p))),
        tls_key: non_empty(f.key).map(|p| PathBuf::from(expand_home(&p))),
        tls_ca: non_empty(f.ca).map(|p| PathBuf::from(expand_home(&p))),
    };
    let profile = Profile {
        name: name.to_string(),
        servers: non_empty(f.url).unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
        credentials,
        imported_from: Some(name.to_string()),
        ..Profile::default()
    };
    NatsContext {
        name: name.to_string(),
        description: f.description,
        profile,
        warnings,
    }
}

/// `~/x` as the CLI's users write it, made absolute.
fn expand_home(path: &str) -> String {
    match (
        path.strip_prefix("~/"),
        directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()),
    ) {
        (Some(rest), Some(home)) => home.join(rest).to_string_lossy().into_owned(),
        _ => path.to_string(),
    }
}
