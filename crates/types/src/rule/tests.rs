use serde_json::json;

use super::*;
use crate::envelope::{CrawlCompleted, FindingCreated, ScanCompleted};
use crate::{FindingId, JobId, JobStatus, RunId};

fn rule(value: serde_json::Value) -> Result<NewRule, String> {
    let rule: NewRule = serde_json::from_value(value).map_err(|error| error.to_string())?;
    rule.validate()?;
    Ok(rule)
}

fn finding(severity: Severity, check: CheckKind) -> Message {
    Message::FindingCreated(FindingCreated {
        finding_id: FindingId::new(),
        run_id: RunId::new(),
        asset_id: AssetId::new(),
        check,
        rule: "tls.expired".into(),
        severity,
        title: "Expired certificate".into(),
        location: "example.com:443".into(),
    })
}

#[test]
fn a_rule_with_every_kind_of_action_is_accepted() {
    let saved = rule(json!({
        "name": "re-check critical TLS findings",
        "event": "finding.created",
        "conditions": {"min_severity": "high", "categories": ["tls"], "checks": ["tls_certificate"]},
        "actions": [
            {"type": "start_scan", "checks": ["tls_certificate"]},
            {"type": "change_finding_status", "status": "in_progress"},
            {"type": "send_webhook", "endpoint_id": uuid::Uuid::now_v7()},
        ]
    }))
    .unwrap();
    assert_eq!(saved.actions.len(), 3);
    assert_eq!(saved.actions[1].name(), "change_finding_status");
}

#[test]
fn unknown_fields_are_refused_in_the_rule_its_conditions_and_its_actions() {
    let base = || {
        json!({"name": "r", "event": "scan.completed",
               "actions": [{"type": "start_scan"}]})
    };
    let mut top = base();
    top["colour"] = json!("red");
    assert!(rule(top).unwrap_err().contains("colour"));
    let mut conditions = base();
    conditions["conditions"] = json!({"min_severty": "high"});
    assert!(rule(conditions).unwrap_err().contains("min_severty"));
    let mut action = base();
    action["actions"] = json!([{"type": "start_scan", "profile": "light", "asset": "x"}]);
    assert!(rule(action).unwrap_err().contains("asset"));
    let mut kind = base();
    kind["actions"] = json!([{"type": "delete_everything"}]);
    assert!(rule(kind).unwrap_err().contains("delete_everything"));
}

#[test]
fn impossible_conditions_are_refused_with_the_field_named() {
    let with = |event: &str, conditions: serde_json::Value| {
        rule(
            json!({"name": "r", "event": event, "conditions": conditions,
                    "actions": [{"type": "start_scan"}]}),
        )
        .unwrap_err()
    };
    let error = with("scan.completed", json!({"min_severity": "high"}));
    assert!(
        error.starts_with("conditions.min_severity: applies to finding.created"),
        "{error}"
    );
    assert!(with("finding.created", json!({"statuses": ["fixed"]})).contains("statuses"));
    assert!(with("asset.created", json!({"min_findings": 1})).contains("min_findings"));
    assert!(with("finding.created", json!({"checks": []})).contains("empty list"));
    assert!(with("finding.created", json!({"categories": ["radio"]})).contains("unknown"));
    assert!(
        with(
            "finding.created",
            json!({"categories": ["dns"], "checks": ["ports"]})
        )
        .contains("could never fire")
    );
    assert!(with("scan.completed", json!({"run_statuses": ["running"]})).contains("never"));
    assert!(with("scan.completed", json!({"min_findings": -1})).contains("min_findings"));
}

#[test]
fn actions_must_fit_the_event() {
    let error = rule(json!({"name": "r", "event": "scan.completed",
        "actions": [{"type": "start_scan"}, {"type": "change_finding_status", "status": "fixed"}]}))
    .unwrap_err();
    assert!(
        error.starts_with("actions[1]: change_finding_status needs a finding event"),
        "{error}"
    );
    let error = rule(json!({"name": "r", "event": "finding.created",
        "actions": [{"type": "change_finding_status", "status": "accepted_risk"}]}))
    .unwrap_err();
    assert!(error.contains("reason"), "{error}");
    let error = rule(json!({"name": "r", "event": "finding.created", "actions": []})).unwrap_err();
    assert!(error.starts_with("actions:"), "{error}");
    let error = rule(json!({"name": "  ", "event": "finding.created",
        "actions": [{"type": "start_scan"}]}))
    .unwrap_err();
    assert!(error.starts_with("name:"), "{error}");
}

#[test]
fn every_condition_must_hold() {
    let conditions = RuleConditions {
        min_severity: Some(Severity::High),
        categories: Some(vec!["tls".into()]),
        ..RuleConditions::default()
    };
    let all_hold = |event: &Message| conditions.judge(event, &[]).iter().all(|v| v.holds);
    assert!(all_hold(&finding(
        Severity::Critical,
        CheckKind::TlsCertificate
    )));
    assert!(all_hold(&finding(Severity::High, CheckKind::TlsProtocols)));
    let low = conditions.judge(&finding(Severity::Low, CheckKind::TlsCertificate), &[]);
    assert_eq!(
        low[0],
        ConditionVerdict {
            condition: "min_severity".into(),
            holds: false,
            seen: "low".into()
        }
    );
    assert!(!all_hold(&finding(Severity::Critical, CheckKind::Ports)));
}

