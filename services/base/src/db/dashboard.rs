//! The dashboard summary: every count in one statement, so the gateway makes one call.

use chrono::{DateTime, Utc};
use s4e_types::OrgId;
use s4e_types::api::DashboardSummary;
use sqlx::PgPool;

use super::{DbError, SeverityRow, exposed_services_sql, penalty_sql};

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
            count(*) FILTER (WHERE f.severity = 'critical') AS critical,
            count(*) FILTER (WHERE f.severity = 'high') AS high,
            count(*) FILTER (WHERE f.severity = 'medium') AS medium,
            count(*) FILTER (WHERE f.severity = 'low') AS low,
            count(*) FILTER (WHERE f.severity = 'info') AS info,
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
         FROM findings f JOIN assets a ON a.id = f.asset_id
         WHERE f.org_id = $1 AND f.status IN ('open', 'in_progress', 'reopened')"
    );
    let row = sqlx::query_as::<_, SummaryRow>(sql)
        .bind(org_id.0)
        .fetch_one(pool)
        .await?;
    Ok(DashboardSummary {
        assets: row.assets,
        open_findings: row.open.into(),
        scans_queued: row.scans_queued,
        scans_running: row.scans_running,
        last_scan_finished_at: row.last_scan_finished_at,
        exposed_services: row.exposed_services,
        penalty: row.penalty,
        // Made by the gateway, which owns the formula.
        score: 0,
    })
}
