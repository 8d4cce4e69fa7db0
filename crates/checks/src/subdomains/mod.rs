//! Subdomain discovery for a domain: the names of a bundled wordlist asked of the configured
//! resolvers, with wildcard DNS detected first so that a zone answering every name does not
//! invent thousands of hosts, and a zone transfer (AXFR) asked of each of the zone's name
//! servers; a server that hands the zone out is itself a finding, and its names are found too.
//!
//! The names go out with the job as [`DiscoveredName`]s; base keeps them as candidate assets.
//! The wordlist sweep stops at its own deadline and reports what it found so far (`truncated`),
//! rather than the check's time limit throwing every answer away.

mod rules;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use futures_util::StreamExt;
use rand::Rng;
use s4e_egress::dns::{DNS_PORT, DnsClient, DnsError, Lookup, ZoneTransfer};
use s4e_types::discovery::{DiscoveredName, DiscoverySource, MAX_DISCOVERED_PER_JOB, is_host_name};
use s4e_types::{CheckKind, FindingDraft};
use serde::Serialize;
use tokio::time::Instant;

use crate::{CheckContext, CheckError, CheckOutput, Target};
use s4e_types::inventory::Observations;

/// The bundled wordlist: one label (or dotted labels) a line, our own list of the names
/// organizations commonly give their hosts.
pub const WORDLIST: &str = include_str!("wordlist.txt");

/// Names resolved at once (each an A and an AAAA question).
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Random names asked to tell a wildcard zone: every one must come back empty for the zone
/// to have none.
const WILDCARD_PROBES: usize = 3;

/// Name servers a zone transfer is asked of, and addresses of each.
const MAX_NAMESERVERS: usize = 4;
const MAX_ADDRESSES_PER_NAMESERVER: usize = 2;

