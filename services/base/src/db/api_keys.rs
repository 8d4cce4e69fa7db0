use chrono::{DateTime, Utc};
use s4e_types::api::{ApiKeyRecord, NewApiKey, RateTier};
use s4e_types::{ApiKeyId, OrgId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{DbError, unique_violation};

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    revoked: bool,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    rate_tier: String,
}

impl From<ApiKeyRow> for ApiKeyRecord {
    fn from(row: ApiKeyRow) -> Self {
        ApiKeyRecord {
            id: ApiKeyId(row.id),
            org_id: OrgId(row.org_id),
            name: row.name,
            prefix: row.prefix,
            scopes: row.scopes,
            revoked: row.revoked,
            created_at: row.created_at,
            expires_at: row.expires_at,
            // The column's check keeps it one of the tiers.
            rate_tier: RateTier::parse(&row.rate_tier).unwrap_or_default(),
        }
    }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    key: &NewApiKey,
) -> Result<ApiKeyRecord, DbError> {
    let valid_hash =
        key.key_hash.len() == 64 && key.key_hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid_hash {
        return Err(DbError::Invalid(
            "key_hash: must be 64 hex characters".into(),
        ));
    }
    if key.name.trim().is_empty() || key.name.chars().count() > 200 {
        return Err(DbError::Invalid("name: must be 1-200 characters".into()));
    }
    let row = sqlx::query_as::<_, ApiKeyRow>(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, scopes, expires_at)
         SELECT $1, o.id, $3, $4, $5, $6, $7 FROM organizations o WHERE o.id = $2
         RETURNING id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked, created_at, expires_at,
                   (SELECT o.rate_tier FROM organizations o WHERE o.id = api_keys.org_id) AS rate_tier",
    )
    .bind(ApiKeyId::new().0)
    .bind(org_id.0)
    .bind(key.name.trim())
    .bind(&key.prefix)
    .bind(key.key_hash.to_ascii_lowercase())
    .bind(&key.scopes)
    .bind(key.expires_at)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|error| match unique_violation(&error) {
        Some(_) => DbError::Conflict("an API key with this hash exists".into()),
        None => DbError::Database(error),
    })?;
    row.map(Into::into).ok_or(DbError::NotFound("organization"))
}

/// Looks a key up by its hash. Expired keys are not found; revoked ones are, marked revoked.
pub async fn by_hash(pool: &PgPool, key_hash: &str) -> Result<ApiKeyRecord, DbError> {
    sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked, created_at, expires_at,
                (SELECT o.rate_tier FROM organizations o WHERE o.id = api_keys.org_id) AS rate_tier
         FROM api_keys
         WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(key_hash.to_ascii_lowercase())
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("api key"))
}

/// The organization's keys, newest first; revoked and expired ones included, marked.
/// The organization's keys, newest first, `limit` after `after`; the cursor of the next page
/// when there is one.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<ApiKeyRecord>, Option<Uuid>), DbError> {
    let rows = sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked, created_at,
                expires_at, (SELECT o.rate_tier FROM organizations o WHERE o.id = api_keys.org_id) AS rate_tier
         FROM api_keys WHERE org_id = $1
           AND ($2::uuid IS NULL OR (created_at, id) <
                (SELECT c.created_at, c.id FROM api_keys c WHERE c.org_id = $1 AND c.id = $2))
         ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(org_id.0)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let keys: Vec<ApiKeyRecord> = rows.into_iter().map(Into::into).collect();
    Ok(super::page(keys, limit, |key| key.id.0))
}

/// Revokes a key for good. Revoking it again changes nothing.
pub async fn revoke(
    conn: &mut PgConnection,
    org_id: OrgId,
    key_id: ApiKeyId,
) -> Result<ApiKeyRecord, DbError> {
    sqlx::query_as::<_, ApiKeyRow>(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
         WHERE org_id = $1 AND id = $2
         RETURNING id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked,
                   created_at, expires_at, (SELECT o.rate_tier FROM organizations o WHERE o.id = api_keys.org_id) AS rate_tier",
    )
    .bind(org_id.0)
    .bind(key_id.0)
    .fetch_optional(&mut *conn)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("api key"))
}
