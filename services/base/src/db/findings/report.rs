//! Storing what a run reports: new and seen-again findings, and fixing the ones a complete
//! re-scan no longer sees.

use std::collections::{HashMap, HashSet};

use s4e_types::{
    AssetId, FindingActor, FindingDraft, FindingId, FindingStatus, OrgId, RunId, ScanRun,
};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{NewEvent, fingerprint, insert_events, parse_status, system_actor};
use crate::db::DbError;

/// What the history says about changes made by scans.
const REOPENED_REASON: &str = "seen again by a scan";
const FIXED_REASON: &str = "not seen by a complete re-scan";

/// Stores the findings of one job inside the caller's transaction and records that `run_id`
/// saw them. A fixed finding seen again is reopened; every other status stays, so accepted
/// risks and false positives survive re-scans.
pub async fn upsert_for_job(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    asset_id: AssetId,
    run_id: RunId,
    raw_output_id: Option<&str>,
    drafts: &[FindingDraft],
) -> Result<Vec<Uuid>, DbError> {
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
        return Ok(Vec::new());
    }
    // Lock the rows this report touches (in id order, as status changes do) before reading
    // their status: a person fixing one of them meanwhile must not slip between the read and
    // the upsert, or the finding would be reopened without a history entry.
    let locked: Vec<(Uuid, String, String)> = sqlx::query_as(
        // Joined to the fingerprints rather than `fingerprint = ANY($3)`: on a table that grew
        // since its statistics, the planner made that a filter over every finding of the asset,
        // each compared with every fingerprint (a third of a second for 1,000 of 12,500).
        "SELECT f.id, f.status, f.fingerprint
         FROM UNNEST($3::text[]) AS reported (fingerprint)
         JOIN findings f ON f.org_id = $1 AND f.asset_id = $2
                        AND f.fingerprint = reported.fingerprint
         ORDER BY f.id FOR UPDATE OF f",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(&fingerprints)
    .fetch_all(&mut **tx)
    .await?;
    let reopened: Vec<Uuid> = locked
        .iter()
        .filter(|(_, status, _)| status == FindingStatus::Fixed.as_str())
        .map(|(id, _, _)| *id)
        .collect();
    let locked: HashMap<String, Uuid> = locked
        .into_iter()
        .map(|(id, _, print)| (print, id))
        .collect();
    // Count an occurrence once per run, however often the run reports the finding: the
    // findings known and locked are recorded as seen by this run first, so that the upsert
    // counts, in the same write, only those this run had not seen yet (a second UPDATE of each
    // row would write every index of the table again). A new finding starts at one.
    let locked_ids: HashSet<Uuid> = locked.values().copied().collect();
    let first_seen: HashSet<Uuid> =
        record_occurrences(tx, org_id, run_id, locked_ids.iter().copied())
            .await?
            .into_iter()
            .collect();
    let counted: Vec<i32> = fingerprints
        .iter()
        .map(|print| match locked.get(print) {
            Some(id) => i32::from(first_seen.contains(id)),
            None => 1,
        })
        .collect();
    // `xmax = 0`: the row was inserted by this statement, not updated.
    let stored: Vec<(Uuid, bool)> = sqlx::query_as(
        "INSERT INTO findings (id, org_id, asset_id, fingerprint, check_kind, rule, location,
                               title, severity, score, cwe, description, remediation, evidence,
                               raw_output_id, last_run_id, occurrences)
         SELECT f.id, $1, $2, f.fingerprint, f.check_kind, f.rule, f.location, f.title,
                f.severity, f.score, f.cwe, f.description, f.remediation, f.evidence, $3, $4,
                f.counted
         FROM UNNEST($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::real[], $13::int[], $14::text[], $15::text[],
                     $16::jsonb[], $19::int[])
              AS f (id, fingerprint, check_kind, rule, location, title, severity, score, cwe,
                    description, remediation, evidence, counted)
         ON CONFLICT (org_id, asset_id, fingerprint) DO UPDATE SET
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
            occurrences = findings.occurrences + EXCLUDED.occurrences,
            status = CASE WHEN findings.status = 'fixed' THEN 'reopened'
                          ELSE findings.status END,
            status_reason = CASE WHEN findings.status = 'fixed' THEN $17
                                 ELSE findings.status_reason END,
            status_changed_at = CASE WHEN findings.status = 'fixed' THEN now()
                                     ELSE findings.status_changed_at END,
            status_changed_by = CASE WHEN findings.status = 'fixed' THEN $18
                                     ELSE findings.status_changed_by END
         RETURNING id, (xmax = 0) AS inserted",
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
    .bind(REOPENED_REASON)
    .bind(FindingActor::SYSTEM_LABEL)
    .bind(&counted)
    .fetch_all(&mut **tx)
    .await?;
    let created: Vec<Uuid> = stored
        .iter()
        .filter(|(_, inserted)| *inserted)
        .map(|(id, _)| *id)
        .collect();
    record_occurrences(tx, org_id, run_id, created.iter().copied()).await?;
    // A finding another report inserted after the lock above (neither locked nor created
    // here) was counted as new to this run; if this run had seen it already, take that back.
    let raced: Vec<Uuid> = stored
        .iter()
        .filter(|(id, inserted)| !inserted && !locked_ids.contains(id))
        .map(|(id, _)| *id)
        .collect();
    if !raced.is_empty() {
        let newly: HashSet<Uuid> = record_occurrences(tx, org_id, run_id, raced.iter().copied())
            .await?
            .into_iter()
            .collect();
        let seen_before: Vec<Uuid> = raced.into_iter().filter(|id| !newly.contains(id)).collect();
        sqlx::query(
            "UPDATE findings SET occurrences = occurrences - 1
             WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org_id.0)
        .bind(&seen_before)
        .execute(&mut **tx)
        .await?;
    }
    let actor = system_actor();
    let events: Vec<NewEvent> = reopened
        .iter()
        .map(|id| NewEvent {
            finding_id: *id,
            from: FindingStatus::Fixed,
            to: FindingStatus::Reopened,
            reason: Some(REOPENED_REASON),
            actor: &actor,
            run_id: Some(run_id),
        })
        .collect();
    insert_events(tx, org_id, &events, &[]).await?;
    if !events.is_empty() {
        tracing::info!(%org_id, %run_id, reopened = events.len(), "findings reopened");
    }
    Ok(created)
}

