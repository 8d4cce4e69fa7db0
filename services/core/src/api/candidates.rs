//! Candidate assets: host names discovery found around the organization's domains, approved
//! into domain assets or dismissed.

use axum::extract::State;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicQuery};
use s4e_types::api::Page;
use s4e_types::discovery::{Candidate, CandidateQuery};
use s4e_types::{Asset, CandidateId};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The organization's candidate assets (assets:read)
///
/// Host names the `subdomains` check (a wordlist against the resolvers, zone transfers) and
/// the `tls_certificate` check (names in certificates) found and the organization has not
/// registered: `pending` by default, or `approved` or `dismissed`; filtered by `source` and by
/// `found_from` (the asset whose scan found them), oldest first, in pages. `verified_parent`
/// names the verified domain a candidate sits under: approved, it is verified with it.
#[utoipa::path(get, path = "/api/v1/candidates", operation_id = "listCandidates", tag = "assets",
    params(CandidateQuery),
    responses((status = 200, description = "A page of candidates", body = Page<Candidate>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<CandidateQuery>,
) -> Result<Json<Page<Candidate>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_unlimited("listing candidate assets")?;
    Ok(Json(
        state.base.list_candidates(principal.org_id, &query).await?,
    ))
}

/// Make a candidate an asset (assets:write)
///
/// Registers the name as a domain asset (`asset.created` goes out) and answers with it; the
/// organization's existing asset when it registered the name meanwhile. Approving again
/// answers the same asset; a dismissed candidate can still be approved.
#[utoipa::path(post, path = "/api/v1/candidates/{candidate_id}/approve", operation_id = "approveCandidate", tag = "assets",
    params(("candidate_id" = CandidateId, Path)),
    responses((status = 200, description = "The asset", body = Asset)))]
pub async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(candidate_id): ApiPath<CandidateId>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_unlimited("approving candidate assets")?;
    let asset = state
        .base
        .approve_candidate(principal.org_id, candidate_id)
        .await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %candidate_id, asset_id = %asset.id, "candidate approved");
    Ok(Json(asset))
}

/// Dismiss a candidate (assets:write)
///
/// Not the organization's, or not wanted: found again, it stays dismissed. An approved
/// candidate is an asset (409): archive the asset instead.
#[utoipa::path(post, path = "/api/v1/candidates/{candidate_id}/dismiss", operation_id = "dismissCandidate", tag = "assets",
    params(("candidate_id" = CandidateId, Path)),
    responses((status = 200, description = "The candidate", body = Candidate)))]
pub async fn dismiss(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(candidate_id): ApiPath<CandidateId>,
) -> Result<Json<Candidate>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_unlimited("dismissing candidate assets")?;
    Ok(Json(
        state
            .base
            .dismiss_candidate(principal.org_id, candidate_id)
            .await?,
    ))
}
