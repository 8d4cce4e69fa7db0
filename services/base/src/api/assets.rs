use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::{Asset, AssetId, NewAsset, OrgId};
use sqlx::PgPool;

use crate::db;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    let asset = db::assets::create(&pool, org_id, &body).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<Asset>>, ApiError> {
    let items = db::assets::list(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
) -> Result<Json<Asset>, ApiError> {
    Ok(Json(db::assets::get(&pool, org_id, asset_id).await?))
}
