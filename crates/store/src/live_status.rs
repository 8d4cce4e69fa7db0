//! Live progress of scan runs in Redis: one hash per run, expiring a day after its last update.
//! PostgreSQL (through base) stays the record; this is the cheap view for polling clients.

use redis::aio::ConnectionManager;
use s4e_types::RunId;
use s4e_types::api::RunProgress;

use crate::error::StoreError;

const TTL_SECONDS: i64 = 24 * 3600;

#[derive(Clone)]
pub struct LiveStatus {
    connection: ConnectionManager,
    prefix: String,
}

impl LiveStatus {
    /// Connects to Redis; every key is prefixed by `namespace`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client).await?;
        Ok(Self {
            connection,
            prefix: namespace.to_string(),
        })
    }

    fn key(&self, run_id: RunId) -> String {
        format!("{}:run:{run_id}:progress", self.prefix)
    }

    /// Overwrites the progress of a run. Callers pass the authoritative counts (from base), so
    /// a redelivered message writes the same values again instead of counting twice.
    pub async fn set(&self, run_id: RunId, progress: &RunProgress) -> Result<(), StoreError> {
        let key = self.key(run_id);
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("status")
            .arg(&progress.status)
            .arg("jobs_total")
            .arg(progress.jobs_total)
            .arg("jobs_done")
            .arg(progress.jobs_done)
            .arg("findings")
            .arg(progress.findings)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(TTL_SECONDS)
            .ignore()
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
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
