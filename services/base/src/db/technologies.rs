//! Technologies per asset and the certificates its TLS ports present, stored from the checks'
//! reports in the report's transaction. A technology seen for the first time, a technology's
//! version changing and a port presenting another certificate are changes of the surface.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use s4e_types::inventory::{
    AssetTechnology, ObservedCertificate, ObservedTechnology, TechnologyCategory, TechnologyQuery,
};
use s4e_types::surface::SurfaceChangeKind;
use s4e_types::{AssetId, OrgId, RunId};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::DbError;

/// The most technologies one report may name.
const MAX_PER_REPORT: usize = 100;

#[derive(sqlx::FromRow)]
struct TechnologyRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    name: String,
    version: Option<String>,
    category: String,
    evidence: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    last_run_id: Uuid,
}

const COLUMNS: &str = "id, org_id, asset_id, name, version, category, evidence, first_seen, \
                       last_seen, last_run_id";

impl TryFrom<TechnologyRow> for AssetTechnology {
    type Error = DbError;
    fn try_from(row: TechnologyRow) -> Result<Self, DbError> {
        Ok(AssetTechnology {
            id: row.id,
            org_id: OrgId(row.org_id),
            asset_id: AssetId(row.asset_id),
            category: TechnologyCategory::parse(&row.category).ok_or_else(|| {
                DbError::Corrupt(format!("technology category {:?}", row.category))
            })?,
            name: row.name,
            version: row.version,
            evidence: row.evidence,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            last_run_id: RunId(row.last_run_id),
        })
    }
}

/// Records what a check identified on the asset: new technologies appear on the surface, a
/// version seen that differs from the one known changes it; the rest are seen again.
pub async fn record(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    run_id: RunId,
    technologies: &[ObservedTechnology],
) -> Result<(), DbError> {
    if technologies.len() > MAX_PER_REPORT {
        return Err(DbError::Invalid(format!(
            "technologies: at most {MAX_PER_REPORT}"
        )));
    }
    // One statement cannot update the same row twice: the first of a name stands.
    let mut seen: Vec<&ObservedTechnology> = Vec::with_capacity(technologies.len());
    for technology in technologies {
        super::check_chars("technologies.name", Some(technology.name.as_str()), 64)?;
        if technology.name.trim().is_empty() {
            return Err(DbError::Invalid("technologies.name: empty".into()));
        }
        super::check_chars("technologies.version", technology.version.as_deref(), 32)?;
        if !seen.iter().any(|known| known.name == technology.name) {
            seen.push(technology);
        }
    }
    if seen.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = seen.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = seen.iter().map(|t| t.name.as_str()).collect();
    let versions: Vec<Option<&str>> = seen.iter().map(|t| t.version.as_deref()).collect();
    let categories: Vec<&str> = seen.iter().map(|t| t.category.as_str()).collect();
    let evidence: Vec<String> = seen
        .iter()
        .map(|t| t.evidence.chars().take(500).collect())
        .collect();
    // The versions known before this sighting (no row: never seen), locked against a
    // concurrent report of the same asset.
    let known: HashMap<String, Option<String>> = sqlx::query_as(
        "SELECT name, version FROM asset_technologies
         WHERE asset_id = $1 AND name = ANY($2) ORDER BY name FOR UPDATE",
    )
    .bind(asset_id.0)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    sqlx::query(
        "INSERT INTO asset_technologies (id, org_id, asset_id, name, version, category,
                                         evidence, last_run_id)
         SELECT t.id, $1, $2, t.name, t.version, t.category, t.evidence, $3
         FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
              AS t (id, name, version, category, evidence)
         ON CONFLICT (asset_id, name) DO UPDATE SET
             version = coalesce(EXCLUDED.version, asset_technologies.version),
             evidence = EXCLUDED.evidence,
             last_seen = now(),
             last_run_id = EXCLUDED.last_run_id",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(run_id.0)
    .bind(&ids)
    .bind(&names)
    .bind(&versions)
    .bind(&categories)
    .bind(&evidence)
    .execute(&mut *conn)
    .await?;
    for (technology, evidence) in seen.iter().zip(&evidence) {
        let change = match known.get(&technology.name) {
            None => Some((
                SurfaceChangeKind::TechnologyAppeared,
                serde_json::json!({
                    "name": technology.name, "version": technology.version,
                    "category": technology.category, "evidence": evidence, "run_id": run_id,
                }),
            )),
            Some(before) if technology.version.is_some() && *before != technology.version => {
                Some((
                    SurfaceChangeKind::TechnologyChanged,
                    serde_json::json!({
                        "name": technology.name, "from": before, "to": technology.version,
                        "evidence": evidence, "run_id": run_id,
                    }),
                ))
            }
            Some(_) => None,
        };
        if let Some((kind, detail)) = change {
            super::surface::record(conn, org_id, asset_id, kind, None, detail).await?;
        }
    }
    Ok(())
}

