//! Findings: listing with filters and keyset pages, one finding with its history, triage (one
//! or many at once), and exports. Every change is made in the caller's name: base records the
//! actor in the finding's history, the audit middleware records the request.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{StreamExt, stream};
use s4e_runtime::extract::{ApiPath, PublicQuery};
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::ErrorBody;
use s4e_types::finding::{validate_bulk_ids, validate_status_change};
use s4e_types::{
    AssetId, BulkFindingStatusUpdate, BulkStatusChange, BulkStatusResult, CheckKind, Finding,
    FindingId, FindingPage, FindingQuery, FindingSort, FindingStatus, FindingStatusUpdate,
    FindingWithHistory, RunId, Severity, SortOrder, StatusChange,
};

use crate::AppState;
use crate::auth::Principal;
use crate::export::{ExportWriter, Format};
use crate::permissions::{Access, Resource};

/// The run filter's public name.
const RUN_PARAM: &str = "scan_id";

/// The most findings one export holds; beyond it the caller narrows the filters. An export is
/// streamed a page at a time, so memory does not grow with it; this bounds how long one
/// request may keep reading from base.
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

/// The filters and sort of the findings list, as the document describes them;
/// [`FindingQuery::from_pairs`] reads them (a list is also accepted comma-separated).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FindingFilters {
    /// Only findings in these statuses; repeat the parameter or give a comma-separated list.
    #[param(style = Form, explode)]
    status: Option<Vec<FindingStatus>>,
    /// Only these severities; repeated or comma-separated.
    #[param(style = Form, explode)]
    severity: Option<Vec<Severity>>,
    /// Only findings at least this severe.
    min_severity: Option<Severity>,
    /// Only findings of this check.
    check: Option<CheckKind>,
    /// Only findings of this rule, e.g. `missing_csp`.
    #[param(min_length = 1, max_length = 200)]
    rule: Option<String>,
    /// Only findings of this asset.
    asset_id: Option<AssetId>,
    /// Only findings this scan run saw.
    scan_id: Option<RunId>,
    /// `severity`: most severe first, then most recently seen; `last_seen`, `first_seen`: by
    /// that time. Ties are ordered by id.
    #[param(inline)]
    sort: Option<FindingSort>,
    /// The direction of the sort; `desc` when absent.
    #[param(inline)]
    order: Option<SortOrder>,
}

/// A page of the findings list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FindingPageParams {
    /// The page size; 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters, sort and order. Pages are
    /// keyset-based: no finding is skipped or repeated.
    #[param(min_length = 1, max_length = 200)]
    cursor: Option<String>,
}

/// The format of an export.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ExportFormat {
    /// `json`: an array of findings; `csv`: RFC 4180 with a header row, cells starting with
    /// `= + - @` prefixed with `'` so spreadsheets do not run them; `sarif`: SARIF 2.1.0, one
    /// rule per check and rule, one result per finding, accepted risks and false positives as
    /// suppressions. `json` when absent.
    #[param(inline)]
    format: Option<ExportFormatName>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum ExportFormatName {
    Json,
    Csv,
    Sarif,
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

/// List findings (findings:read)
///
/// Filtered and sorted, in keyset pages. A user limited to assigned assets names one of them
/// in `asset_id`.
#[utoipa::path(get, path = "/api/v1/findings", operation_id = "listFindings", tag = "findings",
    params(FindingFilters, FindingPageParams),
    responses((status = 200, description = "One page of findings", body = FindingPage)))]
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

/// A finding with the history of its status (findings:read)
#[utoipa::path(get, path = "/api/v1/findings/{finding_id}", operation_id = "getFinding", tag = "findings",
    params(("finding_id" = FindingId, Path)),
    responses((status = 200, description = "The finding", body = FindingWithHistory)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(finding_id): ApiPath<FindingId>,
) -> Result<Json<FindingWithHistory>, ApiError> {
    principal.require(Resource::Findings, Access::Read)?;
    Ok(Json(visible_finding(&state, &principal, finding_id).await?))
}

/// The raw output behind a finding (findings:read)
///
/// What the check that found it recorded, whole: the response, banner or certificate the
/// finding's evidence was taken from (the output of the job that last saw it). 404 when the
/// finding links none.
#[utoipa::path(get, path = "/api/v1/findings/{finding_id}/raw-output", operation_id = "getFindingRawOutput", tag = "findings",
    params(("finding_id" = FindingId, Path)),
    responses((status = 200, description = "The raw output, as the check recorded it", body = serde_json::Value)))]
