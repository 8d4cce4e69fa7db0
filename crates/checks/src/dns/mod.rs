//! The DNS check of a domain: e-mail authentication (SPF, DMARC), DNSSEC and CNAMEs left
//! pointing at hosting services where anyone can claim the name (subdomain takeover).
//!
//! Every question goes to the configured recursive resolvers through [`DnsClient`],
//! not to the target, so the egress policy does not apply: the resolvers are the operator's.
//! The rules (`rules.rs`) are pure functions of what the lookups found; SPF and DMARC records
//! are read by `spf.rs` and `dmarc.rs`, and `takeover.rs` knows the claimable services.
//!
//! Lookups of the domain's own names that fail (SERVFAIL, no answer) make the check fail with
//! [`CheckError::Dns`]: a failure is never read as a missing record. Lookups of third-party
//! names — the domains an SPF record includes, the targets of CNAMEs — that fail are kept in
//! the raw output and judged as unknown: no finding comes from them.
//!
//! Decisions:
//! - DNSSEC is judged by the DNSKEY records at the zone apex (found through the SOA), not by
//!   the AD bit: the AD bit depends on the resolver validating, which the system resolver may
//!   not do. Whether the resolver validated is recorded in the raw output.
//! - SPF lookups are counted in the domain's record and in the SPF records of its includes and
//!   redirect, one level deep (at most [`spf::LOOKUP_LIMIT`] of them fetched): deeper levels
//!   are not followed, so the count is a lower bound and a finding is never a false alarm.
//! - The DMARC record of a name below its zone apex falls back to `_dmarc.<apex>` (with its
//!   `sp=`): the apex stands in for the organizational domain, which would need the public
//!   suffix list.

mod dmarc;
mod rules;
mod spf;
mod takeover;

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;

use s4e_types::{CheckKind, FindingDraft};
use serde::Serialize;
use tokio::time::Instant;

use s4e_egress::dns as client;

use crate::{CheckContext, CheckError, CheckOutput, Target};
pub use client::{DnsClient, DnsError, Dnssec, Lookup, Mx};
use rules::{Dangling, Observed};
use s4e_types::inventory::Observations;

/// The check's raw output: every lookup made and what it found.
#[derive(Clone, Debug, Serialize)]
pub struct DnsRaw {
    /// The domain checked, lowercase, without the final dot.
    pub domain: String,
    /// The apex of the zone the domain is in.
    pub zone: String,
    /// The resolvers asked.
    pub nameservers: Vec<SocketAddr>,
    /// Every lookup made, in order, and what it found.
    pub lookups: Vec<LookupRecord>,
    pub elapsed_ms: u64,
}

/// One lookup and its outcome, kept as raw output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LookupRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// `records`, `no_records`, `nxdomain` or `error`.
    pub result: &'static str,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks the DNS records of the target, a domain name, asking the context's resolvers. The
