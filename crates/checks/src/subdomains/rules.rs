//! The subdomain check's one rule.

use s4e_types::Severity;

use crate::Rule;

pub const ZONE_TRANSFER: Rule = Rule {
    id: "dns_zone_transfer",
    title: "DNS zone transfer allowed",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(200),
    description: "A name server of the zone answers a zone transfer (AXFR) from anyone: every \
                  name in the zone — internal hosts, staging systems, mail and VPN gateways — \
                  is handed to whoever asks, a complete map for an attacker.",
    remediation: "Allow zone transfers only to the zone's secondary name servers (by address \
                  and, better, by TSIG key): `allow-transfer` in BIND, `allow-axfr-ips` in \
                  PowerDNS, the zone transfer settings of Windows DNS.",
};
