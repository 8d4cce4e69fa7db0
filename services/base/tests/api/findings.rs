//! The finding lifecycle: triage with reasons and history, re-scans that fix and reopen, bulk
//! status changes.

use std::collections::HashMap;

use s4e_client::ClientError;
use s4e_types::api::FinishJob;
use s4e_types::{
    BulkStatusChange, CheckKind, Finding, FindingActor, FindingActorKind, FindingStatus, JobStatus,
    OrgId, RunId, RunStatus, Severity, StatusChange,
};

use crate::support::{Harness, all_findings, change, draft, draft_of, scan, url_asset, user_actor};

async fn by_rule(h: &Harness, org_id: OrgId) -> HashMap<String, Finding> {
    all_findings(h, org_id)
        .await
        .into_iter()
        .map(|finding| (finding.rule.clone(), finding))
        .collect()
}

fn bad_request_naming(result: Result<impl std::fmt::Debug, ClientError>, field: &str) {
    match result {
        Err(ClientError::BadRequest(message)) => {
            assert!(message.starts_with(&format!("{field}:")), "{message}")
        }
        other => panic!("expected a 400 naming {field}, got {other:?}"),
    }
}

#[tokio::test]
async fn findings_are_triaged_with_reasons_and_every_change_is_in_their_history() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let headers = CheckKind::HttpHeaders;
    scan(
        &h,
        org.id,
        asset.id,
        vec![(headers, Some(vec![draft("a"), draft("b"), draft("c")]))],
    )
    .await;
    let found = by_rule(&h, org.id).await;
    let a = found["a"].id;
    assert_eq!(found["a"].status, FindingStatus::Open);
    assert!(found["a"].status_changed_at.is_none());

    let in_progress = h
        .client
        .change_finding_status(org.id, a, &change(FindingStatus::InProgress, None))
        .await
        .unwrap();
    assert_eq!(in_progress.finding.status, FindingStatus::InProgress);
    assert_eq!(in_progress.history.len(), 1);

    // The two decisions need a reason, and only scans reopen.
    for status in [FindingStatus::FalsePositive, FindingStatus::AcceptedRisk] {
        for reason in [None, Some(""), Some("   ")] {
            let refused = h
                .client
                .change_finding_status(org.id, a, &change(status, reason))
                .await;
            bad_request_naming(refused, "reason");
        }
    }
    let refused = h
        .client
        .change_finding_status(org.id, a, &change(FindingStatus::Reopened, None))
        .await;
    bad_request_naming(refused, "status");
    let system = StatusChange {
        actor: FindingActor {
            kind: FindingActorKind::System,
            id: None,
            label: "system".into(),
        },
        ..change(FindingStatus::Fixed, None)
    };
    bad_request_naming(
        h.client.change_finding_status(org.id, a, &system).await,
        "actor",
    );

    let triaged = h
        .client
        .change_finding_status(
            org.id,
            a,
            &change(
                FindingStatus::FalsePositive,
                Some(" the header is set by the CDN "),
            ),
        )
        .await
        .unwrap();
    assert_eq!(triaged.finding.status, FindingStatus::FalsePositive);
    assert_eq!(
        triaged.finding.status_reason.as_deref(),
        Some("the header is set by the CDN")
    );
    assert_eq!(
        triaged.finding.status_changed_by.as_deref(),
        Some("triager@example.com")
    );
    let steps: Vec<(FindingStatus, FindingStatus)> = triaged
        .history
        .iter()
        .map(|event| (event.from_status, event.to_status))
        .collect();
    assert_eq!(
        steps,
        [
            (FindingStatus::Open, FindingStatus::InProgress),
            (FindingStatus::InProgress, FindingStatus::FalsePositive)
        ]
    );
    let last = &triaged.history[1];
    assert_eq!(last.actor.kind, FindingActorKind::User);
    assert_eq!(last.actor.label, "triager@example.com");
    assert_eq!(last.reason.as_deref(), Some("the header is set by the CDN"));
    assert!(last.run_id.is_none());

    // Asking for what already is changes nothing and adds no entry.
    let again = h
        .client
        .change_finding_status(
            org.id,
            a,
            &change(
                FindingStatus::FalsePositive,
                Some("the header is set by the CDN"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(again.history.len(), 2);
    assert_eq!(h.client.get_finding(org.id, a).await.unwrap(), again);

    // People may fix too; a refused change left nothing behind.
    let fixed = h
        .client
        .change_finding_status(org.id, found["c"].id, &change(FindingStatus::Fixed, None))
        .await
        .unwrap();
    assert_eq!(fixed.finding.status, FindingStatus::Fixed);
    assert_eq!(fixed.history.len(), 1);

    // Another organization's finding answers like an unknown one, and is not changed.
    let other = h.client.create_organization("b").await.unwrap();
    let foreign = h.client.get_finding(other.id, a).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    let foreign = h
        .client
        .change_finding_status(other.id, found["b"].id, &change(FindingStatus::Fixed, None))
        .await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    let unknown = h
        .client
        .get_finding(org.id, s4e_types::FindingId::new())
        .await;
    assert!(matches!(unknown, Err(ClientError::NotFound(_))));
    assert_eq!(
        h.client
            .get_finding(org.id, found["b"].id)
            .await
            .unwrap()
            .finding
            .status,
        FindingStatus::Open
    );
    h.stop().await;
}

#[tokio::test]
async fn complete_rescans_fix_what_they_miss_reopen_what_returns_and_respect_decisions() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let headers = CheckKind::HttpHeaders;
    let exposure = CheckKind::Exposure;
    let first = scan(
        &h,
        org.id,
        asset.id,
        vec![
            (
                headers,
                Some(vec![
                    draft("fp"),
                    draft("risk"),
                    draft("gone"),
                    draft("wip"),
                ]),
            ),
            (
                exposure,
                Some(vec![draft_of(exposure, "env_file", Severity::High)]),
            ),
        ],
    )
    .await;
    let found = by_rule(&h, org.id).await;
    h.client
        .change_finding_status(
            org.id,
            found["fp"].id,
            &change(FindingStatus::FalsePositive, Some("not our server")),
        )
        .await
        .unwrap();
    h.client
        .change_finding_status(
            org.id,
            found["risk"].id,
            &change(FindingStatus::AcceptedRisk, Some("legacy, retired in Q3")),
        )
        .await
        .unwrap();
    h.client
        .change_finding_status(
            org.id,
            found["wip"].id,
            &change(FindingStatus::InProgress, None),
        )
        .await
        .unwrap();

    // A re-scan of the headers only, complete, that sees the two decisions again and misses
    // "gone" and "wip": decisions stay, the two still to be dealt with are fixed, and the
    // exposure finding (a check that did not run) is left alone.
    let second = scan(
        &h,
        org.id,
        asset.id,
        vec![(headers, Some(vec![draft("fp"), draft("risk")]))],
    )
    .await;
    let after = by_rule(&h, org.id).await;
    assert_eq!(after["fp"].status, FindingStatus::FalsePositive);
    assert_eq!(after["fp"].status_reason.as_deref(), Some("not our server"));
    assert_eq!(after["risk"].status, FindingStatus::AcceptedRisk);
    assert_eq!(after["gone"].status, FindingStatus::Fixed);
    assert_eq!(after["wip"].status, FindingStatus::Fixed);
    assert_eq!(after["gone"].status_changed_by.as_deref(), Some("system"));
    assert_eq!(after["env_file"].status, FindingStatus::Open);
    let history = h
        .client
        .get_finding(org.id, after["wip"].id)
        .await
        .unwrap()
        .history;
    let last = history.last().unwrap();
    assert_eq!(
        (last.from_status, last.to_status),
        (FindingStatus::InProgress, FindingStatus::Fixed)
    );
    assert_eq!(last.actor.kind, FindingActorKind::System);
    assert_eq!(last.run_id, Some(second.run.id));
    // A decision seen again adds nothing to its history.
    assert_eq!(
        h.client
            .get_finding(org.id, after["fp"].id)
            .await
            .unwrap()
            .history
            .len(),
        1
    );

    // A later sighting reopens what was fixed, with the run that saw it.
    let third = scan(
        &h,
        org.id,
        asset.id,
        vec![(
            headers,
            Some(vec![draft("fp"), draft("risk"), draft("gone")]),
        )],
    )
    .await;
    let reopened = h
        .client
        .get_finding(org.id, after["gone"].id)
        .await
        .unwrap();
    assert_eq!(reopened.finding.status, FindingStatus::Reopened);
    let steps: Vec<(FindingStatus, FindingStatus, Option<RunId>)> = reopened
        .history
        .iter()
        .map(|event| (event.from_status, event.to_status, event.run_id))
        .collect();
    assert_eq!(
        steps,
        [
            (
                FindingStatus::Open,
                FindingStatus::Fixed,
                Some(second.run.id)
            ),
            (
                FindingStatus::Fixed,
                FindingStatus::Reopened,
                Some(third.run.id)
            ),
        ]
    );
    // "wip" was not seen by the third run and stays fixed (no second fix entry).
    let wip = h.client.get_finding(org.id, after["wip"].id).await.unwrap();
    assert_eq!(wip.finding.status, FindingStatus::Fixed);
    assert_eq!(wip.history.len(), 2);

    // The first run's report delivered again changes nothing.
    let redelivered = h
        .client
        .finish_job(
            org.id,
            first.jobs[0].id,
            &FinishJob {
                status: JobStatus::Completed,
                observed: Default::default(),
                error: None,
                raw_output_id: None,
                findings: vec![draft("wip")],
            },
        )
        .await
        .unwrap();
    assert!(!redelivered.applied);
    assert_eq!(
        h.client.get_finding(org.id, after["wip"].id).await.unwrap(),
        wip
    );
    h.stop().await;
}

#[tokio::test]
async fn a_rescan_with_a_failed_job_fixes_nothing() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let headers = CheckKind::HttpHeaders;
    let exposure = CheckKind::Exposure;
    scan(
        &h,
        org.id,
        asset.id,
        vec![
            (headers, Some(vec![draft("a"), draft("b")])),
            (
                exposure,
                Some(vec![draft_of(exposure, "git", Severity::High)]),
            ),
        ],
    )
    .await;
    // The headers job completes and sees nothing; the exposure job fails. The run completes
    // (not every job failed), but it is not a complete re-scan.
    let partial = scan(
        &h,
        org.id,
        asset.id,
        vec![(headers, Some(vec![])), (exposure, None)],
    )
    .await;
    let run = h.client.get_run(org.id, partial.run.id).await.unwrap();
    assert_eq!(
        (run.status, run.jobs_completed, run.jobs_failed),
        (RunStatus::Completed, 1, 1)
    );
    let findings = all_findings(&h, org.id).await;
    assert_eq!(findings.len(), 3);
    assert!(
        findings.iter().all(|f| f.status == FindingStatus::Open),
        "{findings:?}"
    );
    for finding in &findings {
        let history = h
            .client
            .get_finding(org.id, finding.id)
            .await
            .unwrap()
            .history;
        assert!(history.is_empty(), "{history:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn bulk_status_changes_are_all_or_nothing() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let other = h.client.create_organization("b").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let foreign_asset = h
        .client
        .create_asset(other.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let headers = CheckKind::HttpHeaders;
    scan(
        &h,
        org.id,
        asset.id,
        vec![(headers, Some(vec![draft("a"), draft("b"), draft("c")]))],
    )
    .await;
    scan(
        &h,
        other.id,
        foreign_asset.id,
        vec![(headers, Some(vec![draft("a")]))],
    )
    .await;
    let ours: Vec<_> = all_findings(&h, org.id)
        .await
        .iter()
        .map(|f| f.id)
        .collect();
    let theirs = all_findings(&h, other.id).await[0].id;
    let bulk = |ids: Vec<s4e_types::FindingId>, status, reason: Option<&str>| BulkStatusChange {
        ids,
        status,
        reason: reason.map(str::to_string),
        actor: user_actor("lead@example.com"),
    };

    // One foreign id: 404, and none of ours changed.
    let mixed = vec![ours[0], ours[1], theirs];
    let refused = h
        .client
        .bulk_change_finding_status(org.id, &bulk(mixed, FindingStatus::InProgress, None))
        .await;
    assert!(
        matches!(refused, Err(ClientError::NotFound(_))),
        "{refused:?}"
    );
    for finding in all_findings(&h, org.id).await {
        assert_eq!(finding.status, FindingStatus::Open);
        let history = h
            .client
            .get_finding(org.id, finding.id)
            .await
            .unwrap()
            .history;
        assert!(history.is_empty());
    }
    bad_request_naming(
        h.client
            .bulk_change_finding_status(
                org.id,
                &bulk(ours.clone(), FindingStatus::AcceptedRisk, None),
            )
            .await,
        "reason",
    );
    bad_request_naming(
        h.client
            .bulk_change_finding_status(org.id, &bulk(vec![], FindingStatus::Fixed, None))
            .await,
        "ids",
    );
    let too_many: Vec<_> = (0..1001).map(|_| s4e_types::FindingId::new()).collect();
    bad_request_naming(
        h.client
            .bulk_change_finding_status(org.id, &bulk(too_many, FindingStatus::Fixed, None))
            .await,
        "ids",
    );

    // All of ours (one named twice): each changes once.
    let mut ids = ours.clone();
    ids.push(ours[0]);
    let result = h
        .client
        .bulk_change_finding_status(
            org.id,
            &bulk(
                ids.clone(),
                FindingStatus::AcceptedRisk,
                Some("pen test scope"),
            ),
        )
        .await
        .unwrap();
    assert_eq!((result.changed, result.unchanged), (3, 0));
    let result = h
        .client
        .bulk_change_finding_status(
            org.id,
            &bulk(ids, FindingStatus::AcceptedRisk, Some("pen test scope")),
        )
        .await
        .unwrap();
    assert_eq!((result.changed, result.unchanged), (0, 3));
    for id in &ours {
        let found = h.client.get_finding(org.id, *id).await.unwrap();
        assert_eq!(found.finding.status, FindingStatus::AcceptedRisk);
        assert_eq!(found.history.len(), 1);
        assert_eq!(found.history[0].actor.label, "lead@example.com");
    }
    // The other organization's finding was never touched.
    let theirs = h.client.get_finding(other.id, theirs).await.unwrap();
    assert_eq!(theirs.finding.status, FindingStatus::Open);
    h.stop().await;
}
