//! Candidate assets: host names discovery found (`s4e_types::discovery`), recorded with the
//! job that found them, and approved into domain assets or dismissed by people, or approved at
//! once when the organization's settings say so and a verified domain of its covers the name.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use s4e_types::discovery::{
    Candidate, CandidateQuery, CandidateStatus, DiscoveredName, DiscoverySource,
    MAX_DISCOVERED_PER_JOB, is_host_name,
};
use s4e_types::{Asset, AssetId, AssetKind, CandidateId, NewAsset, OrgId, RunId};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::DbError;

/// The candidate's columns, with the verified domain of the organization it sits under (the
/// shortest, as ownership inheritance takes any).
macro_rules! candidate_columns {
    () => {
        "c.id, c.org_id, c.name, c.sources, c.addresses, c.found_from, c.last_run_id, \
         c.first_seen, c.last_seen, c.status, c.asset_id, c.decided_at, \
         (SELECT a.value FROM assets a
          WHERE a.org_id = c.org_id AND a.kind = 'domain' AND a.verified_at IS NOT NULL
            AND a.archived_at IS NULL
            AND (a.value = c.name OR right(c.name, length(a.value) + 1) = '.' || a.value)
          ORDER BY length(a.value) LIMIT 1) AS verified_parent"
    };
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    sources: Vec<String>,
    addresses: Vec<String>,
    found_from: Uuid,
    last_run_id: Uuid,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    status: String,
    asset_id: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    verified_parent: Option<String>,
}

impl TryFrom<CandidateRow> for Candidate {
    type Error = DbError;
    fn try_from(row: CandidateRow) -> Result<Self, DbError> {
        let sources = row
            .sources
            .iter()
            .map(|source| {
                DiscoverySource::parse(source)
                    .ok_or_else(|| DbError::Corrupt(format!("discovery source {source:?}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Candidate {
            id: CandidateId(row.id),
            org_id: OrgId(row.org_id),
            name: row.name,
            sources,
            addresses: row.addresses,
            found_from: AssetId(row.found_from),
            last_run_id: RunId(row.last_run_id),
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            status: CandidateStatus::parse(&row.status)
                .ok_or_else(|| DbError::Corrupt(format!("candidate status {:?}", row.status)))?,
            verified_parent: row.verified_parent,
            asset_id: row.asset_id.map(AssetId),
            decided_at: row.decided_at,
        })
    }
}

/// Records the names a job of `found_from`'s scan `run_id` found, in the job's transaction:
/// new names become pending candidates, known ones are seen again (their decision kept), and
/// names the organization has as domain assets are left out. With the organization's
/// `auto_approve_candidates`, pending candidates under a verified domain become assets.
pub async fn record(
    conn: &mut PgConnection,
    org_id: OrgId,
    found_from: AssetId,
    run_id: RunId,
    names: &[DiscoveredName],
) -> Result<(), DbError> {
    if names.len() > MAX_DISCOVERED_PER_JOB {
        return Err(DbError::Invalid(format!(
            "discovered: at most {MAX_DISCOVERED_PER_JOB} names"
        )));
    }
    // One entry per name, its sources and addresses merged.
    let mut merged: BTreeMap<String, (Vec<&str>, Vec<String>)> = BTreeMap::new();
    for found in names {
        let name = found.name.trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&name) {
            return Err(DbError::Invalid(format!(
                "discovered: {:?} is not a host name",
                found.name
            )));
        }
        let (sources, addresses) = merged.entry(name).or_default();
        if !sources.contains(&found.source.as_str()) {
            sources.push(found.source.as_str());
        }
        for address in &found.addresses {
            let address = address.to_string();
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
    }
    if merged.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = merged.keys().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = merged.keys().map(String::as_str).collect();
    let sources: Vec<String> = merged.values().map(|(s, _)| s.join(",")).collect();
    let addresses: Vec<String> = merged.values().map(|(_, a)| a.join(",")).collect();
    sqlx::query(
        "INSERT INTO asset_candidates (id, org_id, name, sources, addresses, found_from,
                                       last_run_id)
         SELECT n.id, $1, n.name, string_to_array(n.sources, ','),
                string_to_array(n.addresses, ','), $2, $3
         FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::text[])
              AS n (id, name, sources, addresses)
         WHERE NOT EXISTS (SELECT 1 FROM assets a
                           WHERE a.org_id = $1 AND a.kind = 'domain' AND a.value = n.name)
         ON CONFLICT (org_id, name) DO UPDATE SET
             last_seen = now(),
             last_run_id = EXCLUDED.last_run_id,
             sources = ARRAY(SELECT DISTINCT unnest(asset_candidates.sources
                                                    || EXCLUDED.sources) ORDER BY 1),
             addresses = CASE WHEN cardinality(EXCLUDED.addresses) > 0
                              THEN EXCLUDED.addresses ELSE asset_candidates.addresses END",
    )
    .bind(org_id.0)
    .bind(found_from.0)
    .bind(run_id.0)
    .bind(&ids)
    .bind(&names)
    .bind(&sources)
    .bind(&addresses)
    .execute(&mut *conn)
    .await?;
    let settings = super::scan_settings::get(&mut *conn, org_id).await?;
    if settings.auto_approve_candidates {
        let covered: Vec<(Uuid,)> = sqlx::query_as(concat!(
            "SELECT id FROM (SELECT ",
            candidate_columns!(),
            " FROM asset_candidates c
              WHERE c.org_id = $1 AND c.name = ANY($2) AND c.status = 'pending') covered
              WHERE verified_parent IS NOT NULL ORDER BY id"
        ))
        .bind(org_id.0)
        .bind(&names)
        .fetch_all(&mut *conn)
        .await?;
        for (id,) in covered {
            approve(conn, org_id, CandidateId(id)).await?;
        }
    }
    Ok(())
}

