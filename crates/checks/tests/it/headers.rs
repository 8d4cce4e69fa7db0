//! The headers check over plain HTTP.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use s4e_checks::http_headers;
use s4e_checks::{CheckOutput, RawResponse, Target};

use crate::support::{self, Reply, TIMEOUT, context, lax};

fn rules(output: &CheckOutput<RawResponse>) -> BTreeSet<&str> {
    output.findings.iter().map(|f| f.rule.as_str()).collect()
}

#[tokio::test]
async fn bare_server_reports_every_missing_header_but_hsts() {
    let server = support::http(Reply::ok(&[
        ("server", "nginx/1.18.0"),
        ("x-powered-by", "PHP/7.4.3"),
    ]))
    .await;
    let url = server.url("http");
    let output = http_headers::run(&Target::new(&url), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");

    assert_eq!(
        rules(&output),
        BTreeSet::from([
            "missing_csp",
            "missing_x_content_type_options",
            "missing_clickjacking_protection",
            "missing_referrer_policy",
            "server_version_disclosure",
            "x_powered_by_disclosure",
        ])
    );
    for finding in &output.findings {
        assert_eq!(finding.location, url);
        assert_eq!(finding.evidence["status"], 200);
    }
    assert_eq!(output.raw.url, url);
    assert_eq!(output.raw.status, 200);
    assert!(
        output
            .raw
            .headers
            .contains(&("server".into(), "nginx/1.18.0".into()))
    );
    assert!(
        output
            .raw
            .headers
            .contains(&("x-powered-by".into(), "PHP/7.4.3".into()))
    );
    assert_eq!(output.raw.body_excerpt, "<html><body>ok</body></html>");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let expected_agent = format!("s4e-scanner/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        requests[0].user_agent.as_deref(),
        Some(expected_agent.as_str())
    );
}

#[tokio::test]
async fn well_configured_server_has_no_findings() {
    let server = support::http(Reply::ok(&[
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("server", "nginx"),
    ]))
    .await;
    let output = http_headers::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(output.findings, []);
    assert_eq!(output.raw.status, 200);
}

#[tokio::test]
async fn error_pages_are_judged_and_keep_their_status() {
    let server = support::http(Reply {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers: vec![("x-powered-by", "Express".into())],
        body: "boom".into(),
    })
    .await;
    let output = http_headers::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("a 500 is a response, not a failure");
    assert_eq!(output.raw.status, 500);
    assert!(rules(&output).contains("x_powered_by_disclosure"));
    assert!(rules(&output).contains("missing_csp"));
    for finding in &output.findings {
        assert_eq!(finding.evidence["status"], 500);
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = support::http(Reply {
        status: StatusCode::FOUND,
        headers: vec![("location", "/elsewhere".into())],
        body: String::new(),
    })
    .await;
    let output = http_headers::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(output.raw.status, 302);
    let paths: Vec<String> = server
        .requests()
        .into_iter()
        .map(|seen| seen.path)
        .collect();
    assert_eq!(paths, ["/"]);
}

#[tokio::test]
async fn body_excerpt_is_capped_on_a_char_boundary() {
    // 3-byte characters: 64 KiB is not a multiple of 3, so the cut falls inside one.
    let mut reply = Reply::ok(&[]);
    reply.body = "€".repeat(100_000);
    let server = support::http(reply).await;
    let output = http_headers::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    let excerpt = &output.raw.body_excerpt;
    assert!(excerpt.len() <= RawResponse::BODY_EXCERPT_LIMIT);
    assert_eq!(excerpt.len(), RawResponse::BODY_EXCERPT_LIMIT / 3 * 3);
    assert!(excerpt.chars().all(|c| c == '€'));
}

const APACHE_INDEX: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n \
    <head>\n  <title>Index of /</title>\n </head>\n <body>\n<h1>Index of /</h1>\n  <table>\n   \
    <tr><th><a href=\"?C=N;O=D\">Name</a></th></tr>\n<tr><td><a href=\"backup.zip\">backup.zip</a></td></tr>\n\
    </table>\n</body></html>\n";

/// Every header the older rules want, so only the rules under test can fire.
const GOOD_BASICS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

#[tokio::test]
async fn weak_csp_cookies_and_a_listing_are_reported() {
    let mut headers = GOOD_BASICS.to_vec();
    headers.extend([
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' https:",
        ),
        ("set-cookie", "sid=s3ss10n-s3cr3t; Path=/"),
        ("set-cookie", "theme=dark; HttpOnly; SameSite=Lax"),
    ]);
    let mut reply = Reply::ok(&headers);
    reply.body = APACHE_INDEX.into();
    let server = support::http(reply).await;
    let url = server.url("http");
    let output = http_headers::run(&Target::new(&url), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(
        rules(&output),
        BTreeSet::from([
            "csp_unsafe_inline",
            "csp_unsafe_eval",
            "csp_wildcard_source",
            "cookie_without_httponly",
            "cookie_without_samesite",
            "directory_listing",
        ])
    );
    for finding in &output.findings {
        assert_eq!(finding.location, url);
        // Cookie values are never stored with a finding.
        assert!(
            !finding.evidence.to_string().contains("s3cr3t"),
            "{finding:?}"
        );
    }
    let httponly = output
        .findings
        .iter()
        .find(|f| f.rule == "cookie_without_httponly")
        .expect("httponly finding");
    assert_eq!(httponly.evidence["cookies"], serde_json::json!(["sid"]));
}

#[tokio::test]
async fn cookies_without_secure_are_reported_over_https() {
    let mut headers = GOOD_BASICS.to_vec();
    headers.extend([
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("strict-transport-security", "max-age=31536000"),
        ("set-cookie", "sid=s3cr3t; HttpOnly; SameSite=Lax"),
        ("set-cookie", "cross=1; Secure; HttpOnly; SameSite=None"),
    ]);
    let server = support::https_on("127.0.0.1".parse().expect("ip"), Reply::ok(&headers)).await;
    let output = http_headers::run(&Target::new(server.url("https")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(rules(&output), BTreeSet::from(["cookie_without_secure"]));
    assert_eq!(
        output.findings[0].evidence["cookies"],
        serde_json::json!(["sid"])
    );
}

#[tokio::test]
async fn a_strict_csp_with_nonces_and_good_cookies_has_no_findings() {
    let mut headers = GOOD_BASICS.to_vec();
    headers.extend([
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'nonce-r4nd0m'; \
             img-src *; frame-ancestors 'none'",
        ),
        (
            "set-cookie",
            "sid=s3cr3t; Path=/; HttpOnly; SameSite=Strict",
        ),
        ("set-cookie", "old=; Max-Age=0"),
    ]);
    let mut reply = Reply::ok(&headers);
    // A page about listings is not a listing.
    reply.body = "<html><head><title>Index of products</title></head><body>\
        <h1>Index of /products</h1></body></html>"
        .into();
    let server = support::http(reply).await;
    let output = http_headers::run(&Target::new(server.url("http")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(output.findings, []);
}
