//! A small DNS stub client: one question at a time to the configured recursive resolvers, over
//! UDP, and again over TCP when the answer comes back truncated.
//!
//! Built on `hickory-proto`'s message types rather than on `hickory-resolver`: the checks need
//! each answer as the resolver gave it (NXDOMAIN, an empty answer and a failure told apart;
//! no cache, no search domains), which is a few dozen lines over the wire format, and the
//! resolver's cache and runtime glue would be dead weight.
//!
//! The outcome of a lookup is [`Lookup`]: records, no records of that type (NOERROR with an
//! empty answer), or NXDOMAIN (the name does not exist). Anything else — SERVFAIL, REFUSED,
//! no answer in time, a garbled reply — is a [`DnsError`], never "no records": a resolver
//! having a bad day must not read as a missing SPF record.
//!
//! Servers are asked in order; the next one is tried when one fails or stays silent for
//! [`DnsClient::attempt_timeout`]. With no servers configured, the system's resolvers
//! (`nameserver` lines of `/etc/resolv.conf`) are used.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

pub const DNS_PORT: u16 = 53;

/// How long one server gets to answer one question before the next is asked.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// The EDNS payload size offered: the size the DNS flag day 2020 settled on, which avoids IP
/// fragmentation; larger answers come over TCP.
const EDNS_PAYLOAD: u16 = 1232;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The records of the type asked for (never empty).
    Found(Vec<T>),
    /// The name exists but has no records of that type.
    NoRecords,
    /// The name does not exist.
    NxDomain,
}

impl<T> Lookup<T> {
    /// The records found; none for the two negative answers.
    pub fn records(&self) -> &[T] {
        match self {
            Lookup::Found(records) => records,
            Lookup::NoRecords | Lookup::NxDomain => &[],
        }
    }

    pub fn is_nxdomain(&self) -> bool {
        matches!(self, Lookup::NxDomain)
    }
}

/// An MX record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mx {
    pub preference: u16,
    /// Lowercase, without the final dot.
    pub exchange: String,
}

impl std::fmt::Display for Mx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.preference, self.exchange)
    }
}

/// Whether a zone publishes DNSSEC keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dnssec {
    /// DNSKEY records at the zone apex.
    pub dnskeys: usize,
    /// The resolver set the AD bit: it validated the answer. Only a validating resolver
    /// sets it, so it is recorded, not judged.
    pub authenticated: bool,
}

/// What a zone's name server answered to a request for the whole zone (AXFR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneTransfer {
    /// The server handed the zone out: every owner name in it (lowercase, without the final
    /// dot, each once, in the order received) and how many records it held.
    Transferred { names: Vec<String>, records: usize },
    /// The server declined (REFUSED, NOTAUTH, an empty answer, a closed connection): the
    /// right answer to a stranger.
    Refused(String),
}

/// The most records a zone transfer is read for: a zone larger than this is still proven
/// transferable, and the rest is not read.
pub const MAX_TRANSFER_RECORDS: usize = 100_000;

/// Why a question got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("no DNS answer to {qtype} {name} within {} ms (asked {servers})", .timeout.as_millis())]
    Timeout {
        name: String,
        qtype: String,
        servers: String,
        timeout: Duration,
    },
    #[error("DNS server {server} answered {code} to {qtype} {name}")]
    ServerFailure {
        name: String,
        qtype: String,
        server: SocketAddr,
        code: String,
    },
    #[error("DNS query {qtype} {name} to {server} failed: {detail}")]
    Transport {
        name: String,
        qtype: String,
        server: SocketAddr,
        detail: String,
    },
    #[error("not a valid DNS name: {0:?}")]
    InvalidName(String),
    #[error("no DNS server configured: {0}")]
    NoServers(String),
}

/// The resolvers to ask, and how long each gets.
#[derive(Clone, Debug)]
pub struct DnsClient {
    servers: Vec<SocketAddr>,
    attempt_timeout: Duration,
}

