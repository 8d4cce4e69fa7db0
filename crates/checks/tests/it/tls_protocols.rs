//! The TLS protocol check against real servers on 127.0.0.1: `openssl s_server` (Debian's
//! OpenSSL 3.0) configured to offer old protocols and weak suites, the rustls server of
//! `support.rs` for a modern configuration, and scripted servers for what this OpenSSL build
//! can no longer offer (SSL 3.0, RC4, DES, 3DES, export suites) and for hostile answers.
//!
//! `openssl` must be installed: a test that cannot start it fails, it does not skip.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{CertificateParams, KeyPair};
use s4e_checks::tls_protocols::{self, TlsProtocolsRaw};
use s4e_checks::{CheckError, CheckOutput, Target};
use s4e_types::{FindingDraft, Severity};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::support::{self, Reply, TIMEOUT, context, lax};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn check(target: &str) -> Result<CheckOutput<TlsProtocolsRaw>, CheckError> {
    tls_protocols::run(&Target::new(target), &context(lax(), TIMEOUT)).await
}

fn rules(output: &CheckOutput<TlsProtocolsRaw>) -> Vec<&str> {
    let mut rules: Vec<&str> = output
        .findings
        .iter()
        .map(|finding| finding.rule.as_str())
        .collect();
    rules.sort_unstable();
    rules
}

fn finding<'a>(output: &'a CheckOutput<TlsProtocolsRaw>, rule: &str) -> &'a FindingDraft {
    output
        .findings
        .iter()
        .find(|finding| finding.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", output.findings))
}

fn weak_names(output: &CheckOutput<TlsProtocolsRaw>) -> Vec<&str> {
    output
        .raw
        .weak_suites
        .iter()
        .map(|suite| suite.name.as_str())
        .collect()
}

/// The address `localhost` is approved at, so a server there is reached by that name.
async fn localhost_ip() -> IpAddr {
    lax()
        .resolve(&url::Url::parse("https://localhost/").expect("url"))
        .await
        .expect("localhost resolves")
        .ip()
}

// --- openssl s_server ----------------------------------------------------------------------

/// A directory for one test's key and certificate, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "s4e-tls-protocols-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The key a test server's certificate is for.
#[derive(Clone, Copy)]
enum KeyKind {
    /// ECDSA P-256, made by rcgen.
    Ec,
    /// RSA 2048, for the static RSA key exchange (ring cannot generate RSA keys, so `openssl
    /// genpkey` makes it; rcgen still makes the certificate).
    Rsa,
}

/// `openssl s_server` on 127.0.0.1, killed when dropped.
struct OpensslServer {
    addr: SocketAddr,
    child: Child,
    _dir: TempDir,
    _drain: JoinHandle<()>,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Runs an `openssl` command that must succeed.
async fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .await
        .expect("openssl runs (is openssl installed?)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_text(path: &std::path::Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Starts `openssl s_server` with `options`, a self-signed certificate for `localhost` made
/// for the test, and waits (with a deadline) until it listens. Panics when it cannot start:
/// the tests need it.
async fn openssl_server(key: KeyKind, options: &[&str]) -> OpensslServer {
    let dir = TempDir::new();
    let key_path = dir.0.join("key.der");
    let cert_path = dir.0.join("cert.der");
    let key_pair = match key {
        KeyKind::Ec => KeyPair::generate().expect("key"),
        KeyKind::Rsa => {
            // genpkey writes PKCS#8 only as PEM; pkcs8 -topk8 turns it into the DER rcgen reads.
            let pem_path = dir.0.join("rsa.pem");
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                path_text(&pem_path),
            ])
            .await;
            openssl(&[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                path_text(&pem_path),
                "-outform",
                "DER",
                "-out",
                path_text(&key_path),
            ])
            .await;
            let der = std::fs::read(&key_path).expect("read key");
            KeyPair::try_from(der.as_slice()).expect("RSA key")
        }
    };
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key_pair)
        .expect("certificate");
    std::fs::write(&key_path, key_pair.serialize_der()).expect("write key");
    std::fs::write(&cert_path, cert.der()).expect("write certificate");

    let port = support::closed_port().await;
    let mut child = Command::new("openssl")
        .arg("s_server")
        .arg("-accept")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert_path)
        .arg("-key")
        .arg(&key_path)
        .args(["-certform", "DER", "-keyform", "DER"])
        .args(options)
        // Held open: s_server shuts down when its standard input ends.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_server starts (is openssl installed?)");
    // It prints ACCEPT once it listens; an error exits before that.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match timeout_at(deadline, stdout.next_line()).await {
            Err(_elapsed) => panic!("openssl s_server {options:?} did not start in time"),
            Ok(Ok(Some(line))) if line.trim() == "ACCEPT" => break,
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None) | Err(_)) => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr).await;
                }
                panic!("openssl s_server {options:?} exited: {stderr}");
            }
        }
    }
    // Keep reading what it prints about each connection, so its pipes never fill up.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let drain = tokio::spawn(async move {
        loop {
            tokio::select! {
                line = stdout.next_line() => if !matches!(line, Ok(Some(_))) { break },
                line = stderr.next_line() => if !matches!(line, Ok(Some(_))) { break },
            }
        }
    });
    OpensslServer {
        addr: SocketAddr::new(LOCALHOST, port),
        child,
        _dir: dir,
        _drain: drain,
    }
}

