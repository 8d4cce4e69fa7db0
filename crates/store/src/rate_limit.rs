//! Fixed-window rate limiting in Redis. One bucket is one counter key that expires with its
//! window; a request increments every bucket it counts against in one round trip (one `EVAL`).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::StoreError;

/// How long one decision may take before the caller treats Redis as away.
const DEADLINE: Duration = Duration::from_secs(2);

/// For each key: count this hit, start the window on the first one (or on a key that somehow
/// lost its expiry), and return the count and the milliseconds left in the window.
/// ARGV[1] is the window in milliseconds.
const HIT: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if count == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = count
  out[#out + 1] = ttl
end
return out
";

/// The outcome of one hit on one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests left in the current window after this one.
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
}

impl RateDecision {
    fn new(limit: u32, count: u64, ttl_ms: i64) -> Self {
        Self {
            allowed: count <= u64::from(limit),
            limit,
            remaining: u64::from(limit)
                .saturating_sub(count)
                .try_into()
                .unwrap_or(u32::MAX),
            reset_after: Duration::from_millis(ttl_ms.max(0).unsigned_abs()),
        }
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    connection: ConnectionManager,
    prefix: String,
}

impl RateLimiter {
    /// Connects to Redis; every key is prefixed by `namespace`. Calls fail fast (short
    /// connection and response timeouts, few reconnection attempts) so that a caller can apply
    /// its fail-open or fail-closed policy instead of hanging while Redis is away.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            prefix: namespace.to_string(),
        })
    }

    fn key(&self, bucket: &str) -> String {
        format!("{}:ratelimit:{bucket}", self.prefix)
    }

    /// Counts one request against `bucket`, allowing `limit` per `window`. One round trip.
    pub async fn hit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError> {
        let decisions = self.hit_all(&[(bucket, limit)], window).await?;
        decisions
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Convert("empty rate-limit reply".into()))
    }

    /// Counts one request against every `(bucket, limit)`, all in one round trip; the
    /// decisions come back in the same order.
    pub async fn hit_all(
        &self,
        buckets: &[(&str, u32)],
        window: Duration,
    ) -> Result<Vec<RateDecision>, StoreError> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut command = redis::cmd("EVAL");
        command.arg(HIT).arg(buckets.len());
        for (bucket, _) in buckets {
            command.arg(self.key(bucket));
        }
        command.arg(window_ms);
        let mut connection = self.connection.clone();
        let reply: Vec<i64> =
            match tokio::time::timeout(DEADLINE, command.query_async(&mut connection)).await {
                Ok(reply) => reply?,
                Err(_) => {
                    return Err(StoreError::Redis(redis::RedisError::from(
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "rate limit timed out"),
                    )));
                }
            };
        if reply.len() != buckets.len() * 2 {
            return Err(StoreError::Convert(format!(
                "rate-limit reply has {} values for {} buckets",
                reply.len(),
                buckets.len()
            )));
        }
        Ok(buckets
            .iter()
            .zip(reply.chunks_exact(2))
            .map(|((_, limit), pair)| {
                RateDecision::new(*limit, pair[0].max(0).unsigned_abs(), pair[1])
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_counts_down_and_refuses_past_the_limit() {
        let first = RateDecision::new(3, 1, 60_000);
        assert!(first.allowed);
        assert_eq!(first.remaining, 2);
        assert_eq!(first.reset_after, Duration::from_secs(60));
        let last = RateDecision::new(3, 3, 10);
        assert!(last.allowed);
        assert_eq!(last.remaining, 0);
        let over = RateDecision::new(3, 4, -2);
        assert!(!over.allowed);
        assert_eq!(over.remaining, 0);
        assert_eq!(over.reset_after, Duration::ZERO);
    }
}
