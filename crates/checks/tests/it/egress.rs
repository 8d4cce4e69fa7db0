//! The egress policy as the check applies it: refusals happen before any connection.

use std::net::IpAddr;
use std::time::Duration;

use s4e_checks::{CheckError, CheckOutput, RawResponse, Target, http_headers};
use s4e_egress::EgressError;

use crate::support::{self, Reply, context, lax, strict};

/// Short: a refused target must fail at once, and a bug must not hang on an unroutable address.
const QUICK: Duration = Duration::from_secs(2);

fn refusal(result: Result<CheckOutput<RawResponse>, CheckError>) -> (IpAddr, &'static str) {
    match result {
        Err(CheckError::Egress(EgressError::Refused { ip, reason, .. })) => (ip, reason),
        other => panic!("expected an egress refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn private_targets_are_refused_without_connecting() {
    let server = support::http(Reply::ok(&[])).await;
    let port = server.addr.port();

    let loopback = refusal(
        http_headers::run(&Target::new(server.url("http")), &context(strict(), QUICK)).await,
    );
    assert_eq!(
        loopback,
        ("127.0.0.1".parse().expect("ip"), "loopback address")
    );
    let by_name = http_headers::run(
        &Target::new(format!("http://localhost:{port}/")),
        &context(strict(), QUICK),
    )
    .await;
    assert_eq!(refusal(by_name).1, "loopback address");
    let metadata = refusal(
        http_headers::run(
            &Target::new("http://169.254.169.254/"),
            &context(strict(), QUICK),
        )
        .await,
    );
    assert_eq!(
        metadata,
        (
            "169.254.169.254".parse().expect("ip"),
            "cloud metadata endpoint"
        )
    );

    // The server accepts in order: once the permitted request below is answered, any
    // connection the refused attempts had made would have been counted before it.
    http_headers::run(&Target::new(server.url("http")), &context(lax(), QUICK))
        .await
        .expect("allowed when private targets are");
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn metadata_is_refused_even_when_private_is_allowed() {
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/latest/meta-data/",
    ] {
        let (_, reason) =
            refusal(http_headers::run(&Target::new(target), &context(lax(), QUICK)).await);
        assert_eq!(reason, "cloud metadata endpoint", "{target}");
    }
    let (ip, reason) = refusal(
        http_headers::run(&Target::new("https://169.254.1.2/"), &context(lax(), QUICK)).await,
    );
    assert_eq!(
        (ip.to_string().as_str(), reason),
        ("169.254.1.2", "link-local address")
    );
}

#[tokio::test]
async fn refusals_read_well() {
    let err = http_headers::run(
        &Target::new("http://[::ffff:169.254.169.254]/"),
        &context(lax(), QUICK),
    )
    .await
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "refusing to connect to ::ffff:169.254.169.254: cloud metadata endpoint"
    );
}
