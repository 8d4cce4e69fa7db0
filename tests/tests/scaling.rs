//! Scaling out, as the Helm chart does it: two replicas of every service against one database,
//! one broker, one Redis and one MongoDB. A batch of scans started through both gateways is
//! processed exactly once: every job runs once (one attempt, one report), on either worker,
//! every finding is stored once, and every run's `scan.completed` reaches one trigger once.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use s4e_e2e::{Fleet, Target};
use s4e_test_support::wait_for;
use s4e_types::RunStatus;
use serde_json::{Value, json};

const SCANS: usize = 12;
const DEADLINE: Duration = Duration::from_secs(120);

/// The value of one series in a Prometheus text, 0 when the series is absent.
fn series(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0)
}

/// The sum of every series of a metric whose labels contain `label` (e.g. `status="completed"`).
fn sum_of(metrics: &str, metric: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")) && line.contains(label))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_of_every_service_process_a_batch_of_scans_exactly_once() {
    let fleet = Fleet::start().await.unwrap();
    let replicas = fleet.start_replicas().await.unwrap();
    let gateways = [fleet.core.url(), replicas.core.url()];
    let dispatchers = [fleet.dispatcher.url(), replicas.dispatcher.url()];
    let crawlers = [fleet.crawler.url(), replicas.crawler.url()];
    let triggers = [fleet.trigger.url(), replicas.trigger.url()];

    // Each scan of its own demo shop, registered and started through the gateways in turn.
    let mut targets = Vec::new();
    let mut runs = Vec::new();
    for index in 0..SCANS {
        let target = Target::demo(false).await;
        let gateway = &gateways[index % 2];
        let asset: Value = fleet
            .http
            .post(format!("{gateway}/api/v1/assets"))
            .bearer_auth(&fleet.admin_key)
            .json(&json!({"kind": "url", "value": target.url}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let response = fleet
            .http
            .post(format!("{gateway}/api/v1/scans"))
            .bearer_auth(&fleet.admin_key)
            .json(&json!({"asset_id": asset["id"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "scan {index}");
        let run: Value = response.json().await.unwrap();
        runs.push(run["id"].as_str().unwrap().to_string());
        targets.push(target);
    }

    let mut jobs_total = 0;
    for run_id in &runs {
        let view = fleet.wait_for_scan(run_id, DEADLINE).await.unwrap();
        assert_eq!(view.run.status, RunStatus::Completed, "{view:?}");
        assert_eq!(view.run.jobs_completed, view.run.jobs_total);
        // The demo shop's problems, each stored once and seen once by its run.
        assert_eq!(view.run.findings_count, 13, "{run_id}");
        let findings = fleet.findings(run_id).await.unwrap();
        assert_eq!(findings.len(), 13, "{run_id}");
        assert!(
            findings.iter().all(|finding| finding["occurrences"] == 1),
            "{findings:?}"
        );
        // Every job started once: no worker ran another's job.
        let jobs = fleet
            .request(Method::GET, &format!("/scans/{run_id}/jobs"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        for job in jobs["items"].as_array().unwrap() {
            assert_eq!(job["status"], "completed", "{job}");
            assert_eq!(job["attempts"], 1, "{job}");
        }
        jobs_total += view.run.jobs_total as u64;
    }
    // Each run is one organization-wide fact: no finding twice across the batch.
    let all = fleet.get_json("/findings?limit=1000").await;
    let ids: BTreeSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), SCANS * 13);

    // The workers shared the jobs and each job was reported once (every job but the runs'
    // crawls, which the crawlers reported once each); each run's completion reached one
    // trigger once.
    let check_jobs = jobs_total - SCANS as u64;
    let (finished, per_dispatcher) = wait_for(
        "every job counted by the workers",
        Duration::from_secs(10),
        || async {
            let mut per_dispatcher = Vec::new();
            for url in &dispatchers {
                let metrics = fleet.metrics_text(url).await?;
                per_dispatcher.push((
                    sum_of(&metrics, "s4e_worker_jobs_total", "status=\"completed\""),
                    sum_of(&metrics, "s4e_worker_redeliveries_total", ""),
                ));
            }
            let finished: u64 = per_dispatcher.iter().map(|(completed, _)| completed).sum();
            (finished == check_jobs).then_some((finished, per_dispatcher))
        },
    )
    .await
    .unwrap();
    assert_eq!(finished, check_jobs);
    let crawls = wait_for("every crawl reported", Duration::from_secs(10), || async {
        let mut reported = 0;
        for url in &crawlers {
            let metrics = fleet.metrics_text(url).await?;
            reported += series(&metrics, "s4e_crawler_crawls_finished_total");
        }
        (reported >= SCANS as u64).then_some(reported)
    })
    .await
    .unwrap();
    assert_eq!(crawls, SCANS as u64);
    for (completed, redeliveries) in &per_dispatcher {
        assert!(*completed > 0, "a worker took no job: {per_dispatcher:?}");
        assert_eq!(
            *redeliveries, 0,
            "a job was delivered twice: {per_dispatcher:?}"
        );
    }
    let completed_events = wait_for(
        "every run's completion received",
        Duration::from_secs(10),
        || async {
            let mut counts = Vec::new();
            for url in &triggers {
                let metrics = fleet.metrics_text(url).await?;
                counts.push(series(
                    &metrics,
                    "s4e_trigger_events_total{type=\"scan.completed\"}",
                ));
            }
            (counts.iter().sum::<u64>() >= SCANS as u64).then_some(counts)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        completed_events.iter().sum::<u64>(),
        SCANS as u64,
        "{completed_events:?}"
    );

    drop(targets);
    replicas.stop().await.unwrap();
    fleet.stop().await.unwrap();
}
