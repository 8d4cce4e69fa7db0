//! Rate limiting of the public API, in Redis (see `s4e_store::RateLimiter`): a fixed window per
//! client address (the TCP peer; `X-Forwarded-For` is not trusted) for every `/api/v1` request,
//! and per API key for authenticated ones. The OpenAPI document, the probes and the metrics
//! are not limited.
//!
//! Each request costs one Redis round trip. An authenticated request counts against its
//! address and its key together, right after authentication ([`after_auth`]); a session's, in
//! the round trip that reads the session, even when it is refused afterwards ([`refused`]). A
//! request that never got there (refused by authentication, unknown route) counts against its
//! address once it is answered ([`per_ip`]), and is answered 429 instead when the address is
//! over its limit.
//!
//! Responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//! (seconds until the window resets) of the most constraining bucket; a refused request gets
//! 429 with `Retry-After` and the error code `rate_limited`. When Redis fails, requests pass
//! (with a warning) or are answered 503, as configured.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use s4e_runtime::ApiError;
use s4e_store::{BucketCount, RateDecision, RateLimiter};
use s4e_types::ApiKeyId;
use s4e_types::api::RateTier;

use crate::AppState;
use crate::auth::Principal;

const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(Clone)]
pub struct RateLimits {
    pub limiter: RateLimiter,
    pub per_key: u32,
    pub per_ip: u32,
    pub window: Duration,
    pub fail_open: bool,
    /// The limiter's buckets live in the session store's Redis: a session's request is read
    /// and counted in one round trip ([`session_buckets`]).
    pub counted_with_sessions: bool,
}

impl RateLimits {
    /// The limit of a key's or a session's bucket: the organization's tier times the base.
    fn per_caller(&self, tier: RateTier) -> u32 {
        self.per_key.saturating_mul(tier_factor(tier))
    }
}

/// Decisions made for a request while it was authenticated: a session is read and counted
/// in one round trip.
#[derive(Clone)]
pub struct Decided(Vec<RateDecision>);

