#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The callee refuses the request by its rules (an unverified asset, say).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("service token refused")]
    Unauthorized,
    /// The service could not be reached or said it is unavailable: worth retrying.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected answer {status}: {message}")]
    Unexpected { status: u16, message: String },
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
}

impl ClientError {
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
}

impl ClientError {
    /// The callee's own message for errors about the request; the full description otherwise.
    pub fn message(&self) -> String {
        match self {
            ClientError::NotFound(message)
            | ClientError::Conflict(message)
            | ClientError::BadRequest(message)
            | ClientError::Forbidden(message) => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A failed call ends the request that made it: the callee's status where it means something to
/// the caller's client (404, 409, 400, 403), 503 when the callee is away, 500 otherwise.
impl From<ClientError> for s4e_runtime::ApiError {
    fn from(error: ClientError) -> Self {
        s4e_runtime::ApiError::upstream(error.http_status(), &error.message())
    }
}
