//! The scan catalog: every check the platform can run, and which assets it applies to.

use s4e_types::{Asset, AssetKind, CheckKind, Severity};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Definition {
    pub key: CheckKind,
    pub name: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    /// The most severe finding this check can report.
    pub max_severity: Severity,
    /// The asset kinds it can run against when asked for.
    pub applies_to: &'static [AssetKind],
    /// The asset kinds it runs against when a scan names no checks.
    pub runs_by_default_on: &'static [AssetKind],
}

pub const DEFINITIONS: &[Definition] = &[
    Definition {
        key: CheckKind::HttpHeaders,
        name: "HTTP security headers",
        category: "web",
        description: "Missing HSTS (over HTTPS), CSP, X-Content-Type-Options, clickjacking \
                      protection and Referrer-Policy; server and framework version disclosure.",
        max_severity: Severity::Medium,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        runs_by_default_on: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
    },
    Definition {
        key: CheckKind::Ports,
        name: "Open ports and exposed services",
        category: "network",
        description: "TCP connect scan of the common ports (and a URL's own port) with service \
                      identification; exposed databases, brokers, admin services, \
                      unauthenticated Redis and Docker APIs.",
        max_severity: Severity::Critical,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        // A URL names one web application; scanning its whole host is asked for explicitly.
        runs_by_default_on: &[AssetKind::Domain, AssetKind::Ip],
    },
    Definition {
        key: CheckKind::TlsCertificate,
        name: "TLS certificate",
        category: "tls",
        description: "The certificate a host presents: expired, expiring within 30 days, not yet \
                      valid, self-signed, untrusted chain, host name mismatch, weak key.",
        max_severity: Severity::High,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        // By default only where TLS is expected: domains (port 443) and https URLs.
        runs_by_default_on: &[AssetKind::Url, AssetKind::Domain],
    },
    Definition {
        key: CheckKind::TlsProtocols,
        name: "TLS protocols and cipher suites",
        category: "tls",
        description: "The protocol versions and cipher suites a host accepts, probed with \
                      hand-made handshakes: SSL 3.0, TLS 1.0 or 1.1 accepted; NULL, anonymous, \
                      export, RC4, DES or 3DES suites accepted; static RSA key exchange chosen \
                      for a modern client (no forward secrecy); TLS 1.3 not supported (info).",
        max_severity: Severity::High,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        // Where the certificate check runs: domains (port 443) and https URLs.
        runs_by_default_on: &[AssetKind::Url, AssetKind::Domain],
    },
    Definition {
        key: CheckKind::HttpProbes,
        name: "HTTP probes",
        category: "web",
        description: "A few extra requests to the site: CORS that trusts any or the null origin \
                      (worst with credentials), TRACE echoing requests, write methods advertised \
                      by OPTIONS, plain HTTP not redirected to HTTPS.",
        max_severity: Severity::High,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        runs_by_default_on: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
    },
    Definition {
        key: CheckKind::Exposure,
        name: "Exposed files and paths",
        category: "web",
        description: "Sensitive files served by mistake, recognised by their content: .git, .env, \
                      backups and database dumps, .htpasswd, server-status, phpinfo, .DS_Store, \
                      OpenAPI/Swagger, Spring actuator, pprof and other debug endpoints.",
        max_severity: Severity::Critical,
        applies_to: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
        runs_by_default_on: &[AssetKind::Url, AssetKind::Domain, AssetKind::Ip],
    },
    Definition {
        key: CheckKind::Dns,
        name: "DNS and e-mail authentication",
        category: "dns",
        description: "A domain's DNS records: SPF missing, permissive, duplicated or over the \
                      10-lookup limit; DMARC missing, malformed or p=none; DNSSEC not enabled; \
                      the domain or a common subdomain CNAME'd to a hosting service's name \
                      that no longer exists (subdomain takeover).",
        max_severity: Severity::High,
        // The records belong to a domain; a URL's host may be any name of someone else's.
        applies_to: &[AssetKind::Domain],
        runs_by_default_on: &[AssetKind::Domain],
    },
];

/// Whether a check runs on an asset when the scan names no checks.
fn runs_by_default(kind: CheckKind, asset: &Asset) -> bool {
    let by_kind = definition(kind).runs_by_default_on.contains(&asset.kind);
    match (kind, asset.kind) {
        (CheckKind::TlsCertificate | CheckKind::TlsProtocols, AssetKind::Url) => {
            by_kind && asset.value.starts_with("https:")
        }
        _ => by_kind,
    }
}

pub fn definition(kind: CheckKind) -> &'static Definition {
    DEFINITIONS
        .iter()
        .find(|definition| definition.key == kind)
        .expect("every check kind has a definition")
}

/// What a check is pointed at for an asset: the URL itself, or the site at a domain or IP.
/// The web checks (headers, probes, exposure) all get the same URL.
pub fn target_for(kind: CheckKind, asset: &Asset) -> String {
    match kind {
        CheckKind::HttpHeaders | CheckKind::HttpProbes | CheckKind::Exposure => match asset.kind {
            AssetKind::Url => asset.value.clone(),
            AssetKind::Domain => format!("https://{}/", asset.value),
            AssetKind::Ip if asset.value.contains(':') => format!("http://[{}]/", asset.value),
            AssetKind::Ip => format!("http://{}/", asset.value),
        },
        // These take a host, an IP or a URL (its host and port) as they are.
        CheckKind::Ports | CheckKind::TlsCertificate | CheckKind::TlsProtocols => {
            asset.value.clone()
        }
        // The domain itself.
        CheckKind::Dns => asset.value.clone(),
    }
}

