//! Findings, deduplicated by fingerprint: a re-scan that finds the same problem updates the
//! existing row (last seen, occurrences) instead of adding one.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use s4e_types::{
    AssetId, CheckKind, Finding, FindingDraft, FindingId, FindingStatus, OrgId, RunId, Severity,
};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
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

/// Stores the findings of one job inside the caller's transaction and records that `run_id`
/// saw them.
pub async fn upsert_for_job(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    asset_id: AssetId,
    run_id: RunId,
    raw_output_id: Option<&str>,
    drafts: &[FindingDraft],
) -> Result<(), DbError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut fingerprints = Vec::new();
    let mut checks = Vec::new();
    let mut rules = Vec::new();
    let mut locations = Vec::new();
    let mut titles = Vec::new();
    let mut severities = Vec::new();
    let mut scores = Vec::new();
    let mut cwes = Vec::new();
    let mut descriptions = Vec::new();
    let mut remediations = Vec::new();
    let mut evidence = Vec::new();
    for draft in drafts {
        validate(draft)?;
        let print = fingerprint(org_id, asset_id, draft);
        // One statement cannot update the same row twice: keep the first of duplicates.
        if !seen.insert(print.clone()) {
            continue;
        }
        ids.push(FindingId::new().0);
        fingerprints.push(print);
        checks.push(draft.check.as_str());
        rules.push(draft.rule.as_str());
        locations.push(draft.location.as_str());
        titles.push(draft.title.as_str());
        severities.push(draft.severity.as_str());
        scores.push(draft.score);
        cwes.push(draft.cwe.map(|cwe| cwe as i32));
        descriptions.push(draft.description.as_str());
        remediations.push(draft.remediation.as_str());
        evidence.push(draft.evidence.clone());
    }
    if ids.is_empty() {
        return Ok(());
    }
    let stored: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO findings (id, org_id, asset_id, fingerprint, check_kind, rule, location,
                               title, severity, score, cwe, description, remediation, evidence,
                               raw_output_id, last_run_id, occurrences)
         SELECT f.id, $1, $2, f.fingerprint, f.check_kind, f.rule, f.location, f.title,
                f.severity, f.score, f.cwe, f.description, f.remediation, f.evidence, $3, $4, 0
         FROM UNNEST($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::real[], $13::int[], $14::text[], $15::text[],
                     $16::jsonb[])
              AS f (id, fingerprint, check_kind, rule, location, title, severity, score, cwe,
                    description, remediation, evidence)
         ON CONFLICT (org_id, fingerprint) DO UPDATE SET
            title = EXCLUDED.title,
            severity = EXCLUDED.severity,
            score = EXCLUDED.score,
            cwe = EXCLUDED.cwe,
            description = EXCLUDED.description,
            remediation = EXCLUDED.remediation,
            evidence = EXCLUDED.evidence,
            raw_output_id = EXCLUDED.raw_output_id,
            last_run_id = EXCLUDED.last_run_id,
            last_seen = now(),
            status = CASE WHEN findings.status = 'fixed' THEN 'open' ELSE findings.status END
         RETURNING id",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(raw_output_id)
    .bind(run_id.0)
    .bind(&ids)
    .bind(&fingerprints)
    .bind(&checks)
    .bind(&rules)
    .bind(&locations)
    .bind(&titles)
    .bind(&severities)
    .bind(&scores)
    .bind(&cwes)
    .bind(&descriptions)
    .bind(&remediations)
    .bind(&evidence)
    .fetch_all(&mut **tx)
    .await?;
    let stored: Vec<Uuid> = stored.into_iter().map(|(id,)| id).collect();
    // Count an occurrence once per run, however often the run reports the finding.
    sqlx::query(
        "WITH seen AS (
             INSERT INTO finding_occurrences (finding_id, run_id, org_id)
             SELECT id, $2, $3 FROM UNNEST($1::uuid[]) AS id
             ON CONFLICT DO NOTHING
             RETURNING finding_id)
         UPDATE findings f SET occurrences = f.occurrences + 1
         WHERE f.org_id = $3 AND f.id IN (SELECT finding_id FROM seen)",
    )
    .bind(&stored)
    .bind(run_id.0)
    .bind(org_id.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn validate(draft: &FindingDraft) -> Result<(), DbError> {
    if !(0.0..=10.0).contains(&draft.score) {
        return Err(DbError::Invalid(format!(
            "findings: score {} is outside 0-10",
            draft.score
        )));
    }
    if draft.rule.is_empty() || draft.title.is_empty() {
        return Err(DbError::Invalid(
            "findings: rule and title are required".into(),
        ));
    }
    Ok(())
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
            status: FindingStatus::parse(&row.status)
                .ok_or_else(|| invalid("status", &row.status))?,
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
            occurrences: row.occurrences,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
        })
    }
}

/// Findings of an organization, most severe first, optionally only those of one asset or those
/// one run saw.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    asset_id: Option<AssetId>,
    run_id: Option<RunId>,
) -> Result<Vec<Finding>, DbError> {
    sqlx::query_as::<_, FindingRow>(
        "SELECT f.id, f.org_id, f.asset_id, f.last_run_id, f.check_kind, f.rule, f.location,
                f.fingerprint, f.title, f.severity, f.score, f.cwe, f.description, f.remediation,
                f.evidence, f.raw_output_id, f.status, f.occurrences, f.first_seen, f.last_seen
         FROM findings f
         WHERE f.org_id = $1
           AND ($2::uuid IS NULL OR f.asset_id = $2)
           AND ($3::uuid IS NULL OR EXISTS (
                SELECT 1 FROM finding_occurrences o
                WHERE o.org_id = $1 AND o.run_id = $3 AND o.finding_id = f.id))
         ORDER BY CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1
                  WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, f.rule, f.id
         LIMIT 1000",
    )
    .bind(org_id.0)
    .bind(asset_id.map(|id| id.0))
    .bind(run_id.map(|id| id.0))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect()
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
