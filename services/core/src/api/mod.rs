//! The public API under `/api/v1`. Every route but the OpenAPI document, sign-up, sign-in and
//! accepting an invitation requires an API key or a session; handlers act only inside the
//! caller's organization, and every state-changing request is audited.

mod accounts;
mod api_keys;
mod asset_import;
mod assets;
mod audit_log;
mod candidates;
mod catalog;
mod dashboard;
mod dead_letters;
mod document;
mod findings;
mod inbound_hooks;
mod partners;
mod rules;
mod scan_settings;
mod scans;
mod schedules;
mod surface;
mod users;
mod webhooks;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use s4e_runtime::{ApiError, Metrics, Readiness, ServiceToken};
use tower::ServiceBuilder;

use crate::AppState;
use crate::endpoints::Declare;
use crate::step::{Inner, Next, Step, StepLayer};
use crate::{audit, auth, conditional, idempotency, rate_limit};

const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

const TRACE_HEADER: HeaderName = HeaderName::from_static(s4e_trace::HEADER);

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const ACCEPTED: StatusCode = StatusCode::ACCEPTED;
const NO_CONTENT: StatusCode = StatusCode::NO_CONTENT;

/// Every endpoint of the public API, each with who may call it and, for a change, how the
/// audit log names it.
pub fn endpoints() -> Declare {
    Declare::default()
        .open("/api/v1/openapi.json", document::openapi)
        .unauthenticated(POST, "/api/v1/signup", accounts::signup)
        .unauthenticated(POST, "/api/v1/auth/login", accounts::login)
        .unauthenticated(
            POST,
            "/api/v1/invitations/accept",
            accounts::accept_invitation,
        )
        .read("/api/v1/assets", assets::list)
        .change(
            POST,
            "/api/v1/assets",
            ("assets.create", "asset", CREATED),
            assets::create,
        )
        .replayable()
        .read("/api/v1/assets/export", asset_import::export)
        .change(
            POST,
            "/api/v1/assets/import",
            ("assets.import", "asset", OK),
            asset_import::import,
        )
        .change(
            POST,
            "/api/v1/assets/bulk-tags",
            ("assets.bulk_tag", "asset", OK),
            assets::bulk_tags,
        )
        .read("/api/v1/assets/{asset_id}", assets::get)
        .read("/api/v1/assets/{asset_id}/services", assets::services)
        .read("/api/v1/services", assets::all_services)
        .read(
            "/api/v1/assets/{asset_id}/technologies",
            assets::technologies,
        )
        .read("/api/v1/technologies", assets::all_technologies)
        .read("/api/v1/candidates", candidates::list)
        .change(
            POST,
            "/api/v1/candidates/{candidate_id}/approve",
            ("candidates.approve", "candidate", OK),
            candidates::approve,
        )
        .change(
            POST,
            "/api/v1/candidates/{candidate_id}/dismiss",
            ("candidates.dismiss", "candidate", OK),
            candidates::dismiss,
        )
        .read("/api/v1/assets/{asset_id}/timeline", surface::timeline)
        .read("/api/v1/surface/changes", surface::changes)
        .read("/api/v1/surface/diff", surface::diff)
        .change(
            PUT,
            "/api/v1/assets/{asset_id}/tags",
            ("assets.set_tags", "asset", OK),
            assets::set_tags,
        )
        .change(
            PATCH,
            "/api/v1/assets/{asset_id}",
            ("assets.update", "asset", OK),
            assets::update,
        )
        .change(
            DELETE,
            "/api/v1/assets/{asset_id}",
            ("assets.archive", "asset", OK),
            assets::archive,
        )
        .change(
            POST,
            "/api/v1/assets/{asset_id}/verify",
            ("assets.verify", "asset", OK),
            assets::verify,
        )
        .read("/api/v1/scans", scans::list)
        .change(
            POST,
            "/api/v1/scans",
            ("scans.create", "scan", ACCEPTED),
            scans::create,
        )
        .replayable()
        .read("/api/v1/scans/{scan_id}", scans::get)
        .change(
            POST,
            "/api/v1/scans/{scan_id}/cancel",
            ("scans.cancel", "scan", OK),
            scans::cancel,
        )
        .read("/api/v1/scans/{scan_id}/jobs", scans::jobs)
        .read("/api/v1/scans/{scan_id}/events", scans::events)
        .read("/api/v1/scans/{scan_id}/site-map", scans::site_map)
        .read("/api/v1/catalog", catalog::get)
        .read("/api/v1/scan-settings", scan_settings::get)
        .change(
            PUT,
            "/api/v1/scan-settings",
            ("scan_settings.update", "scan_settings", OK),
            scan_settings::put,
        )
        .read("/api/v1/scan-settings/wordlist", scan_settings::wordlist)
        .change(
            PUT,
            "/api/v1/scan-settings/wordlist",
            ("scan_settings.wordlist_update", "scan_settings", OK),
            scan_settings::put_wordlist,
        )
        .read("/api/v1/schedules", schedules::list)
        .change(
            POST,
            "/api/v1/schedules",
            ("schedules.create", "schedule", CREATED),
            schedules::create,
        )
        .replayable()
        .read("/api/v1/schedules/{schedule_id}", schedules::get)
        .change(
            PATCH,
            "/api/v1/schedules/{schedule_id}",
            ("schedules.update", "schedule", OK),
            schedules::update,
        )
        .change(
            DELETE,
            "/api/v1/schedules/{schedule_id}",
            ("schedules.delete", "schedule", OK),
            schedules::delete,
        )
        .unauthenticated(POST, "/api/v1/hooks/{hook_id}", inbound_hooks::call)
        .read("/api/v1/inbound-hooks", inbound_hooks::list)
        .change(
            POST,
            "/api/v1/inbound-hooks",
            ("inbound_hooks.create", "inbound_hook", CREATED),
            inbound_hooks::create,
        )
        .read("/api/v1/inbound-hooks/{hook_id}", inbound_hooks::get)
        .change(
            PATCH,
            "/api/v1/inbound-hooks/{hook_id}",
            ("inbound_hooks.update", "inbound_hook", OK),
            inbound_hooks::update,
        )
        .change(
            DELETE,
            "/api/v1/inbound-hooks/{hook_id}",
            ("inbound_hooks.delete", "inbound_hook", OK),
            inbound_hooks::delete,
        )
        .read("/api/v1/webhooks", webhooks::list)
        .change(
            POST,
            "/api/v1/webhooks",
            ("webhooks.create", "webhook", CREATED),
            webhooks::create,
        )
        .read("/api/v1/webhooks/{endpoint_id}", webhooks::get)
        .change(
            PATCH,
            "/api/v1/webhooks/{endpoint_id}",
            ("webhooks.update", "webhook", OK),
            webhooks::update,
        )
        .change(
            DELETE,
            "/api/v1/webhooks/{endpoint_id}",
            ("webhooks.delete", "webhook", OK),
            webhooks::delete,
        )
        .change(
            POST,
            "/api/v1/webhooks/{endpoint_id}/rotate-secret",
            ("webhooks.rotate_secret", "webhook", OK),
            webhooks::rotate_secret,
        )
        .read(
            "/api/v1/webhooks/{endpoint_id}/deliveries",
            webhooks::deliveries,
        )
        .read(
            "/api/v1/webhook-deliveries/{delivery_id}",
            webhooks::delivery,
        )
        .change(
            POST,
            "/api/v1/webhook-deliveries/{delivery_id}/redeliver",
            ("webhooks.redeliver", "webhook_delivery", OK),
            webhooks::redeliver,
        )
        .read("/api/v1/rules", rules::list)
        .change(
            POST,
            "/api/v1/rules",
            ("rules.create", "rule", CREATED),
            rules::create,
        )
        .replayable()
        // A dry run changes nothing, but who tried which rule is worth the audit entry.
        .change(
            POST,
            "/api/v1/rules/dry-run",
            ("rules.dry_run", "rule", OK),
            rules::dry_run,
        )
        .read("/api/v1/rules/{rule_id}", rules::get)
        .change(
            PATCH,
            "/api/v1/rules/{rule_id}",
            ("rules.update", "rule", OK),
            rules::update,
        )
        .change(
            DELETE,
            "/api/v1/rules/{rule_id}",
            ("rules.delete", "rule", OK),
            rules::delete,
        )
        .read("/api/v1/rules/{rule_id}/firings", rules::firings)
        .read("/api/v1/findings", findings::list)
        .read("/api/v1/findings/export", findings::export)
        .change(
            POST,
            "/api/v1/findings/bulk-status",
            ("findings.bulk_update_status", "finding", OK),
            findings::bulk_update_status,
        )
        .read("/api/v1/findings/{finding_id}", findings::get)
        .read(
            "/api/v1/findings/{finding_id}/raw-output",
            findings::raw_output,
        )
        .change(
            PATCH,
            "/api/v1/findings/{finding_id}",
            ("findings.update_status", "finding", OK),
            findings::update_status,
        )
        .read("/api/v1/api-keys", api_keys::list)
        .change(
            POST,
            "/api/v1/api-keys",
            ("api_keys.create", "api_key", CREATED),
            api_keys::create,
        )
        .change(
            DELETE,
            "/api/v1/api-keys/{key_id}",
            ("api_keys.revoke", "api_key", OK),
            api_keys::revoke,
        )
        .change(
            POST,
            "/api/v1/auth/logout",
            ("sessions.logout", "session", NO_CONTENT),
            accounts::logout,
        )
        .read("/api/v1/me", accounts::me)
        .read("/api/v1/me/sessions", accounts::sessions)
        .change(
            DELETE,
            "/api/v1/me/sessions",
            ("sessions.revoke_all", "session", NO_CONTENT),
            accounts::revoke_all_sessions,
        )
        .change(
            DELETE,
            "/api/v1/me/sessions/{session_id}",
            ("sessions.revoke", "session", NO_CONTENT),
            accounts::revoke_session,
        )
        .change(
            POST,
            "/api/v1/me/password",
            ("account.change_password", "user", NO_CONTENT),
            accounts::change_password,
        )
        .change(
            POST,
            "/api/v1/me/totp",
            ("account.totp_enrol", "user", OK),
            accounts::enrol_totp,
        )
        .change(
            POST,
            "/api/v1/me/totp/confirm",
            ("account.totp_enable", "user", OK),
            accounts::confirm_totp,
        )
        .change(
            POST,
            "/api/v1/me/totp/disable",
            ("account.totp_disable", "user", OK),
            accounts::disable_totp,
        )
        .read("/api/v1/users", users::list)
        .change(
            PUT,
            "/api/v1/users/{user_id}/asset-scope",
            ("users.limit_assets", "user", OK),
            users::set_asset_scope,
        )
        .change(
            PATCH,
            "/api/v1/users/{user_id}",
            ("users.update", "user", OK),
            users::update,
        )
        .change(
            DELETE,
            "/api/v1/users/{user_id}",
            ("users.delete", "user", OK),
            users::delete,
        )
        .read("/api/v1/invitations", users::invitations)
        .change(
            POST,
            "/api/v1/invitations",
            ("users.invite", "invitation", CREATED),
            users::invite,
        )
        .read("/api/v1/audit-log", audit_log::list)
        .read("/api/v1/dashboard", dashboard::summary)
        .read("/api/v1/dead-letters", dead_letters::list)
        .change(
            POST,
            "/api/v1/dead-letters/{letter_id}/replay",
            ("dead_letters.replay", "dead_letter", OK),
            dead_letters::replay,
        )
        .read("/api/v1/customers", partners::list)
        .change(
            POST,
            "/api/v1/customers",
            ("customers.create", "organization", CREATED),
            partners::create,
        )
        .replayable()
        .read("/api/v1/portfolio", partners::portfolio)
}

