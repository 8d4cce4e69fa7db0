//! The internal API: the site maps crawls recorded.

use axum::extract::State;
use axum::{Json, Router};
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, InternalRouter, ServiceToken};
use s4e_store::CrawlPages;
use s4e_types::crawl::{SitePageList, SitePageQuery};
use s4e_types::routes::crawler as routes;
use s4e_types::{OrgId, RunId};

pub fn router(pages: CrawlPages, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::SITE_PAGES, site_pages)
        .with_no_route_answer()
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(pages)
}

/// One page of a run's site map; an empty list for a run that crawled nothing (or another
/// organization's run: the pages are looked up under the organization in the path).
async fn site_pages(
    State(pages): State<CrawlPages>,
    ApiPath((org_id, run_id)): ApiPath<(OrgId, RunId)>,
    ApiQuery(query): ApiQuery<SitePageQuery>,
) -> Result<Json<SitePageList>, ApiError> {
    let limit = query.limit().map_err(ApiError::bad_request)?;
    let list = pages
        .list(org_id, run_id, &query, limit)
        .await
        .map_err(|error| {
            tracing::error!(%error, "site map store unavailable");
            ApiError::unavailable("site map store unavailable")
        })?;
    Ok(Json(list))
}
