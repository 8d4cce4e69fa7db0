//! The service under test (a fresh database, base on port 0) and the helpers the tests share:
//! assets, finding drafts, password hashes, status changes and whole scans.

use s4e_base::Config;
use s4e_client::BaseClient;
use s4e_runtime::{CommonConfig, Served, Service, ServiceToken};
use s4e_test_support::{TestEnv, listener};
use s4e_types::api::{FinishJob, NewScanJob, NewScanRun, ScanRunWithJobs};
use s4e_types::{
    AssetId, AssetKind, CheckKind, Finding, FindingActor, FindingActorKind, FindingDraft,
    FindingQuery, FindingStatus, JobStatus, NewAsset, OrgId, Severity, StatusChange,
};

pub struct Harness {
    pub env: TestEnv,
    base: Served,
    pub client: BaseClient,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        let env = TestEnv::new().await.unwrap();
        let config = Config {
            common: CommonConfig::new(
                ServiceToken::new(&env.service_token).unwrap(),
                &env.namespace,
            ),
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

    pub async fn stop(self) {
        self.base.stop().await.unwrap();
        self.env.cleanup().await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.url())
    }
}

pub fn url_asset(value: &str) -> NewAsset {
    NewAsset {
        kind: AssetKind::Url,
        value: value.into(),
        name: None,
        tags: Vec::new(),
        criticality: Default::default(),
        owner: None,
    }
}

pub fn draft(rule: &str) -> FindingDraft {
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

pub fn argon2_hash(tag: &str) -> String {
    // Base stores what the gateway hashed; only the PHC shape is checked here.
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}")
}

pub fn user_actor(label: &str) -> FindingActor {
    FindingActor {
        kind: FindingActorKind::User,
        id: Some(uuid::Uuid::now_v7()),
        label: label.into(),
    }
}

pub fn change(status: FindingStatus, reason: Option<&str>) -> StatusChange {
    StatusChange {
        status,
        reason: reason.map(str::to_string),
        actor: user_actor("triager@example.com"),
        caused_by: Vec::new(),
    }
}

pub fn draft_of(check: CheckKind, rule: &str, severity: Severity) -> FindingDraft {
    FindingDraft {
        check,
        severity,
        ..draft(rule)
    }
}

/// Creates a run of `checks` on the asset and reports each job with its outcome; `None` fails
/// the job. Returns the run and its job ids.
pub async fn scan(
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
                scheduled: None,
                rule: None,
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
                observed: Default::default(),
                error: None,
                raw_output_id: None,
                findings,
            },
            None => FinishJob {
                status: JobStatus::Failed,
                observed: Default::default(),
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

pub async fn all_findings(h: &Harness, org_id: OrgId) -> Vec<Finding> {
    let query = FindingQuery {
        limit: Some(FindingQuery::MAX_LIMIT),
        ..FindingQuery::default()
    };
    let page = h.client.list_findings(org_id, &query).await.unwrap();
    assert!(page.next_cursor.is_none());
    page.items
}
