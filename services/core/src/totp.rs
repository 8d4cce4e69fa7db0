//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the second
//! factor authenticator apps speak. Base keeps the secrets sealed (`s4e_secrets::SecretBox`,
//! purpose [`SEALING_PURPOSE`]) so that a database dump alone does not yield them.

use rand::RngCore;
use ring::hmac;

const STEP_SECONDS: u64 = 30;
const DIGITS: u32 = 6;
/// Codes of the neighbouring steps are accepted too: phones' clocks drift.
const WINDOW: u64 = 1;
pub const SECRET_LEN: usize = 20;
/// The key derivation's salt for TOTP secrets (unchanged since they were first sealed).
pub const SEALING_PURPOSE: &[u8] = b"s4e totp secrets";

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
}
