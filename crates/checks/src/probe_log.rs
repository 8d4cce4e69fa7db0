//! The raw output of the checks that make several requests (`http_probes`, `exposure`): a log
//! of what was sent and what came back.

use s4e_egress::ReachError;
use s4e_egress::http::{Fetched, Request};
use serde::{Deserialize, Serialize};
use url::Url;

/// The requests a check made, kept as its raw output: small, since the bodies that mattered
/// are summarised in the findings' evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeLog {
    /// The asset URL the check was given.
    pub url: String,
    pub requests: Vec<ProbeRecord>,
    /// From the first request to the last answer.
    pub elapsed_ms: u64,
}

/// One request and what came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// Why it was sent, e.g. `cors_null_origin` or `baseline`.
    pub probe: String,
    pub method: String,
    pub url: String,
    /// `None` when no response came (see `error`).
    pub status: Option<u16>,
    /// Body bytes read, at most the check's body limit.
    pub length: Option<usize>,
    /// True when the body went on past what was read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ProbeRecord {
    /// The log entry of one request.
    pub(crate) fn of(
        probe: &str,
        request: &Request,
        url: &Url,
        result: &Result<Fetched, ReachError>,
    ) -> ProbeRecord {
        let mut record = ProbeRecord {
            probe: probe.to_owned(),
            method: request.method.as_str().to_owned(),
            url: url.to_string(),
            status: None,
            length: None,
            truncated: false,
            error: None,
        };
        match result {
            Ok(fetched) => {
                record.status = Some(fetched.raw.status);
                record.length = Some(fetched.body.len());
                record.truncated = fetched.body_cut;
            }
            Err(err) => record.error = Some(err.to_string()),
        }
        record
    }
}

/// A random lowercase hex token: for paths that cannot exist and values a server can only
/// echo, never guess.
pub(crate) fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}