/// The API, the probes, and around them the gateway's steps, outermost first: what every
/// service has (trace context, metrics, body limit); internal headers stripped, as they never
/// enter from the public side; the caller's address counted, before any work is done for the
/// request; who calls; the caller counted; a retried creation answered as the first time; a
/// change's audit entry once answered; and a read's entity tag.
pub fn router(state: AppState, readiness: Readiness) -> Router {
    let (api, endpoints) = endpoints().finish();
    let proxies = state.trusted_proxies.clone();
    let steps = ServiceBuilder::new()
        .layer(StepLayer(Observe(state.metrics.clone())))
        .map_response(protective_headers)
        .map_request(strip_internal_headers)
        .map_request(move |request| proxies.apply(request))
        .layer(StepLayer(rate_limit::AddressLimit::new(&state, &endpoints)))
        .layer(StepLayer(auth::Authenticate::new(&state, &endpoints)))
        .layer(StepLayer(rate_limit::CallerLimit::new(&state)))
        .layer(StepLayer(idempotency::Replay::new(&state, &endpoints)))
        .layer(StepLayer(audit::Audit::new(&state, &endpoints)))
        .layer(StepLayer(conditional::ConditionalGet));
    api.with_state(state)
        .merge(s4e_runtime::health::probes(readiness))
        .fallback(not_the_apis)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the route does not take this method",
            )
        })
        .layer(steps)
}

