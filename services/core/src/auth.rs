//! Who is calling. An API key (`Authorization: Bearer …` or `X-API-Key: …`) resolved through
//! base, or a browser session (the `s4e_session` cookie) resolved in Redis. Either way every
//! handler behind [`authenticate`] receives a [`Principal`]: the organization to scope its
//! calls by, who acts, and what they may do.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, Method};
use axum::response::{IntoResponse, Response};
use s4e_client::ClientError;
use s4e_runtime::ApiError;
use s4e_types::api::RateTier;
use s4e_types::audit::ActorKind;
use s4e_types::{AssetId, FindingActor, FindingActorKind, OrgId, Role, UserId};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::api_key;
use crate::endpoints::{Caller, Endpoints};
use crate::key_cache::KnownKey;
use crate::permissions::{Access, Permissions, Resource};
use crate::step::{Inner, Next, Step};
use crate::{rate_limit, session};

#[derive(Clone, Debug)]
pub enum Actor {
    User {
        user_id: UserId,
        email: String,
        role: Role,
        session_id: String,
        /// What a state-changing request with the cookie must repeat (`X-CSRF-Token`).
        csrf_token: String,
    },
    /// The key as looked up (shared with the key cache).
    ApiKey(Arc<KnownKey>),
}

#[derive(Clone, Debug)]
pub struct Principal {
    /// The organization the request acts in.
    pub org_id: OrgId,
    pub actor: Actor,
    pub permissions: Permissions,
    /// The partner organization the caller belongs to, when it acts inside a customer.
    pub acting_from: Option<OrgId>,
    /// The rate-limit tier of the caller's own organization.
    pub rate_tier: RateTier,
    /// The assets a limited member or viewer may see; `None`: every asset.
    pub asset_scope: Option<Arc<[AssetId]>>,
}

impl Principal {
    /// Refuses the request unless the caller holds `access` on `resource`.
    pub fn require(&self, resource: Resource, access: Access) -> Result<(), ApiError> {
        if self.permissions.allows(resource, access) {
            return Ok(());
        }
        let who = match self.actor {
            Actor::User { .. } => "your role",
            Actor::ApiKey { .. } => "this API key",
        };
        Err(ApiError::forbidden(format!(
            "{who} lacks the permission {}:{}",
            resource.as_str(),
            access.as_str()
        )))
    }

    /// Answers "not found" (as for an id that does not exist) when `asset_id` is outside the
    /// caller's assigned assets; `what` names the resource asked for.
    pub fn require_asset(&self, asset_id: AssetId, what: &str) -> Result<(), ApiError> {
        match &self.asset_scope {
            Some(assets) if !assets.contains(&asset_id) => Err(ApiError::not_found(what)),
            _ => Ok(()),
        }
    }

    /// Whether the caller may see `asset_id`.
    pub fn sees_asset(&self, asset_id: AssetId) -> bool {
        self.asset_scope
            .as_ref()
            .is_none_or(|assets| assets.contains(&asset_id))
    }

    /// Refuses what spans the whole organization to a caller limited to assigned assets.
    pub fn require_unlimited(&self, what: &str) -> Result<(), ApiError> {
        if self.asset_scope.is_some() {
            return Err(ApiError::forbidden(format!(
                "{what} is not available to users limited to assigned assets"
            )));
        }
        Ok(())
    }

    /// The signed-in user, for what only people (not keys) do: passwords, sessions.
    pub fn user(&self) -> Result<(UserId, &str, &str), ApiError> {
        match &self.actor {
            Actor::User {
                user_id,
                email,
                session_id,
                ..
            } => Ok((*user_id, email, session_id)),
            Actor::ApiKey { .. } => Err(ApiError::forbidden(
                "this is for signed-in users, not API keys",
            )),
        }
    }

