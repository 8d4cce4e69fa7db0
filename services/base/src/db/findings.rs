//! Findings, deduplicated by fingerprint: a re-scan that finds the same problem updates the
//! existing row (last seen, occurrences) instead of adding one. Their status moves through
//! people's triage and through scans (a complete re-scan fixes what it no longer sees, a later
//! sighting reopens a fixed finding); every change adds a row to `finding_events`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use s4e_types::finding_query::{FindingCount, severity_rank};
use s4e_types::{
    AssetId, BulkStatusChange, BulkStatusResult, CheckKind, Finding, FindingActor,
    FindingActorKind, FindingCursor, FindingDraft, FindingEvent, FindingEventId, FindingId,
    FindingPage, FindingQuery, FindingSort, FindingStatus, FindingWithHistory, OrgId, RunId,
    Severity, SortOrder, StatusChange,
};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
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

/// What the history says about changes made by scans.
const REOPENED_REASON: &str = "seen again by a scan";
const FIXED_REASON: &str = "not seen by a complete re-scan";

/// A history entry about to be written.
struct NewEvent<'a> {
    finding_id: Uuid,
    from: FindingStatus,
    to: FindingStatus,
    reason: Option<&'a str>,
    actor: &'a FindingActor,
    run_id: Option<RunId>,
}

async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    events: &[NewEvent<'_>],
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
    sqlx::query(
        "INSERT INTO finding_events (id, org_id, finding_id, actor_kind, actor_id, actor_label,
                                     from_status, to_status, reason, run_id)
         SELECT e.id, $1, e.finding_id, e.actor_kind, e.actor_id, e.actor_label, e.from_status,
                e.to_status, e.reason, e.run_id
         FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::uuid[])
              AS e (id, finding_id, actor_kind, actor_id, actor_label, from_status, to_status,
                    reason, run_id)",
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
    // Lock the rows this report touches (in id order, as status changes do) before reading
    // their status: a person fixing one of them meanwhile must not slip between the read and
    // the upsert, or the finding would be reopened without a history entry.
    let locked: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, status FROM findings
         WHERE org_id = $1 AND fingerprint = ANY($2)
         ORDER BY id FOR UPDATE",
    )
    .bind(org_id.0)
    .bind(&fingerprints)
    .fetch_all(&mut **tx)
    .await?;
    let reopened: Vec<Uuid> = locked
        .into_iter()
        .filter(|(_, status)| status == FindingStatus::Fixed.as_str())
        .map(|(id, _)| id)
        .collect();
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
            status = CASE WHEN findings.status = 'fixed' THEN 'reopened'
                          ELSE findings.status END,
            status_reason = CASE WHEN findings.status = 'fixed' THEN $17
                                 ELSE findings.status_reason END,
            status_changed_at = CASE WHEN findings.status = 'fixed' THEN now()
                                     ELSE findings.status_changed_at END,
            status_changed_by = CASE WHEN findings.status = 'fixed' THEN $18
                                     ELSE findings.status_changed_by END
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
    .bind(REOPENED_REASON)
    .bind(FindingActor::SYSTEM_LABEL)
    .fetch_all(&mut **tx)
    .await?;
    let stored: Vec<Uuid> = stored.into_iter().map(|(id,)| id).collect();
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
    insert_events(tx, org_id, &events).await?;
    if !events.is_empty() {
        tracing::info!(%org_id, %run_id, reopened = events.len(), "findings reopened");
    }
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

