//! Concurrency leases in Redis: how many jobs run at once per organization and per target host,
//! across every worker. One sorted set per limited thing, members the holders (job ids) scored
//! by when their lease expires; expired leases are pruned before counting, so a killed worker's
//! slots come back when its leases expire, without anyone releasing them.

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::Redis;
use crate::error::StoreError;

/// Takes a lease on every key or on none. KEYS: the sets; ARGV[1] the holder, ARGV[2] the lease
/// in ms, ARGV[2 + i] the limit of KEYS[i]. Returns 0 when taken, else the index of a full key.
/// A holder that already holds a key (a redelivered job) renews it rather than counting twice.
const ACQUIRE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, ARGV[1]) then
    if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
      return i
    end
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return 0
";

/// A limit on concurrent holders of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseLimit {
    /// What is limited, e.g. `org:<id>` or `host:example.com` (namespaced by the store).
    pub key: String,
    pub limit: u32,
}

#[derive(Clone)]
pub struct Leases {
    connection: ConnectionManager,
    prefix: String,
}

impl Leases {
    /// Connects to Redis; every key is prefixed by `namespace`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        Ok(Self::new(&Redis::connect(url, None).await?, namespace))
    }

    /// On a connection the service shares.
    pub fn new(redis: &Redis, namespace: &str) -> Self {
        Self {
            connection: redis.connection.clone(),
            prefix: namespace.to_string(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:lease:{key}", self.prefix)
    }

    /// Takes a lease of `ttl` for `holder` on every limit, or on none. `Ok(Some(key))` names a
    /// limit that is reached; `Ok(None)` means the leases are held.
    pub async fn acquire(
        &self,
        limits: &[LeaseLimit],
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        if limits.is_empty() {
            return Ok(None);
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("EVAL");
        command.arg(ACQUIRE).arg(limits.len());
        for limit in limits {
            command.arg(self.key(&limit.key));
        }
        command
            .arg(holder)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        for limit in limits {
            command.arg(limit.limit);
        }
        let full: usize = command.query_async(&mut connection).await?;
        Ok(full
            .checked_sub(1)
            .and_then(|index| limits.get(index))
            .map(|limit| limit.key.clone()))
    }

    /// Gives the leases of `holder` back.
    pub async fn release(&self, limits: &[LeaseLimit], holder: &str) -> Result<(), StoreError> {
        if limits.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection.clone();
        let mut pipeline = redis::pipe();
        for limit in limits {
            pipeline
                .cmd("ZREM")
                .arg(self.key(&limit.key))
                .arg(holder)
                .ignore();
        }
        pipeline.query_async::<()>(&mut connection).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(key: &str, limit: u32) -> LeaseLimit {
        LeaseLimit {
            key: key.into(),
            limit,
        }
    }

    #[tokio::test]
    async fn leases_are_capped_all_or_nothing_renewed_released_and_expire() {
        let env = s4e_test_support::TestEnv::new().await.unwrap();
        let leases = Leases::connect(&env.redis_url, &env.namespace)
            .await
            .unwrap();
        let long = Duration::from_secs(60);
        let host = [limit("host:a", 1), limit("org:1", 2)];
        assert_eq!(leases.acquire(&host, "job-1", long).await.unwrap(), None);
        // Again by the same holder (a redelivery): renewed, not counted twice.
        assert_eq!(leases.acquire(&host, "job-1", long).await.unwrap(), None);
        assert_eq!(
            leases.acquire(&host, "job-2", long).await.unwrap(),
            Some("host:a".to_string())
        );
        // Refused on the host, so nothing was taken on the organization: one slot is left.
        let other_host = [limit("host:b", 1), limit("org:1", 2)];
        assert_eq!(
            leases.acquire(&other_host, "job-3", long).await.unwrap(),
            None
        );
        assert_eq!(
            leases
                .acquire(&[limit("host:c", 1), limit("org:1", 2)], "job-4", long)
                .await
                .unwrap(),
            Some("org:1".to_string())
        );
        leases.release(&host, "job-1").await.unwrap();
        assert_eq!(leases.acquire(&host, "job-2", long).await.unwrap(), None);

        // A holder that never releases (a killed worker) loses its lease when it expires.
        let short = [limit("host:z", 1)];
        assert_eq!(
            leases
                .acquire(&short, "killed", Duration::from_millis(100))
                .await
                .unwrap(),
            None
        );
        assert!(
            leases
                .acquire(&short, "next", long)
                .await
                .unwrap()
                .is_some()
        );
        s4e_test_support::wait_for("the lease to expire", Duration::from_secs(5), || async {
            leases
                .acquire(&short, "next", long)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await
        .unwrap();
        env.cleanup().await.unwrap();
    }
}
