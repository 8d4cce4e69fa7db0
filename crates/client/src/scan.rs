//! Client of s4e-scan, which turns a scan request into a run and queued jobs.

use s4e_types::api::{Catalog, CreateScan, Verification, VerificationOutcome};
use s4e_types::schedule::ScheduledScan;
use s4e_types::{AssetId, OrgId, ScanRun};

use crate::error::ClientError;
use s4e_types::routes::scan as routes;

use crate::http::InternalHttp;

#[derive(Clone)]
pub struct ScanClient {
    http: InternalHttp,
}

impl ScanClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    pub async fn ready(&self) -> Result<(), ClientError> {
        self.http.ready().await
    }

    /// Every check and scan profile the platform knows.
    pub async fn catalog(&self) -> Result<Catalog, ClientError> {
        self.http.call(routes::CATALOG, &[]).await
    }

    /// Creates a run for the asset and queues its jobs.
    pub async fn start_scan(
        &self,
        org_id: OrgId,
        scan: &CreateScan,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(routes::START_SCAN, &[&org_id], scan)
            .await
    }

    /// A schedule's scan for one due time; `Conflict` with code `already_started` when that
    /// due time has its run already.
    pub async fn start_scheduled_scan(
        &self,
        org_id: OrgId,
        scan: &ScheduledScan,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(routes::START_SCHEDULED_SCAN, &[&org_id], scan)
            .await
    }

    /// A rule's scan for one event; `Conflict` with code `already_started` when that event
    /// has its run already.
    pub async fn start_rule_scan(
        &self,
        org_id: OrgId,
        scan: &s4e_types::rule::RuleScan,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(routes::START_RULE_SCAN, &[&org_id], scan)
            .await
    }

    /// Tries to prove the asset is its owner's, and records the outcome.
    pub async fn verify_asset(
        &self,
        org_id: OrgId,
        asset_id: AssetId,
        request: &Verification,
    ) -> Result<VerificationOutcome, ClientError> {
        self.http
            .call_with_body(routes::VERIFY_ASSET, &[&org_id, &asset_id], request)
            .await
    }
}
