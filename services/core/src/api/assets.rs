use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::{Asset, AssetId, NewAsset};

use super::upstream;
use crate::AppState;
use crate::auth::Principal;

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    principal.require_write()?;
    let asset = state
        .base
        .create_asset(principal.org_id, &body)
        .await
        .map_err(upstream)?;
    tracing::info!(org_id = %principal.org_id, key_id = %principal.key_id, asset_id = %asset.id, "asset registered");
    Ok((StatusCode::CREATED, Json(asset)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Asset>>, ApiError> {
    let items = state
        .base
        .list_assets(principal.org_id)
        .await
        .map_err(upstream)?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
) -> Result<Json<Asset>, ApiError> {
    let asset = state
        .base
        .get_asset(principal.org_id, asset_id)
        .await
        .map_err(upstream)?;
    Ok(Json(asset))
}
