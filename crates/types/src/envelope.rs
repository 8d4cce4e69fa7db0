//! The one envelope every bus message travels in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{AssetId, JobId, OrgId, RuleId, RunId};
use crate::scan::{JobSpec, RunStatus};

/// `id` doubles as the AMQP `message_id`, so consumers can recognise a redelivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    pub org_id: OrgId,
    pub occurred_at: DateTime<Utc>,
    /// How many times this message has been handed to a handler before (0 on first delivery).
    #[serde(default)]
    pub attempt: u32,
    /// The automation rules whose actions led to this event, oldest first: a rule never fires
    /// on an event it caused, and a chain of `rule::MAX_CHAIN` rules fires no further.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caused_by: Vec<RuleId>,
    #[serde(flatten)]
    pub message: Message,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum Message {
    /// A job for the dispatcher to route to its check queue.
    #[serde(rename = "scan.job")]
    ScanJob(JobSpec),
    /// A run reached a final status.
    #[serde(rename = "scan.completed")]
    ScanCompleted(ScanCompleted),
    /// A scan found something the organization did not have as a finding yet.
    #[serde(rename = "finding.created")]
    FindingCreated(FindingCreated),
    /// A finding's status changed: triaged by a person, a key or a rule, fixed or reopened by
    /// a scan.
    #[serde(rename = "finding.status_changed")]
    FindingStatusChanged(FindingStatusChanged),
    /// An asset was registered.
    #[serde(rename = "asset.created")]
    AssetCreated(AssetCreated),
    /// A port scan saw a service on an asset that was not there before (or had gone).
    #[serde(rename = "service.appeared")]
    ServiceAppeared(ServiceChanged),
    /// A port scan found a port of the asset closed that had a service.
    #[serde(rename = "service.gone")]
    ServiceGone(ServiceChanged),
    /// A URL for the crawler's fetch stage.
    #[serde(rename = "crawl.fetch")]
    CrawlFetch(CrawlFetch),
    /// A crawl whose frontier is empty, for the crawler's finisher.
    #[serde(rename = "crawl.finish")]
    CrawlFinish(CrawlFinish),
    /// A directory of a crawl for the crawler's fuzzing stage.
    #[serde(rename = "crawl.fuzz")]
    CrawlFuzz(CrawlFuzz),
    /// A crawl ended and its report was stored.
    #[serde(rename = "crawl.completed")]
    CrawlCompleted(CrawlCompleted),
}

impl Message {
    /// The routing key of events on the events exchange.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::ScanJob(_) => "scan.job",
            Message::ScanCompleted(_) => "scan.completed",
            Message::FindingCreated(_) => "finding.created",
            Message::FindingStatusChanged(_) => "finding.status_changed",
            Message::AssetCreated(_) => "asset.created",
            Message::ServiceAppeared(_) => "service.appeared",
            Message::ServiceGone(_) => "service.gone",
            Message::CrawlFetch(_) => "crawl.fetch",
            Message::CrawlFinish(_) => "crawl.finish",
            Message::CrawlFuzz(_) => "crawl.fuzz",
            Message::CrawlCompleted(_) => "crawl.completed",
        }
    }

    /// The asset an event is about; `None` for work.
    pub fn asset_id(&self) -> Option<AssetId> {
        match self {
            Message::ScanJob(_)
            | Message::CrawlFetch(_)
            | Message::CrawlFinish(_)
            | Message::CrawlFuzz(_) => None,
            Message::ScanCompleted(done) => Some(done.asset_id),
            Message::CrawlCompleted(crawl) => Some(crawl.asset_id),
            Message::FindingCreated(finding) => Some(finding.asset_id),
            Message::FindingStatusChanged(change) => Some(change.asset_id),
            Message::AssetCreated(asset) => Some(asset.asset_id),
            Message::ServiceAppeared(service) | Message::ServiceGone(service) => {
                Some(service.asset_id)
            }
        }
    }

    /// An event's payload as receivers get it (the `data` of a webhook); `None` for work.
    pub fn event_data(&self) -> Option<serde_json::Value> {
        let data = match self {
            Message::ScanJob(_)
            | Message::CrawlFetch(_)
            | Message::CrawlFinish(_)
            | Message::CrawlFuzz(_) => return None,
            Message::ScanCompleted(done) => serde_json::to_value(done),
            Message::CrawlCompleted(crawl) => serde_json::to_value(crawl),
            Message::FindingCreated(finding) => serde_json::to_value(finding),
            Message::FindingStatusChanged(change) => serde_json::to_value(change),
            Message::AssetCreated(asset) => serde_json::to_value(asset),
            Message::ServiceAppeared(service) | Message::ServiceGone(service) => {
                serde_json::to_value(service)
            }
        };
        data.ok()
    }

    /// An event from its type and payload, as `event_data` gives them.
    pub fn event_from(event_type: &str, data: serde_json::Value) -> Result<Message, String> {
        let message: Message =
            serde_json::from_value(serde_json::json!({ "type": event_type, "payload": data }))
                .map_err(|error| format!("{event_type}: {error}"))?;
        match message {
            Message::ScanJob(_)
            | Message::CrawlFetch(_)
            | Message::CrawlFinish(_)
            | Message::CrawlFuzz(_) => Err(format!("{event_type}: not an event")),
            event => Ok(event),
        }
    }
}

