//! The audit log: every change recorded, the log read-only.

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

use crate::support::{invite, login, signup};

#[tokio::test]
async fn every_change_is_audited_and_the_log_is_read_only() {
    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    let viewer = invite(&fleet, &owner, "viewer@acme.test", "viewer").await;
    let created = owner
        .send(&fleet, Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "acme.test"}))
        .send()
        .await
        .unwrap();
    let asset: Value = created.json().await.unwrap();
    let refused = viewer
        .send(&fleet, Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "b.acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let failed_login = login(&fleet, "viewer@acme.test", "not the password").await;
    assert_eq!(failed_login.status(), StatusCode::UNAUTHORIZED);

    let log: Value = owner
        .bare(&fleet, Method::GET, "/audit-log")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap().clone();
    let find = |action: &str, outcome: u64| -> Value {
        entries
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {action} {outcome} in {entries:#?}"))
            .clone()
    };
    let signed_up = find("organizations.create", 201);
    assert_eq!(signed_up["actor_label"], "owner@acme.test");
    let invited = find("users.invite", 201);
    assert_eq!(invited["actor_id"], owner.user_id.as_str());
    assert!(invited["resource_id"].is_string());
    find("users.join", 201);
    let asset_created = find("assets.create", 201);
    assert_eq!(asset_created["resource_id"], asset["id"]);
    assert_eq!(asset_created["actor_kind"], "user");
    assert_eq!(asset_created["ip"], "127.0.0.1");
    assert!(asset_created["trace_id"].is_string());
    let denied = find("assets.create", 403);
    assert_eq!(denied["actor_label"], "viewer@acme.test");
    let attempt = find("sessions.login", 401);
    assert_eq!(attempt["actor_kind"], "anonymous");
    assert_eq!(attempt["actor_label"], "viewer@acme.test");

    // Filtered and paged.
    let only: Value = owner
        .bare(
            &fleet,
            Method::GET,
            "/audit-log?action=assets.create&failed=true",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(only["items"].as_array().unwrap().len(), 1, "{only}");
    let page: Value = owner
        .bare(&fleet, Method::GET, "/audit-log?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = owner
        .bare(
            &fleet,
            Method::GET,
            &format!("/audit-log?limit=2&before={cursor}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    for bad in [
        "/audit-log?limit=0",
        "/audit-log?colour=red",
        "/audit-log?since=yesterday",
    ] {
        let response = owner.bare(&fleet, Method::GET, bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // No route changes the log.
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = owner
            .send(&fleet, method.clone(), "/audit-log")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }

    // API-key callers are audited too, and another organization sees none of this.
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "e2e.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let theirs: Value = fleet
        .request(Method::GET, "/audit-log")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs = theirs["items"].as_array().unwrap();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["actor_kind"], "api_key");
    assert!(
        theirs[0]["actor_label"]
            .as_str()
            .unwrap()
            .starts_with("s4e_")
    );
    fleet.stop().await.unwrap();
}
