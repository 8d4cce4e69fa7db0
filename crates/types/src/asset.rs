//! Assets: the things an organization owns and asks us to scan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AssetId, OrgId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Url,
    Domain,
    Ip,
    /// A range of addresses (`192.0.2.0/24`): its network checks run on each host in it.
    Cidr,
    /// An API, named by the URL of its OpenAPI 3 or Swagger 2 document: its operations are
    /// checked as endpoints, and its host as a URL's.
    Api,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Url => "url",
            AssetKind::Domain => "domain",
            AssetKind::Ip => "ip",
            AssetKind::Cidr => "cidr",
            AssetKind::Api => "api",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "url" => Some(AssetKind::Url),
            "domain" => Some(AssetKind::Domain),
            "ip" => Some(AssetKind::Ip),
            "cidr" => Some(AssetKind::Cidr),
            "api" => Some(AssetKind::Api),
            _ => None,
        }
    }
}

/// The default of how many addresses one range of an organization may hold (a /24 has 254
/// hosts): a range is expanded into a job per host, so its size is a cost the operator sets.
pub const DEFAULT_MAX_CIDR_HOSTS: i64 = 256;

/// The hosts a range's network checks run on: every address but the network and broadcast
/// addresses of an IPv4 range of /30 or wider. `None` when `value` is not a range.
pub fn cidr_hosts(value: &str) -> Option<impl Iterator<Item = std::net::IpAddr>> {
    let net: ipnet::IpNet = value.parse().ok()?;
    Some(net.hosts())
}

/// How many hosts [`cidr_hosts`] gives, without listing them (an IPv6 range may hold more
/// than anyone can list).
pub fn cidr_host_count(value: &str) -> Option<u128> {
    let net: ipnet::IpNet = value.parse().ok()?;
    Some(match net {
        ipnet::IpNet::V4(net) => {
            let size = 1u128 << (32 - u32::from(net.prefix_len()));
            if size > 2 { size - 2 } else { size }
        }
        ipnet::IpNet::V6(net) => 1u128
            .checked_shl(128 - u32::from(net.prefix_len()))
            .unwrap_or(u128::MAX),
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Asset {
    pub id: AssetId,
    pub org_id: OrgId,
    pub kind: AssetKind,
    /// The normalized value: a URL without fragment, a lowercase domain, an IP address.
    pub value: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Proof of ownership: the owner publishes this token where verification looks for it
    /// (see [`VerificationMethod`]).
    pub verification_token: String,
    /// When the asset itself was last proven owned; absent while unproven.
    pub verified_at: Option<DateTime<Utc>>,
    pub verification_method: Option<VerificationMethod>,
    /// When it was taken out of the inventory: no longer listed by default, scanned or proven
    /// again; its scans and findings are kept.
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
    /// Labels of the owner's choosing, `key` or `key=value` (e.g. `env=prod`, `pci`); schedules
    /// and rules can name them.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub criticality: Criticality,
    /// Who answers for it (a team, an address).
    #[serde(default)]
    pub owner: Option<String>,
}

/// Which assets a list holds: archived ones only when asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssetListQuery {
    #[serde(default)]
    pub archived: bool,
    /// Only assets with this tag: `key=value` exactly, or a `key` with any value or none.
    #[param(max_length = 265)]
    pub tag: Option<String>,
    /// Only assets of this criticality.
    pub criticality: Option<Criticality>,
    /// The previous page's `next_cursor`.
    pub after: Option<uuid::Uuid>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl AssetListQuery {
    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = crate::api::PageQuery {
            after: self.after,
            limit: self.limit,
        }
        .pairs();
        if self.archived {
            pairs.push(("archived", "true".to_string()));
        }
        if let Some(tag) = &self.tag {
            pairs.push(("tag", tag.clone()));
        }
        if let Some(criticality) = self.criticality {
            pairs.push(("criticality", criticality.as_str().to_string()));
        }
        pairs
    }
}

/// A change to an asset as its owner makes it: the fields named are replaced (`null` clears
/// the name or the owner). The value is what was proven, so it does not change; register the
/// new one instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAsset {
    #[serde(default, with = "crate::api::double_option")]
    #[schema(max_length = 200, value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default)]
    pub criticality: Option<Criticality>,
    #[serde(default, with = "crate::api::double_option")]
    #[schema(max_length = 200, value_type = Option<String>)]
    pub owner: Option<Option<String>>,
}

/// How much an asset matters to its owner: weighs its findings in the security score and can
/// be named by rules.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub const ALL: [Criticality; 4] = [
        Criticality::Low,
        Criticality::Medium,
        Criticality::High,
        Criticality::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// How an owner proves an asset is theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMethod {
    /// `/.well-known/s4e-verification.txt` on the site holds the token.
    HttpFile,
    /// The site's page has `<meta name="s4e-verification" content="TOKEN">`.
    MetaTag,
    /// A TXT record `s4e-verification=TOKEN` at the domain, or for a range at its reverse
    /// zone (see [`reverse_zone`]).
    DnsTxt,
    /// The deployment's operator vouches for the addresses: the IP or range lies inside one
    /// the scan service is configured with (`S4E_OPERATOR_VERIFIED_RANGES`), for on-prem
    /// deployments scanning their own networks.
    Operator,
}

