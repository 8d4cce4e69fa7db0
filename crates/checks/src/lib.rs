//! Security checks run by the S4E workers.
//!
//! A check takes a [`Target`] (what the catalog points it at: the asset's URL, domain or
//! address) and a [`CheckContext`] (the egress policy, its time limit, the DNS resolvers, the
//! port-scan options and a cancellation token), talks to the target over the network and turns
//! what it saw into [`s4e_types::FindingDraft`]s plus the raw output it judged: one
//! [`CheckOutput`]. Every check is started through [`run`], the one place that knows every
//! kind, bounds it by its [`time_limit`] and stops it when the context is cancelled. Every
//! connection goes through the egress policy of `s4e-egress` first.
//!
//! Every finding is built from a [`Rule`]: the rule's fixed facts (id, title, severity, score,
//! CWE, description, remediation), with the location and evidence of what was found.
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
//! - [`api_operations`]: an API's operations, read from its OpenAPI document and requested
//!   without credentials.
//! - [`subdomains`]: host names under a domain, from a wordlist asked of the resolvers (with
//!   wildcard detection) and zone transfers asked of the zone's name servers.
//!
//! Adding a check: a folder here with `pub async fn run(&Target, &CheckContext) ->
//! Result<CheckOutput<YourRaw>, CheckError>` and its rules, one arm in [`run`], a
//! [`s4e_types::CheckKind`] variant, and its catalog entry in `s4e-scan`.

pub mod api_operations;
pub mod dns;
pub mod exposure;
pub mod fingerprint;
pub mod http_headers;
pub mod http_probes;
pub mod ports;
mod probe_log;
mod rule;
pub mod subdomains;
pub mod tls_cert;
pub mod tls_protocols;
mod tls_wire;

use std::net::SocketAddr;
use std::time::Duration;

use s4e_egress::dns::{DnsClient, DnsError};
use s4e_egress::{EgressError, EgressPolicy, ReachError};
use s4e_types::inventory::Observations;
use s4e_types::{CheckKind, FindingDraft, PortScope};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use probe_log::{ProbeLog, ProbeRecord};
pub use rule::Rule;
pub use s4e_egress::http::RawResponse;

/// What a check is pointed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The asset's URL, domain or address, as the catalog chose it for the check.
    pub address: String,
    /// For a port scan, the ports to try (the organization's choice recorded on the job);
    /// `None`: the common ports. Other checks ignore it.
    pub ports: Option<PortScope>,
}

impl Target {
    pub fn new(address: impl Into<String>) -> Self {
        Target {
            address: address.into(),
            ports: None,
        }
    }

    /// A port scan of `ports`.
    pub fn with_ports(address: impl Into<String>, ports: PortScope) -> Self {
        Target {
            address: address.into(),
            ports: Some(ports),
        }
    }
}

/// Everything a check may use besides its target. One per deployment, shared by every job
/// (cloning is cheap), with a fresh cancellation token per job.
#[derive(Clone, Debug)]
pub struct CheckContext {
    /// Approves every address before a connection.
    pub egress: EgressPolicy,
    /// The time limit of every check but the port scan: each tries to judge within it on its
    /// own, request by request, and [`run`] stops it there.
    pub timeout: Duration,
    /// The time limit of a port scan, which tries thousands of ports.
    pub port_scan_timeout: Duration,
    /// The resolvers the DNS check asks; empty: the system's (read for each check, so a
    /// changed `/etc/resolv.conf` is picked up).
    pub dns_servers: Vec<SocketAddr>,
    /// How long one resolver gets to answer one question before the next is asked.
    pub dns_attempt_timeout: Duration,
    /// How a port scan connects and identifies.
    pub ports: ports::PortScanOptions,
    /// Cancelled when the job's run is cancelled: [`run`] then drops the check, and its
    /// connections with it.
    pub cancel: CancellationToken,
}

impl Default for CheckContext {
    fn default() -> Self {
        CheckContext {
            egress: EgressPolicy::default(),
            timeout: Duration::from_secs(30),
            port_scan_timeout: Duration::from_secs(300),
            dns_servers: Vec::new(),
            dns_attempt_timeout: s4e_egress::dns::DEFAULT_ATTEMPT_TIMEOUT,
            ports: ports::PortScanOptions::default(),
            cancel: CancellationToken::new(),
        }
    }
}

impl CheckContext {
    /// A client of the configured resolvers.
    pub fn dns_client(&self) -> Result<DnsClient, DnsError> {
        Ok(DnsClient::new(&self.dns_servers)?.with_attempt_timeout(self.dns_attempt_timeout))
    }

    /// This context for one job: the same settings, a token of its own.
    pub fn for_job(&self, cancel: CancellationToken) -> CheckContext {
        CheckContext {
            cancel,
            ..self.clone()
        }
    }
}

