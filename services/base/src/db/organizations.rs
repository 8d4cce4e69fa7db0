use s4e_types::OrgId;
use s4e_types::api::Organization;
use sqlx::PgPool;

use super::DbError;

pub async fn create(pool: &PgPool, name: &str) -> Result<Organization, DbError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DbError::Invalid("name: must be 1-200 characters".into()));
    }
    let id = OrgId::new();
    sqlx::query("INSERT INTO organizations (id, name) VALUES ($1, $2)")
        .bind(id.0)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(Organization {
        id,
        name: name.to_string(),
    })
}
