//! Automation rules: when an event of the rule's type happens and every one of its conditions
//! holds, its actions run. The conditions are judged here, by s4e-trigger on each event and by
//! the gateway for a dry run, so that both judge alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::Message;
use crate::{
    AssetId, AssetKind, CheckKind, FindingStatus, OrgId, RuleId, RunStatus, ScanProfile, Severity,
    WebhookEndpointId,
};

/// Rules one organization may keep.
pub const MAX_RULES: i64 = 100;
/// Actions one rule may run.
pub const MAX_ACTIONS: usize = 10;
/// An event that this many rules led to, one after another, fires no rule: whatever the rules
/// say, a chain of their actions ends.
pub const MAX_CHAIN: usize = 3;

/// The events a rule can fire on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RuleEvent {
    /// A scan ended: completed, failed or cancelled (see `run_statuses`).
    #[serde(rename = "scan.completed")]
    ScanCompleted,
    /// A scan found something new.
    #[serde(rename = "finding.created")]
    FindingCreated,
    /// A finding was triaged, fixed or reopened.
    #[serde(rename = "finding.status_changed")]
    FindingStatusChanged,
    /// An asset was registered.
    #[serde(rename = "asset.created")]
    AssetCreated,
    /// A port scan saw a new service on an asset.
    #[serde(rename = "service.appeared")]
    ServiceAppeared,
    /// A port scan found a service of an asset gone.
    #[serde(rename = "service.gone")]
    ServiceGone,
    /// A crawl of an asset ended (its pages mapped, its findings stored).
    #[serde(rename = "crawl.completed")]
    CrawlCompleted,
}

impl RuleEvent {
    pub const ALL: &'static [RuleEvent] = &[
        RuleEvent::ScanCompleted,
        RuleEvent::FindingCreated,
        RuleEvent::FindingStatusChanged,
        RuleEvent::AssetCreated,
        RuleEvent::ServiceAppeared,
        RuleEvent::ServiceGone,
        RuleEvent::CrawlCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleEvent::ScanCompleted => "scan.completed",
            RuleEvent::FindingCreated => "finding.created",
            RuleEvent::FindingStatusChanged => "finding.status_changed",
            RuleEvent::AssetCreated => "asset.created",
            RuleEvent::ServiceAppeared => "service.appeared",
            RuleEvent::ServiceGone => "service.gone",
            RuleEvent::CrawlCompleted => "crawl.completed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|event| event.as_str() == value)
    }

    fn is_about_a_finding(self) -> bool {
        matches!(
            self,
            RuleEvent::FindingCreated | RuleEvent::FindingStatusChanged
        )
    }
}

/// What must hold for a rule to fire; every condition named must hold, an absent one always
/// does. A condition that cannot apply to the rule's event is refused when the rule is saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConditions {
    /// Finding events: the finding's severity is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Finding events: the check that found it is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub checks: Option<Vec<CheckKind>>,
    /// Finding events: the category of the check that found it (`web`, `network`, `tls`,
    /// `dns`) is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub categories: Option<Vec<String>>,
    /// `finding.status_changed`: the status it changed to is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub statuses: Option<Vec<FindingStatus>>,
    /// `scan.completed`: the scan ended in one of these (`completed`, `failed`, `cancelled`);
    /// `["failed"]` makes a rule on failed scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub run_statuses: Option<Vec<RunStatus>>,
    /// `scan.completed`: the scan reported at least this many findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000)]
    pub min_findings: Option<i32>,
    /// Service events: the service is on one of these ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 100)]
    pub ports: Option<Vec<u16>>,
    /// Service events: the protocol recognised is one of these (`ssh`, `postgresql` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub services: Option<Vec<String>>,
    /// `asset.created`: the asset is of one of these kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub asset_kinds: Option<Vec<AssetKind>>,
    /// Any event: it is about one of these assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 1000)]
    pub asset_ids: Option<Vec<AssetId>>,
    /// Any event: its asset carries every one of these tags (`key=value` exactly, or a bare
    /// `key` with any value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub asset_tags: Option<Vec<String>>,
}

