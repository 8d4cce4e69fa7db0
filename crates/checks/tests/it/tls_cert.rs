//! The TLS certificate check against real TLS servers on 127.0.0.1, with certificates made by
//! rcgen for each test.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Datelike, Days, Utc};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use s4e_checks::tls_cert::{self, TlsCertRaw};
use s4e_checks::{CheckError, CheckOutput, Target};
use s4e_types::Severity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use url::Url;

use crate::support::{TIMEOUT, context, lax};

/// A server that stops when dropped, counting the TCP connections it accepted.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TLS server on `ip` presenting `chain` (leaf first), which `key` signs for.
async fn tls_server(ip: IpAddr, chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> Server {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let tcp = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    // Hold the connection until the client leaves.
                    let mut buf = [0u8; 64];
                    let _ = tls.read(&mut buf).await;
                }
            });
        }
    });
    Server {
        addr,
        connections,
        task,
    }
}

/// A plain TCP server that greets like SSH and speaks no TLS.
async fn plain_server() -> Server {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                let mut buf = [0u8; 512];
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    Server {
        addr,
        connections,
        task,
    }
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    )
    .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    params
}

struct Issued {
    chain: Vec<CertificateDer<'static>>,
    key: KeyPair,
}

/// A leaf from `params`, issued by a fresh test CA (which no public root store holds).
fn issued_by_test_ca(params: CertificateParams) -> Issued {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "S4E Test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca certificate");
    let key = KeyPair::generate().expect("leaf key");
    let leaf = params.signed_by(&key, &ca).expect("leaf certificate");
    Issued {
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key,
    }
}

fn self_signed(params: CertificateParams) -> Issued {
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    Issued {
        chain: vec![cert.der().clone()],
        key,
    }
}

fn rules(output: &CheckOutput<TlsCertRaw>) -> Vec<&str> {
    let mut rules: Vec<&str> = output
        .findings
        .iter()
        .map(|finding| finding.rule.as_str())
        .collect();
    rules.sort_unstable();
    rules
}

/// The address `localhost` is approved at, so a server there is reached by that name.
async fn localhost_ip() -> IpAddr {
    lax()
        .resolve(&Url::parse("https://localhost/").expect("url"))
        .await
        .expect("localhost resolves")
        .ip()
}

async fn check(target: &str) -> Result<CheckOutput<TlsCertRaw>, CheckError> {
    tls_cert::run(&Target::new(target), &context(lax(), TIMEOUT)).await
}

#[tokio::test]
async fn a_private_ca_is_untrusted_but_the_name_matches() {
    let ip = localhost_ip().await;
    let issued = issued_by_test_ca(leaf_params(&["localhost"]));
    let server = tls_server(ip, issued.chain, &issued.key).await;
    let target = format!("https://localhost:{}/", server.addr.port());
    let output = check(&target).await.expect("check runs");

    assert_eq!(rules(&output), ["untrusted_certificate_chain"]);
    let finding = &output.findings[0];
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.cwe, Some(295));
    assert_eq!(
        finding.location,
        format!("localhost:{}", server.addr.port())
    );
    assert_eq!(finding.evidence["issuer"], "CN=S4E Test CA");
    assert!(finding.evidence["verification_error"].is_string());

    assert_eq!(output.raw.host, "localhost");
    assert_eq!(output.raw.address, server.addr);
    assert_eq!(output.raw.protocol, "TLSv1.3");
    assert!(
        output.raw.cipher_suite.starts_with("TLS13_"),
        "{}",
        output.raw.cipher_suite
    );
    assert_eq!(output.raw.chain.len(), 2);
    let leaf = &output.raw.chain[0];
    assert_eq!(leaf.subject, "CN=localhost");
    assert_eq!(leaf.issuer, "CN=S4E Test CA");
    assert_eq!(leaf.dns_names, ["localhost"]);
    assert_eq!(leaf.key, "EC P-256");
    assert!(!leaf.self_signed);
    assert!(output.raw.chain[1].self_signed);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    // Serializable as the raw output.
    let json = serde_json::to_value(&output.raw).expect("serialize");
    assert_eq!(json["chain"][0]["key"], "EC P-256");
}