    /// The rate-limit bucket of this caller.
    pub fn bucket(&self) -> Cow<'_, str> {
        match &self.actor {
            Actor::User { session_id, .. } => Cow::Owned(Self::session_bucket(session_id)),
            Actor::ApiKey(key) => Cow::Borrowed(&key.bucket),
        }
    }

    pub fn session_bucket(session_id: &str) -> String {
        format!("session:{session_id}")
    }

    /// How the audit log names this caller.
    pub fn audit_actor(&self) -> (ActorKind, Option<uuid::Uuid>, String) {
        match &self.actor {
            Actor::User { user_id, email, .. } => (ActorKind::User, Some(user_id.0), email.clone()),
            Actor::ApiKey(key) => (
                ActorKind::ApiKey,
                Some(key.record.id.0),
                key.record.prefix.clone(),
            ),
        }
    }

    /// How a finding's history names this caller.
    pub fn finding_actor(&self) -> FindingActor {
        match &self.actor {
            Actor::User { user_id, email, .. } => FindingActor {
                kind: FindingActorKind::User,
                id: Some(user_id.0),
                label: email.clone(),
            },
            Actor::ApiKey(key) => FindingActor {
                kind: FindingActorKind::ApiKey,
                id: Some(key.record.id.0),
                label: key.record.prefix.clone(),
            },
        }
    }

    /// A short form for logs.
    pub fn log_id(&self) -> String {
        match &self.actor {
            Actor::User { user_id, .. } => format!("user:{user_id}"),
            Actor::ApiKey(key) => format!("key:{}", key.record.id),
        }
    }
}

const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return value.to_str().ok().map(str::trim_ascii);
    }
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    const SCHEME: &str = "bearer ";
    let scheme = value.get(..SCHEME.len())?;
    scheme
        .eq_ignore_ascii_case(SCHEME)
        .then(|| value[SCHEME.len()..].trim_ascii())
}

/// The API key a request presents, when it is known without a lookup (cached, not revoked)
/// and the request acts in the key's own organization: what the address step counts in the
/// same round trip as the address.
pub fn cached_key(state: &AppState, headers: &HeaderMap) -> Option<Arc<KnownKey>> {
    if headers.contains_key(&ACTING_ORG_HEADER) {
        return None;
    }
    let key = presented_key(headers).filter(|key| api_key::well_formed(key))?;
    state
        .keys
        .get(&api_key::digest(key))
        .filter(|key| !key.record.revoked)
}

/// Finds who calls an authenticated endpoint and puts their [`Principal`] on the request, or
/// answers the refusal. Other requests pass as they are.
#[derive(Clone)]
pub struct Authenticate {
    state: AppState,
    endpoints: Endpoints,
}

impl Authenticate {
    pub fn new(state: &AppState, endpoints: &Endpoints) -> Self {
        Self {
            state: state.clone(),
            endpoints: endpoints.clone(),
        }
    }
}

impl Step for Authenticate {
    async fn run<S: Inner>(&self, mut request: Request, next: Next<S>) -> Response {
        let endpoint = self.endpoints.of(&request);
        if endpoint.is_none_or(|endpoint| endpoint.caller != Caller::Authenticated) {
            return next.run(request).await;
        }
        match authenticate(&self.state, request.headers(), request.method()).await {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                next.run(request).await
            }
            Err(refusal) => refusal.into_response(),
        }
    }
}

/// The caller presenting these headers, or why they are refused.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Principal, ApiError> {
    let principal = if let Some(key) = presented_key(headers) {
        by_api_key(state, key).await?
    } else if let Some(secret) = session::from_cookies(headers) {
        // Boxed, like every path a request with a cached API key does not take: what this
        // function's future holds inline is moved with it.
        let (principal, csrf_token) = Box::pin(by_session(state, secret)).await?;
        if !safe(method) {
            require_csrf(&csrf_token, headers)?;
        }
        principal
    } else {
        return Err(ApiError::unauthorized(
            "sign in, or present an API key (Authorization: Bearer <key> or X-API-Key)",
        ));
    };
    match headers.get(&ACTING_ORG_HEADER).cloned() {
        None => Ok(principal),
        Some(acting) => {
            let writes = !safe(method);
            Box::pin(act_for_customer(state, principal, acting, writes)).await
        }
    }
}

/// The header a partner names the customer organization it acts in with.
pub const ACTING_ORG_HEADER: HeaderName = HeaderName::from_static("x-organization-id");

