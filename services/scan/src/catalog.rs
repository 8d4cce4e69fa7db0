//! The scan catalog: every check the platform can run, which assets it applies to, and the
//! profiles that choose checks for a scan.

use s4e_types::api::{Catalog, CheckDefinition, ProfileChecks, ProfileDefinition, ScanSettings};
use s4e_types::{Asset, AssetKind, CheckKind, ScanProfile, Severity};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Definition {
    pub key: CheckKind,
    pub name: &'static str,
    /// The worker that runs it (its jobs go to `jobs.<executor>`).
    pub executor: CheckKind,
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
        executor: CheckKind::HttpHeaders,
        description: "Missing HSTS (over HTTPS), CSP, X-Content-Type-Options, clickjacking \
                      protection and Referrer-Policy; server and framework version disclosure.",
        max_severity: Severity::Medium,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        runs_by_default_on: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
    },
    Definition {
        key: CheckKind::Ports,
        name: "Open ports and exposed services",
        executor: CheckKind::Ports,
        description: "TCP connect scan of the common ports (and a URL's own port) with service \
                      identification; exposed databases, brokers, admin services, \
                      unauthenticated Redis and Docker APIs. On a range, a job per host.",
        max_severity: Severity::Critical,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
            AssetKind::Cidr,
        ],
        // A URL names one web application; scanning its whole host is asked for explicitly.
        runs_by_default_on: &[AssetKind::Domain, AssetKind::Ip, AssetKind::Cidr],
    },
    Definition {
        key: CheckKind::TlsCertificate,
        name: "TLS certificate",
        executor: CheckKind::TlsCertificate,
        description: "The certificate a host presents: expired, expiring within 30 days, not yet \
                      valid, self-signed, untrusted chain, host name mismatch, weak key.",
        max_severity: Severity::High,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        // By default only where TLS is expected: domains (port 443) and https URLs.
        runs_by_default_on: &[AssetKind::Url, AssetKind::Api, AssetKind::Domain],
    },
    Definition {
        key: CheckKind::TlsProtocols,
        executor: CheckKind::TlsProtocols,
        name: "TLS protocols and cipher suites",
        description: "The protocol versions and cipher suites a host accepts, probed with \
                      hand-made handshakes: SSL 3.0, TLS 1.0 or 1.1 accepted; NULL, anonymous, \
                      export, RC4, DES or 3DES suites accepted; static RSA key exchange chosen \
                      for a modern client (no forward secrecy); TLS 1.3 not supported (info).",
        max_severity: Severity::High,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        // Where the certificate check runs: domains (port 443) and https URLs.
        runs_by_default_on: &[AssetKind::Url, AssetKind::Api, AssetKind::Domain],
    },
    Definition {
        key: CheckKind::HttpProbes,
        name: "HTTP probes",
        executor: CheckKind::HttpProbes,
        description: "A few extra requests to the site: CORS that trusts any or the null origin \
                      (worst with credentials), TRACE echoing requests, write methods advertised \
                      by OPTIONS, plain HTTP not redirected to HTTPS.",
        max_severity: Severity::High,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        runs_by_default_on: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
    },
    Definition {
        key: CheckKind::Exposure,
        name: "Exposed files and paths",
        executor: CheckKind::Exposure,
        description: "Sensitive files served by mistake, recognised by their content: .git, .env, \
                      backups and database dumps, .htpasswd, server-status, phpinfo, .DS_Store, \
                      OpenAPI/Swagger, Spring actuator, pprof and other debug endpoints.",
        max_severity: Severity::Critical,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        runs_by_default_on: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
    },
    Definition {
        key: CheckKind::Dns,
        name: "DNS and e-mail authentication",
        executor: CheckKind::Dns,
        description: "A domain's DNS records: SPF missing, permissive, duplicated or over the \
                      10-lookup limit; DMARC missing, malformed or p=none; DNSSEC not enabled; \
                      the domain or a common subdomain CNAME'd to a hosting service's name \
                      that no longer exists (subdomain takeover).",
        max_severity: Severity::High,
        // The records belong to a domain; a URL's host may be any name of someone else's.
        applies_to: &[AssetKind::Domain],
        runs_by_default_on: &[AssetKind::Domain],
    },
    Definition {
        key: CheckKind::Subdomains,
        name: "Subdomain discovery",
        executor: CheckKind::Subdomains,
        description: "Host names under a domain, proposed as candidate assets: a bundled \
                      wordlist of about 2,400 names asked of the resolvers (a wildcard zone \
                      detected first, so it invents no names) and a zone transfer (AXFR) asked \
                      of each of the zone's name servers; a server that hands the zone out is a \
                      finding.",
        max_severity: Severity::Medium,
        applies_to: &[AssetKind::Domain],
        runs_by_default_on: &[AssetKind::Domain],
    },
    Definition {
        key: CheckKind::ApiOperations,
        name: "API operations",
        executor: CheckKind::ApiOperations,
        description: "The API's OpenAPI 3 or Swagger 2 document (JSON or YAML) read into its \
                      operations; every GET operation that needs no parameter requested \
                      without credentials: an operation that declares a security requirement \
                      but answers anyway, and server errors. An invalid document fails the \
                      job saying why.",
        max_severity: Severity::High,
        applies_to: &[AssetKind::Api],
        runs_by_default_on: &[AssetKind::Api],
    },
    Definition {
        key: CheckKind::Crawl,
        name: "Crawl",
        executor: CheckKind::Crawl,
        description: "The site mapped by s4e-crawler within the asset's scope (its host and, for \
                      a URL, its path): links of every kind in HTML, CSS and headers, robots.txt \
                      and sitemaps, paths in scripts, forms with their fields; a page limit, a \
                      depth limit and trap detection. Raises what the pages show: forms sending \
                      passwords over plain HTTP, directory listings; records technologies and \
                      the site's other host names as candidates. The site map is read at \
                      /api/v1/scans/{id}/site-map.",
        max_severity: Severity::High,
        applies_to: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
        runs_by_default_on: &[
            AssetKind::Url,
            AssetKind::Api,
            AssetKind::Domain,
            AssetKind::Ip,
        ],
    },
];

