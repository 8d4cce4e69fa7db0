#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("service token refused")]
    Unauthorized,
    /// The service could not be reached or said it is unavailable: worth retrying.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected answer {status}: {message}")]
    Unexpected { status: u16, message: String },
}

impl ClientError {
    /// True for failures that may pass on a later attempt.
    pub fn is_transient(&self) -> bool {
        matches!(self, ClientError::Unavailable(_))
            || matches!(self, ClientError::Unexpected { status, .. } if *status >= 500)
    }
}
