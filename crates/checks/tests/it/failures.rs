//! Targets that cannot be judged: closed ports, silent servers, malformed URLs.

use std::time::{Duration, Instant};

use s4e_checks::{CheckError, http_headers};

use crate::support::{self, TIMEOUT, lax};

#[tokio::test]
async fn closed_port_is_unreachable_at_once() {
    let port = support::closed_port().await;
    let started = Instant::now();
    let result = http_headers::run(&format!("http://127.0.0.1:{port}/"), &lax(), TIMEOUT).await;
    match result {
        Err(CheckError::Unreachable(reason)) => {
            assert_eq!(reason, format!("connection refused (127.0.0.1:{port})"));
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // A refused connection is an answer: no waiting for the timeout.
    assert!(
        started.elapsed() < TIMEOUT / 2,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = support::silent().await;
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let result = http_headers::run(&server.url("http"), &lax(), timeout).await;
    let elapsed = started.elapsed();
    match result {
        Err(CheckError::Timeout(reported)) => assert_eq!(reported, timeout),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(elapsed >= timeout, "gave up early, after {elapsed:?}");
    assert!(elapsed < timeout * 4, "gave up late, after {elapsed:?}");
    assert_eq!(
        CheckError::Timeout(timeout).to_string(),
        "target did not respond within 500 ms"
    );
}

#[tokio::test]
async fn malformed_targets_are_invalid() {
    for target in [
        "not a url",
        "ftp://example.com/",
        "file:///etc/passwd",
        "http://",
    ] {
        let result = http_headers::run(target, &lax(), TIMEOUT).await;
        assert!(
            matches!(result, Err(CheckError::InvalidTarget(_))),
            "{target}: {result:?}"
        );
    }
}
