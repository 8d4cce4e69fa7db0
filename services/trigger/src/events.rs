//! The platform's events, as they arrive from the bus: counted; each one an organization's
//! webhook endpoints ask for recorded as deliveries in base (once per event and endpoint,
//! however often the event arrives); then judged by the organization's rules
//! (`rules.rs`). The message is acknowledged once both are done.

use std::sync::Arc;

use s4e_bus::{Incoming, Outcome};
use s4e_client::BaseClient;
use s4e_runtime::Metrics;
use s4e_types::Envelope;
use s4e_types::webhook::WebhookEvent;
use serde_json::json;
use tokio::sync::Notify;

use crate::rules::RuleEngine;

#[derive(Clone)]
pub struct EventHandler {
    pub base: BaseClient,
    pub metrics: Metrics,
    /// Told when an event made deliveries, so that they start at once.
    pub wake: Arc<Notify>,
    pub rules: RuleEngine,
}

impl EventHandler {
    pub async fn handle(&self, incoming: Incoming) -> Outcome {
        let envelope = incoming.envelope;
        let kind = envelope.message.type_name();
        self.metrics.inc(
            "s4e_trigger_events_total",
            "Platform events received, by type.",
            &[("type", kind)],
        );
        // Jobs travel on the dispatch exchange; one here is nobody's event.
        let Some(data) = envelope.message.event_data() else {
            return Outcome::Ack;
        };
        let event = WebhookEvent {
            event_id: envelope.id,
            event_type: kind.to_string(),
            payload: webhook_body(&envelope, data),
            endpoint_id: None,
        };
        match self
            .base
            .record_webhook_event(envelope.org_id, &event)
            .await
        {
            Ok(added) if added > 0 => self.wake.notify_one(),
            Ok(_) => {}
            Err(error) if error.is_transient() => {
                return Outcome::Retry(format!("recording deliveries: {error}"));
            }
            Err(error) => return Outcome::DeadLetter(format!("recording deliveries: {error}")),
        }
        self.rules.on_event(&envelope).await
    }
}

/// The body receivers get, per the Standard Webhooks specification.
pub fn webhook_body(envelope: &Envelope, data: serde_json::Value) -> serde_json::Value {
    json!({
        "type": envelope.message.type_name(),
        "timestamp": envelope.occurred_at,
        "data": data,
    })
}
