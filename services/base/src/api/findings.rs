use axum::Json;
use axum::extract::State;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::DashboardSummary;
use s4e_types::finding_query::FindingCount;
use s4e_types::{
    BulkStatusChange, BulkStatusResult, FindingId, FindingPage, FindingQuery, FindingWithHistory,
    OrgId, StatusChange,
};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

/// The run filter's name in base; the gateway calls it `scan_id`.
const RUN_PARAM: &str = "run_id";

/// Counts for the dashboard: assets, open findings by severity, scans in progress.
pub async fn summary(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<DashboardSummary>, ApiError> {
    Ok(Json(db::dashboard::summary(&pool, org_id).await?))
}

/// Query pairs as sent: repeated parameters (`status=open&status=fixed`) are kept.
fn finding_query(pairs: &[(String, String)]) -> Result<FindingQuery, ApiError> {
    FindingQuery::from_pairs(pairs, RUN_PARAM).map_err(ApiError::bad_request)
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<FindingPage>, ApiError> {
    let query = finding_query(&pairs)?;
    Ok(Json(db::findings::list(&pool, org_id, &query).await?))
}

pub async fn count(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<FindingCount>, ApiError> {
    let query = finding_query(&pairs)?;
    Ok(Json(db::findings::count(&pool, org_id, &query).await?))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, finding_id)): ApiPath<(OrgId, FindingId)>,
) -> Result<Json<FindingWithHistory>, ApiError> {
    Ok(Json(db::findings::get(&pool, org_id, finding_id).await?))
}

pub async fn change_status(
    State(pool): State<PgPool>,
    ApiPath((org_id, finding_id)): ApiPath<(OrgId, FindingId)>,
    ApiJson(status_change): ApiJson<StatusChange>,
) -> Result<Json<FindingWithHistory>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let changed =
        db::findings::change_status(&mut change, org_id, finding_id, &status_change).await?;
    change.commit(org_id, None).await?;
    Ok(Json(changed))
}

pub async fn bulk_change_status(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(bulk): ApiJson<BulkStatusChange>,
) -> Result<Json<BulkStatusResult>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let changed = db::findings::bulk_change_status(&mut change, org_id, &bulk).await?;
    change.commit(org_id, None).await?;
    Ok(Json(changed))
}
