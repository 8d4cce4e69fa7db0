//! Findings: what a check reports, before (draft) and after (stored, deduplicated) storage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, FindingId, OrgId, RunId};
use crate::scan::CheckKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Fixed,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Fixed => "fixed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "open" => Some(FindingStatus::Open),
            "fixed" => Some(FindingStatus::Fixed),
            _ => None,
        }
    }
}

/// What a check reports. The store turns drafts into findings, deduplicating by fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingDraft {
    pub check: CheckKind,
    /// Stable name of the rule within the check, e.g. `missing_hsts`.
    pub rule: String,
    /// Where the problem is, e.g. the URL that was requested.
    pub location: String,
    pub title: String,
    pub severity: Severity,
    /// 0.0–10.0
    pub score: f32,
    pub cwe: Option<u32>,
    pub description: String,
    pub remediation: String,
    /// A short excerpt proving the finding (headers, status line); the full raw output is in
    /// the document store and linked by `raw_output_id`.
    pub evidence: serde_json::Value,
}

/// A stored finding. One row per (organization, asset, check, rule, location): re-scans bump
/// `last_seen` and `occurrences` instead of adding rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: FindingId,
    pub org_id: OrgId,
    pub asset_id: AssetId,
    pub last_run_id: RunId,
    pub check: CheckKind,
    pub rule: String,
    pub location: String,
    pub fingerprint: String,
    pub title: String,
    pub severity: Severity,
    pub score: f32,
    pub cwe: Option<u32>,
    pub description: String,
    pub remediation: String,
    pub evidence: serde_json::Value,
    pub raw_output_id: Option<String>,
    pub status: FindingStatus,
    pub occurrences: i32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}
