//! `Idempotency-Key` on the creating endpoints: a retried creation gets the first answer back
//! and creates nothing twice; the key is the caller's organization's.

use reqwest::{Method, Response, StatusCode};
use s4e_e2e::{Fleet, Target};
use serde_json::{Value, json};

async fn create(fleet: &Fleet, key: &str, body: &Value) -> Response {
    fleet
        .request(Method::POST, "/assets")
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn replayed(response: &Response) -> bool {
    response.headers().get("idempotent-replayed").is_some()
}

async fn count(fleet: &Fleet, path: &str) -> usize {
    fleet.get_json(path).await["items"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_retried_creation_gets_the_first_answer_and_creates_nothing_twice() {
    let fleet = Fleet::start().await.unwrap();
    let body = json!({"kind": "domain", "value": "shop.test"});

    let first = create(&fleet, "retry-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first: Value = first.json().await.unwrap();
    let again = create(&fleet, "retry-1", &body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(
        again.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(count(&fleet, "/assets").await, 1);
    // The replay changed nothing, so it is not in the audit log.
    assert_eq!(count(&fleet, "/audit-log?action=assets.create").await, 1);

    // The same key for another request is refused; a malformed key too.
    let other = create(
        &fleet,
        "retry-1",
        &json!({"kind": "domain", "value": "b.test"}),
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["error"]["code"], "idempotency_key_reused");
    let malformed = create(&fleet, "two words", &body).await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(count(&fleet, "/assets").await, 1);

    // A refusal is an answer too: kept, and replayed.
    let invalid = json!({"kind": "domain", "value": "not a domain"});
    let refused = create(&fleet, "retry-2", &invalid).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused_again = create(&fleet, "retry-2", &invalid).await;
    assert_eq!(refused_again.status(), StatusCode::BAD_REQUEST);
    assert!(replayed(&refused_again));

    // Another organization's key of the same name is its own.
    let other_key =
        s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
            .await
            .unwrap();
    let theirs = fleet
        .http
        .post(fleet.api("/assets"))
        .bearer_auth(&other_key)
        .header("idempotency-key", "retry-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(!replayed(&theirs));
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_retried_scan_starts_one_run() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset_id = fleet.create_url_asset(&target.url).await.unwrap();
    let start = || async {
        fleet
            .request(Method::POST, "/scans")
            .header("idempotency-key", "nightly-2026-12-03")
            .json(&json!({"asset_id": asset_id}))
            .send()
            .await
            .unwrap()
    };
    let first = start().await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = start().await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert!(replayed(&again));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(count(&fleet, "/audit-log?action=scans.create").await, 1);
    let run_id = first["id"].as_str().unwrap();
    fleet
        .wait_for_scan(run_id, std::time::Duration::from_secs(60))
        .await
        .unwrap();

    // An endpoint whose answer holds a secret is not replayable: the key is ignored there.
    for _ in 0..2 {
        let created = fleet
            .request(Method::POST, "/api-keys")
            .header("idempotency-key", "same")
            .json(&json!({"name": "ci", "scopes": ["read"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        assert!(!replayed(&created));
    }
    fleet.stop().await.unwrap();
}
