//! Whose assets may be scanned in earnest. An asset is verified when its owner proved it (a
//! file under `/.well-known/`, a meta tag, a DNS TXT record) or when it sits under a verified
//! domain of the same organization (`shop.example.com` and `https://example.com/cart` under
//! `example.com`). An unverified asset gets one passive check at most: what anyone's browser
//! would see anyway.
//!
//! A range (CIDR) is proven by a TXT record at its reverse zone, which only the range's holder
//! is delegated (`s4e_types::asset::reverse_zone`), or by the operator: an on-prem deployment
//! configures the ranges it vouches for (`S4E_OPERATOR_VERIFIED_RANGES`), and an IP or range
//! inside one of them is proven by the `operator` method.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use s4e_egress::dns::DnsClient;
use s4e_egress::ownership::{self, Proof};
use s4e_egress::{EgressPolicy, ReachError};
use s4e_types::api::VerificationAttempt;
use s4e_types::{Asset, AssetKind, CheckKind, VerificationMethod};

/// Checks that send one ordinary request and read what any visitor gets.
pub const PASSIVE_CHECKS: &[CheckKind] = &[CheckKind::HttpHeaders, CheckKind::TlsCertificate];

/// The host name of an asset: the URL's host, the domain, or the IP address.
fn host(asset: &Asset) -> Option<String> {
    match asset.kind {
        AssetKind::Domain | AssetKind::Ip => Some(asset.value.clone()),
        AssetKind::Url | AssetKind::Api => url::Url::parse(&asset.value)
            .ok()?
            .host_str()
            .map(|host| host.trim_matches(['[', ']']).to_ascii_lowercase()),
        AssetKind::Cidr => None,
    }
}

/// The name whose TXT record proves the asset: its host name, or a range's reverse zone.
fn txt_name(asset: &Asset) -> Option<String> {
    match asset.kind {
        AssetKind::Cidr => s4e_types::asset::reverse_zone(&asset.value),
        _ => host(asset),
    }
}

/// The verified domain an asset inherits its verification from, if any.
pub fn inherited_from<'a>(asset: &Asset, verified_domains: &'a [String]) -> Option<&'a str> {
    let host = host(asset)?;
    verified_domains
        .iter()
        .find(|domain| host == **domain || host.ends_with(&format!(".{domain}")))
        .map(String::as_str)
}

/// Whether a scan of the planned `checks` may run on an unverified asset: one passive check.
pub fn allowed_unverified(checks: &[CheckKind]) -> bool {
    matches!(checks, [one] if PASSIVE_CHECKS.contains(one))
}

/// The methods that apply to an asset: the web ones where there is a site, DNS for names and
/// ranges, the operator's word for addresses.
fn applicable(asset: &Asset) -> Vec<VerificationMethod> {
    use VerificationMethod::{DnsTxt, HttpFile, MetaTag, Operator};
    match asset.kind {
        AssetKind::Domain => vec![HttpFile, MetaTag, DnsTxt],
        AssetKind::Url | AssetKind::Api
            if host(asset).is_some_and(|h| h.parse::<IpAddr>().is_err()) =>
        {
            vec![HttpFile, MetaTag, DnsTxt]
        }
        AssetKind::Url | AssetKind::Api => vec![HttpFile, MetaTag],
        AssetKind::Ip => vec![HttpFile, MetaTag, Operator],
        AssetKind::Cidr => vec![DnsTxt, Operator],
    }
}

/// The sites the web methods look at: the URL itself, or the domain's or IP's site over
/// HTTPS and then HTTP.
fn sites(asset: &Asset) -> Vec<String> {
    match asset.kind {
        AssetKind::Url | AssetKind::Api => vec![asset.value.clone()],
        AssetKind::Domain => vec![
            format!("https://{}/", asset.value),
            format!("http://{}/", asset.value),
        ],
        AssetKind::Ip if asset.value.contains(':') => vec![
            format!("https://[{}]/", asset.value),
            format!("http://[{}]/", asset.value),
        ],
        AssetKind::Ip => vec![
            format!("https://{}/", asset.value),
            format!("http://{}/", asset.value),
        ],
        AssetKind::Cidr => Vec::new(),
    }
}

