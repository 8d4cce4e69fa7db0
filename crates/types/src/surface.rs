//! How the attack surface changed over time: assets added and archived, services that appeared
//! and went, technologies identified and their versions changing, certificates replaced; as a
//! timeline and as a diff between two dates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::AssetId;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceChangeKind {
    AssetAdded,
    AssetArchived,
    ServiceAppeared,
    ServiceGone,
    /// A technology identified on the asset for the first time.
    TechnologyAppeared,
    /// A technology's version seen differs from the one known (`from`, `to`).
    TechnologyChanged,
    /// A port of the asset presents another certificate than last time (`from`, `to`).
    CertificateChanged,
}

impl SurfaceChangeKind {
    pub const ALL: [SurfaceChangeKind; 7] = [
        SurfaceChangeKind::AssetAdded,
        SurfaceChangeKind::AssetArchived,
        SurfaceChangeKind::ServiceAppeared,
        SurfaceChangeKind::ServiceGone,
        SurfaceChangeKind::TechnologyAppeared,
        SurfaceChangeKind::TechnologyChanged,
        SurfaceChangeKind::CertificateChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SurfaceChangeKind::AssetAdded => "asset_added",
            SurfaceChangeKind::AssetArchived => "asset_archived",
            SurfaceChangeKind::ServiceAppeared => "service_appeared",
            SurfaceChangeKind::ServiceGone => "service_gone",
            SurfaceChangeKind::TechnologyAppeared => "technology_appeared",
            SurfaceChangeKind::TechnologyChanged => "technology_changed",
            SurfaceChangeKind::CertificateChanged => "certificate_changed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// Whether the thing it is about is there after it; `None` for a change of something
    /// that stays (a version, a certificate).
    pub fn presence(self) -> Option<bool> {
        match self {
            SurfaceChangeKind::AssetAdded
            | SurfaceChangeKind::ServiceAppeared
            | SurfaceChangeKind::TechnologyAppeared => Some(true),
            SurfaceChangeKind::AssetArchived | SurfaceChangeKind::ServiceGone => Some(false),
            SurfaceChangeKind::TechnologyChanged | SurfaceChangeKind::CertificateChanged => None,
        }
    }
}

/// One change of the surface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurfaceChange {
    pub id: uuid::Uuid,
    pub asset_id: AssetId,
    pub kind: SurfaceChangeKind,
    /// For a service or a certificate: its port.
    pub port: Option<i32>,
    /// What was known of it: the asset's kind and value; the service's protocol, product,
    /// version and the scan that saw the change; the technology's name, version and evidence;
    /// a certificate's fingerprint, subject, issuer and expiry before and after.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// Which changes to list: newest first, `limit` (1–1000, default 100) at a time before the
/// previous page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SurfaceQuery {
    pub asset_id: Option<AssetId>,
    pub kind: Option<SurfaceChangeKind>,
    /// Changes at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Changes before this time.
    pub until: Option<DateTime<Utc>>,
    pub before: Option<uuid::Uuid>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl SurfaceQuery {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(asset_id) = self.asset_id {
            pairs.push(("asset_id", asset_id.to_string()));
        }
        if let Some(kind) = self.kind {
            pairs.push(("kind", kind.as_str().to_string()));
        }
        if let Some(since) = self.since {
            pairs.push(("since", since.to_rfc3339()));
        }
        if let Some(until) = self.until {
            pairs.push(("until", until.to_rfc3339()));
        }
        if let Some(before) = self.before {
            pairs.push(("before", before.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }
}

/// A page of changes, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurfacePage {
    pub items: Vec<SurfaceChange>,
    pub next_cursor: Option<uuid::Uuid>,
}

/// `GET /api/v1/surface/diff`: the two dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SurfaceDiffQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl SurfaceDiffQuery {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("from", self.from.to_rfc3339()),
            ("to", self.to.to_rfc3339()),
        ]
    }
}

/// How the surface at `to` differs from the surface at `from`: what is there at `to` and was
/// not at `from`, the reverse, and what is there at both but changed (a technology's version,
/// a certificate). Something that came and went in between is in none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurfaceDiff {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The last change of each asset, service or technology that differs, in time order.
    pub added: Vec<SurfaceChange>,
    pub removed: Vec<SurfaceChange>,
    /// The last change of each technology or certificate there at both dates that changed.
    #[serde(default)]
    pub changed: Vec<SurfaceChange>,
}

/// The longest span one diff reads (its changes are netted in memory).
pub const MAX_DIFF_CHANGES: i64 = 100_000;

