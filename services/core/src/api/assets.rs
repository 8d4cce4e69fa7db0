use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{List, VerificationOutcome, VerifyAsset};
use s4e_types::{Asset, AssetId, NewAsset};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    // An asset registered by a limited user would be outside their own limit.
    principal.require_unlimited("registering assets")?;
    let asset = state.base.create_asset(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), asset_id = %asset.id, "asset registered");
    Ok((StatusCode::CREATED, Json(asset)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Asset>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    let mut items = state.base.list_assets(principal.org_id).await?;
    items.retain(|asset| principal.sees_asset(asset.id));
    Ok(Json(List { items }))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_asset(asset_id, "asset")?;
    let asset = state.base.get_asset(principal.org_id, asset_id).await?;
    Ok(Json(asset))
}

/// Tries to prove the asset is the organization's (file, meta tag or DNS record with its
/// `verification_token`) and records the outcome.
pub async fn verify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    ApiJson(body): ApiJson<VerifyAsset>,
) -> Result<Json<VerificationOutcome>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_asset(asset_id, "asset")?;
    // An owner asking proves now or loses the proof; only re-verification has a grace period.
    let body = VerifyAsset {
        method: body.method,
        keep_if_unreachable_seconds: None,
    };
    let outcome = state
        .scan
        .verify_asset(principal.org_id, asset_id, &body)
        .await?;
    Ok(Json(outcome))
}
