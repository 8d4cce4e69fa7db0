//! Asset ownership verification through the fleet: unverified assets get one passive check,
//! a published token verifies them (file or meta tag), a verified domain covers its URLs and
//! subdomains, losing the proof loses the verification, and redirects cannot lead the verifier
//! into refused ranges.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use reqwest::Method;
use s4e_e2e::Fleet;
use s4e_test_dns::Rec;
use serde_json::{Value, json};

/// A site whose verification file and page the test edits.
#[derive(Clone, Default)]
struct Site {
    file: Arc<Mutex<String>>,
    page: Arc<Mutex<String>>,
}

async fn serve(site: Site) -> String {
    serve_until(site, s4e_runtime::CancellationToken::new()).await
}

/// As [`serve`], until `down` is cancelled; then the port refuses connections.
async fn serve_until(site: Site, down: s4e_runtime::CancellationToken) -> String {
    let app = Router::new()
        .route(
            "/.well-known/s4e-verification.txt",
            get(|State(site): State<Site>| async move {
                let file = site.file.lock().unwrap().clone();
                if file.is_empty() {
                    StatusCode::NOT_FOUND.into_response()
                } else {
                    file.into_response()
                }
            }),
        )
        .route(
            "/",
            get(|State(site): State<Site>| async move { Html(site.page.lock().unwrap().clone()) }),
        )
        .with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { down.cancelled().await })
            .await
    });
    url
}

