//! Scoped keys: at most their creator's rights.

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

use crate::support::{code, signup};

#[tokio::test]
async fn api_keys_carry_at_most_their_creators_rights() {
    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    let create = |scopes: Value| {
        owner
            .send(&fleet, Method::POST, "/api-keys")
            .json(&json!({"name": "ci", "scopes": scopes}))
    };
    let response = create(json!(["findings:read"])).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let key: Value = response.json().await.unwrap();
    let key = key["key"].as_str().unwrap().to_string();
    let with_key = |method: Method, path: &str| {
        fleet
            .http
            .request(method, fleet.api(path))
            .bearer_auth(&key)
    };
    assert_eq!(
        with_key(Method::GET, "/findings")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let refused = with_key(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let message: Value = refused.json().await.unwrap();
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("assets:read"),
        "{message}"
    );
    // The dashboard counts assets too, which this key may not read.
    let response = with_key(Method::GET, "/dashboard").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Keys are for machines: no passwords, no sessions.
    let response = with_key(Method::GET, "/me/sessions").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let unknown = create(json!(["findings:delete"])).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(unknown).await, "bad_request");

    // A key cannot hold rights its creator lacks: a write key cannot make an admin key.
    let response = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "admin", "scopes": ["api_keys:write", "write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let manager: Value = response.json().await.unwrap();
    let manager = manager["key"].as_str().unwrap().to_string();
    let escalate = fleet
        .http
        .post(fleet.api("/api-keys"))
        .bearer_auth(&manager)
        .json(&json!({"name": "root", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(escalate.status(), StatusCode::FORBIDDEN);
    fleet.stop().await.unwrap();
}
