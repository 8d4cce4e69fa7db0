//! Users and invitations. Passwords arrive hashed (Argon2id, by the gateway); base stores the
//! hash and hands it back only to the credentials lookup.

use chrono::{DateTime, Utc};
use s4e_types::account::{
    AcceptInvitation, Invitation, NewInvitation, NewOrganizationWithOwner, OrganizationWithOwner,
    UserCredentials, normalize_email,
};
use s4e_types::{AssetId, InvitationId, OrgId, Role, User, UserId};
use sqlx::{Connection, PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::{DbError, unique_violation};

macro_rules! user_columns {
    () => {
        "id, org_id, email, role, created_at, password_changed_at, \
         totp_secret IS NOT NULL AS totp_enabled, asset_scope"
    };
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    org_id: Uuid,
    email: String,
    role: String,
    created_at: DateTime<Utc>,
    password_changed_at: DateTime<Utc>,
    totp_enabled: bool,
    asset_scope: Option<Vec<Uuid>>,
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(row: UserRow) -> Result<Self, DbError> {
        Ok(User {
            id: UserId(row.id),
            org_id: OrgId(row.org_id),
            email: row.email,
            role: parse_role(&row.role)?,
            created_at: row.created_at,
            password_changed_at: row.password_changed_at,
            totp_enabled: row.totp_enabled,
            asset_scope: row
                .asset_scope
                .map(|ids| ids.into_iter().map(AssetId).collect()),
        })
    }
}

fn parse_role(role: &str) -> Result<Role, DbError> {
    Role::parse(role).ok_or_else(|| DbError::Corrupt(format!("unknown role {role:?}")))
}

fn email(value: &str) -> Result<String, DbError> {
    normalize_email(value).map_err(|message| DbError::Invalid(message.into()))
}

/// A PHC string of Argon2id: anything else means the caller skipped hashing.
fn password_hash(value: &str) -> Result<&str, DbError> {
    if value.starts_with("$argon2id$") && value.len() < 512 {
        Ok(value)
    } else {
        Err(DbError::Invalid(
            "password_hash: must be an Argon2id PHC string".into(),
        ))
    }
}

fn sha256_hex(value: &str, field: &str) -> Result<String, DbError> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(DbError::Invalid(format!(
            "{field}: must be 64 hex characters"
        )))
    }
}

fn email_taken(error: sqlx::Error) -> DbError {
    match unique_violation(&error) {
        Some(_) => DbError::Conflict("a user with this e-mail exists".into()),
        None => DbError::Database(error),
    }
}

async fn insert_user(
    connection: &mut PgConnection,
    org_id: OrgId,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<User, DbError> {
    sqlx::query_as::<_, UserRow>(concat!(
        "INSERT INTO users (id, org_id, email, password_hash, role) VALUES ($1, $2, $3, $4, $5)
         RETURNING ",
        user_columns!()
    ))
    .bind(UserId::new().0)
    .bind(org_id.0)
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(connection)
    .await
    .map_err(email_taken)?
    .try_into()
}

/// A new organization and its owner, in one transaction: no organization is left without one.
pub async fn create_organization_with_owner(
    pool: &PgPool,
    body: &NewOrganizationWithOwner,
) -> Result<OrganizationWithOwner, DbError> {
    let name = body.organization_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DbError::Invalid(
            "organization_name: must be 1-200 characters".into(),
        ));
    }
    let email = email(&body.email)?;
    let hash = password_hash(&body.password_hash)?;
    let mut tx = pool.begin().await?;
    let organization = super::organizations::insert(&mut tx, name, body.is_partner).await?;
    let owner = insert_user(&mut tx, organization.id, &email, hash, Role::Owner).await?;
    tx.commit().await?;
    Ok(OrganizationWithOwner {
        organization,
        owner,
    })
}

