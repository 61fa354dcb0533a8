//! Account resolvers (operator mode): where account JWTs are found by public key.
//!
//! - `MEMORY`: the preloaded JWTs, and updates, kept in memory.
//! - full directory: every JWT as `<dir>/<public key>.jwt`, as nats-server's `DirJWTStore`
//!   keeps them (not sharded), so a directory can move between the two servers. Deletion
//!   renames to `.jwt.deleted` unless `hard_delete`.
//!
//! Files are named only after valid public account keys, so a request cannot reach outside
//! the directory.

use std::collections::HashMap;
use std::path::PathBuf;

use parking_lot::{Mutex, RwLock};

use crate::options::{DirResolverOptions, ResolverOptions};

const EXTENSION: &str = ".jwt";

#[derive(Debug)]
pub enum Resolver {
    Memory(RwLock<HashMap<String, String>>),
    Dir(DirStore),
}

/// The full resolver's directory.
#[derive(Debug)]
pub struct DirStore {
    pub opts: DirResolverOptions,
    /// Serialises writes (a read needs no lock: files are replaced whole).
    write: Mutex<()>,
}

fn valid_account_key(key: &str) -> bool {
    key.starts_with('A') && nkeys::KeyPair::from_public_key(key).is_ok()
}

impl Resolver {
    /// The resolver the options ask for; `Err` says why the directory cannot be used.
    pub fn new(opts: &ResolverOptions) -> Result<Resolver, String> {
        Ok(match opts {
            ResolverOptions::Memory => Resolver::Memory(RwLock::new(HashMap::new())),
            ResolverOptions::Full(dir) => {
                std::fs::create_dir_all(&dir.dir)
                    .map_err(|e| format!("resolver directory {}: {e}", dir.dir.display()))?;
                Resolver::Dir(DirStore {
                    opts: dir.clone(),
                    write: Mutex::new(()),
                })
            }
        })
    }

    /// Whether this is the full directory resolver (it serves `$SYS.REQ.CLAIMS.*`).
    pub fn is_dir(&self) -> bool {
        matches!(self, Resolver::Dir(_))
    }

    /// The account JWT stored for `key`.
    pub fn fetch(&self, key: &str) -> Option<String> {
        match self {
            Resolver::Memory(map) => map.read().get(key).cloned(),
            Resolver::Dir(d) => d.load(key),
        }
    }

    /// Stores `token` for `key`; `Ok(false)` when it was already there.
    pub fn store(&self, key: &str, token: &str) -> Result<bool, String> {
        match self {
            Resolver::Memory(map) => {
                let old = map.write().insert(key.to_string(), token.to_string());
                Ok(old.as_deref() != Some(token))
            }
            Resolver::Dir(d) => d.save(key, token),
        }
    }

    /// Whether deleting account JWTs is allowed (`allow_delete` of the full resolver).
    pub fn allows_delete(&self) -> bool {
        matches!(self, Resolver::Dir(d) if d.opts.allow_delete)
    }

    /// Deletes the account JWT of `key` (the full resolver with `allow_delete` only).
    pub fn delete(&self, key: &str) -> Result<(), String> {
        match self {
            Resolver::Memory(_) => Err("store is not set up to for delete".to_string()),
            Resolver::Dir(d) => d.delete(key),
        }
    }

    /// The public keys of every stored account JWT, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut keys: Vec<String> = match self {
            Resolver::Memory(map) => map.read().keys().cloned().collect(),
            Resolver::Dir(d) => d.keys(),
        };
        keys.sort();
        keys
    }
}

impl DirStore {
    fn path(&self, key: &str) -> Option<PathBuf> {
        valid_account_key(key).then(|| self.opts.dir.join(format!("{key}{EXTENSION}")))
    }

