use axum::Json;
use axum::extract::State;
use s4e_runtime::ApiError;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_types::api::Page;
use s4e_types::discovery::{Candidate, CandidateQuery};
use s4e_types::{Asset, CandidateId, OrgId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<CandidateQuery>,
) -> Result<Json<Page<Candidate>>, ApiError> {
    let limit = s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::candidates::list(&pool, org_id, &query, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn approve(
    State(pool): State<PgPool>,
    ApiPath((org_id, candidate_id)): ApiPath<(OrgId, CandidateId)>,
) -> Result<Json<Asset>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::candidates::approve(&mut change, org_id, candidate_id).await?;
    change.commit(org_id, Some(asset.id.to_string())).await?;
    Ok(Json(asset))
}

pub async fn dismiss(
    State(pool): State<PgPool>,
    ApiPath((org_id, candidate_id)): ApiPath<(OrgId, CandidateId)>,
) -> Result<Json<Candidate>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let candidate = db::candidates::dismiss(&mut change, org_id, candidate_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(candidate))
}
