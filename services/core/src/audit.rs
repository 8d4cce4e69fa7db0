//! The audit trail of the gateway: every state-changing request of an authenticated caller is
//! recorded (who, for which organization, what, on what, from where, outcome). The change
//! runs in an audit scope (`s4e_runtime::audit`): a change base stores is recorded by base in
//! its own transaction; one the gateway or base refuses, or one kept outside PostgreSQL, is
//! recorded here once answered. Sign-ups, logins and invitation acceptances, which have no
//! caller yet, record themselves.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::Response;
use s4e_types::{AuditContext, NewAuditEntry, OrgId};

use crate::AppState;
use crate::auth::Principal;
use crate::endpoints::{Action, Endpoints};
use crate::step::{Inner, Next, Step};

/// The value of the route's last path parameter: the resource acted on
/// (`/api/v1/assets/{asset_id}/verify` acts on the asset).
fn path_resource(route: &str, path: &str) -> Option<String> {
    let segments: Vec<&str> = route.split('/').collect();
    let index = segments
        .iter()
        .rposition(|segment| segment.starts_with('{'))?;
    path.split('/').nth(index).map(str::to_string)
}

/// What `/api/v1/me/...` acts on: the caller's own user.
fn own_account(route: &str, principal: &Principal) -> Option<String> {
    if !route.starts_with("/api/v1/me") {
        return None;
    }
    principal
        .user()
        .ok()
        .map(|(user_id, _, _)| user_id.to_string())
}

fn peer_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical().to_string())
}

/// Where a request came from, for sessions and the audit log: the TCP peer (or behind a
/// trusted proxy the client it forwards for, `client_address.rs`) and the user agent, cut to a
/// sane length.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(256).collect());
        Ok(ClientMeta {
            ip: peer_ip(&parts.extensions),
            user_agent,
        })
    }
}

fn trace_id() -> Option<String> {
    s4e_trace::current().map(|context| context.trace_id())
}

/// Runs each authenticated change in an audit scope, and records it once answered unless the
/// callee that stored it recorded it in its transaction.
#[derive(Clone)]
pub struct Audit {
    state: AppState,
    endpoints: Endpoints,
}

impl Audit {
    pub fn new(state: &AppState, endpoints: &Endpoints) -> Self {
        Self {
            state: state.clone(),
            endpoints: endpoints.clone(),
        }
    }
}

impl Step for Audit {
    async fn run<S: Inner>(&self, request: Request, next: Next<S>) -> Response {
        let change = !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        let principal = request.extensions().get::<Principal>();
        let (Some(principal), true) = (principal, change) else {
            return next.run(request).await;
        };
        let principal = principal.clone();
        let action = self
            .endpoints
            .of(&request)
            .and_then(|endpoint| endpoint.action);
        // Boxed: reads, most of the requests, do not carry this part in their future.
        Box::pin(record_change(&self.state, principal, action, request, next)).await
    }
}

async fn record_change<S: Inner>(
    state: &AppState,
    principal: Principal,
    action: Option<Action>,
    request: Request,
    next: Next<S>,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |matched| matched.as_str().to_string());
    let (action, resource_type, answered) = match action {
        Some(Action {
            name,
            resource,
            answers,
        }) => (name.to_string(), resource, answers.as_u16()),
        // A route added without a name is still recorded, under its method and path.
        None => (format!("{method} {route}"), "other", 200),
    };
    let (actor_kind, actor_id, actor_label) = principal.audit_actor();
    let context = AuditContext {
        actor_kind,
        actor_id,
        actor_label,
        actor_org_id: principal.acting_from,
        action,
        resource_type: resource_type.to_string(),
        resource_id: path_resource(&route, &path).or_else(|| own_account(&route, &principal)),
        outcome: answered,
        ip: peer_ip(request.extensions()),
    };
    let (response, recorded) = s4e_runtime::audit::scope(context.clone(), next.run(request)).await;
    if recorded {
        return response;
    }
    // Refused, or a change stored outside PostgreSQL (sessions, dead letters): recorded here,
    // with the answer it got.
    let entry = NewAuditEntry {
        outcome: response.status().as_u16(),
        ..context.entry(None, trace_id())
    };
    write(state, principal.org_id, entry).await;
    response
}

/// Stores an entry. The request has already been carried out, so a failure cannot undo it: the
/// entry goes to the error log in full instead, where log collection keeps it.
pub async fn write(state: &AppState, org_id: OrgId, mut entry: NewAuditEntry) {
    if entry.trace_id.is_none() {
        entry.trace_id = trace_id();
    }
    if let Err(error) = state.base.append_audit(org_id, &entry).await {
        tracing::error!(
            %error, %org_id, actor = %entry.actor_label, action = %entry.action,
            resource_type = %entry.resource_type, resource_id = ?entry.resource_id,
            outcome = entry.outcome, ip = ?entry.ip,
            "audit entry not stored"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_acted_on_is_the_last_path_parameter() {
        assert_eq!(
            path_resource("/api/v1/api-keys/{key_id}", "/api/v1/api-keys/0190"),
            Some("0190".to_string())
        );
        assert_eq!(path_resource("/api/v1/assets", "/api/v1/assets"), None);
        assert_eq!(
            path_resource(
                "/api/v1/assets/{asset_id}/verify",
                "/api/v1/assets/01/verify"
            ),
            Some("01".to_string())
        );
    }
}
