//! Scan runs, their jobs, and the kinds of check a job can run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, JobId, OrgId, RunId};

/// A kind of check. The dispatcher routes jobs to one queue per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Host names under a domain: a wordlist against the resolvers, a zone transfer.
    Subdomains,
    /// An API's operations, read from its OpenAPI document and requested without credentials.
    ApiOperations,
    /// A web application mapped by the crawler's stages: pages, links, forms, scripts, what
    /// they expose. Run by s4e-crawler, not by the check workers.
    Crawl,
}

impl CheckKind {
    /// Every kind of job: the checks, then the crawl (last: [`CheckKind::CHECKS`] is the rest).
    pub const ALL: &'static [CheckKind] = &[
        CheckKind::HttpHeaders,
        CheckKind::Ports,
        CheckKind::TlsCertificate,
        CheckKind::TlsProtocols,
        CheckKind::HttpProbes,
        CheckKind::Exposure,
        CheckKind::Dns,
        CheckKind::Subdomains,
        CheckKind::ApiOperations,
        CheckKind::Crawl,
    ];

    /// The kinds the check workers run (`s4e_checks::run`): every kind but the crawl.
    pub const CHECKS: &'static [CheckKind] = match Self::ALL.split_last() {
        Some((CheckKind::Crawl, checks)) => checks,
        _ => panic!("the crawl is the last kind of job"),
    };

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::HttpHeaders => "http_headers",
            CheckKind::Ports => "ports",
            CheckKind::TlsCertificate => "tls_certificate",
            CheckKind::TlsProtocols => "tls_protocols",
            CheckKind::HttpProbes => "http_probes",
            CheckKind::Exposure => "exposure",
            CheckKind::Dns => "dns",
            CheckKind::Subdomains => "subdomains",
            CheckKind::ApiOperations => "api_operations",
            CheckKind::Crawl => "crawl",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == value)
    }

    /// The catalog's grouping of checks.
    pub fn category(self) -> &'static str {
        match self {
            CheckKind::HttpHeaders
            | CheckKind::HttpProbes
            | CheckKind::Exposure
            | CheckKind::ApiOperations => "web",
            CheckKind::Ports => "network",
            CheckKind::TlsCertificate | CheckKind::TlsProtocols => "tls",
            CheckKind::Dns | CheckKind::Subdomains => "dns",
            CheckKind::Crawl => "crawl",
        }
    }

    /// Every category, once.
    pub const CATEGORIES: &'static [&'static str] = &["web", "network", "tls", "dns", "crawl"];
}

/// A scan profile: which of the catalog's checks a scan runs (the catalog in s4e-scan says
/// which checks each profile plans for each asset kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanProfile {
    /// Every check that applies to the asset by default.
    Full,
    /// Fast and non-intrusive: at most one request to the target per check.
    Light,
    /// Exactly one named check.
    Single,
    /// The crawler's stages alone.
    CrawlOnly,
    /// The checks the request names.
    Custom,
}

impl ScanProfile {
    pub const ALL: &'static [ScanProfile] = &[
        ScanProfile::Full,
        ScanProfile::Light,
        ScanProfile::Single,
        ScanProfile::CrawlOnly,
        ScanProfile::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanProfile::Full => "full",
            ScanProfile::Light => "light",
            ScanProfile::Single => "single",
            ScanProfile::CrawlOnly => "crawl_only",
            ScanProfile::Custom => "custom",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|profile| profile.as_str() == value)
    }

    /// Whether the request names its checks (`single`, `custom`) rather than the profile
    /// choosing them.
    pub fn takes_checks(self) -> bool {
        matches!(self, ScanProfile::Single | ScanProfile::Custom)
    }
}

/// The TCP ports the port scan tries: `{"mode": "common"}` (about a hundred ports where exposed
/// services are found), `{"mode": "full"}` (1–65535) or `{"mode": "list", "ports": [22, 443]}`.
/// A URL's own port is added to `common` and `list`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum PortScope {
    #[default]
    Common,
    Full,
    List {
        ports: Vec<u16>,
    },
}

impl PortScope {
    /// At most this many ports in a list; more is what `full` is for.
    pub const MAX_LISTED: usize = 4096;

