use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{FailRun, FinishJob, JobFinished, List, NewScanRun, ScanRunWithJobs};
use s4e_types::{JobId, OrgId, RunId, RunPage, RunQuery, ScanJob, ScanRun};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewScanRun>,
) -> Result<(StatusCode, Json<ScanRunWithJobs>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let created = db::runs::create(&mut change, org_id, &body).await?;
    change
        .commit(org_id, Some(created.run.id.to_string()))
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(filter): ApiQuery<RunQuery>,
) -> Result<Json<RunPage>, ApiError> {
    Ok(Json(db::runs::list(&pool, org_id, &filter).await?))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, run_id)): ApiPath<(OrgId, RunId)>,
) -> Result<Json<ScanRun>, ApiError> {
    Ok(Json(db::runs::get(&pool, org_id, run_id).await?))
}

pub async fn fail(
    State(pool): State<PgPool>,
    ApiPath((org_id, run_id)): ApiPath<(OrgId, RunId)>,
    ApiJson(body): ApiJson<FailRun>,
) -> Result<Json<ScanRun>, ApiError> {
    Ok(Json(
        db::runs::fail(&pool, org_id, run_id, &body.error).await?,
    ))
}

pub async fn cancel(
    State(pool): State<PgPool>,
    ApiPath((org_id, run_id)): ApiPath<(OrgId, RunId)>,
) -> Result<Json<ScanRun>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let run = db::runs::cancel(&mut change, org_id, run_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(run))
}

pub async fn jobs(
    State(pool): State<PgPool>,
    ApiPath((org_id, run_id)): ApiPath<(OrgId, RunId)>,
) -> Result<Json<List<ScanJob>>, ApiError> {
    let items = db::runs::jobs(&pool, org_id, run_id).await?;
    Ok(Json(List { items }))
}

pub async fn get_job(
    State(pool): State<PgPool>,
    ApiPath((org_id, job_id)): ApiPath<(OrgId, JobId)>,
) -> Result<Json<ScanJob>, ApiError> {
    Ok(Json(db::runs::get_job(&pool, org_id, job_id).await?))
}

pub async fn start_job(
    State(pool): State<PgPool>,
    ApiPath((org_id, job_id)): ApiPath<(OrgId, JobId)>,
) -> Result<Json<ScanJob>, ApiError> {
    Ok(Json(db::runs::start_job(&pool, org_id, job_id).await?))
}

pub async fn finish_job(
    State(pool): State<PgPool>,
    ApiPath((org_id, job_id)): ApiPath<(OrgId, JobId)>,
    ApiJson(body): ApiJson<FinishJob>,
) -> Result<Json<JobFinished>, ApiError> {
    Ok(Json(
        db::runs::finish_job(&pool, org_id, job_id, &body).await?,
    ))
}
