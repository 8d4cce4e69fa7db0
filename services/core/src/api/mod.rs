//! The public API under `/api/v1`. Every route but the OpenAPI document requires an API key;
//! handlers act only inside the caller's organization.

mod api_keys;
mod assets;
mod findings;
mod scans;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use s4e_client::ClientError;
use s4e_runtime::{ApiError, Metrics, Readiness, ServiceToken};

use crate::AppState;
use crate::auth;
use crate::rate_limit;

/// The OpenAPI 3 description of this API, served as-is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let authenticated = Router::new()
        .route("/api/v1/assets", get(assets::list).post(assets::create))
        .route("/api/v1/assets/{asset_id}", get(assets::get))
        .route("/api/v1/scans", axum::routing::post(scans::create))
        .route("/api/v1/scans/{scan_id}", get(scans::get))
        .route("/api/v1/findings", get(findings::list))
        .route(
            "/api/v1/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/api/v1/api-keys/{key_id}",
            axum::routing::delete(api_keys::revoke),
        )
        // Runs after authentication (the later route_layer is the outer one).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::after_auth,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state.clone());
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .merge(authenticated)
        .merge(s4e_runtime::health::probes(readiness))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn_with_state(
            state,
            rate_limit::per_ip,
        ))
}

/// The gateway faces the internet: its metrics are for the cluster's scraper, which presents
/// the service token. Mounted outside the header stripping, which would remove that token.
pub fn metrics(metrics: Metrics, token: ServiceToken) -> Router {
    s4e_runtime::health::metrics_router(metrics).layer(axum::middleware::from_fn_with_state(
        token,
        s4e_runtime::service_token::require,
    ))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub(crate) fn upstream(error: ClientError) -> ApiError {
    ApiError::upstream(error.http_status(), &error.message())
}