/// What a rule does when it fires. Each action is done once per rule and event, however often
/// the event arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Scan the event's asset, as `POST /api/v1/scans` would (needs scans:write to save); not
    /// while the rule's previous scan of the asset is still queued or running.
    StartScan {
        #[serde(default)]
        profile: Option<ScanProfile>,
        #[serde(default)]
        #[schema(max_items = 20)]
        checks: Option<Vec<CheckKind>>,
    },
    /// Set the event's finding's status (finding events only; needs findings:write to save).
    ChangeFindingStatus {
        status: FindingStatus,
        #[serde(default)]
        #[schema(max_length = 2000)]
        reason: Option<String>,
    },
    /// Deliver the event to this webhook endpoint, whatever events it asks for.
    SendWebhook { endpoint_id: WebhookEndpointId },
    /// Add and remove tags of the event's asset (needs assets:write to save); a bare key in
    /// `remove` removes the key with any value.
    TagAsset {
        #[serde(default)]
        #[schema(max_items = 50)]
        add: Vec<String>,
        #[serde(default)]
        #[schema(max_items = 50)]
        remove: Vec<String>,
    },
}

impl RuleAction {
    pub fn name(&self) -> &'static str {
        match self {
            RuleAction::StartScan { .. } => "start_scan",
            RuleAction::ChangeFindingStatus { .. } => "change_finding_status",
            RuleAction::SendWebhook { .. } => "send_webhook",
            RuleAction::TagAsset { .. } => "tag_asset",
        }
    }
}

/// A new rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub event: RuleEvent,
    #[serde(default)]
    pub conditions: RuleConditions,
    #[schema(min_items = 1, max_items = 10)]
    pub actions: Vec<RuleAction>,
    #[serde(default)]
    pub disabled: bool,
}

/// A change to a rule: the fields named are replaced, and the rule as changed is judged
/// whole again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[serde(default)]
    pub event: Option<RuleEvent>,
    #[serde(default)]
    pub conditions: Option<RuleConditions>,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10)]
    pub actions: Option<Vec<RuleAction>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

impl UpdateRule {
    /// The rule as this change leaves it.
    pub fn applied_to(&self, rule: &Rule) -> NewRule {
        NewRule {
            name: self.name.clone().unwrap_or_else(|| rule.name.clone()),
            description: self
                .description
                .clone()
                .or_else(|| rule.description.clone()),
            event: self.event.unwrap_or(rule.event),
            conditions: self
                .conditions
                .clone()
                .unwrap_or_else(|| rule.conditions.clone()),
            actions: self.actions.clone().unwrap_or_else(|| rule.actions.clone()),
            disabled: self.disabled.unwrap_or(rule.disabled),
        }
    }
}

/// A rule as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: RuleId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub event: RuleEvent,
    pub conditions: RuleConditions,
    pub actions: Vec<RuleAction>,
    pub disabled: bool,
    /// How many events it fired on, and the last time.
    pub fired_count: i64,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rule {
    /// Whether the rule fires on an event the rules in `caused_by` led to: never on one it
    /// led to itself, never at the end of a chain of `MAX_CHAIN` rules.
    pub fn may_fire_after(&self, caused_by: &[RuleId]) -> bool {
        caused_by.len() < MAX_CHAIN && !caused_by.contains(&self.id)
    }
}

impl NewRule {
    /// Whether the rule can ever fire and act: the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err("name: 1-200 characters, not blank".into());
        }
        if self
            .description
            .as_deref()
            .is_some_and(|description| description.chars().count() > 2000)
        {
            return Err("description: at most 2000 characters".into());
        }
        self.conditions.validate(self.event)?;
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            return Err(format!("actions: 1-{MAX_ACTIONS} actions"));
        }
        for (index, action) in self.actions.iter().enumerate() {
            validate_action(self.event, action)
                .map_err(|error| format!("actions[{index}]: {error}"))?;
        }
        Ok(())
    }
}

