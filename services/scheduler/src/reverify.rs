//! Periodic re-verification of asset ownership. Several replicas may run it at once: a
//! verification is idempotent (it records what it sees), so a repeat costs a request, not
//! correctness.

use std::time::Duration;

use s4e_client::{BaseClient, ScanClient};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_types::api::{Verification, VerificationOutcome};

/// Assets proven again per pass; the rest wait for the next pass.
const BATCH: u16 = 100;

pub struct Reverifier {
    pub base: BaseClient,
    pub scan: ScanClient,
    pub metrics: Metrics,
    pub older_than: Duration,
    /// How long a proof outlives an asset that cannot be reached.
    pub grace_seconds: u32,
}

impl Reverifier {
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        s4e_runtime::shutdown::every(every, &shutdown, || self.pass()).await;
    }

    /// Proves again every asset due; a dependency that is away ends the pass early (the
    /// next pass picks the rest up).
    async fn pass(&self) {
        let due = match self
            .base
            .due_for_reverification(self.older_than, BATCH)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot list assets due for re-verification");
                return;
            }
        };
        for asset in due {
            let outcome = self
                .scan
                .verify_asset(
                    asset.org_id,
                    asset.id,
                    &Verification {
                        method: None,
                        keep_if_unreachable_seconds: Some(self.grace_seconds),
                    },
                )
                .await;
            let unreached = |outcome: &VerificationOutcome| {
                outcome.attempts.iter().all(|attempt| !attempt.reached)
            };
            let label = match &outcome {
                Ok(outcome) if outcome.verified && unreached(outcome) => "unreachable",
                Ok(outcome) if outcome.verified => "still_verified",
                Ok(_) => "lost",
                Err(_) => "error",
            };
            self.metrics.inc(
                "s4e_scheduler_reverifications_total",
                "Ownership re-verifications, by outcome.",
                &[("outcome", label)],
            );
            match outcome {
                Ok(outcome) if !outcome.verified => tracing::info!(
                    org_id = %asset.org_id, asset_id = %asset.id,
                    "asset no longer proves its ownership"
                ),
                Ok(_) => {}
                Err(error) if error.is_transient() => {
                    tracing::warn!(%error, "re-verification interrupted");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, asset_id = %asset.id, "re-verification failed");
                }
            }
        }
    }
}
