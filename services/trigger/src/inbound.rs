//! Inbound hooks: the gateway hands over each call to `POST /api/v1/hooks/{id}` with its
//! Standard Webhooks headers and its body as sent. A call is genuine when one of the
//! signatures in `webhook-signature` is the HMAC of `{webhook-id}.{webhook-timestamp}.{body}`
//! under the hook's secret, its timestamp is within the tolerance of now (either way), and its
//! `webhook-id` was never accepted for the hook before; then the hook's scan starts. An unknown
//! or disabled hook is refused exactly like a wrong signature.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ring::hmac;
use s4e_client::{BaseClient, ClientError, ScanClient};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, ApiJson, InternalRouter, ServiceToken};
use s4e_secrets::SecretBox;
use s4e_types::api::CreateScan;
use s4e_types::routes::trigger as routes;
use s4e_types::webhook::{InboundCall, InboundMessage};
use s4e_types::{InboundHookId, ScanRun};

/// How far a call's timestamp may be from now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
pub struct Inbound {
    pub base: BaseClient,
    pub scan: ScanClient,
    pub secrets: SecretBox,
}

pub fn router(inbound: Inbound, token: ServiceToken) -> Router {
    Router::new()
        .at(routes::RECEIVE_HOOK, receive)
        .with_no_route_answer()
        .layer(axum::middleware::from_fn_with_state(
            token,
            s4e_runtime::service_token::require,
        ))
        .with_state(inbound)
}

/// A call that is not genuine. 403 between services (401 would read as a refused service
/// token); the gateway answers its caller 401 with the same code and message.
fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// Whether one of the `v1,` signatures of `header` signs `content` under `key` (constant-time
/// comparisons through ring).
fn signed(header: &str, key: &[u8], content: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    header
        .split_whitespace()
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|tag| hmac::verify(&key, content, &tag).is_ok())
}

async fn receive(
    State(inbound): State<Inbound>,
    ApiPath(hook_id): ApiPath<InboundHookId>,
    ApiJson(call): ApiJson<InboundCall>,
) -> Result<(StatusCode, Json<ScanRun>), ApiError> {
    let (Some(id), Some(timestamp), Some(signature)) = (
        call.webhook_id.as_deref(),
        call.webhook_timestamp.as_deref(),
        call.webhook_signature.as_deref(),
    ) else {
        return Err(refused(
            "signature_missing",
            "the call needs webhook-id, webhook-timestamp and webhook-signature headers",
        ));
    };
    let sent_at: i64 = timestamp.parse().map_err(|_| {
        refused(
            "timestamp_invalid",
            "webhook-timestamp: Unix seconds expected",
        )
    })?;
    let skew = (Utc::now().timestamp() - sent_at).unsigned_abs();
    if skew > TOLERANCE.as_secs() {
        return Err(refused(
            "timestamp_out_of_tolerance",
            format!(
                "webhook-timestamp is {skew} s from now; at most {} s are accepted",
                TOLERANCE.as_secs()
            ),
        ));
    }
    // An unknown or disabled hook is refused like a wrong signature: the caller learns nothing
    // about which ids exist.
    let invalid = || {
        refused(
            "signature_invalid",
            "no signature in webhook-signature matches the hook's secret",
        )
    };
    let sealed = match inbound.base.inbound_hook_by_id(hook_id).await {
        Ok(sealed) if !sealed.hook.disabled => sealed,
        Ok(_) | Err(ClientError::NotFound(_)) => return Err(invalid()),
        Err(error) => return Err(error.into()),
    };
    let hook = sealed.hook;
    let secret = inbound
        .secrets
        .open(&sealed.sealed_secret)
        .and_then(|plain| String::from_utf8(plain).ok())
        .ok_or_else(|| {
            ApiError::internal("an inbound hook's secret does not open with this key")
        })?;
    let key = crate::signature::key_of(&secret)
        .ok_or_else(|| ApiError::internal("an inbound hook's secret is not whsec_ + base64"))?;
    let content = crate::signature::signed_content(id, timestamp, call.body.as_bytes());
    if !signed(signature, &key, &content) {
        return Err(invalid());
    }
    let message = InboundMessage {
        message_id: id.chars().take(256).collect(),
        received_at: Utc::now(),
    };
    match inbound
        .base
        .record_inbound_message(hook.org_id, hook.id, &message)
        .await
    {
        Ok(()) => {}
        Err(ClientError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "replayed",
                "this webhook-id was received before",
            ));
        }
        Err(error) => return Err(error.into()),
    }
    let scan = CreateScan {
        asset_id: hook.asset_id,
        profile: hook.profile,
        checks: hook.checks.clone(),
    };
    let run = inbound.scan.start_scan(hook.org_id, &scan).await?;
    tracing::info!(org_id = %hook.org_id, hook_id = %hook.id, run_id = %run.id, "inbound hook started a scan");
    Ok((StatusCode::ACCEPTED, Json(run)))
}
