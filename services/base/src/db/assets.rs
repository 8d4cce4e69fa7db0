use chrono::{DateTime, Utc};
use s4e_types::asset::{MAX_IMPORT_ROWS, MAX_TAGS, has_tag, normalize_tag, normalize_tags};
use s4e_types::envelope::AssetCreated;
use s4e_types::surface::SurfaceChangeKind;
use s4e_types::{
    Asset, AssetId, AssetKind, AssetListQuery, AssetTags, BulkAssetTags, BulkAssetTagsResult,
    Criticality, ImportOutcome, ImportRow, Message, NewAsset, OrgId, UpdateAsset,
    VerificationMethod,
};
use sqlx::{Connection, PgConnection, PgPool};
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
    verification_token: String,
    verified_at: Option<DateTime<Utc>>,
    verification_method: Option<String>,
    archived_at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    criticality: String,
    owner: Option<String>,
}

macro_rules! asset_columns {
    () => {
        "id, org_id, kind, value, name, created_at, verification_token, verified_at, \
         verification_method, archived_at, tags, criticality, owner"
    };
}

impl TryFrom<AssetRow> for Asset {
    type Error = DbError;
    fn try_from(row: AssetRow) -> Result<Self, DbError> {
        let kind = AssetKind::parse(&row.kind)
            .ok_or_else(|| DbError::Corrupt(format!("unknown asset kind {:?}", row.kind)))?;
        let verification_method = match row.verification_method.as_deref() {
            None => None,
            Some(method) => Some(VerificationMethod::parse(method).ok_or_else(|| {
                DbError::Corrupt(format!("unknown verification method {method:?}"))
            })?),
        };
        Ok(Asset {
            id: AssetId(row.id),
            org_id: OrgId(row.org_id),
            kind,
            value: row.value,
            name: row.name,
            created_at: row.created_at,
            verification_token: row.verification_token,
            verified_at: row.verified_at,
            verification_method,
            archived_at: row.archived_at,
            tags: row.tags,
            criticality: Criticality::parse(&row.criticality).ok_or_else(|| {
                DbError::Corrupt(format!("unknown criticality {:?}", row.criticality))
            })?,
            owner: row.owner,
        })
    }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset: &NewAsset,
) -> Result<Asset, DbError> {
    let asset = asset
        .normalized()
        .map_err(|error| DbError::Invalid(error.to_string()))?;
    if asset.kind == AssetKind::Cidr {
        let limit = max_cidr_hosts(conn, org_id).await?;
        if let Some(reason) = range_too_large(&asset, limit) {
            return Err(DbError::Invalid(reason));
        }
    }
    let row = sqlx::query_as::<_, AssetRow>(concat!(
        "INSERT INTO assets (id, org_id, kind, value, name, tags, criticality, owner)
         SELECT $1, o.id, $3, $4, $5, $6, $7, $8 FROM organizations o WHERE o.id = $2
         RETURNING ",
        asset_columns!()
    ))
    .bind(AssetId::new().0)
    .bind(org_id.0)
    .bind(asset.kind.as_str())
    .bind(&asset.value)
    .bind(&asset.name)
    .bind(&asset.tags)
    .bind(asset.criticality.as_str())
    .bind(&asset.owner)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|error| match unique_violation(&error) {
        Some(_) => DbError::Conflict(format!("asset {} is already registered", asset.value)),
        None => DbError::Database(error),
    })?;
    let asset: Asset = row.ok_or(DbError::NotFound("organization"))?.try_into()?;
    let created = Message::AssetCreated(AssetCreated {
        asset_id: asset.id,
        kind: asset.kind,
        value: asset.value.clone(),
        name: asset.name.clone(),
    });
    super::outbox::record(conn, org_id, &created, &[]).await?;
    added_to_surface(conn, org_id, &asset).await?;
    Ok(asset)
}

/// How many hosts one range of the organization may hold.
async fn max_cidr_hosts(conn: &mut PgConnection, org_id: OrgId) -> Result<i64, DbError> {
    let limit: Option<(i64,)> =
        sqlx::query_as("SELECT max_cidr_hosts FROM organizations WHERE id = $1")
            .bind(org_id.0)
            .fetch_optional(&mut *conn)
            .await?;
    limit
        .map(|(limit,)| limit)
        .ok_or(DbError::NotFound("organization"))
}

