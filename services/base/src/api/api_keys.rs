use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::OrgId;
use s4e_types::api::{ApiKeyRecord, NewApiKey};
use sqlx::PgPool;

use crate::db;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<ApiKeyRecord>), ApiError> {
    let key = db::api_keys::create(&pool, org_id, &body).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

pub async fn by_hash(
    State(pool): State<PgPool>,
    ApiPath(key_hash): ApiPath<String>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    Ok(Json(db::api_keys::by_hash(&pool, &key_hash).await?))
}
