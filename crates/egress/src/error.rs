use std::time::Duration;

use crate::policy::EgressError;

/// Why a target could not be reached. Messages are shown to users (a failed job's error, a
/// verification's detail), so they name the cause and never the layers it went through.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error(transparent)]
    Egress(#[from] EgressError),
    #[error("target unreachable: {0}")]
    Unreachable(String),
    #[error("target did not respond within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("invalid target: {0}")]
    InvalidTarget(String),
}