impl VerificationMethod {
    pub const ALL: &'static [VerificationMethod] = &[
        VerificationMethod::HttpFile,
        VerificationMethod::MetaTag,
        VerificationMethod::DnsTxt,
        VerificationMethod::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerificationMethod::HttpFile => "http_file",
            VerificationMethod::MetaTag => "meta_tag",
            VerificationMethod::DnsTxt => "dns_txt",
            VerificationMethod::Operator => "operator",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == value)
    }
}

/// An asset as a client submits it, before validation.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    pub kind: AssetKind,
    #[schema(
        min_length = 1,
        max_length = 2048,
        example = "https://shop.example.com/"
    )]
    pub value: String,
    #[schema(max_length = 200)]
    #[serde(default)]
    pub name: Option<String>,
    /// `key` or `key=value` each (see `PUT /api/v1/assets/{id}/tags`).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    /// Default `medium`.
    #[serde(default)]
    pub criticality: Criticality,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub owner: Option<String>,
}

/// The longest value an asset may have.
pub const MAX_VALUE_CHARS: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    #[error("value: {0}")]
    InvalidValue(String),
    #[error("name: must be at most 200 characters")]
    NameTooLong,
    #[error("owner: must be at most 200 characters")]
    OwnerTooLong,
    #[error("{0}")]
    InvalidTags(String),
}

/// Tags one asset may carry.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_KEY_CHARS: usize = 64;
const MAX_TAG_VALUE_CHARS: usize = 200;

/// A tag as stored: a key of lowercase letters, digits and `_ . : / -` (1–64), and an
/// optional `=value` (1–200 characters, no control characters), trimmed.
pub fn normalize_tag(tag: &str) -> Result<String, String> {
    let tag = tag.trim();
    let (key, value) = match tag.split_once('=') {
        Some((key, value)) => (key.trim(), Some(value.trim())),
        None => (tag, None),
    };
    let key = key.to_ascii_lowercase();
    let key_ok = !key.is_empty()
        && key.chars().count() <= MAX_TAG_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/-".contains(c));
    if !key_ok || value.is_some_and(|value| value.contains(';')) {
        return Err(format!(
            "tag {tag:?}: the key is 1-{MAX_TAG_KEY_CHARS} of a-z, 0-9, _ . : / -, and no `;` \
             anywhere (it separates tags in CSV)"
        ));
    }
    match value {
        None => Ok(key),
        Some(value)
            if value.is_empty()
                || value.chars().count() > MAX_TAG_VALUE_CHARS
                || value.chars().any(char::is_control) =>
        {
            Err(format!(
                "tag {tag:?}: the value is 1-{MAX_TAG_VALUE_CHARS} characters, none a control"
            ))
        }
        Some(value) => Ok(format!("{key}={value}")),
    }
}

