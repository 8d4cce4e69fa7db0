use chrono::{DateTime, Utc};
use s4e_types::{Asset, AssetId, AssetKind, NewAsset, OrgId};
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, unique_violation};

#[derive(sqlx::FromRow)]
struct AssetRow {
    id: Uuid,
    org_id: Uuid,
    kind: String,
    value: String,
    name: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<AssetRow> for Asset {
    type Error = DbError;
    fn try_from(row: AssetRow) -> Result<Self, DbError> {
        let kind = AssetKind::parse(&row.kind)
            .ok_or_else(|| DbError::Corrupt(format!("unknown asset kind {:?}", row.kind)))?;
        Ok(Asset {
            id: AssetId(row.id),
            org_id: OrgId(row.org_id),
            kind,
            value: row.value,
            name: row.name,
            created_at: row.created_at,
        })
    }
}

pub async fn create(pool: &PgPool, org_id: OrgId, asset: &NewAsset) -> Result<Asset, DbError> {
    let asset = asset
        .normalized()
        .map_err(|error| DbError::Invalid(error.to_string()))?;
    let row = sqlx::query_as::<_, AssetRow>(
        "INSERT INTO assets (id, org_id, kind, value, name)
         SELECT $1, o.id, $3, $4, $5 FROM organizations o WHERE o.id = $2
         RETURNING id, org_id, kind, value, name, created_at",
    )
    .bind(AssetId::new().0)
    .bind(org_id.0)
    .bind(asset.kind.as_str())
    .bind(&asset.value)
    .bind(&asset.name)
    .fetch_optional(pool)
    .await
    .map_err(|error| match unique_violation(&error) {
        Some(_) => DbError::Conflict(format!("asset {} is already registered", asset.value)),
        None => DbError::Database(error),
    })?;
    row.ok_or(DbError::NotFound("organization"))?.try_into()
}

pub async fn list(pool: &PgPool, org_id: OrgId) -> Result<Vec<Asset>, DbError> {
    sqlx::query_as::<_, AssetRow>(
        "SELECT id, org_id, kind, value, name, created_at FROM assets
         WHERE org_id = $1 ORDER BY created_at, id LIMIT 1000",
    )
    .bind(org_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect()
}

pub async fn get(pool: &PgPool, org_id: OrgId, asset_id: AssetId) -> Result<Asset, DbError> {
    sqlx::query_as::<_, AssetRow>(
        "SELECT id, org_id, kind, value, name, created_at FROM assets
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("asset"))?
    .try_into()
}
