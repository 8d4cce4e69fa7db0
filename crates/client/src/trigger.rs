//! Client of s4e-trigger: the gateway hands it the calls to inbound hooks.

use s4e_types::routes::trigger as routes;
use s4e_types::webhook::InboundCall;
use s4e_types::{InboundHookId, ScanRun};

use crate::error::ClientError;
use crate::http::InternalHttp;

#[derive(Clone)]
pub struct TriggerClient {
    http: InternalHttp,
}

impl TriggerClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    pub async fn ready(&self) -> Result<(), ClientError> {
        self.http.ready().await
    }

    /// Judges a call to an inbound hook and, when it is genuine, starts the hook's scan.
    pub async fn receive_hook(
        &self,
        hook_id: InboundHookId,
        call: &InboundCall,
    ) -> Result<ScanRun, ClientError> {
        self.http
            .call_with_body(routes::RECEIVE_HOOK, &[&hook_id], call)
            .await
    }
}
