//! Organizations, and partners' customers: a customer row names its partner, and every query
//! about customers filters by that partner.

use s4e_types::OrgId;
use s4e_types::api::{CustomerFindings, Organization, RateTier};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{DbError, SeverityRow, exposed_services_sql, open_counts_sql, penalty_sql};

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: Uuid,
    name: String,
    is_partner: bool,
    partner_org_id: Option<Uuid>,
    rate_tier: String,
}

impl From<OrganizationRow> for Organization {
    fn from(row: OrganizationRow) -> Self {
        Organization {
            id: OrgId(row.id),
            name: row.name,
            is_partner: row.is_partner,
            partner_org_id: row.partner_org_id.map(OrgId),
            // The column's check keeps it one of the tiers.
            rate_tier: RateTier::parse(&row.rate_tier).unwrap_or_default(),
        }
    }
}

fn name(value: &str) -> Result<&str, DbError> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DbError::Invalid("name: must be 1-200 characters".into()));
    }
    Ok(name)
}

/// Inserts an organization inside the caller's transaction or connection.
pub(crate) async fn insert(
    connection: &mut PgConnection,
    org_name: &str,
    is_partner: bool,
) -> Result<Organization, DbError> {
    let org_name = name(org_name)?;
    let row = sqlx::query_as::<_, OrganizationRow>(
        "INSERT INTO organizations (id, name, is_partner) VALUES ($1, $2, $3)
         RETURNING id, name, is_partner, partner_org_id, rate_tier",
    )
    .bind(OrgId::new().0)
    .bind(org_name)
    .bind(is_partner)
    .fetch_one(connection)
    .await?;
    Ok(row.into())
}

pub async fn create(
    pool: &PgPool,
    org_name: &str,
    is_partner: bool,
) -> Result<Organization, DbError> {
    let mut connection = pool.acquire().await?;
    insert(&mut connection, org_name, is_partner).await
}

pub async fn get(pool: &PgPool, org_id: OrgId) -> Result<Organization, DbError> {
    sqlx::query_as::<_, OrganizationRow>(
        "SELECT id, name, is_partner, partner_org_id, rate_tier FROM organizations WHERE id = $1",
    )
    .bind(org_id.0)
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("organization"))
}

/// A new customer of `partner_id`; only a partner organization has customers.
pub async fn create_customer(
    conn: &mut PgConnection,
    partner_id: OrgId,
    customer_name: &str,
) -> Result<Organization, DbError> {
    let customer_name = name(customer_name)?;
    sqlx::query_as::<_, OrganizationRow>(
        "INSERT INTO organizations (id, name, partner_org_id)
         SELECT $1, $3, p.id FROM organizations p WHERE p.id = $2 AND p.is_partner
         RETURNING id, name, is_partner, partner_org_id, rate_tier",
    )
    .bind(OrgId::new().0)
    .bind(partner_id.0)
    .bind(customer_name)
    .fetch_optional(&mut *conn)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("partner organization"))
}

pub async fn customers(pool: &PgPool, partner_id: OrgId) -> Result<Vec<Organization>, DbError> {
    Ok(sqlx::query_as::<_, OrganizationRow>(
        "SELECT id, name, is_partner, partner_org_id, rate_tier FROM organizations
         WHERE partner_org_id = $1 ORDER BY name, id LIMIT 10000",
    )
    .bind(partner_id.0)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Into::into)
    .collect())
}

/// The customer, if it is `partner_id`'s; another organization is simply not found.
pub async fn customer(
    pool: &PgPool,
    partner_id: OrgId,
    customer_id: OrgId,
) -> Result<Organization, DbError> {
    sqlx::query_as::<_, OrganizationRow>(
        "SELECT id, name, is_partner, partner_org_id, rate_tier FROM organizations
         WHERE id = $2 AND partner_org_id = $1",
    )
    .bind(partner_id.0)
    .bind(customer_id.0)
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("organization"))
}

#[derive(sqlx::FromRow)]
struct PortfolioRow {
    #[sqlx(flatten)]
    organization: OrganizationRow,
    #[sqlx(flatten)]
    open: SeverityRow,
    penalty: f64,
    exposed_services: i64,
}

/// Every customer of the partner with its open findings by severity, in one statement over
/// the open findings' totals (at most 64 rows per customer, whatever its size).
pub async fn portfolio(pool: &PgPool, partner_id: OrgId) -> Result<Vec<CustomerFindings>, DbError> {
    let sql = concat!(
        "SELECT o.id, o.name, o.is_partner, o.partner_org_id, o.rate_tier,
                ",
        open_counts_sql!(),
        ",
                ",
        penalty_sql!(),
        " AS penalty,
                ",
        exposed_services_sql!(),
        " AS exposed_services
         FROM organizations o
         LEFT JOIN open_finding_totals t ON t.org_id = o.id
         WHERE o.partner_org_id = $1
         GROUP BY o.id ORDER BY o.name, o.id LIMIT 10000"
    );
    let rows = sqlx::query_as::<_, PortfolioRow>(sql)
        .bind(partner_id.0)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| CustomerFindings {
            organization: row.organization.into(),
            open_findings: row.open.into(),
            penalty: row.penalty,
            exposed_services: row.exposed_services,
        })
        .collect())
}

/// Sets an organization's rate-limit tier (an operator's decision, not the organization's).
pub async fn set_rate_tier(
    pool: &PgPool,
    org_id: OrgId,
    tier: RateTier,
) -> Result<Organization, DbError> {
    sqlx::query_as::<_, OrganizationRow>(
        "UPDATE organizations SET rate_tier = $2 WHERE id = $1
         RETURNING id, name, is_partner, partner_org_id, rate_tier",
    )
    .bind(org_id.0)
    .bind(tier.as_str())
    .fetch_optional(pool)
    .await?
    .map(Into::into)
    .ok_or(DbError::NotFound("organization"))
}

/// Locks the organization's row until the transaction ends, so that a count of what it owns
/// holds until the commit (one creation at a time per organization); not found when it does
/// not exist.
pub async fn lock(conn: &mut PgConnection, org_id: OrgId) -> Result<(), DbError> {
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(org_id.0)
        .fetch_optional(&mut *conn)
        .await?
        .map(|_| ())
        .ok_or(DbError::NotFound("organization"))
}
