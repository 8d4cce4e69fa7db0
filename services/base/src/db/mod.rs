//! The SQL, one module per aggregate. Every tenant-owned query filters by `org_id`;
//! constraint violations become [`DbError`]s where the query runs.

pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod candidates;
pub mod change;
pub mod dashboard;
pub mod findings;
pub mod fuzz_wordlists;
pub mod inbound_hooks;
pub mod organizations;
pub mod outbox;
pub mod rules;
pub mod runs;
pub mod scan_settings;
pub mod schedules;
pub mod services;
pub mod surface;
pub mod technologies;
pub mod users;
pub mod webhooks;

pub use change::Change;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// A schedule's scan for a due time that has one already (a retry, or another scheduler).
    #[error("{0}")]
    AlreadyStarted(String),
    /// A rule's scan of an asset while the rule's previous scan of it is still going.
    #[error("{0}")]
    StillRunning(String),
    /// A stored row that does not decode: a bug or a bad migration, never the caller's fault.
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// Refuses a text longer than `max` characters (as JSON Schema counts them), naming `field`.
pub(crate) fn check_chars(field: &str, value: Option<&str>, max: usize) -> Result<(), DbError> {
    match value {
        Some(text) if text.chars().count() > max => Err(DbError::Invalid(format!(
            "{field}: at most {max} characters"
        ))),
        _ => Ok(()),
    }
}

/// Cuts rows read one past a page of `limit` to the page, and names the cursor of the next
/// page (from the page's last row) when there was that one more.
pub(crate) fn page<T, C>(
    mut rows: Vec<T>,
    limit: u32,
    cursor_of: impl FnOnce(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = rows.last().filter(|_| more).map(cursor_of);
    (rows, cursor)
}

/// Whether PostgreSQL rolled the transaction back for a deadlock or a serialization failure,
/// which the same request again resolves.
pub(crate) fn retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40P01" | "40001")),
        _ => false,
    }
}

/// The security score's penalty of the open findings' totals `t` (`open_finding_totals`):
/// each open finding weighs 10 (critical), 5 (high), 2 (medium), 0.5 (low) or 0 (info), times
/// its asset's criticality, 0.5 (low), 1 (medium), 1.5 (high) or 2 (critical).
macro_rules! penalty_sql {
    () => {
        "coalesce(sum((t.critical * 10 + t.high * 5 + t.medium * 2 + t.low * 0.5)
          * CASE t.criticality WHEN 'low' THEN 0.5 WHEN 'high' THEN 1.5 WHEN 'critical' THEN 2
                               ELSE 1 END), 0)::float8"
    };
}
pub(crate) use penalty_sql;

/// The five severity columns ([`SeverityRow`]) summed from `open_finding_totals t`: the open
/// findings per organization, asset criticality and shard that the counters' triggers keep.
macro_rules! open_counts_sql {
    () => {
        "coalesce(sum(t.critical), 0)::bigint AS critical,
         coalesce(sum(t.high), 0)::bigint AS high,
         coalesce(sum(t.medium), 0)::bigint AS medium,
         coalesce(sum(t.low), 0)::bigint AS low,
         coalesce(sum(t.info), 0)::bigint AS info"
    };
}
pub(crate) use open_counts_sql;

/// The services the port scans see listening now on the unarchived assets of the
/// organization `o`.
macro_rules! exposed_services_sql {
    () => {
        "(SELECT count(*) FROM asset_services s
          JOIN assets sa ON sa.id = s.asset_id AND sa.archived_at IS NULL
          WHERE s.org_id = o.id AND s.gone_at IS NULL)"
    };
}
pub(crate) use exposed_services_sql;

/// The five columns of a statement counting findings by severity.
#[derive(sqlx::FromRow)]
pub(crate) struct SeverityRow {
    critical: i64,
    high: i64,
    medium: i64,
    low: i64,
    info: i64,
}

impl From<SeverityRow> for s4e_types::api::SeverityCounts {
    fn from(row: SeverityRow) -> Self {
        Self {
            critical: row.critical,
            high: row.high,
            medium: row.medium,
            low: row.low,
            info: row.info,
        }
    }
}

/// The name of the unique constraint a failed statement violated, if that is what failed.
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            Some(db.constraint().unwrap_or("unique").to_string())
        }
        _ => None,
    }
}
