use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{CreateScan, RunProgress, ScanView};
use s4e_types::{RunId, ScanRun};

use super::upstream;
use crate::AppState;
use crate::audit::AuditResource;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<CreateScan>,
) -> Result<(StatusCode, Extension<AuditResource>, Json<ScanRun>), ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    let run = state
        .scan
        .start_scan(principal.org_id, &body)
        .await
        .map_err(upstream)?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), scan_id = %run.id, "scan started");
    let resource = Extension(AuditResource(run.id.to_string()));
    Ok((StatusCode::ACCEPTED, resource, Json(run)))
}

/// The stored run, with live progress from Redis while it runs. Both are read at once; once the
/// run has ended its own counts are the progress, since Redis may lag behind base.
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Json<ScanView>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let (run, progress) = tokio::join!(
        state.base.get_run(principal.org_id, scan_id),
        state.live.get(scan_id)
    );
    let run = run.map_err(upstream)?;
    let progress = if run.status.is_final() {
        Some(RunProgress::from(&run))
    } else {
        progress.unwrap_or_else(|error| {
            tracing::warn!(%error, "live status unavailable");
            None
        })
    };
    Ok(Json(ScanView { run, progress }))
}

/// Cancels a scan that has not ended: base ends the run and its unfinished jobs `cancelled` in
/// one transaction, then the workers running its jobs are told to stop (a Redis flag they poll).
/// If the flag cannot be set the running jobs finish and base ignores their reports.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(scan_id): ApiPath<RunId>,
) -> Result<Json<ScanRun>, ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    let run = state
        .base
        .cancel_run(principal.org_id, scan_id)
        .await
        .map_err(upstream)?;
    if let Err(error) = state.live.mark_cancelled(scan_id).await {
        tracing::warn!(%error, %scan_id, "cannot signal the cancellation to running jobs");
    }
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %scan_id, "scan cancelled");
    Ok(Json(run))
}