impl DnsClient {
    /// A client of `servers`, or of the system's resolvers when `servers` is empty.
    pub fn new(servers: &[SocketAddr]) -> Result<DnsClient, DnsError> {
        let servers = if servers.is_empty() {
            system_servers()?
        } else {
            servers.to_vec()
        };
        Ok(DnsClient {
            servers,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        })
    }

    pub fn with_attempt_timeout(mut self, timeout: Duration) -> DnsClient {
        self.attempt_timeout = timeout;
        self
    }

    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The TXT records at `name`, each record's character-strings joined (RFC 7208 §3.3: a
    /// long record is split into strings of at most 255 bytes, to be concatenated without
    /// spaces). Bytes that are not UTF-8 are decoded lossily.
    pub async fn txt(&self, name: &str) -> Result<Lookup<String>, DnsError> {
        let answer = self.query(name, RecordType::TXT, false).await?;
        Ok(answer.lookup(|data| match data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect(),
            ),
            _ => None,
        }))
    }

    /// The CNAME target of `name` (lowercase, without the final dot).
    pub async fn cname(&self, name: &str) -> Result<Lookup<String>, DnsError> {
        let answer = self.query(name, RecordType::CNAME, false).await?;
        Ok(answer.lookup(|data| match data {
            RData::CNAME(cname) => Some(plain(&cname.0)),
            _ => None,
        }))
    }

    /// The IPv4 and IPv6 addresses of `name` (after any CNAMEs the resolver followed).
    pub async fn a_aaaa(&self, name: &str) -> Result<Lookup<IpAddr>, DnsError> {
        let (v4, v6) = tokio::join!(
            self.query(name, RecordType::A, false),
            self.query(name, RecordType::AAAA, false)
        );
        let v4 = v4?.lookup(|data| match data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        });
        let v6 = v6?.lookup(|data| match data {
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        });
        Ok(match (v4, v6) {
            (Lookup::Found(mut v4), Lookup::Found(v6)) => {
                v4.extend(v6);
                Lookup::Found(v4)
            }
            (found @ Lookup::Found(_), _) | (_, found @ Lookup::Found(_)) => found,
            (Lookup::NxDomain, _) | (_, Lookup::NxDomain) => Lookup::NxDomain,
            (Lookup::NoRecords, Lookup::NoRecords) => Lookup::NoRecords,
        })
    }

    pub async fn mx(&self, name: &str) -> Result<Lookup<Mx>, DnsError> {
        let answer = self.query(name, RecordType::MX, false).await?;
        Ok(answer.lookup(|data| match data {
            RData::MX(mx) => Some(Mx {
                preference: mx.preference,
                exchange: plain(&mx.exchange),
            }),
            _ => None,
        }))
    }

    /// The name servers of `name` (lowercase, without the final dot).
    pub async fn ns(&self, name: &str) -> Result<Lookup<String>, DnsError> {
        let answer = self.query(name, RecordType::NS, false).await?;
        Ok(answer.lookup(|data| match data {
            RData::NS(ns) => Some(plain(&ns.0)),
            _ => None,
        }))
    }

    /// The apex of the zone `name` is in: the owner of the SOA record in the answer (when
    /// `name` is the apex) or in the authority section of the negative answer (when it is
    /// below it). `name` itself when the resolver gives no SOA.
    pub async fn zone_apex(&self, name: &str) -> Result<String, DnsError> {
        let answer = self.query(name, RecordType::SOA, false).await?;
        let message = &answer.message;
        let wanted = normalize(name);
        // Only the name itself or a parent: after a CNAME the SOA is the target's zone's.
        let soa_owner = message
            .answers
            .iter()
            .chain(&message.authorities)
            .filter(|record| record.record_type() == RecordType::SOA)
            .map(|record| plain(&record.name))
            .find(|owner| wanted == *owner || wanted.ends_with(&format!(".{owner}")));
        Ok(soa_owner.unwrap_or(wanted))
    }

    /// Whether the zone at `zone` (its apex) publishes DNSKEY records. Asked with the DNSSEC
    /// OK and AD bits, so a validating resolver says whether it validated the answer.
    pub async fn dnssec(&self, zone: &str) -> Result<Dnssec, DnsError> {
        let answer = self.query(zone, RecordType::DNSKEY, true).await?;
        let authenticated = answer.message.metadata.authentic_data;
        // Without hickory's DNSSEC feature the key decodes as unknown data: counting is enough.
        let dnskeys = answer.lookup(|_| Some(())).records().len();
        Ok(Dnssec {
            dnskeys,
            authenticated,
        })
    }

    /// Asks the name server at `server` (not the configured resolvers) for the whole zone at
    /// `zone` over TCP (RFC 5936), within the attempt timeout; reads at most
    /// [`MAX_TRANSFER_RECORDS`] records. A server that cannot be reached is an error; one that
    /// declines is [`ZoneTransfer::Refused`].
    pub async fn zone_transfer(
        &self,
        zone: &str,
        server: SocketAddr,
    ) -> Result<ZoneTransfer, DnsError> {
        let zone = normalize(zone);
        let qname = Name::from_ascii(format!("{zone}."))
            .ok()
            .filter(|_| !zone.is_empty())
            .ok_or_else(|| DnsError::InvalidName(zone.clone()))?;
        let mut request = Message::query();
        request.add_query(Query::query(qname, RecordType::AXFR));
        let failed = |detail: String| DnsError::Transport {
            name: zone.clone(),
            qtype: "AXFR".into(),
            server,
            detail,
        };
        let bytes = request
            .to_vec()
            .map_err(|err| failed(format!("cannot encode the query: {err}")))?;
        let deadline = Instant::now() + self.attempt_timeout;
        let transfer = async {
            let mut stream = TcpStream::connect(server)
                .await
                .map_err(|err| failed(err.to_string()))?;
            write_framed(&mut stream, &bytes)
                .await
                .map_err(|err| failed(err.to_string()))?;
            read_transfer(&mut stream, &request).await
        };
        timeout_at(deadline, transfer)
            .await
            .map_err(|_| DnsError::Timeout {
                name: zone.clone(),
                qtype: "AXFR".into(),
                servers: server.to_string(),
                timeout: self.attempt_timeout,
            })?
    }

    /// Asks the servers in order until one answers NOERROR or NXDOMAIN.
    async fn query(&self, name: &str, qtype: RecordType, dnssec: bool) -> Result<Answer, DnsError> {
        let name = normalize(name);
        let qname = Name::from_ascii(format!("{name}."))
            .ok()
            .filter(|qname| !name.is_empty() && qname.len() <= 255)
            .ok_or_else(|| DnsError::InvalidName(name.clone()))?;
        let mut failure = None;
        for server in &self.servers {
            let attempt = self.ask(*server, &qname, qtype, dnssec).await;
            match attempt {
                Ok(message) => match message.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        return Ok(Answer { qtype, message });
                    }
                    code => {
                        tracing::debug!(%server, %name, %qtype, %code, "dns: server failure");
                        failure = Some(DnsError::ServerFailure {
                            name: name.clone(),
                            qtype: qtype.to_string(),
                            server: *server,
                            code: code.to_string(),
                        });
                    }
                },
                Err(Attempt::TimedOut) => {
                    tracing::debug!(%server, %name, %qtype, "dns: no answer in time");
                }
                Err(Attempt::Failed(detail)) => {
                    tracing::debug!(%server, %name, %qtype, %detail, "dns: query failed");
                    failure = Some(DnsError::Transport {
                        name: name.clone(),
                        qtype: qtype.to_string(),
                        server: *server,
                        detail,
                    });
                }
            }
        }
        // A server that answered badly says more than one that stayed silent.
        Err(failure.unwrap_or_else(|| DnsError::Timeout {
            name,
            qtype: qtype.to_string(),
            servers: self
                .servers
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            timeout: self.attempt_timeout,
        }))
    }

    /// One question to one server: over UDP, then over TCP if the answer was truncated. The
    /// attempt timeout bounds both together.
    async fn ask(
        &self,
        server: SocketAddr,
        qname: &Name,
        qtype: RecordType,
        dnssec: bool,
    ) -> Result<Message, Attempt> {
        let deadline = Instant::now() + self.attempt_timeout;
        let mut request = Message::query();
        request.metadata.recursion_desired = true;
        // RFC 6840 §5.7: the AD bit in a query asks a validating resolver to report it.
        request.metadata.authentic_data = dnssec;
        request.add_query(Query::query(qname.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        edns.set_dnssec_ok(dnssec);
        request.set_edns(edns);
        let bytes = request
            .to_vec()
            .map_err(|err| Attempt::Failed(format!("cannot encode the query: {err}")))?;
        let udp = timeout_at(deadline, exchange_udp(server, &bytes, &request))
            .await
            .map_err(|_| Attempt::TimedOut)??;
        if !udp.metadata.truncation {
            return Ok(udp);
        }
        timeout_at(deadline, exchange_tcp(server, &bytes, &request))
            .await
            .map_err(|_| Attempt::TimedOut)?
    }
}

/// A decoded answer to one question.
struct Answer {
    qtype: RecordType,
    message: Message,
}

impl Answer {
    /// The answer's records of the type asked for (a resolver puts the CNAMEs it followed
    /// before them), converted by `convert`.
    fn lookup<T>(&self, mut convert: impl FnMut(&RData) -> Option<T>) -> Lookup<T> {
        if self.message.metadata.response_code == ResponseCode::NXDomain {
            return Lookup::NxDomain;
        }
        let records: Vec<T> = self
            .message
            .answers
            .iter()
            .filter(|record| record.record_type() == self.qtype)
            .filter_map(|record| convert(&record.data))
            .collect();
        if records.is_empty() {
            Lookup::NoRecords
        } else {
            Lookup::Found(records)
        }
    }
}

enum Attempt {
    TimedOut,
    Failed(String),
}

async fn exchange_udp(
    server: SocketAddr,
    request: &[u8],
    sent: &Message,
) -> Result<Message, Attempt> {
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let failed = |err: std::io::Error| Attempt::Failed(err.to_string());
    let socket = UdpSocket::bind(local).await.map_err(failed)?;
    socket.connect(server).await.map_err(failed)?;
    socket.send(request).await.map_err(failed)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let len = socket.recv(&mut buf).await.map_err(failed)?;
        // Anything that is not the answer to this question (a late answer to an earlier
        // one, a spoofing attempt) is ignored; the attempt timeout still runs.
        if let Some(message) = Message::from_vec(&buf[..len])
            .ok()
            .filter(|message| answers(message, sent))
        {
            return Ok(message);
        }
    }
}

