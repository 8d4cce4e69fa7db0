//! The rules of the TLS certificate check: pure functions of the leaf certificate, whether its
//! chain verified, the name connected to and the current time.
//!
//! Rules (stable `rule` names; location `host:port`): `certificate_expired`,
//! `certificate_expiring_soon`, `certificate_not_yet_valid`, `self_signed_certificate`,
//! `untrusted_certificate_chain`, `hostname_mismatch`, `weak_certificate_key`.

use crate::rule::Rule;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::{Value, json};

use super::parse::{Key, ParsedCert, rfc3339};

/// A certificate expiring within this long is reported.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Whether the presented chain verified to a trusted root (ignoring the host name, which
/// [`name_matches`] judges, and the leaf's own validity period, which the expiry rules judge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainTrust {
    Trusted,
    /// Why not, as the verifier said it.
    Untrusted(String),
}

/// What the rules judge.
pub struct Observed<'a> {
    pub check: CheckKind,
    /// The host connected to, as in the target: a name or an IP address.
    pub host: &'a str,
    pub port: u16,
    pub leaf: &'a ParsedCert,
    pub trust: &'a ChainTrust,
    pub now: DateTime<Utc>,
}

const EXPIRED: Rule = Rule {
    id: "certificate_expired",
    title: "TLS certificate has expired",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(298),
    description: "The certificate the server presents is past its notAfter date. Clients \
        refuse the connection or show a warning users learn to click through, which is what \
        an attacker intercepting the traffic relies on.",
    remediation: "Renew the certificate and deploy it; automate renewal (e.g. ACME) so it \
        cannot lapse again.",
};
const EXPIRING_SOON: Rule = Rule {
    id: "certificate_expiring_soon",
    title: "TLS certificate expires soon",
    severity: Severity::Medium,
    score: 5.3,
    cwe: None,
    description: "The certificate the server presents expires within 30 days. Once it does, \
        clients will refuse the connection.",
    remediation: "Renew the certificate before it expires; automate renewal (e.g. ACME).",
};
const NOT_YET_VALID: Rule = Rule {
    id: "certificate_not_yet_valid",
    title: "TLS certificate is not yet valid",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(298),
    description: "The certificate the server presents has a notBefore date in the future, so \
        clients reject it. It was issued with a wrong date, or the wrong certificate is \
        deployed.",
    remediation: "Deploy a certificate whose validity period has started; check the clock of \
        the machine that issued it.",
};
const SELF_SIGNED: Rule = Rule {
    id: "self_signed_certificate",
    title: "TLS certificate is self-signed",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(295),
    description: "The server presents a certificate signed by its own key, which no client \
        can verify. Clients either refuse the connection or are configured to accept any \
        certificate, which lets anyone on the path impersonate the server.",
    remediation: "Use a certificate issued by a publicly trusted certificate authority \
        (e.g. Let's Encrypt).",
};
const UNTRUSTED_CHAIN: Rule = Rule {
    id: "untrusted_certificate_chain",
    title: "TLS certificate chain is not trusted",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(295),
    description: "The certificate chain the server presents does not verify to a publicly \
        trusted root: it is issued by a private or unknown authority, an intermediate \
        certificate is missing, or a signature is invalid. Clients refuse the connection.",
    remediation: "Use a certificate from a publicly trusted authority and configure the \
        server to send the full chain (leaf and intermediates).",
};
const HOSTNAME_MISMATCH: Rule = Rule {
    id: "hostname_mismatch",
    title: "TLS certificate does not match the host name",
    severity: Severity::High,
    score: 7.5,
    cwe: Some(297),
    description: "The certificate the server presents is not issued for the name the client \
        connected to (none of its subject alternative names match). Clients refuse the \
        connection; a client that ignores this accepts any certificate for any site.",
    remediation: "Deploy a certificate whose subject alternative names include this host \
        name (or IP address), or serve the right certificate for this name (SNI).",
};
const WEAK_KEY: Rule = Rule {
    id: "weak_certificate_key",
    title: "TLS certificate uses a weak key",
    severity: Severity::High,
    score: 7.4,
    cwe: Some(326),
    description: "The certificate's public key is too short to be safe (RSA below 2048 bits \
        or elliptic curve below 256 bits): it can be factored or broken with accessible \
        resources, letting an attacker impersonate the server.",
    remediation: "Reissue the certificate with an RSA key of at least 2048 bits or an ECDSA \
        P-256 (or stronger) key.",
};

