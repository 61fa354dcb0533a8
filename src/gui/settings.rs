//! The settings a user edits, kept as `settings.json` in the platform's config folder
//! (`~/.config/switchboard` on Linux; `SWITCHBOARD_CONFIG_DIR` overrides it, for tests and
//! portable set-ups). Window geometry stays with eframe's own storage in the data folder.
//!
//! JetStream is on by default in the app, its store in the platform's data folder
//! (`~/.local/share/switchboard` on Linux: streams go in its `jetstream/` folder); a file
//! from before JetStream has no JetStream keys and so gets that default too.
//!
//! A missing file means defaults; a file that can't be read or parsed also means defaults,
//! plus a warning the window shows. Unknown keys are ignored and missing keys take their
//! default, so files written by older or newer versions keep working.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::panels::View;

/// Overrides the settings folder.
pub const CONFIG_DIR_ENV: &str = "SWITCHBOARD_CONFIG_DIR";
const FILE_NAME: &str = "settings.json";

/// Dark, light, or whatever the desktop says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Dark,
    Light,
    System,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Dark, Theme::Light, Theme::System];

    pub fn label(self) -> &'static str {
        match self {
            Theme::Dark => "Dark",
            Theme::Light => "Light",
            Theme::System => "Follow the system",
        }
    }

    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Theme::Dark => egui::ThemePreference::Dark,
            Theme::Light => egui::ThemePreference::Light,
            Theme::System => egui::ThemePreference::System,
        }
    }
}

/// Whether a template publishes or sends a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendMode {
    #[default]
    Publish,
    Request,
}

/// A named Publish & Request form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Template {
    pub name: String,
    pub subject: String,
    pub reply: String,
    /// `Key: value` lines, as typed in the form.
    pub headers: String,
    pub payload: String,
    pub mode: SendMode,
    pub timeout_millis: u64,
}

/// Everything the Settings view edits, plus what the app remembers between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the embedded broker listens (command-line flags and `-c` files override this).
    pub listen_host: String,
    pub listen_port: u16,
    pub theme: Theme,
    /// A request with no reply after this long counts as a timeout in Latency.
    pub latency_timeout_millis: u64,
    /// Messages the Messages view keeps.
    pub message_history: usize,
    pub templates: Vec<Template>,
    /// The view shown when the window last closed.
    pub last_view: View,
    /// JetStream in the embedded broker (`-js`, `-sd` and a configuration file's
    /// `jetstream` or `store_dir` override this).
    pub jetstream: bool,
    /// JetStream's store directory, as `-sd` (streams go in its `jetstream/` folder); empty
    /// means the platform's data folder ([`default_jetstream_store_dir`]).
    pub jetstream_store_dir: String,
    /// A WebSocket listener (`ws://`, no TLS) beside the client port, for browser clients
    /// (a configuration file's `websocket` block overrides this).
    pub websocket: bool,
    pub websocket_port: u16,
    /// Join a hub as a leaf node (`--leaf` and a configuration file's `leafnodes` block
    /// override this).
    pub leaf: bool,
    /// The hub's URLs (`nats://`, `tls://` or `nats-leaf://`, with `user:password@` if
    /// needed), separated by commas, spaces or new lines.
    pub leaf_urls: String,
    /// A `.creds` file (user JWT and seed) to authenticate with; empty: none.
    pub leaf_credentials: String,
    /// The local account bound to the hub's; empty: the global account.
    pub leaf_account: String,
}

/// What the settings decide for an embedded broker the window starts, unless the command
/// line or a configuration file does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerSetting {
    pub jetstream: JetStreamSetting,
    pub websocket: WebsocketSetting,
    pub leaf: LeafSetting,
}

/// The hub the embedded broker joins as a leaf node, as the settings say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafSetting {
    pub enabled: bool,
    /// The URLs as typed, one a word.
    pub urls: Vec<String>,
    pub credentials: Option<PathBuf>,
    /// `None`: the global account.
    pub account: Option<String>,
}

