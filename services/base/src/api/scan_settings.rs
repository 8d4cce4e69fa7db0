use axum::Json;
use axum::extract::State;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::OrgId;
use s4e_types::api::{FuzzWordlist, ScanSettings};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<ScanSettings>, ApiError> {
    Ok(Json(db::scan_settings::get(&pool, org_id).await?))
}

pub async fn put(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<ScanSettings>,
) -> Result<Json<ScanSettings>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let settings = db::scan_settings::put(&mut change, org_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(settings))
}

pub async fn wordlist(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<FuzzWordlist>, ApiError> {
    Ok(Json(db::fuzz_wordlists::get(&pool, org_id).await?))
}

pub async fn put_wordlist(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<FuzzWordlist>,
) -> Result<Json<FuzzWordlist>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let wordlist = db::fuzz_wordlists::put(&mut change, org_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(wordlist))
}
