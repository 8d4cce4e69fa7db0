//! The check worker: runs one job, stores its raw output and findings, advances the run.
//!
//! Every step is safe to repeat: base applies a job's report once, raw output is keyed by job
//! id, live status is overwritten with base's counts. So a redelivered job (a worker killed
//! mid-job, a lost ack) is finished exactly once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use s4e_bus::topology::Exchange;
use s4e_bus::{Bus, Incoming, Outcome, Queue};
use s4e_checks::dns::{self, DnsClient};
use s4e_checks::ports::{self, PortScanOptions, PortSet};
use s4e_checks::{CheckError, EgressPolicy, exposure, http_headers, http_probes, tls_cert};
use s4e_client::{BaseClient, ClientError};
use s4e_runtime::{CancellationToken, Metrics};
use s4e_store::{LiveStatus, RawOutputs};
use s4e_types::api::{FinishJob, RunProgress};
use s4e_types::envelope::ScanCompleted;
use s4e_types::{
    CheckKind, Envelope, FindingDraft, JobSpec, JobStatus, Message, OrgId, PortScope, ScanRun,
};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub struct Worker {
    pub base: BaseClient,
    pub bus: Bus,
    pub live: LiveStatus,
    pub raw: RawOutputs,
    pub metrics: Metrics,
    pub egress: EgressPolicy,
    pub check_timeout: Duration,
    pub port_scan_timeout: Duration,
    /// The resolvers of the DNS check; empty: the system's.
    pub dns_servers: Vec<SocketAddr>,
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

/// The ports a port-scan job tries: the organization's choice recorded on the job (the common
/// ports when none is), plus a URL's own port unless the whole range is scanned anyway.
fn port_set(target: &str, scope: Option<&PortScope>) -> PortSet {
    let mut list = match scope {
        None | Some(PortScope::Common) => ports::COMMON_PORTS.to_vec(),
        Some(PortScope::Full) => return PortSet::All,
        Some(PortScope::List { ports }) => ports.clone(),
    };
    let own_port = url::Url::parse(target)
        .ok()
        .and_then(|url| url.port_or_known_default());
    if let Some(port) = own_port.filter(|port| !list.contains(port)) {
        list.push(port);
    }
    PortSet::List(list)
}

/// A failure worth another delivery (a dependency is away) or a message that never will work.
fn outcome_of(error: ClientError, step: &str) -> Outcome {
    if error.is_transient() {
        Outcome::Retry(format!("{step}: {error}"))
    } else {
        Outcome::DeadLetter(format!("{step}: {error}"))
    }
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
        // From here on base's job row is the truth: what to check and where comes from it, not
        // from the message, which anyone able to publish could have written.
        let job = match self.base.start_job(org_id, spec.job_id).await {
            Ok(job) => job,
            Err(error) => return outcome_of(error, "starting job"),
        };
        let spec = JobSpec::from(&job);
        if job.status.is_final() {
            // Already done by an earlier delivery: make sure its run's event went out.
            tracing::info!(job_id = %spec.job_id, "job already finished, acknowledging");
            self.count_duplicate(spec.check);
            let run = match self.base.get_run(org_id, spec.run_id).await {
                Ok(run) => run,
                Err(error) => return outcome_of(error, "reading run"),
            };
            return self.announce_if_final(&run).await;
        }
        if let Ok(run) = self.base.get_run(org_id, spec.run_id).await {
            self.publish_progress(&run).await;
        }

        let mut report = match self.run_check(org_id, &spec).await {
            Ok(report) => report,
            Err(outcome) => return outcome,
        };
        let mut finished = self.base.finish_job(org_id, spec.job_id, &report).await;
        if let Err(ClientError::BadRequest(reason)) = &finished {
            // Base refused the report (oversized or invalid findings): the job fails with the
            // reason rather than its message going to the dead-letter queue and the run hanging.
            tracing::warn!(job_id = %spec.job_id, %reason, "report refused, failing the job");
            report = FinishJob {
                status: JobStatus::Failed,
                error: Some(format!("the check's report was refused: {reason}")),
                raw_output_id: report.raw_output_id,
                findings: Vec::new(),
            };
            finished = self.base.finish_job(org_id, spec.job_id, &report).await;
        }
        let finished = match finished {
            Ok(finished) => finished,
            Err(error) => return outcome_of(error, "reporting job"),
        };
        if !finished.applied {
            // Two deliveries of one job ran at once; base kept the first report.
            self.count_duplicate(spec.check);
            return self.announce_if_final(&finished.run).await;
        }
        self.metrics.inc(
            "s4e_worker_jobs_total",
            "Jobs finished by the check workers, by check and status.",
            &[
                ("check", spec.check.as_str()),
                ("status", report.status.as_str()),
            ],
        );
        tracing::info!(
            job_id = %spec.job_id, run_id = %spec.run_id, status = report.status.as_str(),
            findings = report.findings.len(), "job finished"
        );
        self.publish_progress(&finished.run).await;
        self.announce_if_final(&finished.run).await
    }

    /// Runs the check. A target that cannot be reached is a result (the job failed, with the
    /// reason); only our own dependencies being away makes the message come back.
    async fn run_check(&self, org_id: OrgId, spec: &JobSpec) -> Result<FinishJob, Outcome> {
        let result = match spec.check {
            CheckKind::HttpHeaders => {
                http_headers::run(&spec.target, &self.egress, self.check_timeout)
                    .await
                    .map(|output| (output.findings, to_json(&output.raw)))
            }
            CheckKind::HttpProbes => {
                http_probes::run(&spec.target, &self.egress, self.check_timeout)
                    .await
                    .map(|output| (output.findings, to_json(&output.raw)))
            }
            CheckKind::Exposure => exposure::run(&spec.target, &self.egress, self.check_timeout)
                .await
                .map(|output| (output.findings, to_json(&output.raw))),
            CheckKind::Ports => self.scan_ports(&spec.target, spec.ports.as_ref()).await,
            CheckKind::TlsCertificate => tls_cert::run(
                &spec.target,
                &self.egress,
                self.check_timeout,
                CheckKind::TlsCertificate,
            )
            .await
            .map(|output| {
                let findings = output.findings.clone();
                (findings, without_findings(to_json(&output)))
            }),
            CheckKind::Dns => self.check_dns(&spec.target).await,
        };
        match result {
            Ok((findings, raw)) => {
                let raw_output_id = self
                    .raw
                    .store(org_id, spec.run_id, spec.job_id, &raw)
                    .await
                    .map_err(|error| Outcome::Retry(format!("storing raw output: {error}")))?;
                Ok(FinishJob {
                    status: JobStatus::Completed,
                    error: None,
                    raw_output_id: Some(raw_output_id),
                    findings,
                })
            }
            Err(error) => {
                let kind = match error {
                    CheckError::Egress(_) => "egress_refused",
                    CheckError::Unreachable(_) => "unreachable",
                    CheckError::Timeout(_) => "timeout",
                    CheckError::InvalidTarget(_) => "invalid_target",
                    CheckError::Dns(_) => "dns",
                };
                tracing::info!(job_id = %spec.job_id, %error, kind, "check failed");
                Ok(FinishJob {
                    status: JobStatus::Failed,
                    error: Some(error.to_string()),
                    raw_output_id: None,
                    findings: Vec::new(),
                })
            }
        }
    }

    /// The common ports plus the asset's own port (a URL on 8443, say), within the port-scan
    /// time limit. The raw output is the scan without its findings, which base stores.
    async fn scan_ports(
        &self,
        target: &str,
        scope: Option<&PortScope>,
    ) -> Result<(Vec<FindingDraft>, serde_json::Value), CheckError> {
        let options = PortScanOptions {
            ports: port_set(target, scope),
            ..PortScanOptions::default()
        };
        let scan = ports::run(target, &self.egress, &options, CheckKind::Ports);
        let output = tokio::time::timeout(self.port_scan_timeout, scan)
            .await
            .map_err(|_| CheckError::Timeout(self.port_scan_timeout))??;
        let findings = output.findings.clone();
        Ok((findings, without_findings(to_json(&output))))
    }

    /// The DNS check, asking the configured resolvers (read from the system's configuration
    /// for each job when none are configured, so a changed resolv.conf is picked up).
    async fn check_dns(
        &self,
        target: &str,
    ) -> Result<(Vec<FindingDraft>, serde_json::Value), CheckError> {
        let client = DnsClient::new(&self.dns_servers)?;
        let output = dns::run(target, &client, self.check_timeout, CheckKind::Dns).await?;
        let findings = output.findings.clone();
        Ok((findings, without_findings(to_json(&output))))
    }

    fn count_duplicate(&self, check: CheckKind) {
        self.metrics.inc(
            "s4e_worker_redeliveries_total",
            "Job messages whose job another delivery had finished (redeliveries, duplicates).",
            &[("check", check.as_str())],
        );
    }

    async fn publish_progress(&self, run: &ScanRun) {
        let progress = RunProgress::from(run);
        if let Err(error) = self.live.set(run.id, &progress).await {
            // Live status is a convenience; the run itself is stored in base.
            tracing::warn!(%error, run_id = %run.id, "cannot update live status");
        }
    }

    /// Publishes `scan.completed` for a run in a final state, then acks; if the event cannot
    /// be published the message comes back, and its redelivery announces again. The event id
    /// is derived from the run, so consumers can recognise the repeats.
    async fn announce_if_final(&self, run: &ScanRun) -> Outcome {
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

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Raw output without the findings, which base stores on their own.
fn without_findings(mut raw: serde_json::Value) -> serde_json::Value {
    if let Some(object) = raw.as_object_mut() {
        object.remove("findings");
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_scans_follow_the_job_scope_and_keep_a_urls_own_port() {
        let common = port_set("http://a.test:8090/", None);
        let PortSet::List(common) = common else {
            panic!("a list")
        };
        assert!(common.contains(&8090) && common.contains(&22));
        assert_eq!(port_set("a.test", Some(&PortScope::Full)), PortSet::All);
        assert_eq!(
            port_set(
                "http://a.test:8090/",
                Some(&PortScope::List {
                    ports: vec![22, 443]
                })
            ),
            PortSet::List(vec![22, 443, 8090])
        );
        assert_eq!(
            port_set("a.test", Some(&PortScope::List { ports: vec![5432] })),
            PortSet::List(vec![5432])
        );
    }
}