fn validate_action(event: RuleEvent, action: &RuleAction) -> Result<(), String> {
    match action {
        RuleAction::StartScan { checks, .. } => {
            if let Some(checks) = checks {
                list_size("checks", checks.len(), 20)?;
            }
            Ok(())
        }
        RuleAction::ChangeFindingStatus { status, reason } => {
            if !event.is_about_a_finding() {
                return Err(format!(
                    "change_finding_status needs a finding event, not {}",
                    event.as_str()
                ));
            }
            crate::finding::validate_status_change(*status, reason.as_deref())
        }
        RuleAction::SendWebhook { .. } => Ok(()),
        RuleAction::TagAsset { add, remove } => {
            let add = crate::asset::normalize_tags(add).map_err(|error| format!("add.{error}"))?;
            let remove =
                crate::asset::normalize_tags(remove).map_err(|error| format!("remove.{error}"))?;
            if add.is_empty() && remove.is_empty() {
                return Err("tag_asset: name a tag to add or to remove".into());
            }
            Ok(())
        }
    }
}

fn list_size(field: &str, len: usize, max: usize) -> Result<(), String> {
    if len == 0 {
        return Err(format!(
            "{field}: an empty list never matches; leave it out to match any"
        ));
    }
    if len > max {
        return Err(format!("{field}: at most {max} entries"));
    }
    Ok(())
}

impl RuleConditions {
    /// Refuses a condition the event never carries, an empty list (it would never match) and
    /// a combination that can never hold.
    pub fn validate(&self, event: RuleEvent) -> Result<(), String> {
        let only_for = |field: &str, events: &[RuleEvent]| -> Result<(), String> {
            if events.contains(&event) {
                return Ok(());
            }
            let names: Vec<&str> = events.iter().map(|event| event.as_str()).collect();
            Err(format!(
                "conditions.{field}: applies to {} events, not {}",
                names.join(" and "),
                event.as_str()
            ))
        };
        let findings = [RuleEvent::FindingCreated, RuleEvent::FindingStatusChanged];
        if self.min_severity.is_some() {
            only_for("min_severity", &findings)?;
        }
        if let Some(checks) = &self.checks {
            only_for("checks", &findings)?;
            list_size("conditions.checks", checks.len(), 20)?;
        }
        if let Some(categories) = &self.categories {
            only_for("categories", &findings)?;
            list_size("conditions.categories", categories.len(), 20)?;
            if let Some(unknown) = categories
                .iter()
                .find(|category| !CheckKind::CATEGORIES.contains(&category.as_str()))
            {
                return Err(format!(
                    "conditions.categories: unknown category {unknown:?} (one of {})",
                    CheckKind::CATEGORIES.join(", ")
                ));
            }
            if let Some(checks) = &self.checks
                && !checks
                    .iter()
                    .any(|check| categories.iter().any(|c| c == check.category()))
            {
                return Err(
                    "conditions.checks: none of these checks is in the categories named, so \
                     the rule could never fire"
                        .into(),
                );
            }
        }
        if let Some(statuses) = &self.statuses {
            only_for("statuses", &[RuleEvent::FindingStatusChanged])?;
            list_size("conditions.statuses", statuses.len(), 20)?;
        }
        if let Some(statuses) = &self.run_statuses {
            only_for("run_statuses", &[RuleEvent::ScanCompleted])?;
            list_size("conditions.run_statuses", statuses.len(), 20)?;
            if let Some(status) = statuses.iter().find(|status| !status.is_final()) {
                return Err(format!(
                    "conditions.run_statuses: a scan that ended is never {}",
                    status.as_str()
                ));
            }
        }
        if let Some(min) = self.min_findings {
            only_for("min_findings", &[RuleEvent::ScanCompleted])?;
            if !(0..=1_000_000).contains(&min) {
                return Err("conditions.min_findings: between 0 and 1000000".into());
            }
        }
        let services = [RuleEvent::ServiceAppeared, RuleEvent::ServiceGone];
        if let Some(ports) = &self.ports {
            only_for("ports", &services)?;
            list_size("conditions.ports", ports.len(), 100)?;
            if ports.contains(&0) {
                return Err("conditions.ports: 1-65535".into());
            }
        }
        if let Some(names) = &self.services {
            only_for("services", &services)?;
            list_size("conditions.services", names.len(), 20)?;
        }
        if let Some(kinds) = &self.asset_kinds {
            only_for("asset_kinds", &[RuleEvent::AssetCreated])?;
            list_size("conditions.asset_kinds", kinds.len(), 20)?;
        }
        if let Some(ids) = &self.asset_ids {
            list_size("conditions.asset_ids", ids.len(), 1000)?;
        }
        if let Some(tags) = &self.asset_tags {
            list_size("conditions.asset_tags", tags.len(), 20)?;
            crate::asset::normalize_tags(tags)
                .map_err(|error| format!("conditions.asset_{error}"))?;
        }
        Ok(())
    }