/// What the check saw, stored as its raw output.
#[derive(Clone, Debug, Serialize)]
pub struct SubdomainsRaw {
    pub domain: String,
    pub zone: String,
    /// The addresses every name under the domain resolves to when the zone has a wildcard.
    pub wildcard: Option<Vec<IpAddr>>,
    pub wordlist_names: usize,
    /// Names that resolved to addresses of their own.
    pub resolved: Vec<ResolvedName>,
    /// Names that resolved only to the wildcard's addresses (not reported).
    pub wildcard_only: usize,
    /// Names the resolvers failed on twice (not reported).
    pub failed: usize,
    /// The sweep hit its deadline before the end of the wordlist.
    pub truncated: bool,
    pub zone_transfers: Vec<TransferAttempt>,
    pub elapsed_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedName {
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

/// One zone transfer asked of one address of one name server.
#[derive(Clone, Debug, Serialize)]
pub struct TransferAttempt {
    pub nameserver: String,
    pub address: SocketAddr,
    /// `transferred`, `refused`, `error` or `not_allowed` (the egress policy refused it).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The zone's records, when transferred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
}

pub async fn run(
    target: &Target,
    context: &CheckContext,
) -> Result<CheckOutput<SubdomainsRaw>, CheckError> {
    let started = Instant::now();
    let domain = crate::dns::domain_of(&target.address)?;
    let client = context.dns_client()?;
    // A resolver that cannot answer these few questions fails the check here, clearly,
    // rather than every name of the sweep failing one by one.
    let wildcard = detect_wildcard(&client, &domain).await?;
    let zone = client.zone_apex(&domain).await?;
    let labels: Vec<&str> = wordlist_labels(WORDLIST).collect();
    // The sweep gets most of the check's time; the zone transfers the rest.
    let sweep_deadline = started + crate::time_limit(CheckKind::Subdomains, context).mul_f64(0.8);
    let sweep = sweep(
        &client,
        &domain,
        &labels,
        wildcard.as_ref(),
        DEFAULT_CONCURRENCY,
        sweep_deadline,
    )
    .await;
    let (transfers, transferred_names) = zone_transfers(&client, &zone, context).await;

    let findings = transfer_findings(&zone, &transfers);
    let mut discovered: Vec<DiscoveredName> = sweep
        .resolved
        .iter()
        .map(|found| DiscoveredName {
            name: found.name.clone(),
            source: DiscoverySource::Wordlist,
            addresses: found.addresses.clone(),
        })
        .collect();
    let under = format!(".{domain}");
    discovered.extend(
        transferred_names
            .into_iter()
            .filter(|name| name.ends_with(&under) && is_host_name(name))
            .map(|name| DiscoveredName {
                name,
                source: DiscoverySource::ZoneTransfer,
                addresses: Vec::new(),
            }),
    );
    discovered.truncate(MAX_DISCOVERED_PER_JOB);
    tracing::debug!(%domain, names = discovered.len(), wildcard = wildcard.is_some(), "subdomains: swept");
    Ok(CheckOutput {
        observed: Observations {
            discovered,
            ..Observations::default()
        },
        findings,
        raw: SubdomainsRaw {
            domain,
            zone,
            wildcard: wildcard.map(|set| set.into_iter().collect()),
            wordlist_names: labels.len(),
            resolved: sweep.resolved,
            wildcard_only: sweep.wildcard_only,
            failed: sweep.failed,
            truncated: sweep.truncated,
            zone_transfers: transfers,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
    })
}

/// The labels of a wordlist: one a line, trimmed, lowercase; blank lines and `#` comments
/// skipped.
pub fn wordlist_labels(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The addresses random names under `domain` resolve to, or `None` when they do not exist:
/// the zone has no wildcard.
pub async fn detect_wildcard(
    client: &DnsClient,
    domain: &str,
) -> Result<Option<BTreeSet<IpAddr>>, DnsError> {
    let probes: Vec<String> = {
        let mut rng = rand::rng();
        (0..WILDCARD_PROBES)
            .map(|_| {
                let label: String = (0..16)
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect();
                format!("{label}.{domain}")
            })
            .collect()
    };
    let mut addresses = BTreeSet::new();
    for probe in probes {
        if let Lookup::Found(found) = client.a_aaaa(&probe).await? {
            addresses.extend(found);
        }
    }
    Ok((!addresses.is_empty()).then_some(addresses))
}

/// What a wordlist sweep found.
#[derive(Clone, Debug, Default)]
pub struct Sweep {
    /// In the wordlist's order.
    pub resolved: Vec<ResolvedName>,
    pub wildcard_only: usize,
    pub failed: usize,
    pub truncated: bool,
}

/// Resolves `label.domain` for every label, `concurrency` names at a time, until `deadline`.
/// A name counts when it resolves to an address the wildcard (if any) does not give every
/// name; a name the resolvers fail on is asked once more.
pub async fn sweep(
    client: &DnsClient,
    domain: &str,
    labels: &[&str],
    wildcard: Option<&BTreeSet<IpAddr>>,
    concurrency: usize,
    deadline: Instant,
) -> Sweep {
    // Owned names: a stream over borrowed ones is not `Send` for every lifetime, which a
    // spawned check needs.
    let names: Vec<String> = labels
        .iter()
        .map(|label| format!("{}.{domain}", label.to_ascii_lowercase()))
        .collect();
    let lookups = futures_util::stream::iter(names.into_iter().enumerate())
        .map(|(index, name)| async move {
            let mut answer = client.a_aaaa(&name).await;
            if answer.is_err() {
                answer = client.a_aaaa(&name).await;
            }
            (index, name, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .take_until(tokio::time::sleep_until(deadline));
    let mut answers: Vec<(usize, String, Result<Lookup<IpAddr>, DnsError>)> =
        lookups.collect().await;
    let mut sweep = Sweep {
        truncated: answers.len() < labels.len(),
        ..Sweep::default()
    };
    answers.sort_by_key(|(index, ..)| *index);
    for (_, name, answer) in answers {
        match answer {
            Ok(Lookup::Found(addresses)) => {
                let addresses: BTreeSet<IpAddr> = addresses.into_iter().collect();
                if wildcard.is_some_and(|wildcard| addresses.is_subset(wildcard)) {
                    sweep.wildcard_only += 1;
                } else {
                    sweep.resolved.push(ResolvedName {
                        name,
                        addresses: addresses.into_iter().collect(),
                    });
                }
            }
            Ok(Lookup::NoRecords | Lookup::NxDomain) => {}
            Err(error) => {
                tracing::debug!(%name, %error, "subdomains: lookup failed");
                sweep.failed += 1;
            }
        }
    }
    sweep
}

/// Asks each of the zone's name servers (at most four, two addresses each) for the zone;
/// returns every attempt and the names of the first transfer that succeeded.
async fn zone_transfers(
    client: &DnsClient,
    zone: &str,
    context: &CheckContext,
) -> (Vec<TransferAttempt>, Vec<String>) {
    let mut attempts = Vec::new();
    let mut names = Vec::new();
    let nameservers = match client.ns(zone).await {
        Ok(found) => found.records().to_vec(),
        Err(error) => {
            tracing::debug!(%zone, %error, "subdomains: no name servers to ask for a transfer");
            return (attempts, names);
        }
    };
    for nameserver in nameservers.into_iter().take(MAX_NAMESERVERS) {
        let addresses = match client.a_aaaa(&nameserver).await {
            Ok(found) => found.records().to_vec(),
            Err(error) => {
                tracing::debug!(%nameserver, %error, "subdomains: name server not resolved");
                continue;
            }
        };
        for ip in addresses.into_iter().take(MAX_ADDRESSES_PER_NAMESERVER) {
            let address = SocketAddr::new(ip, DNS_PORT);
            let mut attempt = TransferAttempt {
                nameserver: nameserver.clone(),
                address,
                outcome: "refused",
                detail: None,
                records: None,
            };
            if let Err(error) = context.egress.check_ip(ip) {
                attempt.outcome = "not_allowed";
                attempt.detail = Some(error.to_string());
                attempts.push(attempt);
                continue;
            }
            match client.zone_transfer(zone, address).await {
                Ok(ZoneTransfer::Transferred {
                    names: transferred,
                    records,
                }) => {
                    attempt.outcome = "transferred";
                    attempt.records = Some(records);
                    if names.is_empty() {
                        names = transferred;
                    }
                }
                Ok(ZoneTransfer::Refused(why)) => attempt.detail = Some(why),
                Err(error) => {
                    attempt.outcome = "error";
                    attempt.detail = Some(error.to_string());
                }
            }
            attempts.push(attempt);
        }
    }
    (attempts, names)
}

/// One finding per name server that handed the zone out.
fn transfer_findings(zone: &str, attempts: &[TransferAttempt]) -> Vec<FindingDraft> {
    let mut open: Vec<&TransferAttempt> = attempts
        .iter()
        .filter(|attempt| attempt.outcome == "transferred")
        .collect();
    open.dedup_by(|a, b| a.nameserver == b.nameserver);
    open.into_iter()
        .map(|attempt| {
            rules::ZONE_TRANSFER.titled(
                CheckKind::Subdomains,
                &format!("{zone} @ {}", attempt.nameserver),
                &format!(
                    "DNS zone transfer of {zone} allowed by {}",
                    attempt.nameserver
                ),
                serde_json::json!({
                    "zone": zone,
                    "nameserver": attempt.nameserver,
                    "address": attempt.address,
                    "records": attempt.records,
                }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wordlist_is_clean_labels() {
        let labels: Vec<&str> = wordlist_labels(WORDLIST).collect();
        assert!(labels.len() > 2000, "{}", labels.len());
        let unique: BTreeSet<&str> = labels.iter().copied().collect();
        assert_eq!(unique.len(), labels.len(), "no duplicates");
        for label in labels {
            assert!(
                is_host_name(&format!("{label}.example.com")),
                "{label:?} makes no host name"
            );
        }
    }
}
