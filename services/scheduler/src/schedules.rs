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
use s4e_types::{AssetId, AssetListQuery, OrgId, RunId, ScheduleOutcome};

/// Schedules claimed per request to base.
const BATCH: u16 = 100;
/// Due schedules of a batch handled at once (each a few round trips to base and s4e-scan).
const CONCURRENCY: usize = 16;

/// What starting a due time's scans did.
struct Started {
    /// The first run started (`None` when an earlier attempt started them).
    first: Option<RunId>,
    /// Why each asset that could not be scanned was refused (unverified, archived…).
    refused: Vec<String>,
    assets: usize,
}

impl Started {
    fn refusals(&self) -> Option<String> {
        (!self.refused.is_empty()).then(|| {
            format!(
                "{} of {} assets not scanned: {}",
                self.refused.len(),
                self.assets,
                self.refused.join("; ")
            )
        })
    }
}

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
        s4e_runtime::shutdown::every(every, &shutdown, || async {
            if let Err(error) = self.pass(Utc::now()).await {
                tracing::warn!(%error, "cannot claim due schedules");
            }
        })
        .await;
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
                        Ok(started) if started.assets == 0 => (
                            ScheduleOutcome::Failed,
                            next_run_at,
                            None,
                            Some("no asset in the inventory carries the tag".to_string()),
                        ),
                        Ok(started) if started.refused.len() == started.assets => (
                            ScheduleOutcome::Failed,
                            next_run_at,
                            None,
                            Some(started.refused.join("; ")),
                        ),
                        Ok(started) => (
                            ScheduleOutcome::Started,
                            next_run_at,
                            started.first,
                            started.refusals(),
                        ),
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

    /// Starts the scans of a due time: of the schedule's asset, or of every asset carrying
    /// its tag (scans an earlier attempt started are not started again).
    async fn start(
        &self,
        due: &DueSchedule,
        due_at: DateTime<Utc>,
    ) -> Result<Started, ClientError> {
        let schedule = &due.schedule;
        let assets = match (schedule.asset_id, schedule.tag.as_deref()) {
            (Some(asset_id), _) => vec![asset_id],
            (None, Some(tag)) => self.tagged(schedule.org_id, tag).await?,
            (None, None) => Vec::new(),
        };
        let mut started = Started {
            first: None,
            refused: Vec::new(),
            assets: assets.len(),
        };
        for asset_id in assets {
            let scan = ScheduledScan {
                schedule_id: schedule.id,
                due_at,
                scan: CreateScan {
                    asset_id,
                    profile: schedule.profile,
                    checks: schedule.checks.clone(),
                },
            };
            match self.scan.start_scheduled_scan(schedule.org_id, &scan).await {
                Ok(run) => {
                    started.first.get_or_insert(run.id);
                }
                Err(ClientError::Conflict(refusal)) if refusal.code == "already_started" => {}
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => started.refused.push(format!("{asset_id}: {error}")),
            }
        }
        Ok(started)
    }

    /// The unarchived assets carrying `tag`, every page of them.
    async fn tagged(&self, org_id: OrgId, tag: &str) -> Result<Vec<AssetId>, ClientError> {
        let mut assets = Vec::new();
        let mut query = AssetListQuery {
            tag: Some(tag.to_string()),
            limit: Some(1000),
            ..AssetListQuery::default()
        };
        loop {
            let page = self.base.list_assets(org_id, &query).await?;
            assets.extend(page.items.iter().map(|asset| asset.id));
            match page.next_cursor {
                Some(cursor) => query.after = Some(cursor),
                None => return Ok(assets),
            }
        }
    }
}
