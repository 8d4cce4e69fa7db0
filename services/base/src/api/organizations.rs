use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{NewOrganization, Organization};
use sqlx::PgPool;

use crate::db;

pub async fn create(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<NewOrganization>,
) -> Result<(StatusCode, Json<Organization>), ApiError> {
    let organization = db::organizations::create(&pool, &body.name).await?;
    Ok((StatusCode::CREATED, Json(organization)))
}