/// The organization's candidates, oldest first, filtered, in pages.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &CandidateQuery,
    limit: u32,
) -> Result<(Vec<Candidate>, Option<Uuid>), DbError> {
    let status = query.status.unwrap_or(CandidateStatus::Pending);
    let mut sql: QueryBuilder<Postgres> =
        QueryBuilder::new(concat!("SELECT ", candidate_columns!()));
    sql.push(" FROM asset_candidates c WHERE c.org_id = ")
        .push_bind(org_id.0)
        .push(" AND c.status = ")
        .push_bind(status.as_str());
    if let Some(source) = query.source {
        sql.push(" AND ")
            .push_bind(source.as_str())
            .push(" = ANY(c.sources)");
    }
    if let Some(found_from) = query.found_from {
        sql.push(" AND c.found_from = ").push_bind(found_from.0);
    }
    if let Some(after) = query.after {
        sql.push(" AND c.id > ").push_bind(after.0);
    }
    sql.push(" ORDER BY c.id LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = sql
        .build_query_as::<CandidateRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Candidate::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::page(rows, limit, |candidate: &Candidate| {
        candidate.id.0
    }))
}

async fn locked(
    conn: &mut PgConnection,
    org_id: OrgId,
    candidate_id: CandidateId,
) -> Result<Candidate, DbError> {
    sqlx::query_as::<_, CandidateRow>(concat!(
        "SELECT ",
        candidate_columns!(),
        " FROM asset_candidates c WHERE c.org_id = $1 AND c.id = $2 FOR UPDATE OF c"
    ))
    .bind(org_id.0)
    .bind(candidate_id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("candidate"))?
    .try_into()
}

/// Makes the candidate a domain asset (`asset.created` goes out as for any registration) and
/// returns the asset; the organization's existing asset of that name when it has one. Again
/// for an approved candidate, its asset. A dismissed candidate may still be approved.
pub async fn approve(
    conn: &mut PgConnection,
    org_id: OrgId,
    candidate_id: CandidateId,
) -> Result<Asset, DbError> {
    let candidate = locked(conn, org_id, candidate_id).await?;
    if let Some(asset_id) = candidate.asset_id {
        return super::assets::get(&mut *conn, org_id, asset_id).await;
    }
    let existing: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM assets WHERE org_id = $1 AND kind = 'domain' AND value = $2",
    )
    .bind(org_id.0)
    .bind(&candidate.name)
    .fetch_optional(&mut *conn)
    .await?;
    let asset = match existing {
        Some((id,)) => super::assets::get(&mut *conn, org_id, AssetId(id)).await?,
        None => {
            let asset = NewAsset {
                kind: AssetKind::Domain,
                value: candidate.name.clone(),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            };
            super::assets::create(conn, org_id, &asset).await?
        }
    };
    sqlx::query(
        "UPDATE asset_candidates SET status = 'approved', asset_id = $3, decided_at = now()
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(candidate_id.0)
    .bind(asset.id.0)
    .execute(&mut *conn)
    .await?;
    Ok(asset)
}

/// Sets the candidate aside: found again, it stays dismissed. An approved candidate is an
/// asset; archive the asset instead.
pub async fn dismiss(
    conn: &mut PgConnection,
    org_id: OrgId,
    candidate_id: CandidateId,
) -> Result<Candidate, DbError> {
    let candidate = locked(conn, org_id, candidate_id).await?;
    match candidate.status {
        CandidateStatus::Dismissed => return Ok(candidate),
        CandidateStatus::Approved => {
            return Err(DbError::Conflict(format!(
                "candidate {} is an asset already: archive the asset instead",
                candidate.name
            )));
        }
        CandidateStatus::Pending => {}
    }
    sqlx::query(
        "UPDATE asset_candidates SET status = 'dismissed', decided_at = now()
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.0)
    .bind(candidate_id.0)
    .execute(&mut *conn)
    .await?;
    locked(conn, org_id, candidate_id).await
}
