use axum::extract::State;
use axum::{Extension, Json};
use s4e_client::FindingFilter;
use s4e_runtime::ApiError;
use s4e_runtime::extract::ApiQuery;
use s4e_types::api::List;
use s4e_types::{AssetId, Finding, RunId};
use serde::Deserialize;

use super::upstream;
use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    scan_id: Option<RunId>,
    asset_id: Option<AssetId>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<FindingQuery>,
) -> Result<Json<List<Finding>>, ApiError> {
    principal.require(Resource::Findings, Access::Read)?;
    let filter = FindingFilter {
        run_id: query.scan_id,
        asset_id: query.asset_id,
    };
    let items = state
        .base
        .list_findings(principal.org_id, &filter)
        .await
        .map_err(upstream)?;
    Ok(Json(List { items }))
}
