use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::rule::{NewRule, RecordFiring, Rule, RuleEvent, RuleFiring, UpdateRule};
use s4e_types::{OrgId, RuleId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let rule = db::rules::create(&mut change, org_id, &body).await?;
    change.commit(org_id, Some(rule.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<Rule>>, ApiError> {
    let items = db::rules::list(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn for_event(
    State(pool): State<PgPool>,
    ApiPath((org_id, event)): ApiPath<(OrgId, String)>,
) -> Result<Json<List<Rule>>, ApiError> {
    let event = RuleEvent::parse(&event)
        .ok_or_else(|| ApiError::bad_request(format!("no rule fires on {event:?}")))?;
    let items = db::rules::for_event(&pool, org_id, event).await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, rule_id)): ApiPath<(OrgId, RuleId)>,
) -> Result<Json<Rule>, ApiError> {
    Ok(Json(db::rules::get(&pool, org_id, rule_id).await?))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, rule_id)): ApiPath<(OrgId, RuleId)>,
    ApiJson(body): ApiJson<UpdateRule>,
) -> Result<Json<Rule>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let rule = db::rules::update(&mut change, org_id, rule_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(rule))
}

pub async fn delete(
    State(pool): State<PgPool>,
    ApiPath((org_id, rule_id)): ApiPath<(OrgId, RuleId)>,
) -> Result<Json<Rule>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let rule = db::rules::delete(&mut change, org_id, rule_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(rule))
}

pub async fn firings(
    State(pool): State<PgPool>,
    ApiPath((org_id, rule_id)): ApiPath<(OrgId, RuleId)>,
) -> Result<Json<List<RuleFiring>>, ApiError> {
    let items = db::rules::firings(&pool, org_id, rule_id).await?;
    Ok(Json(List { items }))
}

pub async fn record_firing(
    State(pool): State<PgPool>,
    ApiPath((org_id, rule_id)): ApiPath<(OrgId, RuleId)>,
    ApiJson(body): ApiJson<RecordFiring>,
) -> Result<Json<RuleFiring>, ApiError> {
    let mut conn = pool.acquire().await.map_err(db::DbError::from)?;
    Ok(Json(
        db::rules::record_firing(&mut conn, org_id, rule_id, &body).await?,
    ))
}