/// A path no route of the API takes: a page of the browser console when the gateway carries
/// one, else "not found".
async fn not_the_apis(request: Request) -> Response {
    #[cfg(feature = "console")]
    if let Some(page) = crate::console::serve(request.method(), request.uri(), request.headers()) {
        return page;
    }
    drop(request);
    ApiError::not_found("route").into_response()
}

/// What every service's HTTP surface has: trace context, request metrics, body limit.
#[derive(Clone)]
struct Observe(Metrics);

impl Step for Observe {
    async fn run<S: Inner>(&self, request: Request, next: Next<S>) -> Response {
        s4e_runtime::observed(&self.0, request, |request| next.run(request)).await
    }
}

/// The console's Content-Security-Policy, on every answer: scripts, styles and connections only
/// from the gateway's own origin, no inline script or style, no plugins, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What every answer of the gateway carries: no content sniffing; no caching unless the
/// handler allows it (answers name organizations' assets, keys and sessions); the browser
/// console's protections (its policy, never framed, no referrer leaving the origin, HTTPS
/// only from the first visit over HTTPS: browsers ignore HSTS on plain HTTP, so it is sent
/// regardless of what terminates TLS in front); its trace context; and the scheme to
/// authenticate with on a 401.
fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // The request's trace, so that a caller can quote it when asking what happened.
    if let Some(trace) =
        s4e_trace::current().and_then(|context| HeaderValue::from_str(&context.to_string()).ok())
    {
        headers.insert(TRACE_HEADER, trace);
    }
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .entry(header::WWW_AUTHENTICATE)
            .or_insert(HeaderValue::from_static("Bearer realm=\"s4e\""));
    }
    response
}

