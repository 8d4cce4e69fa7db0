//! Recurring scans (`s4e_types::schedule`): stored with their timing validated and their first
//! due time set, claimed by schedulers when due, and moved on once a due time is handled.
//! Schedulers pass their own clock's `now`, so a test can drive time.

use chrono::{DateTime, Utc};
use s4e_schedule::Timing;
use s4e_types::schedule::{ClaimDueSchedules, DueSchedule, ScheduleFired};
use s4e_types::{
    AssetId, CatchUp, CheckKind, NewSchedule, OrgId, RunId, RunStatus, ScanProfile, Schedule,
    ScheduleId, ScheduleOutcome, SkipWindow, UpdateSchedule,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::DbError;
use s4e_types::asset::normalize_tag;

/// Schedules one organization may keep.
pub const MAX_PER_ORGANIZATION: i64 = 1000;
const MAX_NAME: usize = 200;
const MAX_CHECKS: usize = 20;

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Option<Uuid>,
    tag: Option<String>,
    name: Option<String>,
    cron: String,
    timezone: String,
    profile: Option<String>,
    checks: Option<Vec<String>>,
    skip_windows: serde_json::Value,
    catch_up: String,
    allow_overlap: bool,
    paused: bool,
    next_run_at: Option<DateTime<Utc>>,
    last_due_at: Option<DateTime<Utc>>,
    last_outcome: Option<String>,
    last_run_id: Option<Uuid>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

macro_rules! schedule_columns {
    () => {
        "id, org_id, asset_id, tag, name, cron, timezone, profile, checks, skip_windows, catch_up, \
         allow_overlap, paused, next_run_at, last_due_at, last_outcome, last_run_id, last_error, \
         created_at, updated_at"
    };
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = DbError;
    fn try_from(row: ScheduleRow) -> Result<Self, DbError> {
        let corrupt =
            |what: &str, value: &str| DbError::Corrupt(format!("unknown {what} {value:?}"));
        let profile = match row.profile.as_deref() {
            None => None,
            Some(profile) => {
                Some(ScanProfile::parse(profile).ok_or_else(|| corrupt("profile", profile))?)
            }
        };
        let checks = match row.checks {
            None => None,
            Some(checks) => Some(
                checks
                    .iter()
                    .map(|check| CheckKind::parse(check).ok_or_else(|| corrupt("check", check)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let skip_windows: Vec<SkipWindow> = serde_json::from_value(row.skip_windows)
            .map_err(|error| DbError::Corrupt(format!("skip_windows: {error}")))?;
        let last_outcome = match row.last_outcome.as_deref() {
            None => None,
            Some(outcome) => {
                Some(ScheduleOutcome::parse(outcome).ok_or_else(|| corrupt("outcome", outcome))?)
            }
        };
        Ok(Schedule {
            id: ScheduleId(row.id),
            org_id: OrgId(row.org_id),
            asset_id: row.asset_id.map(AssetId),
            tag: row.tag,
            name: row.name,
            cron: row.cron,
            timezone: row.timezone,
            profile,
            checks,
            skip_windows,
            catch_up: CatchUp::parse(&row.catch_up)
                .ok_or_else(|| corrupt("catch-up policy", &row.catch_up))?,
            allow_overlap: row.allow_overlap,
            paused: row.paused,
            next_run_at: row.next_run_at,
            last_due_at: row.last_due_at,
            last_outcome,
            last_run_id: row.last_run_id.map(RunId),
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn windows_json(windows: &[SkipWindow]) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(windows)
        .map_err(|error| DbError::Invalid(format!("skip_windows: {error}")))
}

/// When a schedule of `timing` is first due after `now`, unless it is paused.
fn first_due(timing: &Timing, paused: bool, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if paused { None } else { timing.next_after(now) }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    schedule: &NewSchedule,
    now: DateTime<Utc>,
) -> Result<Schedule, DbError> {
    super::check_chars("name", schedule.name.as_deref(), MAX_NAME)?;
    let timing = Timing::parse(&schedule.cron, &schedule.timezone, &schedule.skip_windows)
        .map_err(DbError::Invalid)?;
    if schedule
        .checks
        .as_ref()
        .is_some_and(|checks| checks.len() > MAX_CHECKS)
    {
        return Err(DbError::Invalid(format!("checks: at most {MAX_CHECKS}")));
    }
    let tag = match (schedule.asset_id, schedule.tag.as_deref()) {
        (Some(_), None) => None,
        (None, Some(tag)) => Some(normalize_tag(tag).map_err(DbError::Invalid)?),
        _ => {
            return Err(DbError::Invalid(
                "asset_id, tag: name the asset or the tag to scan, not both".into(),
            ));
        }
    };
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    if let Some(asset_id) = schedule.asset_id {
        super::assets::require_scannable(&mut tx, org_id, asset_id).await?;
    }
    super::organizations::lock(&mut tx, org_id).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM scan_schedules WHERE org_id = $1")
        .bind(org_id.0)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_PER_ORGANIZATION {
        return Err(DbError::Conflict(format!(
            "an organization keeps at most {MAX_PER_ORGANIZATION} schedules"
        )));
    }
    let checks: Option<Vec<&str>> = schedule
        .checks
        .as_ref()
        .map(|checks| checks.iter().map(|check| check.as_str()).collect());
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "INSERT INTO scan_schedules (id, org_id, asset_id, name, cron, timezone, profile, checks,
             skip_windows, catch_up, allow_overlap, paused, next_run_at, tag)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING ",
        schedule_columns!()
    ))
    .bind(ScheduleId::new().0)
    .bind(org_id.0)
    .bind(schedule.asset_id.map(|asset| asset.0))
    .bind(&schedule.name)
    .bind(schedule.cron.trim())
    .bind(&schedule.timezone)
    .bind(schedule.profile.map(|profile| profile.as_str()))
    .bind(&checks)
    .bind(windows_json(&schedule.skip_windows)?)
    .bind(schedule.catch_up.as_str())
    .bind(schedule.allow_overlap)
    .bind(schedule.paused)
    .bind(first_due(&timing, schedule.paused, now))
    .bind(tag)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}

pub async fn list(pool: &PgPool, org_id: OrgId) -> Result<Vec<Schedule>, DbError> {
    sqlx::query_as::<_, ScheduleRow>(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM scan_schedules WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Schedule::try_from)
    .collect()
}

pub async fn get(pool: &PgPool, org_id: OrgId, id: ScheduleId) -> Result<Schedule, DbError> {
    sqlx::query_as::<_, ScheduleRow>(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM scan_schedules WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("schedule"))?
    .try_into()
}

/// Applies a change. A new pattern, time zone or a resume makes it due next at the first time
/// after `now`; a pause empties its due time. A scheduler holding it then finds its report
/// refused, since the schedule no longer names the time it handled.
pub async fn update(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: ScheduleId,
    change: &UpdateSchedule,
    now: DateTime<Utc>,
) -> Result<Schedule, DbError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let current: Schedule = sqlx::query_as::<_, ScheduleRow>(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM scan_schedules WHERE org_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound("schedule"))?
    .try_into()?;
    let mut changed = current.clone();
    if let Some(name) = &change.name {
        super::check_chars("name", name.as_deref(), MAX_NAME)?;
        changed.name = name.clone();
    }
    if let Some(cron) = &change.cron {
        changed.cron = cron.trim().to_string();
    }
    if let Some(timezone) = &change.timezone {
        changed.timezone = timezone.clone();
    }
    if let Some(windows) = &change.skip_windows {
        changed.skip_windows = windows.clone();
    }
    changed.catch_up = change.catch_up.unwrap_or(current.catch_up);
    changed.allow_overlap = change.allow_overlap.unwrap_or(current.allow_overlap);
    changed.paused = change.paused.unwrap_or(current.paused);
    let timing = Timing::of(&changed).map_err(DbError::Invalid)?;
    let retimed = changed.cron != current.cron
        || changed.timezone != current.timezone
        || changed.paused != current.paused;
    let next_run_at = if retimed {
        first_due(&timing, changed.paused, now)
    } else {
        current.next_run_at
    };
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "UPDATE scan_schedules SET name = $3, cron = $4, timezone = $5, skip_windows = $6,
             catch_up = $7, allow_overlap = $8, paused = $9, next_run_at = $10,
             claimed_until = CASE WHEN $11 THEN NULL ELSE claimed_until END, updated_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING ",
        schedule_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(&changed.name)
    .bind(&changed.cron)
    .bind(&changed.timezone)
    .bind(windows_json(&changed.skip_windows)?)
    .bind(changed.catch_up.as_str())
    .bind(changed.allow_overlap)
    .bind(changed.paused)
    .bind(next_run_at)
    .bind(retimed)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}

/// Removes a schedule; the scans it started stay (their schedule is forgotten).
pub async fn delete(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: ScheduleId,
) -> Result<Schedule, DbError> {
    sqlx::query_as::<_, ScheduleRow>(concat!(
        "DELETE FROM scan_schedules WHERE org_id = $1 AND id = $2 RETURNING ",
        schedule_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("schedule"))?
    .try_into()
}

#[derive(sqlx::FromRow)]
struct DueRow {
    #[sqlx(flatten)]
    schedule: ScheduleRow,
    last_run_status: Option<String>,
}

/// Leases the schedules due at `now` (of every organization) to the caller, oldest due time
/// first. Rows another scheduler is claiming are skipped, not waited for; a lease that ran out
/// (its scheduler died) makes the schedule claimable again.
pub async fn claim_due(
    pool: &PgPool,
    claim: &ClaimDueSchedules,
) -> Result<Vec<DueSchedule>, DbError> {
    let rows = sqlx::query_as::<_, DueRow>(concat!(
        "WITH due AS (
             SELECT id FROM scan_schedules
             WHERE next_run_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
             ORDER BY next_run_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE scan_schedules s SET claimed_until = $1 + make_interval(secs => $3)
         FROM due WHERE s.id = due.id
         RETURNING CASE WHEN EXISTS (SELECT 1 FROM scan_runs r
                                     WHERE r.schedule_id = s.id
                                       AND r.scheduled_for < s.next_run_at
                                       AND r.status IN ('queued', 'running'))
                        THEN 'running'
                        ELSE (SELECT r.status FROM scan_runs r WHERE r.id = s.last_run_id)
                   END AS last_run_status, ",
        "s.id, s.org_id, s.asset_id, s.tag, s.name, s.cron, s.timezone, s.profile, s.checks, \
         s.skip_windows, s.catch_up, s.allow_overlap, s.paused, s.next_run_at, s.last_due_at, \
         s.last_outcome, s.last_run_id, s.last_error, s.created_at, s.updated_at"
    ))
    .bind(claim.now)
    .bind(i64::from(claim.limit))
    .bind(f64::from(claim.lease_seconds))
    .fetch_all(pool)
    .await?;
    let mut due: Vec<DueSchedule> =
        rows.into_iter()
            .map(|row| {
                let last_run_status = match row.last_run_status.as_deref() {
                    None => None,
                    Some(status) => Some(RunStatus::parse(status).ok_or_else(|| {
                        DbError::Corrupt(format!("unknown run status {status:?}"))
                    })?),
                };
                Ok(DueSchedule {
                    schedule: row.schedule.try_into()?,
                    last_run_status,
                })
            })
            .collect::<Result<_, DbError>>()?;
    due.sort_by_key(|due| due.schedule.next_run_at);
    Ok(due)
}

/// Records what a scheduler did with the due time `fired.due_at` and when the schedule is due
/// next, and ends the lease. Applied only while the schedule is still due at that time: `None`
/// when a change or another scheduler moved it on meanwhile.
pub async fn fired(
    pool: &PgPool,
    org_id: OrgId,
    id: ScheduleId,
    fired: &ScheduleFired,
) -> Result<Option<Schedule>, DbError> {
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "UPDATE scan_schedules SET next_run_at = $4, paused = paused OR $4 IS NULL,
             claimed_until = NULL, last_due_at = $3, last_outcome = $5,
             last_run_id = coalesce($6, last_run_id), last_error = $7, updated_at = now()
         WHERE org_id = $1 AND id = $2 AND next_run_at = $3
         RETURNING ",
        schedule_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(fired.due_at)
    .bind(fired.next_run_at)
    .bind(fired.outcome.as_str())
    .bind(fired.run_id.map(|run_id| run_id.0))
    .bind(&fired.error)
    .fetch_optional(pool)
    .await?;
    row.map(Schedule::try_from).transpose()
}