/// A scheduler that re-verifies anything proven more than a second ago, every second, with an
/// hour's grace for assets that cannot be reached.
async fn eager_scheduler(fleet: &Fleet) -> s4e_runtime::Served {
    use s4e_runtime::Service;
    s4e_scheduler::Config {
        common: fleet.common(),
        base: s4e_runtime::BaseUrl {
            url: fleet.base.url(),
        },
        scan: s4e_runtime::ScanUrl {
            url: fleet.scan.url(),
        },
        reverify_after_seconds: 1,
        reverify_poll_seconds: 1,
        reverify_grace_seconds: 3600,
        schedule_poll_seconds: 3600,
        schedule_lease_seconds: 120,
    }
    .spawn(s4e_test_support::listener().await)
    .unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn create(fleet: &Fleet, kind: &str, value: &str) -> Value {
    let response = fleet
        .request(Method::POST, "/assets")
        .json(&json!({"kind": kind, "value": value}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    json_of(response).await
}

async fn scan(fleet: &Fleet, asset: &Value, checks: Option<Value>) -> StatusCode {
    let mut body = json!({"asset_id": asset["id"]});
    if let Some(checks) = checks {
        body["checks"] = checks;
    }
    fleet
        .request(Method::POST, "/scans")
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn verify(fleet: &Fleet, asset: &Value, body: Value) -> reqwest::Response {
    fleet
        .request(
            Method::POST,
            &format!("/assets/{}/verify", asset["id"].as_str().unwrap()),
        )
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_verified_assets_are_scanned_in_earnest() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_scan(|config| config.require_ownership_verification = true)
        .await
        .unwrap();
    let site = Site::default();
    let url = serve(site.clone()).await;
    let asset = create(&fleet, "url", &url).await;
    let token = asset["verification_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(asset["verified_at"], Value::Null);

    // Unverified: one passive check, nothing more.
    assert_eq!(scan(&fleet, &asset, None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        scan(&fleet, &asset, Some(json!(["ports"]))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        scan(
            &fleet,
            &asset,
            Some(json!(["http_headers", "tls_certificate"]))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        scan(&fleet, &asset, Some(json!(["http_headers"]))).await,
        StatusCode::ACCEPTED
    );

    // Nothing published yet: every web method says why it did not prove anything.
    let outcome = json_of(verify(&fleet, &asset, json!({})).await).await;
    assert_eq!(outcome["verified"], false, "{outcome}");
    let attempts = outcome["attempts"].as_array().unwrap();
    let methods: Vec<&str> = attempts
        .iter()
        .map(|a| a["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["http_file", "meta_tag"],
        "an IP URL has no DNS method"
    );
    assert!(
        attempts[0]["detail"].as_str().unwrap().contains("404"),
        "{outcome}"
    );

    // The file proves it; the full scan is then accepted.
    *site.file.lock().unwrap() = format!("{token}\n");
    let outcome = json_of(verify(&fleet, &asset, json!({"method": "http_file"})).await).await;
    assert_eq!(outcome["verified"], true, "{outcome}");
    assert_eq!(outcome["asset"]["verification_method"], "http_file");
    assert!(outcome["asset"]["verified_at"].is_string());
    assert_eq!(scan(&fleet, &asset, None).await, StatusCode::ACCEPTED);

    // Proof withdrawn: verification is lost at the next attempt, and full scans stop.
    site.file.lock().unwrap().clear();
    let outcome = json_of(verify(&fleet, &asset, json!({"method": "http_file"})).await).await;
    assert_eq!(outcome["verified"], false);
    assert_eq!(outcome["asset"]["verified_at"], Value::Null);
    assert_eq!(scan(&fleet, &asset, None).await, StatusCode::FORBIDDEN);

    // The meta tag proves it too.
    *site.page.lock().unwrap() =
        format!(r#"<html><head><meta name="s4e-verification" content="{token}"></head></html>"#);
    let outcome = json_of(verify(&fleet, &asset, json!({"method": "meta_tag"})).await).await;
    assert_eq!(outcome["verified"], true, "{outcome}");
    assert_eq!(outcome["asset"]["verification_method"], "meta_tag");

    // A method that does not apply, and another organization's asset.
    let response = verify(&fleet, &asset, json!({"method": "dns_txt"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = verify(&fleet, &asset, json!({"method": "carrier_pigeon"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = fleet
        .http
        .post(fleet.api(&format!("/assets/{}/verify", asset["id"].as_str().unwrap())))
        .bearer_auth(&other)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let log = json_of(
        fleet
            .request(Method::GET, "/audit-log?action=assets.verify")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Four verifications and two refused requests, each on the asset; none from the other
    // organization's attempt.
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 6, "{log}");
    assert!(
        entries.iter().all(|e| e["resource_id"] == asset["id"]),
        "{log}"
    );
    assert_eq!(entries.iter().filter(|e| e["outcome"] == 400).count(), 2);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_verified_domain_covers_its_subdomains_and_urls() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_scan(|config| config.require_ownership_verification = true)
        .await
        .unwrap();
    let domain = create(&fleet, "domain", "example.test").await;
    let token = domain["verification_token"].as_str().unwrap();
    let covered_sub = create(&fleet, "domain", "shop.example.test").await;
    let covered_url = create(&fleet, "url", "https://api.example.test/v1/").await;
    let lookalike = create(&fleet, "domain", "example.test.evil.test").await;
    assert_eq!(
        scan(&fleet, &covered_sub, None).await,
        StatusCode::FORBIDDEN
    );

    // The zone answers, but with someone else's token; then the resolver fails; then the
    // record is there.
    fleet
        .dns
        .add("example.test", Rec::txt("s4e-verification=not-this-one"));
    let outcome = json_of(verify(&fleet, &domain, json!({"method": "dns_txt"})).await).await;
    assert_eq!(outcome["verified"], false, "{outcome}");
    fleet.dns.fail("example.test");
    let outcome = json_of(verify(&fleet, &domain, json!({"method": "dns_txt"})).await).await;
    assert_eq!(outcome["verified"], false, "{outcome}");
    let detail = outcome["attempts"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("failed"), "{detail}");
    fleet.dns.heal("example.test");
    fleet.dns.add(
        "example.test",
        Rec::txt(&format!("s4e-verification={token}")),
    );
    let outcome = json_of(verify(&fleet, &domain, json!({"method": "dns_txt"})).await).await;
    assert_eq!(outcome["verified"], true, "{outcome}");
    assert_eq!(outcome["asset"]["verification_method"], "dns_txt");
    assert_eq!(scan(&fleet, &covered_sub, None).await, StatusCode::ACCEPTED);
    assert_eq!(scan(&fleet, &covered_url, None).await, StatusCode::ACCEPTED);
    assert_eq!(scan(&fleet, &lookalike, None).await, StatusCode::FORBIDDEN);
    // Another organization's verified domain covers nothing of this one, and vice versa.
    let other = s4e_core::create_admin_key(&fleet.base.url(), &fleet.env.service_token, "other")
        .await
        .unwrap();
    let response = fleet
        .http
        .post(fleet.api("/assets"))
        .bearer_auth(&other)
        .json(&json!({"kind": "domain", "value": "www.example.test"}))
        .send()
        .await
        .unwrap();
    let theirs = json_of(response).await;
    let response = fleet
        .http
        .post(fleet.api("/scans"))
        .bearer_auth(&other)
        .json(&json!({"asset_id": theirs["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_redirect_cannot_lead_verification_to_the_metadata_service() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_scan(|config| config.require_ownership_verification = true)
        .await
        .unwrap();
    let app = Router::new().fallback(|| async {
        (
            StatusCode::FOUND,
            [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")],
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let asset = create(&fleet, "url", &url).await;
    let outcome = json_of(verify(&fleet, &asset, json!({})).await).await;
    assert_eq!(outcome["verified"], false);
    for attempt in outcome["attempts"].as_array().unwrap() {
        let detail = attempt["detail"].as_str().unwrap();
        assert!(detail.contains("169.254.169.254"), "{detail}");
        assert!(detail.contains("refusing"), "{detail}");
    }
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn the_scheduler_proves_ownership_again_and_withdraws_it_when_the_proof_is_gone() {
    let mut fleet = Fleet::start().await.unwrap();
    fleet
        .restart_scan(|config| config.require_ownership_verification = true)
        .await
        .unwrap();
    let site = Site::default();
    let url = serve(site.clone()).await;
    let asset = create(&fleet, "url", &url).await;
    *site.file.lock().unwrap() = asset["verification_token"].as_str().unwrap().to_string();
    let outcome = json_of(verify(&fleet, &asset, json!({"method": "http_file"})).await).await;
    assert_eq!(outcome["verified"], true);
    let first_proof = outcome["asset"]["verified_at"]
        .as_str()
        .unwrap()
        .to_string();

    let scheduler = eager_scheduler(&fleet).await;
    let asset_path = format!("/assets/{}", asset["id"].as_str().unwrap());
    let current = || async {
        json_of(
            fleet
                .request(Method::GET, &asset_path)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    // Still published: proven again (a later proof time), still verified.
    s4e_test_support::wait_for(
        "a second proof",
        std::time::Duration::from_secs(20),
        || async {
            let now = current().await;
            let at = now["verified_at"].as_str()?.to_string();
            (at != first_proof).then_some(())
        },
    )
    .await
    .unwrap();
    // Withdrawn: the next re-verification removes the verification, and full scans stop.
    site.file.lock().unwrap().clear();
    s4e_test_support::wait_for(
        "the proof to be withdrawn",
        std::time::Duration::from_secs(20),
        || async { current().await["verified_at"].is_null().then_some(()) },
    )
    .await
    .unwrap();
    assert_eq!(scan(&fleet, &asset, None).await, StatusCode::FORBIDDEN);
    scheduler.stop().await.unwrap();
    fleet.stop().await.unwrap();
}

/// A site that cannot be reached at all keeps its proof through re-verification (an outage is
/// not a withdrawn token), while an owner's own request withdraws it at once.
#[tokio::test]
async fn an_unreachable_asset_keeps_its_proof_through_re_verification() {
    let fleet = Fleet::start().await.unwrap();
    let site = Site::default();
    let down = s4e_runtime::CancellationToken::new();
    let url = serve_until(site.clone(), down.clone()).await;
    let asset = create(&fleet, "url", &url).await;
    *site.file.lock().unwrap() = asset["verification_token"].as_str().unwrap().to_string();
    let outcome = json_of(verify(&fleet, &asset, json!({"method": "http_file"})).await).await;
    assert_eq!(outcome["verified"], true);
    assert_eq!(outcome["attempts"][0]["reached"], true);
    let proven_at = outcome["asset"]["verified_at"].clone();

    down.cancel();
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    s4e_test_support::wait_for(
        "the site to refuse connections",
        std::time::Duration::from_secs(10),
        || async {
            tokio::net::TcpStream::connect(&address)
                .await
                .is_err()
                .then_some(())
        },
    )
    .await
    .unwrap();

    let scheduler = eager_scheduler(&fleet).await;
    s4e_test_support::wait_for(
        "two re-verifications that reach nothing",
        std::time::Duration::from_secs(20),
        || async {
            let text = fleet.metrics_text(&scheduler.url()).await?;
            let line = text.lines().find(|line| {
                line.starts_with("s4e_scheduler_reverifications_total{outcome=\"unreachable\"}")
            })?;
            let count: f64 = line.rsplit(' ').next()?.parse().ok()?;
            (count >= 2.0).then_some(())
        },
    )
    .await
    .unwrap();
    scheduler.stop().await.unwrap();
    let asset_path = format!("/assets/{}", asset["id"].as_str().unwrap());
    let current = json_of(
        fleet
            .request(Method::GET, &asset_path)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        current["verified_at"], proven_at,
        "the proof is kept as it was"
    );

    // The owner asking gets no grace: nothing answers, so the proof goes.
    let outcome = json_of(verify(&fleet, &asset, json!({})).await).await;
    assert_eq!(outcome["verified"], false, "{outcome}");
    for attempt in outcome["attempts"].as_array().unwrap() {
        assert_eq!(attempt["reached"], false, "{attempt}");
    }
    assert!(outcome["asset"]["verified_at"].is_null());
    fleet.stop().await.unwrap();
}
