//! A small authoritative DNS server for tests: UDP and TCP on one 127.0.0.1 port the OS picks,
//! answering from an in-memory zone that the test fills (and may change while it runs).
//!
//! It answers like the recursive resolver a scanner talks to would: CNAMEs inside the zone are
//! followed for other record types, a name that is not in the zone is NXDOMAIN (unless names
//! below it exist: then it is an empty non-terminal and the answer has no records), and
//! negative answers carry the SOA of the closest enclosing name that has one. A UDP answer
//! larger than the client's EDNS payload (512 bytes without EDNS) is sent truncated, so the
//! client has to ask again over TCP. [`Mode`] makes it answer SERVFAIL to everything or stay
//! silent; [`TestDns::fail`] makes it answer SERVFAIL for one name.
//!
//! A name `*.zone` is a wildcard: it answers for every name below `zone` that has no records
//! of its own (RFC 4592, without the finer points). A zone named in
//! [`TestDns::allow_zone_transfer`] is handed out whole to an AXFR over TCP; every other AXFR
//! is refused. [`TestDns::start_on`] binds a given address, port 53 included, so that a zone's
//! name server can be a server of its own, as it is on the internet.
//!
//! Its own crate, not a module of `s4e-test-support`: the checks crate's tests use it, and
//! they should not build the bus, store and PostgreSQL clients that crate brings.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, NULL, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// One record of the zone; the owner name is given to [`TestDns::add`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// One TXT record made of these character-strings (each at most 255 bytes).
    Txt(Vec<String>),
    Cname(String),
    Mx(u16, String),
    Ns(String),
    /// A DNSKEY record (a fixed, made-up ECDSA P-256 key: only its presence matters).
    Dnskey,
    /// The SOA that makes its owner a zone apex.
    Soa,
}

impl Rec {
    /// A TXT record of one string.
    pub fn txt(text: &str) -> Rec {
        Rec::Txt(vec![text.to_owned()])
    }

    fn record_type(&self) -> RecordType {
        match self {
            Rec::A(_) => RecordType::A,
            Rec::Aaaa(_) => RecordType::AAAA,
            Rec::Txt(_) => RecordType::TXT,
            Rec::Cname(_) => RecordType::CNAME,
            Rec::Mx(..) => RecordType::MX,
            Rec::Ns(_) => RecordType::NS,
            Rec::Dnskey => RecordType::DNSKEY,
            Rec::Soa => RecordType::SOA,
        }
    }

    fn to_record(&self, owner: &str) -> Record {
        let rdata = match self {
            Rec::A(ip) => RData::A(A(*ip)),
            Rec::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
            Rec::Txt(strings) => RData::TXT(TXT::new(strings.clone())),
            Rec::Cname(target) => RData::CNAME(CNAME(name(target))),
            Rec::Mx(preference, exchange) => RData::MX(MX::new(*preference, name(exchange))),
            Rec::Ns(host) => RData::NS(NS(name(host))),
            Rec::Dnskey => {
                // flags 257 (zone key, secure entry point), protocol 3, algorithm 13.
                let mut key = vec![0x01, 0x01, 3, 13];
                key.extend([0x5a; 64]);
                RData::Unknown {
                    code: RecordType::DNSKEY,
                    rdata: NULL::with(key),
                }
            }
            Rec::Soa => RData::SOA(SOA::new(
                name(&format!("ns1.{owner}")),
                name(&format!("hostmaster.{owner}")),
                1,
                3600,
                600,
                86400,
                300,
            )),
        };
        Record::from_rdata(name(owner), 300, rdata)
    }
}

/// How the server treats every query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Answer,
    /// SERVFAIL, as a resolver whose upstream is broken answers.
    ServFail,
    /// No answer at all (a timeout for the client).
    Silent,
}

#[derive(Debug, Default)]
struct Zone {
    records: HashMap<String, Vec<Rec>>,
    /// Every proper parent of an owner: the names that exist without records of their own.
    parents: HashSet<String>,
}

