//! Connecting to a dependency that may not be up yet.

use std::fmt::Display;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Exponential back-off between attempts, capped so a recovered dependency is noticed quickly.
pub fn backoff(attempt: u32) -> Duration {
    let millis = 100u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(millis.min(5_000))
}

/// Calls `attempt` until it succeeds, `deadline` passes, or shutdown is requested; logs each
/// failure. Returns the last error when giving up.
pub async fn with_retries<T, E, F, Fut>(
    what: &str,
    deadline: Duration,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> Result<T, E>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let wait = backoff(tries);
                if started.elapsed() + wait > deadline || shutdown.is_cancelled() {
                    tracing::error!(dependency = what, %error, tries = tries + 1, "giving up connecting");
                    return Err(error);
                }
                tracing::warn!(dependency = what, %error, retry_in_ms = wait.as_millis() as u64, "connection failed, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return Err(error),
                }
                tries += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_millis(5_000));
    }

    #[tokio::test]
    async fn retries_until_success_and_gives_up_at_deadline() {
        let token = CancellationToken::new();
        let mut calls = 0;
        let result: Result<u32, String> =
            with_retries("thing", Duration::from_secs(5), &token, || {
                calls += 1;
                let outcome = if calls < 3 {
                    Err("down".to_string())
                } else {
                    Ok(calls)
                };
                async move { outcome }
            })
            .await;
        assert_eq!(result, Ok(3));

        let result: Result<(), String> =
            with_retries("thing", Duration::from_millis(50), &token, || async {
                Err("down".to_string())
            })
            .await;
        assert_eq!(result, Err("down".to_string()));
    }
}
