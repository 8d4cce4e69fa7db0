//! What each role may do.

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

use crate::support::{Browser, PASSWORD, invite, login, signup};

#[tokio::test]
async fn roles_decide_what_people_may_do() {
    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    let admin = invite(&fleet, &owner, "admin@acme.test", "admin").await;
    let member = invite(&fleet, &admin, "member@acme.test", "member").await;
    let viewer = invite(&fleet, &admin, "viewer@acme.test", "viewer").await;
    assert_eq!(member.org_id, owner.org_id);

    let asset = json!({"kind": "domain", "value": "acme.test"});
    let owner_path = format!("/users/{}", owner.user_id);
    let member_path = format!("/users/{}", member.user_id);
    let cases: Vec<(&Browser, Method, &str, Option<Value>, StatusCode)> = vec![
        (&viewer, Method::GET, "/assets", None, StatusCode::OK),
        (&viewer, Method::GET, "/findings", None, StatusCode::OK),
        (&viewer, Method::GET, "/dashboard", None, StatusCode::OK),
        (
            &viewer,
            Method::POST,
            "/assets",
            Some(asset.clone()),
            StatusCode::FORBIDDEN,
        ),
        (&viewer, Method::GET, "/users", None, StatusCode::FORBIDDEN),
        (
            &member,
            Method::POST,
            "/assets",
            Some(asset.clone()),
            StatusCode::CREATED,
        ),
        (
            &member,
            Method::GET,
            "/api-keys",
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &member,
            Method::GET,
            "/audit-log",
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &member,
            Method::POST,
            "/invitations",
            Some(json!({"email": "x@acme.test", "role": "viewer"})),
            StatusCode::FORBIDDEN,
        ),
        (&admin, Method::GET, "/audit-log", None, StatusCode::OK),
        (&admin, Method::GET, "/users", None, StatusCode::OK),
        // Ownership is only an owner's to give.
        (
            &admin,
            Method::POST,
            "/invitations",
            Some(json!({"email": "o2@acme.test", "role": "owner"})),
            StatusCode::FORBIDDEN,
        ),
        (
            &admin,
            Method::PATCH,
            &owner_path,
            Some(json!({"role": "viewer"})),
            StatusCode::FORBIDDEN,
        ),
        // Nobody changes their own role here.
        (
            &owner,
            Method::PATCH,
            &owner_path,
            Some(json!({"role": "admin"})),
            StatusCode::FORBIDDEN,
        ),
        (
            &admin,
            Method::PATCH,
            &member_path,
            Some(json!({"role": "superuser"})),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (browser, method, path, body, expected) in cases {
        let mut request = browser.send(&fleet, method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{method} {path}");
    }

    // A role change ends the user's sessions; they sign in again with the new rights.
    let demoted = admin
        .send(&fleet, Method::PATCH, &format!("/users/{}", member.user_id))
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    let old = member
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let member = Browser::from(login(&fleet, "member@acme.test", PASSWORD).await).await;
    let refused = member
        .send(&fleet, Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "b.acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A removed user is signed out at once and cannot sign in.
    let removed = admin
        .send(
            &fleet,
            Method::DELETE,
            &format!("/users/{}", viewer.user_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let gone = viewer
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&fleet, "viewer@acme.test", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Another organization's people are not found, and the list shows only one's own.
    let other = signup(&fleet, "Other", "owner@other.test").await;
    for (method, path) in [
        (Method::PATCH, format!("/users/{}", member.user_id)),
        (Method::DELETE, format!("/users/{}", member.user_id)),
    ] {
        let response = other
            .send(&fleet, method, &path)
            .json(&json!({"role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let users: Value = other
        .bare(&fleet, Method::GET, "/users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "{users}");

    // An invitation is spent once; a made-up token is simply not found.
    let response = fleet
        .http
        .post(fleet.api("/invitations/accept"))
        .json(&json!({"token": "ab".repeat(32), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    fleet.stop().await.unwrap();
}
