//! Typed ids: a `RunId` cannot be passed where an `AssetId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

id_type!(
    /// An organization: the tenant every owned row belongs to.
    OrgId
);
id_type!(
    /// An API key record (never the secret itself).
    ApiKeyId
);
id_type!(
    /// A registered asset (URL, domain, IP, CIDR).
    AssetId
);
id_type!(
    /// A host name discovery proposes as an asset.
    CandidateId
);
id_type!(
    /// One execution of a scan against an asset.
    RunId
);
id_type!(
    /// One unit of work inside a run: one check against one target.
    JobId
);
id_type!(
    /// A deduplicated finding.
    FindingId
);
id_type!(
    /// A person who signs in to an organization.
    UserId
);
id_type!(
    /// An invitation to join an organization (never the invitation secret itself).
    InvitationId
);
id_type!(
    /// One entry of an organization's audit log.
    AuditEntryId
);
id_type!(
    /// One status change in a finding's history.
    FindingEventId
);
id_type!(
    /// A recurring scan of an asset.
    ScheduleId
);
id_type!(
    /// Where an organization's events are POSTed.
    WebhookEndpointId
);
id_type!(
    /// A URL that starts a scan when called with a valid signature.
    InboundHookId
);
id_type!(
    /// One event for one webhook endpoint, with its attempts.
    WebhookDeliveryId
);
id_type!(
    /// An automation rule: when an event happens and its conditions hold, its actions run.
    RuleId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let first = RunId::new();
        let second = RunId::new();
        assert!(first < second);
        let parsed: RunId = first.to_string().parse().unwrap();
        assert_eq!(parsed, first);
        let json = serde_json::to_string(&first).unwrap();
        assert_eq!(json, format!("\"{first}\""));
    }
}
