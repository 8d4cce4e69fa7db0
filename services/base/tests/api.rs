//! s4e-base against a real PostgreSQL: a fresh database per test, the service on port 0.

use std::collections::{HashMap, HashSet};

use s4e_base::Config;
use s4e_client::{BaseClient, ClientError};
use s4e_runtime::{CommonConfig, Served, Service, ServiceToken};
use s4e_test_support::{TestEnv, listener};
use s4e_types::api::{FinishJob, NewApiKey, NewScanJob, NewScanRun, ScanRunWithJobs};
use s4e_types::{
    AssetId, AssetKind, BulkStatusChange, CheckKind, Finding, FindingActor, FindingActorKind,
    FindingDraft, FindingQuery, FindingSort, FindingStatus, JobStatus, NewAsset, OrgId, RunId,
    RunStatus, Severity, SortOrder, StatusChange,
};

struct Harness {
    env: TestEnv,
    base: Served,
    client: BaseClient,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Harness {
        let env = TestEnv::new().await.unwrap();
        let config = Config {
            common: CommonConfig {
                listen: None,
                service_token: ServiceToken::new(&env.service_token).unwrap(),
                namespace: env.namespace.clone(),
                log_format: "json".into(),
            },
            database_url: env.database_url.clone(),
            database_max_connections: 5,
            migrate_on_start: true,
        };
        let base = config.spawn(listener().await).unwrap();
        let client = BaseClient::new(&base.url(), &env.service_token).unwrap();
        s4e_test_support::wait_for("base ready", std::time::Duration::from_secs(30), || async {
            client.ready().await.ok()
        })
        .await
        .unwrap();
        Harness {
            env,
            base,
            client,
            http: reqwest::Client::new(),
        }
    }

    async fn stop(self) {
        self.base.stop().await.unwrap();
        self.env.cleanup().await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.url())
    }
}

fn url_asset(value: &str) -> NewAsset {
    NewAsset {
        kind: AssetKind::Url,
        value: value.into(),
        name: None,
    }
}

fn draft(rule: &str) -> FindingDraft {
    FindingDraft {
        check: CheckKind::HttpHeaders,
        rule: rule.into(),
        location: "http://target.test/".into(),
        title: format!("title of {rule}"),
        severity: Severity::Medium,
        score: 5.0,
        cwe: Some(693),
        description: "d".into(),
        remediation: "r".into(),
        evidence: serde_json::json!({"headers": {}}),
    }
}

