//! The rules of the DNS check: pure functions of the records the check saw.
//!
//! Rules (stable `rule` names; the location is the DNS name the finding concerns):
//! - `spf_missing` (the domain): no TXT record at the domain starts with `v=spf1`.
//! - `spf_multiple_records` (the domain): more than one does (receivers fail SPF with a
//!   permanent error). The record's content is not judged then.
//! - `spf_permissive` (the domain): the one SPF record ends in `+all` or `?all`, or has
//!   neither an `all` mechanism nor a `redirect` modifier.
//! - `spf_too_many_lookups` (the domain): more than 10 DNS-querying terms (include, a, mx,
//!   ptr, exists, redirect) in the record plus the SPF records of its includes and redirect,
//!   followed one level deep (see `super::spf_lookups`).
//! - `dmarc_missing` (`_dmarc.<domain>`): no TXT record there starts with `v=DMARC1` (nor, for
//!   a name below its zone apex, at `_dmarc.<apex>`, whose `sp=`/`p=` covers it).
//! - `dmarc_malformed` (where the record is): several DMARC records, a tag without a value,
//!   or no valid `p=`; receivers discard such records.
//! - `dmarc_policy_none` (where the record is): the policy that applies is `none`.
//! - `dnssec_missing` (the zone apex): no DNSKEY record at the apex. Informational.
//! - `dangling_cname` (the name with the CNAME): the domain or one of
//!   [`super::takeover::SUBDOMAINS`] below it is a CNAME to a takeover-prone hosting service
//!   and the target does not exist (NXDOMAIN).
//!
//! SPF and DMARC are judged whether or not the domain has MX records: spoofing a domain's
//! sender address does not need the domain to receive mail.

use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::json;

use super::dmarc::{self, Policy};
use super::spf::{self, LOOKUP_LIMIT};
use crate::rule::{Rule, excerpt};

/// What the rules judge.
pub struct Observed<'a> {
    pub check: CheckKind,
    pub domain: &'a str,
    /// The TXT records at the domain.
    pub txt: &'a [String],
    /// DNS-querying terms of the SPF record and of the records it includes (one level),
    /// when there is exactly one SPF record.
    pub spf_lookups: Option<usize>,
    /// The MX exchanges of the domain (evidence only).
    pub mx: &'a [String],
    /// Where the DMARC record that applies was found, or looked for last.
    pub dmarc_name: &'a str,
    /// The TXT records at `dmarc_name`.
    pub dmarc_txt: &'a [String],
    /// The zone apex and how many DNSKEY records it has.
    pub zone: &'a str,
    pub dnskeys: usize,
    pub dangling: &'a [Dangling],
}

/// A CNAME to a claimable name that does not exist.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dangling {
    pub name: String,
    pub target: String,
    pub service: &'static str,
}

