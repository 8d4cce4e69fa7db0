//! The HTTP security headers check: one GET of the asset URL, judged by its response headers
//! (and, for directory listings, the start of its body).
//!
//! Rules (each a stable `rule` name in the findings): `missing_hsts`, `missing_csp`,
//! `missing_x_content_type_options`, `missing_clickjacking_protection`,
//! `missing_referrer_policy`, `server_version_disclosure`, `x_powered_by_disclosure`;
//! CSP quality (`csp.rs`): `csp_unsafe_inline`, `csp_unsafe_eval`, `csp_wildcard_source`;
//! cookies (`cookies.rs`): `cookie_without_secure`, `cookie_without_httponly`,
//! `cookie_without_samesite`; and `directory_listing` (`listing.rs`).
//! Header rules apply to every status: an error page is served with headers too, and is as
//! framable.

mod cookies;
mod csp;
mod listing;
mod parse;
mod rules;

/// Which server generated a directory listing, when a page is one (also judged on crawled
/// pages by the crawler).
pub use listing::listing_kind;

/// The rule named `id`, for findings of it made elsewhere (the crawler's, across a site).
pub fn rule(id: &str) -> Option<&'static crate::Rule> {
    rules::CATALOG.iter().copied().find(|rule| rule.id == id)
}

/// One response judged by every rule, as this check judges the asset's URL (the crawler
/// judges every page it fetches). `body` is the start of the body.
pub fn judge(
    url: &url::Url,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Vec<s4e_types::FindingDraft> {
    rules::evaluate(url, status, headers, body)
}

use s4e_egress::http;
use tokio::time::Instant;

use crate::{CheckContext, CheckError, CheckOutput, RawResponse, Target};
use s4e_types::inventory::Observations;

/// Requests the target (an http or https URL) once and judges its response headers.
///
/// The address is approved by the context's egress policy before any connection; its
/// timeout bounds resolving, connecting and receiving the response headers.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<RawResponse>, CheckError> {
    let timeout = context.timeout;
    let deadline = Instant::now() + timeout;
    let (url, addr) = http::approve(&target.address, &context.egress, deadline, timeout).await?;
    tracing::debug!(%url, %addr, "http_headers: requesting");
    let fetched = http::get(&url, addr, deadline, timeout).await?;
    let findings = rules::evaluate(
        &url,
        fetched.raw.status,
        &fetched.headers,
        &fetched.raw.body_excerpt,
    );
    let status = fetched.raw.status;
    tracing::debug!(%url, status, findings = findings.len(), "http_headers: judged");
    Ok(CheckOutput {
        observed: Observations {
            technologies: crate::fingerprint::identify(
                &fetched.raw.headers,
                &fetched.raw.body_excerpt,
            ),
            ..Observations::default()
        },
        findings,
        raw: fetched.raw,
    })
}
