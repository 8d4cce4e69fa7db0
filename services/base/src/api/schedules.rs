use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::List;
use s4e_types::schedule::{ClaimDueSchedules, DueSchedule, ScheduleFired};
use s4e_types::{NewSchedule, OrgId, Schedule, ScheduleId, UpdateSchedule};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewSchedule>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let schedule = db::schedules::create(&mut change, org_id, &body, Utc::now()).await?;
    change.commit(org_id, Some(schedule.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(schedule)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<Schedule>>, ApiError> {
    let items = db::schedules::list(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, schedule_id)): ApiPath<(OrgId, ScheduleId)>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(db::schedules::get(&pool, org_id, schedule_id).await?))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, schedule_id)): ApiPath<(OrgId, ScheduleId)>,
    ApiJson(body): ApiJson<UpdateSchedule>,
) -> Result<Json<Schedule>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let schedule =
        db::schedules::update(&mut change, org_id, schedule_id, &body, Utc::now()).await?;
    change.commit(org_id, None).await?;
    Ok(Json(schedule))
}

pub async fn delete(
    State(pool): State<PgPool>,
    ApiPath((org_id, schedule_id)): ApiPath<(OrgId, ScheduleId)>,
) -> Result<Json<Schedule>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let schedule = db::schedules::delete(&mut change, org_id, schedule_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(schedule))
}

pub async fn claim_due(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<ClaimDueSchedules>,
) -> Result<Json<List<DueSchedule>>, ApiError> {
    let items = db::schedules::claim_due(&pool, &body).await?;
    Ok(Json(List { items }))
}

/// 409 `moved_on` when the schedule no longer names the due time reported (changed, paused or
/// handled by another scheduler meanwhile): the report changes nothing.
pub async fn fired(
    State(pool): State<PgPool>,
    ApiPath((org_id, schedule_id)): ApiPath<(OrgId, ScheduleId)>,
    ApiJson(body): ApiJson<ScheduleFired>,
) -> Result<Json<Schedule>, ApiError> {
    match db::schedules::fired(&pool, org_id, schedule_id, &body).await? {
        Some(schedule) => Ok(Json(schedule)),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "moved_on",
            "the schedule is no longer due at that time",
        )),
    }
}
