//! Rate limiting at the gateway, against the real fleet and Redis: the headers, the 429, the
//! separate buckets per API key and per client address, and both policies when the limiter's
//! Redis goes away.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use s4e_e2e::{Fleet, RedisProxy};
use s4e_test_support::wait_for;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(15);

fn header(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn get_assets(fleet: &Fleet, key: &str) -> Response {
    fleet
        .http
        .get(fleet.api("/assets"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// A fleet whose gateway allows `per_key` requests per key or session and `per_ip` per address
/// in a window.
async fn fleet_with_limits(per_key: u32, per_ip: u32) -> Fleet {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_core(|config| {
            config.settings.rate_limit_per_key = per_key;
            config.settings.rate_limit_per_ip = per_ip;
        })
        .await
        .unwrap();
    fleet
}

#[tokio::test]
async fn each_api_key_has_its_own_limit_and_the_next_request_gets_429() {
    let fleet = fleet_with_limits(5, 1000).await;

    let mut previous = None;
    for expected in (0..5).rev() {
        let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(5));
        let remaining = header(&response, "x-ratelimit-remaining").unwrap();
        assert_eq!(remaining, expected);
        if let Some(previous) = previous {
            assert!(remaining < previous);
        }
        previous = Some(remaining);
        let reset = header(&response, "x-ratelimit-reset").unwrap();
        assert!((1..=60).contains(&reset), "reset {reset}");
    }

    // The sixth request in the window is refused, and says when to come back.
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&response, "retry-after").unwrap();
    assert!((1..=60).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(0));
    assert_eq!(error_code(response).await, "rate_limited");

    // Another organization's key has its own bucket.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = get_assets(&fleet, &other).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(4));

    // The first key stays refused; the document and the probes are not limited.
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    for path in ["/api/v1/openapi.json", "/healthz", "/readyz"] {
        let response = fleet
            .http
            .get(format!("{}{path}", fleet.core.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers().get("x-ratelimit-limit").is_none(),
            "{path}"
        );
    }
    // Other methods on an open route are open too: a HEAD is answered, a wrong method is 405.
    let openapi = format!("{}/api/v1/openapi.json", fleet.core.url());
    let response = fleet.http.head(&openapi).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = fleet
        .http
        .delete(fleet.api("/signup"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn every_api_request_counts_against_the_client_address() {
    let fleet = fleet_with_limits(1000, 3).await;

    // Refused by authentication, yet counted.
    for expected in [2, 1] {
        let response = fleet.http.get(fleet.api("/assets")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(3));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(expected));
    }
    // An authenticated request from the same address reports the tighter (address) bucket.
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(3));
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(0));

    // Over the address limit: with or without a key, and on unknown routes.
    let response = fleet.http.get(fleet.api("/assets")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&response, "retry-after").is_some());
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(response).await, "rate_limited");
    let response = fleet.http.get(fleet.api("/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    fleet.stop().await.unwrap();
}

/// How many times base was asked for an API key by its hash, from base's own metrics.
async fn key_lookups(fleet: &Fleet) -> u64 {
    let text = fleet
        .http
        .get(format!("{}/metrics", fleet.base.url()))
        .header("x-s4e-service-token", &fleet.env.service_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with("s4e_http_requests_total{")
                && line.contains("route=\"/internal/v1/api-keys/{key_hash}\"")
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn a_flood_of_wrong_keys_over_the_address_limit_costs_base_no_lookup() {
    let fleet = fleet_with_limits(1000, 3).await;
    let before = key_lookups(&fleet).await;
    // Well-formed keys that exist nowhere: each is looked up in base, and refused.
    for _ in 0..3 {
        let wrong = s4e_core::api_key::generate().key;
        let response = get_assets(&fleet, &wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(key_lookups(&fleet).await, before + 3);
    // Over the address's limit they are refused before authentication.
    for _ in 0..10 {
        let wrong = s4e_core::api_key::generate().key;
        let response = get_assets(&fleet, &wrong).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(key_lookups(&fleet).await, before + 3);
    fleet.stop().await.unwrap();
}

/// A fleet whose gateway's rate limiter reaches Redis through a proxy, limits checked working.
async fn fleet_with_limiter_behind_proxy(fail_open: bool) -> (Fleet, RedisProxy) {
    let mut fleet = Fleet::start().await.unwrap();
    let proxy = RedisProxy::start(&fleet.env.redis_url).await;
    let url = proxy.url.clone();
    fleet
        .restart_core(move |config| {
            config.settings.rate_limit_per_key = 1000;
            config.settings.rate_limit_per_ip = 1000;
            config.settings.rate_limit_fail_open = fail_open;
            config.settings.rate_limit_redis_url = Some(url);
        })
        .await
        .unwrap();
    let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(1000));
    (fleet, proxy)
}

#[tokio::test]
async fn with_redis_away_fail_open_lets_requests_through() {
    let (fleet, proxy) = fleet_with_limiter_behind_proxy(true).await;
    proxy.cut();
    // Once the limiter notices, requests pass without rate-limit headers.
    wait_for("requests to pass unlimited", DEADLINE, || async {
        let response = fleet.request(Method::GET, "/assets").send().await.ok()?;
        assert_eq!(response.status(), StatusCode::OK);
        response
            .headers()
            .get("x-ratelimit-limit")
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    for _ in 0..3 {
        let response = fleet.request(Method::GET, "/assets").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn with_redis_away_fail_closed_answers_503() {
    let (fleet, proxy) = fleet_with_limiter_behind_proxy(false).await;
    proxy.cut();
    let response = wait_for("requests to be refused", DEADLINE, || async {
        let response = fleet.request(Method::GET, "/assets").send().await.ok()?;
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await
    .unwrap();
    assert_eq!(error_code(response).await, "unavailable");
    // Unauthenticated requests too; the probes still answer (the gateway's own Redis is up).
    let response = fleet.http.get(fleet.api("/assets")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = fleet
        .http
        .get(format!("{}/healthz", fleet.core.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_organizations_tier_multiplies_its_keys_limit() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_core(|config| {
            config.settings.rate_limit_per_key = 5;
            config.settings.rate_limit_per_ip = 1000;
            // Every request looks the key up again, so a tier change shows at once.
            config.settings.api_key_cache_seconds = 0;
        })
        .await
        .unwrap();
    let response = fleet.request(Method::GET, "/me").send().await.unwrap();
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(5));
    let me: Value = response.json().await.unwrap();
    let org_id: s4e_types::OrgId = me["org_id"].as_str().unwrap().parse().unwrap();

    let base = s4e_client::BaseClient::new(&fleet.base.url(), &fleet.env.service_token).unwrap();
    let organization = base
        .set_rate_tier(org_id, s4e_types::api::RateTier::Professional)
        .await
        .unwrap();
    assert_eq!(
        organization.rate_tier,
        s4e_types::api::RateTier::Professional
    );
    let response = fleet.request(Method::GET, "/me").send().await.unwrap();
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(20));
    // Another organization stays at the standard limit.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = get_assets(&fleet, &other).await;
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(5));
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_session_request_refused_after_it_was_counted_is_counted_once() {
    let fleet = fleet_with_limits(1000, 20).await;
    let password = "a long enough passphrase";
    s4e_core::create_organization(
        &fleet.base.url(),
        &fleet.env.service_token,
        "Counted",
        "owner@counted.example",
        password,
        false,
    )
    .await
    .unwrap();
    let response = fleet
        .http
        .post(fleet.api("/auth/login"))
        .json(&serde_json::json!({"email": "owner@counted.example", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = s4e_e2e::session_cookie(&response);
    let with_cookie = |method: Method, path: &str| {
        fleet
            .http
            .request(method, fleet.api(path))
            .header("cookie", &cookie)
    };

    let response = with_cookie(Method::GET, "/me").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let remaining = header(&response, "x-ratelimit-remaining").unwrap();
    // The address is counted before the session is read, then the missing CSRF token refuses
    // the request: it is answered with the address's headers, and counted once.
    let response = with_cookie(Method::POST, "/assets")
        .json(&serde_json::json!({"kind": "url", "value": "http://127.0.0.1:9/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&response, "x-ratelimit-limit"), Some(20));
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        Some(remaining - 1)
    );
    let response = with_cookie(Method::GET, "/me").send().await.unwrap();
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        Some(remaining - 2)
    );
    fleet.stop().await.unwrap();
}

/// A request with the admin key, as forwarded by a proxy on behalf of `client`.
async fn get_assets_for(fleet: &Fleet, forwarded_for: &str) -> Response {
    fleet
        .request(Method::GET, "/assets")
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_address_limit() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_core(|config| {
            config.settings.rate_limit_per_ip = 2;
            // The test's requests come from 127.0.0.1: it plays the Ingress controller.
            config.settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .await
        .unwrap();

    for expected in [1, 0] {
        let response = get_assets_for(&fleet, "198.51.100.1").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(expected));
    }
    assert_eq!(
        get_assets_for(&fleet, "198.51.100.1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy has a bucket of its own…
    let response = get_assets_for(&fleet, "198.51.100.2").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(1));
    // …and the first cannot escape its own by writing another address in front of it.
    assert_eq!(
        get_assets_for(&fleet, "203.0.113.9, 198.51.100.1")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The audit log records the client, not the proxy.
    let response = fleet
        .request(Method::POST, "/assets")
        .header("x-forwarded-for", "198.51.100.2")
        .json(&serde_json::json!({"kind": "domain", "value": "proxied.example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let entries = fleet.get_json("/audit-log?action=assets.create").await;
    assert_eq!(entries["items"][0]["ip"], "198.51.100.2", "{entries}");

    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_is_ignored() {
    let fleet = fleet_with_limits(1000, 2).await;
    // Every request names another client; all of them count against the TCP peer.
    for (client, status) in [
        ("198.51.100.1", StatusCode::OK),
        ("198.51.100.2", StatusCode::OK),
        ("198.51.100.3", StatusCode::TOO_MANY_REQUESTS),
    ] {
        assert_eq!(
            get_assets_for(&fleet, client).await.status(),
            status,
            "{client}"
        );
    }
    fleet.stop().await.unwrap();
}
