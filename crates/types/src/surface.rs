//! How the attack surface changed over time: assets added and archived, services that appeared
//! and went, as a timeline and as a diff between two dates.

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
}

impl SurfaceChangeKind {
    pub const ALL: [SurfaceChangeKind; 4] = [
        SurfaceChangeKind::AssetAdded,
        SurfaceChangeKind::AssetArchived,
        SurfaceChangeKind::ServiceAppeared,
        SurfaceChangeKind::ServiceGone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SurfaceChangeKind::AssetAdded => "asset_added",
            SurfaceChangeKind::AssetArchived => "asset_archived",
            SurfaceChangeKind::ServiceAppeared => "service_appeared",
            SurfaceChangeKind::ServiceGone => "service_gone",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// Whether the thing it is about is there after it.
    pub fn leaves_present(self) -> bool {
        matches!(
            self,
            SurfaceChangeKind::AssetAdded | SurfaceChangeKind::ServiceAppeared
        )
    }
}

/// One change of the surface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurfaceChange {
    pub id: uuid::Uuid,
    pub asset_id: AssetId,
    pub kind: SurfaceChangeKind,
    /// For a service: its port.
    pub port: Option<i32>,
    /// What was known of it: the asset's kind and value; the service's protocol, product,
    /// version and the scan that saw the change.
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
/// not at `from`, and the reverse. Something that came and went in between is in neither.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurfaceDiff {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The last change of each asset or service that differs, in time order.
    pub added: Vec<SurfaceChange>,
    pub removed: Vec<SurfaceChange>,
}

/// The longest span one diff reads (its changes are netted in memory).
pub const MAX_DIFF_CHANGES: i64 = 100_000;

/// Nets the changes of a window (oldest first) into what differs between its two ends.
pub fn diff(changes: Vec<SurfaceChange>) -> (Vec<SurfaceChange>, Vec<SurfaceChange>) {
    use std::collections::HashMap;
    // Per asset (port none) or service (asset and port): the state before the first change
    // and the last change.
    let mut netted: HashMap<(AssetId, Option<i32>), (bool, SurfaceChange)> = HashMap::new();
    for change in changes {
        let key = (change.asset_id, change.port);
        match netted.get_mut(&key) {
            Some((_, last)) => *last = change,
            None => {
                let before = !change.kind.leaves_present();
                netted.insert(key, (before, change));
            }
        }
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (before, last) in netted.into_values() {
        let after = last.kind.leaves_present();
        match (before, after) {
            (false, true) => added.push(last),
            (true, false) => removed.push(last),
            _ => {}
        }
    }
    added.sort_by_key(|change| (change.occurred_at, change.id));
    removed.sort_by_key(|change| (change.occurred_at, change.id));
    (added, removed)
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
        let (added, removed) = diff(vec![
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
            keys(&added),
            vec![(a, None, AssetAdded), (b, Some(443), ServiceAppeared)]
        );
        assert_eq!(keys(&removed), vec![(b, Some(80), ServiceGone)]);
    }
}