#[tokio::test]
async fn a_tls10_only_server_is_deprecated() {
    let server = openssl_server(KeyKind::Ec, &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.0"]);
    assert_eq!(
        rules(&output),
        ["tls13_not_supported", "tls_deprecated_protocol"]
    );
    let deprecated = finding(&output, "tls_deprecated_protocol");
    assert_eq!(deprecated.severity, Severity::Medium);
    assert_eq!(deprecated.cwe, Some(327));
    assert_eq!(
        deprecated.evidence["deprecated"],
        serde_json::json!(["TLSv1.0"])
    );
    assert_eq!(deprecated.location, server.addr.to_string());
    // The suites were probed at TLS 1.0; its ECDHE suite has forward secrecy.
    assert_eq!(output.raw.suites_probed_with.as_deref(), Some("TLSv1.0"));
    assert_eq!(
        output.raw.modern_choice.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA")
    );
    assert!(output.raw.weak_suites.is_empty());
    assert_eq!(
        finding(&output, "tls13_not_supported").severity,
        Severity::Info
    );
}

#[tokio::test]
async fn a_tls11_only_server_is_deprecated() {
    let server = openssl_server(KeyKind::Ec, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]).await;
    let output = check(&format!("https://{}/", server.addr))
        .await
        .expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.1"]);
    assert_eq!(
        rules(&output),
        ["tls13_not_supported", "tls_deprecated_protocol"]
    );
    assert_eq!(
        finding(&output, "tls_deprecated_protocol").evidence["deprecated"],
        serde_json::json!(["TLSv1.1"])
    );
}

