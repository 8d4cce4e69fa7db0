//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the second
//! factor authenticator apps speak, and the sealing of TOTP secrets for storage: base keeps
//! them encrypted (AES-256-GCM) so that a database dump alone does not yield them.

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{hkdf, hmac};

const STEP_SECONDS: u64 = 30;
const DIGITS: u32 = 6;
/// Codes of the neighbouring steps are accepted too: phones' clocks drift.
const WINDOW: u64 = 1;
pub const SECRET_LEN: usize = 20;

pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// RFC 4648 base32 without padding, as authenticator apps expect it.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes RFC 4648 base32 (padding and case ignored); `None` for any other character.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The HOTP value of `secret` at counter `step`, `digits` long.
fn hotp(secret: &[u8], step: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let digest = tag.as_ref();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(digits)
}

/// The step a code matches at `now` (Unix seconds), if any; the caller refuses a step already
/// used, so a code cannot be replayed within its lifetime.
pub fn verify(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = now / STEP_SECONDS;
    (current.saturating_sub(WINDOW)..=current + WINDOW)
        .find(|step| hotp(secret, *step, DIGITS) == wanted)
}

/// The code of `secret` at `now`: what an authenticator app shows.
pub fn code_at(secret: &[u8], now: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, now / STEP_SECONDS, DIGITS),
        width = DIGITS as usize
    )
}

/// The `otpauth://` URI an authenticator app scans (as a QR code) to enrol.
pub fn otpauth_uri(email: &str, secret: &[u8]) -> String {
    let label: String = url_escape(&format!("S4E:{email}"));
    format!(
        "otpauth://totp/{label}?secret={}&issuer=S4E&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret)
    )
}

fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Seals and opens TOTP secrets with a key derived from the deployment's secret.
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
    pub fn new(master: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"s4e totp secrets");
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
    fn rfc_6238_sha1_vectors() {
        // Appendix B of RFC 6238, truncated to six digits.
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, time), eight_digits[2..], "at {time}");
            assert_eq!(
                format!("{:08}", hotp(secret, time / STEP_SECONDS, 8)),
                eight_digits
            );
        }
    }

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let secret = generate_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        assert_eq!(verify(&secret, &code, now), Some(now / STEP_SECONDS));
        assert!(verify(&secret, &code, now + STEP_SECONDS).is_some());
        assert!(verify(&secret, &code, now + 3 * STEP_SECONDS).is_none());
        assert!(verify(&secret, "12345", now).is_none());
        assert!(verify(&secret, "abcdef", now).is_none());
    }

    #[test]
    fn base32_and_the_enrolment_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32("mzxw6ytboi").unwrap(), b"foobar");
        let secret = generate_secret();
        assert_eq!(from_base32(&base32(&secret)).unwrap(), secret);
        assert!(from_base32("not base32!").is_none());
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let uri = otpauth_uri("ann@example.com", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/S4E:ann@example.com?secret=GEZDG"),
            "{uri}"
        );
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let sealer = SecretBox::new(b"a deployment secret of some length");
        let sealed = sealer.seal(b"12345678901234567890");
        assert!(sealed.starts_with("v1:"));
        assert_ne!(sealer.seal(b"12345678901234567890"), sealed, "fresh nonce");
        assert_eq!(sealer.open(&sealed).unwrap(), b"12345678901234567890");
        let other = SecretBox::new(b"another deployment secret");
        assert!(other.open(&sealed).is_none());
        assert!(sealer.open("v1:00").is_none());
        assert!(sealer.open("plain").is_none());
    }
}