#[test]
fn scan_conditions_look_at_the_status_and_the_count() {
    let conditions = RuleConditions {
        run_statuses: Some(vec![RunStatus::Failed]),
        ..RuleConditions::default()
    };
    let ended = |status, findings_count| {
        Message::ScanCompleted(ScanCompleted {
            run_id: RunId::new(),
            asset_id: AssetId::new(),
            status,
            findings_count,
        })
    };
    assert!(conditions.judge(&ended(RunStatus::Failed, 0), &[])[0].holds);
    assert!(!conditions.judge(&ended(RunStatus::Completed, 0), &[])[0].holds);
    let many = RuleConditions {
        min_findings: Some(5),
        ..RuleConditions::default()
    };
    assert!(many.judge(&ended(RunStatus::Completed, 5), &[])[0].holds);
    assert!(!many.judge(&ended(RunStatus::Completed, 4), &[])[0].holds);
}

#[test]
fn a_crawl_rule_takes_the_asset_conditions_and_no_others() {
    let asset_id = AssetId::new();
    let crawled = Message::CrawlCompleted(CrawlCompleted {
        run_id: RunId::new(),
        job_id: JobId::new(),
        asset_id,
        status: JobStatus::Completed,
        pages: 120,
        endpoints: 14,
        api_documents: 1,
        truncated: None,
    });
    let saved = rule(
        json!({"name": "scan what the crawl mapped", "event": "crawl.completed",
        "conditions": {"asset_ids": [asset_id]},
        "actions": [{"type": "start_scan", "checks": ["http_headers"]}]}),
    )
    .unwrap();
    assert!(saved.conditions.judge(&crawled, &[])[0].holds);
    let elsewhere = RuleConditions {
        asset_ids: Some(vec![AssetId::new()]),
        ..RuleConditions::default()
    };
    assert!(!elsewhere.judge(&crawled, &[])[0].holds);
    let error = rule(json!({"name": "r", "event": "crawl.completed",
        "conditions": {"run_statuses": ["failed"]}, "actions": [{"type": "start_scan"}]}))
    .unwrap_err();
    assert!(error.contains("run_statuses"), "{error}");
    // A webhook's sample of it reads back as the event.
    let back = Message::event_from("crawl.completed", crawled.event_data().unwrap()).unwrap();
    assert_eq!(back, crawled);
}

#[test]
fn a_rule_never_fires_on_its_own_chain_nor_past_the_longest_one() {
    let now = Utc::now();
    let this = Rule {
        id: RuleId::new(),
        org_id: OrgId::new(),
        name: "r".into(),
        description: None,
        event: RuleEvent::ScanCompleted,
        conditions: RuleConditions::default(),
        actions: vec![],
        disabled: false,
        fired_count: 0,
        last_fired_at: None,
        created_at: now,
        updated_at: now,
    };
    let other = RuleId::new();
    assert!(this.may_fire_after(&[]));
    assert!(this.may_fire_after(&[other]));
    assert!(!this.may_fire_after(&[this.id]));
    assert!(!this.may_fire_after(&[other, this.id]));
    assert!(!this.may_fire_after(&[other; MAX_CHAIN]));
}

#[test]
fn a_sample_event_parses_as_the_event_its_webhook_carries() {
    let event = finding(Severity::High, CheckKind::Exposure);
    let data = event.event_data().unwrap();
    let back = Message::event_from("finding.created", data.clone()).unwrap();
    assert_eq!(back, event);
    let error = Message::event_from("scan.completed", data).unwrap_err();
    assert!(error.starts_with("scan.completed:"), "{error}");
}

#[test]
fn an_update_is_judged_as_the_rule_it_leaves() {
    let now = Utc::now();
    let saved = Rule {
        id: RuleId::new(),
        org_id: OrgId::new(),
        name: "r".into(),
        description: None,
        event: RuleEvent::FindingCreated,
        conditions: RuleConditions {
            min_severity: Some(Severity::High),
            ..RuleConditions::default()
        },
        actions: vec![RuleAction::StartScan {
            profile: None,
            checks: None,
        }],
        disabled: false,
        fired_count: 0,
        last_fired_at: None,
        created_at: now,
        updated_at: now,
    };
    let change = UpdateRule {
        event: Some(RuleEvent::ScanCompleted),
        ..UpdateRule::default()
    };
    let error = change.applied_to(&saved).validate().unwrap_err();
    assert!(error.contains("min_severity"), "{error}");
}

#[test]
fn tag_conditions_and_actions_are_checked_and_judged() {
    let error = rule(json!({"name": "r", "event": "asset.created",
        "conditions": {"asset_tags": ["bad key"]}, "actions": [{"type": "start_scan"}]}))
    .unwrap_err();
    assert!(error.starts_with("conditions.asset_tags"), "{error}");
    let error = rule(json!({"name": "r", "event": "asset.created",
        "actions": [{"type": "tag_asset"}]}))
    .unwrap_err();
    assert!(error.starts_with("actions[0]: tag_asset"), "{error}");
    let conditions = RuleConditions {
        asset_tags: Some(vec!["env=prod".into(), "PCI".into()]),
        ..RuleConditions::default()
    };
    let event = finding(Severity::Low, CheckKind::Dns);
    let tags = |tags: &[&str]| tags.iter().map(|tag| tag.to_string()).collect::<Vec<_>>();
    assert!(conditions.judge(&event, &tags(&["pci", "env=prod", "team=web"]))[0].holds);
    assert!(!conditions.judge(&event, &tags(&["pci", "env=dev"]))[0].holds);
    assert!(!conditions.judge(&event, &[])[0].holds);
}
