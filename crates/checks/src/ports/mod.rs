//! The port scan: TCP connect scan of one host, then service identification on each open port.
//!
//! A connect scan (a full handshake per port, like `nmap -sT`) needs no raw sockets or
//! privileges, and a handshake is an unambiguous answer: a refused port is closed, a silent
//! one filtered (both reported as not open). Each open port is then identified: first by what
//! it says unprompted (`banner.rs`), then by protocol probes on fresh connections
//! (`probes.rs`, `tls.rs`, `amqp.rs`). The findings (`findings.rs`) judge what is exposed.
//!
//! The host is resolved once, through the egress policy, and every connection goes to that
//! one approved address; the platform's own services on it are not scanned.

mod amqp;
mod banner;
mod connect;
mod excerpt;
mod findings;
mod identify;
mod portset;
mod probes;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use s4e_egress::{EgressError, EgressPolicy};
use s4e_types::inventory::{ObservedService, ObservedServices};
use s4e_types::{CheckKind, PortScope};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use url::{Host, Url};

use crate::{CheckContext, CheckError, CheckOutput, Target};
use connect::Outcome;
use identify::{Identified, Timeouts};
use s4e_types::inventory::Observations;

pub use excerpt::BANNER_LIMIT;
pub use findings::findings_for;
pub use portset::{COMMON_PORTS, PortSet};

/// How a scan runs (which ports: the target's [`PortScope`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortScanOptions {
    /// Ports in flight at once (connecting or being identified). Lowered to what the
    /// process's open-files limit allows.
    pub concurrency: usize,
    /// How long a port may take to complete the handshake before it counts as filtered.
    pub connect_timeout: Duration,
    /// How long to wait for a greeting, and for the reply to each probe.
    pub banner_timeout: Duration,
    /// Identify the services on open ports. Off, the scan only tells open from not open
    /// (what benchmarks compare with other scanners).
    pub identify: bool,
}

impl Default for PortScanOptions {
    fn default() -> Self {
        PortScanOptions {
            concurrency: 512,
            connect_timeout: Duration::from_secs(1),
            banner_timeout: Duration::from_secs(2),
            identify: true,
        }
    }
}

/// A port that completed the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenPort {
    pub port: u16,
    /// What identification recognised; `None` when nothing was (or identification was off).
    pub service: Option<Service>,
    /// The bytes that identified the service, or else whatever the port said (its greeting,
    /// or its reply to the first probe it answered), as printable text of at most
    /// [`BANNER_LIMIT`] characters.
    pub banner: Option<String>,
}

/// A recognised service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The protocol, in nmap's vocabulary where it has one: `ssh`, `smtp`, `ftp`, `pop3`,
    /// `imap`, `mysql`, `vnc`, `telnet`, `http`, `tls`, `redis`, `postgresql`, `mongodb`,
    /// `amqp`, `nats`, `memcached`, `elasticsearch`, `docker`, `couchdb`.
    pub name: &'static str,
    /// The software, when the service names it (`OpenSSH`, `nginx`, `RabbitMQ`).
    pub product: Option<String>,
    /// Its version as the service reports it (for `tls`, the protocol version chosen).
    pub version: Option<String>,
}

impl Service {
    pub(crate) fn new(
        name: &'static str,
        product: Option<String>,
        version: Option<String>,
    ) -> Self {
        Service {
            name,
            product,
            version,
        }
    }
}

/// The ports a scan of `target` tries: the job's choice (the common ports when it has none),
/// plus a URL's own port unless the whole range is scanned anyway.
pub fn port_set(target: &str, scope: Option<&PortScope>) -> PortSet {
    let mut list = match scope {
        None | Some(PortScope::Common) => COMMON_PORTS.to_vec(),
        Some(PortScope::Full) => return PortSet::All,
        Some(PortScope::List { ports }) => ports.clone(),
    };
    let own_port = Url::parse(target)
        .ok()
        .and_then(|url| url.port_or_known_default());
    if let Some(port) = own_port.filter(|port| !list.contains(port)) {
        list.push(port);
    }
    PortSet::List(list)
}