const SPF_MISSING: Rule = Rule {
    id: "spf_missing",
    title: "No SPF record",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(290),
    description: "The domain publishes no SPF record, so receivers cannot tell which servers \
        may send mail as this domain: anyone can send mail that claims to come from it, for \
        phishing or fraud. This holds for domains that receive no mail too.",
    remediation: "Publish a TXT record at the domain listing the servers that send its mail \
        and ending in -all, e.g. \"v=spf1 include:_spf.your-provider.example -all\". A domain \
        that sends no mail should publish \"v=spf1 -all\".",
};
const SPF_MULTIPLE: Rule = Rule {
    id: "spf_multiple_records",
    title: "More than one SPF record",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(290),
    description: "The domain publishes more than one SPF record. Receivers treat that as a \
        permanent error and evaluate no SPF at all, so the domain is as unprotected as \
        without one.",
    remediation: "Merge the SPF records into one TXT record starting with v=spf1 (one set of \
        mechanisms, one all at the end) and delete the others.",
};
const SPF_PERMISSIVE: Rule = Rule {
    id: "spf_permissive",
    title: "SPF record allows any sender",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(290),
    description: "The SPF record lets any server send mail as this domain: it ends in +all or \
        ?all, or has no all mechanism (and no redirect), so mail from unlisted servers \
        passes or is neutral. Receivers give spoofed mail the benefit of the doubt.",
    remediation: "End the SPF record in -all (or ~all while rolling out) after listing the \
        servers that really send the domain's mail. A domain that sends no mail should \
        publish \"v=spf1 -all\".",
};
const SPF_TOO_MANY_LOOKUPS: Rule = Rule {
    id: "spf_too_many_lookups",
    title: "SPF record needs too many DNS lookups",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(290),
    description: "Evaluating the SPF record takes more than 10 DNS lookups (include, a, mx, \
        ptr, exists, redirect). RFC 7208 makes receivers stop with a permanent error past \
        that limit, so SPF fails for legitimate mail and protects nothing.",
    remediation: "Reduce the lookups: remove includes of services no longer used, replace a \
        and mx mechanisms by ip4/ip6 ranges, avoid ptr, or flatten includes into address \
        ranges.",
};
const DMARC_MISSING: Rule = Rule {
    id: "dmarc_missing",
    title: "No DMARC record",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(290),
    description: "The domain publishes no DMARC record, so receivers apply no policy to mail \
        that fails SPF and DKIM for this domain, and the owner gets no reports of it: \
        spoofed mail in the domain's name is delivered. This holds for domains that receive \
        no mail too.",
    remediation: "Publish a TXT record at _dmarc.<domain>, e.g. \"v=DMARC1; p=none; \
        rua=mailto:dmarc@<domain>\" to start collecting reports, then move to p=quarantine \
        and p=reject. A domain that sends no mail should publish \"v=DMARC1; p=reject\".",
};
const DMARC_MALFORMED: Rule = Rule {
    id: "dmarc_malformed",
    title: "Malformed DMARC record",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(290),
    description: "The DMARC record cannot be used: there are several records, a tag has no \
        value, or the policy (p=) is missing or invalid. Receivers discard it, so the domain \
        is as unprotected as without one.",
    remediation: "Publish exactly one TXT record at _dmarc.<domain> of the form \"v=DMARC1; \
        p=quarantine|reject; rua=mailto:…\". A domain that sends no mail should publish \
        \"v=DMARC1; p=reject\".",
};
const DMARC_POLICY_NONE: Rule = Rule {
    id: "dmarc_policy_none",
    title: "DMARC policy is none",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(290),
    description: "The DMARC policy is none: receivers only report mail that fails SPF and \
        DKIM, and deliver it anyway. Spoofed mail in the domain's name still arrives.",
    remediation: "Once the reports show that legitimate mail passes, change the policy to \
        p=quarantine and then p=reject. A domain that sends no mail can publish \
        \"v=DMARC1; p=reject\" right away.",
};
const DNSSEC_MISSING: Rule = Rule {
    id: "dnssec_missing",
    title: "DNSSEC is not enabled",
    severity: Severity::Info,
    score: 0.0,
    cwe: Some(345),
    description: "The zone publishes no DNSKEY record, so it is not signed with DNSSEC: \
        validating resolvers cannot detect forged answers (cache poisoning, spoofing on the \
        path) for its names.",
    remediation: "Sign the zone with DNSSEC at the DNS provider and publish the DS record at \
        the registrar.",
};
const DANGLING_CNAME: Rule = Rule {
    id: "dangling_cname",
    title: "CNAME points at an unclaimed service (subdomain takeover)",
    severity: Severity::High,
    score: 8.1,
    cwe: Some(668),
    description: "The name is a CNAME to a hosting service's name that no longer exists. \
        Anyone can register that name with the service and then serves their own content \
        under this domain (subdomain takeover): phishing, cookie theft for the parent \
        domain, bypassing content security policies.",
    remediation: "Delete the CNAME record, or claim the target name at the service again \
        before someone else does.",
};

/// Every finding about the domain's records.
pub fn findings_for(observed: &Observed) -> Vec<FindingDraft> {
    let mut findings = Vec::new();
    findings.extend(spf_finding(observed));
    findings.extend(dmarc_finding(observed));
    if observed.dnskeys == 0 {
        findings.push(DNSSEC_MISSING.titled(
            observed.check,
            observed.zone,
            "DNSSEC is not enabled",
            json!({ "zone": observed.zone, "dnskey_records": 0 }),
        ));
    }
    for dangling in observed.dangling {
        findings.push(DANGLING_CNAME.titled(
            observed.check,
            &dangling.name,
            &format!(
                "Dangling CNAME to {} (subdomain takeover)",
                dangling.service
            ),
            json!({
                "name": dangling.name,
                "cname": dangling.target,
                "service": dangling.service,
                "target": "NXDOMAIN",
            }),
        ));
    }
    findings
}

