//! Automation rules at work: each event is judged against the organization's enabled rules of
//! its type, and each rule whose conditions hold runs its actions and records the firing.
//!
//! An event may arrive more than once (a redelivery, a retry after one action failed for a
//! moment), so every action is idempotent per rule and event: base keeps one scan per rule and
//! event, one delivery per endpoint and event id (derived from the rule and the event), and a
//! status already set is no change. A rule never fires on an event its own actions led to,
//! and no rule fires at the end of a chain of `MAX_CHAIN` rules (`Rule::may_fire_after`).

use std::sync::Arc;

use chrono::Utc;
use s4e_bus::Outcome;
use s4e_client::{BaseClient, ClientError, ScanClient};
use s4e_runtime::Metrics;
use s4e_types::api::CreateScan;
use s4e_types::rule::{
    ActionOutcome, RecordFiring, Rule, RuleAction, RuleCause, RuleEvent, RuleScan,
};
use s4e_types::webhook::WebhookEvent;
use s4e_types::{
    BulkAssetTags, Envelope, FindingActor, FindingActorKind, FindingId, Message, StatusChange,
};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

/// The most characters of a rule's name shown as the actor of its status changes.
const ACTOR_NAME_CHARS: usize = 100;

#[derive(Clone)]
pub struct RuleEngine {
    pub base: BaseClient,
    pub scan: ScanClient,
    pub metrics: Metrics,
    /// Told when an action made a webhook delivery.
    pub wake: Arc<Notify>,
}

/// An action that could not be done for now (base or s4e-scan unreachable): the event is
/// handled again later.
struct Transient(String);

impl RuleEngine {
    /// Runs the rules an event fires; `Retry` while base or s4e-scan is unreachable.
    pub async fn on_event(&self, envelope: &Envelope) -> Outcome {
        let Some(event) = RuleEvent::parse(envelope.message.type_name()) else {
            return Outcome::Ack;
        };
        let rules = match self.base.rules_for_event(envelope.org_id, event).await {
            Ok(rules) => rules,
            Err(error) if error.is_transient() => {
                return Outcome::Retry(format!("reading rules: {error}"));
            }
            Err(error) => return Outcome::DeadLetter(format!("reading rules: {error}")),
        };
        let asset_tags = if rules.iter().any(|rule| rule.conditions.need_asset_tags()) {
            match self.asset_tags(envelope).await {
                Ok(tags) => tags,
                Err(Transient(reason)) => return Outcome::Retry(reason),
            }
        } else {
            Vec::new()
        };
        for rule in &rules {
            if !rule
                .conditions
                .judge(&envelope.message, &asset_tags)
                .iter()
                .all(|verdict| verdict.holds)
            {
                continue;
            }
            if !rule.may_fire_after(&envelope.caused_by) {
                self.count(rule, "loop_prevented");
                tracing::info!(
                    org_id = %envelope.org_id, rule_id = %rule.id, event_id = %envelope.id,
                    chain = envelope.caused_by.len(), "rule not fired on an event rules led to"
                );
                continue;
            }
            if let Err(Transient(reason)) = self.fire(rule, envelope).await {
                return Outcome::Retry(reason);
            }
        }
        Outcome::Ack
    }

    /// The tags of the event's asset; none when it is gone.
    async fn asset_tags(&self, envelope: &Envelope) -> Result<Vec<String>, Transient> {
        let Some(asset_id) = envelope.message.asset_id() else {
            return Ok(Vec::new());
        };
        match self.base.get_asset(envelope.org_id, asset_id).await {
            Ok(asset) => Ok(asset.tags),
            Err(ClientError::NotFound(_)) => Ok(Vec::new()),
            Err(error) if error.is_transient() => {
                Err(Transient(format!("reading the asset: {error}")))
            }
            Err(error) => {
                tracing::warn!(%error, %asset_id, "asset not read for its tags");
                Ok(Vec::new())
            }
        }
    }

    async fn fire(&self, rule: &Rule, envelope: &Envelope) -> Result<(), Transient> {
        let mut outcomes = Vec::with_capacity(rule.actions.len());
        for action in &rule.actions {
            outcomes.push(self.act(rule, action, envelope).await?);
        }
        let firing = RecordFiring {
            event_id: envelope.id,
            event_type: rule.event,
            asset_id: envelope.message.asset_id(),
            fired_at: Utc::now(),
            actions: outcomes,
        };
        match self
            .base
            .record_rule_firing(envelope.org_id, rule.id, &firing)
            .await
        {
            Ok(_) => {}
            // Deleted meanwhile: what it did stays done.
            Err(ClientError::NotFound(_)) => {}
            Err(error) if error.is_transient() => {
                return Err(Transient(format!("recording a firing: {error}")));
            }
            Err(error) => tracing::warn!(%error, rule_id = %rule.id, "firing not recorded"),
        }
        self.count(rule, "fired");
        tracing::info!(
            org_id = %envelope.org_id, rule_id = %rule.id, event_id = %envelope.id,
            event = rule.event.as_str(), actions = firing.actions.len(), "rule fired"
        );
        Ok(())
    }