/// Records the certificate a port of the asset presented; a different one than last time is a
/// change of the surface (the first one seen is not: the port's appearance is).
pub async fn record_certificate(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    run_id: RunId,
    certificate: &ObservedCertificate,
) -> Result<(), DbError> {
    if certificate.port == 0 {
        return Err(DbError::Invalid("certificate.port: 1-65535".into()));
    }
    super::check_chars("certificate.sha256", Some(certificate.sha256.as_str()), 64)?;
    let cut = |text: &str| text.chars().take(500).collect::<String>();
    let (subject, issuer) = (cut(&certificate.subject), cut(&certificate.issuer));
    let before: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT sha256, subject, issuer, not_after FROM asset_certificates
         WHERE asset_id = $1 AND port = $2 FOR UPDATE",
    )
    .bind(asset_id.0)
    .bind(i32::from(certificate.port))
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO asset_certificates (org_id, asset_id, port, sha256, subject, issuer,
                                         not_after, last_run_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (asset_id, port) DO UPDATE SET
             sha256 = EXCLUDED.sha256, subject = EXCLUDED.subject, issuer = EXCLUDED.issuer,
             not_after = EXCLUDED.not_after, last_seen = now(),
             last_run_id = EXCLUDED.last_run_id,
             first_seen = CASE WHEN asset_certificates.sha256 = EXCLUDED.sha256
                               THEN asset_certificates.first_seen ELSE now() END",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(i32::from(certificate.port))
    .bind(&certificate.sha256)
    .bind(&subject)
    .bind(&issuer)
    .bind(cut(&certificate.not_after))
    .bind(run_id.0)
    .execute(&mut *conn)
    .await?;
    if let Some((sha256, old_subject, old_issuer, not_after)) = before
        && sha256 != certificate.sha256
    {
        let detail = serde_json::json!({
            "from": {"sha256": sha256, "subject": old_subject, "issuer": old_issuer,
                     "not_after": not_after},
            "to": {"sha256": certificate.sha256, "subject": subject, "issuer": issuer,
                   "not_after": certificate.not_after},
            "run_id": run_id,
        });
        super::surface::record(
            conn,
            org_id,
            asset_id,
            SurfaceChangeKind::CertificateChanged,
            Some(certificate.port),
            detail,
        )
        .await?;
    }
    Ok(())
}

/// The organization's technologies, filtered, in pages.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &TechnologyQuery,
    limit: u32,
) -> Result<(Vec<AssetTechnology>, Option<Uuid>), DbError> {
    super::check_chars("name", query.name.as_deref(), 64)?;
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM asset_technologies WHERE org_id = ")
        .push_bind(org_id.0);
    if let Some(asset_id) = query.asset_id {
        sql.push(" AND asset_id = ").push_bind(asset_id.0);
    }
    if let Some(name) = &query.name {
        sql.push(" AND lower(name) = ")
            .push_bind(name.to_lowercase());
    }
    if let Some(category) = query.category {
        sql.push(" AND category = ").push_bind(category.as_str());
    }
    if let Some(after) = query.after {
        sql.push(" AND id > ").push_bind(after);
    }
    sql.push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = sql
        .build_query_as::<TechnologyRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AssetTechnology::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::page(rows, limit, |technology: &AssetTechnology| {
        technology.id
    }))
}
