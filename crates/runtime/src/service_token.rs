//! The shared secret that guards every internal endpoint.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::audit;
use crate::error::ApiError;

/// The header internal callers put the token in. The gateway strips it from public requests.
pub const HEADER: &str = "x-s4e-service-token";

#[derive(Clone)]
pub struct ServiceToken(Arc<str>);

impl ServiceToken {
    pub fn new(value: &str) -> Result<Self, String> {
        if value.len() < 32 {
            return Err("must be at least 32 characters".into());
        }
        Ok(Self(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceToken(..)")
    }
}

/// Middleware for internal routers: refuses any request without the right token, and runs one
/// that carries an audit context inside it (see [`crate::audit`]).
pub async fn require(
    State(token): State<ServiceToken>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request.headers().get(HEADER).map(|value| value.as_bytes());
    match presented {
        Some(presented) if token.matches(presented) => {}
        Some(_) => return Err(ApiError::unauthorized("invalid service token")),
        None => return Err(ApiError::unauthorized("missing service token")),
    }
    let Some(context) = request.headers().get(audit::HEADER) else {
        return Ok(next.run(request).await);
    };
    // A change whose context cannot be read is refused rather than made unrecorded.
    let context = audit::decode(context.as_bytes()).map_err(ApiError::bad_request)?;
    let (mut response, recorded) = audit::scope(context, next.run(request)).await;
    if recorded {
        response.headers_mut().insert(
            audit::RECORDED_HEADER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_be_long_and_compare_exactly() {
        assert!(ServiceToken::new("short").is_err());
        let token = ServiceToken::new(&"a".repeat(32)).unwrap();
        assert!(token.matches("a".repeat(32).as_bytes()));
        assert!(!token.matches("a".repeat(31).as_bytes()));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "ServiceToken(..)");
    }
}
