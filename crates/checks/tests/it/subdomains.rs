//! Subdomain discovery against local DNS servers: a resolver (`s4e-test-dns` on a port the OS
//! picks) holding the test zones, and the zones' own name servers on port 53 of loopback
//! addresses of their own (127.53.1.x), as a zone transfer asks them.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use s4e_checks::subdomains::{self, SubdomainsRaw, WORDLIST, wordlist_labels};
use s4e_checks::{CheckContext, CheckOutput, Target};
use s4e_egress::EgressPolicy;
use s4e_test_dns::{Mode, Rec, TestDns};
use s4e_types::discovery::DiscoverySource;

use crate::support::{TIMEOUT, context, lax, strict};

fn resolving(resolver: &TestDns, egress: EgressPolicy) -> CheckContext {
    CheckContext {
        dns_servers: vec![resolver.addr()],
        ..context(egress, TIMEOUT)
    }
}

async fn discover(
    resolver: &TestDns,
    domain: &str,
    egress: EgressPolicy,
) -> CheckOutput<SubdomainsRaw> {
    subdomains::run(&Target::new(domain), &resolving(resolver, egress))
        .await
        .unwrap()
}

/// The names found by `source`, sorted.
fn found(output: &CheckOutput<SubdomainsRaw>, source: DiscoverySource) -> Vec<String> {
    let mut names: Vec<String> = output
        .observed
        .discovered
        .iter()
        .filter(|name| name.source == source)
        .map(|name| name.name.clone())
        .collect();
    names.sort();
    names
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, last)
}

/// A zone whose name server is `ns1.<apex>` at `ns`, in the resolver, with `hosts` (label,
/// address) under it.
fn zone(resolver: &TestDns, apex: &str, ns: Ipv4Addr, hosts: &[(&str, Ipv4Addr)]) {
    resolver
        .add(apex, Rec::Soa)
        .add(apex, Rec::Ns(format!("ns1.{apex}")))
        .add(&format!("ns1.{apex}"), Rec::A(ns));
    for (label, address) in hosts {
        resolver.add(&format!("{label}.{apex}"), Rec::A(*address));
    }
}

/// The zone's own name server: `apex`'s records again, on port 53 of `ns`.
async fn nameserver(ns: Ipv4Addr, apex: &str, hosts: &[(&str, Ipv4Addr)]) -> TestDns {
    let server = TestDns::start_on(SocketAddr::new(ns.into(), 53))
        .await
        .unwrap_or_else(|error| panic!("cannot listen on {ns}:53: {error}"));
    zone(&server, apex, ns, hosts);
    server
}

#[tokio::test]
async fn wordlist_names_are_found_and_others_are_not() {
    let resolver = TestDns::start().await.unwrap();
    let hosts = [
        ("www", ip(1)),
        ("api", ip(2)),
        ("vpn", ip(3)),
        ("staging-api", ip(4)),
        // Not in the wordlist: only a zone transfer would tell.
        ("zq-internal-7", ip(5)),
    ];
    // The name server's address is not served: no transfer is possible.
    zone(
        &resolver,
        "known.test",
        Ipv4Addr::new(127, 53, 1, 99),
        &hosts,
    );
    resolver.add("shop.known.test", Rec::Cname("www.known.test".into()));
    let output = discover(&resolver, "known.test", lax()).await;
    assert_eq!(
        found(&output, DiscoverySource::Wordlist),
        [
            "api.known.test",
            "ns1.known.test",
            "shop.known.test",
            "staging-api.known.test",
            "vpn.known.test",
            "www.known.test"
        ]
    );
    assert!(found(&output, DiscoverySource::ZoneTransfer).is_empty());
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    let raw = &output.raw;
    assert_eq!(raw.wildcard, None);
    assert_eq!(raw.wordlist_names, wordlist_labels(WORDLIST).count());
    assert_eq!(
        (raw.failed, raw.wildcard_only, raw.truncated),
        (0, 0, false)
    );
    // The CNAME is followed: the alias is found with its target's address.
    let shop = output
        .observed
        .discovered
        .iter()
        .find(|name| name.name == "shop.known.test")
        .unwrap();
    assert_eq!(shop.addresses, [std::net::IpAddr::V4(ip(1))]);
    // Every name of the wordlist was asked, once for A and once for AAAA.
    let asked: BTreeSet<String> = resolver.queries().into_iter().collect();
    for label in wordlist_labels(WORDLIST) {
        for qtype in ["A", "AAAA"] {
            let query = format!("{qtype} {label}.known.test");
            assert!(asked.contains(&query), "{query} not asked");
        }
    }
}