async fn exchange_tcp(
    server: SocketAddr,
    request: &[u8],
    sent: &Message,
) -> Result<Message, Attempt> {
    let failed = |err: std::io::Error| Attempt::Failed(format!("over TCP: {err}"));
    let mut stream = TcpStream::connect(server).await.map_err(failed)?;
    write_framed(&mut stream, request).await.map_err(failed)?;
    let len = stream.read_u16().await.map_err(failed)?;
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.map_err(failed)?;
    Message::from_vec(&reply)
        .ok()
        .filter(|message| answers(message, sent))
        .ok_or_else(|| Attempt::Failed("over TCP: the reply is not an answer to the query".into()))
}

async fn write_framed(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<()> {
    let len =
        u16::try_from(request.len()).map_err(|_| std::io::Error::other("the query is too long"))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend(len.to_be_bytes());
    framed.extend(request);
    stream.write_all(&framed).await
}

/// Reads the messages of a zone transfer until the zone's SOA comes a second time (the end
/// of the zone), the record limit is reached, or the server declines or hangs up.
async fn read_transfer(stream: &mut TcpStream, sent: &Message) -> Result<ZoneTransfer, DnsError> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut records = 0usize;
    let mut soas = 0;
    loop {
        let Ok(len) = stream.read_u16().await else {
            return Ok(ZoneTransfer::Refused(if records == 0 {
                "the server closed the connection".into()
            } else {
                format!("the server closed the connection after {records} records")
            }));
        };
        let mut reply = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut reply).await.is_err() {
            return Ok(ZoneTransfer::Refused("the answer was cut short".into()));
        }
        let Some(message) = Message::from_vec(&reply)
            .ok()
            .filter(|message| answers(message, sent))
        else {
            return Ok(ZoneTransfer::Refused(
                "the answer is not for the request".into(),
            ));
        };
        let code = message.metadata.response_code;
        if code != ResponseCode::NoError {
            return Ok(ZoneTransfer::Refused(format!("the server answered {code}")));
        }
        if records == 0 && message.answers.first().map(|r| r.record_type()) != Some(RecordType::SOA)
        {
            return Ok(ZoneTransfer::Refused(
                "the answer does not start with the SOA".into(),
            ));
        }
        for record in &message.answers {
            records += 1;
            if record.record_type() == RecordType::SOA {
                soas += 1;
            }
            let owner = plain(&record.name);
            if seen.insert(owner.clone()) {
                names.push(owner);
            }
        }
        if soas >= 2 || records >= MAX_TRANSFER_RECORDS {
            return Ok(ZoneTransfer::Transferred { names, records });
        }
    }
}

