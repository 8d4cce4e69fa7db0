//! Automation rules: on an event (`scan.completed`, `finding.created`,
//! `finding.status_changed`, `asset.created`) whose conditions hold, run actions (start a scan,
//! change the finding's status, send a webhook, tag the asset). Base judges a rule whole when it is saved;
//! s4e-trigger runs them. A rule acts across the organization, so it is for callers not
//! limited to assigned assets, with automation:read to read and automation:write to change,
//! and the access each of its actions needs (scans:write, findings:write).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::{ErrorBody, List};
use s4e_types::rule::{
    NewRule, Rule, RuleAction, RuleDryRun, RuleDryRunOutcome, RuleFiring, UpdateRule,
};
use s4e_types::{Message, RuleId};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// What a caller must hold to save a rule that does these things.
fn require_for(principal: &Principal, actions: &[RuleAction]) -> Result<(), ApiError> {
    principal.require(Resource::Automation, Access::Write)?;
    principal.require_unlimited("automation rules")?;
    for action in actions {
        match action {
            RuleAction::StartScan { .. } => principal.require(Resource::Scans, Access::Write)?,
            RuleAction::ChangeFindingStatus { .. } => {
                principal.require(Resource::Findings, Access::Write)?
            }
            RuleAction::TagAsset { .. } => principal.require(Resource::Assets, Access::Write)?,
            RuleAction::SendWebhook { .. } => {}
        }
    }
    Ok(())
}

fn require_read(principal: &Principal) -> Result<(), ApiError> {
    principal.require(Resource::Automation, Access::Read)?;
    principal.require_unlimited("automation rules")
}

/// Add an automation rule (automation:write)
///
/// Every condition named must hold for the rule to fire; one that cannot apply to the event
/// (e.g. `min_severity` on `scan.completed`), an empty list, an unknown field or a webhook
/// endpoint not in the organization answers 400 naming the field. Each action is done once
/// per event, however often the event arrives; a rule never fires on an event its own
/// actions led to, and an event three rules led to one after another fires no rule.
#[utoipa::path(post, path = "/api/v1/rules", operation_id = "createRule", tag = "rules",
    request_body = NewRule,
    responses(
        (status = 201, description = "Added", body = Rule),
        (status = 409, description = "The organization keeps 100 rules already", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewRule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    require_for(&principal, &body.actions)?;
    // Base judges the rule whole (`NewRule::validate`) and what it names.
    let rule = state.base.create_rule(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), rule_id = %rule.id, "rule created");
    Ok((StatusCode::CREATED, Json(rule)))
}

/// The organization's automation rules (automation:read)
#[utoipa::path(get, path = "/api/v1/rules", operation_id = "listRules", tag = "rules",
    responses((status = 200, description = "The rules, oldest first", body = List<Rule>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Rule>>, ApiError> {
    require_read(&principal)?;
    let items = state.base.list_rules(principal.org_id).await?;
    Ok(Json(List { items }))
}

/// One automation rule, with how often it fired (automation:read)
#[utoipa::path(get, path = "/api/v1/rules/{rule_id}", operation_id = "getRule", tag = "rules",
    params(("rule_id" = RuleId, Path)),
    responses((status = 200, description = "The rule", body = Rule)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(rule_id): ApiPath<RuleId>,
) -> Result<Json<Rule>, ApiError> {
    require_read(&principal)?;
    Ok(Json(state.base.get_rule(principal.org_id, rule_id).await?))
}

/// Change, disable or enable an automation rule (automation:write)
///
/// The fields named are replaced and the rule as changed is judged whole again.
#[utoipa::path(patch, path = "/api/v1/rules/{rule_id}", operation_id = "updateRule", tag = "rules",
    params(("rule_id" = RuleId, Path)),
    request_body = UpdateRule,
    responses((status = 200, description = "The rule", body = Rule)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(rule_id): ApiPath<RuleId>,
    PublicJson(body): PublicJson<UpdateRule>,
) -> Result<Json<Rule>, ApiError> {
    // The actions the rule will have decide the access needed; base judges the rule whole.
    let current = state.base.get_rule(principal.org_id, rule_id).await?;
    require_for(&principal, &body.applied_to(&current).actions)?;
    let rule = state
        .base
        .update_rule(principal.org_id, rule_id, &body)
        .await?;
    Ok(Json(rule))
}

/// Delete an automation rule (automation:write)
///
/// What it did stays done; its firings go with it.
#[utoipa::path(delete, path = "/api/v1/rules/{rule_id}", operation_id = "deleteRule", tag = "rules",
    params(("rule_id" = RuleId, Path)),
    responses((status = 200, description = "The deleted rule", body = Rule)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(rule_id): ApiPath<RuleId>,
) -> Result<Json<Rule>, ApiError> {
    require_for(&principal, &[])?;
    let rule = state.base.delete_rule(principal.org_id, rule_id).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %rule_id, "rule deleted");
    Ok(Json(rule))
}

/// A rule's latest 100 firings, newest first (automation:read)
///
/// Each names the event, and what each action did: `done`, `already_done` (the event came
/// again) or `failed`, with the scan started, the status set or the refusal.
#[utoipa::path(get, path = "/api/v1/rules/{rule_id}/firings", operation_id = "listRuleFirings", tag = "rules",
    params(("rule_id" = RuleId, Path)),
    responses((status = 200, description = "The firings", body = List<RuleFiring>)))]
