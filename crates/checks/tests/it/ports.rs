//! The port scan against real local servers: listeners for open/closed, and fake services
//! that speak just enough of their protocol to be recognised the way the real ones are.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use s4e_checks::ports::{self, OpenPort, PortScanOptions, PortScanRaw};
use s4e_checks::{CheckContext, CheckError, CheckOutput, Target};
use s4e_egress::{EgressError, EgressPolicy};
use s4e_types::PortScope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::support::{self, lax, strict};

/// What a test scans: which ports, and how.
#[derive(Clone)]
struct Scan {
    ports: Vec<u16>,
    options: PortScanOptions,
}

fn options(ports: Vec<u16>, banner_timeout: Duration) -> Scan {
    Scan {
        ports,
        options: PortScanOptions {
            concurrency: 64,
            connect_timeout: Duration::from_secs(2),
            banner_timeout,
            identify: true,
        },
    }
}

async fn run(
    target: &str,
    egress: EgressPolicy,
    scan: &Scan,
) -> Result<CheckOutput<PortScanRaw>, CheckError> {
    let context = CheckContext {
        egress,
        ports: scan.options.clone(),
        ..CheckContext::default()
    };
    let ports = PortScope::List {
        ports: scan.ports.clone(),
    };
    ports::run(&Target::with_ports(target, ports), &context).await
}

async fn scan(target: &str, scan: &Scan) -> CheckOutput<PortScanRaw> {
    run(target, lax(), scan).await.expect("scan")
}

/// Polls `condition` until it holds or five seconds pass (a server may count a connection a
/// moment after the client has moved on).
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

#[tokio::test]
async fn open_and_closed_ports_are_told_apart() {
    // 127.0.0.2, not .1: the other tests bind servers on 127.0.0.1 meanwhile, and one of them
    // could get a port this test has just freed.
    let ip: IpAddr = "127.0.0.2".parse().expect("ip");
    let mut listeners = Vec::new();
    for _ in 0..20 {
        listeners.push(TcpListener::bind((ip, 0)).await.expect("bind"));
    }
    let open: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let mut freed = BTreeSet::new();
    for _ in 0..20 {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        freed.insert(listener.local_addr().expect("addr").port());
    }
    let all: Vec<u16> = open.iter().chain(&freed).copied().collect();
    let mut options = options(all.clone(), Duration::from_secs(2));
    // Fewer slots than ports: the scan has to refill them.
    options.options.concurrency = 4;
    options.options.identify = false;

    let output = scan("127.0.0.2", &options).await;
    let found: BTreeSet<u16> = output.raw.open.iter().map(|p| p.port).collect();
    assert_eq!(found, open);
    assert_eq!(output.raw.scanned, all.len());
    assert_eq!(output.raw.address, ip);
    assert_eq!(output.raw.host, "127.0.0.2");
    let ports: Vec<u16> = output.raw.open.iter().map(|p| p.port).collect();
    assert!(ports.is_sorted(), "{ports:?}");
    assert!(
        output
            .raw
            .open
            .iter()
            .all(|p| p.service.is_none() && p.banner.is_none())
    );
    assert!(output.findings.is_empty());
    drop(listeners);
}

/// What a fake service does with the bytes a client has sent so far on a connection.
enum Act {
    Wait,
    /// Send, forget what was received, and keep the connection.
    Reply(Vec<u8>),
    ReplyAndClose(Vec<u8>),
    Close,
}

/// A fake service on 127.0.0.1: sends `greeting` on connect, then acts on what it receives.
/// Stops, with all its connections, when dropped.
struct Fake {
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake(greeting: &'static [u8], answer: fn(&[u8]) -> Act) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        // Owned by the accept task: aborting it drops the set, which aborts the connections.
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            connections.spawn(converse(stream, greeting, answer));
        }
    });
    Fake { port, task }
}

async fn converse(mut stream: TcpStream, greeting: &[u8], answer: fn(&[u8]) -> Act) {
    if !greeting.is_empty() && stream.write_all(greeting).await.is_err() {
        return;
    }
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        seen.extend_from_slice(&chunk[..read]);
        match answer(&seen) {
            Act::Wait => {}
            Act::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                seen.clear();
            }
            Act::ReplyAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Act::Close => return,
        }
    }
}

