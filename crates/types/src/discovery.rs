//! Discovery: host names found around an organization's domains (by a wordlist against the
//! resolvers, a zone transfer, certificates' names) and proposed as candidate assets, which
//! people approve or dismiss.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AssetId, CandidateId, OrgId, RunId};

/// How a name was found.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DiscoverySource {
    /// A name of the bundled wordlist that the resolvers answered with addresses of its own
    /// (not only a wildcard's).
    Wordlist,
    /// A name in a zone its name server handed out whole (AXFR).
    ZoneTransfer,
    /// A name in the subject alternative names of a certificate the TLS checks saw.
    Certificate,
    /// A host a crawled page linked to, under the crawled site's own domain.
    Crawl,
}

impl DiscoverySource {
    pub const ALL: [DiscoverySource; 4] = [
        DiscoverySource::Wordlist,
        DiscoverySource::ZoneTransfer,
        DiscoverySource::Certificate,
        DiscoverySource::Crawl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DiscoverySource::Wordlist => "wordlist",
            DiscoverySource::ZoneTransfer => "zone_transfer",
            DiscoverySource::Certificate => "certificate",
            DiscoverySource::Crawl => "crawl",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == value)
    }
}

/// Internal: one name a check found, reported with its job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveredName {
    /// Lowercase, without the final dot.
    pub name: String,
    pub source: DiscoverySource,
    /// The addresses it resolved to, where the check resolved it.
    #[serde(default)]
    pub addresses: Vec<std::net::IpAddr>,
}

/// The most names one job may report; a check finding more reports the first ones.
pub const MAX_DISCOVERED_PER_JOB: usize = 10_000;

pub use crate::asset::is_host_name;

/// What became of a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    /// Waiting for someone to approve or dismiss it.
    Pending,
    /// It is an asset now (`asset_id`).
    Approved,
    /// Not ours, or not wanted: found again, it stays dismissed.
    Dismissed,
}

impl CandidateStatus {
    pub const ALL: [CandidateStatus; 3] = [
        CandidateStatus::Pending,
        CandidateStatus::Approved,
        CandidateStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStatus::Pending => "pending",
            CandidateStatus::Approved => "approved",
            CandidateStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// A host name discovery proposes as a domain asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    pub id: CandidateId,
    pub org_id: OrgId,
    pub name: String,
    /// Every way it was found, each once.
    pub sources: Vec<DiscoverySource>,
    /// The addresses it last resolved to (empty when it was not resolved, e.g. a certificate's
    /// name).
    pub addresses: Vec<String>,
    /// The asset whose scan first found it.
    pub found_from: AssetId,
    /// The scan that last found it.
    pub last_run_id: RunId,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub status: CandidateStatus,
    /// The verified domain it sits under: approved, it is verified by inheritance and can be
    /// scanned at once. Absent: it must be verified on its own.
    pub verified_parent: Option<String>,
    /// The asset it became, once approved.
    pub asset_id: Option<AssetId>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Which candidates to list: oldest first, `limit` (1–1000, default 100) at a time after the
/// previous page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CandidateQuery {
    /// Default `pending`.
    pub status: Option<CandidateStatus>,
    pub source: Option<DiscoverySource>,
    /// Only candidates found by this asset's scans.
    pub found_from: Option<AssetId>,
    pub after: Option<CandidateId>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl CandidateQuery {
    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = crate::api::PageQuery {
            after: self.after.map(|after| after.0),
            limit: self.limit,
        }
        .pairs();
        if let Some(status) = self.status {
            pairs.push(("status", status.as_str().into()));
        }
        if let Some(source) = self.source {
            pairs.push(("source", source.as_str().into()));
        }
        if let Some(found_from) = self.found_from {
            pairs.push(("found_from", found_from.to_string()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_plain_labels() {
        assert!(is_host_name("www.example.com"));
        assert!(is_host_name("a-1.b.example"));
        assert!(!is_host_name("*.example.com"));
        assert!(!is_host_name("_dmarc.example.com"));
        assert!(!is_host_name("localhost"));
        assert!(!is_host_name("-a.example.com"));
        assert!(!is_host_name(&format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn names_of_sources_and_statuses_round_trip() {
        for source in DiscoverySource::ALL {
            assert_eq!(DiscoverySource::parse(source.as_str()), Some(source));
        }
        for status in CandidateStatus::ALL {
            assert_eq!(CandidateStatus::parse(status.as_str()), Some(status));
        }
    }
}
