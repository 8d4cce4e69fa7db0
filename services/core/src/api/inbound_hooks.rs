//! Inbound hooks: URLs that start a scan of an asset when called with a valid Standard Webhooks
//! signature, e.g. by a CI pipeline after a deploy. Kept by admins (automation:read/write), the
//! secret made and sealed here and shown once; the calls themselves, at the open
//! `POST /api/v1/hooks/{hook_id}`, are judged by s4e-trigger.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use s4e_client::ClientError;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::{ErrorBody, List};
use s4e_types::webhook::{
    InboundCall, InboundHook, InboundHookWithSecret, NewInboundHook, StoreInboundHook,
    UpdateInboundHook,
};
use s4e_types::{InboundHookId, ScanRun};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Add an inbound hook (automation:write)
///
/// Calling `POST /api/v1/hooks/{id}` with a valid signature then starts a scan of the asset:
/// the headers `webhook-id` (unique per call), `webhook-timestamp` (Unix seconds, within five
/// minutes of now) and `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}` under the secret's bytes). The secret is shown
/// once.
#[utoipa::path(post, path = "/api/v1/inbound-hooks", operation_id = "createInboundHook", tag = "webhooks",
    request_body = NewInboundHook,
    responses(
        (status = 201, description = "Added; the secret is shown once", body = InboundHookWithSecret),
        (status = 404, description = "No such asset", body = ErrorBody),
        (status = 409, description = "The asset is archived, or the organization keeps 50 hooks already", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewInboundHook>,
) -> Result<(StatusCode, Json<InboundHookWithSecret>), ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    let (secret, sealed_secret) = super::webhooks::new_secret(&state);
    let store = StoreInboundHook {
        hook: body,
        sealed_secret,
    };
    let hook = state
        .base
        .create_inbound_hook(principal.org_id, &store)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InboundHookWithSecret { hook, secret }),
    ))
}

/// The organization's inbound hooks (automation:read)
#[utoipa::path(get, path = "/api/v1/inbound-hooks", operation_id = "listInboundHooks", tag = "webhooks",
    responses((status = 200, description = "The hooks, oldest first", body = List<InboundHook>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<InboundHook>>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    let items = state.base.list_inbound_hooks(principal.org_id).await?;
    Ok(Json(List { items }))
}

/// One inbound hook (automation:read)
#[utoipa::path(get, path = "/api/v1/inbound-hooks/{hook_id}", operation_id = "getInboundHook", tag = "webhooks",
    params(("hook_id" = InboundHookId, Path)),
    responses((status = 200, description = "The hook", body = InboundHook)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
) -> Result<Json<InboundHook>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    Ok(Json(
        state
            .base
            .get_inbound_hook(principal.org_id, hook_id)
            .await?,
    ))
}

/// Rename, disable or enable an inbound hook (automation:write)
///
/// A disabled hook refuses its callers as if their signature were wrong.
#[utoipa::path(patch, path = "/api/v1/inbound-hooks/{hook_id}", operation_id = "updateInboundHook", tag = "webhooks",
    params(("hook_id" = InboundHookId, Path)),
    request_body = UpdateInboundHook,
    responses((status = 200, description = "The hook", body = InboundHook)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
    PublicJson(body): PublicJson<UpdateInboundHook>,
) -> Result<Json<InboundHook>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    Ok(Json(
        state
            .base
            .update_inbound_hook(principal.org_id, hook_id, &body)
            .await?,
    ))
}

/// Delete an inbound hook (automation:write)
#[utoipa::path(delete, path = "/api/v1/inbound-hooks/{hook_id}", operation_id = "deleteInboundHook", tag = "webhooks",
    params(("hook_id" = InboundHookId, Path)),
    responses((status = 200, description = "The deleted hook", body = InboundHook)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
) -> Result<Json<InboundHook>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    Ok(Json(
        state
            .base
            .delete_inbound_hook(principal.org_id, hook_id)
            .await?,
    ))
}

/// Call an inbound hook: start its scan (signed, no API key)
///
/// The body is anything the caller wants signed (a deploy's details, say); the scan is the
/// hook's. Refused with 401 when a header is missing, the timestamp is more than five minutes
/// from now, or no signature matches (an unknown or disabled hook is refused the same way),
/// and with 409 when the `webhook-id` was received before.
#[utoipa::path(post, path = "/api/v1/hooks/{hook_id}", operation_id = "callInboundHook", tag = "webhooks",
    params(
        ("hook_id" = InboundHookId, Path),
        ("webhook-id" = Option<String>, Header, description = "Unique per call"),
        ("webhook-timestamp" = Option<String>, Header, description = "Unix seconds"),
        ("webhook-signature" = Option<String>, Header, description = "`v1,<base64>`, space-separated"),
    ),
    request_body(content = serde_json::Value, description = "Anything; signed as sent"),
    security(()),
    responses(
        (status = 202, description = "The scan started", body = ScanRun),
        (status = 401, description = "A header missing, the timestamp out of tolerance, or no valid signature (or no such hook)", body = ErrorBody),
        (status = 403, description = "The asset's ownership is not verified for this scan", body = ErrorBody),
        (status = 409, description = "A replayed call, or the asset is archived", body = ErrorBody),
    ))]
pub async fn call(
    State(state): State<AppState>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(4096).collect::<String>())
    };
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("the body must be UTF-8"))?;
    let call = InboundCall {
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        webhook_signature: header("webhook-signature"),
        body,
    };
    match state.trigger.receive_hook(hook_id, &call).await {
        Ok(run) => Ok((StatusCode::ACCEPTED, Json(run))),
        // The trigger's refusals of the call itself are the caller's 401.
        Err(ClientError::Forbidden(refusal))
            if refusal.code.starts_with("signature_") || refusal.code.starts_with("timestamp_") =>
        {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                refusal.code,
                refusal.message,
            ))
        }
        Err(error) => Err(error.into()),
    }
}