#[tokio::test]
async fn every_version_from_tls10_is_listed() {
    let server = openssl_server(KeyKind::Ec, &["-cipher", "DEFAULT:@SECLEVEL=0"]).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(
        output.raw.protocols,
        ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0"]
    );
    assert_eq!(rules(&output), ["tls_deprecated_protocol"]);
    let deprecated = finding(&output, "tls_deprecated_protocol");
    assert_eq!(
        deprecated.evidence["deprecated"],
        serde_json::json!(["TLSv1.0", "TLSv1.1"])
    );
    assert_eq!(
        deprecated.evidence["accepted_protocols"],
        serde_json::json!(["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
    );
    // SSL 3.0 was asked for and refused.
    let ssl3 = output
        .raw
        .probes
        .iter()
        .find(|probe| probe.probe == "ssl3")
        .expect("ssl3 probe");
    assert_eq!(ssl3.version, "SSLv3");
    assert!(!ssl3.answer.starts_with("SSLv3"), "{ssl3:?}");
}

#[tokio::test]
async fn an_openssl_default_server_has_no_finding() {
    // OpenSSL 3.0's defaults: TLS 1.0 and 1.1 fail at security level 1.
    let server = openssl_server(KeyKind::Ec, &[]).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.3", "TLSv1.2"]);
    assert!(output.findings.is_empty(), "{:?}", output.findings);
}

#[tokio::test]
async fn anonymous_suites_are_weak() {
    let server = openssl_server(KeyKind::Ec, &["-no_tls1_3", "-cipher", "aNULL:@SECLEVEL=0"]).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    // Security level 0 lets TLS 1.0 and 1.1 back in, too.
    assert_eq!(output.raw.protocols, ["TLSv1.2", "TLSv1.1", "TLSv1.0"]);
    assert_eq!(
        rules(&output),
        [
            "tls13_not_supported",
            "tls_deprecated_protocol",
            "tls_weak_cipher"
        ]
    );
    let weak = finding(&output, "tls_weak_cipher");
    assert_eq!(weak.severity, Severity::High);
    assert_eq!(weak.cwe, Some(327));
    let weaknesses = weak.evidence["weaknesses"].as_array().expect("weaknesses");
    assert!(weaknesses.contains(&"anonymous".into()), "{weaknesses:?}");
    assert!(
        weak_names(&output)
            .iter()
            .all(|name| name.contains("_anon_")),
        "{:?}",
        output.raw.weak_suites
    );
    // Narrowing stopped after a few names, and says so.
    assert_eq!(
        output
            .raw
            .weak_suites
            .iter()
            .filter(|suite| suite.weaknesses == [s4e_checks::tls_protocols::Weakness::Anonymous])
            .count(),
        tls_protocols::MAX_SUITES_PER_FAMILY
    );
    assert_eq!(
        weak.evidence["more_may_be_accepted"],
        serde_json::json!(["anonymous"])
    );
    // A modern client's list has nothing the server would take.
    assert_eq!(output.raw.modern_choice, None);
}

#[tokio::test]
async fn one_null_suite_among_good_ones_is_found() {
    let server = openssl_server(
        KeyKind::Ec,
        &[
            "-no_tls1",
            "-no_tls1_1",
            "-cipher",
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0",
        ],
    )
    .await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.3", "TLSv1.2"]);
    assert_eq!(rules(&output), ["tls_weak_cipher"]);
    assert_eq!(weak_names(&output), ["TLS_ECDHE_ECDSA_WITH_NULL_SHA"]);
    let weak = finding(&output, "tls_weak_cipher");
    assert_eq!(weak.severity, Severity::High);
    assert_eq!(weak.evidence["weaknesses"], serde_json::json!(["null"]));
    assert_eq!(weak.evidence["more_may_be_accepted"], serde_json::json!([]));
    assert_eq!(weak.title, "Weak cipher suites accepted (null)");
}

#[tokio::test]
async fn a_server_choosing_static_rsa_lacks_forward_secrecy() {
    let server = openssl_server(
        KeyKind::Rsa,
        &[
            "-serverpref",
            "-cipher",
            "AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
        ],
    )
    .await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.3", "TLSv1.2"]);
    assert_eq!(rules(&output), ["tls_no_forward_secrecy"]);
    let no_fs = finding(&output, "tls_no_forward_secrecy");
    assert_eq!(no_fs.severity, Severity::Low);
    assert_eq!(
        no_fs.evidence["chosen_suite"],
        "TLS_RSA_WITH_AES_128_GCM_SHA256"
    );
}

#[tokio::test]
async fn a_server_accepting_static_rsa_after_ecdhe_is_fine() {
    // Static RSA is there for old clients, but a modern client gets ECDHE.
    let server = openssl_server(
        KeyKind::Rsa,
        &[
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256:AES128-SHA",
        ],
    )
    .await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    assert_eq!(
        output.raw.modern_choice.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
}

// --- scripted servers ----------------------------------------------------------------------

/// What a scripted server saw in one ClientHello.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SeenHello {
    version: u16,
    sni: Option<String>,
}

/// A server speaking just enough TLS to choose: it reads a ClientHello and answers a
/// ServerHello when it accepts the hello's (legacy) version and one of its suites (its own
/// preference first), else a handshake_failure or protocol_version alert. For what this
/// OpenSSL build no longer offers: SSL 3.0, RC4, DES, 3DES, export suites.
struct Scripted {
    addr: SocketAddr,
    seen: Arc<std::sync::Mutex<Vec<SeenHello>>>,
    task: JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn scripted(ip: IpAddr, versions: &'static [u16], suites: &'static [u16]) -> Scripted {
    let tcp = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut header = [0u8; 5];
                if stream.read_exact(&mut header).await.is_err() {
                    return;
                }
                let mut record = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
                if stream.read_exact(&mut record).await.is_err() {
                    return;
                }
                let (version, offered, sni) = read_client_hello(&record);
                log.lock().expect("lock").push(SeenHello { version, sni });
                let answer = if !versions.contains(&version) {
                    vec![0x15, 3, 1, 0, 2, 2, 70]
                } else if let Some(suite) = suites.iter().find(|suite| offered.contains(suite)) {
                    server_hello(version, *suite)
                } else {
                    vec![0x15, 3, 1, 0, 2, 2, 40]
                };
                let _ = stream.write_all(&answer).await;
                let mut rest = [0u8; 64];
                let _ = stream.read(&mut rest).await;
            });
        }
    });
    Scripted { addr, seen, task }
}

