//! The scan catalog: every check and every scan profile, as the scan service knows them.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::ApiError;
use s4e_types::api::Catalog;

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Every check and scan profile (scans:read)
///
/// What each check finds and runs on, and which checks each profile plans per kind of asset.
#[utoipa::path(get, path = "/api/v1/catalog", operation_id = "catalog", tag = "scans",
    responses((status = 200, description = "The catalog", body = Catalog)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Catalog>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    Ok(Json(state.scan.catalog().await?))
}