/// context's timeout bounds every lookup together.
pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<DnsRaw>, CheckError> {
    let timeout = context.timeout;
    let started = Instant::now();
    let domain = domain_of(&target.address)?;
    let client = context.dns_client()?;
    let mut session = Session {
        client: &client,
        lookups: Vec::new(),
    };
    let check = CheckKind::Dns;
    let examined = tokio::time::timeout(timeout, examine(&domain, &mut session, check))
        .await
        .map_err(|_| CheckError::Timeout(timeout))??;
    let (zone, findings) = examined;
    tracing::debug!(%domain, %zone, lookups = session.lookups.len(), findings = findings.len(), "dns: checked");
    Ok(CheckOutput {
        observed: Observations::default(),
        findings,
        raw: DnsRaw {
            domain,
            zone,
            nameservers: client.servers().to_vec(),
            lookups: session.lookups,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
    })
}

/// The lookups and the rules; returns the zone apex and the findings.
async fn examine(
    domain: &str,
    session: &mut Session<'_>,
    check: CheckKind,
) -> Result<(String, Vec<FindingDraft>), CheckError> {
    // A CNAME query is answered for the name itself (resolvers do not follow it), so only
    // here does NXDOMAIN mean that the domain does not exist.
    let own_cname = session.cname(domain).await?;
    if own_cname.is_nxdomain() {
        return Err(CheckError::Unreachable(format!(
            "{domain} does not exist (NXDOMAIN)"
        )));
    }
    let txt = session.txt(domain).await?.records().to_vec();
    // An alias cannot be a zone apex, and the SOA query would be answered for its target.
    let zone = match (&own_cname, domain.split_once('.')) {
        (Lookup::Found(_), Some((_, parent))) => session.zone_apex(parent).await?,
        _ => session.zone_apex(domain).await?,
    };
    let mx: Vec<String> = session
        .mx(domain)
        .await?
        .records()
        .iter()
        .map(ToString::to_string)
        .collect();
    session.ns(&zone).await?;

    let own_dmarc = format!("_dmarc.{domain}");
    let mut dmarc_name = own_dmarc.clone();
    let mut dmarc_txt = session.txt(&own_dmarc).await?.records().to_vec();
    if dmarc::dmarc_records(&dmarc_txt).is_empty() && domain.ends_with(&format!(".{zone}")) {
        let apex_dmarc = format!("_dmarc.{zone}");
        let inherited = session.txt(&apex_dmarc).await?.records().to_vec();
        if !dmarc::dmarc_records(&inherited).is_empty() {
            dmarc_name = apex_dmarc;
            dmarc_txt = inherited;
        }
    }
    let dnssec = session.dnssec(&zone).await?;
    let spf_lookups = spf_lookups(&txt, session).await;
    let dangling = dangling(domain, own_cname, session).await?;

    let findings = rules::findings_for(&Observed {
        check,
        domain,
        txt: &txt,
        spf_lookups,
        mx: &mx,
        dmarc_name: &dmarc_name,
        dmarc_txt: &dmarc_txt,
        zone: &zone,
        dnskeys: dnssec.dnskeys,
        dangling: &dangling,
    });
    Ok((zone, findings))
}

/// The DNS-querying terms of the domain's one SPF record plus those of the SPF records it
/// includes or redirects to, one level deep. An included name whose lookup fails, or that
/// has no single SPF record, adds nothing (receivers would fail on it anyway, and guessing
/// more would risk a false alarm). Names with macros are not looked up.
async fn spf_lookups(txt: &[String], session: &mut Session<'_>) -> Option<usize> {
    let [record] = spf::spf_records(txt)[..] else {
        return None;
    };
    let parsed = spf::parse(record)?;
    let mut targets = parsed.includes();
    targets.extend(parsed.redirect());
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut total = parsed.lookup_terms();
    for target in targets {
        let name = client::normalize(target);
        if name.contains('%') {
            continue;
        }
        if !counts.contains_key(&name) {
            if counts.len() >= spf::LOOKUP_LIMIT {
                break;
            }
            let included = match session.txt(&name).await {
                Ok(lookup) => {
                    let records = lookup.records();
                    match spf::spf_records(records)[..] {
                        [one] => spf::parse(one).map_or(0, |spf| spf.lookup_terms()),
                        _ => 0,
                    }
                }
                Err(_) => 0,
            };
            counts.insert(name.clone(), included);
        }
        total += counts[&name];
    }
    Some(total)
}

/// The domain and the common names below it that are CNAMEs to a claimable service's name
/// that does not exist.
async fn dangling(
    domain: &str,
    own_cname: Lookup<String>,
    session: &mut Session<'_>,
) -> Result<Vec<Dangling>, CheckError> {
    let names: Vec<String> = takeover::SUBDOMAINS
        .iter()
        .map(|label| format!("{label}.{domain}"))
        .collect();
    // One round trip for all of them rather than one after another.
    let answers =
        futures_util::future::join_all(names.iter().map(|name| session.client.cname(name))).await;
    let mut aliases = vec![(domain.to_owned(), own_cname)];
    for (name, answer) in names.into_iter().zip(answers) {
        session.record(&name, "CNAME", &answer);
        aliases.push((name, answer?));
    }
    let mut dangling = Vec::new();
    for (name, cname) in aliases {
        for target in cname.records() {
            let Some(service) = takeover::service_of(target) else {
                continue;
            };
            // Only NXDOMAIN counts: a target without addresses may still be claimed by its
            // owner at the service, and a failed lookup proves nothing.
            if let Ok(Lookup::NxDomain) = session.a_aaaa(target).await {
                dangling.push(Dangling {
                    name: name.clone(),
                    target: target.clone(),
                    service,
                });
            }
        }
    }
    Ok(dangling)
}

/// The domain of the target: a name, with or without a final dot (an `http(s)` URL's host is
/// accepted too). IP addresses have no DNS records of this kind.
pub(crate) fn domain_of(target: &str) -> Result<String, CheckError> {
    let trimmed = target.trim();
    let host = match url::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            url.host_str().unwrap_or_default().to_owned()
        }
        _ => trimmed.to_owned(),
    };
    let domain = client::normalize(&host);
    if domain.is_empty() {
        return Err(CheckError::InvalidTarget("the target is empty".into()));
    }
    if domain
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        return Err(CheckError::InvalidTarget(format!(
            "{domain} is an IP address, not a domain"
        )));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    };
    if domain.len() > 253 || !domain.split('.').all(valid_label) {
        return Err(CheckError::InvalidTarget(format!(
            "{target:?} is not a domain name"
        )));
    }
    Ok(domain)
}

