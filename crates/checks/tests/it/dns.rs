//! The DNS check against a local authoritative server (`s4e-test-dns`) holding test zones.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use s4e_checks::dns::{self, DnsClient, DnsError, DnsRaw, Lookup, Mx};
use s4e_checks::{CheckContext, CheckError, CheckOutput, Target};
use s4e_test_dns::{Mode, Rec, TestDns};

use crate::support::{TIMEOUT, context, lax};

fn client(server: &TestDns) -> DnsClient {
    DnsClient::new(&[server.addr()]).unwrap()
}

/// The DNS check asking `servers`, within `timeout`, each server getting `attempt` per question.
fn resolving(servers: &[&TestDns], timeout: Duration, attempt: Duration) -> CheckContext {
    CheckContext {
        dns_servers: servers.iter().map(|server| server.addr()).collect(),
        dns_attempt_timeout: attempt,
        ..context(lax(), timeout)
    }
}

async fn check(server: &TestDns, domain: &str) -> Result<CheckOutput<DnsRaw>, CheckError> {
    let context = resolving(&[server], TIMEOUT, s4e_egress::dns::DEFAULT_ATTEMPT_TIMEOUT);
    dns::run(&Target::new(domain), &context).await
}

/// The (rule, location) pairs of the check's findings, sorted.
async fn findings(server: &TestDns, domain: &str) -> Vec<(String, String)> {
    let output = check(server, domain).await.unwrap();
    let mut found: Vec<(String, String)> = output
        .findings
        .into_iter()
        .map(|finding| (finding.rule, finding.location))
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(rule, location)| ((*rule).to_owned(), (*location).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// A zone with everything right: SPF ending in -all (with an include), DMARC p=reject, DNSSEC
/// keys, and a CNAME to a hosting service whose name exists.
fn good_zone(server: &TestDns, domain: &str) {
    zone_with_dmarc(server, domain, "v=DMARC1; p=reject");
}

fn zone_with_dmarc(server: &TestDns, domain: &str, dmarc: &str) {
    server
        .add(domain, Rec::Soa)
        .add(domain, Rec::Ns(format!("ns1.{domain}")))
        .add(domain, Rec::Dnskey)
        .add(domain, Rec::A(Ipv4Addr::new(192, 0, 2, 10)))
        .add(domain, Rec::Mx(10, format!("mail.{domain}")))
        .add(domain, Rec::txt("google-site-verification=abc"))
        .add(domain, Rec::txt("v=spf1 mx include:_spf.mailer.test -all"))
        .add(&format!("_dmarc.{domain}"), Rec::txt(dmarc))
        .add(
            &format!("www.{domain}"),
            Rec::Cname("good-site.github.io".into()),
        );
}

/// The third-party names the good zones point at.
async fn server() -> TestDns {
    let server = TestDns::start().await.unwrap();
    server
        .add("good-site.github.io", Rec::A(Ipv4Addr::new(192, 0, 2, 20)))
        .add("_spf.mailer.test", Rec::txt("v=spf1 ip4:192.0.2.0/24 -all"));
    server
}

#[tokio::test]
async fn a_well_configured_domain_has_no_findings() {
    let server = server().await;
    good_zone(&server, "good.test");
    let output = check(&server, "Good.Test.").await.unwrap();
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    assert_eq!(output.raw.domain, "good.test");
    assert_eq!(output.raw.zone, "good.test");
    assert_eq!(output.raw.nameservers, vec![server.addr()]);
    // The raw output is every lookup and what it found.
    let spf = output
        .raw
        .lookups
        .iter()
        .find(|lookup| lookup.name == "good.test" && lookup.record_type == "TXT")
        .unwrap();
    assert_eq!(spf.result, "records");
    assert!(
        spf.records
            .contains(&"v=spf1 mx include:_spf.mailer.test -all".to_owned())
    );
    let www = output
        .raw
        .lookups
        .iter()
        .find(|lookup| lookup.name == "www.good.test")
        .unwrap();
    assert_eq!(www.records, ["good-site.github.io"]);
    let blog = output
        .raw
        .lookups
        .iter()
        .find(|lookup| lookup.name == "blog.good.test")
        .unwrap();
    assert_eq!(blog.result, "nxdomain");
    let raw = serde_json::to_value(&output.raw).unwrap();
    assert_eq!(raw["lookups"][0]["type"], "CNAME");
    // The include was followed (one level) to count its lookups.
    assert!(
        server
            .queries()
            .contains(&"TXT _spf.mailer.test".to_owned())
    );
}

#[tokio::test]
async fn a_neglected_domain_gets_every_finding_at_its_own_name() {
    let server = server().await;
    server
        .add("bad.test", Rec::Soa)
        .add("bad.test", Rec::A(Ipv4Addr::new(192, 0, 2, 30)))
        // Dangling: the Heroku app is gone.
        .add("www.bad.test", Rec::Cname("gone-app.herokuapp.com".into()))
        // Resolving: the Ghost blog exists.
        .add("blog.bad.test", Rec::Cname("live.ghost.io".into()))
        .add("live.ghost.io", Rec::A(Ipv4Addr::new(192, 0, 2, 40)))
        // Not a claimable service: not judged, even though the target is gone.
        .add("docs.bad.test", Rec::Cname("gone.example-host.test".into()))
        // Dangling too, and found through an S3 website endpoint.
        .add(
            "status.bad.test",
            Rec::Cname("status.bad.test.s3-website-us-east-1.amazonaws.com".into()),
        );
    assert_eq!(
        findings(&server, "bad.test").await,
        pairs(&[
            ("spf_missing", "bad.test"),
            ("dmarc_missing", "_dmarc.bad.test"),
            ("dnssec_missing", "bad.test"),
            ("dangling_cname", "www.bad.test"),
            ("dangling_cname", "status.bad.test"),
        ])
    );
    let output = check(&server, "bad.test").await.unwrap();
    let dangling = output
        .findings
        .iter()
        .find(|finding| finding.location == "www.bad.test")
        .unwrap();
    assert_eq!(dangling.severity, s4e_types::Severity::High);
    assert_eq!(dangling.evidence["cname"], "gone-app.herokuapp.com");
    assert_eq!(dangling.evidence["service"], "Heroku");
    let dnssec = output
        .findings
        .iter()
        .find(|finding| finding.rule == "dnssec_missing")
        .unwrap();
    assert_eq!(dnssec.severity, s4e_types::Severity::Info);
}

#[tokio::test]
async fn spf_rules_judge_the_record() {
    let server = server().await;
    // Each record under test is published at a name below a good zone, which gives it the
    // zone's DMARC and DNSSEC: only the SPF rules have something to say.
    for (domain, spf) in [
        ("plus.test", "v=spf1 mx +all"),
        ("neutral.test", "v=spf1 mx ?all"),
        ("open.test", "v=spf1 mx"),
        ("soft.test", "v=spf1 mx ~all"),
        ("redirected.test", "v=spf1 redirect=_spf.mailer.test"),
    ] {
        good_zone(&server, domain);
        server.add(&format!("spf.{domain}"), Rec::txt(spf));
    }
    for (domain, expected) in [
        ("spf.plus.test", true),
        ("spf.neutral.test", true),
        ("spf.open.test", true),
        ("spf.soft.test", false),
        ("spf.redirected.test", false),
    ] {
        assert_eq!(
            findings(&server, domain).await,
            if expected {
                pairs(&[("spf_permissive", domain)])
            } else {
                pairs(&[])
            },
            "{domain}"
        );
    }

    // Two SPF records.
    good_zone(&server, "twice.test");
    server.add("twice.test", Rec::txt("v=spf1 -all"));
    assert_eq!(
        findings(&server, "twice.test").await,
        pairs(&[("spf_multiple_records", "twice.test")])
    );
}

#[tokio::test]
async fn spf_lookups_count_the_included_records_one_level_deep() {
    let server = server().await;
    // 3 includes + 4 lookups in each of them = 15.
    for name in ["heavy.test", "light.test"] {
        good_zone(&server, name);
    }
    server.add(
        "spf.heavy.test",
        Rec::txt("v=spf1 include:a.mailer.test include:b.mailer.test include:c.mailer.test -all"),
    );
    for included in ["a.mailer.test", "b.mailer.test", "c.mailer.test"] {
        server.add(
            included,
            Rec::txt("v=spf1 a mx include:deep.mailer.test exists:x.mailer.test -all"),
        );
    }
    // Two levels down is not followed: its lookups are not counted.
    server.add(
        "deep.mailer.test",
        Rec::txt(&format!("v=spf1 {}-all", "a ".repeat(20))),
    );
    assert_eq!(
        findings(&server, "spf.heavy.test").await,
        pairs(&[("spf_too_many_lookups", "spf.heavy.test")])
    );
    let output = check(&server, "spf.heavy.test").await.unwrap();
    assert_eq!(output.findings[0].evidence["lookups"], 15);
    assert!(
        !server
            .queries()
            .contains(&"TXT deep.mailer.test".to_owned())
    );

    // 2 includes + 4 each = 10: at the limit, not over it.
    server.add(
        "spf.light.test",
        Rec::txt("v=spf1 include:a.mailer.test include:b.mailer.test -all"),
    );
    assert_eq!(findings(&server, "spf.light.test").await, pairs(&[]));
}

#[tokio::test]
async fn dmarc_rules_judge_the_policy() {
    let server = server().await;
    for (domain, dmarc) in [
        ("none.test", "v=DMARC1; p=none; rua=mailto:dmarc@none.test"),
        ("nopolicy.test", "v=DMARC1; rua=mailto:dmarc@nopolicy.test"),
        ("quarantine.test", "v=DMARC1; p=quarantine"),
    ] {
        server
            .add(domain, Rec::Soa)
            .add(domain, Rec::Dnskey)
            .add(domain, Rec::txt("v=spf1 -all"))
            .add(&format!("_dmarc.{domain}"), Rec::txt(dmarc));
    }
    assert_eq!(
        findings(&server, "none.test").await,
        pairs(&[("dmarc_policy_none", "_dmarc.none.test")])
    );
    assert_eq!(
        findings(&server, "nopolicy.test").await,
        pairs(&[("dmarc_malformed", "_dmarc.nopolicy.test")])
    );
    assert_eq!(findings(&server, "quarantine.test").await, pairs(&[]));
    server.add("_dmarc.quarantine.test", Rec::txt("v=DMARC1; p=none"));
    assert_eq!(
        findings(&server, "quarantine.test").await,
        pairs(&[("dmarc_malformed", "_dmarc.quarantine.test")])
    );
}

#[tokio::test]
async fn a_name_below_the_apex_is_judged_by_its_zone() {
    let server = server().await;
    good_zone(&server, "good.test");
    server
        .add("shop.good.test", Rec::A(Ipv4Addr::new(192, 0, 2, 50)))
        .add("shop.good.test", Rec::txt("v=spf1 -all"));
    // DNSKEY at the apex, DMARC inherited from _dmarc.good.test: nothing to report.
    let output = check(&server, "shop.good.test").await.unwrap();
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    assert_eq!(output.raw.zone, "good.test");

    // A policy for subdomains applies to it, and is reported where it is published.
    zone_with_dmarc(&server, "lenient.test", "v=DMARC1; p=reject; sp=none");
    server.add("shop.lenient.test", Rec::txt("v=spf1 -all"));
    assert_eq!(
        findings(&server, "shop.lenient.test").await,
        pairs(&[("dmarc_policy_none", "_dmarc.lenient.test")])
    );
    assert_eq!(findings(&server, "lenient.test").await, pairs(&[]));
}

#[tokio::test]
async fn long_txt_records_are_joined_before_parsing() {
    let server = server().await;
    good_zone(&server, "split.test");
    // One record in two strings: read separately, the first has no `all` and would be
    // permissive.
    server.add(
        "spf.split.test",
        Rec::Txt(vec![
            "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ".into(),
            "-all".into(),
        ]),
    );
    assert_eq!(findings(&server, "spf.split.test").await, pairs(&[]));

    // Longer than the UDP payload: the answer comes truncated and is fetched again over TCP.
    let ranges: Vec<String> = (0..250)
        .map(|n| format!("ip4:10.{}.{}.0/24", n / 200, n % 200))
        .collect();
    let record = format!("v=spf1 {} -all", ranges.join(" "));
    assert!(record.len() > 1500);
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap())
        .collect();
    assert!(strings.len() > 5);
    server.add("spf.long.split.test", Rec::Txt(strings));
    let found = client(&server).txt("spf.long.split.test").await.unwrap();
    assert_eq!(found, Lookup::Found(vec![record]));
    assert_eq!(findings(&server, "spf.long.split.test").await, pairs(&[]));
}

#[tokio::test]
async fn lookups_tell_nxdomain_from_no_records() {
    let server = server().await;
    good_zone(&server, "good.test");
    server.add("v6.good.test", Rec::Aaaa("2001:db8::1".parse().unwrap()));
    let client = client(&server);
    assert_eq!(
        client.mx("good.test").await.unwrap(),
        Lookup::Found(vec![Mx {
            preference: 10,
            exchange: "mail.good.test".into()
        }])
    );
    assert_eq!(
        client.ns("good.test").await.unwrap(),
        Lookup::Found(vec!["ns1.good.test".to_owned()])
    );
    assert_eq!(
        client.cname("www.good.test").await.unwrap(),
        Lookup::Found(vec!["good-site.github.io".to_owned()])
    );
    // The resolver follows the CNAME for addresses.
    assert_eq!(
        client.a_aaaa("www.good.test").await.unwrap(),
        Lookup::Found(vec!["192.0.2.20".parse().unwrap()])
    );
    assert_eq!(
        client.a_aaaa("v6.good.test").await.unwrap(),
        Lookup::Found(vec!["2001:db8::1".parse().unwrap()])
    );
    // The name exists, without records of that type.
    assert_eq!(client.cname("good.test").await.unwrap(), Lookup::NoRecords);
    assert_eq!(client.mx("v6.good.test").await.unwrap(), Lookup::NoRecords);
    // The name does not exist.
    assert_eq!(
        client.txt("missing.good.test").await.unwrap(),
        Lookup::NxDomain
    );
    assert_eq!(
        client.a_aaaa("missing.good.test").await.unwrap(),
        Lookup::NxDomain
    );
    // The apex comes from the SOA in the answer, or in the authority section below it.
    assert_eq!(client.zone_apex("good.test").await.unwrap(), "good.test");
    assert_eq!(client.zone_apex("v6.good.test").await.unwrap(), "good.test");
    assert_eq!(
        client.zone_apex("missing.good.test").await.unwrap(),
        "good.test"
    );
    let dnssec = client.dnssec("good.test").await.unwrap();
    assert_eq!(dnssec.dnskeys, 1);
    assert!(!dnssec.authenticated);
    assert_eq!(client.dnssec("bare.test").await.unwrap().dnskeys, 0);
}

#[tokio::test]
async fn a_domain_that_does_not_exist_is_an_error() {
    let server = server().await;
    let error = check(&server, "nowhere.test").await.unwrap_err();
    assert!(
        matches!(&error, CheckError::Unreachable(reason) if reason.contains("NXDOMAIN")),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_failure_is_an_error_not_a_missing_record() {
    let server = server().await;
    good_zone(&server, "good.test");
    server.set_mode(Mode::ServFail);
    let error = check(&server, "good.test").await.unwrap_err();
    assert!(
        matches!(
            &error,
            CheckError::Dns(DnsError::ServerFailure { code, .. }) if code.contains("Server Failure")
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("good.test"), "{error}");
}

#[tokio::test]
async fn a_failure_midway_is_an_error_and_never_a_missing_record() {
    let server = server().await;
    good_zone(&server, "good.test");
    server.fail("_dmarc.good.test");
    let error = check(&server, "good.test").await.unwrap_err();
    assert!(
        matches!(&error, CheckError::Dns(DnsError::ServerFailure { name, .. }) if name == "_dmarc.good.test"),
        "{error:?}"
    );
}

#[tokio::test]
async fn third_party_names_that_fail_give_no_finding() {
    let server = server().await;
    good_zone(&server, "good.test");
    // The included SPF record cannot be read: its lookups are not counted, no error.
    server.add(
        "spf.good.test",
        Rec::txt("v=spf1 include:broken.mailer.test -all"),
    );
    server.fail("broken.mailer.test");
    // A CNAME target whose resolver fails proves nothing: not reported as dangling.
    server.add("blog.good.test", Rec::Cname("flaky.ghost.io".into()));
    server.fail("flaky.ghost.io");
    let output = check(&server, "good.test").await.unwrap();
    assert!(output.findings.is_empty(), "{:?}", output.findings);
    let flaky = output
        .raw
        .lookups
        .iter()
        .find(|lookup| lookup.name == "flaky.ghost.io")
        .unwrap();
    assert_eq!(flaky.result, "error");
    assert!(flaky.error.as_deref().unwrap().contains("flaky.ghost.io"));
    assert_eq!(findings(&server, "spf.good.test").await, pairs(&[]));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = server().await;
    good_zone(&server, "good.test");
    server.set_mode(Mode::Silent);
    let quick = resolving(&[&server], TIMEOUT, Duration::from_millis(300));
    let started = Instant::now();
    let error = dns::run(&Target::new("good.test"), &quick)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CheckError::Dns(DnsError::Timeout { timeout, .. }) if *timeout == Duration::from_millis(300)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // The check's own time limit bounds it too, whatever each attempt may take.
    let slow = resolving(
        &[&server],
        Duration::from_millis(400),
        Duration::from_secs(30),
    );
    let error = dns::run(&Target::new("good.test"), &slow)
        .await
        .unwrap_err();
    assert!(matches!(error, CheckError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn the_next_server_is_asked_when_one_fails() {
    let failing = TestDns::start().await.unwrap();
    failing.set_mode(Mode::ServFail);
    let working = server().await;
    good_zone(&working, "good.test");
    let both = resolving(&[&failing, &working], TIMEOUT, Duration::from_secs(2));
    let output = dns::run(&Target::new("good.test"), &both).await.unwrap();
    assert!(output.findings.is_empty(), "{:?}", output.findings);
}
