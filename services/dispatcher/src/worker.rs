//! The check worker: runs one job, stores its raw output and findings, advances the run.
//!
//! Every step is safe to repeat: base applies a job's report once, raw output is keyed by job
//! id, live status is overwritten with base's counts. So a redelivered job (a worker killed
//! mid-job, a lost ack) is finished exactly once.
//!
//! A job is bounded: by its check's time limit (`time_limit`, the one place), by its run's
//! cancellation (a Redis flag polled while the check runs), and by the caps per organization
//! and per host (leases taken before it starts; over a cap it comes back later).

use std::sync::Arc;
use std::time::Duration;

use s4e_bus::{Bus, Incoming, Outcome, Queue};
use s4e_checks::{CheckContext, CheckError, Target};
use s4e_client::BaseClient;
use s4e_jobs::{JobReports, Reported, outcome_of};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_store::{LeaseLimit, Leases, LiveStatus, RawOutputs};
use s4e_types::api::FinishJob;
use s4e_types::{CheckKind, JobId, JobSpec, JobStatus, Message, OrgId, RunId, RunStatus};
use tokio::task::JoinHandle;

pub struct Worker {
    pub base: BaseClient,
    pub bus: Bus,
    pub live: LiveStatus,
    /// Reports finished jobs to base and announces what they found.
    pub reports: JobReports,
    pub raw: RawOutputs,
    pub metrics: Metrics,
    /// What every check runs with: the egress policy, time limits, resolvers, port options.
    pub checks: CheckContext,
    /// How often a running job looks for its run's cancellation.
    pub cancel_poll: Duration,
    /// Concurrency caps across every worker (0: none), held as leases in Redis.
    pub leases: Leases,
    pub max_jobs_per_org: u32,
    pub max_jobs_per_host: u32,
}

pub fn start(
    worker: Arc<Worker>,
    queue: Queue,
    concurrency: u16,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let bus = worker.bus.clone();
    bus.consume(queue, concurrency, shutdown, move |incoming| {
        let worker = worker.clone();
        async move { worker.handle(incoming).await }
    })
}

impl Worker {
    async fn handle(&self, incoming: Incoming) -> Outcome {
        let org_id = incoming.envelope.org_id;
        let Message::ScanJob(spec) = incoming.envelope.message else {
            return Outcome::DeadLetter(format!(
                "unexpected message type {} on a job queue",
                incoming.envelope.message.type_name()
            ));
        };
        let limits = match self.take_leases(org_id, spec.job_id).await {
            Ok(limits) => limits,
            Err(outcome) => return outcome,
        };
        let outcome = self.run_job(org_id, spec.job_id).await;
        if let Err(error) = self.leases.release(&limits, &spec.job_id.to_string()).await {
            // The leases expire on their own.
            tracing::warn!(%error, job_id = %spec.job_id, "cannot release leases");
        }
        outcome
    }

    /// The caps a job counts against: its organization and its target's host, when configured.
    fn limits(&self, org_id: OrgId, target: &str) -> Vec<LeaseLimit> {
        let mut limits = Vec::new();
        if self.max_jobs_per_org > 0 {
            limits.push(LeaseLimit {
                key: format!("org:{org_id}"),
                limit: self.max_jobs_per_org,
            });
        }
        if self.max_jobs_per_host > 0 {
            limits.push(LeaseLimit {
                key: format!("host:{}", target_host(target)),
                limit: self.max_jobs_per_host,
            });
        }
        limits
    }

