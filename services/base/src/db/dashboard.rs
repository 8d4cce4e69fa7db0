//! The dashboard summary: every count in one statement (the open findings from their totals),
//! and the trend of the open findings from the days already recorded, so the gateway makes one
//! call and its cost does not grow with the number of findings.

use chrono::{DateTime, Days, NaiveDate, Utc};
use s4e_types::api::{DashboardSummary, SeverityCounts, TrendPoint};
use s4e_types::{OrgId, Severity};
use sqlx::PgPool;

use super::{DbError, SeverityRow, exposed_services_sql, open_counts_sql, penalty_sql};

#[derive(sqlx::FromRow)]
struct SummaryRow {
    assets: i64,
    #[sqlx(flatten)]
    open: SeverityRow,
    scans_queued: i64,
    scans_running: i64,
    last_scan_finished_at: Option<DateTime<Utc>>,
    penalty: f64,
    exposed_services: i64,
}

pub async fn summary(pool: &PgPool, org_id: OrgId) -> Result<DashboardSummary, DbError> {
    let sql = concat!(
        "SELECT
            (SELECT count(*) FROM assets WHERE org_id = $1 AND archived_at IS NULL) AS assets,
            ",
        open_counts_sql!(),
        ",
            (SELECT count(*) FROM scan_runs WHERE org_id = $1 AND status = 'queued')
                AS scans_queued,
            (SELECT count(*) FROM scan_runs WHERE org_id = $1 AND status = 'running')
                AS scans_running,
            (SELECT max(finished_at) FROM scan_runs WHERE org_id = $1) AS last_scan_finished_at,
            ",
        penalty_sql!(),
        " AS penalty,
            (SELECT ",
        exposed_services_sql!(),
        " FROM organizations o WHERE o.id = $1)
                AS exposed_services
         FROM open_finding_totals t WHERE t.org_id = $1"
    );
    let row = sqlx::query_as::<_, SummaryRow>(sql)
        .bind(org_id.0)
        .fetch_one(pool)
        .await?;
    let open: SeverityCounts = row.open.into();
    let trend = trend(pool, org_id, &open).await?;
    Ok(DashboardSummary {
        assets: row.assets,
        open_findings: open,
        scans_queued: row.scans_queued,
        scans_running: row.scans_running,
        last_scan_finished_at: row.last_scan_finished_at,
        exposed_services: row.exposed_services,
        penalty: row.penalty,
        // Made by the gateway, which owns the formula.
        score: 0,
        trend,
    })
}

/// How many days the trend shows, today included.
const TREND_DAYS: u64 = 30;

#[derive(sqlx::FromRow)]
struct DayRow {
    day: NaiveDate,
    #[sqlx(flatten)]
    open: SeverityRow,
}

/// The open findings at the end of each of the last [`TREND_DAYS`] days, today's being `open`.
/// An ended day never changes, so its counts are kept in `open_finding_days` the first time a
/// dashboard needs them; until then (a new day, a new organization) the days are replayed.
async fn trend(
    pool: &PgPool,
    org_id: OrgId,
    open: &SeverityCounts,
) -> Result<Vec<TrendPoint>, DbError> {
    let today = Utc::now().date_naive();
    let first = today - Days::new(TREND_DAYS - 1);
    let stored: Vec<DayRow> = sqlx::query_as(
        "SELECT day, critical, high, medium, low, info FROM open_finding_days
         WHERE org_id = $1 AND day >= $2 AND day < $3 ORDER BY day",
    )
    .bind(org_id.0)
    .bind(first)
    .bind(today)
    .fetch_all(pool)
    .await?;
    if stored.len() as u64 == TREND_DAYS - 1 {
        let mut points: Vec<TrendPoint> = stored
            .into_iter()
            .map(|row| TrendPoint {
                day: row.day,
                open_findings: row.open.into(),
            })
            .collect();
        points.push(TrendPoint {
            day: today,
            open_findings: open.clone(),
        });
        return Ok(points);
    }
    let points = replay(pool, org_id, open).await?;
    let ended = &points[..points.len() - 1];
    let column = |count: fn(&SeverityCounts) -> i64| -> Vec<i64> {
        ended.iter().map(|p| count(&p.open_findings)).collect()
    };
    sqlx::query(
        "INSERT INTO open_finding_days (org_id, day, critical, high, medium, low, info)
         SELECT $1, * FROM UNNEST($2::date[], $3::bigint[], $4::bigint[], $5::bigint[],
                                  $6::bigint[], $7::bigint[])
         ON CONFLICT (org_id, day) DO NOTHING",
    )
    .bind(org_id.0)
    .bind(ended.iter().map(|p| p.day).collect::<Vec<_>>())
    .bind(column(|c| c.critical))
    .bind(column(|c| c.high))
    .bind(column(|c| c.medium))
    .bind(column(|c| c.low))
    .bind(column(|c| c.info))
    .execute(pool)
    .await?;
    Ok(points)
}

/// The open findings at the end of each of the last [`TREND_DAYS`] days, walked back from
/// today's counts (`open`) with each day's changes: a finding first seen that day was not open
/// before it (findings start open), a change into an open status from a closed one (a scan
/// reopening it, triage back to open) adds one that day, a change the other way removes one.
/// Every status change is in `finding_events`, so the walk is exact, and it reads only the
/// last weeks' rows by index; it runs once a day per organization.
async fn replay(
    pool: &PgPool,
    org_id: OrgId,
    open: &SeverityCounts,
) -> Result<Vec<TrendPoint>, DbError> {
    let today = Utc::now().date_naive();
    let first = today - Days::new(TREND_DAYS - 1);
    // The changes of the days after the first: the first day's end is reached from the second's.
    let since = (first + Days::new(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let rows: Vec<(NaiveDate, String, i64)> = sqlx::query_as(
        "SELECT day, severity, sum(delta)::bigint FROM (
             SELECT (f.first_seen AT TIME ZONE 'UTC')::date AS day, f.severity, 1 AS delta
             FROM findings f
             WHERE f.org_id = $1 AND f.first_seen >= $2
             UNION ALL
             SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, f.severity,
                    CASE WHEN e.to_status IN ('open', 'in_progress', 'reopened') THEN 1 ELSE -1 END
             FROM finding_events e JOIN findings f ON f.org_id = $1 AND f.id = e.finding_id
             WHERE e.org_id = $1 AND e.occurred_at >= $2
               AND (e.from_status IN ('open', 'in_progress', 'reopened'))
                   <> (e.to_status IN ('open', 'in_progress', 'reopened'))
         ) changes
         GROUP BY day, severity",
    )
    .bind(org_id.0)
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut points = Vec::with_capacity(TREND_DAYS as usize);
    let mut counts = open.clone();
    let mut day = today;
    loop {
        points.push(TrendPoint {
            day,
            open_findings: counts.clone(),
        });
        if day <= first {
            break;
        }
        for (changed, severity, delta) in &rows {
            if *changed == day
                && let Some(severity) = Severity::parse(severity)
            {
                counts.add(severity, -delta);
            }
        }
        day = day - Days::new(1);
    }
    points.reverse();
    Ok(points)
}
