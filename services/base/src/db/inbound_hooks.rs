//! Inbound hooks (`s4e_types::webhook::InboundHook`): a signed call starts a scan of the hook's
//! asset. Base keeps each hook's sealed secret and, for replay protection, the message ids of
//! the calls it accepted (kept a day; a call older than the trigger's tolerance is refused
//! anyway).

use chrono::{DateTime, Duration, Utc};
use s4e_types::webhook::{
    InboundHook, InboundMessage, MAX_INBOUND_HOOKS, SealedInboundHook, StoreInboundHook,
    UpdateInboundHook,
};
use s4e_types::{AssetId, CheckKind, InboundHookId, OrgId, ScanProfile};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::DbError;

/// How long a message id is remembered: far longer than any tolerance of timestamps.
const REMEMBER: Duration = Duration::hours(24);

#[derive(sqlx::FromRow)]
struct HookRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    name: Option<String>,
    profile: Option<String>,
    checks: Option<Vec<String>>,
    disabled: bool,
    last_called_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    sealed_secret: String,
}

macro_rules! hook_columns {
    () => {
        "id, org_id, asset_id, name, profile, checks, disabled, last_called_at, created_at, \
         sealed_secret"
    };
}

impl TryFrom<HookRow> for SealedInboundHook {
    type Error = DbError;
    fn try_from(row: HookRow) -> Result<Self, DbError> {
        let profile = match row.profile.as_deref() {
            None => None,
            Some(profile) => Some(
                ScanProfile::parse(profile)
                    .ok_or_else(|| DbError::Corrupt(format!("unknown profile {profile:?}")))?,
            ),
        };
        let checks = match row.checks {
            None => None,
            Some(checks) => Some(
                checks
                    .iter()
                    .map(|check| {
                        CheckKind::parse(check)
                            .ok_or_else(|| DbError::Corrupt(format!("unknown check {check:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(SealedInboundHook {
            hook: InboundHook {
                id: InboundHookId(row.id),
                org_id: OrgId(row.org_id),
                name: row.name,
                asset_id: AssetId(row.asset_id),
                profile,
                checks,
                disabled: row.disabled,
                last_called_at: row.last_called_at,
                created_at: row.created_at,
            },
            sealed_secret: row.sealed_secret,
        })
    }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    new: &StoreInboundHook,
) -> Result<InboundHook, DbError> {
    let hook = &new.hook;
    super::check_chars("name", hook.name.as_deref(), 200)?;
    if hook.checks.as_ref().is_some_and(|checks| checks.len() > 20) {
        return Err(DbError::Invalid("checks: at most 20".into()));
    }
    let mut tx = conn.begin().await?;
    super::assets::require_scannable(&mut tx, org_id, hook.asset_id).await?;
    super::organizations::lock(&mut tx, org_id).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM inbound_hooks WHERE org_id = $1")
        .bind(org_id.0)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_INBOUND_HOOKS {
        return Err(DbError::Conflict(format!(
            "an organization keeps at most {MAX_INBOUND_HOOKS} inbound hooks"
        )));
    }
    let checks: Option<Vec<&str>> = hook
        .checks
        .as_ref()
        .map(|checks| checks.iter().map(|check| check.as_str()).collect());
    let row = sqlx::query_as::<_, HookRow>(concat!(
        "INSERT INTO inbound_hooks (id, org_id, asset_id, name, profile, checks, sealed_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING ",
        hook_columns!()
    ))
    .bind(InboundHookId::new().0)
    .bind(org_id.0)
    .bind(hook.asset_id.0)
    .bind(&hook.name)
    .bind(hook.profile.map(|profile| profile.as_str()))
    .bind(&checks)
    .bind(&new.sealed_secret)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SealedInboundHook::try_from(row)?.hook)
}

pub async fn list(pool: &PgPool, org_id: OrgId) -> Result<Vec<InboundHook>, DbError> {
    sqlx::query_as::<_, HookRow>(concat!(
        "SELECT ",
        hook_columns!(),
        " FROM inbound_hooks WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| SealedInboundHook::try_from(row).map(|sealed| sealed.hook))
    .collect()
}

/// The hook with its sealed secret.
pub async fn get(
    pool: &PgPool,
    org_id: OrgId,
    id: InboundHookId,
) -> Result<SealedInboundHook, DbError> {
    sqlx::query_as::<_, HookRow>(concat!(
        "SELECT ",
        hook_columns!(),
        " FROM inbound_hooks WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("inbound hook"))?
    .try_into()
}

/// The hook called at its public URL, whatever its organization (the id is the capability;
/// the signature proves the caller).
pub async fn by_id(pool: &PgPool, id: InboundHookId) -> Result<SealedInboundHook, DbError> {
    sqlx::query_as::<_, HookRow>(concat!(
        "SELECT ",
        hook_columns!(),
        " FROM inbound_hooks WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("inbound hook"))?
    .try_into()
}

pub async fn update(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: InboundHookId,
    change: &UpdateInboundHook,
) -> Result<InboundHook, DbError> {
    super::check_chars("name", change.name.as_deref(), 200)?;
    let row = sqlx::query_as::<_, HookRow>(concat!(
        "UPDATE inbound_hooks SET name = coalesce($3, name), disabled = coalesce($4, disabled)
         WHERE org_id = $1 AND id = $2
         RETURNING ",
        hook_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(&change.name)
    .bind(change.disabled)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("inbound hook"))?;
    Ok(SealedInboundHook::try_from(row)?.hook)
}

pub async fn delete(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: InboundHookId,
) -> Result<InboundHook, DbError> {
    let row = sqlx::query_as::<_, HookRow>(concat!(
        "DELETE FROM inbound_hooks WHERE org_id = $1 AND id = $2 RETURNING ",
        hook_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("inbound hook"))?;
    Ok(SealedInboundHook::try_from(row)?.hook)
}

/// Records a call's message id for the hook: `Conflict` when it was recorded before (a replay).
/// Ids older than a day are forgotten on the way.
pub async fn record_message(
    pool: &PgPool,
    org_id: OrgId,
    id: InboundHookId,
    message: &InboundMessage,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM inbound_hook_messages WHERE hook_id = $1 AND received_at < $2")
        .bind(id.0)
        .bind(message.received_at - REMEMBER)
        .execute(&mut *tx)
        .await?;
    let recorded = sqlx::query(
        "INSERT INTO inbound_hook_messages (hook_id, message_id, received_at)
         SELECT h.id, $3, $4 FROM inbound_hooks h WHERE h.org_id = $1 AND h.id = $2
         ON CONFLICT (hook_id, message_id) DO NOTHING",
    )
    .bind(org_id.0)
    .bind(id.0)
    .bind(&message.message_id)
    .bind(message.received_at)
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() == 0 {
        return Err(DbError::Conflict(
            "this message was received before (a replay)".into(),
        ));
    }
    sqlx::query("UPDATE inbound_hooks SET last_called_at = $2 WHERE id = $1")
        .bind(id.0)
        .bind(message.received_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