fn spf_finding(observed: &Observed) -> Option<FindingDraft> {
    let records = spf::spf_records(observed.txt);
    let evidence = |extra: serde_json::Value| {
        let mut evidence = json!({
            "domain": observed.domain,
            "spf_records": records.iter().map(|txt| excerpt(txt)).collect::<Vec<_>>(),
            "mx": observed.mx,
        });
        if let (Some(evidence), serde_json::Value::Object(extra)) =
            (evidence.as_object_mut(), extra)
        {
            evidence.extend(extra);
        }
        evidence
    };
    let (meta, title, extra) = match records.as_slice() {
        [] => (&SPF_MISSING, "No SPF record".to_owned(), json!({})),
        [record] => {
            let parsed = spf::parse(record)?;
            if parsed.is_permissive() {
                let title = match parsed.all() {
                    Some(qualifier) => format!("SPF record allows any sender ({qualifier}all)"),
                    None => "SPF record allows any sender (no all)".to_owned(),
                };
                (&SPF_PERMISSIVE, title, json!({}))
            } else {
                let lookups = observed.spf_lookups.filter(|count| *count > LOOKUP_LIMIT)?;
                (
                    &SPF_TOO_MANY_LOOKUPS,
                    format!("SPF record needs {lookups} DNS lookups (limit {LOOKUP_LIMIT})"),
                    json!({ "lookups": lookups }),
                )
            }
        }
        _ => (
            &SPF_MULTIPLE,
            format!("{} SPF records", records.len()),
            json!({}),
        ),
    };
    Some(meta.titled(observed.check, observed.domain, &title, evidence(extra)))
}