/// Why a range is refused for its size: it holds more hosts than `limit`.
fn range_too_large(asset: &NewAsset, limit: i64) -> Option<String> {
    let hosts = s4e_types::asset::cidr_host_count(&asset.value)?;
    (hosts > u128::try_from(limit).unwrap_or(0)).then(|| {
        format!(
            "value: {} holds {hosts} hosts, more than the {limit} this organization may scan \
             in one range (a job per host); split it, or ask the operator to raise the limit",
            asset.value
        )
    })
}

async fn added_to_surface(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset: &Asset,
) -> Result<(), DbError> {
    let detail = serde_json::json!({"kind": asset.kind, "value": asset.value});
    super::surface::record(
        conn,
        org_id,
        asset.id,
        SurfaceChangeKind::AssetAdded,
        None,
        detail,
    )
    .await
}

/// Registers many assets in one transaction, each judged on its own: created, already the
/// organization's (left as it is), or refused with the reason. Row numbers count from 1 in
/// `assets`' order; `asset.created` goes to the outbox for each one created.
pub async fn import(
    conn: &mut PgConnection,
    org_id: OrgId,
    assets: &[NewAsset],
) -> Result<Vec<ImportRow>, DbError> {
    if assets.len() > MAX_IMPORT_ROWS {
        return Err(DbError::Invalid(format!(
            "assets: at most {MAX_IMPORT_ROWS} rows"
        )));
    }
    let mut rows: Vec<ImportRow> = Vec::with_capacity(assets.len());
    let mut valid: Vec<(usize, NewAsset)> = Vec::new();
    for (index, asset) in assets.iter().enumerate() {
        let row = index as u32 + 1;
        match asset.normalized() {
            Ok(asset) => {
                rows.push(ImportRow {
                    row,
                    value: Some(asset.value.clone()),
                    outcome: ImportOutcome::Exists,
                    reason: None,
                    asset_id: None,
                });
                valid.push((index, asset));
            }
            Err(error) => rows.push(ImportRow {
                row,
                value: Some(asset.value.clone()),
                outcome: ImportOutcome::Refused,
                reason: Some(error.to_string()),
                asset_id: None,
            }),
        }
    }
    let mut tx = conn.begin().await?;
    if valid.iter().any(|(_, asset)| asset.kind == AssetKind::Cidr) {
        let limit = max_cidr_hosts(&mut tx, org_id).await?;
        valid.retain(|(index, asset)| match range_too_large(asset, limit) {
            Some(reason) => {
                rows[*index].outcome = ImportOutcome::Refused;
                rows[*index].reason = Some(reason);
                false
            }
            None => true,
        });
    }
    let ids: Vec<Uuid> = valid.iter().map(|_| AssetId::new().0).collect();
    let kinds: Vec<&str> = valid.iter().map(|(_, a)| a.kind.as_str()).collect();
    let values: Vec<&str> = valid.iter().map(|(_, a)| a.value.as_str()).collect();
    let names: Vec<Option<&str>> = valid.iter().map(|(_, a)| a.name.as_deref()).collect();
    let criticalities: Vec<&str> = valid.iter().map(|(_, a)| a.criticality.as_str()).collect();
    let owners: Vec<Option<&str>> = valid.iter().map(|(_, a)| a.owner.as_deref()).collect();
    let tags: Vec<String> = valid.iter().map(|(_, a)| tags_text(&a.tags)).collect();
    let created: Vec<AssetRow> = sqlx::query_as(concat!(
        "INSERT INTO assets (id, org_id, kind, value, name, criticality, owner, tags)
         SELECT a.id, $1, a.kind, a.value, a.name, a.criticality, a.owner,
                ARRAY(SELECT jsonb_array_elements_text(a.tags::jsonb))
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[]) AS a (id, kind, value, name, criticality, owner, tags)
         ON CONFLICT (org_id, kind, value) DO NOTHING
         RETURNING ",
        asset_columns!()
    ))
    .bind(org_id.0)
    .bind(&ids)
    .bind(&kinds)
    .bind(&values)
    .bind(&names)
    .bind(&criticalities)
    .bind(&owners)
    .bind(&tags)
    .fetch_all(&mut *tx)
    .await?;
    let created: Vec<Asset> = created
        .into_iter()
        .map(Asset::try_from)
        .collect::<Result<_, _>>()?;
    // The rest name assets the organization has (or the file has twice).
    let existing: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, kind, value FROM assets
         WHERE org_id = $1 AND (kind, value) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))",
    )
    .bind(org_id.0)
    .bind(&kinds)
    .bind(&values)
    .fetch_all(&mut *tx)
    .await?;
    let key = |kind: &str, value: &str| (kind.to_string(), value.to_string());
    let mut made: std::collections::HashMap<(String, String), AssetId> = created
        .iter()
        .map(|asset| (key(asset.kind.as_str(), &asset.value), asset.id))
        .collect();
    let had: std::collections::HashMap<(String, String), AssetId> = existing
        .into_iter()
        .map(|(id, kind, value)| (key(&kind, &value), AssetId(id)))
        .collect();
    for (index, asset) in &valid {
        let row = &mut rows[*index];
        let asset_key = key(asset.kind.as_str(), &asset.value);
        // The first row naming a new asset created it; a later one names it again.
        if let Some(id) = made.remove(&asset_key) {
            row.outcome = ImportOutcome::Created;
            row.asset_id = Some(id);
        } else {
            row.asset_id = had.get(&asset_key).copied();
        }
    }
    for asset in &created {
        let event = Message::AssetCreated(AssetCreated {
            asset_id: asset.id,
            kind: asset.kind,
            value: asset.value.clone(),
            name: asset.name.clone(),
        });
        super::outbox::record(&mut tx, org_id, &event, &[]).await?;
        added_to_surface(&mut tx, org_id, asset).await?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// The organization's assets, oldest first, `limit` after `after`, only those with `tag` when
/// one is named; the cursor of the next page when there is one.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &AssetListQuery,
    limit: u32,
) -> Result<(Vec<Asset>, Option<Uuid>), DbError> {
    let tag = query
        .tag
        .as_deref()
        .map(normalize_tag)
        .transpose()
        .map_err(DbError::Invalid)?;
    let assets = sqlx::query_as::<_, AssetRow>(concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE org_id = $1 AND ($2 OR archived_at IS NULL)
           AND ($3::uuid IS NULL OR (created_at, id) >
                (SELECT c.created_at, c.id FROM assets c WHERE c.org_id = $1 AND c.id = $3))
           AND ($5::text IS NULL OR $5 = ANY (tags)
                OR (strpos($5, '=') = 0
                    AND EXISTS (SELECT 1 FROM unnest(tags) t WHERE split_part(t, '=', 1) = $5)))
           AND ($6::text IS NULL OR criticality = $6)
         ORDER BY created_at, id LIMIT $4"
    ))
    .bind(org_id.0)
    .bind(query.archived)
    .bind(query.after)
    .bind(i64::from(limit) + 1)
    .bind(tag)
    .bind(query.criticality.map(|criticality| criticality.as_str()))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect::<Result<Vec<Asset>, _>>()?;
    Ok(super::page(assets, limit, |asset| asset.id.0))
}

