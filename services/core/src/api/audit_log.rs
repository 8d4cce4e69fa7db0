//! The audit log, read-only: there is no route that changes or removes an entry.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::ApiError;
use s4e_runtime::extract::PublicQuery;
use s4e_types::audit::{AuditPage, AuditQuery};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The audit log (audit:read)
///
/// The organization's audit log, newest first, in pages; entries cannot be changed.
#[utoipa::path(get, path = "/api/v1/audit-log", operation_id = "auditLog", tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "One page", body = AuditPage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(filter): PublicQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    principal.require(Resource::Audit, Access::Read)?;
    filter.validate().map_err(ApiError::bad_request)?;
    let page = state.base.query_audit(principal.org_id, &filter).await?;
    Ok(Json(page))
}
