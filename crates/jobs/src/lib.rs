//! Reporting a finished job, the same way whichever service ran it (the check workers, the
//! crawler's finisher): the report to base, which applies it once under the job's row lock;
//! one `finding.created` per finding the report created; the run's live progress; and
//! `scan.completed` once the run is final.
//!
//! Every step is safe to repeat, so a message redelivered after a crash reports again and
//! announces the same events (their ids derived from the finding and the run).

use s4e_bus::topology::Exchange;
use s4e_bus::{Bus, Outcome};
use s4e_client::{BaseClient, ClientError};
use s4e_store::LiveStatus;
use s4e_types::api::{FinishJob, RunProgress};
use s4e_types::envelope::{FindingCreated, ScanCompleted};
use s4e_types::{Envelope, JobId, JobStatus, Message, OrgId, RuleId, ScanRun};
use uuid::Uuid;

/// A failure worth another delivery (a dependency is away) or a message that never will work.
pub fn outcome_of(error: ClientError, step: &str) -> Outcome {
    if error.is_transient() {
        Outcome::Retry(format!("{step}: {error}"))
    } else {
        Outcome::DeadLetter(format!("{step}: {error}"))
    }
}

/// What became of a report.
#[derive(Debug)]
pub enum Reported {
    /// This report applied; `status` is the one stored (a refused report fails the job).
    Applied { status: JobStatus, run: ScanRun },
    /// An earlier delivery had reported the job; nothing changed.
    AlreadyReported { run: ScanRun },
    /// The run was cancelled while the job ran; the report was ignored.
    Cancelled { run: ScanRun },
}

impl Reported {
    pub fn run(&self) -> &ScanRun {
        match self {
            Reported::Applied { run, .. }
            | Reported::AlreadyReported { run }
            | Reported::Cancelled { run } => run,
        }
    }
}

#[derive(Clone)]
pub struct JobReports {
    pub base: BaseClient,
    pub bus: Bus,
    pub live: LiveStatus,
}

impl JobReports {
    /// Reports the job to base and announces the findings its report created. A report base
    /// refuses (oversized or invalid findings) fails the job with the reason rather than its
    /// message going to the dead-letter queue and the run hanging. `Err` is the message's
    /// outcome when base or the bus is away.
    pub async fn report(
        &self,
        org_id: OrgId,
        job_id: JobId,
        mut report: FinishJob,
    ) -> Result<Reported, Outcome> {
        let mut finished = self.base.finish_job(org_id, job_id, &report).await;
        if let Err(ClientError::BadRequest(reason)) = &finished {
            tracing::warn!(%job_id, %reason, "report refused, failing the job");
            report = FinishJob {
                status: JobStatus::Failed,
                observed: Default::default(),
                error: Some(format!("the report was refused: {reason}")),
                raw_output_id: report.raw_output_id,
                findings: Vec::new(),
            };
            finished = self.base.finish_job(org_id, job_id, &report).await;
        }
        let finished = finished.map_err(|error| outcome_of(error, "reporting job"))?;
        if finished.job.status == JobStatus::Cancelled {
            return Ok(Reported::Cancelled { run: finished.run });
        }
        // Before the ack, whichever report applied them: a worker that died after base stored
        // the findings announces them on the redelivery (consumers see the same event ids).
        self.announce_findings(org_id, &finished.created_findings, &finished.run.caused_by)
            .await?;
        if !finished.applied {
            return Ok(Reported::AlreadyReported { run: finished.run });
        }
        Ok(Reported::Applied {
            status: report.status,
            run: finished.run,
        })
    }

    /// Writes the run's counts to its live status (a convenience: the run is stored in base).
    pub async fn publish_progress(&self, run: &ScanRun) {
        let progress = RunProgress::from(run);
        if let Err(error) = self.live.set(run.id, &progress).await {
            tracing::warn!(%error, run_id = %run.id, "cannot update live status");
        }
    }

    /// Publishes one `finding.created` per finding a report created, its id derived from the
    /// finding's; `Retry` when the bus refuses one (the redelivery announces them again).
    async fn announce_findings(
        &self,
        org_id: OrgId,
        created: &[FindingCreated],
        caused_by: &[RuleId],
    ) -> Result<(), Outcome> {
        for finding in created {
            let mut event = Envelope::new(org_id, Message::FindingCreated(finding.clone()));
            event.id = Uuid::new_v5(&finding.finding_id.0, b"finding.created");
            event.caused_by = caused_by.to_vec();
            if let Err(error) = self
                .bus
                .publish(Exchange::Events, "finding.created", &event)
                .await
            {
                return Err(Outcome::Retry(format!(
                    "publishing finding.created: {error}"
                )));
            }
        }
        Ok(())
    }

    /// Publishes `scan.completed` for a run in a final state, then says to ack; if the event
    /// cannot be published the message comes back, and its redelivery announces again. The
    /// event id is derived from the run, so consumers can recognise the repeats.
    pub async fn announce_if_final(&self, run: &ScanRun) -> Outcome {
        if !run.status.is_final() {
            return Outcome::Ack;
        }
        let mut event = Envelope::new(
            run.org_id,
            Message::ScanCompleted(ScanCompleted {
                run_id: run.id,
                asset_id: run.asset_id,
                status: run.status,
                findings_count: run.findings_count,
            }),
        );
        event.id = Uuid::new_v5(&run.id.0, b"scan.completed");
        event.caused_by = run.caused_by.clone();
        match self
            .bus
            .publish(Exchange::Events, "scan.completed", &event)
            .await
        {
            Ok(()) => Outcome::Ack,
            Err(error) => Outcome::Retry(format!("publishing scan.completed: {error}")),
        }
    }
}
