//! Reliable execution through the fleet: time limits, cancellation, dead letters kept and
//! replayed.

use std::time::Duration;

use reqwest::Method;
use s4e_bus::topology::DISPATCH_ROUTING_KEY;
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_client::BaseClient;
use s4e_e2e::{Fleet, Hanging, Slow, Target};
use s4e_test_support::wait_for;
use s4e_types::api::{NewScanJob, NewScanRun};
use s4e_types::{
    AssetId, CheckKind, Envelope, JobSpec, JobStatus, Message, OrgId, RunId, RunStatus,
};
use serde_json::{Value, json};

const SCAN_DEADLINE: Duration = Duration::from_secs(60);

/// The organization of the fleet's admin key, read from an asset it owns.
async fn org_of(fleet: &Fleet, asset_id: &str) -> OrgId {
    let asset: Value = fleet
        .request(Method::GET, &format!("/assets/{asset_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    asset["org_id"].as_str().unwrap().parse().unwrap()
}

/// A request to the dispatcher's internal API, with the service token.
fn internal(fleet: &Fleet, path: &str) -> reqwest::RequestBuilder {
    fleet
        .http
        .get(format!("{}/internal/v1{path}", fleet.dispatcher.url()))
        .header("x-s4e-service-token", &fleet.env.service_token)
}

async fn metrics_contain(fleet: &Fleet, served_url: &str, lines: &[String]) -> Option<()> {
    let text = fleet.metrics_text(served_url).await?;
    lines
        .iter()
        .all(|line| text.contains(line.as_str()))
        .then_some(())
}

#[tokio::test]
async fn a_hanging_target_times_out_and_frees_the_worker_slot() {
    let mut fleet = Fleet::start().await.unwrap();
    // One job at a time per check kind, two seconds per check.
    fleet
        .restart_dispatcher(|config| {
            config.settings.worker_concurrency = 1;
            config.settings.check_timeout_seconds = 2;
        })
        .await
        .unwrap();
    let hanging = Hanging::start().await;
    let healthy = Target::demo(false).await;
    let stuck = fleet.create_url_asset(&hanging.url).await.unwrap();
    let fine = fleet.create_url_asset(&healthy.url).await.unwrap();
    let stuck_run = fleet.start_scan(&stuck).await.unwrap();
    wait_for("the checks to connect", SCAN_DEADLINE, || async {
        (hanging.accepted() >= 3).then_some(())
    })
    .await
    .unwrap();
    // Queued behind the hanging jobs in every check queue.
    let fine_run = fleet.start_scan(&fine).await.unwrap();

    let view = fleet
        .wait_for_scan(&stuck_run, SCAN_DEADLINE)
        .await
        .unwrap();
    assert_eq!(view.run.status, RunStatus::Failed, "{view:?}");
    // The three web checks, and the crawl whose start URL never answered.
    assert_eq!(view.run.jobs_failed, 4);
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let org_id = org_of(&fleet, &stuck).await;
    let run_id: RunId = stuck_run.parse().unwrap();
    for job in base.run_jobs(org_id, run_id).await.unwrap() {
        assert_eq!(job.status, JobStatus::Failed);
        let error = job.error.unwrap_or_default();
        assert!(error.starts_with("timeout"), "{:?}: {error}", job.check);
    }
    // The slots came back: the healthy scan queued behind completes.
    let view = fleet.wait_for_scan(&fine_run, SCAN_DEADLINE).await.unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_scan_stops_its_running_jobs_and_ends_cancelled() {
    let mut fleet = Fleet::start().await.unwrap();
    // Checks that would hang for a minute: only the cancellation can end them quickly.
    fleet
        .restart_dispatcher(|config| config.settings.check_timeout_seconds = 60)
        .await
        .unwrap();
    let hanging = Hanging::start().await;
    let asset = fleet.create_url_asset(&hanging.url).await.unwrap();
    let org_id = org_of(&fleet, &asset).await;
    let scan_id = fleet.start_scan(&asset).await.unwrap();
    let run_id: RunId = scan_id.parse().unwrap();
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    wait_for("the three jobs to run", SCAN_DEADLINE, || async {
        let jobs = base.run_jobs(org_id, run_id).await.ok()?;
        let running = jobs.iter().all(|job| job.status == JobStatus::Running);
        (running && hanging.accepted() >= 3).then_some(())
    })
    .await
    .unwrap();

    // Another organization cannot cancel it, nor see it.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = fleet
        .http
        .post(fleet.api(&format!("/scans/{scan_id}/cancel")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let response = fleet
        .request(Method::POST, &format!("/scans/{scan_id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let view = fleet
        .wait_for_scan(&scan_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(view.run.status, RunStatus::Cancelled);
    let jobs = base.run_jobs(org_id, run_id).await.unwrap();
    assert!(
        jobs.iter().all(|job| job.status == JobStatus::Cancelled),
        "{jobs:?}"
    );

    // The workers stop the three running checks long before their minute is up, and the run's
    // final event goes out with its status (from each of them: one id, recognisable repeats).
    let stopped: Vec<String> = ["http_headers", "http_probes", "exposure"]
        .iter()
        .map(|check| format!("s4e_worker_jobs_total{{check=\"{check}\",status=\"cancelled\"}} 1"))
        .collect();
    let dispatcher = fleet.dispatcher.url();
    wait_for("the running jobs to stop", Duration::from_secs(10), || {
        metrics_contain(&fleet, &dispatcher, &stopped)
    })
    .await
    .unwrap();
    let event = ["s4e_trigger_events_total{type=\"scan.completed\"} ".to_string()];
    let trigger = fleet.trigger.url();
    wait_for("scan.completed", Duration::from_secs(10), || {
        metrics_contain(&fleet, &trigger, &event)
    })
    .await
    .unwrap();

    // An ended scan cannot be cancelled again; nothing was found, and nothing appears later.
    let response = fleet
        .request(Method::POST, &format!("/scans/{scan_id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(fleet.findings(&scan_id).await.unwrap().is_empty());
    let run = base.get_run(org_id, run_id).await.unwrap();
    assert_eq!(
        (
            run.status,
            run.jobs_completed,
            run.jobs_failed,
            run.findings_count
        ),
        (RunStatus::Cancelled, 0, 0, 0)
    );
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn dead_letters_are_kept_listed_to_their_organization_and_replayed() {
    let mut fleet = Fleet::start().await.unwrap();
    let bus = Bus::connect(
        &fleet.env.amqp_url,
        &fleet.env.namespace,
        BusOptions::default(),
    )
    .await
    .unwrap();

    // A poison message: kept, and listed to operators only.
    bus.publish_bytes(Exchange::Dispatch, DISPATCH_ROUTING_KEY, b"{\"oops\"")
        .await
        .unwrap();
    let poison = wait_for("the poison message kept", SCAN_DEADLINE, || async {
        let list: Value = internal(&fleet, "/dead-letters")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list["items"].as_array()?.first().cloned()
    })
    .await
    .unwrap();
    assert!(
        poison["reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed message"),
        "{poison}"
    );
    assert_eq!(poison["org_id"], Value::Null);
    assert_eq!(poison["body"], "{\"oops\"");
    let response = fleet
        .http
        .get(format!(
            "{}/internal/v1/dead-letters",
            fleet.dispatcher.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A job whose dependency (base) stays away past the delivery limit.
    let target = Target::demo(false).await;
    let asset_id: AssetId = fleet
        .create_url_asset(&target.url)
        .await
        .unwrap()
        .parse()
        .unwrap();
    let org_id = org_of(&fleet, &asset_id.to_string()).await;
    let base = BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let created = base
        .create_run(
            org_id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id,
                profile: "custom".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: target.url.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    let closed = s4e_test_support::listener()
        .await
        .local_addr()
        .unwrap()
        .to_string();
    fleet
        .restart_dispatcher(|config| {
            config.base.url = format!("http://{closed}");
            config.settings.retry_delay_cap_milliseconds = 20;
        })
        .await
        .unwrap();
    let envelope = Envelope::new(org_id, Message::ScanJob(JobSpec::from(&created.jobs[0])));
    bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &envelope)
        .await
        .unwrap();
    let letter_id = envelope.id.to_string();
    let letter = wait_for("the job dead-lettered", SCAN_DEADLINE, || async {
        let list: Value = fleet
            .request(Method::GET, "/dead-letters")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list["items"].as_array()?.first().cloned()
    })
    .await
    .unwrap();
    // The organization sees its own letter, not the poison one.
    let listed: Value = fleet
        .request(Method::GET, "/dead-letters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(letter["id"], letter_id.as_str());
    assert_eq!(letter["org_id"], org_id.to_string().as_str());
    assert_eq!(letter["message_type"], "scan.job");
    // Retried with back-off through the delay queues, then given up with the last reason.
    let reason = letter["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gave up after 10 tries: starting job"),
        "{letter}"
    );

    // Another organization sees nothing and cannot replay it.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let listed: Value = fleet
        .http
        .get(fleet.api("/dead-letters"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    let response = fleet
        .http
        .post(fleet.api(&format!("/dead-letters/{letter_id}/replay")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Reading keys are not enough: dead letters are for admins.
    let response = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "reader", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    let reader: Value = response.json().await.unwrap();
    let response = fleet
        .http
        .get(fleet.api("/dead-letters"))
        .bearer_auth(reader["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Base is back: the replayed job runs once and the run completes.
    fleet.restart_dispatcher(|_| {}).await.unwrap();
    let response = fleet
        .request(Method::POST, &format!("/dead-letters/{letter_id}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view = fleet
        .wait_for_scan(&created.run.id.to_string(), SCAN_DEADLINE)
        .await
        .unwrap();
    assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    assert_eq!(view.run.findings_count, 8);
    let listed: Value = fleet
        .request(Method::GET, "/dead-letters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    let response = fleet
        .request(Method::POST, &format!("/dead-letters/{letter_id}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // The poison letter is still there for operators.
    let list: Value = internal(&fleet, "/dead-letters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    bus.close().await;
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_per_host_cap_serialises_jobs_on_one_host_while_others_proceed() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_dispatcher(|config| config.settings.max_jobs_per_host = 1)
        .await
        .unwrap();
    let busy = Slow::start(Duration::from_millis(1500)).await;
    let other = Slow::start_on([127, 0, 0, 2], Duration::from_millis(1500)).await;
    let busy_asset = fleet.create_url_asset(&busy.url).await.unwrap();
    let other_asset = fleet.create_url_asset(&other.url).await.unwrap();
    let scan = |asset: String| {
        let fleet = &fleet;
        async move {
            let response = fleet
                .request(Method::POST, "/scans")
                .json(&json!({"asset_id": asset, "checks": ["http_headers"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
            let run: Value = response.json().await.unwrap();
            run["id"].as_str().unwrap().to_string()
        }
    };
    // Two jobs against the busy host and one against the other, all queued at once.
    let runs = [
        scan(busy_asset.clone()).await,
        scan(busy_asset).await,
        scan(other_asset).await,
    ];
    for run in &runs {
        let view = fleet.wait_for_scan(run, SCAN_DEADLINE).await.unwrap();
        assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
    }
    // Never two at once on the busy host; the other host did not wait for both of them.
    assert_eq!(busy.max_in_progress(), 1);
    let (busy_starts, other_starts) = (busy.starts(), other.starts());
    assert_eq!(busy_starts.len(), 2, "one request per headers check");
    assert!(other_starts[0] < busy_starts[1]);
    let deferred = ["s4e_worker_deferred_total{check=\"http_headers\",cap=\"host\"}".to_string()];
    let dispatcher = fleet.dispatcher.url();
    assert!(
        metrics_contain(&fleet, &dispatcher, &deferred)
            .await
            .is_some()
    );
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_per_organization_cap_serialises_one_organizations_jobs_while_another_proceeds() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_dispatcher(|config| config.settings.max_jobs_per_org = 1)
        .await
        .unwrap();
    // Two hosts of one organization, and a host of another organization.
    let first = Slow::start(Duration::from_millis(1500)).await;
    let second = Slow::start_on([127, 0, 0, 2], Duration::from_millis(1500)).await;
    let theirs = Slow::start_on([127, 0, 0, 3], Duration::from_millis(1500)).await;
    let other_key = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "b")
        .await
        .unwrap();
    let start = |key: Option<&str>, url: String| {
        let fleet = &fleet;
        let key = key.map(str::to_string);
        async move {
            let request = |method, path: &str| {
                let request = fleet.http.request(method, fleet.api(path));
                match &key {
                    Some(key) => request.bearer_auth(key),
                    None => request.bearer_auth(&fleet.admin_key),
                }
            };
            let asset: Value = request(Method::POST, "/assets")
                .json(&json!({"kind": "url", "value": url}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let response = request(Method::POST, "/scans")
                .json(&json!({"asset_id": asset["id"], "checks": ["http_headers"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
            let run: Value = response.json().await.unwrap();
            (run["id"].as_str().unwrap().to_string(), key)
        }
    };
    let runs = [
        start(None, first.url.clone()).await,
        start(None, second.url.clone()).await,
        start(Some(&other_key), theirs.url.clone()).await,
    ];
    for (run, key) in &runs {
        let key = key.clone().unwrap_or_else(|| fleet.admin_key.clone());
        s4e_test_support::wait_for("the scan to finish", SCAN_DEADLINE, || async {
            let view: Value = fleet
                .http
                .get(fleet.api(&format!("/scans/{run}")))
                .bearer_auth(&key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (view["status"] == "completed").then_some(())
        })
        .await
        .unwrap();
    }
    // The organization's two jobs never overlapped; the other organization's did not wait for
    // both of them.
    let (a, b) = (first.starts()[0], second.starts()[0]);
    let (earlier, later) = if a < b { (a, b) } else { (b, a) };
    assert!(
        later >= earlier + Duration::from_millis(1400),
        "the organization's jobs overlapped"
    );
    assert!(theirs.starts()[0] < later, "the other organization waited");
    fleet.stop().await.unwrap();
}
