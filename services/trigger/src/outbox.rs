//! Publishes the events base's own changes recorded (a finding's status changed, an asset
//! registered) to the bus, where they reach this service's consumer like every other event.
//! Each is claimed with a lease, published, then forgotten: a relay that dies in between
//! leaves its lease to run out and the event is published again with the same id.

use std::time::Duration;

use s4e_bus::{Bus, Exchange};
use s4e_client::{BaseClient, ClientError};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_types::envelope::{ClaimOutbox, OutboxPublished};

/// Events claimed per request to base.
const BATCH: u16 = 200;
/// How long a claimed event is this relay's before another may publish it.
const LEASE_SECONDS: u32 = 60;

pub struct Relay {
    pub base: BaseClient,
    pub bus: Bus,
    pub metrics: Metrics,
}

impl Relay {
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        s4e_runtime::shutdown::every(every, &shutdown, || async {
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "cannot publish recorded events");
            }
        })
        .await;
    }

    /// Publishes every recorded event; returns how many.
    pub async fn pass(&self) -> Result<usize, ClientError> {
        let mut published_total = 0;
        loop {
            let claim = ClaimOutbox {
                limit: BATCH,
                lease_seconds: LEASE_SECONDS,
            };
            let events = self.base.claim_outbox(&claim).await?;
            let claimed = events.len();
            let mut published = OutboxPublished { ids: Vec::new() };
            for event in &events {
                let kind = event.message.type_name();
                match self.bus.publish(Exchange::Events, kind, event).await {
                    Ok(()) => published.ids.push(event.id),
                    Err(error) => {
                        // The rest keep their lease and go out after it.
                        tracing::warn!(%error, event_id = %event.id, "recorded event not published");
                        break;
                    }
                }
            }
            if !published.ids.is_empty() {
                self.base.outbox_published(&published).await?;
                self.metrics.add(
                    "s4e_trigger_outbox_published_total",
                    "Events recorded by base and published to the bus.",
                    &[],
                    published.ids.len() as f64,
                );
            }
            published_total += published.ids.len();
            if claimed < usize::from(BATCH) || published.ids.len() < claimed {
                return Ok(published_total);
            }
        }
    }
}