/// Replaces an asset's tags.
pub async fn set_tags(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    tags: &AssetTags,
) -> Result<Asset, DbError> {
    let tags = normalize_tags(&tags.tags).map_err(DbError::Invalid)?;
    sqlx::query_as::<_, AssetRow>(concat!(
        "UPDATE assets SET tags = $3 WHERE org_id = $1 AND id = $2 RETURNING ",
        asset_columns!()
    ))
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(&tags)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("asset"))?
    .try_into()
}

/// Adds and removes tags of many assets in one transaction: every id must name one of the
/// organization's assets, or nothing changes (404). An asset left with more than `MAX_TAGS`
/// refuses the whole change.
pub async fn bulk_tags(
    conn: &mut PgConnection,
    org_id: OrgId,
    change: &BulkAssetTags,
) -> Result<BulkAssetTagsResult, DbError> {
    let change = change.normalized().map_err(DbError::Invalid)?;
    let mut ids: Vec<Uuid> = change.asset_ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = conn.begin().await?;
    let current: Vec<(Uuid, Vec<String>)> = sqlx::query_as(
        "SELECT id, tags FROM assets WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
    )
    .bind(org_id.0)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if current.len() != ids.len() {
        return Err(DbError::NotFound("asset"));
    }
    let mut changed_ids = Vec::new();
    let mut changed_tags = Vec::new();
    for (id, tags) in current {
        let tags = retag(&tags, &change.add, &change.remove)?;
        if let Some(tags) = tags {
            changed_ids.push(id);
            changed_tags.push(tags_text(&tags));
        }
    }
    sqlx::query(
        "UPDATE assets a SET tags = ARRAY(SELECT jsonb_array_elements_text(c.tags::jsonb))
         FROM UNNEST($2::uuid[], $3::text[]) AS c (id, tags)
         WHERE a.org_id = $1 AND a.id = c.id",
    )
    .bind(org_id.0)
    .bind(&changed_ids)
    .bind(&changed_tags)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(BulkAssetTagsResult {
        changed: changed_ids.len() as u32,
    })
}

