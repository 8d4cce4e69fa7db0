//! Client of s4e-base, the only service with a PostgreSQL connection.

use s4e_types::api::{
    ApiKeyRecord, FinishJob, JobFinished, List, NewApiKey, NewOrganization, NewScanRun,
    Organization, ScanRunWithJobs,
};
use s4e_types::{
    ApiKeyId, Asset, AssetId, Finding, JobId, NewAsset, OrgId, RunId, ScanJob, ScanRun,
};
use serde::Serialize;

use crate::error::ClientError;
use crate::http::InternalHttp;

#[derive(Clone)]
pub struct BaseClient {
    http: InternalHttp,
}

#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    pub run_id: Option<RunId>,
    pub asset_id: Option<AssetId>,
}

#[derive(Serialize)]
struct FailRun<'a> {
    error: &'a str,
}

impl BaseClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    pub async fn ready(&self) -> Result<(), ClientError> {
        self.http.ready().await
    }

    pub async fn create_organization(&self, name: &str) -> Result<Organization, ClientError> {
        let body = NewOrganization {
            name: name.to_string(),
        };
        self.http.post("/internal/v1/orgs", &body).await
    }

    pub async fn create_api_key(
        &self,
        org_id: OrgId,
        key: &NewApiKey,
    ) -> Result<ApiKeyRecord, ClientError> {
        self.http
            .post(&format!("/internal/v1/orgs/{org_id}/api-keys"), key)
            .await
    }

    pub async fn list_api_keys(&self, org_id: OrgId) -> Result<Vec<ApiKeyRecord>, ClientError> {
        let list: List<ApiKeyRecord> = self
            .http
            .get(&format!("/internal/v1/orgs/{org_id}/api-keys"), &[])
            .await?;
        Ok(list.items)
    }

    pub async fn revoke_api_key(
        &self,
        org_id: OrgId,
        key_id: ApiKeyId,
    ) -> Result<ApiKeyRecord, ClientError> {
        self.http
            .post(
                &format!("/internal/v1/orgs/{org_id}/api-keys/{key_id}/revoke"),
                &serde_json::json!({}),
            )
            .await
    }

    /// The key whose SHA-256 is `key_hash`, revoked or not.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<ApiKeyRecord, ClientError> {
        self.http
            .get(&format!("/internal/v1/api-keys/{key_hash}"), &[])
            .await
    }

    pub async fn create_asset(
        &self,
        org_id: OrgId,
        asset: &NewAsset,
    ) -> Result<Asset, ClientError> {
        self.http
            .post(&format!("/internal/v1/orgs/{org_id}/assets"), asset)
            .await
    }

    pub async fn list_assets(&self, org_id: OrgId) -> Result<Vec<Asset>, ClientError> {
        let list: List<Asset> = self
            .http
            .get(&format!("/internal/v1/orgs/{org_id}/assets"), &[])
            .await?;
        Ok(list.items)
    }

    pub async fn get_asset(&self, org_id: OrgId, asset_id: AssetId) -> Result<Asset, ClientError> {
        self.http
            .get(
                &format!("/internal/v1/orgs/{org_id}/assets/{asset_id}"),
                &[],
            )
            .await
    }

    pub async fn create_run(
        &self,
        org_id: OrgId,
        run: &NewScanRun,
    ) -> Result<ScanRunWithJobs, ClientError> {
        self.http
            .post(&format!("/internal/v1/orgs/{org_id}/runs"), run)
            .await
    }

    pub async fn get_run(&self, org_id: OrgId, run_id: RunId) -> Result<ScanRun, ClientError> {
        self.http
            .get(&format!("/internal/v1/orgs/{org_id}/runs/{run_id}"), &[])
            .await
    }

    /// Ends a run that could not be carried out (its jobs could not be queued, say).
    pub async fn fail_run(
        &self,
        org_id: OrgId,
        run_id: RunId,
        error: &str,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .post(
                &format!("/internal/v1/orgs/{org_id}/runs/{run_id}/fail"),
                &FailRun { error },
            )
            .await
    }

    /// Marks a job running and counts the attempt. A job already finished comes back as it is,
    /// so a worker can tell a redelivery from new work.
    pub async fn start_job(&self, org_id: OrgId, job_id: JobId) -> Result<ScanJob, ClientError> {
        self.http
            .post(
                &format!("/internal/v1/orgs/{org_id}/jobs/{job_id}/start"),
                &serde_json::json!({}),
            )
            .await
    }

    pub async fn finish_job(
        &self,
        org_id: OrgId,
        job_id: JobId,
        report: &FinishJob,
    ) -> Result<JobFinished, ClientError> {
        self.http
            .post(
                &format!("/internal/v1/orgs/{org_id}/jobs/{job_id}/finish"),
                report,
            )
            .await
    }

    pub async fn list_findings(
        &self,
        org_id: OrgId,
        filter: &FindingFilter,
    ) -> Result<Vec<Finding>, ClientError> {
        let mut query = Vec::new();
        if let Some(run_id) = filter.run_id {
            query.push(("run_id", run_id.to_string()));
        }
        if let Some(asset_id) = filter.asset_id {
            query.push(("asset_id", asset_id.to_string()));
        }
        let list: List<Finding> = self
            .http
            .get(&format!("/internal/v1/orgs/{org_id}/findings"), &query)
            .await?;
        Ok(list.items)
    }
}
