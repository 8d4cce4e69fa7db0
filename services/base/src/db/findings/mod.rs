//! Findings, deduplicated by fingerprint: a re-scan that finds the same problem updates the
//! existing row (last seen, occurrences) instead of adding one. Their status moves through
//! people's triage and through scans (a complete re-scan fixes what it no longer sees, a later
//! sighting reopens a fixed finding); every change adds a row to `finding_events`.
//!
//! This module holds what the parts share (fingerprints, rows, history entries); `report`
//! stores what runs find, `query` reads findings, `triage` applies people's status changes.

use chrono::{DateTime, Utc};
use s4e_types::{
    AssetId, CheckKind, Finding, FindingActor, FindingActorKind, FindingDraft, FindingEvent,
    FindingEventId, FindingId, FindingStatus, OrgId, RuleId, RunId, Severity,
};
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::DbError;

/// The identity of a finding: the same problem in the same place of the same asset.
pub fn fingerprint(org_id: OrgId, asset_id: AssetId, draft: &FindingDraft) -> String {
    let mut hasher = Sha256::new();
    for part in [
        org_id.to_string().as_str(),
        asset_id.to_string().as_str(),
        draft.check.as_str(),
        draft.rule.as_str(),
        draft.location.as_str(),
    ] {
        hasher.update(part.as_bytes());
        // A separator that cannot occur in the parts keeps ("ab","c") apart from ("a","bc").
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

macro_rules! finding_columns {
    () => {
        "f.id, f.org_id, f.asset_id, f.last_run_id, f.check_kind, f.rule, f.location, \
         f.fingerprint, f.title, f.severity, f.score, f.cwe, f.description, f.remediation, \
         f.evidence, f.raw_output_id, f.status, f.status_reason, f.status_changed_at, \
         f.status_changed_by, f.occurrences, f.first_seen, f.last_seen"
    };
}

mod query;
mod report;
mod triage;

pub use query::{count, get, list};
pub use report::{fix_unseen, upsert_for_job};
pub use triage::{bulk_change_status, change_status};

/// A history entry about to be written.
struct NewEvent<'a> {
    finding_id: Uuid,
    from: FindingStatus,
    to: FindingStatus,
    reason: Option<&'a str>,
    actor: &'a FindingActor,
    run_id: Option<RunId>,
}

/// Writes history entries, and for each the `finding.status_changed` event the outbox
/// publishes (its id the entry's). The event carries `caused_by`, or for a scan's change the
/// chain of rules that started the scan.
async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    events: &[NewEvent<'_>],
    caused_by: &[RuleId],
) -> Result<(), DbError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| FindingEventId::new().0).collect();
    let findings: Vec<Uuid> = events.iter().map(|e| e.finding_id).collect();
    let from: Vec<&str> = events.iter().map(|e| e.from.as_str()).collect();
    let to: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
    let reasons: Vec<Option<&str>> = events.iter().map(|e| e.reason).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.actor.kind.as_str()).collect();
    let actor_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.actor.id).collect();
    let labels: Vec<&str> = events.iter().map(|e| e.actor.label.as_str()).collect();
    let runs: Vec<Option<Uuid>> = events.iter().map(|e| e.run_id.map(|id| id.0)).collect();
    let caused_by: Option<Vec<Uuid>> =
        (!caused_by.is_empty()).then(|| caused_by.iter().map(|rule| rule.0).collect());
    sqlx::query(
        "WITH entry AS (
             INSERT INTO finding_events (id, org_id, finding_id, actor_kind, actor_id,
                                         actor_label, from_status, to_status, reason, run_id)
             SELECT e.id, $1, e.finding_id, e.actor_kind, e.actor_id, e.actor_label,
                    e.from_status, e.to_status, e.reason, e.run_id
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::uuid[])
                  AS e (id, finding_id, actor_kind, actor_id, actor_label, from_status,
                        to_status, reason, run_id)
             RETURNING *)
         INSERT INTO outbox_events (id, org_id, event_type, payload, caused_by, occurred_at)
         SELECT entry.id, $1, 'finding.status_changed',
                jsonb_build_object(
                    'finding_id', f.id, 'asset_id', f.asset_id, 'check', f.check_kind,
                    'rule', f.rule, 'severity', f.severity, 'title', f.title,
                    'location', f.location, 'from_status', entry.from_status,
                    'to_status', entry.to_status, 'reason', entry.reason,
                    'actor_kind', entry.actor_kind, 'actor', entry.actor_label,
                    'run_id', entry.run_id),
                COALESCE($11::uuid[],
                         (SELECT r.caused_by FROM scan_runs r
                          WHERE r.org_id = $1 AND r.id = entry.run_id),
                         '{}'),
                entry.occurred_at
         FROM entry JOIN findings f ON f.org_id = $1 AND f.id = entry.finding_id",
    )
    .bind(org_id.0)
    .bind(&ids)
    .bind(&findings)
    .bind(&kinds)
    .bind(&actor_ids)
    .bind(&labels)
    .bind(&from)
    .bind(&to)
    .bind(&reasons)
    .bind(&runs)
    .bind(&caused_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn system_actor() -> FindingActor {
    FindingActor {
        kind: FindingActorKind::System,
        id: None,
        label: FindingActor::SYSTEM_LABEL.to_string(),
    }
}

fn parse_status(value: &str) -> Result<FindingStatus, DbError> {
    FindingStatus::parse(value)
        .ok_or_else(|| DbError::Corrupt(format!("unknown finding status {value:?}")))
}

#[derive(sqlx::FromRow)]
struct FindingRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    last_run_id: Uuid,
    check_kind: String,
    rule: String,
    location: String,
    fingerprint: String,
    title: String,
    severity: String,
    score: f32,
    cwe: Option<i32>,
    description: String,
    remediation: String,
    evidence: serde_json::Value,
    raw_output_id: Option<String>,
    status: String,
    status_reason: Option<String>,
    status_changed_at: Option<DateTime<Utc>>,
    status_changed_by: Option<String>,
    occurrences: i32,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl TryFrom<FindingRow> for Finding {
    type Error = DbError;
    fn try_from(row: FindingRow) -> Result<Self, DbError> {
        let invalid =
            |what: &str, value: &str| DbError::Corrupt(format!("unknown {what} {value:?}"));
        Ok(Finding {
            id: FindingId(row.id),
            org_id: OrgId(row.org_id),
            asset_id: AssetId(row.asset_id),
            last_run_id: RunId(row.last_run_id),
            check: CheckKind::parse(&row.check_kind)
                .ok_or_else(|| invalid("check", &row.check_kind))?,
            severity: Severity::parse(&row.severity)
                .ok_or_else(|| invalid("severity", &row.severity))?,
            status: parse_status(&row.status)?,
            rule: row.rule,
            location: row.location,
            fingerprint: row.fingerprint,
            title: row.title,
            score: row.score,
            cwe: row.cwe.map(|cwe| cwe as u32),
            description: row.description,
            remediation: row.remediation,
            evidence: row.evidence,
            raw_output_id: row.raw_output_id,
            status_reason: row.status_reason,
            status_changed_at: row.status_changed_at,
            status_changed_by: row.status_changed_by,
            occurrences: row.occurrences,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    finding_id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    actor_label: String,
    from_status: String,
    to_status: String,
    reason: Option<String>,
    run_id: Option<Uuid>,
}

impl TryFrom<EventRow> for FindingEvent {
    type Error = DbError;
    fn try_from(row: EventRow) -> Result<Self, DbError> {
        Ok(FindingEvent {
            id: FindingEventId(row.id),
            finding_id: FindingId(row.finding_id),
            occurred_at: row.occurred_at,
            actor: FindingActor {
                kind: FindingActorKind::parse(&row.actor_kind).ok_or_else(|| {
                    DbError::Corrupt(format!("unknown actor kind {:?}", row.actor_kind))
                })?,
                id: row.actor_id,
                label: row.actor_label,
            },
            from_status: parse_status(&row.from_status)?,
            to_status: parse_status(&row.to_status)?,
            reason: row.reason,
            run_id: row.run_id.map(RunId),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(rule: &str, location: &str) -> FindingDraft {
        FindingDraft {
            check: CheckKind::HttpHeaders,
            rule: rule.into(),
            location: location.into(),
            title: "t".into(),
            severity: Severity::Low,
            score: 3.0,
            cwe: None,
            description: String::new(),
            remediation: String::new(),
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn fingerprints_depend_on_every_part_and_only_on_them() {
        let org = OrgId::new();
        let asset = AssetId::new();
        let a = fingerprint(org, asset, &draft("missing_csp", "https://x/"));
        let mut retitled = draft("missing_csp", "https://x/");
        retitled.title = "another title".into();
        assert_eq!(a, fingerprint(org, asset, &retitled));
        assert_ne!(
            a,
            fingerprint(org, asset, &draft("missing_csp", "https://y/"))
        );
        assert_ne!(
            a,
            fingerprint(org, AssetId::new(), &draft("missing_csp", "https://x/"))
        );
        assert_ne!(
            a,
            fingerprint(OrgId::new(), asset, &draft("missing_csp", "https://x/"))
        );
        assert_ne!(
            fingerprint(org, asset, &draft("ab", "c")),
            fingerprint(org, asset, &draft("a", "bc"))
        );
    }
}
