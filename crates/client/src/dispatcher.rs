//! Client of s4e-dispatcher's internal API: the dead letters it keeps, and the raw outputs of
//! the jobs its workers ran.

use s4e_types::OrgId;
use s4e_types::api::{DeadLetterView, List};

use crate::error::ClientError;
use s4e_types::routes::dispatcher as routes;

use crate::http::InternalHttp;

#[derive(Clone)]
pub struct DispatcherClient {
    http: InternalHttp,
}

impl DispatcherClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    /// The dead letters whose envelope names `org_id`, newest first.
    pub async fn dead_letters(&self, org_id: OrgId) -> Result<Vec<DeadLetterView>, ClientError> {
        let list: List<DeadLetterView> = self.http.call(routes::DEAD_LETTERS, &[&org_id]).await?;
        Ok(list.items)
    }

    /// Every dead letter, unparseable ones included (for operators), newest first.
    pub async fn all_dead_letters(&self) -> Result<Vec<DeadLetterView>, ClientError> {
        let list: List<DeadLetterView> = self.http.call(routes::ALL_DEAD_LETTERS, &[]).await?;
        Ok(list.items)
    }

    /// Republishes one of `org_id`'s dead letters and removes it; `NotFound` when it is not
    /// theirs.
    pub async fn replay_dead_letter(
        &self,
        org_id: OrgId,
        letter_id: &str,
    ) -> Result<DeadLetterView, ClientError> {
        self.http
            .call_with_body(
                routes::REPLAY_DEAD_LETTER,
                &[&org_id, &letter_id],
                &serde_json::json!({}),
            )
            .await
    }

    /// The raw output `output_id` (a job's, as a finding links it) if it is `org_id`'s.
    pub async fn raw_output(
        &self,
        org_id: OrgId,
        output_id: &str,
    ) -> Result<serde_json::Value, ClientError> {
        self.http
            .call(routes::RAW_OUTPUT, &[&org_id, &output_id])
            .await
    }

    /// Republishes any dead letter and removes it.
    pub async fn replay_any_dead_letter(
        &self,
        letter_id: &str,
    ) -> Result<DeadLetterView, ClientError> {
        self.http
            .call_with_body(
                routes::REPLAY_ANY_DEAD_LETTER,
                &[&letter_id],
                &serde_json::json!({}),
            )
            .await
    }
}
