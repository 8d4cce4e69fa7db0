//! The raw outputs the check workers keep in MongoDB (`s4e_store::RawOutputs`), read back for
//! the gateway: `GET /internal/v1/orgs/{org_id}/raw-outputs/{output_id}` (service token). An
//! output of another organization is "not found", like a missing one. Merged into the dead
//! letters' router, whose answer to an unknown route it shares.

use axum::extract::State;
use axum::{Json, Router};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, InternalRouter, ServiceToken};
use s4e_store::RawOutputs;
use s4e_types::OrgId;
use s4e_types::routes::dispatcher as routes;

pub fn router(raw: RawOutputs, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::RAW_OUTPUT, get)
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(raw)
}

async fn get(
    State(raw): State<RawOutputs>,
    ApiPath((org_id, output_id)): ApiPath<(OrgId, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match raw.get(org_id, &output_id).await {
        Ok(Some(output)) => Ok(Json(output)),
        Ok(None) => Err(ApiError::not_found("raw output")),
        Err(error) => {
            tracing::warn!(%error, "raw outputs unavailable");
            Err(ApiError::unavailable(
                "raw outputs are unavailable, try again",
            ))
        }
    }
}