/// Every finding about the leaf certificate.
pub fn findings_for(observed: &Observed) -> Vec<FindingDraft> {
    let leaf = observed.leaf;
    let mut findings = Vec::new();
    let now = observed.now;
    if is_expired(leaf.not_after, now) {
        findings.push(draft(observed, &EXPIRED, json!({ "now": rfc3339(now) })));
    } else if expires_soon(leaf.not_after, now) {
        let days = (leaf.not_after - now).num_days();
        findings.push(draft(
            observed,
            &EXPIRING_SOON,
            json!({ "now": rfc3339(now), "days_left": days }),
        ));
    }
    if is_not_yet_valid(leaf.not_before, now) {
        findings.push(draft(
            observed,
            &NOT_YET_VALID,
            json!({ "now": rfc3339(now) }),
        ));
    }
    if leaf.summary.self_signed {
        findings.push(draft(observed, &SELF_SIGNED, json!({})));
    } else if let ChainTrust::Untrusted(reason) = observed.trust {
        findings.push(draft(
            observed,
            &UNTRUSTED_CHAIN,
            json!({ "verification_error": reason }),
        ));
    }
    if !host_matches(observed.host, leaf) {
        findings.push(draft(
            observed,
            &HOSTNAME_MISMATCH,
            json!({ "host": observed.host, "common_names": leaf.common_names }),
        ));
    }
    if is_weak(&leaf.key) {
        findings.push(draft(observed, &WEAK_KEY, json!({})));
    }
    findings
}

/// Expired once `now` is past notAfter (the validity period includes notAfter, RFC 5280).
pub fn is_expired(not_after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > not_after
}

/// Not expired, and expiring within [`EXPIRY_WARNING_DAYS`].
pub fn expires_soon(not_after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    !is_expired(not_after, now) && not_after - now <= TimeDelta::days(EXPIRY_WARNING_DAYS)
}

pub fn is_not_yet_valid(not_before: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < not_before
}

/// RSA below 2048 bits, elliptic curves below 256.
pub fn is_weak(key: &Key) -> bool {
    match key {
        Key::Rsa { bits } => *bits < 2048,
        Key::Ec { bits, .. } => *bits < 256,
        Key::Ed25519 | Key::Ed448 | Key::Other(_) => false,
    }
}

/// Whether the certificate is for `host`: an IP address matches the IP subject alternative
/// names; a name matches the DNS ones, or the common names when there is no SAN extension.
pub fn host_matches(host: &str, leaf: &ParsedCert) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return leaf.ip_sans.contains(&ip);
    }
    if leaf.has_san {
        leaf.summary
            .dns_names
            .iter()
            .any(|pattern| name_matches(pattern, host))
    } else {
        leaf.common_names
            .iter()
            .any(|pattern| name_matches(pattern, host))
    }
}

/// Whether the certificate name `pattern` covers `host`, case-insensitively. A wildcard is
/// only a whole leftmost label (`*.example.com`) and stands for exactly one non-empty label:
/// it matches `a.example.com`, not `a.b.example.com` nor `example.com`. A wildcard needs at
/// least two labels after it (`*.com` matches nothing).
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        None => pattern == host,
        Some(suffix) => {
            if suffix.split('.').count() < 2 || suffix.contains('*') {
                return false;
            }
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == suffix,
                None => false,
            }
        }
    }
}

fn draft(observed: &Observed, meta: &Rule, extra: Value) -> FindingDraft {
    let summary = &observed.leaf.summary;
    let mut evidence = json!({
        "subject": summary.subject,
        "issuer": summary.issuer,
        "not_before": summary.not_before,
        "not_after": summary.not_after,
        "dns_names": summary.dns_names,
        "ip_addresses": summary.ip_addresses,
        "key": summary.key,
        "self_signed": summary.self_signed,
    });
    if let (Value::Object(evidence), Value::Object(extra)) = (&mut evidence, extra) {
        evidence.extend(extra);
    }
    meta.finding(
        observed.check,
        &location(observed.host, observed.port),
        evidence,
    )
}

