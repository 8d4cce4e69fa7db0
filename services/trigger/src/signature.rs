//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))
//! for each signing secret, space-separated, where a secret is `whsec_` + base64 of its bytes.
//! And the specification's retry schedule.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The key bytes of a `whsec_` + base64 secret; `None` for anything else.
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix("whsec_")?).ok()
}

/// What a signature covers: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: impl std::fmt::Display, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` value for `body` sent as message `id` at `timestamp` (Unix
/// seconds), one signature per secret. A secret that is not `whsec_` + base64 is skipped.
pub fn sign(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    let content = signed_content(id, timestamp, body);
    secrets
        .iter()
        .filter_map(|secret| key_of(secret))
        .map(|key| {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &content);
            format!("v1,{}", STANDARD.encode(tag.as_ref()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new signing secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The wait before attempt `next` (2 to 8) after attempt `next - 1` failed: immediately, then
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; `None` after the eighth.
pub fn retry_delay(next: i32) -> Option<Duration> {
    const SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];
    let index = usize::try_from(next.checked_sub(2)?).ok()?;
    SCHEDULE
        .get(index)
        .map(|seconds| Duration::from_secs(*seconds))
}

/// `delay` moved by up to a tenth either way, so that deliveries failing together do not
/// retry together.
pub fn with_jitter(delay: Duration) -> Duration {
    let tenth = delay.as_millis() as f64 / 10.0;
    let shift = rand::Rng::random_range(&mut rand::rng(), -tenth..=tenth);
    Duration::from_millis((delay.as_millis() as f64 + shift).max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_the_same() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let signature = sign(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_secret_signs_during_a_rotation() {
        let (one, two) = (new_secret(), new_secret());
        let both = sign(&[one.clone(), two.clone()], "id", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            parts,
            [sign(&[one], "id", 1, b"{}"), sign(&[two], "id", 1, b"{}")]
        );
        assert_eq!(sign(&["not a secret".into()], "id", 1, b"{}"), "");
    }

    #[test]
    fn the_retry_schedule_is_the_specifications() {
        let waits: Vec<Option<u64>> = (2..=9)
            .map(|n| retry_delay(n).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            waits,
            [
                Some(5),
                Some(300),
                Some(1800),
                Some(7200),
                Some(18000),
                Some(36000),
                Some(36000),
                None
            ]
        );
        assert_eq!(retry_delay(1), None);
        for _ in 0..100 {
            let jittered = with_jitter(Duration::from_secs(300)).as_secs_f64();
            assert!((270.0..=330.0).contains(&jittered), "{jittered}");
        }
    }
}
