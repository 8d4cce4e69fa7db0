//! People's status changes of findings, one at a time or in bulk, each recorded in the history.

use s4e_types::{
    BulkStatusChange, BulkStatusResult, FindingId, FindingWithHistory, OrgId, StatusChange,
};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::query::with_history;
use super::{NewEvent, insert_events, parse_status};
use crate::db::DbError;

/// Applies one status change to findings of the organization inside the caller's transaction.
/// Every id must name one of its findings, or nothing changes and the answer is 404 (another
/// organization's finding is not told apart from an unknown one). A finding already in the
/// status with the same reason is left as it is and gets no history entry.
async fn apply_change(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    ids: &[FindingId],
    change: &StatusChange,
) -> Result<BulkStatusResult, DbError> {
    change.validate().map_err(DbError::Invalid)?;
    let mut ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    // Locked in id order, as job reports lock the findings they touch: no deadlock between them.
    let current: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT id, status, status_reason FROM findings
         WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
    )
    .bind(org_id.0)
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    if current.len() != ids.len() {
        return Err(DbError::NotFound("finding"));
    }
    let reason = change.stored_reason();
    let mut changing = Vec::new();
    let mut events = Vec::new();
    for (id, status, stored_reason) in &current {
        let from = parse_status(status)?;
        if from == change.status && stored_reason.as_deref() == reason {
            continue;
        }
        changing.push(*id);
        events.push(NewEvent {
            finding_id: *id,
            from,
            to: change.status,
            reason,
            actor: &change.actor,
            run_id: None,
        });
    }
    if !changing.is_empty() {
        sqlx::query(
            "UPDATE findings SET status = $3, status_reason = $4, status_changed_at = now(),
                    status_changed_by = $5
             WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org_id.0)
        .bind(&changing)
        .bind(change.status.as_str())
        .bind(reason)
        .bind(&change.actor.label)
        .execute(&mut **tx)
        .await?;
        insert_events(tx, org_id, &events, &change.caused_by).await?;
    }
    let changed = changing.len() as u32;
    Ok(BulkStatusResult {
        changed,
        unchanged: ids.len() as u32 - changed,
    })
}

/// A person's status change of one finding; answers the finding with its history.
pub async fn change_status(
    conn: &mut PgConnection,
    org_id: OrgId,
    finding_id: FindingId,
    change: &StatusChange,
) -> Result<FindingWithHistory, DbError> {
    let mut tx = conn.begin().await?;
    let result = apply_change(&mut tx, org_id, &[finding_id], change).await?;
    let found = with_history(&mut tx, org_id, finding_id).await?;
    tx.commit().await?;
    if result.changed > 0 {
        tracing::info!(
            %org_id, %finding_id, status = change.status.as_str(), actor = %change.actor.label,
            "finding status changed"
        );
    }
    Ok(found)
}

/// One status change for many findings, in one transaction: all of them change, or (an id
/// unknown in the organization) none does.
pub async fn bulk_change_status(
    conn: &mut PgConnection,
    org_id: OrgId,
    bulk: &BulkStatusChange,
) -> Result<BulkStatusResult, DbError> {
    bulk.validate().map_err(DbError::Invalid)?;
    let mut tx = conn.begin().await?;
    let result = apply_change(&mut tx, org_id, &bulk.ids, &bulk.change()).await?;
    tx.commit().await?;
    tracing::info!(
        %org_id, status = bulk.status.as_str(), actor = %bulk.actor.label,
        changed = result.changed, unchanged = result.unchanged,
        "finding statuses changed in bulk"
    );
    Ok(result)
}
