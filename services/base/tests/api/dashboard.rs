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

/// The trend walks back from today's counts through each day's changes: findings first seen,
/// and status changes that cross between open and closed (others change nothing).
#[tokio::test]
async fn the_trend_replays_the_last_days_from_first_sightings_and_status_changes() {
    use s4e_types::finding::{BulkStatusChange, FindingActor, FindingActorKind};
    use s4e_types::{FindingId, FindingStatus};

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let run = headers_run(&h, &asset).await;
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

    // History written as it would have happened: all three first seen five days ago; the high
    // one fixed three days ago and reopened two days ago; one medium moved to in progress
    // yesterday (still open).
    let pool = sqlx::PgPool::connect(&h.env.database_url).await.unwrap();
    let id_of = |rule: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>(
                "SELECT id FROM findings WHERE org_id = $1 AND rule = $2",
            )
            .bind(org.id.0)
            .bind(rule)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (high_id, csp_id, referrer_id) = (
        id_of("exposed_thing").await,
        id_of("missing_csp").await,
        id_of("missing_referrer_policy").await,
    );
    sqlx::query("UPDATE findings SET first_seen = now() - interval '5 days' WHERE org_id = $1")
        .bind(org.id.0)
        .execute(&pool)
        .await
        .unwrap();
    for (finding, days_ago, from, to) in [
        (high_id, 3, "open", "fixed"),
        (high_id, 2, "fixed", "reopened"),
        (referrer_id, 1, "open", "in_progress"),
    ] {
        sqlx::query(
            "INSERT INTO finding_events (id, org_id, finding_id, occurred_at, actor_kind,
                                         actor_label, from_status, to_status, run_id)
             VALUES (gen_random_uuid(), $1, $2, now() - make_interval(days => $3), 'system',
                     'system', $4, $5, $6)",
        )
        .bind(org.id.0)
        .bind(finding)
        .bind(days_ago)
        .bind(from)
        .bind(to)
        .bind(run.run.id.0)
        .execute(&pool)
        .await
        .unwrap();
    }
    // Today, through the API: one medium accepted as a risk.
    h.client
        .bulk_change_finding_status(
            org.id,
            &BulkStatusChange {
                ids: vec![FindingId(csp_id)],
                status: FindingStatus::AcceptedRisk,
                reason: Some("compensating control".into()),
                actor: FindingActor {
                    kind: FindingActorKind::User,
                    id: Some(uuid::Uuid::new_v4()),
                    label: "owner@a.test".into(),
                },
            },
        )
        .await
        .unwrap();

    let summary = h.client.dashboard(org.id).await.unwrap();
    let trend = &summary.trend;
    assert_eq!(trend.len(), 30);
    let today = chrono::Utc::now().date_naive();
    assert_eq!(trend[29].day, today);
    assert_eq!(trend[0].day, today - chrono::Days::new(29));
    assert_eq!(trend[29].open_findings, summary.open_findings);
    let at = |days_ago: usize| {
        let counts = &trend[29 - days_ago].open_findings;
        (counts.high, counts.medium)
    };
    assert_eq!(
        [at(0), at(1), at(2), at(3), at(4), at(5), at(6)],
        [(1, 1), (1, 2), (1, 2), (0, 2), (1, 2), (1, 2), (0, 0)]
    );
    assert!(
        trend[..23]
            .iter()
            .all(|point| point.open_findings == Default::default())
    );
    assert_counters_match(&pool, org.id).await;

    // A second scan of the asset sees only the high one: the mediums still open are fixed.
    let again = headers_run(&h, &asset).await;
    let report = FinishJob {
        status: JobStatus::Completed,
        observed: Default::default(),
        error: None,
        raw_output_id: None,
        findings: vec![FindingDraft {
            severity: Severity::High,
            ..draft("exposed_thing")
        }],
    };
    h.client.start_job(org.id, again.jobs[0].id).await.unwrap();
    h.client
        .finish_job(org.id, again.jobs[0].id, &report)
        .await
        .unwrap();
    assert_counters_match(&pool, org.id).await;
    let later = h.client.dashboard(org.id).await.unwrap();
    assert_eq!(
        (later.open_findings.high, later.open_findings.medium),
        (1, 0)
    );
    // Today's point follows; the ended days, kept at the first dashboard, stay as they were.
    assert_eq!(later.trend[29].open_findings, later.open_findings);
    assert_eq!(later.trend[..29], summary.trend[..29]);

    // A critical asset's findings weigh twice: its counts move with its criticality.
    h.client
        .update_asset(
            org.id,
            asset.id,
            &s4e_types::UpdateAsset {
                criticality: Some(s4e_types::Criticality::Critical),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_counters_match(&pool, org.id).await;
    let critical = h.client.dashboard(org.id).await.unwrap();
    assert_eq!(critical.open_findings, later.open_findings);
    assert_eq!(critical.penalty, later.penalty * 2.0);
    h.stop().await;
}

/// A run of one headers job on `asset`.
async fn headers_run(h: &Harness, asset: &s4e_types::Asset) -> s4e_types::api::ScanRunWithJobs {
    h.client
        .create_run(
            asset.org_id,
            &NewScanRun {
                scheduled: None,
                rule: None,
                asset_id: asset.id,
                profile: "full".into(),
                jobs: vec![NewScanJob {
                    check: CheckKind::HttpHeaders,
                    target: asset.value.clone(),
                    ports: None,
                }],
            },
        )
        .await
        .unwrap()
}

/// The counters the findings table's triggers keep, and the organization's totals kept from
/// them, equal a count of the open findings.
async fn assert_counters_match(pool: &sqlx::PgPool, org: s4e_types::OrgId) {
    let totals: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT criticality, sum(critical)::bigint, sum(high)::bigint, sum(medium)::bigint,
                sum(low)::bigint, sum(info)::bigint
         FROM open_finding_totals WHERE org_id = $1
         GROUP BY 1 HAVING sum(critical + high + medium + low + info) <> 0 ORDER BY 1",
    )
    .bind(org.0)
    .fetch_all(pool)
    .await
    .unwrap();
    let recounted: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT a.criticality,
                count(*) FILTER (WHERE f.severity = 'critical'),
                count(*) FILTER (WHERE f.severity = 'high'),
                count(*) FILTER (WHERE f.severity = 'medium'),
                count(*) FILTER (WHERE f.severity = 'low'),
                count(*) FILTER (WHERE f.severity = 'info')
         FROM findings f JOIN assets a ON a.id = f.asset_id
         WHERE f.org_id = $1 AND f.status IN ('open', 'in_progress', 'reopened')
         GROUP BY 1 ORDER BY 1",
    )
    .bind(org.0)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(totals, recounted);
    let counters: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
        "SELECT asset_id, severity, open FROM open_finding_counts
         WHERE org_id = $1 AND open <> 0 ORDER BY 1, 2",
    )
    .bind(org.0)
    .fetch_all(pool)
    .await
    .unwrap();
    let counted: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
        "SELECT asset_id, severity, count(*) FROM findings
         WHERE org_id = $1 AND status IN ('open', 'in_progress', 'reopened')
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(org.0)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(counters, counted);
}
