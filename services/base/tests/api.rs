//! s4e-base against a real PostgreSQL: a fresh database per test, the service on port 0.

use s4e_base::Config;
use s4e_client::{BaseClient, ClientError};
use s4e_runtime::{CommonConfig, Served, ServiceToken};
use s4e_test_support::{TestEnv, listener};
use s4e_types::api::{FinishJob, NewApiKey, NewScanJob, NewScanRun};
use s4e_types::{
    AssetKind, CheckKind, FindingDraft, FindingQuery, JobStatus, NewAsset, OrgId, RunStatus,
    Severity,
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
        let base = s4e_base::spawn(config, listener().await).unwrap();
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
async fn organizations_keep_an_owner_and_invitations_are_spent_once() {
    use s4e_types::Role;
    use s4e_types::account::{AcceptInvitation, NewInvitation, NewOrganizationWithOwner};

    let h = Harness::start().await;
    let signup = |email: &str, hash: String| NewOrganizationWithOwner {
        organization_name: "Acme".into(),
        email: email.into(),
        password_hash: hash,
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
