use axum::Json;
use axum::extract::State;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::Envelope;
use s4e_types::api::List;
use s4e_types::envelope::{ClaimOutbox, OutboxPublished};
use sqlx::PgPool;

use crate::db;

pub async fn claim(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<ClaimOutbox>,
) -> Result<Json<List<Envelope>>, ApiError> {
    let items = db::outbox::claim(&pool, &body).await?;
    Ok(Json(List { items }))
}

pub async fn published(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<OutboxPublished>,
) -> Result<Json<u64>, ApiError> {
    Ok(Json(db::outbox::published(&pool, &body.ids).await?))
}