/// Whether a check runs on an asset when the scan names no checks.
fn runs_by_default(kind: CheckKind, asset: &Asset) -> bool {
    runs_by_default_on(kind, asset.kind, &asset.value)
}

fn runs_by_default_on(kind: CheckKind, asset_kind: AssetKind, value: &str) -> bool {
    let by_kind = definition(kind).runs_by_default_on.contains(&asset_kind);
    match (kind, asset_kind) {
        (CheckKind::TlsCertificate | CheckKind::TlsProtocols, AssetKind::Url | AssetKind::Api) => {
            by_kind && value.starts_with("https:")
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

/// What the checks of `kind` are pointed at for an asset, a job each: every host of a range
/// for its network checks, else one target (see [`target_for`]).
pub fn targets_for(kind: CheckKind, asset: &Asset) -> Vec<String> {
    match (asset.kind, s4e_types::asset::cidr_hosts(&asset.value)) {
        (AssetKind::Cidr, Some(hosts)) => hosts.map(|host| host.to_string()).collect(),
        _ => vec![target_for(kind, asset)],
    }
}

/// What a check is pointed at for an asset: the URL itself, or the site at a domain or IP.
/// The web checks (headers, probes, exposure) all get the same URL.
pub fn target_for(kind: CheckKind, asset: &Asset) -> String {
    match kind {
        CheckKind::HttpHeaders | CheckKind::HttpProbes | CheckKind::Exposure | CheckKind::Crawl => {
            match asset.kind {
                AssetKind::Url | AssetKind::Api => asset.value.clone(),
                AssetKind::Domain => format!("https://{}/", asset.value),
                AssetKind::Ip if asset.value.contains(':') => format!("http://[{}]/", asset.value),
                AssetKind::Ip => format!("http://{}/", asset.value),
                // No web check applies to a range: its hosts are scanned one job each.
                AssetKind::Cidr => asset.value.clone(),
            }
        }
        // These take a host, an IP or a URL (its host and port) as they are.
        CheckKind::Ports | CheckKind::TlsCertificate | CheckKind::TlsProtocols => {
            asset.value.clone()
        }
        // The domain itself; the API's document.
        CheckKind::Dns | CheckKind::Subdomains | CheckKind::ApiOperations => asset.value.clone(),
    }
}

/// A profile of the catalog: which checks it plans, or why it is not available.
#[derive(Clone, Debug)]
pub struct Profile {
    pub key: ScanProfile,
    pub name: &'static str,
    pub description: &'static str,
    /// The checks it plans (each where it runs by default); `None`: the request names them.
    pub checks: Option<&'static [CheckKind]>,
    /// Why a scan may not use it yet.
    pub unavailable: Option<&'static str>,
}

/// The light profile's checks: each sends at most one request to the target (one GET of the
/// URL, one TLS handshake) or none (DNS asks the resolvers, not the target).
pub const LIGHT_CHECKS: &[CheckKind] = &[
    CheckKind::HttpHeaders,
    CheckKind::TlsCertificate,
    CheckKind::Dns,
];

pub const PROFILES: &[Profile] = &[
    Profile {
        key: ScanProfile::Full,
        name: "Full",
        description: "Every check that applies to the asset by default: headers, HTTP probes, \
                      exposed paths, the port scan (domains and IPs), the certificate (domains \
                      and https URLs) and DNS (domains).",
        checks: Some(CheckKind::ALL),
        unavailable: None,
    },
    Profile {
        key: ScanProfile::Light,
        name: "Light",
        description: "Fast and non-intrusive, at most one request to the target per check: \
                      http_headers (one GET of the URL), tls_certificate (one TLS handshake; \
                      domains and https URLs) and dns (queries to the resolvers only; domains). \
                      No port scan, no HTTP probes (CORS, TRACE, OPTIONS), no exposed-path \
                      probing.",
        checks: Some(LIGHT_CHECKS),
        unavailable: None,
    },
    Profile {
        key: ScanProfile::Single,
        name: "Single check",
        description: "Exactly one check, named in `checks`; any check that applies to the \
                      asset.",
        checks: None,
        unavailable: None,
    },
    Profile {
        key: ScanProfile::CrawlOnly,
        name: "Crawl only",
        description: "The crawler's stages alone (discovering pages, forms and links), without \
                      the checks.",
        checks: Some(&[CheckKind::Crawl]),
        unavailable: None,
    },
    Profile {
        key: ScanProfile::Custom,
        name: "Custom",
        description: "The checks named in `checks`, each of which must apply to the asset; \
                      what a scan that names checks without a profile is recorded as.",
        checks: None,
        unavailable: None,
    },
];

pub fn profile(key: ScanProfile) -> &'static Profile {
    PROFILES
        .iter()
        .find(|profile| profile.key == key)
        .expect("every scan profile has a definition")
}

/// Why a scan cannot be planned: the request is malformed (400), or it is well-formed but the
/// catalog or the organization's settings refuse it (409).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    Invalid(String),
    Refused(String),
}

/// A scan's profile and checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub profile: ScanProfile,
    pub checks: Vec<CheckKind>,
}