/// A list of tags as stored: each normalized, duplicates dropped, order kept.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("tags: at most {MAX_TAGS}"));
    }
    let mut normalized: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = normalize_tag(tag).map_err(|error| format!("tags: {error}"))?;
        if !normalized.contains(&tag) {
            normalized.push(tag);
        }
    }
    Ok(normalized)
}

/// Whether an asset's tags match `wanted`: `key=value` exactly, or a bare `key` with any
/// value or none. Both sides normalized.
pub fn has_tag(tags: &[String], wanted: &str) -> bool {
    tags.iter().any(|tag| {
        tag == wanted
            || (!wanted.contains('=') && tag.split_once('=').is_some_and(|(key, _)| key == wanted))
    })
}

/// `PUT /api/v1/assets/{id}/tags`: the asset's tags, replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetTags {
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
}

/// `POST /api/v1/assets/bulk-tags`: tags added to and removed from many assets at once, all or
/// none. A bare key in `remove` removes the key with any value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAssetTags {
    #[schema(min_items = 1, max_items = 1000)]
    pub asset_ids: Vec<crate::AssetId>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub add: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub remove: Vec<String>,
}

impl BulkAssetTags {
    pub const MAX_ASSETS: usize = 1000;

    /// The change normalized, or what is wrong with it.
    pub fn normalized(&self) -> Result<BulkAssetTags, String> {
        if self.asset_ids.is_empty() || self.asset_ids.len() > Self::MAX_ASSETS {
            return Err(format!("asset_ids: 1-{} asset ids", Self::MAX_ASSETS));
        }
        let add = normalize_tags(&self.add).map_err(|error| format!("add.{error}"))?;
        let remove = normalize_tags(&self.remove).map_err(|error| format!("remove.{error}"))?;
        if add.is_empty() && remove.is_empty() {
            return Err("add, remove: name a tag to add or to remove".into());
        }
        Ok(BulkAssetTags {
            asset_ids: self.asset_ids.clone(),
            add,
            remove,
        })
    }
}

/// The most rows one import may hold.
pub const MAX_IMPORT_ROWS: usize = 5_000;

/// `POST /api/v1/assets/import`: the rows as JSON objects (each as `POST /api/v1/assets`
/// takes), or as CSV text with a header line naming `kind` and `value` and any of `name`,
/// `criticality`, `owner` and `tags` (tags separated by `;`). Each row is judged on its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetImport {
    #[serde(default)]
    #[schema(value_type = Option<Vec<NewAsset>>, max_items = 5000)]
    pub assets: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    #[schema(
        max_length = 1000000,
        example = "kind,value,criticality,tags\nurl,https://shop.example.com/,high,env=prod;pci\n"
    )]
    pub csv: Option<String>,
}

/// What an import did with one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Created,
    /// The organization has the asset already (it is left as it is).
    Exists,
    Refused,
}

/// One row of an import's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRow {
    /// 1 for the first row (the line after a CSV header).
    pub row: u32,
    pub value: Option<String>,
    pub outcome: ImportOutcome,
    /// Why it was refused, naming the field.
    pub reason: Option<String>,
    pub asset_id: Option<crate::AssetId>,
}

/// What an import did, row by row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: u32,
    pub existing: u32,
    pub refused: u32,
    pub rows: Vec<ImportRow>,
}

/// How many assets a bulk change of tags changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkAssetTagsResult {
    pub changed: u32,
}

