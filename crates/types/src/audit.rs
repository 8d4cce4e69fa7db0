//! The audit log: one entry per state-changing request, never changed afterwards. A change base
//! stores is recorded by base in the change's own transaction, from the [`AuditContext`] the
//! gateway sends with the call; what the gateway refuses, and changes kept elsewhere (sessions
//! in Redis, dead letters in MongoDB), the gateway records through base once answered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AuditEntryId, OrgId};

/// Who made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    /// Nobody could be identified (a failed login, say).
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Anonymous => "anonymous",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(ActorKind::User),
            "api_key" => Some(ActorKind::ApiKey),
            "anonymous" => Some(ActorKind::Anonymous),
            _ => None,
        }
    }
}

/// Who changes what, from where: what the gateway knows of a change before it is made, carried
/// with the internal calls that make it, for the callee that stores the change to record it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditContext {
    pub actor_kind: ActorKind,
    pub actor_id: Option<uuid::Uuid>,
    pub actor_label: String,
    pub actor_org_id: Option<OrgId>,
    pub action: String,
    pub resource_type: String,
    /// What the public path names, when it names it; else the recorder names what it created.
    pub resource_id: Option<String>,
    /// The status the public endpoint answers when the change is made.
    pub outcome: u16,
    pub ip: Option<String>,
}

impl AuditContext {
    /// The entry of the change once made; `created` names what it created.
    pub fn entry(self, created: Option<String>, trace_id: Option<String>) -> NewAuditEntry {
        NewAuditEntry {
            actor_kind: self.actor_kind,
            actor_id: self.actor_id,
            actor_label: self.actor_label,
            actor_org_id: self.actor_org_id,
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id.or(created),
            outcome: self.outcome,
            ip: self.ip,
            trace_id,
        }
    }
}

/// An entry as it is recorded; base adds the id and the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAuditEntry {
    pub actor_kind: ActorKind,
    /// The user's or the key's id; absent for anonymous actors.
    pub actor_id: Option<uuid::Uuid>,
    /// What people read: the user's e-mail, the key's prefix, or the e-mail a login tried.
    pub actor_label: String,
    /// The organization the actor belongs to, when it is not the one acted in (a partner).
    pub actor_org_id: Option<OrgId>,
    /// `assets.create`, `session.create`, `api_keys.revoke` ...
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The HTTP status the request was answered with.
    pub outcome: u16,
    pub ip: Option<String>,
    pub trace_id: Option<String>,
}

/// An entry of the audit log: who did what to which resource, and how it was answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub org_id: OrgId,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    /// The user's or the key's id; absent for anonymous actors.
    pub actor_id: Option<uuid::Uuid>,
    /// What people read: the user's e-mail, the key's prefix, or the e-mail a login tried.
    pub actor_label: String,
    /// The organization the actor belongs to, when it is not the one acted in (a partner).
    pub actor_org_id: Option<OrgId>,
    /// `assets.create`, `sessions.login`, `api_keys.revoke` ...
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The HTTP status the request was answered with.
    pub outcome: u16,
    pub ip: Option<String>,
    /// The trace of the request, to find its log lines.
    pub trace_id: Option<String>,
}

/// Filters of the audit log; every one optional. Entries come newest first; `before` is the
/// cursor (the last id of the previous page).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor_id: Option<uuid::Uuid>,
    #[param(max_length = 512)]
    pub action: Option<String>,
    #[param(max_length = 512)]
    pub resource_type: Option<String>,
    #[param(max_length = 512)]
    pub resource_id: Option<String>,
    /// Only refused (4xx/5xx) or only accepted requests.
    pub failed: Option<bool>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<AuditEntryId>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;
    /// The longest text a filter may hold (what an entry's fields may hold).
    pub const MAX_TEXT_CHARS: usize = 512;

    /// What is wrong with the filters, naming the parameter.
    pub fn validate(&self) -> Result<(), String> {
        self.page_size()?;
        for (name, value) in [
            ("action", &self.action),
            ("resource_type", &self.resource_type),
            ("resource_id", &self.resource_id),
        ] {
            if value
                .as_ref()
                .is_some_and(|value| value.chars().count() > Self::MAX_TEXT_CHARS)
            {
                return Err(format!(
                    "{name}: at most {} characters",
                    Self::MAX_TEXT_CHARS
                ));
            }
        }
        Ok(())
    }

    /// The page size asked for, or why it cannot be served.
    pub fn page_size(&self) -> Result<u32, String> {
        match self.limit.unwrap_or(Self::DEFAULT_LIMIT) {
            limit @ 1..=Self::MAX_LIMIT => Ok(limit),
            _ => Err(format!("limit: must be 1-{}", Self::MAX_LIMIT)),
        }
    }
}

/// One page of the log; `next_cursor` is the `before` of the next page, absent on the last.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<AuditEntryId>,
}
