//! The internal REST API. Every route sits behind the service token; every tenant route carries
//! the organization in its path, and each query filters by it.

mod api_keys;
mod assets;
mod audit;
mod candidates;
mod findings;
mod inbound_hooks;
mod organizations;
mod outbox;
mod rules;
mod runs;
mod scan_settings;
mod schedules;
mod users;
mod webhooks;

use axum::Router;
use s4e_runtime::{ApiError, InternalRouter, ServiceToken};
use s4e_types::routes::base as routes;
use sqlx::PgPool;

use crate::db::DbError;

pub fn router(pool: PgPool, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::CREATE_ORGANIZATION, organizations::create)
        .at(routes::ORGANIZATION, organizations::get)
        .at(routes::SET_RATE_TIER, organizations::set_rate_tier)
        .at(routes::CREATE_CUSTOMER, organizations::create_customer)
        .at(routes::CUSTOMERS, organizations::customers)
        .at(routes::CUSTOMER, organizations::customer)
        .at(routes::PORTFOLIO, organizations::portfolio)
        .at(routes::CREATE_API_KEY, api_keys::create)
        .at(routes::API_KEYS, api_keys::list)
        .at(routes::REVOKE_API_KEY, api_keys::revoke)
        .at(routes::API_KEY_BY_HASH, api_keys::by_hash)
        .at(routes::SIGNUP, users::signup)
        .at(routes::CREDENTIALS, users::credentials)
        .at(routes::ACCEPT_INVITATION, users::accept_invitation)
        .at(routes::USERS, users::list)
        .at(routes::USER, users::get)
        .at(routes::UPDATE_USER, users::update)
        .at(routes::DELETE_USER, users::delete)
        .at(routes::SET_ASSET_SCOPE, users::set_asset_scope)
        .at(routes::SET_PASSWORD, users::set_password)
        .at(routes::SET_PENDING_TOTP, users::set_pending_totp)
        .at(routes::DISABLE_TOTP, users::disable_totp)
        .at(routes::ENABLE_TOTP, users::enable_totp)
        .at(routes::INVITE, users::invite)
        .at(routes::INVITATIONS, users::invitations)
        .at(routes::APPEND_AUDIT, audit::append)
        .at(routes::AUDIT, audit::query)
        .at(routes::CREATE_ASSET, assets::create)
        .at(routes::ASSETS, assets::list)
        .at(routes::ASSET, assets::get)
        .at(routes::UPDATE_ASSET, assets::update)
        .at(routes::ARCHIVE_ASSET, assets::archive)
        .at(routes::SET_ASSET_TAGS, assets::set_tags)
        .at(routes::SERVICES, assets::services)
        .at(routes::TECHNOLOGIES, assets::technologies)
        .at(routes::CANDIDATES, candidates::list)
        .at(routes::APPROVE_CANDIDATE, candidates::approve)
        .at(routes::DISMISS_CANDIDATE, candidates::dismiss)
        .at(routes::IMPORT_ASSETS, assets::import)
        .at(routes::SURFACE_CHANGES, assets::surface_changes)
        .at(routes::SURFACE_DIFF, assets::surface_diff)
        .at(routes::BULK_TAG_ASSETS, assets::bulk_tags)
        .at(routes::RECORD_VERIFICATION, assets::record_verification)
        .at(routes::VERIFIED_DOMAINS, assets::verified_domains)
        .at(
            routes::DUE_FOR_REVERIFICATION,
            assets::due_for_reverification,
        )
        .at(routes::SCAN_SETTINGS, scan_settings::get)
        .at(routes::PUT_SCAN_SETTINGS, scan_settings::put)
        .at(routes::FUZZ_WORDLIST, scan_settings::wordlist)
        .at(routes::PUT_FUZZ_WORDLIST, scan_settings::put_wordlist)
        .at(routes::CREATE_SCHEDULE, schedules::create)
        .at(routes::SCHEDULES, schedules::list)
        .at(routes::SCHEDULE, schedules::get)
        .at(routes::UPDATE_SCHEDULE, schedules::update)
        .at(routes::DELETE_SCHEDULE, schedules::delete)
        .at(routes::CLAIM_DUE_SCHEDULES, schedules::claim_due)
        .at(routes::SCHEDULE_FIRED, schedules::fired)
        .at(routes::CREATE_WEBHOOK, webhooks::create)
        .at(routes::WEBHOOKS, webhooks::list)
        .at(routes::WEBHOOK, webhooks::get)
        .at(routes::UPDATE_WEBHOOK, webhooks::update)
        .at(routes::DELETE_WEBHOOK, webhooks::delete)
        .at(routes::ROTATE_WEBHOOK_SECRET, webhooks::rotate_secret)
        .at(routes::WEBHOOK_DELIVERIES, webhooks::deliveries)
        .at(routes::WEBHOOK_DELIVERY, webhooks::delivery)
        .at(routes::REDELIVER_WEBHOOK, webhooks::redeliver)
        .at(routes::RECORD_WEBHOOK_EVENT, webhooks::record_event)
        .at(routes::CLAIM_DUE_DELIVERIES, webhooks::claim_due)
        .at(routes::WEBHOOK_ATTEMPTED, webhooks::attempted)
        .at(routes::CREATE_RULE, rules::create)
        .at(routes::RULES, rules::list)
        .at(routes::RULE, rules::get)
        .at(routes::UPDATE_RULE, rules::update)
        .at(routes::DELETE_RULE, rules::delete)
        .at(routes::RULE_FIRINGS, rules::firings)
        .at(routes::RECORD_RULE_FIRING, rules::record_firing)
        .at(routes::RULES_FOR_EVENT, rules::for_event)
        .at(routes::CLAIM_OUTBOX, outbox::claim)
        .at(routes::OUTBOX_PUBLISHED, outbox::published)
        .at(routes::CREATE_INBOUND_HOOK, inbound_hooks::create)
        .at(routes::INBOUND_HOOKS, inbound_hooks::list)
        .at(routes::INBOUND_HOOK, inbound_hooks::get)
        .at(routes::UPDATE_INBOUND_HOOK, inbound_hooks::update)
        .at(routes::DELETE_INBOUND_HOOK, inbound_hooks::delete)
        .at(routes::INBOUND_HOOK_BY_ID, inbound_hooks::by_id)
        .at(
            routes::RECORD_INBOUND_MESSAGE,
            inbound_hooks::record_message,
        )
        .at(routes::CREATE_RUN, runs::create)
        .at(routes::RUNS, runs::list)
        .at(routes::RUN, runs::get)
        .at(routes::FAIL_RUN, runs::fail)
        .at(routes::CANCEL_RUN, runs::cancel)
        .at(routes::RUN_JOBS, runs::jobs)
        .at(routes::JOB, runs::get_job)
        .at(routes::START_JOB, runs::start_job)
        .at(routes::FINISH_JOB, runs::finish_job)
        .at(routes::FINDINGS, findings::list)
        .at(routes::COUNT_FINDINGS, findings::count)
        .at(routes::BULK_CHANGE_STATUS, findings::bulk_change_status)
        .at(routes::FINDING, findings::get)
        .at(routes::CHANGE_STATUS, findings::change_status)
        .at(routes::SUMMARY, findings::summary)
        .with_no_route_answer()
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
            DbError::AlreadyStarted(message) => {
                ApiError::new(axum::http::StatusCode::CONFLICT, "already_started", message)
            }
            DbError::StillRunning(message) => {
                ApiError::new(axum::http::StatusCode::CONFLICT, "still_running", message)
            }
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