/// Plans a scan: the profile (the requested one; `custom` when only checks are named; else
/// the organization's default) and its checks, without those the organization disabled.
/// Profiles that choose their checks drop disabled ones; naming a disabled check is refused.
pub fn plan(
    asset: &Asset,
    profile: Option<ScanProfile>,
    requested: Option<&[CheckKind]>,
    settings: &ScanSettings,
) -> Result<Plan, PlanError> {
    let key = match (profile, requested) {
        (Some(key), _) => key,
        (None, Some(_)) => ScanProfile::Custom,
        (None, None) => settings.default_profile,
    };
    let chosen = self::profile(key);
    if let Some(reason) = chosen.unavailable {
        return Err(PlanError::Refused(format!(
            "profile: {} is not available: {reason}",
            key.as_str()
        )));
    }
    let disabled = |kind: &CheckKind| settings.disabled_checks.contains(kind);
    let checks = match (chosen.checks, requested) {
        (Some(_), Some(_)) => {
            return Err(PlanError::Invalid(format!(
                "checks: the {} profile chooses its own checks; name checks with the single or \
                 custom profile",
                key.as_str()
            )));
        }
        (None, None) => {
            return Err(PlanError::Invalid(format!(
                "checks: the {} profile needs the checks named",
                key.as_str()
            )));
        }
        (None, Some(kinds)) => {
            let kinds = named(asset, kinds)?;
            if key == ScanProfile::Single && kinds.len() != 1 {
                return Err(PlanError::Invalid(
                    "checks: the single profile runs exactly one check".into(),
                ));
            }
            if let Some(kind) = kinds.iter().find(|kind| disabled(kind)) {
                return Err(PlanError::Refused(format!(
                    "checks: {} is disabled in this organization's scan settings",
                    kind.as_str()
                )));
            }
            kinds
        }
        (Some(kinds), None) => {
            let planned: Vec<CheckKind> = kinds
                .iter()
                .copied()
                .filter(|kind| runs_by_default(*kind, asset) && !disabled(kind))
                .collect();
            if planned.is_empty() {
                return Err(PlanError::Refused(format!(
                    "profile: the {} profile plans no check for this {} asset that this \
                     organization's scan settings leave enabled",
                    key.as_str(),
                    asset.kind.as_str()
                )));
            }
            planned
        }
    };
    Ok(Plan {
        profile: key,
        checks,
    })
}

