//! The exposure check against servers with exposed files, soft-404 servers that answer every
//! path with the same page, and a server with nothing to find.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use s4e_checks::{CheckOutput, ProbeLog, Target, exposure};
use s4e_types::{CheckKind, Severity};
use tokio::sync::watch;

use crate::support::{self, TIMEOUT, context, lax};

/// (rule, path) of every finding.
fn found(output: &CheckOutput<ProbeLog>, server: &support::Server) -> BTreeSet<(String, String)> {
    let root = server.url("http");
    output
        .findings
        .iter()
        .map(|f| {
            let path = f
                .location
                .strip_prefix(root.trim_end_matches('/'))
                .unwrap_or(&f.location);
            (f.rule.clone(), path.to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected
        .iter()
        .map(|(rule, path)| ((*rule).to_owned(), (*path).to_owned()))
        .collect()
}

async fn scan(server: &support::Server) -> CheckOutput<ProbeLog> {
    exposure::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs")
}

const HOME: &str = "<!doctype html><html><head><title>Shop</title></head><body>\
    <h1>Welcome</h1><p>Cheap gadgets, fast delivery.</p></body></html>";

fn binary(bytes: &'static [u8]) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes)
}

/// One exposed path per rule family; everything else is a real 404.
fn leaky() -> Router {
    Router::new()
        .route("/.git/HEAD", get(|| async { "ref: refs/heads/main\n" }))
        .route(
            "/.env",
            get(|| async {
                "APP_ENV=production\nDB_PASSWORD=hunter2-s3cr3t\nAPP_KEY=base64:abc\n"
            }),
        )
        .route(
            "/backup.zip",
            get(|| async { binary(b"PK\x03\x04\x14\0\0\0") }),
        )
        .route(
            "/.htpasswd",
            get(|| async { "admin:$apr1$xyz$0123456789abcdefghijkl\n" }),
        )
        .route(
            "/server-status",
            get(|| async {
                "<html><head><title>Apache Status</title></head><body>\
                 <h1>Apache Server Status for shop.example</h1><dl>\
                 <dt>Current Time: Monday</dt><dt>Server uptime: 3 days</dt></dl></body></html>"
            }),
        )
        .route(
            "/phpinfo.php",
            get(|| async {
                "<html><head><title>PHP 7.4.3 - phpinfo()</title></head><body>\
                 <h1>PHP Version 7.4.3</h1><p>Zend Engine v3.4.0</p></body></html>"
            }),
        )
        .route(
            "/.DS_Store",
            get(|| async { binary(b"\0\0\0\x01Bud1\0\0\x10\0") }),
        )
        .route(
            "/openapi.json",
            get(|| async { r#"{"openapi": "3.0.3", "info": {"title": "Shop"}, "paths": {}}"# }),
        )
        .route(
            "/actuator/heapdump",
            get(|| async { binary(b"JAVA PROFILE 1.0.2\0\0\0\0\x08") }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "<html><body>Not Found</body></html>") })
}

#[tokio::test]
async fn every_exposed_family_is_found_at_its_own_location() {
    let server = support::http_app(leaky()).await;
    let output = scan(&server).await;
    assert_eq!(
        found(&output, &server),
        pairs(&[
            ("git_repository_exposed", "/.git/HEAD"),
            ("env_file_exposed", "/.env"),
            ("backup_file_exposed", "/backup.zip"),
            ("password_file_exposed", "/.htpasswd"),
            ("server_status_exposed", "/server-status"),
            ("phpinfo_exposed", "/phpinfo.php"),
            ("ds_store_exposed", "/.DS_Store"),
            ("api_documentation_exposed", "/openapi.json"),
            ("debug_endpoint_exposed", "/actuator/heapdump"),
        ])
    );
    let by_path = |path: &str| {
        output
            .findings
            .iter()
            .find(|f| f.location.ends_with(path))
            .unwrap_or_else(|| panic!("no finding at {path}"))
    };
    let env = by_path("/.env");
    assert_eq!(env.check, CheckKind::Exposure);
    assert_eq!(env.severity, Severity::Critical);
    assert_eq!(env.location, format!("http://{}/.env", server.addr));
    // The proof names the keys, never the values.
    assert_eq!(
        env.evidence["proof"],
        "environment file defining APP_ENV, DB_PASSWORD, APP_KEY"
    );
    assert!(
        !output
            .findings
            .iter()
            .any(|f| f.evidence.to_string().contains("s3cr3t"))
    );
    assert_eq!(by_path("/actuator/heapdump").severity, Severity::Critical);
    assert_eq!(by_path("/server-status").severity, Severity::Medium);
    assert_eq!(by_path("/.DS_Store").severity, Severity::Low);
    assert_eq!(by_path("/openapi.json").severity, Severity::Info);

    // Two baselines, then each path once; the log is small.
    let log = &output.raw.requests;
    assert_eq!(log.iter().filter(|r| r.probe == "baseline").count(), 2);
    assert_eq!(log.iter().filter(|r| r.url.ends_with("/.env")).count(), 1);
    assert!(log.iter().all(|r| r.method == "GET"));
    assert_eq!(server.requests().len(), log.len());
    let raw = serde_json::to_value(&output.raw).expect("raw serialises");
    assert!(
        raw.to_string().len() < 8 * 1024,
        "{} bytes",
        raw.to_string().len()
    );
}

#[tokio::test]
async fn a_well_configured_server_has_no_findings() {
    // Dotfiles are forbidden, everything else unknown is a 404, and the home page is there.
    let app = Router::new()
        .route("/", get(|| async { axum::response::Html(HOME) }))
        .fallback(|uri: Uri| async move {
            if uri.path().starts_with("/.") {
                (StatusCode::FORBIDDEN, "Forbidden")
            } else {
                (StatusCode::NOT_FOUND, "Not Found")
            }
        });
    let server = support::http_app(app).await;
    let output = scan(&server).await;
    assert_eq!(output.findings, []);
    assert!(output.raw.requests.len() > 20);
}

/// Answers every path with 200 and `page(path)`.
fn soft_404(page: fn(&str) -> String) -> Router {
    Router::new().fallback(move |uri: Uri| async move { page(uri.path()) })
}

#[tokio::test]
async fn soft_404_servers_have_no_findings() {
    // Pages that would pass the validators, served for every path alike.
    for page in [
        (|_: &str| "ref: refs/heads/main\n".to_owned()) as fn(&str) -> String,
        |_| HOME.replace("Welcome", "Welcome ref: refs/heads/main [core] bare = true"),
        |path| format!("APP_ENV=production\nAPP_KEY=base64:x\nREQUESTED={path}\n"),
        |path| format!("<html><body><p>No page at {path}; ref: refs/heads/main</p></body></html>"),
    ] {
        let server = support::http_app(soft_404(page)).await;
        let output = scan(&server).await;
        assert_eq!(output.findings, [], "{}", page("/.git/HEAD"));
        assert!(output.raw.requests.iter().all(|r| r.status == Some(200)));
    }
}

#[tokio::test]
async fn a_real_file_behind_a_soft_404_site_is_found() {
    let app = Router::new()
        .route("/.git/HEAD", get(|| async { "ref: refs/heads/main\n" }))
        .route(
            "/.git/config",
            get(|| async { "[core]\n\trepositoryformatversion = 0\n\tbare = false\n" }),
        )
        .fallback(|| async { axum::response::Html(HOME) });
    let server = support::http_app(app).await;
    let output = scan(&server).await;
    assert_eq!(
        found(&output, &server),
        pairs(&[
            ("git_repository_exposed", "/.git/HEAD"),
            ("git_repository_exposed", "/.git/config"),
        ])
    );
}

#[tokio::test]
async fn django_debug_pages_are_found_on_the_baseline() {
    let page = "<html><body><h1>Page not found <span>(404)</span></h1>\
        <p>You're seeing this error because you have <code>DEBUG = True</code> in your \
        Django settings file.</p></body></html>";
    // Django serves it with 404, on every unknown path: one finding, at the site's root.
    let app = Router::new().fallback(move || async move { (StatusCode::NOT_FOUND, page) });
    let server = support::http_app(app).await;
    let output = scan(&server).await;
    assert_eq!(
        found(&output, &server),
        pairs(&[("debug_endpoint_exposed", "/")])
    );
    assert_eq!(
        output.findings.len(),
        1,
        "both baselines show it, reported once"
    );
    assert_eq!(output.findings[0].title, "Django debug mode on");
    assert_eq!(output.findings[0].evidence["status"], 404);
    assert_eq!(output.findings[0].severity, Severity::Medium);
}

/// Holds each probe request until `CONCURRENCY` are in flight at once (or a deadline
/// passes), recording the most ever in flight.
#[tokio::test]
async fn at_most_eight_requests_are_in_flight() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (full_tx, full_rx) = watch::channel(false);
    let full_tx = Arc::new(full_tx);
    let (in_flight_app, most_app) = (in_flight.clone(), most.clone());
    let app = Router::new().fallback(move |request: Request| {
        let (in_flight, most) = (in_flight_app.clone(), most_app.clone());
        let (full_tx, mut full_rx) = (full_tx.clone(), full_rx.clone());
        async move {
            let baseline = request
                .uri()
                .path()
                .trim_start_matches("/.")
                .trim_start_matches('/')
                .trim_end_matches(".bak")
                .chars()
                .all(|c| c.is_ascii_hexdigit());
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            if now >= exposure::CONCURRENCY {
                full_tx.send_replace(true);
            }
            if !baseline {
                let wait = full_rx.wait_for(|full| *full);
                let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (StatusCode::NOT_FOUND, "Not Found")
        }
    });
    let server = support::http_app(app).await;
    let started = Instant::now();
    let output = scan(&server).await;
    assert_eq!(output.findings, []);
    assert_eq!(most.load(Ordering::SeqCst), exposure::CONCURRENCY);
    // The requests were released by reaching the bound, not by the fallback deadline.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
