//! The rules of the protocol check: pure functions of what the probes saw.
//!
//! Rules (stable `rule` names; location `host:port`; at most one finding each):
//! - `tls_deprecated_protocol`: SSL 3.0, TLS 1.0 or TLS 1.1 accepted. High when SSL 3.0 is
//!   among them (POODLE, no fix), else medium.
//! - `tls_weak_cipher`: a NULL, anonymous, export, RC4, DES or 3DES suite accepted. High for
//!   any but 3DES; medium when 3DES is all. CBC suites with a SHA-1 MAC (e.g.
//!   `TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA`) are not weak by themselves: with the
//!   encrypt-then-MAC and record-splitting fixes every current stack has, no practical attack
//!   remains, and most sites keep them for older clients.
//! - `tls_no_forward_secrecy`: offered what a current browser offers for TLS 1.2 (ECDHE and
//!   DHE first, static RSA last) at the newest version below 1.3 the server accepts (1.2 on
//!   any server that has it), the server chose a suite without an ephemeral key exchange.
//!   Low: it takes the server's private key as well as a recording to read the traffic. A
//!   server that merely *accepts* static RSA is not reported.
//! - `tls13_not_supported` (info): the server does not accept TLS 1.3.
//!
//! A modern default (TLS 1.2 and 1.3, ECDHE with AEAD, as rustls or a current nginx or
//! Caddy ships) produces no finding.

use crate::rule::Rule;
use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::{Value, json};

use super::hello::{SSL3, TLS10, TLS11, TLS13, version_name};
use super::suites::{self, Kx, Weakness};

/// A weak suite the server accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WeakSuite {
    pub name: String,
    pub weaknesses: Vec<Weakness>,
}

/// What the rules judge.
pub struct Observed<'a> {
    pub check: CheckKind,
    /// `host:port`.
    pub location: &'a str,
    /// The versions the server accepted.
    pub accepted: &'a [u16],
    /// The version the suite probes used: the newest accepted below TLS 1.3.
    pub suites_version: Option<u16>,
    pub weak: &'a [WeakSuite],
    /// The families whose accepted suites were not all listed (the probe stopped narrowing).
    pub weak_incomplete: &'a [Weakness],
    /// The suite chosen for a modern client's TLS 1.2-style list.
    pub modern_choice: Option<u16>,
}

const DEPRECATED_PROTOCOL: Rule = Rule {
    id: "tls_deprecated_protocol",
    title: "Deprecated TLS protocol versions accepted",
    severity: Severity::Medium,
    score: 5.3,
    cwe: Some(327),
    description: "The server accepts protocol versions that are deprecated (RFC 8996 for TLS \
        1.0 and 1.1, RFC 7568 for SSL 3.0). They rely on SHA-1 and MD5 in the handshake, lack \
        the AEAD suites, and SSL 3.0's padding is broken outright (POODLE). A client or an \
        attacker on the path that brings the connection down to them gets weaker protection, \
        and compliance standards (PCI DSS) fail the server.",
    remediation: "Accept TLS 1.2 and TLS 1.3 only (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`, \
        Apache: `SSLProtocol -all +TLSv1.2 +TLSv1.3`).",
};
const DEPRECATED_SSL3: Rule = Rule {
    severity: Severity::High,
    score: 7.5,
    ..DEPRECATED_PROTOCOL
};
const WEAK_CIPHER: Rule = Rule {
    id: "tls_weak_cipher",
    title: "Weak TLS cipher suites accepted",
    severity: Severity::High,
    score: 7.4,
    cwe: Some(327),
    description: "The server accepts cipher suites that do not protect the connection: NULL \
        suites do not encrypt, anonymous suites do not authenticate the server (anyone on the \
        path can impersonate it), export suites use 40- or 56-bit keys (FREAK, Logjam), RC4 \
        leaks plaintext through its biases (RFC 7465), DES has a 56-bit key, and 3DES's \
        64-bit block lets a long connection be decrypted (Sweet32). A client that offers one \
        of them, or is downgraded to it, is exposed.",
    remediation: "Allow only ECDHE (or DHE) suites with AES-GCM or ChaCha20-Poly1305, as in \
        the Mozilla \"intermediate\" configuration; remove NULL, aNULL, EXPORT, RC4, DES and \
        3DES from the cipher list (OpenSSL: append `:!aNULL:!eNULL:!EXPORT:!RC4:!DES:!3DES`).",
};
const WEAK_CIPHER_3DES: Rule = Rule {
    severity: Severity::Medium,
    score: 5.9,
    ..WEAK_CIPHER
};
const NO_FORWARD_SECRECY: Rule = Rule {
    id: "tls_no_forward_secrecy",
    title: "TLS without forward secrecy for modern clients",
    severity: Severity::Low,
    score: 3.7,
    cwe: Some(327),
    description: "Offered the cipher suites a current browser offers (ECDHE first), the \
        server chose one with a static RSA key exchange. The session keys then depend on the \
        server's private key alone: anyone who records the traffic today and obtains the key \
        later (a breach, a subpoena, a decommissioned disk) can decrypt it.",
    remediation: "Prefer ECDHE suites (and DHE with at least 2048-bit groups) and let static \
        RSA key exchange go; TLS 1.3 always has forward secrecy.",
};
const TLS13_NOT_SUPPORTED: Rule = Rule {
    id: "tls13_not_supported",
    title: "TLS 1.3 is not supported",
    severity: Severity::Info,
    score: 0.0,
    cwe: None,
    description: "The server does not accept TLS 1.3. TLS 1.3 needs one round trip less to \
        connect, always has forward secrecy, and drops every legacy algorithm; TLS 1.2 \
        configured well is still safe.",
    remediation: "Enable TLS 1.3 (OpenSSL 1.1.1 or later; nginx: `ssl_protocols TLSv1.2 \
        TLSv1.3;`).",
};