/// What a check produced: its findings and the raw output they were judged on, kept as
/// evidence (stored in the document store). `R` is the check's own raw type; [`run`] hands it
/// out as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckOutput<R = serde_json::Value> {
    pub findings: Vec<FindingDraft>,
    pub raw: R,
    /// What it saw for the inventory: services, host names, technologies, a certificate.
    #[serde(default)]
    pub observed: Observations,
}

impl<R: Serialize> CheckOutput<R> {
    /// The same output with its raw part as JSON.
    pub fn into_json(self) -> CheckOutput {
        CheckOutput {
            findings: self.findings,
            raw: serde_json::to_value(&self.raw).unwrap_or(serde_json::Value::Null),
            observed: self.observed,
        }
    }
}

/// The time limit of one check of `kind`: the one place the checks are bounded as a whole
/// (they also try to finish within it on their own, request by request).
pub fn time_limit(kind: CheckKind, context: &CheckContext) -> Duration {
    match kind {
        // Both try thousands of names or ports.
        CheckKind::Ports | CheckKind::Subdomains => context.port_scan_timeout,
        CheckKind::HttpHeaders
        | CheckKind::HttpProbes
        | CheckKind::Exposure
        | CheckKind::TlsCertificate
        | CheckKind::TlsProtocols
        | CheckKind::Dns
        | CheckKind::ApiOperations => context.timeout,
        // Bounded by the crawler's own limits (pages, depth, duration).
        CheckKind::Crawl => context.port_scan_timeout,
    }
}

/// Runs the check of `kind` against `target`, within its [`time_limit`], until the context
/// is cancelled.
pub async fn run(
    kind: CheckKind,
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput, CheckError> {
    let limit = time_limit(kind, context);
    let check = async {
        match kind {
            CheckKind::HttpHeaders => http_headers::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::HttpProbes => http_probes::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::Exposure => exposure::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::Ports => ports::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::TlsCertificate => tls_cert::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::TlsProtocols => tls_protocols::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::Dns => dns::run(target, context).await.map(CheckOutput::into_json),
            CheckKind::Subdomains => subdomains::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::ApiOperations => api_operations::run(target, context)
                .await
                .map(CheckOutput::into_json),
            CheckKind::Crawl => Err(CheckError::NotACheck(kind)),
        }
    };
    tokio::select! {
        result = tokio::time::timeout(limit, check) => result.unwrap_or(Err(CheckError::Timeout(limit))),
        () = context.cancel.cancelled() => Err(CheckError::Cancelled),
    }
}

/// Why a check could not judge its target. Messages are shown to users as the job's error.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Egress(#[from] EgressError),
    #[error("target unreachable: {0}")]
    Unreachable(String),
    #[error("target did not respond within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("invalid target: {0}")]
    InvalidTarget(String),
    /// The resolvers failed or did not answer: the DNS check cannot tell what is published.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The job's run was cancelled while the check ran.
    #[error("cancelled")]
    Cancelled,
    /// A kind of job another service runs (the crawl): routed to the wrong queue.
    #[error("{} is not run by the check workers", .0.as_str())]
    NotACheck(CheckKind),
}

impl CheckError {
    /// A short, stable name of the failure, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckError::Egress(_) => "egress_refused",
            CheckError::Unreachable(_) => "unreachable",
            CheckError::Timeout(_) => "timeout",
            CheckError::InvalidTarget(_) => "invalid_target",
            CheckError::Dns(_) => "dns",
            CheckError::Cancelled => "cancelled",
            CheckError::NotACheck(_) => "not_a_check",
        }
    }

    /// The failed job's error as users read it. A time limit's starts with `timeout`, so that
    /// every timed-out job can be told apart whatever the check.
    pub fn job_error(&self) -> String {
        match self {
            CheckError::Timeout(_) => format!("timeout: {self}"),
            error => error.to_string(),
        }
    }
}

impl From<ReachError> for CheckError {
    fn from(error: ReachError) -> Self {
        match error {
            ReachError::Egress(error) => CheckError::Egress(error),
            ReachError::Unreachable(reason) => CheckError::Unreachable(reason),
            ReachError::Timeout(limit) => CheckError::Timeout(limit),
            ReachError::InvalidTarget(reason) => CheckError::InvalidTarget(reason),
        }
    }
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
        let timeout = CheckError::Timeout(Duration::from_millis(500));
        assert_eq!(timeout.to_string(), "target did not respond within 500 ms");
        assert_eq!(
            timeout.job_error(),
            "timeout: target did not respond within 500 ms"
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
        assert_eq!(refused.job_error(), refused.to_string());
    }

    /// Workers run checks on spawned tasks: this only has to compile.
    #[allow(dead_code)]
    fn runs_on_a_spawned_task(target: &'static Target, context: &'static CheckContext) {
        for kind in CheckKind::CHECKS {
            tokio::spawn(run(*kind, target, context));
        }
    }
}
