//! The surface's changes (`s4e_types::surface`), written by the changes themselves (an asset
//! registered or archived, a service seen or gone) in their transaction, and read as a timeline
//! and as a diff between two dates.

use chrono::{DateTime, Utc};
use s4e_types::surface::{
    MAX_DIFF_CHANGES, SurfaceChange, SurfaceChangeKind, SurfaceDiff, SurfaceDiffQuery, SurfacePage,
    SurfaceQuery, diff,
};
use s4e_types::{AssetId, OrgId};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::DbError;

pub async fn record(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    kind: SurfaceChangeKind,
    port: Option<u16>,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO surface_changes (id, org_id, asset_id, kind, port, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(kind.as_str())
    .bind(port.map(i32::from))
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: Uuid,
    asset_id: Uuid,
    kind: String,
    port: Option<i32>,
    detail: serde_json::Value,
    occurred_at: DateTime<Utc>,
}

impl TryFrom<ChangeRow> for SurfaceChange {
    type Error = DbError;
    fn try_from(row: ChangeRow) -> Result<Self, DbError> {
        Ok(SurfaceChange {
            id: row.id,
            asset_id: AssetId(row.asset_id),
            kind: SurfaceChangeKind::parse(&row.kind)
                .ok_or_else(|| DbError::Corrupt(format!("surface change {:?}", row.kind)))?,
            port: row.port,
            detail: row.detail,
            occurred_at: row.occurred_at,
        })
    }
}

/// The organization's changes, newest first, filtered, in pages.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &SurfaceQuery,
    limit: u32,
) -> Result<SurfacePage, DbError> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, asset_id, kind, port, detail, occurred_at FROM surface_changes WHERE org_id = ",
    );
    sql.push_bind(org_id.0);
    if let Some(asset_id) = query.asset_id {
        sql.push(" AND asset_id = ").push_bind(asset_id.0);
    }
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(since) = query.since {
        sql.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = query.until {
        sql.push(" AND occurred_at < ").push_bind(until);
    }
    if let Some(before) = query.before {
        sql.push(
            " AND (occurred_at, id) < (SELECT c.occurred_at, c.id FROM surface_changes c
                                      WHERE c.org_id = ",
        )
        .push_bind(org_id.0)
        .push(" AND c.id = ")
        .push_bind(before)
        .push(")");
    }
    sql.push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = sql
        .build_query_as::<ChangeRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(SurfaceChange::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let (items, next_cursor) = super::page(rows, limit, |change: &SurfaceChange| change.id);
    Ok(SurfacePage { items, next_cursor })
}

/// How the surface at `to` differs from the one at `from`.
pub async fn diff_between(
    pool: &PgPool,
    org_id: OrgId,
    query: &SurfaceDiffQuery,
) -> Result<SurfaceDiff, DbError> {
    if query.from >= query.to {
        return Err(DbError::Invalid("from: must be before to".into()));
    }
    let rows = sqlx::query_as::<_, ChangeRow>(
        "SELECT id, asset_id, kind, port, detail, occurred_at FROM surface_changes
         WHERE org_id = $1 AND occurred_at >= $2 AND occurred_at < $3
         ORDER BY occurred_at, id LIMIT $4",
    )
    .bind(org_id.0)
    .bind(query.from)
    .bind(query.to)
    .bind(MAX_DIFF_CHANGES + 1)
    .fetch_all(pool)
    .await?;
    if rows.len() as i64 > MAX_DIFF_CHANGES {
        return Err(DbError::Invalid(format!(
            "from, to: more than {MAX_DIFF_CHANGES} changes between them; choose closer dates"
        )));
    }
    let changes = rows
        .into_iter()
        .map(SurfaceChange::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let net = diff(changes);
    Ok(SurfaceDiff {
        from: query.from,
        to: query.to,
        added: net.added,
        removed: net.removed,
        changed: net.changed,
    })
}
