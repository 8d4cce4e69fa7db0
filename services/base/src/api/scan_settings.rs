use axum::Json;
use axum::extract::State;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::OrgId;
use s4e_types::api::ScanSettings;
use sqlx::PgPool;

use crate::db;

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<ScanSettings>, ApiError> {
    Ok(Json(db::scan_settings::get(&pool, org_id).await?))
}

pub async fn put(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<ScanSettings>,
) -> Result<Json<ScanSettings>, ApiError> {
    Ok(Json(db::scan_settings::put(&pool, org_id, &body).await?))
}