    /// Takes the job's leases, or says to come back later (not a failure) when a cap is reached.
    /// A lease lasts the job's time limit and a margin, so a killed worker's slots come back.
    async fn take_leases(&self, org_id: OrgId, job_id: JobId) -> Result<Vec<LeaseLimit>, Outcome> {
        if self.max_jobs_per_org == 0 && self.max_jobs_per_host == 0 {
            return Ok(Vec::new());
        }
        // Read, not started: a job waiting for a slot is not running.
        let job = self
            .base
            .get_job(org_id, job_id)
            .await
            .map_err(|error| outcome_of(error, "reading job"))?;
        if job.status.is_final() {
            return Ok(Vec::new());
        }
        let limits = self.limits(org_id, &job.target);
        let lease = s4e_checks::time_limit(job.check, &self.checks) + LEASE_MARGIN;
        match self
            .leases
            .acquire(&limits, &job_id.to_string(), lease)
            .await
        {
            Ok(None) => Ok(limits),
            Ok(Some(full)) => {
                let cap = full.split(':').next().unwrap_or_default();
                self.metrics.inc(
                    "s4e_worker_deferred_total",
                    "Jobs put back for later because a concurrency cap was reached.",
                    &[("check", job.check.as_str()), ("cap", cap)],
                );
                Err(Outcome::Later(format!("concurrency cap reached ({full})")))
            }
            Err(error) => Err(Outcome::Retry(format!("taking leases: {error}"))),
        }
    }

    async fn run_job(&self, org_id: OrgId, job_id: JobId) -> Outcome {
        // From here on base's job row is the truth: what to check and where comes from it, not
        // from the message, which anyone able to publish could have written.
        let job = match self.base.start_job(org_id, job_id).await {
            Ok(job) => job,
            Err(error) => return outcome_of(error, "starting job"),
        };
        let spec = JobSpec::from(&job);
        if job.status.is_final() {
            // Already done by an earlier delivery, or cancelled with its run: not run again;
            // make sure its run's event went out.
            if job.status == JobStatus::Cancelled {
                tracing::info!(job_id = %spec.job_id, "job cancelled, acknowledging without running it");
            } else {
                tracing::info!(job_id = %spec.job_id, "job already finished, acknowledging");
                self.count_duplicate(spec.check);
            }
            let run = match self.base.get_run(org_id, spec.run_id).await {
                Ok(run) => run,
                Err(error) => return outcome_of(error, "reading run"),
            };
            return self.reports.announce_if_final(&run).await;
        }
        if let Ok(run) = self.base.get_run(org_id, spec.run_id).await {
            self.reports.publish_progress(&run).await;
        }

        let report = match self.run_check(org_id, &spec).await {
            Ok(Some(report)) => report,
            Ok(None) => return self.stop_cancelled(org_id, &spec).await,
            Err(outcome) => return outcome,
        };
        let findings = report.findings.len();
        let reported = match self.reports.report(org_id, spec.job_id, report).await {
            Ok(reported) => reported,
            Err(outcome) => return outcome,
        };
        let status = match &reported {
            Reported::Applied { status, .. } => *status,
            Reported::Cancelled { .. } => {
                // The run was cancelled while the check ran and the signal did not reach us.
                tracing::info!(job_id = %spec.job_id, "job cancelled while it ran, report ignored");
                self.count_cancelled(spec.check);
                return self.reports.announce_if_final(reported.run()).await;
            }
            Reported::AlreadyReported { .. } => {
                // Two deliveries of one job ran at once; base kept the first report.
                self.count_duplicate(spec.check);
                return self.reports.announce_if_final(reported.run()).await;
            }
        };
        self.metrics.inc(
            "s4e_worker_jobs_total",
            "Jobs finished by the check workers, by check and status.",
            &[("check", spec.check.as_str()), ("status", status.as_str())],
        );
        tracing::info!(
            job_id = %spec.job_id, run_id = %spec.run_id, status = status.as_str(),
            findings, "job finished"
        );
        self.reports.publish_progress(reported.run()).await;
        self.reports.announce_if_final(reported.run()).await
    }