/// The bucket of a client address. IPv4 is written by hand: every request names one, and
/// `format!` costs several times as much.
fn ip_bucket(ip: IpAddr) -> String {
    let mut bucket = String::with_capacity(3 + 39);
    bucket.push_str("ip:");
    match ip {
        IpAddr::V4(ip) => {
            for (index, octet) in ip.octets().into_iter().enumerate() {
                if index > 0 {
                    bucket.push('.');
                }
                if octet >= 100 {
                    bucket.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    bucket.push(char::from(b'0' + octet / 10 % 10));
                }
                bucket.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(ip) => {
            let _ = write!(bucket, "{ip}");
        }
    }
    bucket
}

/// The bucket of an API key.
pub fn key_bucket(key_id: ApiKeyId) -> String {
    format!("key:{key_id}")
}

/// The buckets a request from `ip` with the session `session_id` counts against, for
/// `SessionStore::touch_counting`; [`session_decisions`] reads its counts.
pub fn session_buckets(ip: Option<IpAddr>, session_id: &str) -> Vec<String> {
    ip.map(ip_bucket)
        .into_iter()
        .chain([Principal::session_bucket(session_id)])
        .collect()
}

/// The decisions from the counts of [`session_buckets`], now that the session's tier is known.
pub fn session_decisions(limits: &RateLimits, tier: RateTier, counts: &[BucketCount]) -> Decided {
    let caller = limits.per_caller(tier);
    let decisions = match counts {
        [ip, session] => vec![ip.against(limits.per_ip), session.against(caller)],
        counts => counts.iter().map(|count| count.against(caller)).collect(),
    };
    Decided(decisions)
}

/// Marks a response whose request was already counted (by [`after_auth`]).
#[derive(Clone, Copy)]
struct Counted;

pub fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

fn limited_path(path: &str) -> bool {
    (path == "/api/v1" || path.starts_with("/api/v1/")) && path != OPENAPI_PATH
}

enum Outcome {
    /// Let the request through; the decision to report, if Redis answered.
    Pass(Option<RateDecision>),
    /// Answer with this response instead.
    Refuse(Response),
}

async fn decide(limits: &RateLimits, buckets: &[(&str, u32)]) -> Outcome {
    if buckets.is_empty() {
        return Outcome::Pass(None);
    }
    match limits.limiter.hit_all(buckets, limits.window).await {
        Ok(decisions) => judge(&decisions),
        Err(error) if limits.fail_open => {
            tracing::warn!(%error, "rate limiter unavailable, letting the request through");
            Outcome::Pass(None)
        }
        Err(error) => {
            tracing::warn!(%error, "rate limiter unavailable, refusing the request");
            Outcome::Refuse(
                ApiError::unavailable("rate limiting is unavailable, try again").into_response(),
            )
        }
    }
}

fn judge(decisions: &[RateDecision]) -> Outcome {
    match binding(decisions) {
        None => Outcome::Pass(None),
        Some(decision) if decision.allowed => Outcome::Pass(Some(decision)),
        Some(decision) => Outcome::Refuse(too_many(decision)),
    }
}

/// The decision to report: a refusal if any (the one lasting longest), else the bucket with
/// the fewest requests left.
fn binding(decisions: &[RateDecision]) -> Option<RateDecision> {
    let refused = decisions
        .iter()
        .filter(|decision| !decision.allowed)
        .max_by_key(|decision| decision.reset_after);
    refused.copied().or_else(|| {
        decisions
            .iter()
            .min_by_key(|decision| (decision.remaining, std::cmp::Reverse(decision.reset_after)))
            .copied()
    })
}

fn seconds(duration: Duration) -> u64 {
    duration
        .as_millis()
        .div_ceil(1000)
        .try_into()
        .unwrap_or(u64::MAX)
}

const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-reset");

fn set_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert(LIMIT_HEADER, HeaderValue::from(decision.limit));
    headers.insert(REMAINING_HEADER, HeaderValue::from(decision.remaining));
    headers.insert(
        RESET_HEADER,
        HeaderValue::from(seconds(decision.reset_after)),
    );
}

fn too_many(decision: RateDecision) -> Response {
    let retry_after = seconds(decision.reset_after).max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests, retry in {retry_after} s"),
    )
    .into_response();
    set_headers(response.headers_mut(), &decision);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// How many times the per-key limit an organization's tier allows.
pub fn tier_factor(tier: RateTier) -> u32 {
    match tier {
        RateTier::Standard => 1,
        RateTier::Professional => 4,
        RateTier::Enterprise => 16,
    }
}

/// Behind authentication: counts the request against its address and its key or session, in
/// one round trip (already made with the session's, see [`Decided`]).
pub async fn after_auth<F, Fut>(state: &AppState, mut request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let limits = &state.limits;
    let outcome = match request.extensions_mut().remove::<Decided>() {
        Some(Decided(decisions)) => judge(&decisions),
        None => {
            let ip = client_ip(&request).map(ip_bucket);
            let caller = request
                .extensions()
                .get::<Principal>()
                .map(|principal| (principal.bucket(), limits.per_caller(principal.rate_tier)));
            let buckets: Vec<(&str, u32)> = [
                ip.as_deref().map(|bucket| (bucket, limits.per_ip)),
                caller
                    .as_ref()
                    .map(|(bucket, limit)| (bucket.as_ref(), *limit)),
            ]
            .into_iter()
            .flatten()
            .collect();
            decide(limits, &buckets).await
        }
    };
    let mut response = match outcome {
        Outcome::Pass(decision) => with_headers(next(request).await, decision),
        Outcome::Refuse(response) => response,
    };
    response.extensions_mut().insert(Counted);
    response
}

/// Answers a request that authentication refused. A session's request was counted on the way
/// in ([`Decided`]): it is answered as counted (429 over a limit, else the refusal with the
/// headers) and not counted again. Any other is left for [`per_ip`] to count.
pub fn refused(request: &mut Request, error: ApiError) -> Response {
    let Some(Decided(decisions)) = request.extensions_mut().remove::<Decided>() else {
        return error.into_response();
    };
    let mut response = match judge(&decisions) {
        Outcome::Pass(decision) => with_headers(error.into_response(), decision),
        Outcome::Refuse(response) => response,
    };
    response.extensions_mut().insert(Counted);
    response
}

fn with_headers(mut response: Response, decision: Option<RateDecision>) -> Response {
    if let Some(decision) = decision {
        set_headers(response.headers_mut(), &decision);
    }
    response
}

/// Around the whole API: counts against its address every `/api/v1` request that
/// [`after_auth`] did not count.
pub async fn per_ip<F, Fut>(state: &AppState, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if !limited_path(request.uri().path()) {
        return next(request).await;
    }
    let ip = client_ip(&request);
    let response = next(request).await;
    if response.extensions().get::<Counted>().is_some() {
        return response;
    }
    let Some(ip) = ip else {
        return response;
    };
    let limits = &state.limits;
    match decide(limits, &[(&ip_bucket(ip), limits.per_ip)]).await {
        Outcome::Pass(decision) => with_headers(response, decision),
        Outcome::Refuse(refusal) => refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(allowed: bool, remaining: u32, reset: u64) -> RateDecision {
        RateDecision {
            allowed,
            limit: 10,
            remaining,
            reset_after: Duration::from_secs(reset),
        }
    }

    #[test]
    fn the_most_constraining_bucket_is_reported() {
        let ip = decision(true, 7, 30);
        let key = decision(true, 2, 50);
        assert_eq!(binding(&[ip, key]), Some(key));
        let refused = decision(false, 0, 20);
        assert_eq!(binding(&[ip, refused]), Some(refused));
        assert_eq!(binding(&[]), None);
    }

    #[test]
    fn only_the_api_is_limited() {
        assert!(limited_path("/api/v1/assets"));
        assert!(limited_path("/api/v1/nowhere"));
        assert!(!limited_path(OPENAPI_PATH));
        assert!(!limited_path("/healthz"));
        assert!(!limited_path("/readyz"));
        assert!(!limited_path("/metrics"));
    }

    #[test]
    fn address_buckets_spell_the_address() {
        for ip in [
            "0.0.0.0",
            "9.10.99.100",
            "127.0.0.1",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_bucket(ip), format!("ip:{ip}"));
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::from_millis(1000)), 1);
        assert_eq!(seconds(Duration::from_millis(1001)), 2);
        assert_eq!(seconds(Duration::ZERO), 0);
    }
}