fn dmarc_finding(observed: &Observed) -> Option<FindingDraft> {
    let records = dmarc::dmarc_records(observed.dmarc_txt);
    let location = observed.dmarc_name;
    let evidence = |extra: serde_json::Value| {
        let mut evidence = json!({
            "name": location,
            "dmarc_records": records.iter().map(|txt| excerpt(txt)).collect::<Vec<_>>(),
        });
        if let (Some(evidence), serde_json::Value::Object(extra)) =
            (evidence.as_object_mut(), extra)
        {
            evidence.extend(extra);
        }
        evidence
    };
    let [record] = records.as_slice() else {
        if records.is_empty() {
            let own = format!("_dmarc.{}", observed.domain);
            return Some(DMARC_MISSING.titled(
                observed.check,
                &own,
                "No DMARC record",
                json!({ "name": own, "dmarc_records": [] }),
            ));
        }
        return Some(DMARC_MALFORMED.titled(
            observed.check,
            location,
            "DMARC record is malformed",
            evidence(json!({ "reason": format!("{} DMARC records", records.len()) })),
        ));
    };
    let parsed = match dmarc::parse(record) {
        Ok(parsed) => parsed,
        Err(reason) => {
            return Some(DMARC_MALFORMED.titled(
                observed.check,
                location,
                "DMARC record is malformed",
                evidence(json!({ "reason": reason })),
            ));
        }
    };
    // A record found at the zone apex for a name below it applies through its sp= tag.
    let inherited = location != format!("_dmarc.{}", observed.domain);
    let policy = match parsed.subdomain_policy {
        Some(subdomain) if inherited => subdomain,
        _ => parsed.policy,
    };
    (policy == Policy::None).then(|| {
        DMARC_POLICY_NONE.titled(
            observed.check,
            location,
            "DMARC policy is none",
            evidence(json!({ "policy": policy.as_str() })),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Zone {
        txt: Vec<String>,
        spf_lookups: Option<usize>,
        dmarc_name: String,
        dmarc_txt: Vec<String>,
        dnskeys: usize,
        dangling: Vec<Dangling>,
    }

    /// A well-configured example.com.
    fn good() -> Zone {
        Zone {
            txt: vec!["v=spf1 mx -all".into()],
            spf_lookups: Some(1),
            dmarc_name: "_dmarc.example.com".into(),
            dmarc_txt: vec!["v=DMARC1; p=reject".into()],
            dnskeys: 2,
            dangling: Vec::new(),
        }
    }

    fn rules(zone: &Zone, domain: &str) -> Vec<(String, String)> {
        findings_for(&Observed {
            check: CheckKind::Dns,
            domain,
            txt: &zone.txt,
            spf_lookups: zone.spf_lookups,
            mx: &[],
            dmarc_name: &zone.dmarc_name,
            dmarc_txt: &zone.dmarc_txt,
            zone: "example.com",
            dnskeys: zone.dnskeys,
            dangling: &zone.dangling,
        })
        .into_iter()
        .map(|finding| (finding.rule, finding.location))
        .collect()
    }

    fn only(zone: &Zone) -> Vec<String> {
        rules(zone, "example.com")
            .into_iter()
            .map(|(rule, _)| rule)
            .collect()
    }

    #[test]
    fn a_well_configured_domain_has_no_findings() {
        assert!(only(&good()).is_empty());
    }

    #[test]
    fn spf_rules() {
        let mut zone = good();
        zone.txt = vec!["google-site-verification=x".into()];
        assert_eq!(
            rules(&zone, "example.com"),
            [("spf_missing".to_owned(), "example.com".to_owned())]
        );
        zone.txt = vec!["v=spf1 -all".into(), "v=spf1 mx -all".into()];
        assert_eq!(only(&zone), ["spf_multiple_records"]);
        for permissive in ["v=spf1 +all", "v=spf1 mx ?all", "v=spf1 mx"] {
            zone.txt = vec![permissive.into()];
            assert_eq!(only(&zone), ["spf_permissive"], "{permissive}");
        }
        zone.txt = vec!["v=spf1 redirect=_spf.example.com".into()];
        assert!(only(&zone).is_empty());
        zone.txt = vec!["v=spf1 include:a.example -all".into()];
        zone.spf_lookups = Some(11);
        assert_eq!(only(&zone), ["spf_too_many_lookups"]);
        zone.spf_lookups = Some(10);
        assert!(only(&zone).is_empty());
    }

    #[test]
    fn dmarc_rules() {
        let mut zone = good();
        zone.dmarc_txt = Vec::new();
        assert_eq!(
            rules(&zone, "example.com"),
            [("dmarc_missing".to_owned(), "_dmarc.example.com".to_owned())]
        );
        zone.dmarc_txt = vec!["v=DMARC1; p=none; rua=mailto:d@example.com".into()];
        assert_eq!(only(&zone), ["dmarc_policy_none"]);
        zone.dmarc_txt = vec!["v=DMARC1; p=quarantine".into()];
        assert!(only(&zone).is_empty());
        zone.dmarc_txt = vec!["v=DMARC1; rua=mailto:d@example.com".into()];
        assert_eq!(only(&zone), ["dmarc_malformed"]);
        zone.dmarc_txt = vec!["v=DMARC1; p=reject".into(), "v=DMARC1; p=none".into()];
        assert_eq!(only(&zone), ["dmarc_malformed"]);
    }

    #[test]
    fn a_subdomain_inherits_the_apex_dmarc_through_sp() {
        let mut zone = good();
        zone.dmarc_txt = vec!["v=DMARC1; p=reject; sp=none".into()];
        // Found at the apex for shop.example.com: sp=none applies.
        assert_eq!(
            rules(&zone, "shop.example.com")
                .into_iter()
                .filter(|(rule, _)| rule.starts_with("dmarc"))
                .collect::<Vec<_>>(),
            [(
                "dmarc_policy_none".to_owned(),
                "_dmarc.example.com".to_owned()
            )]
        );
        // At the domain's own name, p=reject applies.
        assert!(only(&zone).is_empty());
    }

    #[test]
    fn dnssec_and_dangling_cnames() {
        let mut zone = good();
        zone.dnskeys = 0;
        assert_eq!(
            rules(&zone, "example.com"),
            [("dnssec_missing".to_owned(), "example.com".to_owned())]
        );
        zone.dnskeys = 1;
        zone.dangling = vec![Dangling {
            name: "www.example.com".into(),
            target: "gone.herokuapp.com".into(),
            service: "Heroku",
        }];
        assert_eq!(
            rules(&zone, "example.com"),
            [("dangling_cname".to_owned(), "www.example.com".to_owned())]
        );
    }

    #[test]
    fn findings_carry_their_facts() {
        let mut zone = good();
        zone.txt = Vec::new();
        let finding = findings_for(&Observed {
            check: CheckKind::Dns,
            domain: "example.com",
            txt: &zone.txt,
            spf_lookups: None,
            mx: &[],
            dmarc_name: &zone.dmarc_name,
            dmarc_txt: &zone.dmarc_txt,
            zone: "example.com",
            dnskeys: 1,
            dangling: &[],
        })
        .remove(0);
        assert_eq!(finding.rule, "spf_missing");
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.cwe, Some(290));
        assert!(finding.remediation.contains("v=spf1 -all"));
        assert_eq!(finding.evidence["mx"], json!([]));
    }
}
