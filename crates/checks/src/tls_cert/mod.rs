//! The TLS certificate check: one TLS handshake, and what the presented certificate says.
//!
//! The host is resolved once, through the egress policy, and the one approved address is
//! connected to. The handshake uses rustls (ring) with a verifier that records the presented
//! chain and verifies it against the public web PKI roots (`webpki-roots`) without ever
//! failing the handshake, so an invalid certificate becomes a finding rather than an error.
//! The handshake signatures themselves are still verified. The rules (`rules.rs`) are pure
//! functions of the parsed leaf (`parse.rs`), the chain's verdict and the current time.
//!
//! A server that does not complete a TLS handshake is an error:
//! `CheckError::Unreachable("no TLS handshake: …")`.

mod parse;
mod rules;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use s4e_types::CheckKind;
use s4e_types::discovery::{DiscoveredName, DiscoverySource, is_host_name};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::verify_server_cert_signed_by_trust_anchor;
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, ProtocolVersion,
    RootCertStore, SignatureScheme,
};
use url::{Host, Url};

use rules::{ChainTrust, Observed};
use s4e_egress::http;

use crate::{CheckContext, CheckError, CheckOutput, Target};
use s4e_types::inventory::{Observations, ObservedCertificate};
use sha2::{Digest, Sha256};

pub use rules::EXPIRY_WARNING_DAYS;
// Shared with the protocol check, which connects to targets given the same way.
pub(crate) use rules::location;

const DEFAULT_PORT: u16 = 443;

/// The check's raw output: the handshake and the chain presented.
#[derive(Clone, Debug, Serialize)]
pub struct TlsCertRaw {
    /// The host checked, as given (an IPv6 address without brackets).
    pub host: String,
    /// The address the egress policy approved; the only one connected to.
    pub address: SocketAddr,
    /// The negotiated protocol version, e.g. `TLSv1.3`.
    pub protocol: String,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The certificates the server presented, leaf first.
    pub chain: Vec<CertSummary>,
}

/// One certificate of the presented chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// The DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// The IP address subject alternative names.
    pub ip_addresses: Vec<String>,
    /// e.g. `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    /// Issued by itself: the subject is the issuer and its own key verifies its signature.
    pub self_signed: bool,
}

/// Connects to `target` (an `https://host[:port]/` URL, or `host[:port]`; port 443 unless
/// given), completes a TLS handshake and judges the certificate presented.
///
/// The context's timeout bounds resolving, connecting and the handshake together.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<TlsCertRaw>, CheckError> {
    let timeout = context.timeout;
    let deadline = Instant::now() + timeout;
    let (host, port) = target_host_port(&target.address)?;
    let (_, address) = http::approve(
        &format!("https://{host}:{port}/"),
        &context.egress,
        deadline,
        timeout,
    )
    .await?;
    let host_text = host_name(&host);
    let server_name = match &host {
        Host::Domain(domain) => ServerName::try_from(domain.clone()).map_err(|err| {
            CheckError::InvalidTarget(format!("{domain:?} is not a valid server name ({err})"))
        })?,
        Host::Ipv4(v4) => ServerName::IpAddress(IpAddr::V4(*v4).into()),
        Host::Ipv6(v6) => ServerName::IpAddress(IpAddr::V6(*v6).into()),
    };
    tracing::debug!(host = %host_text, %address, "tls_cert: connecting");

    let tcp = match timeout_at(deadline, TcpStream::connect(address)).await {
        Err(_elapsed) => return Err(CheckError::Timeout(timeout)),
        Ok(Err(err)) => {
            return Err(CheckError::Unreachable(format!(
                "{} ({address})",
                io_reason(&err)
            )));
        }
        Ok(Ok(tcp)) => tcp,
    };
    let provider = Arc::new(ring::default_provider());
    let verifier = Arc::new(RecordingVerifier::new(provider.clone()));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| CheckError::Unreachable(format!("could not set up TLS: {err}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tls = match timeout_at(deadline, connector.connect(server_name, tcp)).await {
        Err(_elapsed) => return Err(CheckError::Timeout(timeout)),
        Ok(Err(err)) => {
            return Err(CheckError::Unreachable(format!(
                "no TLS handshake: {} ({address})",
                handshake_reason(&err)
            )));
        }
        Ok(Ok(tls)) => tls,
    };
    let (_, connection) = tls.get_ref();
    let protocol = connection
        .protocol_version()
        .map(protocol_name)
        .unwrap_or_default();
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| {
            let suite = suite.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned)
        })
        .unwrap_or_default();
    let seen = verifier.take();
    drop(tls);

    let Some(seen) = seen else {
        return Err(CheckError::Unreachable(format!(
            "no TLS handshake: the server presented no certificate ({address})"
        )));
    };
    let parsed: Vec<parse::ParsedCert> = seen
        .chain
        .iter()
        .filter_map(|der| parse::parse(der))
        .collect();
    let Some(leaf) = seen.chain.first().and_then(|der| parse::parse(der)) else {
        return Err(CheckError::Unreachable(format!(
            "the server's certificate could not be parsed ({address})"
        )));
    };
    let findings = rules::findings_for(&Observed {
        check: CheckKind::TlsCertificate,
        host: &host_text,
        port,
        leaf: &leaf,
        trust: &seen.trust,
        now: chrono::Utc::now(),
    });
    tracing::debug!(host = %host_text, %address, findings = findings.len(), "tls_cert: checked");
    let discovered = names_in(&leaf.summary.dns_names, &host_text);
    let certificate = seen.chain.first().map(|der| ObservedCertificate {
        port,
        sha256: hex::encode(Sha256::digest(der)),
        subject: leaf.summary.subject.clone(),
        issuer: leaf.summary.issuer.clone(),
        not_after: leaf.summary.not_after.clone(),
    });
    Ok(CheckOutput {
        observed: Observations {
            discovered,
            certificate,
            ..Observations::default()
        },
        findings,
        raw: TlsCertRaw {
            host: host_text,
            address,
            protocol,
            cipher_suite,
            chain: parsed.into_iter().map(|cert| cert.summary).collect(),
        },
    })
}

