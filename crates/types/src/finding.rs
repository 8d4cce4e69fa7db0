//! Findings: what a check reports, before (draft) and after (stored, deduplicated) storage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, FindingEventId, FindingId, OrgId, RunId};
use crate::scan::CheckKind;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
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

/// Where a finding stands. Scans move findings between `open`, `fixed` and `reopened`; people
/// triage them into any status but `reopened`, which only a scan observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    InProgress,
    AcceptedRisk,
    FalsePositive,
    Fixed,
    Reopened,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 6] = [
        FindingStatus::Open,
        FindingStatus::InProgress,
        FindingStatus::AcceptedRisk,
        FindingStatus::FalsePositive,
        FindingStatus::Fixed,
        FindingStatus::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::InProgress => "in_progress",
            FindingStatus::AcceptedRisk => "accepted_risk",
            FindingStatus::FalsePositive => "false_positive",
            FindingStatus::Fixed => "fixed",
            FindingStatus::Reopened => "reopened",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// A decision someone must be able to justify later: it takes a reason.
    pub fn requires_reason(self) -> bool {
        matches!(
            self,
            FindingStatus::AcceptedRisk | FindingStatus::FalsePositive
        )
    }

    /// Still to be dealt with: a complete re-scan that no longer sees it marks it fixed.
    /// Accepted risks and false positives are decisions, and no scan overrides them.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            FindingStatus::Open | FindingStatus::InProgress | FindingStatus::Reopened
        )
    }

    /// Whether a person (or an API key) may set it.
    pub fn settable_by_people(self) -> bool {
        self != FindingStatus::Reopened
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Why the status is what it is (required for accepted risks and false positives).
    pub status_reason: Option<String>,
    /// When the status last changed and who changed it (an e-mail, a key prefix, `system`);
    /// absent while the finding is as its first sighting left it.
    pub status_changed_at: Option<DateTime<Utc>>,
    pub status_changed_by: Option<String>,
    pub occurrences: i32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Who changed a finding's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingActorKind {
    User,
    ApiKey,
    /// A scan: a complete re-scan that no longer saw it, or a later sighting.
    System,
    /// An automation rule's action.
    Rule,
}

impl FindingActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingActorKind::User => "user",
            FindingActorKind::ApiKey => "api_key",
            FindingActorKind::System => "system",
            FindingActorKind::Rule => "rule",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(FindingActorKind::User),
            "api_key" => Some(FindingActorKind::ApiKey),
            "system" => Some(FindingActorKind::System),
            "rule" => Some(FindingActorKind::Rule),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingActor {
    pub kind: FindingActorKind,
    /// The user's or the key's id; absent for the system.
    pub id: Option<uuid::Uuid>,
    /// What people read: the user's e-mail, the key's prefix, `system`.
    pub label: String,
}

impl FindingActor {
    pub const SYSTEM_LABEL: &'static str = "system";
}

/// One entry of a finding's history. Entries are only ever added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingEvent {
    pub id: FindingEventId,
    pub finding_id: FindingId,
    pub occurred_at: DateTime<Utc>,
    pub actor: FindingActor,
    pub from_status: FindingStatus,
    pub to_status: FindingStatus,
    pub reason: Option<String>,
    /// The run that caused a system change.
    pub run_id: Option<RunId>,
}

/// A finding and how its status came to be, oldest change first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingWithHistory {
    #[serde(flatten)]
    pub finding: Finding,
    pub history: Vec<FindingEvent>,
}

/// The longest reason kept with a status change.
pub const MAX_REASON_CHARS: usize = 2_000;

/// A status change as the gateway asks base for it; the actor is the authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: FindingStatus,
    pub reason: Option<String>,
    pub actor: FindingActor,
    /// For a rule's change: the rules whose actions led to it, the acting rule last.
    #[serde(default)]
    pub caused_by: Vec<crate::RuleId>,
}

