//! The service inventory (`s4e_types::inventory`): stored from each port scan's report in the
//! report's transaction, with a `service.appeared` or `service.gone` event in the outbox for
//! each change, so every change is announced once.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use s4e_types::envelope::ServiceChanged;
use s4e_types::inventory::{AssetService, ObservedService, ObservedServices, ServiceQuery};
use s4e_types::surface::SurfaceChangeKind;
use s4e_types::{AssetId, Message, OrgId, RunId};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::DbError;

const TRANSPORT: &str = "tcp";

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: Uuid,
    org_id: Uuid,
    asset_id: Uuid,
    host: String,
    port: i32,
    transport: String,
    service: Option<String>,
    product: Option<String>,
    version: Option<String>,
    tls: bool,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    gone_at: Option<DateTime<Utc>>,
    last_run_id: Uuid,
}

/// A service present before a scan.
#[derive(sqlx::FromRow)]
struct PresentRow {
    port: i32,
    service: Option<String>,
    product: Option<String>,
    version: Option<String>,
    tls: bool,
}

const COLUMNS: &str = "id, org_id, asset_id, host, port, transport, service, product, version, tls, \
                       first_seen, last_seen, gone_at, last_run_id";

impl From<ServiceRow> for AssetService {
    fn from(row: ServiceRow) -> Self {
        AssetService {
            id: row.id,
            org_id: OrgId(row.org_id),
            asset_id: AssetId(row.asset_id),
            host: Some(row.host).filter(|host| !host.is_empty()),
            port: row.port,
            transport: row.transport,
            service: row.service,
            product: row.product,
            version: row.version,
            tls: row.tls,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            gone_at: row.gone_at,
            last_run_id: RunId(row.last_run_id),
        }
    }
}

fn changed(
    asset_id: AssetId,
    host: &str,
    run_id: RunId,
    port: u16,
    seen: &ObservedService,
) -> ServiceChanged {
    ServiceChanged {
        asset_id,
        host: Some(host.to_string()).filter(|host| !host.is_empty()),
        port,
        transport: TRANSPORT.into(),
        service: seen.service.clone(),
        product: seen.product.clone(),
        version: seen.version.clone(),
        tls: seen.tls,
        run_id,
    }
}