/// Records that `run_id` saw the findings `ids`; returns those it had not seen before.
async fn record_occurrences(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    run_id: RunId,
    ids: impl Iterator<Item = Uuid>,
) -> Result<Vec<Uuid>, DbError> {
    let ids: Vec<Uuid> = ids.collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO finding_occurrences (finding_id, run_id, org_id)
         SELECT id, $2, $3 FROM UNNEST($1::uuid[]) AS id
         ON CONFLICT DO NOTHING
         RETURNING finding_id",
    )
    .bind(&ids)
    .bind(run_id.0)
    .bind(org_id.0)
    .fetch_all(&mut **tx)
    .await?)
}

/// Called in the transaction that ends a run in which every job completed: the findings of the
/// run's asset from the checks it ran that are still to be dealt with (open, in progress,
/// reopened) and that it did not see are fixed. Returns how many.
///
/// A finding seen since the run was created is left alone: another run of the same asset saw
/// it while this one was under way, and absence from the older run proves nothing.
///
/// The run's asset and start are passed as values, not joined from `scan_runs`: joined, a
/// planner working from stale statistics could reach the findings through the run's org-wide
/// indexes and walk every open finding of the organization.
pub async fn fix_unseen(
    tx: &mut Transaction<'_, Postgres>,
    run: &ScanRun,
) -> Result<usize, DbError> {
    let (org_id, run_id) = (run.org_id, run.id);
    let fixed: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH candidates AS (
             SELECT f.id, f.status FROM findings f
             WHERE f.org_id = $1 AND f.asset_id = $5
               AND f.status IN ('open', 'in_progress', 'reopened')
               AND f.last_seen < $6
               AND f.check_kind IN (SELECT j.check_kind FROM scan_jobs j
                                    WHERE j.org_id = $1 AND j.run_id = $2)
               AND NOT EXISTS (SELECT 1 FROM finding_occurrences o
                               WHERE o.org_id = $1 AND o.run_id = $2 AND o.finding_id = f.id)
             ORDER BY f.id
             FOR UPDATE OF f)
         UPDATE findings f SET status = 'fixed', status_reason = $3,
                status_changed_at = now(), status_changed_by = $4
         FROM candidates c
         WHERE f.org_id = $1 AND f.id = c.id
         RETURNING f.id, c.status",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .bind(FIXED_REASON)
    .bind(FindingActor::SYSTEM_LABEL)
    .bind(run.asset_id.0)
    .bind(run.created_at)
    .fetch_all(&mut **tx)
    .await?;
    let actor = system_actor();
    let events = fixed
        .iter()
        .map(|(id, from)| {
            Ok(NewEvent {
                finding_id: *id,
                from: parse_status(from)?,
                to: FindingStatus::Fixed,
                reason: Some(FIXED_REASON),
                actor: &actor,
                run_id: Some(run_id),
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    insert_events(tx, org_id, &events, &[]).await?;
    if !events.is_empty() {
        tracing::info!(%org_id, %run_id, fixed = events.len(), "findings fixed by a re-scan");
    }
    Ok(events.len())
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
