//! Outbound webhooks (`s4e_types::webhook`): endpoints with their sealed secrets, one delivery
//! per event and endpoint, leased to deliverers when due, every attempt recorded, and the
//! endpoint disabled once it has failed for long enough.

use chrono::{DateTime, Utc};
use s4e_types::webhook::{
    ClaimDueDeliveries, DeliveryAttempted, DeliveryStatus, DueDelivery, EVENT_TYPES, MAX_ENDPOINTS,
    RotateWebhookSecret, StoreWebhookEndpoint, UpdateWebhookEndpoint, WebhookAttempt,
    WebhookDelivery, WebhookDeliveryWithAttempts, WebhookEndpoint, WebhookEvent,
};
use s4e_types::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::DbError;

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 200;

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    org_id: Uuid,
    url: String,
    description: Option<String>,
    event_types: Vec<String>,
    disabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

macro_rules! endpoint_columns {
    () => {
        "id, org_id, url, description, event_types, disabled, disabled_reason, failing_since, \
         created_at, updated_at"
    };
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        WebhookEndpoint {
            id: WebhookEndpointId(row.id),
            org_id: OrgId(row.org_id),
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            disabled: row.disabled,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    org_id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.org_id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, \
         d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at"
    };
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = DbError;
    fn try_from(row: DeliveryRow) -> Result<Self, DbError> {
        Ok(WebhookDelivery {
            id: WebhookDeliveryId(row.id),
            org_id: OrgId(row.org_id),
            endpoint_id: WebhookEndpointId(row.endpoint_id),
            event_id: row.event_id,
            event_type: row.event_type,
            status: DeliveryStatus::parse(&row.status).ok_or_else(|| {
                DbError::Corrupt(format!("unknown delivery status {:?}", row.status))
            })?,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        })
    }
}

fn check_url(url: &str) -> Result<(), DbError> {
    if url.len() > MAX_URL {
        return Err(DbError::Invalid(format!(
            "url: at most {MAX_URL} characters"
        )));
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(())
        }
        _ => Err(DbError::Invalid(format!(
            "url: {url:?} is not an http(s) URL"
        ))),
    }
}

/// The event types, each known, without repeats.
fn event_types(types: &[String]) -> Result<Vec<String>, DbError> {
    let mut known = Vec::new();
    for event_type in types {
        if !EVENT_TYPES.contains(&event_type.as_str()) {
            return Err(DbError::Invalid(format!(
                "event_types: {event_type:?} is not an event (known: {})",
                EVENT_TYPES.join(", ")
            )));
        }
        if !known.contains(event_type) {
            known.push(event_type.clone());
        }
    }
    Ok(known)
}