/// How verification reaches the network.
#[derive(Clone, Debug)]
pub struct Verifier {
    pub egress: EgressPolicy,
    pub timeout: Duration,
    pub dns: Option<DnsClient>,
    /// The ranges the operator vouches for (`S4E_OPERATOR_VERIFIED_RANGES`).
    pub operator_ranges: Vec<IpNet>,
}

impl Verifier {
    /// Tries `only` (when it applies) or every applicable method, and reports each attempt.
    pub async fn attempt(
        &self,
        asset: &Asset,
        only: Option<VerificationMethod>,
    ) -> Result<Vec<VerificationAttempt>, String> {
        let applicable = applicable(asset);
        let methods = match only {
            Some(method) if !applicable.contains(&method) => {
                return Err(format!(
                    "method: {} does not apply to {} assets",
                    method.as_str(),
                    asset.kind.as_str()
                ));
            }
            Some(method) => vec![method],
            None => applicable,
        };
        let mut attempts = Vec::with_capacity(methods.len());
        for method in methods {
            let (proof, reached) = match method {
                VerificationMethod::HttpFile | VerificationMethod::MetaTag => {
                    self.web(asset, method).await
                }
                VerificationMethod::DnsTxt => self.dns_txt(asset).await,
                VerificationMethod::Operator => (self.operator(asset), true),
            };
            attempts.push(VerificationAttempt {
                method,
                proven: proof.proven,
                reached,
                detail: proof.detail,
            });
        }
        Ok(attempts)
    }

    /// Whether the asset's addresses lie inside a range the operator vouches for.
    fn operator(&self, asset: &Asset) -> Proof {
        let addresses: Option<IpNet> = match asset.kind {
            AssetKind::Ip => asset.value.parse::<IpAddr>().ok().map(IpNet::from),
            AssetKind::Cidr => asset.value.parse().ok(),
            _ => None,
        };
        let within = addresses.and_then(|addresses| {
            self.operator_ranges
                .iter()
                .find(|range| range.contains(&addresses))
        });
        match within {
            Some(range) => Proof {
                proven: true,
                detail: format!("inside {range}, which the operator vouches for"),
            },
            None => Proof {
                proven: false,
                detail: "not inside a range the operator vouches for \
                         (S4E_OPERATOR_VERIFIED_RANGES)"
                    .into(),
            },
        }
    }

    /// A TXT record `s4e-verification=<token>` at the asset's name (a range's reverse zone).
    /// With whether the name answered.
    async fn dns_txt(&self, asset: &Asset) -> (Proof, bool) {
        let Some(dns) = &self.dns else {
            let proof = Proof {
                proven: false,
                detail: "no DNS resolver is configured for verification".into(),
            };
            return (proof, false);
        };
        let Some(name) = txt_name(asset) else {
            let proof = Proof {
                proven: false,
                detail: "the asset has no host name".into(),
            };
            return (proof, true);
        };
        let lookup = tokio::time::timeout(self.timeout, dns.txt(&name)).await;
        match lookup {
            Err(_) => (
                Proof {
                    proven: false,
                    detail: format!("the TXT lookup of {name} timed out"),
                },
                false,
            ),
            Ok(Err(error)) => (
                Proof {
                    proven: false,
                    detail: format!("the TXT lookup of {name} failed: {error}"),
                },
                false,
            ),
            Ok(Ok(records)) => {
                let token = &asset.verification_token;
                let proven = records
                    .records()
                    .iter()
                    .any(|record| ownership::txt_proves(record, token));
                let proof = Proof {
                    proven,
                    detail: if proven {
                        format!("a TXT record at {name} holds the token")
                    } else {
                        format!("no TXT record at {name} holds the token")
                    },
                };
                (proof, true)
            }
        }
    }