pub async fn firings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(rule_id): ApiPath<RuleId>,
) -> Result<Json<List<RuleFiring>>, ApiError> {
    require_read(&principal)?;
    let items = state.base.rule_firings(principal.org_id, rule_id).await?;
    Ok(Json(List { items }))
}

/// Try a rule on a sample event (automation:read)
///
/// Judges the rule (saved or not) against an event shaped as a webhook delivery carries it
/// (`type` and `data`) and answers whether it would fire, each condition's verdict and the
/// actions it would run. Nothing is done.
#[utoipa::path(post, path = "/api/v1/rules/dry-run", operation_id = "dryRunRule", tag = "rules",
    request_body = RuleDryRun,
    responses((status = 200, description = "What the rule would do", body = RuleDryRunOutcome)))]
pub async fn dry_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<RuleDryRun>,
) -> Result<Json<RuleDryRunOutcome>, ApiError> {
    require_read(&principal)?;
    let rule = body.rule;
    rule.validate()
        .map_err(|error| ApiError::bad_request(format!("rule.{error}")))?;
    let event = Message::event_from(body.event.event_type.as_str(), body.event.data)
        .map_err(|error| ApiError::bad_request(format!("event.data: {error}")))?;
    let asset_tags = match (&body.asset_tags, event.asset_id()) {
        (Some(tags), _) => s4e_types::asset::normalize_tags(tags)
            .map_err(|error| ApiError::bad_request(format!("asset_{error}")))?,
        (None, Some(asset_id)) if rule.conditions.need_asset_tags() => {
            match state.base.get_asset(principal.org_id, asset_id).await {
                Ok(asset) => asset.tags,
                Err(s4e_client::ClientError::NotFound(_)) => Vec::new(),
                Err(error) => return Err(error.into()),
            }
        }
        (None, _) => Vec::new(),
    };
    let conditions = if rule.event == body.event.event_type {
        rule.conditions.judge(&event, &asset_tags)
    } else {
        Vec::new()
    };
    let failed = conditions.iter().find(|verdict| !verdict.holds);
    let reason = if rule.event != body.event.event_type {
        Some(format!("the rule fires on {}", rule.event.as_str()))
    } else if rule.disabled {
        Some("the rule is disabled".to_string())
    } else if let Some(failed) = failed {
        Some(format!(
            "{} does not hold (the event has {})",
            failed.condition, failed.seen
        ))
    } else if body.caused_by.len() >= s4e_types::rule::MAX_CHAIN {
        Some(format!(
            "an event {} rules led to fires no rule",
            s4e_types::rule::MAX_CHAIN
        ))
    } else {
        None
    };
    let fires = reason.is_none();
    Ok(Json(RuleDryRunOutcome {
        fires,
        reason,
        conditions,
        actions: if fires { rule.actions } else { Vec::new() },
    }))
}
