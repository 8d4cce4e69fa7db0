use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::audit::{AuditPage, AuditQuery};
use s4e_types::{AuditEntry, NewAuditEntry, OrgId};
use sqlx::PgPool;

use crate::db;

pub async fn append(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewAuditEntry>,
) -> Result<(StatusCode, Json<AuditEntry>), ApiError> {
    let entry = db::audit::append(&pool, org_id, &body).await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

pub async fn query(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(filter): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(db::audit::query(&pool, org_id, &filter).await?))
}
