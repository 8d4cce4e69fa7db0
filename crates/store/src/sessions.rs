//! Browser sessions in Redis. A session is found by its id, the SHA-256 of the secret in the
//! user's cookie: Redis never holds a secret that would let its reader sign in. Each session
//! expires after an idle period that every use restarts (sliding expiry); a set per user lists
//! that user's sessions so they can be shown and ended together.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use s4e_types::{OrgId, Role, UserId};
use serde::{Deserialize, Serialize};

use crate::Redis;
use crate::error::StoreError;

/// What a session knows of its user, fixed when it is created. A role change or a removal
/// ends the user's sessions instead of editing them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    pub email: String,
    /// Must accompany every state-changing request made with the session cookie.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The organization's rate-limit tier when the session began.
    #[serde(default)]
    pub rate_tier: s4e_types::api::RateTier,
    /// The assets the user is limited to, if any; a change ends the user's sessions.
    #[serde(default)]
    pub asset_scope: Option<Vec<s4e_types::AssetId>>,
}

/// A listed session: its id, what it knows, and when it was last used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub id: String,
    pub data: SessionData,
    pub last_seen_at: DateTime<Utc>,
}

/// Reads a session and restarts its idle period. KEYS[1] the session; ARGV[1] idle ms,
/// ARGV[2] now (ms). Returns the data, or nothing for a session that ended.
const TOUCH: &str = r"
local data = redis.call('HGET', KEYS[1], 'data')
if not data then return false end
redis.call('HSET', KEYS[1], 'seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return data
";

/// Stores a session and indexes it under its user. KEYS[1] the session, KEYS[2] the user's
/// set; ARGV[1] data, ARGV[2] now (ms), ARGV[3] idle ms, ARGV[4] the session id.
const CREATE: &str = r"
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
";

/// Ends every session of a user but one. KEYS[1] the user's set; ARGV[1] the key prefix of
/// sessions, ARGV[2] the id to keep ('' for none). Returns how many ended.
const REVOKE_ALL: &str = r"
local ended = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
return ended
";

#[derive(Clone)]
pub struct SessionStore {
    connection: ConnectionManager,
    prefix: String,
    idle: Duration,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl SessionStore {
    /// Connects to Redis; keys are prefixed by `namespace`; sessions end after `idle` unused.
    /// Calls fail fast: without Redis no session can be checked, and the caller answers 503
    /// rather than hang.
    pub async fn connect(url: &str, namespace: &str, idle: Duration) -> Result<Self, StoreError> {
        let redis = Redis::connect(url, Some(Duration::from_secs(1))).await?;
        Ok(Self::new(&redis, namespace, idle))
    }

    /// On a connection the service shares (which should fail fast, see [`Redis::connect`]).
    pub fn new(redis: &Redis, namespace: &str, idle: Duration) -> Self {
        Self {
            connection: redis.connection.clone(),
            prefix: namespace.to_string(),
            idle,
        }
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    fn session_prefix(&self) -> String {
        format!("{}:session:", self.prefix)
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}{id}", self.session_prefix())
    }

    fn user_key(&self, user_id: UserId) -> String {
        format!("{}:user:{user_id}:sessions", self.prefix)
    }

    pub async fn create(&self, id: &str, data: &SessionData) -> Result<(), StoreError> {
        let json = serde_json::to_string(data).map_err(|e| StoreError::Convert(e.to_string()))?;
        let mut connection = self.connection.clone();
        redis::cmd("EVAL")
            .arg(CREATE)
            .arg(2)
            .arg(self.session_key(id))
            .arg(self.user_key(data.user_id))
            .arg(json)
            .arg(now_ms())
            .arg(millis(self.idle))
            .arg(id)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    /// The live session with this id, its idle period restarted; `None` when it ended.
    pub async fn touch(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = redis::cmd("EVAL")
            .arg(TOUCH)
            .arg(1)
            .arg(self.session_key(id))
            .arg(millis(self.idle))
            .arg(now_ms())
            .query_async(&mut connection)
            .await?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|error| StoreError::Convert(error.to_string()))
        })
        .transpose()
    }

    /// The user's live sessions, oldest first; ended ones are dropped from the index on the way.
    pub async fn list(&self, user_id: UserId) -> Result<Vec<StoredSession>, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut connection)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(self.session_key(id))
                .arg("data")
                .arg("seen");
        }
        let replies: Vec<(Option<String>, Option<i64>)> = pipe.query_async(&mut connection).await?;
        let mut sessions = Vec::with_capacity(ids.len());
        let mut ended = Vec::new();
        for (id, reply) in ids.into_iter().zip(replies) {
            match reply {
                (Some(json), seen) => {
                    let data: SessionData = serde_json::from_str(&json)
                        .map_err(|error| StoreError::Convert(error.to_string()))?;
                    let last_seen_at = seen
                        .and_then(DateTime::from_timestamp_millis)
                        .unwrap_or(data.created_at);
                    sessions.push(StoredSession {
                        id,
                        data,
                        last_seen_at,
                    });
                }
                (None, _) => ended.push(id),
            }
        }
        if !ended.is_empty() {
            redis::cmd("SREM")
                .arg(self.user_key(user_id))
                .arg(&ended)
                .query_async::<()>(&mut connection)
                .await?;
        }
        sessions.sort_by_key(|session| session.data.created_at);
        Ok(sessions)
    }

    /// Ends one session of the user; `false` when the user has no such live session.
    pub async fn revoke(&self, user_id: UserId, id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: i64 = redis::cmd("SREM")
            .arg(self.user_key(user_id))
            .arg(id)
            .query_async(&mut connection)
            .await?;
        if removed == 0 {
            return Ok(false);
        }
        let deleted: i64 = redis::cmd("DEL")
            .arg(self.session_key(id))
            .query_async(&mut connection)
            .await?;
        Ok(deleted > 0)
    }

    /// Ends every session of the user except `keep`; returns how many ended.
    pub async fn revoke_all(&self, user_id: UserId, keep: Option<&str>) -> Result<u64, StoreError> {
        let mut connection = self.connection.clone();
        let ended: i64 = redis::cmd("EVAL")
            .arg(REVOKE_ALL)
            .arg(1)
            .arg(self.user_key(user_id))
            .arg(self.session_prefix())
            .arg(keep.unwrap_or(""))
            .query_async(&mut connection)
            .await?;
        Ok(ended.max(0).unsigned_abs())
    }

    /// True the first time `what` is claimed within `ttl`, false afterwards: a one-time code
    /// is accepted once.
    pub async fn claim_once(&self, what: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}:once:{what}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await?;
        Ok(set.is_some())
    }
}
