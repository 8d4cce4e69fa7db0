//! Recurring scans through the gateway and the scheduler, against the real fleet. The scheduler
//! runs on the test's clock: each test builds `Scheduler`s of its own and calls `pass(now)`
//! with the times it wants (the fleet's own scheduler looks only once an hour), so hours of
//! schedule pass in milliseconds.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use reqwest::{Method, StatusCode};
use s4e_client::{BaseClient, ScanClient};
use s4e_e2e::{Fleet, Hanging, Target};
use s4e_scheduler::schedules::Scheduler;
use s4e_types::api::CreateScan;
use s4e_types::schedule::ScheduledScan;
use s4e_types::{AssetId, OrgId, ScheduleId};
use serde_json::{Value, json};

fn scheduler(fleet: &Fleet) -> Scheduler {
    let token = &fleet.env.service_token;
    Scheduler {
        base: BaseClient::new(&fleet.base.url(), token).unwrap(),
        scan: ScanClient::new(&fleet.scan.url(), token).unwrap(),
        metrics: s4e_runtime::Metrics::new(),
        lease: Duration::from_secs(60),
    }
}

async fn create(fleet: &Fleet, body: Value) -> (StatusCode, Value) {
    let response = fleet
        .request(Method::POST, "/schedules")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn schedule(fleet: &Fleet, body: Value) -> Value {
    let (status, schedule) = create(fleet, body).await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    schedule
}

async fn patch(fleet: &Fleet, id: &str, body: Value) -> Value {
    let response = fleet
        .request(Method::PATCH, &format!("/schedules/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a time: {value}")))
        .unwrap()
        .to_utc()
}