/// The legacy version, the suites and the server name of a ClientHello handshake message.
fn read_client_hello(message: &[u8]) -> (u16, Vec<u16>, Option<String>) {
    let u16_at = |at: usize| u16::from_be_bytes([message[at], message[at + 1]]);
    assert_eq!(message[0], 1, "a ClientHello");
    let version = u16_at(4);
    let mut at = 4 + 2 + 32;
    at += 1 + usize::from(message[at]);
    let suites_len = usize::from(u16_at(at));
    let suites = (0..suites_len / 2)
        .map(|i| u16_at(at + 2 + 2 * i))
        .collect();
    at += 2 + suites_len;
    at += 1 + usize::from(message[at]);
    let mut sni = None;
    if at < message.len() {
        let end = at + 2 + usize::from(u16_at(at));
        at += 2;
        while at < end {
            let (kind, len) = (u16_at(at), usize::from(u16_at(at + 2)));
            if kind == 0 {
                // list length (2), name type (1), name length (2), name
                sni = Some(String::from_utf8_lossy(&message[at + 9..at + 4 + len]).into_owned());
            }
            at += 4 + len;
        }
    }
    (version, suites, sni)
}

fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x11; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut message = vec![2, 0, 0, u8::try_from(body.len()).expect("short")];
    message.extend_from_slice(&body);
    let mut record = vec![0x16];
    record.extend_from_slice(&version.to_be_bytes());
    record.extend_from_slice(&u16::try_from(message.len()).expect("short").to_be_bytes());
    record.extend_from_slice(&message);
    record
}

#[tokio::test]
async fn an_old_server_with_ssl3_rc4_3des_and_export_suites() {
    // Its preference: RC4, 3DES, RC4-MD5, AES-CBC with RSA key exchange, export RC4.
    let server = scripted(
        localhost_ip().await,
        &[0x0300, 0x0301],
        &[0x0005, 0x000a, 0x0004, 0x002f, 0x0003],
    )
    .await;
    let output = check(&format!("localhost:{}", server.addr.port()))
        .await
        .expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.0", "SSLv3"]);
    assert_eq!(output.raw.suites_probed_with.as_deref(), Some("TLSv1.0"));
    assert_eq!(
        rules(&output),
        [
            "tls13_not_supported",
            "tls_deprecated_protocol",
            "tls_no_forward_secrecy",
            "tls_weak_cipher"
        ]
    );
    let deprecated = finding(&output, "tls_deprecated_protocol");
    assert_eq!(deprecated.severity, Severity::High, "SSL 3.0 is the worst");
    assert_eq!(
        deprecated.evidence["deprecated"],
        serde_json::json!(["SSLv3", "TLSv1.0"])
    );
    assert_eq!(
        deprecated.location,
        format!("localhost:{}", server.addr.port())
    );
    // Offered a browser's list, it still prefers static RSA.
    assert_eq!(
        output.raw.modern_choice.as_deref(),
        Some("TLS_RSA_WITH_AES_128_CBC_SHA")
    );
    // Each family offered as a group, then narrowed down without what was found.
    assert_eq!(
        weak_names(&output),
        [
            "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
            "TLS_RSA_WITH_RC4_128_SHA",
            "TLS_RSA_WITH_RC4_128_MD5",
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        ]
    );
    let weak = finding(&output, "tls_weak_cipher");
    assert_eq!(weak.severity, Severity::High);
    assert_eq!(
        weak.evidence["weaknesses"],
        serde_json::json!(["export", "rc4", "3des"])
    );
    // 5 versions, the modern list, then null 1, anonymous 1, export 2, rc4 3, des 1, 3des 2.
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 16, "{seen:?}");
    assert_eq!(output.raw.probes.len(), 16);
    // The name goes in SNI, except to SSL 3.0, which has no extensions.
    for hello in &seen {
        let expected = (hello.version != 0x0300).then(|| "localhost".to_owned());
        assert_eq!(hello.sni, expected, "{hello:?}");
    }
    assert!(seen.iter().any(|hello| hello.version == 0x0300));
}

