use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use s4e_runtime::extract::{ApiPath, ApiQuery};
use s4e_runtime::{ApiError, ApiJson};
use s4e_types::account::{
    AcceptInvitation, CredentialsLookup, Invitation, NewInvitation, NewOrganizationWithOwner,
    NewPasswordHash, OrganizationWithOwner, PendingTotp, SetAssetScope, UserCredentials,
    UserUpdate,
};
use s4e_types::api::{List, Page, PageQuery};
use s4e_types::{OrgId, User, UserId};
use sqlx::PgPool;

use crate::db;
use crate::db::Change;

pub async fn signup(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<NewOrganizationWithOwner>,
) -> Result<(StatusCode, Json<OrganizationWithOwner>), ApiError> {
    let created = db::users::create_organization_with_owner(&pool, &body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A POST so that the e-mail address stays out of URLs (and access logs).
pub async fn credentials(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<CredentialsLookup>,
) -> Result<Json<UserCredentials>, ApiError> {
    Ok(Json(db::users::credentials(&pool, &body.email).await?))
}

pub async fn list(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    let limit = query.page_size().map_err(ApiError::bad_request)?;
    let (items, next_cursor) = db::users::list(&pool, org_id, query.after, limit).await?;
    Ok(Json(Page { items, next_cursor }))
}

pub async fn get(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(db::users::get(&pool, org_id, user_id).await?))
}

pub async fn update(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user = db::users::set_role(&mut change, org_id, user_id, body.role).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn delete(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user = db::users::delete(&mut change, org_id, user_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn set_password(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<NewPasswordHash>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user = db::users::set_password(&mut change, org_id, user_id, &body.password_hash).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn invite(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let mut change = Change::begin(&pool).await?;
    let invitation = db::users::invite(&mut change, org_id, &body).await?;
    change
        .commit(org_id, Some(invitation.id.to_string()))
        .await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

pub async fn invitations(
    State(pool): State<PgPool>,
    ApiPath(org_id): ApiPath<OrgId>,
) -> Result<Json<List<Invitation>>, ApiError> {
    let items = db::users::invitations(&pool, org_id).await?;
    Ok(Json(List { items }))
}

pub async fn accept_invitation(
    State(pool): State<PgPool>,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = db::users::accept_invitation(&pool, &body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn set_pending_totp(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<PendingTotp>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user =
        db::users::set_pending_totp(&mut change, org_id, user_id, &body.sealed_secret).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn enable_totp(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user = db::users::enable_totp(&mut change, org_id, user_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn disable_totp(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user = db::users::disable_totp(&mut change, org_id, user_id).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}

pub async fn set_asset_scope(
    State(pool): State<PgPool>,
    ApiPath((org_id, user_id)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<SetAssetScope>,
) -> Result<Json<User>, ApiError> {
    let mut change = Change::begin(&pool).await?;
    let user =
        db::users::set_asset_scope(&mut change, org_id, user_id, body.asset_ids.as_deref()).await?;
    change.commit(org_id, None).await?;
    Ok(Json(user))
}