pub async fn create_endpoint(
    conn: &mut PgConnection,
    org_id: OrgId,
    new: &StoreWebhookEndpoint,
) -> Result<WebhookEndpoint, DbError> {
    let endpoint = &new.endpoint;
    check_url(&endpoint.url)?;
    super::check_chars(
        "description",
        endpoint.description.as_deref(),
        MAX_DESCRIPTION,
    )?;
    let types = event_types(&endpoint.event_types)?;
    let mut tx = conn.begin().await?;
    super::organizations::lock(&mut tx, org_id).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM webhook_endpoints WHERE org_id = $1")
            .bind(org_id.0)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_ENDPOINTS {
        return Err(DbError::Conflict(format!(
            "an organization keeps at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let row = sqlx::query_as::<_, EndpointRow>(concat!(
        "INSERT INTO webhook_endpoints (id, org_id, url, description, event_types, sealed_secret)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING ",
        endpoint_columns!()
    ))
    .bind(WebhookEndpointId::new().0)
    .bind(org_id.0)
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(&types)
    .bind(&new.sealed_secret)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn list_endpoints(pool: &PgPool, org_id: OrgId) -> Result<Vec<WebhookEndpoint>, DbError> {
    let rows = sqlx::query_as::<_, EndpointRow>(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org_id.0)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get_endpoint(
    pool: &PgPool,
    org_id: OrgId,
    id: WebhookEndpointId,
) -> Result<WebhookEndpoint, DbError> {
    sqlx::query_as::<_, EndpointRow>(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("webhook endpoint"))
}

pub async fn update_endpoint(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: WebhookEndpointId,
    change: &UpdateWebhookEndpoint,
) -> Result<WebhookEndpoint, DbError> {
    if let Some(url) = &change.url {
        check_url(url)?;
    }
    super::check_chars(
        "description",
        change.description.as_deref(),
        MAX_DESCRIPTION,
    )?;
    let types = change.event_types.as_deref().map(event_types).transpose()?;
    sqlx::query_as::<_, EndpointRow>(concat!(
        "UPDATE webhook_endpoints SET
             url = coalesce($3, url),
             description = coalesce($4, description),
             event_types = coalesce($5, event_types),
             disabled = coalesce($6, disabled),
             disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason
                                    WHEN $6 THEN 'disabled by a person' END,
             failing_since = CASE WHEN $6 IS NULL THEN failing_since END,
             updated_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING ",
        endpoint_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(&change.url)
    .bind(&change.description)
    .bind(&types)
    .bind(change.disabled)
    .fetch_optional(&mut *conn)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("webhook endpoint"))
}

/// Removes an endpoint with its deliveries and their attempts.
pub async fn delete_endpoint(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: WebhookEndpointId,
) -> Result<WebhookEndpoint, DbError> {
    sqlx::query_as::<_, EndpointRow>(concat!(
        "DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2 RETURNING ",
        endpoint_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("webhook endpoint"))
}

/// A new secret signs from now on; the current one keeps signing beside it until
/// `previous_until`, so receivers can switch without losing a delivery.
pub async fn rotate_secret(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: WebhookEndpointId,
    rotation: &RotateWebhookSecret,
) -> Result<WebhookEndpoint, DbError> {
    sqlx::query_as::<_, EndpointRow>(concat!(
        "UPDATE webhook_endpoints SET previous_sealed_secret = sealed_secret,
             previous_secret_until = $4, sealed_secret = $3, updated_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING ",
        endpoint_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(&rotation.sealed_secret)
    .bind(rotation.previous_until)
    .fetch_optional(&mut *conn)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("webhook endpoint"))
}

/// One delivery of the event to each enabled endpoint that asks for its type, due now; an
/// event recorded again adds none. Returns how many were added.
pub async fn record_event(
    pool: &PgPool,
    org_id: OrgId,
    event: &WebhookEvent,
) -> Result<u64, DbError> {
    let added = sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_id, event_type, payload,
                                         status, next_attempt_at)
         SELECT gen_random_uuid(), e.org_id, e.id, $2, $3, $4, 'pending', now()
         FROM webhook_endpoints e
         WHERE e.org_id = $1 AND NOT e.disabled
           AND CASE WHEN $5::uuid IS NULL
                    THEN cardinality(e.event_types) = 0 OR $3 = ANY (e.event_types)
                    ELSE e.id = $5 END
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(org_id.0)
    .bind(event.event_id)
    .bind(&event.event_type)
    .bind(&event.payload)
    .bind(event.endpoint_id.map(|endpoint| endpoint.0))
    .execute(pool)
    .await?;
    Ok(added.rows_affected())
}

/// An endpoint's deliveries, newest first, `limit` at a time, continuing before `before`.
pub async fn list_deliveries(
    pool: &PgPool,
    org_id: OrgId,
    endpoint_id: WebhookEndpointId,
    limit: u32,
    before: Option<WebhookDeliveryId>,
) -> Result<(Vec<WebhookDelivery>, Option<WebhookDeliveryId>), DbError> {
    get_endpoint(pool, org_id, endpoint_id).await?;
    let rows = sqlx::query_as::<_, DeliveryRow>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries d
         WHERE d.org_id = $1 AND d.endpoint_id = $2
           AND ($3::uuid IS NULL OR (d.created_at, d.id) <
                (SELECT c.created_at, c.id FROM webhook_deliveries c WHERE c.id = $3))
         ORDER BY d.created_at DESC, d.id DESC LIMIT $4"
    ))
    .bind(org_id.0)
    .bind(endpoint_id.0)
    .bind(before.map(|id| id.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let deliveries = rows
        .into_iter()
        .map(WebhookDelivery::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::page(deliveries, limit, |delivery| delivery.id))
}

pub async fn get_delivery(
    pool: &PgPool,
    org_id: OrgId,
    id: WebhookDeliveryId,
) -> Result<WebhookDeliveryWithAttempts, DbError> {
    #[derive(sqlx::FromRow)]
    struct WithPayload {
        #[sqlx(flatten)]
        delivery: DeliveryRow,
        payload: serde_json::Value,
    }
    let row = sqlx::query_as::<_, WithPayload>(concat!(
        "SELECT d.payload, ",
        delivery_columns!(),
        " FROM webhook_deliveries d WHERE d.org_id = $1 AND d.id = $2"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await?
    .ok_or(DbError::NotFound("webhook delivery"))?;
    let attempts = sqlx::query_as::<_, (i32, DateTime<Utc>, Option<i32>, Option<String>, i64)>(
        "SELECT number, attempted_at, status_code, error, duration_ms
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY number",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(
        |(number, attempted_at, status_code, error, duration_ms)| WebhookAttempt {
            number,
            attempted_at,
            status_code,
            error,
            duration_ms,
        },
    )
    .collect();
    Ok(WebhookDeliveryWithAttempts {
        delivery: row.delivery.try_into()?,
        payload: row.payload,
        attempts,
    })
}

/// Sends a delivery again at the next pass, whatever became of it (attempts go on counting).
pub async fn redeliver(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: WebhookDeliveryId,
) -> Result<WebhookDelivery, DbError> {
    let row = sqlx::query_as::<_, (bool,)>(
        "SELECT e.disabled FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.org_id = $1 AND d.id = $2",
    )
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("webhook delivery"))?;
    if row.0 {
        return Err(DbError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        ));
    }
    sqlx::query_as::<_, DeliveryRow>(concat!(
        "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(),
             claimed_until = NULL
         WHERE d.org_id = $1 AND d.id = $2
         RETURNING ",
        delivery_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_one(&mut *conn)
    .await?
    .try_into()
}

#[derive(sqlx::FromRow)]
struct DueRow {
    #[sqlx(flatten)]
    delivery: DeliveryRow,
    payload: serde_json::Value,
    url: String,
    sealed_secret: String,
    previous_sealed_secret: Option<String>,
    previous_secret_until: Option<DateTime<Utc>>,
}

/// Leases the deliveries due at `now` (of every organization, enabled endpoints only) to the
/// caller, oldest due first, and never more than `per_endpoint` of one endpoint in flight at
/// once across every deliverer (running leases count): an endpoint that is slow or down cannot
/// take every deliverer's slots. Rows another deliverer is claiming are skipped, not waited for.
pub async fn claim_due(
    pool: &PgPool,
    claim: &ClaimDueDeliveries,
) -> Result<Vec<DueDelivery>, DbError> {
    let rows = sqlx::query_as::<_, DueRow>(concat!(
        "WITH due AS (
             SELECT d.id FROM (
                 SELECT DISTINCT endpoint_id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= $1
             ) ready
             JOIN webhook_endpoints e ON e.id = ready.endpoint_id
             CROSS JOIN LATERAL (
                 SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.status = 'pending'
                   AND d.next_attempt_at <= $1
                   AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
                 ORDER BY d.next_attempt_at
                 LIMIT greatest(0, $4 - (
                     SELECT count(*) FROM webhook_deliveries x
                     WHERE x.endpoint_id = e.id AND x.status = 'pending'
                       AND x.claimed_until > $1))
                 FOR UPDATE SKIP LOCKED
             ) d
             WHERE NOT e.disabled
             ORDER BY d.next_attempt_at
             LIMIT $2
         )
         UPDATE webhook_deliveries d SET claimed_until = $1 + make_interval(secs => $3)
         FROM due, webhook_endpoints e
         WHERE d.id = due.id AND e.id = d.endpoint_id
         RETURNING d.payload, e.url, e.sealed_secret, e.previous_sealed_secret,
                   e.previous_secret_until, ",
        delivery_columns!()
    ))
    .bind(claim.now)
    .bind(i64::from(claim.limit))
    .bind(f64::from(claim.lease_seconds))
    .bind(i64::from(claim.per_endpoint))
    .fetch_all(pool)
    .await?;
    let mut due = rows
        .into_iter()
        .map(|row| {
            let mut sealed_secrets = vec![row.sealed_secret];
            if let (Some(previous), Some(until)) =
                (row.previous_sealed_secret, row.previous_secret_until)
                && until > claim.now
            {
                sealed_secrets.push(previous);
            }
            Ok(DueDelivery {
                delivery: row.delivery.try_into()?,
                url: row.url,
                payload: row.payload,
                sealed_secrets,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    due.sort_by_key(|due| due.delivery.next_attempt_at);
    Ok(due)
}

/// Records an attempt and what follows from it: the delivery succeeded, waits for its next
/// attempt, or failed; the endpoint's failure streak starts, goes on or ends, and an endpoint
/// failing since before `disable_if_failing_since` is disabled. An attempt recorded already
/// (a deliverer's retry) changes nothing.
pub async fn attempted(
    pool: &PgPool,
    org_id: OrgId,
    id: WebhookDeliveryId,
    attempt: &DeliveryAttempted,
) -> Result<WebhookDelivery, DbError> {
    let mut tx = pool.begin().await?;
    let recorded = sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, number, attempted_at, status_code, error,
                                       duration_ms)
         SELECT d.id, $3, $4, $5, $6, $7 FROM webhook_deliveries d
         WHERE d.org_id = $1 AND d.id = $2 AND d.attempts = $3 - 1
         ON CONFLICT (delivery_id, number) DO NOTHING",
    )
    .bind(org_id.0)
    .bind(id.0)
    .bind(attempt.number)
    .bind(attempt.attempted_at)
    .bind(attempt.status_code)
    .bind(&attempt.error)
    .bind(attempt.duration_ms)
    .execute(&mut *tx)
    .await?;
    if recorded.rows_affected() == 1 {
        let status = match (attempt.succeeded, attempt.next_attempt_at) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        };
        let (endpoint_id,): (Uuid,) = sqlx::query_as(
            "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5,
                 claimed_until = NULL, last_status_code = $6, last_error = $7,
                 delivered_at = CASE WHEN $8 THEN $9 ELSE delivered_at END
             WHERE org_id = $1 AND id = $2
             RETURNING endpoint_id",
        )
        .bind(org_id.0)
        .bind(id.0)
        .bind(status.as_str())
        .bind(attempt.number)
        .bind(attempt.next_attempt_at.filter(|_| !attempt.succeeded))
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(attempt.succeeded)
        .bind(attempt.attempted_at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET
                 failing_since = CASE WHEN $3 THEN NULL ELSE coalesce(failing_since, $4) END,
                 disabled = disabled OR (NOT $3 AND coalesce(failing_since, $4) <= $5),
                 disabled_reason = CASE
                     WHEN NOT disabled AND NOT $3 AND coalesce(failing_since, $4) <= $5
                     THEN 'every attempt failed since ' || to_char(coalesce(failing_since, $4)
                          AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                     ELSE disabled_reason END
             WHERE id = $1 AND org_id = $2",
        )
        .bind(endpoint_id)
        .bind(org_id.0)
        .bind(attempt.succeeded)
        .bind(attempt.attempted_at)
        .bind(attempt.disable_if_failing_since)
        .execute(&mut *tx)
        .await?;
    }
    let delivery = sqlx::query_as::<_, DeliveryRow>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries d WHERE d.org_id = $1 AND d.id = $2"
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DbError::NotFound("webhook delivery"))?;
    tx.commit().await?;
    delivery.try_into()
}
