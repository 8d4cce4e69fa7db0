use s4e_types::api::{ApiKeyRecord, NewApiKey};
use s4e_types::{ApiKeyId, OrgId};
use sqlx::PgPool;
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
        }
    }
}

pub async fn create(
    pool: &PgPool,
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
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, scopes)
         SELECT $1, o.id, $3, $4, $5, $6 FROM organizations o WHERE o.id = $2
         RETURNING id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked",
    )
    .bind(ApiKeyId::new().0)
    .bind(org_id.0)
    .bind(key.name.trim())
    .bind(&key.prefix)
    .bind(key.key_hash.to_ascii_lowercase())
    .bind(&key.scopes)
    .fetch_optional(pool)
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
        "SELECT id, org_id, name, prefix, scopes, revoked_at IS NOT NULL AS revoked
         FROM api_keys
         WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(key_hash.to_ascii_lowercase())
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("api key"))
}