#[tokio::test]
async fn a_wildcard_zone_yields_only_names_with_addresses_of_their_own() {
    let resolver = TestDns::start().await.unwrap();
    zone(
        &resolver,
        "wild.test",
        Ipv4Addr::new(127, 53, 1, 98),
        &[("vpn", ip(50))],
    );
    resolver.add("*.wild.test", Rec::A(ip(99)));
    let output = discover(&resolver, "wild.test", lax()).await;
    // `www`, `api` and every other name resolve, to the wildcard's address: none is reported.
    assert_eq!(
        found(&output, DiscoverySource::Wordlist),
        ["ns1.wild.test", "vpn.wild.test"]
    );
    let raw = &output.raw;
    assert_eq!(raw.wildcard, Some(vec![std::net::IpAddr::V4(ip(99))]));
    assert_eq!(raw.wildcard_only, raw.wordlist_names - 2);
}

#[tokio::test]
async fn an_open_zone_transfer_is_a_finding_and_gives_every_name() {
    let resolver = TestDns::start().await.unwrap();
    let ns = Ipv4Addr::new(127, 53, 1, 1);
    let hosts = [("www", ip(1)), ("zq-internal-7", ip(5))];
    zone(&resolver, "open.test", ns, &hosts);
    let authority = nameserver(ns, "open.test", &hosts).await;
    authority.allow_zone_transfer("open.test");
    let output = discover(&resolver, "open.test", lax()).await;
    assert_eq!(
        found(&output, DiscoverySource::ZoneTransfer),
        ["ns1.open.test", "www.open.test", "zq-internal-7.open.test"]
    );
    let rules: Vec<(&str, &str)> = output
        .findings
        .iter()
        .map(|finding| (finding.rule.as_str(), finding.location.as_str()))
        .collect();
    assert_eq!(rules, [("dns_zone_transfer", "open.test @ ns1.open.test")]);
    assert_eq!(output.raw.zone_transfers.len(), 1);
    assert_eq!(output.raw.zone_transfers[0].outcome, "transferred");
    assert!(authority.queries().contains(&"AXFR open.test".to_string()));
}

#[tokio::test]
async fn a_large_zone_comes_whole_in_many_messages() {
    let resolver = TestDns::start().await.unwrap();
    let ns = Ipv4Addr::new(127, 53, 1, 2);
    zone(&resolver, "large.test", ns, &[]);
    let authority = nameserver(ns, "large.test", &[]).await;
    for n in 0..3000 {
        authority.add(&format!("host-{n}.large.test"), Rec::A(ip(7)));
    }
    authority.allow_zone_transfer("large.test");
    let output = discover(&resolver, "large.test", lax()).await;
    let names: BTreeSet<String> = found(&output, DiscoverySource::ZoneTransfer)
        .into_iter()
        .collect();
    assert_eq!(names.len(), 3001, "3000 hosts and the name server");
    assert!(names.contains("host-2999.large.test"));
}

#[tokio::test]
async fn a_refused_transfer_is_no_finding() {
    let resolver = TestDns::start().await.unwrap();
    let ns = Ipv4Addr::new(127, 53, 1, 3);
    let hosts = [("www", ip(1)), ("zq-internal-7", ip(5))];
    zone(&resolver, "closed.test", ns, &hosts);
    let authority = nameserver(ns, "closed.test", &hosts).await;
    let output = discover(&resolver, "closed.test", lax()).await;
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    assert!(found(&output, DiscoverySource::ZoneTransfer).is_empty());
    let attempt = &output.raw.zone_transfers[0];
    assert_eq!(attempt.outcome, "refused");
    assert_eq!(
        attempt.detail.as_deref(),
        Some("the server answered Query Refused")
    );
    assert!(
        authority
            .queries()
            .contains(&"AXFR closed.test".to_string())
    );
}

#[tokio::test]
async fn the_egress_policy_guards_zone_transfers() {
    let resolver = TestDns::start().await.unwrap();
    let ns = Ipv4Addr::new(127, 53, 1, 4);
    zone(&resolver, "guarded.test", ns, &[("www", ip(1))]);
    let authority = nameserver(ns, "guarded.test", &[]).await;
    authority.allow_zone_transfer("guarded.test");
    let output = discover(&resolver, "guarded.test", strict()).await;
    assert_eq!(output.raw.zone_transfers[0].outcome, "not_allowed");
    assert!(output.findings.is_empty());
    assert!(
        authority.queries().is_empty(),
        "no packet to a loopback name server"
    );
    // The resolvers are the operator's own: asking them is not egress to the target.
    assert_eq!(
        found(&output, DiscoverySource::Wordlist),
        ["ns1.guarded.test", "www.guarded.test"]
    );
}

#[tokio::test]
async fn a_sweep_stops_at_its_deadline() {
    let resolver = TestDns::start().await.unwrap();
    resolver.set_mode(Mode::Silent);
    let client = s4e_egress::dns::DnsClient::new(&[resolver.addr()]).unwrap();
    let labels: Vec<&str> = wordlist_labels(WORDLIST).collect();
    let started = tokio::time::Instant::now();
    let sweep = subdomains::sweep(
        &client,
        "slowzone.test",
        &labels,
        None,
        8,
        started + Duration::from_millis(200),
    )
    .await;
    assert!(sweep.truncated);
    assert!(sweep.resolved.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