/// Moves a partner's caller into the customer named by `X-Organization-Id`. The customer must
/// be one of the caller's organization's; any other id is "not found", like a missing one.
async fn act_for_customer(
    state: &AppState,
    mut principal: Principal,
    acting: axum::http::HeaderValue,
    writes: bool,
) -> Result<Principal, ApiError> {
    let target: OrgId = acting
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request("X-Organization-Id: must be an organization id"))?;
    if target == principal.org_id {
        return Ok(principal);
    }
    let access = if writes { Access::Write } else { Access::Read };
    principal.require(Resource::Customers, access)?;
    if !state.customers.confirmed(principal.org_id, target) {
        match state.base.get_customer(principal.org_id, target).await {
            Ok(_) => state.customers.confirm(principal.org_id, target),
            Err(ClientError::NotFound(_)) => return Err(ApiError::not_found("organization")),
            Err(error) => return Err(ApiError::from(error)),
        }
    }
    principal.acting_from = Some(principal.org_id);
    principal.org_id = target;
    Ok(principal)
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn by_api_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    // A malformed key is refused without a lookup.
    if !api_key::well_formed(key) {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    let digest = api_key::digest(key);
    let key = match state.keys.get(&digest) {
        Some(key) => key,
        None => {
            let generation = state.keys.generation();
            let key = Arc::new(Box::pin(look_up_key(state, &api_key::hash(key))).await?);
            state.keys.insert(digest, Arc::clone(&key), generation);
            key
        }
    };
    if key.record.revoked {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    Ok(Principal {
        org_id: key.record.org_id,
        permissions: key.permissions,
        acting_from: None,
        rate_tier: key.record.rate_tier,
        asset_scope: None,
        actor: Actor::ApiKey(key),
    })
}

/// The key stored under `key_hash` in base, prepared for requests.
async fn look_up_key(state: &AppState, key_hash: &str) -> Result<KnownKey, ApiError> {
    let record = match state.base.api_key_by_hash(key_hash).await {
        Ok(record) => record,
        Err(ClientError::NotFound(_)) => return Err(ApiError::unauthorized("invalid API key")),
        Err(error) => return Err(ApiError::from(error)),
    };
    let permissions = Permissions::from_scopes(&record.scopes).map_err(|error| {
        // Scopes are checked when a key is made; one that does not parse is a bug.
        ApiError::internal(format!("api key {} has bad scopes: {error}", record.id))
    })?;
    Ok(KnownKey {
        bucket: rate_limit::key_bucket(record.id),
        record,
        permissions,
    })
}

/// The session's principal and its CSRF token.
async fn by_session(state: &AppState, secret: &str) -> Result<(Principal, String), ApiError> {
    let id = session::id_of(secret);
    let data = match state.sessions.touch(&id).await {
        Ok(Some(data)) => data,
        Ok(None) => {
            return Err(ApiError::unauthorized(
                "the session has ended, sign in again",
            ));
        }
        Err(error) => {
            tracing::warn!(%error, "session store unavailable");
            return Err(ApiError::unavailable("sessions are unavailable, try again"));
        }
    };
    let age = chrono::Utc::now() - data.created_at;
    if age.to_std().is_ok_and(|age| age > state.session_max_age) {
        if let Err(error) = state.sessions.revoke(data.user_id, &id).await {
            tracing::warn!(%error, "cannot end an expired session");
        }
        return Err(ApiError::unauthorized(
            "the session has ended, sign in again",
        ));
    }
    let principal = Principal {
        org_id: data.org_id,
        permissions: Permissions::for_role(data.role),
        acting_from: None,
        rate_tier: data.rate_tier,
        asset_scope: data.asset_scope.map(Arc::from),
        actor: Actor::User {
            user_id: data.user_id,
            email: data.email,
            role: data.role,
            session_id: id,
            csrf_token: data.csrf_token.clone(),
        },
    };
    Ok((principal, data.csrf_token))
}

/// A state-changing request made with the cookie must repeat the session's CSRF token: another
/// site can make the browser send the cookie, but cannot read the token.
fn require_csrf(expected: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(session::CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let matches = presented.len() == expected.len()
        && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()));
    if matches {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "X-CSRF-Token is missing or wrong for this session",
        ))
    }
}

/// Internal headers (the service token among them) are only ever set by our own services.
pub fn strip_internal_headers(headers: &mut HeaderMap) {
    let internal: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-s4e-"))
        .cloned()
        .collect();
    for name in internal {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    axum::http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn keys_are_read_from_either_header() {
        let read = |pairs| presented_key(&headers(pairs)).map(str::to_owned);
        assert_eq!(read(&[("x-api-key", " s4e_k ")]).as_deref(), Some("s4e_k"));
        assert_eq!(
            read(&[("authorization", "Bearer s4e_k")]).as_deref(),
            Some("s4e_k")
        );
        assert_eq!(
            read(&[("authorization", "bEaReR   s4e_k ")]).as_deref(),
            Some("s4e_k")
        );
        assert_eq!(read(&[("authorization", "Basic czRlOms=")]), None);
        assert_eq!(read(&[("authorization", "Bearer")]), None);
        assert_eq!(read(&[("authorization", "Bearers4e_k")]), None);
        assert_eq!(read(&[]), None);
    }
}