/// A TLS server (rustls, TLS 1.2 and 1.3) that handshakes with whoever connects.
async fn fake_tls() -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = support::tls_acceptor();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            connections.spawn(async move {
                // Our probe never finishes the handshake; the error ends the connection.
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    Fake { port, task }
}

fn wait_for_client(_: &[u8]) -> Act {
    Act::Wait
}

/// An HTTP server answering any complete request with `head` (status line and headers) and
/// `body`, closing on anything that is not HTTP.
fn http_answer(seen: &[u8], head: &str, body: &str) -> Act {
    if !seen.starts_with(b"GET ") && seen.len() >= 4 {
        return Act::Close;
    }
    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let response = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
        Act::ReplyAndClose(response.into_bytes())
    } else {
        Act::Wait
    }
}

fn nginx(seen: &[u8]) -> Act {
    http_answer(
        seen,
        "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: text/html\r\n\
         Connection: close\r\n",
        "<h1>hi</h1>\r\n",
    )
}

fn elasticsearch(seen: &[u8]) -> Act {
    http_answer(
        seen,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n",
        r#"{
  "name" : "node-1",
  "cluster_name" : "docker-cluster",
  "version" : { "number" : "8.13.4", "build_flavor" : "default" },
  "tagline" : "You Know, for Search"
}
"#,
    )
}

fn docker(seen: &[u8]) -> Act {
    http_answer(
        seen,
        "HTTP/1.1 404 Not Found\r\nApi-Version: 1.45\r\nContent-Type: application/json\r\n\
         Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/26.1.3 (linux)\r\n",
        "{\"message\":\"page not found\"}\n",
    )
}

/// Redis' inline protocol: a command per line; anything but PING is unknown.
fn redis(seen: &[u8], pong: &str) -> Act {
    if seen.windows(6).any(|w| w == b"PING\r\n") {
        Act::Reply(pong.as_bytes().to_vec())
    } else if seen.contains(&b'\n') {
        Act::Reply(b"-ERR unknown command\r\n".to_vec())
    } else {
        Act::Wait
    }
}

fn redis_open(seen: &[u8]) -> Act {
    redis(seen, "+PONG\r\n")
}

fn redis_locked(seen: &[u8]) -> Act {
    redis(seen, "-NOAUTH Authentication required.\r\n")
}

/// PostgreSQL reads an 8-byte length-and-code first: an SSLRequest gets `N` (no TLS here).
fn postgres(seen: &[u8]) -> Act {
    if seen.len() < 8 {
        Act::Wait
    } else if seen[..8] == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
        Act::Reply(b"N".to_vec())
    } else {
        Act::Close
    }
}

const AMQP_HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";

/// RabbitMQ: the 0-9-1 header gets Connection.Start; any other 8 bytes get the header it
/// wants, then the door.
fn rabbitmq(seen: &[u8]) -> Act {
    if seen.len() < 8 {
        Act::Wait
    } else if seen[..8] == *AMQP_HEADER {
        Act::Reply(connection_start())
    } else {
        Act::ReplyAndClose(AMQP_HEADER.to_vec())
    }
}