    /// Runs the check within its time limit until its run is cancelled (then `None`). A
    /// target that cannot be reached or does not answer in time is a result (the job failed,
    /// with the reason); only our own dependencies being away makes the message come back.
    async fn run_check(&self, org_id: OrgId, spec: &JobSpec) -> Result<Option<FinishJob>, Outcome> {
        let cancel = CancellationToken::new();
        let context = self.checks.for_job(cancel.clone());
        let target = Target {
            address: spec.target.clone(),
            ports: spec.ports.clone(),
        };
        let watch = async {
            self.cancelled(spec.run_id).await;
            cancel.cancel();
            std::future::pending::<()>().await
        };
        let result = tokio::select! {
            result = s4e_checks::run(spec.check, &target, &context) => result,
            () = watch => unreachable!("the watch never ends on its own"),
        };
        match result {
            Ok(output) => {
                let raw_output_id = self
                    .raw
                    .store(org_id, spec.run_id, spec.job_id, &output.raw)
                    .await
                    .map_err(|error| Outcome::Retry(format!("storing raw output: {error}")))?;
                Ok(Some(FinishJob {
                    status: JobStatus::Completed,
                    observed: output.observed,
                    error: None,
                    raw_output_id: Some(raw_output_id),
                    findings: output.findings,
                }))
            }
            Err(CheckError::Cancelled) => Ok(None),
            Err(error) => {
                tracing::info!(job_id = %spec.job_id, %error, kind = error.kind(), "check failed");
                Ok(Some(FinishJob {
                    status: JobStatus::Failed,
                    observed: Default::default(),
                    error: Some(error.job_error()),
                    raw_output_id: None,
                    findings: Vec::new(),
                }))
            }
        }
    }

    /// Resolves once the run is cancelled: the flag the gateway sets in Redis after base has
    /// cancelled the run, polled every `cancel_poll`. While Redis is away the job runs on (base
    /// ignores the report of a cancelled job).
    async fn cancelled(&self, run_id: RunId) {
        let mut poll = tokio::time::interval(self.cancel_poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            match self.live.is_cancelled(run_id).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => tracing::debug!(%error, %run_id, "cannot read cancellation"),
            }
        }
    }

    /// A job whose run was cancelled while its check ran: the check was dropped (its
    /// connections with it); base has the job cancelled already, so nothing is reported.
    async fn stop_cancelled(&self, org_id: OrgId, spec: &JobSpec) -> Outcome {
        let run = match self.base.get_run(org_id, spec.run_id).await {
            Ok(run) => run,
            Err(error) => return outcome_of(error, "reading run"),
        };
        if run.status != RunStatus::Cancelled {
            // Only set after base cancels the run; come back and look again.
            return Outcome::Retry(format!(
                "cancellation signalled for {} run",
                run.status.as_str()
            ));
        }
        tracing::info!(job_id = %spec.job_id, run_id = %spec.run_id, "run cancelled, job stopped");
        self.count_cancelled(spec.check);
        self.reports.publish_progress(&run).await;
        self.reports.announce_if_final(&run).await
    }

    fn count_cancelled(&self, check: CheckKind) {
        self.metrics.inc(
            "s4e_worker_jobs_total",
            "Jobs finished by the check workers, by check and status.",
            &[("check", check.as_str()), ("status", "cancelled")],
        );
    }

    fn count_duplicate(&self, check: CheckKind) {
        self.metrics.inc(
            "s4e_worker_redeliveries_total",
            "Job messages whose job another delivery had finished (redeliveries, duplicates).",
            &[("check", check.as_str())],
        );
    }
}

/// How much longer than its time limit a job's leases last (reporting, storing raw output).
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// The host a target names: a URL's host, else the target itself (a domain or an address).
fn target_host(target: &str) -> String {
    url::Url::parse(target)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| target.to_string())
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_host_is_its_urls_host_or_itself() {
        assert_eq!(target_host("https://Example.com:8443/app"), "example.com");
        assert_eq!(target_host("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(target_host("Example.com"), "example.com");
        assert_eq!(target_host("192.0.2.7"), "192.0.2.7");
    }
}