impl LeafSetting {
    /// What is wrong with the setting (a URL that can't be used, none at all), one line
    /// each; empty when it can be used or is off.
    pub fn problems(&self) -> Vec<String> {
        if !self.enabled {
            return Vec::new();
        }
        if self.urls.is_empty() {
            return vec!["Give the hub's URL (nats://host:7422).".to_string()];
        }
        self.urls
            .iter()
            .filter_map(|u| check_hub_url(u).err())
            .collect()
    }

    /// The broker's leaf-node remote: `None` when off or unusable (see [`Self::problems`]).
    pub fn options(&self) -> Option<crate::options::RemoteLeafOptions> {
        if !self.enabled || self.urls.is_empty() || !self.problems().is_empty() {
            return None;
        }
        Some(crate::options::RemoteLeafOptions {
            urls: self.urls.clone(),
            account: self.account.clone(),
            credentials: self.credentials.clone(),
            ..crate::options::RemoteLeafOptions::default()
        })
    }
}

/// Whether `url` can name a hub: `nats://`, `tls://` or `nats-leaf://` (or no scheme), a
/// host, and a port if any that is a number. The broker parses it again when it starts.
pub fn check_hub_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("nats-leaf", url));
    if !["nats", "tls", "nats-leaf"].contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{url}: use nats://, tls:// or nats-leaf:// (leaf links over {scheme}:// are not served)"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err(format!("{url}: an IPv6 address needs its closing ]")),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        if port.parse::<u16>().is_err() {
            return Err(format!("{url}: the port {port:?} is not a port number"));
        }
    }
    Ok(())
}

/// The WebSocket listener for an embedded broker the window starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketSetting {
    pub enabled: bool,
    pub port: u16,
}

impl Default for WebsocketSetting {
    fn default() -> Self {
        Settings::default().websocket_setting()
    }
}

/// The WebSocket port the app offers: the one nats-server's documentation uses.
pub const DEFAULT_WEBSOCKET_PORT: u16 = 8080;

impl WebsocketSetting {
    /// The broker's `websocket { }` on `host` (the client listener's): plain `ws://`, as a
    /// browser page on `http://localhost` needs; `None` when off.
    pub fn options(&self, host: &str) -> Option<crate::options::WebsocketOptions> {
        self.enabled.then(|| crate::options::WebsocketOptions {
            host: host.to_string(),
            port: i32::from(self.port),
            no_tls: true,
            // An upgrade that never finishes must not hold a connection forever.
            handshake_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        })
    }
}

/// JetStream for an embedded broker the window starts, as the settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamSetting {
    pub enabled: bool,
    /// `None`: nats-server's default (the temporary folder), when there is no data folder.
    pub store_dir: Option<PathBuf>,
}

impl Default for JetStreamSetting {
    fn default() -> Self {
        Settings::default().jetstream_setting()
    }
}

impl JetStreamSetting {
    /// The broker's JetStream options: `None` when off.
    pub fn options(&self) -> Option<crate::options::JetStreamOptions> {
        self.enabled.then(|| crate::options::JetStreamOptions {
            store_dir: self.store_dir.clone(),
            ..Default::default()
        })
    }
}

/// The app's JetStream store directory when the settings name none: the platform's data
/// folder (`~/.local/share/switchboard`, `~/Library/Application Support/switchboard`,
/// `%APPDATA%\switchboard\data`), whose `jetstream/` folder then holds the streams. `None`
/// when the platform has no home folder.
pub fn default_jetstream_store_dir() -> Option<PathBuf> {
    Some(
        directories::ProjectDirs::from("", "", "switchboard")?
            .data_dir()
            .to_path_buf(),
    )
}

use crate::options::{DEFAULT_HOST, DEFAULT_PORT};
pub const MIN_HISTORY: usize = 100;
pub const MAX_HISTORY: usize = 100_000;
pub const MIN_LATENCY_TIMEOUT_MILLIS: u64 = 100;
pub const MAX_LATENCY_TIMEOUT_MILLIS: u64 = 600_000;

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_host: DEFAULT_HOST.into(),
            listen_port: DEFAULT_PORT,
            theme: Theme::default(),
            latency_timeout_millis: crate::inspect::control::DEFAULT_REQUEST_TIMEOUT.as_millis()
                as u64,
            message_history: super::state::MESSAGE_HISTORY,
            templates: Vec::new(),
            last_view: View::default(),
            jetstream: true,
            jetstream_store_dir: String::new(),
            websocket: false,
            websocket_port: DEFAULT_WEBSOCKET_PORT,
            leaf: false,
            leaf_urls: String::new(),
            leaf_credentials: String::new(),
            leaf_account: String::new(),
        }
    }
}

