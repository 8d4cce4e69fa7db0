//! The egress policy: which addresses the platform may connect to on a user's behalf.
//!
//! Targets come from users, so a check must never become a way to reach our own
//! infrastructure (SSRF): cloud metadata endpoints, link-local services, the platform's own
//! services and — in production — private networks and loopback. The policy resolves the host
//! once and hands back the one address it approved; callers connect to exactly that address,
//! so a DNS answer that changes between the check and the connection (DNS rebinding) cannot
//! redirect them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Which destinations the platform may connect to on a user's behalf.
#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    /// Allow private networks (RFC 1918, CGNAT, IPv6 ULA) and loopback: on-premises
    /// deployments scanning their own networks, development and tests. Metadata, link-local,
    /// unspecified, multicast and broadcast addresses stay refused even then, and so do the
    /// platform's own services.
    pub allow_private: bool,
    /// The platform's own services (the deployment's dependencies), refused whatever else
    /// the policy allows: a registered asset must never point the scanner at the platform.
    pub own_services: OwnServices,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EgressError {
    #[error("refusing to connect to {}: {reason}", host_and_ip(host, *ip))]
    Refused {
        host: String,
        ip: IpAddr,
        reason: &'static str,
    },
    #[error("could not resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
    #[error("invalid target: {0}")]
    InvalidTarget(String),
}

/// `example.com (10.0.0.1)`, or just the address when the host was one, or just the name when
/// it was refused before any lookup.
fn host_and_ip(host: &str, ip: IpAddr) -> String {
    if host == ip.to_string() || ip.is_unspecified() {
        host.to_owned()
    } else {
        format!("{host} ({ip})")
    }
}

impl EgressPolicy {
    /// Refuses private networks and loopback: what a cloud deployment runs with.
    pub fn strict() -> Self {
        EgressPolicy::default()
    }

    /// Allows private networks and loopback (on-premises deployments, development, tests).
    pub fn allowing_private() -> Self {
        EgressPolicy {
            allow_private: true,
            ..EgressPolicy::default()
        }
    }

    /// This policy, refusing `own_services` as well.
    pub fn refusing(mut self, own_services: OwnServices) -> Self {
        self.own_services = own_services;
        self
    }

    /// Resolves the URL's host and returns the first address the policy allows, with the URL's
    /// port (or the scheme's default). IP literals are judged without DNS.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr, EgressError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::InvalidTarget(format!(
                "only http and https URLs can be checked, not {}",
                url.scheme()
            )));
        }
        let port = url.port_or_known_default().ok_or_else(|| {
            EgressError::InvalidTarget(format!("no port known for {}", url.scheme()))
        })?;
        let host = url
            .host()
            .ok_or_else(|| EgressError::InvalidTarget("the URL has no host".into()))?;
        let (name, candidates) = match host {
            Host::Ipv4(ip) => (ip.to_string(), vec![IpAddr::V4(ip)]),
            Host::Ipv6(ip) => (ip.to_string(), vec![IpAddr::V6(ip)]),
            Host::Domain(domain) => {
                if self.own_services.names(domain, port) {
                    return Err(EgressError::Refused {
                        host: domain.to_owned(),
                        ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        reason: OWN_SERVICE,
                    });
                }
                (domain.to_owned(), lookup(domain, port).await?)
            }
        };
        self.pick(&name, &candidates, Some(port))
            .map(|ip| SocketAddr::new(ip, port))
    }

    /// Resolves `host` to the first address the policy allows for some port: what a scan of
    /// many ports connects to. The platform's own services on that address are refused port
    /// by port, with [`EgressPolicy::is_own_service`].
    pub async fn resolve_host(&self, host: &Host) -> Result<IpAddr, EgressError> {
        let (name, candidates) = match host {
            Host::Ipv4(ip) => (ip.to_string(), vec![IpAddr::V4(*ip)]),
            Host::Ipv6(ip) => (ip.to_string(), vec![IpAddr::V6(*ip)]),
            Host::Domain(domain) => (domain.clone(), lookup(domain, 0).await?),
        };
        self.pick(&name, &candidates, None)
    }

    /// Whether `addr` is one of the platform's own services.
    pub fn is_own_service(&self, addr: SocketAddr) -> bool {
        self.own_services.contains(addr)
    }

    /// Whether the policy allows connecting to `ip` (on some port).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), EgressError> {
        match refusal(ip, self.allow_private) {
            None => Ok(()),
            Some(reason) => Err(EgressError::Refused {
                host: ip.to_string(),
                ip,
                reason,
            }),
        }
    }

    /// Why connecting to `ip` (on `port`, when one is known) is refused.
    fn refusal(&self, ip: IpAddr, port: Option<u16>) -> Option<&'static str> {
        refusal(ip, self.allow_private).or_else(|| {
            port.filter(|port| self.is_own_service(SocketAddr::new(ip, *port)))
                .map(|_| OWN_SERVICE)
        })
    }

    /// The first allowed address; when none is, the refusal of the first, since that is the
    /// address a plain client would have used.
    fn pick(
        &self,
        host: &str,
        candidates: &[IpAddr],
        port: Option<u16>,
    ) -> Result<IpAddr, EgressError> {
        if let Some(ip) = candidates
            .iter()
            .copied()
            .find(|ip| self.refusal(*ip, port).is_none())
        {
            return Ok(ip);
        }
        let first = *candidates.first().ok_or_else(|| EgressError::Resolve {
            host: host.to_owned(),
            detail: "no addresses found".into(),
        })?;
        let reason = self.refusal(first, port).unwrap_or("not allowed");
        Err(EgressError::Refused {
            host: host.to_owned(),
            ip: first,
            reason,
        })
    }
}

