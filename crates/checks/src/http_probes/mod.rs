//! The HTTP probes check: a few extra requests to the asset URL, each asking one question a
//! plain GET cannot answer.
//!
//! Requests: a plain GET (reachability, and the redirect of plain HTTP); two GETs with an
//! `Origin` header (a random `https://<token>.example`, then `null`); an OPTIONS without CORS
//! headers; a TRACE carrying a random header value. Nothing that could change the target is
//! sent (no PUT or DELETE is tried); redirects are never followed.
//!
//! Rules (stable `rule` names): `cors_arbitrary_origin_reflected`, `cors_null_origin_allowed`,
//! `cors_wildcard_with_credentials` (`cors.rs`); `trace_enabled`, `unsafe_methods_allowed`
//! (`methods.rs`); `no_https_redirect` (`redirect.rs`).
//!
//! The plain GET must be answered, or the check fails with its error. The other requests may
//! fail on their own (some servers drop a TRACE): that is logged and judged as no answer. All
//! requests share one deadline; a request still unanswered by then fails the check with
//! [`CheckError::Timeout`] rather than reporting a partial judgement.

mod cors;
mod methods;
mod redirect;

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ORIGIN};
use s4e_egress::ReachError;
use s4e_egress::http::{self, Fetched, Pinned, Request};
use s4e_types::FindingDraft;
use tokio::time::Instant;
use url::Url;

use crate::probe_log::token;
use crate::{CheckContext, CheckError, CheckOutput, ProbeLog, ProbeRecord, Target};
use s4e_types::inventory::Observations;

/// The probes judge headers and, for TRACE, an echo of the request: a few KiB is plenty.
const BODY_LIMIT: usize = 16 * 1024;

/// The header whose random value a TRACE echo must contain.
static TRACE_MARKER: HeaderName = HeaderName::from_static("x-s4e-trace");

/// A response as the rules need it.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl From<Fetched> for Answer {
    fn from(fetched: Fetched) -> Self {
        Answer {
            status: fetched.raw.status,
            headers: fetched.headers,
            body: fetched.body,
        }
    }
}

/// Everything the rules judge; `None` where a request got no answer.
pub(super) struct Observed<'a> {
    pub url: &'a Url,
    pub plain: &'a Answer,
    /// The random origin sent with `arbitrary_origin`.
    pub origin: &'a str,
    pub arbitrary_origin: Option<&'a Answer>,
    pub null_origin: Option<&'a Answer>,
    pub options: Option<&'a Answer>,
    /// The random value sent in the TRACE request's marker header.
    pub trace_token: &'a str,
    pub trace: Option<&'a Answer>,
}

/// One rule's judgement of the answers.
type Judge = fn(&Observed<'_>) -> Option<FindingDraft>;

const RULES: [Judge; 6] = [
    cors::arbitrary_origin_reflected,
    cors::null_origin_allowed,
    cors::wildcard_with_credentials,
    methods::trace_enabled,
    methods::unsafe_methods_allowed,
    redirect::no_https_redirect,
];

/// All findings, in a fixed rule order.
pub(super) fn evaluate(observed: &Observed<'_>) -> Vec<FindingDraft> {
    RULES.iter().filter_map(|rule| rule(observed)).collect()
}

/// Probes the target (an http or https URL) and judges the answers.
///
/// The address is approved by the context's egress policy before any connection; its timeout
/// bounds the whole check.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<ProbeLog>, CheckError> {
    let timeout = context.timeout;
    let started = Instant::now();
    let deadline = started + timeout;
    let (url, addr) = http::approve(&target.address, &context.egress, deadline, timeout).await?;
    tracing::debug!(%url, %addr, "http_probes: requesting");
    let pinned = Pinned::new(&url, addr)?;
    let mut log = ProbeLog {
        url: url.to_string(),
        ..ProbeLog::default()
    };
    let probe = Probe {
        pinned: &pinned,
        url: &url,
        deadline,
        timeout,
    };

    let (record, plain) = probe
        .send("plain", Request::new(Method::GET, BODY_LIMIT))
        .await;
    log.requests.push(record);
    let plain = Answer::from(plain?);

    let token = token();
    let origin = format!("https://{token}.example");
    let (arbitrary, null, options, trace) = tokio::join!(
        probe.send(
            "cors_arbitrary_origin",
            with_header(Method::GET, &ORIGIN, &origin)
        ),
        probe.send(
            "cors_null_origin",
            with_header(Method::GET, &ORIGIN, "null")
        ),
        probe.send("options", Request::new(Method::OPTIONS, BODY_LIMIT)),
        probe.send("trace", with_header(Method::TRACE, &TRACE_MARKER, &token)),
    );
    let mut answers = Vec::new();
    for (record, result) in [arbitrary, null, options, trace] {
        log.requests.push(record);
        answers.push(match result {
            Ok(fetched) => Some(Answer::from(fetched)),
            Err(ReachError::Timeout(timeout)) => return Err(CheckError::Timeout(timeout)),
            Err(_) => None,
        });
    }
    let [arbitrary, null, options, trace]: [Option<Answer>; 4] = answers
        .try_into()
        .unwrap_or_else(|_| unreachable!("four answers"));
    let observed = Observed {
        url: &url,
        plain: &plain,
        origin: &origin,
        arbitrary_origin: arbitrary.as_ref(),
        null_origin: null.as_ref(),
        options: options.as_ref(),
        trace_token: &token,
        trace: trace.as_ref(),
    };
    let findings = evaluate(&observed);
    log.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(%url, findings = findings.len(), "http_probes: judged");
    Ok(CheckOutput {
        findings,
        raw: log,
        observed: Observations::default(),
    })
}

/// What every request of one run shares.
struct Probe<'a> {
    pinned: &'a Pinned,
    url: &'a Url,
    deadline: Instant,
    timeout: Duration,
}

impl Probe<'_> {
    async fn send(
        &self,
        name: &str,
        request: Request,
    ) -> (ProbeRecord, Result<Fetched, ReachError>) {
        let result = self
            .pinned
            .send(self.url, &request, self.deadline, self.timeout)
            .await;
        (ProbeRecord::of(name, &request, self.url, &result), result)
    }
}

fn with_header(method: Method, name: &HeaderName, value: &str) -> Request {
    let mut request = Request::new(method, BODY_LIMIT);
    // Only our own tokens and fixed strings are sent, all valid header values.
    if let Ok(value) = HeaderValue::from_str(value) {
        request.headers.insert(name.clone(), value);
    }
    request
}

#[cfg(test)]
pub(super) mod fixtures {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    use super::Answer;

    pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Answer {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }
}
