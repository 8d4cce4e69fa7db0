//! Live progress of scan runs in Redis: one hash per run, expiring a day after its last update.
//! PostgreSQL (through base) stays the record; this is the cheap view for polling clients.

use redis::aio::ConnectionManager;
use s4e_types::RunId;
use s4e_types::api::{CrawlProgress, RunProgress};

use crate::Redis;
use crate::error::StoreError;

const TTL_SECONDS: i64 = 24 * 3600;

/// One round trip, atomic: write unless the stored snapshot has more jobs done.
const SET_IF_NOT_OLDER: &str = r"
local stored = tonumber(redis.call('HGET', KEYS[1], 'jobs_done') or '-1')
if tonumber(ARGV[3]) >= stored then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'jobs_total', ARGV[2],
             'jobs_done', ARGV[3], 'findings', ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0
";

/// The crawl's fields of a run's hash, written unless the stored snapshot is further along (a
/// later stage, or as far with more URLs done).
const SET_CRAWL_IF_NOT_OLDER: &str = r"
local stage = redis.call('HGET', KEYS[1], 'crawl_stage')
local rank = function(s) if s == 'finish' then return 1 else return 0 end end
local done = tonumber(redis.call('HGET', KEYS[1], 'crawl_done') or '-1')
if not stage or rank(ARGV[1]) > rank(stage)
   or (rank(ARGV[1]) == rank(stage) and tonumber(ARGV[2]) >= done) then
  redis.call('HSET', KEYS[1], 'crawl_stage', ARGV[1], 'crawl_done', ARGV[2],
             'crawl_queued', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 0
";

#[derive(Clone)]
pub struct LiveStatus {
    connection: ConnectionManager,
    prefix: String,
}

impl LiveStatus {
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

    fn key(&self, run_id: RunId) -> String {
        format!("{}:run:{run_id}:progress", self.prefix)
    }

    /// Records the progress of a run. Callers pass the authoritative counts (from base), so a
    /// redelivered message writes the same values again instead of counting twice; a snapshot
    /// with fewer jobs done than the stored one (a slower worker arriving late) is ignored, so
    /// progress never goes backwards.
    pub async fn set(&self, run_id: RunId, progress: &RunProgress) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("EVAL")
            .arg(SET_IF_NOT_OLDER)
            .arg(1)
            .arg(self.key(run_id))
            .arg(&progress.status)
            .arg(progress.jobs_total)
            .arg(progress.jobs_done)
            .arg(progress.findings)
            .arg(TTL_SECONDS)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// Records where the run's crawl stands; an older snapshot arriving late is ignored.
    pub async fn set_crawl(&self, run_id: RunId, crawl: &CrawlProgress) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("EVAL")
            .arg(SET_CRAWL_IF_NOT_OLDER)
            .arg(1)
            .arg(self.key(run_id))
            .arg(&crawl.stage)
            .arg(crawl.done)
            .arg(crawl.queued)
            .arg(TTL_SECONDS)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    fn cancelled_key(&self, run_id: RunId) -> String {
        format!("{}:run:{run_id}:cancelled", self.prefix)
    }

    /// Tells the workers running jobs of `run_id` to stop them. Set after base has cancelled
    /// the run (which stays the record: a worker that misses this signal finishes its job and
    /// base ignores the report).
    pub async fn mark_cancelled(&self, run_id: RunId) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.cancelled_key(run_id))
            .arg(1)
            .arg("EX")
            .arg(TTL_SECONDS)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// Whether the run was cancelled (see [`LiveStatus::mark_cancelled`]).
    pub async fn is_cancelled(&self, run_id: RunId) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.cancelled_key(run_id))
            .query_async(&mut connection)
            .await?;
        Ok(exists)
    }

    pub async fn get(&self, run_id: RunId) -> Result<Option<RunProgress>, StoreError> {
        let mut connection = self.connection.clone();
        let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(run_id))
            .query_async(&mut connection)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| {
            fields
                .get(name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Ok(Some(RunProgress {
            status: fields.get("status").cloned().unwrap_or_default(),
            jobs_total: number("jobs_total"),
            jobs_done: number("jobs_done"),
            findings: number("findings"),
            crawl: fields.get("crawl_stage").map(|stage| CrawlProgress {
                stage: stage.clone(),
                done: number("crawl_done"),
                queued: number("crawl_queued"),
            }),
        }))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }

    /// Deletes every key under this namespace. For tests.
    pub async fn delete_namespace(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut connection)
                .await?;
        }
        Ok(())
    }
}