impl Settings {
    /// Brings hand-edited values back into range.
    fn clamped(mut self) -> Self {
        self.message_history = self.message_history.clamp(MIN_HISTORY, MAX_HISTORY);
        self.latency_timeout_millis = self
            .latency_timeout_millis
            .clamp(MIN_LATENCY_TIMEOUT_MILLIS, MAX_LATENCY_TIMEOUT_MILLIS);
        if self.listen_host.trim().is_empty() {
            self.listen_host = DEFAULT_HOST.into();
        }
        if self.jetstream_store_dir.trim().is_empty() {
            self.jetstream_store_dir.clear();
        }
        if self.websocket_port == 0 {
            self.websocket_port = DEFAULT_WEBSOCKET_PORT;
        }
        self
    }

    /// JetStream and WebSocket as the embedded broker should run them.
    pub fn broker_setting(&self) -> BrokerSetting {
        BrokerSetting {
            jetstream: self.jetstream_setting(),
            websocket: self.websocket_setting(),
            leaf: self.leaf_setting(),
        }
    }

    /// The hub to join as a leaf node, as the embedded broker should.
    pub fn leaf_setting(&self) -> LeafSetting {
        let non_empty = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        LeafSetting {
            enabled: self.leaf,
            urls: self
                .leaf_urls
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect(),
            credentials: non_empty(&self.leaf_credentials).map(PathBuf::from),
            account: non_empty(&self.leaf_account),
        }
    }

    pub fn websocket_setting(&self) -> WebsocketSetting {
        WebsocketSetting {
            enabled: self.websocket,
            port: self.websocket_port,
        }
    }

    /// JetStream as the embedded broker should run it, the default folder filled in.
    pub fn jetstream_setting(&self) -> JetStreamSetting {
        let given = self.jetstream_store_dir.trim();
        JetStreamSetting {
            enabled: self.jetstream,
            store_dir: if given.is_empty() {
                default_jetstream_store_dir()
            } else {
                Some(PathBuf::from(given))
            },
        }
    }

    /// Adds `template`, replacing one of the same name; keeps the list sorted by name.
    pub fn put_template(&mut self, template: Template) {
        self.templates.retain(|t| t.name != template.name);
        self.templates.push(template);
        self.templates.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Where the settings live, and reading and writing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsStore {
    path: PathBuf,
}

/// What loading found.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub settings: Settings,
    /// Why the defaults are in use although a file exists (shown in the window).
    pub warning: Option<String>,
}

impl SettingsStore {
    /// The platform's store: `$SWITCHBOARD_CONFIG_DIR/settings.json`, else the config folder
    /// (`~/.config/switchboard`, `~/Library/Application Support/switchboard`,
    /// `%APPDATA%\switchboard\config`). `None` when the platform has no home folder.
    pub fn platform() -> Option<Self> {
        let dir = match std::env::var_os(CONFIG_DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => directories::ProjectDirs::from("", "", "switchboard")?
                .config_dir()
                .to_path_buf(),
        };
        Some(Self::in_dir(&dir))
    }