/// Every finding about the versions and suites the server accepted.
pub fn findings_for(observed: &Observed) -> Vec<FindingDraft> {
    let mut findings = Vec::new();
    let deprecated: Vec<u16> = [SSL3, TLS10, TLS11]
        .into_iter()
        .filter(|version| observed.accepted.contains(version))
        .collect();
    if !deprecated.is_empty() {
        let meta = if deprecated.contains(&SSL3) {
            &DEPRECATED_SSL3
        } else {
            &DEPRECATED_PROTOCOL
        };
        let names: Vec<String> = deprecated.iter().map(|v| version_name(*v)).collect();
        findings.push(draft(
            observed,
            meta,
            &format!(
                "Deprecated protocol versions accepted: {}",
                names.join(", ")
            ),
            json!({ "deprecated": names }),
        ));
    }
    if !observed.weak.is_empty() {
        let only_3des = observed
            .weak
            .iter()
            .all(|suite| suite.weaknesses == [Weakness::TripleDes]);
        let meta = if only_3des {
            &WEAK_CIPHER_3DES
        } else {
            &WEAK_CIPHER
        };
        let mut kinds: Vec<Weakness> = observed
            .weak
            .iter()
            .flat_map(|suite| suite.weaknesses.iter().copied())
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let kind_names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        findings.push(draft(
            observed,
            meta,
            &format!("Weak cipher suites accepted ({})", kind_names.join(", ")),
            json!({
                "weak_suites": observed.weak,
                "weaknesses": kind_names,
                // Families where more suites may be accepted than the probes listed.
                "more_may_be_accepted": observed
                    .weak_incomplete
                    .iter()
                    .map(|kind| kind.as_str())
                    .collect::<Vec<_>>(),
            }),
        ));
    }
    if let Some(choice) = observed.modern_choice
        && suites::by_id(choice).is_some_and(|suite| suite.kx == Kx::Static)
    {
        let version = observed
            .suites_version
            .map_or_else(|| "TLS".into(), version_name);
        findings.push(draft(
            observed,
            &NO_FORWARD_SECRECY,
            &format!("{version} connections lack forward secrecy"),
            json!({ "chosen_suite": suites::name(choice) }),
        ));
    }
    if !observed.accepted.contains(&TLS13) {
        findings.push(draft(
            observed,
            &TLS13_NOT_SUPPORTED,
            "TLS 1.3 is not supported",
            json!({}),
        ));
    }
    findings
}

fn draft(observed: &Observed, meta: &Rule, title: &str, extra: Value) -> FindingDraft {
    let mut accepted = observed.accepted.to_vec();
    accepted.sort_unstable();
    let mut evidence = json!({
        "accepted_protocols": accepted.iter().map(|v| version_name(*v)).collect::<Vec<_>>(),
    });
    if let Some(version) = observed.suites_version {
        evidence["suites_probed_with"] = json!(version_name(version));
    }
    if let (Value::Object(evidence), Value::Object(extra)) = (&mut evidence, extra) {
        evidence.extend(extra);
    }
    meta.titled(observed.check, observed.location, title, evidence)
}

#[cfg(test)]
mod tests {
    use super::super::hello::TLS12;
    use super::*;