#[tokio::test]
async fn three_des_alone_is_medium() {
    let server = scripted(LOCALHOST, &[0x0303], &[0xc02f, 0x000a]).await;
    let output = check(&server.addr.to_string()).await.expect("check runs");
    assert_eq!(output.raw.protocols, ["TLSv1.2"]);
    assert_eq!(rules(&output), ["tls13_not_supported", "tls_weak_cipher"]);
    let weak = finding(&output, "tls_weak_cipher");
    assert_eq!(weak.severity, Severity::Medium);
    assert_eq!(weak_names(&output), ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]);
    // An address gets no SNI.
    assert!(
        server
            .seen
            .lock()
            .expect("lock")
            .iter()
            .all(|hello| hello.sni.is_none())
    );
}

// --- rustls ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_rustls_server_has_no_finding() {
    let server = support::https_on(localhost_ip().await, Reply::ok(&[])).await;
    let target = format!("https://localhost:{}/", server.addr.port());
    let output = check(&target).await.expect("check runs");
    assert_eq!(output.raw.host, "localhost");
    assert_eq!(output.raw.address, server.addr);
    assert_eq!(output.raw.protocols, ["TLSv1.3", "TLSv1.2"]);
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    assert!(output.raw.weak_suites.is_empty());
    assert!(
        output
            .raw
            .modern_choice
            .as_deref()
            .is_some_and(|suite| suite.starts_with("TLS_ECDHE_")),
        "{:?}",
        output.raw.modern_choice
    );
    // Five versions, the modern list, six weak families: one connection each.
    assert_eq!(output.raw.probes.len(), 12);
    // Serializable as the raw output.
    let json = serde_json::to_value(&output.raw).expect("serialize");
    assert_eq!(json["protocols"][0], "TLSv1.3");
    assert_eq!(json["probes"][0]["probe"], "tls1_3");
}

// --- failures -------------------------------------------------------------------------------

/// A server answering every connection's first bytes with `first`, then `repeat` over and
/// over until the client leaves (nothing more when it is empty), then closing.
async fn answering(
    first: &'static [u8],
    repeat: &'static [u8],
) -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<()>) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                if stream.write_all(first).await.is_err() {
                    return;
                }
                while !repeat.is_empty() && stream.write_all(repeat).await.is_ok() {}
            });
        }
    });
    (addr, connections, task)
}

#[tokio::test]
async fn a_server_answering_http_offers_nothing() {
    let (addr, connections, task) = answering(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        b"",
    )
    .await;
    let err = check(&addr.to_string()).await.expect_err("not TLS");
    match &err {
        CheckError::Unreachable(reason) => {
            assert!(
                reason.starts_with("no TLS handshake: the answer is not TLS"),
                "{reason}"
            );
            assert!(reason.contains("HTTP/1.1 400"), "{reason}");
        }
        other => panic!("unexpected error: {other:?}"),
    }
    // Only the version probes: nothing was accepted, so no suite was probed.
    assert_eq!(connections.load(Ordering::SeqCst), 5);
    task.abort();
}

#[tokio::test]
async fn a_server_streaming_records_forever_is_cut_off() {
    // A ServerHello header claiming the largest size, then one-byte records without end.
    let header: &[u8] = &[0x16, 3, 3, 0, 4, 2, 0, 0x40, 0];
    let (addr, _connections, task) = answering(header, &[0x16, 3, 3, 0, 1, 0]).await;
    let started = std::time::Instant::now();
    let err = check(&addr.to_string())
        .await
        .expect_err("never a ServerHello");
    assert!(
        matches!(&err, CheckError::Unreachable(reason) if reason.contains("no complete ServerHello")),
        "{err:?}"
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    task.abort();
}
