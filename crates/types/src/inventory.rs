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
