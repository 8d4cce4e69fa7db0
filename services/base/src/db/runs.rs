//! Scan runs and their jobs. A run advances only through its jobs' reports, each applied once
//! in a transaction that also stores the job's findings.

use chrono::{DateTime, Utc};
use s4e_types::api::{FinishJob, JobFinished, NewScanRun, ScanRunWithJobs};
use s4e_types::envelope::FindingCreated;
use s4e_types::inventory::Observations;
use s4e_types::{
    AssetId, CheckKind, FindingId, JobId, JobStatus, OrgId, RuleId, RunId, RunPage, RunQuery,
    RunStatus, ScanJob, ScanRun, Severity,
};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::{DbError, findings, unique_violation};

/// A run may hold at most this many jobs; larger scans are split by the scan service.
const MAX_JOBS_PER_RUN: usize = 10_000;

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    profile: String,
    status: String,
    jobs_total: i32,
    jobs_completed: i32,
    jobs_failed: i32,
    findings_count: i32,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    caused_by: Vec<Uuid>,
}

impl TryFrom<RunRow> for ScanRun {
    type Error = DbError;
    fn try_from(row: RunRow) -> Result<Self, DbError> {
        Ok(ScanRun {
            id: RunId(row.id),
            org_id: OrgId(row.org_id),
            asset_id: AssetId(row.asset_id),
            profile: row.profile,
            status: RunStatus::parse(&row.status)
                .ok_or_else(|| DbError::Corrupt(format!("unknown run status {:?}", row.status)))?,
            jobs_total: row.jobs_total,
            jobs_completed: row.jobs_completed,
            jobs_failed: row.jobs_failed,
            findings_count: row.findings_count,
            error: row.error,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            caused_by: row.caused_by.into_iter().map(RuleId).collect(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    run_id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    check_kind: String,
    target: String,
    status: String,
    attempts: i32,
    error: Option<String>,
    raw_output_id: Option<String>,
    ports: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for ScanJob {
    type Error = DbError;
    fn try_from(row: JobRow) -> Result<Self, DbError> {
        Ok(ScanJob {
            id: JobId(row.id),
            run_id: RunId(row.run_id),
            org_id: OrgId(row.org_id),
            asset_id: AssetId(row.asset_id),
            check: CheckKind::parse(&row.check_kind).ok_or_else(|| {
                DbError::Corrupt(format!("unknown check kind {:?}", row.check_kind))
            })?,
            target: row.target,
            status: JobStatus::parse(&row.status)
                .ok_or_else(|| DbError::Corrupt(format!("unknown job status {:?}", row.status)))?,
            attempts: row.attempts,
            error: row.error,
            raw_output_id: row.raw_output_id,
            ports: row
                .ports
                .map(serde_json::from_value)
                .transpose()
                .map_err(|error| DbError::Corrupt(format!("job ports: {error}")))?,
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }
}

/// Creates a run and all its jobs in one transaction; the asset must belong to `org_id`.
pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    run: &NewScanRun,
) -> Result<ScanRunWithJobs, DbError> {
    if run.jobs.is_empty() {
        return Err(DbError::Invalid(
            "jobs: a run needs at least one job".into(),
        ));
    }
    if run.jobs.len() > MAX_JOBS_PER_RUN {
        return Err(DbError::Invalid(format!(
            "jobs: at most {MAX_JOBS_PER_RUN} jobs per run"
        )));
    }
    let mut tx = conn.begin().await?;
    super::assets::require_scannable(&mut tx, org_id, run.asset_id).await?;
    let run_id = RunId::new();
    let run_row = sqlx::query_as::<_, RunRow>(
        "INSERT INTO scan_runs (id, org_id, asset_id, profile, status, jobs_total, schedule_id,
                                scheduled_for, rule_id, rule_event_id, caused_by)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)
         RETURNING id, org_id, asset_id, profile, status, jobs_total, jobs_completed,
                   jobs_failed, findings_count, error, created_at, started_at, finished_at, caused_by",
    )
    .bind(run_id.0)
    .bind(org_id.0)
    .bind(run.asset_id.0)
    .bind(&run.profile)
    .bind(run.jobs.len() as i32)
    .bind(run.scheduled.map(|scheduled| scheduled.schedule_id.0))
    .bind(run.scheduled.map(|scheduled| scheduled.due_at))
    .bind(run.rule.as_ref().map(|cause| cause.rule_id.0))
    .bind(run.rule.as_ref().map(|cause| cause.event_id))
    .bind(
        run.rule
            .as_ref()
            .map(|cause| cause.caused_by.iter().map(|rule| rule.0).collect::<Vec<_>>())
            .unwrap_or_default(),
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|error| match unique_violation(&error).as_deref() {
        Some("scan_runs_schedule_due_key") => DbError::AlreadyStarted(
            "the schedule's scan for this due time has started already".into(),
        ),
        Some("scan_runs_rule_event_key") => DbError::AlreadyStarted(
            "the rule's scan for this event has started already".into(),
        ),
        Some("scan_runs_rule_asset_running_key") => DbError::StillRunning(
            "the rule's previous scan of this asset is still queued or running".into(),
        ),
        _ => DbError::Database(error),
    })?;
    let ids: Vec<Uuid> = run.jobs.iter().map(|_| JobId::new().0).collect();
    let kinds: Vec<&str> = run.jobs.iter().map(|job| job.check.as_str()).collect();
    let targets: Vec<&str> = run.jobs.iter().map(|job| job.target.as_str()).collect();
    let mut ports: Vec<Option<String>> = Vec::with_capacity(run.jobs.len());
    for job in &run.jobs {
        let scope = match (&job.ports, job.check) {
            (None, _) => None,
            (Some(scope), CheckKind::Ports) => {
                Some(scope.normalized("jobs.ports").map_err(DbError::Invalid)?)
            }
            (Some(_), _) => {
                return Err(DbError::Invalid(
                    "jobs.ports: only a port-scan job takes ports".into(),
                ));
            }
        };
        ports.push(
            scope
                .map(|scope| serde_json::to_string(&scope))
                .transpose()
                .map_err(|error| DbError::Invalid(format!("jobs.ports: {error}")))?,
        );
    }
    let job_rows = sqlx::query_as::<_, JobRow>(
        "INSERT INTO scan_jobs (id, run_id, org_id, asset_id, check_kind, target, status, ports)
         SELECT job.id, $4, $5, $6, job.kind, job.target, 'queued', job.ports::jsonb
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $7::text[])
              AS job (id, kind, target, ports)
         RETURNING id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                   raw_output_id, ports, created_at, finished_at",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&targets)
    .bind(run_id.0)
    .bind(org_id.0)
    .bind(run.asset_id.0)
    .bind(&ports)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ScanRunWithJobs {
        run: run_row.try_into()?,
        jobs: job_rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?,
    })
}

pub async fn get(pool: &PgPool, org_id: OrgId, run_id: RunId) -> Result<ScanRun, DbError> {
    sqlx::query_as::<_, RunRow>(
        "SELECT id, org_id, asset_id, profile, status, jobs_total, jobs_completed, jobs_failed,
                findings_count, error, created_at, started_at, finished_at, caused_by
         FROM scan_runs WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("scan"))?
    .try_into()
}

/// The organization's runs, newest first, filtered; one more row than the page is read to
/// know whether another page follows.
pub async fn list(pool: &PgPool, org_id: OrgId, filter: &RunQuery) -> Result<RunPage, DbError> {
    filter.validate().map_err(DbError::Invalid)?;
    let limit = filter.page_size().map_err(DbError::Invalid)?;
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, org_id, asset_id, profile, status, jobs_total, jobs_completed, jobs_failed,
                findings_count, error, created_at, started_at, finished_at, caused_by
         FROM scan_runs WHERE org_id = ",
    );
    sql.push_bind(org_id.0);
    if let Some(asset_id) = filter.asset_id {
        sql.push(" AND asset_id = ").push_bind(asset_id.0);
    }
    if let Some(status) = filter.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(profile) = &filter.profile {
        sql.push(" AND profile = ").push_bind(profile.clone());
    }
    if let Some(since) = filter.since {
        sql.push(" AND created_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        sql.push(" AND created_at < ").push_bind(until);
    }
    if let Some(before) = filter.before {
        sql.push(" AND id < ").push_bind(before.0);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows: Vec<ScanRun> = sql
        .build_query_as::<RunRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    let (items, next_cursor) = super::page(rows, limit, |run| run.id);
    Ok(RunPage { items, next_cursor })
}

/// Ends a run that has not finished with `failed` and the reason; a finished run is returned
/// unchanged.
pub async fn fail(
    pool: &PgPool,
    org_id: OrgId,
    run_id: RunId,
    error: &str,
) -> Result<ScanRun, DbError> {
    let updated = sqlx::query_as::<_, RunRow>(
        "UPDATE scan_runs SET status = 'failed', error = $3, finished_at = now()
         WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')
         RETURNING id, org_id, asset_id, profile, status, jobs_total, jobs_completed,
                   jobs_failed, findings_count, error, created_at, started_at, finished_at, caused_by",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .bind(error)
    .fetch_optional(pool)
    .await?;
    match updated {
        Some(row) => row.try_into(),
        None => get(pool, org_id, run_id).await,
    }
}

/// Cancels a run that has not ended: the run and its queued and running jobs become
/// `cancelled` in one transaction. The jobs are locked first, in id order, then the run (the
/// order `start_job` and `finish_job` lock in), so a report racing the cancellation either
/// lands before it or finds its job cancelled and changes nothing. A run that has ended is a
/// conflict.
pub async fn cancel(
    conn: &mut PgConnection,
    org_id: OrgId,
    run_id: RunId,
) -> Result<ScanRun, DbError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT 1 FROM scan_jobs WHERE org_id = $1 AND run_id = $2 ORDER BY id FOR UPDATE")
        .bind(org_id.0)
        .bind(run_id.0)
        .execute(&mut *tx)
        .await?;
    let current: Option<(String,)> =
        sqlx::query_as("SELECT status FROM scan_runs WHERE org_id = $1 AND id = $2 FOR UPDATE")
            .bind(org_id.0)
            .bind(run_id.0)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status,)) = current else {
        return Err(DbError::NotFound("scan"));
    };
    if RunStatus::parse(&status).is_none_or(RunStatus::is_final) {
        return Err(DbError::Conflict(format!(
            "the scan has already ended ({status})"
        )));
    }
    sqlx::query(
        "UPDATE scan_jobs SET status = 'cancelled', error = 'cancelled', finished_at = now()
         WHERE org_id = $1 AND run_id = $2 AND status IN ('queued', 'running')",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .execute(&mut *tx)
    .await?;
    let run = sqlx::query_as::<_, RunRow>(
        "UPDATE scan_runs SET status = 'cancelled', error = coalesce(error, 'cancelled'),
                finished_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING id, org_id, asset_id, profile, status, jobs_total, jobs_completed,
                   jobs_failed, findings_count, error, created_at, started_at, finished_at, caused_by",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    run.try_into()
}

pub async fn get_job(pool: &PgPool, org_id: OrgId, job_id: JobId) -> Result<ScanJob, DbError> {
    sqlx::query_as::<_, JobRow>(
        "SELECT id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                raw_output_id, ports, created_at, finished_at
         FROM scan_jobs WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(job_id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("job"))?
    .try_into()
}

/// The jobs of a run, in creation order.
pub async fn jobs(pool: &PgPool, org_id: OrgId, run_id: RunId) -> Result<Vec<ScanJob>, DbError> {
    get(pool, org_id, run_id).await?;
    sqlx::query_as::<_, JobRow>(
        "SELECT id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                raw_output_id, ports, created_at, finished_at
         FROM scan_jobs WHERE org_id = $1 AND run_id = $2 ORDER BY id",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect()
}

/// Marks a job running and counts the attempt. A finished job is returned unchanged.
pub async fn start_job(pool: &PgPool, org_id: OrgId, job_id: JobId) -> Result<ScanJob, DbError> {
    let mut tx = pool.begin().await?;
    let started = sqlx::query_as::<_, JobRow>(
        "UPDATE scan_jobs SET status = 'running', attempts = attempts + 1,
                started_at = coalesce(started_at, now())
         WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')
         RETURNING id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                   raw_output_id, ports, created_at, finished_at",
    )
    .bind(org_id.0)
    .bind(job_id.0)
    .fetch_optional(&mut *tx)
    .await?;
    let job = match started {
        Some(row) => {
            sqlx::query(
                "UPDATE scan_runs SET status = 'running', started_at = coalesce(started_at, now())
                 WHERE org_id = $1 AND id = $2 AND status = 'queued'",
            )
            .bind(org_id.0)
            .bind(row.run_id)
            .execute(&mut *tx)
            .await?;
            row
        }
        None => job_row(&mut tx, org_id, job_id, false).await?,
    };
    tx.commit().await?;
    job.try_into()
}

async fn job_row(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    job_id: JobId,
    for_update: bool,
) -> Result<JobRow, DbError> {
    let query = if for_update {
        "SELECT id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                raw_output_id, ports, created_at, finished_at
         FROM scan_jobs WHERE org_id = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                raw_output_id, ports, created_at, finished_at
         FROM scan_jobs WHERE org_id = $1 AND id = $2"
    };
    sqlx::query_as::<_, JobRow>(query)
        .bind(org_id.0)
        .bind(job_id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DbError::NotFound("job"))
}

/// Applies a worker's report: stores findings, ends the job, advances the run (and, when it is
/// the last job of a complete run, fixes what the run no longer saw), all in one transaction. The job row is locked first, so a second report of the same job (a
/// redelivered message) sees it finished and changes nothing.
pub async fn finish_job(
    pool: &PgPool,
    org_id: OrgId,
    job_id: JobId,
    report: &FinishJob,
) -> Result<JobFinished, DbError> {
    if !report.status.is_reportable() {
        return Err(DbError::Invalid(
            "status: must be completed or failed".into(),
        ));
    }
    if report.status == JobStatus::Failed && !report.findings.is_empty() {
        return Err(DbError::Invalid(
            "findings: a failed job reports none".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let job = job_row(&mut tx, org_id, job_id, true).await?;
    if JobStatus::parse(&job.status).is_some_and(JobStatus::is_final) {
        let run = run_in_tx(&mut tx, org_id, RunId(job.run_id)).await?;
        let created_findings = created_findings(&mut tx, org_id, job_id, &run).await?;
        tx.commit().await?;
        return Ok(JobFinished {
            run,
            job: job.try_into()?,
            applied: false,
            created_findings,
        });
    }
    // Lock the run too (job first, then run, as start_job does): two jobs of one run finishing
    // at once must count each other's findings.
    sqlx::query("SELECT 1 FROM scan_runs WHERE org_id = $1 AND id = $2 FOR UPDATE")
        .bind(org_id.0)
        .bind(job.run_id)
        .execute(&mut *tx)
        .await?;
    let created = findings::upsert_for_job(
        &mut tx,
        org_id,
        AssetId(job.asset_id),
        RunId(job.run_id),
        report.raw_output_id.as_deref(),
        &report.findings,
    )
    .await?;
    record_observations(
        &mut tx,
        org_id,
        (AssetId(job.asset_id), &job.target),
        RunId(job.run_id),
        &report.observed,
    )
    .await?;
    let error = report.error.as_deref().map(|e| truncate(e, 2_000));
    let job = sqlx::query_as::<_, JobRow>(
        "UPDATE scan_jobs SET status = $3, error = $4, raw_output_id = $5, finished_at = now(),
                              created_findings = $6
         WHERE org_id = $1 AND id = $2
         RETURNING id, run_id, org_id, asset_id, check_kind, target, status, attempts, error,
                   raw_output_id, ports, created_at, finished_at",
    )
    .bind(org_id.0)
    .bind(job_id.0)
    .bind(report.status.as_str())
    .bind(&error)
    .bind(&report.raw_output_id)
    .bind(&created)
    .fetch_one(&mut *tx)
    .await?;
    let completed = i32::from(report.status == JobStatus::Completed);
    let failed = i32::from(report.status == JobStatus::Failed);
    // The run ends when every job has; it fails only when every job failed.
    let run = sqlx::query_as::<_, RunRow>(
        "UPDATE scan_runs r SET
            jobs_completed = r.jobs_completed + $3,
            jobs_failed = r.jobs_failed + $4,
            findings_count = (SELECT count(*) FROM finding_occurrences o
                              WHERE o.org_id = $1 AND o.run_id = $2),
            status = CASE
                WHEN r.jobs_completed + $3 + r.jobs_failed + $4 < r.jobs_total THEN 'running'
                WHEN r.jobs_failed + $4 = r.jobs_total THEN 'failed'
                ELSE 'completed' END,
            error = CASE WHEN r.jobs_failed + $4 = r.jobs_total THEN coalesce(r.error, $5)
                         ELSE r.error END,
            started_at = coalesce(r.started_at, now()),
            finished_at = CASE WHEN r.jobs_completed + $3 + r.jobs_failed + $4 >= r.jobs_total
                               THEN now() ELSE NULL END
         WHERE r.org_id = $1 AND r.id = $2 AND r.status IN ('queued', 'running')
         RETURNING id, org_id, asset_id, profile, status, jobs_total, jobs_completed,
                   jobs_failed, findings_count, error, created_at, started_at, finished_at, caused_by",
    )
    .bind(org_id.0)
    .bind(job.run_id)
    .bind(completed)
    .bind(failed)
    .bind(&error)
    .fetch_optional(&mut *tx)
    .await?;
    // A run already ended (failed because its jobs could not be queued, say) stays as it is.
    let advanced = run.is_some();
    let run: ScanRun = match run {
        Some(row) => row.try_into()?,
        None => run_in_tx(&mut tx, org_id, RunId(job.run_id)).await?,
    };
    // Only a complete re-scan proves a finding gone: with a failed job, what the run did not
    // see may simply not have been looked at. Done here, in the transaction that ends the run,
    // so that ending it and fixing happen together and once (the job row lock above makes a
    // redelivered report return before this point).
    if advanced
        && run.status == RunStatus::Completed
        && run.jobs_failed == 0
        && run.jobs_completed == run.jobs_total
    {
        findings::fix_unseen(&mut tx, &run).await?;
    }
    let created_findings = created_findings(&mut tx, org_id, job_id, &run).await?;
    tx.commit().await?;
    Ok(JobFinished {
        run,
        job: job.try_into()?,
        applied: true,
        created_findings,
    })
}

/// What the job (of the asset, aimed at the target) saw for the inventory, each part in its
/// own table.
async fn record_observations(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    (asset_id, target): (AssetId, &str),
    run_id: RunId,
    observed: &Observations,
) -> Result<(), DbError> {
    if let Some(services) = &observed.services {
        // A range's jobs each scan one host of it; any other asset's scans have one host.
        let (kind,): (String,) = sqlx::query_as("SELECT kind FROM assets WHERE id = $1")
            .bind(asset_id.0)
            .fetch_one(&mut **tx)
            .await?;
        let host = if kind == s4e_types::AssetKind::Cidr.as_str() {
            target
        } else {
            ""
        };
        super::services::record(tx, org_id, asset_id, host, run_id, services).await?;
    }
    super::candidates::record(tx, org_id, asset_id, run_id, &observed.discovered).await?;
    super::technologies::record(tx, org_id, asset_id, run_id, &observed.technologies).await?;
    if let Some(certificate) = &observed.certificate {
        super::technologies::record_certificate(tx, org_id, asset_id, run_id, certificate).await?;
    }
    Ok(())
}

/// The findings the job's report created, as their `finding.created` events carry them.
async fn created_findings(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    job_id: JobId,
    run: &ScanRun,
) -> Result<Vec<FindingCreated>, DbError> {
    let rows: Vec<(Uuid, String, String, String, String, String)> = sqlx::query_as(
        // One lookup per id (not `f.id = ANY (…)`, which a planner working from stale
        // statistics turns into a filter comparing every finding with every id).
        "SELECT f.id, f.check_kind, f.rule, f.severity, f.title, f.location
         FROM scan_jobs j
         CROSS JOIN LATERAL UNNEST(j.created_findings) AS created (id)
         JOIN findings f ON f.org_id = j.org_id AND f.id = created.id
         WHERE j.org_id = $1 AND j.id = $2
         ORDER BY f.id",
    )
    .bind(org_id.0)
    .bind(job_id.0)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(id, check, rule, severity, title, location)| {
            Ok(FindingCreated {
                finding_id: FindingId(id),
                run_id: run.id,
                asset_id: run.asset_id,
                check: CheckKind::parse(&check)
                    .ok_or_else(|| DbError::Corrupt(format!("unknown check {check:?}")))?,
                rule,
                severity: Severity::parse(&severity)
                    .ok_or_else(|| DbError::Corrupt(format!("unknown severity {severity:?}")))?,
                title,
                location,
            })
        })
        .collect()
}

async fn run_in_tx(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    run_id: RunId,
) -> Result<ScanRun, DbError> {
    sqlx::query_as::<_, RunRow>(
        "SELECT id, org_id, asset_id, profile, status, jobs_total, jobs_completed, jobs_failed,
                findings_count, error, created_at, started_at, finished_at, caused_by
         FROM scan_runs WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(run_id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound("scan"))?
    .try_into()
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
