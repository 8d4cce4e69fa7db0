//! Scan runs, their jobs, and the kinds of check a job can run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, JobId, OrgId, RunId};

/// A kind of check. The dispatcher routes jobs to one queue per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    HttpHeaders,
    /// TCP connect scan with service identification.
    Ports,
    /// The TLS certificate a host presents: validity, trust, name, key.
    TlsCertificate,
    /// The TLS protocol versions and weak cipher suites a host accepts.
    TlsProtocols,
    /// Extra requests to a URL: CORS, TRACE, OPTIONS, the redirect of plain HTTP.
    HttpProbes,
    /// Sensitive files and paths left reachable on a site.
    Exposure,
    /// A domain's DNS records: SPF, DMARC, DNSSEC, dangling CNAMEs.
    Dns,
}

impl CheckKind {
    pub const ALL: &'static [CheckKind] = &[
        CheckKind::HttpHeaders,
        CheckKind::Ports,
        CheckKind::TlsCertificate,
        CheckKind::TlsProtocols,
        CheckKind::HttpProbes,
        CheckKind::Exposure,
        CheckKind::Dns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::HttpHeaders => "http_headers",
            CheckKind::Ports => "ports",
            CheckKind::TlsCertificate => "tls_certificate",
            CheckKind::TlsProtocols => "tls_protocols",
            CheckKind::HttpProbes => "http_probes",
            CheckKind::Exposure => "exposure",
            CheckKind::Dns => "dns",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    /// Stopped on request before every job ended.
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(RunStatus::Queued),
            "running" => Some(RunStatus::Running),
            "completed" => Some(RunStatus::Completed),
            "failed" => Some(RunStatus::Failed),
            "cancelled" => Some(RunStatus::Cancelled),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
    /// Its run was cancelled before it ended: no worker runs it, and its report is ignored.
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(JobStatus::Queued),
            "running" => Some(JobStatus::Running),
            "completed" => Some(JobStatus::Completed),
            "failed" => Some(JobStatus::Failed),
            "cancelled" => Some(JobStatus::Cancelled),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// What a worker may report: a job ends completed or failed; only base cancels.
    pub fn is_reportable(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanRun {
    pub id: RunId,
    pub org_id: OrgId,
    pub asset_id: AssetId,
    pub profile: String,
    pub status: RunStatus,
    pub jobs_total: i32,
    pub jobs_completed: i32,
    pub jobs_failed: i32,
    pub findings_count: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanJob {
    pub id: JobId,
    pub run_id: RunId,
    pub org_id: OrgId,
    pub asset_id: AssetId,
    pub check: CheckKind,
    pub target: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub error: Option<String>,
    pub raw_output_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The work a check worker receives over the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job_id: JobId,
    pub run_id: RunId,
    pub asset_id: AssetId,
    pub check: CheckKind,
    pub target: String,
}

impl From<&ScanJob> for JobSpec {
    fn from(job: &ScanJob) -> Self {
        JobSpec {
            job_id: job.id,
            run_id: job.run_id,
            asset_id: job.asset_id,
            check: job.check,
            target: job.target.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_kinds_round_trip_through_their_names() {
        for kind in CheckKind::ALL {
            assert_eq!(CheckKind::parse(kind.as_str()), Some(*kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().into()));
        }
        assert_eq!(CheckKind::parse("nope"), None);
    }
}
