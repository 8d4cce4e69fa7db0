//! How bad requests are answered: missing or wrong tokens, malformed, invalid or oversized
//! bodies, ids that are not UUIDs.

use crate::support::Harness;

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let assets = h.url(&format!("/internal/v1/orgs/{}/assets", org.id));
    let token = ("x-s4e-service-token", h.env.service_token.as_str());

    // No token, wrong token.
    let response = h.http.get(&assets).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = h
        .http
        .get(&assets)
        .header(token.0, "x".repeat(40))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    // Malformed JSON.
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .header("content-type", "application/json")
        .body("{\"kind\": \"url\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    // A value that is not a URL names the field.
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .json(&serde_json::json!({"kind": "url", "value": "not a url"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("value:")
    );

    // Oversized body.
    let huge = format!(
        "{{\"kind\":\"url\",\"value\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let response = h
        .http
        .post(&assets)
        .header(token.0, token.1)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // An id that is not a UUID is a malformed request, told apart from an id naming nothing.
    let response = h
        .http
        .get(format!("{assets}/not-a-uuid"))
        .header(token.0, token.1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Nothing was stored by any of these.
    assert!(
        h.client
            .list_assets(org.id, &Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    h.stop().await;
}