/// Called in the transaction that ends a run in which every job completed: the findings of the
/// run's asset from the checks it ran that are still to be dealt with (open, in progress,
/// reopened) and that it did not see are fixed. Returns how many.
///
/// A finding seen since the run was created is left alone: another run of the same asset saw
/// it while this one was under way, and absence from the older run proves nothing.
pub async fn fix_unseen(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    run_id: RunId,
) -> Result<usize, DbError> {
    let fixed: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH candidates AS (
             SELECT f.id, f.status FROM findings f, scan_runs r
             WHERE r.org_id = $1 AND r.id = $2
               AND f.org_id = $1 AND f.asset_id = r.asset_id
               AND f.status IN ('open', 'in_progress', 'reopened')
               AND f.last_seen < r.created_at
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
    insert_events(tx, org_id, &events).await?;
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

/// The filters of a query, after `WHERE f.org_id = …`; shared by the list and the count.
fn push_filters(sql: &mut QueryBuilder<Postgres>, org_id: OrgId, query: &FindingQuery) {
    sql.push(" WHERE f.org_id = ").push_bind(org_id.0);
    if !query.statuses.is_empty() {
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
        sql.push(" AND f.status = ANY(")
            .push_bind(statuses)
            .push(")");
    }
    if !query.severities.is_empty() {
        let severities: Vec<&str> = query.severities.iter().map(|s| s.as_str()).collect();
        sql.push(" AND f.severity = ANY(")
            .push_bind(severities)
            .push(")");
    }
    if let Some(severity) = query.min_severity {
        sql.push(" AND f.severity_rank >= ")
            .push_bind(severity_rank(severity));
    }
    if let Some(check) = query.check {
        sql.push(" AND f.check_kind = ").push_bind(check.as_str());
    }
    if let Some(rule) = &query.rule {
        sql.push(" AND f.rule = ").push_bind(rule.clone());
    }
    if let Some(asset_id) = query.asset_id {
        sql.push(" AND f.asset_id = ").push_bind(asset_id.0);
    }
    if let Some(run_id) = query.run_id {
        sql.push(
            " AND EXISTS (SELECT 1 FROM finding_occurrences o WHERE o.finding_id = f.id \
             AND o.org_id = ",
        )
        .push_bind(org_id.0)
        .push(" AND o.run_id = ")
        .push_bind(run_id.0)
        .push(")");
    }
}

/// One page of an organization's findings. The cursor is a keyset position (sort key, id), so
/// pages neither skip nor repeat findings that share a sort key, and deep pages cost no more
/// than the first. One more row than the page is read to know whether another follows.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &FindingQuery,
) -> Result<FindingPage, DbError> {
    let limit = query.page_size();
    if limit == 0 || limit > FindingQuery::MAX_LIMIT {
        return Err(DbError::Invalid(format!(
            "limit: must be 1-{}",
            FindingQuery::MAX_LIMIT
        )));
    }
    let mut sql: QueryBuilder<Postgres> =
        QueryBuilder::new(concat!("SELECT ", finding_columns!(), " FROM findings f"));
    push_filters(&mut sql, org_id, query);
    let (direction, comparison) = match query.order {
        SortOrder::Desc => ("DESC", "<"),
        SortOrder::Asc => ("ASC", ">"),
    };
    if let Some(cursor) = &query.cursor {
        match cursor.sort {
            FindingSort::Severity => {
                sql.push(" AND (f.severity_rank, f.last_seen, f.id) ")
                    .push(comparison)
                    .push(" (")
                    .push_bind(cursor.severity_rank.unwrap_or_default())
                    .push(", ")
                    .push_bind(cursor.at)
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
            FindingSort::LastSeen | FindingSort::FirstSeen => {
                let column = if cursor.sort == FindingSort::LastSeen {
                    "f.last_seen"
                } else {
                    "f.first_seen"
                };
                sql.push(format!(" AND ({column}, f.id) "))
                    .push(comparison)
                    .push(" (")
                    .push_bind(cursor.at)
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
        }
    }
    let order_by = match query.sort {
        FindingSort::Severity => format!(
            " ORDER BY f.severity_rank {direction}, f.last_seen {direction}, f.id {direction}"
        ),
        FindingSort::LastSeen => format!(" ORDER BY f.last_seen {direction}, f.id {direction}"),
        FindingSort::FirstSeen => {
            format!(" ORDER BY f.first_seen {direction}, f.id {direction}")
        }
    };
    sql.push(order_by)
        .push(" LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let mut items: Vec<Finding> = sql
        .build_query_as::<FindingRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            items
                .last()
                .map(|last| FindingCursor::after(last, query.sort, query.order).encode())
        })
        .flatten();
    Ok(FindingPage { items, next_cursor })
}

/// How many findings match the query's filters (its cursor and limit are ignored).
pub async fn count(
    pool: &PgPool,
    org_id: OrgId,
    query: &FindingQuery,
) -> Result<FindingCount, DbError> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM findings f");
    push_filters(&mut sql, org_id, query);
    let (count,): (i64,) = sql.build_query_as().fetch_one(pool).await?;
    Ok(FindingCount {
        count: count.max(0) as u64,
    })
}

/// A finding with its history, oldest change first.
pub async fn get(
    pool: &PgPool,
    org_id: OrgId,
    finding_id: FindingId,
) -> Result<FindingWithHistory, DbError> {
    let mut tx = pool.begin().await?;
    let found = with_history(&mut tx, org_id, finding_id).await?;
    tx.commit().await?;
    Ok(found)
}

async fn with_history(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    finding_id: FindingId,
) -> Result<FindingWithHistory, DbError> {
    let finding: Finding = sqlx::query_as::<_, FindingRow>(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM findings f WHERE f.org_id = $1 AND f.id = $2"
    ))
    .bind(org_id.0)
    .bind(finding_id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound("finding"))?
    .try_into()?;
    let history = sqlx::query_as::<_, EventRow>(
        "SELECT id, finding_id, occurred_at, actor_kind, actor_id, actor_label, from_status,
                to_status, reason, run_id
         FROM finding_events WHERE org_id = $1 AND finding_id = $2
         ORDER BY occurred_at, id",
    )
    .bind(org_id.0)
    .bind(finding_id.0)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect::<Result<_, _>>()?;
    Ok(FindingWithHistory { finding, history })
}

