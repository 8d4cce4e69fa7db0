//! Who is calling: the API key from `Authorization: Bearer …` or `X-API-Key: …`, resolved to
//! its organization through base. Every handler behind [`authenticate`] receives a
//! [`Principal`] and scopes its calls by the principal's organization.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use s4e_client::ClientError;
use s4e_runtime::ApiError;
use s4e_types::{ApiKeyId, OrgId};

use crate::AppState;
use crate::api_key;

#[derive(Clone, Debug)]
pub struct Principal {
    pub org_id: OrgId,
    pub key_id: ApiKeyId,
    pub scopes: Vec<String>,
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("x-api-key") {
        return value.to_str().ok().map(str::trim);
    }
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Principal {
    /// Refuses a key that may only read. Keys carry `read`, `write` or `admin`.
    pub fn require_write(&self) -> Result<(), ApiError> {
        let allowed = self
            .scopes
            .iter()
            .any(|scope| scope == "write" || scope == "admin");
        if allowed {
            Ok(())
        } else {
            Err(ApiError::forbidden("this API key may only read"))
        }
    }
}

impl Principal {
    /// Refuses a key without the `admin` scope (managing keys, for one).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.scopes.iter().any(|scope| scope == "admin") {
            Ok(())
        } else {
            Err(ApiError::forbidden("this API key is not an admin key"))
        }
    }
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(key) = presented_key(request.headers()) else {
        return Err(ApiError::unauthorized(
            "an API key is required (Authorization: Bearer <key> or X-API-Key)",
        ));
    };
    // A malformed key is refused without a lookup.
    if !api_key::well_formed(key) {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    let key_hash = api_key::hash(key);
    let record = match state.keys.get(&key_hash) {
        Some(record) => record,
        None => match state.base.api_key_by_hash(&key_hash).await {
            Ok(record) => {
                state.keys.insert(key_hash, record.clone());
                record
            }
            Err(ClientError::NotFound(_)) => {
                return Err(ApiError::unauthorized("invalid API key"));
            }
            Err(error) => return Err(ApiError::upstream(error.http_status(), &error.message())),
        },
    };
    if record.revoked {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    request.extensions_mut().insert(Principal {
        org_id: record.org_id,
        key_id: record.id,
        scopes: record.scopes,
    });
    Ok(next.run(request).await)
}

/// Internal headers (the service token among them) are only ever set by our own services.
pub async fn strip_internal_headers(mut request: Request, next: Next) -> Response {
    let internal: Vec<_> = request
        .headers()
        .keys()
        .filter(|name| name.as_str().starts_with("x-s4e-"))
        .cloned()
        .collect();
    for name in internal {
        request.headers_mut().remove(name);
    }
    next.run(request).await
}
