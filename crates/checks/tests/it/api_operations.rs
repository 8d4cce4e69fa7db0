//! The API operations check against a local API serving its own OpenAPI document.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use s4e_checks::api_operations;
use s4e_checks::{CheckError, Target};

use crate::support::{TIMEOUT, context, http_app, lax};

const DOCUMENT: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "shop", "version": "1"},
  "servers": [{"url": "/v1"}],
  "security": [{"bearer": []}],
  "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
  "paths": {
    "/health": {"get": {"security": []}},
    "/orders": {"get": {}, "post": {}},
    "/orders/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true}]}},
    "/me": {"get": {}},
    "/report": {"get": {"security": []}}
  }
}"#;

/// The API: `/v1/orders` forgets its authentication, `/v1/me` enforces it, `/v1/report` fails.
fn api() -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { DOCUMENT }))
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/orders", get(|| async { "[]" }))
        .route("/v1/me", get(|| async { StatusCode::UNAUTHORIZED }))
        .route(
            "/v1/report",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/broken.json",
            get(|| async { r#"{"openapi": "3.0.0", "paths": {"users": {}}}"# }),
        )
}

#[tokio::test]
async fn documented_operations_are_requested_without_credentials() {
    let server = http_app(api()).await;
    let target = Target::new(format!("{}openapi.json", server.url("http")));
    let output = api_operations::run(&target, &context(lax(), TIMEOUT))
        .await
        .unwrap();
    let mut found: Vec<(String, String)> = output
        .findings
        .iter()
        .map(|finding| (finding.rule.clone(), finding.location.clone()))
        .collect();
    found.sort();
    let base = server.url("http");
    assert_eq!(
        found,
        [
            (
                "api_operation_server_error".to_string(),
                format!("GET {base}v1/report")
            ),
            (
                "api_operation_without_authentication".to_string(),
                format!("GET {base}v1/orders")
            ),
        ]
    );
    let raw = &output.raw;
    assert_eq!(raw.version, "3.0.3");
    assert_eq!(raw.operations, 6);
    // POST /orders and GET /orders/{id} are not requested: no writes, no invented ids.
    assert_eq!(raw.skipped, 2);
    let paths: Vec<String> = server
        .requests()
        .into_iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("POST") || p.contains("{id}")),
        "{paths:?}"
    );
    assert!(paths.contains(&"GET /v1/me".to_string()), "{paths:?}");
}

#[tokio::test]
async fn an_invalid_document_fails_the_check_saying_why() {
    let server = http_app(api()).await;
    let target = Target::new(format!("{}broken.json", server.url("http")));
    let error = api_operations::run(&target, &context(lax(), TIMEOUT))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CheckError::InvalidTarget(message) if message.contains("does not start with /")),
        "{error}"
    );
    let missing = Target::new(format!("{}nothing-here.json", server.url("http")));
    let error = api_operations::run(&missing, &context(lax(), TIMEOUT))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("answered 404"), "{error}");
}
