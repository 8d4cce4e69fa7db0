//! The browser console through the whole fleet, in a real browser: Debian's Chromium driven by
//! playwright-core (`console/e2e/console.test.mjs`). This side starts the fleet, a target site
//! to verify and scan, and the people (an admin, a viewer, a partner with a customer); the
//! browser side signs in as each and does what they would, saving a screenshot of every screen
//! to `console/e2e/artifacts/`. Then the answers the browser caused are checked here, through
//! the API. A second test puts the console behind TLS and runs the platform's own header and
//! probe checks against it: they find nothing.
#![cfg(feature = "console")]

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use s4e_checks::{CheckContext, Target};
use s4e_e2e::{Fleet, session_cookie};
use s4e_egress::EgressPolicy;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The site the admin registers, verifies and scans: a page without any protective header, the
/// verification file, and a way for the browser test to publish the token it reads off the
/// console (`PUT /control/token`).
async fn target_site() -> String {
    let token = Arc::new(Mutex::new(String::new()));
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                Html("<html><head><title>Shop</title></head><body>shop</body></html>")
            }),
        )
        .route(
            "/.well-known/s4e-verification.txt",
            get(|State(token): State<Arc<Mutex<String>>>| async move {
                let token = token.lock().unwrap().clone();
                if token.is_empty() {
                    StatusCode::NOT_FOUND.into_response()
                } else {
                    token.into_response()
                }
            }),
        )
        .route(
            "/control/token",
            axum::routing::put(
                |State(token): State<Arc<Mutex<String>>>, body: String| async move {
                    *token.lock().unwrap() = body.trim().to_string();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(token);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A user who joined the organization of the signed-in caller (`auth`: cookie and CSRF token) by
/// its invitation.
async fn invited(fleet: &Fleet, auth: &[(&str, &str)], email: &str, role: &str) {
    let mut request = fleet
        .http
        .post(fleet.api("/invitations"))
        .json(&json!({"email": email, "role": role}));
    for (name, value) in auth {
        request = request.header(*name, *value);
    }
    let invitation: Value = request.send().await.unwrap().json().await.unwrap();
    let token = invitation["token"].as_str().expect("an invitation token");
    let accepted = fleet
        .http
        .post(fleet.api("/invitations/accept"))
        .json(&json!({"token": token, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(accepted.status().is_success(), "{}", accepted.status());
}

/// Where the gateway of `fleet` listens.
fn gateway_address(fleet: &Fleet) -> std::net::SocketAddr {
    let url = url::Url::parse(&fleet.core.url()).unwrap();
    (url.host_str().unwrap(), url.port().unwrap())
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn the_platforms_own_web_checks_find_nothing_on_the_console() {
    let fleet = Fleet::start().await.unwrap();
    let (https, front) = s4e_e2e::tls_front(gateway_address(&fleet)).await;
    let context = CheckContext {
        egress: EgressPolicy::allowing_private(),
        timeout: Duration::from_secs(10),
        ..CheckContext::default()
    };
    // The sign-in page, a client route, and the plain HTTP side as well (for the headers).
    let plain = fleet.core.url();
    for url in [
        https.clone(),
        format!("{https}findings?status=open"),
        format!("{plain}/"),
    ] {
        let target = Target::new(&url);
        let headers = s4e_checks::http_headers::run(&target, &context)
            .await
            .unwrap();
        let rules: Vec<_> = headers.findings.iter().map(|f| &f.rule).collect();
        assert!(rules.is_empty(), "http_headers on {url}: {rules:?}");
        let answered = &headers.raw;
        assert_eq!(answered.status, 200, "{url}");
        if url.starts_with("https") {
            let probes = s4e_checks::http_probes::run(&target, &context)
                .await
                .unwrap();
            let rules: Vec<_> = probes.findings.iter().map(|f| &f.rule).collect();
            assert!(rules.is_empty(), "http_probes on {url}: {rules:?}");
        }
    }
    // The page itself: served from the binary, compressed, with its hashed script.
    let page = fleet
        .http
        .get(format!("{plain}/scans"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    // An unknown API path is still the API's JSON 404, not the console.
    let missing = fleet
        .http
        .get(fleet.api("/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    front.abort();
    fleet.stop().await.unwrap();
}

/// Signs `email` in: the session cookie and its CSRF token.
async fn signed_in(fleet: &Fleet, email: &str) -> (String, String) {
    let login = fleet
        .http
        .post(fleet.api("/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK, "{email} signs in");
    let cookie = session_cookie(&login);
    let csrf = login.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

/// A member who joined by invitation and turned on a second factor; returns its secret. The
/// enrolment is confirmed with the previous step's code, so the current one is still unused.
async fn with_second_factor(fleet: &Fleet, admin: &[(&str, &str)], email: &str) -> Vec<u8> {
    invited(fleet, admin, email, "member").await;
    let (cookie, csrf) = signed_in(fleet, email).await;
    let enrolment: Value = fleet
        .http
        .post(fleet.api("/me/totp"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = s4e_core::totp::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let confirmed = fleet
        .http
        .post(fleet.api("/me/totp/confirm"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": s4e_core::totp::code_at(&secret, now - 30)}))
        .send()
        .await
        .unwrap();
    assert!(confirmed.status().is_success(), "{}", confirmed.status());
    secret
}

/// The JSON a GET of `path` answers, sent with `headers` (a session's cookie, say).
async fn get_as(fleet: &Fleet, headers: &[(&str, &str)], path: &str) -> Value {
    let mut request = fleet.http.get(fleet.api(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
async fn people_use_the_console_in_a_real_browser() {
    let fleet = Fleet::start().await.unwrap();
    let target = target_site().await;

    // The admin signs up; the viewer joins the admin's organization.
    let signup = fleet
        .http
        .post(fleet.api("/signup"))
        .json(
            &json!({"organization_name": "Acme", "email": "admin@acme.test", "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let cookie = session_cookie(&signup);
    let session: Value = signup.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let admin = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    invited(&fleet, &admin, "viewer@acme.test", "viewer").await;
    let totp_secret = with_second_factor(&fleet, &admin, "guard@acme.test").await;

    // A signed-in page that is reloaded learns its CSRF token from /me; a key has none.
    let me: Value = get_as(&fleet, &[("cookie", &cookie)], "/me").await;
    assert_eq!(me["csrf_token"], csrf.as_str());
    let by_key: Value = fleet.get_json("/me").await;
    assert!(by_key.get("csrf_token").is_none(), "{by_key}");

    // The partner: its own organization with its owner, and a customer with one asset.
    s4e_core::create_organization(
        &fleet.base.url(),
        &fleet.env.service_token,
        "Northwind MSSP",
        "analyst@northwind.test",
        PASSWORD,
        true,
    )
    .await
    .unwrap();
    let (partner_cookie, partner_csrf) = signed_in(&fleet, "analyst@northwind.test").await;
    let customer: Value = fleet
        .http
        .post(fleet.api("/customers"))
        .header("cookie", &partner_cookie)
        .header("x-csrf-token", &partner_csrf)
        .json(&json!({"name": "Alpha Shop"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer_id = customer["id"].as_str().unwrap();
    let customer_asset = fleet
        .http
        .post(fleet.api("/assets"))
        .header("cookie", &partner_cookie)
        .header("x-csrf-token", &partner_csrf)
        .header("x-organization-id", customer_id)
        .json(&json!({"kind": "domain", "value": "alpha-shop.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(customer_asset.status(), StatusCode::CREATED);
    // Who a partner's person is while acting inside the customer: themselves, in the customer.
    let inside = get_as(
        &fleet,
        &[
            ("cookie", &partner_cookie),
            ("x-organization-id", customer_id),
        ],
        "/me",
    )
    .await;
    assert_eq!(inside["org_id"], customer_id, "{inside}");
    assert_eq!(inside["user"]["email"], "analyst@northwind.test");

    let root = repository_root();
    let artifacts = root.join("console/e2e/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let settings = json!({
        "base": fleet.core.url(),
        "target": target,
        "password": PASSWORD,
        "admin": "admin@acme.test",
        "viewer": "viewer@acme.test",
        "guard": "guard@acme.test",
        "guardSecret": totp_secret.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "partner": "analyst@northwind.test",
        "customer": "Alpha Shop",
        "customerAsset": "alpha-shop.example",
        "artifacts": artifacts,
    });
    let output = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "e2e/console.test.mjs"])
        .current_dir(root.join("console"))
        .env("S4E_CONSOLE_TEST", settings.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("the browser tests end within 5 minutes")
        .expect("node runs (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser tests failed");

    // What the browser did, as the API sees it: the asset verified, one scan completed, its
    // findings accepted as a risk in one bulk change with the reason typed.
    let assets = get_as(&fleet, &[("cookie", &cookie)], "/assets").await;
    let assets = assets["items"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{assets:?}");
    assert!(assets[0]["verified_at"].is_string(), "{:?}", assets[0]);
    let findings = get_as(
        &fleet,
        &[("cookie", &cookie)],
        "/findings?status=accepted_risk",
    )
    .await;
    let findings = findings["items"].as_array().unwrap();
    assert!(findings.len() >= 3, "{findings:?}");
    let one = get_as(
        &fleet,
        &[("cookie", &cookie)],
        &format!("/findings/{}", findings[0]["id"].as_str().unwrap()),
    )
    .await;
    let history = one["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["reason"],
        "accepted in the console test"
    );
    assert_eq!(history.last().unwrap()["actor"]["label"], "admin@acme.test");
    fleet.stop().await.unwrap();
}
