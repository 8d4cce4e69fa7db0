//! How the attack surface changed: the organization's and an asset's timeline (assets added
//! and archived, services that appeared and went, technologies identified or changing version,
//! certificates replaced), and the difference between two dates.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicQuery};
use s4e_types::AssetId;
use s4e_types::surface::{SurfaceDiff, SurfaceDiffQuery, SurfacePage, SurfaceQuery};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The surface's changes (assets:read)
///
/// Newest first, filtered by `asset_id`, `kind`, `since` and `until`, in pages of `limit`
/// (default 100) continuing with `before=<next_cursor>`. A user limited to assigned assets
/// names one of them.
#[utoipa::path(get, path = "/api/v1/surface/changes", operation_id = "listSurfaceChanges", tag = "assets",
    params(SurfaceQuery),
    responses((status = 200, description = "A page of changes", body = SurfacePage)))]
pub async fn changes(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<SurfaceQuery>,
) -> Result<Json<SurfacePage>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    match query.asset_id {
        Some(asset_id) => principal.require_asset(asset_id, "asset")?,
        None => principal.require_unlimited("the whole surface's changes")?,
    }
    Ok(Json(
        state.base.surface_changes(principal.org_id, &query).await?,
    ))
}

/// An asset's timeline (assets:read)
///
/// Its registration and archiving, its services' comings and goings, its technologies
/// appearing or changing version and its certificates replaced, newest first, in pages as
/// `GET /api/v1/surface/changes`.
#[utoipa::path(get, path = "/api/v1/assets/{asset_id}/timeline", operation_id = "getAssetTimeline", tag = "assets",
    params(("asset_id" = AssetId, Path), SurfaceQuery),
    responses((status = 200, description = "A page of the asset's changes", body = SurfacePage)))]
pub async fn timeline(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicQuery(query): PublicQuery<SurfaceQuery>,
) -> Result<Json<SurfacePage>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_asset(asset_id, "asset")?;
    // Unknown and other organizations' assets answer 404, not an empty timeline.
    state.base.get_asset(principal.org_id, asset_id).await?;
    let query = SurfaceQuery {
        asset_id: Some(asset_id),
        ..query
    };
    Ok(Json(
        state.base.surface_changes(principal.org_id, &query).await?,
    ))
}

/// How the surface changed between two dates (assets:read)
///
/// What is there at `to` that was not at `from` (`added`: assets registered, services and
/// technologies that appeared) and the reverse (`removed`), each with its last change; what is
/// there at both dates but changed (`changed`: a technology's version, a port's certificate),
/// with its last change; what came and went in between is in none. At most 100,000 changes
/// between the dates.
#[utoipa::path(get, path = "/api/v1/surface/diff", operation_id = "getSurfaceDiff", tag = "assets",
    params(SurfaceDiffQuery),
    responses((status = 200, description = "The difference", body = SurfaceDiff)))]
pub async fn diff(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<SurfaceDiffQuery>,
) -> Result<Json<SurfaceDiff>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_unlimited("the whole surface's difference")?;
    Ok(Json(
        state.base.surface_diff(principal.org_id, &query).await?,
    ))
}
