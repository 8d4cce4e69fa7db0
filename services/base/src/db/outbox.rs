//! Events base's own changes make, written in the change's transaction and published to the
//! bus by s4e-trigger: claimed with a lease (several publishers share them without waiting on
//! each other), deleted once on the bus. A publisher that dies between the two leaves its
//! claim to run out; the event is published again, with the same id, and consumers recognise it.

use chrono::{DateTime, Utc};
use s4e_types::envelope::ClaimOutbox;
use s4e_types::{Envelope, Message, OrgId, RuleId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::DbError;

/// Records an event inside the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    org_id: OrgId,
    event: &Message,
    caused_by: &[RuleId],
) -> Result<(), DbError> {
    let payload = event
        .event_data()
        .ok_or_else(|| DbError::Invalid("outbox: a job is not an event".into()))?;
    let caused_by: Vec<Uuid> = caused_by.iter().map(|rule| rule.0).collect();
    sqlx::query(
        "INSERT INTO outbox_events (id, org_id, event_type, payload, caused_by)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(org_id.0)
    .bind(event.type_name())
    .bind(payload)
    .bind(&caused_by)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    org_id: Uuid,
    event_type: String,
    payload: serde_json::Value,
    caused_by: Vec<Uuid>,
    occurred_at: DateTime<Utc>,
}

/// Leases up to `limit` unpublished events, oldest first.
pub async fn claim(pool: &PgPool, claim: &ClaimOutbox) -> Result<Vec<Envelope>, DbError> {
    let rows = sqlx::query_as::<_, OutboxRow>(
        "WITH due AS (
             SELECT id FROM outbox_events
             WHERE claimed_until IS NULL OR claimed_until <= now()
             ORDER BY occurred_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
         UPDATE outbox_events o SET claimed_until = now() + make_interval(secs => $2)
         FROM due WHERE o.id = due.id
         RETURNING o.id, o.org_id, o.event_type, o.payload, o.caused_by, o.occurred_at",
    )
    .bind(i64::from(claim.limit))
    .bind(f64::from(claim.lease_seconds))
    .fetch_all(pool)
    .await?;
    // A row that does not decode (a bug, never a caller's input) stays for an operator to
    // read; the others go on.
    let mut events: Vec<Envelope> = rows
        .into_iter()
        .filter_map(
            |row| match Message::event_from(&row.event_type, row.payload) {
                Ok(message) => Some(Envelope {
                    id: row.id,
                    org_id: OrgId(row.org_id),
                    occurred_at: row.occurred_at,
                    attempt: 0,
                    caused_by: row.caused_by.into_iter().map(RuleId).collect(),
                    message,
                }),
                Err(error) => {
                    tracing::error!(id = %row.id, %error, "outbox event does not decode");
                    None
                }
            },
        )
        .collect();
    events.sort_by_key(|event| event.occurred_at);
    Ok(events)
}

/// Forgets events now on the bus.
pub async fn published(pool: &PgPool, ids: &[Uuid]) -> Result<u64, DbError> {
    let deleted = sqlx::query("DELETE FROM outbox_events WHERE id = ANY($1)")
        .bind(ids)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected())
}
