//! Sign-up and sign-in, cookie sessions, password changes, logout everywhere, idle expiry,
//! sign-in throttling, organizations made from the command line, and sessions while their
//! store is away.

use std::time::Duration;

use reqwest::header::SET_COOKIE;
use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use s4e_test_support::wait_for;
use serde_json::{Value, json};

use crate::support::{Browser, PASSWORD, code, login, signup};

#[tokio::test]
async fn sessions_sign_in_change_password_and_end_everywhere() {
    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "Owner@Acme.test").await;

    let me: Value = owner
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "owner@acme.test");
    assert_eq!(me["user"]["role"], "owner");
    let permissions = me["permissions"].as_array().unwrap();
    assert!(permissions.contains(&json!("audit:read")), "{me}");

    // A state-changing request with the cookie alone (a cross-site forgery) is refused.
    let asset = json!({"kind": "domain", "value": "acme.test"});
    let forged = owner
        .bare(&fleet, Method::POST, "/assets")
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = owner
        .bare(&fleet, Method::POST, "/assets")
        .header("x-csrf-token", "0".repeat(64))
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let created = owner
        .send(&fleet, Method::POST, "/assets")
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Wrong password, unknown account: the same answer.
    let wrong = login(&fleet, "owner@acme.test", "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = login(&fleet, "nobody@acme.test", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let second = Browser::from(login(&fleet, "OWNER@acme.test", PASSWORD).await).await;

    let sessions: Value = second
        .bare(&fleet, Method::GET, "/me/sessions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = sessions["items"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], second.session_id.as_str());

    // A password change needs the current password and ends every other session.
    let refused = second
        .send(&fleet, Method::POST, "/me/password")
        .json(&json!({"current_password": "guess guess guess", "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let short = second
        .send(&fleet, Method::POST, "/me/password")
        .json(&json!({"current_password": PASSWORD, "new_password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let body: Value = short.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("new_password")
    );
    let changed = second
        .send(&fleet, Method::POST, "/me/password")
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let ended = owner.bare(&fleet, Method::GET, "/me").send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    let kept = second
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), StatusCode::OK);
    assert_eq!(
        login(&fleet, "owner@acme.test", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let third =
        Browser::from(login(&fleet, "owner@acme.test", "a brand new passphrase").await).await;

    // One session ended by id; then everywhere at once.
    let revoked = second
        .send(
            &fleet,
            Method::DELETE,
            &format!("/me/sessions/{}", third.session_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let gone = third.bare(&fleet, Method::GET, "/me").send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    let unknown = second
        .send(
            &fleet,
            Method::DELETE,
            &format!("/me/sessions/{}", "ab".repeat(32)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let fourth =
        Browser::from(login(&fleet, "owner@acme.test", "a brand new passphrase").await).await;
    let everywhere = fourth
        .send(&fleet, Method::DELETE, "/me/sessions")
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), StatusCode::NO_CONTENT);
    for browser in [&second, &fourth] {
        let response = browser
            .bare(&fleet, Method::GET, "/me")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // Logging out ends the session and clears the cookie.
    let fifth =
        Browser::from(login(&fleet, "owner@acme.test", "a brand new passphrase").await).await;
    let out = fifth
        .send(&fleet, Method::POST, "/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let response = fifth.bare(&fleet, Method::GET, "/me").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Bad bodies name their field.
    for (body, field) in [
        (
            json!({"organization_name": "x", "email": "not-an-address", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"organization_name": "x", "email": "a@b.test", "password": "short"}),
            "password",
        ),
        (
            json!({"organization_name": "", "email": "a@b.test", "password": PASSWORD}),
            "organization_name",
        ),
    ] {
        let response = fleet
            .http
            .post(fleet.api("/signup"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{error}"
        );
    }
    let taken = fleet
        .http
        .post(fleet.api("/signup"))
        .json(&json!({"organization_name": "Again", "email": "owner@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_idle_session_expires_and_signup_can_be_switched_off() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_core(|config| {
            config.settings.session_idle_seconds = 1;
        })
        .await
        .unwrap();
    let owner = signup(&fleet, "Idle", "idle@idle.test").await;
    let first = owner.bare(&fleet, Method::GET, "/me").send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // Unused, it ends on its own. Watched in Redis without using it: every use restarts it.
    let store = s4e_store::SessionStore::connect(
        &fleet.env.redis_url,
        &fleet.env.namespace,
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    let user_id: s4e_types::UserId = owner.user_id.parse().unwrap();
    wait_for(
        "the idle session to end",
        Duration::from_secs(15),
        || async { store.list(user_id).await.ok()?.is_empty().then_some(()) },
    )
    .await
    .unwrap();
    let ended = owner.bare(&fleet, Method::GET, "/me").send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);

    fleet
        .restart_core(|config| config.settings.signup_enabled = false)
        .await
        .unwrap();
    let response = fleet
        .http
        .post(fleet.api("/signup"))
        .json(&json!({"organization_name": "Nope", "email": "no@nope.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn sign_in_attempts_are_throttled_per_account() {
    let fleet = Fleet::start().await.unwrap();
    signup(&fleet, "Acme", "owner@acme.test").await;
    // The fleet allows ten attempts per account per window.
    for attempt in 0..10 {
        let response = login(&fleet, "owner@acme.test", "wrong wrong wrong").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let throttled = login(&fleet, "owner@acme.test", PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // Other accounts are not locked by it.
    signup(&fleet, "Other", "owner@other.test").await;
    let other = login(&fleet, "owner@other.test", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::OK);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_organization_made_from_the_command_line_signs_in() {
    let fleet = Fleet::start().await.unwrap();
    let token = &fleet.env.service_token;
    let weak = s4e_core::create_organization(
        &fleet.base.url(),
        token,
        "Private",
        "root@private.test",
        "short",
        false,
    )
    .await;
    assert!(weak.unwrap_err().to_string().contains("S4E_OWNER_PASSWORD"));
    let user_id = s4e_core::create_organization(
        &fleet.base.url(),
        token,
        "Private",
        "Root@Private.test",
        PASSWORD,
        false,
    )
    .await
    .unwrap();
    let owner = Browser::from(login(&fleet, "root@private.test", PASSWORD).await).await;
    assert_eq!(owner.user_id, user_id.to_string());
    let me: Value = owner
        .bare(&fleet, Method::GET, "/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "owner");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn with_the_session_store_away_sessions_answer_503_and_keys_still_work() {
    let mut fleet = Fleet::start().await.unwrap();
    let proxy = s4e_e2e::RedisProxy::start(&fleet.env.redis_url).await;
    let (sessions_url, limiter_url) = (proxy.url.clone(), fleet.env.redis_url.clone());
    fleet
        .restart_core(move |config| {
            config.redis.url = sessions_url;
            config.settings.rate_limit_redis_url = Some(limiter_url);
        })
        .await
        .unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    proxy.cut();
    // A session cannot be checked: the answer is "try again", never a guess either way.
    let response = wait_for(
        "session requests to be refused",
        Duration::from_secs(15),
        || async {
            let response = owner.bare(&fleet, Method::GET, "/me").send().await.ok()?;
            (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
        },
    )
    .await
    .unwrap();
    assert_eq!(code(response).await, "unavailable");
    let response = login(&fleet, "owner@acme.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // API keys do not depend on the session store.
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    fleet.stop().await.unwrap();
}
