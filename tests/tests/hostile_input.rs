//! What the public API does with input meant to break it, and the headers every answer
//! carries: each case answered with a clear 4xx, nothing stored, never a 500.

use reqwest::{Method, Response, StatusCode};
use s4e_e2e::Fleet;
use serde_json::{Value, json};

async fn refusal(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

async fn asset_count(fleet: &Fleet) -> usize {
    fleet.get_json("/assets").await["items"]
        .as_array()
        .unwrap()
        .len()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn control_characters_are_refused_naming_their_field() {
    let fleet = Fleet::start().await.unwrap();

    for (path, body, field) in [
        (
            "/assets",
            json!({"kind": "domain", "value": "a.test", "name": "a\u{0}b"}),
            "name",
        ),
        (
            "/api-keys",
            json!({"name": "ci\u{0}", "scopes": ["read"]}),
            "name",
        ),
        (
            "/api-keys",
            json!({"name": "ci", "scopes": ["read", "\u{1b}[31m"]}),
            "scopes[1]",
        ),
    ] {
        let response = fleet.request(Method::POST, path).json(&body).send().await;
        let (status, message) = refusal(response.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {message}");
        assert_eq!(
            message,
            format!("{field}: must not contain control characters")
        );
    }
    assert_eq!(asset_count(&fleet).await, 0);

    for query in [
        "/audit-log?action=%00",
        "/audit-log?resource_type=a%00",
        "/audit-log?resource_id=%07",
        "/findings?rule=a%00b",
        "/findings/export?rule=a%00b",
    ] {
        let response = fleet.request(Method::GET, query).send().await.unwrap();
        let (status, message) = refusal(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query} {message}");
        assert!(
            message.ends_with(": must not contain control characters"),
            "{message}"
        );
    }
    // Line breaks and tabs are text.
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": "a.test", "name": "two\nlines\tok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_bodies_and_dates_are_refused_in_the_callers_terms() {
    let fleet = Fleet::start().await.unwrap();
    // A body of the wrong shape names the problem, not the types behind it.
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!(["domain"]))
        .send()
        .await
        .unwrap();
    let (status, message) = refusal(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!message.contains("NewAsset"), "{message}");
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!({"kind": "domain", "value": 7}))
        .send()
        .await
        .unwrap();
    let (status, message) = refusal(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("value: invalid type"), "{message}");
    // A change of nothing spelt as an array is not read by position: every body is an object.
    let asset = fleet
        .create_asset("domain", "shape.example.com")
        .await
        .unwrap();
    let response = fleet
        .request(Method::PATCH, &format!("/assets/{asset}"))
        .json(&json!([null]))
        .send()
        .await
        .unwrap();
    let (status, message) = refusal(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message, "the body must be a JSON object");

    // A date past RFC 3339's four-digit years is refused, and the listing stays readable.
    let response = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "far", "scopes": ["read"], "expires_at": "+10000-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let (status, message) = refusal(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("expires_at:"), "{message}");
    let response = fleet
        .request(Method::GET, "/api-keys")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let keys: Value = response.json().await.unwrap();
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["name"] != "far")
    );
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn addresses_that_are_never_scanned_are_refused_when_registered() {
    let fleet = Fleet::start().await.unwrap();
    for (kind, value) in [
        ("ip", "169.254.169.254"),
        ("ip", "::ffff:169.254.169.254"),
        ("ip", "64:ff9b::a9fe:a9fe"),
        ("ip", "0.0.0.0"),
        ("ip", "224.0.0.1"),
        ("url", "http://169.254.169.254/latest/meta-data/"),
        ("url", "http://2852039166/"),
        ("url", "http://0xa9.0xfe.0xa9.0xfe/"),
        ("url", "http://[::ffff:a9fe:a9fe]/"),
        ("url", "http://0.0.0.0:8080/"),
    ] {
        let response = fleet
            .request(Method::POST, "/assets")
            .json(&json!({"kind": kind, "value": value}))
            .send()
            .await
            .unwrap();
        let (status, message) = refusal(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind} {value}: {message}");
        assert!(message.ends_with("never scanned"), "{message}");
    }
    assert_eq!(asset_count(&fleet).await, 0);
    // What a deployment may allow (this one allows private ranges) is registered.
    fleet.create_url_asset("http://127.0.0.1:9/").await.unwrap();
    fleet.create_asset("ip", "10.1.2.3").await.unwrap();
    assert_eq!(asset_count(&fleet).await, 2);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn every_answer_carries_the_protective_headers() {
    let fleet = Fleet::start().await.unwrap();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let me = fleet
        .request(Method::GET, "/me")
        .header("traceparent", traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let echoed = header(&me, "traceparent").unwrap();
    assert!(
        echoed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{echoed}"
    );
    assert_eq!(header(&me, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&me, "cache-control"), Some("no-store"));

    let anonymous = fleet.http.get(fleet.api("/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&anonymous, "www-authenticate"),
        Some("Bearer realm=\"s4e\"")
    );
    assert_eq!(
        header(&anonymous, "x-content-type-options"),
        Some("nosniff")
    );

    // The secret of a new key is never kept by a cache.
    let created = fleet
        .request(Method::POST, "/api-keys")
        .json(&json!({"name": "ci", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(header(&created, "cache-control"), Some("no-store"));

    let unknown = fleet
        .request(Method::GET, "/nothing-here")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&unknown, "x-content-type-options"), Some("nosniff"));

    // A wrong method is answered with the one error body.
    let wrong = fleet
        .http
        .delete(fleet.api("/signup"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&wrong, "content-type"), Some("application/json"));
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // The document is the same for everyone and may be cached.
    let document = fleet
        .http
        .get(fleet.api("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&document, "cache-control"),
        Some("public, max-age=300")
    );
    fleet.stop().await.unwrap();
}
