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
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Url => "url",
            AssetKind::Domain => "domain",
            AssetKind::Ip => "ip",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "url" => Some(AssetKind::Url),
            "domain" => Some(AssetKind::Domain),
            "ip" => Some(AssetKind::Ip),
            _ => None,
        }
    }
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
}

/// Which assets a list holds: archived ones only when asked for.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams,
)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssetListQuery {
    #[serde(default)]
    pub archived: bool,
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
        pairs
    }
}

/// A change to an asset as its owner makes it: its name (`null` clears it). The value is
/// what was proven, so it does not change; register the new one instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAsset {
    #[schema(max_length = 200)]
    pub name: Option<String>,
}

/// How an owner proves an asset is theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMethod {
    /// `/.well-known/s4e-verification.txt` on the site holds the token.
    HttpFile,
    /// The site's page has `<meta name="s4e-verification" content="TOKEN">`.
    MetaTag,
    /// A TXT record `s4e-verification=TOKEN` at the domain.
    DnsTxt,
}

impl VerificationMethod {
    pub const ALL: &'static [VerificationMethod] = &[
        VerificationMethod::HttpFile,
        VerificationMethod::MetaTag,
        VerificationMethod::DnsTxt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VerificationMethod::HttpFile => "http_file",
            VerificationMethod::MetaTag => "meta_tag",
            VerificationMethod::DnsTxt => "dns_txt",
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
}

/// The longest value an asset may have.
pub const MAX_VALUE_CHARS: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    #[error("value: {0}")]
    InvalidValue(String),
    #[error("name: must be at most 200 characters")]
    NameTooLong,
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
            AssetKind::Url => normalize_url(value)?,
            AssetKind::Domain => normalize_domain(value)?,
            AssetKind::Ip => value
                .parse::<std::net::IpAddr>()
                .map_err(|_| AssetError::InvalidValue("not an IP address".into()))?
                .to_string(),
        };
        Ok(NewAsset {
            kind: self.kind,
            value,
            name: self.name.clone(),
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

fn normalize_domain(value: &str) -> Result<String, AssetError> {
    let domain = value.trim_end_matches('.').to_ascii_lowercase();
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(valid_label) {
        return Err(AssetError::InvalidValue("not a domain name".into()));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(kind: AssetKind, value: &str) -> NewAsset {
        NewAsset {
            kind,
            value: value.into(),
            name: None,
        }
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
