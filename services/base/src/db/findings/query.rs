//! Reading findings: filtered, sorted pages, counts, and one finding with its history.

use s4e_types::finding_query::{FindingCount, severity_rank};
use s4e_types::{
    Finding, FindingCursor, FindingId, FindingPage, FindingQuery, FindingSort, FindingWithHistory,
    OrgId, SortOrder,
};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};

use super::{EventRow, FindingRow};
use crate::db::DbError;

/// The filters of a query, after `WHERE f.org_id = …`; shared by the list and the count.
fn push_filters(sql: &mut QueryBuilder<Postgres>, org_id: OrgId, query: &FindingQuery) {
    sql.push(" WHERE f.org_id = ").push_bind(org_id.0);
    if !query.statuses.is_empty() {
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
        sql.push(" AND f.status = ANY(")
            .push_bind(statuses)
            .push(")");
    }
    if !query.severities.is_empty() {
        let severities: Vec<&str> = query.severities.iter().map(|s| s.as_str()).collect();
        // The same condition on the indexed rank too: with one severity, the list's default
        // order is then an index range rather than a walk past every more severe finding.
        let ranks: Vec<i16> = query.severities.iter().map(|s| severity_rank(*s)).collect();
        sql.push(" AND f.severity = ANY(")
            .push_bind(severities)
            .push(") AND f.severity_rank = ANY(")
            .push_bind(ranks)
            .push(")");
    }
    if let Some(severity) = query.min_severity {
        sql.push(" AND f.severity_rank >= ")
            .push_bind(severity_rank(severity));
    }
    if let Some(check) = query.check {
        sql.push(" AND f.check_kind = ").push_bind(check.as_str());
    }
    if let Some(rule) = &query.rule {
        sql.push(" AND f.rule = ").push_bind(rule.clone());
    }
    if let Some(asset_id) = query.asset_id {
        sql.push(" AND f.asset_id = ").push_bind(asset_id.0);
    }
    if let Some(run_id) = query.run_id {
        sql.push(
            " AND EXISTS (SELECT 1 FROM finding_occurrences o WHERE o.finding_id = f.id \
             AND o.org_id = ",
        )
        .push_bind(org_id.0)
        .push(" AND o.run_id = ")
        .push_bind(run_id.0)
        .push(")");
    }
}

/// One page of an organization's findings. The cursor is a keyset position (sort key, id), so
/// pages neither skip nor repeat findings that share a sort key, and deep pages cost no more
/// than the first. One more row than the page is read to know whether another follows.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &FindingQuery,
) -> Result<FindingPage, DbError> {
    let limit = query.page_size();
    if limit == 0 || limit > FindingQuery::MAX_LIMIT {
        return Err(DbError::Invalid(format!(
            "limit: must be 1-{}",
            FindingQuery::MAX_LIMIT
        )));
    }
    let mut sql: QueryBuilder<Postgres> =
        QueryBuilder::new(concat!("SELECT ", finding_columns!(), " FROM findings f"));
    push_filters(&mut sql, org_id, query);
    let (direction, comparison) = match query.order {
        SortOrder::Desc => ("DESC", "<"),
        SortOrder::Asc => ("ASC", ">"),
    };
    if let Some(cursor) = &query.cursor {
        match cursor.sort {
            FindingSort::Severity => {
                sql.push(" AND (f.severity_rank, f.last_seen, f.id) ")
                    .push(comparison)
                    .push(" (")
                    .push_bind(cursor.severity_rank.unwrap_or_default())
                    .push(", ")
                    .push_bind(cursor.at)
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
            FindingSort::LastSeen | FindingSort::FirstSeen => {
                let column = if cursor.sort == FindingSort::LastSeen {
                    "f.last_seen"
                } else {
                    "f.first_seen"
                };
                sql.push(format!(" AND ({column}, f.id) "))
                    .push(comparison)
                    .push(" (")
                    .push_bind(cursor.at)
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
        }
    }
    let order_by = match query.sort {
        FindingSort::Severity => format!(
            " ORDER BY f.severity_rank {direction}, f.last_seen {direction}, f.id {direction}"
        ),
        FindingSort::LastSeen => format!(" ORDER BY f.last_seen {direction}, f.id {direction}"),
        FindingSort::FirstSeen => {
            format!(" ORDER BY f.first_seen {direction}, f.id {direction}")
        }
    };
    sql.push(order_by)
        .push(" LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows: Vec<Finding> = sql
        .build_query_as::<FindingRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    let (items, next_cursor) = crate::db::page(rows, limit, |last| {
        FindingCursor::after(last, query.sort, query.order).encode()
    });
    Ok(FindingPage { items, next_cursor })
}

/// How many findings match the query's filters (its cursor and limit are ignored).
pub async fn count(
    pool: &PgPool,
    org_id: OrgId,
    query: &FindingQuery,
) -> Result<FindingCount, DbError> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM findings f");
    push_filters(&mut sql, org_id, query);
    let (count,): (i64,) = sql.build_query_as().fetch_one(pool).await?;
    Ok(FindingCount {
        count: count.max(0) as u64,
    })
}

/// A finding with its history, oldest change first.
pub async fn get(
    pool: &PgPool,
    org_id: OrgId,
    finding_id: FindingId,
) -> Result<FindingWithHistory, DbError> {
    let mut tx = pool.begin().await?;
    let found = with_history(&mut tx, org_id, finding_id).await?;
    tx.commit().await?;
    Ok(found)
}

pub(super) async fn with_history(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    finding_id: FindingId,
) -> Result<FindingWithHistory, DbError> {
    let finding: Finding = sqlx::query_as::<_, FindingRow>(concat!(
        "SELECT ",
        finding_columns!(),
        " FROM findings f WHERE f.org_id = $1 AND f.id = $2"
    ))
    .bind(org_id.0)
    .bind(finding_id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound("finding"))?
    .try_into()?;
    let history = sqlx::query_as::<_, EventRow>(
        "SELECT id, finding_id, occurred_at, actor_kind, actor_id, actor_label, from_status,
                to_status, reason, run_id
         FROM finding_events WHERE org_id = $1 AND finding_id = $2
         ORDER BY occurred_at, id",
    )
    .bind(org_id.0)
    .bind(finding_id.0)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(TryInto::try_into)
    .collect::<Result<_, _>>()?;
    Ok(FindingWithHistory { finding, history })
}