#[derive(Debug)]
struct State {
    zone: Mutex<Zone>,
    transferable: Mutex<HashSet<String>>,
    mode: Mutex<Mode>,
    failing: Mutex<HashSet<String>>,
    queries: Mutex<Vec<String>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running server; stops on drop.
#[derive(Debug)]
pub struct TestDns {
    addr: SocketAddr,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestDns {
    /// Starts an empty server (every name is NXDOMAIN until added).
    pub async fn start() -> io::Result<TestDns> {
        let (udp, tcp) = bind_pair().await?;
        TestDns::serve(udp, tcp)
    }

    /// Starts an empty server on `addr` (UDP and TCP), e.g. a loopback address's port 53.
    pub async fn start_on(addr: SocketAddr) -> io::Result<TestDns> {
        let udp = UdpSocket::bind(addr).await?;
        let tcp = TcpListener::bind(addr).await?;
        TestDns::serve(udp, tcp)
    }

    fn serve(udp: UdpSocket, tcp: TcpListener) -> io::Result<TestDns> {
        let addr = udp.local_addr()?;
        let state = Arc::new(State {
            zone: Mutex::new(Zone::default()),
            transferable: Mutex::new(HashSet::new()),
            mode: Mutex::new(Mode::Answer),
            failing: Mutex::new(HashSet::new()),
            queries: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(serve_udp(udp, state.clone())),
            tokio::spawn(serve_tcp(tcp, state.clone())),
        ];
        Ok(TestDns { addr, state, tasks })
    }

    /// The address to query, over UDP or TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a record at `owner` (case and a final dot do not matter).
    pub fn add(&self, owner: &str, record: Rec) -> &Self {
        let owner = normalize(owner);
        let mut zone = locked(&self.state.zone);
        let mut parent = owner.as_str();
        while let Some((_, above)) = parent.split_once('.') {
            zone.parents.insert(above.to_owned());
            parent = above;
        }
        zone.records.entry(owner).or_default().push(record);
        drop(zone);
        self
    }

    /// Hands out the zone at `apex` (its SOA, every record below it, its SOA again) to an
    /// AXFR over TCP.
    pub fn allow_zone_transfer(&self, apex: &str) {
        locked(&self.state.transferable).insert(normalize(apex));
    }

    pub fn set_mode(&self, mode: Mode) {
        *locked(&self.state.mode) = mode;
    }

    /// Answers SERVFAIL to every question about `name` (in any mode but silent).
    pub fn fail(&self, name: &str) {
        locked(&self.state.failing).insert(normalize(name));
    }

    /// Answers for `name` again after [`TestDns::fail`].
    pub fn heal(&self, name: &str) {
        locked(&self.state.failing).remove(&normalize(name));
    }

    /// Every query received so far, as `TYPE name` (e.g. `TXT _dmarc.example.test`).
    pub fn queries(&self) -> Vec<String> {
        locked(&self.state.queries).clone()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A UDP socket and a TCP listener on the same 127.0.0.1 port.
async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // Someone holds that TCP port: try another.
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port pair")))
}

async fn serve_udp(socket: UdpSocket, state: Arc<State>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        if let Some(reply) = respond(&state, &request, true) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_connection(stream, state.clone()));
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut request = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut request).await.is_err() {
            return;
        }
        let Ok(request) = Message::from_vec(&request) else {
            continue;
        };
        let replies = match zone_transfer(&state, &request) {
            Some(replies) => replies,
            None => respond(&state, &request, false).into_iter().collect(),
        };
        for reply in replies {
            let Ok(reply_len) = u16::try_from(reply.len()) else {
                return;
            };
            if stream.write_u16(reply_len).await.is_err() || stream.write_all(&reply).await.is_err()
            {
                return;
            }
        }
    }
}

/// Records one AXFR answer carries at most, so that each stays well under 64 KiB.
const TRANSFER_CHUNK: usize = 200;

/// The answers to an AXFR request (several messages for a large zone), or `None` when the
/// request is not an AXFR. A zone not open to transfers is REFUSED.
fn zone_transfer(state: &State, request: &Message) -> Option<Vec<Vec<u8>>> {
    let query = request.queries.first()?.clone();
    if query.query_type() != RecordType::AXFR {
        return None;
    }
    let apex = normalize(&query.name().to_ascii());
    locked(&state.queries).push(format!("AXFR {apex}"));
    let reply = |records: Vec<Record>, code: ResponseCode| {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.response_code = code;
        response.metadata.authoritative = true;
        response.add_query(query.clone());
        response.add_answers(records);
        response.to_vec().ok()
    };
    if !locked(&state.transferable).contains(&apex) {
        return Some(
            reply(Vec::new(), ResponseCode::Refused)
                .into_iter()
                .collect(),
        );
    }
    let zone = locked(&state.zone);
    let below = format!(".{apex}");
    let mut owners: Vec<&String> = zone
        .records
        .keys()
        .filter(|owner| **owner != apex && owner.ends_with(&below))
        .collect();
    owners.sort();
    let soa = Rec::Soa.to_record(&apex);
    let mut records = vec![soa.clone()];
    for owner in owners {
        records.extend(
            zone.records[owner]
                .iter()
                .map(|record| record.to_record(owner)),
        );
    }
    if let Some(apex_records) = zone.records.get(&apex) {
        records.extend(
            apex_records
                .iter()
                .filter(|record| **record != Rec::Soa)
                .map(|record| record.to_record(&apex)),
        );
    }
    drop(zone);
    records.push(soa);
    Some(
        records
            .chunks(TRANSFER_CHUNK)
            .filter_map(|chunk| reply(chunk.to_vec(), ResponseCode::NoError))
            .collect(),
    )
}

/// The encoded answer to one request, or `None` to stay silent.
fn respond(state: &State, request: &Message, udp: bool) -> Option<Vec<u8>> {
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let query = request.queries.first()?.clone();
    let qname = normalize(&query.name().to_ascii());
    locked(&state.queries).push(format!("{} {qname}", query.query_type()));
    if query.query_type() == RecordType::AXFR {
        // Zone transfers go over TCP only (RFC 5936 §4.2).
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.add_query(query);
        response.metadata.response_code = ResponseCode::Refused;
        return response.to_vec().ok();
    }
    let mut mode = *locked(&state.mode);
    if mode == Mode::Answer && locked(&state.failing).contains(&qname) {
        mode = Mode::ServFail;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_query(query.clone());
    match mode {
        Mode::Silent => return None,
        Mode::ServFail => response.metadata.response_code = ResponseCode::ServFail,
        Mode::Answer => {
            let zone = locked(&state.zone);
            let (code, answers, authorities) = resolve(&zone, &qname, query.query_type());
            response.metadata.response_code = code;
            response.add_answers(answers);
            response.add_authorities(authorities);
        }
    }
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        response.set_edns(edns);
    }
    let encoded = response.to_vec().ok()?;
    let limit = request
        .edns
        .as_ref()
        .map_or(512, |edns| usize::from(edns.max_payload().max(512)));
    if udp && encoded.len() > limit {
        return response.truncate().to_vec().ok();
    }
    Some(encoded)
}

/// The records at `name`: its own, or else those of the closest wildcard above it (unless
/// names exist below `name`: then it is an empty non-terminal, which no wildcard covers).
fn records_at<'z>(zone: &'z Zone, name: &str) -> Option<&'z Vec<Rec>> {
    if let Some(records) = zone.records.get(name) {
        return Some(records);
    }
    if zone.parents.contains(name) {
        return None;
    }
    let mut parent = name;
    while let Some((_, above)) = parent.split_once('.') {
        if let Some(records) = zone.records.get(&format!("*.{above}")) {
            return Some(records);
        }
        if zone.records.contains_key(above) || zone.parents.contains(above) {
            return None;
        }
        parent = above;
    }
    None
}