    fn observed<'a>(
        accepted: &'a [u16],
        weak: &'a [WeakSuite],
        modern_choice: Option<u16>,
    ) -> Observed<'a> {
        Observed {
            check: CheckKind::TlsProtocols,
            location: "example.com:443",
            accepted,
            suites_version: accepted.iter().copied().filter(|v| *v < TLS13).max(),
            weak,
            weak_incomplete: &[],
            modern_choice,
        }
    }

    fn rules(findings: &[FindingDraft]) -> Vec<&str> {
        findings
            .iter()
            .map(|finding| finding.rule.as_str())
            .collect()
    }

    fn weak(id: u16) -> WeakSuite {
        let suite = suites::by_id(id).unwrap();
        WeakSuite {
            name: suite.name.to_owned(),
            weaknesses: suite.weaknesses.to_vec(),
        }
    }

    #[test]
    fn a_modern_server_has_no_finding() {
        let findings = findings_for(&observed(&[TLS13, TLS12], &[], Some(0xc02f)));
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn tls12_only_is_informational() {
        let findings = findings_for(&observed(&[TLS12], &[], Some(0xc030)));
        assert_eq!(rules(&findings), ["tls13_not_supported"]);
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(findings[0].cwe, None);
        assert_eq!(
            findings[0].evidence["accepted_protocols"],
            json!(["TLSv1.2"])
        );
    }

    #[test]
    fn deprecated_versions_are_listed_and_ssl3_is_worse() {
        let findings = findings_for(&observed(&[TLS13, TLS12, TLS11, TLS10], &[], Some(0xc02f)));
        assert_eq!(rules(&findings), ["tls_deprecated_protocol"]);
        let finding = &findings[0];
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.cwe, Some(327));
        assert_eq!(
            finding.evidence["deprecated"],
            json!(["TLSv1.0", "TLSv1.1"])
        );
        assert_eq!(
            finding.title,
            "Deprecated protocol versions accepted: TLSv1.0, TLSv1.1"
        );
        assert_eq!(finding.location, "example.com:443");

        let findings = findings_for(&observed(&[TLS12, SSL3], &[], Some(0xc02f)));
        assert_eq!(
            rules(&findings),
            ["tls_deprecated_protocol", "tls13_not_supported"]
        );
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].evidence["deprecated"], json!(["SSLv3"]));
    }

    #[test]
    fn weak_suites_are_high_unless_3des_is_all() {
        let only_3des = [weak(0x000a), weak(0xc012)];
        let findings = findings_for(&observed(&[TLS13, TLS12], &only_3des, Some(0xc02f)));
        assert_eq!(rules(&findings), ["tls_weak_cipher"]);
        assert_eq!(findings[0].severity, Severity::Medium);
        assert_eq!(findings[0].evidence["weaknesses"], json!(["3des"]));
        assert_eq!(
            findings[0].evidence["weak_suites"][0]["name"],
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        );

        let mixed = [weak(0x000a), weak(0x0018)];
        let findings = findings_for(&observed(&[TLS13, TLS12], &mixed, Some(0xc02f)));
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(
            findings[0].evidence["weaknesses"],
            json!(["anonymous", "rc4", "3des"])
        );
        assert_eq!(
            findings[0].title,
            "Weak cipher suites accepted (anonymous, rc4, 3des)"
        );
        // Anonymous 3DES is not "3DES only".
        let findings = findings_for(&observed(&[TLS13, TLS12], &[weak(0x001b)], Some(0xc02f)));
        assert_eq!(findings[0].severity, Severity::High);
    }

    #[test]
    fn static_rsa_chosen_for_a_modern_client_lacks_forward_secrecy() {
        for chosen in [0x009c, 0x002f, 0x000a] {
            let findings = findings_for(&observed(&[TLS13, TLS12], &[], Some(chosen)));
            assert_eq!(rules(&findings), ["tls_no_forward_secrecy"], "{chosen:04x}");
            assert_eq!(findings[0].severity, Severity::Low);
            assert_eq!(findings[0].evidence["chosen_suite"], suites::name(chosen));
            assert_eq!(
                findings[0].title,
                "TLSv1.2 connections lack forward secrecy"
            );
        }
        // ECDHE and DHE have it; so does a server that answered nothing to the list.
        for chosen in [Some(0xc02f), Some(0x009e), None] {
            let findings = findings_for(&observed(&[TLS13, TLS12], &[], chosen));
            assert!(findings.is_empty(), "{chosen:?}");
        }
    }
}
