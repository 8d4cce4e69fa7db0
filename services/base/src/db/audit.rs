//! The audit log: appended by the gateway, read by admins, never updated (the table refuses it).

use chrono::{DateTime, Utc};
use s4e_types::audit::{ActorKind, AuditPage, AuditQuery};
use s4e_types::{AuditEntry, AuditEntryId, NewAuditEntry, OrgId};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::DbError;

macro_rules! audit_columns {
    () => {
        "id, org_id, occurred_at, actor_kind, actor_id, actor_label, actor_org_id, \
                       action, resource_type, resource_id, outcome, ip, trace_id"
    };
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    org_id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    actor_label: String,
    actor_org_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    outcome: i32,
    ip: Option<String>,
    trace_id: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = DbError;
    fn try_from(row: AuditRow) -> Result<Self, DbError> {
        let actor_kind = ActorKind::parse(&row.actor_kind)
            .ok_or_else(|| DbError::Corrupt(format!("unknown actor kind {:?}", row.actor_kind)))?;
        Ok(AuditEntry {
            id: AuditEntryId(row.id),
            org_id: OrgId(row.org_id),
            occurred_at: row.occurred_at,
            actor_kind,
            actor_id: row.actor_id,
            actor_label: row.actor_label,
            actor_org_id: row.actor_org_id.map(OrgId),
            action: row.action,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            outcome: u16::try_from(row.outcome)
                .map_err(|_| DbError::Corrupt(format!("outcome {}", row.outcome)))?,
            ip: row.ip,
            trace_id: row.trace_id,
        })
    }
}

/// Text fields are the gateway's, but cap them anyway: the log must not become a dump.
fn capped(value: &str, field: &str) -> Result<(), DbError> {
    if value.chars().count() > AuditQuery::MAX_TEXT_CHARS {
        return Err(DbError::Invalid(format!(
            "{field}: at most {} characters",
            AuditQuery::MAX_TEXT_CHARS
        )));
    }
    Ok(())
}

pub async fn append(
    executor: impl PgExecutor<'_>,
    org_id: OrgId,
    entry: &NewAuditEntry,
) -> Result<AuditEntry, DbError> {
    for (value, field) in [
        (Some(entry.actor_label.as_str()), "actor_label"),
        (Some(entry.action.as_str()), "action"),
        (Some(entry.resource_type.as_str()), "resource_type"),
        (entry.resource_id.as_deref(), "resource_id"),
        (entry.ip.as_deref(), "ip"),
        (entry.trace_id.as_deref(), "trace_id"),
    ] {
        if let Some(value) = value {
            capped(value, field)?;
        }
    }
    if !(100..=599).contains(&entry.outcome) {
        return Err(DbError::Invalid("outcome: must be an HTTP status".into()));
    }
    sqlx::query_as::<_, AuditRow>(concat!(
        "INSERT INTO audit_log (id, org_id, actor_kind, actor_id, actor_label, actor_org_id,
                                action, resource_type, resource_id, outcome, ip, trace_id)
         SELECT $1, o.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
         FROM organizations o WHERE o.id = $2
         RETURNING ",
        audit_columns!()
    ))
    .bind(AuditEntryId::new().0)
    .bind(org_id.0)
    .bind(entry.actor_kind.as_str())
    .bind(entry.actor_id)
    .bind(&entry.actor_label)
    .bind(entry.actor_org_id.map(|id| id.0))
    .bind(&entry.action)
    .bind(&entry.resource_type)
    .bind(&entry.resource_id)
    .bind(i32::from(entry.outcome))
    .bind(&entry.ip)
    .bind(&entry.trace_id)
    .fetch_optional(executor)
    .await?
    .ok_or(DbError::NotFound("organization"))?
    .try_into()
}

/// The organization's entries, newest first, filtered; one more row than the page is read to
/// know whether another page follows.
pub async fn query(
    pool: &PgPool,
    org_id: OrgId,
    filter: &AuditQuery,
) -> Result<AuditPage, DbError> {
    filter.validate().map_err(DbError::Invalid)?;
    let limit = filter.page_size().map_err(DbError::Invalid)?;
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(concat!(
        "SELECT ",
        audit_columns!(),
        " FROM audit_log WHERE org_id = "
    ));
    sql.push_bind(org_id.0);
    if let Some(actor_id) = filter.actor_id {
        sql.push(" AND actor_id = ").push_bind(actor_id);
    }
    if let Some(action) = &filter.action {
        sql.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(resource_type) = &filter.resource_type {
        sql.push(" AND resource_type = ")
            .push_bind(resource_type.clone());
    }
    if let Some(resource_id) = &filter.resource_id {
        sql.push(" AND resource_id = ")
            .push_bind(resource_id.clone());
    }
    match filter.failed {
        Some(true) => {
            sql.push(" AND outcome >= 400");
        }
        Some(false) => {
            sql.push(" AND outcome < 400");
        }
        None => {}
    }
    if let Some(since) = filter.since {
        sql.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        sql.push(" AND occurred_at < ").push_bind(until);
    }
    if let Some(before) = filter.before {
        sql.push(" AND id < ").push_bind(before.0);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows: Vec<AuditEntry> = sql
        .build_query_as::<AuditRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    let (items, next_cursor) = super::page(rows, limit, |entry| entry.id);
    Ok(AuditPage { items, next_cursor })
}