    /// Whether judging needs the tags of the event's asset.
    pub fn need_asset_tags(&self) -> bool {
        self.asset_tags.is_some()
    }

    /// Judges every condition named against an event, whose asset carries `asset_tags` (read
    /// only when `need_asset_tags`): one verdict each, in a fixed order. The rule fires when
    /// they all hold.
    pub fn judge(&self, event: &Message, asset_tags: &[String]) -> Vec<ConditionVerdict> {
        let facts = Facts::of(event);
        let mut verdicts = Vec::new();
        let mut judge = |condition: &'static str, holds: bool, seen: String| {
            verdicts.push(ConditionVerdict {
                condition: condition.to_string(),
                holds,
                seen,
            })
        };
        let or_absent = |value: Option<String>| value.unwrap_or_else(|| "absent".into());
        if let Some(min) = self.min_severity {
            judge(
                "min_severity",
                facts.severity.is_some_and(|severity| severity >= min),
                or_absent(facts.severity.map(|s| s.as_str().into())),
            );
        }
        if let Some(checks) = &self.checks {
            judge(
                "checks",
                facts.check.is_some_and(|check| checks.contains(&check)),
                or_absent(facts.check.map(|c| c.as_str().into())),
            );
        }
        if let Some(categories) = &self.categories {
            let category = facts.check.map(CheckKind::category);
            judge(
                "categories",
                category.is_some_and(|category| categories.iter().any(|c| c == category)),
                or_absent(category.map(str::to_string)),
            );
        }
        if let Some(statuses) = &self.statuses {
            judge(
                "statuses",
                facts
                    .finding_status
                    .is_some_and(|status| statuses.contains(&status)),
                or_absent(facts.finding_status.map(|s| s.as_str().into())),
            );
        }
        if let Some(statuses) = &self.run_statuses {
            judge(
                "run_statuses",
                facts
                    .run_status
                    .is_some_and(|status| statuses.contains(&status)),
                or_absent(facts.run_status.map(|s| s.as_str().into())),
            );
        }
        if let Some(min) = self.min_findings {
            judge(
                "min_findings",
                facts.findings_count.is_some_and(|count| count >= min),
                or_absent(facts.findings_count.map(|count| count.to_string())),
            );
        }
        if let Some(ports) = &self.ports {
            judge(
                "ports",
                facts.port.is_some_and(|port| ports.contains(&port)),
                or_absent(facts.port.map(|port| port.to_string())),
            );
        }
        if let Some(names) = &self.services {
            let name = facts.service.clone();
            judge(
                "services",
                name.as_ref()
                    .is_some_and(|name| names.iter().any(|n| n.eq_ignore_ascii_case(name))),
                or_absent(name),
            );
        }
        if let Some(kinds) = &self.asset_kinds {
            judge(
                "asset_kinds",
                facts.asset_kind.is_some_and(|kind| kinds.contains(&kind)),
                or_absent(facts.asset_kind.map(|k| k.as_str().into())),
            );
        }
        if let Some(ids) = &self.asset_ids {
            judge(
                "asset_ids",
                facts.asset_id.is_some_and(|id| ids.contains(&id)),
                or_absent(facts.asset_id.map(|id| id.to_string())),
            );
        }
        if let Some(wanted) = &self.asset_tags {
            let wanted = crate::asset::normalize_tags(wanted).unwrap_or_default();
            judge(
                "asset_tags",
                wanted
                    .iter()
                    .all(|tag| crate::asset::has_tag(asset_tags, tag)),
                format!("[{}]", asset_tags.join(", ")),
            );
        }
        verdicts
    }
}

