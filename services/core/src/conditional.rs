//! Conditional reads: a JSON answer to a GET of at least [`MIN_TAGGED_BYTES`] carries an `ETag`
//! (a digest of its body), and a request whose `If-None-Match` names it gets 304 with no body.
//! A client polling a large list or an export pays for the bytes only when they changed. The
//! answer is still made in full (base is asked as usual): what is saved is the transfer and
//! the client's parsing, which for a small answer is less than the digest costs.

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use s4e_runtime::ApiError;
use sha2::{Digest, Sha256};

use crate::step::{Inner, Next, Step};

/// The smallest body that is tagged. Below it, sending the body again costs the client less
/// than a conditional request saves, and the digest and the copy cost every read (measured on
/// `GET /api/v1/me`: about a fifth of its throughput; see BENCHMARKS.md).
pub const MIN_TAGGED_BYTES: u64 = 1024;

#[derive(Clone)]
pub struct ConditionalGet;

impl Step for ConditionalGet {
    async fn run<S: Inner>(&self, request: Request, next: Next<S>) -> Response {
        if request.method() != Method::GET {
            return next.run(request).await;
        }
        let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
        let response = next.run(request).await;
        // Only a body already whole in memory (its exact size known) is read here.
        let large = response
            .body()
            .size_hint()
            .exact()
            .is_some_and(|size| size >= MIN_TAGGED_BYTES);
        if response.status() != StatusCode::OK || !large || !is_json(response.headers()) {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(error) => return ApiError::internal(error).into_response(),
        };
        let tag = entity_tag(&bytes);
        if if_none_match.is_some_and(|value| matches(&value, &tag)) {
            let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
            not_modified.headers_mut().insert(header::ETAG, tag);
            return not_modified;
        }
        parts.headers.insert(header::ETAG, tag);
        Response::from_parts(parts, Body::from(bytes))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// A strong tag: the first 128 bits of the body's SHA-256, quoted.
fn entity_tag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
        .expect("hex digits are a header value")
}

/// Whether `If-None-Match` names `tag`: `*`, or a list of tags (weak ones compared weakly, as
/// RFC 9110 says for this header).
fn matches(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(listed), Ok(tag)) = (if_none_match.to_str(), tag.to_str()) else {
        return false;
    };
    listed
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_matched_in_a_list_weakly_or_by_a_star() {
        let tag = entity_tag(b"{}");
        let named = |value: &str| matches(&HeaderValue::from_str(value).unwrap(), &tag);
        let tag = tag.to_str().unwrap().to_string();
        assert!(named(&tag));
        assert!(named(&format!("\"other\", W/{tag}")));
        assert!(named("*"));
        assert!(!named("\"other\""));
        assert_ne!(entity_tag(b"{}"), entity_tag(b"[]"));
    }
}
