//! HTTP requests to an address the egress policy approved: the transport of every HTTP check,
//! of ownership proofs, and of anything else that requests a URL a user named.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};
use url::{Host, Url};

use crate::ReachError;
use crate::policy::{EgressError, EgressPolicy};

const USER_AGENT: &str = concat!("s4e-scanner/", env!("CARGO_PKG_VERSION"));

/// An HTTP response as evidence: what was requested and what came back, small enough to
/// store per job.
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

/// A response as a check needs it: the typed header map for the rules, the start of the body
/// as bytes (for magic numbers), and the raw form for storage.
pub struct Fetched {
    pub headers: HeaderMap,
    /// At most the request's body limit.
    pub body: Vec<u8>,
    /// True when the body went on past the limit.
    pub body_cut: bool,
    pub raw: RawResponse,
}

/// What to send: the method, extra headers, and how much of the body to keep.
pub struct Request {
    pub method: Method,
    pub headers: HeaderMap,
    pub body_limit: usize,
    /// What to send as the body (none unless set).
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A plain GET keeping [`RawResponse::BODY_EXCERPT_LIMIT`] bytes of the body.
    pub fn get() -> Self {
        Self::new(Method::GET, RawResponse::BODY_EXCERPT_LIMIT)
    }

    /// `method` without extra headers, keeping at most `body_limit` bytes of the body.
    pub fn new(method: Method, body_limit: usize) -> Self {
        Request {
            method,
            headers: HeaderMap::new(),
            body_limit,
            body: None,
        }
    }
}

/// Parses `target` and has `policy` approve its address, by `deadline`: the first step of
/// every request to a URL a user named, before any connection.
pub async fn approve(
    target: &str,
    policy: &EgressPolicy,
    deadline: Instant,
    timeout: Duration,
) -> Result<(Url, SocketAddr), ReachError> {
    let url = Url::parse(target)
        .map_err(|err| ReachError::InvalidTarget(format!("{target:?} is not a URL ({err})")))?;
    match timeout_at(deadline, policy.resolve(&url)).await {
        Err(_elapsed) => Err(ReachError::Timeout(timeout)),
        // A target the check cannot judge at all (say, ftp://) is the target's fault, not a
        // policy decision.
        Ok(Err(EgressError::InvalidTarget(reason))) => Err(ReachError::InvalidTarget(reason)),
        Ok(Err(err)) => Err(err.into()),
        Ok(Ok(addr)) => Ok((url, addr)),
    }
}

/// GETs `url` from `addr`, giving up at `deadline`.
///
/// When the headers arrived but the body did not finish by the deadline, the response is
/// still returned with what was read: the headers are what checks judge.
pub async fn get(
    url: &Url,
    addr: SocketAddr,
    deadline: Instant,
    timeout: Duration,
) -> Result<Fetched, ReachError> {
    Pinned::new(url, addr)?
        .send(url, &Request::get(), deadline, timeout)
        .await
}

/// A client whose every connection goes to one approved address. Checks that make several
/// requests to the same host share one, so connections are reused.
#[derive(Clone)]
pub struct Pinned {
    client: reqwest::Client,
    addr: SocketAddr,
}

impl Pinned {
    /// A client for `url`'s host, pinned to `addr`. Every URL later sent through it must have
    /// the same host: any other name fails, as no DNS is done.
    pub fn new(url: &Url, addr: SocketAddr) -> Result<Self, ReachError> {
        Ok(Pinned {
            client: client(url, addr)?,
            addr,
        })
    }

