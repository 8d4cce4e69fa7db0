//! Outbound webhooks: an organization's endpoints receive the platform's events, signed per the
//! Standard Webhooks specification, retried on its schedule, every attempt recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{OrgId, WebhookDeliveryId, WebhookEndpointId};

/// The events an endpoint can ask for.
pub const EVENT_TYPES: &[&str] = &[
    "scan.completed",
    "finding.created",
    "finding.status_changed",
    "asset.created",
    "service.appeared",
    "service.gone",
    "crawl.completed",
];

/// The key derivation's purpose for sealed webhook secrets (`s4e_secrets::SecretBox`): the
/// gateway seals, s4e-trigger opens.
pub const SEALING_PURPOSE: &[u8] = b"s4e webhook secrets";

/// Endpoints one organization may keep.
pub const MAX_ENDPOINTS: i64 = 50;

/// A new endpoint. Its signing secret is made by the platform and shown once.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookEndpoint {
    /// Where events are POSTed (http or https). An address no deployment may reach (cloud
    /// metadata, link-local…) is refused.
    #[schema(max_length = 2048, example = "https://hooks.example.com/s4e")]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// The event types to send (`scan.completed`, `finding.created`,
    /// `finding.status_changed`, `asset.created`, `service.appeared`, `service.gone`,
    /// `crawl.completed`); empty
    /// or absent: all.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub event_types: Vec<String>,
}

/// A change to an endpoint: the fields named are replaced. Enabling a disabled endpoint resets
/// its failure streak.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// An endpoint as shown (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub org_id: OrgId,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub disabled: bool,
    /// Why it was disabled: by a person, or after failing for days.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed; empty after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint or a rotated secret: the secret (`whsec_` + base64) is shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt failed, or its endpoint was disabled; a redelivery sends it again.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub org_id: OrgId,
    pub endpoint_id: WebhookEndpointId,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt of a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookAttempt {
    pub number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery with the event it carries and every attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDeliveryWithAttempts {
    pub delivery: WebhookDelivery,
    /// The body sent: `{"type", "timestamp", "data"}`.
    pub payload: serde_json::Value,
    pub attempts: Vec<WebhookAttempt>,
}

/// Internal: a new endpoint as base stores it, its secret sealed by the gateway.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreWebhookEndpoint {
    pub endpoint: NewWebhookEndpoint,
    pub sealed_secret: String,
}

/// Internal: a rotated secret; the previous one keeps signing until `previous_until`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecret {
    pub sealed_secret: String,
    pub previous_until: DateTime<Utc>,
}

/// Internal: one event to deliver to every enabled endpoint of the organization that asks for
/// its type. Recording it twice makes no second delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// Only to this endpoint, whatever events it asks for (a rule's `send_webhook`).
    #[serde(default)]
    pub endpoint_id: Option<WebhookEndpointId>,
}

/// Internal: a deliverer asks for the deliveries due at `now`; each is leased to it for
/// `lease_seconds`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimDueDeliveries {
    pub now: DateTime<Utc>,
    pub limit: u16,
    pub lease_seconds: u32,
    /// The most deliveries of one endpoint in flight at once, across every deliverer.
    pub per_endpoint: u16,
}

/// Internal: a due delivery with what sending it takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub payload: serde_json::Value,
    /// The sealed secrets that sign it: the current one, and during a rotation the previous.
    pub sealed_secrets: Vec<String>,
}

/// Internal: what one attempt gave, and when to try again (`None`: no more attempts).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAttempted {
    pub number: i32,
    pub attempted_at: DateTime<Utc>,
    pub succeeded: bool,
    #[serde(default)]
    pub status_code: Option<i32>,
    #[serde(default)]
    pub error: Option<String>,
    pub duration_ms: i64,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Disable the endpoint when this attempt failed and it has been failing since before
    /// this time.
    pub disable_if_failing_since: DateTime<Utc>,
}

/// Which deliveries of an endpoint to list: newest first, `limit` (1–500, default 50) at a
/// time, continuing before the `before` of the previous page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    pub before: Option<WebhookDeliveryId>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl DeliveryQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    /// The page size, or what is wrong with `limit`.
    pub fn page_size(&self) -> Result<u32, String> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(limit) if (1..=Self::MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(format!("limit: between 1 and {}", Self::MAX_LIMIT)),
        }
    }
}

/// One page of deliveries, and the cursor of the next when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<WebhookDelivery>,
    pub next_cursor: Option<WebhookDeliveryId>,
}

/// Inbound hooks an organization may keep.
pub const MAX_INBOUND_HOOKS: i64 = 50;

/// A new inbound hook: a URL that starts a scan of the asset when called with a valid
/// signature (e.g. by a CI pipeline after a deploy). Its secret is made by the platform and
/// shown once.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInboundHook {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub asset_id: crate::AssetId,
    /// The scan's profile and checks, as for `POST /api/v1/scans`.
    #[serde(default)]
    pub profile: Option<crate::ScanProfile>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub checks: Option<Vec<crate::CheckKind>>,
}

/// An inbound hook as shown (never its secret). It is called at `POST /api/v1/hooks/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundHook {
    pub id: crate::InboundHookId,
    pub org_id: OrgId,
    pub name: Option<String>,
    pub asset_id: crate::AssetId,
    pub profile: Option<crate::ScanProfile>,
    pub checks: Option<Vec<crate::CheckKind>>,
    pub disabled: bool,
    pub last_called_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A change to an inbound hook: its name, or disabling it (a disabled hook answers 404).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInboundHook {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// A new inbound hook with its secret, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundHookWithSecret {
    pub hook: InboundHook,
    pub secret: String,
}

/// Internal: a new inbound hook as base stores it, its secret sealed by the gateway.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreInboundHook {
    pub hook: NewInboundHook,
    pub sealed_secret: String,
}

/// Internal: a hook with its sealed secret, for the trigger to verify a call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SealedInboundHook {
    pub hook: InboundHook,
    pub sealed_secret: String,
}

/// Internal: a call to an inbound hook as the gateway received it, for the trigger to judge:
/// the Standard Webhooks headers and the body exactly as sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundCall {
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    pub body: String,
}

/// Internal: a call's message id, recorded once per hook (replay protection).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    pub message_id: String,
    pub received_at: DateTime<Utc>,
}
