//! People at the gateway, against the real fleet, PostgreSQL and Redis: sign-up and sign-in with
//! Argon2id passwords, cookie sessions with CSRF tokens, logout everywhere, password changes,
//! roles and invitations, scoped keys, sign-in throttling, and the audit log.

use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use s4e_e2e::Fleet;
use s4e_test_support::wait_for;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: the session cookie and the CSRF token it must repeat.
#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
    session_id: String,
    user_id: String,
    org_id: String,
}

impl Browser {
    async fn from(response: Response) -> Browser {
        assert!(
            response.status().is_success(),
            "sign-in answered {}",
            response.status()
        );
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_string();
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let body: Value = response.json().await.unwrap();
        Browser {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().into(),
            session_id: body["session_id"].as_str().unwrap().into(),
            user_id: body["user"]["id"].as_str().unwrap().into(),
            org_id: body["user"]["org_id"].as_str().unwrap().into(),
        }
    }

    /// A request with the cookie and, as a page of the console would send, the CSRF token.
    fn send(&self, fleet: &Fleet, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.bare(fleet, method, path)
            .header("x-csrf-token", &self.csrf)
    }

    /// A request with the cookie only, as another site could make the browser send.
    fn bare(&self, fleet: &Fleet, method: Method, path: &str) -> reqwest::RequestBuilder {
        fleet
            .http
            .request(method, fleet.api(path))
            .header(COOKIE, &self.cookie)
    }
}

async fn signup(fleet: &Fleet, org: &str, email: &str) -> Browser {
    let response = fleet
        .http
        .post(fleet.api("/signup"))
        .json(&json!({"organization_name": org, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Browser::from(response).await
}

async fn login(fleet: &Fleet, email: &str, password: &str) -> Response {
    fleet
        .http
        .post(fleet.api("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Invites `email` as `role` and accepts the invitation; the new user's browser.
async fn invite(fleet: &Fleet, inviter: &Browser, email: &str, role: &str) -> Browser {
    let response = inviter
        .send(fleet, Method::POST, "/invitations")
        .json(&json!({"email": email, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let invitation: Value = response.json().await.unwrap();
    let response = fleet
        .http
        .post(fleet.api("/invitations/accept"))
        .json(&json!({"token": invitation["token"], "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Browser::from(response).await
}

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

#[tokio::test]
async fn a_second_factor_is_enrolled_required_at_sign_in_and_codes_work_once() {
    use s4e_core::totp;

    let fleet = Fleet::start().await.unwrap();
    let owner = signup(&fleet, "Acme", "owner@acme.test").await;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let base = s4e_client::BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();

    let enrolment: Value = owner
        .send(&fleet, Method::POST, "/me/totp")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/S4E:owner@acme.test?secret="),
        "{uri}"
    );
    let secret = totp::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    // Not active before a code proves the authenticator has it.
    let response = login(&fleet, "owner@acme.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let wrong = owner
        .send(&fleet, Method::POST, "/me/totp/confirm")
        .json(&json!({"code": "000000"}))
        .send()
        .await
        .unwrap();
    // One in a million that 000000 is the current code; then the next line would fail.
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let confirmed = owner
        .send(&fleet, Method::POST, "/me/totp/confirm")
        .json(&json!({"code": totp::code_at(&secret, now())}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let user: Value = confirmed.json().await.unwrap();
    assert_eq!(user["totp_enabled"], true);
    // Base holds it sealed: neither the base32 nor the raw secret is in what it stores.
    let stored = base.credentials("owner@acme.test").await.unwrap();
    let sealed = stored.totp_secret.expect("an active secret");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    assert!(!sealed.contains(enrolment["secret"].as_str().unwrap()));
    assert!(
        !sealed.contains(
            &secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    );
    let again = owner
        .send(&fleet, Method::POST, "/me/totp")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // The password alone no longer signs in.
    let response = login(&fleet, "owner@acme.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(response).await, "totp_required");
    let with_code = |code: String| {
        fleet
            .http
            .post(fleet.api("/auth/login"))
            .json(&json!({"email": "owner@acme.test", "password": PASSWORD, "totp_code": code}))
            .send()
    };
    let code_now = totp::code_at(&secret, now());
    let response = with_code(code_now.clone()).await.unwrap();
    let browser = Browser::from(response).await;
    // The same code a second time is refused: it may have been seen over a shoulder.
    let replay = with_code(code_now).await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let wrong_code = with_code("123456x".into()).await.unwrap();
    assert_eq!(wrong_code.status(), StatusCode::UNAUTHORIZED);

    // Turning it off needs the password.
    let refused = browser
        .send(&fleet, Method::POST, "/me/totp/disable")
        .json(&json!({"password": "not my password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let disabled = browser
        .send(&fleet, Method::POST, "/me/totp/disable")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    let response = login(&fleet, "owner@acme.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);

    let stored = base.credentials("owner@acme.test").await.unwrap();
    assert!(stored.totp_secret.is_none());
    let audit: Value = browser
        .bare(&fleet, Method::GET, "/audit-log?action=account.totp_enable")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The wrong code first (400), then the right one; both on the user's own account.
    let outcomes: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["outcome"])
        .collect();
    assert_eq!(outcomes, [&json!(200), &json!(400)], "{audit}");
    assert_eq!(audit["items"][0]["resource_id"], browser.user_id.as_str());
    fleet.stop().await.unwrap();
}

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
