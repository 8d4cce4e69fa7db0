//! Session secrets and the cookie that carries them. The secret is 32 random bytes; Redis keeps
//! the session under the secret's SHA-256 (the session id users see and revoke by).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "s4e_session";
/// The header that must repeat the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh session secret (64 hex characters) and its id.
pub fn generate() -> (String, String) {
    let secret = random_hex();
    let id = id_of(&secret);
    (secret, id)
}

/// A random 256-bit value in hex: session secrets and CSRF tokens.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn id_of(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The session secret from the request's cookies; a malformed value counts as none.
pub fn from_cookies(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The cookie that carries a new session: not readable by scripts (HttpOnly), sent only over
/// HTTPS (Secure) and never on cross-site requests (SameSite=Strict).
pub fn set_cookie(secret: &str, max_age_seconds: u64) -> String {
    format!(
        "{COOKIE_NAME}={secret}; Path=/; Max-Age={max_age_seconds}; HttpOnly; Secure; SameSite=Strict"
    )
}

/// The cookie that makes the browser forget the session.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn secrets_are_random_and_ids_are_their_hashes() {
        let (secret, id) = generate();
        let (other, _) = generate();
        assert_ne!(secret, other);
        assert_eq!(secret.len(), 64);
        assert_eq!(id, id_of(&secret));
        assert_ne!(id, secret);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let (secret, _) = generate();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE_NAME}={secret}; lang=en")).unwrap(),
        );
        assert_eq!(from_cookies(&headers), Some(secret.as_str()));
        headers.insert(COOKIE, HeaderValue::from_static("s4e_session=short"));
        assert_eq!(from_cookies(&headers), None);
        assert!(set_cookie(&secret, 60).contains("HttpOnly; Secure; SameSite=Strict"));
    }
}
