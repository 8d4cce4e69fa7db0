//! What can go wrong, and the exit code each gives.

/// Exit codes, as documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// The request failed: refused, not found, the gateway down.
    pub const ERROR: i32 = 1;
    /// The command line itself is wrong.
    pub const USAGE: i32 = 2;
    /// `--fail-on`: findings at or above the severity exist.
    pub const FINDINGS: i32 = 3;
    /// No credential, or the gateway refused it (401, 403).
    pub const AUTH: i32 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Auth(String),
    /// The gateway answered with an error: its status, code and message.
    #[error("{message} ({status} {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the gateway at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Auth(_) => exit::AUTH,
            CliError::Api { .. } | CliError::Unreachable { .. } | CliError::Other(_) => exit::ERROR,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::Other(error.to_string())
    }
}