pub async fn raw_output(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(finding_id): ApiPath<FindingId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Resource::Findings, Access::Read)?;
    let finding = visible_finding(&state, &principal, finding_id).await?;
    let output_id = finding
        .finding
        .raw_output_id
        .ok_or_else(|| ApiError::not_found("raw output"))?;
    Ok(Json(
        state
            .dispatcher
            .raw_output(principal.org_id, &output_id)
            .await?,
    ))
}

/// Triage a finding (findings:write)
///
/// Set its status, with a reason (required for `accepted_risk` and `false_positive`). Recorded
/// in its history and the audit log.
#[utoipa::path(patch, path = "/api/v1/findings/{finding_id}", operation_id = "updateFindingStatus", tag = "findings",
    params(("finding_id" = FindingId, Path)),
    request_body = FindingStatusUpdate,
    responses((status = 200, description = "The finding with its history", body = FindingWithHistory)))]
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
        caused_by: Vec::new(),
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

/// Triage up to 1000 findings at once (findings:write)
///
/// All or none: an id that is not one of the organization's findings answers 404 and nothing
/// changes. Not for users limited to assigned assets (403).
#[utoipa::path(post, path = "/api/v1/findings/bulk-status", operation_id = "bulkUpdateFindingStatus", tag = "findings",
    request_body = BulkFindingStatusUpdate,
    responses(
        (status = 200, description = "How many findings changed, and how many already had that status and reason", body = BulkStatusResult),
        (status = 404, description = "An id is not one of the organization's findings", body = ErrorBody),
    ))]
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

/// Export findings (exports:read and findings:read)
///
/// Every finding matching the list's filters, as a file; at most 50000 (more answers 400).
/// The export is not paged: `limit` and `cursor` do not apply.
#[utoipa::path(get, path = "/api/v1/findings/export", operation_id = "exportFindings", tag = "findings",
    params(ExportFormat, FindingFilters),
    responses((status = 200, description = "The export, as an attachment (Content-Disposition)",
        content(
            (Vec<Finding> = "application/json"),
            (String = "text/csv"),
            (serde_json::Value = "application/sarif+json"),
        ))))]
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
    let mut pages = ExportPages {
        base: state.base.clone(),
        principal,
        query,
        writer: ExportWriter::new(format),
    };
    // The first page is read before answering, so that base failing is an error response
    // rather than a file cut short.
    let mut first = pages.writer.start();
    let more = pages.next_page(&mut first).await?;
    let rest = stream::try_unfold(more.then_some(pages), |pages| async move {
        let Some(mut pages) = pages else {
            return Ok(None);
        };
        let mut chunk = Vec::new();
        match pages.next_page(&mut chunk).await {
            Ok(more) => Ok(Some((chunk, more.then_some(pages)))),
            Err(error) => {
                // Ending the body with an error ends the connection without the chunked
                // encoding's last chunk: the client sees a transfer cut short, not a file.
                tracing::warn!(
                    org_id = %pages.principal.org_id, caller = %pages.principal.log_id(),
                    written = pages.writer.written(), error = %error.message,
                    detail = error.detail.as_deref().unwrap_or(""), "findings export cut short"
                );
                Err(std::io::Error::other(error.message))
            }
        }
    });
    let body = stream::once(async { Ok::<_, std::io::Error>(first) }).chain(rest);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", format.file_name()),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// An export being read from base a page at a time and written as it is read.
struct ExportPages {
    base: s4e_client::BaseClient,
    principal: Principal,
    query: FindingQuery,
    writer: ExportWriter,
}

impl ExportPages {
    /// Reads the next page into `out`, the end of the file with the last; whether more follow.
    async fn next_page(&mut self, out: &mut Vec<u8>) -> Result<bool, ApiError> {
        let org_id = self.principal.org_id;
        let page = self.base.list_findings(org_id, &self.query).await?;
        out.extend(self.writer.page(&page.items));
        // Findings stored while the export is read could pass the cap after the count.
        if self.writer.written() as u64 > MAX_EXPORT {
            return Err(too_many(self.writer.written() as u64));
        }
        match page.next_cursor {
            Some(cursor) => {
                self.query.cursor =
                    Some(s4e_types::FindingCursor::decode(&cursor).map_err(ApiError::internal)?);
                Ok(true)
            }
            None => {
                out.extend(self.writer.finish());
                tracing::info!(
                    %org_id, caller = %self.principal.log_id(), findings = self.writer.written(),
                    format = self.writer.format().file_name(), "findings exported"
                );
                Ok(false)
            }
        }
    }
}

fn too_many(total: u64) -> ApiError {
    ApiError::bad_request(format!(
        "the export would hold {total} findings, at most {MAX_EXPORT}: narrow it with filters \
         (status, severity, check, asset_id, scan_id)"
    ))
}
