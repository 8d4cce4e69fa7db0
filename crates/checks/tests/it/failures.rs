//! Targets that cannot be judged, for every check kind through the one entry point
//! (`s4e_checks::run`): an address the egress policy refuses, a closed port, a server that
//! accepts and says nothing, a malformed target, a cancelled run. A new check kind is covered
//! by adding its row to `row`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use s4e_checks::{CheckContext, CheckError, Target, run, time_limit};
use s4e_egress::EgressError;
use s4e_test_dns::{Mode, TestDns};
use s4e_types::{CheckKind, PortScope};
use tokio_util::sync::CancellationToken;

use crate::support::{self, TIMEOUT, context, lax, strict};

/// How a check kind meets a server on `addr`, and what a closed port means to it.
struct Row {
    target: fn(SocketAddr) -> Target,
    /// What a closed port is: an error (a check of one service), or a result (a port scan).
    closed_is_a_result: bool,
}

fn row(kind: CheckKind) -> Option<Row> {
    let http = |addr: SocketAddr| Target::new(format!("http://{addr}/"));
    let tls = |addr: SocketAddr| Target::new(addr.to_string());
    let ports = |addr: SocketAddr| {
        let ports = PortScope::List {
            ports: vec![addr.port()],
        };
        Target::with_ports(addr.ip().to_string(), ports)
    };
    Some(match kind {
        CheckKind::HttpHeaders
        | CheckKind::HttpProbes
        | CheckKind::Exposure
        | CheckKind::ApiOperations => Row {
            target: http,
            closed_is_a_result: false,
        },
        CheckKind::TlsCertificate | CheckKind::TlsProtocols => Row {
            target: tls,
            closed_is_a_result: false,
        },
        CheckKind::Ports => Row {
            target: ports,
            closed_is_a_result: true,
        },
        // They ask the operator's resolvers, not the target: see `dns_failures`.
        CheckKind::Dns | CheckKind::Subdomains => return None,
        // Not a check: the crawler runs it.
        CheckKind::Crawl => return None,
    })
}

fn network_kinds() -> impl Iterator<Item = (CheckKind, Row)> {
    CheckKind::CHECKS
        .iter()
        .filter_map(|kind| row(*kind).map(|row| (*kind, row)))
}

