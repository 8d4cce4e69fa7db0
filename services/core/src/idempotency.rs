//! `Idempotency-Key` on the creating endpoints declared replayable (assets, scans,
//! customers): the first answer to a key is kept for a day per organization
//! (`s4e_store::Idempotency`) and a retry of the same request gets it back, marked
//! `Idempotent-Replayed: true`, creating nothing. The same key with another request (method,
//! path or body) answers 422; while the first is still running, 409. A first answer that is
//! a server error is not kept, so a retry runs again. Endpoints whose answer holds a secret
//! (a new API key, an invitation's token) are not replayable: Redis keeps no secret.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use s4e_runtime::ApiError;
use s4e_store::{Claim, StoredAnswer};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Principal;
use crate::endpoints::Endpoints;
use crate::step::{Inner, Next, Step};

const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What a request's body or an answer's body may be read up to (the gateway's body limit).
const BODY_LIMIT: usize = 1 << 20;

#[derive(Clone)]
pub struct Replay {
    state: AppState,
    endpoints: Endpoints,
}

impl Replay {
    pub fn new(state: &AppState, endpoints: &Endpoints) -> Self {
        Self {
            state: state.clone(),
            endpoints: endpoints.clone(),
        }
    }
}

impl Step for Replay {
    async fn run<S: Inner>(&self, request: Request, next: Next<S>) -> Response {
        let replayable = self
            .endpoints
            .of(&request)
            .is_some_and(|endpoint| endpoint.replayable);
        let key = request.headers().get(KEY_HEADER).cloned();
        let scope = request
            .extensions()
            .get::<Principal>()
            .map(|principal| principal.org_id.to_string());
        match (key, scope) {
            (Some(key), Some(scope)) if replayable => {
                Box::pin(replay(&self.state, scope, key, request, next)).await
            }
            _ => next.run(request).await,
        }
    }
}

fn valid_key(key: &HeaderValue) -> Option<&str> {
    let key = key.to_str().ok()?;
    let visible = key.bytes().all(|byte| byte.is_ascii_graphic());
    (visible && (1..=255).contains(&key.len())).then_some(key)
}

/// A digest of what makes two requests the same: method, path and query, body.
fn request_digest(request: &axum::http::request::Parts, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(request.method.as_str());
    digest.update([0]);
    digest.update(
        request
            .uri
            .path_and_query()
            .map_or("", |path| path.as_str()),
    );
    digest.update([0]);
    digest.update(body);
    hex::encode(digest.finalize())
}

async fn replay<S: Inner>(
    state: &AppState,
    scope: String,
    key: HeaderValue,
    request: Request,
    next: Next<S>,
) -> Response {
    let Some(key) = valid_key(&key) else {
        return ApiError::bad_request("Idempotency-Key: 1 to 255 visible ASCII characters")
            .into_response();
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is too large",
            )
            .into_response();
        }
    };
    let digest = request_digest(&parts, &body);
    let store = &state.idempotency;
    match store.claim(&scope, key, &digest).await {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Answered(answer)) => return replayed(answer),
        Ok(Claim::Running) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still running; retry later",
            )
            .into_response();
        }
        Ok(Claim::OtherRequest) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for another request",
            )
            .into_response();
        }
        Err(error) => {
            tracing::warn!(%error, "idempotency keys unavailable");
            return ApiError::unavailable("idempotency keys are unavailable, try again")
                .into_response();
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if response.status().is_server_error() {
        if let Err(error) = store.release(&scope, key).await {
            tracing::warn!(%error, "idempotency key not released");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "answer not readable for its idempotency key");
            let _ = store.release(&scope, key).await;
            return ApiError::internal("answer not readable").into_response();
        }
    };
    let answer = StoredAnswer {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    // The change is made: a failure to keep its answer is logged, not answered.
    if let Err(error) = store.keep(&scope, key, &digest, answer).await {
        tracing::warn!(%error, "answer not kept for its idempotency key");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = answer
        .content_type
        .and_then(|value| HeaderValue::from_str(&value).ok())
    {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key(&HeaderValue::from_static("retry-7f3a")).is_some());
        assert!(valid_key(&HeaderValue::from_static("")).is_none());
        assert!(valid_key(&HeaderValue::from_static("a b")).is_none());
        let long = HeaderValue::from_str(&"k".repeat(256)).unwrap();
        assert!(valid_key(&long).is_none());
    }
}