/// The raw output of a scan.
#[derive(Clone, Debug, Serialize)]
pub struct PortScanRaw {
    /// The host scanned, as given (an IPv6 address without brackets).
    pub host: String,
    /// The address the egress policy approved; the only one connected to.
    pub address: IpAddr,
    /// Sorted by port.
    pub open: Vec<OpenPort>,
    /// How many ports were scanned.
    pub scanned: usize,
    /// Of those, how many refused the connection (nothing listens).
    pub closed: usize,
    /// And how many never answered within the connect timeout (a firewall drops the SYN).
    pub filtered: usize,
    /// Ports of the platform's own services on the address, left out of the scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<u16>,
    pub elapsed_ms: u64,
}

/// A judgement in progress on the bytes a port sent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Not decided yet: more bytes could change the answer.
    More,
    Is(Service),
    Not,
}

impl Verdict {
    /// The first `Is`; else `More` if any recogniser still waits; else `Not`.
    fn first_of(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut waiting = false;
        for verdict in verdicts {
            match verdict {
                Verdict::Is(service) => return Verdict::Is(service),
                Verdict::More => waiting = true,
                Verdict::Not => {}
            }
        }
        if waiting { Verdict::More } else { Verdict::Not }
    }
}

/// Bounds the one DNS lookup; a scan is long, but a name that does not resolve in this long
/// will not.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// More open ports than this on one host is a firewall or tarpit answering every SYN, not
/// services: the ports beyond it are reported open without identification, which would
/// otherwise take up to eight exchanges each.
const MAX_IDENTIFIED: usize = 1024;

/// Scans `target` (a host name, an IP address, or a URL whose host is used) for the ports in
/// `options`, identifies the services on the open ones, and judges them.
///
/// Closed and filtered ports are results, not errors. The scan fails only when the target is
/// invalid or refused by `policy`, does not resolve, cannot be reached at all (every port
/// unreachable), or this machine stays out of sockets for a minute.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<PortScanRaw>, CheckError> {
    let policy = &context.egress;
    let options = &context.ports;
    let started = Instant::now();
    let host = target_host(&target.address)?;
    let address = resolve(&host, policy).await?;
    let (refused, ports): (Vec<u16>, Vec<u16>) = port_set(&target.address, target.ports.as_ref())
        .ports()
        .into_iter()
        .partition(|port| policy.is_own_service(SocketAddr::new(address, *port)));
    let concurrency = connect::fit_concurrency(options.concurrency);
    tracing::debug!(%host, %address, ports = ports.len(), concurrency, "ports: scanning");

    let shared = Arc::new(Shared {
        url_host: host.to_string(),
        sni: match &host {
            Host::Domain(domain) => Some(domain.clone()),
            Host::Ipv4(_) | Host::Ipv6(_) => None,
        },
        timeouts: Timeouts {
            connect: options.connect_timeout,
            exchange: options.banner_timeout,
        },
        identify: options.identify,
        identified: AtomicUsize::new(0),
    });
    let tally = scan(address, &ports, concurrency, &shared).await?;
    if tally.open.is_empty() && tally.unreachable > 0 && tally.closed == 0 {
        return Err(CheckError::Unreachable(format!(
            "host unreachable ({address})"
        )));
    }
    let mut open = tally.open;
    open.sort_by_key(|port| port.port);
    let host = host_name(&host);
    let findings = findings_for(CheckKind::Ports, &host, &open);
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(
        %host,
        open = open.len(),
        closed = tally.closed,
        filtered = tally.filtered,
        elapsed_ms,
        "ports: scanned"
    );
    let scanned_every_port = matches!(target.ports, Some(PortScope::Full));
    let services = ObservedServices {
        scanned: (!scanned_every_port).then(|| ports.clone()),
        open: open
            .iter()
            .map(|port| ObservedService {
                port: port.port,
                service: port
                    .service
                    .as_ref()
                    .map(|service| service.name.to_string()),
                product: port.service.as_ref().and_then(|s| s.product.clone()),
                version: port.service.as_ref().and_then(|s| s.version.clone()),
                tls: port
                    .service
                    .as_ref()
                    .is_some_and(|service| service.name == "tls"),
            })
            .collect(),
    };
    Ok(CheckOutput {
        observed: Observations {
            services: Some(services),
            ..Observations::default()
        },
        findings,
        raw: PortScanRaw {
            host,
            address,
            open,
            scanned: ports.len(),
            closed: tally.closed,
            filtered: tally.filtered,
            refused,
            elapsed_ms,
        },
    })
}

