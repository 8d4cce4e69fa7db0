//! The shared request plumbing: service token, timeouts, error-body decoding.

use std::fmt::Display;
use std::time::Duration;

use reqwest::StatusCode;
use s4e_types::api::ErrorBody;
use s4e_types::routes::{Route, Verb};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Refusal};

/// The header internal endpoints read the service token from.
const SERVICE_TOKEN_HEADER: &str = "x-s4e-service-token";

#[derive(Clone)]
pub(crate) struct InternalHttp {
    client: reqwest::Client,
    base_url: String,
    token: String,
}

impl InternalHttp {
    pub fn new(base_url: &str, token: &str) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| ClientError::Unavailable(error.to_string()))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        route: Route,
        params: &[&(dyn Display + Sync)],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let path = route.fill(params);
        let method = s4e_runtime::routes::method(route.verb);
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .header(SERVICE_TOKEN_HEADER, &self.token);
        if let Some(traceparent) = s4e_trace::outgoing() {
            request = request.header(s4e_trace::HEADER, traceparent);
        }
        // A change in progress travels with the calls that may make it, until one records it.
        let change = route.verb != Verb::Get;
        if let Some(context) = s4e_runtime::audit::pending().filter(|_| change) {
            request = request.header(
                s4e_runtime::audit::HEADER,
                s4e_runtime::audit::encode(&context),
            );
        }
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ClientError::Unavailable(format!("{path}: {error}")))?;
        let status = response.status();
        if status.is_success() {
            if response
                .headers()
                .contains_key(s4e_runtime::audit::RECORDED_HEADER)
            {
                s4e_runtime::audit::mark_recorded();
            }
            return response
                .json()
                .await
                .map_err(|error| ClientError::Unexpected {
                    status: status.as_u16(),
                    message: format!("undecodable body: {error}"),
                });
        }
        let (code, message) = match response.json::<ErrorBody>().await {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => (String::new(), status.to_string()),
        };
        let refusal = |fallback_code: &str| {
            let code = if code.is_empty() {
                fallback_code
            } else {
                &code
            };
            Refusal::new(code, message.clone())
        };
        Err(match status {
            StatusCode::NOT_FOUND => ClientError::NotFound(refusal("not_found")),
            StatusCode::CONFLICT => ClientError::Conflict(refusal("conflict")),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                ClientError::BadRequest(refusal("bad_request"))
            }
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized,
            StatusCode::FORBIDDEN => ClientError::Forbidden(refusal("forbidden")),
            StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => ClientError::Unavailable(message),
            _ => ClientError::Unexpected {
                status: status.as_u16(),
                message,
            },
        })
    }

    /// Calls `route`, its parameters filled with `params`, without a body.
    pub async fn call<T: DeserializeOwned>(
        &self,
        route: Route,
        params: &[&(dyn Display + Sync)],
    ) -> Result<T, ClientError> {
        self.send::<(), T>(route, params, &[], None).await
    }

    pub async fn call_with_query<T: DeserializeOwned>(
        &self,
        route: Route,
        params: &[&(dyn Display + Sync)],
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        self.send::<(), T>(route, params, query, None).await
    }

    pub async fn call_with_body<B: Serialize, T: DeserializeOwned>(
        &self,
        route: Route,
        params: &[&(dyn Display + Sync)],
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(route, params, &[], Some(body)).await
    }

    /// Whether the service's `/readyz` answers 200.
    pub async fn ready(&self) -> Result<(), ClientError> {
        let url = format!("{}/readyz", self.base_url);
        match self.client.get(&url).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(ClientError::Unavailable(format!(
                "{url}: {}",
                response.status()
            ))),
            Err(error) => Err(ClientError::Unavailable(format!("{url}: {error}"))),
        }
    }
}
