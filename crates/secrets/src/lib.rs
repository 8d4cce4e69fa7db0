//! Secrets the platform must read back (TOTP seeds, webhook signing secrets), sealed for
//! storage with AES-256-GCM under a key derived (HKDF-SHA256) from the deployment's
//! `S4E_SECRETS_KEY` and the secret's purpose: a database dump alone does not yield them, and a
//! value sealed for one purpose does not open for another.

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;

/// Seals and opens secrets with a key derived from the deployment's secret and a purpose (each
/// purpose its own key).
#[derive(Clone)]
pub struct SecretBox {
    key: std::sync::Arc<LessSafeKey>,
}

struct KeyLength;

impl hkdf::KeyType for KeyLength {
    fn len(&self) -> usize {
        32
    }
}

impl SecretBox {
    pub fn new(master: &[u8], purpose: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, purpose);
        let prk = salt.extract(master);
        let info: &[&[u8]] = &[b"aes-256-gcm v1"];
        let okm = prk
            .expand(info, KeyLength)
            .expect("32 bytes is a valid HKDF-SHA256 output");
        let mut bytes = [0u8; 32];
        okm.fill(&mut bytes)
            .expect("the buffer has the asked length");
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte AES key");
        Self {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
        }
    }

    /// `v1:` + hex(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("v1:{}", hex::encode(out))
    }

    /// The secret, or `None` when the value was not sealed with this key.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = hex::decode(sealed.strip_prefix("v1:")?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut rest = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut rest)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let sealer = SecretBox::new(b"a deployment secret of some length", b"test");
        let sealed = sealer.seal(b"12345678901234567890");
        assert!(sealed.starts_with("v1:"));
        assert_ne!(sealer.seal(b"12345678901234567890"), sealed, "fresh nonce");
        assert_eq!(sealer.open(&sealed).unwrap(), b"12345678901234567890");
        let other = SecretBox::new(b"another deployment secret", b"test");
        assert!(other.open(&sealed).is_none());
        assert!(sealer.open("v1:00").is_none());
        assert!(sealer.open("plain").is_none());
    }

    #[test]
    fn each_purpose_has_its_own_key() {
        let totp = SecretBox::new(b"a deployment secret of some length", b"one");
        let hooks = SecretBox::new(b"a deployment secret of some length", b"two");
        assert!(hooks.open(&totp.seal(b"secret")).is_none());
    }
}
