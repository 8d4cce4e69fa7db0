use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::webhook::{
    ClaimDueDeliveries, DeliveryAttempted, DeliveryPage, DeliveryQuery, DueDelivery,
    RotateWebhookSecret, StoreWebhookEndpoint, UpdateWebhookEndpoint, WebhookDelivery,
    WebhookDeliveryWithAttempts, WebhookEndpoint, WebhookEvent,
};
use s4e_types::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<StoreWebhookEndpoint>,
) -> Result<(StatusCode, Json<WebhookEndpoint>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let endpoint = db::webhooks::create_endpoint(&mut change, org_id, &body).await?;
    change.commit(org_id, Some(endpoint.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(endpoint)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<WebhookEndpoint>>, ApiError> {
    let items = db::webhooks::list_endpoints(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, endpoint_id)): ApiPath<(OrgId, WebhookEndpointId)>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    Ok(Json(
        db::webhooks::get_endpoint(&pool, org_id, endpoint_id).await?,
    ))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, endpoint_id)): ApiPath<(OrgId, WebhookEndpointId)>,
    ApiJson(body): ApiJson<UpdateWebhookEndpoint>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let endpoint = db::webhooks::update_endpoint(&mut change, org_id, endpoint_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(endpoint))
}

pub async fn delete(
    State(pool): State<PgPool>,
    ApiPath((org_id, endpoint_id)): ApiPath<(OrgId, WebhookEndpointId)>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let endpoint = db::webhooks::delete_endpoint(&mut change, org_id, endpoint_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(endpoint))
}

pub async fn rotate_secret(
    State(pool): State<PgPool>,
    ApiPath((org_id, endpoint_id)): ApiPath<(OrgId, WebhookEndpointId)>,
    ApiJson(body): ApiJson<RotateWebhookSecret>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let endpoint = db::webhooks::rotate_secret(&mut change, org_id, endpoint_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(endpoint))
}

pub async fn deliveries(
    State(pool): State<PgPool>,
    ApiPath((org_id, endpoint_id)): ApiPath<(OrgId, WebhookEndpointId)>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let limit = query.page_size().map_err(ApiError::bad_request)?;
    let (items, next_cursor) =
        db::webhooks::list_deliveries(&pool, org_id, endpoint_id, limit, query.before).await?;
    Ok(Json(DeliveryPage { items, next_cursor }))
}

pub async fn delivery(
    State(pool): State<PgPool>,
    ApiPath((org_id, delivery_id)): ApiPath<(OrgId, WebhookDeliveryId)>,
) -> Result<Json<WebhookDeliveryWithAttempts>, ApiError> {
    Ok(Json(
        db::webhooks::get_delivery(&pool, org_id, delivery_id).await?,
    ))
}

pub async fn redeliver(
    State(pool): State<PgPool>,
    ApiPath((org_id, delivery_id)): ApiPath<(OrgId, WebhookDeliveryId)>,
) -> Result<Json<WebhookDelivery>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let delivery = db::webhooks::redeliver(&mut change, org_id, delivery_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(delivery))
}

/// How many deliveries the event made (0 when it was recorded before).
pub async fn record_event(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<WebhookEvent>,
) -> Result<Json<u64>, ApiError> {
    Ok(Json(
        db::webhooks::record_event(&pool, org_id, &body).await?,
    ))
}

pub async fn claim_due(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<ClaimDueDeliveries>,
) -> Result<Json<List<DueDelivery>>, ApiError> {
    let items = db::webhooks::claim_due(&pool, &body).await?;
    Ok(Json(List { items }))
}

pub async fn attempted(
    State(pool): State<PgPool>,
    ApiPath((org_id, delivery_id)): ApiPath<(OrgId, WebhookDeliveryId)>,
    ApiJson(body): ApiJson<DeliveryAttempted>,
) -> Result<Json<WebhookDelivery>, ApiError> {
    Ok(Json(
        db::webhooks::attempted(&pool, org_id, delivery_id, &body).await?,
    ))
}
