//! nats-server's configuration file format, read into [`Options`].
//!
//! [`parser`] turns text into a [`Map`] tree (see its docs for the syntax), and [`apply`] maps
//! that tree onto [`Options`]. Use [`apply_config_file`] for a file on disk.
//!
//! Errors name the file, line and column (and, for bad values, the key); warnings are returned
//! as ready-to-print strings in the same `file:line:col: message` form.
//!
//! **Unknown keys are warnings, not errors.** nats-server refuses a configuration with an
//! unknown top-level key (or an unknown field inside `authorization`, `tls`, users,
//! permissions...) unless the embedding program calls `NoErrOnUnknownFields`; keys that are
//! only used as `$variables` are exempt. switchboard reports such keys as warnings instead
//! (`config key "foo" is unknown and is ignored`) because a drop-in replacement must not refuse
//! a file that a newer nats-server would accept, while keys nats-server knows but switchboard
//! does not serve yet (`cluster`, `mqtt`, `jetstream.cipher`, ...) are warned about as
//! `config key "cluster" is not supported yet and is ignored`.
//!
//! JetStream's keys (`jetstream`, `store_dir`, an account's `jetstream`) are read by
//! `jetstream.rs` into [`Options::jetstream`] and `AccountConfig::jetstream`.

pub mod apply;
mod auth;
mod imports;
mod jetstream;
mod leafnodes;
mod operator;
pub mod parser;
pub mod value;
mod websocket;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod imports_tests;
#[cfg(test)]
mod jetstream_tests;
#[cfg(test)]
mod leafnodes_tests;
#[cfg(test)]
mod operator_tests;
#[cfg(test)]
mod syntax_tests;
#[cfg(test)]
mod websocket_tests;

use std::path::{Path, PathBuf};

use crate::options::Options;

pub use apply::apply_map;
pub use parser::{parse_file, parse_str, parse_str_with_env};
pub use value::{Entry, Kind, Map, Pos, Value};

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or an included file) could not be read.
    #[error("error opening config file {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Malformed syntax, or a variable that cannot be resolved.
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    /// An included file failed; `error` says why.
    #[error("{pos}: error parsing include file '{include}': {error}")]
    Include {
        pos: Pos,
        include: String,
        error: Box<ConfigError>,
    },
    /// A well-formed value that is wrong for its key (type, range, format, conflicts).
    #[error("{pos}: invalid \"{key}\": {message}")]
    Invalid {
        pos: Pos,
        /// The key path, e.g. `authorization.users[1].permissions.publish`.
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// Where the error is, innermost first for include failures.
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { pos, .. } | ConfigError::Invalid { pos, .. } => Some(pos),
            ConfigError::Include { pos, error, .. } => error.pos().or(Some(pos)),
        }
    }

    /// The line of [`ConfigError::pos`].
    pub fn line(&self) -> Option<u32> {
        self.pos().map(|p| p.line)
    }
}

/// Reads `path` and applies it to `opts`. Returns the warnings (unsupported or unknown keys,
/// deprecated forms) to show the user.
pub fn apply_config_file(path: &Path, opts: &mut Options) -> Result<Vec<String>, ConfigError> {
    let map = parse_file(path)?;
    let mut warnings = Vec::new();
    if map.is_empty() {
        warnings.push(format!(
            "{}: config has no values or is empty",
            path.display()
        ));
    }
    warnings.extend(apply_map(&map, opts)?);
    Ok(warnings)
}

/// Applies configuration text to `opts` (includes are relative to the working directory).
pub fn apply_config_str(text: &str, opts: &mut Options) -> Result<Vec<String>, ConfigError> {
    let map = parse_str(text, None)?;
    apply_map(&map, opts)
}
