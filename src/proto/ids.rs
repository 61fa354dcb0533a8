//! The identifiers nats-server makes of base-62 digits: event ids (a NUID's 22 characters)
//! and short hashes of names (a server's `shash`, a stream's identity).

use sha2::Digest;

/// nats-server's base-62 digits, in its order.
const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh event id, shaped as nats-server's `nuid.Next()`: 22 base-62 characters.
pub fn event_id() -> String {
    random(22)
}

/// `len` random base-62 characters.
pub fn random(len: usize) -> String {
    (0..len)
        .map(|_| char::from(DIGITS[fastrand::usize(..DIGITS.len())]))
        .collect()
}

/// nats-server's `getHashSize`: the first `len` bytes of the SHA-256 of `name`, each as a
/// base-62 digit (at most 32).
pub fn name_hash(name: &str, len: usize) -> String {
    let sum = sha2::Sha256::digest(name.as_bytes());
    sum.iter()
        .take(len)
        .map(|b| char::from(DIGITS[usize::from(*b) % DIGITS.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hashes_are_base62() {
        let id = event_id();
        assert_eq!(id.len(), 22);
        assert!(id.bytes().all(|b| DIGITS.contains(&b)));
        assert_ne!(event_id(), id);
        let h = name_hash("srv", 8);
        assert_eq!(h.len(), 8);
        assert_eq!(h, name_hash("srv", 8), "stable");
        assert_ne!(h, name_hash("srv2", 8));
    }
}