/// The refusal reason for the platform's own services.
pub(crate) const OWN_SERVICE: &str = "one of the platform's own services";

/// The addresses of the platform's own services that a service knows from its configuration:
/// the URLs of its dependencies (base, scan, PostgreSQL, Redis, RabbitMQ, MongoDB) and its own
/// listen address. Names are resolved once, when the service starts (a Kubernetes Service's
/// cluster IP does not change), and kept as names too, so a target naming one is refused
/// without a lookup.
///
/// A loopback or unspecified address stands for every loopback address: a dependency on
/// `127.0.0.1:6379`, or listening on `0.0.0.0:8084`, is reached through `localhost` or
/// `127.0.0.2` as well.
#[derive(Clone, Debug, Default)]
pub struct OwnServices {
    inner: Arc<OwnServicesInner>,
}

#[derive(Debug, Default)]
struct OwnServicesInner {
    addrs: Vec<SocketAddr>,
    /// Lowercase host names with their port.
    names: Vec<(String, u16)>,
}

impl OwnServices {
    /// The services at `endpoints`: URLs (`http://base:8081`, `amqp://u:p@mq/%2f`,
    /// `mongodb://a:27017,b:27017/db`) or socket addresses (`0.0.0.0:8084`). A scheme's
    /// usual port stands in for a missing one; what cannot be read or resolved is logged and
    /// skipped, since a service must start even when a dependency's name does not resolve yet.
    pub async fn resolve<S: AsRef<str>>(endpoints: impl IntoIterator<Item = S>) -> OwnServices {
        let mut inner = OwnServicesInner::default();
        for endpoint in endpoints {
            for (host, port) in host_ports(endpoint.as_ref()) {
                match host.parse::<IpAddr>() {
                    Ok(ip) => inner.addrs.push(SocketAddr::new(ip, port)),
                    Err(_) => {
                        match tokio::net::lookup_host((host.as_str(), port)).await {
                            Ok(addrs) => inner.addrs.extend(addrs),
                            Err(error) => tracing::warn!(
                                %host, port, %error,
                                "cannot resolve one of the platform's own services; refusing it by name only"
                            ),
                        }
                        inner.names.push((host.to_ascii_lowercase(), port));
                    }
                }
            }
        }
        inner.addrs.sort();
        inner.addrs.dedup();
        OwnServices {
            inner: Arc::new(inner),
        }
    }

    /// Whether `addr` is one of them.
    pub fn contains(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.inner.addrs.iter().any(|own| {
            let own_ip = canonical(own.ip());
            own.port() == addr.port() && (own_ip == ip || (local(own_ip) && ip.is_loopback()))
        })
    }

    /// Whether `host` (a name) on `port` is one of them.
    fn names(&self, host: &str, port: u16) -> bool {
        self.inner
            .names
            .iter()
            .any(|(name, own_port)| *own_port == port && name.eq_ignore_ascii_case(host))
    }

