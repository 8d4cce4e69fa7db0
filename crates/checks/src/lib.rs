//! Security checks run by the S4E workers, and the egress policy that guards them.
//!
//! A check takes a target (the asset's URL), talks to it over the network and turns what it saw
//! into [`s4e_types::FindingDraft`]s plus the raw response it judged, so the findings can be
//! stored and the evidence kept. Every connection goes through [`egress::EgressPolicy`] first:
//! targets are user input, and a scanner that fetches whatever it is told is an SSRF waiting
//! to happen.
//!
//! Besides the checks, [`ownership`] proves an asset is its owner's (a file or meta tag with
//! its token) before it may be scanned in earnest.
//!
//! Checks:
//! - [`http_headers`]: security-relevant HTTP response headers (HSTS, CSP, clickjacking, ...),
//!   cookie attributes and directory listings.
//! - [`http_probes`]: a few extra requests to the asset URL: CORS, TRACE, OPTIONS, and whether
//!   plain HTTP redirects to HTTPS.
//! - [`exposure`]: sensitive files and paths left reachable (`.git`, `.env`, backups, status,
//!   debug and API documentation pages).
//! - [`ports`]: TCP connect port scan with service identification, and what it finds exposed.
//! - [`tls_cert`]: the TLS certificate a server presents (validity, trust, host name, key).
//! - [`tls_protocols`]: the TLS protocol versions (SSL 3.0 to TLS 1.3) and weak cipher suites
//!   a server accepts, probed with hand-made ClientHellos.
//! - [`dns`]: a domain's DNS records: SPF, DMARC, DNSSEC and dangling CNAMEs (subdomain
//!   takeover). It asks the configured resolvers, never the target.

pub mod dns;
pub mod egress;
pub mod exposure;
mod fetch;
mod finding;
pub mod http_headers;
pub mod http_probes;
pub mod ownership;
pub mod ports;
pub mod tls_cert;
pub mod tls_protocols;
mod tls_wire;

use serde::{Deserialize, Serialize};

pub use egress::{EgressError, EgressPolicy};

/// What a check produced: its findings and the raw response they were judged on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckOutput {
    pub findings: Vec<s4e_types::FindingDraft>,
    pub raw: RawResponse,
}

/// The HTTP response a check judged, kept as evidence (stored in the document store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawResponse {
    /// The URL that was requested (redirects are not followed).
    pub url: String,
    pub status: u16,
    /// Every header line, in the order received; repeated headers appear once per line.
    /// Values that are not valid UTF-8 are decoded lossily.
    pub headers: Vec<(String, String)>,
    /// The start of the body, at most [`RawResponse::BODY_EXCERPT_LIMIT`] bytes, cut on a
    /// character boundary and decoded lossily.
    pub body_excerpt: String,
    /// From sending the request to the end of the body excerpt.
    pub elapsed_ms: u64,
}

impl RawResponse {
    /// The most body bytes kept: enough to recognise a page, small enough to store per job.
    pub const BODY_EXCERPT_LIMIT: usize = 64 * 1024;
}

/// What a check that makes several requests produced: its findings and a log of the requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeOutput {
    pub findings: Vec<s4e_types::FindingDraft>,
    pub raw: ProbeLog,
}

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

/// Why a check could not judge its target. Messages are shown to users as the job's error.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Egress(#[from] EgressError),
    #[error("target unreachable: {0}")]
    Unreachable(String),
    #[error("target did not respond within {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    #[error("invalid target: {0}")]
    InvalidTarget(String),
    /// The resolvers failed or did not answer: the DNS check cannot tell what is published.
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn errors_read_well() {
        let unreachable = CheckError::Unreachable("connection refused (127.0.0.1:9)".into());
        assert_eq!(
            unreachable.to_string(),
            "target unreachable: connection refused (127.0.0.1:9)"
        );
        assert_eq!(
            CheckError::Timeout(Duration::from_millis(500)).to_string(),
            "target did not respond within 500 ms"
        );
        let refused = CheckError::from(EgressError::Refused {
            host: "metadata.example".into(),
            ip: "169.254.169.254".parse().unwrap(),
            reason: "cloud metadata endpoint",
        });
        assert_eq!(
            refused.to_string(),
            "refusing to connect to metadata.example (169.254.169.254): cloud metadata endpoint"
        );
    }
}
