//! The internal REST API. Every route sits behind the service token; every tenant route carries
//! the organization in its path, and each query filters by it.

mod api_keys;
mod assets;
mod audit;
mod findings;
mod organizations;
mod runs;
mod scan_settings;
mod users;

use axum::Router;
use axum::routing::{get, post};
use s4e_runtime::{ApiError, ServiceToken};
use sqlx::PgPool;

use crate::db::DbError;

pub fn router(pool: PgPool, token: ServiceToken) -> Router {
    Router::new()
        .route("/internal/v1/orgs", post(organizations::create))
        .route("/internal/v1/orgs/{org_id}", get(organizations::get))
        .route(
            "/internal/v1/orgs/{org_id}/rate-tier",
            post(organizations::set_rate_tier),
        )
        .route(
            "/internal/v1/orgs/{org_id}/customers",
            post(organizations::create_customer).get(organizations::customers),
        )
        .route(
            "/internal/v1/orgs/{org_id}/customers/{customer_id}",
            get(organizations::customer),
        )
        .route(
            "/internal/v1/orgs/{org_id}/portfolio",
            get(organizations::portfolio),
        )
        .route(
            "/internal/v1/orgs/{org_id}/api-keys",
            post(api_keys::create).get(api_keys::list),
        )
        .route(
            "/internal/v1/orgs/{org_id}/api-keys/{key_id}/revoke",
            post(api_keys::revoke),
        )
        .route("/internal/v1/api-keys/{key_hash}", get(api_keys::by_hash))
        .route("/internal/v1/signups", post(users::signup))
        .route("/internal/v1/credentials", post(users::credentials))
        .route(
            "/internal/v1/invitations/accept",
            post(users::accept_invitation),
        )
        .route("/internal/v1/orgs/{org_id}/users", get(users::list))
        .route(
            "/internal/v1/orgs/{org_id}/users/{user_id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/internal/v1/orgs/{org_id}/users/{user_id}/asset-scope",
            post(users::set_asset_scope),
        )
        .route(
            "/internal/v1/orgs/{org_id}/users/{user_id}/password",
            post(users::set_password),
        )
        .route(
            "/internal/v1/orgs/{org_id}/users/{user_id}/totp",
            post(users::set_pending_totp).delete(users::disable_totp),
        )
        .route(
            "/internal/v1/orgs/{org_id}/users/{user_id}/totp/enable",
            post(users::enable_totp),
        )
        .route(
            "/internal/v1/orgs/{org_id}/invitations",
            post(users::invite).get(users::invitations),
        )
        .route(
            "/internal/v1/orgs/{org_id}/audit",
            post(audit::append).get(audit::query),
        )
        .route(
            "/internal/v1/orgs/{org_id}/assets",
            post(assets::create).get(assets::list),
        )
        .route(
            "/internal/v1/orgs/{org_id}/assets/{asset_id}",
            get(assets::get),
        )
        .route(
            "/internal/v1/orgs/{org_id}/assets/{asset_id}/verification",
            post(assets::record_verification),
        )
        .route(
            "/internal/v1/orgs/{org_id}/verified-domains",
            get(assets::verified_domains),
        )
        .route(
            "/internal/v1/assets/reverification-due",
            get(assets::due_for_reverification),
        )
        .route(
            "/internal/v1/orgs/{org_id}/scan-settings",
            get(scan_settings::get).put(scan_settings::put),
        )
        .route("/internal/v1/orgs/{org_id}/runs", post(runs::create))
        .route("/internal/v1/orgs/{org_id}/runs/{run_id}", get(runs::get))
        .route(
            "/internal/v1/orgs/{org_id}/runs/{run_id}/fail",
            post(runs::fail),
        )
        .route(
            "/internal/v1/orgs/{org_id}/runs/{run_id}/cancel",
            post(runs::cancel),
        )
        .route(
            "/internal/v1/orgs/{org_id}/runs/{run_id}/jobs",
            get(runs::jobs),
        )
        .route(
            "/internal/v1/orgs/{org_id}/jobs/{job_id}",
            get(runs::get_job),
        )
        .route(
            "/internal/v1/orgs/{org_id}/jobs/{job_id}/start",
            post(runs::start_job),
        )
        .route(
            "/internal/v1/orgs/{org_id}/jobs/{job_id}/finish",
            post(runs::finish_job),
        )
        .route("/internal/v1/orgs/{org_id}/findings", get(findings::list))
        .route(
            "/internal/v1/orgs/{org_id}/findings/count",
            get(findings::count),
        )
        .route(
            "/internal/v1/orgs/{org_id}/findings/bulk-status",
            post(findings::bulk_change_status),
        )
        .route(
            "/internal/v1/orgs/{org_id}/findings/{finding_id}",
            get(findings::get).patch(findings::change_status),
        )
        .route("/internal/v1/orgs/{org_id}/summary", get(findings::summary))
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(pool)
}

/// The one mapping from storage errors to HTTP.
impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound(what) => ApiError::not_found(what),
            DbError::Conflict(message) => ApiError::conflict(message),
            DbError::Invalid(message) => ApiError::bad_request(message),
            DbError::Corrupt(detail) => ApiError::internal(detail),
            DbError::Database(error) => {
                if matches!(
                    error,
                    sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
                ) {
                    tracing::error!(%error, "database unavailable");
                    ApiError::unavailable("database unavailable")
                } else if crate::db::retryable(&error) {
                    // Two transactions took row locks in opposite orders (a job report fixing
                    // findings while people triage them, say) and PostgreSQL rolled this one
                    // back: nothing was changed, and the same request again will succeed.
                    tracing::warn!(%error, "transaction rolled back, retry");
                    ApiError::unavailable("a concurrent change got in the way, try again")
                } else {
                    ApiError::internal(error)
                }
            }
        }
    }
}
