//! Outbound webhook deliveries. Each pass claims the deliveries due at the pass's `now` through
//! base (leased, so several replicas share them), sends each through the egress policy, signed
//! with every current secret of its endpoint, and records the attempt with what follows: done
//! on a 2xx, the next attempt on the specification's schedule (with jitter) otherwise, failed
//! after the eighth; an endpoint failing for `disable_after` is disabled.
//!
//! Every delivery runs on a task of its own holding one of `concurrency` permits, and a pass
//! claims only as many as there are free permits: an endpoint that is slow or down holds the
//! permits of its own deliveries (each attempt bounded by `timeout`), not the others'.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use s4e_client::{BaseClient, ClientError};
use s4e_egress::EgressPolicy;
use s4e_egress::http::{Pinned, Request, approve};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_secrets::SecretBox;
use s4e_types::webhook::{ClaimDueDeliveries, DeliveryAttempted, DueDelivery};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::signature;

/// How much of an endpoint's answer is read (it is not kept).
const ANSWER_LIMIT: usize = 4096;

#[derive(Clone)]
pub struct Deliverer {
    pub base: BaseClient,
    pub egress: EgressPolicy,
    pub secrets: SecretBox,
    pub metrics: Metrics,
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: chrono::Duration,
    pub permits: Arc<Semaphore>,
    /// The most deliveries of one endpoint in flight at once, across every replica.
    pub per_endpoint: u16,
    /// Woken when an event made deliveries, so that they start at once rather than at the next
    /// poll.
    pub wake: Arc<Notify>,
}

impl Deliverer {
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut running = JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
                () = self.wake.notified() => {}
                // A finished delivery frees a permit for what waits.
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
            while running.try_join_next().is_some() {}
            if let Err(error) = self.start_due(Utc::now(), &mut running).await {
                tracing::warn!(%error, "cannot claim due webhook deliveries");
            }
        }
        // In-flight attempts finish and are recorded; nothing new starts.
        while running.join_next().await.is_some() {}
    }

    /// Delivers everything due at `now` and waits until each attempt is recorded; returns how
    /// many deliveries it attempted.
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<usize, ClientError> {
        let mut running = JoinSet::new();
        let started = self.start_due(now, &mut running).await?;
        while running.join_next().await.is_some() {}
        Ok(started)
    }

    /// Claims as many due deliveries as there are free permits and starts each on `running`.
    async fn start_due(
        &self,
        now: DateTime<Utc>,
        running: &mut JoinSet<()>,
    ) -> Result<usize, ClientError> {
        let free = self.permits.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let claim = ClaimDueDeliveries {
            now,
            limit: u16::try_from(free).unwrap_or(u16::MAX),
            // Longer than an attempt can take, so a lease outlives the attempt it covers.
            lease_seconds: u32::try_from(self.timeout.as_secs() + 30).unwrap_or(u32::MAX),
            per_endpoint: self.per_endpoint,
        };
        let due = self.base.claim_due_deliveries(&claim).await?;
        let started = due.len();
        for delivery in due {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let deliverer = self.clone();
            running.spawn(async move {
                deliverer.deliver(delivery, now).await;
                drop(permit);
            });
        }
        Ok(started)
    }

    async fn deliver(&self, due: DueDelivery, now: DateTime<Utc>) {
        let delivery = &due.delivery;
        let number = delivery.attempts + 1;
        let started = Instant::now();
        let result = self.send(&due).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (succeeded, status_code, error) = match result {
            Ok(status) if (200..300).contains(&status) => (true, Some(i32::from(status)), None),
            Ok(status) => (
                false,
                Some(i32::from(status)),
                Some(format!("the endpoint answered {status}")),
            ),
            Err(error) => (false, None, Some(error)),
        };
        let next_attempt_at = (!succeeded)
            .then(|| signature::retry_delay(number + 1))
            .flatten()
            .and_then(|delay| chrono::Duration::from_std(signature::with_jitter(delay)).ok())
            .map(|delay| now + delay);
        let attempt = DeliveryAttempted {
            number,
            attempted_at: now,
            succeeded,
            status_code,
            error,
            duration_ms,
            next_attempt_at,
            disable_if_failing_since: now - self.disable_after,
        };
        let outcome = if succeeded { "succeeded" } else { "failed" };
        self.metrics.inc(
            "s4e_trigger_webhook_attempts_total",
            "Webhook delivery attempts, by outcome.",
            &[("outcome", outcome)],
        );
        match self
            .base
            .webhook_attempted(delivery.org_id, delivery.id, &attempt)
            .await
        {
            Ok(_) => tracing::info!(
                org_id = %delivery.org_id, delivery_id = %delivery.id, attempt = number,
                outcome, status_code, "webhook attempt"
            ),
            // Unrecorded, the lease runs out and the attempt is made again.
            Err(error) => {
                tracing::warn!(%error, delivery_id = %delivery.id, "webhook attempt not recorded");
            }
        }
    }

    /// POSTs the delivery to its endpoint: the status it answered, or why there was none.
    async fn send(&self, due: &DueDelivery) -> Result<u16, String> {
        let secrets: Vec<String> = due
            .sealed_secrets
            .iter()
            .filter_map(|sealed| self.secrets.open(sealed))
            .filter_map(|plain| String::from_utf8(plain).ok())
            .collect();
        if secrets.is_empty() {
            return Err("the endpoint's secret cannot be opened with this deployment's key".into());
        }
        let body = serde_json::to_vec(&due.payload).map_err(|error| error.to_string())?;
        let id = due.delivery.event_id.to_string();
        // The time it is sent, which receivers hold against their own clocks.
        let timestamp = Utc::now().timestamp();
        let mut request = Request::new(Method::POST, ANSWER_LIMIT);
        request.body = Some(body.clone());
        let headers = [
            ("webhook-id", id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                signature::sign(&secrets, &id, timestamp, &body),
            ),
        ];
        for (name, value) in headers {
            let value = HeaderValue::from_str(&value).map_err(|error| error.to_string())?;
            request.headers.insert(name, value);
        }
        request
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let deadline = Instant::now() + self.timeout;
        let (url, addr) = approve(&due.url, &self.egress, deadline, self.timeout)
            .await
            .map_err(|error| error.to_string())?;
        let client = Pinned::new(&url, addr).map_err(|error| error.to_string())?;
        let answer = client
            .send(&url, &request, deadline, self.timeout)
            .await
            .map_err(|error| error.to_string())?;
        Ok(answer.raw.status)
    }
}
