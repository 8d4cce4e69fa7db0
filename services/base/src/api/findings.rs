use axum::Json;
use axum::extract::State;
use s4e_runtime::ApiError;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_types::api::{DashboardSummary, List};
use s4e_types::{AssetId, Finding, OrgId, RunId};
use serde::Deserialize;
use sqlx::PgPool;

use crate::db;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    run_id: Option<RunId>,
    asset_id: Option<AssetId>,
}

/// Counts for the dashboard: assets, open findings by severity, scans in progress.
pub async fn summary(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<DashboardSummary>, ApiError> {
    Ok(Json(db::dashboard::summary(&pool, org_id).await?))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<List<Finding>>, ApiError> {
    let items = db::findings::list(&pool, org_id, query.asset_id, query.run_id).await?;
    Ok(Json(List { items }))
}
