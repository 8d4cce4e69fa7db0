//! The service inventory: what the port scans saw listening on each asset, since when, and
//! when it went away.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AssetId, OrgId, RunId};

/// One service a port scan saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedService {
    pub port: u16,
    /// The protocol recognised (nmap's names: `ssh`, `http`, `tls`, `postgresql` …).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// Whether it spoke TLS.
    #[serde(default)]
    pub tls: bool,
}

/// Internal: what a check saw of its target besides findings, reported with its job for the
/// inventory: a port scan's services, host names found (candidate assets), technologies
/// identified, the certificate a TLS service presented.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ObservedServices>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovered: Vec<crate::discovery::DiscoveredName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub technologies: Vec<ObservedTechnology>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<ObservedCertificate>,
}

/// What kind of thing a technology is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TechnologyCategory {
    WebServer,
    Language,
    Framework,
    Cms,
    JavascriptLibrary,
}

impl TechnologyCategory {
    pub const ALL: [TechnologyCategory; 5] = [
        TechnologyCategory::WebServer,
        TechnologyCategory::Language,
        TechnologyCategory::Framework,
        TechnologyCategory::Cms,
        TechnologyCategory::JavascriptLibrary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TechnologyCategory::WebServer => "web_server",
            TechnologyCategory::Language => "language",
            TechnologyCategory::Framework => "framework",
            TechnologyCategory::Cms => "cms",
            TechnologyCategory::JavascriptLibrary => "javascript_library",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == value)
    }
}

/// Internal: a technology a check identified, with what gave it away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedTechnology {
    /// As its makers write it: `nginx`, `PHP`, `WordPress`, `jQuery`.
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    pub category: TechnologyCategory,
    /// Where it was seen, e.g. `header Server: nginx/1.18.0`.
    pub evidence: String,
}

/// Internal: the certificate a TLS service of the asset presented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedCertificate {
    pub port: u16,
    /// The SHA-256 of its DER encoding, lowercase hex.
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_after: String,
}

/// A technology of an asset as the inventory keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetTechnology {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub asset_id: AssetId,
    pub name: String,
    /// The version last seen, where it showed.
    pub version: Option<String>,
    pub category: TechnologyCategory,
    /// What last gave it away.
    pub evidence: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The scan that last saw it.
    pub last_run_id: RunId,
}

/// Which technologies to list: `limit` (1–1000, default 100) at a time after the previous
/// page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TechnologyQuery {
    pub asset_id: Option<AssetId>,
    /// The technology's name, any case (e.g. `nginx`).
    #[param(max_length = 64)]
    pub name: Option<String>,
    pub category: Option<TechnologyCategory>,
    pub after: Option<uuid::Uuid>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl TechnologyQuery {
    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = crate::api::PageQuery {
            after: self.after,
            limit: self.limit,
        }
        .pairs();
        if let Some(asset_id) = self.asset_id {
            pairs.push(("asset_id", asset_id.to_string()));
        }
        if let Some(name) = &self.name {
            pairs.push(("name", name.clone()));
        }
        if let Some(category) = self.category {
            pairs.push(("category", category.as_str().into()));
        }
        pairs
    }
}

/// Internal: what a port scan saw of its target, reported with its job: every open TCP port
/// among those it scanned (`scanned`: `None` for every port). A service of the asset on a
/// scanned port that is not among them is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedServices {
    pub scanned: Option<Vec<u16>>,
    pub open: Vec<ObservedService>,
}

/// A service of an asset as the inventory keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetService {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub asset_id: AssetId,
    /// For a range: the host of it the service is on; absent for every other asset.
    pub host: Option<String>,
    pub port: i32,
    /// `tcp` (the port scan connects over TCP).
    pub transport: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub tls: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When a scan of its port last found it closed; empty while it is there.
    pub gone_at: Option<DateTime<Utc>>,
    /// The scan that last saw it.
    pub last_run_id: RunId,
}

/// Which services to list: newest first, `limit` (1–1000, default 100) at a time after the
/// previous page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServiceQuery {
    pub asset_id: Option<AssetId>,
    #[param(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    /// The protocol recognised, e.g. `ssh`.
    #[param(max_length = 64)]
    pub service: Option<String>,
    /// Also the services that went away (default false).
    #[serde(default)]
    pub include_gone: bool,
    pub after: Option<uuid::Uuid>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl ServiceQuery {
    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = crate::api::PageQuery {
            after: self.after,
            limit: self.limit,
        }
        .pairs();
        if let Some(asset_id) = self.asset_id {
            pairs.push(("asset_id", asset_id.to_string()));
        }
        if let Some(port) = self.port {
            pairs.push(("port", port.to_string()));
        }
        if let Some(service) = &self.service {
            pairs.push(("service", service.clone()));
        }
        if self.include_gone {
            pairs.push(("include_gone", "true".into()));
        }
        pairs
    }
}

/// Which services of one asset to list, as [`ServiceQuery`] without the asset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssetServiceQuery {
    /// Also the services that went away (default false).
    #[serde(default)]
    pub include_gone: bool,
    pub after: Option<uuid::Uuid>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl AssetServiceQuery {
    pub fn for_asset(self, asset_id: AssetId) -> ServiceQuery {
        ServiceQuery {
            asset_id: Some(asset_id),
            include_gone: self.include_gone,
            after: self.after,
            limit: self.limit,
            ..ServiceQuery::default()
        }
    }
}
