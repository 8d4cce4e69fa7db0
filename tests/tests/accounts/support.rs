//! The shared password, a signed-in browser (session cookie and CSRF token), and sign-up,
//! sign-in and invitation helpers.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: the session cookie and the CSRF token it must repeat.
#[derive(Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub session_id: String,
    pub user_id: String,
    pub org_id: String,
}

impl Browser {
    pub async fn from(response: Response) -> Browser {
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
    pub fn send(&self, fleet: &Fleet, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.bare(fleet, method, path)
            .header("x-csrf-token", &self.csrf)
    }

    /// A request with the cookie only, as another site could make the browser send.
    pub fn bare(&self, fleet: &Fleet, method: Method, path: &str) -> reqwest::RequestBuilder {
        fleet
            .http
            .request(method, fleet.api(path))
            .header(COOKIE, &self.cookie)
    }
}

pub async fn signup(fleet: &Fleet, org: &str, email: &str) -> Browser {
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

pub async fn login(fleet: &Fleet, email: &str, password: &str) -> Response {
    fleet
        .http
        .post(fleet.api("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Invites `email` as `role` and accepts the invitation; the new user's browser.
pub async fn invite(fleet: &Fleet, inviter: &Browser, email: &str, role: &str) -> Browser {
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