impl NewAsset {
    /// Validates the value for its kind and returns it normalized.
    pub fn normalized(&self) -> Result<NewAsset, AssetError> {
        if self
            .name
            .as_ref()
            .is_some_and(|name| name.chars().count() > 200)
        {
            return Err(AssetError::NameTooLong);
        }
        let value = self.value.trim();
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(AssetError::InvalidValue(format!(
                "must be at most {MAX_VALUE_CHARS} characters"
            )));
        }
        let value = match self.kind {
            AssetKind::Url | AssetKind::Api => normalize_url(value)?,
            AssetKind::Domain => normalize_domain(value)?,
            AssetKind::Ip => value
                .parse::<std::net::IpAddr>()
                .map_err(|_| AssetError::InvalidValue("not an IP address".into()))?
                .to_string(),
            AssetKind::Cidr => normalize_cidr(value)?,
        };
        let owner = self
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|owner| !owner.is_empty());
        if owner.is_some_and(|owner| owner.chars().count() > 200) {
            return Err(AssetError::OwnerTooLong);
        }
        Ok(NewAsset {
            kind: self.kind,
            value,
            name: self.name.clone(),
            tags: normalize_tags(&self.tags).map_err(AssetError::InvalidTags)?,
            criticality: self.criticality,
            owner: owner.map(str::to_string),
        })
    }
}