    /// The scope in one form: a list sorted, without repeats. Refuses port 0, an empty list and
    /// an over-long one, naming the field.
    pub fn normalized(&self, field: &str) -> Result<PortScope, String> {
        let PortScope::List { ports } = self else {
            return Ok(self.clone());
        };
        if ports.is_empty() {
            return Err(format!(
                "{field}.ports: name at least one port, or use the mode common or full"
            ));
        }
        if ports.contains(&0) {
            return Err(format!("{field}.ports: ports run from 1 to 65535"));
        }
        let mut ports = ports.clone();
        ports.sort_unstable();
        ports.dedup();
        if ports.len() > Self::MAX_LISTED {
            return Err(format!(
                "{field}.ports: at most {} ports; use the mode full for the whole range",
                Self::MAX_LISTED
            ));
        }
        Ok(PortScope::List { ports })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The automation rules whose actions led to this scan, the one that started it last;
    /// empty for a scan a person, a key, a schedule or an inbound hook started.
    #[serde(default)]
    pub caused_by: Vec<crate::RuleId>,
}

/// Filters of the scan list; every one optional. Runs come newest first; `before` is the
/// cursor (the last id of the previous page).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    pub asset_id: Option<AssetId>,
    pub status: Option<RunStatus>,
    #[param(max_length = 64)]
    pub profile: Option<String>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    pub before: Option<RunId>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl RunQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    /// The longest profile name a filter may hold.
    pub const MAX_PROFILE_CHARS: usize = 64;

    /// What is wrong with the filters, naming the parameter.
    pub fn validate(&self) -> Result<(), String> {
        self.page_size()?;
        if self
            .profile
            .as_ref()
            .is_some_and(|profile| profile.chars().count() > Self::MAX_PROFILE_CHARS)
        {
            return Err(format!(
                "profile: at most {} characters",
                Self::MAX_PROFILE_CHARS
            ));
        }
        Ok(())
    }

    /// The page size asked for, or why it cannot be served.
    pub fn page_size(&self) -> Result<u32, String> {
        match self.limit.unwrap_or(Self::DEFAULT_LIMIT) {
            limit @ 1..=Self::MAX_LIMIT => Ok(limit),
            _ => Err(format!("limit: must be 1-{}", Self::MAX_LIMIT)),
        }
    }
}

/// One page of runs, and the cursor of the next when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunPage {
    pub items: Vec<ScanRun>,
    pub next_cursor: Option<RunId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The ports a port-scan job tries (the organization's setting when the run was created);
    /// absent: the common ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortScope>,
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
    /// The ports of a port-scan job; absent: the common ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortScope>,
}

impl From<&ScanJob> for JobSpec {
    fn from(job: &ScanJob) -> Self {
        JobSpec {
            job_id: job.id,
            run_id: job.run_id,
            asset_id: job.asset_id,
            check: job.check,
            target: job.target.clone(),
            ports: job.ports.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_workers_run_every_kind_but_the_crawl() {
        assert_eq!(CheckKind::CHECKS.len() + 1, CheckKind::ALL.len());
        assert!(!CheckKind::CHECKS.contains(&CheckKind::Crawl));
    }

    #[test]
    fn check_kinds_round_trip_through_their_names() {
        for kind in CheckKind::ALL {
            assert_eq!(CheckKind::parse(kind.as_str()), Some(*kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().into()));
        }
        assert_eq!(CheckKind::parse("nope"), None);
    }

    #[test]
    fn profiles_round_trip_through_their_names() {
        for profile in ScanProfile::ALL {
            assert_eq!(ScanProfile::parse(profile.as_str()), Some(*profile));
            let json = serde_json::to_value(profile).unwrap();
            assert_eq!(json, serde_json::Value::String(profile.as_str().into()));
        }
        assert!(ScanProfile::Single.takes_checks());
        assert!(!ScanProfile::Light.takes_checks());
    }

    #[test]
    fn port_scopes_are_tagged_and_lists_normalized() {
        let list: PortScope =
            serde_json::from_value(serde_json::json!({"mode": "list", "ports": [443, 22, 443]}))
                .unwrap();
        assert_eq!(
            list.normalized("port_scan").unwrap(),
            PortScope::List {
                ports: vec![22, 443]
            }
        );
        let full: PortScope = serde_json::from_value(serde_json::json!({"mode": "full"})).unwrap();
        assert_eq!(full, PortScope::Full);
        assert_eq!(
            serde_json::to_value(PortScope::Common).unwrap(),
            serde_json::json!({"mode": "common"})
        );
        let empty = PortScope::List { ports: vec![] };
        assert!(
            empty
                .normalized("port_scan")
                .unwrap_err()
                .starts_with("port_scan.ports")
        );
        let zero = PortScope::List { ports: vec![0, 80] };
        assert!(zero.normalized("port_scan").is_err());
        let many = PortScope::List {
            ports: (1..=5000).collect(),
        };
        assert!(many.normalized("port_scan").is_err());
        assert!(serde_json::from_value::<PortScope>(serde_json::json!({"mode": "some"})).is_err());
    }
}
