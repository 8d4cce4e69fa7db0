use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::api::{List, VerificationOutcome, VerifyAsset};
use s4e_types::{Asset, AssetId, AssetKind, AssetListQuery, NewAsset, UpdateAsset};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    // An asset registered by a limited user would be outside their own limit.
    principal.require_unlimited("registering assets")?;
    if let Some(reason) = never_scanned(&body) {
        return Err(ApiError::bad_request(format!(
            "value: {reason}, never scanned"
        )));
    }
    let asset = state.base.create_asset(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), asset_id = %asset.id, "asset registered");
    Ok((StatusCode::CREATED, Json(asset)))
}

/// Why an asset's address can never be scanned, whatever the deployment allows: refused when
/// registered rather than when first scanned. A domain is judged when it is resolved.
fn never_scanned(asset: &NewAsset) -> Option<&'static str> {
    let value = asset.value.trim();
    let ip = match asset.kind {
        AssetKind::Ip => value.parse::<IpAddr>().ok()?,
        // Parsed as base stores it: `http://2852039166/` and `http://0xa9.254.169.254/` name
        // 169.254.169.254.
        AssetKind::Url => match url::Url::parse(value).ok()?.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        },
        AssetKind::Domain => return None,
    };
    s4e_egress::never_allowed(ip)
}

/// The organization's assets; the archived ones too with `archived=true`.
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<AssetListQuery>,
) -> Result<Json<List<Asset>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    let mut items = if query.archived {
        state
            .base
            .list_assets_with_archived(principal.org_id)
            .await?
    } else {
        state.base.list_assets(principal.org_id).await?
    };
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

/// Renames an asset (its value is what was proven, and does not change).
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicJson(body): PublicJson<UpdateAsset>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_asset(asset_id, "asset")?;
    Ok(Json(
        state
            .base
            .update_asset(principal.org_id, asset_id, &body)
            .await?,
    ))
}

/// Takes an asset out of the inventory. Nothing is deleted: its scans and findings stay as
/// history; it is no longer listed by default, scanned or proven again.
pub async fn archive(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_unlimited("archiving assets")?;
    let asset = state.base.archive_asset(principal.org_id, asset_id).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %asset_id, "asset archived");
    Ok(Json(asset))
}

/// Tries to prove the asset is the organization's (file, meta tag or DNS record with its
/// `verification_token`) and records the outcome.
pub async fn verify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicJson(body): PublicJson<VerifyAsset>,
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
