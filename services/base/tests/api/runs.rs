//! Scan runs and their jobs: reports applied once, failed and cancelled runs.

use s4e_client::ClientError;
use s4e_types::api::{FinishJob, NewScanJob, NewScanRun};
use s4e_types::{CheckKind, FindingQuery, JobStatus, RunStatus};

use crate::support::{Harness, draft, url_asset};

#[tokio::test]
async fn job_reports_are_applied_once_and_findings_deduplicated() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let new_run = NewScanRun {
        scheduled: None,
        rule: None,
        asset_id: asset.id,
        profile: "single".into(),
        jobs: vec![NewScanJob {
            check: CheckKind::HttpHeaders,
            target: asset.value.clone(),
            ports: None,
        }],
    };

    let first = h.client.create_run(org.id, &new_run).await.unwrap();
    assert_eq!(first.run.status, RunStatus::Queued);
    let job = &first.jobs[0];
    let started = h.client.start_job(org.id, job.id).await.unwrap();
    assert_eq!((started.status, started.attempts), (JobStatus::Running, 1));
    assert_eq!(
        h.client.get_run(org.id, first.run.id).await.unwrap().status,
        RunStatus::Running
    );

    let report = FinishJob {
        status: JobStatus::Completed,
        observed: Default::default(),
        error: None,
        raw_output_id: Some(job.id.to_string()),
        findings: vec![
            draft("missing_csp"),
            draft("missing_referrer_policy"),
            draft("missing_csp"),
        ],
    };
    let finished = h.client.finish_job(org.id, job.id, &report).await.unwrap();
    assert!(finished.applied);
    assert_eq!(finished.run.status, RunStatus::Completed);
    assert_eq!(finished.run.findings_count, 2);
    assert!(finished.run.finished_at.is_some());

    // The same report again (a redelivered message) changes nothing.
    let again = h.client.finish_job(org.id, job.id, &report).await.unwrap();
    assert!(!again.applied);
    assert_eq!(again.run.findings_count, 2);
    let restarted = h.client.start_job(org.id, job.id).await.unwrap();
    assert_eq!(restarted.status, JobStatus::Completed);

    let by_run = FindingQuery {
        run_id: Some(first.run.id),
        ..FindingQuery::default()
    };
    let findings = h.client.list_findings(org.id, &by_run).await.unwrap().items;
    assert_eq!(findings.len(), 2);
    assert!(findings.iter().all(|f| f.occurrences == 1));

    // A second run that finds one of the two updates it instead of adding a row.
    let second = h.client.create_run(org.id, &new_run).await.unwrap();
    let report = FinishJob {
        findings: vec![draft("missing_csp")],
        ..report
    };
    h.client
        .finish_job(org.id, second.jobs[0].id, &report)
        .await
        .unwrap();
    let all = h
        .client
        .list_findings(org.id, &FindingQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 2);
    let csp = all.iter().find(|f| f.rule == "missing_csp").unwrap();
    assert_eq!(csp.occurrences, 2);
    assert_eq!(csp.last_run_id, second.run.id);
    // The first run still shows what it saw.
    assert_eq!(
        h.client
            .list_findings(org.id, &by_run)
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // Another organization sees none of it.
    let other = h.client.create_organization("b").await.unwrap();
    assert!(
        h.client
            .list_findings(other.id, &FindingQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let foreign = h.client.get_run(other.id, first.run.id).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let foreign = h.client.finish_job(other.id, job.id, &report).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    h.stop().await;
}

#[tokio::test]
async fn a_run_whose_jobs_all_fail_fails_with_the_reason() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://127.0.0.1:9/"))
        .await
        .unwrap();
    let run = h
        .client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "single".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: asset.value.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap();
    let finished = h
        .client
        .finish_job(
            org.id,
            run.jobs[0].id,
            &FinishJob {
                status: JobStatus::Failed,
                observed: Default::default(),
                error: Some("target unreachable: connection refused".into()),
                raw_output_id: None,
                findings: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(finished.run.status, RunStatus::Failed);
    assert_eq!(finished.run.jobs_failed, 1);
    assert_eq!(
        finished.run.error.as_deref(),
        Some("target unreachable: connection refused")
    );

    // A run cannot be created for an asset of another organization, nor without jobs.
    let other = h.client.create_organization("b").await.unwrap();
    let foreign = h
        .client
        .create_run(
            other.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "single".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: asset.value.clone(),
                    ports: None,
                }],
            },
        )
        .await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let empty = h
        .client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "single".into(),
                jobs: vec![],
            },
        )
        .await;
    assert!(matches!(empty, Err(ClientError::BadRequest(_))));
    h.stop().await;
}

#[tokio::test]
async fn a_cancelled_run_ends_with_its_unfinished_jobs_and_ignores_later_reports() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let other = h.client.create_organization("b").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let job = |check| NewScanJob {
        check,
        target: asset.value.clone(),
        ports: None,
    };
    let created = h
        .client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "three".into(),
                jobs: vec![
                    job(CheckKind::HttpHeaders),
                    job(CheckKind::HttpProbes),
                    job(CheckKind::Exposure),
                ],
            },
        )
        .await
        .unwrap();
    let [done, running, queued] = [0, 1, 2].map(|i| created.jobs[i].id);
    h.client.start_job(org.id, done).await.unwrap();
    let report = FinishJob {
        status: JobStatus::Completed,
        observed: Default::default(),
        error: None,
        raw_output_id: None,
        findings: vec![draft("missing_csp")],
    };
    h.client.finish_job(org.id, done, &report).await.unwrap();
    h.client.start_job(org.id, running).await.unwrap();

    // Another organization's id is unknown; a worker cannot report a job cancelled.
    let foreign = h.client.cancel_run(other.id, created.run.id).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    let cancelling = FinishJob {
        status: JobStatus::Cancelled,
        observed: Default::default(),
        error: None,
        raw_output_id: None,
        findings: Vec::new(),
    };
    let refused = h.client.finish_job(org.id, running, &cancelling).await;
    assert!(
        matches!(refused, Err(ClientError::BadRequest(_))),
        "{refused:?}"
    );

    let run = h.client.cancel_run(org.id, created.run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.finished_at.is_some());
    assert_eq!((run.jobs_completed, run.findings_count), (1, 1));
    let statuses: Vec<JobStatus> = h
        .client
        .run_jobs(org.id, created.run.id)
        .await
        .unwrap()
        .iter()
        .map(|job| job.status)
        .collect();
    assert_eq!(
        statuses,
        [
            JobStatus::Completed,
            JobStatus::Cancelled,
            JobStatus::Cancelled
        ]
    );

    // The running job's report comes too late: nothing is stored; the queued job is not
    // started again.
    let late = FinishJob {
        findings: vec![draft("missing_referrer_policy")],
        ..report
    };
    let finished = h.client.finish_job(org.id, running, &late).await.unwrap();
    assert!(!finished.applied);
    assert_eq!(finished.job.status, JobStatus::Cancelled);
    assert_eq!(finished.run.findings_count, 1);
    let started = h.client.start_job(org.id, queued).await.unwrap();
    assert_eq!(
        (started.status, started.attempts),
        (JobStatus::Cancelled, 0)
    );

    // Ended is ended.
    let again = h.client.cancel_run(org.id, created.run.id).await;
    assert!(matches!(again, Err(ClientError::Conflict(_))), "{again:?}");
    h.stop().await;
}