#[tokio::test]
async fn an_ip_target_without_an_ip_san_is_a_mismatch() {
    let issued = issued_by_test_ca(leaf_params(&["localhost"]));
    let server = tls_server("127.0.0.1".parse().unwrap(), issued.chain, &issued.key).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(
        rules(&output),
        ["hostname_mismatch", "untrusted_certificate_chain"]
    );
    let mismatch = output
        .findings
        .iter()
        .find(|finding| finding.rule == "hostname_mismatch")
        .expect("mismatch");
    assert_eq!(mismatch.cwe, Some(297));
    assert_eq!(mismatch.location, server.addr.to_string());
    assert_eq!(mismatch.evidence["host"], "127.0.0.1");
    assert_eq!(mismatch.evidence["dns_names"][0], "localhost");
}

#[tokio::test]
async fn an_ip_san_matches_an_ip_target() {
    let mut params = leaf_params(&["localhost"]);
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issued = issued_by_test_ca(params);
    let server = tls_server("127.0.0.1".parse().unwrap(), issued.chain, &issued.key).await;
    let output = check(&format!("https://{}/", server.addr))
        .await
        .expect("check runs");
    assert_eq!(rules(&output), ["untrusted_certificate_chain"]);
    assert_eq!(output.raw.chain[0].ip_addresses, ["127.0.0.1"]);
}

#[tokio::test]
async fn a_self_signed_certificate_is_not_also_untrusted() {
    let ip = localhost_ip().await;
    let issued = self_signed(leaf_params(&["localhost"]));
    let server = tls_server(ip, issued.chain, &issued.key).await;
    let output = check(&format!("localhost:{}", server.addr.port()))
        .await
        .expect("check runs");
    assert_eq!(rules(&output), ["self_signed_certificate"]);
    assert_eq!(output.findings[0].cwe, Some(295));
    assert_eq!(output.findings[0].evidence["self_signed"], true);
    assert!(output.raw.chain[0].self_signed);
}

#[tokio::test]
async fn an_expired_certificate_is_reported() {
    let ip = localhost_ip().await;
    let mut params = leaf_params(&["localhost"]);
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let issued = issued_by_test_ca(params);
    let server = tls_server(ip, issued.chain, &issued.key).await;
    let output = check(&format!("https://localhost:{}/", server.addr.port()))
        .await
        .expect("an expired certificate is a finding, not an error");
    // Untrusted for its private CA, not for its dates.
    assert_eq!(
        rules(&output),
        ["certificate_expired", "untrusted_certificate_chain"]
    );
    let expired = &output.findings[0];
    assert_eq!(expired.rule, "certificate_expired");
    assert_eq!(expired.cwe, Some(298));
    assert_eq!(expired.evidence["not_after"], "2020-01-01T00:00:00Z");
    assert_eq!(output.raw.chain[0].not_before, "2019-01-01T00:00:00Z");
}

#[tokio::test]
async fn a_certificate_expiring_in_ten_days_is_reported() {
    let ip = localhost_ip().await;
    let mut params = leaf_params(&["localhost"]);
    let in_ten_days = Utc::now().checked_add_days(Days::new(10)).expect("date");
    params.not_after = rcgen::date_time_ymd(
        in_ten_days.year(),
        u8::try_from(in_ten_days.month()).expect("month"),
        u8::try_from(in_ten_days.day()).expect("day"),
    );
    let issued = self_signed(params);
    let server = tls_server(ip, issued.chain, &issued.key).await;
    let output = check(&format!("localhost:{}", server.addr.port()))
        .await
        .expect("check runs");
    assert_eq!(
        rules(&output),
        ["certificate_expiring_soon", "self_signed_certificate"]
    );
    let soon = output
        .findings
        .iter()
        .find(|finding| finding.rule == "certificate_expiring_soon")
        .expect("expiring soon");
    assert_eq!(soon.severity, Severity::Medium);
    let days = soon.evidence["days_left"].as_i64().expect("days_left");
    assert!((9..=10).contains(&days), "{days}");
}

#[tokio::test]
async fn a_server_without_tls_is_an_error() {
    let server = plain_server().await;
    let err = check(&server.addr.to_string())
        .await
        .expect_err("no TLS, no certificate");
    match &err {
        CheckError::Unreachable(reason) => {
            assert!(reason.starts_with("no TLS handshake: "), "{reason}");
        }
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}