/// The lookups of one check, each recorded as it is made.
struct Session<'a> {
    client: &'a DnsClient,
    lookups: Vec<LookupRecord>,
}

impl Session<'_> {
    fn record<T: Display>(
        &mut self,
        name: &str,
        record_type: &'static str,
        result: &Result<Lookup<T>, DnsError>,
    ) {
        let (outcome, records, error) = match result {
            Ok(Lookup::Found(records)) => (
                "records",
                records
                    .iter()
                    .map(|record| crate::rule::excerpt(&record.to_string()))
                    .collect(),
                None,
            ),
            Ok(Lookup::NoRecords) => ("no_records", Vec::new(), None),
            Ok(Lookup::NxDomain) => ("nxdomain", Vec::new(), None),
            Err(error) => ("error", Vec::new(), Some(error.to_string())),
        };
        self.lookups.push(LookupRecord {
            name: name.to_owned(),
            record_type,
            result: outcome,
            records,
            error,
        });
    }

    async fn txt(&mut self, name: &str) -> Result<Lookup<String>, DnsError> {
        let result = self.client.txt(name).await;
        self.record(name, "TXT", &result);
        result
    }

    async fn cname(&mut self, name: &str) -> Result<Lookup<String>, DnsError> {
        let result = self.client.cname(name).await;
        self.record(name, "CNAME", &result);
        result
    }

    async fn a_aaaa(&mut self, name: &str) -> Result<Lookup<std::net::IpAddr>, DnsError> {
        let result = self.client.a_aaaa(name).await;
        self.record(name, "A/AAAA", &result);
        result
    }

    async fn mx(&mut self, name: &str) -> Result<Lookup<Mx>, DnsError> {
        let result = self.client.mx(name).await;
        self.record(name, "MX", &result);
        result
    }

    async fn ns(&mut self, name: &str) -> Result<Lookup<String>, DnsError> {
        let result = self.client.ns(name).await;
        self.record(name, "NS", &result);
        result
    }

    async fn zone_apex(&mut self, name: &str) -> Result<String, DnsError> {
        let result = self.client.zone_apex(name).await;
        let as_lookup = result.clone().map(|apex| Lookup::Found(vec![apex]));
        self.record(name, "SOA", &as_lookup);
        result
    }

    async fn dnssec(&mut self, zone: &str) -> Result<Dnssec, DnsError> {
        let result = self.client.dnssec(zone).await;
        let as_lookup = result.clone().map(|dnssec| match dnssec.dnskeys {
            0 => Lookup::NoRecords,
            keys => Lookup::Found(vec![format!(
                "{keys} keys, validated by the resolver: {}",
                dnssec.authenticated
            )]),
        });
        self.record(zone, "DNSKEY", &as_lookup);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_domain_names() {
        assert_eq!(domain_of("Example.COM.").unwrap(), "example.com");
        assert_eq!(domain_of(" shop.example.com ").unwrap(), "shop.example.com");
        assert_eq!(
            domain_of("https://www.example.com/x").unwrap(),
            "www.example.com"
        );
        for bad in ["", "192.0.2.1", "::1", "exa mple.com", "a..b"] {
            assert!(
                matches!(domain_of(bad), Err(CheckError::InvalidTarget(_))),
                "{bad:?}"
            );
        }
    }
}
