//! The HTTP probes check against servers that answer CORS, TRACE, OPTIONS and plain HTTP in
//! the ways the rules look for, and one that answers all of them well.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use s4e_checks::{CheckOutput, ProbeLog, Target, http_probes};
use s4e_types::{CheckKind, Severity};

use crate::support::{self, TIMEOUT, context, lax};

fn rules(output: &CheckOutput<ProbeLog>) -> BTreeSet<&str> {
    output.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().expect("ip")
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A page whose CORS headers `cors` decides from the request's Origin.
fn cors_app(cors: fn(Option<&str>) -> Vec<(&'static str, String)>) -> Router {
    Router::new().fallback(move |headers: HeaderMap| async move {
        let mut response = "<html><body>api</body></html>".into_response();
        for (name, value) in cors(origin(&headers).as_deref()) {
            response
                .headers_mut()
                .insert(name, value.parse().expect("header value"));
        }
        response
    })
}

async fn probe(server: &support::Server, scheme: &str) -> CheckOutput<ProbeLog> {
    http_probes::run(&Target::new(server.url(scheme)), &context(lax(), TIMEOUT))
        .await
        .expect("check runs")
}

#[tokio::test]
async fn a_reflected_origin_with_credentials_is_high() {
    let server = support::https_app(
        localhost(),
        cors_app(|origin| match origin {
            Some(origin) => vec![
                ("access-control-allow-origin", origin.to_owned()),
                ("access-control-allow-credentials", "true".to_owned()),
            ],
            None => vec![],
        }),
    )
    .await;
    let output = probe(&server, "https").await;
    assert_eq!(
        rules(&output),
        BTreeSet::from(["cors_arbitrary_origin_reflected"])
    );
    let finding = &output.findings[0];
    assert_eq!(finding.check, CheckKind::HttpProbes);
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.location, server.url("https"));
    // The origin sent is random, and a name under .example that nobody can own.
    let sent: Vec<String> = server
        .requests()
        .into_iter()
        .filter_map(|seen| seen.origin)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let random = sent.iter().find(|o| *o != "null").expect("random origin");
    assert!(
        random.starts_with("https://") && random.ends_with(".example"),
        "{random}"
    );
    assert_eq!(finding.evidence["request_origin"], random.as_str());
}

#[tokio::test]
async fn the_null_origin_alone_is_reported() {
    let server = support::https_app(
        localhost(),
        cors_app(|origin| match origin {
            Some("null") => vec![
                ("access-control-allow-origin", "null".to_owned()),
                ("access-control-allow-credentials", "true".to_owned()),
            ],
            _ => vec![],
        }),
    )
    .await;
    let output = probe(&server, "https").await;
    assert_eq!(rules(&output), BTreeSet::from(["cors_null_origin_allowed"]));
    assert_eq!(output.findings[0].severity, Severity::High);
}

#[tokio::test]
async fn a_wildcard_with_credentials_is_reported() {
    let server = support::https_app(
        localhost(),
        cors_app(|_| {
            vec![
                ("access-control-allow-origin", "*".to_owned()),
                ("access-control-allow-credentials", "true".to_owned()),
            ]
        }),
    )
    .await;
    let output = probe(&server, "https").await;
    assert_eq!(
        rules(&output),
        BTreeSet::from(["cors_wildcard_with_credentials"])
    );
}

/// Echoes a TRACE the way Apache does (`message/http`, the request line and headers).
fn trace_echo(request: &Request) -> Response {
    let mut echo = format!("TRACE {} HTTP/1.1\r\n", request.uri());
    for (name, value) in request.headers() {
        echo.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or("")));
    }
    ([(header::CONTENT_TYPE, "message/http")], echo).into_response()
}

#[tokio::test]
async fn trace_echo_and_write_methods_are_reported() {
    let app = Router::new().fallback(|request: Request| async move {
        match *request.method() {
            Method::TRACE => trace_echo(&request),
            Method::OPTIONS => (
                StatusCode::OK,
                [(header::ALLOW, "OPTIONS, GET, HEAD, POST, PUT, DELETE")],
            )
                .into_response(),
            _ => "<html><body>dav</body></html>".into_response(),
        }
    });
    let server = support::https_app(localhost(), app).await;
    let output = probe(&server, "https").await;
    assert_eq!(
        rules(&output),
        BTreeSet::from(["trace_enabled", "unsafe_methods_allowed"])
    );
    let methods = output
        .findings
        .iter()
        .find(|f| f.rule == "unsafe_methods_allowed")
        .expect("methods finding");
    assert_eq!(methods.title, "Write methods allowed: PUT, DELETE");
    // Nothing that changes resources was sent.
    let sent: BTreeSet<String> = server.requests().into_iter().map(|s| s.method).collect();
    assert_eq!(
        sent,
        BTreeSet::from(["GET", "OPTIONS", "TRACE"].map(String::from))
    );
}

#[tokio::test]
async fn plain_http_without_a_redirect_is_reported() {
    let server = support::http_app(Router::new().fallback(|| async { "<html>shop</html>" })).await;
    let output = probe(&server, "http").await;
    assert_eq!(rules(&output), BTreeSet::from(["no_https_redirect"]));
    assert_eq!(output.findings[0].evidence["status"], 200);

    // A redirect to plain HTTP elsewhere is no better.
    let server = support::http_app(Router::new().fallback(|| async {
        (
            StatusCode::FOUND,
            [(header::LOCATION, "http://127.0.0.1/login")],
        )
    }))
    .await;
    let output = probe(&server, "http").await;
    assert_eq!(rules(&output), BTreeSet::from(["no_https_redirect"]));
}

/// Redirects plain HTTP to HTTPS, allows any origin without credentials (a public API does),
/// answers TRACE with its home page (no echo) and OPTIONS with read methods only.
fn well_configured() -> Router {
    Router::new().fallback(|request: Request| async move {
        let https = format!("https://127.0.0.1{}", request.uri());
        match *request.method() {
            Method::TRACE => "<html><body>home</body></html>".into_response(),
            Method::OPTIONS => (
                StatusCode::NO_CONTENT,
                [(header::ALLOW, "OPTIONS, GET, HEAD")],
            )
                .into_response(),
            _ => Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header(header::LOCATION, https)
                .header("access-control-allow-origin", "*")
                .body(Body::empty())
                .expect("response"),
        }
    })
}

#[tokio::test]
async fn a_well_configured_server_has_no_findings() {
    let server = support::http_app(well_configured()).await;
    let url = server.url("http");
    let output = probe(&server, "http").await;
    assert_eq!(output.findings, []);
    // The log names every request and what it got, and redirects were not followed.
    let log: Vec<(&str, &str, Option<u16>)> = output
        .raw
        .requests
        .iter()
        .map(|r| (r.probe.as_str(), r.method.as_str(), r.status))
        .collect();
    assert_eq!(
        log,
        [
            ("plain", "GET", Some(301)),
            ("cors_arbitrary_origin", "GET", Some(301)),
            ("cors_null_origin", "GET", Some(301)),
            ("options", "OPTIONS", Some(204)),
            ("trace", "TRACE", Some(200)),
        ]
    );
    assert_eq!(output.raw.url, url);
    assert!(output.raw.requests.iter().all(|r| r.url == url));
    assert_eq!(server.requests().len(), 5);
    let raw = serde_json::to_value(&output.raw).expect("raw serialises");
    assert!(raw.to_string().len() < 2048, "{raw}");
}
