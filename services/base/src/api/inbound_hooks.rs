use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::webhook::{
    InboundHook, InboundMessage, SealedInboundHook, StoreInboundHook, UpdateInboundHook,
};
use s4e_types::{InboundHookId, OrgId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<StoreInboundHook>,
) -> Result<(StatusCode, Json<InboundHook>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let hook = db::inbound_hooks::create(&mut change, org_id, &body).await?;
    change.commit(org_id, Some(hook.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(hook)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<InboundHook>>, ApiError> {
    let items = db::inbound_hooks::list(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, hook_id)): ApiPath<(OrgId, InboundHookId)>,
) -> Result<Json<InboundHook>, ApiError> {
    Ok(Json(
        db::inbound_hooks::get(&pool, org_id, hook_id).await?.hook,
    ))
}

/// The hook called at its public URL, with its sealed secret (the trigger's, to verify).
pub async fn by_id(
    State(pool): State<PgPool>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
) -> Result<Json<SealedInboundHook>, ApiError> {
    Ok(Json(db::inbound_hooks::by_id(&pool, hook_id).await?))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, hook_id)): ApiPath<(OrgId, InboundHookId)>,
    ApiJson(body): ApiJson<UpdateInboundHook>,
) -> Result<Json<InboundHook>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let hook = db::inbound_hooks::update(&mut change, org_id, hook_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(hook))
}

pub async fn delete(
    State(pool): State<PgPool>,
    ApiPath((org_id, hook_id)): ApiPath<(OrgId, InboundHookId)>,
) -> Result<Json<InboundHook>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let hook = db::inbound_hooks::delete(&mut change, org_id, hook_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(hook))
}

pub async fn record_message(
    State(pool): State<PgPool>,
    ApiPath((org_id, hook_id)): ApiPath<(OrgId, InboundHookId)>,
    ApiJson(body): ApiJson<InboundMessage>,
) -> Result<Json<bool>, ApiError> {
    db::inbound_hooks::record_message(&pool, org_id, hook_id, &body).await?;
    Ok(Json(true))
}
