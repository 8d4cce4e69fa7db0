use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::OrgId;
use s4e_types::api::{
    CreateCustomer, CustomerFindings, List, NewOrganization, Organization, SetRateTier,
};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<NewOrganization>,
) -> Result<(StatusCode, Json<Organization>), ApiError> {
    let organization = db::organizations::create(&pool, &body.name, body.is_partner).await?;
    Ok((StatusCode::CREATED, Json(organization)))
}

pub async fn set_rate_tier(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<SetRateTier>,
) -> Result<Json<Organization>, ApiError> {
    Ok(Json(
        db::organizations::set_rate_tier(&pool, org_id, body.rate_tier).await?,
    ))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<Organization>, ApiError> {
    Ok(Json(db::organizations::get(&pool, org_id).await?))
}

pub async fn create_customer(
    State(pool): State<PgPool>,
    ApiPath(partner_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<(StatusCode, Json<Organization>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let customer = db::organizations::create_customer(&mut change, partner_id, &body.name).await?;
    change
        .commit(partner_id, Some(customer.id.to_string()))
        .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

pub async fn customers(
    State(pool): State<PgPool>,
    ApiPath(partner_id): ApiPath<OrgId>,
) -> Result<Json<List<Organization>>, ApiError> {
    let items = db::organizations::customers(&pool, partner_id).await?;
    Ok(Json(List { items }))
}

pub async fn customer(
    State(pool): State<PgPool>,
    ApiPath((partner_id, customer_id)): ApiPath<(OrgId, OrgId)>,
) -> Result<Json<Organization>, ApiError> {
    Ok(Json(
        db::organizations::customer(&pool, partner_id, customer_id).await?,
    ))
}

pub async fn portfolio(
    State(pool): State<PgPool>,
    ApiPath(partner_id): ApiPath<OrgId>,
) -> Result<Json<List<CustomerFindings>>, ApiError> {
    let items = db::organizations::portfolio(&pool, partner_id).await?;
    Ok(Json(List { items }))
}
