//! The platform's events, as they arrive from the bus: counted, and each one an organization's
//! webhook endpoints ask for recorded as deliveries in base (once per event and endpoint,
//! however often the event arrives) before the message is acknowledged.

use s4e_bus::{Incoming, Outcome};
use s4e_client::BaseClient;
use s4e_runtime::Metrics;
use s4e_types::Message;
use s4e_types::webhook::WebhookEvent;
use serde_json::json;
use tokio::sync::Notify;

/// `wake` is told when the event made deliveries, so that they start at once.
pub async fn handle(
    base: &BaseClient,
    metrics: &Metrics,
    wake: &Notify,
    incoming: Incoming,
) -> Outcome {
    let envelope = incoming.envelope;
    let kind = envelope.message.type_name();
    metrics.inc(
        "s4e_trigger_events_total",
        "Platform events received, by type.",
        &[("type", kind)],
    );
    let data = match &envelope.message {
        Message::ScanCompleted(done) => {
            tracing::info!(
                org_id = %envelope.org_id, run_id = %done.run_id, status = done.status.as_str(),
                findings = done.findings_count, "scan finished"
            );
            json!({
                "run_id": done.run_id,
                "asset_id": done.asset_id,
                "status": done.status,
                "findings_count": done.findings_count,
            })
        }
        Message::FindingCreated(finding) => json!({
            "finding_id": finding.finding_id,
            "run_id": finding.run_id,
            "asset_id": finding.asset_id,
            "check": finding.check,
            "rule": finding.rule,
            "severity": finding.severity,
            "title": finding.title,
            "location": finding.location,
        }),
        // Jobs travel on the dispatch exchange; one here is nobody's event.
        Message::ScanJob(_) => return Outcome::Ack,
    };
    // The body receivers get, per the Standard Webhooks specification.
    let event = WebhookEvent {
        event_id: envelope.id,
        event_type: kind.to_string(),
        payload: json!({
            "type": kind,
            "timestamp": envelope.occurred_at,
            "data": data,
        }),
    };
    match base.record_webhook_event(envelope.org_id, &event).await {
        Ok(added) => {
            if added > 0 {
                wake.notify_one();
            }
            Outcome::Ack
        }
        Err(error) if error.is_transient() => {
            Outcome::Retry(format!("recording deliveries: {error}"))
        }
        Err(error) => Outcome::DeadLetter(format!("recording deliveries: {error}")),
    }
}