fn strip_internal_headers(mut request: Request) -> Request {
    auth::strip_internal_headers(request.headers_mut());
    request
}

/// The gateway faces the internet: its metrics are for the cluster's scraper, which presents
/// the service token. Mounted outside the header stripping, which would remove that token.
pub fn metrics(metrics: Metrics, token: ServiceToken) -> Router {
    s4e_runtime::health::metrics_router(metrics).layer(axum::middleware::from_fn_with_state(
        token,
        s4e_runtime::service_token::require,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{Action, Caller};

    #[test]
    fn every_change_names_its_action_once_and_only_five_endpoints_are_open() {
        let declared = endpoints();
        let mut actions = std::collections::HashSet::new();
        let mut unauthenticated = Vec::new();
        for (path, methods) in declared.table() {
            for (method, endpoint) in methods {
                match endpoint.caller {
                    Caller::Authenticated => {
                        assert_eq!(
                            endpoint.action.is_some(),
                            method != Method::GET,
                            "{method} {path}"
                        );
                    }
                    Caller::Anyone | Caller::Unauthenticated => unauthenticated.push(*path),
                }
                if let Some(Action { name, .. }) = endpoint.action {
                    assert!(actions.insert(name), "{name} is named twice");
                }
            }
        }
        unauthenticated.sort_unstable();
        assert_eq!(
            unauthenticated,
            [
                "/api/v1/auth/login",
                "/api/v1/hooks/{hook_id}",
                "/api/v1/invitations/accept",
                "/api/v1/openapi.json",
                "/api/v1/signup"
            ]
        );
        assert!(actions.contains("findings.bulk_update_status"));
    }
}
