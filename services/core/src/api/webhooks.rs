//! Outbound webhooks: an organization's endpoints, each receiving the events it asks for,
//! signed per the Standard Webhooks specification with a secret shown once; their deliveries
//! and every attempt; redelivery. Reading needs automation:read, changing automation:write.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::api::{ErrorBody, List};
use s4e_types::webhook::{
    DeliveryPage, DeliveryQuery, NewWebhookEndpoint, RotateWebhookSecret, StoreWebhookEndpoint,
    UpdateWebhookEndpoint, WebhookDelivery, WebhookDeliveryWithAttempts, WebhookEndpoint,
    WebhookEndpointWithSecret,
};
use s4e_types::{WebhookDeliveryId, WebhookEndpointId};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// How long a rotated-out secret keeps signing beside the new one.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// A new signing secret (`whsec_` + base64 of 24 random bytes, the Standard Webhooks form)
/// and its sealed form for base: for outbound endpoints and inbound hooks alike.
pub(super) fn new_secret(state: &AppState) -> (String, String) {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = format!("whsec_{}", STANDARD.encode(bytes));
    let sealed = state.webhook_secrets.seal(secret.as_bytes());
    (secret, sealed)
}

/// Why an endpoint's address can never be reached, whatever the deployment allows.
fn never_reached(url: &str) -> Option<&'static str> {
    let ip = match url::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    s4e_egress::never_allowed(ip)
}

fn check_url(url: Option<&str>) -> Result<(), ApiError> {
    match url.and_then(never_reached) {
        Some(reason) => Err(ApiError::bad_request(format!(
            "url: {reason}, never delivered to"
        ))),
        None => Ok(()),
    }
}

/// Add a webhook endpoint (automation:write)
///
/// The answer holds the signing secret, shown this once. Deliveries carry `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's bytes), and a body
/// `{"type", "timestamp", "data"}`; a 2xx answer within 15 s is a success, anything else is
/// tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h. An endpoint failing for five
/// days is disabled.
#[utoipa::path(post, path = "/api/v1/webhooks", operation_id = "createWebhook", tag = "webhooks",
    request_body = NewWebhookEndpoint,
    responses(
        (status = 201, description = "Added; the secret is shown once", body = WebhookEndpointWithSecret),
        (status = 409, description = "The organization keeps 50 endpoints already", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewWebhookEndpoint>,
) -> Result<(StatusCode, Json<WebhookEndpointWithSecret>), ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    check_url(Some(&body.url))?;
    let (secret, sealed_secret) = new_secret(&state);
    let store = StoreWebhookEndpoint {
        endpoint: body,
        sealed_secret,
    };
    let endpoint = state.base.create_webhook(principal.org_id, &store).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), endpoint_id = %endpoint.id, "webhook endpoint added");
    Ok((
        StatusCode::CREATED,
        Json(WebhookEndpointWithSecret { endpoint, secret }),
    ))
}

/// The organization's webhook endpoints (automation:read)
#[utoipa::path(get, path = "/api/v1/webhooks", operation_id = "listWebhooks", tag = "webhooks",
    responses((status = 200, description = "The endpoints, oldest first", body = List<WebhookEndpoint>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<WebhookEndpoint>>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    let items = state.base.list_webhooks(principal.org_id).await?;
    Ok(Json(List { items }))
}

/// One webhook endpoint (automation:read)
#[utoipa::path(get, path = "/api/v1/webhooks/{endpoint_id}", operation_id = "getWebhook", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    Ok(Json(
        state
            .base
            .get_webhook(principal.org_id, endpoint_id)
            .await?,
    ))
}

/// Change, disable or enable a webhook endpoint (automation:write)
///
/// Enabling it clears its failure streak; its deliveries waiting meanwhile go on.
#[utoipa::path(patch, path = "/api/v1/webhooks/{endpoint_id}", operation_id = "updateWebhook", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path)),
    request_body = UpdateWebhookEndpoint,
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    PublicJson(body): PublicJson<UpdateWebhookEndpoint>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    check_url(body.url.as_deref())?;
    Ok(Json(
        state
            .base
            .update_webhook(principal.org_id, endpoint_id, &body)
            .await?,
    ))
}

/// Delete a webhook endpoint with its deliveries (automation:write)
#[utoipa::path(delete, path = "/api/v1/webhooks/{endpoint_id}", operation_id = "deleteWebhook", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "The deleted endpoint", body = WebhookEndpoint)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    Ok(Json(
        state
            .base
            .delete_webhook(principal.org_id, endpoint_id)
            .await?,
    ))
}

/// Rotate an endpoint's signing secret (automation:write)
///
/// The new secret is shown once; for 24 hours deliveries carry a signature under each, so the
/// receiver can switch without losing one.
#[utoipa::path(post, path = "/api/v1/webhooks/{endpoint_id}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path)),
    responses((status = 200, description = "The new secret, shown once", body = WebhookEndpointWithSecret)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
) -> Result<Json<WebhookEndpointWithSecret>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    let (secret, sealed_secret) = new_secret(&state);
    let rotation = RotateWebhookSecret {
        sealed_secret,
        previous_until: Utc::now() + ROTATION_OVERLAP,
    };
    let endpoint = state
        .base
        .rotate_webhook_secret(principal.org_id, endpoint_id, &rotation)
        .await?;
    Ok(Json(WebhookEndpointWithSecret { endpoint, secret }))
}

/// An endpoint's deliveries, newest first (automation:read)
#[utoipa::path(get, path = "/api/v1/webhooks/{endpoint_id}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks",
    params(("endpoint_id" = WebhookEndpointId, Path), DeliveryQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryPage)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(endpoint_id): ApiPath<WebhookEndpointId>,
    PublicQuery(query): PublicQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    query.page_size().map_err(ApiError::bad_request)?;
    Ok(Json(
        state
            .base
            .webhook_deliveries(principal.org_id, endpoint_id, &query)
            .await?,
    ))
}

/// One delivery with its body and every attempt (automation:read)
#[utoipa::path(get, path = "/api/v1/webhook-deliveries/{delivery_id}", operation_id = "getWebhookDelivery", tag = "webhooks",
    params(("delivery_id" = WebhookDeliveryId, Path)),
    responses((status = 200, description = "The delivery", body = WebhookDeliveryWithAttempts)))]
pub async fn delivery(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(delivery_id): ApiPath<WebhookDeliveryId>,
) -> Result<Json<WebhookDeliveryWithAttempts>, ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    Ok(Json(
        state
            .base
            .webhook_delivery(principal.org_id, delivery_id)
            .await?,
    ))
}

/// Send a delivery again (automation:write)
///
/// At once, whatever became of it; its attempts go on counting.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{delivery_id}/redeliver", operation_id = "redeliverWebhook", tag = "webhooks",
    params(("delivery_id" = WebhookDeliveryId, Path)),
    responses(
        (status = 200, description = "Due again", body = WebhookDelivery),
        (status = 409, description = "Its endpoint is disabled", body = ErrorBody),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(delivery_id): ApiPath<WebhookDeliveryId>,
) -> Result<Json<WebhookDelivery>, ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    Ok(Json(
        state
            .base
            .redeliver_webhook(principal.org_id, delivery_id)
            .await?,
    ))
}
