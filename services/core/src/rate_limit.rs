//! Rate limiting of the public API, in Redis (see `s4e_store::RateLimiter`): a fixed window per
//! client address (the TCP peer, or behind a trusted proxy the client it forwards for, see
//! `client_address.rs`) for every `/api/v1` request,
//! and per API key for authenticated ones. The OpenAPI document, the probes and the metrics
//! are not limited.
//!
//! Two steps count a request: [`AddressLimit`] its address, before any work is done for it (a
//! flood of wrong keys costs no lookup once its address is over the limit), and
//! [`CallerLimit`], once the caller is known, their key or session. A key found in the key
//! cache is known before any work, so its bucket is counted with the address, in the same
//! round trip, and [`CallerLimit`] applies that count; other callers wait a second time. Every
//! count goes through `RateLimiter::hit_all`, which shares round trips between requests for
//! the same buckets and decides each request by Redis's count.
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
use s4e_store::{RateDecision, RateLimiter};
use s4e_types::ApiKeyId;
use s4e_types::api::RateTier;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::endpoints::{Caller, Endpoints};
use crate::step::{Inner, Next, Step};

#[derive(Clone)]
pub struct RateLimits {
    pub limiter: RateLimiter,
    pub per_key: u32,
    pub per_ip: u32,
    pub window: Duration,
    pub fail_open: bool,
}

impl RateLimits {
    /// The limit of a key's or a session's bucket: the organization's tier times the base.
    fn per_caller(&self, tier: RateTier) -> u32 {
        self.per_key.saturating_mul(tier_factor(tier))
    }
}

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

pub fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

#[derive(Clone, Copy)]
enum Outcome {
    /// Within the limit; `None` when Redis is away and the policy lets requests through.
    Pass(Option<RateDecision>),
    /// Over the limit: answered 429.
    Over(RateDecision),
    /// Redis is away and the policy refuses requests: answered 503.
    Unavailable,
}

/// Counts one request against every `(bucket, limit)`, in one round trip.
async fn decide<const N: usize>(limits: &RateLimits, buckets: [(&str, u32); N]) -> [Outcome; N] {
    match limits.limiter.hit_all(&buckets, limits.window).await {
        Ok(decisions) => std::array::from_fn(|index| match decisions.get(index) {
            Some(decision) if decision.allowed => Outcome::Pass(Some(*decision)),
            Some(decision) => Outcome::Over(*decision),
            None => Outcome::Pass(None),
        }),
        Err(error) if limits.fail_open => {
            tracing::warn!(%error, "rate limiter unavailable, letting the request through");
            [Outcome::Pass(None); N]
        }
        Err(error) => {
            tracing::warn!(%error, "rate limiter unavailable, refusing the request");
            [Outcome::Unavailable; N]
        }
    }
}

fn unavailable() -> Response {
    ApiError::unavailable("rate limiting is unavailable, try again").into_response()
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

/// Counts every `/api/v1` request but the OpenAPI document against its address, first of
/// all, and reports the most constraining of its decision and the caller's
/// ([`CallerLimit`]) in the response's headers. A request whose API key is known without a
/// lookup (`auth::cached_key`) has the key counted in the same round trip, for
/// [`CallerLimit`] to apply: one wait for Redis instead of two.
#[derive(Clone)]
pub struct AddressLimit {
    state: AppState,
    endpoints: Endpoints,
}

impl AddressLimit {
    pub fn new(state: &AppState, endpoints: &Endpoints) -> Self {
        Self {
            state: state.clone(),
            endpoints: endpoints.clone(),
        }
    }
}

impl Step for AddressLimit {
    async fn run<S: Inner>(&self, mut request: Request, next: Next<S>) -> Response {
        let path = request.uri().path();
        let api = path == "/api/v1" || path.starts_with("/api/v1/");
        let caller = match self.endpoints.of(&request) {
            _ if !api => return next.run(request).await,
            Some(endpoint) if endpoint.caller == Caller::Anyone => {
                return next.run(request).await;
            }
            Some(endpoint) if endpoint.caller == Caller::Unauthenticated => None,
            _ => auth::cached_key(&self.state, request.headers()),
        };
        let Some(ip) = client_ip(&request) else {
            return next.run(request).await;
        };
        let limits = &self.state.limits;
        let address = ip_bucket(ip);
        let address = match &caller {
            None => decide(limits, [(&address, limits.per_ip)]).await[0],
            Some(key) => {
                let key_limit = limits.per_caller(key.record.rate_tier);
                let [address, counted] = decide(
                    limits,
                    [(&address, limits.per_ip), (&key.bucket, key_limit)],
                )
                .await;
                request.extensions_mut().insert(CallerCounted {
                    bucket: key.bucket.clone(),
                    outcome: counted,
                });
                address
            }
        };
        let address = match address {
            Outcome::Pass(decision) => decision,
            Outcome::Over(decision) => return too_many(decision),
            Outcome::Unavailable => return unavailable(),
        };
        let mut response = next.run(request).await;
        let caller = response
            .extensions_mut()
            .remove::<CallerDecision>()
            .and_then(|CallerDecision(decision)| decision);
        let decisions: Vec<RateDecision> = address.into_iter().chain(caller).collect();
        if let Some(decision) = binding(&decisions) {
            set_headers(response.headers_mut(), &decision);
        }
        response
    }
}

/// A caller's bucket counted with the address, and how that went.
#[derive(Clone)]
struct CallerCounted {
    bucket: String,
    outcome: Outcome,
}

/// What [`CallerLimit`] decided, for [`AddressLimit`] to report.
#[derive(Clone, Copy)]
struct CallerDecision(Option<RateDecision>);

/// Counts an authenticated request against its API key or session, at the limit of the
/// caller's organization's tier, unless [`AddressLimit`] counted it already; answers a caller
/// over the limit.
#[derive(Clone)]
pub struct CallerLimit {
    limits: RateLimits,
}

impl CallerLimit {
    pub fn new(state: &AppState) -> Self {
        Self {
            limits: state.limits.clone(),
        }
    }
}

impl Step for CallerLimit {
    async fn run<S: Inner>(&self, request: Request, next: Next<S>) -> Response {
        let Some(principal) = request.extensions().get::<Principal>() else {
            return next.run(request).await;
        };
        let bucket = principal.bucket();
        let counted = request
            .extensions()
            .get::<CallerCounted>()
            .filter(|counted| counted.bucket == bucket)
            .map(|counted| counted.outcome);
        let outcome = match counted {
            Some(outcome) => outcome,
            None => {
                let limit = self.limits.per_caller(principal.rate_tier);
                decide(&self.limits, [(&bucket, limit)]).await[0]
            }
        };
        let (mut response, decision) = match outcome {
            Outcome::Pass(decision) => (next.run(request).await, decision),
            Outcome::Over(decision) => (too_many(decision), Some(decision)),
            Outcome::Unavailable => (unavailable(), None),
        };
        response.extensions_mut().insert(CallerDecision(decision));
        response
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
