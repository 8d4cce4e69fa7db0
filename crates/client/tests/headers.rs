//! What every internal call carries: the service token, and the caller's trace context.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use s4e_client::{BaseClient, ClientError};
use s4e_types::{AssetId, OrgId};

#[tokio::test]
async fn calls_carry_the_token_and_a_child_of_the_current_trace() {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let recorder = seen.clone();
    let app = Router::new().route(
        "/internal/v1/orgs/{org}/assets/{asset}",
        get(move |headers: HeaderMap| {
            recorder.lock().unwrap().push(headers);
            async { (axum::http::StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": {"code": "not_found", "message": "asset not found"}}))) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = BaseClient::new(&url, "the-service-token").unwrap();
    let root = s4e_trace::TraceContext::new_root();
    let result = s4e_trace::scope(root, client.get_asset(OrgId::new(), AssetId::new())).await;
    assert!(
        matches!(result, Err(ClientError::NotFound(ref message)) if message == "asset not found")
    );
    // Outside a trace, no traceparent is invented by the client.
    let _ = client.get_asset(OrgId::new(), AssetId::new()).await;

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["x-s4e-service-token"], "the-service-token");
    let sent = s4e_trace::TraceContext::parse(seen[0]["traceparent"].to_str().unwrap()).unwrap();
    assert_eq!(sent.trace_id(), root.trace_id());
    assert!(seen[1].get("traceparent").is_none());
    server.abort();
}
