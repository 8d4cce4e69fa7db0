//! The headers check over HTTPS, against a server with a self-signed certificate.

use std::net::{IpAddr, Ipv4Addr};

use s4e_checks::{CheckOutput, RawResponse, Target, http_headers};
use url::Url;

use crate::support::{self, Reply, TIMEOUT, context, lax};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn has_rule(output: &CheckOutput<RawResponse>, rule: &str) -> bool {
    output.findings.iter().any(|finding| finding.rule == rule)
}

#[tokio::test]
async fn https_without_hsts_is_reported() {
    let server = support::https_on(LOCALHOST, Reply::ok(&[("x-frame-options", "DENY")])).await;
    // The certificate is self-signed and for "localhost", not 127.0.0.1: the check still runs.
    let output = http_headers::run(&Target::new(server.url("https")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs despite the invalid certificate");
    assert!(has_rule(&output, "missing_hsts"));
    let hsts = output
        .findings
        .iter()
        .find(|finding| finding.rule == "missing_hsts")
        .expect("missing_hsts");
    assert_eq!(
        hsts.evidence["headers"]["strict-transport-security"],
        serde_json::Value::Null
    );
    assert_eq!(output.raw.status, 200);
}

#[tokio::test]
async fn https_with_hsts_is_not_reported() {
    let server = support::https_on(
        LOCALHOST,
        Reply::ok(&[(
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        )]),
    )
    .await;
    let output = http_headers::run(&Target::new(server.url("https")), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert!(!has_rule(&output, "missing_hsts"));
    // The rest of a bare response is still reported.
    assert!(has_rule(&output, "missing_csp"));
}

/// A host name goes through the egress policy's lookup, and the request is pinned to the
/// address it approved (with the name kept for SNI and Host).
#[tokio::test]
async fn host_names_are_pinned_to_the_approved_address() {
    let approved = lax()
        .resolve(&Url::parse("https://localhost/").expect("url"))
        .await
        .expect("localhost resolves");
    let server = support::https_on(approved.ip(), Reply::ok(&[])).await;
    let url = format!("https://localhost:{}/", server.addr.port());
    let output = http_headers::run(&Target::new(&url), &context(lax(), TIMEOUT))
        .await
        .expect("check runs");
    assert_eq!(output.raw.url, url);
    assert!(has_rule(&output, "missing_hsts"));
    assert_eq!(server.requests().len(), 1);
}