/// The response code, answers and authority records for `qname`/`qtype`.
fn resolve(
    zone: &Zone,
    qname: &str,
    qtype: RecordType,
) -> (ResponseCode, Vec<Record>, Vec<Record>) {
    let mut answers = Vec::new();
    let mut current = qname.to_owned();
    // A resolver follows a chain of CNAMEs; eight hops is plenty for a test zone.
    for _ in 0..8 {
        let Some(records) = records_at(zone, &current) else {
            let code = if zone.parents.contains(&current) {
                ResponseCode::NoError
            } else {
                ResponseCode::NXDomain
            };
            return (code, answers, soa_for(zone, &current));
        };
        let matching: Vec<Record> = records
            .iter()
            .filter(|record| record.record_type() == qtype)
            .map(|record| record.to_record(&current))
            .collect();
        if !matching.is_empty() {
            answers.extend(matching);
            return (ResponseCode::NoError, answers, Vec::new());
        }
        let cname = records.iter().find_map(|record| match record {
            Rec::Cname(target) if qtype != RecordType::CNAME => Some(target.clone()),
            _ => None,
        });
        match cname {
            Some(target) => {
                answers.push(Rec::Cname(target.clone()).to_record(&current));
                current = normalize(&target);
            }
            None => return (ResponseCode::NoError, answers, soa_for(zone, &current)),
        }
    }
    (ResponseCode::ServFail, Vec::new(), Vec::new())
}

/// The SOA of the closest name at or above `name` that has one.
fn soa_for(zone: &Zone, name: &str) -> Vec<Record> {
    let mut candidate = name;
    loop {
        if zone
            .records
            .get(candidate)
            .is_some_and(|records| records.contains(&Rec::Soa))
        {
            return vec![Rec::Soa.to_record(candidate)];
        }
        match candidate.split_once('.') {
            Some((_, parent)) => candidate = parent,
            None => return Vec::new(),
        }
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name(text: &str) -> Name {
    Name::from_ascii(format!("{}.", normalize(text))).expect("a valid test name")
}