/// Nets the changes of a window (oldest first) into what differs between its two ends.
pub fn diff(changes: Vec<SurfaceChange>) -> Netted {
    use std::collections::HashMap;
    // Per thing (see `subject`): whether it was there before the first change, its last change
    // of presence, and its last change of content.
    struct Thing {
        before: bool,
        presence: Option<SurfaceChange>,
        content: Option<SurfaceChange>,
    }
    let mut netted: HashMap<(AssetId, Option<i32>, Option<String>), Thing> = HashMap::new();
    for change in changes {
        let key = (change.asset_id, change.port, subject(&change));
        let presence = change.kind.presence();
        let thing = netted.entry(key).or_insert(Thing {
            // A change of content means it was there; an appearance, that it was not.
            before: presence.is_none_or(|present| !present),
            presence: None,
            content: None,
        });
        match presence {
            Some(_) => thing.presence = Some(change),
            None => thing.content = Some(change),
        }
    }
    let mut net = Netted::default();
    for thing in netted.into_values() {
        let after = thing
            .presence
            .as_ref()
            .map_or(thing.before, |last| last.kind.presence() == Some(true));
        match (thing.before, after, thing.presence, thing.content) {
            (false, true, Some(last), _) => net.added.push(last),
            (true, false, Some(last), _) => net.removed.push(last),
            (true, true, _, Some(content)) => net.changed.push(content),
            _ => {}
        }
    }
    for list in [&mut net.added, &mut net.removed, &mut net.changed] {
        list.sort_by_key(|change| (change.occurred_at, change.id));
    }
    net
}

/// What [`diff`] found: see [`SurfaceDiff`].
#[derive(Debug, Default)]
pub struct Netted {
    pub added: Vec<SurfaceChange>,
    pub removed: Vec<SurfaceChange>,
    pub changed: Vec<SurfaceChange>,
}

/// What a change is about besides its asset and port: a technology by its name, a
/// certificate as such; assets and services by asset and port alone.
fn subject(change: &SurfaceChange) -> Option<String> {
    match change.kind {
        SurfaceChangeKind::TechnologyAppeared | SurfaceChangeKind::TechnologyChanged => {
            Some(format!(
                "technology {}",
                change.detail["name"].as_str().unwrap_or_default()
            ))
        }
        SurfaceChangeKind::CertificateChanged => Some("certificate".into()),
        // A range's services are told apart by their host.
        SurfaceChangeKind::ServiceAppeared | SurfaceChangeKind::ServiceGone => {
            change.detail["host"]
                .as_str()
                .map(|host| format!("host {host}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(asset_id: AssetId, port: Option<i32>, kind: SurfaceChangeKind) -> SurfaceChange {
        SurfaceChange {
            id: uuid::Uuid::now_v7(),
            asset_id,
            kind,
            port,
            detail: serde_json::json!({}),
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn what_came_and_went_in_between_is_no_difference() {
        use SurfaceChangeKind::*;
        let (a, b) = (AssetId::new(), AssetId::new());
        let net = diff(vec![
            change(a, None, AssetAdded),
            change(a, Some(22), ServiceAppeared),
            change(b, Some(80), ServiceGone),
            change(a, Some(22), ServiceGone),
            change(b, Some(443), ServiceAppeared),
            change(b, Some(443), ServiceGone),
            change(b, Some(443), ServiceAppeared),
        ]);
        let keys = |changes: &[SurfaceChange]| {
            changes
                .iter()
                .map(|c| (c.asset_id, c.port, c.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&net.added),
            vec![(a, None, AssetAdded), (b, Some(443), ServiceAppeared)]
        );
        assert_eq!(keys(&net.removed), vec![(b, Some(80), ServiceGone)]);
        assert!(net.changed.is_empty());
    }

    #[test]
    fn versions_and_certificates_that_changed_are_changes_of_what_stayed() {
        use SurfaceChangeKind::*;
        let a = AssetId::new();
        let named = |kind, name: &str| SurfaceChange {
            detail: serde_json::json!({"name": name}),
            ..change(a, None, kind)
        };
        let net = diff(vec![
            named(TechnologyChanged, "nginx"),
            named(TechnologyAppeared, "PHP"),
            named(TechnologyChanged, "PHP"),
            change(a, Some(443), ServiceAppeared),
            change(a, Some(8443), CertificateChanged),
            named(TechnologyChanged, "nginx"),
        ]);
        let keys = |changes: &[SurfaceChange]| {
            changes
                .iter()
                .map(|c| (c.port, c.kind, c.detail["name"].clone()))
                .collect::<Vec<_>>()
        };
        // PHP is new: added as it appeared; the certificate of 8443 is another subject than the
        // service of 443; nginx changed twice: its last change.
        assert_eq!(
            keys(&net.added),
            vec![
                (None, TechnologyAppeared, serde_json::json!("PHP")),
                (Some(443), ServiceAppeared, serde_json::Value::Null)
            ]
        );
        assert_eq!(
            keys(&net.changed),
            vec![
                (Some(8443), CertificateChanged, serde_json::Value::Null),
                (None, TechnologyChanged, serde_json::json!("nginx"))
            ]
        );
        assert!(net.removed.is_empty());
    }
}
