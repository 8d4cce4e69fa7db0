//! The dashboard summary: assets, open findings by severity and scans in progress, from one
//! call to base (never one call per asset).

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::ApiError;
use s4e_types::api::DashboardSummary;

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Counts for the dashboard (assets:read, findings:read, scans:read)
///
/// Assets, open findings by severity, scans queued and running, the services exposed now, and
/// the security score (the formula is the portfolio's, weighing each finding by its asset's
/// criticality). Not for users limited to assigned assets (403).
#[utoipa::path(get, path = "/api/v1/dashboard", operation_id = "dashboard", tag = "dashboard",
    responses((status = 200, description = "The counts", body = DashboardSummary)))]
pub async fn summary(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<DashboardSummary>, ApiError> {
    for resource in [Resource::Assets, Resource::Findings, Resource::Scans] {
        principal.require(resource, Access::Read)?;
    }
    // The counts span every asset of the organization.
    principal.require_unlimited("the dashboard")?;
    let mut summary = state.base.dashboard(principal.org_id).await?;
    summary.score = super::partners::security_score(summary.penalty);
    Ok(Json(summary))
}
