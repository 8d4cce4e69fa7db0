//! The organization's people: listing them, inviting, changing roles, removing. Only owners
//! grant, change or take away ownership; nobody changes or removes themselves here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::account::{
    CreateInvitation, CreatedInvitation, Invitation, NewInvitation, SetAssetScope, UserUpdate,
    normalize_email,
};
use s4e_types::api::{ErrorBody, List, Page, PageQuery};
use s4e_types::{Role, User, UserId};

use crate::AppState;
use crate::auth::{Actor, Principal};
use crate::permissions::{Access, Resource};
use crate::session;

/// How long an invitation can be accepted.
const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// The organization's users (users:read)
///
/// Oldest first, in pages of `limit` (default 100, at most 1000) that continue with
/// `after=<next_cursor>`.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "listUsers", tag = "users",
    params(PageQuery),
    responses((status = 200, description = "A page of users", body = Page<User>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    principal.require(Resource::Users, Access::Read)?;
    query.page_size().map_err(ApiError::bad_request)?;
    Ok(Json(state.base.list_users(principal.org_id, &query).await?))
}

/// Ownership is only an owner's to give or take.
fn require_owner_for(principal: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if !roles.contains(&Role::Owner) {
        return Ok(());
    }
    match principal.actor {
        Actor::User {
            role: Role::Owner, ..
        } => Ok(()),
        _ => Err(ApiError::forbidden(
            "only an owner can grant or change ownership",
        )),
    }
}

/// Invite someone with a role (users:write)
///
/// Only owners invite owners; a partner's user may invite into a customer it acts in. The
/// token is shown once; the invitation can be accepted for 7 days.
#[utoipa::path(post, path = "/api/v1/invitations", operation_id = "invite", tag = "users",
    request_body = CreateInvitation,
    responses(
        (status = 201, description = "Invited", body = CreatedInvitation),
        (status = 409, description = "The e-mail is already a user's", body = ErrorBody),
    ))]
pub async fn invite(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<CreateInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    principal.require(Resource::Users, Access::Write)?;
    // The invitation names who invited; a key is nobody.
    let (inviter, _, _) = principal.user()?;
    let email = normalize_email(&body.email).map_err(ApiError::bad_request)?;
    require_owner_for(&principal, &[body.role])?;
    let token = session::random_hex();
    let invitation = state
        .base
        .invite(
            principal.org_id,
            &NewInvitation {
                email,
                role: body.role,
                token_hash: session::id_of(&token),
                invited_by: inviter,
                expires_at: chrono::Utc::now() + INVITATION_LIFETIME,
            },
        )
        .await?;
    tracing::info!(org_id = %principal.org_id, invitation_id = %invitation.id, "user invited");
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation { invitation, token }),
    ))
}

/// The organization's invitations (users:read)
#[utoipa::path(get, path = "/api/v1/invitations", operation_id = "listInvitations", tag = "users",
    responses((status = 200, description = "The invitations", body = List<Invitation>)))]
pub async fn invitations(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Invitation>>, ApiError> {
    principal.require(Resource::Users, Access::Read)?;
    let items = state.base.list_invitations(principal.org_id).await?;
    Ok(Json(List { items }))
}

/// The target user, refused when it is the caller.
async fn other_user(
    state: &AppState,
    principal: &Principal,
    user_id: UserId,
) -> Result<User, ApiError> {
    let user = state.base.get_user(principal.org_id, user_id).await?;
    if let Actor::User { user_id: own, .. } = principal.actor
        && own == user.id
    {
        return Err(ApiError::forbidden(
            "you cannot change or remove your own account here",
        ));
    }
    Ok(user)
}

/// Ends a user's sessions after their rights changed; they sign in again with the new ones.
async fn end_sessions(state: &AppState, user_id: UserId) {
    if let Err(error) = state.sessions.revoke_all(user_id, None).await {
        // Sessions end on their own within the idle period; say so loudly meanwhile.
        tracing::error!(%error, %user_id, "cannot end the sessions of a changed user");
    }
}

/// Change a user's role (users:write)
///
/// Only owners grant or take ownership; not one's own role; an organization keeps an owner.
/// The user's sessions end.
#[utoipa::path(patch, path = "/api/v1/users/{user_id}", operation_id = "updateUser", tag = "users",
    params(("user_id" = UserId, Path)),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 409, description = "The organization would be left without an owner", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(user_id): ApiPath<UserId>,
    PublicJson(body): PublicJson<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    principal.require(Resource::Users, Access::Write)?;
    let user = other_user(&state, &principal, user_id).await?;
    require_owner_for(&principal, &[user.role, body.role])?;
    let updated = state
        .base
        .set_user_role(principal.org_id, user.id, body.role)
        .await?;
    end_sessions(&state, user.id).await;
    Ok(Json(updated))
}

/// Remove a user (users:write)
///
/// Not oneself; an organization keeps an owner. The user's sessions end.
#[utoipa::path(delete, path = "/api/v1/users/{user_id}", operation_id = "deleteUser", tag = "users",
    params(("user_id" = UserId, Path)),
    responses(
        (status = 200, description = "Removed", body = User),
        (status = 409, description = "The organization would be left without an owner", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Json<User>, ApiError> {
    principal.require(Resource::Users, Access::Write)?;
    let user = other_user(&state, &principal, user_id).await?;
    require_owner_for(&principal, &[user.role])?;
    let removed = state.base.delete_user(principal.org_id, user.id).await?;
    end_sessions(&state, user.id).await;
    Ok(Json(removed))
}

/// Limit a member or viewer to assigned assets (users:write)
///
/// Or lift the limit with `"asset_ids": null`; the user's sessions end, so the next sign-in
/// carries the new limit. A limited user sees and acts on those assets only (others answer
/// 404), names one of them in `asset_id` when listing scans or listing and exporting findings,
/// and cannot register or archive assets, change findings in bulk or read the dashboard (403).
#[utoipa::path(put, path = "/api/v1/users/{user_id}/asset-scope", operation_id = "limitUserToAssets", tag = "users",
    params(("user_id" = UserId, Path)),
    request_body = SetAssetScope,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user, or an asset that is not the organization's", body = ErrorBody),
    ))]
pub async fn set_asset_scope(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(user_id): ApiPath<UserId>,
    PublicJson(body): PublicJson<SetAssetScope>,
) -> Result<Json<User>, ApiError> {
    principal.require(Resource::Users, Access::Write)?;
    let user = other_user(&state, &principal, user_id).await?;
    let updated = state
        .base
        .set_asset_scope(principal.org_id, user.id, body.asset_ids)
        .await?;
    end_sessions(&state, user.id).await;
    Ok(Json(updated))
}