/// What the conditions look at in an event.
#[derive(Default)]
struct Facts {
    asset_id: Option<AssetId>,
    severity: Option<Severity>,
    check: Option<CheckKind>,
    finding_status: Option<FindingStatus>,
    run_status: Option<RunStatus>,
    findings_count: Option<i32>,
    asset_kind: Option<AssetKind>,
    port: Option<u16>,
    service: Option<String>,
}

impl Facts {
    fn of(event: &Message) -> Facts {
        let mut facts = Facts {
            asset_id: event.asset_id(),
            ..Facts::default()
        };
        match event {
            Message::ScanJob(_)
            | Message::CrawlFetch(_)
            | Message::CrawlFinish(_)
            | Message::CrawlFuzz(_) => {}
            Message::ScanCompleted(done) => {
                facts.run_status = Some(done.status);
                facts.findings_count = Some(done.findings_count);
            }
            // Only the asset's conditions apply.
            Message::CrawlCompleted(_) => {}
            Message::FindingCreated(finding) => {
                facts.severity = Some(finding.severity);
                facts.check = Some(finding.check);
            }
            Message::FindingStatusChanged(change) => {
                facts.severity = Some(change.severity);
                facts.check = Some(change.check);
                facts.finding_status = Some(change.to_status);
            }
            Message::AssetCreated(asset) => facts.asset_kind = Some(asset.kind),
            Message::ServiceAppeared(service) | Message::ServiceGone(service) => {
                facts.port = Some(service.port);
                facts.service = service.service.clone();
            }
        }
        facts
    }
}

/// One condition judged against an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConditionVerdict {
    pub condition: String,
    pub holds: bool,
    /// What the event carried for it.
    pub seen: String,
}

/// `POST /api/v1/rules/dry-run`: a rule (saved or not) and a sample event, shaped as a
/// webhook's body carries it (`type` and `data`).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDryRun {
    pub rule: NewRule,
    pub event: SampleEvent,
    /// Judge it as an event these rules led to (loop prevention), oldest first.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub caused_by: Vec<RuleId>,
    /// The tags the event's asset is taken to carry; absent: the tags it carries (none when it
    /// is not one of the organization's assets).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub asset_tags: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleEvent {
    #[serde(rename = "type")]
    pub event_type: RuleEvent,
    /// The event's data, as a webhook delivery of it shows.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// What the rule would do with the event: fire or not, why, and which actions it would run
/// (nothing is done).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleDryRunOutcome {
    pub fires: bool,
    /// Why it would not: the event type differs, the rule is disabled, the chain of rules
    /// that led to the event is as long as it may be, or a condition does not hold.
    pub reason: Option<String>,
    pub conditions: Vec<ConditionVerdict>,
    pub actions: Vec<RuleAction>,
}

/// Internal: what one action did when a rule fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    /// `start_scan`, `change_finding_status`, `send_webhook` or `tag_asset`.
    pub action: String,
    /// `done`, `already_done` (the event arrived again), `skipped` (the rule's scan of the
    /// asset is still going) or `failed`.
    pub outcome: String,
    /// What it made or the error: a run id, a delivery, a status, a refusal.
    pub detail: Option<String>,
}

/// One firing of a rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleFiring {
    pub rule_id: RuleId,
    pub event_id: uuid::Uuid,
    pub event_type: RuleEvent,
    pub asset_id: Option<AssetId>,
    pub fired_at: DateTime<Utc>,
    pub actions: Vec<ActionOutcome>,
}

/// Internal: a firing as s4e-trigger records it; recording one event twice keeps the later
/// outcomes and counts the rule fired once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFiring {
    pub event_id: uuid::Uuid,
    pub event_type: RuleEvent,
    pub asset_id: Option<AssetId>,
    pub fired_at: DateTime<Utc>,
    pub actions: Vec<ActionOutcome>,
}

/// Internal: a scan a rule's action starts; base keeps one run per rule and event.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleScan {
    pub cause: RuleCause,
    pub scan: crate::api::CreateScan,
}

/// Internal: the rule and event behind a run, and the chain of rules that led to it (the
/// acting rule last), which the run's own events carry on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCause {
    pub rule_id: RuleId,
    pub event_id: uuid::Uuid,
    pub caused_by: Vec<RuleId>,
}

#[cfg(test)]
mod tests;
