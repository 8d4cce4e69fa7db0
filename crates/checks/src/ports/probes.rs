//! Probes for services that wait for the client to speak: what we send, in which order, and
//! what their replies mean. Pure functions; the I/O is in `identify.rs`.

use serde_json::Value;

use super::banner::{first_line, starts_with_or_is_prefix};
use super::{Service, Verdict, amqp, tls};

const USER_AGENT: &str = concat!("s4e-scanner/", env!("CARGO_PKG_VERSION"));

/// One request sent on a fresh connection to a port that said nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Http,
    Tls,
    Redis,
    Postgres,
    Mongo,
    Amqp,
    Memcached,
}

/// What the request needs to know about the target.
pub struct Target<'a> {
    /// The host as a URL writes it (IPv6 in brackets), for the HTTP Host header.
    pub host: &'a str,
    /// The host name, when the target has one, for TLS SNI.
    pub sni: Option<&'a str>,
    pub port: u16,
}

impl Probe {
    /// The order for a port with no known service: the most common protocols first, so
    /// most ports are identified by the first or second probe.
    pub const ALL: [Probe; 7] = [
        Probe::Http,
        Probe::Tls,
        Probe::Redis,
        Probe::Postgres,
        Probe::Mongo,
        Probe::Amqp,
        Probe::Memcached,
    ];

    /// The probe to try first on `port`: the protocol registered or customary there.
    fn hint(port: u16) -> Option<Probe> {
        Some(match port {
            80 | 81 | 591 | 2375 | 2379 | 3000 | 4848 | 5000 | 5001 | 5601 | 5984 | 5985 | 7001
            | 7474 | 8000 | 8008 | 8080 | 8081 | 8086 | 8088 | 8161 | 8500 | 8880 | 8888 | 9000
            | 9090 | 9200 | 10000 | 15672 | 28017 | 50070 => Probe::Http,
            443 | 444 | 465 | 636 | 853 | 990 | 993 | 995 | 2376 | 4443 | 5671 | 5986 | 6443
            | 8443 | 9443 | 10250 => Probe::Tls,
            6379 | 6380 => Probe::Redis,
            5432 | 5433 => Probe::Postgres,
            27017..=27019 => Probe::Mongo,
            5672 => Probe::Amqp,
            11211 => Probe::Memcached,
            _ => return None,
        })
    }

    /// Every probe, the port's own protocol first: on its usual port a service is identified
    /// by the first probe, and is not sent requests of other protocols at all.
    pub fn order(port: u16) -> Vec<Probe> {
        let hint = Probe::hint(port);
        hint.into_iter()
            .chain(Probe::ALL.into_iter().filter(|probe| Some(*probe) != hint))
            .collect()
    }

    pub fn request(self, target: &Target<'_>) -> Vec<u8> {
        match self {
            Probe::Http => {
                let host = if target.port == 80 {
                    target.host.to_owned()
                } else {
                    format!("{}:{}", target.host, target.port)
                };
                format!(
                    "GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n\
                     Accept: */*\r\nConnection: close\r\n\r\n"
                )
                .into_bytes()
            }
            Probe::Tls => tls::client_hello(target.sni),
            Probe::Redis => b"PING\r\n".to_vec(),
            Probe::Postgres => POSTGRES_SSL_REQUEST.to_vec(),
            Probe::Mongo => mongo_hello(),
            Probe::Amqp => amqp::PROTOCOL_HEADER.to_vec(),
            Probe::Memcached => b"version\r\n".to_vec(),
        }
    }

    /// Judges the reply read so far; `end` as in [`super::banner::parse`].
    pub fn parse(self, reply: &[u8], end: bool) -> Verdict {
        match self {
            Probe::Http => http(reply, end),
            Probe::Tls => tls::parse(reply, end),
            Probe::Redis => redis(reply, end),
            Probe::Postgres => postgres(reply, end),
            Probe::Mongo => mongo(reply, end),
            Probe::Amqp => amqp::parse(reply, end),
            Probe::Memcached => memcached(reply, end),
        }
    }
}