    fn load(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.path(key)?).ok()
    }

    /// nats-server's `DirJWTStore.save`: writes the JWT unless it is the same; refuses a new
    /// account past `limit`.
    fn save(&self, key: &str, token: &str) -> Result<bool, String> {
        let path = self.path(key).ok_or("invalid public key")?;
        if token.is_empty() {
            return Err("invalid JWT".to_string());
        }
        let _guard = self.write.lock();
        match std::fs::read_to_string(&path) {
            Ok(old) if old == token => return Ok(false),
            Ok(_) => {}
            Err(_) => {
                if self.opts.limit > 0 && self.keys().len() as i64 >= self.opts.limit {
                    return Err("jwt store is full".to_string());
                }
            }
        }
        // Write beside and rename, so a reader never sees half a JWT.
        let tmp = self.opts.dir.join(format!(".{key}{EXTENSION}.tmp"));
        std::fs::write(&tmp, token)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// nats-server's `DirJWTStore.delete`: renames to `.deleted`, or removes with
    /// `hard_delete`.
    pub fn delete(&self, key: &str) -> Result<(), String> {
        if !self.opts.allow_delete {
            return Err("store is not set up to for delete".to_string());
        }
        let path = self.path(key).ok_or("invalid public key")?;
        let _guard = self.write.lock();
        let done = if self.opts.hard_delete {
            std::fs::remove_file(&path)
        } else {
            let mut deleted = path.clone().into_os_string();
            deleted.push(".deleted");
            std::fs::rename(&path, deleted)
        };
        match done {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn keys(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.opts.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let key = name.strip_suffix(EXTENSION)?;
                valid_account_key(key).then(|| key.to_string())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn dir_resolver(dir: &std::path::Path, limit: i64, allow_delete: bool) -> Resolver {
        Resolver::new(&ResolverOptions::Full(DirResolverOptions {
            dir: dir.to_path_buf(),
            allow_delete,
            hard_delete: false,
            interval: crate::options::DEFAULT_RESOLVER_INTERVAL,
            limit,
        }))
        .unwrap()
    }

    #[test]
    fn the_directory_keeps_one_file_per_account_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir_resolver(dir.path(), 2, false);
        let (a, b, c) = (
            nkeys::KeyPair::new_account().public_key(),
            nkeys::KeyPair::new_account().public_key(),
            nkeys::KeyPair::new_account().public_key(),
        );
        assert_eq!(r.store(&a, "jwt-a"), Ok(true));
        assert_eq!(r.store(&a, "jwt-a"), Ok(false));
        assert_eq!(r.store(&b, "jwt-b"), Ok(true));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(format!("{a}.jwt"))).unwrap(),
            "jwt-a"
        );
        // Past the limit a new account is refused; an update of a stored one is not.
        assert_eq!(r.store(&c, "jwt-c"), Err("jwt store is full".to_string()));
        assert_eq!(r.store(&b, "jwt-b2"), Ok(true));
        let mut keys = vec![a.clone(), b.clone()];
        keys.sort();
        assert_eq!(r.list(), keys);
        // Names that are not account keys never become paths.
        assert!(r.store("../escape", "x").is_err());
        assert!(r
            .store(&nkeys::KeyPair::new_user().public_key(), "x")
            .is_err());
        assert_eq!(r.fetch("../escape"), None);
        let Resolver::Dir(store) = &r else {
            panic!("a directory resolver");
        };
        assert!(store.delete(&a).is_err(), "delete is not allowed");
    }

    #[test]
    fn deleting_renames_unless_hard_delete() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir_resolver(dir.path(), 0, true);
        let a = nkeys::KeyPair::new_account().public_key();
        r.store(&a, "jwt").unwrap();
        let Resolver::Dir(store) = &r else {
            panic!("a directory resolver");
        };
        store.delete(&a).unwrap();
        assert_eq!(r.fetch(&a), None);
        assert!(dir.path().join(format!("{a}.jwt.deleted")).exists());
        assert!(r.list().is_empty());
    }
}
