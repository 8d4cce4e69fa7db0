//! The public API under `/api/v1`. Every route but the OpenAPI document, sign-up, sign-in and
//! accepting an invitation requires an API key or a session; handlers act only inside the
//! caller's organization, and every state-changing request is audited.

mod accounts;
mod api_keys;
mod assets;
mod audit_log;
mod catalog;
mod dashboard;
mod dead_letters;
mod findings;
mod partners;
mod scan_settings;
mod scans;
mod users;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use s4e_runtime::{ApiError, Metrics, Readiness, ServiceToken};

use crate::AppState;
use crate::audit;
use crate::auth;
use crate::rate_limit;

/// The OpenAPI 3 description of this API, served as-is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub fn router(state: AppState, readiness: Readiness) -> Router {
    let authenticated = Router::new()
        .route("/api/v1/assets", get(assets::list).post(assets::create))
        .route("/api/v1/assets/{asset_id}", get(assets::get))
        .route("/api/v1/assets/{asset_id}/verify", post(assets::verify))
        .route("/api/v1/scans", axum::routing::post(scans::create))
        .route("/api/v1/scans/{scan_id}", get(scans::get))
        .route("/api/v1/scans/{scan_id}/cancel", post(scans::cancel))
        .route("/api/v1/scans/{scan_id}/events", get(scans::events))
        .route("/api/v1/catalog", get(catalog::get))
        .route(
            "/api/v1/scan-settings",
            get(scan_settings::get).put(scan_settings::put),
        )
        .route("/api/v1/findings", get(findings::list))
        .route("/api/v1/findings/export", get(findings::export))
        .route(
            "/api/v1/findings/bulk-status",
            post(findings::bulk_update_status),
        )
        .route(
            "/api/v1/findings/{finding_id}",
            get(findings::get).patch(findings::update_status),
        )
        .route(
            "/api/v1/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route("/api/v1/api-keys/{key_id}", delete(api_keys::revoke))
        .route("/api/v1/auth/logout", post(accounts::logout))
        .route("/api/v1/me", get(accounts::me))
        .route(
            "/api/v1/me/sessions",
            get(accounts::sessions).delete(accounts::revoke_all_sessions),
        )
        .route(
            "/api/v1/me/sessions/{session_id}",
            delete(accounts::revoke_session),
        )
        .route("/api/v1/me/password", post(accounts::change_password))
        .route("/api/v1/me/totp", post(accounts::enrol_totp))
        .route("/api/v1/me/totp/confirm", post(accounts::confirm_totp))
        .route("/api/v1/me/totp/disable", post(accounts::disable_totp))
        .route("/api/v1/users", get(users::list))
        .route(
            "/api/v1/users/{user_id}/asset-scope",
            axum::routing::put(users::set_asset_scope),
        )
        .route(
            "/api/v1/users/{user_id}",
            axum::routing::patch(users::update).delete(users::delete),
        )
        .route(
            "/api/v1/invitations",
            get(users::invitations).post(users::invite),
        )
        .route("/api/v1/audit-log", get(audit_log::list))
        .route("/api/v1/dashboard", get(dashboard::summary))
        .route("/api/v1/dead-letters", get(dead_letters::list))
        .route(
            "/api/v1/dead-letters/{letter_id}/replay",
            post(dead_letters::replay),
        )
        .route(
            "/api/v1/customers",
            get(partners::list).post(partners::create),
        )
        .route("/api/v1/portfolio", get(partners::portfolio))
        .with_state(state.clone());
    let [openapi_json, signup, login, accept_invitation] = PUBLIC_ROUTES;
    Router::new()
        .route(openapi_json, get(openapi))
        .route(signup, post(accounts::signup))
        .route(login, post(accounts::login))
        .route(accept_invitation, post(accounts::accept_invitation))
        .with_state(state.clone())
        .merge(authenticated)
        .merge(s4e_runtime::health::probes(readiness))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn_with_state(state, edge))
}

/// The API routes anyone may call. Every other `/api/v1` route authenticates: a route is
/// protected unless it is listed here, wherever it is declared.
const PUBLIC_ROUTES: [&str; 4] = [
    "/api/v1/openapi.json",
    "/api/v1/signup",
    "/api/v1/auth/login",
    "/api/v1/invitations/accept",
];

/// Whether the route the request matched needs a key or a session. Unmatched requests (404)
/// and the probes do not.
fn protected(request: &Request) -> bool {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .is_some_and(|route| route.starts_with("/api/v1/") && !PUBLIC_ROUTES.contains(&route))
}

/// Every request's way in, as one middleware layer (axum clones the whole stack beneath a
/// layer on every request, so one layer calling its steps in order beats a layer per step):
/// what every service has (trace context, metrics, body limit); internal headers stripped, as
/// they never enter from the public side; on protected routes, who calls, whether they may
/// call now (the rate limit), and for a change its audit entry once answered; and a request
/// that was not counted that way is counted against its address.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let metrics = state.metrics.clone();
    s4e_runtime::observed(&metrics, request, |mut request| async move {
        auth::strip_internal_headers(request.headers_mut());
        rate_limit::per_ip(&state, request, |request| admit(&state, request, next)).await
    })
    .await
}

/// A protected route's door: who calls, whether they may call now, and for a change its
/// audit entry once answered. Other routes pass straight through.
async fn admit(state: &AppState, mut request: Request, next: Next) -> Response {
    if !protected(&request) {
        return next.run(request).await;
    }
    if let Err(error) = auth::authenticate(state, &mut request).await {
        return rate_limit::refused(&mut request, error);
    }
    rate_limit::after_auth(state, request, |request| {
        audit::record(state, request, next)
    })
    .await
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

#[cfg(test)]
mod tests {
    /// The size of the future `f` returns.
    fn future_size<A, B, C, Fut, F: Fn(A, B, C) -> Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// Every request's future is moved whole, more than once (into axum's box, among others):
    /// paths most requests do not take (sessions, a key's first lookup, acting for a customer,
    /// the audit entry of a change) are boxed, and wrappers are plain functions. It was 11 KiB.
    #[test]
    fn a_request_s_future_stays_small() {
        let size = future_size(super::edge);
        assert!(size <= 4096, "the edge future takes {size} bytes");
    }
}