/// One asset's tags as one JSON text, for statements that write many assets' tags at once
/// (PostgreSQL has no array of arrays of varying length; `jsonb_array_elements_text` reads it).
fn tags_text(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// An asset's tags after adding and removing (a bare key removes the key with any value);
/// `None` when nothing changes.
pub(crate) fn retag(
    tags: &[String],
    add: &[String],
    remove: &[String],
) -> Result<Option<Vec<String>>, DbError> {
    let mut next: Vec<String> = tags
        .iter()
        .filter(|tag| {
            !remove
                .iter()
                .any(|gone| has_tag(std::slice::from_ref(tag), gone))
        })
        .cloned()
        .collect();
    for tag in add {
        if !next.contains(tag) {
            next.push(tag.clone());
        }
    }
    if next.len() > MAX_TAGS {
        return Err(DbError::Invalid(format!(
            "add: an asset keeps at most {MAX_TAGS} tags"
        )));
    }
    Ok((next != tags).then_some(next))
}

/// The asset, through a pool or inside a transaction.
pub async fn get<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    org_id: OrgId,
    asset_id: AssetId,
) -> Result<Asset, DbError> {
    sqlx::query_as::<_, AssetRow>(concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id.0)
    .bind(asset_id.0)
    .fetch_optional(executor)
    .await?
    .ok_or(DbError::NotFound("asset"))?
    .try_into()
}

/// Changes an asset's name, criticality or owner: the fields named.
pub async fn update(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    change: &UpdateAsset,
) -> Result<Asset, DbError> {
    let cleared = |value: &Option<Option<String>>| {
        value.as_ref().map(|inner| {
            inner
                .as_deref()
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        })
    };
    let name = cleared(&change.name);
    let owner = cleared(&change.owner);
    super::check_chars("name", name.clone().flatten().as_deref(), 200)?;
    super::check_chars("owner", owner.clone().flatten().as_deref(), 200)?;
    sqlx::query_as::<_, AssetRow>(concat!(
        "UPDATE assets SET name = CASE WHEN $3 THEN $4 ELSE name END,
                criticality = coalesce($5, criticality),
                owner = CASE WHEN $6 THEN $7 ELSE owner END
         WHERE org_id = $1 AND id = $2 RETURNING ",
        asset_columns!()
    ))
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(name.is_some())
    .bind(name.flatten())
    .bind(change.criticality.map(|criticality| criticality.as_str()))
    .bind(owner.is_some())
    .bind(owner.flatten())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("asset"))?
    .try_into()
}

