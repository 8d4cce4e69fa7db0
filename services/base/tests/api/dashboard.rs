//! The dashboard counts of one organization.

use s4e_types::api::{FinishJob, NewScanJob, NewScanRun};
use s4e_types::{CheckKind, FindingDraft, JobStatus, Severity};

use crate::support::{Harness, draft, url_asset};

#[tokio::test]
async fn the_dashboard_counts_one_organization_in_one_call() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let other = h.client.create_organization("b").await.unwrap();
    let empty = h.client.dashboard(org.id).await.unwrap();
    assert_eq!(empty.assets, 0);
    assert_eq!(empty.open_findings, Default::default());
    assert!(empty.last_scan_finished_at.is_none());

    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    h.client
        .create_asset(org.id, &url_asset("http://second.test/"))
        .await
        .unwrap();
    let job = |check| NewScanJob {
        check,
        target: asset.value.clone(),
        ports: None,
    };
    let run = h
        .client
        .create_run(
            org.id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "full".into(),
                jobs: vec![job(CheckKind::HttpHeaders), job(CheckKind::Ports)],
            },
        )
        .await
        .unwrap();
    let high = FindingDraft {
        severity: Severity::High,
        ..draft("exposed_thing")
    };
    let report = FinishJob {
        status: JobStatus::Completed,
        observed: Default::default(),
        error: None,
        raw_output_id: None,
        findings: vec![draft("missing_csp"), draft("missing_referrer_policy"), high],
    };
    h.client.start_job(org.id, run.jobs[0].id).await.unwrap();
    h.client
        .finish_job(org.id, run.jobs[0].id, &report)
        .await
        .unwrap();

    // One job done, one queued: the run is still running.
    let summary = h.client.dashboard(org.id).await.unwrap();
    assert_eq!(summary.assets, 2);
    assert_eq!(
        (summary.open_findings.high, summary.open_findings.medium),
        (1, 2)
    );
    assert_eq!(
        summary.open_findings.critical + summary.open_findings.low,
        0
    );
    assert_eq!((summary.scans_queued, summary.scans_running), (0, 1));
    assert!(summary.last_scan_finished_at.is_none());
    // Nothing of it shows in another organization.
    let theirs = h.client.dashboard(other.id).await.unwrap();
    assert_eq!((theirs.assets, theirs.scans_running), (0, 0));
    assert_eq!(theirs.open_findings, Default::default());
    h.stop().await;
}