async fn scans_of(fleet: &Fleet, asset_id: &str) -> Vec<Value> {
    fleet
        .get_json(&format!("/scans?asset_id={asset_id}&limit=500"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_schedule_is_validated_kept_and_changed_through_the_gateway() {
    let fleet = Fleet::start().await.unwrap();
    let asset = fleet
        .create_asset("domain", "nightly.example.com")
        .await
        .unwrap();
    let before = Utc::now();
    let nightly = schedule(
        &fleet,
        json!({"asset_id": asset, "name": "nightly", "cron": "0 3 * * *",
               "timezone": "Europe/Berlin", "profile": "light"}),
    )
    .await;
    // 03:00 in Berlin is 02:00 UTC in winter and 01:00 in summer, within a day.
    let next = time(&nightly["next_run_at"]);
    assert!(next > before && next - before <= chrono::Duration::hours(25));
    assert!(
        [1, 2].contains(&next.hour()) && next.minute() == 0,
        "{next}"
    );
    assert_eq!(nightly["catch_up"], "skip");
    assert_eq!(nightly["allow_overlap"], false);
    let id = nightly["id"].as_str().unwrap().to_string();

    // What is not a schedule is refused naming the field; other refusals say why.
    let archived = fleet
        .create_asset("domain", "gone.example.com")
        .await
        .unwrap();
    let response = fleet
        .request(Method::DELETE, &format!("/assets/{archived}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for (body, status, says) in [
        (json!({"asset_id": asset, "cron": "nightly"}), 400, "cron:"),
        (
            json!({"asset_id": asset, "cron": "0 3 * * *", "timezone": "Berlin"}),
            400,
            "timezone:",
        ),
        (
            json!({"asset_id": asset, "cron": "* * * * *"}),
            400,
            "more often than every 5 minutes",
        ),
        (
            json!({"asset_id": asset, "cron": "@daily", "skip_windows": [{"cron": "0 1 * * *", "minutes": 0}]}),
            400,
            "skip_windows[0].minutes",
        ),
        (
            json!({"asset_id": asset, "cron": "@daily", "every": "day"}),
            400,
            "every",
        ),
        (
            json!({"asset_id": AssetId::new(), "cron": "@daily"}),
            404,
            "asset",
        ),
        (
            json!({"asset_id": archived, "cron": "@daily"}),
            409,
            "archived",
        ),
    ] {
        let (answered, refusal) = create(&fleet, body.clone()).await;
        assert_eq!(answered.as_u16(), status, "{body}: {refusal}");
        let message = refusal["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }

    // Listed and read.
    let list = fleet.get_json("/schedules").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(fleet.get_json(&format!("/schedules/{id}")).await, nightly);

    // Paused: nothing is due; resumed: due again after now; a new pattern, a new due time.
    let paused = patch(&fleet, &id, json!({"paused": true})).await;
    assert_eq!(paused["paused"], true);
    assert!(paused["next_run_at"].is_null());
    let resumed = patch(&fleet, &id, json!({"paused": false})).await;
    assert_eq!(time(&resumed["next_run_at"]), next);
    let hourly = patch(&fleet, &id, json!({"cron": "@hourly", "name": null})).await;
    assert!(hourly["name"].is_null());
    let next_hour = time(&hourly["next_run_at"]);
    assert!(next_hour > before && next_hour - before <= chrono::Duration::hours(1));
    assert_eq!(next_hour.minute(), 0);
    let response = fleet
        .request(Method::PATCH, &format!("/schedules/{id}"))
        .json(&json!({"timezone": "Nowhere/Else"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Every change is in the audit log.
    let log = fleet.get_json("/audit-log?resource_type=schedule").await;
    let actions: BTreeSet<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains("schedules.create") && actions.contains("schedules.update"));

    let response = fleet
        .request(Method::DELETE, &format!("/schedules/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = fleet
        .request(Method::GET, &format!("/schedules/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_schedulers_start_each_due_scan_exactly_once() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let mut due = Vec::new();
    for _ in 0..10 {
        let created = schedule(
            &fleet,
            // run_once: made across a five-minute boundary, the earlier ones are still due.
            json!({"asset_id": asset, "cron": "*/5 * * * *", "checks": ["http_headers"],
                   "allow_overlap": true, "catch_up": "run_once"}),
        )
        .await;
        due.push(time(&created["next_run_at"]));
    }
    let now = *due.iter().max().unwrap() + chrono::Duration::seconds(1);

    // Two replicas, the same moment.
    let (first, second) = (scheduler(&fleet), scheduler(&fleet));
    let (a, b) = tokio::join!(first.pass(now), second.pass(now));
    assert_eq!(a.unwrap() + b.unwrap(), 10);
    assert_eq!(scans_of(&fleet, &asset).await.len(), 10);
    for schedule in fleet.get_json("/schedules").await["items"]
        .as_array()
        .unwrap()
    {
        assert_eq!(schedule["last_outcome"], "started", "{schedule}");
        assert!(schedule["last_run_id"].is_string());
        assert!(time(&schedule["next_run_at"]) > now);
    }
    // Nothing is due twice.
    assert_eq!(first.pass(now).await.unwrap(), 0);
    assert_eq!(scans_of(&fleet, &asset).await.len(), 10);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_scheduler_that_dies_midway_is_taken_over_without_a_second_scan() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let created = schedule(
        &fleet,
        json!({"asset_id": asset, "cron": "*/5 * * * *", "checks": ["http_headers"]}),
    )
    .await;
    let due_at = time(&created["next_run_at"]);
    let now = due_at + chrono::Duration::seconds(1);

    // A scheduler claims the schedule and starts its scan, then dies before reporting.
    let dying = scheduler(&fleet);
    let claimed = dying
        .base
        .claim_due_schedules(&s4e_types::schedule::ClaimDueSchedules {
            now,
            limit: 10,
            lease_seconds: 60,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let org_id: OrgId = created["org_id"].as_str().unwrap().parse().unwrap();
    let schedule_id: ScheduleId = created["id"].as_str().unwrap().parse().unwrap();
    dying
        .scan
        .start_scheduled_scan(
            org_id,
            &ScheduledScan {
                schedule_id,
                due_at,
                scan: CreateScan {
                    asset_id: asset.parse().unwrap(),
                    profile: None,
                    checks: Some(vec![s4e_types::CheckKind::HttpHeaders]),
                },
            },
        )
        .await
        .unwrap();

    // While its lease holds, nobody else takes the schedule.
    let survivor = scheduler(&fleet);
    assert_eq!(survivor.pass(now).await.unwrap(), 0);
    // Once it ran out, the survivor does, and finds the scan started.
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(survivor.pass(later).await.unwrap(), 1);
    assert_eq!(scans_of(&fleet, &asset).await.len(), 1);
    let schedule = fleet.get_json(&format!("/schedules/{schedule_id}")).await;
    assert_eq!(schedule["last_outcome"], "started");
    assert_eq!(time(&schedule["last_due_at"]), due_at);
    assert!(time(&schedule["next_run_at"]) > later);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn after_downtime_a_missed_time_is_skipped_or_run_once_never_repeated() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let skip = schedule(
        &fleet,
        json!({"asset_id": asset, "cron": "@hourly", "checks": ["http_headers"]}),
    )
    .await;
    let once = schedule(
        &fleet,
        json!({"asset_id": asset, "cron": "@hourly", "checks": ["http_headers"],
               "catch_up": "run_once"}),
    )
    .await;
    // The schedulers were away for five hours and twenty minutes.
    let now = time(&skip["next_run_at"]) + chrono::Duration::minutes(5 * 60 + 20);
    assert_eq!(scheduler(&fleet).pass(now).await.unwrap(), 2);

    let skip = fleet
        .get_json(&format!("/schedules/{}", skip["id"].as_str().unwrap()))
        .await;
    let once = fleet
        .get_json(&format!("/schedules/{}", once["id"].as_str().unwrap()))
        .await;
    assert_eq!(skip["last_outcome"], "skipped_missed");
    assert!(skip["last_run_id"].is_null());
    assert_eq!(once["last_outcome"], "started");
    // One scan in all, and both are due at the next hour after now.
    assert_eq!(scans_of(&fleet, &asset).await.len(), 1);
    let next_hour = time(&skip["next_run_at"]);
    assert!(next_hour > now && next_hour - now <= chrono::Duration::hours(1));
    assert_eq!(time(&once["next_run_at"]), next_hour);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_skip_window_a_running_scan_and_a_pause_start_nothing() {
    let mut fleet = Fleet::start().await.unwrap();
    // Checks of the hanging target run a minute: its scan is still going when the next time
    // comes.
    fleet
        .restart_dispatcher(|config| config.settings.check_timeout_seconds = 60)
        .await
        .unwrap();
    let hanging = Hanging::start().await;
    let asset = fleet.create_url_asset(&hanging.url).await.unwrap();

    // A window over the hour the schedule is first due.
    let hourly = schedule(
        &fleet,
        json!({"asset_id": asset, "cron": "@hourly", "checks": ["http_headers"]}),
    )
    .await;
    let due_at = time(&hourly["next_run_at"]);
    let windowed = patch(
        &fleet,
        hourly["id"].as_str().unwrap(),
        json!({"skip_windows": [{"cron": format!("0 {} * * *", due_at.hour()), "minutes": 30}]}),
    )
    .await;
    let now = due_at + chrono::Duration::seconds(1);
    assert_eq!(scheduler(&fleet).pass(now).await.unwrap(), 1);
    let windowed = fleet
        .get_json(&format!("/schedules/{}", windowed["id"].as_str().unwrap()))
        .await;
    assert_eq!(windowed["last_outcome"], "skipped_window");
    assert_eq!(scans_of(&fleet, &asset).await.len(), 0);
    let response = fleet
        .request(
            Method::DELETE,
            &format!("/schedules/{}", windowed["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // The first time starts a scan that hangs; the next finds it still going and skips.
    let every_five = schedule(
        &fleet,
        json!({"asset_id": asset, "cron": "*/5 * * * *", "checks": ["http_headers"]}),
    )
    .await;
    let id = every_five["id"].as_str().unwrap().to_string();
    let first = time(&every_five["next_run_at"]) + chrono::Duration::seconds(1);
    assert_eq!(scheduler(&fleet).pass(first).await.unwrap(), 1);
    let started = fleet.get_json(&format!("/schedules/{id}")).await;
    assert_eq!(started["last_outcome"], "started");
    let second = time(&started["next_run_at"]) + chrono::Duration::seconds(1);
    assert_eq!(scheduler(&fleet).pass(second).await.unwrap(), 1);
    let overlapped = fleet.get_json(&format!("/schedules/{id}")).await;
    assert_eq!(overlapped["last_outcome"], "skipped_overlap");
    assert_eq!(overlapped["last_run_id"], started["last_run_id"]);
    assert_eq!(scans_of(&fleet, &asset).await.len(), 1);

    // Paused, it is never due, however late it gets.
    patch(&fleet, &id, json!({"paused": true})).await;
    let much_later = second + chrono::Duration::days(30);
    assert_eq!(scheduler(&fleet).pass(much_later).await.unwrap(), 0);
    assert_eq!(scans_of(&fleet, &asset).await.len(), 1);
    drop(hanging);
    fleet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_schedule_scans_every_asset_carrying_the_tag_once_per_due_time() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    // Three assets: two in production (tagged at registration and later), one not.
    let register = |path: &str, tags: Value| {
        let fleet = &fleet;
        let value = format!("{}{path}", target.url);
        async move {
            let response = fleet
                .request(Method::POST, "/assets")
                .json(&json!({"kind": "url", "value": value, "tags": tags}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            let asset: Value = response.json().await.unwrap();
            asset["id"].as_str().unwrap().to_string()
        }
    };
    let shop = register("shop", json!(["Env=prod", "team=web"])).await;
    let admin = register("admin", json!([])).await;
    let staging = register("staging", json!(["env=staging"])).await;
    let response = fleet
        .request(Method::PUT, &format!("/assets/{admin}/tags"))
        .json(&json!({"tags": ["env=prod"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listed = |tag: &str| {
        let fleet = &fleet;
        let path = format!("/assets?tag={tag}");
        async move {
            let mut ids: Vec<String> = fleet.get_json(&path).await["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|asset| asset["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut prod = vec![shop.clone(), admin.clone()];
    prod.sort();
    assert_eq!(listed("env=prod").await, prod);
    assert_eq!(listed("env").await.len(), 3);

    // A schedule names an asset or a tag, not both nor neither.
    for body in [
        json!({"cron": "@daily"}),
        json!({"asset_id": shop, "tag": "env=prod", "cron": "@daily"}),
        json!({"tag": "not a tag", "cron": "@daily"}),
    ] {
        let (status, answer) = create(&fleet, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
    let nightly = schedule(
        &fleet,
        json!({"tag": "env=prod", "cron": "*/5 * * * *", "checks": ["http_headers"]}),
    )
    .await;
    assert_eq!(nightly["tag"], "env=prod");
    assert!(nightly["asset_id"].is_null());
    let due = time(&nightly["next_run_at"]);
    let schedule_id: ScheduleId = nightly["id"].as_str().unwrap().parse().unwrap();

    // An earlier attempt at this due time started the shop's scan and died: the due time starts
    // the other one, and no second scan of the shop.
    let org_id: OrgId = fleet.get_json("/me").await["org_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let scan = ScanClient::new(&fleet.scan.url(), &fleet.env.service_token).unwrap();
    scan.start_scheduled_scan(
        org_id,
        &ScheduledScan {
            schedule_id,
            due_at: due,
            scan: CreateScan {
                asset_id: shop.parse::<AssetId>().unwrap(),
                profile: None,
                checks: Some(vec![s4e_types::CheckKind::HttpHeaders]),
            },
        },
    )
    .await
    .unwrap();
    let (first, second) = (scheduler(&fleet), scheduler(&fleet));
    let now = due + chrono::Duration::seconds(1);
    let (a, b) = tokio::join!(first.pass(now), second.pass(now));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(scans_of(&fleet, &shop).await.len(), 1);
    assert_eq!(scans_of(&fleet, &admin).await.len(), 1);
    assert_eq!(scans_of(&fleet, &staging).await.len(), 0);
    let fired = fleet.get_json(&format!("/schedules/{schedule_id}")).await;
    assert_eq!(fired["last_outcome"], "started", "{fired}");
    assert_eq!(
        fired["last_run_id"],
        scans_of(&fleet, &admin).await[0]["id"]
    );

    // Untagged (a bulk change, all or none), the next due time finds nothing to scan.
    let response = fleet
        .request(Method::POST, "/assets/bulk-tags")
        .json(&json!({"asset_ids": [shop, admin, uuid::Uuid::now_v7()], "remove": ["env"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(listed("env=prod").await, prod);
    let response = fleet
        .request(Method::POST, "/assets/bulk-tags")
        .json(&json!({"asset_ids": [shop, admin], "remove": ["env"], "add": ["retired"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["changed"], 2);
    assert!(listed("env=prod").await.is_empty());
    assert_eq!(
        fleet.get_json(&format!("/assets/{shop}")).await["tags"],
        json!(["team=web", "retired"])
    );
    let next = time(&fired["next_run_at"]);
    for run in scans_of(&fleet, &shop)
        .await
        .iter()
        .chain(&scans_of(&fleet, &admin).await)
    {
        fleet
            .wait_for_scan(run["id"].as_str().unwrap(), Duration::from_secs(30))
            .await
            .unwrap();
    }
    assert_eq!(
        first
            .pass(next + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let fired = fleet.get_json(&format!("/schedules/{schedule_id}")).await;
    assert_eq!(fired["last_outcome"], "failed", "{fired}");
    assert_eq!(
        fired["last_error"],
        "no asset in the inventory carries the tag"
    );
    fleet.stop().await.unwrap();
}