    /// A store in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in the file; defaults (and a warning) when it is unreadable or invalid,
    /// defaults alone when there is no file yet.
    pub fn load(&self) -> Loaded {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Loaded {
                    settings: Settings::default(),
                    warning: None,
                }
            }
            Err(e) => return self.defaults_because(&e.to_string()),
        };
        match serde_json::from_str::<Settings>(&text) {
            Ok(settings) => Loaded {
                settings: settings.clamped(),
                warning: None,
            },
            Err(e) => self.defaults_because(&e.to_string()),
        }
    }

    fn defaults_because(&self, why: &str) -> Loaded {
        Loaded {
            settings: Settings::default(),
            warning: Some(format!(
                "Could not read the settings in {} ({why}); using the defaults. Saving settings will replace the file.",
                self.path.display()
            )),
        }
    }

    /// Writes the settings: to a temporary file first, then renamed over the old one, so a
    /// crash mid-write never leaves half a file.
    pub fn save(&self, settings: &Settings) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("can't save {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(settings).map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn no_file_gives_defaults_without_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = SettingsStore::in_dir(dir.path()).load();
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.warning, None);
    }

    #[test]
    fn settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_dir(&dir.path().join("nested"));
        let mut settings = Settings {
            listen_port: 4333,
            theme: Theme::Light,
            message_history: 500,
            last_view: View::Latency,
            ..Settings::default()
        };
        settings.put_template(Template {
            name: "add".into(),
            subject: "svc.add".into(),
            payload: "1 + 2".into(),
            mode: SendMode::Request,
            timeout_millis: 500,
            ..Template::default()
        });
        store.save(&settings).unwrap();
        let loaded = store.load();
        assert_eq!(loaded.warning, None);
        assert_eq!(loaded.settings, settings);
    }

    #[test]
    fn a_broken_file_gives_defaults_and_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        let loaded = SettingsStore::in_dir(dir.path()).load();
        assert_eq!(loaded.settings, Settings::default());
        let warning = loaded.warning.unwrap();
        assert!(warning.contains("settings.json"), "{warning}");
        assert!(warning.contains("using the defaults"), "{warning}");
    }

    #[test]
    fn a_wrong_type_is_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), r#"{"listen_port": "many"}"#).unwrap();
        let loaded = SettingsStore::in_dir(dir.path()).load();
        assert!(loaded.warning.is_some());
        assert_eq!(loaded.settings.listen_port, DEFAULT_PORT);
    }

    #[test]
    fn missing_and_unknown_keys_are_fine_and_values_are_clamped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            r#"{"theme": "system", "message_history": 5, "from_the_future": 1}"#,
        )
        .unwrap();
        let loaded = SettingsStore::in_dir(dir.path()).load();
        assert_eq!(loaded.warning, None);
        assert_eq!(loaded.settings.theme, Theme::System);
        assert_eq!(loaded.settings.message_history, MIN_HISTORY);
        assert_eq!(loaded.settings.listen_port, DEFAULT_PORT);
    }

    #[test]
    fn jetstream_is_on_by_default_in_the_data_folder() {
        let settings = Settings::default();
        assert!(settings.jetstream);
        assert_eq!(settings.jetstream_store_dir, "");
        let setting = settings.jetstream_setting();
        assert!(setting.enabled);
        assert_eq!(setting.store_dir, default_jetstream_store_dir());
        let options = setting.options().unwrap();
        assert_eq!(options.store_dir, default_jetstream_store_dir());
        assert_eq!(
            options.max_memory, None,
            "the engine's defaults for the limits"
        );
    }

    #[test]
    fn a_file_from_before_jetstream_gets_it_on_in_the_default_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            r#"{"listen_host": "127.0.0.1", "listen_port": 4333, "theme": "light",
                "latency_timeout_millis": 5000, "message_history": 10000,
                "templates": [], "last_view": "Overview"}"#,
        )
        .unwrap();
        let loaded = SettingsStore::in_dir(dir.path()).load();
        assert_eq!(loaded.warning, None);
        assert_eq!(loaded.settings.listen_port, 4333);
        assert!(loaded.settings.jetstream);
        assert_eq!(
            loaded.settings.jetstream_setting(),
            JetStreamSetting {
                enabled: true,
                store_dir: default_jetstream_store_dir(),
            }
        );
    }

    #[test]
    fn jetstream_off_and_its_folder_are_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_dir(dir.path());
        let settings = Settings {
            jetstream: false,
            jetstream_store_dir: "/srv/streams".into(),
            ..Settings::default()
        };
        store.save(&settings).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains(r#""jetstream": false"#), "{text}");
        let loaded = store.load().settings;
        assert_eq!(loaded, settings);
        let setting = loaded.jetstream_setting();
        assert_eq!(setting.store_dir, Some(PathBuf::from("/srv/streams")));
        assert_eq!(setting.options(), None, "off");
        // A blank folder is the default one.
        std::fs::write(store.path(), r#"{"jetstream_store_dir": "  "}"#).unwrap();
        let loaded = store.load().settings;
        assert_eq!(loaded.jetstream_store_dir, "");
        assert_eq!(
            loaded.jetstream_setting().store_dir,
            default_jetstream_store_dir()
        );
    }

    #[test]
    fn websocket_is_off_by_default_and_saved_when_on() {
        let settings = Settings::default();
        assert!(!settings.websocket);
        assert_eq!(settings.websocket_setting().options("127.0.0.1"), None);
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_dir(dir.path());
        let on = Settings {
            websocket: true,
            websocket_port: 9222,
            ..Settings::default()
        };
        store.save(&on).unwrap();
        let loaded = store.load().settings;
        assert_eq!(loaded, on);
        let options = loaded
            .broker_setting()
            .websocket
            .options("0.0.0.0")
            .expect("on");
        assert_eq!((options.host.as_str(), options.port), ("0.0.0.0", 9222));
        assert!(options.no_tls, "browsers on http:// pages need ws://");
        // A file from before the setting, or a port of 0, gets the default port.
        std::fs::write(store.path(), r#"{"websocket": true, "websocket_port": 0}"#).unwrap();
        let loaded = store.load().settings;
        assert_eq!(loaded.websocket_port, DEFAULT_WEBSOCKET_PORT);
    }

    #[test]
    fn the_leaf_setting_is_off_by_default_and_becomes_a_remote() {
        let settings = Settings::default();
        assert_eq!(settings.leaf_setting().options(), None);
        let on = Settings {
            leaf: true,
            leaf_urls: " nats://a:7422, tls://u:p@b.example\nnats-leaf://[::1]:7 ".into(),
            leaf_credentials: "/home/me/hub.creds".into(),
            leaf_account: "  ".into(),
            ..Settings::default()
        };
        let setting = on.leaf_setting();
        assert!(setting.problems().is_empty(), "{:?}", setting.problems());
        let remote = setting.options().expect("on");
        assert_eq!(
            remote.urls,
            [
                "nats://a:7422",
                "tls://u:p@b.example",
                "nats-leaf://[::1]:7"
            ]
        );
        assert_eq!(remote.account, None, "blank: the global account");
        assert_eq!(
            remote.credentials,
            Some(PathBuf::from("/home/me/hub.creds"))
        );
        // Saved and read back.
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_dir(dir.path());
        store.save(&on).unwrap();
        assert_eq!(store.load().settings, on);
    }

    #[test]
    fn unusable_hub_urls_are_problems_and_no_remote() {
        let with = |urls: &str| Settings {
            leaf: true,
            leaf_urls: urls.into(),
            ..Settings::default()
        };
        for (urls, says) in [
            ("", "Give the hub's URL"),
            ("ws://hub:443", "not served"),
            ("nats://:7422", "no host"),
            ("nats://hub:port", "not a port number"),
            ("nats://[::1:4222", "closing ]"),
        ] {
            let setting = with(urls).leaf_setting();
            let problems = setting.problems();
            assert!(
                problems.iter().any(|p| p.contains(says)),
                "{urls}: {problems:?}"
            );
            assert_eq!(setting.options(), None, "{urls}");
        }
        // Off: nothing to complain about.
        let off = Settings {
            leaf_urls: "ws://x".into(),
            ..Settings::default()
        };
        assert!(off.leaf_setting().problems().is_empty());
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let store = SettingsStore::in_dir(dir.path());
        assert!(store.load().warning.is_some());
        assert!(store.save(&Settings::default()).is_err());
    }

    #[test]
    fn a_template_of_the_same_name_is_replaced() {
        let mut settings = Settings::default();
        for (name, subject) in [("b", "x"), ("a", "y"), ("b", "z")] {
            settings.put_template(Template {
                name: name.into(),
                subject: subject.into(),
                ..Template::default()
            });
        }
        let names: Vec<_> = settings
            .templates
            .iter()
            .map(|t| (t.name.as_str(), t.subject.as_str()))
            .collect();
        assert_eq!(names, [("a", "y"), ("b", "z")]);
    }
}
