//! Automation rules (`s4e_types::rule`): stored once judged whole, listed per event type for
//! s4e-trigger, and their firings recorded once per rule and event.

use chrono::{DateTime, Utc};
use s4e_types::rule::{
    MAX_RULES, NewRule, RecordFiring, Rule, RuleAction, RuleEvent, RuleFiring, UpdateRule,
};
use s4e_types::{AssetId, OrgId, RuleId};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::DbError;

/// Firings listed per rule, newest first.
const FIRINGS_LISTED: i64 = 100;

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: Option<String>,
    event: String,
    conditions: serde_json::Value,
    actions: serde_json::Value,
    disabled: bool,
    fired_count: i64,
    last_fired_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

macro_rules! rule_columns {
    () => {
        "id, org_id, name, description, event, conditions, actions, disabled, fired_count, \
         last_fired_at, created_at, updated_at"
    };
}

impl TryFrom<RuleRow> for Rule {
    type Error = DbError;
    fn try_from(row: RuleRow) -> Result<Self, DbError> {
        let corrupt = |what: &str, error: String| DbError::Corrupt(format!("rule {what}: {error}"));
        Ok(Rule {
            id: RuleId(row.id),
            org_id: OrgId(row.org_id),
            name: row.name,
            description: row.description,
            event: RuleEvent::parse(&row.event)
                .ok_or_else(|| corrupt("event", row.event.clone()))?,
            conditions: serde_json::from_value(row.conditions)
                .map_err(|error| corrupt("conditions", error.to_string()))?,
            actions: serde_json::from_value(row.actions)
                .map_err(|error| corrupt("actions", error.to_string()))?,
            disabled: row.disabled,
            fired_count: row.fired_count,
            last_fired_at: row.last_fired_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn to_json<T: serde::Serialize>(field: &str, value: &T) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(value).map_err(|error| DbError::Invalid(format!("{field}: {error}")))
}

/// Judges a rule whole, then checks what it names is the organization's: the assets of its
/// conditions and the endpoints of its actions.
async fn validate(conn: &mut PgConnection, org_id: OrgId, rule: &NewRule) -> Result<(), DbError> {
    rule.validate().map_err(DbError::Invalid)?;
    if let Some(ids) = &rule.conditions.asset_ids {
        let ids: Vec<Uuid> = ids.iter().map(|id: &AssetId| id.0).collect();
        let (known,): (i64,) = sqlx::query_as(
            "SELECT count(DISTINCT id) FROM assets WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org_id.0)
        .bind(&ids)
        .fetch_one(&mut *conn)
        .await?;
        let distinct = ids.iter().collect::<std::collections::HashSet<_>>().len();
        if known as usize != distinct {
            return Err(DbError::Invalid(
                "conditions.asset_ids: not all of them are the organization's assets".into(),
            ));
        }
    }
    for (index, action) in rule.actions.iter().enumerate() {
        if let RuleAction::SendWebhook { endpoint_id } = action {
            let found: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
                    .bind(org_id.0)
                    .bind(endpoint_id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
            if found.is_none() {
                return Err(DbError::Invalid(format!(
                    "actions[{index}]: no webhook endpoint {endpoint_id} in the organization"
                )));
            }
        }
    }
    Ok(())
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: OrgId,
    rule: &NewRule,
) -> Result<Rule, DbError> {
    let mut tx = conn.begin().await?;
    validate(&mut tx, org_id, rule).await?;
    super::organizations::lock(&mut tx, org_id).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM automation_rules WHERE org_id = $1")
            .bind(org_id.0)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_RULES {
        return Err(DbError::Conflict(format!(
            "an organization keeps at most {MAX_RULES} rules"
        )));
    }
    let row = sqlx::query_as::<_, RuleRow>(concat!(
        "INSERT INTO automation_rules (id, org_id, name, description, event, conditions, actions,
                                       disabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING ",
        rule_columns!()
    ))
    .bind(RuleId::new().0)
    .bind(org_id.0)
    .bind(rule.name.trim())
    .bind(&rule.description)
    .bind(rule.event.as_str())
    .bind(to_json("conditions", &rule.conditions)?)
    .bind(to_json("actions", &rule.actions)?)
    .bind(rule.disabled)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}

pub async fn list(pool: &PgPool, org_id: OrgId) -> Result<Vec<Rule>, DbError> {
    sqlx::query_as::<_, RuleRow>(concat!(
        "SELECT ",
        rule_columns!(),
        " FROM automation_rules WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Rule::try_from)
    .collect()
}

/// The enabled rules that fire on `event`, oldest first.
pub async fn for_event(
    pool: &PgPool,
    org_id: OrgId,
    event: RuleEvent,
) -> Result<Vec<Rule>, DbError> {
    sqlx::query_as::<_, RuleRow>(concat!(
        "SELECT ",
        rule_columns!(),
        " FROM automation_rules WHERE org_id = $1 AND event = $2 AND NOT disabled
          ORDER BY created_at, id"
    ))
    .bind(org_id.0)
    .bind(event.as_str())
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Rule::try_from)
    .collect()
}

async fn get_with(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: RuleId,
    lock: bool,
) -> Result<Rule, DbError> {
    let sql = if lock {
        concat!(
            "SELECT ",
            rule_columns!(),
            " FROM automation_rules WHERE org_id = $1 AND id = $2 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            rule_columns!(),
            " FROM automation_rules WHERE org_id = $1 AND id = $2"
        )
    };
    sqlx::query_as::<_, RuleRow>(sql)
        .bind(org_id.0)
        .bind(id.0)
        .fetch_optional(conn)
        .await?
        .ok_or(DbError::NotFound("rule"))?
        .try_into()
}

pub async fn get(pool: &PgPool, org_id: OrgId, id: RuleId) -> Result<Rule, DbError> {
    let mut conn = pool.acquire().await?;
    get_with(&mut conn, org_id, id, false).await
}

/// Replaces the fields named; the rule as changed must pass every check a new one does.
pub async fn update(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: RuleId,
    change: &UpdateRule,
) -> Result<Rule, DbError> {
    let mut tx = conn.begin().await?;
    let current = get_with(&mut tx, org_id, id, true).await?;
    let rule = change.applied_to(&current);
    validate(&mut tx, org_id, &rule).await?;
    let row = sqlx::query_as::<_, RuleRow>(concat!(
        "UPDATE automation_rules SET name = $3, description = $4, event = $5, conditions = $6,
                actions = $7, disabled = $8, updated_at = now()
         WHERE org_id = $1 AND id = $2
         RETURNING ",
        rule_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .bind(rule.name.trim())
    .bind(&rule.description)
    .bind(rule.event.as_str())
    .bind(to_json("conditions", &rule.conditions)?)
    .bind(to_json("actions", &rule.actions)?)
    .bind(rule.disabled)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}

/// Deletes the rule and its firings; the scans it started stay.
pub async fn delete(conn: &mut PgConnection, org_id: OrgId, id: RuleId) -> Result<Rule, DbError> {
    sqlx::query_as::<_, RuleRow>(concat!(
        "DELETE FROM automation_rules WHERE org_id = $1 AND id = $2 RETURNING ",
        rule_columns!()
    ))
    .bind(org_id.0)
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .ok_or(DbError::NotFound("rule"))?
    .try_into()
}

/// Records a firing; the rule counts it once, however often the same event is recorded
/// (the later record's outcomes are kept).
pub async fn record_firing(
    conn: &mut PgConnection,
    org_id: OrgId,
    id: RuleId,
    firing: &RecordFiring,
) -> Result<RuleFiring, DbError> {
    let mut tx = conn.begin().await?;
    get_with(&mut tx, org_id, id, false).await?;
    let (first,): (bool,) = sqlx::query_as(
        "INSERT INTO rule_firings (rule_id, event_id, org_id, event_type, asset_id, fired_at,
                                   actions)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (rule_id, event_id) DO UPDATE SET actions = EXCLUDED.actions,
                                                      fired_at = EXCLUDED.fired_at
         RETURNING (xmax = 0)",
    )
    .bind(id.0)
    .bind(firing.event_id)
    .bind(org_id.0)
    .bind(firing.event_type.as_str())
    .bind(firing.asset_id.map(|asset| asset.0))
    .bind(firing.fired_at)
    .bind(to_json("actions", &firing.actions)?)
    .fetch_one(&mut *tx)
    .await?;
    if first {
        sqlx::query(
            "UPDATE automation_rules SET fired_count = fired_count + 1,
                    last_fired_at = greatest(last_fired_at, $3)
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id.0)
        .bind(id.0)
        .bind(firing.fired_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(RuleFiring {
        rule_id: id,
        event_id: firing.event_id,
        event_type: firing.event_type,
        asset_id: firing.asset_id,
        fired_at: firing.fired_at,
        actions: firing.actions.clone(),
    })
}

#[derive(sqlx::FromRow)]
struct FiringRow {
    rule_id: Uuid,
    event_id: Uuid,
    event_type: String,
    asset_id: Option<Uuid>,
    fired_at: DateTime<Utc>,
    actions: serde_json::Value,
}

/// The rule's latest firings, newest first.
pub async fn firings(pool: &PgPool, org_id: OrgId, id: RuleId) -> Result<Vec<RuleFiring>, DbError> {
    let mut conn = pool.acquire().await?;
    get_with(&mut conn, org_id, id, false).await?;
    sqlx::query_as::<_, FiringRow>(
        "SELECT rule_id, event_id, event_type, asset_id, fired_at, actions FROM rule_firings
         WHERE org_id = $1 AND rule_id = $2 ORDER BY fired_at DESC LIMIT $3",
    )
    .bind(org_id.0)
    .bind(id.0)
    .bind(FIRINGS_LISTED)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| {
        Ok(RuleFiring {
            rule_id: RuleId(row.rule_id),
            event_id: row.event_id,
            event_type: RuleEvent::parse(&row.event_type)
                .ok_or_else(|| DbError::Corrupt(format!("firing event {:?}", row.event_type)))?,
            asset_id: row.asset_id.map(AssetId),
            fired_at: row.fired_at,
            actions: serde_json::from_value(row.actions)
                .map_err(|error| DbError::Corrupt(format!("firing actions: {error}")))?,
        })
    })
    .collect()
}
