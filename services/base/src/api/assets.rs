use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::api::{List, Page, RecordVerification};
use s4e_types::inventory::{AssetService, AssetTechnology, ServiceQuery, TechnologyQuery};
use s4e_types::surface::{SurfaceDiff, SurfaceDiffQuery, SurfacePage, SurfaceQuery};
use s4e_types::{
    Asset, AssetId, AssetListQuery, AssetTags, BulkAssetTags, BulkAssetTagsResult, ImportRow,
    NewAsset, OrgId, UpdateAsset,
};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn create(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::assets::create(&mut change, org_id, &body).await?;
    change.commit(org_id, Some(asset.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<AssetListQuery>,
) -> Result<Json<Page<Asset>>, ApiError> {
    let limit = s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::assets::list(&pool, org_id, &query, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn set_tags(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
    ApiJson(body): ApiJson<AssetTags>,
) -> Result<Json<Asset>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::assets::set_tags(&mut change, org_id, asset_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(asset))
}

pub async fn bulk_tags(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<BulkAssetTags>,
) -> Result<Json<BulkAssetTagsResult>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let result = db::assets::bulk_tags(&mut change, org_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(result))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
    ApiJson(body): ApiJson<UpdateAsset>,
) -> Result<Json<Asset>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::assets::update(&mut change, org_id, asset_id, &body).await?;
    change.commit(org_id, None).await?;
    Ok(Json(asset))
}

pub async fn archive(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
) -> Result<Json<Asset>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::assets::archive(&mut change, org_id, asset_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(asset))
}

pub async fn record_verification(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
    ApiJson(body): ApiJson<RecordVerification>,
) -> Result<Json<Asset>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let asset = db::assets::record_verification(
        &mut change,
        org_id,
        asset_id,
        body.proven_by,
        body.keep_proof_younger_than_seconds,
    )
    .await?;
    change.commit(org_id, None).await?;
    Ok(Json(asset))
}

pub async fn verified_domains(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<String>>, ApiError> {
    let items = db::assets::verified_domains(&pool, org_id).await?;
    Ok(Json(List { items }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    older_than_seconds: u32,
    #[serde(default = "default_due_limit")]
    limit: u16,
}

fn default_due_limit() -> u16 {
    100
}

/// Across organizations, for the scheduler: verified assets due to be proven again.
pub async fn due_for_reverification(
    State(pool): State<PgPool>,
    ApiQuery(query): ApiQuery<DueQuery>,
) -> Result<Json<List<Asset>>, ApiError> {
    let items = db::assets::due_for_reverification(
        &pool,
        i64::from(query.older_than_seconds),
        i64::from(query.limit.clamp(1, 1000)),
    )
    .await?;
    Ok(Json(List { items }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, asset_id)): ApiPath<(OrgId, AssetId)>,
) -> Result<Json<Asset>, ApiError> {
    Ok(Json(db::assets::get(&pool, org_id, asset_id).await?))
}

pub async fn services(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<ServiceQuery>,
) -> Result<Json<Page<AssetService>>, ApiError> {
    let limit = s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::services::list(&pool, org_id, &query, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn technologies(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<TechnologyQuery>,
) -> Result<Json<Page<AssetTechnology>>, ApiError> {
    let limit = s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::technologies::list(&pool, org_id, &query, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn import(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<List<NewAsset>>,
) -> Result<Json<List<ImportRow>>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let items = db::assets::import(&mut change, org_id, &body.items).await?;
    change.commit(org_id, None).await?;
    Ok(Json(List { items }))
}

pub async fn surface_changes(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<SurfaceQuery>,
) -> Result<Json<SurfacePage>, ApiError> {
    let limit = s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    Ok(Json(db::surface::list(&pool, org_id, &query, limit).await?))
}

pub async fn surface_diff(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<SurfaceDiffQuery>,
) -> Result<Json<SurfaceDiff>, ApiError> {
    Ok(Json(
        db::surface::diff_between(&pool, org_id, &query).await?,
    ))
}