fn normalize_url(value: &str) -> Result<String, AssetError> {
    let mut url = url::Url::parse(value)
        .map_err(|err| AssetError::InvalidValue(format!("not a URL ({err})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AssetError::InvalidValue(
            "only http and https URLs can be registered".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(AssetError::InvalidValue("a URL needs a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AssetError::InvalidValue(
            "credentials in the URL are not accepted".into(),
        ));
    }
    url.set_fragment(None);
    Ok(url.to_string())
}

/// The reverse DNS zone whose TXT record proves a range: the zone its holder is delegated.
/// That is the zone of the range's network address at the first octet (IPv6: nibble)
/// boundary at or below its prefix: `192.0.2.0/24` and `192.0.2.0/22` at
/// `2.0.192.in-addr.arpa`, `198.51.0.0/16` at `51.198.in-addr.arpa`. A range smaller than
/// a /24 is proven at its /24's zone (or by the operator).
pub fn reverse_zone(value: &str) -> Option<String> {
    let net: ipnet::IpNet = value.parse().ok()?;
    Some(match net {
        ipnet::IpNet::V4(net) => {
            let octets = usize::from(net.prefix_len().div_ceil(8).clamp(1, 3));
            let mut labels: Vec<String> = net.network().octets()[..octets]
                .iter()
                .map(u8::to_string)
                .collect();
            labels.reverse();
            format!("{}.in-addr.arpa", labels.join("."))
        }
        ipnet::IpNet::V6(net) => {
            let nibbles = usize::from(net.prefix_len().div_ceil(4).clamp(1, 31));
            let mut labels: Vec<String> = net
                .network()
                .octets()
                .iter()
                .flat_map(|byte| [byte >> 4, byte & 0xf])
                .take(nibbles)
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    })
}

/// `a.b.c.d/p` or `ipv6/p`, with no host bits set (a range is named by its network address).
fn normalize_cidr(value: &str) -> Result<String, AssetError> {
    let net: ipnet::IpNet = value.parse().map_err(|_| {
        AssetError::InvalidValue("not an address range such as 192.0.2.0/24".into())
    })?;
    if net.trunc() != net {
        return Err(AssetError::InvalidValue(format!(
            "host bits are set: the range is {}",
            net.trunc()
        )));
    }
    Ok(net.to_string())
}

fn normalize_domain(value: &str) -> Result<String, AssetError> {
    let domain = value.trim_end_matches('.').to_ascii_lowercase();
    if !is_host_name(&domain) {
        return Err(AssetError::InvalidValue("not a domain name".into()));
    }
    Ok(domain)
}

/// Whether `name` is a host name a domain asset may have: labels of letters, digits and
/// hyphens (1–63, no hyphen at either end), at least two of them, at most 253 characters; no
/// wildcard, no underscore.
pub fn is_host_name(name: &str) -> bool {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    name.len() <= 253 && name.contains('.') && name.split('.').all(valid_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(kind: AssetKind, value: &str) -> NewAsset {
        NewAsset {
            kind,
            value: value.into(),
            name: None,
            tags: Vec::new(),
            criticality: Criticality::Medium,
            owner: None,
        }
    }

    #[test]
    fn tags_are_normalized_and_matched_by_key_or_key_and_value() {
        assert_eq!(normalize_tag(" Env = prod ").unwrap(), "env=prod");
        assert_eq!(normalize_tag("PCI").unwrap(), "pci");
        assert!(normalize_tag("").is_err());
        assert!(normalize_tag("env=").is_err());
        assert!(normalize_tag("sp ace").unwrap_err().contains("key"));
        assert!(normalize_tag("k=a\u{7}b").unwrap_err().contains("control"));
        let tags = normalize_tags(&["env=prod".into(), "ENV=prod".into(), "pci".into()]).unwrap();
        assert_eq!(tags, ["env=prod", "pci"]);
        assert!(has_tag(&tags, "env"));
        assert!(has_tag(&tags, "env=prod"));
        assert!(!has_tag(&tags, "env=dev"));
        assert!(has_tag(&tags, "pci"));
        assert!(!has_tag(&tags, "pci=yes"));
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
    }

    #[test]
    fn urls_are_normalized_and_checked() {
        let ok = asset(AssetKind::Url, " https://Example.com/path#frag ").normalized();
        assert_eq!(ok.unwrap().value, "https://example.com/path");
        assert!(
            asset(AssetKind::Url, "ftp://example.com")
                .normalized()
                .is_err()
        );
        assert!(asset(AssetKind::Url, "not a url").normalized().is_err());
        assert!(
            asset(AssetKind::Url, "https://u:p@example.com/")
                .normalized()
                .is_err()
        );
    }

    #[test]
    fn ranges_are_checked_and_counted() {
        let range = asset(AssetKind::Cidr, " 192.0.2.0/24 ")
            .normalized()
            .unwrap();
        assert_eq!(range.value, "192.0.2.0/24");
        let error = asset(AssetKind::Cidr, "192.0.2.7/24")
            .normalized()
            .unwrap_err();
        assert!(error.to_string().contains("192.0.2.0/24"), "{error}");
        assert!(asset(AssetKind::Cidr, "192.0.2.0").normalized().is_err());
        assert!(asset(AssetKind::Cidr, "192.0.2.0/33").normalized().is_err());
        assert_eq!(cidr_host_count("192.0.2.0/24"), Some(254));
        assert_eq!(cidr_host_count("192.0.2.0/31"), Some(2));
        assert_eq!(cidr_host_count("192.0.2.9/32"), Some(1));
        assert_eq!(cidr_host_count("2001:db8::/120"), Some(256));
        assert_eq!(cidr_host_count("::/0"), Some(u128::MAX));
        let hosts: Vec<String> = cidr_hosts("192.0.2.0/30")
            .unwrap()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(hosts, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(cidr_hosts("192.0.2.0/24").unwrap().count(), 254);
        assert_eq!(cidr_hosts("2001:db8::/120").unwrap().count(), 256);
    }

    #[test]
    fn a_range_is_proven_at_its_reverse_zone() {
        assert_eq!(
            reverse_zone("192.0.2.0/24").unwrap(),
            "2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_zone("192.0.0.0/22").unwrap(),
            "0.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_zone("192.0.2.64/26").unwrap(),
            "2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_zone("198.51.0.0/16").unwrap(),
            "51.198.in-addr.arpa"
        );
        assert_eq!(reverse_zone("10.0.0.0/8").unwrap(), "10.in-addr.arpa");
        assert_eq!(
            reverse_zone("2001:db8::/32").unwrap(),
            "8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(reverse_zone("not a range"), None);
    }

    #[test]
    fn domains_and_ips_are_checked() {
        assert_eq!(
            asset(AssetKind::Domain, "Example.COM.")
                .normalized()
                .unwrap()
                .value,
            "example.com"
        );
        assert!(asset(AssetKind::Domain, "-bad-.com").normalized().is_err());
        assert!(asset(AssetKind::Domain, "localhost").normalized().is_err());
        assert_eq!(
            asset(AssetKind::Ip, "::1").normalized().unwrap().value,
            "::1"
        );
        assert!(asset(AssetKind::Ip, "300.1.1.1").normalized().is_err());
    }
}