/// One URL of a crawl to fetch. The crawl's state (what was seen, what is left) is the
/// crawler's, keyed by the job; the message only says what to fetch next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlFetch {
    pub job_id: JobId,
    pub run_id: RunId,
    pub url: String,
    /// Links followed from the start URL (0 for the start URL, robots.txt and sitemaps).
    pub depth: u32,
    pub found_by: crate::crawl::LinkSource,
}

/// A directory of a crawl to fuzz with the wordlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlFuzz {
    pub job_id: JobId,
    pub run_id: RunId,
    /// The directory's URL, ending in `/`.
    pub directory: String,
    /// The depth of the directory's page; what the fuzzer finds is one deeper.
    pub depth: u32,
}

/// A crawl with nothing left to fetch (or out of time), to be consolidated and reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlFinish {
    pub job_id: JobId,
    pub run_id: RunId,
}

/// A crawl ended and its report was stored: what it mapped, in counts (the site map and the
/// run's findings hold the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlCompleted {
    pub run_id: RunId,
    pub job_id: JobId,
    pub asset_id: AssetId,
    /// `completed`, or `failed` when the start URL could not be fetched at all.
    pub status: crate::scan::JobStatus,
    pub pages: u64,
    /// URL templates (`/item/{id}`) the pages collapse into.
    pub endpoints: u64,
    pub api_documents: u64,
    /// Why the crawl stopped short (`pages`, `time`), if it did.
    pub truncated: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCompleted {
    pub run_id: RunId,
    pub asset_id: AssetId,
    pub status: RunStatus,
    pub findings_count: i32,
}

/// A finding a job's report created (not one seen again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCreated {
    pub finding_id: crate::FindingId,
    pub run_id: RunId,
    pub asset_id: AssetId,
    pub check: crate::CheckKind,
    pub rule: String,
    pub severity: crate::Severity,
    pub title: String,
    pub location: String,
}

/// A finding's status changed; one event per entry of its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingStatusChanged {
    pub finding_id: crate::FindingId,
    pub asset_id: AssetId,
    pub check: crate::CheckKind,
    pub rule: String,
    pub severity: crate::Severity,
    pub title: String,
    pub location: String,
    pub from_status: crate::FindingStatus,
    pub to_status: crate::FindingStatus,
    pub reason: Option<String>,
    /// Who changed it: `user`, `api_key`, `rule` or `system` (a scan).
    pub actor_kind: crate::FindingActorKind,
    pub actor: String,
    /// The scan that fixed or reopened it.
    pub run_id: Option<RunId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetCreated {
    pub asset_id: AssetId,
    pub kind: crate::AssetKind,
    pub value: String,
    pub name: Option<String>,
}

/// A service of an asset that appeared or went away, as the port scan of `run_id` saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChanged {
    pub asset_id: AssetId,
    /// The host of a range the service is on; absent for every other asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub port: u16,
    pub transport: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub tls: bool,
    pub run_id: RunId,
}

/// Internal: s4e-trigger claims base's recorded events to publish them; each is leased to it
/// for `lease_seconds`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimOutbox {
    pub limit: u16,
    pub lease_seconds: u32,
}

/// Internal: the recorded events now on the bus, to forget.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxPublished {
    pub ids: Vec<Uuid>,
}

impl Envelope {
    pub fn new(org_id: OrgId, message: Message) -> Self {
        Envelope {
            id: Uuid::now_v7(),
            org_id,
            occurred_at: Utc::now(),
            attempt: 0,
            caused_by: Vec::new(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::CheckKind;

    #[test]
    fn envelope_is_tagged_with_type_and_payload() {
        let envelope = Envelope::new(
            OrgId::new(),
            Message::ScanJob(JobSpec {
                job_id: JobId::new(),
                run_id: RunId::new(),
                asset_id: AssetId::new(),
                check: CheckKind::HttpHeaders,
                target: "https://example.com/".into(),
                ports: None,
            }),
        );
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "scan.job");
        assert_eq!(json["payload"]["check"], "http_headers");
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn unknown_types_do_not_parse() {
        let json = serde_json::json!({
            "id": Uuid::now_v7(), "org_id": Uuid::now_v7(), "occurred_at": Utc::now(),
            "type": "scan.exploded", "payload": {}
        });
        assert!(serde_json::from_value::<Envelope>(json).is_err());
    }
}