/// The checks a request names, each applying to the asset, repeats dropped.
fn named(asset: &Asset, kinds: &[CheckKind]) -> Result<Vec<CheckKind>, PlanError> {
    if kinds.is_empty() {
        return Err(PlanError::Invalid(
            "checks: name at least one check, or leave it out".into(),
        ));
    }
    if let Some(kind) = kinds
        .iter()
        .find(|kind| !definition(**kind).applies_to.contains(&asset.kind))
    {
        return Err(PlanError::Invalid(format!(
            "checks: {} does not apply to {} assets",
            kind.as_str(),
            asset.kind.as_str()
        )));
    }
    let mut planned: Vec<CheckKind> = Vec::with_capacity(kinds.len());
    for kind in kinds {
        if !planned.contains(kind) {
            planned.push(*kind);
        }
    }
    Ok(planned)
}

/// What a profile plans for each kind of asset (with no check disabled); for profiles whose
/// checks are named, the checks that may be named.
fn profile_checks(profile: &Profile) -> ProfileChecks {
    // One value standing for every asset of its kind (URLs differ by scheme only).
    let for_asset = |asset_kind: AssetKind, value: &str| -> Vec<CheckKind> {
        match profile.checks {
            Some(kinds) => kinds
                .iter()
                .copied()
                .filter(|kind| runs_by_default_on(*kind, asset_kind, value))
                .collect(),
            None => CheckKind::ALL
                .iter()
                .copied()
                .filter(|kind| definition(*kind).applies_to.contains(&asset_kind))
                .collect(),
        }
    };
    if profile.unavailable.is_some() {
        return ProfileChecks::default();
    }
    ProfileChecks {
        http_url: for_asset(AssetKind::Url, "http://example.com/"),
        https_url: for_asset(AssetKind::Url, "https://example.com/"),
        domain: for_asset(AssetKind::Domain, "example.com"),
        ip: for_asset(AssetKind::Ip, "192.0.2.1"),
        cidr: for_asset(AssetKind::Cidr, "192.0.2.0/24"),
        api: for_asset(AssetKind::Api, "https://example.com/openapi.json"),
    }
}