/// What every port task needs.
struct Shared {
    /// The host as a URL writes it, for HTTP's Host header.
    url_host: String,
    /// The host name for TLS SNI, when the target is a name.
    sni: Option<String>,
    timeouts: Timeouts,
    identify: bool,
    identified: AtomicUsize,
}

#[derive(Default)]
struct Tally {
    open: Vec<OpenPort>,
    closed: usize,
    filtered: usize,
    unreachable: usize,
}

/// Connects to every port with at most `concurrency` in flight; each task identifies its port
/// when open, so a slow service holds one slot, not the whole scan.
async fn scan(
    address: IpAddr,
    ports: &[u16],
    concurrency: usize,
    shared: &Arc<Shared>,
) -> Result<Tally, CheckError> {
    let mut tally = Tally::default();
    let mut tasks = JoinSet::new();
    let mut pending = ports.iter().copied();
    loop {
        while tasks.len() < concurrency {
            let Some(port) = pending.next() else { break };
            let shared = shared.clone();
            tasks.spawn(scan_port(SocketAddr::new(address, port), shared));
        }
        let Some(joined) = tasks.join_next().await else {
            return Ok(tally);
        };
        let result = match joined {
            Ok(result) => result,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => {
                return Err(CheckError::Unreachable(format!("scan task failed: {err}")));
            }
        };
        match result {
            PortResult::Open(open) => tally.open.push(open),
            PortResult::Closed => tally.closed += 1,
            PortResult::Filtered => tally.filtered += 1,
            PortResult::Unreachable => tally.unreachable += 1,
            // Dropping the JoinSet aborts the other ports.
            PortResult::Exhausted(err) => {
                return Err(CheckError::Unreachable(format!(
                    "scan aborted: the scanner ran out of local sockets ({err})"
                )));
            }
        }
    }
}

enum PortResult {
    Open(OpenPort),
    Closed,
    Filtered,
    Unreachable,
    Exhausted(std::io::Error),
}

async fn scan_port(addr: SocketAddr, shared: Arc<Shared>) -> PortResult {
    let stream = match connect::connect(addr, shared.timeouts.connect).await {
        Outcome::Open(stream) => stream,
        Outcome::Closed => return PortResult::Closed,
        Outcome::Filtered => return PortResult::Filtered,
        Outcome::Unreachable => return PortResult::Unreachable,
        Outcome::Exhausted(err) => return PortResult::Exhausted(err),
    };
    let port = addr.port();
    let within_budget = shared.identified.fetch_add(1, Ordering::Relaxed) < MAX_IDENTIFIED;
    if !shared.identify || !within_budget {
        return PortResult::Open(OpenPort {
            port,
            service: None,
            banner: None,
        });
    }
    let target = probes::Target {
        host: &shared.url_host,
        sni: shared.sni.as_deref(),
        port,
    };
    let Identified { service, banner } =
        identify::identify(stream, addr, &target, &shared.timeouts).await;
    PortResult::Open(OpenPort {
        port,
        service,
        banner,
    })
}

/// The host of `target`: an IP address, a host name, `host:port`, or any URL with a host.
fn target_host(target: &str) -> Result<Host, CheckError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(CheckError::InvalidTarget("the target is empty".into()));
    }
    // A bare IPv6 address has colons a URL parser would take for a port.
    if let Ok(ip) = target.parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(v4) => Host::Ipv4(v4),
            IpAddr::V6(v6) => Host::Ipv6(v6),
        });
    }
    let url = if target.contains("://") {
        Url::parse(target)
    } else {
        // `example.com`, `example.com:8080`, `[::1]:22`: read as the authority of a URL.
        Url::parse(&format!("http://{target}"))
    };
    let url = url.map_err(|err| {
        CheckError::InvalidTarget(format!("{target:?} is not a host or URL ({err})"))
    })?;
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| CheckError::InvalidTarget(format!("{target:?} has no host")))?;
    // Parsed again as the host of a web URL: a URL of another scheme (`ssh://10.0.0.1`)
    // keeps its host as opaque text, where an address would pass for a name.
    Host::parse(host)
        .map_err(|err| CheckError::InvalidTarget(format!("{target:?}: invalid host ({err})")))
}

