//! An organization's scan settings: one row per organization, absent until first changed (the
//! defaults stand in for it).

use s4e_types::api::ScanSettings;
use s4e_types::{CheckKind, OrgId, PortScope, ScanProfile};
use sqlx::PgConnection;

use super::DbError;

#[derive(sqlx::FromRow)]
struct SettingsRow {
    default_profile: String,
    disabled_checks: Vec<String>,
    port_scan: serde_json::Value,
    auto_approve_candidates: bool,
}

impl TryFrom<SettingsRow> for ScanSettings {
    type Error = DbError;
    fn try_from(row: SettingsRow) -> Result<Self, DbError> {
        let default_profile = ScanProfile::parse(&row.default_profile).ok_or_else(|| {
            DbError::Corrupt(format!("unknown default profile {:?}", row.default_profile))
        })?;
        let disabled_checks = row
            .disabled_checks
            .iter()
            .map(|key| {
                CheckKind::parse(key)
                    .ok_or_else(|| DbError::Corrupt(format!("unknown disabled check {key:?}")))
            })
            .collect::<Result<_, _>>()?;
        let port_scan: PortScope = serde_json::from_value(row.port_scan)
            .map_err(|error| DbError::Corrupt(format!("port_scan: {error}")))?;
        Ok(ScanSettings {
            default_profile,
            disabled_checks,
            port_scan,
            auto_approve_candidates: row.auto_approve_candidates,
        })
    }
}

/// The organization's settings, or the defaults when it never changed them; through a pool or
/// inside a transaction.
pub async fn get<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    org_id: OrgId,
) -> Result<ScanSettings, DbError> {
    let row = sqlx::query_as::<_, SettingsRow>(
        "SELECT default_profile, disabled_checks, port_scan, auto_approve_candidates
         FROM scan_settings WHERE org_id = $1",
    )
    .bind(org_id.0)
    .fetch_optional(executor)
    .await?;
    match row {
        Some(row) => row.try_into(),
        None => Ok(ScanSettings::default()),
    }
}

/// Replaces the organization's settings (validated and normalized first).
pub async fn put(
    conn: &mut PgConnection,
    org_id: OrgId,
    settings: &ScanSettings,
) -> Result<ScanSettings, DbError> {
    let settings = settings.normalized().map_err(DbError::Invalid)?;
    let disabled: Vec<&str> = settings
        .disabled_checks
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    let port_scan = serde_json::to_value(&settings.port_scan)
        .map_err(|error| DbError::Invalid(format!("port_scan: {error}")))?;
    let stored = sqlx::query_as::<_, SettingsRow>(
        "INSERT INTO scan_settings (org_id, default_profile, disabled_checks, port_scan,
                                    auto_approve_candidates)
         SELECT o.id, $2, $3, $4, $5 FROM organizations o WHERE o.id = $1
         ON CONFLICT (org_id) DO UPDATE SET
             default_profile = EXCLUDED.default_profile,
             disabled_checks = EXCLUDED.disabled_checks,
             port_scan = EXCLUDED.port_scan,
             auto_approve_candidates = EXCLUDED.auto_approve_candidates,
             updated_at = now()
         RETURNING default_profile, disabled_checks, port_scan, auto_approve_candidates",
    )
    .bind(org_id.0)
    .bind(settings.default_profile.as_str())
    .bind(&disabled)
    .bind(&port_scan)
    .bind(settings.auto_approve_candidates)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("organization"))?;
    stored.try_into()
}
