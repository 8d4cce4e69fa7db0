//! Domain types shared by every S4E service.
//!
//! This crate does no I/O and pulls no heavy dependencies, so that every service and tool can
//! depend on it cheaply. Driver types (sqlx, lapin, mongodb, redis) never appear here.

pub mod account;
pub mod api;
pub mod asset;
pub mod audit;
pub mod crawl;
pub mod discovery;
pub mod envelope;
pub mod finding;
pub mod finding_query;
pub mod ids;
pub mod inventory;
pub mod routes;
pub mod rule;
pub mod scan;
pub mod schedule;
pub mod surface;
pub mod webhook;

pub use account::{Role, User};
pub use asset::{
    Asset, AssetImport, AssetKind, AssetListQuery, AssetTags, BulkAssetTags, BulkAssetTagsResult,
    Criticality, ImportOutcome, ImportReport, ImportRow, NewAsset, UpdateAsset, VerificationMethod,
};
pub use audit::{AuditContext, AuditEntry, NewAuditEntry};
pub use envelope::{Envelope, Message};
pub use finding::{
    BulkFindingStatusUpdate, BulkStatusChange, BulkStatusResult, Finding, FindingActor,
    FindingActorKind, FindingDraft, FindingEvent, FindingStatus, FindingStatusUpdate,
    FindingWithHistory, Severity, StatusChange,
};
pub use finding_query::{FindingCursor, FindingPage, FindingQuery, FindingSort, SortOrder};
pub use ids::{
    ApiKeyId, AssetId, AuditEntryId, CandidateId, FindingEventId, FindingId, InboundHookId,
    InvitationId, JobId, OrgId, RuleId, RunId, ScheduleId, UserId, WebhookDeliveryId,
    WebhookEndpointId,
};
pub use scan::{
    CheckKind, JobSpec, JobStatus, PortScope, RunPage, RunQuery, RunStatus, ScanJob, ScanProfile,
    ScanRun,
};
pub use schedule::{CatchUp, NewSchedule, Schedule, ScheduleOutcome, SkipWindow, UpdateSchedule};