/// Records what the port scan of `run_id` saw of `asset_id` (of its `host` for a range, else
/// `""`): the services present now (`service.appeared` for those that were not), and the
/// ones on scanned ports that are closed now (`service.gone`).
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    org_id: OrgId,
    asset_id: AssetId,
    host: &str,
    run_id: RunId,
    observed: &ObservedServices,
) -> Result<(), DbError> {
    if observed.open.iter().any(|service| service.port == 0) {
        return Err(DbError::Invalid("services: port 0".into()));
    }
    let seen: BTreeMap<u16, &ObservedService> = observed
        .open
        .iter()
        .map(|service| (service.port, service))
        .collect();
    // The asset's services present before this scan, locked against a concurrent report.
    let present: Vec<PresentRow> = sqlx::query_as(
        "SELECT port, service, product, version, tls FROM asset_services
         WHERE org_id = $1 AND asset_id = $2 AND transport = $3 AND host = $4
           AND gone_at IS NULL
         ORDER BY port FOR UPDATE",
    )
    .bind(org_id.0)
    .bind(asset_id.0)
    .bind(TRANSPORT)
    .bind(host)
    .fetch_all(&mut **tx)
    .await?;
    let present_ports: HashSet<u16> = present
        .iter()
        .filter_map(|row| u16::try_from(row.port).ok())
        .collect();
    let scanned: Option<HashSet<u16>> = observed
        .scanned
        .as_ref()
        .map(|ports| ports.iter().copied().collect());
    let mut events = Vec::new();
    for (port, service) in &seen {
        sqlx::query(
            "INSERT INTO asset_services (id, org_id, asset_id, port, transport, service, product,
                                         version, tls, last_run_id, host)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (asset_id, host, port, transport) DO UPDATE SET
                service = coalesce(EXCLUDED.service, asset_services.service),
                product = coalesce(EXCLUDED.product, asset_services.product),
                version = coalesce(EXCLUDED.version, asset_services.version),
                tls = EXCLUDED.tls, last_seen = now(), gone_at = NULL,
                last_run_id = EXCLUDED.last_run_id",
        )
        .bind(Uuid::now_v7())
        .bind(org_id.0)
        .bind(asset_id.0)
        .bind(i32::from(*port))
        .bind(TRANSPORT)
        .bind(&service.service)
        .bind(&service.product)
        .bind(&service.version)
        .bind(service.tls)
        .bind(run_id.0)
        .bind(host)
        .execute(&mut **tx)
        .await?;
        if !present_ports.contains(port) {
            events.push(Message::ServiceAppeared(changed(
                asset_id, host, run_id, *port, service,
            )));
        }
    }
    for row in present {
        let Ok(port) = u16::try_from(row.port) else {
            continue;
        };
        let was_scanned = scanned.as_ref().is_none_or(|ports| ports.contains(&port));
        if seen.contains_key(&port) || !was_scanned {
            continue;
        }
        sqlx::query(
            "UPDATE asset_services SET gone_at = now(), last_run_id = $5
             WHERE org_id = $1 AND asset_id = $2 AND port = $3 AND transport = $4 AND host = $6",
        )
        .bind(org_id.0)
        .bind(asset_id.0)
        .bind(i32::from(port))
        .bind(TRANSPORT)
        .bind(run_id.0)
        .bind(host)
        .execute(&mut **tx)
        .await?;
        let was = ObservedService {
            port,
            service: row.service,
            product: row.product,
            version: row.version,
            tls: row.tls,
        };
        events.push(Message::ServiceGone(changed(
            asset_id, host, run_id, port, &was,
        )));
    }
    if !events.is_empty() {
        tracing::info!(%org_id, %asset_id, %run_id, changes = events.len(), "services changed");
    }
    for event in &events {
        super::outbox::record(tx, org_id, event, &[]).await?;
        let (kind, change) = match event {
            Message::ServiceAppeared(change) => (SurfaceChangeKind::ServiceAppeared, change),
            Message::ServiceGone(change) => (SurfaceChangeKind::ServiceGone, change),
            _ => continue,
        };
        let detail = serde_json::json!({
            "host": change.host,
            "service": change.service, "product": change.product, "version": change.version,
            "tls": change.tls, "run_id": change.run_id,
        });
        super::surface::record(tx, org_id, asset_id, kind, Some(change.port), detail).await?;
    }
    Ok(())
}

/// The organization's services, filtered, oldest first in pages; the cursor of the next page
/// when there is one.
pub async fn list(
    pool: &PgPool,
    org_id: OrgId,
    query: &ServiceQuery,
    limit: u32,
) -> Result<(Vec<AssetService>, Option<Uuid>), DbError> {
    super::check_chars("service", query.service.as_deref(), 64)?;
    if query.port == Some(0) {
        return Err(DbError::Invalid("port: 1-65535".into()));
    }
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM asset_services WHERE org_id = ")
        .push_bind(org_id.0);
    if let Some(asset_id) = query.asset_id {
        sql.push(" AND asset_id = ").push_bind(asset_id.0);
    }
    if let Some(port) = query.port {
        sql.push(" AND port = ").push_bind(i32::from(port));
    }
    if let Some(service) = &query.service {
        sql.push(" AND service = ")
            .push_bind(service.to_ascii_lowercase());
    }
    if !query.include_gone {
        sql.push(" AND gone_at IS NULL");
    }
    if let Some(after) = query.after {
        sql.push(" AND id > ").push_bind(after);
    }
    sql.push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = sql
        .build_query_as::<ServiceRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AssetService::from)
        .collect();
    Ok(super::page(rows, limit, |service: &AssetService| {
        service.id
    }))
}
