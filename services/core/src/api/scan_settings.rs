//! An organization's scan settings: its default profile, the checks it never runs and the ports
//! its port scans try, and its own words for the crawl's fuzzing. Anyone who sees scans reads
//! them; changing them is automation:write (an admin's), since they change what every later
//! scan of the organization does.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::{FuzzWordlist, ScanSettings};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The organization's scan settings (scans:read)
///
/// The defaults until changed.
#[utoipa::path(get, path = "/api/v1/scan-settings", operation_id = "getScanSettings", tag = "scans",
    responses((status = 200, description = "The settings", body = ScanSettings)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<ScanSettings>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let settings = state.base.scan_settings(principal.org_id).await?;
    Ok(Json(settings))
}

/// Replace the organization's scan settings (automation:write)
///
/// An admin's permission; they apply to scans started afterwards.
#[utoipa::path(put, path = "/api/v1/scan-settings", operation_id = "putScanSettings", tag = "scans",
    request_body = ScanSettings,
    responses((status = 200, description = "The stored settings", body = ScanSettings)))]
pub async fn put(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<ScanSettings>,
) -> Result<Json<ScanSettings>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    // Checked here as well as in base, so a bad value is named before any call.
    body.normalized().map_err(ApiError::bad_request)?;
    let settings = state
        .base
        .put_scan_settings(principal.org_id, &body)
        .await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), "scan settings changed");
    Ok(Json(settings))
}

/// The organization's fuzzing words (scans:read)
///
/// None, extending the bundled wordlist, until set.
#[utoipa::path(get, path = "/api/v1/scan-settings/wordlist", operation_id = "getFuzzWordlist", tag = "scans",
    responses((status = 200, description = "The words", body = FuzzWordlist)))]
pub async fn wordlist(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<FuzzWordlist>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    Ok(Json(state.base.fuzz_wordlist(principal.org_id).await?))
}

/// Replace the organization's fuzzing words (automation:write)
///
/// Crawls that begin afterwards try them in every directory they fuzz, after the bundled
/// wordlist or (`replaces_bundled`) instead of it; an empty list leaves the bundled one alone.
#[utoipa::path(put, path = "/api/v1/scan-settings/wordlist", operation_id = "putFuzzWordlist", tag = "scans",
    request_body = FuzzWordlist,
    responses((status = 200, description = "The stored words, without repeats", body = FuzzWordlist)))]
pub async fn put_wordlist(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<FuzzWordlist>,
) -> Result<Json<FuzzWordlist>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    body.normalized().map_err(ApiError::bad_request)?;
    let wordlist = state
        .base
        .put_fuzz_wordlist(principal.org_id, &body)
        .await?;
    tracing::info!(
        org_id = %principal.org_id, caller = %principal.log_id(), words = wordlist.words.len(),
        "fuzzing words changed"
    );
    Ok(Json(wordlist))
}