/// The host and port of `target`: `host`, `host:port`, a bare IP address, or an `http(s)`
/// URL. The port is the one given, else 443 (also for `http://` URLs: the TLS service of
/// the host is what is checked).
pub(crate) fn target_host_port(target: &str) -> Result<(Host, u16), CheckError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(CheckError::InvalidTarget("the target is empty".into()));
    }
    // A bare IPv6 address has colons a URL parser would take for a port.
    if let Ok(ip) = target.parse::<IpAddr>() {
        let host = match ip {
            IpAddr::V4(v4) => Host::Ipv4(v4),
            IpAddr::V6(v6) => Host::Ipv6(v6),
        };
        return Ok((host, DEFAULT_PORT));
    }
    let url = if target.contains("://") {
        Url::parse(target)
    } else {
        Url::parse(&format!("https://{target}"))
    };
    let url = url.map_err(|err| {
        CheckError::InvalidTarget(format!("{target:?} is not a host or URL ({err})"))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(CheckError::InvalidTarget(format!(
            "only hosts and http(s) URLs can be checked, not {}",
            url.scheme()
        )));
    }
    let host = url
        .host()
        .map(|host| host.to_owned())
        .filter(|host| !matches!(host, Host::Domain(domain) if domain.is_empty()))
        .ok_or_else(|| CheckError::InvalidTarget(format!("{target:?} has no host")))?;
    Ok((host, url.port().unwrap_or(DEFAULT_PORT)))
}

/// The host as people write it: a name, or an address (IPv6 without brackets).
pub(crate) fn host_name(host: &Host) -> String {
    match host {
        Host::Domain(domain) => domain.clone(),
        Host::Ipv4(v4) => v4.to_string(),
        Host::Ipv6(v6) => v6.to_string(),
    }
}

fn protocol_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".into(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".into(),
        other => format!("{other:?}"),
    }
}

pub(crate) fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        _ => err.to_string(),
    }
}

/// Why a handshake failed: the TLS error when there is one (a plain-text reply reads as
/// "received corrupt message"), else the I/O reason.
fn handshake_reason(err: &std::io::Error) -> String {
    if let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>())
    {
        return tls.to_string();
    }
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof => "the server closed the connection".into(),
        _ => io_reason(err),
    }
}

/// What the verifier saw during the handshake.
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    trust: ChainTrust,
}

/// Accepts any certificate, after recording the chain and whether it verifies to a trusted
/// root. The handshake signatures are still checked against the presented key.
#[derive(Debug)]
struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    roots: RootCertStore,
    seen: Mutex<Option<(Vec<CertificateDer<'static>>, ChainTrust)>>,
}

