//! One multiplexed Redis connection per URL, shared by every store of a service that uses that
//! URL (the gateway's live status, sessions and rate limits; the dispatcher's live status and
//! leases), instead of one connection and one reconnect loop per store.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::StoreError;

#[derive(Clone)]
pub struct Redis {
    pub(crate) connection: ConnectionManager,
}

impl Redis {
    /// Connects, reconnecting on its own after a failure. With `fail_fast`, calls fail after
    /// that long (connecting, or waiting for an answer) and reconnect once before giving up, so
    /// that a caller applies its own policy (fail open, answer 503) instead of hanging while
    /// Redis is away.
    pub async fn connect(url: &str, fail_fast: Option<Duration>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let mut config = ConnectionManagerConfig::new();
        if let Some(limit) = fail_fast {
            config = config
                .set_connection_timeout(Some(limit))
                .set_response_timeout(Some(limit))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(100));
        }
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self { connection })
    }
}
