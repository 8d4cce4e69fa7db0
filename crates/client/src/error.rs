#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not found: {0}")]
    NotFound(Refusal),
    #[error("conflict: {0}")]
    Conflict(Refusal),
    #[error("bad request: {0}")]
    BadRequest(Refusal),
    /// The callee refuses the request by its rules (an unverified asset, say).
    #[error("forbidden: {0}")]
    Forbidden(Refusal),
    #[error("service token refused")]
    Unauthorized,
    /// The service could not be reached or said it is unavailable: worth retrying.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected answer {status}: {message}")]
    Unexpected { status: u16, message: String },
}

/// What a callee said when it refused a request: its error body's stable code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl Refusal {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A refusal reads as its message, as the plain message strings it replaced did.
impl std::ops::Deref for Refusal {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl PartialEq<str> for Refusal {
    fn eq(&self, message: &str) -> bool {
        self.message == message
    }
}

impl ClientError {
    /// True for failures that may pass on a later attempt. A refused service token counts: it
    /// is a deployment fault (a token being rotated), and the work must wait, not be dropped.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Unavailable(_) | ClientError::Unauthorized
        ) || matches!(self, ClientError::Unexpected { status, .. } if *status >= 500)
    }

    /// The callee's refusal, for errors about the request itself.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ClientError::NotFound(refusal)
            | ClientError::Conflict(refusal)
            | ClientError::BadRequest(refusal)
            | ClientError::Forbidden(refusal) => Some(refusal),
            _ => None,
        }
    }

    /// The HTTP status a service should answer with when this error ends a request: the
    /// callee's own status where it is meaningful to the caller's client, 503 when the callee
    /// is away, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            ClientError::NotFound(_) => 404,
            ClientError::Conflict(_) => 409,
            ClientError::BadRequest(_) => 400,
            ClientError::Forbidden(_) => 403,
            ClientError::Unavailable(_) => 503,
            ClientError::Unauthorized | ClientError::Unexpected { .. } => 500,
        }
    }

    /// The callee's own message for errors about the request; the full description otherwise.
    pub fn message(&self) -> String {
        match self.refusal() {
            Some(refusal) => refusal.message.clone(),
            None => self.to_string(),
        }
    }
}

/// A failed call ends the request that made it. A refusal of the caller's own request (400,
/// 403, 404, 409) is passed on with the callee's code and message; a callee that is away is a
/// 503 without detail; anything else is a 500 whose detail is logged when it is answered.
impl From<ClientError> for s4e_runtime::ApiError {
    fn from(error: ClientError) -> Self {
        use reqwest::StatusCode;
        use s4e_runtime::ApiError;
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match error {
            // A route the callee does not serve is this fleet's own fault, not the request's.
            ClientError::NotFound(ref refusal) if refusal.code == s4e_runtime::routes::NO_ROUTE => {
                ApiError::internal(error)
            }
            ClientError::NotFound(refusal)
            | ClientError::Conflict(refusal)
            | ClientError::BadRequest(refusal)
            | ClientError::Forbidden(refusal) => {
                ApiError::new(status, refusal.code, refusal.message)
            }
            ClientError::Unavailable(_) => {
                ApiError::unavailable("a dependency is unavailable, try again").with_detail(error)
            }
            ClientError::Unauthorized | ClientError::Unexpected { .. } => ApiError::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use s4e_runtime::ApiError;

    use super::*;

    #[test]
    fn a_refusal_keeps_the_callees_code_and_message() {
        let error = ApiError::from(ClientError::Forbidden(Refusal::new(
            "unverified_asset",
            "verify the asset first",
        )));
        assert_eq!(error.status, 403);
        assert_eq!(error.code, "unverified_asset");
        assert_eq!(error.message, "verify the asset first");
        assert!(error.detail.is_none());
    }

    #[test]
    fn the_fleets_own_faults_are_answered_without_detail_and_logged() {
        let unserved = ApiError::from(ClientError::NotFound(Refusal::new(
            s4e_runtime::routes::NO_ROUTE,
            "no such route",
        )));
        assert_eq!(unserved.status, 500);
        assert_eq!(unserved.code, "internal");
        assert!(unserved.detail.unwrap().contains("no such route"));

        let away = ApiError::from(ClientError::Unavailable("base: connection refused".into()));
        assert_eq!(away.status, 503);
        assert_eq!(away.code, "unavailable");
        assert!(!away.message.contains("connection refused"));
        assert!(away.detail.unwrap().contains("connection refused"));
    }
}
