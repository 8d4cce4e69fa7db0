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
    // One status or one severity is an equality, not `= ANY`: on the indexes that begin with
    // (org_id, status) and (org_id, severity_rank), a page in the default order is then an
    // index range, where `= ANY` would read every match and sort it.
    match query.statuses.as_slice() {
        [] => {}
        [status] => {
            sql.push(" AND f.status = ").push_bind(status.as_str());
        }
        statuses => {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            sql.push(" AND f.status = ANY(")
                .push_bind(statuses)
                .push(")");
        }
    }
    match query.severities.as_slice() {
        [] => {}
        [severity] => {
            sql.push(" AND f.severity_rank = ")
                .push_bind(severity_rank(*severity));
        }
        severities => {
            let severities: Vec<&str> = severities.iter().map(|s| s.as_str()).collect();
            sql.push(" AND f.severity = ANY(")
                .push_bind(severities)
                .push(")");
        }
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
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("");
    if query.statuses.len() > 1 && query.sort == FindingSort::Severity {
        // Several statuses in the default order: one index range per status, merged. A single
        // `status = ANY(…)` would read every match of the statuses and sort them all.
        sql.push(concat!("SELECT ", finding_columns!(), " FROM ("));
        for (index, status) in query.statuses.iter().enumerate() {
            if index > 0 {
                sql.push(" UNION ALL ");
            }
            let branch = FindingQuery {
                statuses: vec![*status],
                ..query.clone()
            };
            sql.push("(");
            push_page(&mut sql, org_id, &branch, ", f.severity_rank");
            sql.push(")");
        }
        sql.push(") f");
        push_order(&mut sql, query);
    } else {
        push_page(&mut sql, org_id, query, "");
    }
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

/// `SELECT` of one page (one row more than asked for): filters, cursor, order and limit;
/// `extra` names more columns to select.
fn push_page(sql: &mut QueryBuilder<Postgres>, org_id: OrgId, query: &FindingQuery, extra: &str) {
    sql.push(concat!("SELECT ", finding_columns!()))
        .push(extra)
        .push(" FROM findings f");
    push_filters(sql, org_id, query);
    let comparison = match query.order {
        SortOrder::Desc => "<",
        SortOrder::Asc => ">",
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
    push_order(sql, query);
}

/// The query's order and its limit (one row more than the page).
fn push_order(sql: &mut QueryBuilder<Postgres>, query: &FindingQuery) {
    let direction = match query.order {
        SortOrder::Desc => "DESC",
        SortOrder::Asc => "ASC",
    };
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
        .push_bind(i64::from(query.page_size()) + 1);
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