/// The catalog as the API shows it.
pub fn catalog() -> Catalog {
    Catalog {
        definitions: DEFINITIONS
            .iter()
            .map(|definition| CheckDefinition {
                key: definition.key,
                name: definition.name.into(),
                category: definition.key.category().into(),
                executor: definition.executor,
                description: definition.description.into(),
                max_severity: definition.max_severity,
                applies_to: definition.applies_to.to_vec(),
                runs_by_default_on: definition.runs_by_default_on.to_vec(),
            })
            .collect(),
        profiles: PROFILES
            .iter()
            .map(|profile| ProfileDefinition {
                key: profile.key,
                name: profile.name.into(),
                description: profile.description.into(),
                available: profile.unavailable.is_none(),
                unavailable_reason: profile.unavailable.map(str::to_string),
                takes_checks: profile.key.takes_checks(),
                checks: profile_checks(profile),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s4e_types::{AssetId, OrgId};

    /// The checks of a scan of `asset` in an organization with the default settings.
    fn planned(
        asset: &Asset,
        requested: Option<&[CheckKind]>,
    ) -> Result<Vec<CheckKind>, PlanError> {
        plan(asset, None, requested, &ScanSettings::default()).map(|plan| plan.checks)
    }

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
            archived_at: None,
            tags: Vec::new(),
            criticality: Default::default(),
            owner: None,
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
            assert_eq!(definition(kind).key.category(), "web");
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
            planned(&url, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::HttpProbes,
                CheckKind::Exposure,
                CheckKind::Crawl
            ]
        );
        let https = asset(AssetKind::Url, "https://a.test/");
        assert_eq!(
            planned(&https, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::TlsCertificate,
                CheckKind::TlsProtocols,
                CheckKind::HttpProbes,
                CheckKind::Exposure,
                CheckKind::Crawl
            ]
        );
        let domain = asset(AssetKind::Domain, "a.test");
        assert_eq!(
            planned(&domain, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::Ports,
                CheckKind::TlsCertificate,
                CheckKind::TlsProtocols,
                CheckKind::HttpProbes,
                CheckKind::Exposure,
                CheckKind::Dns,
                CheckKind::Subdomains,
                CheckKind::Crawl
            ]
        );
        let ip = asset(AssetKind::Ip, "192.0.2.1");
        assert_eq!(
            planned(&ip, None).unwrap(),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::Ports,
                CheckKind::HttpProbes,
                CheckKind::Exposure,
                CheckKind::Crawl
            ]
        );
        assert_eq!(
            planned(&url, Some(&[CheckKind::Exposure])).unwrap(),
            vec![CheckKind::Exposure]
        );
        assert_eq!(
            planned(&url, Some(&[CheckKind::Ports])).unwrap(),
            vec![CheckKind::Ports]
        );
        assert!(planned(&url, Some(&[])).is_err());
        // DNS records are a domain's: not for URLs and IPs, even on request.
        assert!(planned(&url, Some(&[CheckKind::Dns])).is_err());
        assert!(planned(&ip, Some(&[CheckKind::Dns])).is_err());
        assert_eq!(
            planned(&domain, Some(&[CheckKind::Dns])).unwrap(),
            vec![CheckKind::Dns]
        );
        assert_eq!(target_for(CheckKind::Dns, &domain), "a.test");
        // The protocol check goes where the certificate check goes, and gets the same target;
        // an IP gets it on request.
        for kind in [CheckKind::TlsCertificate, CheckKind::TlsProtocols] {
            assert_eq!(definition(kind).key.category(), "tls");
            assert_eq!(target_for(kind, &https), "https://a.test/");
            assert_eq!(target_for(kind, &domain), "a.test");
            assert_eq!(planned(&ip, Some(&[kind])).unwrap(), vec![kind]);
        }
        assert_eq!(definition(CheckKind::Dns).key.category(), "dns");
        assert_eq!(
            planned(
                &url,
                Some(&[CheckKind::HttpHeaders, CheckKind::HttpHeaders])
            )
            .unwrap(),
            vec![CheckKind::HttpHeaders]
        );
    }

    #[test]
    fn profiles_plan_what_they_say_per_asset_kind() {
        let settings = ScanSettings::default();
        let light = |asset: &Asset| {
            plan(asset, Some(ScanProfile::Light), None, &settings)
                .unwrap()
                .checks
        };
        assert_eq!(
            light(&asset(AssetKind::Url, "http://a.test/")),
            vec![CheckKind::HttpHeaders]
        );
        assert_eq!(
            light(&asset(AssetKind::Url, "https://a.test/")),
            vec![CheckKind::HttpHeaders, CheckKind::TlsCertificate]
        );
        assert_eq!(
            light(&asset(AssetKind::Domain, "a.test")),
            vec![
                CheckKind::HttpHeaders,
                CheckKind::TlsCertificate,
                CheckKind::Dns
            ]
        );
        assert_eq!(
            light(&asset(AssetKind::Ip, "192.0.2.1")),
            vec![CheckKind::HttpHeaders]
        );
        let url = asset(AssetKind::Url, "http://a.test/");
        // Named checks are `custom`; no profile and no checks: the organization's default.
        assert_eq!(
            plan(&url, None, Some(&[CheckKind::Exposure]), &settings)
                .unwrap()
                .profile,
            ScanProfile::Custom
        );
        assert_eq!(
            plan(&url, None, None, &settings).unwrap().profile,
            ScanProfile::Full
        );
        let light_default = ScanSettings {
            default_profile: ScanProfile::Light,
            ..ScanSettings::default()
        };
        assert_eq!(
            plan(&url, None, None, &light_default).unwrap(),
            Plan {
                profile: ScanProfile::Light,
                checks: vec![CheckKind::HttpHeaders]
            }
        );
        // single: exactly one check.
        assert_eq!(
            plan(
                &url,
                Some(ScanProfile::Single),
                Some(&[CheckKind::HttpProbes]),
                &settings
            )
            .unwrap()
            .checks,
            vec![CheckKind::HttpProbes]
        );
        for requested in [
            None,
            Some(&[][..]),
            Some(&[CheckKind::HttpHeaders, CheckKind::Exposure][..]),
        ] {
            assert!(matches!(
                plan(&url, Some(ScanProfile::Single), requested, &settings),
                Err(PlanError::Invalid(message)) if message.starts_with("checks:")
            ));
        }
        // Profiles that choose their checks take none; crawl_only is refused, saying why.
        assert!(matches!(
            plan(
                &url,
                Some(ScanProfile::Light),
                Some(&[CheckKind::HttpHeaders]),
                &settings
            ),
            Err(PlanError::Invalid(_))
        ));
        assert_eq!(
            plan(&url, Some(ScanProfile::CrawlOnly), None, &settings)
                .unwrap()
                .checks,
            vec![CheckKind::Crawl]
        );
        assert!(matches!(
            plan(&url, Some(ScanProfile::Custom), None, &settings),
            Err(PlanError::Invalid(_))
        ));
    }

    #[test]
    fn disabled_checks_are_never_planned() {
        let settings = ScanSettings {
            disabled_checks: vec![CheckKind::Exposure, CheckKind::Ports],
            ..ScanSettings::default()
        };
        let domain = asset(AssetKind::Domain, "a.test");
        assert_eq!(
            plan(&domain, Some(ScanProfile::Full), None, &settings)
                .unwrap()
                .checks,
            vec![
                CheckKind::HttpHeaders,
                CheckKind::TlsCertificate,
                CheckKind::TlsProtocols,
                CheckKind::HttpProbes,
                CheckKind::Dns,
                CheckKind::Subdomains,
                CheckKind::Crawl
            ]
        );
        for profile in [Some(ScanProfile::Single), None] {
            assert!(matches!(
                plan(&domain, profile, Some(&[CheckKind::Exposure]), &settings),
                Err(PlanError::Refused(message)) if message.contains("exposure")
            ));
        }
        let nothing_left = ScanSettings {
            disabled_checks: vec![CheckKind::HttpHeaders],
            ..ScanSettings::default()
        };
        let ip = asset(AssetKind::Ip, "192.0.2.1");
        assert!(matches!(
            plan(&ip, Some(ScanProfile::Light), None, &nothing_left),
            Err(PlanError::Refused(_))
        ));
    }

    #[test]
    fn the_catalog_lists_every_check_and_profile() {
        let catalog = catalog();
        assert_eq!(catalog.definitions.len(), CheckKind::ALL.len());
        assert_eq!(catalog.profiles.len(), ScanProfile::ALL.len());
        let light = catalog
            .profiles
            .iter()
            .find(|profile| profile.key == ScanProfile::Light)
            .unwrap();
        assert!(light.available);
        assert_eq!(
            light.checks.domain,
            vec![
                CheckKind::HttpHeaders,
                CheckKind::TlsCertificate,
                CheckKind::Dns
            ]
        );
        let crawl = catalog
            .profiles
            .iter()
            .find(|profile| profile.key == ScanProfile::CrawlOnly)
            .unwrap();
        assert!(crawl.available);
        assert_eq!(crawl.checks.https_url, vec![CheckKind::Crawl]);
        let single = catalog
            .profiles
            .iter()
            .find(|profile| profile.key == ScanProfile::Single)
            .unwrap();
        assert!(single.takes_checks);
        assert!(!single.checks.http_url.contains(&CheckKind::Dns));
        assert!(single.checks.domain.contains(&CheckKind::Dns));
    }
}
