//! The stores against the real Redis and MongoDB servers.

use s4e_store::{LiveStatus, RawOutputs, StoreError};
use s4e_test_support::TestEnv;
use s4e_types::api::RunProgress;
use s4e_types::{JobId, OrgId, RunId};
use serde_json::json;

#[tokio::test]
async fn live_status_is_overwritten_not_accumulated() {
    let env = TestEnv::new().await.unwrap();
    let live = LiveStatus::connect(&env.redis_url, &env.namespace)
        .await
        .unwrap();
    let run = RunId::new();
    assert_eq!(live.get(run).await.unwrap(), None);
    let progress = RunProgress {
        status: "running".into(),
        jobs_total: 3,
        jobs_done: 1,
        findings: 4,
    };
    live.set(run, &progress).await.unwrap();
    // Writing the same counts again (a redelivered job) leaves them as they are.
    live.set(run, &progress).await.unwrap();
    assert_eq!(live.get(run).await.unwrap(), Some(progress.clone()));
    // A later snapshot wins; an older one arriving after it does not undo it.
    let done = RunProgress {
        status: "completed".into(),
        jobs_total: 3,
        jobs_done: 3,
        findings: 9,
    };
    live.set(run, &done).await.unwrap();
    live.set(run, &progress).await.unwrap();
    assert_eq!(live.get(run).await.unwrap(), Some(done));
    // Another namespace sees nothing.
    let other = LiveStatus::connect(&env.redis_url, &format!("{}x", env.namespace))
        .await
        .unwrap();
    assert_eq!(other.get(run).await.unwrap(), None);
    live.ping().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn raw_output_is_one_document_per_job_and_scoped_by_organization() {
    let env = TestEnv::new().await.unwrap();
    let raw = RawOutputs::connect(&env.mongodb_url, &env.namespace)
        .await
        .unwrap();
    let (org, run, job) = (OrgId::new(), RunId::new(), JobId::new());
    let first = raw
        .store(
            org,
            run,
            job,
            &json!({"status": 500, "headers": [["server", "x"]]}),
        )
        .await
        .unwrap();
    let second = raw
        .store(org, run, job, &json!({"status": 200, "headers": []}))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(
        raw.get(org, &first).await.unwrap(),
        Some(json!({"status": 200, "headers": []}))
    );
    assert_eq!(raw.get(OrgId::new(), &first).await.unwrap(), None);
    assert_eq!(raw.get(org, "missing").await.unwrap(), None);
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn database_names_are_checked_before_use() {
    let result = RawOutputs::connect("mongodb://127.0.0.1:27017", "bad.name").await;
    assert!(matches!(result, Err(StoreError::InvalidName(_))));
}