#[tokio::test]
async fn assets_are_scoped_by_organization() {
    let h = Harness::start().await;
    let org_a = h.client.create_organization("a").await.unwrap();
    let org_b = h.client.create_organization("b").await.unwrap();

    let asset = h
        .client
        .create_asset(org_a.id, &url_asset("https://Example.com/app#x"))
        .await
        .unwrap();
    assert_eq!(asset.value, "https://example.com/app");
    assert_eq!(asset.org_id, org_a.id);

    // The same value twice in one organization is a conflict; in another it is fine.
    let duplicate = h
        .client
        .create_asset(org_a.id, &url_asset("https://example.com/app"))
        .await;
    assert!(
        matches!(duplicate, Err(ClientError::Conflict(_))),
        "{duplicate:?}"
    );
    h.client
        .create_asset(org_b.id, &url_asset("https://example.com/app"))
        .await
        .unwrap();

    assert_eq!(h.client.list_assets(org_a.id).await.unwrap().len(), 1);
    assert_eq!(
        h.client.get_asset(org_a.id, asset.id).await.unwrap().id,
        asset.id
    );
    // Another organization's id answers exactly like an unknown one.
    let foreign = h.client.get_asset(org_b.id, asset.id).await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    let unknown_org = h.client.list_assets(OrgId::new()).await.unwrap();
    assert!(unknown_org.is_empty());
    let into_unknown_org = h
        .client
        .create_asset(OrgId::new(), &url_asset("https://x.test/"))
        .await;
    assert!(matches!(into_unknown_org, Err(ClientError::NotFound(_))));

    h.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let assets = h.url(&format!("/internal/v1/orgs/{}/assets", org.id));
    let token = ("x-s4e-service-token", h.env.service_token.as_str());

    // No token, wrong token.
    let response = h.http.get(&assets).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = h
        .http
        .get(&assets)
        .header(token.0, "x".repeat(40))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    // Malformed JSON.
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .header("content-type", "application/json")
        .body("{\"kind\": \"url\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    // A value that is not a URL names the field.
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .json(&serde_json::json!({"kind": "url", "value": "not a url"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("value:")
    );

    // Oversized body.
    let huge = format!(
        "{{\"kind\":\"url\",\"value\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // An id that is not a UUID names nothing.
    let response = h
        .http
        .get(format!("{assets}/not-a-uuid"))
        .header(token.0, token.1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Nothing was stored by any of these.
    assert!(h.client.list_assets(org.id).await.unwrap().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn api_keys_are_found_by_hash_only() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let key = NewApiKey {
        name: "ci".into(),
        prefix: "s4e_abcd".into(),
        key_hash: "ab".repeat(32),
        scopes: vec!["admin".into()],
        expires_at: None,
    };
    let created = h.client.create_api_key(org.id, &key).await.unwrap();
    let found = h.client.api_key_by_hash(&"AB".repeat(32)).await.unwrap();
    assert_eq!(found, created);
    assert!(!found.revoked);
    let missing = h.client.api_key_by_hash(&"cd".repeat(32)).await;
    assert!(matches!(missing, Err(ClientError::NotFound(_))));
    let again = h.client.create_api_key(org.id, &key).await;
    assert!(matches!(again, Err(ClientError::Conflict(_))));
    h.stop().await;
}

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
                asset_id: asset.id,
                profile: "single".into(),
                jobs: vec![],
            },
        )
        .await;
    assert!(matches!(empty, Err(ClientError::BadRequest(_))));
    h.stop().await;
}

fn argon2_hash(tag: &str) -> String {
    // Base stores what the gateway hashed; only the PHC shape is checked here.
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}")
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

#[tokio::test]
async fn organizations_keep_an_owner_and_invitations_are_spent_once() {
    use s4e_types::Role;
    use s4e_types::account::{AcceptInvitation, NewInvitation, NewOrganizationWithOwner};

    let h = Harness::start().await;
    let signup = |email: &str, hash: String| NewOrganizationWithOwner {
        organization_name: "Acme".into(),
        email: email.into(),
        password_hash: hash,
        is_partner: false,
    };
    let acme = h
        .client
        .create_organization_with_owner(&signup(" Owner@Acme.test ", argon2_hash("a")))
        .await
        .unwrap();
    assert_eq!(acme.owner.email, "owner@acme.test");
    assert_eq!(acme.owner.role, Role::Owner);
    // The same address cannot sign up twice, in any case.
    let again = h
        .client
        .create_organization_with_owner(&signup("OWNER@acme.test", argon2_hash("b")))
        .await;
    assert!(matches!(again, Err(ClientError::Conflict(_))), "{again:?}");
    // A plain-text password is refused: base never stores one.
    let plain = h
        .client
        .create_organization_with_owner(&signup("x@acme.test", "hunter2hunter2".into()))
        .await;
    assert!(matches!(plain, Err(ClientError::BadRequest(m)) if m.contains("password_hash")));

    let credentials = h.client.credentials("OWNER@ACME.TEST").await.unwrap();
    assert_eq!(credentials.user, acme.owner);
    assert_eq!(credentials.password_hash, argon2_hash("a"));
    let unknown = h.client.credentials("nobody@acme.test").await;
    assert!(matches!(unknown, Err(ClientError::NotFound(_))));

    // The only owner can be neither demoted nor removed.
    let org = acme.organization.id;
    let demote = h
        .client
        .set_user_role(org, acme.owner.id, Role::Admin)
        .await;
    assert!(
        matches!(demote, Err(ClientError::Conflict(_))),
        "{demote:?}"
    );
    let remove = h.client.delete_user(org, acme.owner.id).await;
    assert!(
        matches!(remove, Err(ClientError::Conflict(_))),
        "{remove:?}"
    );

    // An invitation becomes a user once; a second acceptance finds nothing.
    let invitation = h
        .client
        .invite(
            org,
            &NewInvitation {
                email: "Member@Acme.test".into(),
                role: Role::Member,
                token_hash: "cd".repeat(32),
                invited_by: acme.owner.id,
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(invitation.email, "member@acme.test");
    let accept = AcceptInvitation {
        token_hash: "CD".repeat(32),
        password_hash: argon2_hash("m"),
    };
    let member = h.client.accept_invitation(&accept).await.unwrap();
    assert_eq!((member.org_id, member.role), (org, Role::Member));
    let twice = h.client.accept_invitation(&accept).await;
    assert!(matches!(twice, Err(ClientError::NotFound(_))), "{twice:?}");
    let listed = h.client.list_invitations(org).await.unwrap();
    assert!(listed[0].accepted_at.is_some());

    // With a second owner, the first may step down.
    h.client
        .set_user_role(org, member.id, Role::Owner)
        .await
        .unwrap();
    let stepped = h
        .client
        .set_user_role(org, acme.owner.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(stepped.role, Role::Admin);

    // Another organization sees none of it.
    let other = h
        .client
        .create_organization_with_owner(&signup("owner@other.test", argon2_hash("o")))
        .await
        .unwrap();
    let foreign = h.client.get_user(other.organization.id, member.id).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let foreign = h
        .client
        .set_user_role(other.organization.id, member.id, Role::Viewer)
        .await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let users = h.client.list_users(other.organization.id).await.unwrap();
    assert_eq!(users, vec![other.owner.clone()]);
    // An inviter from another organization cannot invite here.
    let stray = h
        .client
        .invite(
            org,
            &NewInvitation {
                email: "x@acme.test".into(),
                role: Role::Viewer,
                token_hash: "ef".repeat(32),
                invited_by: other.owner.id,
                expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await;
    assert!(matches!(stray, Err(ClientError::NotFound(_))), "{stray:?}");
    h.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_appended_filtered_paged_and_never_updated() {
    use s4e_types::NewAuditEntry;
    use s4e_types::audit::{ActorKind, AuditQuery};

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let other = h.client.create_organization("b").await.unwrap();
    let entry = |action: &str, outcome: u16| NewAuditEntry {
        actor_kind: ActorKind::ApiKey,
        actor_id: Some(uuid::Uuid::now_v7()),
        actor_label: "s4e_abcdef".into(),
        actor_org_id: None,
        action: action.into(),
        resource_type: "asset".into(),
        resource_id: Some("r1".into()),
        outcome,
        ip: Some("192.0.2.1".into()),
        trace_id: None,
    };
    for (action, outcome) in [
        ("assets.create", 201),
        ("scans.create", 403),
        ("assets.create", 201),
    ] {
        h.client
            .append_audit(org.id, &entry(action, outcome))
            .await
            .unwrap();
    }
    h.client
        .append_audit(other.id, &entry("assets.create", 201))
        .await
        .unwrap();

    let all = h
        .client
        .query_audit(org.id, &AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = all.items.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["assets.create", "scans.create", "assets.create"]);
    assert!(all.next_cursor.is_none());
    let failed = AuditQuery {
        failed: Some(true),
        ..AuditQuery::default()
    };
    let failed = h.client.query_audit(org.id, &failed).await.unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].entry.outcome, 403);

    // Pages of two, newest first, the cursor leading to the rest.
    let first = AuditQuery {
        limit: Some(2),
        ..AuditQuery::default()
    };
    let first = h.client.query_audit(org.id, &first).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = AuditQuery {
        limit: Some(2),
        before: first.next_cursor,
        ..AuditQuery::default()
    };
    let second = h.client.query_audit(org.id, &second).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].id, all.items[2].id);
    assert!(second.next_cursor.is_none());
    let bad = AuditQuery {
        limit: Some(0),
        ..AuditQuery::default()
    };
    let bad = h.client.query_audit(org.id, &bad).await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");

    // Not through the API (there is no route), and not through SQL either.
    let pool = sqlx::PgPool::connect(&h.env.database_url).await.unwrap();
    let tampered = sqlx::query("UPDATE audit_log SET outcome = 200 WHERE outcome = 403")
        .execute(&pool)
        .await;
    let error = tampered.unwrap_err().to_string();
    assert!(error.contains("audit entries cannot be changed"), "{error}");
    pool.close().await;
    h.stop().await;
}

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

// ---- The finding lifecycle ----

fn user_actor(label: &str) -> FindingActor {
    FindingActor {
        kind: FindingActorKind::User,
        id: Some(uuid::Uuid::now_v7()),
        label: label.into(),
    }
}

fn change(status: FindingStatus, reason: Option<&str>) -> StatusChange {
    StatusChange {
        status,
        reason: reason.map(str::to_string),
        actor: user_actor("triager@example.com"),
    }
}

fn draft_of(check: CheckKind, rule: &str, severity: Severity) -> FindingDraft {
    FindingDraft {
        check,
        severity,
        ..draft(rule)
    }
}

/// Creates a run of `checks` on the asset and reports each job with its outcome; `None` fails
/// the job. Returns the run and its job ids.
async fn scan(
    h: &Harness,
    org_id: OrgId,
    asset_id: AssetId,
    outcomes: Vec<(CheckKind, Option<Vec<FindingDraft>>)>,
) -> ScanRunWithJobs {
    let run = h
        .client
        .create_run(
            org_id,
            &NewScanRun {
                asset_id,
                profile: "custom".into(),
                jobs: outcomes
                    .iter()
                    .map(|(check, _)| NewScanJob {
                        check: *check,
                        target: "http://target.test/".into(),
                        ports: None,
                    })
                    .collect(),
            },
        )
        .await
        .unwrap();
    for (job, (_, outcome)) in run.jobs.iter().zip(outcomes) {
        let report = match outcome {
            Some(findings) => FinishJob {
                status: JobStatus::Completed,
                error: None,
                raw_output_id: None,
                findings,
            },
            None => FinishJob {
                status: JobStatus::Failed,
                error: Some("target unreachable".into()),
                raw_output_id: None,
                findings: vec![],
            },
        };
        let finished = h.client.finish_job(org_id, job.id, &report).await.unwrap();
        assert!(finished.applied);
    }
    run
}

async fn all_findings(h: &Harness, org_id: OrgId) -> Vec<Finding> {
    let query = FindingQuery {
        limit: Some(FindingQuery::MAX_LIMIT),
        ..FindingQuery::default()
    };
    let page = h.client.list_findings(org_id, &query).await.unwrap();
    assert!(page.next_cursor.is_none());
    page.items
}

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

/// Which findings a filter should select.
type Expected = Box<dyn Fn(&Finding) -> bool>;

/// Every page of a query, following the cursor; asserts the page size is respected.
async fn every_page(h: &Harness, org_id: OrgId, mut query: FindingQuery) -> Vec<Finding> {
    let mut all = Vec::new();
    loop {
        let page = h.client.list_findings(org_id, &query).await.unwrap();
        assert!(page.items.len() <= query.page_size() as usize);
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => {
                query.cursor = Some(s4e_types::FindingCursor::decode(&cursor).unwrap());
            }
            None => return all,
        }
    }
}

#[tokio::test]
async fn filters_sorts_and_cursor_pages_cover_every_finding_exactly_once() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let second_asset = h
        .client
        .create_asset(org.id, &url_asset("http://other.test/"))
        .await
        .unwrap();
    let severities = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    // One report stores 23 findings in one transaction: they share last_seen and first_seen,
    // and several share a severity, so only the id orders them.
    let drafts: Vec<FindingDraft> = (0..23)
        .map(|n| {
            draft_of(
                CheckKind::HttpHeaders,
                &format!("rule_{n:02}"),
                severities[n % 5],
            )
        })
        .collect();
    let first = scan(
        &h,
        org.id,
        asset.id,
        vec![
            (CheckKind::HttpHeaders, Some(drafts)),
            (
                CheckKind::Exposure,
                Some(vec![draft_of(
                    CheckKind::Exposure,
                    "env_file",
                    Severity::High,
                )]),
            ),
        ],
    )
    .await;
    let later = scan(
        &h,
        org.id,
        second_asset.id,
        vec![(
            CheckKind::HttpHeaders,
            Some(vec![
                draft_of(CheckKind::HttpHeaders, "rule_00", Severity::Critical),
                draft_of(CheckKind::HttpHeaders, "late", Severity::Low),
            ]),
        )],
    )
    .await;
    let all = all_findings(&h, org.id).await;
    assert_eq!(all.len(), 26);
    // Triage a few, to filter by status.
    for finding in all.iter().filter(|f| f.rule.ends_with('3')) {
        h.client
            .change_finding_status(org.id, finding.id, &change(FindingStatus::InProgress, None))
            .await
            .unwrap();
    }
    let all = all_findings(&h, org.id).await;

    // The default order: most severe, then most recently seen, then id.
    let key = |f: &Finding| (f.severity, f.last_seen, f.id);
    assert!(
        all.windows(2).all(|w| key(&w[0]) >= key(&w[1])),
        "default order"
    );

    for sort in [
        FindingSort::Severity,
        FindingSort::LastSeen,
        FindingSort::FirstSeen,
    ] {
        for order in [SortOrder::Desc, SortOrder::Asc] {
            for limit in [1, 4, 7] {
                let query = FindingQuery {
                    sort,
                    order,
                    limit: Some(limit),
                    ..FindingQuery::default()
                };
                let paged = every_page(&h, org.id, query).await;
                let ids: HashSet<_> = paged.iter().map(|f| f.id).collect();
                assert_eq!(
                    ids.len(),
                    paged.len(),
                    "{sort:?} {order:?} {limit}: duplicates"
                );
                assert_eq!(paged.len(), all.len(), "{sort:?} {order:?} {limit}: gaps");
                let sort_key = |f: &Finding| match sort {
                    FindingSort::Severity => (Some(f.severity), f.last_seen, f.id),
                    FindingSort::LastSeen => (None, f.last_seen, f.id),
                    FindingSort::FirstSeen => (None, f.first_seen, f.id),
                };
                assert!(
                    paged.windows(2).all(|w| match order {
                        SortOrder::Desc => sort_key(&w[0]) > sort_key(&w[1]),
                        SortOrder::Asc => sort_key(&w[0]) < sort_key(&w[1]),
                    }),
                    "{sort:?} {order:?} {limit}: out of order"
                );
            }
        }
    }

    // Each filter selects exactly what it says, across pages.
    let cases: Vec<(FindingQuery, Expected)> = vec![
        (
            FindingQuery {
                statuses: vec![FindingStatus::InProgress],
                ..FindingQuery::default()
            },
            Box::new(|f| f.status == FindingStatus::InProgress),
        ),
        (
            FindingQuery {
                statuses: vec![FindingStatus::Open, FindingStatus::InProgress],
                ..FindingQuery::default()
            },
            Box::new(|_| true),
        ),
        (
            FindingQuery {
                severities: vec![Severity::Low, Severity::Critical],
                ..FindingQuery::default()
            },
            Box::new(|f| matches!(f.severity, Severity::Low | Severity::Critical)),
        ),
        (
            FindingQuery {
                min_severity: Some(Severity::High),
                ..FindingQuery::default()
            },
            Box::new(|f| f.severity >= Severity::High),
        ),
        (
            FindingQuery {
                check: Some(CheckKind::Exposure),
                ..FindingQuery::default()
            },
            Box::new(|f| f.check == CheckKind::Exposure),
        ),
        (
            FindingQuery {
                rule: Some("rule_00".into()),
                ..FindingQuery::default()
            },
            Box::new(|f| f.rule == "rule_00"),
        ),
        (
            FindingQuery {
                asset_id: Some(second_asset.id),
                ..FindingQuery::default()
            },
            Box::new(move |f| f.asset_id == second_asset.id),
        ),
        (
            FindingQuery {
                run_id: Some(first.run.id),
                min_severity: Some(Severity::Medium),
                ..FindingQuery::default()
            },
            Box::new(move |f| f.asset_id == asset.id && f.severity >= Severity::Medium),
        ),
        (
            FindingQuery {
                run_id: Some(later.run.id),
                statuses: vec![FindingStatus::Fixed],
                ..FindingQuery::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (query, expected) in cases {
        let query = FindingQuery {
            limit: Some(3),
            ..query
        };
        let got: HashSet<_> = every_page(&h, org.id, query.clone())
            .await
            .iter()
            .map(|f| f.id)
            .collect();
        let want: HashSet<_> = all.iter().filter(|f| expected(f)).map(|f| f.id).collect();
        assert_eq!(got, want, "{query:?}");
        assert_eq!(
            h.client.count_findings(org.id, &query).await.unwrap(),
            want.len() as u64
        );
    }

    // Bad parameters are refused naming the parameter; a cursor only continues its own order.
    let url = h.url(&format!("/internal/v1/orgs/{}/findings", org.id));
    let first_page = h
        .client
        .list_findings(
            org.id,
            &FindingQuery {
                limit: Some(2),
                ..FindingQuery::default()
            },
        )
        .await
        .unwrap();
    let cursor = first_page.next_cursor.unwrap();
    for (query, field) in [
        ("status=closed".to_string(), "status"),
        ("severity=urgent".to_string(), "severity"),
        ("limit=5000".to_string(), "limit"),
        ("sort=title".to_string(), "sort"),
        ("cursor=abc".to_string(), "cursor"),
        (format!("sort=first_seen&cursor={cursor}"), "cursor"),
        ("scan_id=x".to_string(), "scan_id"),
    ] {
        let response = h
            .http
            .get(format!("{url}?{query}"))
            .header("x-s4e-service-token", &h.env.service_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{query}: {message}"
        );
    }
    // Repeated parameters and comma lists are the same filter.
    let fetch = |query: &'static str| {
        let request = h
            .http
            .get(format!("{url}?{query}"))
            .header("x-s4e-service-token", &h.env.service_token);
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        fetch("severity=low&severity=critical").await,
        fetch("severity=low,critical").await
    );

    // Another organization sees none of it.
    let other = h.client.create_organization("b").await.unwrap();
    assert!(all_findings(&h, other.id).await.is_empty());
    let foreign_run = FindingQuery {
        run_id: Some(first.run.id),
        ..FindingQuery::default()
    };
    assert_eq!(
        h.client
            .count_findings(other.id, &foreign_run)
            .await
            .unwrap(),
        0
    );
    h.stop().await;
}

#[tokio::test]
async fn a_second_factor_is_pending_until_enabled_and_only_one_is_active() {
    use s4e_types::account::NewOrganizationWithOwner;

    let h = Harness::start().await;
    let acme = h
        .client
        .create_organization_with_owner(&NewOrganizationWithOwner {
            organization_name: "Acme".into(),
            email: "owner@acme.test".into(),
            password_hash: argon2_hash("a"),
            is_partner: false,
        })
        .await
        .unwrap();
    let (org, user) = (acme.organization.id, acme.owner.id);
    let nothing_pending = h.client.enable_totp(org, user).await;
    assert!(matches!(nothing_pending, Err(ClientError::Conflict(_))));
    let unsealed = h
        .client
        .set_pending_totp(org, user, "JBSWY3DPEHPK3PXP")
        .await;
    assert!(matches!(unsealed, Err(ClientError::BadRequest(m)) if m.contains("sealed_secret")));
    let pending = h.client.set_pending_totp(org, user, "v1:aa").await.unwrap();
    assert!(!pending.totp_enabled);
    let enabled = h.client.enable_totp(org, user).await.unwrap();
    assert!(enabled.totp_enabled);
    let stored = h.client.credentials("owner@acme.test").await.unwrap();
    assert_eq!(stored.totp_secret.as_deref(), Some("v1:aa"));
    assert_eq!(stored.totp_pending_secret, None);
    let second = h.client.set_pending_totp(org, user, "v1:bb").await;
    assert!(matches!(second, Err(ClientError::Conflict(_))));
    // Another organization's user id is not found.
    let other = h.client.create_organization("other").await.unwrap();
    let foreign = h.client.disable_totp(other.id, user).await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let foreign = h.client.set_pending_totp(other.id, user, "v1:cc").await;
    assert!(matches!(foreign, Err(ClientError::NotFound(_))));
    let disabled = h.client.disable_totp(org, user).await.unwrap();
    assert!(!disabled.totp_enabled);
    h.stop().await;
}

#[tokio::test]
async fn partners_have_customers_and_only_their_own() {
    let h = Harness::start().await;
    let partner = h.client.create_partner("MSSP").await.unwrap();
    let rival = h.client.create_partner("Rival").await.unwrap();
    let plain = h.client.create_organization("plain").await.unwrap();
    assert!(partner.is_partner && !plain.is_partner);
    let customer = h.client.create_customer(partner.id, "Shop").await.unwrap();
    assert_eq!(customer.partner_org_id, Some(partner.id));
    let not_a_partner = h.client.create_customer(plain.id, "x").await;
    assert!(matches!(not_a_partner, Err(ClientError::NotFound(_))));
    let blank = h.client.create_customer(partner.id, " ").await;
    assert!(matches!(blank, Err(ClientError::BadRequest(_))));
    assert_eq!(
        h.client
            .get_customer(partner.id, customer.id)
            .await
            .unwrap(),
        customer
    );
    let theirs = h.client.get_customer(rival.id, customer.id).await;
    assert!(matches!(theirs, Err(ClientError::NotFound(_))));
    let itself = h.client.get_customer(partner.id, partner.id).await;
    assert!(matches!(itself, Err(ClientError::NotFound(_))));
    assert!(h.client.list_customers(rival.id).await.unwrap().is_empty());

    // The portfolio counts open findings per customer.
    let asset = h
        .client
        .create_asset(customer.id, &url_asset("http://shop.test/"))
        .await
        .unwrap();
    let run = h
        .client
        .create_run(
            customer.id,
            &NewScanRun {
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
        .unwrap();
    h.client
        .start_job(customer.id, run.jobs[0].id)
        .await
        .unwrap();
    let report = FinishJob {
        status: JobStatus::Completed,
        error: None,
        raw_output_id: None,
        findings: vec![draft("missing_csp"), draft("missing_referrer_policy")],
    };
    h.client
        .finish_job(customer.id, run.jobs[0].id, &report)
        .await
        .unwrap();
    let second = h.client.create_customer(partner.id, "Bank").await.unwrap();
    let portfolio = h.client.portfolio(partner.id).await.unwrap();
    let names: Vec<&str> = portfolio
        .iter()
        .map(|entry| entry.organization.name.as_str())
        .collect();
    assert_eq!(names, ["Bank", "Shop"]);
    assert_eq!(portfolio[0].organization, second);
    assert_eq!(portfolio[0].open_findings.medium, 0);
    assert_eq!(portfolio[1].open_findings.medium, 2);
    assert!(h.client.portfolio(rival.id).await.unwrap().is_empty());
    h.stop().await;
}

/// A failed verification withdraws the proof, unless nothing could be reached and the proof is
/// younger than the grace period given; every attempt counts as the last check.
#[tokio::test]
async fn an_unreachable_asset_keeps_a_recent_proof_for_its_grace_period() {
    use s4e_types::VerificationMethod;
    use s4e_types::api::RecordVerification;

    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let record = |proven_by, keep| RecordVerification {
        proven_by,
        keep_proof_younger_than_seconds: keep,
    };
    let proven = h
        .client
        .record_verification(
            org.id,
            asset.id,
            &record(Some(VerificationMethod::HttpFile), None),
        )
        .await
        .unwrap();
    let proven_at = proven.verified_at.expect("proven");

    // Unreachable, within an hour's grace: kept as it was.
    let kept = h
        .client
        .record_verification(org.id, asset.id, &record(None, Some(3600)))
        .await
        .unwrap();
    assert_eq!(kept.verified_at, Some(proven_at));
    assert_eq!(kept.verification_method, Some(VerificationMethod::HttpFile));
    // Not due again within the period: the attempt counts as the last check.
    let due = h
        .client
        .due_for_reverification(std::time::Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert!(due.iter().all(|due| due.id != asset.id));

    // A grace period the proof is older than: withdrawn.
    let lost = h
        .client
        .record_verification(org.id, asset.id, &record(None, Some(0)))
        .await
        .unwrap();
    assert_eq!(lost.verified_at, None);
    assert_eq!(lost.verification_method, None);

    // Without a grace period, a failed attempt withdraws at once; another organization's
    // asset is not found.
    h.client
        .record_verification(
            org.id,
            asset.id,
            &record(Some(VerificationMethod::MetaTag), None),
        )
        .await
        .unwrap();
    let withdrawn = h
        .client
        .record_verification(org.id, asset.id, &record(None, None))
        .await
        .unwrap();
    assert_eq!(withdrawn.verified_at, None);
    let other = h.client.create_organization("b").await.unwrap();
    let foreign = h
        .client
        .record_verification(other.id, asset.id, &record(None, Some(3600)))
        .await;
    assert!(
        matches!(foreign, Err(ClientError::NotFound(_))),
        "{foreign:?}"
    );
    h.stop().await;
}