/// `host:port`, with an IPv6 address in brackets.
pub(crate) fn location(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::CertSummary;
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn leaf(dns: &[&str], ips: &[&str], cns: &[&str]) -> ParsedCert {
        let not_before = at("2026-01-01T00:00:00Z");
        let not_after = at("2026-12-31T00:00:00Z");
        ParsedCert {
            summary: CertSummary {
                subject: "CN=example.com".into(),
                issuer: "CN=Example CA".into(),
                not_before: rfc3339(not_before),
                not_after: rfc3339(not_after),
                dns_names: dns.iter().map(|name| (*name).to_owned()).collect(),
                ip_addresses: ips.iter().map(|ip| (*ip).to_owned()).collect(),
                key: "EC P-256".into(),
                self_signed: false,
            },
            not_before,
            not_after,
            ip_sans: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
            has_san: !dns.is_empty() || !ips.is_empty(),
            common_names: cns.iter().map(|name| (*name).to_owned()).collect(),
            key: Key::Ec {
                bits: 256,
                curve: Some("P-256"),
            },
        }
    }

    fn rules(leaf: &ParsedCert, host: &str, trust: &ChainTrust, now: &str) -> Vec<String> {
        findings_for(&Observed {
            check: CheckKind::TlsCertificate,
            host,
            port: 443,
            leaf,
            trust,
            now: at(now),
        })
        .into_iter()
        .map(|finding| finding.rule)
        .collect()
    }

    #[test]
    fn expiry_is_judged_against_now() {
        let not_after = at("2026-06-01T00:00:00Z");
        // Exactly at notAfter the certificate is still valid (the period includes it).
        assert!(!is_expired(not_after, not_after));
        assert!(expires_soon(not_after, not_after));
        assert!(is_expired(not_after, not_after + TimeDelta::seconds(1)));
        assert!(!expires_soon(not_after, not_after + TimeDelta::seconds(1)));
        // 29 days left: soon; exactly 30: soon; 31: not.
        assert!(expires_soon(not_after, not_after - TimeDelta::days(29)));
        assert!(expires_soon(not_after, not_after - TimeDelta::days(30)));
        assert!(!expires_soon(not_after, not_after - TimeDelta::days(31)));
        let not_before = at("2026-01-01T00:00:00Z");
        assert!(is_not_yet_valid(
            not_before,
            not_before - TimeDelta::seconds(1)
        ));
        assert!(!is_not_yet_valid(not_before, not_before));
    }

    #[test]
    fn expired_is_not_also_expiring_soon() {
        let cert = leaf(&["example.com"], &[], &[]);
        let trusted = ChainTrust::Trusted;
        assert_eq!(
            rules(&cert, "example.com", &trusted, "2027-01-01T00:00:00Z"),
            ["certificate_expired"]
        );
        assert_eq!(
            rules(&cert, "example.com", &trusted, "2026-12-21T00:00:00Z"),
            ["certificate_expiring_soon"]
        );
        assert_eq!(
            rules(&cert, "example.com", &trusted, "2025-12-01T00:00:00Z"),
            ["certificate_not_yet_valid"]
        );
        assert!(rules(&cert, "example.com", &trusted, "2026-06-01T00:00:00Z").is_empty());
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(name_matches("*.example.com", "A.Example.COM."));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("a*.example.com", "ab.example.com"));
        assert!(name_matches("example.com", "EXAMPLE.com"));
        assert!(!name_matches("example.com", "www.example.com"));
        assert!(!name_matches("", ""));
    }

    #[test]
    fn host_names_match_sans_or_else_common_names() {
        let with_san = leaf(&["www.example.com"], &[], &["example.com"]);
        assert!(host_matches("www.example.com", &with_san));
        // With a SAN extension, the common name does not count.
        assert!(!host_matches("example.com", &with_san));
        let without_san = leaf(&[], &[], &["example.com"]);
        assert!(host_matches("example.com", &without_san));
        assert!(!host_matches("www.example.com", &without_san));
    }

    #[test]
    fn ip_hosts_match_ip_sans_only() {
        let cert = leaf(&["127.0.0.1"], &["::1"], &["127.0.0.1"]);
        assert!(!host_matches("127.0.0.1", &cert));
        assert!(host_matches("::1", &cert));
        assert!(host_matches("[::1]", &cert));
        let with_ip = leaf(&[], &["203.0.113.7"], &[]);
        assert!(host_matches("203.0.113.7", &with_ip));
        assert!(!host_matches("203.0.113.8", &with_ip));
    }

    #[test]
    fn self_signed_is_not_also_untrusted() {
        let mut cert = leaf(&["example.com"], &[], &[]);
        let untrusted = ChainTrust::Untrusted("UnknownIssuer".into());
        let now = "2026-06-01T00:00:00Z";
        assert_eq!(
            rules(&cert, "example.com", &untrusted, now),
            ["untrusted_certificate_chain"]
        );
        cert.summary.self_signed = true;
        assert_eq!(
            rules(&cert, "example.com", &untrusted, now),
            ["self_signed_certificate"]
        );
    }

    #[test]
    fn weak_keys_are_reported() {
        assert!(is_weak(&Key::Rsa { bits: 1024 }));
        assert!(is_weak(&Key::Rsa { bits: 2047 }));
        assert!(!is_weak(&Key::Rsa { bits: 2048 }));
        assert!(is_weak(&Key::Ec {
            bits: 224,
            curve: Some("P-224")
        }));
        assert!(!is_weak(&Key::Ec {
            bits: 256,
            curve: Some("P-256")
        }));
        assert!(!is_weak(&Key::Ed25519));
        let mut cert = leaf(&["example.com"], &[], &[]);
        cert.key = Key::Rsa { bits: 1024 };
        assert_eq!(
            rules(
                &cert,
                "example.com",
                &ChainTrust::Trusted,
                "2026-06-01T00:00:00Z"
            ),
            ["weak_certificate_key"]
        );
    }

    #[test]
    fn findings_carry_location_and_evidence() {
        let cert = leaf(&["example.com"], &[], &[]);
        let findings = findings_for(&Observed {
            check: CheckKind::TlsCertificate,
            host: "::1",
            port: 8443,
            leaf: &cert,
            trust: &ChainTrust::Trusted,
            now: at("2026-06-01T00:00:00Z"),
        });
        let mismatch = &findings[0];
        assert_eq!(mismatch.rule, "hostname_mismatch");
        assert_eq!(mismatch.location, "[::1]:8443");
        assert_eq!(mismatch.cwe, Some(297));
        assert_eq!(mismatch.severity, Severity::High);
        assert_eq!(mismatch.evidence["dns_names"][0], "example.com");
        assert_eq!(mismatch.evidence["host"], "::1");
        assert_eq!(mismatch.evidence["not_after"], "2026-12-31T00:00:00Z");
    }
}