/// Connection.Start (channel 0), with server properties as RabbitMQ 3.13 sends them, cut down.
fn connection_start() -> Vec<u8> {
    fn string_entry(table: &mut Vec<u8>, name: &str, value: &str) {
        table.push(u8::try_from(name.len()).expect("short name"));
        table.extend_from_slice(name.as_bytes());
        table.push(b'S');
        table.extend_from_slice(&u32::try_from(value.len()).expect("len").to_be_bytes());
        table.extend_from_slice(value.as_bytes());
    }
    let mut table = Vec::new();
    let capabilities = b"\x12publisher_confirmst\x01";
    table.push(12);
    table.extend_from_slice(b"capabilities");
    table.push(b'F');
    table.extend_from_slice(
        &u32::try_from(capabilities.len())
            .expect("len")
            .to_be_bytes(),
    );
    table.extend_from_slice(capabilities);
    string_entry(&mut table, "cluster_name", "rabbit@broker");
    string_entry(
        &mut table,
        "copyright",
        "Copyright (c) 2007-2024 Broadcom Inc",
    );
    string_entry(&mut table, "platform", "Erlang/OTP 26.2.5");
    string_entry(&mut table, "product", "RabbitMQ");
    string_entry(&mut table, "version", "3.13.7");
    let mut payload = vec![0, 10, 0, 10, 0, 9];
    payload.extend_from_slice(&u32::try_from(table.len()).expect("len").to_be_bytes());
    payload.extend_from_slice(&table);
    for text in ["AMQPLAIN PLAIN", "en_US"] {
        payload.extend_from_slice(&u32::try_from(text.len()).expect("len").to_be_bytes());
        payload.extend_from_slice(text.as_bytes());
    }
    let mut frame = vec![1, 0, 0];
    frame.extend_from_slice(&u32::try_from(payload.len()).expect("len").to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(0xce);
    frame
}

/// mongod reads a 16-byte message header; an OP_MSG gets an OP_MSG reply to its request id,
/// anything else a closed connection.
fn mongod(seen: &[u8]) -> Act {
    if seen.len() < 16 {
        return Act::Wait;
    }
    let int = |at: usize| i32::from_le_bytes(seen[at..at + 4].try_into().expect("4 bytes"));
    let (length, request_id, opcode) = (int(0), int(4), int(12));
    if opcode != 2013 || !(16..=1 << 20).contains(&length) {
        return Act::Close;
    }
    if seen.len() < usize::try_from(length).expect("length") {
        return Act::Wait;
    }
    // {isWritablePrimary: true, maxWireVersion: 21, ok: 1.0}
    let mut document = Vec::new();
    document.extend_from_slice(b"\x08isWritablePrimary\x00\x01");
    document.extend_from_slice(b"\x10maxWireVersion\x00");
    document.extend_from_slice(&21i32.to_le_bytes());
    document.extend_from_slice(b"\x01ok\x00");
    document.extend_from_slice(&1.0f64.to_le_bytes());
    document.push(0);
    let document_len = i32::try_from(document.len() + 4).expect("len");
    let mut body = vec![0, 0, 0, 0, 0];
    body.extend_from_slice(&document_len.to_le_bytes());
    body.extend_from_slice(&document);
    let total = i32::try_from(body.len() + 16).expect("len");
    let mut reply = Vec::new();
    for field in [total, 4242, request_id, 2013] {
        reply.extend_from_slice(&field.to_le_bytes());
    }
    reply.extend_from_slice(&body);
    Act::Reply(reply)
}

/// memcached's text protocol: `version`, and ERROR for anything it does not know.
fn memcached(seen: &[u8]) -> Act {
    if !seen.contains(&b'\n') {
        return Act::Wait;
    }
    if seen.starts_with(b"version\r\n") {
        Act::Reply(b"VERSION 1.6.21\r\n".to_vec())
    } else {
        Act::Reply(b"ERROR\r\n".to_vec())
    }
}

/// What the scan said about one port: service name, product, version, and finding rules.
type Seen = (
    Option<&'static str>,
    Option<String>,
    Option<String>,
    Vec<String>,
);

fn by_port(output: &CheckOutput<PortScanRaw>) -> BTreeMap<u16, Seen> {
    let mut seen = BTreeMap::new();
    for OpenPort { port, service, .. } in &output.raw.open {
        let service = service.as_ref();
        let rules = output
            .findings
            .iter()
            .filter(|f| f.location == format!("127.0.0.1:{port}"))
            .map(|f| f.rule.clone())
            .collect();
        seen.insert(
            *port,
            (
                service.map(|s| s.name),
                service.and_then(|s| s.product.clone()),
                service.and_then(|s| s.version.clone()),
                rules,
            ),
        );
    }
    seen
}

fn seen_as(
    name: &'static str,
    product: Option<&str>,
    version: Option<&str>,
    rules: &[&str],
) -> Seen {
    (
        Some(name),
        product.map(str::to_owned),
        version.map(str::to_owned),
        rules.iter().map(|r| (*r).to_owned()).collect(),
    )
}

#[tokio::test]
async fn services_that_speak_first_are_identified_by_their_greeting() {
    let ssh = fake(
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n",
        wait_for_client,
    )
    .await;
    let smtp = fake(
        b"220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n",
        wait_for_client,
    )
    .await;
    let ftp = fake(b"220 (vsFTPd 3.0.3)\r\n", wait_for_client).await;
    let mysql = fake(
        b"\x4a\x00\x00\x00\x0a8.0.36\x00\x0b\x00\x00\x00\x2f\x55\x3e\x74\x50\x72\x6d\x4b\x00\
          \xff\xff\xff\x02\x00\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1a\x2b\x3c\
          \x4d\x5e\x6f\x70\x01\x12\x23\x34\x45\x00caching_sha2_password\x00",
        wait_for_client,
    )
    .await;
    let vnc = fake(b"RFB 003.008\n", wait_for_client).await;
    let telnet = fake(
        b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27",
        wait_for_client,
    )
    .await;
    let nats = fake(
        b"INFO {\"server_id\":\"NDUMMY\",\"server_name\":\"NDUMMY\",\"version\":\"2.10.14\",\
          \"proto\":1,\"go\":\"go1.22.2\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\
          \"max_payload\":1048576} \r\n",
        wait_for_client,
    )
    .await;
    let fakes = [&ssh, &smtp, &ftp, &mysql, &vnc, &telnet, &nats];

    let ports: Vec<u16> = fakes.iter().map(|f| f.port).collect();
    let output = scan("127.0.0.1", &options(ports, Duration::from_secs(2))).await;
    let seen = by_port(&output);

    assert_eq!(
        seen[&ssh.port],
        seen_as("ssh", Some("OpenSSH"), Some("8.9p1"), &["exposed_ssh"])
    );
    assert_eq!(
        seen[&smtp.port],
        seen_as("smtp", Some("Postfix"), None, &[])
    );
    assert_eq!(
        seen[&ftp.port],
        seen_as(
            "ftp",
            Some("vsFTPd"),
            Some("3.0.3"),
            &["exposed_admin_service"]
        )
    );
    assert_eq!(
        seen[&mysql.port],
        seen_as(
            "mysql",
            Some("MySQL"),
            Some("8.0.36"),
            &["exposed_database"]
        )
    );
    assert_eq!(
        seen[&vnc.port],
        seen_as("vnc", None, Some("3.8"), &["exposed_admin_service"])
    );
    assert_eq!(
        seen[&telnet.port],
        seen_as("telnet", None, None, &["exposed_admin_service"])
    );
    assert_eq!(
        seen[&nats.port],
        seen_as(
            "nats",
            Some("NATS"),
            Some("2.10.14"),
            &["exposed_message_broker"]
        )
    );
    assert_eq!(seen.len(), fakes.len());

    // The banner is the greeting, as printable text.
    let ssh_port = output
        .raw
        .open
        .iter()
        .find(|p| p.port == ssh.port)
        .expect("ssh");
    assert_eq!(
        ssh_port.banner.as_deref(),
        Some("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\\r\\n")
    );
    let finding = output
        .findings
        .iter()
        .find(|f| f.rule == "exposed_ssh")
        .expect("ssh finding");
    assert_eq!(finding.check, s4e_types::CheckKind::Ports);
    assert_eq!(finding.location, format!("127.0.0.1:{}", ssh.port));
    assert_eq!(finding.evidence["service"], "ssh");
    assert_eq!(finding.evidence["port"], ssh.port);
    assert_eq!(
        finding.evidence["banner"],
        "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\\r\\n"
    );
    assert!(output.raw.open.iter().all(|p| p.banner.is_some()));
}

#[tokio::test]
async fn services_that_wait_are_identified_by_probes() {
    let http = fake(b"", nginx).await;
    let elastic = fake(b"", elasticsearch).await;
    let docker = fake(b"", docker).await;
    let redis_open = fake(b"", redis_open).await;
    let redis_locked = fake(b"", redis_locked).await;
    let postgres = fake(b"", postgres).await;
    let amqp = fake(b"", rabbitmq).await;
    let mongo = fake(b"", mongod).await;
    let memcached = fake(b"", memcached).await;
    let tls = fake_tls().await;
    let fakes = [
        &http,
        &elastic,
        &docker,
        &redis_open,
        &redis_locked,
        &postgres,
        &amqp,
        &mongo,
        &memcached,
        &tls,
    ];

    let ports: Vec<u16> = fakes.iter().map(|f| f.port).collect();
    let output = scan("127.0.0.1", &options(ports, Duration::from_secs(1))).await;
    let seen = by_port(&output);

    assert_eq!(
        seen[&http.port],
        seen_as("http", Some("nginx"), Some("1.24.0"), &[])
    );
    assert_eq!(
        seen[&elastic.port],
        seen_as(
            "elasticsearch",
            Some("Elasticsearch"),
            Some("8.13.4"),
            &["exposed_database"]
        )
    );
    assert_eq!(
        seen[&docker.port],
        seen_as(
            "docker",
            Some("Docker"),
            Some("26.1.3"),
            &["exposed_admin_service", "unauthenticated_docker_api"]
        )
    );
    assert_eq!(
        seen[&redis_open.port],
        seen_as(
            "redis",
            None,
            None,
            &["exposed_database", "unauthenticated_redis"]
        )
    );
    assert_eq!(
        seen[&redis_locked.port],
        seen_as("redis", None, None, &["exposed_database"])
    );
    assert_eq!(
        seen[&postgres.port],
        seen_as("postgresql", None, None, &["exposed_database"])
    );
    assert_eq!(
        seen[&amqp.port],
        seen_as(
            "amqp",
            Some("RabbitMQ"),
            Some("3.13.7"),
            &["exposed_message_broker"]
        )
    );
    assert_eq!(
        seen[&mongo.port],
        seen_as("mongodb", None, None, &["exposed_database"])
    );
    assert_eq!(
        seen[&memcached.port],
        seen_as("memcached", None, Some("1.6.21"), &["exposed_database"])
    );
    assert_eq!(seen[&tls.port], seen_as("tls", None, Some("TLSv1.3"), &[]));
    assert_eq!(seen.len(), fakes.len());

    let banner = |port: u16| {
        output
            .raw
            .open
            .iter()
            .find(|p| p.port == port)
            .and_then(|p| p.banner.clone())
    };
    assert_eq!(banner(redis_open.port).as_deref(), Some("+PONG\\r\\n"));
    assert_eq!(
        banner(redis_locked.port).as_deref(),
        Some("-NOAUTH Authentication required.\\r\\n")
    );
    let critical = output
        .findings
        .iter()
        .find(|f| f.rule == "unauthenticated_redis")
        .expect("redis finding");
    assert_eq!(critical.severity, s4e_types::Severity::Critical);
    assert_eq!(critical.cwe, Some(306));
    assert_eq!(critical.evidence["banner"], "+PONG\\r\\n");
}

#[tokio::test]
async fn a_silent_port_is_open_and_unidentified_within_bounded_time() {
    let server = support::silent().await;
    let wait = Duration::from_millis(200);
    let started = Instant::now();
    let output = scan("127.0.0.1", &options(vec![server.addr.port()], wait)).await;
    let elapsed = started.elapsed();

    assert_eq!(output.raw.open.len(), 1);
    assert_eq!(output.raw.open[0].port, server.addr.port());
    assert_eq!(output.raw.open[0].service, None);
    assert_eq!(output.raw.open[0].banner, None);
    assert!(output.findings.is_empty());
    // The greeting wait plus one wait per probe, each on its own connection: every exchange
    // waits out its timeout, none waits longer.
    let exchanges: u32 = 1 + 7;
    assert!(
        elapsed >= wait * exchanges,
        "gave up early, after {elapsed:?}"
    );
    assert!(
        elapsed < wait * exchanges + Duration::from_secs(3),
        "took {elapsed:?}"
    );
    assert!(
        eventually(|| server.connections() == exchanges as usize).await,
        "{} connections",
        server.connections()
    );
}

#[tokio::test]
async fn loopback_is_refused_without_connecting_unless_private_targets_are_allowed() {
    let server = support::silent().await;
    let port = server.addr.port();
    let mut options = options(vec![port], Duration::from_secs(1));
    options.options.identify = false;
    for target in [
        "127.0.0.1".to_owned(),
        format!("http://127.0.0.1:{port}/"),
        "localhost".to_owned(),
    ] {
        match run(&target, strict(), &options).await {
            Err(CheckError::Egress(EgressError::Refused { reason, .. })) => {
                assert_eq!(reason, "loopback address", "{target}");
            }
            other => panic!("{target}: expected a refusal, got {other:?}"),
        }
    }
    let metadata = run("169.254.169.254", lax(), &options).await;
    assert!(matches!(
        metadata,
        Err(CheckError::Egress(EgressError::Refused {
            reason: "cloud metadata endpoint",
            ..
        }))
    ));

    // Allowed, the one port is connected to once; the refused scans added nothing.
    let output = scan("127.0.0.1", &options).await;
    assert_eq!(output.raw.open.len(), 1);
    assert!(eventually(|| server.connections() == 1).await);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn targets_without_a_host_are_invalid() {
    for target in ["", "http://", "exa mple.com"] {
        let result = ports::run(&Target::new(target), &CheckContext::default()).await;
        assert!(
            matches!(result, Err(CheckError::InvalidTarget(_))),
            "{target:?}: {result:?}"
        );
    }
}