/// The user with this e-mail and their password hash, for a login.
pub async fn credentials(pool: &PgPool, email_address: &str) -> Result<UserCredentials, DbError> {
    let Ok(email) = normalize_email(email_address) else {
        return Err(DbError::NotFound("user"));
    };
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
        totp_secret: Option<String>,
        totp_pending_secret: Option<String>,
    }
    let row = sqlx::query_as::<_, Row>(concat!(
        "SELECT ",
        user_columns!(),
        ", password_hash, totp_secret, totp_pending_secret FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("user"))?;
    Ok(UserCredentials {
        user: row.user.try_into()?,
        password_hash: row.password_hash,
        totp_secret: row.totp_secret,
        totp_pending_secret: row.totp_pending_secret,
    })
}

/// Sealed secrets are the gateway's; base only refuses what is obviously not one.
fn sealed(value: &str) -> Result<&str, DbError> {
    if value.starts_with("v1:") && value.len() < 512 {
        Ok(value)
    } else {
        Err(DbError::Invalid(
            "sealed_secret: not a sealed secret".into(),
        ))
    }
}

/// Stores a secret being enrolled; refused while a second factor is active (disable it first).
pub async fn set_pending_totp(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    sealed_secret: &str,
) -> Result<User, DbError> {
    let sealed_secret = sealed(sealed_secret)?;
    let updated = sqlx::query_as::<_, UserRow>(concat!(
        "UPDATE users SET totp_pending_secret = $3
         WHERE org_id = $1 AND id = $2 AND totp_secret IS NULL RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .bind(sealed_secret)
    .fetch_optional(&mut *conn)
    .await?;
    match updated {
        Some(row) => row.try_into(),
        None => {
            get(&mut *conn, org_id, user_id).await?;
            Err(DbError::Conflict(
                "a second factor is already active; disable it first".into(),
            ))
        }
    }
}

/// Makes the pending secret the active one.
pub async fn enable_totp(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
) -> Result<User, DbError> {
    let updated = sqlx::query_as::<_, UserRow>(concat!(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                          totp_enabled_at = now()
         WHERE org_id = $1 AND id = $2 AND totp_pending_secret IS NOT NULL RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .fetch_optional(&mut *conn)
    .await?;
    match updated {
        Some(row) => row.try_into(),
        None => {
            get(&mut *conn, org_id, user_id).await?;
            Err(DbError::Conflict(
                "no second factor is being enrolled".into(),
            ))
        }
    }
}

pub async fn disable_totp(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
) -> Result<User, DbError> {
    sqlx::query_as::<_, UserRow>(concat!(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL
         WHERE org_id = $1 AND id = $2 RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("user"))?
    .try_into()
}

/// The organization's users, oldest first, `limit` after `after`; the cursor of the next page
/// when there is one.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<User>, Option<Uuid>), DbError> {
    let users = sqlx::query_as::<_, UserRow>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE org_id = $1
           AND ($2::uuid IS NULL OR (created_at, id) >
                (SELECT c.created_at, c.id FROM users c WHERE c.org_id = $1 AND c.id = $2))
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(org_id.0)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect::<Result<Vec<User>, _>>()?;
    Ok(super::page(users, limit, |user| user.id.0))
}

pub async fn get(
    executor: impl PgExecutor<'_>,
    org_id: OrgId,
    user_id: UserId,
) -> Result<User, DbError> {
    sqlx::query_as::<_, UserRow>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .fetch_optional(executor)
    .await?
    .ok_or(DbError::NotFound("user"))?
    .try_into()
}

/// Locks the organization's users and refuses a change that would leave it without an owner.
async fn keep_an_owner(
    connection: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    new_role: Option<Role>,
) -> Result<User, DbError> {
    let users: Vec<User> = sqlx::query_as::<_, UserRow>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE org_id = $1 ORDER BY id FOR UPDATE"
    ))
    .bind(org_id.0)
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect::<Result<_, _>>()?;
    let user = users
        .iter()
        .find(|user| user.id == user_id)
        .cloned()
        .ok_or(DbError::NotFound("user"))?;
    let owners_after = users
        .iter()
        .filter(|other| {
            let role = if other.id == user_id {
                new_role
            } else {
                Some(other.role)
            };
            role == Some(Role::Owner)
        })
        .count();
    if owners_after == 0 {
        return Err(DbError::Conflict(
            "an organization keeps at least one owner".into(),
        ));
    }
    Ok(user)
}

pub async fn set_role(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    role: Role,
) -> Result<User, DbError> {
    let mut tx = conn.begin().await?;
    keep_an_owner(&mut tx, org_id, user_id, Some(role)).await?;
    let user = sqlx::query_as::<_, UserRow>(concat!(
        // Admins and owners see everything: a limit would only mislead.
        "UPDATE users SET role = $3,
                asset_scope = CASE WHEN $3 IN ('admin', 'owner') THEN NULL ELSE asset_scope END
         WHERE org_id = $1 AND id = $2 RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .bind(role.as_str())
    .fetch_one(&mut *tx)
    .await?
    .try_into()?;
    tx.commit().await?;
    Ok(user)
}

pub async fn delete(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
) -> Result<User, DbError> {
    let mut tx = conn.begin().await?;
    let user = keep_an_owner(&mut tx, org_id, user_id, None).await?;
    sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
        .bind(org_id.0)
        .bind(user_id.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn set_password(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    new_hash: &str,
) -> Result<User, DbError> {
    let hash = password_hash(new_hash)?;
    sqlx::query_as::<_, UserRow>(concat!(
        "UPDATE users SET password_hash = $3, password_changed_at = now()
         WHERE org_id = $1 AND id = $2 RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("user"))?
    .try_into()
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    org_id: Uuid,
    email: String,
    role: String,
    invited_by: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = DbError;
    fn try_from(row: InvitationRow) -> Result<Self, DbError> {
        Ok(Invitation {
            id: InvitationId(row.id),
            org_id: OrgId(row.org_id),
            email: row.email,
            role: parse_role(&row.role)?,
            invited_by: UserId(row.invited_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
        })
    }
}

macro_rules! invitation_columns {
    () => {
        "id, org_id, email, role, invited_by, created_at, expires_at, accepted_at"
    };
}

pub async fn invite(
    conn: &mut PgConnection,
    org_id: OrgId,
    body: &NewInvitation,
) -> Result<Invitation, DbError> {
    let email = email(&body.email)?;
    let token_hash = sha256_hex(&body.token_hash, "token_hash")?;
    if body.expires_at <= Utc::now() {
        return Err(DbError::Invalid("expires_at: must be in the future".into()));
    }
    // The inviter must belong to the organization, or to the partner that manages it (a
    // partner brings in its customer's first people): the row names them.
    sqlx::query_as::<_, InvitationRow>(concat!(
        "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, expires_at)
         SELECT $1, o.id, $3, $4, $5, u.id, $7
         FROM organizations o JOIN users u ON u.org_id IN (o.id, o.partner_org_id)
         WHERE o.id = $2 AND u.id = $6
         RETURNING ",
        invitation_columns!()
    ))
    .bind(InvitationId::new().0)
    .bind(org_id.0)
    .bind(&email)
    .bind(body.role.as_str())
    .bind(token_hash)
    .bind(body.invited_by.0)
    .bind(body.expires_at)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|error| match unique_violation(&error) {
        Some(_) => DbError::Conflict("an invitation with this token exists".into()),
        None => DbError::Database(error),
    })?
    .ok_or(DbError::NotFound("user"))?
    .try_into()
}

pub async fn invitations(pool: &PgPool, org_id: OrgId) -> Result<Vec<Invitation>, DbError> {
    sqlx::query_as::<_, InvitationRow>(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE org_id = $1
         ORDER BY created_at DESC, id LIMIT 1000"
    ))
    .bind(org_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect()
}

/// Creates the invited user and spends the invitation, once: a second acceptance, an expired
/// invitation and an unknown token are all "not found", so a token cannot be probed.
pub async fn accept_invitation(pool: &PgPool, body: &AcceptInvitation) -> Result<User, DbError> {
    let token_hash = sha256_hex(&body.token_hash, "token_hash")?;
    let hash = password_hash(&body.password_hash)?;
    let mut tx = pool.begin().await?;
    let invitation: Invitation = sqlx::query_as::<_, InvitationRow>(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations
         WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > now()
         FOR UPDATE"
    ))
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound("invitation"))?
    .try_into()?;
    let user = insert_user(
        &mut tx,
        invitation.org_id,
        &invitation.email,
        hash,
        invitation.role,
    )
    .await?;
    sqlx::query("UPDATE invitations SET accepted_at = now() WHERE id = $1")
        .bind(invitation.id.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

/// Limits a member or viewer to `asset_ids` (every one the organization's), or lifts the limit.
pub async fn set_asset_scope(
    conn: &mut PgConnection,
    org_id: OrgId,
    user_id: UserId,
    asset_ids: Option<&[AssetId]>,
) -> Result<User, DbError> {
    let user = get(&mut *conn, org_id, user_id).await?;
    if asset_ids.is_some() && matches!(user.role, Role::Admin | Role::Owner) {
        return Err(DbError::Invalid(
            "asset_ids: only members and viewers can be limited to assets".into(),
        ));
    }
    let ids: Option<Vec<Uuid>> = asset_ids.map(|ids| {
        let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        ids.sort();
        ids.dedup();
        ids
    });
    if let Some(ids) = &ids {
        if ids.len() > 10_000 {
            return Err(DbError::Invalid("asset_ids: at most 10000".into()));
        }
        let (known,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM assets WHERE org_id = $1 AND id = ANY($2)")
                .bind(org_id.0)
                .bind(ids)
                .fetch_one(&mut *conn)
                .await?;
        if usize::try_from(known).ok() != Some(ids.len()) {
            return Err(DbError::NotFound("asset"));
        }
    }
    sqlx::query_as::<_, UserRow>(concat!(
        "UPDATE users SET asset_scope = $3 WHERE org_id = $1 AND id = $2 RETURNING ",
        user_columns!()
    ))
    .bind(org_id.0)
    .bind(user_id.0)
    .bind(ids)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("user"))?
    .try_into()
}
