//! Inbound hooks against the real fleet: a call signed per the Standard Webhooks specification
//! (computed here with an HMAC of our own) starts the hook's scan, once; a replayed call, a
//! wrong or missing signature, a timestamp out of tolerance, an unknown or disabled hook start
//! nothing and say why (without telling an unknown hook from a wrong signature).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Target};
use serde_json::{Value, json};

type Headers = Vec<(String, String)>;

/// The headers of a call signed with `secret`, sent `age_seconds` ago.
fn signed_headers(secret: &str, id: &str, age_seconds: i64, body: &str) -> Headers {
    let timestamp = Utc::now().timestamp() - age_seconds;
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let content = format!("{id}.{timestamp}.{body}");
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        content.as_bytes(),
    );
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            format!("v1,{}", STANDARD.encode(tag.as_ref())),
        ),
    ]
}

/// Calls the hook as a CI pipeline would: no API key, the headers given.
async fn call(
    fleet: &Fleet,
    hook_id: &str,
    headers: &[(String, String)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = fleet
        .http
        .post(fleet.api(&format!("/hooks/{hook_id}")))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_signed_call_starts_the_hooks_scan_once_and_nothing_else_does() {
    let fleet = Fleet::start().await.unwrap();
    let target = Target::demo(false).await;
    let asset = fleet.create_url_asset(&target.url).await.unwrap();
    let response = fleet
        .request(Method::POST, "/inbound-hooks")
        .json(&json!({"name": "deploys", "asset_id": asset, "checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let hook_id = created["hook"]["id"].as_str().unwrap().to_string();
    let shown = fleet.get_json(&format!("/inbound-hooks/{hook_id}")).await;
    assert_eq!(shown, created["hook"]);
    assert!(
        !fleet
            .get_json("/inbound-hooks")
            .await
            .to_string()
            .contains(&secret)
    );

    // A genuine call starts the scan.
    let body = r#"{"commit": "4f2a9c1", "environment": "production"}"#;
    let headers = signed_headers(&secret, "msg_deploy_1", 0, body);
    let (status, run) = call(&fleet, &hook_id, &headers, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let view = fleet
        .wait_for_scan(&run_id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(view.run.jobs_total, 1);
    assert_eq!(view.run.findings_count, 8);

    // What is refused, and why.
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    // (case, hook, headers, status, error code)
    let cases: Vec<(&str, String, Headers, u16, &str)> = vec![
        (
            "the same call again",
            hook_id.clone(),
            headers.clone(),
            409,
            "replayed",
        ),
        (
            "another secret",
            hook_id.clone(),
            signed_headers(other, "msg_2", 0, body),
            401,
            "signature_invalid",
        ),
        (
            "a body changed in transit",
            hook_id.clone(),
            signed_headers(&secret, "msg_3", 0, "{}"),
            401,
            "signature_invalid",
        ),
        (
            "no headers",
            hook_id.clone(),
            Vec::new(),
            401,
            "signature_missing",
        ),
        (
            "ten minutes old",
            hook_id.clone(),
            signed_headers(&secret, "msg_4", 600, body),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "ten minutes ahead",
            hook_id.clone(),
            signed_headers(&secret, "msg_5", -600, body),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "an unknown hook",
            uuid::Uuid::now_v7().to_string(),
            signed_headers(&secret, "msg_6", 0, body),
            401,
            "signature_invalid",
        ),
    ];
    for (case, hook, headers, status, code) in cases {
        let (answered, refusal) = call(&fleet, &hook, &headers, body).await;
        assert_eq!(answered.as_u16(), status, "{case}: {refusal}");
        assert_eq!(refusal["error"]["code"], code, "{case}: {refusal}");
    }

    // Disabled, the hook refuses even a genuine call, like an unknown one.
    let response = fleet
        .request(Method::PATCH, &format!("/inbound-hooks/{hook_id}"))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, refusal) = call(
        &fleet,
        &hook_id,
        &signed_headers(&secret, "msg_7", 0, body),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refusal}");

    // One scan in all, and the hook remembers when it was last called.
    let scans = fleet.get_json(&format!("/scans?asset_id={asset}")).await;
    assert_eq!(scans["items"].as_array().unwrap().len(), 1);
    let hook = fleet.get_json(&format!("/inbound-hooks/{hook_id}")).await;
    assert!(hook["last_called_at"].is_string());
    fleet.stop().await.unwrap();
}
