//! Members limited to assigned assets see and touch only those.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use s4e_test_support::wait_for;
use serde_json::{Value, json};

use crate::support::{Browser, PASSWORD, invite, login, signup};

#[tokio::test]
async fn a_member_limited_to_assigned_assets_sees_and_touches_only_those() {
    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    let admin = invite(&fleet, &owner, "admin@acme.test", "admin").await;
    let member = invite(&fleet, &owner, "member@acme.test", "member").await;
    let target = s4e_e2e::Target::demo(false).await;
    let create = |value: String| {
        let owner = owner.clone();
        let fleet = &fleet;
        async move {
            let response = owner
                .send(fleet, Method::POST, "/assets")
                .json(&json!({"kind": "url", "value": value}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            let asset: Value = response.json().await.unwrap();
            asset["id"].as_str().unwrap().to_string()
        }
    };
    let assigned = create(target.url.clone()).await;
    let other = create(format!("{}other/", target.url)).await;
    // A scan of the other asset, so there are findings the member must not see.
    let response = owner
        .send(&fleet, Method::POST, "/scans")
        .json(&json!({"asset_id": other, "checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    let hidden_run: Value = response.json().await.unwrap();
    let hidden_run = hidden_run["id"].as_str().unwrap().to_string();
    wait_for("the owner's scan", Duration::from_secs(30), || async {
        let view: Value = owner
            .bare(&fleet, Method::GET, &format!("/scans/{hidden_run}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (view["status"] == "completed").then_some(())
    })
    .await
    .unwrap();
    let hidden_findings: Value = owner
        .bare(
            &fleet,
            Method::GET,
            &format!("/findings?scan_id={hidden_run}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hidden_finding = hidden_findings["items"][0]["id"]
        .as_str()
        .expect("the hidden asset has findings")
        .to_string();

    // Limits are for members and viewers, on the organization's own assets.
    let limit = |user: &Browser, body: Value| {
        let path = format!("/users/{}/asset-scope", user.user_id);
        owner.send(&fleet, Method::PUT, &path).json(&body)
    };
    let response = limit(&admin, json!({"asset_ids": [assigned]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = limit(
        &member,
        json!({"asset_ids": ["00000000-0000-4000-8000-000000000000"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = limit(&member, json!({"asset_ids": [assigned]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let limited: Value = response.json().await.unwrap();
    assert_eq!(limited["asset_scope"], json!([assigned]));
    // The change ended the member's sessions; the next one carries the limit.
    let old = member
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let member = Browser::from(login(&fleet, "member@acme.test", PASSWORD).await).await;

    let assets: Value = member
        .bare(&fleet, Method::GET, "/assets")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = assets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| asset["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [assigned.as_str()]);
    let cases: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::GET,
            format!("/assets/{other}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/assets/{assigned}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/scans".into(),
            Some(json!({"asset_id": other})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/scans/{hidden_run}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/scans/{hidden_run}/cancel"),
            Some(json!({})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/findings/{hidden_finding}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("/findings/{hidden_finding}"),
            Some(json!({"status": "in_progress"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/findings".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/findings?asset_id={other}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/findings?asset_id={assigned}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/findings/bulk-status".into(),
            Some(json!({"ids": [hidden_finding], "status": "in_progress"})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/dashboard".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/assets".into(),
            Some(json!({"kind": "domain", "value": "new.acme.test"})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/scans".into(),
            Some(json!({"asset_id": assigned, "checks": ["http_headers"]})),
            StatusCode::ACCEPTED,
        ),
    ];
    for (method, path, body, expected) in cases {
        let mut request = member.send(&fleet, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{method} {path}");
    }

    // Lifting the limit (and signing in again) gives the member everything back.
    let response = limit(&member, json!({"asset_ids": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let member = Browser::from(login(&fleet, "member@acme.test", PASSWORD).await).await;
    let response = member
        .bare(&fleet, Method::GET, &format!("/findings/{hidden_finding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    fleet.stop().await.unwrap();
}