/// Takes an asset out of the inventory; archiving it again changes nothing.
pub async fn archive(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
) -> Result<Asset, DbError> {
    let mut tx = conn.begin().await?;
    let was: Option<(Option<DateTime<Utc>>,)> =
        sqlx::query_as("SELECT archived_at FROM assets WHERE org_id = $1 AND id = $2 FOR UPDATE")
            .bind(org_id.0)
            .bind(asset_id.0)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((was_archived,)) = was else {
        return Err(DbError::NotFound("asset"));
    };
    let asset: Asset = sqlx::query_as::<_, AssetRow>(concat!(
        "UPDATE assets SET archived_at = coalesce(archived_at, now())
         WHERE org_id = $1 AND id = $2 RETURNING ",
        asset_columns!()
    ))
    .bind(org_id.0)
    .bind(asset_id.0)
    .fetch_one(&mut *tx)
    .await?
    .try_into()?;
    if was_archived.is_none() {
        let detail = serde_json::json!({"kind": asset.kind, "value": asset.value});
        super::surface::record(
            &mut tx,
            org_id,
            asset.id,
            SurfaceChangeKind::AssetArchived,
            None,
            detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(asset)
}

/// Records a verification attempt: proven (with how) or not; an asset that no longer proves
/// its ownership loses it, unless `keep_younger_than_seconds` is given (nothing could be
/// reached) and its proof is younger than that. Either way the attempt counts as the last
/// check, so re-verification asks again a period later.
pub async fn record_verification(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
    proven_by: Option<VerificationMethod>,
    keep_younger_than_seconds: Option<u32>,
) -> Result<Asset, DbError> {
    sqlx::query_as::<_, AssetRow>(concat!(
        "UPDATE assets SET
            verified_at = CASE
                WHEN $3::text IS NOT NULL THEN now()
                WHEN verified_at > now() - make_interval(secs => $4) THEN verified_at
                ELSE NULL END,
            verification_method = CASE
                WHEN $3::text IS NOT NULL THEN $3
                WHEN verified_at > now() - make_interval(secs => $4) THEN verification_method
                ELSE NULL END,
            verification_checked_at = now()
         WHERE org_id = $1 AND id = $2 RETURNING ",
        asset_columns!()
    ))
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(proven_by.map(VerificationMethod::as_str))
    // No grace: a NULL interval, so the comparison is never true.
    .bind(keep_younger_than_seconds.map(f64::from))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("asset"))?
    .try_into()
}

/// The organization's verified domains: their subdomains and URLs are verified with them.
pub async fn verified_domains(pool: &PgPool, org_id: OrgId) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT value FROM assets
         WHERE org_id = $1 AND kind = 'domain' AND verified_at IS NOT NULL
           AND archived_at IS NULL
         ORDER BY value LIMIT 10000",
    )
    .bind(org_id.0)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(value,)| value).collect())
}

/// Verified assets whose last check is older than `older_than_seconds`: due to be proven again.
pub async fn due_for_reverification(
    pool: &PgPool,
    older_than_seconds: i64,
    limit: i64,
) -> Result<Vec<Asset>, DbError> {
    sqlx::query_as::<_, AssetRow>(concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE verified_at IS NOT NULL AND archived_at IS NULL
           AND coalesce(verification_checked_at, verified_at)
               < now() - make_interval(secs => $1)
         ORDER BY coalesce(verification_checked_at, verified_at), id LIMIT $2"
    ))
    .bind(older_than_seconds as f64)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect()
}

/// Refuses an asset that is not the organization's (not found) or that is archived (conflict):
/// what a run, a schedule or an inbound hook may name.
pub async fn require_scannable(
    conn: &mut PgConnection,
    org_id: OrgId,
    asset_id: AssetId,
) -> Result<(), DbError> {
    let asset: Option<(Option<DateTime<Utc>>,)> =
        sqlx::query_as("SELECT archived_at FROM assets WHERE org_id = $1 AND id = $2")
            .bind(org_id.0)
            .bind(asset_id.0)
            .fetch_optional(&mut *conn)
            .await?;
    match asset {
        None => Err(DbError::NotFound("asset")),
        Some((Some(_),)) => Err(DbError::Conflict(
            "the asset is archived: it is no longer scanned".into(),
        )),
        Some((None,)) => Ok(()),
    }
}