/// The checks a scan runs: the requested ones (each must apply), or every applicable one.
pub fn plan(asset: &Asset, requested: Option<&[CheckKind]>) -> Result<Vec<CheckKind>, String> {
    let applicable = |kind: &CheckKind| definition(*kind).applies_to.contains(&asset.kind);
    match requested {
        Some([]) => Err("checks: name at least one check, or leave it out".into()),
        Some(kinds) => {
            if let Some(kind) = kinds.iter().find(|kind| !applicable(kind)) {
                return Err(format!(
                    "checks: {} does not apply to {} assets",
                    kind.as_str(),
                    asset.kind.as_str()
                ));
            }
            let mut planned: Vec<CheckKind> = Vec::with_capacity(kinds.len());
            for kind in kinds {
                if !planned.contains(kind) {
                    planned.push(*kind);
                }
            }
            Ok(planned)
        }
        None => Ok(CheckKind::ALL
            .iter()
            .copied()
            .filter(|kind| runs_by_default(*kind, asset))
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s4e_types::{AssetId, OrgId};

    fn asset(kind: AssetKind, value: &str) -> Asset {
        Asset {
            id: AssetId::new(),
            org_id: OrgId::new(),
            kind,
            value: value.into(),
            name: None,
            created_at: chrono::Utc::now(),
            verification_token: "token".into(),
            verified_at: None,
            verification_method: None,
        }
    }

    #[test]
    fn targets_follow_the_asset_kind() {
        for kind in [
            CheckKind::HttpHeaders,
            CheckKind::HttpProbes,
            CheckKind::Exposure,
        ] {
            assert_eq!(
                target_for(kind, &asset(AssetKind::Url, "http://a.test/x")),
                "http://a.test/x"
            );
            assert_eq!(
                target_for(kind, &asset(AssetKind::Domain, "a.test")),
                "https://a.test/"
            );
            assert_eq!(
                target_for(kind, &asset(AssetKind::Ip, "::1")),
                "http://[::1]/"
            );
            assert_eq!(
                target_for(kind, &asset(AssetKind::Ip, "192.0.2.1")),
                "http://192.0.2.1/"
            );
        }
        assert_eq!(
            target_for(
                CheckKind::Ports,
                &asset(AssetKind::Url, "http://a.test:8080/")
            ),
            "http://a.test:8080/"
        );
    }

    #[test]
    fn every_check_kind_has_a_web_or_other_definition() {
        for kind in CheckKind::ALL {
            let definition = definition(*kind);
            assert_eq!(definition.key, *kind);
            assert!(!definition.description.is_empty());
        }
        for kind in [CheckKind::HttpProbes, CheckKind::Exposure] {
            assert_eq!(definition(kind).category, "web");
        }
        assert_eq!(
            definition(CheckKind::Exposure).max_severity,
            Severity::Critical
        );
        assert_eq!(
            definition(CheckKind::HttpProbes).max_severity,
            Severity::High
        );
    }

    #[test]
    fn plans_default_to_every_applicable_check() {
        let url = asset(AssetKind::Url, "http://a.test/");
        assert_eq!(
            plan(&url, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::HttpProbes,
                CheckKind::Exposure
            ]
        );
        let https = asset(AssetKind::Url, "https://a.test/");
        assert_eq!(
            plan(&https, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::TlsCertificate,
                CheckKind::TlsProtocols,
                CheckKind::HttpProbes,
                CheckKind::Exposure
            ]
        );
        let domain = asset(AssetKind::Domain, "a.test");
        assert_eq!(
            plan(&domain, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::Ports,
                CheckKind::TlsCertificate,
                CheckKind::TlsProtocols,
                CheckKind::HttpProbes,
                CheckKind::Exposure,
                CheckKind::Dns
            ]
        );
        let ip = asset(AssetKind::Ip, "192.0.2.1");
        assert_eq!(
            plan(&ip, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::Ports,
                CheckKind::HttpProbes,
                CheckKind::Exposure
            ]
        );
        assert_eq!(
            plan(&url, Some(&[CheckKind::Exposure])).unwrap(),
            vec![CheckKind::Exposure]
        );
        assert_eq!(
            plan(&url, Some(&[CheckKind::Ports])).unwrap(),
            vec![CheckKind::Ports]
        );
        assert!(plan(&url, Some(&[])).is_err());
        // DNS records are a domain's: not for URLs and IPs, even on request.
        assert!(plan(&url, Some(&[CheckKind::Dns])).is_err());
        assert!(plan(&ip, Some(&[CheckKind::Dns])).is_err());
        assert_eq!(
            plan(&domain, Some(&[CheckKind::Dns])).unwrap(),
            vec![CheckKind::Dns]
        );
        assert_eq!(target_for(CheckKind::Dns, &domain), "a.test");
        // The protocol check goes where the certificate check goes, and gets the same target;
        // an IP gets it on request.
        for kind in [CheckKind::TlsCertificate, CheckKind::TlsProtocols] {
            assert_eq!(definition(kind).category, "tls");
            assert_eq!(target_for(kind, &https), "https://a.test/");
            assert_eq!(target_for(kind, &domain), "a.test");
            assert_eq!(plan(&ip, Some(&[kind])).unwrap(), vec![kind]);
        }
        assert_eq!(definition(CheckKind::Dns).category, "dns");
        assert_eq!(
            plan(
                &url,
                Some(&[CheckKind::HttpHeaders, CheckKind::HttpHeaders])
            )
            .unwrap(),
            vec![CheckKind::HttpHeaders]
        );
    }
}
