//! Recurring scans. Each pass claims the schedules due at the pass's `now` through base, which
//! leases them (several replicas share the due schedules without waiting on each other),
//! decides each due time with `s4e_schedule::plan`, starts the scan it decides to run through
//! s4e-scan, and reports the outcome and the next due time. Base keeps one run per schedule and
//! due time, so a scheduler that dies after starting a scan, or two that race for one, never
//! start it twice: the next attempt is told `already_started`.
//!
//! The clock is the caller's: the service passes the wall clock, tests pass any time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use s4e_client::{BaseClient, ClientError, ScanClient};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_schedule::{Decision, Timing, plan};
use s4e_types::api::CreateScan;
use s4e_types::schedule::{ClaimDueSchedules, DueSchedule, ScheduleFired, ScheduledScan};
use s4e_types::{RunId, ScheduleOutcome};

/// Schedules claimed per request to base.
const BATCH: u16 = 100;
/// Due schedules of a batch handled at once (each a few round trips to base and s4e-scan).
const CONCURRENCY: usize = 16;

#[derive(Clone)]
pub struct Scheduler {
    pub base: BaseClient,
    pub scan: ScanClient,
    pub metrics: Metrics,
    /// How long a claimed schedule is this scheduler's before another may take it over.
    pub lease: Duration,
}

impl Scheduler {
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    if let Err(error) = self.pass(Utc::now()).await {
                        tracing::warn!(%error, "cannot claim due schedules");
                    }
                }
            }
        }
    }

    /// Handles every schedule due at `now`; returns how many it claimed.
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<usize, ClientError> {
        let mut handled = 0;
        loop {
            let claim = ClaimDueSchedules {
                now,
                limit: BATCH,
                lease_seconds: self.lease.as_secs().try_into().unwrap_or(u32::MAX),
            };
            let due = self.base.claim_due_schedules(&claim).await?;
            let claimed = due.len();
            futures_util::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |schedule| self.fire(schedule, now))
                .await;
            handled += claimed;
            if claimed < usize::from(BATCH) {
                return Ok(handled);
            }
        }
    }

    async fn fire(&self, due: DueSchedule, now: DateTime<Utc>) {
        let schedule = &due.schedule;
        let Some(due_at) = schedule.next_run_at else {
            return;
        };
        let (outcome, next_run_at, run_id, error) = match Timing::of(schedule) {
            // Stored timings were validated; one that no longer parses pauses its schedule.
            Err(error) => (ScheduleOutcome::Failed, None, None, Some(error)),
            Ok(timing) => {
                let (decision, next_run_at) = plan(&timing, &due, now);
                match decision {
                    Decision::Skip(outcome) => (outcome, next_run_at, None, None),
                    Decision::Start => match self.start(&due, due_at).await {
                        Ok(run_id) => (ScheduleOutcome::Started, next_run_at, run_id, None),
                        Err(error) if error.is_transient() => {
                            // The lease runs out and a later pass tries this due time again.
                            tracing::warn!(%error, schedule_id = %schedule.id, "scheduled scan not started");
                            return;
                        }
                        Err(error) => (
                            ScheduleOutcome::Failed,
                            next_run_at,
                            None,
                            Some(error.to_string()),
                        ),
                    },
                }
            }
        };
        self.metrics.inc(
            "s4e_scheduler_schedules_total",
            "Due times of recurring scans handled, by outcome.",
            &[("outcome", outcome.as_str())],
        );
        let fired = ScheduleFired {
            due_at,
            next_run_at,
            outcome,
            run_id,
            error,
        };
        match self
            .base
            .schedule_fired(schedule.org_id, schedule.id, &fired)
            .await
        {
            Ok(_) => tracing::info!(
                org_id = %schedule.org_id, schedule_id = %schedule.id, %due_at,
                outcome = outcome.as_str(), run_id = run_id.map(|id| id.to_string()),
                "schedule fired"
            ),
            // Changed (or paused) meanwhile: the change decided the next due time.
            Err(ClientError::Conflict(_)) => {}
            Err(error) => {
                tracing::warn!(%error, schedule_id = %schedule.id, "schedule outcome not recorded");
            }
        }
    }

    /// Starts the scan of a due time: the new run, or `None` when an earlier attempt started
    /// it already.
    async fn start(
        &self,
        due: &DueSchedule,
        due_at: DateTime<Utc>,
    ) -> Result<Option<RunId>, ClientError> {
        let schedule = &due.schedule;
        let scan = ScheduledScan {
            schedule_id: schedule.id,
            due_at,
            scan: CreateScan {
                asset_id: schedule.asset_id,
                profile: schedule.profile,
                checks: schedule.checks.clone(),
            },
        };
        match self.scan.start_scheduled_scan(schedule.org_id, &scan).await {
            Ok(run) => Ok(Some(run.id)),
            Err(ClientError::Conflict(refusal)) if refusal.code == "already_started" => Ok(None),
            Err(error) => Err(error),
        }
    }
}