/// Whether `message` answers `sent`: a response with its id and its question.
fn answers(message: &Message, sent: &Message) -> bool {
    message.metadata.message_type == MessageType::Response
        && message.metadata.id == sent.metadata.id
        && message.queries.len() == 1
        && sent.queries.first().is_some_and(|query| {
            let answered = &message.queries[0];
            answered.query_type() == query.query_type()
                && plain(answered.name()) == plain(query.name())
        })
}

/// The `nameserver` addresses of `/etc/resolv.conf`, on port 53.
fn system_servers() -> Result<Vec<SocketAddr>, DnsError> {
    let text = std::fs::read_to_string(RESOLV_CONF)
        .map_err(|err| DnsError::NoServers(format!("cannot read {RESOLV_CONF}: {err}")))?;
    let servers = resolv_conf_servers(&text);
    if servers.is_empty() {
        return Err(DnsError::NoServers(format!(
            "{RESOLV_CONF} names no nameserver"
        )));
    }
    Ok(servers)
}

/// The `nameserver` lines of a resolv.conf. Scoped IPv6 addresses (`fe80::1%eth0`) are
/// skipped: a socket address cannot carry the interface name.
pub fn resolv_conf_servers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .filter_map(|address| address.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .collect()
}

/// A resolver address as configured: `ip:port`, `[ipv6]:port`, or an address alone (port 53).
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .map_err(|_| format!("{text:?} is not an ip:port or ip address"))
}

/// A name as the checks compare them: lowercase, without the final dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn plain(name: &Name) -> String {
    normalize(&name.to_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_gives_its_nameservers() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver  ::1\n\
                    nameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            resolv_conf_servers(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert!(resolv_conf_servers("search example.com\n").is_empty());
    }

    #[test]
    fn servers_are_addresses_with_an_optional_port() {
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_server(" 9.9.9.9 ").unwrap(),
            "9.9.9.9:53".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_server("[2001:db8::1]:53").unwrap(),
            "[2001:db8::1]:53".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_server("2001:db8::1").unwrap(),
            "[2001:db8::1]:53".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_server("dns.example.com:53").is_err());
    }

    #[test]
    fn names_compare_lowercase_without_the_final_dot() {
        assert_eq!(normalize("WWW.Example.COM."), "www.example.com");
    }
}