    /// The first site that answers decides; one that cannot be reached lets the next try.
    /// With whether any answered (an address the egress policy refuses counts as an answer:
    /// the name now points somewhere this platform will not go).
    async fn web(&self, asset: &Asset, method: VerificationMethod) -> (Proof, bool) {
        let token = &asset.verification_token;
        let mut failures = Vec::new();
        for site in sites(asset) {
            let result = match method {
                VerificationMethod::HttpFile => {
                    ownership::http_file(&site, token, &self.egress, self.timeout).await
                }
                _ => ownership::meta_tag(&site, token, &self.egress, self.timeout).await,
            };
            match result {
                Ok(proof) => return (proof, true),
                Err(error @ ReachError::Egress(_)) => {
                    // A refused address stays refused over the other scheme.
                    let proof = Proof {
                        proven: false,
                        detail: error.to_string(),
                    };
                    return (proof, true);
                }
                Err(error) => failures.push(format!("{site}: {error}")),
            }
        }
        let proof = Proof {
            proven: false,
            detail: failures.join("; "),
        };
        (proof, false)
    }
}

#[cfg(test)]
mod tests {
    use s4e_types::{AssetId, OrgId};

    use super::*;

    fn asset(kind: AssetKind, value: &str) -> Asset {
        Asset {
            id: AssetId::new(),
            org_id: OrgId::new(),
            kind,
            value: value.into(),
            name: None,
            created_at: chrono::Utc::now(),
            verification_token: "t".into(),
            verified_at: None,
            verification_method: None,
            archived_at: None,
            tags: Vec::new(),
            criticality: Default::default(),
            owner: None,
        }
    }

    #[test]
    fn subdomains_and_urls_inherit_a_verified_domain() {
        let domains = vec!["example.com".to_string()];
        for (kind, value) in [
            (AssetKind::Domain, "example.com"),
            (AssetKind::Domain, "shop.example.com"),
            (AssetKind::Url, "https://a.b.example.com:8443/cart"),
        ] {
            assert_eq!(
                inherited_from(&asset(kind, value), &domains),
                Some("example.com"),
                "{value}"
            );
        }
        for (kind, value) in [
            (AssetKind::Domain, "badexample.com"),
            (AssetKind::Domain, "example.com.evil.test"),
            (AssetKind::Url, "https://evil.test/example.com"),
            (AssetKind::Ip, "192.0.2.1"),
        ] {
            assert_eq!(
                inherited_from(&asset(kind, value), &domains),
                None,
                "{value}"
            );
        }
    }

    #[test]
    fn unverified_assets_get_one_passive_check() {
        assert!(allowed_unverified(&[CheckKind::HttpHeaders]));
        assert!(allowed_unverified(&[CheckKind::TlsCertificate]));
        assert!(!allowed_unverified(&[]));
        assert!(!allowed_unverified(&[CheckKind::Ports]));
        assert!(!allowed_unverified(&[
            CheckKind::HttpHeaders,
            CheckKind::TlsCertificate
        ]));
    }

    #[test]
    fn methods_follow_the_asset_kind() {
        use VerificationMethod::*;
        assert_eq!(
            applicable(&asset(AssetKind::Domain, "example.com")),
            [HttpFile, MetaTag, DnsTxt]
        );
        assert_eq!(
            applicable(&asset(AssetKind::Url, "http://127.0.0.1:8080/")),
            [HttpFile, MetaTag]
        );
        assert_eq!(
            applicable(&asset(AssetKind::Ip, "192.0.2.1")),
            [HttpFile, MetaTag, Operator]
        );
        assert_eq!(
            applicable(&asset(AssetKind::Cidr, "192.0.2.0/24")),
            [DnsTxt, Operator]
        );
        assert_eq!(
            txt_name(&asset(AssetKind::Cidr, "192.0.2.0/24")).unwrap(),
            "2.0.192.in-addr.arpa"
        );
    }
}