    /// How many addresses and names are refused.
    pub fn len(&self) -> usize {
        self.inner.addrs.len() + self.inner.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// An address that stands for the local host: loopback, or unspecified (a listener on every
/// interface).
fn local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// The hosts and ports an endpoint names. A MongoDB URL may name several hosts.
fn host_ports(endpoint: &str) -> Vec<(String, u16)> {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => (String::new(), endpoint),
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "amqp" => Some(5672),
        "amqps" => Some(5671),
        "redis" => Some(6379),
        "rediss" => Some(6380),
        "mongodb" => Some(27017),
        "postgres" | "postgresql" => Some(5432),
        _ => None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    hosts
        .split(',')
        .filter_map(|host_port| {
            let (host, port) = split_host_port(host_port)?;
            let port = port.or(default_port)?;
            Some((host.to_owned(), port))
        })
        .collect()
}

/// `host:port`, `[v6]:port`, or a host alone.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().ok()?),
            None => None,
        };
        return Some((host, port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        // A bare IPv6 address.
        Some(_) => Some((text, None)),
        None if text.is_empty() => None,
        None => Some((text, None)),
    }
}

async fn lookup(domain: &str, port: u16) -> Result<Vec<IpAddr>, EgressError> {
    let addrs = tokio::net::lookup_host((domain, port))
        .await
        .map_err(|err| EgressError::Resolve {
            host: domain.to_owned(),
            detail: err.to_string(),
        })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in addrs {
        // getaddrinfo repeats an address once per socket type; keep the order, drop repeats.
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    Ok(ips)
}

/// Why `ip` is refused, or `None` when it may be reached.
/// Why no deployment may ever reach `ip`, even one allowing private ranges (cloud metadata,
/// link-local, unspecified, broadcast, multicast, reserved, and the IPv4-mapped, NAT64 and
/// 6to4 forms of them): what an asset's address is judged by when it is registered.
pub fn never_allowed(ip: IpAddr) -> Option<&'static str> {
    refusal(ip, true)
}

fn refusal(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4, allow_private),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            // The kernel connects an IPv4-mapped address over IPv4, so judge what it reaches.
            Some(v4) => refusal_v4(v4, allow_private),
            None => refusal_v6(v6, allow_private),
        },
    }
}

/// The IPv4 address an IPv6 address really leads to: IPv4-mapped (`::ffff:a.b.c.d`), the
/// NAT64 well-known prefix (`64:ff9b::a.b.c.d`, translated to IPv4 by a gateway) and 6to4
/// (`2002:aabb:ccdd::/48`, relayed to a.b.c.d).
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    let s = v6.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, ...
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer (host agent)
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)]; // AWS

fn refusal_v4(ip: Ipv4Addr, allow_private: bool) -> Option<&'static str> {
    let [a, b, _, _] = ip.octets();
    if METADATA_V4.contains(&ip) {
        return Some("cloud metadata endpoint");
    }
    if ip.is_link_local() {
        return Some("link-local address");
    }
    // All of 0.0.0.0/8: Linux connects 0.0.0.0 to the local host, the rest is not routable.
    if a == 0 {
        return Some("unspecified address");
    }
    if ip.is_broadcast() {
        return Some("broadcast address");
    }
    if ip.is_multicast() {
        return Some("multicast address");
    }
    // 240.0.0.0/4 is reserved and 198.18.0.0/15 is for benchmarking: neither is anyone's asset.
    if a >= 240 {
        return Some("reserved address (240.0.0.0/4)");
    }
    if a == 198 && (b & 0xfe) == 18 {
        return Some("benchmarking address (198.18.0.0/15)");
    }
    if allow_private {
        return None;
    }
    if ip.is_loopback() {
        return Some("loopback address");
    }
    // IETF protocol assignments (192.0.0.0/24) include DS-Lite and NAT64 gateway addresses.
    if ip.octets()[..3] == [192, 0, 0] {
        return Some("IETF protocol assignment (192.0.0.0/24)");
    }
    if ip.is_private() {
        return Some("private network address");
    }
    if a == 100 && (64..128).contains(&b) {
        return Some("carrier-grade NAT address (100.64.0.0/10)");
    }
    None
}