/// Applies one status change to findings of the organization inside the caller's transaction.
/// Every id must name one of its findings, or nothing changes and the answer is 404 (another
/// organization's finding is not told apart from an unknown one). A finding already in the
/// status with the same reason is left as it is and gets no history entry.
async fn apply_change(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    ids: &[FindingId],
    change: &StatusChange,
) -> Result<BulkStatusResult, DbError> {
    change.validate().map_err(DbError::Invalid)?;
    let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    // Locked in id order, as job reports lock the findings they touch: no deadlock between them.
    let current: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT id, status, status_reason FROM findings
         WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
    )
    .bind(org_id.0)
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    if current.len() != ids.len() {
        return Err(DbError::NotFound("finding"));
    }
    let reason = change.stored_reason();
    let mut changing = Vec::new();
    let mut events = Vec::new();
    for (id, status, stored_reason) in &current {
        let from = parse_status(status)?;
        if from == change.status && stored_reason.as_deref() == reason {
            continue;
        }
        changing.push(*id);
        events.push(NewEvent {
            finding_id: *id,
            from,
            to: change.status,
            reason,
            actor: &change.actor,
            run_id: None,
        });
    }
    if !changing.is_empty() {
        sqlx::query(
            "UPDATE findings SET status = $3, status_reason = $4, status_changed_at = now(),
                    status_changed_by = $5
             WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org_id.0)
        .bind(&changing)
        .bind(change.status.as_str())
        .bind(reason)
        .bind(&change.actor.label)
        .execute(&mut **tx)
        .await?;
        insert_events(tx, org_id, &events).await?;
    }
    let changed = changing.len() as u32;
    Ok(BulkStatusResult {
        changed,
        unchanged: ids.len() as u32 - changed,
    })
}

/// A person's status change of one finding; answers the finding with its history.
pub async fn change_status(
    pool: &PgPool,
    org_id: OrgId,
    finding_id: FindingId,
    change: &StatusChange,
) -> Result<FindingWithHistory, DbError> {
    let mut tx = pool.begin().await?;
    let result = apply_change(&mut tx, org_id, &[finding_id], change).await?;
    let found = with_history(&mut tx, org_id, finding_id).await?;
    tx.commit().await?;
    if result.changed > 0 {
        tracing::info!(
            %org_id, %finding_id, status = change.status.as_str(), actor = %change.actor.label,
            "finding status changed"
        );
    }
    Ok(found)
}

/// One status change for many findings, in one transaction: all of them change, or (an id
/// unknown in the organization) none does.
pub async fn bulk_change_status(
    pool: &PgPool,
    org_id: OrgId,
    bulk: &BulkStatusChange,
) -> Result<BulkStatusResult, DbError> {
    bulk.validate().map_err(DbError::Invalid)?;
    let mut tx = pool.begin().await?;
    let result = apply_change(&mut tx, org_id, &bulk.ids, &bulk.change()).await?;
    tx.commit().await?;
    tracing::info!(
        %org_id, status = bulk.status.as_str(), actor = %bulk.actor.label,
        changed = result.changed, unchanged = result.unchanged,
        "finding statuses changed in bulk"
    );
    Ok(result)
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
