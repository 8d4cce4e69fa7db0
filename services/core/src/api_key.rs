//! The API key format: `s4e_` + 32 random base62 characters + a 6-character checksum.
//!
//! The fixed prefix and the checksum let secret scanners recognise a leaked key without a
//! lookup, and let the gateway refuse a mistyped key before any I/O. Only the SHA-256 of the
//! whole key is stored.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "s4e_";
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
const KEY_LEN: usize = PREFIX.len() + SECRET_LEN + CHECKSUM_LEN;
/// How much of the key is kept in clear to tell keys apart.
const DISPLAY_PREFIX_LEN: usize = PREFIX.len() + 6;

pub struct GeneratedKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> GeneratedKey {
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let sum = checksum(&secret);
    let sum = std::str::from_utf8(&sum).expect("base62 digits");
    let key = format!("{PREFIX}{secret}{sum}");
    GeneratedKey {
        prefix: key[..DISPLAY_PREFIX_LEN].to_string(),
        hash: hash(&key),
        key,
    }
}

/// The stored form of a key: lowercase hex SHA-256. Keys are 190 random bits, so a fast hash
/// is enough; a slow password hash would only slow every request.
pub fn hash(key: &str) -> String {
    hex::encode(digest(key))
}

/// The SHA-256 of a key, whose hex is [`hash`]: what the gateway's key cache is keyed by.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// True when `key` has the shape of one of our keys and its checksum matches.
pub fn well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return false;
    };
    if key.len() != KEY_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (secret, sum) = rest.split_at(SECRET_LEN);
    checksum(secret) == sum.as_bytes()
}

/// Six base62 digits of the first eight bytes of SHA-256(secret).
fn checksum(secret: &str) -> [u8; CHECKSUM_LEN] {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(secret.as_bytes());
    let mut value = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
    let mut out = [0u8; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value % 62) as usize];
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key, b.key);
        assert!(well_formed(&a.key), "{}", a.key);
        assert_eq!(a.key.len(), KEY_LEN);
        assert!(a.key.starts_with(&a.prefix));
        assert_eq!(a.hash, hash(&a.key));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn tampered_keys_are_not_well_formed() {
        let key = generate().key;
        let mut chars: Vec<char> = key.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let tampered: String = chars.into_iter().collect();
        assert!(!well_formed(&tampered));
        assert!(!well_formed(&key[..key.len() - 1]));
        assert!(!well_formed(&key.replace("s4e_", "xyz_")));
        assert!(!well_formed(""));
    }
}