fn refusal_v6(ip: Ipv6Addr, allow_private: bool) -> Option<&'static str> {
    if METADATA_V6.contains(&ip) {
        return Some("cloud metadata endpoint");
    }
    if ip.is_unicast_link_local() {
        return Some("link-local address");
    }
    if ip.is_unspecified() {
        return Some("unspecified address");
    }
    if ip.is_multicast() {
        return Some("multicast address");
    }
    if allow_private {
        return None;
    }
    if ip.is_loopback() {
        return Some("loopback address");
    }
    if ip.is_unique_local() {
        return Some("private network address (unique local)");
    }
    // Local-use NAT64 (RFC 8215) leads into the operator's own network.
    if ip.segments()[..3] == [0x64, 0xff9b, 1] {
        return Some("local-use NAT64 address (64:ff9b:1::/48)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_closed_after_review_are_refused() {
        let strict = EgressPolicy::default();
        let open = EgressPolicy::allowing_private();
        for ip in [
            "168.63.129.16",
            "240.1.2.3",
            "255.255.255.254",
            "198.18.0.1",
            "198.19.255.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(open.check_ip(ip).is_err(), "{ip}");
        }
        for ip in [
            "192.0.0.8",
            "64:ff9b:1::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(strict.check_ip(ip).is_err(), "{ip}");
        }
        // 6to4 of a metadata address is refused even where private targets are allowed.
        assert!(open.check_ip("2002:a9fe:a9fe::1".parse().unwrap()).is_err());
        // 6to4 of a public address is fine.
        assert!(strict.check_ip("2002:808:808::1".parse().unwrap()).is_ok());
        assert!(strict.check_ip("198.20.0.1".parse().unwrap()).is_ok());
    }

    fn strict() -> EgressPolicy {
        EgressPolicy::default()
    }

    fn lax() -> EgressPolicy {
        EgressPolicy::allowing_private()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn reason(policy: &EgressPolicy, text: &str) -> Option<&'static str> {
        match policy.check_ip(ip(text)) {
            Ok(()) => None,
            Err(EgressError::Refused { reason, .. }) => Some(reason),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn default_policy_is_strict() {
        assert!(!EgressPolicy::default().allow_private);
    }

    #[test]
    fn always_refused_even_when_private_is_allowed() {
        for (text, expected) in [
            ("169.254.169.254", "cloud metadata endpoint"),
            ("169.254.170.2", "cloud metadata endpoint"),
            ("100.100.100.200", "cloud metadata endpoint"),
            ("fd00:ec2::254", "cloud metadata endpoint"),
            ("169.254.1.1", "link-local address"),
            ("fe80::1", "link-local address"),
            ("febf::1", "link-local address"),
            ("0.0.0.0", "unspecified address"),
            ("0.1.2.3", "unspecified address"),
            ("::", "unspecified address"),
            ("224.0.0.1", "multicast address"),
            ("239.255.255.250", "multicast address"),
            ("ff02::1", "multicast address"),
            ("255.255.255.255", "broadcast address"),
            ("::ffff:169.254.169.254", "cloud metadata endpoint"),
            ("::ffff:0.0.0.0", "unspecified address"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata endpoint"),
        ] {
            assert_eq!(reason(&lax(), text), Some(expected), "{text} (lax)");
            assert_eq!(reason(&strict(), text), Some(expected), "{text} (strict)");
        }
    }

    #[test]
    fn private_and_loopback_depend_on_the_policy() {
        for text in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.1.2.3",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                reason(&strict(), text).is_some(),
                "{text} should be refused"
            );
            assert_eq!(reason(&lax(), text), None, "{text} should be allowed");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "fec0::1",
        ] {
            assert_eq!(reason(&strict(), text), None, "{text}");
        }
    }

    #[test]
    fn first_allowed_address_wins_and_all_refused_reports_the_first() {
        let policy = strict();
        let picked = policy.pick(
            "example.test",
            &[ip("10.0.0.1"), ip("93.184.216.34")],
            Some(80),
        );
        assert_eq!(picked, Ok(ip("93.184.216.34")));
        let refused = policy.pick(
            "example.test",
            &[ip("127.0.0.1"), ip("169.254.169.254")],
            Some(80),
        );
        assert_eq!(
            refused,
            Err(EgressError::Refused {
                host: "example.test".into(),
                ip: ip("127.0.0.1"),
                reason: "loopback address",
            })
        );
        assert!(matches!(
            policy.pick("example.test", &[], Some(80)),
            Err(EgressError::Resolve { .. })
        ));
    }

    #[tokio::test]
    async fn ip_literals_are_judged_without_dns() {
        let url = Url::parse("http://[::ffff:169.254.169.254]/").unwrap();
        let err = lax().resolve(&url).await.unwrap_err();
        assert!(matches!(
            err,
            EgressError::Refused {
                reason: "cloud metadata endpoint",
                ..
            }
        ));
        let url = Url::parse("https://127.0.0.1:8443/x").unwrap();
        assert_eq!(
            lax().resolve(&url).await,
            Ok("127.0.0.1:8443".parse().unwrap())
        );
        let url = Url::parse("http://[::1]/").unwrap();
        assert_eq!(lax().resolve(&url).await, Ok("[::1]:80".parse().unwrap()));
    }

    #[tokio::test]
    async fn only_http_and_https_are_accepted() {
        for text in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://127.0.0.1/",
        ] {
            let url = Url::parse(text).unwrap();
            assert!(
                matches!(
                    lax().resolve(&url).await,
                    Err(EgressError::InvalidTarget(_))
                ),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let url = Url::parse("http://localhost:8080/").unwrap();
        match strict().resolve(&url).await {
            Err(EgressError::Refused { host, reason, .. }) => {
                assert_eq!(host, "localhost");
                assert_eq!(reason, "loopback address");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn endpoints_name_their_hosts_and_ports() {
        assert_eq!(
            host_ports("amqp://guest:guest@127.0.0.1/%2f"),
            [("127.0.0.1".to_owned(), 5672)]
        );
        assert_eq!(
            host_ports("mongodb://u:p@a.db:27018,b.db/s4e?replicaSet=rs"),
            [("a.db".to_owned(), 27018), ("b.db".to_owned(), 27017)]
        );
        assert_eq!(
            host_ports("http://s4e-base:8081"),
            [("s4e-base".to_owned(), 8081)]
        );
        assert_eq!(host_ports("redis://[::1]/0"), [("::1".to_owned(), 6379)]);
        assert_eq!(host_ports("0.0.0.0:8084"), [("0.0.0.0".to_owned(), 8084)]);
        // No port and no scheme to take one from: nothing to refuse.
        assert!(host_ports("unknown://host").is_empty());
    }

    #[tokio::test]
    async fn own_services_are_refused_even_where_private_targets_are_allowed() {
        let own = OwnServices::resolve([
            "redis://127.0.0.1:6379",
            "0.0.0.0:8084",
            "http://[::1]:8081",
        ])
        .await;
        let policy = EgressPolicy::allowing_private().refusing(own);
        for target in [
            "http://127.0.0.1:6379/",
            "http://localhost:6379/",
            "http://127.0.0.2:8084/",
            "http://[::ffff:127.0.0.1]:8084/",
            "http://127.0.0.1:8081/",
        ] {
            match policy.resolve(&Url::parse(target).unwrap()).await {
                Err(EgressError::Refused { reason, .. }) => {
                    assert_eq!(reason, OWN_SERVICE, "{target}")
                }
                other => panic!("{target}: expected a refusal, got {other:?}"),
            }
        }
        // Another port of the same host is someone else's.
        let url = Url::parse("http://127.0.0.1:6380/").unwrap();
        assert_eq!(
            policy.resolve(&url).await,
            Ok("127.0.0.1:6380".parse().unwrap())
        );
        // A scan of many ports approves the host and leaves the refusal to each port.
        let host = Host::parse("127.0.0.1").unwrap();
        let ip = policy.resolve_host(&host).await.unwrap();
        assert!(policy.is_own_service(SocketAddr::new(ip, 6379)));
        assert!(!policy.is_own_service(SocketAddr::new(ip, 22)));
    }

    #[tokio::test]
    async fn own_services_are_refused_by_name_without_a_lookup() {
        let own = OwnServices::resolve(["http://s4e-base.invalid:8081"]).await;
        let policy = EgressPolicy::allowing_private().refusing(own);
        let url = Url::parse("http://S4E-Base.invalid:8081/").unwrap();
        match policy.resolve(&url).await {
            Err(EgressError::Refused { host, reason, .. }) => {
                assert_eq!(host, "s4e-base.invalid");
                assert_eq!(reason, OWN_SERVICE);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
