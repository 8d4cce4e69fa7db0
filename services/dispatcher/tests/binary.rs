//! The built binary: killed with SIGKILL in the middle of a job (the job's message goes back
//! to its queue with the lost connection, a second dispatcher process finishes it, and the job
//! is applied exactly once), and run as a router replica beside a worker replica.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use s4e_bus::topology::DISPATCH_ROUTING_KEY;
use s4e_bus::{Bus, BusOptions, Exchange};
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Served, Service, ServiceToken};
use s4e_test_support::site::{Page, TestSite, read_request_head};
use s4e_test_support::{TestEnv, listener, start_service_binary, wait_for};
use s4e_types::api::{NewScanJob, NewScanRun, ScanRunWithJobs};
use s4e_types::{
    AssetKind, CheckKind, Envelope, FindingQuery, JobSpec, JobStatus, Message, NewAsset, OrgId,
    RunStatus,
};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_s4e-dispatcher");
const DEADLINE: Duration = Duration::from_secs(60);

/// An HTTP server that answers every request after `delay`, with none of the security headers;
/// counts the requests it received.
async fn slow_target(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = listener().await;
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                if read_request_head(&mut stream).await.is_none() {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let body = "<html><body>slow</body></html>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, requests)
}

/// One dispatcher process against the test's infrastructure and base; ready when returned.
async fn start_dispatcher(env: &TestEnv, base_url: &str) -> (Child, String) {
    let extra = [
        ("S4E_BASE_URL", base_url.to_string()),
        ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string()),
        ("S4E_CHECK_TIMEOUT_SECONDS", "30".to_string()),
    ];
    start_service_binary(BINARY, env, &extra).await.unwrap()
}