/// Resolves `host` once, through the egress policy, to the address every connection uses.
async fn resolve(host: &Host, policy: &EgressPolicy) -> Result<IpAddr, CheckError> {
    match timeout(RESOLVE_TIMEOUT, policy.resolve_host(host)).await {
        Err(_elapsed) => Err(CheckError::Timeout(RESOLVE_TIMEOUT)),
        Ok(Err(EgressError::InvalidTarget(reason))) => Err(CheckError::InvalidTarget(reason)),
        Ok(Err(err)) => Err(err.into()),
        Ok(Ok(ip)) => Ok(ip),
    }
}

/// The host as people write it: a name, or an address (IPv6 without brackets).
fn host_name(host: &Host) -> String {
    match host {
        Host::Domain(domain) => domain.clone(),
        Host::Ipv4(v4) => v4.to_string(),
        Host::Ipv6(v6) => v6.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(target: &str) -> String {
        host_name(&target_host(target).unwrap())
    }

    #[test]
    fn targets_are_hosts_addresses_or_urls() {
        assert_eq!(host("example.com"), "example.com");
        assert_eq!(host(" Example.COM "), "example.com");
        assert_eq!(host("example.com:8443"), "example.com");
        assert_eq!(
            host("https://shop.example.com:8443/login?x=1"),
            "shop.example.com"
        );
        assert_eq!(host("203.0.113.7"), "203.0.113.7");
        assert_eq!(host("::1"), "::1");
        assert_eq!(host("[2001:db8::1]:22"), "2001:db8::1");
        assert_eq!(host("http://[2001:db8::1]/"), "2001:db8::1");
        assert_eq!(host("ssh://git.example.com"), "git.example.com");
        assert_eq!(
            target_host("ssh://10.0.0.1:22").unwrap(),
            Host::<String>::Ipv4("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn targets_without_a_host_are_invalid() {
        for target in [
            "",
            "   ",
            "http://",
            "exa mple.com",
            "[::1",
            "mailto:someone",
        ] {
            assert!(
                matches!(target_host(target), Err(CheckError::InvalidTarget(_))),
                "{target:?}"
            );
        }
    }

    #[test]
    fn first_of_prefers_an_answer_then_waiting() {
        let ssh = Service::new("ssh", None, None);
        assert_eq!(
            Verdict::first_of([Verdict::More, Verdict::Is(ssh.clone()), Verdict::Not]),
            Verdict::Is(ssh)
        );
        assert_eq!(
            Verdict::first_of([Verdict::Not, Verdict::More]),
            Verdict::More
        );
        assert_eq!(
            Verdict::first_of([Verdict::Not, Verdict::Not]),
            Verdict::Not
        );
    }

    #[test]
    fn default_options() {
        let options = PortScanOptions::default();
        assert_eq!(options.concurrency, 512);
        assert_eq!(options.connect_timeout, Duration::from_secs(1));
        assert_eq!(options.banner_timeout, Duration::from_secs(2));
        assert!(options.identify);
    }

    #[test]
    fn port_scans_follow_the_job_scope_and_keep_a_urls_own_port() {
        let common = port_set("http://a.test:8090/", None);
        let PortSet::List(common) = common else {
            panic!("a list")
        };
        assert!(common.contains(&8090) && common.contains(&22));
        assert_eq!(port_set("a.test", Some(&PortScope::Full)), PortSet::All);
        assert_eq!(
            port_set(
                "http://a.test:8090/",
                Some(&PortScope::List {
                    ports: vec![22, 443]
                })
            ),
            PortSet::List(vec![22, 443, 8090])
        );
        assert_eq!(
            port_set("a.test", Some(&PortScope::List { ports: vec![5432] })),
            PortSet::List(vec![5432])
        );
    }
}