impl RecordingVerifier {
    fn new(provider: Arc<CryptoProvider>) -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(provider, roots)
    }

    fn with_roots(provider: Arc<CryptoProvider>, roots: RootCertStore) -> Self {
        RecordingVerifier {
            provider,
            roots,
            seen: Mutex::new(None),
        }
    }

    fn take(&self) -> Option<Seen> {
        let mut slot = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.take().map(|(chain, trust)| Seen { chain, trust })
    }

    /// Whether the chain verifies to a root, leaving aside the leaf's validity period (the
    /// expiry rules judge that): verified at `now`, and when that fails only on dates, again
    /// at the middle of the leaf's validity period.
    fn trust(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> ChainTrust {
        let parsed = match ParsedCertificate::try_from(end_entity) {
            Ok(parsed) => parsed,
            Err(err) => return ChainTrust::Untrusted(err.to_string()),
        };
        let algorithms = self.provider.signature_verification_algorithms.all;
        let verify = |at: UnixTime| {
            verify_server_cert_signed_by_trust_anchor(
                &parsed,
                &self.roots,
                intermediates,
                at,
                algorithms,
            )
        };
        let result = match verify(now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            )) => match parse::validity(end_entity) {
                Some((not_before, not_after)) => {
                    let middle = not_before / 2 + not_after / 2;
                    let middle = u64::try_from(middle).unwrap_or(0);
                    verify(UnixTime::since_unix_epoch(Duration::from_secs(middle)))
                }
                None => verify(now),
            },
            other => other,
        };
        match result {
            Ok(()) => ChainTrust::Trusted,
            Err(err) => ChainTrust::Untrusted(err.to_string()),
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let trust = self.trust(end_entity, intermediates, now);
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|der| der.clone().into_owned())
            .collect();
        *self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((chain, trust));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The host names a certificate names besides `host`, for discovery: the same service often
/// answers for names nobody has registered yet. Wildcards are left out (they name no host).
fn names_in(dns_names: &[String], host: &str) -> Vec<DiscoveredName> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut names: Vec<String> = dns_names
        .iter()
        .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        .filter(|name| *name != host && is_host_name(name))
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| DiscoveredName {
            name,
            source: DiscoverySource::Certificate,
            addresses: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(target: &str) -> (String, u16) {
        let (host, port) = target_host_port(target).unwrap();
        (host_name(&host), port)
    }

    #[test]
    fn targets_are_hosts_or_urls_with_port_443_by_default() {
        assert_eq!(parsed("example.com"), ("example.com".into(), 443));
        assert_eq!(parsed("Example.COM:8443"), ("example.com".into(), 8443));
        assert_eq!(parsed("https://example.com/"), ("example.com".into(), 443));
        assert_eq!(
            parsed("https://example.com:443/"),
            ("example.com".into(), 443)
        );
        assert_eq!(
            parsed("https://example.com:8443/x"),
            ("example.com".into(), 8443)
        );
        assert_eq!(parsed("http://example.com/"), ("example.com".into(), 443));
        assert_eq!(parsed("203.0.113.7"), ("203.0.113.7".into(), 443));
        assert_eq!(parsed("::1"), ("::1".into(), 443));
        assert_eq!(parsed("[::1]:8443"), ("::1".into(), 8443));
    }

    #[test]
    fn invalid_targets_are_refused() {
        for target in ["", "  ", "https://", "exa mple.com", "ftp://example.com"] {
            assert!(
                matches!(target_host_port(target), Err(CheckError::InvalidTarget(_))),
                "{target:?}"
            );
        }
    }

    /// A test CA and a leaf for `localhost` it issued, valid from `not_before` to `not_after`.
    fn issued(
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> (CertificateDer<'static>, CertificateDer<'static>) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let leaf = params
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap();
        (ca.der().clone(), leaf.der().clone())
    }

    fn verifier_trusting(ca: &CertificateDer<'static>) -> RecordingVerifier {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        RecordingVerifier::with_roots(Arc::new(ring::default_provider()), roots)
    }

    #[test]
    fn a_trusted_chain_stays_trusted_when_the_leaf_expired() {
        let (ca, leaf) = issued((2019, 1, 1), (2020, 1, 1));
        let verifier = verifier_trusting(&ca);
        let now = UnixTime::now();
        // The dates are the expiry rules' business, not the chain's.
        assert_eq!(verifier.trust(&leaf, &[], now), ChainTrust::Trusted);
    }

    #[test]
    fn a_chain_is_trusted_only_by_its_root() {
        let (ca, leaf) = issued((2020, 1, 1), (2090, 1, 1));
        assert_eq!(
            verifier_trusting(&ca).trust(&leaf, &[], UnixTime::now()),
            ChainTrust::Trusted
        );
        let (other_ca, _) = issued((2020, 1, 1), (2090, 1, 1));
        // Another CA of the same (empty) name: its key does not verify the leaf.
        assert!(matches!(
            verifier_trusting(&other_ca).trust(&leaf, &[], UnixTime::now()),
            ChainTrust::Untrusted(_)
        ));
        // The public roots do not know the test CA either.
        let public = RecordingVerifier::new(Arc::new(ring::default_provider()));
        assert!(matches!(
            public.trust(&leaf, &[ca], UnixTime::now()),
            ChainTrust::Untrusted(_)
        ));
    }

    #[test]
    fn protocols_read_like_openssl() {
        assert_eq!(protocol_name(ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(protocol_name(ProtocolVersion::TLSv1_2), "TLSv1.2");
    }
}