    async fn act(
        &self,
        rule: &Rule,
        action: &RuleAction,
        envelope: &Envelope,
    ) -> Result<ActionOutcome, Transient> {
        let outcome = |outcome: &str, detail: String| ActionOutcome {
            action: action.name().to_string(),
            outcome: outcome.to_string(),
            detail: Some(detail),
        };
        // The chain the action's own events carry: the event's, then this rule.
        let mut chain = envelope.caused_by.clone();
        chain.push(rule.id);
        let result = match action {
            RuleAction::StartScan { profile, checks } => {
                let Some(asset_id) = envelope.message.asset_id() else {
                    return Ok(outcome("failed", "the event names no asset".into()));
                };
                let scan = RuleScan {
                    cause: RuleCause {
                        rule_id: rule.id,
                        event_id: envelope.id,
                        caused_by: chain,
                    },
                    scan: CreateScan {
                        asset_id,
                        profile: *profile,
                        checks: checks.clone(),
                    },
                };
                match self.scan.start_rule_scan(envelope.org_id, &scan).await {
                    Ok(run) => Ok(outcome("done", format!("scan {}", run.id))),
                    Err(ClientError::Conflict(refusal)) if refusal.code == "already_started" => {
                        Ok(outcome("already_done", refusal.message))
                    }
                    Err(ClientError::Conflict(refusal)) if refusal.code == "still_running" => {
                        Ok(outcome("skipped", refusal.message))
                    }
                    Err(error) => Err(error),
                }
            }
            RuleAction::ChangeFindingStatus { status, reason } => {
                let Some(finding_id) = finding_of(&envelope.message) else {
                    return Ok(outcome("failed", "the event names no finding".into()));
                };
                let change = StatusChange {
                    status: *status,
                    reason: reason.clone(),
                    actor: FindingActor {
                        kind: FindingActorKind::Rule,
                        id: Some(rule.id.0),
                        label: format!(
                            "rule: {}",
                            rule.name.chars().take(ACTOR_NAME_CHARS).collect::<String>()
                        ),
                    },
                    caused_by: chain,
                };
                self.base
                    .change_finding_status(envelope.org_id, finding_id, &change)
                    .await
                    .map(|_| outcome("done", format!("finding {finding_id} {}", status.as_str())))
            }
            RuleAction::SendWebhook { endpoint_id } => {
                let data = envelope.message.event_data().unwrap_or_default();
                let mut payload = crate::events::webhook_body(envelope, data);
                payload["rule"] = json!({"id": rule.id, "name": rule.name});
                let event = WebhookEvent {
                    // Its own id, so that the endpoint's own subscription to the event is a
                    // delivery apart.
                    event_id: Uuid::new_v5(&envelope.id, rule.id.0.as_bytes()),
                    event_type: envelope.message.type_name().to_string(),
                    payload,
                    endpoint_id: Some(*endpoint_id),
                };
                match self
                    .base
                    .record_webhook_event(envelope.org_id, &event)
                    .await
                {
                    Ok(0) => Ok(outcome(
                        "already_done",
                        format!("endpoint {endpoint_id}: delivered before, or disabled or deleted"),
                    )),
                    Ok(_) => {
                        self.wake.notify_one();
                        Ok(outcome(
                            "done",
                            format!("delivery to endpoint {endpoint_id}"),
                        ))
                    }
                    Err(error) => Err(error),
                }
            }
            RuleAction::TagAsset { add, remove } => {
                let Some(asset_id) = envelope.message.asset_id() else {
                    return Ok(outcome("failed", "the event names no asset".into()));
                };
                let change = BulkAssetTags {
                    asset_ids: vec![asset_id],
                    add: add.clone(),
                    remove: remove.clone(),
                };
                self.base
                    .bulk_tag_assets(envelope.org_id, &change)
                    .await
                    .map(|result| match result.changed {
                        0 => outcome("already_done", format!("asset {asset_id} tagged so")),
                        _ => outcome("done", format!("asset {asset_id} tagged")),
                    })
            }
        };
        match result {
            Ok(outcome) => Ok(outcome),
            Err(error) if error.is_transient() => {
                Err(Transient(format!("{}: {error}", action.name())))
            }
            // Refused for good (an unverified asset, a finding gone): recorded, not retried.
            Err(error) => Ok(outcome("failed", error.to_string())),
        }
    }

    fn count(&self, rule: &Rule, outcome: &str) {
        self.metrics.inc(
            "s4e_trigger_rules_total",
            "Rules judged to fire on an event, by event and outcome.",
            &[("event", rule.event.as_str()), ("outcome", outcome)],
        );
    }
}

fn finding_of(event: &Message) -> Option<FindingId> {
    match event {
        Message::FindingCreated(finding) => Some(finding.finding_id),
        Message::FindingStatusChanged(change) => Some(change.finding_id),
        _ => None,
    }
}
