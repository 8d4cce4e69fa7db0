//! API keys: created by a caller allowed to manage keys, with at most the caller's own rights;
//! shown once, listed without their secret, revoked for good.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::ApiKeyId;
use s4e_types::api::{ApiKeyRecord, CreateApiKey, CreatedApiKey, NewApiKey, Page, PageQuery};

use crate::AppState;
use crate::api_key;
use crate::auth::Principal;
use crate::permissions::{Access, Permissions, Resource};

/// The most scopes a key is created with (there are fewer distinct ones).
const MAX_SCOPES: usize = 32;

/// Create an API key (api_keys:write)
///
/// With at most the rights of its creator. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/api-keys", operation_id = "createApiKey", tag = "api-keys",
    request_body = CreateApiKey,
    responses((status = 201, description = "Created", body = CreatedApiKey)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    principal.require(Resource::ApiKeys, Access::Write)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("name: must be 1-200 characters"));
    }
    if body.scopes.len() > MAX_SCOPES {
        return Err(ApiError::bad_request(format!(
            "scopes: at most {MAX_SCOPES}"
        )));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::bad_request(
            "scopes: name at least one (read, write, admin, or <family>:read|write)",
        ));
    }
    let wanted = Permissions::from_scopes(&body.scopes)
        .map_err(|error| ApiError::bad_request(format!("scopes: {error}")))?;
    if !principal.permissions.contains(wanted) {
        return Err(ApiError::forbidden(
            "scopes: a key cannot have rights its creator lacks",
        ));
    }
    if body.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(ApiError::bad_request("expires_at: must be in the future"));
    }
    // RFC 3339 has four-digit years: a later date would be stored and then not be listed.
    if body
        .expires_at
        .is_some_and(|at| chrono::Datelike::year(&at) > 9999)
    {
        return Err(ApiError::bad_request(
            "expires_at: must be before the year 10000",
        ));
    }
    let generated = api_key::generate();
    let mut scopes = body.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let record = state
        .base
        .create_api_key(
            principal.org_id,
            &NewApiKey {
                name: name.to_string(),
                prefix: generated.prefix,
                key_hash: generated.hash,
                scopes,
                expires_at: body.expires_at,
            },
        )
        .await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), created = %record.id, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            record,
            key: generated.key,
        }),
    ))
}

/// List the organization's API keys (api_keys:read)
///
/// Never their secrets.
///
/// Newest first, in pages of `limit` (default 100, at most 1000) that continue with
/// `after=<next_cursor>`.
#[utoipa::path(get, path = "/api/v1/api-keys", operation_id = "listApiKeys", tag = "api-keys",
    params(PageQuery),
    responses((status = 200, description = "A page of keys", body = Page<ApiKeyRecord>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<PageQuery>,
) -> Result<Json<Page<ApiKeyRecord>>, ApiError> {
    principal.require(Resource::ApiKeys, Access::Read)?;
    query.page_size().map_err(ApiError::bad_request)?;
    Ok(Json(
        state.base.list_api_keys(principal.org_id, &query).await?,
    ))
}

/// Revoke an API key for good (api_keys:write)
#[utoipa::path(delete, path = "/api/v1/api-keys/{key_id}", operation_id = "revokeApiKey", tag = "api-keys",
    params(("key_id" = ApiKeyId, Path)),
    responses((status = 200, description = "Revoked", body = ApiKeyRecord)))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(key_id): ApiPath<ApiKeyId>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    principal.require(Resource::ApiKeys, Access::Write)?;
    let record = state.base.revoke_api_key(principal.org_id, key_id).await?;
    state.keys.evict(record.id);
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), revoked = %record.id, "api key revoked");
    Ok(Json(record))
}
