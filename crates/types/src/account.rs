//! People and their organizations: users, roles, invitations, and the bodies that move them
//! between the gateway and base. Password hashes travel only on internal routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::Organization;
use crate::ids::{InvitationId, OrgId, UserId};

/// What a person may do in their organization. Ordered by power: an owner outranks an admin,
/// who outranks a member, who outranks a viewer.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|role| role.as_str() == value)
    }
}

/// An e-mail address as stored: trimmed, lowercased, and plausibly an address. Deliverability
/// is the inviter's business; this only refuses what cannot be an address.
pub fn normalize_email(email: &str) -> Result<String, &'static str> {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err("email: must be an e-mail address");
    };
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(email)
    } else {
        Err("email: must be an e-mail address")
    }
}

/// A user as listed and returned: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
    /// Whether sign-in also needs a code from the user's authenticator.
    pub totp_enabled: bool,
    /// The assets a member or viewer is limited to; absent: every asset of the organization.
    #[serde(default)]
    pub asset_scope: Option<Vec<crate::ids::AssetId>>,
}

/// Limits a member or viewer to some assets (`null` lifts the limit).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAssetScope {
    #[schema(max_items = 10000)]
    pub asset_ids: Option<Vec<crate::ids::AssetId>>,
}

/// A new organization with its first owner, created together or not at all.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganizationWithOwner {
    pub organization_name: String,
    pub email: String,
    /// Argon2id PHC string; the gateway hashes, base only stores.
    pub password_hash: String,
    #[serde(default)]
    pub is_partner: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrganizationWithOwner {
    pub organization: Organization,
    pub owner: User,
}

/// What the gateway needs to check a password: the user and the stored hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
    /// The active TOTP secret, sealed by the gateway.
    pub totp_secret: Option<String>,
    /// A secret being enrolled, sealed, until a code proves it.
    pub totp_pending_secret: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingTotp {
    pub sealed_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsLookup {
    pub email: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordHash {
    pub password_hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub role: Role,
}

/// An invitation as stored: the secret is with the invitee, base keeps its SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: UserId,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// Turns an invitation into a user, once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub token_hash: String,
    pub password_hash: String,
}

// Public bodies (the gateway's API).

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub organization_name: String,
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
    #[schema(pattern = "^[0-9]{6}$")]
    /// The current code of the user's authenticator, when the user has one.
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// A session as its owner sees it. `csrf_token` must accompany every state-changing request
/// made with the session cookie (`X-CSRF-Token`).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: User,
    pub session_id: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// One of a user's sessions, as listed (no secrets).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// Who the caller is: a signed-in user or an API key, in which organization, allowed what.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub org_id: OrgId,
    /// The user, when the caller signed in.
    pub user: Option<User>,
    /// The key's id and prefix, when the caller presented an API key.
    pub api_key: Option<ApiKeyRef>,
    /// The session's CSRF token, when the caller signed in: a page reloaded in the browser
    /// reads it here (another site cannot read this answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// `assets:read`, `scans:write` ...
    #[schema(value_type = Vec<String>, example = json!(["assets:read", "scans:write"]))]
    pub permissions: Vec<std::borrow::Cow<'static, str>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyRef {
    pub id: crate::ids::ApiKeyId,
    pub prefix: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// A TOTP secret to enrol: add it to an authenticator app (or scan the URI as a QR code), then
/// confirm with a code.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotp {
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    pub role: Role,
}

/// A new invitation with its secret: the only time the secret is shown. The inviter hands it
/// to the invitee, who accepts it with a password of their own.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    pub token: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AcceptInvitation)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.d",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_ordered_by_power_and_round_trip() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
        assert!(Role::Member > Role::Viewer);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
            let json = serde_json::to_string(role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