impl StatusChange {
    /// The checks every change by a person passes, wherever it is made; the message names the
    /// field at fault.
    pub fn validate(&self) -> Result<(), String> {
        validate_status_change(self.status, self.reason.as_deref())?;
        if self.actor.kind == FindingActorKind::System {
            return Err("actor: system changes are made by scans only".into());
        }
        if self.actor.label.trim().is_empty() || self.actor.label.len() > 512 {
            return Err("actor: a label of 1-512 bytes is required".into());
        }
        if self.actor.kind == FindingActorKind::Rule
            && self.caused_by.last().map(|rule| rule.0) != self.actor.id
        {
            return Err("caused_by: a rule's change names the rule last".into());
        }
        Ok(())
    }

    /// The reason as stored: trimmed, and absent when empty.
    pub fn stored_reason(&self) -> Option<&str> {
        self.reason
            .as_deref()
            .map(str::trim)
            .filter(|reason| !reason.is_empty())
    }
}

/// The rules of a status a person sets: not `reopened`, and a reason for the two decisions.
pub fn validate_status_change(status: FindingStatus, reason: Option<&str>) -> Result<(), String> {
    if !status.settable_by_people() {
        return Err("status: reopened is set by scans only (set open instead)".into());
    }
    let reason = reason.map(str::trim).unwrap_or_default();
    if status.requires_reason() && reason.is_empty() {
        return Err(format!(
            "reason: required when the status is {}",
            status.as_str()
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!("reason: at most {MAX_REASON_CHARS} characters"));
    }
    Ok(())
}

/// The most findings one bulk change may name.
pub const MAX_BULK_IDS: usize = 1_000;

/// The same status change for many findings, applied together or not at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusChange {
    pub ids: Vec<FindingId>,
    pub status: FindingStatus,
    pub reason: Option<String>,
    pub actor: FindingActor,
}

impl BulkStatusChange {
    /// The change applied to each finding.
    pub fn change(&self) -> StatusChange {
        StatusChange {
            status: self.status,
            reason: self.reason.clone(),
            actor: self.actor.clone(),
            caused_by: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        validate_bulk_ids(&self.ids)?;
        self.change().validate()
    }
}

pub fn validate_bulk_ids(ids: &[FindingId]) -> Result<(), String> {
    if ids.is_empty() || ids.len() > MAX_BULK_IDS {
        return Err(format!("ids: 1-{MAX_BULK_IDS} finding ids"));
    }
    Ok(())
}

/// `PATCH /api/v1/findings/{id}`: the caller is the actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingStatusUpdate {
    pub status: FindingStatus,
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/findings/bulk-status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFindingStatusUpdate {
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<FindingId>,
    pub status: FindingStatus,
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a bulk change did: how many findings changed, and how many already were so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkStatusResult {
    pub changed: u32,
    pub unchanged: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_decisions_need_a_reason() {
        for status in FindingStatus::ALL {
            assert_eq!(FindingStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(FindingStatus::parse("closed"), None);
        let error = validate_status_change(FindingStatus::FalsePositive, Some("  ")).unwrap_err();
        assert!(error.starts_with("reason:"), "{error}");
        assert!(validate_status_change(FindingStatus::AcceptedRisk, None).is_err());
        assert!(validate_status_change(FindingStatus::AcceptedRisk, Some("owner ok")).is_ok());
        assert!(validate_status_change(FindingStatus::Fixed, None).is_ok());
        let error = validate_status_change(FindingStatus::Reopened, None).unwrap_err();
        assert!(error.starts_with("status:"), "{error}");
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(validate_status_change(FindingStatus::InProgress, Some(&long)).is_err());
    }

    #[test]
    fn a_bulk_change_is_checked_like_a_single_one() {
        let body = serde_json::json!({
            "ids": [FindingId::new()],
            "status": "in_progress",
            "reason": null,
            "actor": {"kind": "user", "id": null, "label": "a@example.com"},
        });
        let change: BulkStatusChange = serde_json::from_value(body).unwrap();
        assert_eq!(change.status, FindingStatus::InProgress);
        assert!(change.validate().is_ok());
        let none = BulkStatusChange {
            ids: vec![],
            ..change
        };
        assert!(none.validate().unwrap_err().starts_with("ids:"));
        let unexplained = BulkStatusChange {
            ids: vec![FindingId::new()],
            status: FindingStatus::FalsePositive,
            ..none
        };
        assert!(unexplained.validate().unwrap_err().starts_with("reason:"));
    }
}
