//! The shared secret that guards every internal endpoint.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

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

/// Middleware for internal routers: refuses any request without the right token.
pub async fn require(
    State(token): State<ServiceToken>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request.headers().get(HEADER).map(|value| value.as_bytes());
    match presented {
        Some(presented) if token.matches(presented) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized("invalid service token")),
        None => Err(ApiError::unauthorized("missing service token")),
    }
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