#[tokio::test]
async fn strict_egress_refuses_every_check_before_connecting() {
    // It counts TCP connections as they are accepted, before any byte.
    let server = support::silent().await;
    for (kind, row) in network_kinds() {
        let result = run(
            kind,
            &(row.target)(server.addr),
            &context(strict(), TIMEOUT),
        )
        .await;
        match result {
            Err(CheckError::Egress(EgressError::Refused { reason, .. })) => {
                assert_eq!(reason, "loopback address", "{kind:?}");
            }
            other => panic!("{kind:?}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_closed_port_is_unreachable_at_once() {
    let port = support::closed_port().await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for (kind, row) in network_kinds() {
        let started = Instant::now();
        let result = run(kind, &(row.target)(addr), &context(lax(), TIMEOUT)).await;
        match result {
            Ok(output) if row.closed_is_a_result => {
                assert!(output.findings.is_empty(), "{kind:?}: {output:?}");
                assert_eq!(output.raw["open"], serde_json::json!([]), "{kind:?}");
            }
            Err(CheckError::Unreachable(reason)) if !row.closed_is_a_result => {
                assert!(
                    reason.contains(&format!("connection refused (127.0.0.1:{port})")),
                    "{kind:?}: {reason}"
                );
            }
            other => panic!("{kind:?}: unexpected {other:?}"),
        }
        // A refused connection is an answer: no waiting for the time limit.
        assert!(
            started.elapsed() < TIMEOUT / 2,
            "{kind:?} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_silent_server_times_out_at_the_time_limit() {
    let server = support::silent().await;
    let limit = Duration::from_millis(500);
    for (kind, row) in network_kinds() {
        let mut context = context(lax(), limit);
        // A port scan would wait this long for a greeting: its time limit comes first.
        context.ports.banner_timeout = TIMEOUT;
        assert_eq!(time_limit(kind, &context), limit);
        let started = Instant::now();
        let result = run(kind, &(row.target)(server.addr), &context).await;
        let elapsed = started.elapsed();
        match result {
            Err(CheckError::Timeout(reported)) => assert_eq!(reported, limit, "{kind:?}"),
            other => panic!("{kind:?}: expected a timeout, got {other:?}"),
        }
        assert!(
            elapsed >= limit,
            "{kind:?} gave up early, after {elapsed:?}"
        );
        assert!(
            elapsed < limit * 4,
            "{kind:?} gave up late, after {elapsed:?}"
        );
    }
    assert_eq!(
        CheckError::Timeout(limit).job_error(),
        "timeout: target did not respond within 500 ms"
    );
}

#[tokio::test]
async fn malformed_targets_are_invalid() {
    for kind in CheckKind::CHECKS {
        for target in ["", "not a url", "http://"] {
            let result = run(*kind, &Target::new(target), &context(lax(), TIMEOUT)).await;
            assert!(
                matches!(result, Err(CheckError::InvalidTarget(_))),
                "{kind:?} {target:?}: {result:?}"
            );
        }
    }
    for kind in [
        CheckKind::HttpHeaders,
        CheckKind::HttpProbes,
        CheckKind::Exposure,
    ] {
        for target in ["ftp://example.com/", "file:///etc/passwd"] {
            let result = run(kind, &Target::new(target), &context(lax(), TIMEOUT)).await;
            assert!(
                matches!(result, Err(CheckError::InvalidTarget(_))),
                "{kind:?} {target:?}: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_cancelled_check_stops_at_once() {
    let server = support::silent().await;
    for (kind, row) in network_kinds() {
        let cancel = CancellationToken::new();
        let mut context = context(lax(), TIMEOUT).for_job(cancel.clone());
        context.ports.banner_timeout = TIMEOUT;
        let started = Instant::now();
        let target = (row.target)(server.addr);
        let check = run(kind, &target, &context);
        let (result, ()) = tokio::join!(check, async { cancel.cancel() });
        assert!(
            matches!(result, Err(CheckError::Cancelled)),
            "{kind:?}: {result:?}"
        );
        assert!(started.elapsed() < TIMEOUT / 2, "{kind:?}");
    }
}

/// The DNS check's resolvers are the operator's, so no egress policy applies to it; its
/// failures are theirs: a silent resolver, or one that fails, is an error and never a
/// missing record.
#[tokio::test]
async fn dns_failures() {
    let silent = TestDns::start().await.unwrap();
    silent.set_mode(Mode::Silent);
    let limit = Duration::from_millis(400);
    let silent_resolver = CheckContext {
        dns_servers: vec![silent.addr()],
        dns_attempt_timeout: TIMEOUT,
        ..context(strict(), limit)
    };
    let started = Instant::now();
    let result = run(CheckKind::Dns, &Target::new("good.test"), &silent_resolver).await;
    assert!(
        matches!(result, Err(CheckError::Timeout(reported)) if reported == limit),
        "{result:?}"
    );
    assert!(started.elapsed() < limit * 4);

    let failing = TestDns::start().await.unwrap();
    failing.set_mode(Mode::ServFail);
    let failing_resolver = CheckContext {
        dns_servers: vec![failing.addr()],
        ..context(strict(), TIMEOUT)
    };
    for kind in [CheckKind::Dns, CheckKind::Subdomains] {
        let result = run(kind, &Target::new("good.test"), &failing_resolver).await;
        assert!(
            matches!(result, Err(CheckError::Dns(_))),
            "{kind:?}: {result:?}"
        );
    }
    let silent_resolver = CheckContext {
        port_scan_timeout: limit,
        ..silent_resolver
    };
    let result = run(
        CheckKind::Subdomains,
        &Target::new("good.test"),
        &silent_resolver,
    )
    .await;
    assert!(
        matches!(result, Err(CheckError::Timeout(reported)) if reported == limit),
        "{result:?}"
    );
}
