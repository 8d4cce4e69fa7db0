//! The second factor: enrolment, required at sign-in, codes that work once.

use reqwest::{Method, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

use crate::support::{Browser, PASSWORD, code, login, signup};

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
