//! Request budgets of the crawl, per target host and per organization, in requests per second,
//! counted in Redis (`s4e_store::RateLimiter`'s fixed windows) so that every stage and every
//! replica spends from the same budget, and a restarted crawler from what is left of the
//! current second. A request over a budget waits for the next window. With Redis away the
//! crawl goes on unbudgeted (logged): politeness must not stop a scan.

use std::time::Duration;

use s4e_store::RateLimiter;
use s4e_types::OrgId;

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Politeness {
    limiter: RateLimiter,
    /// Requests per second to one host (0: no budget).
    per_host: u32,
    /// Requests per second of one organization's crawls (0: no budget).
    per_organization: u32,
}

impl Politeness {
    pub fn new(limiter: RateLimiter, per_host: u32, per_organization: u32) -> Self {
        Politeness {
            limiter,
            per_host,
            per_organization,
        }
    }

    /// Waits until one more request to `host` for `org_id` fits its budgets.
    pub async fn admit(&self, org_id: OrgId, host: &str) {
        let host_bucket = format!("crawl:host:{}", host.to_ascii_lowercase());
        let org_bucket = format!("crawl:org:{org_id}");
        let mut buckets: Vec<(&str, u32)> = Vec::with_capacity(2);
        if self.per_host > 0 {
            buckets.push((&host_bucket, self.per_host));
        }
        if self.per_organization > 0 {
            buckets.push((&org_bucket, self.per_organization));
        }
        if buckets.is_empty() {
            return;
        }
        loop {
            let decisions = match self.limiter.hit_all(&buckets, WINDOW).await {
                Ok(decisions) => decisions,
                Err(error) => {
                    tracing::warn!(%error, "crawl budgets unavailable, going on without them");
                    return;
                }
            };
            let Some(wait) = decisions
                .iter()
                .filter(|decision| !decision.allowed)
                .map(|decision| decision.reset_after)
                .max()
            else {
                return;
            };
            tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn replicas_share_one_host_budget() {
        let env = s4e_test_support::TestEnv::new().await.unwrap();
        let redis = s4e_store::Redis::connect(&env.redis_url, None)
            .await
            .unwrap();
        let replica = || Politeness::new(RateLimiter::new(&redis, &env.namespace), 10, 0);
        let (first, second) = (replica(), replica());
        let org = OrgId::new();
        let started = Instant::now();
        // 30 requests at 10 a second from two replicas: at least two windows must end first.
        let each = |politeness: Politeness| async move {
            for _ in 0..15 {
                politeness.admit(org, "Shop.test").await;
            }
        };
        tokio::join!(each(first), each(second));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        // Another host has a budget of its own.
        let other = Instant::now();
        let third = replica();
        for _ in 0..10 {
            third.admit(org, "other.test").await;
        }
        assert!(
            other.elapsed() < Duration::from_millis(900),
            "{:?}",
            other.elapsed()
        );
        env.cleanup().await.unwrap();
    }
}
