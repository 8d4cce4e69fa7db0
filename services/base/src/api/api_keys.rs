use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{ApiKeyRecord, NewApiKey, Page, PageQuery};
use s4e_types::{ApiKeyId, OrgId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<ApiKeyRecord>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let key = db::api_keys::create(&mut change, org_id, &body).await?;
    change.commit(org_id, Some(key.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

pub async fn by_hash(
    State(pool): State<PgPool>,
    ApiPath(key_hash): ApiPath<String>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    Ok(Json(db::api_keys::by_hash(&pool, &key_hash).await?))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKeyRecord>>, ApiError> {
    let limit = query.page_size().map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::api_keys::list(&pool, org_id, query.after, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn revoke(
    State(pool): State<PgPool>,
    ApiPath((org_id, key_id)): ApiPath<(OrgId, ApiKeyId)>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let key = db::api_keys::revoke(&mut change, org_id, key_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(key))
}
