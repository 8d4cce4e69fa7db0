//! Recurring scans: a cron pattern in a time zone, skip windows, a catch-up policy, pause and
//! resume. Base validates the timing and sets the next due time; s4e-scheduler starts the
//! scans. Reading them needs scans:read, changing them scans:write; a user limited to assigned
//! assets sees and schedules only those.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::{ErrorBody, List};
use s4e_types::{NewSchedule, Schedule, ScheduleId, UpdateSchedule};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Schedule a recurring scan (scans:write)
///
/// Scans of the asset (`asset_id`), or of every asset carrying `tag` at that time (one scan
/// each), start at each time `cron` names in `timezone`, except inside a skip window; a time
/// that comes while a scan the schedule started is still going is skipped unless
/// `allow_overlap`; after downtime a missed time is skipped or run once
/// (`catch_up`), never repeated. The answer shows `next_run_at`.
#[utoipa::path(post, path = "/api/v1/schedules", operation_id = "createSchedule", tag = "schedules",
    request_body = NewSchedule,
    responses(
        (status = 201, description = "Scheduled", body = Schedule),
        (status = 400, description = "Neither or both of asset_id and tag, or an invalid timing or tag", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
        (status = 409, description = "The asset is archived, or the organization keeps 1000 schedules already", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewSchedule>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    match body.asset_id {
        Some(asset_id) => principal.require_asset(asset_id, "asset")?,
        None => principal.require_unlimited("scheduling scans by tag")?,
    }
    let schedule = state.base.create_schedule(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), schedule_id = %schedule.id, "schedule created");
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// The organization's recurring scans (scans:read)
#[utoipa::path(get, path = "/api/v1/schedules", operation_id = "listSchedules", tag = "schedules",
    responses((status = 200, description = "The schedules, oldest first", body = List<Schedule>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Schedule>>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    let mut items = state.base.list_schedules(principal.org_id).await?;
    items.retain(|schedule| sees(&principal, schedule));
    Ok(Json(List { items }))
}

/// One recurring scan, with when it is next due and what it last did (scans:read)
#[utoipa::path(get, path = "/api/v1/schedules/{schedule_id}", operation_id = "getSchedule", tag = "schedules",
    params(("schedule_id" = ScheduleId, Path)),
    responses((status = 200, description = "The schedule", body = Schedule)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(schedule_id): ApiPath<ScheduleId>,
) -> Result<Json<Schedule>, ApiError> {
    principal.require(Resource::Scans, Access::Read)?;
    Ok(Json(visible(&state, &principal, schedule_id).await?))
}

/// Change, pause or resume a recurring scan (scans:write)
///
/// A new pattern or time zone, or a resume, makes it due next at the first time after now; a
/// pause empties `next_run_at`.
#[utoipa::path(patch, path = "/api/v1/schedules/{schedule_id}", operation_id = "updateSchedule", tag = "schedules",
    params(("schedule_id" = ScheduleId, Path)),
    request_body = UpdateSchedule,
    responses((status = 200, description = "The schedule", body = Schedule)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(schedule_id): ApiPath<ScheduleId>,
    PublicJson(body): PublicJson<UpdateSchedule>,
) -> Result<Json<Schedule>, ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    visible(&state, &principal, schedule_id).await?;
    let schedule = state
        .base
        .update_schedule(principal.org_id, schedule_id, &body)
        .await?;
    Ok(Json(schedule))
}

/// Delete a recurring scan (scans:write)
///
/// The scans it started stay.
#[utoipa::path(delete, path = "/api/v1/schedules/{schedule_id}", operation_id = "deleteSchedule", tag = "schedules",
    params(("schedule_id" = ScheduleId, Path)),
    responses((status = 200, description = "The deleted schedule", body = Schedule)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(schedule_id): ApiPath<ScheduleId>,
) -> Result<Json<Schedule>, ApiError> {
    principal.require(Resource::Scans, Access::Write)?;
    visible(&state, &principal, schedule_id).await?;
    let schedule = state
        .base
        .delete_schedule(principal.org_id, schedule_id)
        .await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %schedule_id, "schedule deleted");
    Ok(Json(schedule))
}

/// The schedule, when the caller may see its asset; "not found" otherwise.
async fn visible(
    state: &AppState,
    principal: &Principal,
    schedule_id: ScheduleId,
) -> Result<Schedule, ApiError> {
    let schedule = state
        .base
        .get_schedule(principal.org_id, schedule_id)
        .await?;
    if !sees(principal, &schedule) {
        return Err(ApiError::not_found("schedule"));
    }
    Ok(schedule)
}

/// A schedule of one asset is seen by whoever sees the asset; one of a tag, which reaches
/// any asset, only by callers not limited to assigned assets.
fn sees(principal: &Principal, schedule: &Schedule) -> bool {
    match schedule.asset_id {
        Some(asset_id) => principal.sees_asset(asset_id),
        None => principal.asset_scope.is_none(),
    }
}