    /// Sends `request` to `url`, giving up at `deadline` (`timeout` is what the error
    /// reports). When the headers arrived but the body did not finish by the deadline, the
    /// response is still returned with what was read.
    pub async fn send(
        &self,
        url: &Url,
        request: &Request,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Fetched, ReachError> {
        let addr = self.addr;
        let started = Instant::now();
        let mut builder = self
            .client
            .request(request.method.clone(), url.as_str())
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let sent = timeout_at(deadline, builder.send()).await;
        let mut response = match sent {
            Err(_elapsed) => return Err(ReachError::Timeout(timeout)),
            Ok(Err(err)) if err.is_timeout() => return Err(ReachError::Timeout(timeout)),
            Ok(Err(err)) => {
                return Err(ReachError::Unreachable(format!(
                    "{} ({addr})",
                    reason(&err)
                )));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_prefix(&mut response, request.body_limit, deadline).await;
        let excerpt_limit = request.body_limit.min(RawResponse::BODY_EXCERPT_LIMIT);
        let raw = RawResponse {
            url: url.to_string(),
            status,
            headers: header_lines(&headers),
            body_excerpt: excerpt(&body.bytes, body.cut, excerpt_limit),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        Ok(Fetched {
            headers,
            body: body.bytes,
            body_cut: body.cut,
            raw,
        })
    }
}

fn client(url: &Url, addr: SocketAddr) -> Result<reqwest::Client, ReachError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // The check judges the asset URL's own response; following a redirect would judge
        // another URL, and would reach a host the egress policy never saw.
        .redirect(Policy::none())
        // A proxy from the environment would make the connection somewhere other than the
        // approved address.
        .no_proxy()
        // Certificate validity is the TLS check's job; this check must still see the headers
        // of a site with an expired or self-signed certificate.
        .danger_accept_invalid_certs(true)
        // Nothing may be looked up after the egress decision: a second answer could point at
        // an address the policy would refuse (DNS rebinding).
        .dns_resolver(Arc::new(NoDns));
    if let Some(Host::Domain(domain)) = url.host() {
        // Pin the host to the approved address; the URL keeps the name for Host and SNI.
        builder = builder.resolve(domain, addr);
    }
    builder.build().map_err(|err| {
        ReachError::Unreachable(format!(
            "could not set up the HTTP client: {}",
            reason(&err)
        ))
    })
}

/// A resolver that resolves nothing: only names pinned with `ClientBuilder::resolve` connect.
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!(
            "{} was not approved by the egress policy; DNS is disabled",
            name.as_str()
        );
        Box::pin(std::future::ready(Err(message.into())))
    }
}

/// A human reason for a failed request: the innermost cause, which names the real problem
/// ("connection refused") rather than the layers it went through.
fn reason(err: &(dyn StdError + 'static)) -> String {
    let mut innermost = err;
    let mut current = Some(err);
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<io::Error>()
            && let Some(text) = io_reason(io.kind())
        {
            return text.to_owned();
        }
        innermost = cause;
        current = cause.source();
    }
    innermost.to_string()
}

fn io_reason(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        AddrNotAvailable => "address not available",
        UnexpectedEof => "connection closed before a response",
        _ => return None,
    })
}

struct Prefix {
    bytes: Vec<u8>,
    /// True when the body went on past the limit.
    cut: bool,
}

/// Reads at most `limit` bytes of the body and stops, so a huge body costs nothing more.
async fn read_prefix(response: &mut reqwest::Response, limit: usize, deadline: Instant) -> Prefix {
    let mut bytes = Vec::new();
    loop {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let room = limit - bytes.len();
                if chunk.len() >= room {
                    bytes.extend_from_slice(&chunk[..room]);
                    // Exactly filling the limit may or may not be the end; say cut, as the
                    // only effect is to drop an incomplete trailing character.
                    return Prefix { bytes, cut: true };
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => break,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "body read failed; keeping what arrived");
                break;
            }
            Err(_elapsed) => {
                tracing::debug!("body read timed out; keeping what arrived");
                break;
            }
        }
    }
    Prefix { bytes, cut: false }
}

/// The body as text of at most `limit` bytes. A character split by the cut is dropped rather
/// than shown as U+FFFD; other invalid bytes are replaced.
fn excerpt(bytes: &[u8], cut: bool, limit: usize) -> String {
    let bytes = &bytes[..bytes.len().min(limit)];
    let bytes = if cut {
        without_partial_tail(bytes)
    } else {
        bytes
    };
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    // Replacement characters are longer than the bytes they replace, so cap again.
    text.truncate(text.floor_char_boundary(limit));
    text
}

/// `bytes` without a trailing UTF-8 sequence that was started but not finished.
fn without_partial_tail(bytes: &[u8]) -> &[u8] {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: the lead byte is further back
        }
        let needed = match byte {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needed > back {
            &bytes[..bytes.len() - back]
        } else {
            bytes
        };
    }
    bytes
}

fn header_lines(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_bodies_whole() {
        assert_eq!(excerpt(b"hello", false, 10), "hello");
        assert_eq!(excerpt("héllo".as_bytes(), false, 64), "héllo");
    }

    #[test]
    fn excerpt_cuts_on_a_char_boundary() {
        // "é" is two bytes: a cut after its first byte drops it.
        let body = "aé".as_bytes();
        assert_eq!(excerpt(&body[..2], true, 2), "a");
        // "€" is three bytes, "😀" four.
        assert_eq!(excerpt(&"x€".as_bytes()[..3], true, 3), "x");
        assert_eq!(excerpt(&"😀".as_bytes()[..3], true, 3), "");
        // A complete character at the end is kept.
        assert_eq!(excerpt("x€".as_bytes(), true, 4), "x€");
        // The limit applies even to what the caller passes past it.
        assert_eq!(excerpt("€€".as_bytes(), true, 4), "€");
    }

    #[test]
    fn excerpt_replaces_invalid_bytes_within_the_limit() {
        let text = excerpt(&[0xff; 8], false, 8);
        assert!(text.len() <= 8);
        assert!(text.chars().all(|c| c == '\u{fffd}'));
        assert_eq!(excerpt(&[b'a', 0xff, b'b'], false, 64), "a\u{fffd}b");
    }

    #[test]
    fn reasons_name_the_innermost_cause() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(reason(&refused), "connection refused");
        let other = io::Error::other("something odd");
        assert_eq!(reason(&other), "something odd");
    }

    #[test]
    fn user_agent_names_the_scanner_and_version() {
        assert_eq!(
            USER_AGENT,
            format!("s4e-scanner/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