/// Base in this process, ready, with an organization and a run of one headers job against
/// `target`.
async fn base_with_one_job(
    env: &TestEnv,
    target: &str,
) -> (Served, BaseClient, OrgId, ScanRunWithJobs) {
    let base = s4e_base::Config {
        common: CommonConfig::new(
            ServiceToken::new(&env.service_token).unwrap(),
            &env.namespace,
        ),
        database_url: env.database_url.clone(),
        database_max_connections: 5,
        migrate_on_start: true,
    }
    .spawn(listener().await)
    .unwrap();
    let client = BaseClient::new(&base.url(), &env.service_token).unwrap();
    wait_for("base ready", DEADLINE, || async {
        client.ready().await.ok()
    })
    .await
    .unwrap();
    let org = client.create_organization("dispatcher").await.unwrap();
    let asset = client
        .create_asset(
            org.id,
            &NewAsset {
                kind: AssetKind::Url,
                value: target.to_string(),
                name: None,
                tags: Vec::new(),
                criticality: Default::default(),
                owner: None,
            },
        )
        .await
        .unwrap();
    let created = client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "custom".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: target.to_string(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    (base, client, org.id, created)
}

#[tokio::test]
async fn a_dispatcher_killed_mid_job_loses_nothing_and_duplicates_nothing() {
    let env = TestEnv::new().await.unwrap();
    let (target, requests) = slow_target(Duration::from_secs(2)).await;
    let (base, client, org_id, created) = base_with_one_job(&env, &target).await;
    let job = &created.jobs[0];

    let (mut first, _) = start_dispatcher(&env, &base.url()).await;
    let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default())
        .await
        .unwrap();
    let envelope = Envelope::new(org_id, Message::ScanJob(JobSpec::from(job)));
    bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &envelope)
        .await
        .unwrap();

    // The first process is inside the check (the target holds its request): kill it there.
    wait_for("the check to reach the target", DEADLINE, || async {
        (requests.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await
    .unwrap();
    let running = client.run_jobs(org_id, created.run.id).await.unwrap();
    assert_eq!(running[0].status, JobStatus::Running);
    // SIGKILL: no shutdown hook runs, nothing is acked or reported.
    first.start_kill().unwrap();
    let status = tokio::time::timeout(DEADLINE, first.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "{status}");
    let run = client.get_run(org_id, created.run.id).await.unwrap();
    assert_eq!((run.status, run.jobs_completed), (RunStatus::Running, 0));

    // A second process gets the message back from the broker and finishes the job.
    let (mut second, second_url) = start_dispatcher(&env, &base.url()).await;
    let run = wait_for("the run to finish", DEADLINE, || async {
        let run = client.get_run(org_id, created.run.id).await.ok()?;
        run.status.is_final().then_some(run)
    })
    .await
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!((run.jobs_completed, run.jobs_failed), (1, 0));
    let jobs = client.run_jobs(org_id, created.run.id).await.unwrap();
    // Two attempts: the killed one and the one that finished.
    assert_eq!(
        (jobs[0].status, jobs[0].attempts),
        (JobStatus::Completed, 2)
    );
    assert!(requests.load(Ordering::SeqCst) >= 2);
    // The findings were stored once: one occurrence each, as many as the run counted.
    let findings = client
        .list_findings(org_id, &FindingQuery::default())
        .await
        .unwrap()
        .items;
    assert!(!findings.is_empty());
    assert_eq!(findings.len(), run.findings_count as usize);
    assert!(findings.iter().all(|finding| finding.occurrences == 1));
    // The second process applied one report, and nothing was dead-lettered.
    let http = reqwest::Client::new();
    let metrics = format!("{second_url}/metrics");
    wait_for("one report applied", DEADLINE, || async {
        let text = http.get(&metrics).send().await.ok()?.text().await.ok()?;
        text.contains("s4e_worker_jobs_total{check=\"http_headers\",status=\"completed\"} 1")
            .then_some(())
    })
    .await
    .unwrap();
    let letters: serde_json::Value = http
        .get(format!("{second_url}/internal/v1/dead-letters"))
        .header("x-s4e-service-token", &env.service_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(letters["items"], serde_json::json!([]));

    // Operators see what could not be handled with the binary's own command.
    bus.publish_bytes(Exchange::Dispatch, DISPATCH_ROUTING_KEY, b"not json")
        .await
        .unwrap();
    wait_for("the poison letter listed", DEADLINE, || async {
        let output = Command::new(BINARY)
            .args(["dead-letters", "--dispatcher-url", &second_url])
            .env("S4E_SERVICE_TOKEN", &env.service_token)
            .output()
            .await
            .ok()?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && stdout.contains("malformed message")).then_some(())
    })
    .await
    .unwrap();

    second.start_kill().unwrap();
    let _ = second.wait().await;
    bus.close().await;
    base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// A deployment that scales the checks apart from routing: one replica that only routes
/// (`S4E_DISPATCHER_ROLE=router`) and one that only runs checks (`worker`) finish a job between
/// them, each doing its part and nothing else.
#[tokio::test]
async fn a_router_replica_and_a_worker_replica_finish_a_job_between_them() {
    let env = TestEnv::new().await.unwrap();
    let site = TestSite::start(
        Arc::new(|_: &str| Some(Page::html("<html><title>shop</title></html>"))),
        Duration::ZERO,
    )
    .await;
    let target = format!("http://127.0.0.1:{}/", site.port);
    let (base, client, org_id, created) = base_with_one_job(&env, &target).await;

    let replica = |role: &str| {
        [
            ("S4E_DISPATCHER_ROLE", role.to_string()),
            ("S4E_BASE_URL", base.url()),
            ("S4E_EGRESS_ALLOW_PRIVATE", "true".to_string()),
        ]
    };
    let (_router, router_url) = start_service_binary(BINARY, &env, &replica("router"))
        .await
        .unwrap();
    let (_worker, worker_url) = start_service_binary(BINARY, &env, &replica("worker"))
        .await
        .unwrap();
    let bus = Bus::connect(&env.amqp_url, &env.namespace, BusOptions::default())
        .await
        .unwrap();
    let envelope = Envelope::new(org_id, Message::ScanJob(JobSpec::from(&created.jobs[0])));
    bus.publish(Exchange::Dispatch, DISPATCH_ROUTING_KEY, &envelope)
        .await
        .unwrap();

    let run = wait_for("the run to finish", DEADLINE, || async {
        let run = client.get_run(org_id, created.run.id).await.ok()?;
        run.status.is_final().then_some(run)
    })
    .await
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");

    // Each replica did its part only: the router routed and checked nothing, the worker
    // checked and routed nothing.
    let http = reqwest::Client::new();
    let metrics = |url: String| {
        let http = http.clone();
        async move {
            http.get(format!("{url}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let routed = "s4e_dispatcher_routed_total{check=\"http_headers\"} 1";
    let checked = "s4e_worker_jobs_total{check=\"http_headers\",status=\"completed\"} 1";
    let router = metrics(router_url).await;
    assert!(router.contains(routed), "{router}");
    assert!(!router.contains("s4e_worker_jobs_total"), "{router}");
    let worker = wait_for("the worker's count", DEADLINE, || async {
        let text = metrics(worker_url.clone()).await;
        text.contains(checked).then_some(text)
    })
    .await
    .unwrap();
    assert!(!worker.contains("s4e_dispatcher_routed_total"), "{worker}");

    bus.close().await;
    base.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