/// An HTTP response, refined by what only certain servers answer to `GET /`: Docker's API
/// headers, Elasticsearch's banner document, CouchDB's welcome. The Server header gives the
/// product and version (`nginx/1.24.0` → nginx 1.24.0).
fn http(reply: &[u8], end: bool) -> Verdict {
    if !starts_with_or_is_prefix(reply, b"HTTP/1.") {
        return Verdict::Not;
    }
    if reply.len() < 12 {
        return if end { Verdict::Not } else { Verdict::More };
    }
    let status_ok = reply[8] == b' ' && reply[9..12].iter().all(u8::is_ascii_digit);
    if !status_ok {
        return Verdict::Not;
    }
    let head_end = find(reply, b"\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| find(reply, b"\n\n").map(|at| at + 2));
    let Some(head_end) = head_end else {
        // Headers still coming; at the end, judge what arrived.
        return if end {
            Verdict::Is(classify_http(&headers(reply), b""))
        } else {
            Verdict::More
        };
    };
    let headers = headers(&reply[..head_end]);
    let body = &reply[head_end..];
    // We asked the server to close after the response: wait for that, or for the length it
    // announced, so that the body can be read.
    let length = header(&headers, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
    let complete = length.is_some_and(|length| body.len() >= length);
    if !complete && !end {
        return Verdict::More;
    }
    Verdict::Is(classify_http(&headers, body))
}

fn classify_http(headers: &[(String, String)], body: &[u8]) -> Service {
    let server = header(headers, "server").unwrap_or_default();
    // Docker's Engine API stamps every response, even the 404 for `/`.
    if let Some(version) = server.strip_prefix("Docker/") {
        let version = version.split_whitespace().next().map(str::to_owned);
        return Service::new("docker", Some("Docker".into()), version);
    }
    if header(headers, "api-version").is_some() && header(headers, "docker-experimental").is_some()
    {
        return Service::new("docker", Some("Docker".into()), None);
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(json) = &json {
        if json.get("tagline").is_some_and(Value::is_string) {
            let version = json.get("version");
            let product = match version.and_then(|v| v.get("distribution")) {
                Some(Value::String(d)) if d == "opensearch" => "OpenSearch",
                _ => "Elasticsearch",
            };
            let number = version
                .and_then(|v| v.get("number"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Service::new("elasticsearch", Some(product.into()), number);
        }
        if json.get("couchdb").and_then(Value::as_str) == Some("Welcome") {
            let version = json
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Service::new("couchdb", Some("CouchDB".into()), version);
        }
    }
    // Elasticsearch 7.14+ names itself on every response, also a 401 when security is on.
    if header(headers, "x-elastic-product").is_some_and(|p| p == "Elasticsearch") {
        return Service::new("elasticsearch", Some("Elasticsearch".into()), None);
    }
    let (product, version) = server_product(&server);
    Service::new("http", product, version)
}

/// `nginx/1.24.0 (Ubuntu)` → (nginx, 1.24.0); `cloudflare` → (cloudflare).
fn server_product(server: &str) -> (Option<String>, Option<String>) {
    let Some(first) = server.split_whitespace().next() else {
        return (None, None);
    };
    match first.split_once('/') {
        Some((product, version)) if !product.is_empty() => (
            Some(product.to_owned()),
            Some(version.to_owned()).filter(|v| !v.is_empty()),
        ),
        _ => (Some(first.to_owned()), None),
    }
}

/// The header lines after the status line, names lower-cased, values trimmed.
fn headers(head: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(head)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect()
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `+PONG` (no password needed), or the refusals only Redis gives: `-NOAUTH` (a password is
/// set), `-DENIED` (protected mode), `-ERR operation not permitted` (Redis before 6).
fn redis(reply: &[u8], end: bool) -> Verdict {
    if !matches!(reply.first(), None | Some(b'+' | b'-')) {
        return Verdict::Not;
    }
    let Some(line) = first_line(reply, end) else {
        return Verdict::More;
    };
    let known = line == "+PONG"
        || line.starts_with("-NOAUTH")
        || line.starts_with("-DENIED")
        || line.starts_with("-ERR operation not permitted");
    if known {
        Verdict::Is(Service::new("redis", None, None))
    } else {
        Verdict::Not
    }
}

/// Whether Redis answered our PING without asking for a password: the reply that identified
/// it (kept as the banner) is `+PONG`.
pub fn redis_is_open(banner: &str) -> bool {
    banner.starts_with("+PONG")
}

/// SSLRequest: length 8, then the code 80877103 (RFC: PostgreSQL protocol, "SSLRequest").
/// Sent rather than a startup message because it is the one request every server answers
/// in a single byte, and asks for no user or database.
const POSTGRES_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// `S` (TLS available) or `N` (not), alone; or, from servers too old to know SSLRequest, an
/// ErrorResponse (`E`, a length, then fields starting with the severity `S`).
fn postgres(reply: &[u8], end: bool) -> Verdict {
    match reply {
        [] if end => Verdict::Not,
        [] => Verdict::More,
        [b'S' | b'N'] => Verdict::Is(Service::new("postgresql", None, None)),
        [b'E', rest @ ..] if rest.len() < 5 => {
            if end {
                Verdict::Not
            } else {
                Verdict::More
            }
        }
        [b'E', l0, l1, l2, l3, b'S', ..] if u32::from_be_bytes([*l0, *l1, *l2, *l3]) < 1 << 16 => {
            Verdict::Is(Service::new("postgresql", None, None))
        }
        _ => Verdict::Not,
    }
}

/// Our request id, echoed by the server as `responseTo`.
const MONGO_REQUEST_ID: i32 = 0x5345_3401;
const OP_REPLY: i32 = 1;
const OP_MSG: i32 = 2013;

/// An OP_MSG `{hello: 1, $db: "admin"}`, the handshake every driver opens with (MongoDB 3.6+).
fn mongo_hello() -> Vec<u8> {
    let mut document = Vec::new();
    document.push(0x10); // int32
    document.extend_from_slice(b"hello\0");
    document.extend_from_slice(&1i32.to_le_bytes());
    document.push(0x02); // string
    document.extend_from_slice(b"$db\0");
    document.extend_from_slice(&6i32.to_le_bytes());
    document.extend_from_slice(b"admin\0");
    document.push(0); // end of document
    let document_len = i32::try_from(document.len() + 4).unwrap_or(i32::MAX);

    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    body.push(0); // section kind 0: the body document
    body.extend_from_slice(&document_len.to_le_bytes());
    body.extend_from_slice(&document);

    let total = i32::try_from(body.len() + 16).unwrap_or(i32::MAX);
    let mut message = Vec::new();
    message.extend_from_slice(&total.to_le_bytes());
    message.extend_from_slice(&MONGO_REQUEST_ID.to_le_bytes());
    message.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    message.extend_from_slice(&OP_MSG.to_le_bytes());
    message.extend_from_slice(&body);
    message
}

/// A message header answering ours: a sane length, `responseTo` our request id, and an
/// OP_MSG (or, from old servers, OP_REPLY) opcode. The header alone decides.
fn mongo(reply: &[u8], end: bool) -> Verdict {
    if reply.len() < 16 {
        return if end || reply.len() >= 4 && !plausible_mongo_length(reply) {
            Verdict::Not
        } else {
            Verdict::More
        };
    }
    let int =
        |at: usize| i32::from_le_bytes([reply[at], reply[at + 1], reply[at + 2], reply[at + 3]]);
    let answers_us = int(8) == MONGO_REQUEST_ID && matches!(int(12), OP_MSG | OP_REPLY);
    if plausible_mongo_length(reply) && answers_us {
        Verdict::Is(Service::new("mongodb", None, None))
    } else {
        Verdict::Not
    }
}

/// Between a bare header and MongoDB's 48 MB message limit.
fn plausible_mongo_length(reply: &[u8]) -> bool {
    let length = i32::from_le_bytes([reply[0], reply[1], reply[2], reply[3]]);
    (16..=48_000_000).contains(&length)
}

/// `VERSION 1.6.21`.
fn memcached(reply: &[u8], end: bool) -> Verdict {
    if !starts_with_or_is_prefix(reply, b"VERSION ") {
        return Verdict::Not;
    }
    let Some(line) = first_line(reply, end) else {
        return Verdict::More;
    };
    match line.strip_prefix("VERSION ") {
        Some(version) if !version.trim().is_empty() => Verdict::Is(Service::new(
            "memcached",
            None,
            Some(version.trim().to_owned()),
        )),
        _ => Verdict::Not,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &'static str, product: Option<&str>, version: Option<&str>) -> Verdict {
        Verdict::Is(Service::new(
            name,
            product.map(str::to_owned),
            version.map(str::to_owned),
        ))
    }

    #[test]
    fn the_ports_own_protocol_goes_first() {
        assert_eq!(Probe::order(6379)[0], Probe::Redis);
        assert_eq!(Probe::order(5432)[0], Probe::Postgres);
        assert_eq!(Probe::order(443)[0], Probe::Tls);
        assert_eq!(Probe::order(27017)[0], Probe::Mongo);
        assert_eq!(Probe::order(5672)[0], Probe::Amqp);
        assert_eq!(Probe::order(11211)[0], Probe::Memcached);
        assert_eq!(Probe::order(12345), Probe::ALL.to_vec());
        for port in [6379, 443, 80, 12345] {
            let mut order = Probe::order(port);
            assert_eq!(order.len(), Probe::ALL.len(), "every probe, once");
            order.sort_by_key(|p| Probe::ALL.iter().position(|q| q == p));
            assert_eq!(order, Probe::ALL.to_vec());
        }
    }

    #[test]
    fn http_request_names_the_host() {
        let target = Target {
            host: "[::1]",
            sni: None,
            port: 8080,
        };
        let request = String::from_utf8(Probe::Http.request(&target)).unwrap();
        assert!(request.starts_with("GET / HTTP/1.0\r\nHost: [::1]:8080\r\n"));
        assert!(request.ends_with("\r\n\r\n"));
        let target = Target {
            host: "example.com",
            sni: Some("example.com"),
            port: 80,
        };
        let request = String::from_utf8(Probe::Http.request(&target)).unwrap();
        assert!(request.contains("\r\nHost: example.com\r\n"));
    }

    #[test]
    fn http_server_header_gives_product_and_version() {
        let reply =
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0 (Ubuntu)\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(
            http(reply, false),
            named("http", Some("nginx"), Some("1.24.0"))
        );
        let reply = b"HTTP/1.0 404 Not Found\r\nServer: cloudflare\r\n\r\n";
        assert_eq!(http(reply, true), named("http", Some("cloudflare"), None));
        let reply = b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n";
        assert_eq!(http(reply, true), named("http", None, None));
    }

    #[test]
    fn http_waits_for_the_announced_body_or_the_close() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(http(reply, false), Verdict::More);
        assert_eq!(http(reply, true), named("http", None, None));
        // No length: only the close ends the body.
        assert_eq!(http(b"HTTP/1.1 200 OK\r\n\r\nabc", false), Verdict::More);
        assert_eq!(http(b"HTTP/1.1 200 OK\r\nServer: x", false), Verdict::More);
        assert_eq!(http(b"HTT", false), Verdict::More);
    }

    #[test]
    fn http_recognises_docker_elasticsearch_and_couchdb() {
        let docker =
            b"HTTP/1.1 404 Not Found\r\nApi-Version: 1.45\r\nDocker-Experimental: false\r\n\
            Ostype: linux\r\nServer: Docker/26.1.3 (linux)\r\nContent-Length: 29\r\n\r\n\
            {\"message\":\"page not found\"}\n";
        assert_eq!(
            http(docker, false),
            named("docker", Some("Docker"), Some("26.1.3"))
        );
        let elastic = br#"HTTP/1.1 200 OK
content-type: application/json

{
  "name" : "node-1",
  "cluster_name" : "docker-cluster",
  "version" : { "number" : "8.13.4", "build_flavor" : "default" },
  "tagline" : "You Know, for Search"
}"#;
        assert_eq!(
            http(elastic, true),
            named("elasticsearch", Some("Elasticsearch"), Some("8.13.4"))
        );
        let opensearch = b"HTTP/1.1 200 OK\r\n\r\n{\"tagline\":\"The OpenSearch Project: https://opensearch.org/\",\
            \"version\":{\"distribution\":\"opensearch\",\"number\":\"2.13.0\"}}";
        assert_eq!(
            http(opensearch, true),
            named("elasticsearch", Some("OpenSearch"), Some("2.13.0"))
        );
        let secured = b"HTTP/1.1 401 Unauthorized\r\nX-elastic-product: Elasticsearch\r\n\r\n{}";
        assert_eq!(
            http(secured, true),
            named("elasticsearch", Some("Elasticsearch"), None)
        );
        let couch = b"HTTP/1.1 200 OK\r\nServer: CouchDB/3.3.3 (Erlang OTP/24)\r\n\r\n\
            {\"couchdb\":\"Welcome\",\"version\":\"3.3.3\"}\n";
        assert_eq!(
            http(couch, true),
            named("couchdb", Some("CouchDB"), Some("3.3.3"))
        );
    }

    #[test]
    fn non_http_replies() {
        assert_eq!(http(b"SSH-2.0-x\r\n", false), Verdict::Not);
        assert_eq!(http(b"-ERR unknown command\r\n", false), Verdict::Not);
        assert_eq!(http(b"HTTP/1.1 abc\r\n\r\n", false), Verdict::Not);
        assert_eq!(http(b"HTTP/1", true), Verdict::Not);
    }

    #[test]
    fn redis_replies() {
        assert_eq!(redis(b"+PONG\r\n", false), named("redis", None, None));
        assert_eq!(
            redis(b"-NOAUTH Authentication required.\r\n", false),
            named("redis", None, None)
        );
        assert_eq!(
            redis(b"-DENIED Redis is running in protected mode\r\n", false),
            named("redis", None, None)
        );
        assert_eq!(redis(b"+PON", false), Verdict::More);
        assert_eq!(redis(b"+PON", true), Verdict::Not);
        assert_eq!(redis(b"-ERR unknown command\r\n", false), Verdict::Not);
        assert_eq!(redis(b"HTTP/1.1 400\r\n", false), Verdict::Not);
        assert!(redis_is_open("+PONG\\r\\n"));
        assert!(!redis_is_open("-NOAUTH Authentication required.\\r\\n"));
    }

    #[test]
    fn postgres_replies() {
        assert_eq!(postgres(b"N", false), named("postgresql", None, None));
        assert_eq!(postgres(b"S", false), named("postgresql", None, None));
        assert_eq!(postgres(b"", false), Verdict::More);
        assert_eq!(postgres(b"", true), Verdict::Not);
        let old = b"E\x00\x00\x00\x5bSFATAL\x00Munsupported frontend protocol\x00\x00";
        assert_eq!(postgres(old, false), named("postgresql", None, None));
        assert_eq!(postgres(b"E\x00\x00", false), Verdict::More);
        assert_eq!(postgres(b"No thanks\r\n", false), Verdict::Not);
        assert_eq!(postgres(b"HTTP/1.1 400\r\n", false), Verdict::Not);
        assert_eq!(POSTGRES_SSL_REQUEST[4..], 80_877_103u32.to_be_bytes());
    }

    /// A server's OP_MSG answer: header, flags, a section-0 document `{ok: 1.0}`.
    fn mongo_reply(response_to: i32, opcode: i32) -> Vec<u8> {
        let document = [
            17, 0, 0, 0, 0x01, b'o', b'k', 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0,
        ];
        let total = i32::try_from(16 + 4 + 1 + document.len()).unwrap();
        let mut reply = Vec::new();
        for field in [total, 77, response_to, opcode] {
            reply.extend_from_slice(&field.to_le_bytes());
        }
        reply.extend_from_slice(&[0, 0, 0, 0, 0]);
        reply.extend_from_slice(&document);
        reply
    }

    #[test]
    fn mongo_hello_and_reply() {
        let hello = mongo_hello();
        let len = i32::from_le_bytes([hello[0], hello[1], hello[2], hello[3]]);
        assert_eq!(usize::try_from(len).unwrap(), hello.len());
        assert_eq!(hello[12..16], OP_MSG.to_le_bytes());
        assert!(hello.windows(6).any(|w| w == b"hello\0"));

        let reply = mongo_reply(MONGO_REQUEST_ID, OP_MSG);
        assert_eq!(mongo(&reply, false), named("mongodb", None, None));
        assert_eq!(mongo(&reply[..10], false), Verdict::More);
        assert_eq!(mongo(&reply[..10], true), Verdict::Not);
        assert_eq!(
            mongo(&mongo_reply(MONGO_REQUEST_ID, OP_REPLY), false),
            named("mongodb", None, None)
        );
        assert_eq!(mongo(&mongo_reply(12, OP_MSG), false), Verdict::Not);
        assert_eq!(
            mongo(&mongo_reply(MONGO_REQUEST_ID, 2004), false),
            Verdict::Not
        );
        assert_eq!(mongo(b"HTTP/1.1 400 Bad Request\r\n", false), Verdict::Not);
        assert_eq!(mongo(b"HTTP/1", false), Verdict::Not);
    }

    #[test]
    fn memcached_replies() {
        assert_eq!(
            memcached(b"VERSION 1.6.21\r\n", false),
            named("memcached", None, Some("1.6.21"))
        );
        assert_eq!(memcached(b"VERS", false), Verdict::More);
        assert_eq!(memcached(b"ERROR\r\n", false), Verdict::Not);
        assert_eq!(memcached(b"VERSION \r\n", false), Verdict::Not);
    }
}
