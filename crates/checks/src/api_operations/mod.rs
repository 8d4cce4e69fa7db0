//! API operations: an API asset is the URL of its OpenAPI 3 or Swagger 2 document. The check
//! reads the document into its operations (`document.rs`) and requests each GET operation
//! that needs no parameter, once, without credentials: an operation that declares a security
//! requirement and still answers 2xx is open to anyone; one that answers 5xx fails on a
//! plain request. An invalid document fails the job saying what is wrong with it.
//!
//! Only GET, and only operations without required parameters: the check must not change the
//! API's data, and it does not invent identifiers. The crawler's API stage goes further.

mod document;
mod rules;

use s4e_egress::http::{self, Pinned, Request};
use s4e_types::CheckKind;
use s4e_types::inventory::Observations;
use serde::Serialize;
use tokio::time::Instant;

pub use document::{ApiDocument, Operation, endpoint, parse};

use crate::{CheckContext, CheckError, CheckOutput, Target};

/// The largest document read.
const DOCUMENT_LIMIT: usize = 5 * 1024 * 1024;
/// The most operations requested in one check.
const MAX_PROBED: usize = 100;
/// Response bytes kept per operation: the status is what is judged.
const RESPONSE_LIMIT: usize = 4 * 1024;

#[derive(Clone, Debug, Serialize)]
pub struct ApiRaw {
    pub document: String,
    pub version: String,
    pub base: String,
    pub operations: usize,
    /// Operations left out: not GET, or needing parameters, or past the limit.
    pub skipped: usize,
    pub probed: Vec<Probed>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Probed {
    pub method: String,
    pub path: String,
    pub secured: bool,
    /// The status, or why there was none.
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<ApiRaw>, CheckError> {
    let timeout = context.timeout;
    let deadline = Instant::now() + timeout;
    let (url, addr) = http::approve(&target.address, &context.egress, deadline, timeout).await?;
    let fetched = Pinned::new(&url, addr)?
        .send(
            &url,
            &Request::new(reqwest::Method::GET, DOCUMENT_LIMIT),
            deadline,
            timeout,
        )
        .await?;
    if fetched.raw.status != 200 {
        return Err(CheckError::Unreachable(format!(
            "the API document at {url} answered {}",
            fetched.raw.status
        )));
    }
    if fetched.body_cut {
        return Err(CheckError::InvalidTarget(format!(
            "the API document at {url} is larger than {} MiB",
            DOCUMENT_LIMIT / 1024 / 1024
        )));
    }
    let text = String::from_utf8_lossy(&fetched.body);
    let document = parse(&text, &url).map_err(|reason| {
        CheckError::InvalidTarget(format!("the API document at {url} is invalid: {reason}"))
    })?;
    // The operations' host may differ from the document's: approved on its own.
    let (base, base_addr) =
        http::approve(document.base.as_str(), &context.egress, deadline, timeout).await?;
    let client = Pinned::new(&base, base_addr)?;
    let probeable: Vec<&Operation> = document
        .operations
        .iter()
        .filter(|operation| operation.method == "GET" && operation.required.is_empty())
        .take(MAX_PROBED)
        .collect();
    let mut probed = Vec::with_capacity(probeable.len());
    let mut findings = Vec::new();
    for operation in &probeable {
        let endpoint = document::endpoint(&base, &operation.path);
        let location = format!("{} {}", operation.method, endpoint);
        let answer = client
            .send(
                &endpoint,
                &Request::new(reqwest::Method::GET, RESPONSE_LIMIT),
                deadline,
                timeout,
            )
            .await;
        let (status, error) = match answer {
            Ok(response) => (Some(response.raw.status), None),
            Err(error) => (None, Some(error.to_string())),
        };
        if let Some(status) = status {
            let evidence = serde_json::json!({
                "operation": format!("{} {}", operation.method, operation.path),
                "url": endpoint.as_str(),
                "status": status,
                "declares_security": operation.secured,
            });
            if operation.secured && (200..300).contains(&status) {
                findings.push(rules::UNAUTHENTICATED.finding(
                    CheckKind::ApiOperations,
                    &location,
                    evidence,
                ));
            } else if status >= 500 {
                findings.push(rules::SERVER_ERROR.finding(
                    CheckKind::ApiOperations,
                    &location,
                    evidence,
                ));
            }
        }
        probed.push(Probed {
            method: operation.method.clone(),
            path: operation.path.clone(),
            secured: operation.secured,
            status,
            error,
        });
    }
    tracing::debug!(%url, operations = document.operations.len(), probed = probed.len(), findings = findings.len(), "api_operations: checked");
    Ok(CheckOutput {
        observed: Observations::default(),
        findings,
        raw: ApiRaw {
            document: url.to_string(),
            version: document.version,
            base: base.to_string(),
            operations: document.operations.len(),
            skipped: document.operations.len() - probed.len(),
            probed,
        },
    })
}
