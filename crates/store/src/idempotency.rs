//! The first answers to requests that carried an `Idempotency-Key`, in Redis, per organization
//! and key, for a day: a client that retries a creation after a timeout gets the first answer
//! back instead of a second asset or scan. A key is claimed before its request runs, so two
//! copies sent at once cannot both run; the claim lapses after [`CLAIM_LIFETIME`] unless
//! answered, so a request that never finished (its gateway stopped, its client went away)
//! does not hold its key for a day.

use std::time::Duration;

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::Redis;
use crate::error::StoreError;

/// How long a claimed key waits for its answer: longer than any creation takes.
pub const CLAIM_LIFETIME: Duration = Duration::from_secs(120);

/// An answer as it is kept and replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// What is kept under a key: the request it belongs to (a digest of method, path and body)
/// and, once answered, its answer.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    request: String,
    answer: Option<StoredAnswer>,
}

/// What a request finds under its key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody used the key: it is now this request's, to answer with [`Idempotency::keep`].
    Claimed,
    /// The same request was answered: replay this.
    Answered(StoredAnswer),
    /// The same request is running.
    Running,
    /// The key was used for another request.
    OtherRequest,
}

#[derive(Clone)]
pub struct Idempotency {
    connection: ConnectionManager,
    prefix: String,
    lifetime: Duration,
}

impl Idempotency {
    /// On a connection the service shares; keys and answers are kept for `lifetime`.
    pub fn new(redis: &Redis, namespace: &str, lifetime: Duration) -> Self {
        Self {
            connection: redis.connection.clone(),
            prefix: namespace.to_string(),
            lifetime,
        }
    }

    fn key(&self, scope: &str, key: &str) -> String {
        format!("{}:idempotency:{scope}:{key}", self.prefix)
    }

    /// Claims `key` in `scope` (an organization) for the request whose digest is `request`,
    /// or says what holds it.
    pub async fn claim(&self, scope: &str, key: &str, request: &str) -> Result<Claim, StoreError> {
        let redis_key = self.key(scope, key);
        let record = serde_json::to_string(&Record {
            request: request.to_string(),
            answer: None,
        })
        .map_err(|error| StoreError::Convert(error.to_string()))?;
        let mut connection = self.connection.clone();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&redis_key)
            .arg(record)
            .arg("NX")
            .arg("PX")
            .arg(millis(CLAIM_LIFETIME))
            .query_async(&mut connection)
            .await?;
        if claimed.is_some() {
            return Ok(Claim::Claimed);
        }
        let held: Option<String> = redis::cmd("GET")
            .arg(&redis_key)
            .query_async(&mut connection)
            .await?;
        // Gone between the two calls (expired, or given up by a request that failed): taken
        // as running, and the client's next retry claims it.
        let Some(held) = held else {
            return Ok(Claim::Running);
        };
        let held: Record =
            serde_json::from_str(&held).map_err(|error| StoreError::Convert(error.to_string()))?;
        Ok(match held.answer {
            _ if held.request != request => Claim::OtherRequest,
            Some(answer) => Claim::Answered(answer),
            None => Claim::Running,
        })
    }

    /// Keeps the answer of the request that claimed `key`.
    pub async fn keep(
        &self,
        scope: &str,
        key: &str,
        request: &str,
        answer: StoredAnswer,
    ) -> Result<(), StoreError> {
        let record = serde_json::to_string(&Record {
            request: request.to_string(),
            answer: Some(answer),
        })
        .map_err(|error| StoreError::Convert(error.to_string()))?;
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.key(scope, key))
            .arg(record)
            .arg("XX")
            .arg("PX")
            .arg(millis(self.lifetime))
            .query_async::<Option<String>>(&mut connection)
            .await?;
        Ok(())
    }

    /// Gives `key` up, after its request failed in a way a retry may get past.
    pub async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(self.key(scope, key))
            .query_async::<i64>(&mut connection)
            .await?;
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
