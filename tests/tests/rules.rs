//! Automation rules against the real fleet: judged when saved and tried on sample events
//! through the gateway; fired by events that travel RabbitMQ to the trigger (a scan's new
//! findings, a finding's status change recorded by base and published from its outbox, an
//! asset's registration); their webhooks arriving signed at a local receiver; an event that
//! arrives twice acting once; and rules whose actions cause their own events never looping.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_e2e::{Fleet, Receiver, Target};
use s4e_test_support::wait_for;
use s4e_types::envelope::ScanCompleted;
use s4e_types::{AssetId, Envelope, Message, OrgId, RunId, RunStatus};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

async fn send(fleet: &Fleet, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let response = fleet
        .request(method, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn add_rule(fleet: &Fleet, rule: Value) -> String {
    let (status, body) = send(fleet, Method::POST, "/rules", rule).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// An endpoint for `url` asking for `event_types`: its id and its secret.
async fn add_endpoint(fleet: &Fleet, url: &str, event_types: Value) -> (String, String) {
    let (status, body) = send(
        fleet,
        Method::POST,
        "/webhooks",
        json!({"url": url, "event_types": event_types}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["endpoint"]["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn runs_of(fleet: &Fleet, asset_id: &str) -> Vec<Value> {
    fleet.get_json(&format!("/scans?asset_id={asset_id}")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn firings(fleet: &Fleet, rule_id: &str) -> Vec<Value> {
    fleet.get_json(&format!("/rules/{rule_id}/firings")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The trigger's count of rules not fired because rules led to the event.
async fn loops_prevented(fleet: &Fleet) -> f64 {
    let text = fleet
        .metrics_text(&fleet.trigger.url())
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|line| {
            line.starts_with("s4e_trigger_rules_total{") && line.contains("loop_prevented")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn finding_sample(severity: &str) -> Value {
    json!({
        "type": "finding.created",
        "data": {
            "finding_id": uuid::Uuid::now_v7(), "run_id": uuid::Uuid::now_v7(),
            "asset_id": uuid::Uuid::now_v7(), "check": "exposure", "rule": "env_file_exposed",
            "severity": severity, "title": "An .env file is served", "location": "/.env"
        }
    })
}

#[tokio::test]
async fn a_rule_is_judged_when_saved_and_tried_on_a_sample_event() {
    let fleet = Fleet::start().await.unwrap();
    let rule = json!({
        "name": "escalate exposed secrets",
        "event": "finding.created",
        "conditions": {"min_severity": "high", "categories": ["web"]},
        "actions": [{"type": "change_finding_status", "status": "in_progress"}]
    });
    let refused = |body: Value, naming: &'static str| {
        let fleet = &fleet;
        async move {
            let (status, answer) = send(fleet, Method::POST, "/rules", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap().to_string();
            assert!(message.contains(naming), "{message} should name {naming}");
        }
    };
    // Unknown fields, in the rule, its conditions and its actions.
    let mut unknown = rule.clone();
    unknown["colour"] = json!("red");
    refused(unknown, "colour").await;
    let mut unknown = rule.clone();
    unknown["conditions"]["min_severty"] = json!("low");
    refused(unknown, "min_severty").await;
    let mut unknown = rule.clone();
    unknown["actions"][0]["asset"] = json!("everything");
    refused(unknown, "asset").await;
    // Conditions and actions that could never apply to the event.
    let mut impossible = rule.clone();
    impossible["event"] = json!("scan.completed");
    refused(impossible, "conditions.min_severity").await;
    let mut impossible = rule.clone();
    impossible["conditions"] = json!({"run_statuses": ["failed"]});
    refused(impossible, "conditions.run_statuses").await;
    let mut impossible = rule.clone();
    impossible["conditions"] = json!({"categories": ["dns"], "checks": ["ports"]});
    refused(impossible, "could never fire").await;
    let mut impossible = rule.clone();
    impossible["event"] = json!("asset.created");
    impossible["conditions"] = json!({});
    refused(impossible, "actions[0]").await;
    // What the rule names must be the organization's.
    let mut foreign = rule.clone();
    foreign["actions"] = json!([{"type": "send_webhook", "endpoint_id": uuid::Uuid::now_v7()}]);
    refused(foreign, "actions[0]").await;
    let mut foreign = rule.clone();
    foreign["conditions"]["asset_ids"] = json!([uuid::Uuid::now_v7()]);
    refused(foreign, "conditions.asset_ids").await;

    let rule_id = add_rule(&fleet, rule.clone()).await;
    let saved = fleet.get_json(&format!("/rules/{rule_id}")).await;
    assert_eq!(saved["conditions"], rule["conditions"]);
    assert_eq!(saved["fired_count"], 0);
    // A change is judged as the rule it leaves, and a refused one changes nothing.
    let (status, answer) = send(
        &fleet,
        Method::PATCH,
        &format!("/rules/{rule_id}"),
        json!({"event": "scan.completed"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        fleet.get_json(&format!("/rules/{rule_id}")).await["event"],
        "finding.created"
    );
    let (status, answer) = send(
        &fleet,
        Method::PATCH,
        &format!("/rules/{rule_id}"),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["disabled"], true);

    // Saving a rule needs what its actions do: a key for automation alone cannot make a rule
    // that starts scans.
    let (status, created) = send(
        &fleet,
        Method::POST,
        "/api-keys",
        json!({"name": "automation", "scopes": ["automation:write"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(fleet.api("/rules"))
        .bearer_auth(key)
        .json(&json!({"name": "scan", "event": "asset.created",
                      "actions": [{"type": "start_scan"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Dry runs: nothing is done, the verdicts say why.
    let try_it = |event: Value| {
        let fleet = &fleet;
        let rule = rule.clone();
        async move {
            send(
                fleet,
                Method::POST,
                "/rules/dry-run",
                json!({"rule": rule, "event": event}),
            )
            .await
        }
    };
    let (status, outcome) = try_it(finding_sample("critical")).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["fires"], true, "{outcome}");
    assert_eq!(outcome["actions"][0]["type"], "change_finding_status");
    assert!(
        outcome["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|verdict| verdict["holds"] == true)
    );
    let (_, outcome) = try_it(finding_sample("low")).await;
    assert_eq!(outcome["fires"], false);
    assert_eq!(
        outcome["reason"],
        "min_severity does not hold (the event has low)"
    );
    assert_eq!(outcome["actions"], json!([]));
    let (_, outcome) = try_it(json!({"type": "asset.created", "data": {
        "asset_id": uuid::Uuid::now_v7(), "kind": "url", "value": "https://a.example/",
        "name": null}}))
    .await;
    assert_eq!(outcome["reason"], "the rule fires on finding.created");
    let (status, outcome) =
        try_it(json!({"type": "finding.created", "data": {"severity": "high"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert!(
        outcome["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("event.data")
    );
    // Another organization's rule is not found, and a deleted one is gone.
    let (status, _) = send(
        &fleet,
        Method::DELETE,
        &format!("/rules/{rule_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = fleet
        .request(Method::GET, &format!("/rules/{rule_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn new_findings_fire_rules_that_send_them_signed_and_triage_them() {
    let fleet = Fleet::start().await.unwrap();
    // One receiver gets what the rule sends (and the asset's registration, which it asks
    // for); another every status change.
    let rule_receiver = Receiver::start().await;
    let (rule_endpoint, rule_secret) =
        add_endpoint(&fleet, &rule_receiver.url, json!(["asset.created"])).await;
    let status_receiver = Receiver::start().await;
    let (_, status_secret) = add_endpoint(
        &fleet,
        &status_receiver.url,
        json!(["finding.status_changed"]),
    )
    .await;
    let forward = add_rule(
        &fleet,
        json!({
            "name": "forward serious web findings",
            "event": "finding.created",
            "conditions": {"min_severity": "medium", "categories": ["web"]},
            "actions": [{"type": "send_webhook", "endpoint_id": rule_endpoint}]
        }),
    )
    .await;
    let triage = add_rule(
        &fleet,
        json!({
            "name": "triage exposures",
            "event": "finding.created",
            "conditions": {"checks": ["exposure"]},
            "actions": [{"type": "change_finding_status", "status": "in_progress",
                         "reason": "picked up by automation"}]
        }),
    )
    .await;

    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    let view = fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed);
    let findings = fleet.findings(&run_id).await.unwrap();
    let serious_web: Vec<&Value> = findings
        .iter()
        .filter(|finding| {
            ["http_headers", "http_probes", "exposure"]
                .contains(&finding["check"].as_str().unwrap())
                && ["medium", "high", "critical"].contains(&finding["severity"].as_str().unwrap())
        })
        .collect();
    let exposures: Vec<&Value> = findings
        .iter()
        .filter(|finding| finding["check"] == "exposure")
        .collect();
    assert!(!serious_web.is_empty() && !exposures.is_empty());

    // The registration (from base's outbox) and one delivery per serious web finding, signed.
    let expected = serious_web.len() + 1;
    let received = wait_for("the rule's deliveries", DEADLINE, || async {
        let received = rule_receiver.received();
        (received.len() >= expected).then_some(received)
    })
    .await
    .unwrap();
    assert_eq!(received.len(), expected);
    let mut forwarded = std::collections::BTreeSet::new();
    for request in &received {
        assert!(request.signed_with(&rule_secret), "{:?}", request.headers);
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        match body["type"].as_str().unwrap() {
            "asset.created" => {
                assert_eq!(body["data"]["asset_id"], asset.as_str());
                assert_eq!(body["data"]["value"], target.url.as_str());
            }
            "finding.created" => {
                assert_eq!(body["rule"]["id"], forward.as_str());
                forwarded.insert(body["data"]["finding_id"].as_str().unwrap().to_string());
            }
            other => panic!("unexpected {other}"),
        }
    }
    let serious_ids: std::collections::BTreeSet<String> = serious_web
        .iter()
        .map(|finding| finding["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(forwarded, serious_ids);

    // Every exposure is triaged by the rule, named in its history, and the change is an
    // event of its own that reaches its subscriber.
    for exposure in &exposures {
        let id = exposure["id"].as_str().unwrap();
        let triaged = wait_for("the rule's triage", DEADLINE, || async {
            let finding = fleet.get_json(&format!("/findings/{id}")).await;
            (finding["status"] == "in_progress").then_some(finding)
        })
        .await
        .unwrap();
        let last = triaged["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["actor"]["kind"], "rule");
        assert_eq!(last["actor"]["id"], triage.as_str());
        assert_eq!(last["actor"]["label"], "rule: triage exposures");
        assert_eq!(last["reason"], "picked up by automation");
    }
    let changes = wait_for("the status changes' events", DEADLINE, || async {
        let received = status_receiver.received();
        (received.len() >= exposures.len()).then_some(received)
    })
    .await
    .unwrap();
    assert_eq!(changes.len(), exposures.len());
    for request in &changes {
        assert!(request.signed_with(&status_secret));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "finding.status_changed");
        assert_eq!(body["data"]["from_status"], "open");
        assert_eq!(body["data"]["to_status"], "in_progress");
        assert_eq!(body["data"]["actor_kind"], "rule");
        assert_eq!(body["data"]["check"], "exposure");
    }
    // Each rule recorded each firing, every action done.
    let forward_firings = firings(&fleet, &forward).await;
    assert_eq!(forward_firings.len(), serious_web.len());
    let triage_firings = firings(&fleet, &triage).await;
    assert_eq!(triage_firings.len(), exposures.len());
    for firing in forward_firings.iter().chain(&triage_firings) {
        assert_eq!(firing["actions"][0]["outcome"], "done", "{firing}");
    }
    assert_eq!(
        fleet.get_json(&format!("/rules/{triage}")).await["fired_count"],
        exposures.len()
    );
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_whose_scan_ends_in_the_event_it_fires_on_does_not_loop() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    // Whenever a scan of the asset ends, scan it again: without loop prevention, scans
    // without end.
    let rescan = add_rule(
        &fleet,
        json!({"name": "rescan", "event": "scan.completed",
               "conditions": {"asset_ids": [asset], "run_statuses": ["completed"]},
               "actions": [{"type": "start_scan", "checks": ["http_headers"]}]}),
    )
    .await;
    let run_id = fleet.start_scan(&asset).await.unwrap();
    fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    // The person's scan fires the rule once; the rule's own scan fires it no more.
    wait_for("the rule held back", DEADLINE, || async {
        (loops_prevented(&fleet).await >= 1.0).then_some(())
    })
    .await
    .unwrap();
    let runs = runs_of(&fleet, &asset).await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["caused_by"], json!([rescan]));
    assert_eq!(runs[1]["caused_by"], json!([]));
    fleet
        .wait_for_scan(runs[0]["id"].as_str().unwrap(), DEADLINE)
        .await
        .unwrap();
    assert_eq!(loops_prevented(&fleet).await, 1.0);
    assert_eq!(runs_of(&fleet, &asset).await.len(), 2);
    assert_eq!(firings(&fleet, &rescan).await.len(), 1);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_rules_that_undo_each_other_stop_after_one_round() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let run_id = fleet.start_scan(&asset).await.unwrap();
    fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    let finding = fleet.findings(&run_id).await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // In progress → open, open → in progress: each rule's change fires the other.
    let flip = |name: &str, from: &str, to: &str| {
        json!({"name": name, "event": "finding.status_changed",
               "conditions": {"statuses": [from]},
               "actions": [{"type": "change_finding_status", "status": to}]})
    };
    let reopen = add_rule(&fleet, flip("reopen", "in_progress", "open")).await;
    let take = add_rule(&fleet, flip("take", "open", "in_progress")).await;
    let (status, _) = send(
        &fleet,
        Method::PATCH,
        &format!("/findings/{finding}"),
        json!({"status": "in_progress"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The person's change fires `reopen`; its change fires `take`; that change, which both
    // rules led to, fires neither.
    wait_for("both rules held back", DEADLINE, || async {
        (loops_prevented(&fleet).await >= 1.0).then_some(())
    })
    .await
    .unwrap();
    let history = fleet.get_json(&format!("/findings/{finding}")).await["history"]
        .as_array()
        .unwrap()
        .clone();
    let changes: Vec<(Value, Value)> = history
        .iter()
        .map(|entry| (entry["actor"]["id"].clone(), entry["to_status"].clone()))
        .collect();
    let tail = &changes[changes.len() - 3..];
    assert_eq!(tail[0].1, "in_progress");
    assert_eq!(tail[1], (json!(reopen), json!("open")));
    assert_eq!(tail[2], (json!(take), json!("in_progress")));
    assert_eq!(firings(&fleet, &reopen).await.len(), 1);
    assert_eq!(firings(&fleet, &take).await.len(), 1);
    assert_eq!(loops_prevented(&fleet).await, 1.0);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_scans_an_asset_once_while_its_scan_is_going() {
    let fleet = Fleet::start().await.unwrap();
    // Slow enough that the rule's scan is still going when the last finding's event comes.
    let target = Target::demo_slow(Duration::from_secs(3)).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let rescan = add_rule(
        &fleet,
        json!({"name": "rescan on news", "event": "finding.created",
               "actions": [{"type": "start_scan", "checks": ["http_headers"]}]}),
    )
    .await;
    // The web checks alone: their findings' events all come while the rule's scan (one
    // three-second request) is still going.
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset, "checks": ["http_headers", "http_probes", "exposure"]}))
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_string();
    let view = fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    let created = view.run.findings_count as usize;
    assert!(created > 1);
    let fired = wait_for("every finding's event judged", DEADLINE, || async {
        let fired = firings(&fleet, &rescan).await;
        (fired.len() >= created).then_some(fired)
    })
    .await
    .unwrap();
    let outcomes: Vec<&str> = fired
        .iter()
        .map(|firing| firing["actions"][0]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "done").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "skipped").count(),
        created - 1,
        "{outcomes:?}"
    );
    assert_eq!(runs_of(&fleet, &asset).await.len(), 2);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_arrives_twice_acts_once() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let rule_id = add_rule(
        &fleet,
        json!({"name": "rescan failures", "event": "scan.completed",
               "conditions": {"run_statuses": ["failed"]},
               "actions": [{"type": "start_scan", "checks": ["http_headers"]}]}),
    )
    .await;
    let org_id: OrgId = fleet.get_json("/me").await["org_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A failed scan's event, published twice with one id: the second time after the first was
    // handled, as the broker brings a message back to a consumer that died before its ack.
    let failed = Envelope::new(
        org_id,
        Message::ScanCompleted(ScanCompleted {
            run_id: RunId::new(),
            asset_id: asset.parse::<AssetId>().unwrap(),
            status: RunStatus::Failed,
            findings_count: 0,
        }),
    );
    let bus = Bus::connect(
        &fleet.env.amqp_url,
        &fleet.env.namespace,
        BusOptions::default(),
    )
    .await
    .unwrap();
    let outcome_is = |expected: &'static str| {
        let fleet = &fleet;
        let rule_id = rule_id.clone();
        async move {
            wait_for(expected, DEADLINE, || async {
                let firings = firings(fleet, &rule_id).await;
                let firing = firings.first()?.clone();
                (firing["actions"][0]["outcome"] == expected).then_some(firing)
            })
            .await
            .unwrap()
        }
    };
    bus.publish(Exchange::Events, "scan.completed", &failed)
        .await
        .unwrap();
    let first = outcome_is("done").await;
    assert!(
        first["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("scan ")
    );
    bus.publish(Exchange::Events, "scan.completed", &failed)
        .await
        .unwrap();
    // The second arrival finds the scan started and says so; the rule fired once.
    let firing = outcome_is("already_done").await;
    assert_eq!(firing["event_id"], failed.id.to_string());
    assert_eq!(firings(&fleet, &rule_id).await.len(), 1);
    assert_eq!(
        fleet.get_json(&format!("/rules/{rule_id}")).await["fired_count"],
        1
    );
    let runs = runs_of(&fleet, &asset).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["caused_by"], json!([rule_id]));
    bus.close().await;
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_asset_is_tagged_by_rules_that_look_at_its_tags() {
    let fleet = Fleet::start().await.unwrap();
    // Production assets get a triage tag; every asset is marked seen (in the same pass, after
    // the first rule was judged).
    let triage = add_rule(
        &fleet,
        json!({"name": "triage production", "event": "asset.created",
               "conditions": {"asset_tags": ["env=prod"]},
               "actions": [{"type": "tag_asset", "add": ["triage=new"]}]}),
    )
    .await;
    add_rule(
        &fleet,
        json!({"name": "mark seen", "event": "asset.created",
               "actions": [{"type": "tag_asset", "add": ["seen"]}]}),
    )
    .await;
    let register = |value: &str, tags: Value| {
        let fleet = &fleet;
        let value = value.to_string();
        async move {
            let (status, asset) = send(
                fleet,
                Method::POST,
                "/assets",
                json!({"kind": "domain", "value": value, "tags": tags}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{asset}");
            asset["id"].as_str().unwrap().to_string()
        }
    };
    let production = register("shop.example.com", json!(["env=prod"])).await;
    let staging = register("staging.example.com", json!(["env=staging"])).await;
    for asset in [&production, &staging] {
        wait_for("the asset marked seen", DEADLINE, || async {
            let tags = fleet.get_json(&format!("/assets/{asset}")).await["tags"].clone();
            tags.as_array()?.contains(&json!("seen")).then_some(())
        })
        .await
        .unwrap();
    }
    assert_eq!(
        fleet.get_json(&format!("/assets/{production}")).await["tags"],
        json!(["env=prod", "triage=new", "seen"])
    );
    assert_eq!(
        fleet.get_json(&format!("/assets/{staging}")).await["tags"],
        json!(["env=staging", "seen"])
    );
    let fired = firings(&fleet, &triage).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["asset_id"], production.as_str());
    // A dry run reads the asset's own tags, or the ones it is told.
    let rule = fleet.get_json(&format!("/rules/{triage}")).await;
    let dry_run = |asset_tags: Option<Value>| {
        let fleet = &fleet;
        let mut body = json!({
            "rule": {"name": rule["name"], "event": rule["event"],
                     "conditions": rule["conditions"], "actions": rule["actions"]},
            "event": {"type": "asset.created", "data": {
                "asset_id": staging, "kind": "domain", "value": "staging.example.com",
                "name": null}}
        });
        if let Some(tags) = asset_tags {
            body["asset_tags"] = tags;
        }
        async move { send(fleet, Method::POST, "/rules/dry-run", body).await.1 }
    };
    let outcome = dry_run(None).await;
    assert_eq!(outcome["fires"], false, "{outcome}");
    assert_eq!(
        outcome["reason"],
        "asset_tags does not hold (the event has [env=staging, seen])"
    );
    assert_eq!(dry_run(Some(json!(["ENV=prod"]))).await["fires"], true);
    fleet.stop().await.unwrap();
}
