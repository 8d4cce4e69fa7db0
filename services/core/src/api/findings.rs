//! Findings: listing with filters and keyset pages, one finding with its history, triage (one
//! or many at once), and exports. Every change is made in the caller's name: base records the
//! actor in the finding's history, the audit middleware records the request.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use s4e_runtime::extract::{ApiPath, PublicQuery};
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::finding::{validate_bulk_ids, validate_status_change};
use s4e_types::{
    BulkFindingStatusUpdate, BulkStatusChange, BulkStatusResult, Finding, FindingId, FindingPage,
    FindingQuery, FindingStatusUpdate, FindingWithHistory, StatusChange,
};

use crate::AppState;
use crate::auth::Principal;
use crate::export::Format;
use crate::permissions::{Access, Resource};

/// The run filter's public name.
const RUN_PARAM: &str = "scan_id";

/// The most findings one export holds; beyond it the caller narrows the filters. An export is
/// built in memory, so this bounds what one request may cost.
pub const MAX_EXPORT: u64 = 50_000;

/// Base's largest page, used to read an export.
const EXPORT_PAGE: u32 = FindingQuery::MAX_LIMIT;

/// The query, narrowed to an asset the caller may see: a user limited to assigned assets names
/// one of them in `asset_id`.
fn finding_query(
    principal: &Principal,
    pairs: &[(String, String)],
) -> Result<FindingQuery, ApiError> {
    let query = FindingQuery::from_pairs(pairs, RUN_PARAM).map_err(ApiError::bad_request)?;
    if principal.asset_scope.is_some() {
        let Some(asset_id) = query.asset_id else {
            return Err(ApiError::bad_request(
                "asset_id: required for users limited to assigned assets",
            ));
        };
        principal.require_asset(asset_id, "asset")?;
    }
    Ok(query)
}

/// The finding, when the caller may see its asset; "not found" otherwise, as for a missing id.
async fn visible_finding(
    state: &AppState,
    principal: &Principal,
    finding_id: FindingId,
) -> Result<FindingWithHistory, ApiError> {
    let finding = state.base.get_finding(principal.org_id, finding_id).await?;
    principal.require_asset(finding.finding.asset_id, "finding")?;
    Ok(finding)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(pairs): PublicQuery<Vec<(String, String)>>,
) -> Result<Json<FindingPage>, ApiError> {
    principal.require(Resource::Findings, Access::Read)?;
    let query = finding_query(&principal, &pairs)?;
    let page = state.base.list_findings(principal.org_id, &query).await?;
    Ok(Json(page))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(finding_id): ApiPath<FindingId>,
) -> Result<Json<FindingWithHistory>, ApiError> {
    principal.require(Resource::Findings, Access::Read)?;
    Ok(Json(visible_finding(&state, &principal, finding_id).await?))
}

pub async fn update_status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(finding_id): ApiPath<FindingId>,
    PublicJson(body): PublicJson<FindingStatusUpdate>,
) -> Result<Json<FindingWithHistory>, ApiError> {
    principal.require(Resource::Findings, Access::Write)?;
    validate_status_change(body.status, body.reason.as_deref()).map_err(ApiError::bad_request)?;
    if principal.asset_scope.is_some() {
        visible_finding(&state, &principal, finding_id).await?;
    }
    let change = StatusChange {
        status: body.status,
        reason: body.reason,
        actor: principal.finding_actor(),
    };
    let finding = state
        .base
        .change_finding_status(principal.org_id, finding_id, &change)
        .await?;
    tracing::info!(
        org_id = %principal.org_id, caller = %principal.log_id(), %finding_id,
        status = change.status.as_str(), "finding triaged"
    );
    Ok(Json(finding))
}

pub async fn bulk_update_status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<BulkFindingStatusUpdate>,
) -> Result<Json<BulkStatusResult>, ApiError> {
    principal.require(Resource::Findings, Access::Write)?;
    principal.require_unlimited("changing findings in bulk")?;
    validate_bulk_ids(&body.ids).map_err(ApiError::bad_request)?;
    validate_status_change(body.status, body.reason.as_deref()).map_err(ApiError::bad_request)?;
    let bulk = BulkStatusChange {
        ids: body.ids,
        status: body.status,
        reason: body.reason,
        actor: principal.finding_actor(),
    };
    let result = state
        .base
        .bulk_change_finding_status(principal.org_id, &bulk)
        .await?;
    tracing::info!(
        org_id = %principal.org_id, caller = %principal.log_id(),
        status = bulk.status.as_str(), changed = result.changed, "findings triaged in bulk"
    );
    Ok(Json(result))
}

/// `format` (json, csv or sarif; json when absent) and the list's filters and sort; the export
/// holds every matching finding, so `limit` and `cursor` do not apply.
pub async fn export(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(mut pairs): PublicQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    principal.require(Resource::Exports, Access::Read)?;
    principal.require(Resource::Findings, Access::Read)?;
    let mut format = Format::Json;
    let mut refused = None;
    pairs.retain(|(name, value)| {
        if name != "format" {
            return true;
        }
        match Format::parse(value) {
            Some(parsed) => format = parsed,
            None => refused = Some(format!("format: {value:?} is not json, csv or sarif")),
        }
        false
    });
    if let Some(message) = refused {
        return Err(ApiError::bad_request(message));
    }
    let mut query = finding_query(&principal, &pairs)?;
    if query.limit.is_some() || query.cursor.is_some() {
        return Err(ApiError::bad_request(
            "limit: an export holds every matching finding and is not paged (see GET /api/v1/findings)",
        ));
    }
    let total = state.base.count_findings(principal.org_id, &query).await?;
    if total > MAX_EXPORT {
        return Err(too_many(total));
    }
    query.limit = Some(EXPORT_PAGE);
    let mut findings: Vec<Finding> = Vec::with_capacity(total as usize);
    loop {
        let page = state.base.list_findings(principal.org_id, &query).await?;
        findings.extend(page.items);
        // Findings stored while the export is read could pass the cap after the count.
        if findings.len() as u64 > MAX_EXPORT {
            return Err(too_many(findings.len() as u64));
        }
        match page.next_cursor {
            Some(cursor) => {
                query.cursor =
                    Some(s4e_types::FindingCursor::decode(&cursor).map_err(ApiError::internal)?);
            }
            None => break,
        }
    }
    tracing::info!(
        org_id = %principal.org_id, caller = %principal.log_id(), findings = findings.len(),
        format = format.file_name(), "findings exported"
    );
    let body = format.render(&findings);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", format.file_name()),
            ),
        ],
        Body::from(body),
    )
        .into_response())
}

fn too_many(total: u64) -> ApiError {
    ApiError::bad_request(format!(
        "the export would hold {total} findings, at most {MAX_EXPORT}: narrow it with filters \
         (status, severity, check, asset_id, scan_id)"
    ))
}
