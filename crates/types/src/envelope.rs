//! The one envelope every bus message travels in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{AssetId, OrgId, RunId};
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
}

impl Message {
    /// The routing key of events on the events exchange.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::ScanJob(_) => "scan.job",
            Message::ScanCompleted(_) => "scan.completed",
            Message::FindingCreated(_) => "finding.created",
        }
    }
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

impl Envelope {
    pub fn new(org_id: OrgId, message: Message) -> Self {
        Envelope {
            id: Uuid::now_v7(),
            org_id,
            occurred_at: Utc::now(),
            attempt: 0,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;
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
